//! The slice of X.509 that notation verification needs: parsing, validity periods,
//! CA flags and checking that one certificate signed another.

use time::OffsetDateTime;
use x509_cert::der::{Decode, DecodePem, Encode};

use crate::TrustAnchor;
use crate::TrustError;
use crate::keys::{Hash, PublicKey, Scheme};

/// A parsed certificate with the encodings verification needs.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    spki_der: Vec<u8>,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    subject: String,
    algorithm: String,
    signature: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    is_ca: bool,
}

fn bad(e: impl std::fmt::Display) -> TrustError {
    TrustError::Certificate(e.to_string())
}

fn to_time(t: x509_cert::time::Time) -> Result<OffsetDateTime, TrustError> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(bad)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(bad)
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Self, TrustError> {
        let c = x509_cert::Certificate::from_der(der).map_err(bad)?;
        Self::from_parsed(c)
    }

    /// Every certificate in a PEM bundle.
    pub fn from_pem_bundle(pem: &str) -> Result<Vec<Self>, TrustError> {
        let certs = x509_cert::Certificate::load_pem_chain(pem.as_bytes()).map_err(bad)?;
        if certs.is_empty() {
            return Err(bad("no certificate in the PEM text"));
        }
        certs.into_iter().map(Self::from_parsed).collect()
    }

    /// One PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        Self::from_parsed(x509_cert::Certificate::from_pem(pem.as_bytes()).map_err(bad)?)
    }

    fn from_parsed(c: x509_cert::Certificate) -> Result<Self, TrustError> {
        let tbs = &c.tbs_certificate;
        let is_ca = tbs
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
            .and_then(|e| {
                x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
            })
            .is_some_and(|b| b.ca);
        Ok(Cert {
            der: c.to_der().map_err(bad)?,
            tbs_der: tbs.to_der().map_err(bad)?,
            spki_der: tbs.subject_public_key_info.to_der().map_err(bad)?,
            subject_der: tbs.subject.to_der().map_err(bad)?,
            issuer_der: tbs.issuer.to_der().map_err(bad)?,
            subject: tbs.subject.to_string(),
            algorithm: c.signature_algorithm.oid.to_string(),
            signature: c.signature.raw_bytes().to_vec(),
            not_before: to_time(tbs.validity.not_before)?,
            not_after: to_time(tbs.validity.not_after)?,
            is_ca,
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The subject's distinguished name, as the API shows it.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    pub fn valid_at(&self, t: OffsetDateTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Whether `self` issued `child`: names chain, `self` may issue, and its key
    /// verifies the child's signature.
    fn issued(&self, child: &Cert) -> bool {
        if !self.is_ca || child.issuer_der != self.subject_der {
            return false;
        }
        let Ok(key) = PublicKey::from_spki_der(&self.spki_der) else {
            return false;
        };
        let schemes: &[Scheme] = match child.algorithm.as_str() {
            "1.2.840.113549.1.1.11" => &[Scheme::RsaPkcs1(Hash::Sha256)],
            "1.2.840.113549.1.1.12" => &[Scheme::RsaPkcs1(Hash::Sha384)],
            "1.2.840.113549.1.1.13" => &[Scheme::RsaPkcs1(Hash::Sha512)],
            // RSASSA-PSS names its hash in parameters; the three standard ones are tried.
            "1.2.840.113549.1.1.10" => &[
                Scheme::RsaPss(Hash::Sha256),
                Scheme::RsaPss(Hash::Sha384),
                Scheme::RsaPss(Hash::Sha512),
            ],
            "1.2.840.10045.4.3.2" => &[Scheme::EcdsaDer(Hash::Sha256)],
            "1.2.840.10045.4.3.3" => &[Scheme::EcdsaDer(Hash::Sha384)],
            "1.2.840.10045.4.3.4" => &[Scheme::EcdsaDer(Hash::Sha512)],
            "1.3.101.112" => &[Scheme::Ed25519],
            _ => &[],
        };
        schemes
            .iter()
            .any(|s| key.verify(*s, &child.tbs_der, &child.signature))
    }
}

/// Checks that `chain` (leaf first) leads to one of `anchors`, every certificate valid
/// at `at`; returns the anchor's name.
pub fn verify_chain(
    chain: &[Cert],
    anchors: &[TrustAnchor],
    at: OffsetDateTime,
) -> Result<String, String> {
    if anchors.is_empty() {
        return Err("no trusted certificates are configured for notation".into());
    }
    for (i, cert) in chain.iter().enumerate() {
        if !cert.valid_at(at) {
            return Err(format!(
                "certificate {:?} was not valid at signing time",
                cert.subject
            ));
        }
        // Everything below `cert` has been verified to chain up to it.
        if let Some(a) = anchors.iter().find(|a| a.cert.der == cert.der) {
            return Ok(a.name.clone());
        }
        if let Some(a) = anchors
            .iter()
            .find(|a| a.cert.valid_at(at) && a.cert.issued(cert))
        {
            return Ok(a.name.clone());
        }
        match chain.get(i + 1) {
            Some(issuer) if issuer.issued(cert) => {}
            Some(_) => {
                return Err(format!(
                    "certificate {:?} is not issued by the next one in the chain",
                    cert.subject
                ));
            }
            None => {}
        }
    }
    Err("the certificate chain does not lead to a trusted certificate".into())
}
