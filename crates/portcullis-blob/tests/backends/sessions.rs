//! Resumable (chunked) upload sessions.

use std::time::Duration;

use portcullis_blob::{BlobError, BlobStore, UploadId};
use portcullis_types::Digest;

use crate::harness::{Harness, body, broken_body, data, read, sha512_of};

const MIB: usize = 1 << 20;

/// Appends `blob` cut at `cuts` (chunk sizes), checking each returned size.
async fn append_all(store: &BlobStore, id: &UploadId, blob: &[u8], cuts: &[usize]) {
    let mut at = 0;
    for &n in cuts {
        let chunk = &blob[at..at + n];
        let size = store
            .upload_append(id, at as u64, body(chunk, 64 << 10))
            .await
            .unwrap();
        at += n;
        assert_eq!(size, at as u64);
    }
    assert_eq!(at, blob.len(), "cuts cover the blob");
}

async fn assert_session_gone(store: &BlobStore, id: &UploadId) {
    assert!(matches!(
        store.upload_status(id).await,
        Err(BlobError::UploadNotFound)
    ));
}

pub async fn chunked_upload(h: &Harness) {
    let store = h.open().await;
    // Chunks below and above S3's 5 MiB part minimum, in an order that makes small
    // chunks wait, merge with later ones, and leave a small final part.
    let cuts = [MIB, 100, 6 * MIB, 3 * MIB, 9 * MIB, 10, 2 * MIB + 7];
    let total: usize = cuts.iter().sum();
    let blob = data(total, 20);
    let d = Digest::sha256_of(&blob);
    let id = store.upload_create("library/chunked").await.unwrap();
    let st = store.upload_status(&id).await.unwrap();
    assert_eq!((st.owner.as_str(), st.size), ("library/chunked", 0));
    append_all(&store, &id, &blob, &cuts).await;
    assert_eq!(store.upload_status(&id).await.unwrap().size, total as u64);
    assert_eq!(
        store.stat(&d).await.unwrap(),
        None,
        "nothing visible before completion"
    );
    assert_eq!(store.upload_complete(&id, &d).await.unwrap(), total as u64);
    assert_session_gone(&store, &id).await;
    assert!(read(&store, &d, None).await.unwrap().1 == blob);
    assert!(matches!(
        store.upload_complete(&id, &d).await,
        Err(BlobError::UploadNotFound)
    ));
}

pub async fn out_of_order_append(h: &Harness) {
    let store = h.open().await;
    let id = store.upload_create("library/order").await.unwrap();
    store
        .upload_append(&id, 0, body(b"0123456789", 3))
        .await
        .unwrap();
    for wrong in [0, 5, 11, 20] {
        let err = store
            .upload_append(&id, wrong, body(b"x", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BlobError::RangeMismatch {
                    expected_offset: 10
                }
            ),
            "{wrong}: {err:?}"
        );
    }
    assert_eq!(
        store.upload_append(&id, 10, body(b"ab", 1)).await.unwrap(),
        12
    );
    let d = Digest::sha256_of(b"0123456789ab");
    assert_eq!(store.upload_complete(&id, &d).await.unwrap(), 12);
    let unknown: UploadId = "6f1cab3b-9d2e-4c7a-8e5f-0a1b2c3d4e5f".parse().unwrap();
    assert!(matches!(
        store.upload_append(&unknown, 0, body(b"x", 1)).await,
        Err(BlobError::UploadNotFound)
    ));
}

pub async fn status_and_list(h: &Harness) {
    let store = h.open().await;
    let before = time::OffsetDateTime::now_utc() - Duration::from_secs(1);
    let a = store.upload_create("library/a").await.unwrap();
    let b = store.upload_create("team/b").await.unwrap();
    store
        .upload_append(&b, 0, body(&data(777, 21), 100))
        .await
        .unwrap();
    let st = store.upload_status(&b).await.unwrap();
    assert_eq!((st.owner.as_str(), st.size), ("team/b", 777));
    assert!(st.started_at >= before);
    let mut list = store.upload_list().await.unwrap();
    list.sort_by_key(|(_, s)| s.owner.clone());
    let summary: Vec<_> = list
        .iter()
        .map(|(id, s)| (*id, s.owner.as_str(), s.size))
        .collect();
    assert_eq!(summary, vec![(a, "library/a", 0), (b, "team/b", 777)]);
}

pub async fn cancel(h: &Harness) {
    let store = h.open().await;
    let id = store.upload_create("library/cancel").await.unwrap();
    let blob = data(7 * MIB, 22);
    append_all(&store, &id, &blob, &[MIB, 6 * MIB]).await;
    store.upload_cancel(&id).await.unwrap();
    assert_session_gone(&store, &id).await;
    assert!(matches!(
        store
            .upload_append(&id, 7 * MIB as u64, body(b"x", 1))
            .await,
        Err(BlobError::UploadNotFound)
    ));
    assert!(matches!(
        store.upload_cancel(&id).await,
        Err(BlobError::UploadNotFound)
    ));
    assert!(matches!(
        store.upload_complete(&id, &Digest::sha256_of(&blob)).await,
        Err(BlobError::UploadNotFound)
    ));
    assert!(store.upload_list().await.unwrap().is_empty());
}

