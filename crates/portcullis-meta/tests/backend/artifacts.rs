//! Manifests, tags and pulls.

use std::collections::BTreeMap;

use portcullis_meta::{ArtifactId, Error, MetaStore};
use portcullis_types::Reference;
use time::{Duration, OffsetDateTime};

use crate::fixtures::{
    IMAGE_INDEX, IMAGE_MANIFEST, LAYER, blob, digest, manifest, project, push_image, repo, tag,
};

pub async fn put_manifest_records_and_resolves(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let config = blob(
        &store,
        r.id,
        "config",
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    let layer = blob(&store, r.id, "layer", LAYER).await;
    let before = OffsetDateTime::now_utc() - Duration::seconds(1);

    let mut m = manifest(r.id, "v1");
    m.blobs = vec![config.clone(), layer.clone(), layer.clone()];
    m.size = 4_321;
    m.manifest_size = 321;
    m.annotations = BTreeMap::from([(
        "org.opencontainers.image.created".to_string(),
        "2026-01-01T00:00:00Z".to_string(),
    )]);
    m.extra_attrs = serde_json::json!({"architecture": "amd64", "os": "linux"});
    m.tag = Some(tag("v1"));
    let out = store.artifacts().put_manifest(m.clone()).await.unwrap();
    assert!(out.created);
    assert_eq!(out.replaced_tag_from, None);
    let a = out.artifact;
    assert_eq!(a.repository_id, r.id);
    assert_eq!(a.digest, m.digest);
    assert_eq!(a.media_type, IMAGE_MANIFEST);
    assert_eq!(a.artifact_type, None);
    assert_eq!(a.effective_type(), m.config_media_type.as_deref());
    assert_eq!((a.manifest_size, a.size), (321, 4_321));
    assert_eq!(a.subject, None);
    assert_eq!(a.annotations, m.annotations);
    assert_eq!(a.extra_attrs, m.extra_attrs);
    assert!(a.push_time >= before && a.push_time <= OffsetDateTime::now_utc());
    assert_eq!(a.pull_time, None);

    assert_eq!(
        store
            .artifacts()
            .get_artifact(r.id, &a.digest)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.artifacts().get_artifact_by_id(a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("v1"))
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("v2"))
            .await
            .unwrap(),
        None
    );
    let by_tag = Reference::Tag(tag("v1"));
    let by_digest = Reference::Digest(a.digest.clone());
    assert_eq!(
        store.artifacts().resolve(&r.name, &by_tag).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .artifacts()
            .resolve(&r.name, &by_digest)
            .await
            .unwrap(),
        Some(a.clone())
    );
    let elsewhere = repo(&store, &p, "other").await;
    assert_eq!(
        store
            .artifacts()
            .resolve(&elsewhere.name, &by_digest)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .artifacts()
            .resolve(&elsewhere.name, &by_tag)
            .await
            .unwrap(),
        None
    );

    let tags = store.tags().tags_of(a.id).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, tag("v1"));
    assert_eq!(tags[0].artifact_id, a.id);
    assert_eq!(tags[0].repository_id, r.id);
    assert_eq!(tags[0].push_time, a.push_time);
    assert_eq!(
        store.tags().get_tag(r.id, &tag("v1")).await.unwrap(),
        Some(tags[0].clone())
    );

    // The manifest itself can be fetched as a blob of its repository.
    let as_blob = store
        .blobs()
        .blob_in_repository(r.id, &a.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(as_blob.size, 321);
    assert_eq!(as_blob.media_type.as_deref(), Some(IMAGE_MANIFEST));
    assert_eq!(
        store
            .blobs()
            .blob_in_repository(elsewhere.id, &a.digest)
            .await
            .unwrap(),
        None
    );

    let repo_after = store
        .repositories()
        .get_repository(&r.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(repo_after.artifact_count, 1);
    assert!(repo_after.update_time >= r.update_time);

    let mut unknown = manifest(portcullis_meta::RepositoryId(r.id.0 + 1000), "x");
    unknown.tag = Some(tag("x"));
    assert!(matches!(
        store.artifacts().put_manifest(unknown).await,
        Err(Error::NotFound)
    ));
}

pub async fn put_manifest_again_keeps_the_row(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let first = push_image(&store, r.id, "v1", Some("v1")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let layer = digest("layer v1");
    let config = digest("config v1");
    let mut m = manifest(r.id, "v1");
    m.blobs = vec![config, layer];
    m.size = 2_000;
    m.tag = Some(tag("also"));
    let out = store.artifacts().put_manifest(m).await.unwrap();
    assert!(!out.created);
    assert_eq!(out.artifact.id, first.id);
    assert!(out.artifact.push_time > first.push_time);
    assert_eq!(out.replaced_tag_from, None);
    let names: Vec<String> = store
        .tags()
        .tags_of(first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["also", "v1"]);
    assert_eq!(
        store
            .artifacts()
            .list_artifacts(r.id, 1, 10)
            .await
            .unwrap()
            .1,
        1
    );
}

pub async fn put_manifest_missing_blob_writes_nothing(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let other = repo(&store, &p, "other").await;
    let config = blob(
        &store,
        r.id,
        "config",
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    // Recorded and linked elsewhere, but not to this repository.
    let foreign = blob(&store, other.id, "foreign", LAYER).await;
    let unknown = digest("never uploaded");

    let mut m = manifest(r.id, "broken");
    m.blobs = vec![config, foreign.clone(), unknown.clone()];
    m.tag = Some(tag("latest"));
    match store.artifacts().put_manifest(m.clone()).await {
        Err(Error::MissingBlobs(missing)) => assert_eq!(missing, vec![foreign, unknown]),
        other => panic!("expected MissingBlobs, got {other:?}"),
    }
    assert_eq!(
        store
            .artifacts()
            .get_artifact(r.id, &m.digest)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .tags()
            .list_tags(r.id, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .artifacts()
            .list_artifacts(r.id, 1, 10)
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(
        store
            .blobs()
            .blob_in_repository(r.id, &m.digest)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.blobs().get_blob(&m.digest).await.unwrap(), None);
    let unchanged = store
        .repositories()
        .get_repository(&r.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.update_time, r.update_time, "rolled back");

    // An index naming a manifest the repository lacks fails the same way.
    let child = push_image(&store, other.id, "child", None).await;
    let mut index = manifest(r.id, "index");
    index.media_type = IMAGE_INDEX.to_string();
    index.children = vec![(child.digest.clone(), None)];
    index.tag = Some(tag("latest"));
    match store.artifacts().put_manifest(index.clone()).await {
        Err(Error::MissingManifests(missing)) => assert_eq!(missing, vec![child.digest]),
        other => panic!("expected MissingManifests, got {other:?}"),
    }
    assert_eq!(
        store
            .artifacts()
            .get_artifact(r.id, &index.digest)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .tags()
            .list_tags(r.id, None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn tags_move_and_page(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let a = push_image(&store, r.id, "a", Some("latest")).await;
    let b_config = blob(
        &store,
        r.id,
        "config b",
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    let mut m = manifest(r.id, "b");
    m.blobs = vec![b_config];
    m.tag = Some(tag("latest"));
    let out = store.artifacts().put_manifest(m.clone()).await.unwrap();
    assert_eq!(out.replaced_tag_from, Some(a.digest.clone()));
    let b = out.artifact;
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("latest"))
            .await
            .unwrap()
            .unwrap()
            .id,
        b.id
    );
    assert!(store.tags().tags_of(a.id).await.unwrap().is_empty());
    assert!(
        store
            .artifacts()
            .get_artifact(r.id, &a.digest)
            .await
            .unwrap()
            .is_some(),
        "untagged, kept"
    );

    let again = store.artifacts().put_manifest(m).await.unwrap();
    assert_eq!(again.replaced_tag_from, None, "same digest is no move");

    for t in ["v1.0", "v1.1", "v2", "V3", "_x", "1.0"] {
        let mut m = manifest(r.id, "a");
        m.tag = Some(tag(t));
        store.artifacts().put_manifest(m).await.unwrap();
    }
    let all = store.tags().list_tags(r.id, None, None).await.unwrap();
    assert_eq!(all, ["1.0", "V3", "_x", "latest", "v1.0", "v1.1", "v2"]);
    assert_eq!(
        store.tags().list_tags(r.id, None, Some(2)).await.unwrap(),
        ["1.0", "V3"]
    );
    assert_eq!(
        store
            .tags()
            .list_tags(r.id, Some("_x"), Some(2))
            .await
            .unwrap(),
        ["latest", "v1.0"]
    );
    assert_eq!(
        store
            .tags()
            .list_tags(r.id, Some("v2"), None)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(
        store
            .tags()
            .list_tags(r.id, None, Some(0))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(store.tags().delete_tag(r.id, &tag("latest")).await.unwrap());
    assert!(!store.tags().delete_tag(r.id, &tag("latest")).await.unwrap());
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("latest"))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .artifacts()
            .get_artifact(r.id, &b.digest)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn artifacts_page_newest_first(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let mut pushed = Vec::new();
    for i in 0..5 {
        pushed.push(push_image(&store, r.id, &format!("n{i}"), None).await.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    pushed.reverse();
    let mut listed = Vec::new();
    for page in 1..=3 {
        let (items, total) = store
            .artifacts()
            .list_artifacts(r.id, page, 2)
            .await
            .unwrap();
        assert_eq!(total, 5);
        assert!(items.len() <= 2);
        listed.extend(items.into_iter().map(|a| a.id));
    }
    assert_eq!(listed, pushed);
}

pub async fn pulls_are_recorded_in_batches(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let other = repo(&store, &p, "other").await;
    let a = push_image(&store, r.id, "a", Some("a")).await;
    let b = push_image(&store, r.id, "b", None).await;
    let c = push_image(&store, other.id, "c", None).await;
    let t0 = OffsetDateTime::now_utc();
    let later = t0 + Duration::minutes(5);

    store.artifacts().record_pulls(&[]).await.unwrap();
    store
        .artifacts()
        .record_pulls(&[
            (a.id, t0),
            (a.id, later),
            (a.id, t0 + Duration::minutes(1)),
            (b.id, t0),
            (c.id, t0),
            (ArtifactId(c.id.0 + 1000), t0),
        ])
        .await
        .unwrap();

    let a_now = store
        .artifacts()
        .get_artifact(r.id, &a.digest)
        .await
        .unwrap()
        .unwrap();
    let expect = |t: OffsetDateTime| t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap();
    assert_eq!(a_now.pull_time, Some(expect(later)));
    let b_now = store
        .artifacts()
        .get_artifact(r.id, &b.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_now.pull_time, Some(expect(t0)));
    assert_eq!(
        store
            .repositories()
            .get_repository(&r.name)
            .await
            .unwrap()
            .unwrap()
            .pull_count,
        4
    );
    assert_eq!(
        store
            .repositories()
            .get_repository(&other.name)
            .await
            .unwrap()
            .unwrap()
            .pull_count,
        1
    );

    // An older pull arriving late counts but never moves the pull time back.
    store.artifacts().record_pulls(&[(a.id, t0)]).await.unwrap();
    let a_now = store
        .artifacts()
        .get_artifact(r.id, &a.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_now.pull_time, Some(expect(later)));
    assert_eq!(
        store
            .repositories()
            .get_repository(&r.name)
            .await
            .unwrap()
            .unwrap()
            .pull_count,
        5
    );
}

/// Blobs count from upload on, as Harbor counts them: an upload that does not fit is
/// refused and not served; deleting the last artifact standing on a blob gives its size
/// back and stops serving it.
pub async fn uploads_count_against_the_quota(store: MetaStore) {
    let p = project(&store, "small").await;
    let r = repo(&store, &p, "app").await;
    store.quotas().set_quota_limit(p.id, 3_000).await.unwrap();
    let used = || async {
        store
            .quotas()
            .project_quota(p.id)
            .await
            .unwrap()
            .unwrap()
            .used
    };
    let image = push_image(&store, r.id, "a", Some("v1")).await;
    // "config a" and "layer a": 800 and 700 bytes, and the 500-byte manifest.
    assert_eq!(used().await, 2_000);
    let big = digest("too big for what is left");
    store.blobs().record_blob(&big, 1_001, None).await.unwrap();
    match store.blobs().link_blob(r.id, &big).await {
        Err(portcullis_meta::Error::QuotaExceeded {
            hard,
            used,
            requested,
        }) => {
            assert_eq!((hard, used, requested), (3_000, 2_000, 3_001));
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    assert!(
        store
            .blobs()
            .blob_in_repository(r.id, &big)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(used().await, 2_000);
    // Linked but unreferenced blobs count too, once.
    let fits = digest("fits");
    store.blobs().record_blob(&fits, 1_000, None).await.unwrap();
    store.blobs().link_blob(r.id, &fits).await.unwrap();
    store.blobs().link_blob(r.id, &fits).await.unwrap();
    assert_eq!(used().await, 3_000);
    store
        .artifacts()
        .delete_artifact(r.id, &image.digest, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        used().await,
        1_000,
        "the uploaded, unreferenced blob still counts"
    );
    let layer = digest("layer a");
    assert!(
        store
            .blobs()
            .blob_in_repository(r.id, &layer)
            .await
            .unwrap()
            .is_none()
    );
    // Deleting the unreferenced blob gives its size back.
    assert!(store.blobs().unlink_blob(r.id, &fits).await.unwrap());
    assert_eq!(used().await, 0);
}
