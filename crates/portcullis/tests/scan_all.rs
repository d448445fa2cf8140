//! Scan-all end to end: schedule settings as a job-runner cron row, a manual run over 200
//! artifacts, the server killed with SIGKILL mid-way and started again, every artifact
//! ending with a successful report.

#[macro_use]
mod common;

use std::time::Duration;

use common::scan::*;
use common::{Backends, SendAsAdmin, Server, client, expect_error};
use serde_json::{Value, json};

async fn metrics(s: &Server) -> Value {
    client()
        .get(s.url("/api/v2.0/scans/all/metrics"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap()
}

async fn scan_all_survives_kill_9(b: Backends) {
    let mut s = Server::start_with(b, &["--scan-workers", "1"]).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({})).await;
    let layer = debian_layer(VULNERABLE);
    const N: usize = 200;
    for i in 0..N {
        push_debian(
            &s,
            "team/many",
            &format!("v{i}"),
            &layer,
            &format!("seed-{i}"),
        )
        .await;
    }
    // Schedule settings: a cron row of the job runner.
    let sched = s.url("/api/v2.0/system/scanAll/schedule");
    let resp = client()
        .put(&sched)
        .json(&json!({ "schedule": { "type": "Daily" } }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let got: Value = client()
        .get(&sched)
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["schedule"]["type"], "Daily", "{got}");
    let bad = client()
        .put(&sched)
        .json(&json!({ "schedule": { "type": "Custom", "cron": "not a cron" } }))
        .send_as_admin()
        .await;
    expect_error(bad, 400, "BAD_REQUEST").await;
    let resp = client()
        .put(&sched)
        .json(&json!({ "schedule": { "type": "None" } }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let got: Value = client()
        .get(&sched)
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["schedule"]["type"], "None");
    let anon = client().get(&sched).send().await.unwrap();
    assert_eq!(anon.status(), 401);

    // Scan everything now; kill the server as soon as some scans are done.
    let resp = client()
        .post(&sched)
        .json(&json!({ "schedule": { "type": "Manual" } }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    let m = poll(
        "the first scans of scan-all",
        Duration::from_secs(300),
        || async {
            let m = metrics(&s).await;
            (m["completed"].as_u64().unwrap_or(0) > 0).then_some(m)
        },
    )
    .await;
    // The job queues show the scans still waiting, to system admins only.
    let queues: Value = client()
        .get(s.url("/api/v2.0/jobservice/queues"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let scans = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["job_type"] == "scan")
        .unwrap_or_else(|| panic!("no scan queue in {queues}"));
    assert!(scans["count"].as_u64().unwrap() > 0, "{queues}");
    assert!(scans["latency"].as_i64().unwrap() >= 0);
    assert_eq!(scans["paused"], false);
    let anon = client()
        .get(s.url("/api/v2.0/jobservice/queues"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    s.kill();
    eprintln!("killed during scan-all at {m}");
    // Otherwise the restart below would prove nothing.
    assert!(
        m["completed"].as_u64().unwrap() < N as u64,
        "scan-all finished before the kill: {m}"
    );
    s.restart();

    // Every artifact ends with a successful report; none stays pending or running.
    let m = poll(
        "scan-all to finish after the restart",
        Duration::from_secs(600),
        || async {
            let m = metrics(&s).await;
            (m["completed"] == N && m["ongoing"] == false).then_some(m)
        },
    )
    .await;
    assert_eq!(m["total"], N, "{m}");
    assert_eq!(m["metrics"]["Success"], N, "{m}");
    assert_eq!(m["trigger"], "Manual");
    for page in 1..=2 {
        let list: Value = client()
            .get(s.url(&format!(
                "/api/v2.0/projects/team/repositories/many/artifacts?with_scan_overview=true&page={page}&page_size=100"
            )))
            .send_as_admin()
            .await
            .json()
            .await
            .unwrap();
        for a in list.as_array().unwrap() {
            assert_eq!(a["scan_overview"][MIME]["scan_status"], "Success", "{a}");
        }
    }
    let stop = client()
        .post(s.url("/api/v2.0/system/scanAll/stop"))
        .send_as_admin()
        .await;
    expect_error(stop, 400, "BAD_REQUEST").await;
}

on_both_backends!(scan_all_survives_kill_9);
