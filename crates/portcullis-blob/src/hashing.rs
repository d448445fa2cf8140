//! Running hashes of upload sessions, and their persisted form.
//!
//! A chunked upload does not know its digest algorithm until it completes, so sessions
//! hash with SHA-256 (what clients use) as data arrives; a session completed with a
//! SHA-512 digest re-hashes its stored data once instead.

use portcullis_types::{Algorithm, Digest, Hasher};
use sha2::digest::common::hazmat::SerializableState;

use crate::BlobError;

/// SHA-256 hash state after some prefix of an upload, as lowercase hex.
pub(crate) fn save(h: &Hasher) -> Option<String> {
    match h {
        Hasher::Sha256(s) => Some(hex::encode(s.serialize().as_slice())),
        Hasher::Sha512(_) => None,
    }
}

/// The hasher saved by [`save`], or `None` if the text is not a valid SHA-256 state.
pub(crate) fn restore(text: &str) -> Option<Hasher> {
    let raw = hex::decode(text).ok()?;
    let arr = raw.as_slice().try_into().ok()?;
    sha2::Sha256::deserialize(arr).ok().map(Hasher::Sha256)
}

/// A fresh session hasher.
pub(crate) fn session_hasher() -> Hasher {
    Hasher::new(Algorithm::Sha256)
}

/// The digest of a session's content under `expected`'s algorithm, if the running
/// hasher can give it without re-reading the data.
pub(crate) fn finish_for(running: Option<Hasher>, expected: &Digest) -> Option<Digest> {
    running
        .filter(|h| h.algorithm() == expected.algorithm())
        .map(Hasher::finish)
}

/// Digest of `data` under `algo`.
pub(crate) fn digest_of(algo: Algorithm, data: &[u8]) -> Digest {
    let mut h = Hasher::new(algo);
    h.update(data);
    h.finish()
}

/// Checks the digest a client named against the one computed.
pub(crate) fn verify(expected: &Digest, computed: Digest) -> Result<(), BlobError> {
    if &computed == expected {
        Ok(())
    } else {
        Err(BlobError::DigestMismatch { computed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_serialization() {
        let mut h = session_hasher();
        h.update(&[7u8; 1000]);
        let text = save(&h).unwrap();
        let mut back = restore(&text).unwrap();
        h.update(b"tail");
        back.update(b"tail");
        assert_eq!(h.finish(), back.finish());
        let mut whole = session_hasher();
        whole.update(&[7u8; 1000]);
        whole.update(b"tail");
        let text_whole = save(&whole).unwrap();
        assert_eq!(
            restore(&text_whole).unwrap().finish(),
            Digest::sha256_of(&[[7u8; 1000].as_slice(), b"tail"].concat())
        );
    }

    #[test]
    fn rejects_garbage_state() {
        assert!(restore("zz").is_none());
        assert!(restore("00").is_none());
        assert!(restore("").is_none());
    }

    #[test]
    fn finish_only_for_matching_algorithm() {
        let d256 = Digest::sha256_of(b"x");
        let mut h = session_hasher();
        h.update(b"x");
        assert_eq!(finish_for(Some(h.clone()), &d256), Some(d256.clone()));
        let mut h512 = Hasher::new(Algorithm::Sha512);
        h512.update(b"x");
        let d512 = h512.finish();
        assert_eq!(finish_for(Some(h), &d512), None);
        assert_eq!(finish_for(None, &d256), None);
    }
}
