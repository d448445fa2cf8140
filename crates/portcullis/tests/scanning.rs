//! Scanning inside the registry, end to end with the real binary: scan on push (skopeo),
//! manual scan, stop and log, report negotiation, an index summed up from its images, a
//! new vulnerability database re-judging reports without reading layers.
//!
//! Images are built here (a Debian 11 root with one dpkg package); the vulnerability
//! database is a small OSV fixture imported with `portcullis vulndb import`.

#[macro_use]
mod common;

use std::process::Command;
use std::time::Duration;

use common::scan::*;
use common::{
    Backends, SendAsAdmin, Server, admin_json, client, expect_error, push_blob, sha256, tool,
};
use serde_json::{Value, json};

async fn push_on_auto_scan_project_is_scanned(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({ "auto_scan": "true" })).await;
    let img = tempfile::tempdir().unwrap();
    layout(img.path(), &debian_layer(VULNERABLE));
    let out = Command::new(tool("skopeo"))
        .args(["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds"])
        .arg(format!("admin:{}", common::ADMIN_PASSWORD))
        .arg(format!("oci:{}:latest", img.path().display()))
        .arg(format!("docker://{}/team/app:1.0", s.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let o = wait_status(&s, "team", "app", "1.0", "Success").await;
    assert_eq!(o["severity"], "Critical", "{o}");
    assert_eq!(o["summary"]["total"], 1, "{o}");
    assert_eq!(o["summary"]["fixable"], 1, "{o}");
    assert_eq!(o["summary"]["summary"]["Critical"], 1, "{o}");
    assert_eq!(o["complete_percent"], 100);
    assert_eq!(o["scanner"]["name"], "Portcullis");
    assert!(
        o["start_time"].is_string() && o["end_time"].is_string(),
        "{o}"
    );

    // The report, negotiated by X-Accept-Vulnerabilities, keyed by MIME type.
    let vulns = format!(
        "{}/additions/vulnerabilities",
        artifact_path("team", "app", "1.0")
    );
    let body: Value = client()
        .get(s.url(&vulns))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body[MIME]["vulnerabilities"][0]["id"], "CVE-2023-0286",
        "{body}"
    );
    assert_eq!(
        body[MIME]["vulnerabilities"][0]["fix_version"],
        "1.1.1n-0+deb11u4"
    );
    let body: Value = client()
        .get(s.url(&vulns))
        .header("x-accept-vulnerabilities", MIME_V1)
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get(MIME).is_none() && body[MIME_V1]["vulnerabilities"].is_array(),
        "{body}"
    );
    let body: Value = client()
        .get(s.url(&vulns))
        .header("x-accept-vulnerabilities", "application/x-unknown")
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({}));
    let other = format!("{}/additions/nonsense", artifact_path("team", "app", "1.0"));
    expect_error(
        client().get(s.url(&other)).send_as_admin().await,
        404,
        "NOT_FOUND",
    )
    .await;

    // The log of the report, by its id.
    let id = o["report_id"].as_str().unwrap();
    let log_path = format!("{}/scan/{id}/log", artifact_path("team", "app", "1.0"));
    let resp = client().get(s.url(&log_path)).send_as_admin().await;
    assert_eq!(resp.status(), 200);
    let log = resp.text().await.unwrap();
    assert!(log.contains("vulnerabilities: 1"), "{log}");
    let bad = format!("{}/scan/nope/log", artifact_path("team", "app", "1.0"));
    expect_error(
        client().get(s.url(&bad)).send_as_admin().await,
        404,
        "NOT_FOUND",
    )
    .await;

    // The database version is in systeminfo; queue depth and durations in /metrics.
    let info: Value = admin_json(&s, "/api/v2.0/systeminfo").await;
    assert!(
        info["vulnerability_database"]["generation"]
            .as_u64()
            .is_some(),
        "{info}"
    );
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_scan_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_jobs{kind=\"scan\",state=\"succeeded\"}"),
        "{metrics}"
    );
}

