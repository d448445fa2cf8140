//! Image scanning for Portcullis: image → final file system view → packages →
//! vulnerabilities → Harbor report and SBOM. No HTTP and no registry database here.
//!
//! # Reading images
//! Layers are read as streams (gzip, zstd or plain tar, told by media type and magic
//! bytes) and never unpacked: each entry's path decides whether a detector wants it, and
//! only those files are read into memory. Every read is bounded by [`Limits`]; a hostile
//! layer stops with a [`LimitError`]. What the scans of a process hold together is
//! bounded by a [`MemoryBudget`]: each scan reserves from it ([`ScanOptions::memory`])
//! before it reads a file into memory or grows its inventory. Blobs come from an [`OciLayout`], a
//! [`DockerArchive`], or the registry's blob store through [`BlobSource`].
//!
//! # For the registry
//! * [`scan_image`] scans a manifest or index whose blobs a [`BlobSource`] serves and
//!   returns one [`ImageScan`] per image. It blocks: call it from a blocking thread.
//! * To rescan without re-reading layers, cache each layer's [`LayerInventory`] (it is
//!   serde-serializable) by layer digest, either through [`ScanOptions::cache`]
//!   ([`LayerCache`]) or by calling [`inventory_of_layer`] yourself, then call
//!   [`match_inventory`] with the layers bottom-first. Bump the cache when
//!   [`INVENTORY_VERSION`] changes.
//! * [`report::harbor_report`] builds Harbor's report
//!   ([`report::HARBOR_REPORT_MIME`]); [`report::ScanSummary`] is what the scan overview
//!   and the pull gate need. An image whose packages cannot be determined has
//!   [`ScanStatus::Unsupported`] and must never be shown as clean.
//! * [`sbom::spdx`] and [`sbom::cyclonedx`] write SBOMs from an [`ImageInventory`].
//! * `portcullis_vulndb::VulnDb` and `SharedVulnDb` implement [`Advisories`].
//!
//! # Command line
//! [`cli::ScanArgs`] and [`cli::run`] are `portcullis scan`.

pub mod budget;
pub mod cli;
mod db;
pub mod detect;
pub mod error;
#[cfg(test)]
mod fuzz_targets;
pub mod image;
pub mod inventory;
pub mod layer;
pub mod limits;
pub mod matching;
pub mod merge;
pub mod purl;
pub mod report;
pub mod sbom;
pub mod scan;

pub use budget::{MemoryBudget, ScanMemory};
pub use error::{LimitError, ScanError};
pub use image::{BlobSource, DockerArchive, OciLayout, PlatformFilter};
pub use inventory::{
    Catalog, FileContent, INVENTORY_VERSION, LayerFile, LayerInventory, Package, PackageType,
};
pub use layer::{inventory_of_layer, inventory_of_layer_within};
pub use limits::Limits;
pub use matching::{Advisories, Advisory, CvssScore, ScanResult, ScanStatus, Vulnerability};
pub use merge::{ImageInventory, ImagePackage};
pub use scan::{
    ImageScan, LayerCache, Progress, ScanOptions, ScanOutcome, match_inventory, scan_image,
};
