//! cosign signatures: an OCI manifest whose layers are "simple signing" payloads, each
//! with its signature in the `dev.cosignproject.cosign/signature` annotation. It is
//! found either by the tag `sha256-<hex>.sig` in the image's repository, or as a
//! referrer of the image with cosign's artifact type.

use base64::Engine as _;
use portcullis_types::Digest;
use serde::Deserialize;

use crate::{Check, TrustedKey};

/// The media type of a simple signing payload layer.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 signature of a payload layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// What the payload's `critical.type` says.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag cosign gives the signatures of `digest` (`sha256-<hex>.sig`).
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().as_str(), digest.hex())
}

/// One signed payload of a cosign signature manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    /// The payload blob.
    pub payload: Digest,
    /// The signature bytes, decoded from the annotation.
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// The signed payloads a cosign signature manifest lists; layers without a decodable
/// signature are skipped (they cannot verify anyway).
pub fn signed_payloads(manifest: &[u8]) -> Vec<SignedPayload> {
    let Ok(m) = serde_json::from_slice::<Manifest>(manifest) else {
        return Vec::new();
    };
    m.layers
        .into_iter()
        .filter(|l| l.media_type == PAYLOAD_MEDIA_TYPE)
        .filter_map(|l| {
            let payload = Digest::parse(&l.digest).ok()?;
            let sig = l.annotations.get(SIGNATURE_ANNOTATION)?;
            let signature = base64::engine::general_purpose::STANDARD
                .decode(sig.trim())
                .ok()?;
            Some(SignedPayload { payload, signature })
        })
        .collect()
}

#[derive(Deserialize)]
struct SimpleSigning {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

/// Checks one payload and its signature: it must be signed by one of `keys` and name
/// `expected` as the signed manifest.
pub fn verify(payload: &[u8], signature: &[u8], expected: &Digest, keys: &[TrustedKey]) -> Check {
    let parsed: SimpleSigning = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            return Check::Rejected(format!(
                "the cosign payload is not simple signing JSON: {e}"
            ));
        }
    };
    if parsed.critical.kind != PAYLOAD_TYPE {
        return Check::Rejected(format!(
            "the cosign payload type is {:?}, not {PAYLOAD_TYPE:?}",
            parsed.critical.kind
        ));
    }
    // The signature must be checked before the digest is believed; both are required.
    let Some(key) = keys
        .iter()
        .find(|k| k.key.verify_cosign(payload, signature))
    else {
        return Check::Rejected("no trusted key verifies the cosign signature".into());
    };
    if parsed.critical.image.digest != expected.as_str() {
        return Check::Rejected(format!(
            "the cosign signature by {} is for {}, not {expected}",
            key.name, parsed.critical.image.digest
        ));
    }
    Check::Verified {
        key: key.name.clone(),
    }
}
