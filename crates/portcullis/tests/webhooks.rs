//! Webhooks end to end: policies through Harbor's API, and deliveries to a receiver inside
//! the test, in every format, with retries, signatures and a server restart mid-retry.

#[macro_use]
mod common;
#[path = "webhooks/crud.rs"]
mod crud;
#[path = "webhooks/receiver.rs"]
mod receiver;

use std::time::Duration;

use common::*;
use crud::policy_crud_and_validation;
use hmac::{KeyInit, Mac};
use receiver::{Received, Receiver};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    policy_crud_and_validation,
    push_pull_delete_in_every_format,
    failing_receiver_ends_with_one_success,
    restart_during_retries_loses_nothing,
    slow_receiver_times_out,
);

/// Creates a policy as admin; returns its id (from `Location`).
pub(crate) async fn create_policy(s: &Server, project: &str, body: Value) -> i64 {
    let path = format!("/api/v2.0/projects/{project}/webhook/policies");
    let resp = api(s, Method::POST, &path, Some(&admin_basic()), Some(body)).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

pub(crate) async fn get_json(s: &Server, path: &str) -> Value {
    let resp = api(s, Method::GET, path, Some(&admin_basic()), None).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

pub(crate) fn target(address: &str, format: &str) -> Value {
    json!({ "type": "http", "address": address, "payload_format": format })
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The Default payload's fields for an artifact event.
fn check_default(r: &Received, kind: &str, digest: &str, tag: &str, operator: &str) {
    assert_eq!(r.header("content-type"), Some("application/json"));
    let p = r.json();
    assert_eq!(p["type"], kind, "{p}");
    assert!(p["occur_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(p["operator"], operator);
    let res = &p["event_data"]["resources"][0];
    assert_eq!(res["digest"], digest);
    assert_eq!(res["tag"], tag);
    let url = res["resource_url"].as_str().unwrap();
    let expected = if tag.is_empty() {
        format!("/hooks/app@{digest}")
    } else {
        format!("/hooks/app:{tag}")
    };
    assert_eq!(url, format!("registry.example.test{expected}"));
    let repo = &p["event_data"]["repository"];
    assert_eq!(repo["name"], "app");
    assert_eq!(repo["namespace"], "hooks");
    assert_eq!(repo["repo_full_name"], "hooks/app");
    assert_eq!(repo["repo_type"], "private");
    assert!(
        repo["date_created"].as_i64().unwrap() > 1_700_000_000,
        "{p}"
    );
}

/// The CloudEvents envelope around the same data.
fn check_cloudevent(r: &Received, ce_type: &str, pid: i64, policy: i64, digest: &str) -> String {
    assert_eq!(
        r.header("content-type"),
        Some("application/cloudevents+json")
    );
    let e = r.json();
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["type"], ce_type);
    assert_eq!(
        e["source"],
        format!("/projects/{pid}/webhook/policies/{policy}")
    );
    assert_eq!(e["datacontenttype"], "application/json");
    assert_eq!(e["operator"], "admin");
    assert!(!e["requestid"].as_str().unwrap().is_empty());
    assert!(e["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(e["data"]["resources"][0]["digest"], digest);
    assert_eq!(e["data"]["repository"]["repo_full_name"], "hooks/app");
    e["id"].as_str().unwrap().to_string()
}

async fn push_pull_delete_in_every_format(b: Backends) {
    // resource_url names the configured public host, whichever request caused the event
    // (the delete below comes through the API).
    let s = Server::start_with(b, &["--external-url", "https://registry.example.test"]).await;
    s.create_project("hooks", false).await;
    let rx = Receiver::start(0).await;
    let all = json!(["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]);
    let plain = create_policy(
        &s,
        "hooks",
        json!({ "name": "plain", "event_types": all,
        "targets": [{ "type": "http", "address": format!("{}/default", rx.base),
            "auth_header": "Bearer abc", "payload_format": "Default" }],
        "secret": "k3y" }),
    )
    .await;
    let ce = create_policy(
        &s,
        "hooks",
        json!({ "name": "ce", "event_types": all,
        "targets": [target(&format!("{}/ce", rx.base), "CloudEvents")] }),
    )
    .await;
    create_policy(
        &s,
        "hooks",
        json!({ "name": "slack", "event_types": ["PUSH_ARTIFACT"],
        "targets": [{ "type": "slack", "address": format!("{}/slack", rx.base) }] }),
    )
    .await;
    create_policy(
        &s,
        "hooks",
        json!({ "name": "off", "enabled": false, "event_types": all,
        "targets": [target(&format!("{}/off", rx.base), "Default")] }),
    )
    .await;
    let pid = get_json(&s, "/api/v2.0/projects/hooks").await["project_id"]
        .as_i64()
        .unwrap();

    let (digest, _) = push_image(&s, "hooks/app", "1.0", "w").await;
    let seen = rx.wait_for("three push deliveries", |r| r.len() >= 3).await;
    let by = |path: &str| seen.iter().find(|r| r.path == path).cloned().unwrap();
    let d = by("/default");
    check_default(&d, "PUSH_ARTIFACT", &digest, "1.0", "admin");
    assert_eq!(d.header("authorization"), Some("Bearer abc"));
    let sig = d.header("x-portcullis-signature-256").unwrap();
    assert_eq!(sig, format!("sha256={}", hmac_hex("k3y", &d.body)));
    assert!(d.header("x-portcullis-delivery").is_some());
    let first_id = check_cloudevent(&by("/ce"), "harbor.artifact.pushed", pid, ce, &digest);
    assert!(by("/ce").header("x-portcullis-signature-256").is_none());
    assert!(by("/ce").header("authorization").is_none());
    let slack = by("/slack").json();
    assert_eq!(slack["text"], "PUSH_ARTIFACT on hooks/app by admin");
    let details = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        details.contains(&digest) && details.contains("hooks/app:1.0"),
        "{details}"
    );
    assert_eq!(slack["blocks"][1]["text"]["type"], "mrkdwn");

    // A pull by digest: no tag, the resource URL names the digest. The client's request
    // id comes back in X-Request-Id and is the CloudEvent's requestid.
    let resp = client()
        .get(s.url(&format!("/v2/hooks/app/manifests/{digest}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .header("x-request-id", "pull-req-42")
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "pull-req-42");
    let other = client().get(s.url("/v2/")).send_as_admin().await;
    assert_eq!(other.headers()["x-request-id"].len(), 36, "a minted id");
    let seen = rx.wait_for("pull deliveries", |r| r.len() >= 5).await;
    let pulls: Vec<&Received> = seen[3..].iter().collect();
    let d = pulls.iter().find(|r| r.path == "/default").unwrap();
    check_default(d, "PULL_ARTIFACT", &digest, "", "admin");
    let e = pulls.iter().find(|r| r.path == "/ce").unwrap();
    let pull_id = check_cloudevent(e, "harbor.artifact.pulled", pid, ce, &digest);
    assert_eq!(e.json()["requestid"], "pull-req-42");
    assert_ne!(first_id, pull_id, "every event has a fresh id");

    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/projects/hooks/repositories/app/artifacts/{digest}"),
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let seen = rx.wait_for("delete deliveries", |r| r.len() >= 7).await;
    let d = seen[5..].iter().find(|r| r.path == "/default").unwrap();
    check_default(d, "DELETE_ARTIFACT", &digest, "", "admin");
    let e = seen[5..].iter().find(|r| r.path == "/ce").unwrap();
    check_cloudevent(e, "harbor.artifact.deleted", pid, ce, &digest);
    assert!(
        seen.iter().all(|r| r.path != "/off"),
        "a disabled policy sends nothing"
    );

    // Every delivery is on record as a successful execution of its policy.
    let execs = get_json(
        &s,
        &format!("/api/v2.0/projects/hooks/webhook/policies/{plain}/executions"),
    )
    .await;
    let execs = execs.as_array().unwrap();
    let kinds: Vec<&str> = execs
        .iter()
        .map(|e| e["extra_attrs"]["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["DELETE_ARTIFACT", "PULL_ARTIFACT", "PUSH_ARTIFACT"]);
    for e in execs {
        assert_eq!(e["vendor_type"], "WEBHOOK");
        assert_eq!(e["vendor_id"], plain);
        assert_eq!(e["trigger"], "EVENT");
        wait_status(&s, plain, e["id"].as_i64().unwrap(), "Success").await;
    }
    let triggers = get_json(&s, "/api/v2.0/projects/hooks/webhook/lasttrigger").await;
    assert!(
        triggers
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["policy_name"] == "plain"
                && t["event_type"] == "PUSH_ARTIFACT"
                && t["last_trigger_time"].is_string())
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
        metrics.contains("portcullis_events_dropped_total{subscriber=\"webhooks\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_events_backlog{subscriber=\"webhooks\"}"),
        "{metrics}"
    );

    // Deleting a repository sends DELETE_ARTIFACT for each artifact in it, as Harbor does.
    let (gone, _) = push_image(&s, "hooks/tmp", "t1", "x").await;
    let resp = api(
        &s,
        Method::DELETE,
        "/api/v2.0/projects/hooks/repositories/tmp",
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let seen = rx
        .wait_for("the repository's delete event", |r| {
            r.iter().any(|r| {
                r.path == "/default"
                    && r.json()["type"] == "DELETE_ARTIFACT"
                    && r.json()["event_data"]["repository"]["name"] == "tmp"
            })
        })
        .await;
    let d = seen
        .iter()
        .find(|r| {
            r.path == "/default"
                && r.json()["event_data"]["repository"]["name"] == "tmp"
                && r.json()["type"] == "DELETE_ARTIFACT"
        })
        .unwrap();
    let res = &d.json()["event_data"]["resources"][0];
    assert_eq!(res["digest"], gone.as_str());
    assert_eq!(res["tag"], "t1");
}

/// Waits until the execution reaches `status`; returns it.
async fn wait_status(s: &Server, policy: i64, exec: i64, status: &str) -> Value {
    let path =
        format!("/api/v2.0/projects/hooks/webhook/policies/{policy}/executions?page_size=100");
    for _ in 0..300 {
        let list = get_json(s, &path).await;
        if let Some(e) = list.as_array().unwrap().iter().find(|e| e["id"] == exec)
            && e["status"] == status
        {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "execution {exec} never reached {status}: {}",
        get_json(s, &path).await
    );
}

/// The one task of the policy's newest execution, and its log.
async fn newest_task(s: &Server, policy: i64) -> (i64, Value, String) {
    let base = format!("/api/v2.0/projects/hooks/webhook/policies/{policy}/executions");
    let execs = get_json(s, &base).await;
    let exec = execs[0]["id"].as_i64().unwrap();
    let tasks = get_json(s, &format!("{base}/{exec}/tasks")).await;
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    let task = tasks[0].clone();
    let log_path = format!("{base}/{exec}/tasks/{}/log", task["id"]);
    let resp = api(s, Method::GET, &log_path, Some(&admin_basic()), None).await;
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    (exec, task, resp.text().await.unwrap())
}

async fn failing_receiver_ends_with_one_success(b: Backends) {
    let s = Server::start_with(b, &["--webhook-retry-delay-ms", "200"]).await;
    s.create_project("hooks", true).await;
    let rx = Receiver::start(2).await;
    let policy = create_policy(
        &s,
        "hooks",
        json!({ "name": "flaky", "event_types": ["PUSH_ARTIFACT"],
        "targets": [target(&format!("{}/flaky", rx.base), "Default")] }),
    )
    .await;
    push_image(&s, "hooks/app", "1", "f").await;
    let seen = rx.wait_for("three attempts", |r| r.len() >= 3).await;
    assert!(
        seen.windows(2).all(|w| w[0].body == w[1].body),
        "retries send the same body"
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].header("x-portcullis-delivery") == w[1].header("x-portcullis-delivery"))
    );
    let (exec, _, _) = newest_task(&s, policy).await;
    let e = wait_status(&s, policy, exec, "Success").await;
    assert_eq!(e["metrics"]["success_task_count"], 1);
    assert_eq!(e["metrics"]["error_task_count"], 0);
    assert!(e["end_time"].is_string());
    let (_, task, log) = newest_task(&s, policy).await;
    assert_eq!(task["status"], "Success");
    assert_eq!(task["run_count"], 3);
    assert_eq!(log.matches("HTTP 500").count(), 2, "{log}");
    assert_eq!(log.matches("HTTP 200").count(), 1, "{log}");
    assert!(
        log.contains("attempt 3:") && log.contains("receiver is down"),
        "{log}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.seen().len(), 3, "nothing is sent after the success");

    // A receiver that never answers well: the delivery ends as an error after 3 attempts.
    let dead = Receiver::start(usize::MAX).await;
    let policy = create_policy(
        &s,
        "hooks",
        json!({ "name": "dead", "event_types": ["PUSH_ARTIFACT"],
        "targets": [target(&format!("{}/dead", dead.base), "Default")] }),
    )
    .await;
    push_image(&s, "hooks/app", "2", "g").await;
    let (exec, _, _) = {
        dead.wait_for("a first attempt", |r| !r.is_empty()).await;
        newest_task(&s, policy).await
    };
    let e = wait_status(&s, policy, exec, "Error").await;
    assert_eq!(e["metrics"]["error_task_count"], 1);
    assert_eq!(dead.seen().len(), 3);
    let (_, task, _) = newest_task(&s, policy).await;
    assert!(
        task["status_message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{task}"
    );
}

async fn restart_during_retries_loses_nothing(b: Backends) {
    let mut s = Server::start_with(b, &["--webhook-retry-delay-ms", "3000"]).await;
    s.create_project("hooks", true).await;
    let rx = Receiver::start(1).await;
    let policy = create_policy(
        &s,
        "hooks",
        json!({ "name": "restart", "event_types": ["PUSH_ARTIFACT"],
        "targets": [target(&format!("{}/r", rx.base), "CloudEvents")] }),
    )
    .await;
    push_image(&s, "hooks/app", "1", "r").await;
    rx.wait_for("the first attempt", |r| r.len() == 1).await;
    // Wait until the failed attempt is on record and the retry is queued, then crash.
    for _ in 0..100 {
        let (_, task, _) = newest_task(&s, policy).await;
        if task["status_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.seen().len(), 1, "the retry waits for its backoff");
    s.restart();
    let seen = rx
        .wait_for("the retry after the restart", |r| r.len() >= 2)
        .await;
    assert_eq!(seen[0].body, seen[1].body, "the same event, byte for byte");
    let (exec, _, _) = newest_task(&s, policy).await;
    wait_status(&s, policy, exec, "Success").await;
    let (_, task, log) = newest_task(&s, policy).await;
    assert_eq!(task["run_count"], 2);
    assert_eq!(
        log.lines().filter(|l| l.contains(" attempt ")).count(),
        2,
        "{log}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.seen().len(), 2);
}

async fn slow_receiver_times_out(b: Backends) {
    let s = Server::start_with(
        b,
        &[
            "--webhook-timeout-seconds",
            "1",
            "--webhook-max-attempts",
            "1",
        ],
    )
    .await;
    s.create_project("hooks", true).await;
    let rx = Receiver::slow(Duration::from_secs(5)).await;
    let policy = create_policy(
        &s,
        "hooks",
        json!({ "name": "slow", "event_types": ["PUSH_ARTIFACT"],
        "targets": [target(&format!("{}/slow", rx.base), "Default")] }),
    )
    .await;
    push_image(&s, "hooks/app", "1", "s").await;
    rx.wait_for("the attempt", |r| !r.is_empty()).await;
    // Pushes go on while the receiver hangs.
    push_image(&s, "hooks/app", "2", "t").await;
    let base = format!("/api/v2.0/projects/hooks/webhook/policies/{policy}/executions");
    let execs = get_json(&s, &base).await;
    let first = execs.as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    wait_status(&s, policy, first, "Error").await;
    let tasks = get_json(&s, &format!("{base}/{first}/tasks")).await;
    assert_eq!(tasks[0]["run_count"], 1, "one attempt only");
    let log_path = format!("{base}/{first}/tasks/{}/log", tasks[0]["id"]);
    let resp = api(&s, Method::GET, &log_path, Some(&admin_basic()), None).await;
    let log = resp.text().await.unwrap();
    assert!(log.contains("error: timed out"), "{log}");
}
