//! Content trust end to end, on both backends: cosign signatures in the tag layout and as
//! referrers, notation signatures as referrers, made with openssl keys and certificates;
//! projects that require them refuse unsigned, wrongly signed, tampered and misdirected
//! signatures with Harbor's 412 texts (checked through skopeo and raw HTTP), and accept
//! verified ones, children of signed indexes and signing tools.

#[macro_use]
mod common;

use base64::Engine as _;
use common::signing::*;
use common::*;
use portcullis_trust::testing::{CertKey, KeyKind, SigningKey, cosign_payload, notation_envelope};
use reqwest::Method;

on_both_backends!(cosign_content_trust, notation_content_trust);

async fn pull_status(
    s: &Server,
    repo: &str,
    reference: &str,
    ua: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = client()
        .get(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("authorization", admin_basic())
        .header("accept", OCI_MANIFEST);
    if let Some(ua) = ua {
        req = req.header("user-agent", ua);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

fn skopeo_pull(s: &Server, image: &str, dir: &std::path::Path) -> std::process::Output {
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("docker://{}/{image}", s.addr),
        &format!("oci:{}:x", dir.join("out").display()),
    ])
}

async fn signatures_json(s: &Server, path: &str) -> serde_json::Value {
    let resp = api(
        s,
        Method::GET,
        &format!("/api/v2.0/projects/{path}?with_signature=true"),
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    resp.json::<serde_json::Value>().await.unwrap()["signatures"].clone()
}

async fn cosign_content_trust(b: Backends) {
    let s = Server::start(b).await;
    let keys = tempfile::tempdir().unwrap();
    let release = SigningKey::generate(keys.path(), "release", KeyKind::P256);
    let stranger = SigningKey::generate(keys.path(), "stranger", KeyKind::Ed25519);
    s.create_project("secure", false).await;
    let (image, bytes) = push_image(&s, "secure/app", "v1", "one").await;
    set_metadata(&s, "secure", "enable_content_trust_cosign").await;

    // Unsigned: Harbor's 412, through raw HTTP and through skopeo.
    let (status, body) = pull_status(&s, "secure/app", "v1", None).await;
    assert_eq!(status, 412);
    assert_eq!(body["errors"][0]["code"], "PROJECTPOLICYVIOLATION");
    assert_eq!(
        body["errors"][0]["message"],
        "The image is not signed by cosign."
    );
    let out = tempfile::tempdir().unwrap();
    let refused = skopeo_pull(&s, "secure/app:v1", out.path());
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("The image is not signed by cosign"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Signing tools read what they sign.
    assert_eq!(
        pull_status(&s, "secure/app", "v1", Some("cosign/v2.4.1 (linux; amd64)"))
            .await
            .0,
        200
    );
    assert_eq!(
        signatures_json(&s, "secure/repositories/app/artifacts/v1").await["cosign"]["status"],
        "none"
    );

    // With no trusted key, an attached signature is enough (Harbor's rule)...
    cosign_sign(
        &s,
        "secure/app",
        &image,
        bytes.len(),
        &stranger,
        cosign_payload("secure/app", &image),
        false,
    )
    .await;
    assert_eq!(pull_status(&s, "secure/app", "v1", None).await.0, 200);
    assert_eq!(
        signatures_json(&s, "secure/repositories/app/artifacts/v1").await["cosign"]["status"],
        "present"
    );
    // ...but once the project trusts a key, only a signature by it counts.
    let view = trust(&s, "secure", "release", "cosign", &release.public_pem).await;
    assert_eq!(view["algorithm"], "ECDSA-P256");
    let (status, body) = pull_status(&s, "secure/app", "v1", None).await;
    assert_eq!(status, 412);
    assert!(
        body["errors"][0]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("no trusted key"),
        "{body}"
    );

    // A genuine signature by the trusted key, but for another image, does not count.
    let (other, _) = push_image(&s, "secure/app", "v2", "two").await;
    cosign_sign(
        &s,
        "secure/app",
        &image,
        bytes.len(),
        &release,
        cosign_payload("secure/app", &other),
        true,
    )
    .await;
    assert_eq!(pull_status(&s, "secure/app", "v1", None).await.0, 412);
    // A payload edited after signing does not verify.
    let tampered = cosign_payload("secure/app", &image);
    let signed_other = cosign_payload("secure/app", &other);
    let sig_of_other = release.sign_cosign(&signed_other);
    let pd = push_blob(&s, "secure/app", &tampered).await;
    let cd = push_blob(&s, "secure/app", b"{}").await;
    let forged = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": { "mediaType": EMPTY, "digest": cd, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": pd, "size": tampered.len(),
            "annotations": { "dev.cosignproject.cosign/signature": base64::engine::general_purpose::STANDARD.encode(&sig_of_other) } }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": image, "size": bytes.len() },
    });
    put_manifest(
        &s,
        "secure/app",
        &sha256(&serde_json::to_vec(&forged).unwrap()),
        forged,
    )
    .await;
    assert_eq!(pull_status(&s, "secure/app", "v1", None).await.0, 412);

    // Signed by the trusted key as a referrer: verified, pullable by skopeo.
    cosign_sign(
        &s,
        "secure/app",
        &image,
        bytes.len(),
        &release,
        cosign_payload("secure/app", &image),
        true,
    )
    .await;
    assert_eq!(pull_status(&s, "secure/app", "v1", None).await.0, 200);
    let out = tempfile::tempdir().unwrap();
    let pulled = skopeo_pull(&s, "secure/app:v1", out.path());
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let sig = signatures_json(&s, "secure/repositories/app/artifacts/v1").await;
    assert_eq!(
        sig["cosign"],
        serde_json::json!({ "status": "verified", "key": "release" })
    );

    // Removing the key: back to "present, not verified" against no key = allowed again.
    let id = view["id"].as_i64().unwrap();
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/projects/secure/trusted-keys/{id}"),
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/secure/trusted-keys",
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );
    assert_eq!(pull_status(&s, "secure/app", "v1", None).await.0, 200);
    let sig = signatures_json(&s, "secure/repositories/app/artifacts/v1").await;
    assert_eq!(sig["cosign"]["status"], "present", "{sig}");

    // Bad key material is refused.
    for (kind, pem) in [
        ("cosign", "garbage"),
        ("notation", release.public_pem.as_str()),
        ("gpg", release.public_pem.as_str()),
    ] {
        let resp = api(
            &s,
            Method::POST,
            "/api/v2.0/projects/secure/trusted-keys",
            Some(&admin_basic()),
            Some(serde_json::json!({ "name": "bad", "kind": kind, "pem": pem })),
        )
        .await;
        expect_error(resp, 400, "BAD_REQUEST").await;
    }
}

