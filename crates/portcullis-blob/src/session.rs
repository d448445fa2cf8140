//! Upload session state shared by both backends: what is persisted, and the in-memory
//! running hashers with the per-session locks that serialize appends on this node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portcullis_types::Hasher;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{BlobError, UploadId, UploadStatus, hashing};

/// What a session persists after every change, so that a restart or another node can go on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionState {
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Last successful change; expiry counts from here so a slow upload is not cut off.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Bytes acknowledged to the client.
    pub size: u64,
    /// SHA-256 state after exactly `size` bytes; absent if it could not be kept.
    pub sha256_state: Option<String>,
    /// S3 only: where the bytes are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Parts>,
}

/// Where an S3 session's bytes are: uploaded multipart parts, then small pending chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct S3Parts {
    /// Multipart upload targeting the session's `data` key, created with the first part.
    pub multipart_id: Option<String>,
    /// ETags of parts 0.., all at least the store's minimum part size.
    pub parts: Vec<String>,
    /// Objects holding the bytes after the parts, in order; fewer than 5 MiB in all.
    pub pending: Vec<PendingChunk>,
}

/// One small object of an S3 session's bytes not yet sent as a part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingChunk {
    /// Object name inside the session's prefix; unique, so it is never overwritten.
    pub name: String,
    pub len: u64,
}

impl SessionState {
    pub fn new(owner: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        SessionState {
            owner: owner.to_string(),
            started_at: now,
            updated_at: now,
            size: 0,
            sha256_state: hashing::save(&hashing::session_hasher()),
            s3: None,
        }
    }

    pub fn status(&self) -> UploadStatus {
        UploadStatus {
            owner: self.owner.clone(),
            size: self.size,
            started_at: self.started_at,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("session state always serializes")
    }

    pub fn from_json(raw: &[u8]) -> Result<Self, BlobError> {
        serde_json::from_slice(raw)
            .map_err(|e| BlobError::backend(format!("unreadable upload session state: {e}")))
    }

    /// Records `hasher` as the state after `size` bytes.
    pub fn advance(&mut self, size: u64, hasher: Option<&Hasher>) {
        self.size = size;
        self.sha256_state = hasher.and_then(hashing::save);
        self.updated_at = OffsetDateTime::now_utc();
    }

    /// The session's running hasher: the one this node holds if it is current, else the
    /// persisted one, else `None` (the data must be hashed again).
    pub fn hasher(&self, cached: &Cached) -> Option<Hasher> {
        match cached {
            Some((size, h)) if *size == self.size => Some(h.clone()),
            _ => self.sha256_state.as_deref().and_then(hashing::restore),
        }
    }
}

/// The running hasher this node holds for a session, with the size it covers.
pub(crate) type Cached = Option<(u64, Hasher)>;

/// Per-session locks and running hashers, keyed by upload id.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<Cached>>>>,
}

impl Sessions {
    /// Waits until no other call on this node works on `id`.
    pub async fn lock(&self, id: &UploadId) -> tokio::sync::OwnedMutexGuard<Cached> {
        let slot = {
            let mut map = self.map.lock().expect("session map poisoned");
            map.entry(*id).or_default().clone()
        };
        slot.lock_owned().await
    }

    /// The session's lock if no call on this node holds it now.
    pub fn try_lock(&self, id: &UploadId) -> Option<tokio::sync::OwnedMutexGuard<Cached>> {
        let mut map = self.map.lock().expect("session map poisoned");
        map.entry(*id).or_default().clone().try_lock_owned().ok()
    }

    /// Drops what this node holds for sessions not in `live` (finished by another node),
    /// except those some call is using or waiting for.
    pub fn retain(&self, live: &[UploadId]) {
        let live: std::collections::HashSet<_> = live.iter().collect();
        self.map
            .lock()
            .expect("session map poisoned")
            .retain(|id, slot| live.contains(id) || Arc::strong_count(slot) > 1);
    }

    /// Drops what this node holds for a session that no longer exists.
    pub fn forget(&self, id: &UploadId) {
        self.map.lock().expect("session map poisoned").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_prefers_current_cache() {
        let mut st = SessionState::new("library/alpine");
        let mut h = hashing::session_hasher();
        h.update(b"abc");
        st.advance(3, Some(&h));
        let back = SessionState::from_json(&st.to_json()).unwrap();
        assert_eq!(back.status(), st.status());
        let expected = h.clone().finish();
        assert_eq!(back.hasher(&None).unwrap().finish(), expected);
        let mut other = hashing::session_hasher();
        other.update(b"xyz");
        assert_eq!(
            back.hasher(&Some((3, other.clone()))).unwrap().finish(),
            other.clone().finish()
        );
        // A cache for another size is stale and ignored.
        assert_eq!(back.hasher(&Some((9, other))).unwrap().finish(), expected);
        assert!(SessionState::from_json(b"{").is_err());
    }

    #[tokio::test]
    async fn lock_serializes_one_session() {
        let s = Sessions::default();
        let id = UploadId::new();
        let g = s.lock(&id).await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), s.lock(&id)).await;
        assert!(second.is_err(), "second lock must wait");
        let other = UploadId::new();
        drop(s.lock(&other).await);
        // Held sessions survive pruning; idle unknown ones go.
        s.retain(&[]);
        assert_eq!(s.map.lock().unwrap().len(), 1);
        drop(g);
        drop(s.lock(&id).await);
        s.retain(&[id]);
        assert_eq!(s.map.lock().unwrap().len(), 1);
        s.retain(&[]);
        assert!(s.map.lock().unwrap().is_empty());
    }
}
