//! Filesystem crash recovery: what a crash or lost state leaves on disk, and how the
//! store copes with it. These poke at the files directly, so they are backend-specific.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use portcullis_blob::{BlobError, BlobStore, FsConfig, UploadId};
use portcullis_types::Digest;

async fn open(root: &Path) -> BlobStore {
    BlobStore::open_fs(FsConfig {
        root: root.to_path_buf(),
    })
    .await
    .unwrap()
}

fn body(data: &[u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
    stream::iter(vec![Ok(Bytes::copy_from_slice(data))])
}

fn session_file(root: &Path, id: &UploadId, name: &str) -> std::path::PathBuf {
    root.join("uploads").join(id.to_string()).join(name)
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn layout_and_no_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let d = Digest::sha256_of(b"hello");
    store.put_stream(&d, body(b"hello")).await.unwrap();
    let path = dir
        .path()
        .join("blobs/sha256")
        .join(&d.hex()[..2])
        .join(d.hex());
    assert_eq!(std::fs::read(path).unwrap(), b"hello");
    let wrong = Digest::sha256_of(b"other");
    assert!(store.put_stream(&wrong, body(b"hello!")).await.is_err());
    let id = store.upload_create("library/x").await.unwrap();
    store.upload_append(&id, 0, body(b"abc")).await.unwrap();
    store
        .upload_complete(&id, &Digest::sha256_of(b"abc"))
        .await
        .unwrap();
    assert_eq!(entries(&dir.path().join("tmp")), 0, "staged files removed");
    assert_eq!(entries(&dir.path().join("uploads")), 0, "sessions removed");
}

#[tokio::test]
async fn unacknowledged_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.upload_create("library/x").await.unwrap();
    store.upload_append(&id, 0, body(b"first-")).await.unwrap();
    // A crash after writing data but before recording it leaves bytes past the state.
    let data = session_file(dir.path(), &id, "data");
    let mut raw = std::fs::read(&data).unwrap();
    raw.extend_from_slice(b"GARBAGE");
    std::fs::write(&data, raw).unwrap();
    let store = open(dir.path()).await;
    assert_eq!(store.upload_status(&id).await.unwrap().size, 6);
    store.upload_append(&id, 6, body(b"second")).await.unwrap();
    let d = Digest::sha256_of(b"first-second");
    assert_eq!(store.upload_complete(&id, &d).await.unwrap(), 12);
    assert_eq!(store.get_bytes(&d).await.unwrap(), "first-second");
}

#[tokio::test]
async fn lost_hash_state_is_rebuilt_from_data() {
    for bad in [serde_json::Value::Null, serde_json::json!("zz-not-hex")] {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        let id = store.upload_create("library/x").await.unwrap();
        store
            .upload_append(&id, 0, body(b"part one,"))
            .await
            .unwrap();
        let state = session_file(dir.path(), &id, "state.json");
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        json["sha256_state"] = bad;
        std::fs::write(&state, serde_json::to_vec(&json).unwrap()).unwrap();
        // A new instance has no hasher in memory: it must hash the stored bytes again.
        let store = open(dir.path()).await;
        store
            .upload_append(&id, 9, body(b" part two"))
            .await
            .unwrap();
        let d = Digest::sha256_of(b"part one, part two");
        assert_eq!(store.upload_complete(&id, &d).await.unwrap(), 18);
    }
}

#[tokio::test]
async fn lost_data_is_an_error_not_a_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.upload_create("library/x").await.unwrap();
    store
        .upload_append(&id, 0, body(b"0123456789"))
        .await
        .unwrap();
    std::fs::write(session_file(dir.path(), &id, "data"), b"01234").unwrap();
    let store = open(dir.path()).await;
    let d = Digest::sha256_of(b"0123456789");
    assert!(matches!(
        store.upload_append(&id, 10, body(b"x")).await,
        Err(BlobError::Io(_))
    ));
    assert!(matches!(
        store.upload_complete(&id, &d).await,
        Err(BlobError::Io(_))
    ));
    assert_eq!(store.stat(&d).await.unwrap(), None);
}

#[tokio::test]
async fn expiry_sweeps_crash_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // A session whose creation crashed before its state was written, and a staged
    // monolithic upload whose process died.
    let half = dir
        .path()
        .join("uploads")
        .join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir(&half).unwrap();
    std::fs::write(half.join("data"), b"partial").unwrap();
    std::fs::write(dir.path().join("tmp").join("orphan"), b"partial").unwrap();
    assert_eq!(
        store
            .expire_uploads(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert!(half.exists());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store
            .expire_uploads(Duration::from_millis(5))
            .await
            .unwrap(),
        1
    );
    assert!(!half.exists());
    assert_eq!(entries(&dir.path().join("tmp")), 0);
}

#[tokio::test]
async fn completion_interrupted_after_publishing_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.upload_create("library/x").await.unwrap();
    store
        .upload_append(&id, 0, body(b"published"))
        .await
        .unwrap();
    let d = Digest::sha256_of(b"published");
    // The data was renamed into place, then the process died before removing the session.
    let dest = dir.path().join("blobs/sha256").join(&d.hex()[..2]);
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::rename(session_file(dir.path(), &id, "data"), dest.join(d.hex())).unwrap();
    let store = open(dir.path()).await;
    assert_eq!(store.upload_complete(&id, &d).await.unwrap(), 9);
    assert_eq!(store.get_bytes(&d).await.unwrap(), "published");
    assert!(matches!(
        store.upload_status(&id).await,
        Err(BlobError::UploadNotFound)
    ));
}
