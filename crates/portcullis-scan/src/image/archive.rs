//! `docker save` archives: a tar holding `manifest.json`, image configs and layer tars.
//! The archive is indexed once (member offsets) and layers are then read in place.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use portcullis_types::{Digest, ParsedManifest, media};
use serde::Deserialize;
use serde_json::json;

use super::BlobSource;
use crate::error::{LimitError, ScanError};
use crate::limits::Limits;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigRootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

#[derive(Deserialize)]
struct Config {
    rootfs: Option<ConfigRootfs>,
}

/// A `docker save` archive opened for scanning. Its images are presented as Docker
/// schema 2 manifests (an index when the archive holds several).
pub struct DockerArchive {
    path: PathBuf,
    members: HashMap<Digest, (u64, u64)>,
    documents: HashMap<Digest, Vec<u8>>,
    root: (ParsedManifest, Digest),
}

fn read_member(path: &Path, (offset, size): (u64, u64), limit: u64) -> Result<Vec<u8>, ScanError> {
    if size > limit {
        return Err(LimitError::DocumentTooLarge { limit }.into());
    }
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(size as usize);
    f.take(size).read_to_end(&mut buf)?;
    Ok(buf)
}

fn malformed(msg: impl Into<String>) -> ScanError {
    ScanError::MalformedImage(msg.into())
}

impl DockerArchive {
    /// Indexes the archive at `path` and builds manifests for the images it holds.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self, ScanError> {
        let mut index: HashMap<String, (u64, u64)> = HashMap::new();
        let mut archive = tar::Archive::new(File::open(path)?);
        for entry in archive.entries_with_seek()? {
            let entry = entry?;
            if index.len() as u64 >= limits.max_entries {
                return Err(LimitError::TooManyEntries {
                    limit: limits.max_entries,
                }
                .into());
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes())
                .trim_start_matches("./")
                .to_string();
            index.insert(name, (entry.raw_file_position(), entry.size()));
        }
        let manifest_at = *index
            .get("manifest.json")
            .ok_or_else(|| malformed("archive has no manifest.json"))?;
        let entries: Vec<ArchiveEntry> =
            serde_json::from_slice(&read_member(path, manifest_at, limits.max_document_size)?)
                .map_err(|e| malformed(format!("manifest.json: {e}")))?;
        if entries.is_empty() {
            return Err(malformed("manifest.json lists no image"));
        }

        let mut members = HashMap::new();
        let mut documents = HashMap::new();
        let mut children = Vec::new();
        for e in &entries {
            let at = |name: &str| {
                index
                    .get(name)
                    .copied()
                    .ok_or_else(|| malformed(format!("archive has no member {name}")))
            };
            let config_bytes = read_member(path, at(&e.config)?, limits.max_document_size)?;
            let config: Config = serde_json::from_slice(&config_bytes)
                .map_err(|err| malformed(format!("{}: {err}", e.config)))?;
            let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
            let config_digest = Digest::sha256_of(&config_bytes);
            documents.insert(config_digest.clone(), config_bytes.clone());
            let mut layers = Vec::new();
            for (i, name) in e.layers.iter().enumerate() {
                let (offset, size) = at(name)?;
                // Newer archives name layers by digest; older ones by a directory whose
                // layer.tar is the uncompressed layer, whose digest is the diff id.
                let digest = match name.strip_prefix("blobs/sha256/") {
                    Some(hex) => Digest::parse(&format!("sha256:{hex}")).ok(),
                    None => None,
                }
                .or_else(|| diff_ids.get(i).cloned())
                .unwrap_or_else(|| Digest::sha256_of(name.as_bytes()));
                members.insert(digest.clone(), (offset, size));
                layers.push(json!({
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                    "digest": digest,
                    "size": size,
                }));
            }
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": media::DOCKER_MANIFEST,
                "config": {"mediaType": media::DOCKER_CONFIG, "digest": config_digest, "size": config_bytes.len()},
                "layers": layers,
            }))
            .map_err(|e| malformed(e.to_string()))?;
            let digest = Digest::sha256_of(&manifest);
            children.push(json!({"mediaType": media::DOCKER_MANIFEST, "digest": digest, "size": manifest.len()}));
            documents.insert(digest, manifest);
        }
        let root_bytes = if children.len() == 1 {
            let d = Digest::parse(children[0]["digest"].as_str().unwrap_or_default())
                .map_err(|e| malformed(e.to_string()))?;
            documents[&d].clone()
        } else {
            serde_json::to_vec(
                &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": children}),
            )
            .map_err(|e| malformed(e.to_string()))?
        };
        let root =
            ParsedManifest::parse(&root_bytes, None).map_err(|e| malformed(e.to_string()))?;
        let root_digest = Digest::sha256_of(&root_bytes);
        documents.insert(root_digest.clone(), root_bytes);
        Ok(DockerArchive {
            path: path.to_path_buf(),
            members,
            documents,
            root: (root, root_digest),
        })
    }

    /// The root manifest (or index) and its digest.
    pub fn manifest(&self) -> &(ParsedManifest, Digest) {
        &self.root
    }
}

impl BlobSource for DockerArchive {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + Send + '_>> {
        if let Some(doc) = self.documents.get(digest) {
            return Ok(Box::new(io::Cursor::new(doc.clone())));
        }
        let (offset, size) = *self
            .members
            .get(digest)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no blob {digest}")))?;
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f.take(size)))
    }
}
