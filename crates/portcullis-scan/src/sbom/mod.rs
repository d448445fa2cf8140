//! Software bills of materials from an image inventory: SPDX 2.3 and CycloneDX 1.5, both
//! JSON, with packages in inventory order so the same image gives the same document.

mod cyclonedx;
mod spdx;

pub use cyclonedx::cyclonedx;
pub use spdx::spdx;

/// What the document describes.
#[derive(Debug, Clone)]
pub struct SbomSubject {
    /// Image name (repository and tag, or the scanned path).
    pub name: String,
    /// Manifest digest, when known; it makes the document's namespace stable.
    pub digest: Option<String>,
    /// Creation time, RFC 3339.
    pub created: String,
}

pub(crate) fn tool() -> String {
    format!("portcullis-{}", env!("CARGO_PKG_VERSION"))
}
