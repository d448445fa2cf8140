//! Hard bounds on what one scan may read, so that a hostile image cannot exhaust memory,
//! disk or time.

use serde::{Deserialize, Serialize};

/// Bounds applied while reading layers. Every read is checked against them; a violation
/// stops the layer with a [`crate::LimitError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Decompressed bytes one layer may produce (tar headers and contents together).
    pub max_layer_bytes: u64,
    /// Largest package-metadata file read into memory (status files, lock files, rpmdb).
    pub max_file_size: u64,
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
            max_artifact_size: 512 << 20,
            max_entries: 2_000_000,
            max_path_len: 4096,
            max_symlink_hops: 40,
            max_archive_depth: 4,
            max_document_size: 4 << 20,
        }
    }
}
