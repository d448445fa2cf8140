//! Webhook policies and their deliveries: executions, tasks queued as jobs, attempts.

use portcullis_meta::{
    Error, JobState, MetaStore, NewWebhookAttempt, NewWebhookDelivery, NewWebhookPolicy,
    NewWebhookTask, WEBHOOK_JOB_KIND, WebhookTarget,
};

use crate::fixtures::project;

pub fn policy(project: portcullis_meta::ProjectId, name: &str) -> NewWebhookPolicy {
    NewWebhookPolicy {
        project_id: project,
        name: name.into(),
        description: "d".into(),
        enabled: true,
        event_types: vec!["PUSH_ARTIFACT".into()],
        targets: vec![WebhookTarget {
            notify_type: "http".into(),
            address: "http://127.0.0.1:9/hook".into(),
            auth_header: "Bearer x".into(),
            skip_cert_verify: false,
            payload_format: "Default".into(),
        }],
        secret: Some("key".into()),
        creator: "admin".into(),
    }
}

fn delivery(policy_id: i64, tasks: usize) -> NewWebhookDelivery {
    NewWebhookDelivery {
        policy_id,
        event_type: "PUSH_ARTIFACT".into(),
        max_attempts: 3,
        tasks: (0..tasks)
            .map(|i| NewWebhookTask {
                notify_type: "http".into(),
                address: format!("http://127.0.0.1:9/{i}"),
                payload_format: "Default".into(),
                content_type: "application/json".into(),
                body: format!("{{\"n\":{i}}}"),
            })
            .collect(),
    }
}

pub async fn policies_round_trip(store: MetaStore) {
    let p = project(&store, "hooks").await;
    let other = project(&store, "other").await;
    let a = store
        .webhooks()
        .create_webhook_policy(&policy(p.id, "a"))
        .await
        .unwrap();
    assert_eq!(a.targets[0].auth_header, "Bearer x");
    assert_eq!(a.secret.as_deref(), Some("key"));
    assert!(matches!(
        store
            .webhooks()
            .create_webhook_policy(&policy(p.id, "a"))
            .await,
        Err(Error::Conflict(_))
    ));
    store
        .webhooks()
        .create_webhook_policy(&policy(other.id, "a"))
        .await
        .unwrap();
    assert_eq!(
        store
            .webhooks()
            .list_webhook_policies(Some(p.id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .webhooks()
            .list_webhook_policies(None)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .webhooks()
            .get_webhook_policy(other.id, a.id)
            .await
            .unwrap()
            .is_none()
    );

    let mut changed = policy(p.id, "b");
    changed.enabled = false;
    changed.secret = None;
    changed.event_types = vec!["PULL_ARTIFACT".into(), "DELETE_ARTIFACT".into()];
    store
        .webhooks()
        .update_webhook_policy(a.id, &changed)
        .await
        .unwrap();
    let b = store
        .webhooks()
        .get_webhook_policy(p.id, a.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (b.name.as_str(), b.enabled, b.secret.clone()),
        ("b", false, None)
    );
    assert_eq!(b.event_types, ["PULL_ARTIFACT", "DELETE_ARTIFACT"]);
    assert_eq!(b.creation_time, a.creation_time);
    changed.project_id = other.id;
    assert!(matches!(
        store.webhooks().update_webhook_policy(a.id, &changed).await,
        Err(Error::NotFound)
    ));
    store
        .webhooks()
        .delete_webhook_policy(p.id, a.id)
        .await
        .unwrap();
    assert!(matches!(
        store.webhooks().delete_webhook_policy(p.id, a.id).await,
        Err(Error::NotFound)
    ));
}

pub async fn deliveries_are_jobs_with_attempts(store: MetaStore) {
    let p = project(&store, "hooks").await;
    let pol = store
        .webhooks()
        .create_webhook_policy(&policy(p.id, "a"))
        .await
        .unwrap();
    let queued = store
        .webhooks()
        .create_webhook_deliveries(&[delivery(pol.id, 2), delivery(pol.id + 1000, 1)])
        .await
        .unwrap();
    assert_eq!(queued, 2, "a missing policy's delivery is skipped");
    let (list, total) = store
        .webhooks()
        .list_webhook_executions(pol.id, 1, 10)
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 1));
    let exec = &list[0];
    assert_eq!(exec.tasks.len(), 2);
    let task = &exec.tasks[0];
    assert_eq!(task.state, Some(JobState::Pending));
    assert_eq!(task.attempts, 0);
    let job = store
        .jobs()
        .get_job(task.job_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, WEBHOOK_JOB_KIND);
    assert_eq!(job.max_attempts, 3);
    assert_eq!(job.payload["task_id"], task.id);

    let d = store
        .webhooks()
        .webhook_delivery(task.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.body, "{\"n\":0}");
    assert_eq!(d.policy.id, pol.id);
    for (n, code) in [(1, Some(500)), (2, None), (3, Some(200))] {
        store
            .webhooks()
            .record_webhook_attempt(&NewWebhookAttempt {
                task_id: task.id,
                attempt: n,
                status_code: code,
                duration_ms: 7,
                response: "r".into(),
                error: code.is_none().then(|| "refused".to_string()),
            })
            .await
            .unwrap();
    }
    let (t, attempts) = store
        .webhooks()
        .webhook_task_attempts(exec.id, task.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.id, task.id);
    let codes: Vec<_> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), None, Some(200)]);
    assert_eq!(attempts[1].error.as_deref(), Some("refused"));
    assert!(
        store
            .webhooks()
            .webhook_task_attempts(exec.id + 1, task.id)
            .await
            .unwrap()
            .is_none()
    );
    let one = store
        .webhooks()
        .get_webhook_execution(pol.id, exec.id)
        .await
        .unwrap();
    assert_eq!(one.as_ref(), Some(exec));
    let last = store.webhooks().webhook_last_triggers(p.id).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].0, last[0].1.as_str()), (pol.id, "PUSH_ARTIFACT"));

    // Deleting the policy takes its records along; its jobs then find nothing.
    store
        .webhooks()
        .delete_webhook_policy(p.id, pol.id)
        .await
        .unwrap();
    assert!(
        store
            .webhooks()
            .webhook_delivery(task.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .webhooks()
            .list_webhook_executions(pol.id, 1, 10)
            .await
            .unwrap()
            .1,
        0
    );
}
