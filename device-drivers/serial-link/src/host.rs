//! The host's side: open a device's serial port by path and read replies against a deadline.

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long one blocking read waits before the deadline and cancellation are looked at again.
const READ_SLICE: Duration = Duration::from_millis(20);

/// Why a link operation failed.
#[derive(Debug)]
pub enum LinkError {
    /// The port is not there (unplugged, or never present).
    Gone(io::Error),
    /// The port is there but could not be used.
    Io(io::Error),
    /// Nothing complete arrived before the deadline.
    Timeout,
    /// The caller canceled.
    Canceled,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Gone(e) => write!(f, "port gone: {e}"),
            LinkError::Io(e) => write!(f, "port error: {e}"),
            LinkError::Timeout => f.write_str("timeout"),
            LinkError::Canceled => f.write_str("canceled"),
        }
    }
}

/// An open serial port, 8N1, no flow control, modem lines untouched (they fail on a PTY and
/// no kiosk device here needs them).
#[derive(Debug)]
pub struct Port {
    inner: TTYPort,
}

impl Port {
    /// Opens `path` at `baud` for exclusive use and discards anything already in its buffers.
    pub fn open(path: &Path, baud: u32) -> Result<Self, LinkError> {
        let inner = serialport::new(path.to_string_lossy(), baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .preserve_dtr_on_open()
            .timeout(READ_SLICE)
            .open_native()
            .map_err(|e| classify(io::Error::from(e)))?;
        inner
            .clear(ClearBuffer::All)
            .map_err(|e| classify(io::Error::from(e)))?;
        Ok(Self { inner })
    }

    /// Changes the line speed (after the device was told to change its own).
    pub fn set_baud(&mut self, baud: u32) -> Result<(), LinkError> {
        self.inner
            .set_baud_rate(baud)
            .map_err(|e| classify(io::Error::from(e)))
    }

    /// Drops stale input, then writes `bytes` whole.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.inner
            .clear(ClearBuffer::Input)
            .map_err(|e| classify(io::Error::from(e)))?;
        self.inner.write_all(bytes).map_err(classify)?;
        self.inner.flush().map_err(classify)
    }

    /// Feeds arriving bytes to `accept` until it returns a value, the deadline passes, or
    /// `cancel` fires.
    pub fn receive<T>(
        &mut self,
        deadline: Instant,
        cancel: &CancellationToken,
        mut accept: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<T, LinkError> {
        let mut buf = [0u8; 4096];
        loop {
            if cancel.is_cancelled() {
                return Err(LinkError::Canceled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkError::Timeout);
            }
            self.inner
                .set_timeout(left.min(READ_SLICE))
                .map_err(|e| classify(io::Error::from(e)))?;
            match self.inner.read(&mut buf) {
                // A tty read of 0 bytes is a hang-up: the other end closed.
                Ok(0) => return Err(LinkError::Gone(io::ErrorKind::BrokenPipe.into())),
                Ok(n) => {
                    if let Some(value) = accept(&buf[..n]) {
                        return Ok(value);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e)),
            }
        }
    }
}

/// Sorts an I/O error into "the device went away" and anything else.
fn classify(e: io::Error) -> LinkError {
    use nix::errno::Errno;
    let gone = matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::BrokenPipe | io::ErrorKind::NotConnected
    ) || matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EIO | Errno::ENXIO | Errno::ENODEV | Errno::ENOENT)
    );
    if gone {
        LinkError::Gone(e)
    } else {
        LinkError::Io(e)
    }
}
