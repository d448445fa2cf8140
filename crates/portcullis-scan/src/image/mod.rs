//! Where images come from: an OCI image layout directory, a `docker save` archive, or the
//! registry's blob store behind [`BlobSource`].

mod archive;
mod layout;

use std::io::{self, Read};
use std::path::Path;

use portcullis_types::{Digest, ParsedManifest, Platform, media};

pub use archive::DockerArchive;
pub use layout::OciLayout;

use crate::error::{LimitError, ScanError};
use crate::limits::Limits;

/// Blobs by digest. Reads are synchronous: the scanner decompresses and parses on the
/// calling thread, so async callers run it on a blocking thread (e.g. with
/// `tokio::task::spawn_blocking` and `tokio_util::io::SyncIoBridge` over the blob store's
/// stream). Dropping the reader cancels the read.
pub trait BlobSource: Sync {
    /// Opens the blob `digest` for reading from its start.
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + Send + '_>>;
}

/// Reads a whole manifest, index or config blob, bounded by `limits.max_document_size`.
pub fn read_document(
    source: &dyn BlobSource,
    digest: &Digest,
    limits: &Limits,
) -> Result<Vec<u8>, ScanError> {
    let mut buf = Vec::new();
    source
        .open(digest)?
        .take(limits.max_document_size + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > limits.max_document_size {
        return Err(LimitError::DocumentTooLarge {
            limit: limits.max_document_size,
        }
        .into());
    }
    if !digest.verify(&buf) {
        return Err(ScanError::MalformedImage(format!(
            "blob {digest} does not match its digest"
        )));
    }
    Ok(buf)
}

/// A platform filter such as `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFilter {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::str::FromStr for PlatformFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(PlatformFilter {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() => Ok(PlatformFilter {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(format!("platform {s:?} is not os/arch[/variant]")),
        }
    }
}

impl std::fmt::Display for PlatformFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl PlatformFilter {
    /// Whether `p` is this platform.
    pub fn matches(&self, p: &Platform) -> bool {
        p.os == self.os
            && p.architecture == self.architecture
            && (self.variant.is_none() || self.variant == p.variant)
    }
}

/// One image manifest reached from the scan's root, with its platform when an index
/// declared one.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub digest: Option<Digest>,
    pub platform: Option<Platform>,
    pub manifest: ParsedManifest,
}

fn is_attestation(d: &portcullis_types::Descriptor) -> bool {
    d.platform.as_ref().is_some_and(|p| p.os == "unknown")
        || d.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("vnd.docker.reference.type"))
}

/// Follows an index down to its image manifests (nested indexes too), keeping those that
/// match `platform`. Attestation manifests are skipped.
pub fn resolve_images(
    source: &dyn BlobSource,
    root: &ParsedManifest,
    root_digest: Option<&Digest>,
    platform: Option<&PlatformFilter>,
    limits: &Limits,
) -> Result<Vec<ResolvedImage>, ScanError> {
    let mut out = Vec::new();
    walk(
        source,
        root,
        root_digest,
        None,
        platform,
        limits,
        0,
        &mut out,
    )?;
    if out.is_empty()
        && let Some(p) = platform
    {
        return Err(ScanError::NoSuchPlatform(p.to_string()));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    source: &dyn BlobSource,
    m: &ParsedManifest,
    digest: Option<&Digest>,
    declared: Option<&Platform>,
    filter: Option<&PlatformFilter>,
    limits: &Limits,
    depth: u32,
    out: &mut Vec<ResolvedImage>,
) -> Result<(), ScanError> {
    if !m.kind.is_index() {
        if let (Some(f), Some(p)) = (filter, declared)
            && !f.matches(p)
        {
            return Ok(());
        }
        out.push(ResolvedImage {
            digest: digest.cloned(),
            platform: declared.cloned(),
            manifest: m.clone(),
        });
        return Ok(());
    }
    if depth >= 4 {
        return Err(ScanError::MalformedImage("indexes nest too deeply".into()));
    }
    for child in &m.manifests {
        if !media::is_manifest(&child.media_type) || is_attestation(child) {
            continue;
        }
        if let (Some(f), Some(p)) = (filter, &child.platform)
            && child.media_type != media::OCI_INDEX
            && child.media_type != media::DOCKER_LIST
            && !f.matches(p)
        {
            continue;
        }
        let bytes = read_document(source, &child.digest, limits)?;
        let parsed = ParsedManifest::parse(&bytes, Some(&child.media_type))
            .map_err(|e| ScanError::MalformedImage(format!("{}: {e}", child.digest)))?;
        walk(
            source,
            &parsed,
            Some(&child.digest),
            child.platform.as_ref().or(declared),
            filter,
            limits,
            depth + 1,
            out,
        )?;
    }
    Ok(())
}

/// An image on disk, opened for scanning.
pub struct OpenedImage {
    pub source: Box<dyn BlobSource + Send>,
    pub root: ParsedManifest,
    pub root_digest: Option<Digest>,
}

/// Opens an OCI image layout directory or a `docker save` archive.
pub fn open_path(path: &Path, limits: &Limits) -> Result<OpenedImage, ScanError> {
    if path.is_dir() {
        let layout = OciLayout::open(path)?;
        let root = layout.index(limits)?;
        Ok(OpenedImage {
            source: Box::new(layout),
            root,
            root_digest: None,
        })
    } else {
        let archive = DockerArchive::open(path, limits)?;
        let (root, digest) = archive.manifest().clone();
        Ok(OpenedImage {
            source: Box::new(archive),
            root,
            root_digest: Some(digest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_filter() {
        let f: PlatformFilter = "linux/arm64/v8".parse().unwrap();
        let p = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            os_version: None,
            variant: Some("v8".into()),
        };
        assert!(f.matches(&p));
        assert!(
            "linux/amd64"
                .parse::<PlatformFilter>()
                .unwrap()
                .matches(&Platform {
                    architecture: "amd64".into(),
                    os: "linux".into(),
                    os_version: None,
                    variant: None
                })
        );
        assert!("linux".parse::<PlatformFilter>().is_err());
        assert_eq!(f.to_string(), "linux/arm64/v8");
    }
}
