//! OCI image layouts written by the tests themselves (no remote pulls), for real clients
//! (skopeo, podman) to push.

use std::path::Path;

use super::sha256;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn write_blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let d = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.trim_start_matches("sha256:")), data).unwrap();
    (d, data.len())
}

/// A gzipped tar holding one file, as a real image layer.
pub fn layer(name: &str, content: &[u8]) -> (Vec<u8>, String) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, name, content).unwrap();
    let raw = tar.into_inner().unwrap();
    let diff_id = sha256(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Writes an image (config + one layer + manifest) into an OCI layout; returns the
/// manifest descriptor as JSON.
pub fn write_image(layout: &Path, arch: &str, text: &str) -> serde_json::Value {
    let (gz, diff_id) = layer("hello.txt", text.as_bytes());
    let (ld, ls) = write_blob(layout, &gz);
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": { "Cmd": ["/hello"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let (cd, cs) = write_blob(layout, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls }],
    });
    let (md, ms) = write_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    serde_json::json!({ "mediaType": OCI_MANIFEST, "digest": md, "size": ms, "platform": { "architecture": arch, "os": "linux" } })
}

pub fn write_index_json(layout: &Path, mut desc: serde_json::Value, tag: &str) {
    desc["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index =
        serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc] });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}
