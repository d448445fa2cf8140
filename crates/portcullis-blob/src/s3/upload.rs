//! Resumable upload sessions on S3, shared by every node using the bucket.
//!
//! A session `uploads/<id>/` holds `state.json`, a multipart upload targeting
//! `uploads/<id>/data`, and small `chunk-<uuid>` objects. S3 refuses non-final parts
//! under 5 MiB, so bytes are sent as parts only in pieces of at least that size; the
//! rest waits in chunk objects (never in one node's memory or disk, so any node can
//! continue the session). Completing assembles `data`, verifies it, and copies it to the
//! blob's key, so the blob key never holds unverified bytes.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use portcullis_types::Digest;
use time::OffsetDateTime;

use super::S3Backend;
use super::multipart::{MIN_PART, Multipart, abort, part_size};
use crate::layout::{DATA, STATE, UPLOADS, upload_dir};
use crate::session::{PendingChunk, S3Parts, SessionState};
use crate::{BlobError, UploadId, UploadStatus, hashing};

/// Largest object a single server-side copy may produce; bigger blobs are re-uploaded.
const COPY_LIMIT: u64 = 5 << 30;

impl S3Backend {
    fn session_key(&self, id: &UploadId, name: &str) -> Path {
        self.key(&format!("{}/{name}", upload_dir(id)))
    }

    async fn load_state(&self, id: &UploadId) -> Result<SessionState, BlobError> {
        match self.store.get(&self.session_key(id, STATE)).await {
            Ok(res) => SessionState::from_json(&res.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::UploadNotFound),
            Err(e) => Err(e.into()),
        }
    }

    async fn save_state(&self, id: &UploadId, st: &SessionState) -> Result<(), BlobError> {
        // A single PUT replaces the object atomically: readers see the old or the new state.
        self.store
            .put(&self.session_key(id, STATE), st.to_json().into())
            .await?;
        Ok(())
    }

    /// The bytes of the pending chunks, in order, followed by `tail`.
    async fn load_pending(
        &self,
        id: &UploadId,
        pending: &[PendingChunk],
        tail: &[u8],
    ) -> Result<BytesMut, BlobError> {
        let total: u64 = pending.iter().map(|c| c.len).sum();
        let mut out = BytesMut::with_capacity(total as usize + tail.len());
        for c in pending {
            let data = self
                .store
                .get(&self.session_key(id, &c.name))
                .await?
                .bytes()
                .await?;
            if data.len() as u64 != c.len {
                return Err(BlobError::backend(format!(
                    "upload chunk {} holds {} bytes, its state records {}",
                    c.name,
                    data.len(),
                    c.len
                )));
            }
            out.extend_from_slice(&data);
        }
        out.extend_from_slice(tail);
        Ok(out)
    }

    pub async fn upload_create(&self, owner: &str) -> Result<UploadId, BlobError> {
        let id = UploadId::new();
        self.save_state(&id, &SessionState::new(owner)).await?;
        Ok(id)
    }

