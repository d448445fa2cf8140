//! Where things live, relative to the store's root (filesystem) or prefix (S3).

use portcullis_types::Digest;

use crate::UploadId;

/// `blobs/<algo>/<first two hex>/<hex>`: content-addressed and spread over 256 directories.
pub(crate) fn blob_key(d: &Digest) -> String {
    let hex = d.hex();
    format!("blobs/{}/{}/{}", d.algorithm().as_str(), &hex[..2], hex)
}

/// Directory (filesystem) or key prefix (S3) of one upload session.
pub(crate) fn upload_dir(id: &UploadId) -> String {
    format!("{UPLOADS}/{id}")
}

/// Parent of every upload session.
pub(crate) const UPLOADS: &str = "uploads";

/// Name of a session's persisted state inside its directory.
pub(crate) const STATE: &str = "state.json";

/// Name of a session's (assembled) data inside its directory.
pub(crate) const DATA: &str = "data";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_layout() {
        let d = Digest::sha256_of(b"");
        assert_eq!(
            blob_key(&d),
            "blobs/sha256/e3/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let id: UploadId = "6f1cab3b-9d2e-4c7a-8e5f-0a1b2c3d4e5f".parse().unwrap();
        assert_eq!(
            upload_dir(&id),
            "uploads/6f1cab3b-9d2e-4c7a-8e5f-0a1b2c3d4e5f"
        );
    }
}
