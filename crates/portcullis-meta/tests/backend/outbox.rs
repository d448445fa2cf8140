//! The outbox: events are written in the push's transaction (or not at all), claimed by
//! lease, and completed exactly once with their subscribers' effects.

use std::time::Duration;

use portcullis_meta::{
    MetaStore, NewAuditEntry, NewOutboxEvent, NewWebhookDelivery, NewWebhookTask, OutboxEffects,
};

use crate::fixtures::{manifest, project, repo};

fn event(id: &str, project_id: i64) -> NewOutboxEvent {
    NewOutboxEvent {
        event_id: id.into(),
        kind: "PUSH_ARTIFACT".into(),
        project_id,
        payload: format!("{{\"id\":\"{id}\"}}"),
    }
}

fn audit(resource: &str) -> NewAuditEntry {
    NewAuditEntry {
        op_time: time::OffsetDateTime::now_utc(),
        username: "admin".into(),
        operation: "create".into(),
        resource_type: "artifact".into(),
        resource: resource.into(),
        project_id: None,
        client_ip: "127.0.0.1".into(),
        success: true,
        description: "create artifact".into(),
    }
}

pub async fn events_commit_with_the_push_and_complete_once(store: MetaStore) {
    let p = project(&store, "outbox").await;
    let repo = repo(&store, &p, "app").await;

    // A push that fails writes no event.
    let mut failing = manifest(repo.id, "missing blob");
    failing.blobs = vec![crate::fixtures::digest("never linked")];
    failing.events.outbox = vec![event("lost", p.id.0)];
    assert!(store.artifacts().put_manifest(failing).await.is_err());
    assert_eq!(store.outbox().outbox_backlog().await.unwrap().pending, 0);

    let mut m = manifest(repo.id, "ok");
    m.events.outbox = vec![event("e1", p.id.0)];
    m.events.audit = vec![audit("outbox/app:0")];
    store.artifacts().put_manifest(m).await.unwrap();
    let backlog = store.outbox().outbox_backlog().await.unwrap();
    assert_eq!(backlog.pending, 1);
    assert!(backlog.oldest.is_some());

    // The writer holds the lease: a dispatcher finds nothing to claim yet.
    assert!(
        store
            .outbox()
            .claim_outbox(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let pending = store
        .outbox()
        .outbox_events(&["e1".to_string()])
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payload, "{\"id\":\"e1\"}");

    let hook = store
        .webhooks()
        .create_webhook_policy(&crate::webhooks::policy(p.id, "hook"))
        .await
        .unwrap();
    let effects = OutboxEffects {
        event_id: "e1".into(),
        audit: vec![audit("outbox/app:1")],
        webhooks: vec![NewWebhookDelivery {
            policy_id: hook.id,
            event_type: "PUSH_ARTIFACT".into(),
            max_attempts: 3,
            tasks: vec![NewWebhookTask {
                notify_type: "http".into(),
                address: "http://127.0.0.1:9/hook".into(),
                payload_format: "Default".into(),
                content_type: "application/json".into(),
                body: "{}".into(),
            }],
        }],
    };
    assert_eq!(
        store
            .outbox()
            .complete_outbox(std::slice::from_ref(&effects))
            .await
            .unwrap(),
        1
    );
    // Completing again (a second dispatcher, a retry) writes nothing twice.
    assert_eq!(store.outbox().complete_outbox(&[effects]).await.unwrap(), 0);
    assert_eq!(store.outbox().outbox_backlog().await.unwrap().pending, 0);
    let (entries, total) = store
        .audit()
        .list_audit(&Default::default(), 1, 10)
        .await
        .unwrap();
    // One written with the push, one by the completion.
    assert_eq!(total, 2, "{entries:?}");
    let (execs, total) = store
        .webhooks()
        .list_webhook_executions(hook.id, 1, 10)
        .await
        .unwrap();
    assert_eq!((execs.len(), total), (1, 1));
}

pub async fn expired_leases_are_claimed_again(store: MetaStore) {
    let p = project(&store, "leases").await;
    store
        .outbox()
        .insert_outbox(&[event("a", p.id.0), event("b", p.id.0)])
        .await
        .unwrap();
    // As if the writer died: its lease is given up.
    store
        .outbox()
        .release_outbox(&["a".into(), "b".into()], Duration::ZERO)
        .await
        .unwrap();
    let claimed = store
        .outbox()
        .claim_outbox(1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event_id, "a");
    assert_eq!(claimed[0].attempts, 2);
    // A claimed event is not handed to a second dispatcher while its lease runs.
    let next = store
        .outbox()
        .claim_outbox(10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert!(
        store
            .outbox()
            .claim_outbox(10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn repository_deletes_write_their_events(store: MetaStore) {
    let p = project(&store, "outbox-repo").await;
    let doomed = repo(&store, &p, "doomed").await;
    store
        .artifacts()
        .put_manifest(manifest(doomed.id, "one"))
        .await
        .unwrap();
    let writes = portcullis_meta::EventWrites {
        outbox: vec![event("gone-1", p.id.0), event("gone-2", p.id.0)],
        audit: vec![audit("outbox-repo/doomed")],
    };
    store
        .repositories()
        .delete_repository(doomed.id, &writes)
        .await
        .unwrap();
    assert_eq!(store.outbox().outbox_backlog().await.unwrap().pending, 2);
    // A delete that fails (the repository is already gone) writes nothing.
    assert!(
        store
            .repositories()
            .delete_repository(doomed.id, &writes)
            .await
            .is_err()
    );
    assert_eq!(store.outbox().outbox_backlog().await.unwrap().pending, 2);
}
