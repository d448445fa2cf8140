//! The `/v2/` protocol as clients that follow challenges see it: insufficient-scope
//! challenges, the mount challenge, the catalog, answers to large refused bodies, sha512
//! content and `tag` parameters. `Follower` below is a small client doing what docker,
//! podman and ORAS do: on a 401 it asks the token service for what the challenge names
//! (with plain credentials) and tries again once.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

/// Scope and error of a `Bearer` challenge.
fn challenge_parts(resp: &reqwest::Response) -> Option<(String, Option<String>)> {
    let v = resp.headers().get("www-authenticate")?.to_str().ok()?;
    let field = |name: &str| {
        v.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_string)
    };
    Some((field("scope").unwrap_or_default(), field("error")))
}

struct Follower<'a> {
    s: &'a Server,
    credentials: String,
    token: Option<String>,
    /// Challenges met, with their `error` parameter.
    challenges: Vec<(String, Option<String>)>,
}

impl<'a> Follower<'a> {
    fn new(s: &'a Server, user: &str, password: &str) -> Self {
        Follower {
            s,
            credentials: basic(user, password),
            token: None,
            challenges: Vec::new(),
        }
    }

    async fn fetch_token(&mut self, scope: &str) {
        let mut url = reqwest::Url::parse(&self.s.url("/service/token")).unwrap();
        url.query_pairs_mut()
            .append_pair("service", "harbor-registry");
        for sc in scope.split(' ').filter(|s| !s.is_empty()) {
            url.query_pairs_mut().append_pair("scope", sc);
        }
        let resp = client()
            .get(url)
            .header("authorization", &self.credentials)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        self.token = Some(body["token"].as_str().unwrap().to_string());
    }

    async fn send(&mut self, method: Method, path: &str, body: Vec<u8>) -> reqwest::Response {
        for attempt in 0..2 {
            let mut req = client()
                .request(method.clone(), self.s.url(path))
                .body(body.clone());
            if let Some(t) = &self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let resp = req.send().await.unwrap();
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                return resp;
            }
            let Some((scope, error)) = challenge_parts(&resp) else {
                return resp;
            };
            self.challenges.push((scope.clone(), error));
            self.fetch_token(&scope).await;
        }
        unreachable!()
    }
}

#[tokio::test]
async fn insufficient_scope_is_a_challenge_clients_follow() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("team", false).await;
    create_user(&s, "dev", "Dev-Password-1").await;
    add_member(&s, "team", "dev", 2).await;
    let mut f = Follower::new(&s, "dev", "Dev-Password-1");

    // A pull token first, as a client holds after checking whether a blob exists.
    let d = sha256(b"scoped");
    let resp = f
        .send(Method::HEAD, &format!("/v2/team/app/blobs/{d}"), vec![])
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(f.challenges.len(), 1);

    // The same token for an upload: a challenge for push, which the client follows.
    let resp = f
        .send(Method::POST, "/v2/team/app/blobs/uploads/", vec![])
        .await;
    assert_eq!(resp.status(), 202, "{:?}", f.challenges);
    assert_eq!(
        f.challenges[1],
        (
            "repository:team/app:pull,push".to_string(),
            Some("insufficient_scope".to_string())
        )
    );
    let location = resp.headers()["location"].to_str().unwrap().to_string();

    // A pull-only token may read where the upload stands (Distribution's rule).
    f.fetch_token("repository:team/app:pull").await;
    let resp = f.send(Method::GET, &location, vec![]).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["range"], "0-0");
    // Cancelling needs what the upload's owner had: the client is sent for it.
    let resp = f.send(Method::DELETE, &location, vec![]).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        f.challenges.last().unwrap().1.as_deref(),
        Some("insufficient_scope")
    );

    // Deleting with a token without delete: challenged for delete; a developer's new
    // token still lacks it, so the second answer stands.
    let (digest, _) = push_image(&s, "team/app", "v1", "scope").await;
    let before = f.challenges.len();
    let resp = f
        .send(
            Method::DELETE,
            &format!("/v2/team/app/manifests/{digest}"),
            vec![],
        )
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(f.challenges.len(), before + 1);
    assert_eq!(f.challenges.last().unwrap().0, "repository:team/app:delete");
}

#[tokio::test]
async fn mount_challenge_names_the_source() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("team", false).await;
    let d = push_blob(&s, "team/base", b"a layer to share").await;
    let mut f = Follower::new(&s, "admin", common::ADMIN_PASSWORD);
    let resp = f
        .send(
            Method::POST,
            &format!("/v2/team/app/blobs/uploads/?mount={d}&from=team/base"),
            vec![],
        )
        .await;
    assert_eq!(resp.status(), 201, "{:?}", f.challenges);
    assert_eq!(
        f.challenges[0].0,
        "repository:team/app:pull,push repository:team/base:pull"
    );
    assert_eq!(resp.headers()["docker-content-digest"], d.as_str());
}

