//! The whole simulated kiosk as a process, as the tests drive it: `kiosk-app --simulate
//! --headless` with every device simulator on its PTY, the local backend, the network relay
//! and the sync agent. Fingers are intents on standard input; the world (cards, pages, paper,
//! reviewers, the central office) acts through the control socket; what the citizen sees is
//! read off standard output.
#![allow(dead_code)] // each test binary uses part of it

use application::Applicant;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// 无犯罪记录证明开具: one item, no questions, one material (the ID card copy); its result
/// is printed at the kiosk.
pub const CERTIFICATE: &str = "11440600MB2C0417XA9000164000000";
/// 社会保障卡补领、换领: delivered from the dispenser.
pub const SOCIAL_SECURITY_CARD: &str = "11440600MB2C05180Q9000214000000";
pub const HOTEL: &str = "open_hotel";
/// How long anything may take in these tests (debug build, two cores shared with other tests).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Kiosk {
    pub child: Child,
    stdin: ChildStdin,
    views: mpsc::Receiver<Value>,
    pub last: Value,
    control: UnixStream,
    control_reply: BufReader<UnixStream>,
    pub dir: PathBuf,
    rng: demo_data::Rng,
}

impl Kiosk {
    pub fn start(dir: &Path) -> Kiosk {
        Kiosk::start_with(dir, &[])
    }

