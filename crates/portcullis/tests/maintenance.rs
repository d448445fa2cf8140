//! Upkeep runs through the durable job runner: the server writes its schedules as rows
//! in the metadata store (upload expiry hourly, audit purge daily).

mod common;

use common::*;

#[tokio::test]
async fn upkeep_schedules_are_rows() {
    let s = Server::start(Backends::Embedded).await;
    let db = format!("sqlite://{}", s.dir.path().join("portcullis.db").display());
    let check = |list: Vec<portcullis_meta::Schedule>| {
        let names: Vec<_> = list
            .iter()
            .map(|x| (x.name.as_str(), x.kind.as_str(), x.enabled))
            .collect();
        assert!(
            names.contains(&("expire-uploads", "expire-uploads", true)),
            "{names:?}"
        );
        assert!(
            names.contains(&("purge-audit", "purge-audit", true)),
            "{names:?}"
        );
        assert_eq!(list.len(), 2);
        let now = time::OffsetDateTime::now_utc();
        assert!(list.iter().all(|x| x.next_run_at > now));
    };
    let meta = portcullis_meta::MetaStore::connect(&db).await.unwrap();
    check(meta.schedules().list_schedules().await.unwrap());
    meta.close().await;
}

#[tokio::test]
async fn audit_purge_schedule_through_the_api() {
    let s = Server::start(Backends::Embedded).await;
    let c = client();
    let url = s.url("/api/v2.0/system/purgeaudit/schedule");
    let get = || async {
        c.get(&url)
            .send_as_admin()
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let put = |body: serde_json::Value| {
        c.put(&url)
            .header("authorization", admin_basic())
            .json(&body)
            .send()
    };

    let first = get().await;
    assert_eq!(first["schedule"]["type"], "Custom", "{first}");
    assert_eq!(first["schedule"]["cron"], "0 0 3 * * *");
    assert_eq!(first["parameters"]["audit_retention_hour"], 365 * 24);

    let resp = put(serde_json::json!({ "schedule": { "type": "Custom", "cron": "0 30 1 * * *" }, "parameters": { "audit_retention_hour": 48 } })).await.unwrap();
    assert_eq!(resp.status(), 200);
    let now = get().await;
    assert_eq!(now["schedule"]["cron"], "0 30 1 * * *");
    assert_eq!(now["parameters"]["audit_retention_hour"], 48);
    let resp = put(serde_json::json!({ "schedule": { "type": "Weekly" } }))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get().await["schedule"]["type"], "Weekly");
    let resp = put(serde_json::json!({ "schedule": { "type": "None" } }))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get().await["schedule"]["type"], "None");

    let resp = put(serde_json::json!({ "schedule": { "type": "Custom", "cron": "not a cron" } }))
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = put(serde_json::json!({ "schedule": { "type": "Sometimes" } }))
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = c
        .put(&url)
        .json(&serde_json::json!({ "schedule": { "type": "Daily" } }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;

    // POST creates (201), as in Harbor.
    let resp = c
        .post(&url)
        .header("authorization", admin_basic())
        .json(&serde_json::json!({ "schedule": { "type": "Daily" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(get().await["schedule"]["type"], "Daily");

    // A Manual schedule starts a purge run now, with Harbor's newer parameter names, and
    // leaves the schedule alone: here every pull entry goes (retention 0 hours), the rest stays.
    let audit = || async {
        c.get(s.url("/api/v2.0/audit-logs?page_size=100"))
            .send_as_admin()
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    push_image(&s, "library/app", "v1", "purge").await;
    for _ in 0..3 {
        let resp = c
            .get(s.url("/v2/library/app/manifests/v1"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send_as_admin()
            .await;
        assert_eq!(resp.status(), 200);
    }
    let ops = |log: &serde_json::Value| -> Vec<String> {
        log.as_array()
            .unwrap()
            .iter()
            .map(|e| e["operation"].as_str().unwrap().to_string())
            .collect()
    };
    let mut before = Vec::new();
    for _ in 0..50 {
        before = ops(&audit().await);
        if before.iter().any(|o| o == "pull") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(before.iter().any(|o| o == "pull"), "{before:?}");
    let resp = c
        .post(&url)
        .header("authorization", admin_basic())
        .json(&serde_json::json!({ "schedule": { "type": "Manual" },
            "parameters": { "audit_retention_hour": 0, "include_event_types": "pull_artifact" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // The run is a job, as in Harbor: wait for it.
    let mut after = Vec::new();
    for _ in 0..100 {
        after = ops(&audit().await);
        if !after.iter().any(|o| o == "pull") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!after.iter().any(|o| o == "pull"), "{after:?}");
    assert!(!after.is_empty(), "only pulls were purged");
    assert_eq!(get().await["schedule"]["type"], "Daily");
}

/// A purge asked for through the schedule API is a run of its own: 201 with its
/// Location, listed in the history with its state, a log, and a dry run that counts
/// and removes nothing.
#[tokio::test]
async fn purge_runs_through_the_api() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("audited", false).await;
    let entries = || async {
        admin_json(&s, "/api/v2.0/audit-logs?page_size=100")
            .await
            .as_array()
            .unwrap()
            .len()
    };
    // The project creation is in the log; flushes are asynchronous, so wait for it.
    for _ in 0..50 {
        if entries().await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = entries().await;
    assert!(before > 0);
    let run = |dry: bool| {
        client()
            .post(s.url("/api/v2.0/system/purgeaudit/schedule"))
            .header("authorization", admin_basic())
            .json(&serde_json::json!({ "schedule": { "type": "Manual" },
                "parameters": { "audit_retention_hour": 0, "include_operations": "create", "dry_run": dry } }))
            .send()
    };
    let wait_done = |loc: String| {
        let s = &s;
        async move {
            for _ in 0..100 {
                let j = admin_json(s, &loc).await;
                if j["job_status"] != "Pending" && j["job_status"] != "Running" {
                    return j;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("purge run {loc} did not finish");
        }
    };
    let resp = run(true).await.unwrap();
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/api/v2.0/system/purgeaudit/"), "{loc}");
    let j = wait_done(loc.clone()).await;
    assert_eq!(
        (j["job_status"].as_str(), j["job_kind"].as_str()),
        (Some("Success"), Some("MANUAL"))
    );
    let params: serde_json::Value =
        serde_json::from_str(j["job_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(params["dry_run"], true);
    assert!(entries().await >= before, "a dry run removes nothing");

    let resp = run(false).await.unwrap();
    let loc2 = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(wait_done(loc2.clone()).await["job_status"], "Success");
    let left = admin_json(
        &s,
        "/api/v2.0/audit-logs?page_size=100&q=operation%3Dcreate",
    )
    .await;
    assert_eq!(left, serde_json::json!([]), "every create entry went");

    // History, newest first; the log; stopping a finished run is refused.
    let history = admin_json(&s, "/api/v2.0/system/purgeaudit").await;
    let ids: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("/api/v2.0/system/purgeaudit/{}", h["id"]))
        .collect();
    assert!(ids.contains(&loc) && ids.contains(&loc2), "{history}");
    let log = client()
        .get(s.url(&format!("{loc2}/log")))
        .send_as_admin()
        .await;
    assert_eq!(log.status(), 200);
    assert!(log.text().await.unwrap().contains("finished"));
    let resp = client().put(s.url(&loc2)).send_as_admin().await;
    expect_error(resp, 412, "PRECONDITION").await;
    let resp = client()
        .get(s.url("/api/v2.0/system/purgeaudit/999999"))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "NOT_FOUND").await;
}

/// Harbor's job-service actions over the runner's jobs: a job's log, stopping a job
/// that finished (412), stopping a queue, and the pause Portcullis does not provide.
#[tokio::test]
async fn job_service_actions() {
    let s = Server::start(Backends::Embedded).await;
    let resp = client()
        .post(s.url("/api/v2.0/system/purgeaudit/schedule"))
        .header("authorization", admin_basic())
        .json(&serde_json::json!({ "schedule": { "type": "Manual" },
            "parameters": { "audit_retention_hour": 24, "dry_run": true } }))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let id = loc.rsplit('/').next().unwrap().to_string();
    let mut log = String::new();
    for _ in 0..100 {
        log = client()
            .get(s.url(&format!("/api/v2.0/jobservice/jobs/{id}/log")))
            .send_as_admin()
            .await
            .text()
            .await
            .unwrap();
        if log.contains("finished") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("purge-audit") && log.contains("Succeeded"),
        "{log}"
    );
    let stop = |path: String, action: &'static str| {
        client()
            .put(s.url(&path))
            .header("authorization", admin_basic())
            .json(&serde_json::json!({ "action": action }))
            .send()
    };
    let resp = stop(format!("/api/v2.0/jobservice/jobs/{id}"), "stop")
        .await
        .unwrap();
    expect_error(resp, 412, "PRECONDITION").await;
    let resp = stop("/api/v2.0/jobservice/jobs/999999".into(), "stop")
        .await
        .unwrap();
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = stop("/api/v2.0/jobservice/queues/all".into(), "stop")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = stop("/api/v2.0/jobservice/queues/scan".into(), "pause")
        .await
        .unwrap();
    expect_error(resp, 501, "NOT_IMPLEMENTED").await;
    let resp = stop("/api/v2.0/jobservice/queues/scan".into(), "dance")
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
    create_user(&s, "plain", "Plain-Password-1").await;
    let resp = client()
        .get(s.url(&format!("/api/v2.0/jobservice/jobs/{id}/log")))
        .header("authorization", basic("plain", "Plain-Password-1"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "FORBIDDEN").await;
}
