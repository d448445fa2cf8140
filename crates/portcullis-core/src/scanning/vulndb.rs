//! The vulnerability database as the server holds it: opened from the data directory,
//! and swapped for a newer one when `portcullis vulndb import` or `update` rewrites the
//! index file (noticed by its file identity; no restart).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use portcullis_vulndb::{DbError, SharedVulnDb, VulnDb};
use serde::Serialize;
use time::OffsetDateTime;

/// Version and age of the database in use (systeminfo, scanner metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VulnDbStatus {
    /// Incremented by every import or update.
    pub generation: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The server's handle on `<data_dir>/vulndb`.
pub struct VulnDbHolder {
    dir: PathBuf,
    shared: RwLock<Option<Arc<SharedVulnDb>>>,
}

impl VulnDbHolder {
    /// A holder for `<data_dir>/vulndb`; nothing is opened until [`Self::refresh`].
    pub fn new(data_dir: &std::path::Path) -> Self {
        VulnDbHolder {
            dir: portcullis_vulndb::db_dir(data_dir),
            shared: RwLock::new(None),
        }
    }

    fn shared(&self) -> Option<Arc<SharedVulnDb>> {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The database to query now, if one has been imported.
    pub fn current(&self) -> Option<Arc<VulnDb>> {
        self.shared().map(|s| s.current())
    }

    /// Opens the database (first time) or swaps in a newer file. Returns the new
    /// generation when the database in use changed.
    pub fn refresh(&self) -> Result<Option<u64>, DbError> {
        if let Some(shared) = self.shared() {
            let before = shared.current().metadata().generation;
            if shared.reload_if_changed()? {
                let after = shared.current().metadata().generation;
                tracing::info!(before, after, "vulnerability database reloaded");
                return Ok(Some(after));
            }
            return Ok(None);
        }
        match VulnDb::open(&self.dir) {
            Ok(db) => {
                let generation = db.metadata().generation;
                *self.shared.write().unwrap_or_else(|e| e.into_inner()) =
                    Some(Arc::new(SharedVulnDb::new(db)));
                tracing::info!(generation, "vulnerability database opened");
                Ok(Some(generation))
            }
            Err(DbError::Missing(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Version and update time of the database in use.
    pub fn status(&self) -> Option<VulnDbStatus> {
        self.current().map(|db| VulnDbStatus {
            generation: db.metadata().generation,
            updated_at: db.metadata().updated_at,
        })
    }

    /// Where the database lives.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}
