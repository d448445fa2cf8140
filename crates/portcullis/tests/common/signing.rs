//! Writing signature artifacts as cosign and notation lay them out, for the content
//! trust tests (keys and signatures come from `portcullis_trust::testing`).

use base64::Engine as _;
use portcullis_trust::testing::SigningKey;

use reqwest::Method;

use super::*;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";

pub async fn put_manifest(s: &Server, repo: &str, reference: &str, m: serde_json::Value) -> String {
    let bytes = serde_json::to_vec(&m).unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("authorization", admin_basic())
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    sha256(&bytes)
}

/// A cosign signature of `image` by `key`: in the tag layout, or as a referrer.
pub async fn cosign_sign(
    s: &Server,
    repo: &str,
    image: &str,
    image_size: usize,
    key: &SigningKey,
    payload: Vec<u8>,
    as_referrer: bool,
) {
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign_cosign(&payload));
    let pd = push_blob(s, repo, &payload).await;
    let layer = serde_json::json!({
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": pd, "size": payload.len(),
        "annotations": { "dev.cosignproject.cosign/signature": sig },
    });
    if as_referrer {
        let cd = push_blob(s, repo, b"{}").await;
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": { "mediaType": EMPTY, "digest": cd, "size": 2 },
            "layers": [layer],
            "subject": { "mediaType": OCI_MANIFEST, "digest": image, "size": image_size },
        });
        put_manifest(s, repo, &sha256(&serde_json::to_vec(&m).unwrap()), m).await;
    } else {
        let config = br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let cd = push_blob(s, repo, config).await;
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
            "layers": [layer],
        });
        let tag = format!("sha256-{}.sig", image.trim_start_matches("sha256:"));
        put_manifest(s, repo, &tag, m).await;
    }
}

/// Sets one project metadata flag to "true".
pub async fn set_metadata(s: &Server, project: &str, key: &str) {
    let resp = api(
        s,
        Method::PUT,
        &format!("/api/v2.0/projects/{project}"),
        Some(&admin_basic()),
        Some(serde_json::json!({ "metadata": { key: "true" } })),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

/// Makes `project` trust a key or certificate; returns the API's view of it.
pub async fn trust(
    s: &Server,
    project: &str,
    name: &str,
    kind: &str,
    pem: &str,
) -> serde_json::Value {
    let resp = api(
        s,
        Method::POST,
        &format!("/api/v2.0/projects/{project}/trusted-keys"),
        Some(&admin_basic()),
        Some(serde_json::json!({ "name": name, "kind": kind, "pem": pem })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}