async fn manual_scan_stop_and_errors(b: Backends) {
    let s = Server::start(b).await;
    create_project(&s, "team", json!({})).await;
    push_debian(&s, "team/app", "1.0", &debian_layer(VULNERABLE), "a").await;
    let scan = s.url(&format!("{}/scan", artifact_path("team", "app", "1.0")));
    let stop = s.url(&format!(
        "{}/scan/stop",
        artifact_path("team", "app", "1.0")
    ));
    // Pushes into a project without auto_scan are not scanned.
    assert!(overview(&s, "team", "app", "1.0").await.is_null());

    // No database yet: the scan waits and retries, so it is still going when asked again.
    let resp = client()
        .post(&scan)
        .json(&json!({ "scan_type": "vulnerability" }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    let again = client().post(&scan).send_as_admin().await;
    expect_error(again, 422, "UNPROCESSABLE_ENTITY").await;
    let o = overview(&s, "team", "app", "1.0").await;
    assert!(
        o["scan_status"] == "Pending" || o["scan_status"] == "Running",
        "{o}"
    );
    let resp = client()
        .post(&stop)
        .json(&json!({ "scan_type": "vulnerability" }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    let o = wait_status(&s, "team", "app", "1.0", "Stopped").await;
    expect_error(
        client().post(&stop).send_as_admin().await,
        422,
        "UNPROCESSABLE_ENTITY",
    )
    .await;
    let log_path = format!(
        "{}/scan/{}/log",
        artifact_path("team", "app", "1.0"),
        o["report_id"].as_str().unwrap()
    );
    let log = client()
        .get(s.url(&log_path))
        .send_as_admin()
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("stopped"), "{log}");

    // Errors: unknown artifact, unknown scan type, an artifact that is not an image.
    let missing = s.url(&format!("{}/scan", artifact_path("team", "app", "9.9")));
    expect_error(
        client().post(&missing).send_as_admin().await,
        404,
        "NOT_FOUND",
    )
    .await;
    let bad = client()
        .post(&scan)
        .json(&json!({ "scan_type": "malware" }))
        .send_as_admin()
        .await;
    expect_error(bad, 400, "BAD_REQUEST").await;
    let empty = push_blob(&s, "team/app", b"{}").await;
    let doc = push_blob(&s, "team/app", b"hello").await;
    let art = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.note",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "text/plain", "digest": doc, "size": 5 }] });
    put_manifest(
        &s,
        "team/app",
        "note",
        "application/vnd.oci.image.manifest.v1+json",
        &art,
    )
    .await;
    let note = s.url(&format!("{}/scan", artifact_path("team", "app", "note")));
    expect_error(
        client().post(&note).send_as_admin().await,
        422,
        "UNPROCESSABLE_ENTITY",
    )
    .await;
    // The project is private: invisible to anonymous callers.
    let anonymous = client().post(&scan).send().await.unwrap();
    expect_error(anonymous, 404, "NOT_FOUND").await;

    // A database imported into the running server is picked up; the scan then succeeds.
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    let resp = client().post(&scan).send_as_admin().await;
    assert_eq!(resp.status(), 202);
    let o = wait_status(&s, "team", "app", "1.0", "Success").await;
    assert_eq!(o["summary"]["total"], 1, "{o}");
}

async fn index_is_summed_up_from_its_images(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({})).await;
    let (a, asz) = push_debian(&s, "team/multi", "amd64", &debian_layer(VULNERABLE), "a").await;
    let (c, csz) = push_debian(&s, "team/multi", "arm64", &debian_layer(FIXED), "c").await;
    let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": a, "size": asz,
              "platform": { "architecture": "amd64", "os": "linux" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": c, "size": csz,
              "platform": { "architecture": "arm64", "os": "linux" } } ] });
    put_manifest(
        &s,
        "team/multi",
        "1.0",
        "application/vnd.oci.image.index.v1+json",
        &index,
    )
    .await;
    let scan = s.url(&format!("{}/scan", artifact_path("team", "multi", "1.0")));
    assert_eq!(client().post(&scan).send_as_admin().await.status(), 202);
    let o = wait_status(&s, "team", "multi", "1.0", "Success").await;
    assert_eq!(o["summary"]["total"], 1, "{o}");
    assert_eq!(o["severity"], "Critical");
    // Each image has its own report.
    let oa = overview(&s, "team", "multi", &a).await;
    assert_eq!(oa["scan_status"], "Success");
    assert_eq!(oa["summary"]["total"], 1);
    let oc = overview(&s, "team", "multi", &c).await;
    assert_eq!(oc["scan_status"], "Success");
    assert_eq!(oc["summary"]["total"], 0);
    assert_eq!(oc["severity"], "None");
    // The listing shows the overview too.
    let list: Value = client()
        .get(s.url("/api/v2.0/projects/team/repositories/multi/artifacts?with_scan_overview=true"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let shown = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["scan_overview"][MIME].is_object())
        .count();
    assert_eq!(shown, 3, "{list}");
    // The index's log covers both images.
    let log_path = format!(
        "{}/scan/{}/log",
        artifact_path("team", "multi", "1.0"),
        o["report_id"].as_str().unwrap()
    );
    let log = client()
        .get(s.url(&log_path))
        .send_as_admin()
        .await
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("linux/amd64") && log.contains("linux/arm64"),
        "{log}"
    );
}

