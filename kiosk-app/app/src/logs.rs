//! The kiosk's own log files: what goes to standard error (the journal) also goes, at `info`
//! and above, to `DATA_DIR/logs/kiosk.log`, kept to two files of [`LOG_BYTES`] (the older one
//! renamed `kiosk.log.1`). A technician exports them to a USB drive; the central office asks
//! for them with `collect_logs`. Nothing personal is ever logged: names, ID numbers and form
//! values never reach a log line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The largest a log file grows before it is rotated.
pub const LOG_BYTES: u64 = 4 << 20;

/// The log files' directory under the data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The current file and the one before it, oldest first.
pub fn files(data_dir: &Path) -> [PathBuf; 2] {
    let dir = dir(data_dir);
    [dir.join("kiosk.log.1"), dir.join("kiosk.log")]
}

/// The log file being written.
pub struct LogFile {
    state: Mutex<State>,
    limit: u64,
}

struct State {
    dir: PathBuf,
    file: File,
    written: u64,
}

impl LogFile {
    /// Opens (appending) the log in `data_dir`, rotating at `limit` bytes.
    pub fn open(data_dir: &Path, limit: u64) -> io::Result<LogFile> {
        let dir = dir(data_dir);
        durable_fs::create_dir_all(&dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("kiosk.log"))?;
        let written = file.metadata()?.len();
        Ok(LogFile {
            state: Mutex::new(State { dir, file, written }),
            limit,
        })
    }

    fn write(&self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.written > 0 && s.written + buf.len() as u64 > self.limit {
            let (current, older) = (s.dir.join("kiosk.log"), s.dir.join("kiosk.log.1"));
            std::fs::rename(&current, &older)?;
            s.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&current)?;
            s.written = 0;
        }
        s.file.write_all(buf)?;
        s.written += buf.len() as u64;
        Ok(())
    }
}

/// A handle `tracing_subscriber` writes one event through.
pub struct LogWriter<'a>(&'a LogFile);

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> LogWriter<'a> {
        LogWriter(self)
    }
}

/// The last `max_bytes` of the logs, oldest line first (starting at a whole line).
pub fn tail(data_dir: &Path, max_bytes: usize) -> String {
    let mut text = Vec::new();
    for file in files(data_dir) {
        if let Ok(bytes) = std::fs::read(file) {
            text.extend_from_slice(&bytes);
        }
    }
    let cut = text.len().saturating_sub(max_bytes);
    let start = if cut == 0 {
        0
    } else {
        text[cut..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |p| cut + p + 1)
    };
    String::from_utf8_lossy(&text[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_rotates_and_the_tail_reads_across_both() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(dir.path(), 100).unwrap();
        for i in 0..12 {
            log.write(format!("line {i:02} of the kiosk log\n").as_bytes())
                .unwrap();
        }
        let [older, current] = files(dir.path());
        let (older, current) = (
            std::fs::read_to_string(older).unwrap(),
            std::fs::read_to_string(current).unwrap(),
        );
        assert!(
            current.len() <= 100 && older.len() <= 100,
            "kept to the limit"
        );
        assert!(current.ends_with("line 11 of the kiosk log\n"), "{current}");
        assert!(older.ends_with("line 07 of the kiosk log\n"), "{older}");
        // Only two files: the oldest lines are gone.
        let all = tail(dir.path(), 10_000);
        assert!(!all.contains("line 03") && all.contains("line 04"), "{all}");
        // A tail starts at a whole line.
        let last = tail(dir.path(), 40);
        assert_eq!(last, "line 11 of the kiosk log\n");
        // Opened again, it goes on appending.
        let again = LogFile::open(dir.path(), 100).unwrap();
        again.write(b"after a restart\n").unwrap();
        assert!(tail(dir.path(), 100).ends_with("after a restart\n"));
    }
}
