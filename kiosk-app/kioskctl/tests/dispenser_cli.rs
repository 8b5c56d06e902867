//! `kioskctl sim dispenser` and `kioskctl dispenser …` as a technician runs them.

mod common;

use common::{Sim, failure, json, kioskctl};

fn start_sim(args: &[&str]) -> Sim {
    Sim::start("dispenser", args)
}

#[test]
fn status_reports_stacker_bin_and_gate() {
    let sim = start_sim(&["--cards", "3"]);
    let v = json(&kioskctl(&["dispenser", "status", "--json"], &sim.link));
    assert_eq!(
        v,
        serde_json::json!({"state": "online", "stacker": "low", "reject_bin_full": false, "card_at_gate": false})
    );
    let sim = start_sim(&["--cards", "0", "--reject-capacity", "0"]);
    let v = json(&kioskctl(&["dispenser", "status", "--json"], &sim.link));
    assert_eq!(
        (v["stacker"].as_str(), v["reject_bin_full"].as_bool()),
        (Some("empty"), Some(true))
    );
}

#[test]
fn status_without_json_is_one_line_for_a_person() {
    let sim = start_sim(&["--cards", "50"]);
    let out = kioskctl(&["dispenser", "status"], &sim.link);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "state online, stacker ok, reject bin not full, no card at the gate\n"
    );
}

#[test]
fn a_card_taken_and_a_card_retained() {
    let sim = start_sim(&["--take-after-ms", "200"]);
    let v = json(&kioskctl(
        &["dispenser", "dispense", "--take-timeout-s", "10"],
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "taken"}));

    let sim = start_sim(&[]);
    let v = json(&kioskctl(
        &["dispenser", "dispense", "--take-timeout-s", "1"],
        &sim.link,
    ));
    assert_eq!(v, serde_json::json!({"outcome": "retained"}));
}

#[test]
fn the_enq_handshake_and_the_n_marker_through_the_cli() {
    let sim = start_sim(&["--require-enq", "--negative-marker", "N", "--jammed"]);
    let args = ["dispenser", "dispense", "--enq", "--take-timeout-s", "1"];
    let err = failure(&kioskctl(&args, &sim.link));
    assert!(
        err.contains("dispenser error 10") && err.contains("card jam"),
        "{err}"
    );
}

#[test]
fn a_missing_port_is_one_line_and_exit_2() {
    let missing = tempfile::tempdir().unwrap().path().join("nothing");
    let err = failure(&kioskctl(&["dispenser", "status", "--json"], &missing));
    assert!(err.starts_with("kioskctl: port error:"), "{err}");
}