    pub async fn upload_append<S>(
        &self,
        id: &UploadId,
        offset: u64,
        mut body: S,
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
        // Without a hash state the data is hashed again when the session completes.
        let mut hasher = st.hasher(&cached);
        let mut parts = st.s3.clone().unwrap_or_default();
        let pending_len: u64 = parts.pending.iter().map(|c| c.len).sum();
        // Whether `buf` starts where the uploaded parts end (old pending chunks merged in).
        let mut merged = parts.pending.is_empty();
        let mut buf = BytesMut::new();
        let mut mp = parts.multipart_id.clone().map(|mid| {
            Multipart::resume(
                self.store.clone(),
                self.session_key(id, DATA),
                mid,
                parts.parts.len(),
            )
        });
        let mut n = 0u64;
        while let Some(frame) = body.next().await {
            let frame = frame.map_err(BlobError::Body)?;
            if let Some(h) = hasher.as_mut() {
                h.update(&frame);
            }
            n += frame.len() as u64;
            let next = mp.as_ref().map_or(parts.parts.len(), Multipart::next_idx);
            if !merged && pending_len + (buf.len() + frame.len()) as u64 >= part_size(next) as u64 {
                buf = self.load_pending(id, &parts.pending, &buf).await?;
                merged = true;
            }
            buf.extend_from_slice(&frame);
            if merged {
                loop {
                    let next = mp.as_ref().map_or(parts.parts.len(), Multipart::next_idx);
                    let want = part_size(next);
                    if buf.len() < want {
                        break;
                    }
                    let upload = self.multipart(id, &mut st, &mut mp).await?;
                    upload.push(buf.split_to(want).freeze()).await?;
                }
            }
        }
        if !merged && pending_len + buf.len() as u64 >= MIN_PART as u64 {
            buf = self.load_pending(id, &parts.pending, &buf).await?;
            merged = true;
        }
        if merged && buf.len() >= MIN_PART {
            let mp = self.multipart(id, &mut st, &mut mp).await?;
            mp.push(buf.split().freeze()).await?;
        }
        if let Some(mp) = &mut mp {
            parts.multipart_id = Some(mp.id().to_string());
            parts.parts.extend(mp.flush().await?);
        }
        let new_size = st.size + n;
        let consumed = if merged {
            std::mem::take(&mut parts.pending)
        } else {
            Vec::new()
        };
        if !buf.is_empty() {
            let chunk = PendingChunk {
                name: format!("chunk-{}", uuid::Uuid::new_v4()),
                len: buf.len() as u64,
            };
            self.store
                .put(&self.session_key(id, &chunk.name), buf.freeze().into())
                .await?;
            parts.pending.push(chunk);
        }
        st.s3 = Some(parts);
        st.advance(new_size, hasher.as_ref());
        self.save_state(id, &st).await?;
        *cached = hasher.map(|h| (new_size, h));
        for c in consumed {
            // Unreferenced now; whatever survives goes with the session.
            let _ = self.store.delete(&self.session_key(id, &c.name)).await;
        }
        Ok(new_size)
    }

