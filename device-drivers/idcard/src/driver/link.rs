//! One command on the wire, and keeping the link up: re-opening a vanished port, finding the
//! reader's baud rate again after a power cycle, and the device status each exchange implies.

use super::{Media, ReaderWorker, SamHealth, sam_health};
use crate::command::{Baud, Command};
use crate::error::IdCardError;
use crate::frame::{Decoded, Decoder, Reply};
use crate::sw3::Sw3;
use device_model::{DeviceFault, DeviceState};
use serial_link::host::LinkError;
use serial_link::wire_time;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What arrived in answer to a command.
enum Answer {
    Reply(Reply),
    /// A frame with a bad checksum, and nothing good after it yet.
    Corrupt,
}

impl ReaderWorker {
    /// Before the driver's own polling: makes sure the port is open and the reader answers.
    /// Returns false when it does not (yet); the status says why.
    pub(super) fn keep_link(&mut self) -> bool {
        if self.line.close_if_vanished() {
            // The device node vanished: unplugged, even if nothing was sent to notice it.
            self.link_failed(LinkError::Gone(std::io::ErrorKind::NotFound.into()));
        }
        let offline = self.status.current().device == DeviceState::Offline;
        if self.line.is_open() && !offline {
            return true;
        }
        if !self.line.open_due() {
            return false;
        }
        // Just (re)opened, or silent: ask the SAM how it is, which also sets the status.
        let never = self.never.clone();
        let answered = self.exchange(Command::SamStatus, &never).is_ok()
            // Still silent: it may have been power-cycled to its default speed, or set to
            // another. Each attempt probes one other speed.
            || (self.status.current().device == DeviceState::Offline && self.probe_next_baud());
        if !answered {
            self.line.defer_open();
        }
        answered
    }

    /// Asks the SAM for its status at the next speed it could have; stays there if it answers,
    /// else returns to the speed it is believed to have.
    fn probe_next_baud(&mut self) -> bool {
        let believed = self.line.baud();
        let mut order = vec![self.config.baud];
        order.extend(
            Baud::ALL
                .map(Baud::bps)
                .into_iter()
                .filter(|b| *b != self.config.baud),
        );
        order.retain(|b| *b != believed);
        let Some(&candidate) = order.get(self.probe % order.len().max(1)) else {
            return false;
        };
        self.probe += 1;
        if self.set_line_speed(candidate).is_err() {
            return false;
        }
        let never = self.never.clone();
        if self.exchange(Command::SamStatus, &never).is_ok() {
            tracing::info!(baud = candidate, "reader found at another baud rate");
            self.status.update(|s| s.class.baud = candidate);
            return true;
        }
        let _ = self.set_line_speed(believed);
        false
    }

    /// Moves reader and port to `bps`, after the reader was told to change.
    pub(super) fn switch_baud(&mut self, bps: u32) -> Result<(), IdCardError> {
        self.set_line_speed(bps)?;
        self.status.update(|s| s.class.baud = bps);
        Ok(())
    }

    fn set_line_speed(&mut self, bps: u32) -> Result<(), IdCardError> {
        self.line.set_baud(bps).map_err(|e| self.link_failed(e))
    }

    /// Sends one command and waits for its reply, retrying once when either side saw a bad
    /// checksum. Keeps the device status in line with what happened.
    pub(super) fn exchange(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        let result = self.exchange_raw(command, cancel);
        // Whatever is left of the reply may be a citizen's card.
        self.decoder.clear();
        match &result {
            Ok(reply) => self.observe_reply(reply),
            Err(error) => self.observe_error(error),
        }
        result
    }

    /// Sends `command` and requires `want` in the reply.
    pub(super) fn expect(
        &mut self,
        command: Command,
        want: Sw3,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        let reply = self.exchange(command, cancel)?;
        match Sw3::from(reply.sw3) {
            got if got == want => Ok(reply),
            other => Err(super::error_for(other)),
        }
    }

