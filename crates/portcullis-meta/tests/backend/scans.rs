//! Scan reports and the layer inventory cache.

use portcullis_meta::{FinishedScan, MetaStore, ReportKey, ReportStatus};

use crate::fixtures::*;

fn key(digest: &str) -> ReportKey {
    ReportKey {
        digest: digest.into(),
        scanner: "portcullis".into(),
        mime_type: "application/vnd.security.vulnerability.report; version=1.1".into(),
    }
}

fn success(total: u64, generation: i64) -> FinishedScan {
    FinishedScan {
        severity: Some("High".into()),
        total,
        fixable: 1,
        summary: r#"{"High":1}"#.into(),
        scanner_name: "Portcullis".into(),
        report: Some(vec![1, 2, 3]),
        log: "done\n".into(),
        layers: r#"{"images":[["sha256:aa"]]}"#.into(),
        db_generation: Some(generation),
        ..FinishedScan::default()
    }
}

pub async fn reports_move_through_their_states(store: MetaStore) {
    let k = key("sha256:01");
    let r = store
        .scans()
        .request_scan(&k, "uuid-1", 7, None)
        .await
        .unwrap();
    assert_eq!(r.status, ReportStatus::Pending);
    assert_eq!(r.job_id, Some(7));
    store.scans().start_scan(&k, "other-uuid", 8).await.unwrap();
    store.scans().set_scan_progress(&k, 40).await.unwrap();
    let r = store.scans().get_report(&k).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.uuid.as_str(), r.complete_percent),
        (ReportStatus::Running, "uuid-1", 40)
    );
    assert!(r.start_time.is_some() && r.end_time.is_none());
    store
        .scans()
        .finish_scan(&k, ReportStatus::Success, &success(3, 1))
        .await
        .unwrap();
    let r = store
        .scans()
        .get_report_by_uuid("uuid-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.status, r.total, r.fixable),
        (ReportStatus::Success, 3, 1)
    );
    assert_eq!(r.report.as_deref(), Some(&[1u8, 2, 3][..]));
    assert!(r.end_time.is_some());
    // A failed rescan keeps the last results and records only its log.
    store
        .scans()
        .request_scan(&k, "ignored", 9, None)
        .await
        .unwrap();
    let failed = FinishedScan {
        log: "boom\n".into(),
        ..FinishedScan::default()
    };
    store
        .scans()
        .finish_scan(&k, ReportStatus::Error, &failed)
        .await
        .unwrap();
    let r = store.scans().get_report(&k).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.total, r.log.as_str()),
        (ReportStatus::Error, 3, "boom\n")
    );
    // Listings leave the document out.
    let listed = store
        .scans()
        .reports_of(&["sha256:01".into(), "sha256:02".into()], &k.mime_type)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].report.is_none());
    assert!(
        store
            .scans()
            .get_report(&key("sha256:02"))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn scan_all_counts_and_rejudging(store: MetaStore) {
    for (i, d) in ["sha256:a1", "sha256:a2", "sha256:a3"].iter().enumerate() {
        store
            .scans()
            .request_scan(&key(d), &format!("u{i}"), 1, Some(100))
            .await
            .unwrap();
    }
    store
        .scans()
        .start_scan(&key("sha256:a1"), "x", 1)
        .await
        .unwrap();
    store
        .scans()
        .finish_scan(&key("sha256:a1"), ReportStatus::Success, &success(1, 1))
        .await
        .unwrap();
    store
        .scans()
        .start_scan(&key("sha256:a2"), "x", 1)
        .await
        .unwrap();
    store
        .scans()
        .finish_scan(&key("sha256:a2"), ReportStatus::Success, &success(1, 2))
        .await
        .unwrap();
    let mut counts = store.scans().report_counts(100).await.unwrap();
    counts.sort();
    assert_eq!(
        counts,
        vec![(ReportStatus::Pending, 1), (ReportStatus::Success, 2)]
    );
    assert_eq!(
        store.scans().unfinished_reports(100).await.unwrap().len(),
        1
    );
    // Only reports judged by another generation are due.
    let due = store
        .scans()
        .reports_to_rejudge("portcullis", 2, 0, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key.digest, "sha256:a1");
    store
        .scans()
        .store_rejudged(&[(due[0].id, success(5, 2))])
        .await
        .unwrap();
    assert!(
        store
            .scans()
            .reports_to_rejudge("portcullis", 2, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .scans()
            .get_report(&key("sha256:a1"))
            .await
            .unwrap()
            .unwrap()
            .total,
        5
    );
}

pub async fn layer_inventories_by_digest_and_version(store: MetaStore) {
    store
        .scans()
        .put_layer_inventory("sha256:l1", 1, b"old")
        .await
        .unwrap();
    store
        .scans()
        .put_layer_inventory("sha256:l1", 2, b"new")
        .await
        .unwrap();
    store
        .scans()
        .put_layer_inventory("sha256:l2", 2, b"two")
        .await
        .unwrap();
    let mut got = store
        .scans()
        .layer_inventories(
            &["sha256:l1".into(), "sha256:l2".into(), "sha256:l3".into()],
            2,
        )
        .await
        .unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("sha256:l1".into(), b"new".to_vec()),
            ("sha256:l2".into(), b"two".to_vec())
        ]
    );
    assert!(
        store
            .scans()
            .layer_inventories(&["sha256:l1".into()], 1)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn scannable_artifacts_are_distinct_digests(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r1 = repo(&store, &p, "a").await;
    let r2 = repo(&store, &p, "b").await;
    // The same image in two repositories is one digest to scan.
    let one = push_image(&store, r1.id, "one", Some("v1")).await;
    push_image(&store, r2.id, "one", Some("v1")).await;
    let two = push_image(&store, r1.id, "two", Some("v2")).await;
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.scans().scannable_artifacts(&after, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.digest.clone();
        all.extend(page);
    }
    let mut want = vec![one.digest.to_string(), two.digest.to_string()];
    want.sort();
    assert_eq!(
        all.iter().map(|a| a.digest.clone()).collect::<Vec<_>>(),
        want
    );
    assert!(
        all.iter()
            .all(|a| !a.has_subject && a.config_media_type.is_some())
    );
    assert!(all.iter().all(|a| a.repository.starts_with("lib/")));
}

pub async fn reports_go_with_the_last_artifact_of_their_digest(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r1 = repo(&store, &p, "a").await;
    let r2 = repo(&store, &p, "b").await;
    let shared = push_image(&store, r1.id, "one", Some("v1")).await;
    push_image(&store, r2.id, "one", Some("v1")).await;
    let alone = push_image(&store, r1.id, "two", Some("v2")).await;
    let running = push_image(&store, r2.id, "three", Some("v3")).await;
    for (i, a) in [&shared, &alone].iter().enumerate() {
        let k = key(a.digest.as_str());
        store
            .scans()
            .request_scan(&k, &format!("u{i}"), 1, None)
            .await
            .unwrap();
        store
            .scans()
            .finish_scan(&k, ReportStatus::Success, &success(1, 1))
            .await
            .unwrap();
    }
    let k = key(running.digest.as_str());
    store
        .scans()
        .request_scan(&k, "u-run", 1, None)
        .await
        .unwrap();
    assert_eq!(store.scans().prune_reports().await.unwrap(), 0);

    // Still in repository b: the shared report stays; the lone one goes.
    assert!(
        store
            .artifacts()
            .delete_artifact(r1.id, &shared.digest, &Default::default())
            .await
            .unwrap()
    );
    assert!(
        store
            .artifacts()
            .delete_artifact(r1.id, &alone.digest, &Default::default())
            .await
            .unwrap()
    );
    assert!(
        store
            .artifacts()
            .delete_artifact(r2.id, &running.digest, &Default::default())
            .await
            .unwrap()
    );
    assert_eq!(store.scans().prune_reports().await.unwrap(), 1);
    assert!(
        store
            .scans()
            .get_report(&key(shared.digest.as_str()))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .scans()
            .get_report(&key(alone.digest.as_str()))
            .await
            .unwrap()
            .is_none()
    );
    // A scan still pending is its job's to finish.
    assert!(store.scans().get_report(&k).await.unwrap().is_some());

    store
        .repositories()
        .delete_repository(r2.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(store.scans().prune_reports().await.unwrap(), 1);
    assert!(
        store
            .scans()
            .get_report(&key(shared.digest.as_str()))
            .await
            .unwrap()
            .is_none()
    );
}
