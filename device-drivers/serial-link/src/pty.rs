//! The device's end of a pseudo-terminal, reachable by the host through a symlink, as a USB-serial
//! adapter is through `/dev/ttyUSB0` or a udev alias.
//!
//! Unplugging removes the symlink and closes the master, so the host sees its open port hang up and
//! a re-open fail, just as when a USB device vanishes; plugging in again makes a new PTY behind the
//! same link.

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::openpty;
use nix::sys::termios::{BaudRate, SetArg, cfmakeraw, cfsetspeed, tcgetattr, tcsetattr};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The master side of one PTY, linked at a path for the host to open.
#[derive(Debug)]
pub struct PtyDevice {
    master: OwnedFd,
    link: PathBuf,
    slave: PathBuf,
}

impl PtyDevice {
    /// Makes a new PTY in raw mode at `baud` and points `link` at its slave (replacing whatever
    /// was there). A host that opens it without setting a line speed (as a character device)
    /// talks at `baud`.
    pub fn create(link: &Path, baud: u32) -> io::Result<Self> {
        let pty = openpty(None, None)?;
        let mut attrs = tcgetattr(&pty.slave)?;
        cfmakeraw(&mut attrs);
        cfsetspeed(&mut attrs, baud_rate(baud)?)?;
        tcsetattr(&pty.slave, SetArg::TCSANOW, &attrs)?;
        let slave = nix::unistd::ttyname(&pty.slave)?;
        // The slave is closed here and opened by the host through the link; until then reads of
        // the master report a hang-up, which `read` treats as "no host yet".
        drop(pty.slave);
        fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;

        let tmp = link.with_extension("linking");
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&slave, &tmp)?;
        fs::rename(&tmp, link)?;
        Ok(Self {
            master: pty.master,
            link: link.to_owned(),
            slave,
        })
    }

    /// The line speed the host set on its end.
    ///
    /// Read with `TCGETS2`, because hosts (the `serialport` crate among them) set arbitrary rates
    /// with `BOTHER`, which the classic `termios` speed fields cannot express.
    #[allow(unsafe_code)]
    pub fn host_baud(&self) -> Option<u32> {
        // SAFETY: termios2 is plain data, valid when zeroed; TCGETS2 on a PTY master fills it
        // from the slave's settings, and the fd stays open for the duration of the call.
        let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TCGETS2, &mut t) };
        (r == 0).then_some(t.c_ospeed)
    }

    /// Reads what the host sent, waiting at most `timeout`. `Ok(0)` means nothing came, also
    /// when no host has the port open.
    pub fn read(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => return Ok(0),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if !revents.contains(PollFlags::POLLIN) {
            // Hang-up only: no host has the slave open. Wait instead of spinning.
            std::thread::sleep(timeout);
            return Ok(0);
        }
        match nix::unistd::read(&self.master, buf) {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN | Errno::EIO | Errno::EINTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes what it can of `bytes` now; returns how many were taken. Bytes that find no room
    /// (no host reading) are the caller's to drop, as a UART's would be.
    pub fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        match nix::unistd::write(&self.master, bytes) {
            Ok(n) => Ok(n),
            Err(Errno::EAGAIN | Errno::EIO) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for PtyDevice {
    fn drop(&mut self) {
        // Remove the link only if it is still ours (a replug may already have replaced it).
        if fs::read_link(&self.link).ok().as_deref() == Some(self.slave.as_path()) {
            let _ = fs::remove_file(&self.link);
        }
    }
}

/// The termios constant for a standard line speed.
fn baud_rate(baud: u32) -> io::Result<BaudRate> {
    Ok(match baud {
        1200 => BaudRate::B1200,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19_200 => BaudRate::B19200,
        38_400 => BaudRate::B38400,
        57_600 => BaudRate::B57600,
        115_200 => BaudRate::B115200,
        230_400 => BaudRate::B230400,
        460_800 => BaudRate::B460800,
        921_600 => BaudRate::B921600,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{baud} is not a standard line speed"),
            ));
        }
    })
}