    fn exchange_raw(
        &mut self,
        command: Command,
        cancel: &CancellationToken,
    ) -> Result<Reply, IdCardError> {
        let timeout = self.timeout_for(command);
        let request = command.encode();
        for attempt in 0..2 {
            let (port, fresh) = match self.line.open() {
                Ok(opened) => opened,
                Err(e) => {
                    let error = port_error(self.line.path(), e);
                    self.observe_error(&error);
                    return Err(error);
                }
            };
            if fresh {
                // The card may have changed while the port was away.
                self.presence.lost_sight();
            }
            let decoder = &mut self.decoder;
            decoder.clear();
            let outcome = port.send(&request).and_then(|()| {
                port.receive(Instant::now() + timeout, cancel, |bytes| {
                    decoder.push(bytes);
                    next_answer(decoder, command)
                })
            });
            let retry = attempt == 0;
            match outcome {
                Ok(Answer::Reply(reply))
                    if retry && Sw3::from(reply.sw3) == Sw3::HostChecksumError =>
                {
                    tracing::warn!(
                        command = command.name(),
                        "reader saw a bad checksum; resending"
                    );
                }
                Ok(Answer::Reply(reply)) => return Ok(reply),
                Ok(Answer::Corrupt) if retry => {
                    tracing::warn!(command = command.name(), "bad checksum in reply; resending");
                }
                Ok(Answer::Corrupt) => break,
                Err(LinkError::Timeout) => {
                    self.drain();
                    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                    return Err(IdCardError::Timeout {
                        command: command.name(),
                        ms,
                    });
                }
                Err(LinkError::Canceled) => {
                    self.drain();
                    return Err(IdCardError::Canceled);
                }
                Err(e) => return Err(self.link_failed(e)),
            }
        }
        Err(IdCardError::Checksum {
            command: command.name(),
        })
    }

    /// After a timeout or a cancel the reader may still be answering: let it finish, so that
    /// its late reply is not taken for the next command's.
    fn drain(&mut self) {
        let quiet = Duration::from_millis(30) + wire_time(16, self.line.baud());
        let max = self.timeout_for(Command::ReadTextPhotoFingerprint);
        if let Some(port) = self.line.port()
            && let Err(e) = port.drain(quiet, max)
        {
            self.link_failed(e);
        }
    }

    fn timeout_for(&self, command: Command) -> Duration {
        let acting = match command {
            Command::ReadTextPhoto | Command::ReadTextPhotoFingerprint => self.config.read_timeout,
            _ => self.config.command_timeout,
        };
        acting + wire_time(command.max_reply_bytes() + 10, self.line.baud())
    }

    /// The port failed under us: close it so that the next command or tick re-opens it.
    pub(super) fn link_failed(&mut self, e: LinkError) -> IdCardError {
        self.line.close();
        let error = port_error(self.line.path(), e);
        self.observe_error(&error);
        error
    }

    /// Brings the device status in line with an answer.
    fn observe_reply(&mut self, reply: &Reply) {
        self.silence.answered();
        let sam = sam_health(Sw3::from(reply.sw3));
        self.status.update(|s| s.class.sam = sam);
        if sam == SamHealth::Ok {
            self.status.set_state(DeviceState::Online, None);
        } else {
            let fault = IdCardError::Sam(Sw3::from(reply.sw3)).to_fault();
            self.status
                .set_state(DeviceState::HardwareError, Some(fault));
        }
    }

    /// Brings the device status in line with a failure.
    fn observe_error(&mut self, error: &IdCardError) {
        match error {
            IdCardError::Timeout { .. } => {
                // Unwatched meanwhile: the card may have been swapped.
                self.presence.lost_sight();
                self.silence.timed_out(&self.status, error.to_fault());
            }
            IdCardError::NoDevice(_) | IdCardError::Port(_) => {
                self.set_media(Media::Unknown);
                self.status
                    .set_state(DeviceState::NoDevice, Some(error.to_fault()));
            }
            IdCardError::Checksum { .. } => {
                self.status
                    .set_state(DeviceState::HardwareError, Some(error.to_fault()));
            }
            _ => {}
        }
    }
}

/// Takes decoded frames until a reply that fits `command`, or a bad checksum with nothing good
/// buffered after it. Noise and stale replies are skipped.
fn next_answer(decoder: &mut Decoder<Reply>, command: Command) -> Option<Answer> {
    let mut corrupt = false;
    loop {
        match decoder.decode() {
            None => return corrupt.then_some(Answer::Corrupt),
            Some(Decoded::Frame(reply)) => {
                if command.fits(Sw3::from(reply.sw3), reply.data.len()) {
                    return Some(Answer::Reply(reply));
                }
                tracing::debug!(
                    command = command.name(),
                    sw3 = reply.sw3,
                    "stale reply skipped"
                );
            }
            Some(Decoded::BadChecksum { .. }) => corrupt = true,
            Some(Decoded::Skipped(n)) => tracing::debug!(bytes = n, "noise skipped"),
            Some(Decoded::ImpossibleLength(len)) => tracing::debug!(len, "false preamble skipped"),
        }
    }
}

fn port_error(path: &Path, e: LinkError) -> IdCardError {
    match e {
        LinkError::Gone(e) => IdCardError::NoDevice(format!("{}: {e}", path.display())),
        other => IdCardError::Port(format!("{}: {other}", path.display())),
    }
}
