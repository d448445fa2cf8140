//! Builders for test images: tar layers made with the `tar` crate, compressed, and
//! written as OCI image layouts or `docker save` archives.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use portcullis_types::Digest;
use serde_json::json;

pub mod fixtures;
pub mod osv;

/// A layer under construction.
pub struct Layer {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Self {
        Layer {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        self.file_mode(path, data, 0o644);
        self
    }

    pub fn exe(mut self, path: &str, data: &[u8]) -> Self {
        self.file_mode(path, data, 0o755);
        self
    }

    fn file_mode(&mut self, path: &str, data: &[u8], mode: u32) {
        let mut h = Self::header(tar::EntryType::Regular, data.len() as u64, mode);
        self.builder.append_data(&mut h, path, data).unwrap();
    }

    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0, 0o755);
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0, 0o644);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0, 0o777);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    /// Deletes `path` of lower layers.
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"")
    }

    /// Hides everything lower layers had under `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    /// A raw header whose name bytes are written as given (no validation), for hostile
    /// layers.
    pub fn raw_name(mut self, name: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, data.len() as u64, 0o644);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    /// The tar with its end-of-archive blocks.
    pub fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }

    /// The tar as `umoci insert` writes it: without the end-of-archive blocks and
    /// without the padding after the last entry's data (`last_size` bytes long).
    pub fn tar_without_eof(self, last_size: usize) -> Vec<u8> {
        let mut t = self.tar();
        t.truncate(t.len() - 1024);
        let pad = (512 - last_size % 512) % 512;
        t.truncate(t.len() - pad);
        t
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZSTD_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const TAR_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

fn put_blob(dir: &Path, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.hex()), data).unwrap();
    d
}

/// Writes an image manifest (and its config and layers) into the layout at `dir`, and
/// returns the manifest's descriptor as JSON.
pub fn put_image(
    dir: &Path,
    layers: &[(Vec<u8>, &str)],
    platform: (&str, &str),
) -> serde_json::Value {
    let config = serde_json::to_vec(&json!({
        "architecture": platform.1, "os": platform.0,
        "rootfs": {"type": "layers", "diff_ids": []}
    }))
    .unwrap();
    let config_digest = put_blob(dir, &config);
    let layer_descs: Vec<_> = layers
        .iter()
        .map(|(data, mt)| json!({"mediaType": mt, "digest": put_blob(dir, data), "size": data.len()}))
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md,
        "size": manifest.len(),
        "platform": {"os": platform.0, "architecture": platform.1},
    })
}

/// Writes `index.json` and `oci-layout` listing `manifests`.
pub fn finish_layout(dir: &Path, manifests: Vec<serde_json::Value>) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A single-platform OCI layout with `layers`.
pub fn oci_layout(dir: &Path, layers: &[(Vec<u8>, &str)]) {
    let m = put_image(dir, layers, ("linux", "amd64"));
    finish_layout(dir, vec![m]);
}

/// A `docker save` archive (legacy layout: `<id>/layer.tar`) holding uncompressed layers.
pub fn docker_archive(path: &Path, layers: &[Vec<u8>]) {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = serde_json::to_vec(&json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids": diff_ids}})).unwrap();
    let config_name = format!("{}.json", Digest::sha256_of(&config).hex());
    add(&config_name, &config);
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        add(&name, l);
        names.push(name);
    }
    let manifest = serde_json::to_vec(
        &json!([{"Config": config_name, "RepoTags": ["test:latest"], "Layers": names}]),
    )
    .unwrap();
    add("manifest.json", &manifest);
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// Module lines of a Go binary built against golang.org/x/text v0.3.5.
pub const GO_MODINFO: &str = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.5\th1:abc=\nbuild\t-compiler=gc\n";

/// A Debian 11 base layer (gzip) and a layer (zstd) of language packages.
pub fn debian_app_layers() -> Vec<(Vec<u8>, &'static str)> {
    use fixtures::*;
    let base = Layer::new()
        .dir("etc")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("usr/lib/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .file("etc/debian_version", b"11.6\n")
        .file("var/lib/dpkg/status", DPKG_STATUS.as_bytes())
        .exe("usr/bin/true", b"#!/bin/sh\nexit 0\n");
    let apps = Layer::new()
        .file(
            "usr/lib/python3/dist-packages/urllib3-1.24.1.dist-info/METADATA",
            URLLIB3_METADATA.as_bytes(),
        )
        .file(
            "app/node_modules/lodash/package.json",
            LODASH_PACKAGE_JSON.as_bytes(),
        )
        .file("app/package-lock.json", PACKAGE_LOCK_V3.as_bytes())
        .file("src/rust-app/Cargo.lock", CARGO_LOCK.as_bytes())
        .exe("usr/local/bin/goapp", &go_elf("go1.20.1", GO_MODINFO))
        .file("opt/app.jar", &log4j_jar())
        .file(
            "usr/lib/ruby/gems/2.7.0/specifications/rack-2.2.3.gemspec",
            RACK_GEMSPEC.as_bytes(),
        )
        .file("var/www/composer.lock", COMPOSER_LOCK.as_bytes())
        .file("srv/dotnet/App.deps.json", DEPS_JSON.as_bytes());
    vec![
        (gzip(&base.tar()), GZIP_LAYER),
        (zstd(&apps.tar()), ZSTD_LAYER),
    ]
}