async fn notation_content_trust(b: Backends) {
    let s = Server::start(b).await;
    let pki = tempfile::tempdir().unwrap();
    let root = CertKey::ca(pki.path(), "corp-root", KeyKind::P256, 30);
    let leaf = CertKey::issued_by(pki.path(), &root, "ci-signer", KeyKind::Rsa, false);
    let rogue_root = CertKey::ca(pki.path(), "rogue-root", KeyKind::P256, 30);
    let rogue = CertKey::issued_by(pki.path(), &rogue_root, "rogue", KeyKind::P256, false);
    s.create_project("notary", false).await;
    set_metadata(&s, "notary", "enable_content_trust").await;
    trust(&s, "notary", "corp-root", "notation", &root.cert_pem).await;

    // A multi-platform image: the index is signed, children are pulled by digest.
    let (amd, amd_bytes) = push_image(&s, "notary/app", "amd64", "amd").await;
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{ "mediaType": OCI_MANIFEST, "digest": amd, "size": amd_bytes.len(),
            "platform": { "architecture": "amd64", "os": "linux" } }],
    });
    let ibytes = serde_json::to_vec(&index).unwrap();
    let resp = client()
        .put(s.url("/v2/notary/app/manifests/v1"))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(ibytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let idx = sha256(&ibytes);
    let (status, body) = pull_status(&s, "notary/app", "v1", None).await;
    assert_eq!(
        (status, body["errors"][0]["message"].as_str()),
        (412, Some("The image is not signed by notation."))
    );

    let sign = |signer: &CertKey, digest: &str| {
        let signed_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        notation_envelope(
            signer,
            &[signer],
            "application/vnd.oci.image.index.v1+json",
            digest,
            ibytes.len() as u64,
            &signed_at,
        )
    };
    let attach = |env: Vec<u8>| {
        let s = &s;
        let idx = idx.clone();
        let size = ibytes.len();
        async move {
            let ed = push_blob(s, "notary/app", &env).await;
            let cd = push_blob(s, "notary/app", b"{}").await;
            let m = serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.cncf.notary.signature",
                "config": { "mediaType": EMPTY, "digest": cd, "size": 2 },
                "layers": [{ "mediaType": "application/jose+json", "digest": ed, "size": env.len() }],
                "subject": { "mediaType": "application/vnd.oci.image.index.v1+json", "digest": idx, "size": size },
            });
            put_manifest(
                s,
                "notary/app",
                &sha256(&serde_json::to_vec(&m).unwrap()),
                m,
            )
            .await;
        }
    };
    // Signed under a root the project does not trust, and a trusted signature of
    // another digest: both refused.
    attach(sign(&rogue, &idx)).await;
    assert_eq!(pull_status(&s, "notary/app", "v1", None).await.0, 412);
    attach(sign(&leaf, &amd)).await;
    assert_eq!(pull_status(&s, "notary/app", "v1", None).await.0, 412);
    assert_eq!(pull_status(&s, "notary/app", &amd, None).await.0, 412);
    // Signed by the CI certificate under the trusted root: the index and its child pass.
    attach(sign(&leaf, &idx)).await;
    assert_eq!(pull_status(&s, "notary/app", "v1", None).await.0, 200);
    assert_eq!(pull_status(&s, "notary/app", &amd, None).await.0, 200);
    let sig = signatures_json(&s, "notary/repositories/app/artifacts/v1").await;
    assert_eq!(
        sig["notation"],
        serde_json::json!({ "status": "verified", "key": "corp-root" })
    );
    let out = tempfile::tempdir().unwrap();
    let pulled = skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("docker://{}/notary/app:v1", s.addr),
        &format!("oci:{}:x", out.path().join("out").display()),
    ]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
}
