//! Races the registry meets in practice: parallel first pushes into a new repository and
//! parallel pushes of the same manifest or tag.

use std::collections::HashSet;

use futures::future::join_all;
use portcullis_meta::MetaStore;
use portcullis_types::RepoName;

use crate::fixtures::{blob, manifest, project, tag};

const TASKS: usize = 12;

pub async fn concurrent_ensure_repository(store: MetaStore) {
    let p = project(&store, "lib").await;
    let name = RepoName::parse("lib/racy").unwrap();
    let tasks = (0..TASKS).map(|_| {
        let store = store.clone();
        let name = name.clone();
        tokio::spawn(async move { store.repositories().ensure_repository(p.id, &name).await })
    });
    let ids: HashSet<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("ensure_repository").id)
        .collect();
    assert_eq!(ids.len(), 1, "every caller gets the same repository");
    let (_, total) = store
        .repositories()
        .list_repositories(Some(p.id), None, 1, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
}

pub async fn concurrent_put_of_one_digest(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = store
        .repositories()
        .ensure_repository(p.id, &RepoName::parse("lib/app").unwrap())
        .await
        .unwrap();
    let config = blob(
        &store,
        r.id,
        "config",
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    let mut m = manifest(r.id, "same");
    m.blobs = vec![config];
    m.tag = Some(tag("latest"));
    let tasks = (0..TASKS).map(|_| {
        let store = store.clone();
        let m = m.clone();
        tokio::spawn(async move { store.artifacts().put_manifest(m).await })
    });
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("put_manifest"))
        .collect();
    let ids: HashSet<_> = outcomes.iter().map(|o| o.artifact.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    assert!(outcomes.iter().all(|o| o.replaced_tag_from.is_none()));
    assert_eq!(
        store
            .artifacts()
            .list_artifacts(r.id, 1, 10)
            .await
            .unwrap()
            .1,
        1
    );
    assert_eq!(
        store.tags().list_tags(r.id, None, None).await.unwrap(),
        ["latest"]
    );
}

pub async fn concurrent_tag_moves_are_serialised(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = store
        .repositories()
        .ensure_repository(p.id, &RepoName::parse("lib/app").unwrap())
        .await
        .unwrap();
    let tasks = (0..TASKS).map(|i| {
        let store = store.clone();
        let mut m = manifest(r.id, &format!("m{i}"));
        m.tag = Some(tag("latest"));
        tokio::spawn(async move { store.artifacts().put_manifest(m).await })
    });
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("put_manifest"))
        .collect();
    // Each push saw the one before it: exactly one found the tag absent, and the moves
    // form a single chain ending at the artifact the tag now names.
    let moved_from: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.replaced_tag_from.clone())
        .collect();
    assert_eq!(moved_from.len(), TASKS - 1);
    let distinct: HashSet<_> = moved_from.iter().collect();
    assert_eq!(distinct.len(), TASKS - 1);
    let current = store
        .artifacts()
        .resolve_tag(r.id, &tag("latest"))
        .await
        .unwrap()
        .unwrap();
    assert!(!distinct.contains(&current.digest));
    assert_eq!(
        store
            .artifacts()
            .list_artifacts(r.id, 1, 100)
            .await
            .unwrap()
            .1,
        TASKS as u64
    );
}
