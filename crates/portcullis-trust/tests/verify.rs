//! Signatures made by openssl (an independent implementation) checked by this crate:
//! every key kind for cosign, ES256/ES384/PS256 for notation with chains, and every way
//! a signature must fail: tampered payload, wrong key, another digest, untrusted or
//! broken chains, expired signing time, unknown critical headers.

use portcullis_trust::testing::{CertKey, KeyKind, SigningKey, cosign_payload, notation_envelope};
use portcullis_trust::{Check, TrustAnchor, TrustedKey, cosign, notation};
use portcullis_types::Digest;
use time::OffsetDateTime;

fn digest(seed: &str) -> Digest {
    Digest::sha256_of(seed.as_bytes())
}

fn rejected(c: &Check) -> bool {
    matches!(c, Check::Rejected(_))
}

#[test]
fn cosign_every_key_kind() {
    let dir = tempfile::tempdir().unwrap();
    let image = digest("image");
    let payload = cosign_payload("r.example/team/app", image.as_str());
    for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519, KeyKind::Rsa] {
        let key = SigningKey::generate(dir.path(), &format!("{kind:?}"), kind);
        let other = SigningKey::generate(dir.path(), &format!("{kind:?}-other"), kind);
        let trusted = TrustedKey::from_pem("release", &key.public_pem).unwrap();
        let untrusted = TrustedKey::from_pem("other", &other.public_pem).unwrap();
        let sig = key.sign_cosign(&payload);

        assert_eq!(
            cosign::verify(&payload, &sig, &image, std::slice::from_ref(&trusted)),
            Check::Verified {
                key: "release".into()
            },
            "{kind:?}"
        );
        // The right key among several is found.
        assert_eq!(
            cosign::verify(
                &payload,
                &sig,
                &image,
                &[untrusted.clone(), trusted.clone()]
            ),
            Check::Verified {
                key: "release".into()
            },
            "{kind:?}"
        );
        // Signed by a key the project does not trust.
        assert!(
            rejected(&cosign::verify(&payload, &sig, &image, &[untrusted])),
            "{kind:?}"
        );
        // The payload edited after signing (pointing it at another image).
        let tampered = cosign_payload("r.example/team/app", digest("evil").as_str());
        assert!(rejected(&cosign::verify(
            &tampered,
            &sig,
            &digest("evil"),
            std::slice::from_ref(&trusted)
        )));
        // A genuine signature, but of another image.
        let c = cosign::verify(
            &payload,
            &sig,
            &digest("other image"),
            std::slice::from_ref(&trusted),
        );
        match c {
            Check::Rejected(why) => assert!(why.contains("is for"), "{why}"),
            other => panic!("{kind:?}: {other:?}"),
        }
        // A corrupted signature.
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(rejected(&cosign::verify(
            &payload,
            &bad,
            &image,
            std::slice::from_ref(&trusted)
        )));
    }
}

#[test]
fn cosign_payload_must_be_simple_signing() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(dir.path(), "k", KeyKind::P256);
    let trusted = TrustedKey::from_pem("k", &key.public_pem).unwrap();
    let image = digest("image");
    let odd = serde_json::to_vec(&serde_json::json!({
        "critical": { "image": { "docker-manifest-digest": image.as_str() }, "type": "something else" }
    }))
    .unwrap();
    let sig = key.sign_cosign(&odd);
    assert!(rejected(&cosign::verify(
        &odd,
        &sig,
        &image,
        std::slice::from_ref(&trusted)
    )));
    let junk = b"not json".to_vec();
    let sig = key.sign_cosign(&junk);
    assert!(rejected(&cosign::verify(&junk, &sig, &image, &[trusted])));
}

#[test]
fn keys_are_read_from_pem() {
    assert!(TrustedKey::from_pem("x", "not pem").is_err());
    assert!(TrustedKey::from_pem("x", "-----BEGIN PUBLIC KEY-----\nAAAA\n").is_err());
    assert!(
        TrustedKey::from_pem(
            "x",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err()
    );
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(dir.path(), "k", KeyKind::Ed25519);
    let k = TrustedKey::from_pem("x", &key.public_pem).unwrap();
    assert_eq!(k.key.algorithm(), "Ed25519");
}

#[test]
fn signed_payloads_of_a_manifest() {
    let payload = Digest::sha256_of(b"payload");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": payload.as_str(), "size": 2 },
        "layers": [
            { "mediaType": cosign::PAYLOAD_MEDIA_TYPE, "digest": payload.as_str(), "size": 7,
              "annotations": { cosign::SIGNATURE_ANNOTATION: "AQID" } },
            { "mediaType": cosign::PAYLOAD_MEDIA_TYPE, "digest": payload.as_str(), "size": 7 },
            { "mediaType": "application/octet-stream", "digest": payload.as_str(), "size": 7,
              "annotations": { cosign::SIGNATURE_ANNOTATION: "AQID" } }
        ]
    });
    let found = cosign::signed_payloads(&serde_json::to_vec(&manifest).unwrap());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].signature, vec![1, 2, 3]);
    assert_eq!(
        cosign::signature_tag(&payload),
        format!("sha256-{}.sig", payload.hex())
    );
}