    /// The session's multipart upload, created (and recorded at once, so that it is
    /// aborted with the session rather than forgotten) on first use.
    async fn multipart<'a>(
        &self,
        id: &UploadId,
        st: &mut SessionState,
        slot: &'a mut Option<Multipart>,
    ) -> Result<&'a mut Multipart, BlobError> {
        if slot.is_none() {
            let mp = Multipart::create(self.store.clone(), self.session_key(id, DATA)).await?;
            let mut recorded = st.clone();
            recorded
                .s3
                .get_or_insert_with(S3Parts::default)
                .multipart_id = Some(mp.id().to_string());
            self.save_state(id, &recorded).await?;
            st.s3 = recorded.s3;
            *slot = Some(mp);
        }
        Ok(slot.as_mut().expect("multipart just ensured"))
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
        let parts = st.s3.clone().unwrap_or_default();
        let running = hashing::finish_for(st.hasher(&cached), expected);
        if let Some(computed) = running.clone()
            && computed != *expected
        {
            self.remove_session(id, &st).await?;
            return Err(BlobError::DigestMismatch { computed });
        }
        let blob = self.blob_key(expected);
        if parts.parts.is_empty() {
            // Under 5 MiB in all: one verified PUT.
            let data = self.load_pending(id, &parts.pending, &[]).await?.freeze();
            let computed = match running {
                Some(d) => d,
                None => hashing::digest_of(expected.algorithm(), &data),
            };
            if let Err(e) = hashing::verify(expected, computed) {
                self.remove_session(id, &st).await?;
                return Err(e);
            }
            if self.size_of(&blob).await?.is_none() {
                self.store.put(&blob, data.into()).await?;
            }
            self.remove_session(id, &st).await?;
            return Ok(st.size);
        }

        let data = self.session_key(id, DATA);
        // A retry after a crash may find `data` already assembled and the multipart gone.
        if self.size_of(&data).await? != Some(st.size) {
            let mid = parts.multipart_id.clone().ok_or_else(|| {
                BlobError::backend("upload session has parts but no multipart upload")
            })?;
            let mut mp =
                Multipart::resume(self.store.clone(), data.clone(), mid, parts.parts.len());
            let mut etags = parts.parts.clone();
            if !parts.pending.is_empty() {
                mp.push(self.load_pending(id, &parts.pending, &[]).await?.freeze())
                    .await?;
                etags.extend(mp.flush().await?);
            }
            mp.complete(etags).await?;
        }
        let computed = match running {
            Some(d) => d,
            None => self.hash_object(&data, expected.algorithm()).await?,
        };
        if let Err(e) = hashing::verify(expected, computed) {
            self.remove_session(id, &st).await?;
            return Err(e);
        }
        if self.size_of(&blob).await?.is_none() {
            if st.size <= COPY_LIMIT {
                self.store.copy(&data, &blob).await?;
            } else {
                let stream = self.store.get(&data).await?.into_stream();
                Box::pin(self.put_stream(expected, stream.map_err(std::io::Error::other))).await?;
            }
        }
        self.remove_session(id, &st).await?;
        Ok(st.size)
    }

    pub async fn upload_cancel(&self, id: &UploadId) -> Result<(), BlobError> {
        let _guard = self.sessions.lock(id).await;
        let st = self.load_state(id).await?;
        self.remove_session(id, &st).await
    }

    /// Aborts the session's multipart upload and deletes its objects, the state last so
    /// that an interrupted removal is finished by expiry.
    async fn remove_session(&self, id: &UploadId, st: &SessionState) -> Result<(), BlobError> {
        if let Some(mid) = st.s3.as_ref().and_then(|p| p.multipart_id.as_deref()) {
            abort(&self.store, &self.session_key(id, DATA), mid).await?;
        }
        self.delete_session_objects(id).await?;
        self.sessions.forget(id);
        Ok(())
    }

    async fn delete_session_objects(&self, id: &UploadId) -> Result<(), BlobError> {
        let state = self.session_key(id, STATE);
        let prefix = self.key(&upload_dir(id));
        let objects: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for path in objects.iter().filter(|p| **p != state) {
            self.store.delete(path).await?;
        }
        self.store.delete(&state).await?;
        Ok(())
    }

    async fn session_ids(&self) -> Result<Vec<UploadId>, BlobError> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.key(UPLOADS)))
            .await?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(|n| n.parse().ok()))
            .collect())
    }

    pub async fn upload_list(&self) -> Result<Vec<(UploadId, UploadStatus)>, BlobError> {
        let mut out = Vec::new();
        for id in self.session_ids().await? {
            match self.load_state(&id).await {
                Ok(st) => out.push((id, st.status())),
                Err(BlobError::UploadNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub async fn expire_uploads(&self, older_than: Duration) -> Result<usize, BlobError> {
        let cutoff = OffsetDateTime::now_utc() - older_than;
        let mut removed = 0;
        let ids = self.session_ids().await?;
        self.sessions.retain(&ids);
        for id in ids {
            let Some(_guard) = self.sessions.try_lock(&id) else {
                continue;
            };
            match self.load_state(&id).await {
                Ok(st) if st.updated_at < cutoff => self.remove_session(&id, &st).await?,
                Ok(_) => continue,
                // Leftovers of an interrupted removal: objects without a readable state.
                Err(_) => {
                    if !self.objects_older_than(&id, cutoff).await? {
                        continue;
                    }
                    self.delete_session_objects(&id).await?;
                    self.sessions.forget(&id);
                }
            }
            removed += 1;
        }
        Ok(removed)
    }

    async fn objects_older_than(
        &self,
        id: &UploadId,
        cutoff: OffsetDateTime,
    ) -> Result<bool, BlobError> {
        let prefix = self.key(&upload_dir(id));
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .iter()
            .all(|m| m.last_modified.timestamp() < cutoff.unix_timestamp()))
    }
}
