//! Image scanning for Portcullis.
pub mod detect;
pub mod error;
pub mod inventory;
pub mod layer;
pub mod limits;

pub use error::{LimitError, ScanError};
pub use inventory::*;
pub use layer::inventory_of_layer;
pub use limits::Limits;
pub mod merge;
pub mod purl;
pub use merge::{ImageInventory, ImagePackage};
pub mod image;
pub use image::{BlobSource, DockerArchive, OciLayout, PlatformFilter};
pub mod matching;
pub mod scan;
pub use matching::{Advisories, Advisory, CvssScore, ScanResult, ScanStatus, Vulnerability};
pub use scan::{
    ImageScan, LayerCache, Progress, ScanOptions, ScanOutcome, match_inventory, scan_image,
};
pub mod cli;
mod db;
pub mod report;
pub mod sbom;