#[tokio::test]
async fn catalog_lists_what_the_caller_may_see() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("open", true).await;
    s.create_project("team", false).await;
    s.create_project("other", false).await;
    for repo in ["open/a", "team/b", "other/c"] {
        push_image(&s, repo, "v1", repo).await;
    }
    create_user(&s, "dev", "Dev-Password-1").await;
    add_member(&s, "team", "dev", 3).await;

    let mut dev = Follower::new(&s, "dev", "Dev-Password-1");
    let resp = dev.send(Method::GET, "/v2/_catalog", vec![]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(dev.challenges[0].0, "registry:catalog:*");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["repositories"],
        serde_json::json!(["open/a", "team/b"])
    );

    let mut admin = Follower::new(&s, "admin", common::ADMIN_PASSWORD);
    let resp = admin.send(Method::GET, "/v2/_catalog?n=2", vec![]).await;
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["repositories"],
        serde_json::json!(["open/a", "other/c"])
    );
    assert!(link.contains("last=other%2Fc"), "{link}");
}

#[tokio::test]
async fn a_refused_large_manifest_gets_its_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start(Backends::Embedded).await;
    s.create_project("team", false).await;
    // 4 MB, the size every registry should take, written at a pace a real network has,
    // as a client does that reads the answer only after sending (Go's does): every
    // write must go through and the 401 must follow, not a reset connection.
    let addr = s.base.trim_start_matches("http://").to_string();
    for auth in ["", "Authorization: Basic YWRtaW46d3Jvbmc=\r\n"] {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "PUT /v2/team/app/manifests/v1 HTTP/1.1\r\nHost: {addr}\r\n{auth}\
             Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
             Content-Length: {}\r\n\r\n",
            4 << 20
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        for i in 0..64 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            conn.write_all(&[b' '; 64 << 10])
                .await
                .unwrap_or_else(|e| panic!("write {i} of the body failed: {e}"));
        }
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.expect("the answer arrives");
            assert!(n > 0, "closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    }
}

fn manifest_with(algo_blobs: &[(&str, &[u8])]) -> (serde_json::Value, Vec<String>) {
    let digests: Vec<String> = algo_blobs.iter().map(|(a, b)| digest_of(a, b)).collect();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digests[0], "size": algo_blobs[0].1.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digests[1], "size": algo_blobs[1].1.len()}],
    });
    (m, digests)
}

fn digest_of(algo: &str, data: &[u8]) -> String {
    use sha2::Digest as _;
    match algo {
        "sha512" => format!("sha512:{}", hex::encode(sha2::Sha512::digest(data))),
        _ => sha256(data),
    }
}

async fn upload(s: &Server, repo: &str, digest: &str, data: &[u8]) {
    let resp = client()
        .post(s.url(&format!(
            "/v2/{repo}/blobs/uploads/?digest-algorithm=sha512&digest={digest}"
        )))
        .header("authorization", admin_basic())
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn sha512_content_and_tag_parameters() {
    let s = Server::start(Backends::Embedded).await;
    let blobs: [(&str, &[u8]); 2] = [("sha512", b"{}"), ("sha512", b"layer bytes")];
    let (m, digests) = manifest_with(&blobs);
    for ((_, data), d) in blobs.iter().zip(&digests) {
        upload(&s, "library/five12", d, data).await;
    }
    let bytes = serde_json::to_vec(&m).unwrap();
    let by_digest = digest_of("sha512", &bytes);

    // By digest with tag parameters: each accepted tag is echoed in OCI-Tag.
    let resp = client()
        .put(s.url(&format!(
            "/v2/library/five12/manifests/{by_digest}?tag=v1&tag=latest&tag=v1"
        )))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let tags: Vec<&str> = resp
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1", "latest"]);
    assert_eq!(resp.headers()["docker-content-digest"], by_digest.as_str());
    for tag in ["v1", "latest"] {
        let resp = client()
            .head(s.url(&format!("/v2/library/five12/manifests/{tag}")))
            .header("authorization", admin_basic())
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["docker-content-digest"], by_digest.as_str());
    }

    // By tag: content built with sha512 is named with sha512.
    let resp = client()
        .put(s.url("/v2/library/five12/manifests/by-tag"))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["docker-content-digest"], by_digest.as_str());

    // A tag parameter on a push by tag, and an unknown algorithm, are refused.
    let resp = client()
        .put(s.url("/v2/library/five12/manifests/x?tag=y"))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&m).unwrap())
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;
    let resp = client()
        .post(s.url("/v2/library/five12/blobs/uploads/?digest-algorithm=md5"))
        .header("authorization", admin_basic())
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "DIGEST_INVALID").await;
}
