//! Repositories, the catalog and blob links.

use portcullis_meta::{Error, MetaStore, ProjectId, RepositoryId};
use portcullis_types::RepoName;

use crate::fixtures::{LAYER, digest, project, push_image, repo, tag};

pub async fn ensure_repository_is_idempotent(store: MetaStore) {
    let p = project(&store, "lib").await;
    let other = project(&store, "other").await;
    let name = RepoName::parse("lib/app").unwrap();
    let first = store
        .repositories()
        .ensure_repository(p.id, &name)
        .await
        .unwrap();
    let second = store
        .repositories()
        .ensure_repository(p.id, &name)
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.name, name);
    assert_eq!(first.project_id, p.id);
    assert_eq!((first.pull_count, first.artifact_count), (0, 0));
    assert_eq!(first.description, "");

    assert!(matches!(
        store
            .repositories()
            .ensure_repository(other.id, &name)
            .await,
        Err(Error::Conflict(_))
    ));
    let orphan = RepoName::parse("ghost/app").unwrap();
    assert!(matches!(
        store
            .repositories()
            .ensure_repository(ProjectId(other.id.0 + 1000), &orphan)
            .await,
        Err(Error::NotFound)
    ));

    assert_eq!(
        store.repositories().get_repository(&name).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .repositories()
            .get_repository_by_id(first.id)
            .await
            .unwrap(),
        Some(first.clone())
    );
    store
        .repositories()
        .update_repository_description(first.id, "the app")
        .await
        .unwrap();
    let described = store
        .repositories()
        .get_repository(&name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(described.description, "the app");
    assert!(matches!(
        store
            .repositories()
            .update_repository_description(RepositoryId(first.id.0 + 1000), "x")
            .await,
        Err(Error::NotFound)
    ));
}

