//! Soak: a long night of citizen sessions through one engine and one store, in one process.
//! A quarter file an application (with a captured page, durably saved, receipt printed), a
//! quarter look up their progress, a quarter walk away from the form and are reset by the idle
//! timeout, a quarter take the card back mid-choice and walk away (the menu's timeout resets).
//! Every step is written to the audit chain, as the kiosk does. Prints resident memory at the
//! start, after a warm-up tenth and at the end (goal: under 5 MB of growth from the start),
//! sessions per second, and how the time splits between the store's durable work (saves,
//! lookups, audit) and the engine.
//!
//! `cargo bench -p session --bench soak -- [SESSIONS]` (default 10,000).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{CERTIFICATE, Kiosk, assert_nothing_of, citizen};
use session::{Event, Intent, Timeouts};
use std::time::Instant;

/// Resident memory, KiB, from `/proc/self/status`.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let sessions: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut k = Kiosk::new();
    let idle = Timeouts::default().form_s as i64 + 1;
    let goodbye = Timeouts::default().goodbye_s as i64 + 1;
    let menu = Timeouts::default().screen_s as i64 + 1;
    let start_rss = rss_kib();
    let warm_up = sessions / 10;
    let (mut warm_rss, mut warm_at, mut warm_store) = (start_rss, Instant::now(), k.store_time);
    let started = Instant::now();
    let mut filed = 0u64;
    for i in 0..sessions {
        if i == warm_up {
            (warm_rss, warm_at, warm_store) = (rss_kib(), Instant::now(), k.store_time);
        }
        let who = citizen(i % 300);
        match i % 4 {
            0 => {
                k.file(&who, CERTIFICATE);
                k.intent(Intent::Continue);
                k.intent(Intent::Rate { stars: 5 });
                k.leave();
                filed += 1;
            }
            1 => {
                k.place_card(&who);
                k.intent(Intent::Progress);
                assert_eq!(k.screen(), "progress");
                k.leave();
            }
            2 => {
                k.start_item(&who, CERTIFICATE);
                k.wait(idle);
                k.wait(goodbye);
                k.event(Event::CardRemoved);
            }
            _ => {
                k.place_card(&who);
                k.intent(Intent::NewApplication);
                k.intent(Intent::Search {
                    text: "证明".into(),
                });
                k.event(Event::CardRemoved);
                k.wait(menu);
                k.wait(goodbye);
            }
        }
        if k.screen() != "attract" {
            panic!("session {i} did not end: {}", k.view());
        }
        assert_nothing_of(&k.view(), &who);
        k.effects.clear();
        k.printed.clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let steady = warm_at.elapsed().as_secs_f64();
    let end_rss = rss_kib();
    let saved = k.store.verify().map(|r| r.applications).unwrap_or(0);
    assert_eq!(saved, filed, "every filed application is in the store");

    let store_s = (k.store_time - warm_store).as_secs_f64();
    let steady_sessions = (sessions - warm_up) as f64;
    println!("soak: {sessions} sessions ({filed} filed and saved durably) in {elapsed:.1} s");
    println!(
        "  resident memory: start {:.1} MiB, after {warm_up} sessions {:.1} MiB, end {:.1} MiB",
        mib(start_rss),
        mib(warm_rss),
        mib(end_rss)
    );
    // The goal is judged from the start, the warm-up included (SQLite's page cache and the
    // allocator's pools fill during it); the growth after it shows whether anything leaks.
    let growth = end_rss.saturating_sub(start_rss);
    println!(
        "  growth from the start: {:.2} MiB (goal under 5 MiB: {}); after the warm-up: {:.2} MiB",
        mib(growth),
        if growth < 5 * 1024 { "met" } else { "MISSED" },
        mib(end_rss.saturating_sub(warm_rss))
    );
    println!(
        "  {:.0} sessions/s after the warm-up; per session {:.0} µs in the store, {:.0} µs in the engine and its views (ratio engine/store {:.2})",
        steady_sessions / steady,
        store_s / steady_sessions * 1e6,
        (steady - store_s) / steady_sessions * 1e6,
        (steady - store_s) / store_s
    );
}