async fn new_database_rejudges_without_reading_layers(b: Backends) {
    let s = Server::start(b).await;
    let first = advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4");
    import_vulndb(&s, std::slice::from_ref(&first));
    create_project(&s, "team", json!({ "auto_scan": "true" })).await;
    let layer = debian_layer(VULNERABLE);
    push_debian(&s, "team/app", "1.0", &layer, "a").await;
    let o = wait_status(&s, "team", "app", "1.0", "Success").await;
    assert_eq!(o["summary"]["total"], 1);
    if b == Backends::Embedded {
        // Remove the layer from storage: only the cached inventory can judge it now.
        let hex = sha256(&layer).trim_start_matches("sha256:").to_string();
        let removed = walk(&s.dir.path().join("storage"))
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(&hex))
            })
            .map(|p| std::fs::remove_file(p).unwrap())
            .count();
        assert!(removed > 0, "layer file not found in storage");
    }
    import_vulndb(
        &s,
        &[
            first,
            advisory("DSA-5400-1", "CVE-2023-9999", "1.1.1n-0+deb11u5"),
        ],
    );
    let o = poll(
        "the report to be re-judged",
        Duration::from_secs(300),
        || async {
            let o = overview(&s, "team", "app", "1.0").await;
            (o["summary"]["total"] == 2).then_some(o)
        },
    )
    .await;
    assert_eq!(o["scan_status"], "Success");
}

