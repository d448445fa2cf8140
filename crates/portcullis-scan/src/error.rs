//! Errors of the scanner. Limit violations are kept apart so that callers can tell a
//! hostile or oversized image from an I/O failure.

use std::io;

/// A configured bound that a layer or image exceeded. Each message names the bound (a
/// field of [`crate::Limits`] or the budget's setting), since that is what a user who
/// sees it in a scan log has to look up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("layer decompresses to more than {limit} bytes (limit max_layer_bytes)")]
    LayerTooLarge { limit: u64 },
    #[error(
        "file {path} is {size} bytes, more than the {limit}-byte limit for one file \
         (limit {bound})"
    )]
    FileTooLarge {
        path: String,
        size: u64,
        limit: u64,
        /// Which field of [`crate::Limits`] applies to this kind of file.
        bound: &'static str,
    },
    #[error("layer has more than {limit} entries (limit max_entries)")]
    TooManyEntries { limit: u64 },
    #[error("path of {len} bytes is longer than the {limit}-byte limit (limit max_path_len)")]
    PathTooLong { len: usize, limit: usize },
    #[error("entry name {path:?} climbs out of the layer root")]
    PathTraversal { path: String },
    #[error("entry name {path:?} is absolute")]
    AbsolutePath { path: String },
    #[error(
        "symbolic links from {path} loop or chain more than {limit} times \
         (limit max_symlink_hops)"
    )]
    SymlinkLoop { path: String, limit: u32 },
    #[error("manifest or config blob is larger than {limit} bytes (limit max_document_size)")]
    DocumentTooLarge { limit: u64 },
    /// `what` is the file (`dpkg status file var/lib/dpkg/status`), the layer or the image.
    #[error("{what} has more than {limit} packages (limit max_packages)")]
    TooManyPackages { what: String, limit: u64 },
    #[error("{path} has a line or value longer than {limit} bytes (limit max_line_len)")]
    LineTooLong { path: String, limit: usize },
    #[error(
        "scan needs {} MiB of memory at once, more than the whole scan memory budget of \
         {} MiB (setting scan_memory_budget_mb)",
        mib(*needed),
        mib(*budget)
    )]
    OverBudget { needed: u64, budget: u64 },
    #[error(
        "scan memory budget of {} MiB is held by concurrent scans that all wait for more; \
         scan again later (setting scan_memory_budget_mb)",
        mib(*budget)
    )]
    BudgetBusy { budget: u64 },
}

/// Mebibytes, rounded up, for messages.
fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Everything that can stop a scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("layer {layer}: {source}")]
    InLayer {
        layer: String,
        #[source]
        source: Box<ScanError>,
    },
    #[error("malformed layer: {0}")]
    MalformedLayer(String),
    #[error("malformed image: {0}")]
    MalformedImage(String),
    #[error("no image matches platform {0}")]
    NoSuchPlatform(String),
    #[error("vulnerability database: {0}")]
    Database(String),
    #[error(transparent)]
    Io(io::Error),
}

impl ScanError {
    /// The limit violation behind this error, if it is one.
    pub fn limit(&self) -> Option<&LimitError> {
        match self {
            ScanError::Limit(l) => Some(l),
            ScanError::InLayer { source, .. } => source.limit(),
            _ => None,
        }
    }

    pub(crate) fn in_layer(self, layer: impl Into<String>) -> ScanError {
        ScanError::InLayer {
            layer: layer.into(),
            source: Box::new(self),
        }
    }
}

impl From<io::Error> for ScanError {
    /// Limit violations raised inside `Read` adapters travel as `io::Error`s; unwrap them
    /// here so they keep their type.
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<LimitError>()) {
            let inner = e.into_inner().expect("checked above");
            match inner.downcast::<LimitError>() {
                Ok(l) => return ScanError::Limit(*l),
                Err(other) => return ScanError::Io(io::Error::other(other)),
            }
        }
        ScanError::Io(e)
    }
}

/// Wraps a limit violation so that it can cross a `Read` boundary.
pub(crate) fn limit_io(l: LimitError) -> io::Error {
    io::Error::other(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_survives_io_roundtrip() {
        let e: ScanError = limit_io(LimitError::TooManyEntries { limit: 3 }).into();
        assert_eq!(e.limit(), Some(&LimitError::TooManyEntries { limit: 3 }));
        let plain: ScanError = io::Error::other("boom").into();
        assert!(plain.limit().is_none());
        let nested = ScanError::from(LimitError::LayerTooLarge { limit: 1 }).in_layer("sha256:x");
        assert!(nested.to_string().contains("sha256:x"));
        assert!(nested.limit().is_some());
    }
}
