//! The vulnerability policy of the pull gate and `portcullis gate`, end to end on both
//! backends: skopeo pushes a vulnerable image into a `prevent_vul` project; pulls are
//! refused with Harbor's exact 412 texts before and after the scan; the gate command
//! scans, fails with the finding and exit status 1; allow-listing the CVE lets skopeo pull
//! and the gate pass; an expired allowlist refuses again; an index holding the image is
//! refused; signing tools are let through for callers who may push, and only for them.

#[macro_use]
mod common;

use std::process::Command;

use common::scan::*;
use common::*;
use reqwest::Method;

on_both_backends!(vulnerability_policy);

const CVE: &str = "CVE-2023-0286";
const NOT_SCANNED: &str = "current image without vulnerability scanning cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from running.' To continue with pull, please contact your project administrator for help.";
const BLOCKED: &str = "current image with 1 vulnerability cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from running.' To continue with pull, please contact your project administrator to exempt matched vulnerabilities through configuring the CVE allowlist.";

async fn pull(s: &Server, reference: &str, method: Method, ua: Option<&str>) -> (u16, String) {
    let head = method == Method::HEAD;
    let mut req = client()
        .request(
            method,
            s.url(&format!("/v2/guarded/app/manifests/{reference}")),
        )
        .header("authorization", admin_basic())
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        );
    if let Some(ua) = ua {
        req = req.header("user-agent", ua);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert!(
        head || status != 412 || body["errors"][0]["code"] == "PROJECTPOLICYVIOLATION",
        "{body}"
    );
    (
        status,
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn gate(s: &Server, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("gate")
        .arg(format!("http://{}/guarded/app:v1", s.addr))
        .args(["--timeout", "5m"])
        .args(extra)
        .env("PORTCULLIS_USERNAME", "admin")
        .env("PORTCULLIS_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn skopeo_pull(s: &Server, dir: &std::path::Path) -> std::process::Output {
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("docker://{}/guarded/app:v1", s.addr),
        &format!("oci:{}:x", dir.join("out").display()),
    ])
}

async fn set_allowlist(s: &Server, expires_at: i64) {
    let resp = api(
        s,
        Method::PUT,
        "/api/v2.0/projects/guarded",
        Some(&admin_basic()),
        Some(serde_json::json!({
            "metadata": { "reuse_sys_cve_allowlist": "false" },
            "cve_allowlist": { "items": [{ "cve_id": CVE }], "expires_at": expires_at },
        })),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

async fn vulnerability_policy(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(&s, &[advisory("DSA-5343-1", CVE, FIXED)]);
    create_project(
        &s,
        "guarded",
        serde_json::json!({ "public": "false", "auto_scan": "false", "prevent_vul": "true", "severity": "high" }),
    )
    .await;
    let img = tempfile::tempdir().unwrap();
    layout(img.path(), &debian_layer(VULNERABLE));
    let pushed = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("oci:{}:latest", img.path().display()),
        &format!("docker://{}/guarded/app:v1", s.addr),
    ]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // Not scanned yet: refused, by GET and HEAD.
    assert_eq!(
        pull(&s, "v1", Method::GET, None).await,
        (412, NOT_SCANNED.to_string())
    );
    assert_eq!(pull(&s, "v1", Method::HEAD, None).await.0, 412);

    // The gate scans it, waits, and fails on the Critical finding.
    let (code, text) = gate(&s, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(CVE) && text.contains("FAIL"), "{text}");
    assert_eq!(
        wait_status(&s, "guarded", "app", "v1", "Success").await["scan_status"],
        "Success"
    );

    // Scanned: refused with the count, through skopeo too; signing tools pass.
    assert_eq!(
        pull(&s, "v1", Method::GET, None).await,
        (412, BLOCKED.to_string())
    );
    let out = tempfile::tempdir().unwrap();
    let refused = skopeo_pull(&s, out.path());
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("current image with 1 vulnerability cannot be pulled"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        pull(&s, "v1", Method::GET, Some("cosign/v2.4.1")).await.0,
        200
    );
    // A signing tool's User-Agent alone exempts nobody: a guest may not push, so it gets
    // the same refusal (as in Harbor).
    create_user(&s, "onlooker", "Onlooker-Pass-1").await;
    add_member(&s, "guarded", "onlooker", 3).await;
    let resp = client()
        .get(s.url("/v2/guarded/app/manifests/v1"))
        .basic_auth("onlooker", Some("Onlooker-Pass-1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .header("user-agent", "cosign/v2.4.1")
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 412, "PROJECTPOLICYVIOLATION").await;
    assert_eq!(body["errors"][0]["message"], BLOCKED);

    // An index holding the image is refused as well.
    let (digest, _) = {
        let o = overview(&s, "guarded", "app", "v1").await;
        assert_eq!(o["scan_status"], "Success");
        let resp = client()
            .head(s.url("/v2/guarded/app/manifests/v1"))
            .header("user-agent", "notation/1.2")
            .send_as_admin()
            .await;
        (
            resp.headers()["docker-content-digest"]
                .to_str()
                .unwrap()
                .to_string(),
            (),
        )
    };
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
            "size": 1, "platform": { "architecture": "amd64", "os": "linux" } }],
    });
    let index = {
        // The child's size must be right: read it.
        let m = client()
            .get(s.url(&format!("/v2/guarded/app/manifests/{digest}")))
            .header("user-agent", "notation/1.2")
            .send_as_admin()
            .await
            .bytes()
            .await
            .unwrap();
        let mut i = index;
        i["manifests"][0]["size"] = m.len().into();
        i
    };
    put_manifest(
        &s,
        "guarded/app",
        "multi",
        "application/vnd.oci.image.index.v1+json",
        &index,
    )
    .await;
    assert_eq!(
        pull(&s, "multi", Method::GET, None).await,
        (412, BLOCKED.to_string())
    );

    // Allow-listed: skopeo pulls, the gate passes.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    set_allowlist(&s, now + 3600).await;
    assert_eq!(pull(&s, "v1", Method::GET, None).await.0, 200);
    assert_eq!(pull(&s, "multi", Method::GET, None).await.0, 200);
    let out = tempfile::tempdir().unwrap();
    let pulled = skopeo_pull(&s, out.path());
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let (code, text) = gate(&s, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("(allowed)") && text.contains("PASS"),
        "{text}"
    );
    // The gate's own demands still apply.
    let (code, text) = gate(&s, &["--require-signature"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("no verified cosign or notation signature"),
        "{text}"
    );

    // An expired allowlist is ignored as a whole: refused again.
    set_allowlist(&s, now - 10).await;
    assert_eq!(
        pull(&s, "v1", Method::GET, None).await,
        (412, BLOCKED.to_string())
    );
    let (code, text) = gate(&s, &[]);
    assert_eq!(code, 1, "{text}");

    // Undecidable: a missing image, bad credentials.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["gate", &format!("http://{}/guarded/nothing:v1", s.addr)])
        .env("PORTCULLIS_USERNAME", "admin")
        .env("PORTCULLIS_PASSWORD", "wrong-Password-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the credentials"));
}
