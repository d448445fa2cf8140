//! notation signatures: a referrer of the image with artifact type
//! `application/vnd.cncf.notary.signature` whose one layer is a JWS envelope (JSON
//! serialization) over a payload naming the target artifact, signed by the leaf of an
//! X.509 chain carried in the `x5c` header. COSE envelopes are reported as unsupported.

use base64::Engine as _;
use portcullis_types::Digest;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::keys::{Hash, PublicKey, Scheme};
use crate::x509::{Cert, verify_chain};
use crate::{Check, TrustAnchor};

/// The artifact type of notation signatures.
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The media type of a JWS envelope layer.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// The media type of a COSE envelope layer.
pub const COSE_MEDIA_TYPE: &str = "application/cose";
const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

#[derive(Deserialize)]
struct Envelope {
    payload: String,
    protected: String,
    #[serde(default)]
    header: UnprotectedHeader,
    signature: String,
}

#[derive(Deserialize, Default)]
struct UnprotectedHeader {
    #[serde(default)]
    x5c: Vec<String>,
}

#[derive(Deserialize)]
struct Protected {
    alg: String,
    #[serde(default)]
    cty: String,
    #[serde(default)]
    crit: Vec<String>,
    #[serde(rename = "io.cncf.notary.signingScheme", default)]
    signing_scheme: String,
    #[serde(rename = "io.cncf.notary.signingTime", default)]
    signing_time: Option<String>,
    #[serde(rename = "io.cncf.notary.expiry", default)]
    expiry: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target: Target,
}

#[derive(Deserialize)]
struct Target {
    digest: String,
}

/// Header parameters this verifier understands when they are marked critical.
const KNOWN_CRITICAL: &[&str] = &[
    "io.cncf.notary.signingScheme",
    "io.cncf.notary.expiry",
    "io.cncf.notary.authenticSigningTime",
];

fn scheme_of(alg: &str) -> Option<Scheme> {
    Some(match alg {
        "PS256" => Scheme::RsaPss(Hash::Sha256),
        "PS384" => Scheme::RsaPss(Hash::Sha384),
        "PS512" => Scheme::RsaPss(Hash::Sha512),
        "ES256" => Scheme::EcdsaFixed(Hash::Sha256),
        "ES384" => Scheme::EcdsaFixed(Hash::Sha384),
        "ES512" => Scheme::EcdsaFixed(Hash::Sha512),
        _ => return None,
    })
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

fn rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Checks a JWS envelope: its certificate chain must lead to one of `anchors`, the leaf
/// must have signed it, it must not have expired at `now`, and its payload must name
/// `expected`.
pub fn verify_jws(
    envelope: &[u8],
    expected: &Digest,
    anchors: &[TrustAnchor],
    now: OffsetDateTime,
) -> Check {
    let reject = |m: String| Check::Rejected(m);
    let env: Envelope = match serde_json::from_slice(envelope) {
        Ok(e) => e,
        Err(e) => return reject(format!("the notation envelope is not JWS JSON: {e}")),
    };
    let Some(protected) =
        b64url(&env.protected).and_then(|b| serde_json::from_slice::<Protected>(&b).ok())
    else {
        return reject("the notation protected header cannot be read".into());
    };
    if protected.cty != PAYLOAD_CONTENT_TYPE {
        return reject(format!(
            "unexpected notation payload type {:?}",
            protected.cty
        ));
    }
    if protected.signing_scheme != "notary.x509" {
        return reject(format!(
            "unsupported notation signing scheme {:?}",
            protected.signing_scheme
        ));
    }
    if let Some(c) = protected
        .crit
        .iter()
        .find(|c| !KNOWN_CRITICAL.contains(&c.as_str()))
    {
        return reject(format!("unknown critical header {c:?}"));
    }
    let Some(scheme) = scheme_of(&protected.alg) else {
        return reject(format!(
            "unsupported signature algorithm {:?}",
            protected.alg
        ));
    };
    if let Some(expiry) = protected.expiry.as_deref() {
        match rfc3339(expiry) {
            Some(t) if t > now => {}
            _ => return reject("the notation signature has expired".into()),
        }
    }
    let signing_time = match protected.signing_time.as_deref() {
        Some(t) => match rfc3339(t) {
            Some(t) => t,
            None => return reject("invalid notation signing time".into()),
        },
        None => now,
    };
    let certs = match env
        .header
        .x5c
        .iter()
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c)
                .ok()
                .and_then(|der| Cert::from_der(&der).ok())
        })
        .collect::<Option<Vec<_>>>()
    {
        Some(c) if !c.is_empty() => c,
        _ => return reject("the notation envelope carries no readable certificate chain".into()),
    };
    let Ok(leaf_key) = PublicKey::from_spki_der(certs[0].spki_der()) else {
        return reject("the signing certificate's key is not supported".into());
    };
    let Some(sig) = b64url(&env.signature) else {
        return reject("the notation signature is not base64url".into());
    };
    let signing_input = format!("{}.{}", env.protected, env.payload);
    if !leaf_key.verify(scheme, signing_input.as_bytes(), &sig) {
        return reject("the notation signature does not verify with its certificate".into());
    }
    let anchor = match verify_chain(&certs, anchors, signing_time) {
        Ok(a) => a,
        Err(why) => return reject(why),
    };
    let Some(target) =
        b64url(&env.payload).and_then(|b| serde_json::from_slice::<Payload>(&b).ok())
    else {
        return reject("the notation payload cannot be read".into());
    };
    if target.target.digest != expected.as_str() {
        return reject(format!(
            "the notation signature is for {}, not {expected}",
            target.target.digest
        ));
    }
    Check::Verified { key: anchor }
}
