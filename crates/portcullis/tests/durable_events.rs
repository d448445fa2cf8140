//! Durable events end to end: pushes are killed with `kill -9` right after the first
//! manifest PUT returns, and after a restart every push the clients saw succeed still has
//! its PUSH_ARTIFACT webhook and its audit entry (both written through the outbox in the
//! push's own transaction), on both backend pairs.

#[macro_use]
mod common;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use receiver::Receiver;
use reqwest::Method;
use serde_json::json;

on_both_backends!(kill_after_push_loses_no_event);

/// Manifests pushed at once; the kill lands while most are in flight.
const PUSHES: usize = 24;

async fn kill_after_push_loses_no_event(b: Backends) {
    let rx = Receiver::start(0).await;
    let mut s = Server::start(b).await;
    s.create_project("durable", false).await;
    let path = "/api/v2.0/projects/durable/webhook/policies";
    let policy = json!({
        "name": "pushes",
        "enabled": true,
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{ "type": "http", "address": format!("{}/durable", rx.base),
                      "payload_format": "Default" }],
    });
    let resp = api(&s, Method::POST, path, Some(&admin_basic()), Some(policy)).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    // Blobs first, so that each push below is one manifest PUT.
    let mut manifests = Vec::new();
    for i in 0..PUSHES {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        let layer = format!("layer {i}").into_bytes();
        let cd = push_blob(&s, "durable/app", config.as_bytes()).await;
        let ld = push_blob(&s, "durable/app", &layer).await;
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": cd, "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                         "digest": ld, "size": layer.len() }],
        });
        manifests.push(serde_json::to_vec(&m).unwrap());
    }

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, bytes) in manifests.into_iter().enumerate() {
        let url = s.url(&format!("/v2/durable/app/manifests/t{i}"));
        let done = done_tx.clone();
        tokio::spawn(async move {
            let status = client()
                .put(url)
                .header("authorization", admin_basic())
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(bytes.clone())
                .send()
                .await
                .map(|r| r.status().as_u16());
            let _ = done.send((i, status.ok(), sha256(&bytes)));
        });
    }
    drop(done_tx);

    // The first success is the signal: the process dies at once, mid-way through the rest.
    let mut succeeded = BTreeSet::new();
    let mut outcomes = 0;
    while let Some((i, status, digest)) = done_rx.recv().await {
        outcomes += 1;
        if status == Some(201) {
            succeeded.insert((i, digest));
            s.kill();
            break;
        }
    }
    while let Some((i, status, digest)) = done_rx.recv().await {
        outcomes += 1;
        if status == Some(201) {
            succeeded.insert((i, digest));
        }
    }
    assert_eq!(outcomes, PUSHES);
    assert!(!succeeded.is_empty());

    s.restart();

    // Every push a client saw succeed is delivered to the receiver …
    let wanted: BTreeSet<String> = succeeded.iter().map(|(_, d)| d.clone()).collect();
    rx.wait_for("a PUSH_ARTIFACT for every acknowledged push", |seen| {
        let got: BTreeSet<String> = seen
            .iter()
            .map(|r| r.json())
            .filter(|p| p["type"] == "PUSH_ARTIFACT")
            .filter_map(|p| {
                p["event_data"]["resources"][0]["digest"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        wanted.is_subset(&got)
    })
    .await;

    // … and on record in the audit log, exactly once.
    let mut entries = Vec::new();
    for _ in 0..50 {
        let resp = api(
            &s,
            Method::GET,
            "/api/v2.0/audit-logs?page_size=100&q=operation=create",
            Some(&admin_basic()),
            None,
        )
        .await;
        assert_eq!(resp.status(), 200);
        entries = resp.json::<Vec<serde_json::Value>>().await.unwrap();
        let on_record = |i: &usize| {
            entries
                .iter()
                .filter(|e| e["resource"] == format!("durable/app:t{i}"))
                .count()
        };
        if succeeded.iter().all(|(i, _)| on_record(i) == 1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("acknowledged pushes {succeeded:?} are not each audited once: {entries:#?}");
}
