//! Journeys through the whole simulated kiosk, as a process: `kiosk-app --simulate --headless`
//! with every device simulator on its PTY, the local backend, the network relay and the sync
//! agent. Fingers are intents on standard input; the world (cards, pages, paper, reviewers) acts
//! through the control socket; what the citizen sees is read off standard output.

use application::Applicant;
use central_backend::Storage;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// 无犯罪记录证明开具: one item, no questions, one material (the ID card copy).
const CERTIFICATE: &str = "11440600MB2C0417XA9000164000000";
/// 社会保障卡补领、换领: delivered from the dispenser.
const SOCIAL_SECURITY_CARD: &str = "11440600MB2C05180Q9000214000000";
const HOTEL: &str = "open_hotel";
/// How long anything may take in these tests (debug build, two cores shared with other tests).
const PATIENCE: Duration = Duration::from_secs(60);

struct Kiosk {
    child: Child,
    stdin: ChildStdin,
    views: mpsc::Receiver<Value>,
    last: Value,
    control: UnixStream,
    control_reply: BufReader<UnixStream>,
    dir: PathBuf,
    rng: demo_data::Rng,
}

impl Kiosk {
    fn start(dir: &Path) -> Kiosk {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-app"))
            .args(["--simulate", "--headless", "--dir"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("kiosk.log")).unwrap())
            .env("RUST_LOG", "info")
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, views) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let view: Value = serde_json::from_str(&line).expect("every line is JSON");
                assert!(
                    view["screen"].is_string(),
                    "every line has a screen: {line}"
                );
                if tx.send(view).is_err() {
                    return;
                }
            }
        });
        let socket = dir.join("control.sock");
        let deadline = Instant::now() + PATIENCE;
        let control = loop {
            if let Ok(s) = UnixStream::connect(&socket) {
                break s;
            }
            assert!(Instant::now() < deadline, "no control socket");
            std::thread::sleep(Duration::from_millis(50));
        };
        let control_reply = BufReader::new(control.try_clone().unwrap());
        let mut k = Kiosk {
            child,
            stdin,
            views,
            last: Value::Null,
            control,
            control_reply,
            dir: dir.to_owned(),
            rng: demo_data::Rng::new(11),
        };
        k.wait_for("the attract screen with every device up", |v| {
            v["screen"] == "attract"
                && v["notices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|n| n["device"] == "a4_printer")
        });
        k
    }

    fn intent(&mut self, intent: Value) {
        writeln!(self.stdin, "{intent}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// A world event through the control socket; the reply says whether it happened.
    fn try_world(&mut self, event: Value) -> Result<(), String> {
        writeln!(self.control, "{event}").unwrap();
        let mut line = String::new();
        self.control_reply.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        match reply["error"].as_str() {
            Some(e) => Err(e.to_owned()),
            None => Ok(()),
        }
    }

    fn world(&mut self, event: Value) {
        self.try_world(event.clone())
            .unwrap_or_else(|e| panic!("{event}: {e}"));
    }

    /// Reads views until one satisfies `ok`.
    fn wait_for(&mut self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        self.wait_within(PATIENCE, &ok).unwrap_or_else(|| {
            panic!(
                "waiting for {what}; last view: {}\nlog:\n{}",
                self.last,
                self.log_tail()
            )
        })
    }

    /// Reads views for at most `patience` until one satisfies `ok`.
    fn wait_within(&mut self, patience: Duration, ok: &impl Fn(&Value) -> bool) -> Option<Value> {
        if ok(&self.last) {
            return Some(self.last.clone());
        }
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.last = self.views.recv_timeout(left).ok()?;
            if ok(&self.last) {
                return Some(self.last.clone());
            }
        }
    }

    fn screen(&mut self, name: &str) -> Value {
        self.wait_for(name, |v| v["screen"] == name)
    }

    fn identify(&mut self, citizen: u64) -> Value {
        self.world(json!({"world": "insert_card", "citizen": citizen}));
        // The lookup answer makes the journeys available.
        self.wait_for("home, looked up", |v| {
            v["screen"] == "home" && v["journeys"][0]["available"] == true
        })
    }

    /// Fills what is empty or wrong on the form with valid values, and goes on.
    fn fill_form(&mut self, who: &Applicant) {
        let form = self.screen("form");
        let catalogue = catalogue::sample::catalogue().unwrap();
        for f in form["fields"].as_array().unwrap() {
            let filled = !f["value"].as_str().unwrap().is_empty() && f["error"].is_null();
            if f["locked"] == true || filled {
                continue;
            }
            let id = f["id"].as_str().unwrap();
            let field = catalogue.field(id).unwrap();
            let value =
                demo_data::field_value(field, who, &mut self.rng, application::time::now_ms());
            self.intent(json!({"intent": "set_field", "field": id, "value": value}));
            self.wait_for("the value entered", |v| {
                v["fields"].as_array().is_some_and(|fs| {
                    fs.iter().any(|x| {
                        x["id"] == id
                            && x["error"].is_null()
                            && !x["value"].as_str().unwrap_or("").is_empty()
                    })
                })
            });
        }
        self.intent(json!({"intent": "continue"}));
        self.screen("materials");
    }

    /// Captures one page of `material` under the simulated camera.
    fn capture(&mut self, material: &str, seed: u64) {
        self.intent(json!({"intent": "capture", "material": material}));
        self.screen("capture");
        self.world(json!({"world": "lay_page", "seed": seed}));
        self.wait_for("a page captured", |v| {
            v["screen"] == "capture" && v["pages"] == 1
        });
        self.world(json!({"world": "remove_page"}));
        self.intent(json!({"intent": "capture_done"}));
        self.screen("materials");
    }

    /// Provides every required material: reuse where offered and `reuse`, later where allowed
    /// and `later`, else capture. Returns how each was provided.
    fn provide_materials(&mut self, reuse: bool, later: bool) -> Vec<&'static str> {
        let materials = self.screen("materials")["materials"].clone();
        let mut how = Vec::new();
        for (i, m) in materials.as_array().unwrap().iter().enumerate() {
            if m["required"] != true {
                continue;
            }
            let id = m["id"].as_str().unwrap();
            if reuse && !m["reusable"].is_null() {
                self.intent(json!({"intent": "reuse", "material": id}));
                how.push("reused");
            } else if later && !m["can_defer"].is_null() {
                self.intent(json!({"intent": "supply_later", "material": id}));
                how.push("later");
            } else {
                self.capture(id, 100 + i as u64);
                how.push("captured");
            }
        }
        self.wait_for("every material provided", |v| v["complete"] == true);
        self.intent(json!({"intent": "continue"}));
        self.screen("review");
        how
    }

    /// Consents, signs and submits; returns the receipt screen once saved.
    fn consent_sign_submit(&mut self, keep: bool) -> Value {
        self.intent(json!({"intent": "continue"}));
        self.screen("consent");
        self.intent(json!({"intent": "consent", "processing": true, "store_for_reuse": keep}));
        self.intent(json!({"intent": "continue"}));
        self.screen("sign");
        self.intent(json!({"intent": "sign", "strokes": [[[100, 200], [300, 220], [500, 180]]]}));
        self.intent(json!({"intent": "submit"}));
        self.screen("receipt")
    }

    /// Identifies citizen `n` and opens the choice of a new application.
    fn start_new(&mut self, n: u64) -> Applicant {
        self.identify(n);
        self.intent(json!({"intent": "new_application"}));
        self.screen("choose");
        demo_data::applicant(n)
    }

    /// Identifies citizen `n`, chooses item `code`, answers its questions and fills the form.
    fn start_item(&mut self, n: u64, code: &str) {
        let who = self.start_new(n);
        self.intent(json!({"intent": "choose_item", "code": code}));
        self.answer_all();
        self.fill_form(&who);
    }

    /// Files item `code` for citizen `n` and returns its number, leaving the receipt screen.
    fn file_item(
        &mut self,
        n: u64,
        code: &str,
        reuse: bool,
        keep: bool,
    ) -> (String, Vec<&'static str>) {
        self.start_item(n, code);
        let how = self.provide_materials(reuse, false);
        let receipt = self.consent_sign_submit(keep);
        let number = receipt["receipt"]["number"].as_str().unwrap().to_owned();
        (number, how)
    }

    /// Answers every situation question with its first option.
    fn answer_all(&mut self) {
        loop {
            let v = self.wait_for("a question or the form", |v| {
                v["screen"] == "question" || v["screen"] == "form"
            });
            if v["screen"] == "form" {
                return;
            }
            let (q, a) = (v["id"].clone(), v["options"][0]["id"].clone());
            self.intent(json!({"intent": "answer", "question": q, "value": a}));
            self.wait_for("the answer taken", |x| {
                x["id"] != q || x["screen"] != "question"
            });
        }
    }

    /// Rates, takes card and receipt, and waits for the next citizen's screen.
    fn leave(&mut self) {
        self.intent(json!({"intent": "continue"}));
        self.screen("rate");
        self.intent(json!({"intent": "rate", "stars": 5}));
        self.screen("goodbye");
        self.world(json!({"world": "remove_card"}));
        let _ = self.try_world(json!({"world": "take_receipt"}));
        self.screen("attract");
    }

    /// Retries a reviewer's decision until the application has reached the backend.
    fn decide(&mut self, number: &str, status: Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.try_world(json!({"world": "decide", "number": number, "status": status})) {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => panic!("{number} never reached the backend: {e}"),
            }
        }
    }

    /// The end of the kiosk's log, for a failure's message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("kiosk.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let warnings = lines
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"));
        let last = &lines[lines.len().saturating_sub(20)..];
        warnings.chain(last).copied().collect::<Vec<_>>().join("\n")
    }

    fn receipts(&self) -> Vec<String> {
        let mut texts: Vec<String> = std::fs::read_dir(self.dir.join("receipts"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        texts.sort();
        texts
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nothing of citizen `n` in `view`.
fn assert_nothing_of(view: &Value, n: u64) {
    let who = demo_data::applicant(n);
    let text = view.to_string();
    for secret in [&who.name[..], &who.id_number[..], &who.id_number[14..]] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn a_second_visit_reuses_the_page_captured_on_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (first, how) = k.file_item(21, CERTIFICATE, false, true);
    assert_eq!(how, ["captured"]);
    let printed = k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    assert_eq!(printed["receipt"]["number"], first.as_str());
    let receipts = k.receipts();
    assert!(
        receipts.iter().any(|r| r.contains(&first)),
        "the printed receipt carries the number: {receipts:?}"
    );
    k.leave();
    assert_nothing_of(&k.last.clone(), 21);

    let (second, how) = k.file_item(21, CERTIFICATE, true, false);
    assert_eq!(how, ["reused"], "the ID card copy of the first visit");
    assert_ne!(first, second);
    // Both reach the central office.
    k.decide(&first, json!({"status": "accepted"}));
    k.decide(&second, json!({"status": "accepted"}));
}

#[test]
fn the_hotel_bundle_with_optional_items_and_a_deferred_material() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let who = k.start_new(22);
    k.intent(json!({"intent": "choose_bundle", "id": HOTEL}));
    let optional = k.screen("optional");
    let items = optional["items"].as_array().unwrap().clone();
    assert!(items.len() >= 2, "{optional}");
    for item in &items[..2] {
        let code = item["code"].clone();
        k.intent(json!({"intent": "toggle_optional", "code": code}));
        k.wait_for("the optional item on", |v| {
            v["items"]
                .as_array()
                .is_some_and(|is| is.iter().any(|i| i["code"] == code && i["on"] == true))
        });
    }
    k.intent(json!({"intent": "continue"}));
    k.answer_all();
    k.fill_form(&who);
    let how = k.provide_materials(false, true);
    assert!(
        how.contains(&"later"),
        "容缺 offered for some material: {how:?}"
    );
    let review = k.last.clone();
    let missing = review["missing"].as_array().unwrap().clone();
    assert!(!missing.is_empty());
    let receipt = k.consent_sign_submit(false);
    assert!(
        receipt["receipt"]["items"].as_array().unwrap().len() >= 9,
        "{receipt}"
    );
    assert!(!receipt["receipt"]["missing"].as_array().unwrap().is_empty());
    let number = receipt["receipt"]["number"].as_str().unwrap().to_owned();
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    let text = k
        .receipts()
        .into_iter()
        .find(|r| r.contains(&number))
        .unwrap();
    let deadline = missing[0][1].as_str().unwrap();
    assert!(
        text.contains(deadline),
        "the promise and its deadline on paper: {text}"
    );
    k.leave();
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn with_the_paper_out_the_receipt_is_shown_as_a_qr_code_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.world(json!({"world": "paper", "supply": "out"}));
    k.wait_for("the notice", |v| {
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["device"] == "receipt_printer")
    });
    let (number, _) = k.file_item(23, CERTIFICATE, false, false);
    let shown = k.wait_for("the QR code", |v| v["printing"] == "shown_as_qr");
    assert!(shown["receipt"]["qr"].as_str().unwrap().ends_with(&number));
    assert!(k.receipts().is_empty(), "nothing came out of the printer");
    k.intent(json!({"intent": "continue"}));
    k.screen("rate");
    k.intent(json!({"intent": "rate", "stars": 4}));
    k.screen("goodbye");
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn a_social_security_card_is_collected_from_the_dispenser_after_the_holder_is_identified_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.start_item(24, SOCIAL_SECURITY_CARD);
    k.provide_materials(false, false);
    k.intent(json!({"intent": "delivery", "delivery": "dispenser"}));
    k.wait_for("dispenser chosen", |v| v["delivery"] == "dispenser");
    let receipt = k.consent_sign_submit(false);
    let number = receipt["receipt"]["number"].as_str().unwrap().to_owned();
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    k.decide(
        &number,
        json!({"status": "result_ready", "delivery": "dispenser"}),
    );
    // The result comes back through the sync agent; the citizen may come before it does.
    let deadline = Instant::now() + PATIENCE;
    loop {
        k.identify(24);
        let pickup = |v: &Value| v["screen"] == "home" && v["journeys"][2]["available"] == true;
        if k.wait_within(Duration::from_secs(3), &pickup).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the result never reached the kiosk:\n{}",
            k.log_tail()
        );
        k.intent(json!({"intent": "cancel"}));
        k.world(json!({"world": "remove_card"}));
        k.screen("attract");
    }
    k.intent(json!({"intent": "pickup"}));
    let pickup = k.screen("pickup");
    assert_eq!(pickup["results"][0]["number"], number.as_str());
    k.intent(json!({"intent": "collect", "number": number}));
    k.wait_for("asked to identify again", |v| v["verifying"] == true);
    // The holder lifts the card and lays it down again; the reader sees it gone after two
    // empty polls.
    k.world(json!({"world": "remove_card"}));
    std::thread::sleep(Duration::from_millis(1500));
    k.world(json!({"world": "insert_card", "citizen": 24}));
    k.wait_for("identified: the card on its way to the gate", |v| {
        v["screen"] == "collecting" && v["verifying"] == false
    });
    std::thread::sleep(Duration::from_millis(500));
    k.world(json!({"world": "take_card"}));
    k.wait_for("handed out", |v| v["done"] == true);
}

