//! Resumable upload sessions on the filesystem: `root/uploads/<id>/data` grows with each
//! append and `state.json` next to it records the acknowledged size and hash state.
//!
//! Each append flushes its data before the new state replaces the old one atomically, so
//! after a crash the state never claims bytes the disk lost; bytes written past the
//! recorded size (an append that failed or crashed) are cut off by the next call.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::Stream;
use portcullis_types::{Algorithm, Digest};
use time::OffsetDateTime;

use super::{FsBackend, io, modified_before, not_found_as};
use crate::layout::{DATA, STATE, UPLOADS, upload_dir};
use crate::session::SessionState;
use crate::{BlobError, UploadId, UploadStatus, hashing};

impl FsBackend {
    fn session_dir(&self, id: &UploadId) -> PathBuf {
        self.root.join(upload_dir(id))
    }

    async fn load_state(&self, id: &UploadId) -> Result<SessionState, BlobError> {
        match tokio::fs::read(self.session_dir(id).join(STATE)).await {
            Ok(raw) => SessionState::from_json(&raw),
            Err(e) => not_found_as(e, BlobError::UploadNotFound),
        }
    }

    async fn save_state(&self, id: &UploadId, st: &SessionState) -> Result<(), BlobError> {
        let dir = self.session_dir(id);
        let raw = st.to_json();
        io::blocking(move || {
            let tmp = dir.join(format!("{STATE}.tmp"));
            io::write_file_synced(&tmp, &raw)?;
            std::fs::rename(&tmp, dir.join(STATE))
        })
        .await
    }

    /// Opens the session's data file positioned at `size`, dropping any unacknowledged tail.
    async fn open_data_at(&self, id: &UploadId, size: u64) -> Result<File, BlobError> {
        let path = self.session_dir(id).join(DATA);
        io::blocking(move || {
            let mut f = OpenOptions::new().write(true).open(&path)?;
            let len = f.metadata()?.len();
            if len < size {
                return Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("upload data holds {len} bytes, its state records {size}"),
                ));
            }
            if len > size {
                f.set_len(size)?;
            }
            f.seek(SeekFrom::Start(size))?;
            Ok(f)
        })
        .await
    }

    pub async fn upload_create(&self, owner: &str) -> Result<UploadId, BlobError> {
        let id = UploadId::new();
        let dir = self.session_dir(&id);
        let raw = SessionState::new(owner).to_json();
        io::blocking(move || {
            std::fs::create_dir(&dir)?;
            File::create(dir.join(DATA))?.sync_all()?;
            io::write_file_synced(&dir.join(STATE), &raw)?;
            io::sync_dir(&dir)?;
            io::sync_dir(dir.parent().expect("session dirs have a parent"))
        })
        .await?;
        Ok(id)
    }

    pub async fn upload_append<S>(
        &self,
        id: &UploadId,
        offset: u64,
        body: S,
    ) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let mut cached = self.sessions.lock(id).await;
        let mut st = self.load_state(id).await?;
        if offset != st.size {
            return Err(BlobError::RangeMismatch {
                expected_offset: st.size,
            });
        }
        let mut hasher = match st.hasher(&cached) {
            Some(h) => h,
            None => {
                let data = self.session_dir(id).join(DATA);
                io::hash_file(data, Algorithm::Sha256, st.size).await?
            }
        };
        let file = self.open_data_at(id, st.size).await?;
        let n = io::write_stream(file, body, &mut hasher).await?;
        st.advance(st.size + n, Some(&hasher));
        self.save_state(id, &st).await?;
        *cached = Some((st.size, hasher));
        Ok(st.size)
    }

    pub async fn upload_status(&self, id: &UploadId) -> Result<UploadStatus, BlobError> {
        Ok(self.load_state(id).await?.status())
    }

    pub async fn upload_complete(
        &self,
        id: &UploadId,
        expected: &Digest,
    ) -> Result<u64, BlobError> {
        let cached = self.sessions.lock(id).await;
        let st = self.load_state(id).await?;
        // Also trims a tail left by a failed append, so the blob is exactly `size` bytes.
        match self.open_data_at(id, st.size).await {
            Ok(f) => drop(f),
            // A crash after publishing but before removing the session: finish the removal.
            Err(BlobError::Io(e))
                if e.kind() == ErrorKind::NotFound
                    && self.stat(expected).await? == Some(st.size) =>
            {
                self.remove_session(id).await?;
                return Ok(st.size);
            }
            Err(e) => return Err(e),
        }
        let data = self.session_dir(id).join(DATA);
        let computed = match hashing::finish_for(st.hasher(&cached), expected) {
            Some(d) => d,
            None => io::hash_file(data.clone(), expected.algorithm(), st.size)
                .await?
                .finish(),
        };
        if let Err(e) = hashing::verify(expected, computed) {
            self.remove_session(id).await?;
            return Err(e);
        }
        if self.stat(expected).await?.is_none() {
            let dest = self.blob_path(expected);
            io::blocking(move || io::publish(&data, &dest)).await?;
        }
        self.remove_session(id).await?;
        Ok(st.size)
    }

    pub async fn upload_cancel(&self, id: &UploadId) -> Result<(), BlobError> {
        let _guard = self.sessions.lock(id).await;
        self.load_state(id).await?;
        self.remove_session(id).await
    }

    async fn remove_session(&self, id: &UploadId) -> Result<(), BlobError> {
        match tokio::fs::remove_dir_all(self.session_dir(id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.sessions.forget(id);
        Ok(())
    }

    pub async fn upload_list(&self) -> Result<Vec<(UploadId, UploadStatus)>, BlobError> {
        let mut out = Vec::new();
        for id in self.session_ids().await? {
            match self.load_state(&id).await {
                Ok(st) => out.push((id, st.status())),
                // Completed or cancelled meanwhile, or not yet fully created.
                Err(BlobError::UploadNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn session_ids(&self) -> Result<Vec<UploadId>, BlobError> {
        let dir = self.root.join(UPLOADS);
        io::blocking(move || {
            let mut ids = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                if let Some(id) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                    ids.push(id);
                }
            }
            Ok(ids)
        })
        .await
    }

    pub async fn expire_uploads(&self, older_than: Duration) -> Result<usize, BlobError> {
        let cutoff = OffsetDateTime::now_utc() - older_than;
        let sys_cutoff = SystemTime::now() - older_than;
        let mut removed = 0;
        let ids = self.session_ids().await?;
        self.sessions.retain(&ids);
        for id in ids {
            // A session busy on this node is not abandoned.
            let Some(_guard) = self.sessions.try_lock(&id) else {
                continue;
            };
            let stale = match self.load_state(&id).await {
                Ok(st) => st.updated_at < cutoff,
                // A session whose state was never written or cannot be read ages by its directory.
                Err(_) => modified_before(&self.session_dir(&id), sys_cutoff),
            };
            if stale {
                self.remove_session(&id).await?;
                removed += 1;
            }
        }
        self.sweep_tmp(sys_cutoff).await?;
        Ok(removed)
    }
}
