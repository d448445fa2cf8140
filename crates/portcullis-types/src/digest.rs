//! Content digests (`algorithm:hex`), restricted to the algorithms the registry can verify.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("digest must have the form algorithm:hex")]
    Malformed,
    #[error("unsupported digest algorithm {0:?}; sha256 and sha512 are supported")]
    UnsupportedAlgorithm(String),
    #[error("digest hex part must be {expected} lowercase hexadecimal characters")]
    BadHex { expected: usize },
}

/// A validated digest. The string form is kept so that `Display` and `as_str` are free.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algo: Algorithm,
    text: String,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (algo, hex) = s.split_once(':').ok_or(DigestError::Malformed)?;
        if algo.is_empty() || hex.is_empty() {
            return Err(DigestError::Malformed);
        }
        let algo = match algo {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                // The spec's grammar for algorithm names; anything outside it is malformed,
                // anything inside it that we cannot compute is unsupported.
                let ok = other.split(['+', '.', '_', '-']).all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                });
                return Err(if ok {
                    DigestError::UnsupportedAlgorithm(other.to_string())
                } else {
                    DigestError::Malformed
                });
            }
        };
        let expected = algo.hex_len();
        if hex.len() != expected || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::BadHex { expected });
        }
        Ok(Digest {
            algo,
            text: s.to_string(),
        })
    }

    /// SHA-256 of `data`, the registry's default algorithm.
    pub fn sha256_of(data: &[u8]) -> Self {
        Self::of(Algorithm::Sha256, data)
    }

    /// The digest of `data` with `algo`.
    pub fn of(algo: Algorithm, data: &[u8]) -> Self {
        let mut h = Hasher::new(algo);
        h.update(data);
        h.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algo
    }

    pub fn hex(&self) -> &str {
        &self.text[self.algo.as_str().len() + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `data` hashes to this digest.
    pub fn verify(&self, data: &[u8]) -> bool {
        let mut h = Hasher::new(self.algo);
        h.update(data);
        h.finish() == *self
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Incremental hasher for either supported algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algo: Algorithm) -> Self {
        match algo {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        let algo = self.algorithm();
        let hex = match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        };
        Digest {
            algo,
            text: format!("{}:{hex}", algo.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = Digest::sha256_of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.hex().len(), 64);
        assert!(matches!(
            Digest::parse("sha256"),
            Err(DigestError::Malformed)
        ));
        assert!(matches!(
            Digest::parse("sha256:abc"),
            Err(DigestError::BadHex { expected: 64 })
        ));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Digest::parse("SHA256:abc"),
            Err(DigestError::Malformed)
        ));
        let upper = format!("sha256:{}", d.hex().to_uppercase());
        assert!(Digest::parse(&upper).is_err());
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"abc");
        let d512 = h.finish();
        assert_eq!(d512.hex().len(), 128);
        assert!(d512.verify(b"abc"));
        assert!(!d512.verify(b"abd"));
    }
}
