//! The scanner through the real binary: `portcullis vulndb import` of an OSV file, then
//! `portcullis scan` of an OCI layout the test builds (a Debian 11 root with one dpkg
//! package), and of a scratch image that holds only a binary (reported unsupported).

mod common;

use std::path::Path;
use std::process::Command;

use common::sha256;

fn portcullis(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run portcullis")
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, name, *content).unwrap();
    }
    let raw = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

fn blob(dir: &Path, data: &[u8]) -> (String, usize) {
    let d = sha256(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.trim_start_matches("sha256:")), data).unwrap();
    (d, data.len())
}

/// An OCI layout with one gzip layer holding `files`.
fn image(dir: &Path, files: &[(&str, &[u8])]) {
    let (ld, ls) = blob(dir, &layer(files));
    let config = serde_json::json!({ "architecture": "amd64", "os": "linux", "rootfs": { "type": "layers", "diff_ids": [] } });
    let (cd, cs) = blob(dir, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls }],
    });
    let (md, ms) = blob(dir, &serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": { "org.opencontainers.image.ref.name": "latest" } }] });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

const OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nID=debian\n";
const DPKG_STATUS: &[u8] = b"Package: libssl1.1\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nSource: openssl\nVersion: 1.1.1n-0+deb11u3\nDescription: Secure Sockets Layer toolkit - shared libraries\n\n";

/// A Debian security advisory shaped like the tracker's OSV export.
const ADVISORY: &str = r#"{
  "id": "DSA-5343-1", "modified": "2023-02-07T00:00:00Z", "published": "2023-02-07T00:00:00Z",
  "aliases": ["CVE-2023-0286"], "summary": "openssl - security update",
  "affected": [{ "package": { "ecosystem": "Debian:11", "name": "openssl" },
    "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "1.1.1n-0+deb11u4" }] }] }]
}"#;

#[test]
fn import_then_scan_with_the_binary() {
    let data = tempfile::tempdir().unwrap();
    let osv = data.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(osv.join("DSA-5343-1.json"), ADVISORY).unwrap();
    let out = portcullis(data.path(), &["vulndb", "import", osv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = portcullis(data.path(), &["vulndb", "status", "--json"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Debian:11"));

    let img = tempfile::tempdir().unwrap();
    image(
        img.path(),
        &[
            ("etc/os-release", OS_RELEASE),
            ("var/lib/dpkg/status", DPKG_STATUS),
        ],
    );
    let target = img.path().to_str().unwrap();
    let out = portcullis(data.path(), &["scan", target, "--format", "harbor"]);
    assert!(
        out.status.success(),
        "scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CVE-2023-0286"), "{text}");
    assert!(text.contains("1.1.1n-0+deb11u4"), "{text}");
    // The finding fails a pipeline step that asks for it.
    let out = portcullis(data.path(), &["scan", target, "--exit-code", "5"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A scratch image with only a static binary: unsupported, never "clean".
    let scratch = tempfile::tempdir().unwrap();
    image(scratch.path(), &[("app", b"\x7fELF not really a program")]);
    let out = portcullis(
        data.path(),
        &["scan", scratch.path().to_str().unwrap(), "--format", "json"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("unsupported"), "{text}");
}
