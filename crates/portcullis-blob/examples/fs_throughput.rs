//! Measures filesystem push and pull throughput of the blob store.
//!
//! `cargo run --release -p portcullis-blob --example fs_throughput -- DIR [MIB]`
//! streams MIB (default 1024) MiB in 64 KiB frames, as an HTTP body arrives, through
//! `put_stream` and a chunked upload, then reads the blob back. Compare with
//! `dd if=/dev/zero of=DIR/dd bs=1M count=MIB conv=fdatasync` on the same disk.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use portcullis_blob::{BlobStore, FsConfig};
use portcullis_types::{Algorithm, Hasher};

const FRAME: usize = 64 << 10;

fn frames(total: usize) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
    // One shared pseudo-random frame: no time spent making data during the run.
    let frame = Bytes::from((0..FRAME).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>());
    futures::stream::iter((0..total / FRAME).map(move |_| Ok(frame.clone())))
}

fn mbps(bytes: usize, since: Instant) -> f64 {
    bytes as f64 / since.elapsed().as_secs_f64() / 1e6
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let root = args.next().expect("usage: fs_throughput DIR [MIB]");
    let mib: usize = args.next().map_or(1024, |s| s.parse().expect("MIB"));
    let total = mib << 20;
    let store = BlobStore::open_fs(FsConfig { root: root.into() })
        .await
        .unwrap();

    let t = Instant::now();
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut s = frames(total);
    while let Some(f) = s.next().await {
        h.update(&f.unwrap());
    }
    let d = h.finish();
    println!("sha256 alone    {:8.0} MB/s", mbps(total, t));
    let _ = store.delete(&d).await;

    let t = Instant::now();
    store.put_stream(&d, frames(total)).await.unwrap();
    println!("put_stream      {:8.0} MB/s", mbps(total, t));

    let t = Instant::now();
    let mut r = store.get(&d, None).await.unwrap();
    let mut n = 0;
    while let Some(c) = r.stream.next().await {
        n += c.unwrap().len();
    }
    assert_eq!(n, total);
    println!("get (cached)    {:8.0} MB/s", mbps(total, t));
    store.delete(&d).await.unwrap();

    let t = Instant::now();
    let id = store.upload_create("bench").await.unwrap();
    store.upload_append(&id, 0, frames(total)).await.unwrap();
    store.upload_complete(&id, &d).await.unwrap();
    println!("chunked upload  {:8.0} MB/s", mbps(total, t));
    store.delete(&d).await.unwrap();
}
