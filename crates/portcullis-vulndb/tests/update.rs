//! `update` against a local HTTP server standing in for osv.dev, and without a network.

use portcullis_vulndb::{DbError, PackageQuery, VulnDb, update};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/osv")
            .join(name),
    )
    .unwrap()
}

/// Serves `routes` (path → body) over HTTP/1.1 on 127.0.0.1 until the test ends;
/// anything else is a 404.
async fn serve(routes: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = match routes.get(&path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn downloads_and_imports_each_ecosystem() {
    let mut routes = HashMap::new();
    routes.insert(
        "/PyPI/all.zip".to_string(),
        zip_of(&[
            (
                "GHSA-aaaa-bbbb-cccc.json",
                &fixture("GHSA-aaaa-bbbb-cccc.json"),
            ),
            ("PYSEC-2023-99.json", &fixture("PYSEC-2023-99.json")),
        ]),
    );
    routes.insert(
        "/Red%20Hat/all.zip".to_string(),
        zip_of(&[(
            "RHSA-2024:0001.json",
            r#"{"id":"RHSA-2024:0001","modified":"2024-01-02T00:00:00Z","aliases":["CVE-2024-0001"],
               "affected":[{"package":{"ecosystem":"Red Hat","name":"openssl"},
               "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-25.el9_3"}]}]}]}"#,
        )]),
    );
    let base = serve(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let summary = update(
        dir.path(),
        &base,
        &["PyPI".to_string(), "Red Hat".to_string()],
    )
    .await
    .unwrap();
    assert_eq!(summary.records_read, 3);
    assert_eq!(summary.files, 2);
    let db = VulnDb::open(dir.path()).unwrap();
    assert_eq!(db.metadata().counts.get("Red Hat"), Some(&1));
    let f = db
        .query(&PackageQuery {
            ecosystem: "Red Hat",
            name: "openssl",
            version: "1:3.0.7-24.el9",
        })
        .unwrap();
    assert_eq!(f[0].id, "CVE-2024-0001");
    assert_eq!(f[0].fixed_version.as_deref(), Some("1:3.0.7-25.el9_3"));
    assert!(
        db.query(&PackageQuery {
            ecosystem: "Red Hat",
            name: "openssl",
            version: "1:3.0.7-25.el9_3",
        })
        .unwrap()
        .is_empty()
    );
    // No leftovers of the download in the database directory.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".import"))
        .collect();
    assert_eq!(names, ["osv-index.bin"]);
}

#[tokio::test]
async fn http_error_fails_clearly_and_imports_nothing() {
    let mut routes = HashMap::new();
    routes.insert(
        "/PyPI/all.zip".to_string(),
        zip_of(&[(
            "GHSA-aaaa-bbbb-cccc.json",
            &fixture("GHSA-aaaa-bbbb-cccc.json"),
        )]),
    );
    let base = serve(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let err = update(dir.path(), &base, &["PyPI".to_string(), "Nope".to_string()])
        .await
        .unwrap_err();
    match &err {
        DbError::Download { url, reason } => {
            assert!(url.ends_with("/Nope/all.zip"), "{url}");
            assert!(reason.contains("404"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(matches!(VulnDb::open(dir.path()), Err(DbError::Missing(_))));
}

#[tokio::test]
async fn no_network_fails_clearly() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let err = update(
        dir.path(),
        &format!("http://127.0.0.1:{port}"),
        &["Go".to_string()],
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DbError::Download { .. }), "{msg}");
    assert!(msg.contains("/Go/all.zip"), "{msg}");
    assert!(
        msg.to_lowercase().contains("refused") || msg.contains("connect"),
        "{msg}"
    );
}
