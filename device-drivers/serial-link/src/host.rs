//! The host's side: open a device's port by path and read replies against a deadline. A port is
//! a serial line, or a character device read and written as it is (the USB printer class,
//! `/dev/usb/lpN`, which has no line settings).

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroize;

/// How long one blocking read waits before the deadline and cancellation are looked at again.
const READ_SLICE: Duration = Duration::from_millis(20);

/// Why a link operation failed.
#[derive(Debug)]
pub enum LinkError {
    /// The port is gone (unplugged, or never present), or hung up under us: it must be re-opened.
    Gone(io::Error),
    /// The port is there but cannot be opened (busy, no permission).
    Unusable(io::Error),
    /// Nothing complete arrived before the deadline.
    Timeout,
    /// The caller canceled.
    Canceled,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Gone(e) => write!(f, "port gone: {e}"),
            LinkError::Unusable(e) => write!(f, "port unusable: {e}"),
            LinkError::Timeout => f.write_str("timeout"),
            LinkError::Canceled => f.write_str("canceled"),
        }
    }
}

/// How a device is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// A serial line (RS-232 or a USB serial adapter) at this speed.
    Serial {
        /// Line speed.
        baud: u32,
    },
    /// A character device with no line settings, such as a USB printer-class device.
    CharDevice,
}

/// An open port: a serial line (8N1, no flow control, modem lines untouched: they fail on a PTY
/// and no kiosk device here needs them), or a character device.
#[derive(Debug)]
pub struct Port {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Tty(TTYPort),
    Char(File),
}

impl Port {
    /// Opens `path` as `attachment` says.
    pub fn attach(path: &Path, attachment: Attachment) -> Result<Self, LinkError> {
        match attachment {
            Attachment::Serial { baud } => Self::open(path, baud),
            Attachment::CharDevice => Self::open_char_device(path),
        }
    }

    /// Opens the character device `path` for reading and writing, as it is, and discards what
    /// it had sent before.
    pub fn open_char_device(path: &Path) -> Result<Self, LinkError> {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path);
        match opened {
            Ok(file) => {
                let mut port = Self {
                    inner: Inner::Char(file),
                };
                port.clear_input()?;
                Ok(port)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(LinkError::Gone(e)),
            Err(e) => Err(LinkError::Unusable(e)),
        }
    }

    /// Opens the serial port `path` at `baud` for exclusive use and discards anything already
    /// in its buffers.
    pub fn open(path: &Path, baud: u32) -> Result<Self, LinkError> {
        let opened = serialport::new(path.to_string_lossy(), baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .preserve_dtr_on_open()
            .timeout(READ_SLICE)
            .open_native()
            .and_then(|p| p.clear(ClearBuffer::All).map(|()| p));
        match opened {
            Ok(tty) => Ok(Self {
                inner: Inner::Tty(tty),
            }),
            // serialport reports a busy port and a missing one alike; the path tells them apart.
            Err(e) if path.exists() => Err(LinkError::Unusable(e.into())),
            Err(e) => Err(LinkError::Gone(e.into())),
        }
    }

    /// Changes the line speed (after the device was told to change its own); a character
    /// device has none.
    pub fn set_baud(&mut self, baud: u32) -> Result<(), LinkError> {
        match &mut self.inner {
            Inner::Tty(tty) => tty.set_baud_rate(baud).map_err(|e| gone(e.into())),
            Inner::Char(_) => Ok(()),
        }
    }

    /// Drops stale input, then writes `bytes` whole.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.clear_input()?;
        self.write(bytes)
    }

    /// Discards what has arrived and not been read.
    fn clear_input(&mut self) -> Result<(), LinkError> {
        match &mut self.inner {
            Inner::Tty(tty) => tty.clear(ClearBuffer::Input).map_err(|e| gone(e.into())),
            Inner::Char(_) => {
                let mut buf = [0u8; 256];
                while self.read_some(&mut buf, Instant::now() + READ_SLICE / 4)? > 0 {}
                Ok(())
            }
        }
    }

