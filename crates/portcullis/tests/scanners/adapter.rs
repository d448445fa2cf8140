//! The built-in scanner served as a Harbor scanner adapter under `/api/v1`: the API key,
//! metadata, scan requests pulled back from the registry with the caller's credential,
//! reports polled through `302` + `Refresh-After`, and the errors of the adapter API.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Backends, Server, admin_basic, basic, client};
use crate::fixtures::{CVE, import_advisory, push_vulnerable_image};

pub const KEY: &str = "adapter-key-for-tests";
pub const REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
const REQUEST_MIME: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.1";

/// A server whose adapter API is on, with the test advisory imported.
pub async fn adapter_server(b: Backends) -> Server {
    let s = Server::start_with(b, &["--scanner-adapter-api-key", KEY]).await;
    import_advisory(&s);
    s
}

async fn submit(s: &Server, body: Value) -> reqwest::Response {
    client()
        .post(s.url("/api/v1/scan"))
        .header("x-scanneradapter-api-key", KEY)
        .header("content-type", REQUEST_MIME)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn scan_request(s: &Server, repo: &str, digest: &str, auth: Option<String>) -> Value {
    let mut registry = json!({ "url": s.base });
    if let Some(a) = auth {
        registry["authorization"] = a.into();
    }
    json!({
        "registry": registry,
        "artifact": { "repository": repo, "digest": digest, "tag": "v1",
                      "mime_type": "application/vnd.oci.image.manifest.v1+json" },
    })
}

/// Polls the report until it is no longer `302`, checking `Refresh-After` each round.
async fn poll(s: &Server, id: &str) -> (reqwest::Response, usize) {
    let mut rounds = 0;
    loop {
        let resp = client()
            .get(s.url(&format!("/api/v1/scan/{id}/report")))
            .header("authorization", format!("Bearer {KEY}"))
            .header("accept", REPORT_MIME)
            .send()
            .await
            .unwrap();
        if resp.status() != 302 {
            return (resp, rounds);
        }
        let after: u64 = resp.headers()["refresh-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(after >= 1, "Refresh-After is {after}");
        rounds += 1;
        assert!(rounds < 600, "the scan never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn adapter_api(b: Backends) {
    let s = adapter_server(b).await;
    s.create_project("team", false).await;
    let digest = push_vulnerable_image(&s, "team/app", "v1").await;

    // The key is required, in any of its three forms.
    let resp = client()
        .get(s.url("/api/v1/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.scanner.adapter.error+json; version=1.0"
    );
    let resp = client()
        .get(s.url("/api/v1/metadata"))
        .header("authorization", "Bearer wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client()
        .get(s.url("/api/v1/metadata"))
        .header("authorization", basic("harbor", KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.scanner.adapter.metadata+json; version=1.1"
    );
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["scanner"]["name"], "Portcullis");
    assert_eq!(meta["capabilities"][0]["type"], "vulnerability");
    let updated = meta["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"]
        .as_str()
        .expect("the database age is announced");
    assert!(
        time::OffsetDateTime::parse(updated, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{updated}"
    );

    // Malformed and unusable requests.
    let resp = client()
        .post(s.url("/api/v1/scan"))
        .header("x-scanneradapter-api-key", KEY)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let resp = submit(&s, json!({ "registry": { "url": s.base }, "artifact": { "repository": "team/app", "digest": "sha256:nope" } })).await;
    assert_eq!(resp.status(), 422);
    let resp = submit(&s, json!({ "registry": { "url": "file:///etc" }, "artifact": { "repository": "team/app", "digest": digest } })).await;
    assert_eq!(resp.status(), 422);
    let mut index = scan_request(&s, "team/app", &digest, None);
    index["artifact"]["mime_type"] = "application/vnd.oci.image.index.v1+json".into();
    assert_eq!(submit(&s, index).await.status(), 501);
    let mut sbom_only = scan_request(&s, "team/app", &digest, None);
    sbom_only["enabled_capabilities"] = json!([{ "type": "sbom" }]);
    assert_eq!(submit(&s, sbom_only).await.status(), 501);

    // A scan pulled back from this registry with Basic credentials (token flow).
    let resp = submit(
        &s,
        scan_request(&s, "team/app", &digest, Some(admin_basic())),
    )
    .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.scanner.adapter.scan.response+json; version=1.0"
    );
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (resp, _) = poll(&s, &id).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], REPORT_MIME);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["artifact"]["digest"], digest.as_str());
    assert_eq!(report["artifact"]["repository"], "team/app");
    assert_eq!(report["scanner"]["name"], "Portcullis");
    let ids: Vec<_> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&CVE.to_string()), "{report}");

    // The older report type is served too; raw and SBOM reports are not produced.
    let get = |accept: &'static str, query: &'static str| {
        client()
            .get(s.url(&format!("/api/v1/scan/{id}/report{query}")))
            .header("x-scanneradapter-api-key", KEY)
            .header("accept", accept)
            .send()
    };
    let resp = get(
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
        "",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
    );
    let resp = get("application/vnd.scanner.adapter.vuln.report.raw", "")
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    let resp = get(REPORT_MIME, "?sbom_media_type=application/spdx%2Bjson")
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    let resp = client()
        .get(s.url("/api/v1/scan/no-such-request/report"))
        .header("x-scanneradapter-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // A registry token scoped to the repository works as is.
    let token: Value = client()
        .get(s.url("/service/token?service=harbor-registry&scope=repository:team/app:pull"))
        .header("authorization", admin_basic())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let resp = submit(&s, scan_request(&s, "team/app", &digest, Some(bearer))).await;
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (resp, _) = poll(&s, &id).await;
    assert_eq!(resp.status(), 200);

    // A refused credential ends the scan with an error report (500 and a message).
    let wrong = basic("admin", "Wrong-Pass-1");
    let resp = submit(&s, scan_request(&s, "team/app", &digest, Some(wrong))).await;
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (resp, _) = poll(&s, &id).await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("token service") || message.contains("refused"),
        "{message}"
    );
}

on_both_backends!(adapter_api);
