//! The catalogue a kiosk runs on, replaced atomically.
//!
//! A new catalogue is verified, parsed and validated before anything changes; only then is its
//! envelope written over the installed one (temporary file, fsync, rename, directory fsync) and
//! swapped in memory. A catalogue that fails any check is refused with the reason and the old
//! one stays, on disk and in use. The installed file is verified again at every start, so a file
//! altered on disk is refused rather than trusted.

use crate::model::Catalogue;
use crate::signed::{CatalogueError, TrustStore, open};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The installed catalogue and the keys new ones must be signed with.
pub struct Installed {
    path: PathBuf,
    trust: TrustStore,
    current: RwLock<Option<Arc<Catalogue>>>,
}

impl Installed {
    /// Opens the catalogue installed at `path` (none yet is not an error).
    pub fn open(path: &Path, trust: TrustStore) -> Result<Self, CatalogueError> {
        let current = match std::fs::read(path) {
            Ok(bytes) => Some(Arc::new(open(&bytes, &trust)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Installed {
            path: path.to_owned(),
            trust,
            current: RwLock::new(current),
        })
    }

    /// The catalogue in use, if one is installed.
    pub fn current(&self) -> Option<Arc<Catalogue>> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Installs a signed catalogue if it verifies, is valid and is newer than the installed one.
    pub fn install(&self, envelope: &[u8]) -> Result<Arc<Catalogue>, CatalogueError> {
        let catalogue = open(envelope, &self.trust)?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if let Some(installed) = current.as_ref()
            && catalogue.version <= installed.version
        {
            return Err(CatalogueError::NotNewer {
                installed: installed.version,
                offered: catalogue.version,
            });
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            durable_fs::create_dir_all(dir)?;
        }
        durable_fs::write_atomic(&self.path, envelope)?;
        let catalogue = Arc::new(catalogue);
        *current = Some(catalogue.clone());
        tracing::info!(
            version = catalogue.version,
            items = catalogue.items.len(),
            "catalogue installed"
        );
        Ok(catalogue)
    }
}