pub async fn repository_listing_filters_and_pages(store: MetaStore) {
    let lib = project(&store, "lib").await;
    let other = project(&store, "other").await;
    for path in ["web", "api", "tools/cli", "tools/web_ui", "db"] {
        repo(&store, &lib, path).await;
    }
    let o = repo(&store, &other, "web").await;
    push_image(&store, o.id, "one", None).await;
    push_image(&store, o.id, "two", None).await;

    let names = |v: Vec<portcullis_meta::Repository>| {
        v.into_iter()
            .map(|r| r.name.to_string())
            .collect::<Vec<_>>()
    };
    let (page, total) = store
        .repositories()
        .list_repositories(Some(lib.id), None, 1, 2)
        .await
        .unwrap();
    assert_eq!(
        (names(page), total),
        (vec!["lib/api".into(), "lib/db".into()], 5)
    );
    let (page, total) = store
        .repositories()
        .list_repositories(Some(lib.id), None, 3, 2)
        .await
        .unwrap();
    assert_eq!((names(page), total), (vec!["lib/web".into()], 5));

    let (page, total) = store
        .repositories()
        .list_repositories(None, Some("WEB"), 1, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(names(page), ["lib/tools/web_ui", "lib/web", "other/web"]);

    let (page, total) = store
        .repositories()
        .list_repositories(None, Some("b_"), 1, 10)
        .await
        .unwrap();
    assert_eq!((names(page), total), (vec!["lib/tools/web_ui".into()], 1));

    let (page, _) = store
        .repositories()
        .list_repositories(Some(other.id), None, 1, 10)
        .await
        .unwrap();
    assert_eq!(page[0].artifact_count, 2);
}

pub async fn catalog_pages_in_byte_order(store: MetaStore) {
    let lib = project(&store, "lib").await;
    let zoo = project(&store, "zoo").await;
    // Byte order puts '-' < '.' < '/' < '0' < '_' < 'a'; a locale collation would not.
    for path in ["ab", "a_b", "a0", "a/b", "a.b", "a-b"] {
        repo(&store, &lib, path).await;
    }
    repo(&store, &zoo, "x").await;
    let expected = [
        "lib/a-b", "lib/a.b", "lib/a/b", "lib/a0", "lib/a_b", "lib/ab", "zoo/x",
    ];
    assert_eq!(
        store.repositories().catalog(None, 100, None).await.unwrap(),
        expected
    );

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .repositories()
            .catalog(after.as_deref(), 2, None)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        seen.extend(page);
    }
    assert_eq!(seen, expected);

    assert_eq!(
        store
            .repositories()
            .catalog(Some("lib/a0"), 2, None)
            .await
            .unwrap(),
        ["lib/a_b", "lib/ab"]
    );
    assert_eq!(
        store
            .repositories()
            .catalog(None, 100, Some(&[zoo.id]))
            .await
            .unwrap(),
        ["zoo/x"]
    );
    assert!(
        store
            .repositories()
            .catalog(None, 100, Some(&[]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .repositories()
            .catalog(None, 0, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .repositories()
            .catalog(Some("zoo/x"), 10, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn blobs_are_linked_per_repository(store: MetaStore) {
    let p = project(&store, "lib").await;
    let a = repo(&store, &p, "a").await;
    let b = repo(&store, &p, "b").await;
    let d = digest("layer");

    assert_eq!(store.blobs().get_blob(&d).await.unwrap(), None);
    assert!(matches!(
        store.blobs().link_blob(a.id, &d).await,
        Err(Error::NotFound)
    ));
    store.blobs().record_blob(&d, 1234, None).await.unwrap();
    store
        .blobs()
        .record_blob(&d, 1234, Some(LAYER))
        .await
        .unwrap();
    store
        .blobs()
        .record_blob(&d, 1234, Some("other/type"))
        .await
        .unwrap();
    let rec = store.blobs().get_blob(&d).await.unwrap().unwrap();
    assert_eq!(rec.digest, d);
    assert_eq!(rec.size, 1234);
    assert_eq!(rec.media_type.as_deref(), Some(LAYER));

    assert_eq!(
        store.blobs().blob_in_repository(a.id, &d).await.unwrap(),
        None
    );
    store.blobs().link_blob(a.id, &d).await.unwrap();
    store.blobs().link_blob(a.id, &d).await.unwrap();
    assert_eq!(
        store.blobs().blob_in_repository(a.id, &d).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(
        store.blobs().blob_in_repository(&a.name, &d).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(
        store.blobs().blob_in_repository(b.id, &d).await.unwrap(),
        None
    );
    assert_eq!(
        store.blobs().blob_in_repository(&b.name, &d).await.unwrap(),
        None
    );
    let unknown = RepoName::parse("lib/none").unwrap();
    assert_eq!(
        store
            .blobs()
            .blob_in_repository(&unknown, &d)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .blobs()
            .link_blob(RepositoryId(b.id.0 + 1000), &d)
            .await,
        Err(Error::NotFound)
    ));

    store.blobs().link_blob(b.id, &d).await.unwrap();
    assert!(store.blobs().unlink_blob(a.id, &d).await.unwrap());
    assert!(!store.blobs().unlink_blob(a.id, &d).await.unwrap());
    assert_eq!(
        store.blobs().blob_in_repository(a.id, &d).await.unwrap(),
        None
    );
    assert!(
        store
            .blobs()
            .blob_in_repository(b.id, &d)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store.blobs().get_blob(&d).await.unwrap().is_some(),
        "the record stays"
    );
}

pub async fn delete_repository_cascades(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let keep = repo(&store, &p, "keep").await;
    let art = push_image(&store, r.id, "v1", Some("latest")).await;
    let kept = push_image(&store, keep.id, "k1", Some("latest")).await;
    let layer = digest("layer v1");

    store
        .repositories()
        .delete_repository(r.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        store.repositories().get_repository(&r.name).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .artifacts()
            .get_artifact(r.id, &art.digest)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("latest"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .blobs()
            .blob_in_repository(&r.name, &layer)
            .await
            .unwrap(),
        None
    );
    assert!(store.blobs().get_blob(&layer).await.unwrap().is_some());
    assert!(matches!(
        store
            .repositories()
            .delete_repository(r.id, &Default::default())
            .await,
        Err(Error::NotFound)
    ));

    assert_eq!(
        store
            .artifacts()
            .resolve_tag(keep.id, &tag("latest"))
            .await
            .unwrap(),
        Some(kept)
    );
    assert_eq!(
        store
            .projects()
            .get_project(p.id)
            .await
            .unwrap()
            .unwrap()
            .repo_count,
        1
    );
    // The name is free again, with a new id.
    let again = repo(&store, &p, "app").await;
    assert_ne!(again.id, r.id);
    assert_eq!(again.artifact_count, 0);
}