pub async fn expiry(h: &Harness) {
    let store = h.open().await;
    let idle = store.upload_create("library/idle").await.unwrap();
    let big = store.upload_create("library/big").await.unwrap();
    append_all(&store, &big, &data(6 * MIB + 1, 23), &[6 * MIB + 1]).await;
    assert_eq!(
        store
            .expire_uploads(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.upload_list().await.unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = store.upload_create("library/fresh").await.unwrap();
    // Only the sessions idle for over a second go; wide margins keep this steady.
    let removed = store.expire_uploads(Duration::from_secs(1)).await.unwrap();
    assert_eq!(removed, 2);
    assert_session_gone(&store, &idle).await;
    assert_session_gone(&store, &big).await;
    assert_eq!(store.upload_status(&fresh).await.unwrap().size, 0);
    assert_eq!(store.expire_uploads(Duration::ZERO).await.unwrap(), 1);
    assert!(store.upload_list().await.unwrap().is_empty());
}

pub async fn complete_with_wrong_digest(h: &Harness) {
    let store = h.open().await;
    for cuts in [vec![1000, 24], vec![6 * MIB, 1000]] {
        let total: usize = cuts.iter().sum();
        let blob = data(total, 24);
        let actual = Digest::sha256_of(&blob);
        let claimed = Digest::sha256_of(b"not it");
        let id = store.upload_create("library/wrong").await.unwrap();
        append_all(&store, &id, &blob, &cuts).await;
        match store.upload_complete(&id, &claimed).await.unwrap_err() {
            BlobError::DigestMismatch { computed } => assert_eq!(computed, actual),
            other => panic!("{other:?}"),
        }
        assert_session_gone(&store, &id).await;
        assert_eq!(store.stat(&claimed).await.unwrap(), None);
        assert_eq!(store.stat(&actual).await.unwrap(), None);
    }
}

pub async fn restart_mid_upload(h: &Harness) {
    let cuts = [2 * MIB, 6 * MIB, 100, 3 * MIB];
    let total: usize = cuts.iter().sum();
    let blob = data(total, 25);
    let d = Digest::sha256_of(&blob);
    let first_part = cuts[0] + cuts[1] + cuts[2];
    let id = {
        let store = h.open().await;
        let id = store.upload_create("library/restart").await.unwrap();
        append_all(&store, &id, &blob[..first_part], &cuts[..3]).await;
        id
    };
    let store = h.open().await;
    let st = store.upload_status(&id).await.unwrap();
    assert_eq!(
        (st.owner.as_str(), st.size),
        ("library/restart", first_part as u64)
    );
    store
        .upload_append(&id, first_part as u64, body(&blob[first_part..], MIB))
        .await
        .unwrap();
    // Completion may land on yet another instance (another node).
    let other = h.open().await;
    assert_eq!(other.upload_complete(&id, &d).await.unwrap(), total as u64);
    assert!(read(&store, &d, None).await.unwrap().1 == blob);
}

pub async fn failed_append_leaves_session_unchanged(h: &Harness) {
    let store = h.open().await;
    let blob = data(16 * MIB, 26);
    let d = Digest::sha256_of(&blob);
    let id = store.upload_create("library/retry").await.unwrap();
    append_all(&store, &id, &blob[..MIB], &[MIB]).await;
    // The client goes away after sending 12 MiB: enough for parts to be uploaded on S3.
    let err = store
        .upload_append(&id, MIB as u64, broken_body(&data(12 * MIB, 99)))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    assert_eq!(store.upload_status(&id).await.unwrap().size, MIB as u64);
    store
        .upload_append(&id, MIB as u64, body(&blob[MIB..], 512 << 10))
        .await
        .unwrap();
    assert_eq!(
        store.upload_complete(&id, &d).await.unwrap(),
        blob.len() as u64
    );
    assert!(read(&store, &d, None).await.unwrap().1 == blob);
}

pub async fn sha512_session(h: &Harness) {
    let store = h.open().await;
    for cuts in [vec![300, 5000], vec![MIB, 6 * MIB, 10]] {
        let total: usize = cuts.iter().sum();
        let blob = data(total, 27 + total as u64);
        let d = sha512_of(&blob);
        let id = store.upload_create("library/sha512").await.unwrap();
        append_all(&store, &id, &blob, &cuts).await;
        assert_eq!(store.upload_complete(&id, &d).await.unwrap(), total as u64);
        assert!(read(&store, &d, None).await.unwrap().1 == blob);

        let id = store.upload_create("library/sha512").await.unwrap();
        append_all(&store, &id, &blob, &cuts).await;
        let wrong = sha512_of(b"nope");
        let err = store.upload_complete(&id, &wrong).await.unwrap_err();
        assert!(matches!(err, BlobError::DigestMismatch { ref computed } if *computed == d));
        assert_eq!(store.stat(&wrong).await.unwrap(), None);
        assert_session_gone(&store, &id).await;
    }
}

pub async fn concurrent_sessions_same_digest(h: &Harness) {
    let store = h.open().await;
    let blob = data(6 * MIB + 3, 28);
    let d = Digest::sha256_of(&blob);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = store.upload_create("library/race").await.unwrap();
        append_all(&store, &id, &blob, &[MIB, 5 * MIB + 3]).await;
        ids.push(id);
    }
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (store, d) = (store.clone(), d.clone());
            tokio::spawn(async move { store.upload_complete(&id, &d).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), blob.len() as u64);
    }
    assert!(store.get_bytes(&d).await.unwrap() == blob);
    assert!(store.upload_list().await.unwrap().is_empty());
}
