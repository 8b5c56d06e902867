//! Delivery through faults: whatever the network, the backend or the agent does, the backend
//! ends with each application exactly once and every page intact.

mod common;

use central_backend::Faults;
use common::*;

fn drained(w: &World) -> bool {
    let c = w.counts();
    c.pending == 0 && c.in_flight == 0
}

#[test]
fn a_clean_network_delivers_everything_once() {
    let w = World::new();
    let numbers = w.submit(6, 1);
    let backend = w.backend(Faults::default());
    let _agent = w.agent(&format!("https://{}", backend.addr), &[]);
    wait_until(60, "the outbox to drain", || drained(&w));
    w.assert_exactly_once(&numbers);
    let c = w.counts();
    assert_eq!((c.delivered, c.dead), (6, 0));
    assert_eq!(c.oldest_pending_age_s, None);
}

#[test]
fn connections_reset_mid_upload_stalled_delayed_and_refused_lose_and_double_nothing() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let proxy = Proxy::start(backend.addr);
    let mut numbers = Vec::new();
    let _agent = w.agent(&proxy.url(), &[]);
    for (round, fault) in [
        Fault::ResetAfter(30_000),
        Fault::ResetAfter(600),
        Fault::Stall,
        Fault::Delay(20),
        Fault::Refuse,
    ]
    .into_iter()
    .enumerate()
    {
        proxy.set(fault);
        numbers.extend(w.submit(3, 10 + round as u64));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        if matches!(fault, Fault::Refuse | Fault::Stall) {
            assert!(
                w.counts().pending + w.counts().in_flight > 0,
                "{fault:?}: nothing can get through"
            );
        }
        proxy.set(Fault::Pass);
        wait_until(60, "the outbox to drain after the fault", || drained(&w));
    }
    w.assert_exactly_once(&numbers);
    assert_eq!(w.counts().dead, 0, "network faults never dead-letter");
}

#[test]
fn a_backend_that_answers_503_after_committing_and_a_slow_one_still_get_each_once() {
    let w = World::new();
    let numbers = w.submit(8, 2);
    let backend = w.backend(Faults {
        unavailable_every: 3,
        delay_ms: 150,
    });
    let _agent = w.agent(&format!("https://{}", backend.addr), &[]);
    wait_until(90, "the outbox to drain", || drained(&w));
    w.assert_exactly_once(&numbers);
}

#[test]
fn a_backend_restart_mid_drain_loses_nothing() {
    let w = World::new();
    let numbers = w.submit(20, 3);
    let backend = w.backend(Faults {
        unavailable_every: 0,
        delay_ms: 40,
    });
    let proxy = Proxy::start(backend.addr);
    let _agent = w.agent(&proxy.url(), &[]);
    wait_until(60, "some deliveries", || w.received().len() >= 3);
    backend.stop();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let backend = w.backend(Faults::default());
    proxy.retarget(backend.addr);
    wait_until(90, "the outbox to drain", || drained(&w));
    w.assert_exactly_once(&numbers);
}

#[test]
fn a_crash_between_the_servers_2xx_and_the_agents_commit_is_answered_from_the_stored_reply() {
    let w = World::new();
    let numbers = w.submit(3, 4);
    let backend = w.backend(Faults::default());
    let url = format!("https://{}", backend.addr);
    let mut crashing = w.agent_with(
        &url,
        &[("SYNC_AGENT_FAILPOINT", "after_ack")],
        &["--concurrency", "1"],
    );
    let status = crashing.0.wait().unwrap();
    assert!(!status.success(), "the failpoint aborts the agent");
    assert_eq!(
        w.received().len(),
        1,
        "the server committed one application"
    );
    assert_eq!(w.counts().delivered, 0, "the kiosk never recorded it");
    let _agent = w.agent(&url, &[]);
    wait_until(60, "the outbox to drain", || drained(&w));
    w.assert_exactly_once(&numbers);
}

#[test]
fn kill_9_of_the_agent_during_a_drain_loses_and_doubles_nothing() {
    let w = World::new();
    let numbers = w.submit(24, 5);
    let backend = w.backend(Faults {
        unavailable_every: 0,
        delay_ms: 30,
    });
    let url = format!("https://{}", backend.addr);
    for round in 0..3 {
        let agent = w.agent(&url, &[]);
        let before = w.received().len();
        wait_until(60, "progress", || {
            w.received().len() > before || drained(&w)
        });
        std::thread::sleep(std::time::Duration::from_millis(100 + round * 70));
        agent.kill9();
    }
    let _agent = w.agent(&url, &[]);
    wait_until(90, "the outbox to drain", || drained(&w));
    w.assert_exactly_once(&numbers);
    assert!(w.store().verify().unwrap().audit_chain == "ok");
}

#[test]
fn the_agent_tells_systemd_it_is_ready_and_alive_from_the_working_loop() {
    let w = World::new();
    let backend = w.backend(Faults::default());
    let socket_path = w.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _agent = w.agent(
        &format!("https://{}", backend.addr),
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !(seen.iter().any(|m: &String| m.contains("READY=1"))
        && seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        let n = socket.recv(&mut buf).expect("a notification");
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}
