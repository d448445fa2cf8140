//! Verifying image signatures offline: cosign signatures against trusted public keys
//! and notation signatures against trusted X.509 certificates. Nothing here does I/O;
//! the registry finds the signature artifacts and hands their bytes over.
//!
//! A signature counts only when it verifies cryptographically with trusted material AND
//! its signed payload names the digest of the artifact being judged, so a valid
//! signature of another image, or a payload edited after signing, never counts.

pub mod cosign;
mod keys;
pub mod notation;
mod x509;

#[cfg(feature = "testing")]
pub mod testing;

pub use keys::{Hash, PublicKey, Scheme, fingerprint};
pub use x509::Cert;

/// A cosign public key trusted by a project.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub name: String,
    pub key: PublicKey,
}

impl TrustedKey {
    pub fn from_pem(name: &str, pem: &str) -> Result<Self, TrustError> {
        Ok(TrustedKey {
            name: name.to_string(),
            key: PublicKey::from_pem(pem)?,
        })
    }
}

/// An X.509 certificate trusted by a project for notation signatures.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub name: String,
    pub cert: Cert,
}

impl TrustAnchor {
    /// Every certificate of a PEM bundle, named `name` (with `#n` after the first).
    pub fn from_pem(name: &str, pem: &str) -> Result<Vec<Self>, TrustError> {
        Ok(Cert::from_pem_bundle(pem)?
            .into_iter()
            .enumerate()
            .map(|(i, cert)| TrustAnchor {
                name: if i == 0 {
                    name.to_string()
                } else {
                    format!("{name}#{i}")
                },
                cert,
            })
            .collect())
    }
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// It verifies with the named key or certificate and names the artifact.
    Verified { key: String },
    /// It does not count, and why.
    Rejected(String),
}

/// Trusted material that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{0}")]
    Key(String),
    #[error("invalid certificate: {0}")]
    Certificate(String),
}