#[test]
fn an_application_saved_just_before_kill_9_is_there_after_the_restart_and_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (number, _) = k.file_item(25, CERTIFICATE, false, false);
    // Saved: the receipt screen shows the number. Cut the power now.
    k.world(json!({"world": "network", "up": false}));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(k.child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(k);

    let mut k = Kiosk::start(dir.path());
    k.identify(25);
    // Progress is offered once the lookup has found the citizen's applications.
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    let progress = k.screen("progress");
    assert_eq!(
        progress["applications"][0]["number"],
        number.as_str(),
        "{progress}"
    );
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn corrections_asked_by_the_reviewer_are_supplied_at_the_kiosk_and_reach_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (number, _) = k.file_item(27, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();
    k.decide(
        &number,
        json!({"status": "corrections_needed", "corrections": [
            {"target": "applicant.phone", "note": "电话无法接通，请核对"},
            {"target": "id_card", "note": "身份证复印件反光，请重新拍摄"},
        ]}),
    );

    // The request comes back through the sync agent; the citizen may come before it does.
    let deadline = Instant::now() + PATIENCE;
    let progress = loop {
        k.identify(27);
        k.wait_for("progress offered", |v| {
            v["journeys"][1]["available"] == true
        });
        k.intent(json!({"intent": "progress"}));
        let progress = k.screen("progress");
        if progress["applications"][0]["can_supplement"] == true {
            break progress;
        }
        assert!(
            Instant::now() < deadline,
            "the request never reached the kiosk"
        );
        k.intent(json!({"intent": "cancel"}));
        k.world(json!({"world": "remove_card"}));
        k.screen("attract");
        std::thread::sleep(Duration::from_millis(500));
    };
    let row = &progress["applications"][0];
    assert_eq!(
        (row["number"].as_str(), row["status"].as_str()),
        (Some(number.as_str()), Some("corrections_needed"))
    );
    assert_eq!(
        row["corrections"],
        json!(["电话无法接通，请核对", "身份证复印件反光，请重新拍摄"]),
        "every correction, all at once"
    );

    k.intent(json!({"intent": "supplement", "number": number}));
    let asked = k.screen("supplement");
    assert_eq!(asked["corrections"].as_array().unwrap().len(), 2);
    assert_eq!(asked["complete"], false);
    k.intent(json!({"intent": "submit"}));
    k.intent(json!({"intent": "set_field", "field": "applicant.phone", "value": "13912345678"}));
    k.wait_for("the phone corrected", |v| {
        v["screen"] == "supplement" && v["corrections"][0]["value"] == "13912345678"
    });
    k.intent(json!({"intent": "capture", "material": "id_card"}));
    k.screen("capture");
    k.world(json!({"world": "lay_page", "seed": 77}));
    k.wait_for("a page captured", |v| {
        v["screen"] == "capture" && v["pages"] == 1
    });
    k.world(json!({"world": "remove_page"}));
    k.intent(json!({"intent": "capture_done"}));
    k.wait_for("everything asked supplied", |v| {
        v["screen"] == "supplement" && v["complete"] == true
    });
    k.intent(json!({"intent": "sign", "strokes": [[[100, 200], [300, 220]]]}));
    k.intent(json!({"intent": "submit"}));
    let receipt = k.screen("receipt");
    assert_eq!(
        (
            receipt["receipt"]["kind"].as_str(),
            receipt["receipt"]["number"].as_str()
        ),
        (Some("supplement"), Some(number.as_str()))
    );
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    // At the backend: the corrections as given, and the application back in review.
    let backend =
        central_backend::SqliteStorage::open_read_only(&dir.path().join("central")).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let shown = loop {
        let shown = backend.application(&number).unwrap();
        if shown["supplements"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
        {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "the corrections never reached the backend"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let supplement = &shown["supplements"][0]["supplement"];
    assert_eq!(
        supplement["form"],
        json!([{"field": "applicant.phone", "value": "13912345678"}])
    );
    assert_eq!(
        shown["supplements"][0]["pages"].as_array().unwrap().len(),
        1
    );
    let listed = backend.applications().unwrap();
    let status = listed.iter().find(|a| a.number == number).unwrap();
    assert_eq!(status.status, "supplied");

    // The heartbeat's statistics, from the kiosk's audit, tell the central office about the
    // day: the item filed, the supplement, two completed sessions and their ratings.
    let deadline = Instant::now() + PATIENCE;
    let stats = loop {
        let fleet = backend.fleet().unwrap();
        let stats = fleet[0].heartbeat["statistics"].clone();
        if stats["supplements"] == 1 && stats["ratings"][4] == 2 {
            break stats;
        }
        assert!(Instant::now() < deadline, "no statistics: {stats}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(stats["applications_by_item"][CERTIFICATE], 1, "{stats}");
    assert!(
        stats["ended"]["completed"].as_u64().unwrap() >= 2,
        "{stats}"
    );
    assert_nothing_of(&stats, 27);

    // Back at the kiosk, progress says so and offers nothing more to supply.
    k.identify(27);
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    let row = k.screen("progress")["applications"][0].clone();
    assert_eq!(
        (row["status"].as_str(), row["can_supplement"].as_bool()),
        (Some("supplied"), Some(false))
    );
}

/// Every regular file under `dir` that holds `secret` in clear (symbolic links, such as the
/// simulators' PTYs, and sockets are not read).
fn files_holding(dir: &Path, secret: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let (path, kind) = (entry.path(), entry.file_type().unwrap());
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file()
                && std::fs::read(&path)
                    .is_ok_and(|b| b.windows(secret.len()).any(|w| w == secret.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn with_the_network_down_and_kill_9_at_any_step_nothing_is_lost_or_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    // The network is down for the whole night: a citizen files all the same.
    k.world(json!({"world": "network", "up": false}));
    let (number, _) = k.file_item(30, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    // The next citizen is cut off by a power failure at each step in turn.
    let pid = |k: &Kiosk| nix::unistd::Pid::from_raw(k.child.id() as i32);
    for step in ["form", "capture", "sign"] {
        let who = k.start_new(31);
        k.intent(json!({"intent": "choose_item", "code": CERTIFICATE}));
        if step != "form" {
            k.fill_form(&who);
        }
        match step {
            "capture" => {
                k.intent(json!({"intent": "capture", "material": "id_card"}));
                k.screen("capture");
                k.world(json!({"world": "lay_page", "seed": 5}));
                k.wait_for("a page captured", |v| v["pages"] == 1);
            }
            "sign" => {
                k.provide_materials(false, false);
                k.intent(json!({"intent": "continue"}));
                k.intent(json!({"intent": "consent", "processing": true, "store_for_reuse": true}));
                k.intent(json!({"intent": "continue"}));
                k.screen("sign");
                k.intent(json!({"intent": "sign", "strokes": [[[10, 20], [30, 40]]]}));
                k.wait_for("signed", |v| v["strokes"] == 1);
            }
            _ => {
                k.screen("form");
            }
        }
        nix::sys::signal::kill(pid(&k), nix::sys::signal::Signal::SIGKILL).unwrap();
        drop(k);
        k = Kiosk::start(dir.path());
        assert_nothing_of(&k.last, 31);
        k.world(json!({"world": "network", "up": false}));
    }

    // Nothing of the interrupted citizen anywhere on disk, in clear: not in the store, the
    // page files, the receipts, or the log.
    assert!(
        !files_holding(dir.path(), &number).is_empty(),
        "the search finds what is there (the first receipt's number)"
    );
    let who = demo_data::applicant(31);
    for secret in [&who.name[..], &who.id_number[..]] {
        let found = files_holding(dir.path(), secret);
        assert!(found.is_empty(), "{secret} in {found:?}");
    }
    // Their progress lists nothing: nothing half-done was saved.
    k.identify(31);
    k.wait_for("progress offered", |v| {
        v["journeys"][1]["available"] == true
    });
    k.intent(json!({"intent": "progress"}));
    assert_eq!(k.screen("progress")["applications"], json!([]));
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));

    // The first citizen's application waited through it all, and goes out with the network.
    k.world(json!({"world": "network", "up": true}));
    k.decide(&number, json!({"status": "accepted"}));
}

#[test]
fn a_technician_tests_the_printer_counts_paper_and_exports_diagnostics_without_citizen_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    let (number, _) = k.file_item(32, CERTIFICATE, false, false);
    k.wait_for("the receipt printed", |v| v["printing"] == "printed");
    k.leave();

    k.intent(json!({"intent": "maintenance_gesture"}));
    k.screen("maintenance_login");
    k.intent(json!({"intent": "maintenance_pin", "pin": "000000"}));
    k.wait_for("a wrong PIN counted", |v| v["failures"] == 1);
    k.intent(json!({"intent": "maintenance_pin", "pin": kiosk_app::simulated::TECHNICIAN_PIN}));
    let menu = k.wait_for("the menu with its report", |v| {
        v["screen"] == "maintenance" && v["report"].is_object()
    });
    let report = &menu["report"];
    assert_eq!(report["terminal"], kiosk_app::simulated::TERMINAL);
    let states: Vec<(String, String)> = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["device"].as_str().unwrap().into(),
                d["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    for device in ["idcard", "receipt-printer", "dispenser"] {
        assert!(
            states.contains(&(device.into(), "online".into())),
            "{device} in {states:?}"
        );
    }
    assert!(report["network"]["certificate_days_left"].as_i64().unwrap() > 300);
    let paper = |v: &Value| {
        v["report"]["supplies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["supply"] == "receipt_paper")
            .unwrap()["used"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(paper(&menu), 1, "one receipt printed so far");

    // The printer's self-test prints a slip; the paper counter counts it.
    let slips = k.receipts().len();
    k.intent(json!({"intent": "maintain", "action": "self_test", "device": "receipt_printer"}));
    // The technician tears the slip off once it is out.
    let tested = |v: &Value| v["last"]["action"] == "self_test" && paper(v) == 2;
    let deadline = Instant::now() + PATIENCE;
    let v = loop {
        let _ = k.try_world(json!({"world": "take_receipt"}));
        if let Some(v) = k.wait_within(Duration::from_secs(1), &tested) {
            break v;
        }
        assert!(Instant::now() < deadline, "no self-test: {}", k.last);
    };
    assert_eq!(v["last"]["ok"], true, "{v}");
    assert_eq!(
        k.receipts().len(),
        slips + 1,
        "the slip came out of the printer"
    );
    k.intent(json!({"intent": "maintain", "action": "refilled", "supply": "receipt_paper"}));
    k.wait_for("the paper counter reset", |v| {
        v["last"]["action"] == "refilled" && paper(v) == 0
    });

    k.intent(json!({"intent": "maintain", "action": "sync_now"}));
    let v = k.wait_for("sync now done", |v| v["last"]["action"] == "sync_now");
    assert_eq!(v["last"]["ok"], true, "{v}");

    // Diagnostics on the USB drive: the report, device states, the store's check.
    k.intent(json!({"intent": "maintain", "action": "export_diagnostics"}));
    let v = k.wait_for("exported", |v| v["last"]["action"] == "export_diagnostics");
    assert_eq!(v["last"]["ok"], true, "{v}");
    let usb = dir.path().join("usb");
    let folder = std::fs::read_dir(&usb)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let check: Value =
        serde_json::from_slice(&std::fs::read(folder.join("store-check.json")).unwrap()).unwrap();
    assert_eq!(
        (
            check["applications"].as_u64(),
            check["audit_chain"].as_str()
        ),
        (Some(1), Some("ok"))
    );
    assert!(folder.join("status/idcard.json").is_file());
    let who = demo_data::applicant(32);
    for secret in [&who.name[..], &who.id_number[..], &number[..]] {
        let found = files_holding(&usb, secret);
        assert!(found.is_empty(), "{secret} in {found:?}");
    }
    assert_nothing_of(&v, 32);

    k.intent(json!({"intent": "maintain", "action": "leave"}));
    k.screen("attract");

    // A technician's card opens it too; it starts no citizen session.
    k.intent(json!({"intent": "maintenance_gesture"}));
    k.screen("maintenance_login");
    k.world(json!({"world": "insert_card", "citizen": kiosk_app::simulated::TECHNICIAN_CARD}));
    let v = k.screen("maintenance");
    assert_nothing_of(&v, kiosk_app::simulated::TECHNICIAN_CARD);
    k.intent(json!({"intent": "cancel"}));
    k.world(json!({"world": "remove_card"}));
    k.screen("attract");
}

#[test]
fn a_blurred_page_is_not_taken_and_the_citizen_is_told_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Kiosk::start(dir.path());
    k.start_item(33, CERTIFICATE);
    k.intent(json!({"intent": "capture", "material": "id_card"}));
    k.screen("capture");
    k.world(json!({"world": "lay_page", "seed": 8, "blurred": true}));
    let v = k.wait_for("the blur reported", |v| v["problem"] == "blurred");
    assert_eq!(v["pages"], 0, "a blurred page is not taken");
    // The citizen lifts the page and lays it down again, still this time.
    k.world(json!({"world": "remove_page"}));
    std::thread::sleep(Duration::from_millis(1500));
    k.world(json!({"world": "lay_page", "seed": 8}));
    k.wait_for("the sharp page taken", |v| {
        v["screen"] == "capture" && v["pages"] == 1 && v["problem"].is_null()
    });
}
