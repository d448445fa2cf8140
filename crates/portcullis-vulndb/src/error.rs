//! Errors of the vulnerability database.

use std::path::PathBuf;

/// Why an operation on the vulnerability database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No database has been imported into this directory yet.
    #[error(
        "no vulnerability database in {0}: run `portcullis vulndb import` or `portcullis vulndb update` first"
    )]
    Missing(PathBuf),
    /// The index file exists but cannot be read as one.
    #[error("vulnerability database {path} is damaged ({reason}); import again to rebuild it")]
    Corrupt {
        /// The index file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An import source is neither a directory, an OSV file nor a readable zip archive.
    #[error("cannot import {path}: {reason}")]
    Source {
        /// The path given to import.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A download for `vulndb update` failed (no network, HTTP error, interrupted body).
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Data that cannot be stored (e.g. an absurdly long package name).
    #[error("invalid data: {0}")]
    Invalid(String),
}
