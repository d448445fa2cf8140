//! Policies through Harbor's API: create, read, update, delete, validation errors,
//! permissions from the role table, and the audit trail.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::common::*;
use super::{create_policy, get_json, target};

pub async fn policy_crud_and_validation(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("hooks", false).await;
    let base = "/api/v2.0/projects/hooks/webhook/policies";
    let admin = Some(admin_basic());
    let admin = admin.as_deref();
    let id = create_policy(
        &s,
        "hooks",
        json!({
            "name": "ci", "description": "tell CI", "enabled": true,
            "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT", "PUSH_ARTIFACT"],
            "targets": [{ "type": "http", "address": "https://ci.example/hook",
                "auth_header": "Bearer t0k3n", "skip_cert_verify": true,
                "payload_format": "CloudEvents" }],
            "secret": "hmac-key-123",
        }),
    )
    .await;
    let one = format!("{base}/{id}");
    let resp = api(&s, Method::GET, &one, admin, None).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("hmac-key-123"),
        "the signing key is never shown"
    );
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["name"], "ci");
    assert_eq!(p["description"], "tell CI");
    assert_eq!(p["enabled"], true);
    assert_eq!(p["creator"], "admin");
    assert_eq!(p["has_secret"], true);
    assert_eq!(
        p["event_types"],
        json!(["DELETE_ARTIFACT", "PUSH_ARTIFACT"])
    );
    assert_eq!(p["targets"][0]["type"], "http");
    assert_eq!(p["targets"][0]["auth_header"], "Bearer t0k3n");
    assert_eq!(p["targets"][0]["skip_cert_verify"], true);
    assert_eq!(p["targets"][0]["payload_format"], "CloudEvents");
    let pid = p["project_id"].as_i64().unwrap();
    assert!(p["creation_time"].as_str().unwrap().ends_with('Z'));

    // By project id too, without X-Is-Resource-Name.
    let resp = client()
        .get(s.url(&format!("/api/v2.0/projects/{pid}/webhook/policies")))
        .send_as_admin()
        .await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    assert_eq!(resp.json::<Vec<Value>>().await.unwrap()[0]["id"], id);

    // Update without `secret` keeps the key; an empty one removes it.
    let mut update = json!({ "name": "ci-2", "enabled": false, "event_types": ["PULL_ARTIFACT"],
        "targets": [target("http://ci.example:8080/x", "Default")] });
    let resp = api(&s, Method::PUT, &one, admin, Some(update.clone())).await;
    assert_eq!(resp.status(), 200);
    let p = get_json(&s, &one).await;
    assert_eq!(
        (p["name"].as_str(), p["enabled"].as_bool()),
        (Some("ci-2"), Some(false))
    );
    assert_eq!(p["has_secret"], true);
    update["secret"] = json!("");
    api(&s, Method::PUT, &one, admin, Some(update.clone())).await;
    assert_eq!(get_json(&s, &one).await["has_secret"], false);

    // Names are unique per project.
    let resp = api(&s, Method::POST, base, admin, Some(update.clone())).await;
    expect_error(resp, 409, "CONFLICT").await;

    let invalid = [
        json!({ "name": "x", "event_types": ["PUSH_IMAGE"], "targets": [target("http://a/", "Default")] }),
        json!({ "name": "x", "event_types": [], "targets": [target("http://a/", "Default")] }),
        json!({ "name": "x", "event_types": ["PUSH_ARTIFACT"], "targets": [] }),
        json!({ "name": "", "event_types": ["PUSH_ARTIFACT"], "targets": [target("http://a/", "Default")] }),
        json!({ "name": "x", "event_types": ["PUSH_ARTIFACT"], "targets": [target("ftp://a/", "Default")] }),
        json!({ "name": "x", "event_types": ["PUSH_ARTIFACT"], "targets": [target("http://a/", "Xml")] }),
        json!({ "name": "x", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{ "type": "slack", "address": "https://hooks.slack.example/1", "payload_format": "CloudEvents" }] }),
        json!({ "name": "x", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{ "type": "email", "address": "http://a/" }] }),
        json!({ "name": "x", "event_types": "PUSH_ARTIFACT" }),
    ];
    for body in invalid {
        let resp = api(&s, Method::POST, base, admin, Some(body.clone())).await;
        let err = expect_error(resp, 400, "BAD_REQUEST").await;
        assert!(!err.to_string().is_empty(), "{body}");
    }
    let resp = api(&s, Method::PUT, &one, admin, Some(json!({ "name": "x" }))).await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = api(&s, Method::GET, &format!("{base}/999999"), admin, None).await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(&s, Method::GET, &format!("{base}/abc"), admin, None).await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = api(
        &s,
        Method::PUT,
        &format!("{base}/999999"),
        admin,
        Some(update),
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/nope/webhook/policies",
        admin,
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;

    let events = get_json(&s, "/api/v2.0/projects/hooks/webhook/events").await;
    let types: Vec<&str> = events["event_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for t in [
        "PUSH_ARTIFACT",
        "PULL_ARTIFACT",
        "DELETE_ARTIFACT",
        "QUOTA_EXCEED",
        "QUOTA_WARNING",
        "SCANNING_FAILED",
        "SCANNING_STOPPED",
        "SCANNING_COMPLETED",
        "REPLICATION",
        "TAG_RETENTION",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    assert_eq!(events["notify_type"], json!(["http", "slack"]));
    let triggers = get_json(&s, "/api/v2.0/projects/hooks/webhook/lasttrigger").await;
    assert_eq!(triggers[0]["policy_name"], "ci-2");
    assert!(triggers[0]["last_trigger_time"].is_null());

    // Permissions: the role table's notification-policy rows.
    create_user(&s, "gus", "Guest-Pass-1").await;
    add_member(&s, "hooks", "gus", 3).await;
    create_user(&s, "max", "Maint-Pass-1").await;
    add_member(&s, "hooks", "max", 4).await;
    let gus = basic("gus", "Guest-Pass-1");
    let max = basic("max", "Maint-Pass-1");
    let resp = api(&s, Method::GET, base, Some(&gus), None).await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(&s, Method::GET, base, Some(&max), None).await;
    assert_eq!(resp.status(), 200);
    let body = json!({ "name": "m", "event_types": ["PUSH_ARTIFACT"], "targets": [target("http://a/", "Default")] });
    let resp = api(&s, Method::POST, base, Some(&max), Some(body)).await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(&s, Method::DELETE, &one, Some(&max), None).await;
    expect_error(resp, 403, "FORBIDDEN").await;
    // Anonymous callers cannot tell a private project exists.
    let resp = api(&s, Method::GET, base, None, None).await;
    expect_error(resp, 404, "NOT_FOUND").await;

    let resp = api(&s, Method::DELETE, &one, admin, None).await;
    assert_eq!(resp.status(), 200);
    let resp = api(&s, Method::GET, &one, admin, None).await;
    expect_error(resp, 404, "NOT_FOUND").await;

    // Policy changes are audited.
    let mut ops = Vec::new();
    for _ in 0..50 {
        let logs: Vec<Value> = get_json(&s, "/api/v2.0/projects/hooks/logs?page_size=100")
            .await
            .as_array()
            .unwrap()
            .clone();
        ops = logs
            .iter()
            .filter(|e| e["resource_type"] == "webhook_policy")
            .map(|e| e["operation"].as_str().unwrap().to_string())
            .collect();
        if ops.iter().any(|o| o == "delete") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for op in ["create", "update", "delete"] {
        assert!(ops.iter().any(|o| o == op), "no {op} entry in {ops:?}");
    }
}
