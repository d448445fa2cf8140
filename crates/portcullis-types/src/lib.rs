//! Validated value types shared by every Portcullis crate. Nothing here does I/O.
//!
//! Types are built only by validating constructors ("parse, don't validate"), so a
//! `Digest`, `RepoName` or `Tag` in a signature is already known to be well formed.

pub mod digest;
pub mod error;
#[cfg(test)]
mod fuzz_targets;
pub mod manifest;
pub mod name;
pub mod range;
pub mod severity;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error::{ErrorBody, ErrorCode, ErrorEntry};
pub use manifest::{Descriptor, ManifestError, ManifestKind, ParsedManifest, Platform, media};
pub use name::{NameError, ProjectName, Reference, RepoName, Tag};
pub use range::{RangeError, parse_content_range, parse_range};
pub use severity::Severity;
