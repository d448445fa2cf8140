//! Shared harness of the end-to-end tests: starts the real `portcullis` binary on a free
//! loopback port with a chosen metadata and blob backend, and talks to it over HTTP.
#![allow(dead_code)]

pub mod layout;
pub mod signing;

/// Runs each named `async fn(Backends)` as two tests: on the embedded backends
/// (SQLite + filesystem) and on the scale-out pair (PostgreSQL + S3).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded { use super::*; $( #[tokio::test] async fn $name() { super::$name(Backends::Embedded).await } )* }
        mod scale_out { use super::*; $( #[tokio::test] async fn $name() { super::$name(Backends::ScaleOut).await } )* }
    };
}

pub mod scan;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

pub const ADMIN_PASSWORD: &str = "Portcullis-Test-1";

/// Which stores a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// SQLite + filesystem (the embedded defaults).
    Embedded,
    /// PostgreSQL + S3 (the scale-out pair).
    ScaleOut,
}

pub struct Server {
    pub base: String,
    pub addr: String,
    child: Child,
    /// Everything after `portcullis`, to start the same server again.
    args: Vec<std::ffi::OsString>,
    pub dir: tempfile::TempDir,
    _pg: Option<portcullis_meta::testing::TestDatabase>,
    _s3: Option<std::sync::Arc<portcullis_blob::testing::MotoServer>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub async fn start(backends: Backends) -> Server {
        Self::start_with(backends, &[]).await
    }

    pub async fn start_with(backends: Backends, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .env("PORTCULLIS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTCULLIS_LOG", "warn")
            .env_remove("PORTCULLIS_DATABASE_URL")
            .env_remove("PORTCULLIS_STORAGE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (mut pg, mut s3) = (None, None);
        if backends == Backends::ScaleOut {
            let db = portcullis_meta::testing::TestDatabase::create()
                .await
                .expect("PostgreSQL for tests");
            cmd.arg("--database-url").arg(db.url());
            let moto =
                portcullis_blob::testing::MotoServer::shared().expect("moto_server for S3 tests");
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let c = moto
                .bucket(&format!("pc-{}-{nanos}", std::process::id()))
                .expect("S3 bucket");
            cmd.args([
                "--storage",
                "s3",
                "--s3-bucket",
                &c.bucket,
                "--s3-region",
                &c.region,
                "--s3-access-key",
                &c.access_key,
            ]);
            cmd.args(["--s3-secret-key", &c.secret_key, "--s3-path-style", "true"]);
            if let Some(e) = &c.endpoint {
                cmd.args(["--s3-endpoint", e]);
            }
            pg = Some(db);
            s3 = Some(moto);
        }
        let args: Vec<std::ffi::OsString> = cmd.get_args().map(|a| a.to_os_string()).collect();
        let (child, addr) = spawn(cmd);
        Server {
            base: format!("http://{addr}"),
            addr,
            child,
            args,
            dir,
            _pg: pg,
            _s3: s3,
        }
    }

    /// Kills the server as a crash would, then starts it again on the same data directory
    /// and stores (on a new port).
    pub fn restart(&mut self) {
        self.kill();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(&self.args)
            .env("PORTCULLIS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTCULLIS_LOG", "warn")
            .env_remove("PORTCULLIS_DATABASE_URL")
            .env_remove("PORTCULLIS_STORAGE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (child, addr) = spawn(cmd);
        self.child = child;
        self.base = format!("http://{addr}");
        self.addr = addr;
    }
}

/// Starts the server and waits for the address it reports.
fn spawn(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.spawn().expect("start portcullis");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let rest = line
                .split("listening on http://")
                .nth(1)
                .or_else(|| line.split("listening on https://").nth(1));
            if !sent && let Some(rest) = rest {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
                sent = true;
            }
            if std::env::var_os("PORTCULLIS_TEST_VERBOSE").is_some() {
                eprintln!("[server] {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server did not report its address");
    (child, addr)
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a project as admin through the Harbor API.
    pub async fn create_project(&self, name: &str, public: bool) {
        let resp = client()
            .post(self.url("/api/v2.0/projects"))
            .header("authorization", admin_basic())
            .json(&serde_json::json!({ "project_name": name, "metadata": { "public": public.to_string() } }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            201,
            "creating project {name}: {}",
            resp.text().await.unwrap()
        );
    }

    /// Kills the server process (no graceful shutdown), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Sends a request as the system admin and expects an answer (any status).
/// `GET path` as admin, its body as JSON.
pub async fn admin_json(s: &Server, path: &str) -> serde_json::Value {
    client()
        .get(s.url(path))
        .send_as_admin()
        .await
        .json()
        .await
        .expect("a JSON body")
}

pub trait SendAsAdmin {
    fn send_as_admin(self) -> impl std::future::Future<Output = reqwest::Response>;
}

impl SendAsAdmin for reqwest::RequestBuilder {
    async fn send_as_admin(self) -> reqwest::Response {
        self.header("authorization", admin_basic())
            .send()
            .await
            .unwrap()
    }
}

pub fn admin_basic() -> String {
    basic("admin", ADMIN_PASSWORD)
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Pushes a blob monolithically as admin; returns its digest.
pub async fn push_blob(s: &Server, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let resp = client()
        .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .header("authorization", admin_basic())
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    d
}

/// A minimal OCI image manifest whose config and single layer are pushed first.
pub async fn push_image(s: &Server, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    );
    let layer = format!("layer of {seed}").into_bytes();
    let cd = push_blob(s, repo, config.as_bytes()).await;
    let ld = push_blob(s, repo, &layer).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    (sha256(&bytes), bytes)
}

/// Asserts an error response: status, then the exact code of the single error entry.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let body: serde_json::Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["errors"][0]["code"], code, "body: {body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    body
}

/// Runs skopeo with `args`.
pub fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new(tool("skopeo"))
        .args(args)
        .output()
        .expect("run skopeo")
}

pub fn tool(name: &str) -> PathBuf {
    which(name)
        .unwrap_or_else(|| panic!("{name} is required for this test (scripts/test.sh installs it)"))
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| Path::new(c).is_file())
    })
}

