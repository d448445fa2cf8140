//! Scan outcomes as webhook events: SCANNING_COMPLETED with the scan overview, and
//! SCANNING_FAILED for an image the scanner cannot judge, delivered to a receiver inside
//! the test.

#[macro_use]
mod common;
// Only part of the receiver is needed here.
#[allow(dead_code)]
#[path = "webhooks/receiver.rs"]
mod receiver;

use common::scan::*;
use common::{Backends, SendAsAdmin, Server, client};
use receiver::Receiver;
use serde_json::{Value, json};

async fn scan_outcomes_reach_webhooks(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({ "auto_scan": "true" })).await;
    let rx = Receiver::start(0).await;
    let resp = client()
        .post(s.url("/api/v2.0/projects/team/webhook/policies"))
        .header("x-is-resource-name", "true")
        .json(&json!({ "name": "scans", "event_types": ["SCANNING_COMPLETED", "SCANNING_FAILED"],
            "targets": [{ "type": "http", "address": format!("{}/hook", rx.base), "payload_format": "Default" }] }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    let (digest, _) = push_debian(&s, "team/app", "1.0", &debian_layer(VULNERABLE), "a").await;
    let seen = rx.wait_for("SCANNING_COMPLETED", |r| !r.is_empty()).await;
    let body: Value = seen[0].json();
    assert_eq!(body["type"], "SCANNING_COMPLETED", "{body}");
    let res = &body["event_data"]["resources"][0];
    assert_eq!(res["digest"], digest.as_str(), "{body}");
    assert_eq!(
        res["scan_overview"][MIME]["scan_status"], "Success",
        "{body}"
    );
    assert_eq!(res["scan_overview"][MIME]["summary"]["total"], 1, "{body}");

    // A scratch image holding only a file the scanner cannot place: failed, never clean.
    let scratch = layer(&[("app/data.bin", b"\x00\x01")]);
    push_debian(&s, "team/scratch", "1.0", &scratch, "b").await;
    let seen = rx.wait_for("SCANNING_FAILED", |r| r.len() >= 2).await;
    let body: Value = seen[1].json();
    assert_eq!(body["type"], "SCANNING_FAILED", "{body}");
    assert_eq!(
        body["event_data"]["resources"][0]["scan_overview"][MIME]["scan_status"], "Error",
        "{body}"
    );
}

on_both_backends!(scan_outcomes_reach_webhooks);
