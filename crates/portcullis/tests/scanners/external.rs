//! External adapters driven by the registry: an adapter written in this test and
//! Portcullis's own adapter (the same server registered as an external scanner at its
//! loopback address) each become a project's scanner, and their reports are served
//! through the same artifact API as the built-in scanner's.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::adapter::{KEY, REPORT_MIME, adapter_server};
use crate::common::{Backends, Server, admin_basic, api};
use crate::fixtures::{CVE as DEBIAN_CVE, push_vulnerable_image};
use crate::registrations::register;
use crate::tiny_adapter::{self, TinyAdapter};

fn artifact(project: &str, repo: &str, reference: &str) -> String {
    format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}")
}

/// The artifact's scan overview for the vulnerability report, once its status is final.
async fn finished_overview(s: &Server, project: &str, repo: &str, reference: &str) -> Value {
    let path = format!(
        "{}?with_scan_overview=true",
        artifact(project, repo, reference)
    );
    for _ in 0..900 {
        let resp = api(s, Method::GET, &path, Some(&admin_basic()), None).await;
        let body: Value = resp.json().await.unwrap();
        let o = body["scan_overview"][REPORT_MIME].clone();
        if matches!(
            o["scan_status"].as_str(),
            Some("Success" | "Error" | "Stopped")
        ) {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the scan of {project}/{repo}:{reference} never finished");
}

async fn scan(s: &Server, project: &str, repo: &str, reference: &str) {
    let resp = api(
        s,
        Method::POST,
        &format!("{}/scan", artifact(project, repo, reference)),
        Some(&admin_basic()),
        Some(json!({ "scan_type": "vulnerability" })),
    )
    .await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
}

async fn report(s: &Server, project: &str, repo: &str, reference: &str) -> Value {
    let path = format!(
        "{}/additions/vulnerabilities",
        artifact(project, repo, reference)
    );
    let resp = api(s, Method::GET, &path, Some(&admin_basic()), None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body[REPORT_MIME].clone()
}

fn ids(report: &Value) -> Vec<String> {
    report["vulnerabilities"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn set_project_scanner(s: &Server, project: &str, uuid: &str) {
    let resp = api(
        s,
        Method::PUT,
        &format!("/api/v2.0/projects/{project}/scanner"),
        Some(&admin_basic()),
        Some(json!({ "uuid": uuid })),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn external_adapters_scan_projects(b: Backends) {
    let s = adapter_server(b).await;
    let tiny = TinyAdapter::start().await;

    // The test's own adapter scans project "ext".
    let tiny_id = register(
        &s,
        json!({ "name": "Tiny", "url": tiny.base, "auth": "Bearer",
                "access_credential": tiny_adapter::TOKEN }),
    )
    .await;
    s.create_project("ext", false).await;
    set_project_scanner(&s, "ext", &tiny_id).await;
    // Content trust and the vulnerability policy are on, and the image is unsigned and
    // unscanned: the scanner's own pull credential passes both, as in Harbor.
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/projects/ext",
        Some(&admin_basic()),
        Some(json!({ "metadata": { "enable_content_trust_cosign": "true",
                                   "prevent_vul": "true", "severity": "low" } })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let digest = push_vulnerable_image(&s, "ext/app", "v1").await;
    scan(&s, "ext", "app", "v1").await;
    let o = finished_overview(&s, "ext", "app", "v1").await;
    assert_eq!(o["scan_status"], "Success", "{o}");
    assert_eq!(o["scanner"]["name"], tiny_adapter::NAME, "{o}");
    let r = report(&s, "ext", "app", "v1").await;
    assert_eq!(ids(&r), vec![tiny_adapter::CVE.to_string()], "{r}");

    // What the adapter was given: this repository and digest, a token that pulls it
    // and cannot push, and at least one 302 round before the report.
    let seen = tiny.seen();
    let req = &seen.scans[0];
    assert_eq!(req["artifact"]["repository"], "ext/app");
    assert_eq!(req["artifact"]["digest"], digest.as_str());
    assert_eq!(
        req["artifact"]["mime_type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert!(
        req["registry"]["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert_eq!(seen.pull_status, vec![200]);
    assert!(
        matches!(seen.push_status[0], 401 | 403),
        "{:?}",
        seen.push_status
    );
    assert!(seen.report_polls >= 2, "{seen:?}");

    // This adapter makes no SBOM: asking for one ends in an error that says so.
    let resp = api(
        &s,
        Method::POST,
        &format!("{}/scan", artifact("ext", "app", "v1")),
        Some(&admin_basic()),
        Some(json!({ "scan_type": "sbom" })),
    )
    .await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let path = format!("{}?with_sbom_overview=true", artifact("ext", "app", "v1"));
    let mut sbom = Value::Null;
    for _ in 0..300 {
        let body: Value = api(&s, Method::GET, &path, Some(&admin_basic()), None)
            .await
            .json()
            .await
            .unwrap();
        sbom = body["sbom_overview"].clone();
        if sbom["scan_status"] == "Error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sbom["scan_status"], "Error", "{sbom}");
    let log = api(
        &s,
        Method::GET,
        &format!(
            "{}/scan/{}/log",
            artifact("ext", "app", "v1"),
            sbom["report_id"].as_str().unwrap()
        ),
        Some(&admin_basic()),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(log.contains("produced no SBOM"), "{log}");

    // Portcullis's own adapter, registered at this server's loopback address.
    let own_id = register(
        &s,
        json!({ "name": "Self", "url": s.base, "auth": "X-ScannerAdapter-API-Key",
                "access_credential": KEY }),
    )
    .await;
    s.create_project("own", false).await;
    set_project_scanner(&s, "own", &own_id).await;
    push_vulnerable_image(&s, "own/app", "v1").await;
    scan(&s, "own", "app", "v1").await;
    let o = finished_overview(&s, "own", "app", "v1").await;
    assert_eq!(o["scan_status"], "Success", "{o}");
    let r = report(&s, "own", "app", "v1").await;
    assert!(ids(&r).contains(&DEBIAN_CVE.to_string()), "{r}");
    assert_eq!(r["scanner"]["name"], "Portcullis");

    // An adapter whose scans fail: the error is the scan's, with the adapter's message
    // in the scan log.
    let broken = register(
        &s,
        json!({ "name": "Broken", "url": format!("{}/broken", tiny.base), "auth": "Bearer",
                "access_credential": tiny_adapter::TOKEN }),
    )
    .await;
    s.create_project("bad", false).await;
    set_project_scanner(&s, "bad", &broken).await;
    push_vulnerable_image(&s, "bad/app", "v1").await;
    scan(&s, "bad", "app", "v1").await;
    let o = finished_overview(&s, "bad", "app", "v1").await;
    assert_eq!(o["scan_status"], "Error", "{o}");
    let log_path = format!(
        "{}/scan/{}/log",
        artifact("bad", "app", "v1"),
        o["report_id"].as_str().unwrap()
    );
    let log = api(&s, Method::GET, &log_path, Some(&admin_basic()), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("the tiny scanner broke"), "{log}");

    // The default is used where a project chose nothing; the built-in scanner takes
    // over again once the default registration is deleted.
    let resp = api(
        &s,
        Method::PATCH,
        &format!("/api/v2.0/scanners/{tiny_id}"),
        Some(&admin_basic()),
        Some(json!({ "is_default": true })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    s.create_project("plain", false).await;
    push_vulnerable_image(&s, "plain/app", "v1").await;
    scan(&s, "plain", "app", "v1").await;
    let o = finished_overview(&s, "plain", "app", "v1").await;
    assert_eq!(o["scanner"]["name"], tiny_adapter::NAME, "{o}");
    api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/scanners/{tiny_id}"),
        Some(&admin_basic()),
        None,
    )
    .await;
    push_vulnerable_image(&s, "plain/app", "v2").await;
    scan(&s, "plain", "app", "v2").await;
    let o = finished_overview(&s, "plain", "app", "v2").await;
    assert_eq!(o["scanner"]["name"], "Portcullis", "{o}");
}

on_both_backends!(external_adapters_scan_projects);
