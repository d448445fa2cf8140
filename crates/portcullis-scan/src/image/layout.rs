//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use portcullis_types::{Digest, ParsedManifest, media};

use super::BlobSource;
use crate::error::{LimitError, ScanError};
use crate::limits::Limits;

/// An OCI image layout on the local file system.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens the layout at `root`, which must hold `oci-layout` and `index.json`.
    pub fn open(root: &Path) -> Result<Self, ScanError> {
        for f in ["oci-layout", "index.json"] {
            if !root.join(f).is_file() {
                return Err(ScanError::MalformedImage(format!(
                    "{} is not an OCI image layout: {f} is missing",
                    root.display()
                )));
            }
        }
        Ok(OciLayout {
            root: root.to_path_buf(),
        })
    }

    /// The layout's `index.json`.
    pub fn index(&self, limits: &Limits) -> Result<ParsedManifest, ScanError> {
        let mut buf = Vec::new();
        File::open(self.root.join("index.json"))?
            .take(limits.max_document_size + 1)
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > limits.max_document_size {
            return Err(LimitError::DocumentTooLarge {
                limit: limits.max_document_size,
            }
            .into());
        }
        ParsedManifest::parse(&buf, Some(media::OCI_INDEX))
            .map_err(|e| ScanError::MalformedImage(format!("index.json: {e}")))
    }
}

impl BlobSource for OciLayout {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + Send + '_>> {
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex());
        Ok(Box::new(File::open(path)?))
    }
}
