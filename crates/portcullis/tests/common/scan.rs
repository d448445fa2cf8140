//! Helpers of the scanning tests: tiny Debian images built here, a small OSV fixture
//! imported with `portcullis vulndb import`, and polling of scan overviews.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{SendAsAdmin, Server, client, push_blob, sha256};

pub const MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
pub const MIME_V1: &str = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";

pub const OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nID=debian\n";

pub fn dpkg_status(version: &str) -> Vec<u8> {
    format!(
        "Package: libssl1.1\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nSource: openssl\nVersion: {version}\nDescription: Secure Sockets Layer toolkit\n\n"
    )
    .into_bytes()
}

pub const VULNERABLE: &str = "1.1.1n-0+deb11u3";
pub const FIXED: &str = "1.1.1n-0+deb11u9";

/// A Debian advisory in OSV form, fixed in `fixed`.
pub fn advisory(dsa: &str, cve: &str, fixed: &str) -> String {
    json!({
        "id": dsa, "modified": "2023-02-07T00:00:00Z", "published": "2023-02-07T00:00:00Z",
        "aliases": [cve], "summary": "openssl - security update",
        "severity": [{ "type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H" }],
        "affected": [{ "package": { "ecosystem": "Debian:11", "name": "openssl" },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": fixed }] }] }]
    })
    .to_string()
}

/// Imports the advisories into the server's data directory with the CLI, as an operator
/// would while the server runs.
pub fn import_vulndb(s: &Server, advisories: &[String]) {
    let osv = tempfile::tempdir().unwrap();
    for (i, a) in advisories.iter().enumerate() {
        std::fs::write(osv.path().join(format!("a{i}.json")), a).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--data-dir")
        .arg(s.dir.path())
        .args(["vulndb", "import"])
        .arg(osv.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *content).unwrap();
    }
    let raw = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

pub fn debian_layer(version: &str) -> Vec<u8> {
    layer(&[
        ("etc/os-release", OS_RELEASE),
        ("var/lib/dpkg/status", &dpkg_status(version)),
    ])
}

pub async fn put_manifest(
    s: &Server,
    repo: &str,
    reference: &str,
    media_type: &str,
    m: &Value,
) -> String {
    let bytes = serde_json::to_vec(m).unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", media_type)
        .body(bytes.clone())
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    sha256(&bytes)
}

/// Pushes an image with one layer over HTTP; `seed` makes its config (and digest) unique.
pub async fn push_debian(
    s: &Server,
    repo: &str,
    tag: &str,
    layer: &[u8],
    seed: &str,
) -> (String, usize) {
    let config = json!({ "architecture": "amd64", "os": "linux", "seed": seed,
        "rootfs": { "type": "layers", "diff_ids": [] } })
    .to_string();
    let cd = push_blob(s, repo, config.as_bytes()).await;
    let ld = push_blob(s, repo, layer).await;
    let m = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    });
    let size = serde_json::to_vec(&m).unwrap().len();
    (
        put_manifest(
            s,
            repo,
            tag,
            "application/vnd.oci.image.manifest.v1+json",
            &m,
        )
        .await,
        size,
    )
}

pub async fn create_project(s: &Server, name: &str, metadata: Value) {
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .json(&json!({ "project_name": name, "metadata": metadata }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

pub fn artifact_path(project: &str, repo: &str, reference: &str) -> String {
    format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}")
}

/// The artifact's scan overview for Harbor's report type (Null when it has none).
pub async fn overview(s: &Server, project: &str, repo: &str, reference: &str) -> Value {
    let resp = client()
        .get(s.url(&format!(
            "{}?with_scan_overview=true",
            artifact_path(project, repo, reference)
        )))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["scan_overview"][MIME].clone()
}

/// Polls `f` until it yields a value; gives up after `limit` (a hang guard, not a
/// timing assertion).
pub async fn poll<F, Fut>(what: &str, limit: Duration, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn wait_status(
    s: &Server,
    project: &str,
    repo: &str,
    reference: &str,
    status: &str,
) -> Value {
    poll(
        &format!("{reference} to reach {status}"),
        Duration::from_secs(300),
        || async {
            let o = overview(s, project, repo, reference).await;
            (o["scan_status"] == status).then_some(o)
        },
    )
    .await
}

/// An OCI layout holding one image, for skopeo.
pub fn layout(dir: &Path, layer: &[u8]) {
    let blob = |data: &[u8]| {
        let d = sha256(data);
        let p = dir.join("blobs/sha256");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join(d.trim_start_matches("sha256:")), data).unwrap();
        (d, data.len())
    };
    let (ld, ls) = blob(layer);
    let config = json!({ "architecture": "amd64", "os": "linux", "rootfs": { "type": "layers", "diff_ids": [] } });
    let (cd, cs) = blob(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls }],
    });
    let (md, ms) = blob(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({ "schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": { "org.opencontainers.image.ref.name": "latest" } }] });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
