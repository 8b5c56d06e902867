//! Files that survive a power cut.
//!
//! A file is written to a temporary name beside its final one, fsynced, renamed over the final
//! name, and then the directory is fsynced: without that last step a crash can lose the rename
//! even though the data blocks were on disk. After a crash a reader sees the old file or the new
//! one, never a torn mix; a leftover temporary file is garbage that [`remove_leftovers`] clears.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The suffix of a file still being written.
pub const TEMP_SUFFIX: &str = ".partial";

/// Replaces (or creates) `path` with `bytes`, durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_name(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        // A full disk must not leave a half file behind to fill it further.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, path)?;
    sync_dir(parent(path))
}

/// New files written one by one (each to its temporary name, fsynced) and published together
/// by [`Batch::publish`]: renamed, then one directory fsync. A batch dropped unpublished
/// removes what it wrote, so an error half-way leaves nothing behind.
pub struct Batch<'a> {
    dir: &'a Path,
    names: Vec<String>,
    published: bool,
}

impl<'a> Batch<'a> {
    /// An empty batch of files for `dir`.
    pub fn new(dir: &'a Path) -> Self {
        Batch {
            dir,
            names: Vec::new(),
            published: false,
        }
    }

    /// Writes `bytes` as `name`'s temporary file and fsyncs it.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.names.push(name.to_owned());
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(temp_name(&self.dir.join(name)))?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    /// Renames every file to its name and makes the renames durable.
    pub fn publish(mut self) -> io::Result<()> {
        for name in &self.names {
            let path = self.dir.join(name);
            fs::rename(temp_name(&path), &path)?;
        }
        sync_dir(self.dir)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !self.published {
            for name in &self.names {
                let path = self.dir.join(name);
                let _ = fs::remove_file(temp_name(&path));
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Makes the directory entries of `dir` (creations, renames, removals) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, and makes each new entry durable.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(up) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(up)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(parent(dir))
}

/// Removes files left half-written by a crash in `dir`; returns how many there were.
pub fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TEMP_SUFFIX);
    path.with_file_name(name)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("page.bin");
        create_dir_all(path.parent().unwrap()).unwrap();
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["page.bin"]);
    }

    #[test]
    fn a_batch_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            ("a".to_owned(), b"1".to_vec()),
            ("b".to_owned(), b"22".to_vec()),
        ];
        let write = |files: &[(String, Vec<u8>)]| {
            let mut batch = Batch::new(dir.path());
            for (name, bytes) in files {
                batch.add(name, bytes)?;
            }
            batch.publish()
        };
        write(&files).unwrap();
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"22");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        let bad = vec![
            ("c".to_owned(), b"3".to_vec()),
            ("no/such/d".to_owned(), b"4".to_vec()),
        ];
        assert!(write(&bad).is_err());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "a failed batch leaves nothing"
        );
    }

    #[test]
    fn leftovers_of_a_crash_are_cleared_and_finished_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("x.bin{TEMP_SUFFIX}")), b"torn").unwrap();
        write_atomic(&dir.path().join("y.bin"), b"whole").unwrap();
        assert_eq!(remove_leftovers(dir.path()).unwrap(), 1);
        assert!(dir.path().join("y.bin").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
