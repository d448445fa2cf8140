//! Manifest and index parsing: enough structure to validate what a client pushes and to
//! know which blobs, child manifests and subject it refers to. The bytes themselves are
//! stored unchanged; this is a read-only view of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const DOCKER_FOREIGN_LAYER: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const OCI_NONDISTRIBUTABLE_PREFIX: &str =
        "application/vnd.oci.image.layer.nondistributable.";
    pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
    pub const COSIGN_SIGNATURE_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
    pub const NOTATION_SIGNATURE: &str = "application/vnd.cncf.notary.signature";

    /// Whether a media type names a manifest kind the registry stores.
    pub fn is_manifest(mt: &str) -> bool {
        matches!(mt, OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    OciImage,
    OciIndex,
    DockerV2,
    DockerList,
}

impl ManifestKind {
    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciImage => media::OCI_MANIFEST,
            ManifestKind::OciIndex => media::OCI_INDEX,
            ManifestKind::DockerV2 => media::DOCKER_MANIFEST,
            ManifestKind::DockerList => media::DOCKER_LIST,
        }
    }

    pub fn is_index(self) -> bool {
        matches!(self, ManifestKind::OciIndex | ManifestKind::DockerList)
    }

    pub fn from_media_type(mt: &str) -> Option<Self> {
        Some(match mt {
            media::OCI_MANIFEST => ManifestKind::OciImage,
            media::OCI_INDEX => ManifestKind::OciIndex,
            media::DOCKER_MANIFEST => ManifestKind::DockerV2,
            media::DOCKER_LIST => ManifestKind::DockerList,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    /// Layers that the spec lets live elsewhere (foreign or non-distributable) need not
    /// exist in the registry.
    pub fn is_distributable(&self) -> bool {
        self.media_type != media::DOCKER_FOREIGN_LAYER
            && !self
                .media_type
                .starts_with(media::OCI_NONDISTRIBUTABLE_PREFIX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("manifest mediaType {body:?} does not match Content-Type {header:?}")]
    MediaTypeMismatch { header: String, body: String },
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// A validated view of a pushed manifest or index.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedManifest {
    pub kind: ManifestKind,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

impl ParsedManifest {
    /// The algorithm a manifest pushed by tag is named with: the one all its own
    /// descriptors use, so content built with sha512 keeps sha512 (what its author
    /// expects back in `Docker-Content-Digest`); sha256 otherwise.
    pub fn descriptor_algorithm(&self) -> crate::digest::Algorithm {
        let mut algos = self
            .config
            .iter()
            .chain(&self.layers)
            .chain(&self.manifests)
            .chain(&self.subject)
            .map(|d| d.digest.algorithm());
        match algos.next() {
            Some(first) if algos.all(|a| a == first) => first,
            _ => crate::digest::Algorithm::Sha256,
        }
    }

    /// Parses `bytes` pushed with `content_type` (the request's Content-Type, if any).
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        // JSON is UTF-8; the decoder skips unknown fields without looking at their bytes,
        // so without this check invalid text would be stored and served as a manifest.
        if std::str::from_utf8(bytes).is_err() {
            return Err(ManifestError::Invalid(
                "the manifest is not UTF-8 text".into(),
            ));
        }
        let raw: Raw =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        // Content-Type may carry parameters; only the type itself matters.
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| {
                !c.is_empty() && *c != "application/json" && *c != "application/octet-stream"
            });
        if let Some(h) = header
            && (h == media::DOCKER_SCHEMA1 || h == media::DOCKER_SCHEMA1_SIGNED)
        {
            return Err(ManifestError::UnsupportedMediaType(h.to_string()));
        }
        let declared = match (header, raw.media_type.as_deref()) {
            (Some(h), Some(b)) if h != b => {
                return Err(ManifestError::MediaTypeMismatch {
                    header: h.into(),
                    body: b.into(),
                });
            }
            (Some(h), _) => Some(h),
            (None, b) => b,
        };
        let kind = match declared {
            Some(mt) => ManifestKind::from_media_type(mt)
                .ok_or_else(|| ManifestError::UnsupportedMediaType(mt.to_string()))?,
            // Without any media type, the shape decides, as the OCI spec allows.
            None if raw.manifests.is_some() => ManifestKind::OciIndex,
            None if raw.config.is_some() => ManifestKind::OciImage,
            None => {
                return Err(ManifestError::Invalid(
                    "cannot tell the manifest's media type".into(),
                ));
            }
        };
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        let parsed = ParsedManifest {
            kind,
            artifact_type: raw.artifact_type,
            config: raw.config,
            layers: raw.layers.unwrap_or_default(),
            manifests: raw.manifests.unwrap_or_default(),
            subject: raw.subject,
            annotations: raw.annotations.unwrap_or_default(),
        };
        parsed.check_shape()?;
        Ok(parsed)
    }

    fn check_shape(&self) -> Result<(), ManifestError> {
        if self.kind.is_index() {
            if self.config.is_some() || !self.layers.is_empty() {
                return Err(ManifestError::Invalid(
                    "an index has no config or layers".into(),
                ));
            }
            if let Some(d) = self
                .manifests
                .iter()
                .find(|d| !media::is_manifest(&d.media_type))
            {
                // Indexes may legitimately point at other content (e.g. attestations in
                // newer tools); only the known manifest kinds are required to exist.
                let _ = d;
            }
        } else {
            if self.config.is_none() {
                return Err(ManifestError::Invalid(
                    "an image manifest needs a config descriptor".into(),
                ));
            }
            if !self.manifests.is_empty() {
                return Err(ManifestError::Invalid(
                    "an image manifest has no manifests list".into(),
                ));
            }
            if self.kind == ManifestKind::DockerV2 && self.artifact_type.is_some() {
                return Err(ManifestError::Invalid(
                    "a Docker schema 2 manifest has no artifactType".into(),
                ));
            }
        }
        if self.artifact_type.as_deref() == Some("") {
            return Err(ManifestError::Invalid(
                "artifactType must not be empty".into(),
            ));
        }
        Ok(())
    }

    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The artifact type the referrers API reports: `artifactType`, else the config's media
    /// type for image manifests (the spec's rule).
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or_else(|| self.config.as_ref().map(|c| c.media_type.as_str()))
    }

    /// Blobs this manifest needs in the repository: the config and distributable layers.
    pub fn required_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(self.layers.iter().filter(|l| l.is_distributable()))
    }

    /// Child manifests of an index that must exist in the repository.
    pub fn required_children(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests
            .iter()
            .filter(|d| media::is_manifest(&d.media_type))
    }

    /// Sum of the sizes of everything the manifest references, as Harbor reports an
    /// image's size (plus the manifest itself, which the caller adds).
    ///
    /// Saturates: sizes are whatever the pusher wrote, and two near `u64::MAX` would
    /// otherwise overflow.
    pub fn referenced_size(&self) -> u64 {
        self.config
            .iter()
            .chain(self.layers.iter())
            .fold(0u64, |total, d| total.saturating_add(d.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(data: &[u8]) -> String {
        Digest::sha256_of(data).to_string()
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":3}}]{extra}}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG,
            d(b"{}"),
            d(b"abc")
        )
    }

    #[test]
    fn image_manifest() {
        let m = ParsedManifest::parse(image("").as_bytes(), Some(media::OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, ManifestKind::OciImage);
        assert_eq!(m.required_blobs().count(), 2);
        assert_eq!(m.effective_artifact_type(), Some(media::OCI_CONFIG));
        assert_eq!(m.referenced_size(), 5);
    }

    /// Sizes near `u64::MAX` used to overflow the sum (a panic in debug builds).
    #[test]
    fn referenced_size_saturates() {
        let huge = image("").replace(r#""size":2"#, &format!(r#""size":{}"#, u64::MAX));
        let m = ParsedManifest::parse(huge.as_bytes(), None).unwrap();
        assert_eq!(m.referenced_size(), u64::MAX);
    }

    #[test]
    fn subject_and_artifact_type() {
        let extra = format!(
            r#","artifactType":"application/vnd.example+type","subject":{{"mediaType":"{}","digest":"{}","size":10}}"#,
            media::OCI_MANIFEST,
            d(b"s")
        );
        let m = ParsedManifest::parse(image(&extra).as_bytes(), None).unwrap();
        assert_eq!(
            m.effective_artifact_type(),
            Some("application/vnd.example+type")
        );
        assert_eq!(m.subject.unwrap().digest, Digest::sha256_of(b"s"));
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            ParsedManifest::parse(image("").as_bytes(), Some(media::DOCKER_MANIFEST)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            ParsedManifest::parse(b"{", None),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            ParsedManifest::parse(
                br#"{"schemaVersion":1,"config":{"mediaType":"x","digest":"sha256:00","size":1}}"#,
                None
            ),
            Err(ManifestError::Json(_))
        ));
        let no_config = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","layers":[]}}"#,
            media::OCI_MANIFEST
        );
        assert!(matches!(
            ParsedManifest::parse(no_config.as_bytes(), None),
            Err(ManifestError::Invalid(_))
        ));
        let v1 = image("").replace("\"schemaVersion\":2", "\"schemaVersion\":1");
        assert!(matches!(
            ParsedManifest::parse(v1.as_bytes(), None),
            Err(ManifestError::SchemaVersion)
        ));
        assert!(matches!(
            ParsedManifest::parse(b"{}", Some("application/vnd.foo")),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn index() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":7,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media::OCI_INDEX,
            media::OCI_MANIFEST,
            d(b"child")
        );
        let m = ParsedManifest::parse(body.as_bytes(), Some(media::OCI_INDEX)).unwrap();
        assert!(m.kind.is_index());
        assert_eq!(m.required_children().count(), 1);
    }
}
