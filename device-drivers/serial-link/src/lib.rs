//! Serial links for kiosk devices: the host's port ([`host`]) and, for simulators, the device's
//! end of a pseudo-terminal ([`pty`], [`sim`]).
//!
//! Both ends count bytes in wire time at 8N1 (10 bits a byte), so a simulated reply takes as long
//! as the real one and a benchmark can compare a driver against the wire.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod host;
pub mod pty;
pub mod sim;

use std::time::Duration;

/// Time `bytes` take on a UART line at `baud` with 8N1 framing (start + 8 data + stop bits).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(baud.max(1)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_time_matches_the_reference_figures() {
        // devices.md §1.1: a 1295-byte reply takes about 112 ms at 115200 8N1.
        let t = super::wire_time(1295, 115_200);
        assert_eq!(t.as_millis(), 112);
        assert_eq!(super::wire_time(2321, 115_200).as_millis(), 201);
    }
}
