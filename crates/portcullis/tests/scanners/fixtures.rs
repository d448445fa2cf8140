//! A vulnerable image pushed through `/v2/` and an OSV advisory that matches it.

use std::path::Path;
use std::process::Command;

use crate::common::{Server, admin_basic, client, push_blob, sha256};

const OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nID=debian\n";
const DPKG_STATUS: &[u8] = b"Package: libssl1.1\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nSource: openssl\nVersion: 1.1.1n-0+deb11u3\nDescription: Secure Sockets Layer toolkit - shared libraries\n\n";

/// A Debian security advisory shaped like the tracker's OSV export.
const ADVISORY: &str = r#"{
  "id": "DSA-5343-1", "modified": "2023-02-07T00:00:00Z", "published": "2023-02-07T00:00:00Z",
  "aliases": ["CVE-2023-0286"], "summary": "openssl - security update",
  "affected": [{ "package": { "ecosystem": "Debian:11", "name": "openssl" },
    "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.1.1n-0+deb11u4" }] }] }]
}"#;

/// The CVE the advisory names.
pub const CVE: &str = "CVE-2023-0286";

/// Imports the advisory into the server's data directory (picked up without restart).
pub fn import_advisory(s: &Server) {
    let osv = s.dir.path().join("osv-import");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(osv.join("DSA-5343-1.json"), ADVISORY).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--data-dir")
        .arg(s.dir.path())
        .args(["vulndb", "import"])
        .arg(&osv)
        .output()
        .expect("run portcullis vulndb import");
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, Path::new(name), *content).unwrap();
    }
    let raw = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

/// Pushes a Debian 11 image holding a vulnerable libssl1.1; returns its digest.
pub async fn push_vulnerable_image(s: &Server, repo: &str, tag: &str) -> String {
    let layer = layer(&[
        ("etc/os-release", OS_RELEASE),
        ("var/lib/dpkg/status", DPKG_STATUS),
    ]);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [] }, "seed": tag,
    }))
    .unwrap();
    let ld = push_blob(s, repo, &layer).await;
    let cd = push_blob(s, repo, &config).await;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    }))
    .unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    sha256(&manifest)
}