const MEDIA: &str = "application/vnd.oci.image.manifest.v1+json";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn notation_chains_and_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = digest("image");
    let root = CertKey::ca(d, "root", KeyKind::P384, 30);
    let inter = CertKey::issued_by(d, &root, "intermediate", KeyKind::Rsa, true);
    let anchors = TrustAnchor::from_pem("corp-root", &root.cert_pem).unwrap();

    for (name, kind) in [
        ("leaf-ec", KeyKind::P256),
        ("leaf-ec384", KeyKind::P384),
        ("leaf-rsa", KeyKind::Rsa),
    ] {
        // Leaf issued by the intermediate, chain carried in x5c.
        let leaf = CertKey::issued_by(d, &inter, name, kind, false);
        // Certificates start at the second they are made: sign after that.
        let signed_at = rfc3339(now());
        let env = notation_envelope(
            &leaf,
            &[&leaf, &inter],
            MEDIA,
            image.as_str(),
            100,
            &signed_at,
        );
        assert_eq!(
            notation::verify_jws(&env, &image, &anchors, now()),
            Check::Verified {
                key: "corp-root".into()
            },
            "{name}"
        );
        // Without the intermediate the chain does not reach the root.
        let env = notation_envelope(&leaf, &[&leaf], MEDIA, image.as_str(), 100, &signed_at);
        assert!(
            rejected(&notation::verify_jws(&env, &image, &anchors, now())),
            "{name}"
        );
    }

    // Signed by the root's direct child; and trusting the leaf certificate itself.
    let leaf = CertKey::issued_by(d, &root, "direct", KeyKind::P256, false);
    let signed_at = rfc3339(now());
    let env = notation_envelope(&leaf, &[&leaf], MEDIA, image.as_str(), 100, &signed_at);
    assert!(matches!(
        notation::verify_jws(&env, &image, &anchors, now()),
        Check::Verified { .. }
    ));
    let pinned = TrustAnchor::from_pem("pinned", &leaf.cert_pem).unwrap();
    assert_eq!(
        notation::verify_jws(&env, &image, &pinned, now()),
        Check::Verified {
            key: "pinned".into()
        }
    );
    // Another digest, no anchors, another root.
    assert!(rejected(&notation::verify_jws(
        &env,
        &digest("other"),
        &anchors,
        now()
    )));
    assert!(rejected(&notation::verify_jws(&env, &image, &[], now())));
    let stranger = CertKey::ca(d, "stranger", KeyKind::P256, 30);
    let strangers = TrustAnchor::from_pem("stranger", &stranger.cert_pem).unwrap();
    assert!(rejected(&notation::verify_jws(
        &env,
        &image,
        &strangers,
        now()
    )));
}

#[test]
fn notation_refuses_forgeries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = digest("image");
    let root = CertKey::ca(d, "root", KeyKind::P256, 30);
    let anchors = TrustAnchor::from_pem("root", &root.cert_pem).unwrap();
    let leaf = CertKey::issued_by(d, &root, "leaf", KeyKind::P256, false);
    let signed_at = rfc3339(now());
    let env = notation_envelope(&leaf, &[&leaf], MEDIA, image.as_str(), 100, &signed_at);

    // The payload swapped for one naming another image, signature kept.
    let mut v: serde_json::Value = serde_json::from_slice(&env).unwrap();
    let other = notation_envelope(
        &leaf,
        &[&leaf],
        MEDIA,
        digest("evil").as_str(),
        100,
        &signed_at,
    );
    let o: serde_json::Value = serde_json::from_slice(&other).unwrap();
    v["payload"] = o["payload"].clone();
    let tampered = serde_json::to_vec(&v).unwrap();
    assert!(rejected(&notation::verify_jws(
        &tampered,
        &digest("evil"),
        &anchors,
        now()
    )));

    // A leaf (not a CA) cannot issue a certificate that chains to the root.
    let rogue = CertKey::issued_by(d, &leaf, "rogue", KeyKind::P256, false);
    let env2 = notation_envelope(
        &rogue,
        &[&rogue, &leaf],
        MEDIA,
        image.as_str(),
        100,
        &signed_at,
    );
    assert!(rejected(&notation::verify_jws(
        &env2,
        &image,
        &anchors,
        now()
    )));

    // Signed at a time the certificates were not valid.
    let long_ago = rfc3339(now() - time::Duration::days(3650));
    let old = notation_envelope(&leaf, &[&leaf], MEDIA, image.as_str(), 100, &long_ago);
    match notation::verify_jws(&old, &image, &anchors, now()) {
        Check::Rejected(why) => assert!(why.contains("not valid"), "{why}"),
        other => panic!("{other:?}"),
    }

    // An unknown critical header, and an expiry in the past.
    for (field, value) in [
        (
            "crit",
            serde_json::json!(["io.cncf.notary.signingScheme", "x-unknown"]),
        ),
        (
            "io.cncf.notary.expiry",
            serde_json::json!(rfc3339(now() - time::Duration::hours(1))),
        ),
    ] {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut v: serde_json::Value = serde_json::from_slice(&env).unwrap();
        let mut prot: serde_json::Value =
            serde_json::from_slice(&b64.decode(v["protected"].as_str().unwrap()).unwrap()).unwrap();
        prot[field] = value;
        let p = b64.encode(serde_json::to_vec(&prot).unwrap());
        let input = format!("{p}.{}", v["payload"].as_str().unwrap());
        let (sig, _) = leaf.key.sign_jws(input.as_bytes());
        v["protected"] = serde_json::json!(p);
        v["signature"] = serde_json::json!(b64.encode(sig));
        let env = serde_json::to_vec(&v).unwrap();
        assert!(
            rejected(&notation::verify_jws(&env, &image, &anchors, now())),
            "{field}"
        );
    }
    assert!(rejected(&notation::verify_jws(
        b"{}",
        &image,
        &anchors,
        now()
    )));
}
