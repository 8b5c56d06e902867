//! The heartbeat's statistics, derived from the kiosk's audit (电子监察): what the central
//! office needs to see of a kiosk's day without any citizen's data (the audit holds none).

use kiosk_store::AuditEvent;
use sync_protocol::Statistics;

/// The window the heartbeat reports on.
pub const WINDOW_MS: i64 = 24 * 3_600_000;

/// Statistics of `events` (times and events, oldest first) over a window of `window_ms`.
pub fn from_audit(events: &[(i64, AuditEvent)], window_ms: i64) -> Statistics {
    let mut s = Statistics {
        window_s: (window_ms / 1000).max(0) as u64,
        ..Statistics::default()
    };
    // Whether the session under way (one begun inside the window) has begun a new application
    // it has not saved yet; `None` outside such a session.
    let mut unsaved: Option<bool> = None;
    for (at_ms, event) in events {
        match event {
            AuditEvent::SessionStarted => {
                s.sessions += 1;
                unsaved = Some(false);
            }
            AuditEvent::ItemsChosen { .. } => {
                if let Some(u) = unsaved.as_mut() {
                    *u = true;
                }
            }
            AuditEvent::SessionEnded { outcome, .. } => {
                *s.ended.entry(outcome.clone()).or_default() += 1;
                if unsaved.take() == Some(true) {
                    s.abandoned += 1;
                }
            }
            AuditEvent::ApplicationSaved { items, .. } => {
                if let Some(u) = unsaved.as_mut() {
                    *u = false;
                }
                for item in items {
                    *s.applications_by_item.entry(item.clone()).or_default() += 1;
                }
                s.applications_by_hour[usize::from(application::time::local_hour(*at_ms))] += 1;
            }
            AuditEvent::SupplementSaved { .. } => s.supplements += 1,
            AuditEvent::ResultCollected { .. } => s.results_collected += 1,
            AuditEvent::Rated { stars, .. } if (1..=5).contains(stars) => {
                s.ratings[usize::from(*stars) - 1] += 1;
            }
            AuditEvent::DeviceChanged {
                device,
                usable: false,
                ..
            } => *s.device_failures.entry(device.clone()).or_default() += 1,
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22 09:30 in Beijing.
    const MORNING: i64 = 1_795_311_000_000;

    #[test]
    fn a_day_of_sessions_is_counted_by_item_hour_outcome_rating_and_failure() {
        let saved = |items: &[&str]| AuditEvent::ApplicationSaved {
            number: "n".into(),
            items: items.iter().map(|i| (*i).to_owned()).collect(),
            pages: 1,
            reused: Vec::new(),
            missing: Vec::new(),
        };
        let ended = |outcome: &str| AuditEvent::SessionEnded {
            outcome: outcome.into(),
            screen: "goodbye".into(),
            duration_ms: 1,
        };
        let chosen = || AuditEvent::ItemsChosen {
            bundle: None,
            items: vec!["A".into()],
        };
        let events = vec![
            // A session begun before the window: its end is counted, not as abandoned.
            (MORNING - 1, ended("timed_out")),
            (MORNING, AuditEvent::SessionStarted),
            (MORNING, chosen()),
            (MORNING, saved(&["A", "B"])),
            (
                MORNING,
                AuditEvent::Rated {
                    number: None,
                    stars: 5,
                },
            ),
            (MORNING, ended("completed")),
            (MORNING + 3_600_000, AuditEvent::SessionStarted),
            (MORNING + 3_600_000, chosen()),
            (
                MORNING + 3_600_000,
                AuditEvent::DeviceChanged {
                    device: "Camera".into(),
                    usable: false,
                    reason: None,
                },
            ),
            (MORNING + 3_600_000, ended("timed_out")),
            (MORNING + 7_200_000, AuditEvent::SessionStarted),
            (MORNING + 7_200_000, chosen()),
            (MORNING + 7_200_000, saved(&["A"])),
            (
                MORNING + 7_200_000,
                AuditEvent::Rated {
                    number: None,
                    stars: 2,
                },
            ),
            (MORNING + 7_200_000, ended("completed")),
            // Only a look at progress: not abandoned.
            (MORNING + 8_000_000, AuditEvent::SessionStarted),
            (MORNING + 8_000_000, ended("cancelled")),
        ];
        let s = from_audit(&events, WINDOW_MS);
        assert_eq!(s.window_s, 86_400);
        assert_eq!((s.sessions, s.abandoned), (4, 1));
        assert_eq!(s.ended["completed"], 2);
        assert_eq!(s.ended["timed_out"], 2);
        assert_eq!(s.ended["cancelled"], 1);
        assert_eq!(
            (s.applications_by_item["A"], s.applications_by_item["B"]),
            (2, 1)
        );
        assert_eq!(
            (s.applications_by_hour[9], s.applications_by_hour[11]),
            (1, 1)
        );
        assert_eq!(s.applications_by_hour.iter().sum::<u64>(), 2);
        assert_eq!(s.ratings, [0, 1, 0, 0, 1]);
        assert_eq!(s.device_failures["Camera"], 1);
        let none = from_audit(&[], WINDOW_MS);
        assert_eq!(
            (none.applications_by_hour, none.ratings),
            (vec![0; 24], vec![0; 5])
        );
    }
}
