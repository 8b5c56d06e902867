//! Small device state that must survive a restart (card counts, refill counters), kept as JSON
//! and replaced atomically: written to a temporary name, fsynced, renamed over the old file, and
//! the directory fsynced, so a power cut leaves either the old state or the new one.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::io;
use std::path::Path;

/// Reads the state at `path`; `Ok(None)` if there is none yet.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the state at `path` with `value`, durably.
pub fn store_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    durable_fs::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_no_state() {
        let dir = std::env::temp_dir().join(format!("persist-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("counts.json");
        assert_eq!(load_json::<Vec<u32>>(&path).unwrap(), None);
        store_json(&path, &vec![1u32, 2, 3]).unwrap();
        store_json(&path, &vec![4u32]).unwrap();
        assert_eq!(load_json::<Vec<u32>>(&path).unwrap(), Some(vec![4]));
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file is left"
        );
        fs::write(&path, b"{not json").unwrap();
        let err = load_json::<Vec<u32>>(&path).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::InvalidData,
            "a corrupt file is an error, not a reset"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