    /// Starts the kiosk with more arguments (`--timeouts …`).
    pub fn start_with(dir: &Path, args: &[&str]) -> Kiosk {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-app"))
            .args(["--simulate", "--headless", "--dir"])
            .arg(dir)
            .args(args)
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

    pub fn intent(&mut self, intent: Value) {
        writeln!(self.stdin, "{intent}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// A world event through the control socket; the reply says whether it happened.
    pub fn try_world(&mut self, event: Value) -> Result<(), String> {
        writeln!(self.control, "{event}").unwrap();
        let mut line = String::new();
        self.control_reply.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        match reply["error"].as_str() {
            Some(e) => Err(e.to_owned()),
            None => Ok(()),
        }
    }

    pub fn world(&mut self, event: Value) {
        self.try_world(event.clone())
            .unwrap_or_else(|e| panic!("{event}: {e}"));
    }

    /// Reads views until one satisfies `ok`.
    pub fn wait_for(&mut self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        self.wait_within(PATIENCE, &ok).unwrap_or_else(|| {
            panic!(
                "waiting for {what}; last view: {}\nlog:\n{}",
                self.last,
                self.log_tail()
            )
        })
    }

    /// Reads views for at most `patience` until one satisfies `ok`.
    pub fn wait_within(
        &mut self,
        patience: Duration,
        ok: &impl Fn(&Value) -> bool,
    ) -> Option<Value> {
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

    pub fn screen(&mut self, name: &str) -> Value {
        self.wait_for(name, |v| v["screen"] == name)
    }

    pub fn identify(&mut self, citizen: u64) -> Value {
        self.world(json!({"world": "insert_card", "citizen": citizen}));
        // The lookup answer makes the journeys available.
        self.wait_for("home, looked up", |v| {
            v["screen"] == "home" && v["journeys"][0]["available"] == true
        })
    }

    /// Fills what is empty or wrong on the form with valid values, and goes on.
    pub fn fill_form(&mut self, who: &Applicant) {
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
    pub fn capture(&mut self, material: &str, seed: u64) {
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
    pub fn provide_materials(&mut self, reuse: bool, later: bool) -> Vec<&'static str> {
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
    pub fn consent_sign_submit(&mut self, keep: bool) -> Value {
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
    pub fn start_new(&mut self, n: u64) -> Applicant {
        self.identify(n);
        self.intent(json!({"intent": "new_application"}));
        self.screen("choose");
        demo_data::applicant(n)
    }

    /// Identifies citizen `n`, chooses item `code`, answers its questions and fills the form.
    pub fn start_item(&mut self, n: u64, code: &str) {
        let who = self.start_new(n);
        self.intent(json!({"intent": "choose_item", "code": code}));
        self.answer_all();
        self.fill_form(&who);
    }

    /// Files item `code` for citizen `n` and returns its number, leaving the receipt screen.
    pub fn file_item(
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
    pub fn answer_all(&mut self) {
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
    pub fn leave(&mut self) {
        self.intent(json!({"intent": "continue"}));
        self.screen("rate");
        self.intent(json!({"intent": "rate", "stars": 5}));
        self.screen("goodbye");
        self.world(json!({"world": "remove_card"}));
        let _ = self.try_world(json!({"world": "take_receipt"}));
        self.screen("attract");
    }

    /// Retries a reviewer's decision until the application has reached the backend.
    pub fn decide(&mut self, number: &str, status: Value) {
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

    /// Files item `code` for citizen `n` with its result delivered by `delivery`, takes the
    /// printed receipt and leaves; returns the application's number.
    pub fn file_for_delivery(&mut self, n: u64, code: &str, delivery: &str) -> String {
        self.start_item(n, code);
        self.provide_materials(false, false);
        self.intent(json!({"intent": "delivery", "delivery": delivery}));
        self.wait_for("the delivery chosen", |v| v["delivery"] == delivery);
        let receipt = self.consent_sign_submit(false);
        let number = receipt["receipt"]["number"].as_str().unwrap().to_owned();
        self.wait_for("the receipt printed", |v| v["printing"] == "printed");
        self.leave();
        number
    }

    /// Files item `code` for citizen `n`, has the reviewer make its result ready for
    /// `delivery`, and identifies the citizen again once the kiosk offers the pickup; returns
    /// the application's number.
    pub fn result_ready(&mut self, n: u64, code: &str, delivery: &str) -> String {
        let number = self.file_for_delivery(n, code, delivery);
        self.decide(
            &number,
            json!({"status": "result_ready", "delivery": delivery}),
        );
        self.until_pickup_offered(n);
        number
    }

    /// The power is cut: the kiosk is killed with SIGKILL, nothing flushed or closed.
    pub fn kill_9(self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }

    /// Identifies citizen `n` until the result of an earlier application has come back through
    /// the sync agent and pickup is offered (the citizen may come before it does).
    pub fn until_pickup_offered(&mut self, n: u64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.identify(n);
            let pickup = |v: &Value| v["screen"] == "home" && v["journeys"][2]["available"] == true;
            if self.wait_within(Duration::from_secs(3), &pickup).is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the result never reached the kiosk:\n{}",
                self.log_tail()
            );
            self.intent(json!({"intent": "cancel"}));
            self.world(json!({"world": "remove_card"}));
            self.screen("attract");
        }
    }

    /// Chooses to collect `number` and identifies citizen `n` again: the card is lifted and
    /// laid down again (the reader sees it gone after two empty polls).
    pub fn collect_as(&mut self, number: &str, n: u64) {
        self.intent(json!({"intent": "pickup"}));
        let pickup = self.screen("pickup");
        assert_eq!(pickup["results"][0]["number"], number);
        self.intent(json!({"intent": "collect", "number": number}));
        self.wait_for("asked to identify again", |v| v["verifying"] == true);
        self.world(json!({"world": "remove_card"}));
        std::thread::sleep(Duration::from_millis(1500));
        self.world(json!({"world": "insert_card", "citizen": n}));
        self.wait_for("identified: handing out", |v| {
            v["screen"] == "collecting" && v["verifying"] == false
        });
    }

    /// The central backend's storage, read beside the running server.
    pub fn backend(&self) -> central_backend::SqliteStorage {
        central_backend::SqliteStorage::open_read_only(&self.dir.join("central")).unwrap()
    }

    /// Waits until the backend's storage shows what `ok` looks for.
    pub fn until_backend<T>(
        &self,
        what: &str,
        ok: impl Fn(&central_backend::SqliteStorage) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = ok(&self.backend()) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what} at the backend:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The end of the kiosk's log, for a failure's message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("kiosk.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let warnings = lines
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"));
        let last = &lines[lines.len().saturating_sub(20)..];
        warnings.chain(last).copied().collect::<Vec<_>>().join("\n")
    }

    pub fn receipts(&self) -> Vec<String> {
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
        // A killed kiosk leaves its simulated A4 printer's CUPS running: not on this machine.
        a4_printer::sim::stop_left_over(&self.dir.join("cups"));
    }
}

/// Nothing of citizen `n` in `view`.
pub fn assert_nothing_of(view: &Value, n: u64) {
    let who = demo_data::applicant(n);
    let text = view.to_string();
    for secret in [&who.name[..], &who.id_number[..], &who.id_number[14..]] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

/// Every regular file under `dir` that holds `secret` in clear (symbolic links, such as the
/// simulators' PTYs, and sockets are not read).
pub fn files_holding(dir: &Path, secret: &str) -> Vec<PathBuf> {
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