    /// Writes `bytes` whole, keeping what has arrived (a handshake in the middle of an exchange).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let out: &mut dyn Write = match &mut self.inner {
            Inner::Tty(tty) => tty,
            Inner::Char(file) => file,
        };
        out.write_all(bytes).map_err(gone)?;
        out.flush().map_err(gone)
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
        let result = loop {
            if cancel.is_cancelled() {
                break Err(LinkError::Canceled);
            }
            match self.read_some(&mut buf, deadline) {
                Ok(0) => {}
                Ok(n) => {
                    if let Some(value) = accept(&buf[..n]) {
                        break Ok(value);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        // The buffer held what the device sent, which may be a citizen's card.
        buf.zeroize();
        result
    }

    /// Reads and discards until the line has been quiet for `quiet`, or `max` has passed: what
    /// a device still sends after a timeout must not be taken for the next command's answer.
    pub fn drain(&mut self, quiet: Duration, max: Duration) -> Result<usize, LinkError> {
        let end = Instant::now() + max;
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        let mut last = Instant::now();
        while Instant::now() < end && last.elapsed() < quiet {
            match self.read_some(&mut buf, (Instant::now() + READ_SLICE).min(end)) {
                Ok(0) => {}
                Ok(n) => {
                    drained += n;
                    last = Instant::now();
                }
                Err(LinkError::Timeout) => break,
                Err(e) => return Err(e),
            }
        }
        buf.zeroize();
        Ok(drained)
    }

    /// One read of what has arrived, waiting at most until `deadline`; `Ok(0)` if nothing came
    /// within one slice.
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, LinkError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LinkError::Timeout);
        }
        let read = match &mut self.inner {
            Inner::Tty(tty) => {
                tty.set_timeout(left.min(READ_SLICE))
                    .map_err(|e| gone(e.into()))?;
                tty.read(buf)
            }
            Inner::Char(file) => {
                // A plain file read would block: wait for data first.
                let ms = u16::try_from(left.min(READ_SLICE).as_millis()).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(0) | Err(Errno::EINTR) => return Ok(0),
                    Ok(_) => file.read(buf),
                    Err(e) => Err(e.into()),
                }
            }
        };
        match read {
            // A tty read of 0 bytes after poll said "readable" is a hang-up.
            Ok(0) => Err(LinkError::Gone(io::ErrorKind::BrokenPipe.into())),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(gone(e)),
        }
    }
}

/// An I/O error on an open port: whatever the cause (unplugged, hung up, a USB glitch), the port
/// is unusable until it is re-opened.
fn gone(e: io::Error) -> LinkError {
    LinkError::Gone(e)
}

/// A port that may come and go: opened on demand, closed when it fails, re-opened at most every
/// `retry` after a failed open. Each new reason it cannot be opened is logged once.
#[derive(Debug)]
pub struct Line {
    path: PathBuf,
    attachment: Attachment,
    retry: Duration,
    port: Option<Port>,
    next_open: Instant,
    last_error: Option<String>,
}

impl Line {
    /// A serial line to the device at `path`, not opened yet.
    pub fn new(path: &Path, baud: u32, retry: Duration) -> Self {
        Self::attached(path, Attachment::Serial { baud }, retry)
    }

    /// A line to the device at `path`, attached as `attachment`, not opened yet.
    pub fn attached(path: &Path, attachment: Attachment, retry: Duration) -> Self {
        Self {
            path: path.to_owned(),
            attachment,
            retry,
            port: None,
            next_open: Instant::now(),
            last_error: None,
        }
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line speed the port is (or will be) set to; 0 for a character device.
    pub fn baud(&self) -> u32 {
        match self.attachment {
            Attachment::Serial { baud } => baud,
            Attachment::CharDevice => 0,
        }
    }

    /// Whether the port is open.
    pub fn is_open(&self) -> bool {
        self.port.is_some()
    }

    /// Whether an open attempt is due (the last one failed less than `retry` ago: not yet).
    pub fn open_due(&self) -> bool {
        Instant::now() >= self.next_open
    }

    /// Waits `retry` before the next open attempt.
    pub fn defer_open(&mut self) {
        self.next_open = Instant::now() + self.retry;
    }

    /// The open port, opening it if needed. Returns whether it was just opened.
    pub fn open(&mut self) -> Result<(&mut Port, bool), LinkError> {
        let fresh = self.port.is_none();
        if fresh {
            match Port::attach(&self.path, self.attachment) {
                Ok(port) => {
                    tracing::info!(path = %self.path.display(), attachment = ?self.attachment, "port open");
                    self.last_error = None;
                    self.port = Some(port);
                }
                Err(e) => {
                    self.defer_open();
                    let text = e.to_string();
                    if self.last_error.as_deref() != Some(&text) {
                        tracing::warn!(path = %self.path.display(), error = %text, "port cannot be opened");
                        self.last_error = Some(text);
                    }
                    return Err(e);
                }
            }
        }
        match self.port.as_mut() {
            Some(port) => Ok((port, fresh)),
            None => Err(LinkError::Gone(io::ErrorKind::NotFound.into())),
        }
    }

    /// The port, if it is open.
    pub fn port(&mut self) -> Option<&mut Port> {
        self.port.as_mut()
    }

    /// Closes the port after a failure (or when its device node vanished); the next `open`
    /// tries again at once.
    pub fn close(&mut self) {
        self.port = None;
        self.next_open = Instant::now();
    }

    /// Closes the port if its device node is gone (unplugged while nothing was sent).
    /// Returns whether it did.
    pub fn close_if_vanished(&mut self) -> bool {
        let vanished = self.port.is_some() && !self.path.exists();
        if vanished {
            self.close();
        }
        vanished
    }

    /// Changes the line speed, now if the port is open, else at the next open.
    pub fn set_baud(&mut self, baud: u32) -> Result<(), LinkError> {
        if let Attachment::Serial { baud: b } = &mut self.attachment {
            *b = baud;
        }
        match self.port.as_mut() {
            Some(port) => port.set_baud(baud),
            None => Ok(()),
        }
    }
}
