//! Public keys as cosign users hand them over (PEM `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC
//! KEY`), and signature checks for the schemes cosign, notation and X.509 use.

use p256::pkcs8::DecodePublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::signature::Verifier;
use sha2_10::{Digest as _, Sha256, Sha384, Sha512};

use crate::TrustError;

/// A public key of one of the kinds Portcullis verifies.
#[derive(Debug, Clone)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// A hash a signature scheme signs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(msg).to_vec(),
            Hash::Sha384 => Sha384::digest(msg).to_vec(),
            Hash::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

/// How a signature is laid out and padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA with an ASN.1 DER signature (cosign, X.509).
    EcdsaDer(Hash),
    /// ECDSA with the fixed-size `r || s` signature (JWS `ES256`, `ES384`, `ES512`).
    EcdsaFixed(Hash),
    /// RSA PKCS #1 v1.5.
    RsaPkcs1(Hash),
    /// RSA PSS with the salt as long as the hash (JWS `PS256`…, X.509 RSASSA-PSS).
    RsaPss(Hash),
    /// Ed25519 over the message itself.
    Ed25519,
}

impl PublicKey {
    /// A key from PEM: `PUBLIC KEY` (SubjectPublicKeyInfo) for ECDSA P-256 and P-384,
    /// Ed25519 and RSA, or `RSA PUBLIC KEY` (PKCS #1).
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        let pem = pem.trim();
        if pem.contains("BEGIN RSA PUBLIC KEY") {
            return rsa::RsaPublicKey::from_pkcs1_pem(pem)
                .map(PublicKey::Rsa)
                .map_err(|e| TrustError::Key(format!("invalid RSA public key: {e}")));
        }
        let (label, der) = pem_rfc7468_decode(pem)?;
        if label != "PUBLIC KEY" {
            return Err(TrustError::Key(format!(
                "expected a PEM block labelled PUBLIC KEY, found {label}"
            )));
        }
        Self::from_spki_der(&der)
    }

    /// A key from DER SubjectPublicKeyInfo (as in a certificate).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, TrustError> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::Ed25519(k));
        }
        if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(der) {
            use rsa::traits::PublicKeyParts;
            if k.size() < 256 {
                return Err(TrustError::Key(
                    "RSA keys shorter than 2048 bits are not accepted".into(),
                ));
            }
            return Ok(PublicKey::Rsa(k));
        }
        Err(TrustError::Key(
            "unsupported public key: use ECDSA P-256 or P-384, Ed25519 or RSA".into(),
        ))
    }

    /// The `sha256:` fingerprint of a PEM public key's SubjectPublicKeyInfo.
    pub fn spki_fingerprint_of_pem(pem: &str) -> Result<String, TrustError> {
        let (_, der) = pem_rfc7468_decode(pem.trim())?;
        Ok(fingerprint(&der))
    }

    /// The key's algorithm as the API shows it.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA-P256",
            PublicKey::P384(_) => "ECDSA-P384",
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::Rsa(_) => "RSA",
        }
    }

    /// Whether `sig` is this key's signature of `msg` under `scheme`.
    pub fn verify(&self, scheme: Scheme, msg: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match (self, scheme) {
            (PublicKey::P256(k), Scheme::EcdsaDer(h) | Scheme::EcdsaFixed(h)) => {
                let parsed = if matches!(scheme, Scheme::EcdsaDer(_)) {
                    p256::ecdsa::Signature::from_der(sig)
                } else {
                    p256::ecdsa::Signature::from_slice(sig)
                };
                parsed.is_ok_and(|s| k.verify_prehash(&h.digest(msg), &s).is_ok())
            }
            (PublicKey::P384(k), Scheme::EcdsaDer(h) | Scheme::EcdsaFixed(h)) => {
                let parsed = if matches!(scheme, Scheme::EcdsaDer(_)) {
                    p384::ecdsa::Signature::from_der(sig)
                } else {
                    p384::ecdsa::Signature::from_slice(sig)
                };
                parsed.is_ok_and(|s| k.verify_prehash(&h.digest(msg), &s).is_ok())
            }
            (PublicKey::Ed25519(k), Scheme::Ed25519) => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            (PublicKey::Rsa(k), Scheme::RsaPkcs1(h)) => {
                let Ok(s) = rsa::pkcs1v15::Signature::try_from(sig) else {
                    return false;
                };
                match h {
                    Hash::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                    Hash::Sha384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                    Hash::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                }
            }
            (PublicKey::Rsa(k), Scheme::RsaPss(h)) => {
                let Ok(s) = rsa::pss::Signature::try_from(sig) else {
                    return false;
                };
                match h {
                    Hash::Sha256 => rsa::pss::VerifyingKey::<Sha256>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                    Hash::Sha384 => rsa::pss::VerifyingKey::<Sha384>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                    Hash::Sha512 => rsa::pss::VerifyingKey::<Sha512>::new(k.clone())
                        .verify(msg, &s)
                        .is_ok(),
                }
            }
            _ => false,
        }
    }

    /// Whether `sig` is a cosign signature of `payload` by this key. cosign signs the
    /// SHA-256 of the payload whatever the key (ECDSA as DER, RSA as PKCS #1 v1.5 or
    /// PSS), except Ed25519, which signs the payload itself.
    pub fn verify_cosign(&self, payload: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::P256(_) | PublicKey::P384(_) => {
                self.verify(Scheme::EcdsaDer(Hash::Sha256), payload, sig)
                    || (matches!(self, PublicKey::P384(_))
                        && self.verify(Scheme::EcdsaDer(Hash::Sha384), payload, sig))
            }
            PublicKey::Ed25519(_) => self.verify(Scheme::Ed25519, payload, sig),
            PublicKey::Rsa(_) => {
                self.verify(Scheme::RsaPkcs1(Hash::Sha256), payload, sig)
                    || self.verify(Scheme::RsaPss(Hash::Sha256), payload, sig)
            }
        }
    }
}

/// Decodes one PEM block into its label and bytes.
pub(crate) fn pem_rfc7468_decode(pem: &str) -> Result<(String, Vec<u8>), TrustError> {
    use base64::Engine as _;
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| TrustError::Key("not a PEM block".into()))?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for l in lines {
        if l == end {
            ended = true;
            break;
        }
        if l.contains(':') {
            // RFC 1421 headers (e.g. `Proc-Type`) would mean an encrypted key.
            return Err(TrustError::Key(
                "encrypted or annotated PEM is not supported".into(),
            ));
        }
        body.push_str(l);
    }
    if !ended {
        return Err(TrustError::Key(format!("PEM block {label} is not closed")));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| TrustError::Key(format!("invalid PEM base64: {e}")))?;
    Ok((label, der))
}

/// The SHA-256 fingerprint of DER bytes, as `sha256:<hex>`.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
