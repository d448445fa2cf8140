//! Hard bounds on what one scan may read, so that a hostile image cannot exhaust memory,
//! disk or time.

use serde::{Deserialize, Serialize};

/// Bounds applied while reading layers. Every read is checked against them; a violation
/// stops the layer with a [`crate::LimitError`]. What the scans of a process hold
/// together is bounded by a [`crate::MemoryBudget`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Decompressed bytes one layer may produce (tar headers and contents together).
    pub max_layer_bytes: u64,
    /// Largest binary package database read into memory (`rpmdb.sqlite`, whose headers
    /// carry file lists and changelogs and so run larger than text databases).
    pub max_file_size: u64,
    /// Largest text package database or manifest read into memory (dpkg status, apk
    /// installed, lock files, METADATA, …). Real ones stay under 10 MB.
    pub max_package_db_size: u64,
    /// Packages one file, one layer or one image may list. Big real images list fewer
    /// than 10,000.
    pub max_packages: u64,
    /// Length of a line of a text package database, and of a value taken from one.
    pub max_line_len: usize,
    /// Largest binary or archive (ELF, jar) inspected; larger ones are skipped with a note.
    pub max_artifact_size: u64,
    /// Tar entries in one layer.
    pub max_entries: u64,
    /// Length in bytes of one entry's path.
    pub max_path_len: usize,
    /// Symbolic-link hops followed when resolving a path in the final file system view.
    pub max_symlink_hops: u32,
    /// Depth of jars nested inside jars.
    pub max_archive_depth: u32,
    /// Size of a manifest, index or config document.
    pub max_document_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 16 << 30,
            max_file_size: 128 << 20,
            max_package_db_size: 32 << 20,
            max_packages: 200_000,
            max_line_len: 64 << 10,
            max_artifact_size: 512 << 20,
            max_entries: 2_000_000,
            max_path_len: 4096,
            max_symlink_hops: 40,
            max_archive_depth: 4,
            max_document_size: 4 << 20,
        }
    }
}
