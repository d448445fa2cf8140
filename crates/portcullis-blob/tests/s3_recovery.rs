//! S3 sessions whose persisted hash state is lost: completion hashes the assembled data.

use bytes::Bytes;
use futures::stream;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use portcullis_blob::testing::{MotoServer, s3_skipped};
use portcullis_blob::{BlobStore, S3Config, UploadId};
use portcullis_types::Digest;

const MIB: usize = 1 << 20;

fn body(data: &[u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
    stream::iter(vec![Ok(Bytes::copy_from_slice(data))])
}

/// Removes the hash state from a session's `state.json`, as an older or damaged writer might.
async fn drop_hash_state(cfg: &S3Config, id: &UploadId) {
    let raw = AmazonS3Builder::new()
        .with_endpoint(cfg.endpoint.clone().unwrap())
        .with_region(&cfg.region)
        .with_bucket_name(&cfg.bucket)
        .with_access_key_id(&cfg.access_key)
        .with_secret_access_key(&cfg.secret_key)
        .with_allow_http(true)
        .build()
        .unwrap();
    let key = Path::from(format!("uploads/{id}/state.json"));
    let bytes = raw.get(&key).await.unwrap().bytes().await.unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["sha256_state"] = serde_json::Value::Null;
    raw.put(&key, serde_json::to_vec(&json).unwrap().into())
        .await
        .unwrap();
}

#[tokio::test]
async fn lost_hash_state_is_rebuilt_at_completion() {
    if s3_skipped() {
        return;
    }
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
    let cfg = server.bucket("recovery").unwrap();
    for first in [1000, 6 * MIB] {
        let data: Vec<u8> = (0..first + 2000).map(|i| (i * 7 % 251) as u8).collect();
        let d = Digest::sha256_of(&data);
        let store = BlobStore::open_s3(cfg.clone()).await.unwrap();
        let id = store.upload_create("library/x").await.unwrap();
        store
            .upload_append(&id, 0, body(&data[..first]))
            .await
            .unwrap();
        drop_hash_state(&cfg, &id).await;
        let store = BlobStore::open_s3(cfg.clone()).await.unwrap();
        store
            .upload_append(&id, first as u64, body(&data[first..]))
            .await
            .unwrap();
        assert_eq!(
            store.upload_complete(&id, &d).await.unwrap(),
            data.len() as u64
        );
        assert!(store.get_bytes(&d).await.unwrap() == data);
        store.delete(&d).await.unwrap();
    }
}
