//! The API in process: the real router over a real registry (SQLite and a filesystem blob
//! store in a temporary directory), driven with `tower::ServiceExt::oneshot` — no socket,
//! no server process. Error bodies are snapshots (`tests/snapshots/`), so any change to a
//! code, message or detail a client sees is a reviewed diff.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use portcullis_blob::{BlobStore, FsConfig};
use portcullis_core::auth::TokenService;
use portcullis_core::scanning::ScanSetup;
use portcullis_core::{Registry, Settings};
use portcullis_meta::MetaStore;
use serde_json::Value;
use tower::ServiceExt as _;

const PASSWORD: &str = "Router-Test-1";

struct Api {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("meta.db").display());
    let meta = MetaStore::connect(&url).await.unwrap();
    portcullis_core::setup::ensure_admin(&meta, Some(PASSWORD))
        .await
        .unwrap();
    let blobs = BlobStore::open_fs(FsConfig {
        root: dir.path().join("storage"),
    })
    .await
    .unwrap();
    let tokens = TokenService::new(&[7u8; 32], "harbor-registry", Duration::from_secs(600));
    let settings = Settings {
        external_url: Some("https://registry.example.test".into()),
        ..Settings::default()
    };
    let scan = ScanSetup::builtin(meta.clone(), blobs.clone(), dir.path());
    let reg: Arc<Registry> = Registry::new(meta, blobs, tokens, settings, scan);
    Api {
        app: portcullis_api::app(reg),
        _dir: dir,
    }
}

fn admin() -> String {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    format!("Basic {creds}")
}

impl Api {
    /// Sends one request; returns the status, one header and the body as JSON.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let mut req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, challenge, json)
    }
}

#[tokio::test]
async fn oci_errors_follow_the_distribution_spec() {
    let api = api().await;

    // Anonymous push: a Bearer challenge naming the token service and the scope.
    let (status, challenge, body) = api
        .send(
            Method::POST,
            "/v2/library/app/blobs/uploads/",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    insta::assert_snapshot!("anonymous_push_challenge", challenge.unwrap());
    insta::assert_json_snapshot!("anonymous_push", body);

    // Names and references outside the grammar.
    let (status, _, body) = api
        .send(
            Method::GET,
            "/v2/library/UPPER/tags/list",
            Some(&admin()),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("invalid_name", body);
    let (status, _, body) = api
        .send(
            Method::GET,
            "/v2/library/app/manifests/sha256:short",
            Some(&admin()),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("invalid_digest_reference", body);

    // A project that does not exist, and a manifest that is not there.
    let (status, _, body) = api
        .send(
            Method::PUT,
            "/v2/nowhere/app/manifests/1",
            Some(&admin()),
            Some("{}"),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("push_to_missing_project", body);
    let (status, _, body) = api
        .send(
            Method::GET,
            "/v2/library/app/manifests/1",
            Some(&admin()),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("missing_manifest", body);

    // A manifest that does not parse, and one naming a blob never pushed.
    let (status, _, body) = api
        .send(
            Method::PUT,
            "/v2/library/app/manifests/1",
            Some(&admin()),
            Some("{not json"),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("manifest_not_json", body);
    let missing = format!("sha256:{}", "a".repeat(64));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": missing, "size": 2 },
        "layers": [],
    })
    .to_string();
    let (status, _, body) = api
        .send(
            Method::PUT,
            "/v2/library/app/manifests/1",
            Some(&admin()),
            Some(&manifest),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("manifest_blob_unknown", body);
}

#[tokio::test]
async fn harbor_errors_follow_harbor() {
    let api = api().await;
    let (status, _, body) = api
        .send(
            Method::GET,
            "/api/v2.0/projects/nowhere",
            Some(&admin()),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("harbor_missing_project", body);

    let (status, _, body) = api
        .send(
            Method::POST,
            "/api/v2.0/projects",
            Some(&admin()),
            Some(r#"{"project_name":"Bad Name"}"#),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("harbor_bad_project_name", body);

    let (status, _, body) = api
        .send(
            Method::POST,
            "/api/v2.0/projects",
            Some(&admin()),
            Some("{"),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("harbor_body_not_json", body);

    let (status, _, body) = api
        .send(Method::GET, "/api/v2.0/users", None, None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    insta::assert_json_snapshot!("harbor_users_anonymous", body);

    let (status, _, body) = api
        .send(
            Method::DELETE,
            "/api/v2.0/projects/library",
            Some("Basic YWRtaW46d3Jvbmc="),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    insta::assert_json_snapshot!("harbor_wrong_password", body);
}

#[tokio::test]
async fn a_push_through_the_router_is_audited_once_its_event_completes() {
    let api = api().await;
    let config = r#"{"architecture":"amd64","os":"linux"}"#;
    let digest = |b: &[u8]| {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
    };
    let cd = digest(config.as_bytes());
    let (status, _, _) = api
        .send(
            Method::POST,
            &format!("/v2/library/app/blobs/uploads/?digest={cd}"),
            Some(&admin()),
            Some(config),
            Some("application/octet-stream"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cd, "size": config.len() },
        "layers": [],
    })
    .to_string();
    let (status, _, _) = api
        .send(
            Method::PUT,
            "/v2/library/app/manifests/1.0",
            Some(&admin()),
            Some(&manifest),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The audit entry exists when the push returns: no batching window to wait out.
    let (status, _, body) = api
        .send(
            Method::GET,
            "/api/v2.0/audit-logs?q=operation=create",
            Some(&admin()),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = body.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{body}");
    assert_eq!(entries[0]["resource"], "library/app:1.0");
    assert_eq!(entries[0]["username"], "admin");
}
