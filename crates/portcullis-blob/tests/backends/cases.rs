//! Whole-blob operations: put, get, stat, delete, ranges, monolithic streams.

use bytes::Bytes;
use portcullis_blob::BlobError;
use portcullis_types::Digest;

use crate::harness::{Harness, body, broken_body, data, read, sha512_of};

const MIB: usize = 1 << 20;

pub async fn health_and_reopen(h: &Harness) {
    let store = h.open().await;
    store.health().await.unwrap();
    let blob = data(1000, 1);
    let d = Digest::sha256_of(&blob);
    store
        .put_bytes(&d, Bytes::from(blob.clone()))
        .await
        .unwrap();
    let again = h.open().await;
    again.health().await.unwrap();
    assert_eq!(again.get_bytes(&d).await.unwrap(), blob);
}

pub async fn put_get_stat_delete(h: &Harness) {
    let store = h.open().await;
    let blob = data(70_000, 2);
    let d = Digest::sha256_of(&blob);
    assert_eq!(store.stat(&d).await.unwrap(), None);
    assert!(matches!(
        store.get(&d, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        store.get_bytes(&d).await,
        Err(BlobError::NotFound)
    ));

    store
        .put_bytes(&d, Bytes::from(blob.clone()))
        .await
        .unwrap();
    assert_eq!(store.stat(&d).await.unwrap(), Some(blob.len() as u64));
    assert_eq!(store.get_bytes(&d).await.unwrap(), blob);
    let (size, got) = read(&store, &d, None).await.unwrap();
    assert_eq!(size, blob.len() as u64);
    assert_eq!(got, blob);

    store.delete(&d).await.unwrap();
    assert_eq!(store.stat(&d).await.unwrap(), None);
    assert!(matches!(
        store.get(&d, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(store.delete(&d).await, Err(BlobError::NotFound)));
}

pub async fn put_bytes_rejects_wrong_digest(h: &Harness) {
    let store = h.open().await;
    let claimed = Digest::sha256_of(b"what the client said");
    let err = store
        .put_bytes(&claimed, Bytes::from_static(b"what it sent"))
        .await
        .unwrap_err();
    match err {
        BlobError::DigestMismatch { computed } => {
            assert_eq!(computed, Digest::sha256_of(b"what it sent"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err_is_permanent(
        &store.put_bytes(&claimed, Bytes::new()).await
    ));
    assert_eq!(store.stat(&claimed).await.unwrap(), None);
    assert_eq!(
        store
            .stat(&Digest::sha256_of(b"what it sent"))
            .await
            .unwrap(),
        None
    );
}

fn err_is_permanent(r: &Result<(), BlobError>) -> bool {
    r.as_ref().is_err_and(BlobError::is_permanent)
}

pub async fn dedup(h: &Harness) {
    let store = h.open().await;
    let blob = data(3 * MIB + 17, 3);
    let d = Digest::sha256_of(&blob);
    store
        .put_bytes(&d, Bytes::from(blob.clone()))
        .await
        .unwrap();
    store
        .put_bytes(&d, Bytes::from(blob.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.put_stream(&d, body(&blob, 64 << 10)).await.unwrap(),
        blob.len() as u64
    );
    let id = store.upload_create("library/dedup").await.unwrap();
    store.upload_append(&id, 0, body(&blob, MIB)).await.unwrap();
    assert_eq!(
        store.upload_complete(&id, &d).await.unwrap(),
        blob.len() as u64
    );
    assert_eq!(store.stat(&d).await.unwrap(), Some(blob.len() as u64));
    assert_eq!(store.get_bytes(&d).await.unwrap(), blob);
}

pub async fn range_reads(h: &Harness) {
    let store = h.open().await;
    let blob = data(3 * MIB + 5, 4);
    let d = Digest::sha256_of(&blob);
    store
        .put_bytes(&d, Bytes::from(blob.clone()))
        .await
        .unwrap();
    let len = blob.len() as u64;
    for r in [0..1, 10..20, 300_000..2_000_000, len - 1..len, 0..len] {
        let (size, got) = read(&store, &d, Some(r.clone())).await.unwrap();
        assert_eq!(size, len, "size is the whole blob's");
        assert_eq!(got, blob[r.start as usize..r.end as usize], "{r:?}");
    }
    #[allow(clippy::reversed_empty_ranges)]
    let bad = [
        5..5,
        7..6,
        len - 1..len + 1,
        len..len + 1,
        len + 10..len + 20,
    ];
    for r in bad {
        let res = store.get(&d, Some(r.clone())).await;
        assert!(
            matches!(res, Err(BlobError::InvalidRange)),
            "{r:?}: {:?}",
            res.map(|r| r.size)
        );
    }
    let missing = Digest::sha256_of(b"missing");
    assert!(matches!(
        store.get(&missing, Some(0..1)).await,
        Err(BlobError::NotFound)
    ));
}

pub async fn stream_with_right_digest(h: &Harness) {
    let store = h.open().await;
    // Large enough for several multipart parts on S3, in frames of uneven size.
    let blob = data(21 * MIB + 333, 5);
    let d = Digest::sha256_of(&blob);
    let size = store.put_stream(&d, body(&blob, 100_003)).await.unwrap();
    assert_eq!(size, blob.len() as u64);
    assert_eq!(store.stat(&d).await.unwrap(), Some(size));
    let (_, got) = read(&store, &d, None).await.unwrap();
    assert!(got == blob, "content differs");

    let small = data(1234, 6);
    let ds = Digest::sha256_of(&small);
    assert_eq!(
        store.put_stream(&ds, body(&small, 100)).await.unwrap(),
        1234
    );
    assert_eq!(store.get_bytes(&ds).await.unwrap(), small);
}

pub async fn stream_with_wrong_digest_publishes_nothing(h: &Harness) {
    let store = h.open().await;
    for len in [10_000, 17 * MIB] {
        let blob = data(len, 7);
        let actual = Digest::sha256_of(&blob);
        let claimed = Digest::sha256_of(b"something else");
        let err = store
            .put_stream(&claimed, body(&blob, 256 << 10))
            .await
            .unwrap_err();
        match err {
            BlobError::DigestMismatch { computed } => assert_eq!(computed, actual),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.stat(&claimed).await.unwrap(), None);
        assert_eq!(store.stat(&actual).await.unwrap(), None);
    }
}

pub async fn stream_body_error_publishes_nothing(h: &Harness) {
    let store = h.open().await;
    for len in [100, 9 * MIB] {
        let blob = data(len, 8);
        let d = Digest::sha256_of(&blob);
        let err = store.put_stream(&d, broken_body(&blob)).await.unwrap_err();
        assert!(matches!(err, BlobError::Body(_)), "{err:?}");
        assert_eq!(store.stat(&d).await.unwrap(), None);
    }
}

pub async fn empty_blob(h: &Harness) {
    let store = h.open().await;
    let d = Digest::sha256_of(b"");
    assert_eq!(store.put_stream(&d, body(b"", 1)).await.unwrap(), 0);
    assert_eq!(store.stat(&d).await.unwrap(), Some(0));
    assert_eq!(read(&store, &d, None).await.unwrap(), (0, vec![]));
    assert!(matches!(
        store.get(&d, Some(0..1)).await,
        Err(BlobError::InvalidRange)
    ));
    store.delete(&d).await.unwrap();
    let id = store.upload_create("library/empty").await.unwrap();
    assert_eq!(store.upload_complete(&id, &d).await.unwrap(), 0);
    assert_eq!(store.get_bytes(&d).await.unwrap(), Bytes::new());
}

pub async fn sha512(h: &Harness) {
    let store = h.open().await;
    let small = data(5000, 9);
    let d = sha512_of(&small);
    store
        .put_bytes(&d, Bytes::from(small.clone()))
        .await
        .unwrap();
    assert_eq!(store.get_bytes(&d).await.unwrap(), small);
    assert_eq!(store.stat(&Digest::sha256_of(&small)).await.unwrap(), None);

    let big = data(10 * MIB, 10);
    let d = sha512_of(&big);
    assert_eq!(
        store.put_stream(&d, body(&big, MIB)).await.unwrap(),
        big.len() as u64
    );
    assert!(read(&store, &d, None).await.unwrap().1 == big);

    let wrong = sha512_of(b"nope");
    let err = store.put_stream(&wrong, body(&big, MIB)).await.unwrap_err();
    assert!(matches!(err, BlobError::DigestMismatch { computed } if computed == d));
    assert_eq!(store.stat(&wrong).await.unwrap(), None);
}

pub async fn concurrent_publishes(h: &Harness) {
    let store = h.open().await;
    let blob = Bytes::from(data(9 * MIB + 1, 11));
    let d = Digest::sha256_of(&blob);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, blob, d) = (store.clone(), blob.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store.put_stream(&d, body(&blob, 300_000)).await.map(|_| ())
            } else {
                store.put_bytes(&d, blob).await
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.stat(&d).await.unwrap(), Some(blob.len() as u64));
    assert!(store.get_bytes(&d).await.unwrap() == blob);
}

pub async fn list_blobs(h: &Harness) {
    use futures::TryStreamExt;
    let store = h.open().await;
    assert!(
        store
            .list_blobs()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .is_empty()
    );
    let blobs = [data(10, 30), data(20_000, 31), data(0, 32)];
    let mut expected = Vec::new();
    for b in &blobs {
        let d = Digest::sha256_of(b);
        store.put_bytes(&d, Bytes::from(b.clone())).await.unwrap();
        expected.push((d, b.len() as u64));
    }
    let d512 = sha512_of(&blobs[0]);
    store
        .put_bytes(&d512, Bytes::from(blobs[0].clone()))
        .await
        .unwrap();
    expected.push((d512, 10));
    // Sessions and staged data are not blobs.
    let id = store.upload_create("library/list").await.unwrap();
    store
        .upload_append(&id, 0, body(b"pending", 3))
        .await
        .unwrap();
    let listed: Vec<_> = store.list_blobs().try_collect().await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    for info in &listed {
        assert!(
            (now - info.modified).whole_seconds().abs() < 300,
            "{info:?}"
        );
    }
    let mut got: Vec<_> = listed.into_iter().map(|i| (i.digest, i.size)).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}
