//! Harbor's rules for what clients send and read: booleans as Go parses them, paths with
//! a trailing slash, `X-Resource-Name-In-Location`, and artifact additions (an image's
//! build history, a Helm chart's values, readme and dependencies).

mod common;

use common::*;
use reqwest::Method;

#[tokio::test]
async fn go_booleans_slashes_and_locations() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    push_image(&s, "demo/app", "v1", "params").await;
    let list = "/api/v2.0/projects/demo/repositories/app/artifacts";
    // The Python client sends True; curl users send 1 or t. All of ParseBool's table.
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        let got = admin_json(&s, &format!("{list}?with_tag={v}&with_label={v}")).await;
        assert_eq!(got[0]["tags"][0]["name"], "v1", "with_tag={v}");
    }
    for v in ["0", "f", "F", "FALSE", "false", "False"] {
        let got = admin_json(&s, &format!("{list}?with_tag={v}")).await;
        assert!(
            got[0].get("tags").is_none_or(|t| t.is_null()),
            "with_tag={v}: {got}"
        );
    }
    let resp = api(
        &s,
        Method::GET,
        &format!("{list}?with_tag=yes"),
        Some(&admin_basic()),
        None,
    )
    .await;
    let body = expect_error(resp, 400, "BAD_REQUEST").await;
    assert!(body.to_string().contains("with_tag"), "{body}");

    // A trailing slash names the same resource.
    let got = admin_json(&s, "/api/v2.0/projects/?name=demo").await;
    assert_eq!(got[0]["name"], "demo");

    // Location by name when asked, by id otherwise.
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .header("authorization", admin_basic())
        .header("x-resource-name-in-location", "True")
        .json(&serde_json::json!({ "project_name": "named" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["location"], "/api/v2.0/projects/named");
}

fn chart_archive() -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in [
        (
            "web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 17.0.0\n    repository: https://charts.example.org\n",
        ),
        ("web/values.yaml", "replicas: 2\n"),
        ("web/README.md", "# web\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

async fn addition(s: &Server, repo: &str, reference: &str, name: &str) -> reqwest::Response {
    client()
        .get(s.url(&format!(
            "/api/v2.0/projects/demo/repositories/{repo}/artifacts/{reference}/additions/{name}"
        )))
        .send_as_admin()
        .await
}

#[tokio::test]
async fn additions_of_images_and_charts() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;

    // An image whose config records how it was built.
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2026-01-01T00:00:00Z","created_by":"/bin/sh -c make"}]}"#;
    let layer = b"layer bytes";
    let cd = push_blob(&s, "demo/img", config).await;
    let ld = push_blob(&s, "demo/img", layer).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    });
    let resp = client()
        .put(s.url("/v2/demo/img/manifests/v1"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    let resp = addition(&s, "img", "v1", "build_history").await;
    assert_eq!(resp.status(), 200);
    let history: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(history[0]["created_by"], "/bin/sh -c make");
    expect_error(
        addition(&s, "img", "v1", "values.yaml").await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        addition(&s, "img", "v1", "nonsense").await,
        404,
        "NOT_FOUND",
    )
    .await;

    // A Helm chart as `helm push` stores it.
    let chart_config = br#"{"name":"web","version":"1.0.0","apiVersion":"v2"}"#;
    let archive = chart_archive();
    let cd = push_blob(&s, "demo/web", chart_config).await;
    let ld = push_blob(&s, "demo/web", &archive).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": cd, "size": chart_config.len() },
        "layers": [{ "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": ld, "size": archive.len() }],
    });
    let resp = client()
        .put(s.url("/v2/demo/web/manifests/1.0.0"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    let values = addition(&s, "web", "1.0.0", "values.yaml").await;
    assert_eq!(values.status(), 200);
    assert_eq!(values.text().await.unwrap(), "replicas: 2\n");
    let readme = addition(&s, "web", "1.0.0", "readme.md").await;
    assert_eq!(readme.text().await.unwrap(), "# web\n");
    let deps: serde_json::Value = addition(&s, "web", "1.0.0", "dependencies")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deps[0]["name"], "redis");
    assert_eq!(deps[0]["repository"], "https://charts.example.org");
    expect_error(
        addition(&s, "web", "1.0.0", "build_history").await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn project_metadata_deletable_and_statistics() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    s.create_project("open", true).await;
    let admin = admin_basic();
    let md = "/api/v2.0/projects/demo/metadatas";
    // The trailing slash is how Harbor's swagger spells the collection.
    let all = admin_json(&s, &format!("{md}/")).await;
    assert_eq!(all["public"], "false");
    let resp = api(
        &s,
        Method::POST,
        &format!("{md}/"),
        Some(&admin),
        Some(serde_json::json!({"auto_scan": "true", "severity": "high"})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        admin_json(&s, &format!("{md}/severity")).await,
        serde_json::json!({"severity": "high"})
    );
    let resp = api(
        &s,
        Method::PUT,
        &format!("{md}/severity"),
        Some(&admin),
        Some(serde_json::json!({"severity": "critical"})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        admin_json(&s, &format!("{md}/severity")).await["severity"],
        "critical"
    );
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{md}/severity"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::GET,
        &format!("{md}/severity"),
        Some(&admin),
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    // Unknown keys, bad values, a body naming another key, removing `public`: 400.
    for (method, path, body) in [
        (
            Method::POST,
            format!("{md}/"),
            Some(serde_json::json!({"colour": "blue"})),
        ),
        (
            Method::POST,
            format!("{md}/"),
            Some(serde_json::json!({"auto_scan": "maybe"})),
        ),
        (
            Method::PUT,
            format!("{md}/severity"),
            Some(serde_json::json!({"auto_scan": "true"})),
        ),
        (Method::DELETE, format!("{md}/public"), None),
    ] {
        let resp = api(&s, method.clone(), &path, Some(&admin), body).await;
        expect_error(resp, 400, "BAD_REQUEST").await;
    }
    // A guest may read but not change.
    create_user(&s, "guest", "Guest-Password-1").await;
    add_member(&s, "demo", "guest", 3).await;
    let guest = basic("guest", "Guest-Password-1");
    let resp = api(
        &s,
        Method::GET,
        &format!("{md}/auto_scan"),
        Some(&guest),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::PUT,
        &format!("{md}/auto_scan"),
        Some(&guest),
        Some(serde_json::json!({"auto_scan": "false"})),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;

    // _deletable follows the repositories.
    let del = admin_json(&s, "/api/v2.0/projects/demo/_deletable").await;
    assert_eq!(del["deletable"], true);
    push_image(&s, "demo/app", "v1", "stats").await;
    push_image(&s, "open/app", "v1", "stats2").await;
    let del = admin_json(&s, "/api/v2.0/projects/demo/_deletable").await;
    assert_eq!(del["deletable"], false);
    assert!(del["message"].as_str().is_some_and(|m| !m.is_empty()));

    // Statistics: what the caller can see; storage for system admins only.
    let st = admin_json(&s, "/api/v2.0/statistics").await;
    assert_eq!(
        (
            st["private_project_count"].as_u64(),
            st["public_project_count"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(
        (
            st["private_repo_count"].as_u64(),
            st["public_repo_count"].as_u64(),
            st["total_repo_count"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert!(
        st["total_storage_consumption"]
            .as_i64()
            .is_some_and(|n| n > 0),
        "{st}"
    );
    let resp = api(&s, Method::GET, "/api/v2.0/statistics", Some(&guest), None).await;
    let st: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(st["total_project_count"], 3, "{st}");
    assert!(st.get("total_storage_consumption").is_none(), "{st}");
}

#[tokio::test]
async fn preheat_is_declined_plainly() {
    let s = Server::start(Backends::Embedded).await;
    for (method, path) in [
        (Method::GET, "/api/v2.0/p2p/preheat/instances"),
        (Method::POST, "/api/v2.0/p2p/preheat/instances/ping"),
        (Method::GET, "/api/v2.0/projects/library/preheat/policies"),
    ] {
        let resp = api(&s, method, path, Some(&admin_basic()), None).await;
        let body = expect_error(resp, 501, "NOT_IMPLEMENTED").await;
        assert!(body.to_string().contains("preheat"), "{body}");
    }
}

#[tokio::test]
async fn audit_exts_schedules_volumes_and_webhook_jobs() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    push_image(&s, "demo/app", "v1", "exts").await;
    // Harbor 2.13's audit log names: the same entries, and the event types they hold.
    let mut events = serde_json::json!([]);
    for _ in 0..50 {
        events = admin_json(&s, "/api/v2.0/auditlog-exts/events").await;
        if events.to_string().contains("create_artifact") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"create_artifact") && types.contains(&"create_project"),
        "{types:?}"
    );
    let ext = admin_json(&s, "/api/v2.0/auditlog-exts?q=resource_type%3Dartifact").await;
    assert!(
        ext[0]["resource"].as_str().unwrap().starts_with("demo/app"),
        "{ext}"
    );
    let project_ext = admin_json(&s, "/api/v2.0/projects/demo/auditlog-exts").await;
    assert!(!project_ext.as_array().unwrap().is_empty());

    // Schedules: the server's own periodic jobs, by Harbor's vendor types.
    let schedules = admin_json(&s, "/api/v2.0/schedules").await;
    let vendors: Vec<&str> = schedules
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["vendor_type"].as_str().unwrap())
        .collect();
    assert!(vendors.contains(&"PURGE_AUDIT_LOG"), "{vendors:?}");
    assert_eq!(
        admin_json(&s, "/api/v2.0/schedules/SCAN_ALL/paused").await["paused"],
        false
    );

    // Volumes: the file system of the blob store.
    let v = admin_json(&s, "/api/v2.0/systeminfo/volumes").await;
    let st = &v["storage"][0];
    assert!(
        st["total"].as_u64().unwrap() >= st["free"].as_u64().unwrap(),
        "{v}"
    );
    create_user(&s, "plain", "Plain-Password-1").await;
    for path in ["/api/v2.0/systeminfo/volumes", "/api/v2.0/schedules"] {
        let resp = api(
            &s,
            Method::GET,
            path,
            Some(&basic("plain", "Plain-Password-1")),
            None,
        )
        .await;
        expect_error(resp, 403, "FORBIDDEN").await;
    }

    // Webhook jobs: one per delivery of the policy.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/projects/demo/webhook/policies",
        Some(&admin_basic()),
        Some(
            serde_json::json!({ "name": "hook", "enabled": true, "event_types": ["PUSH_ARTIFACT"],
            "targets": [{ "type": "http", "address": "http://127.0.0.1:9/unreachable" }] }),
        ),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let policy: i64 = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    push_image(&s, "demo/app", "v2", "exts2").await;
    let mut jobs = serde_json::json!([]);
    for _ in 0..50 {
        jobs = admin_json(
            &s,
            &format!("/api/v2.0/projects/demo/webhook/jobs?policy_id={policy}"),
        )
        .await;
        if !jobs.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(jobs[0]["policy_id"], policy, "{jobs}");
    assert_eq!(jobs[0]["event_type"], "PUSH_ARTIFACT");
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/demo/webhook/jobs",
        Some(&admin_basic()),
        None,
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
}

#[tokio::test]
async fn artifacts_of_a_project_without_accessories() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    push_image(&s, "demo/a", "v1", "a1").await;
    let (a2, _) = push_image(&s, "demo/a", "v2", "a2").await;
    push_image(&s, "demo/team/b", "v1", "b1").await;
    // An accessory of a2: an artifact whose subject it is.
    let cfg = push_blob(&s, "demo/a", b"{}").await;
    let sig = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2 },
        "layers": [],
        "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": a2, "size": 1 },
    });
    let bytes = serde_json::to_vec(&sig).unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/demo/a/manifests/{}", sha256(&bytes))))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes)
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);

    let all = admin_json(&s, "/api/v2.0/projects/demo/artifacts?page_size=50").await;
    let mut names: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}@{}",
                a["repository_name"].as_str().unwrap(),
                a["tags"][0]["name"].as_str().unwrap_or("-")
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, ["demo/a@v1", "demo/a@v2", "demo/team/b@v1"], "{all}");
    let latest = admin_json(
        &s,
        "/api/v2.0/projects/demo/artifacts?latest_in_repository=true",
    )
    .await;
    assert_eq!(latest.as_array().unwrap().len(), 2, "{latest}");
    let with_acc = admin_json(
        &s,
        "/api/v2.0/projects/demo/artifacts?with_accessory=true&q=tags%3Dv2",
    )
    .await;
    assert_eq!(
        with_acc[0]["accessories"][0]["subject_artifact_digest"],
        a2.as_str(),
        "{with_acc}"
    );
    // The repository counts what the list shows.
    let repo = admin_json(&s, "/api/v2.0/projects/demo/repositories/a").await;
    assert_eq!(repo["artifact_count"], 2, "{repo}");
}