/// Sends a JSON request as `auth` (None: anonymous) and returns the response.
pub async fn api(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut req = client()
        .request(method, s.url(path))
        .header("x-is-resource-name", "true");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// Creates a user as admin; returns its id.
pub async fn create_user(s: &Server, name: &str, password: &str) -> i64 {
    let resp = api(
        s,
        reqwest::Method::POST,
        "/api/v2.0/users",
        Some(&admin_basic()),
        Some(serde_json::json!({ "username": name, "password": password,
            "email": format!("{name}@example.com"), "realname": name })),
    )
    .await;
    assert_eq!(resp.status(), 201, "creating user {name}");
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

/// Adds a user to a project with a Harbor role id, as admin.
pub async fn add_member(s: &Server, project: &str, user: &str, role_id: i32) {
    let resp = api(
        s,
        reqwest::Method::POST,
        &format!("/api/v2.0/projects/{project}/members"),
        Some(&admin_basic()),
        Some(serde_json::json!({ "role_id": role_id, "member_user": { "username": user } })),
    )
    .await;
    assert_eq!(resp.status(), 201, "adding {user} to {project}");
}

/// Creates a project robot as admin with the given `(resource, action)` pairs; returns
/// its id, full name and secret.
pub async fn create_robot(
    s: &Server,
    project: &str,
    name: &str,
    access: &[(&str, &str)],
    disable: bool,
) -> (i64, String, String) {
    let access: Vec<_> = access
        .iter()
        .map(|(r, a)| serde_json::json!({ "resource": r, "action": a }))
        .collect();
    let resp = api(
        s,
        reqwest::Method::POST,
        "/api/v2.0/robots",
        Some(&admin_basic()),
        Some(
            serde_json::json!({ "name": name, "level": "project", "duration": -1,
            "disable": disable,
            "permissions": [{ "kind": "project", "namespace": project, "access": access }] }),
        ),
    )
    .await;
    assert_eq!(resp.status(), 201, "creating robot {name}");
    let body: serde_json::Value = resp.json().await.unwrap();
    (
        body["id"].as_i64().unwrap(),
        body["name"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

impl Server {
    /// The metadata database the server uses, for tests that must reach past the API
    /// (e.g. to make a robot expire).
    pub fn database_url(&self) -> String {
        match &self._pg {
            Some(db) => db.url().to_string(),
            None => format!(
                "sqlite://{}",
                self.dir.path().join("portcullis.db").display()
            ),
        }
    }
}