async fn cve_export_as_csv_and_json(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({ "auto_scan": "true" })).await;
    push_debian(&s, "team/app", "1.0", &debian_layer(VULNERABLE), "a").await;
    push_debian(&s, "team/web", "2.0", &debian_layer(VULNERABLE), "b").await;
    wait_status(&s, "team", "app", "1.0", "Success").await;
    wait_status(&s, "team", "web", "2.0", "Success").await;
    let project: Value = client()
        .get(s.url("/api/v2.0/projects/team"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let pid = project["project_id"].as_i64().unwrap();
    let export = |body: Value, data_type: &'static str| {
        client()
            .post(s.url("/api/v2.0/export/cve"))
            .header("x-scan-data-type", data_type)
            .json(&body)
            .send_as_admin()
    };
    // Starts an export and waits for it to succeed; returns its id.
    let finished = |body: Value| async {
        let resp = export(body, MIME).await;
        assert_eq!(resp.status(), 200);
        let id = resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let exec = format!("/api/v2.0/export/cve/execution/{id}");
        poll("the export", Duration::from_secs(300), || async {
            let e = admin_json(&s, &exec).await;
            (e["status"] == "Success").then_some(e)
        })
        .await;
        id
    };
    let id =
        finished(json!({ "job_name": "q3", "projects": [pid], "repositories": "{app}" })).await;
    let csv = client()
        .get(s.url(&format!("/api/v2.0/export/cve/download/{id}")))
        .send_as_admin()
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv");
    let csv = csv.text().await.unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert!(lines[0].starts_with("Project,Repository,Digest"), "{csv}");
    assert_eq!(lines.len(), 2, "only the app repository: {csv}");
    assert!(
        lines[1].contains("team/app") && lines[1].contains("CVE-2023-0286"),
        "{csv}"
    );
    let rows: Value = client()
        .get(s.url(&format!("/api/v2.0/export/cve/download/{id}?format=json")))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows[0]["cve"], "CVE-2023-0286");

    // A label filter keeps the artifacts carrying any of the labels.
    let resp = client()
        .post(s.url("/api/v2.0/labels"))
        .json(&json!({ "name": "release", "scope": "g", "color": "#00ff00" }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    let label: i64 = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let resp = client()
        .post(s.url("/api/v2.0/projects/team/repositories/web/artifacts/2.0/labels"))
        .json(&json!({ "id": label }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let labelled = finished(json!({ "projects": [pid], "labels": [label] })).await;
    let rows = admin_json(
        &s,
        &format!("/api/v2.0/export/cve/download/{labelled}?format=json"),
    )
    .await;
    let repos: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["team/web"], "{rows}");

    let list: Value = client()
        .get(s.url("/api/v2.0/export/cve/executions"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id && e["file_present"] == true),
        "{list}"
    );
    // Errors: no data type, several projects, unknown execution, unknown format.
    let bad = export(json!({ "projects": [pid] }), "text/plain").await;
    expect_error(bad, 400, "BAD_REQUEST").await;
    let bad = export(json!({ "projects": [pid, pid + 1] }), MIME).await;
    expect_error(bad, 400, "BAD_REQUEST").await;
    let missing = client()
        .get(s.url("/api/v2.0/export/cve/execution/999999"))
        .send_as_admin()
        .await;
    expect_error(missing, 404, "NOT_FOUND").await;
    let fmt = client()
        .get(s.url(&format!("/api/v2.0/export/cve/download/{id}?format=pdf")))
        .send_as_admin()
        .await;
    expect_error(fmt, 400, "BAD_REQUEST").await;
}

/// The security hub counts and searches every artifact's latest report.
async fn security_hub_over_all_projects(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({ "auto_scan": "true" })).await;
    create_project(&s, "ops", json!({ "auto_scan": "true" })).await;
    push_debian(&s, "team/app", "1.0", &debian_layer(VULNERABLE), "a").await;
    push_debian(&s, "ops/tool", "2.0", &debian_layer(VULNERABLE), "b").await;
    push_debian(&s, "ops/clean", "3.0", &debian_layer(FIXED), "c").await;
    wait_status(&s, "team", "app", "1.0", "Success").await;
    wait_status(&s, "ops", "tool", "2.0", "Success").await;
    wait_status(&s, "ops", "clean", "3.0", "Success").await;

    let sum = admin_json(
        &s,
        "/api/v2.0/security/summary?with_dangerous_cve=true&with_dangerous_artifact=true",
    )
    .await;
    assert_eq!(sum["total_artifact"], 3, "{sum}");
    assert_eq!(sum["scanned_cnt"], 3, "{sum}");
    assert_eq!(sum["total_vuls"], 2, "{sum}");
    assert_eq!(sum["fixable_cnt"], 2, "{sum}");
    assert_eq!(sum["dangerous_cves"][0]["cve_id"], "CVE-2023-0286", "{sum}");
    assert_eq!(
        sum["dangerous_artifacts"].as_array().unwrap().len(),
        2,
        "{sum}"
    );

    let vul: Value = client()
        .get(s.url("/api/v2.0/security/vul?q=repository_name%3D~tool&with_tag=true"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(vul.as_array().unwrap().len(), 1, "{vul}");
    assert_eq!(vul[0]["repository_name"], "ops/tool");
    assert_eq!(vul[0]["cve_id"], "CVE-2023-0286");
    assert_eq!(vul[0]["tags"][0], "2.0");
    let resp = client()
        .get(s.url("/api/v2.0/security/vul?q=colour%3Dred"))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
}

on_both_backends!(
    security_hub_over_all_projects,
    push_on_auto_scan_project_is_scanned,
    manual_scan_stop_and_errors,
    index_is_summed_up_from_its_images,
    new_database_rejudges_without_reading_layers,
    cve_export_as_csv_and_json,
);
