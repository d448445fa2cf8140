//! Labels and promotion by copy.

use portcullis_meta::{ArtifactFilter, Error, LabelQuery, MetaStore, NewLabel};

use crate::fixtures::*;

fn label(name: &str, project: Option<portcullis_meta::ProjectId>) -> NewLabel {
    NewLabel {
        name: name.into(),
        description: "d".into(),
        color: "#112233".into(),
        scope: if project.is_some() { "p" } else { "g" }.into(),
        project_id: project,
    }
}

pub async fn labels_are_scoped_and_attach_to_artifacts(store: MetaStore) {
    let p = project(&store, "lib").await;
    let q = project(&store, "other").await;
    let r = repo(&store, &p, "app").await;
    let a = push_image(&store, r.id, "a", Some("v1")).await;
    let b = push_image(&store, r.id, "b", Some("v2")).await;

    let g = store
        .labels()
        .create_label(&label("qa", None))
        .await
        .unwrap();
    // One name per scope and project; the same name may live in several projects.
    assert!(matches!(
        store.labels().create_label(&label("qa", None)).await,
        Err(Error::Conflict(_))
    ));
    let pl = store
        .labels()
        .create_label(&label("qa", Some(p.id)))
        .await
        .unwrap();
    store
        .labels()
        .create_label(&label("qa", Some(q.id)))
        .await
        .unwrap();
    assert!(matches!(
        store.labels().create_label(&label("qa", Some(p.id))).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store
            .labels()
            .create_label(&label("x", Some(portcullis_meta::ProjectId(9999))))
            .await,
        Err(Error::NotFound)
    ));

    let (page, total) = store
        .labels()
        .list_labels(
            &LabelQuery {
                scope: Some("p".into()),
                project_id: Some(p.id),
                ..Default::default()
            },
            1,
            10,
        )
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(page[0].id, pl.id);

    store.labels().add_artifact_label(a.id, g.id).await.unwrap();
    store
        .labels()
        .add_artifact_label(a.id, pl.id)
        .await
        .unwrap();
    store.labels().add_artifact_label(b.id, g.id).await.unwrap();
    assert!(matches!(
        store.labels().add_artifact_label(a.id, g.id).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.labels().add_artifact_label(a.id, 424_242).await,
        Err(Error::NotFound)
    ));
    let names: Vec<_> = store
        .labels()
        .labels_of(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(names.len(), 2);

    let find = |all: Vec<i64>, any: Vec<i64>| {
        let store = store.clone();
        async move {
            let f = ArtifactFilter {
                all_labels: all,
                any_label: any,
                ..Default::default()
            };
            let (list, total) = store
                .artifacts()
                .find_artifacts(r.id, &f, 1, 10)
                .await
                .unwrap();
            assert_eq!(list.len() as u64, total);
            let mut ids: Vec<_> = list.into_iter().map(|x| x.id).collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(find(vec![g.id, pl.id], vec![]).await, vec![a.id]);
    assert_eq!(find(vec![g.id], vec![]).await, {
        let mut v = vec![a.id, b.id];
        v.sort();
        v
    });
    assert_eq!(find(vec![], vec![pl.id, 424_242]).await, vec![a.id]);

    let renamed = store
        .labels()
        .update_label(g.id, "qa-passed", "ok", "#000")
        .await
        .unwrap();
    assert_eq!(renamed.name, "qa-passed");
    assert!(
        store
            .labels()
            .update_label(424_242, "n", "", "")
            .await
            .is_err()
    );
    assert!(
        store
            .labels()
            .remove_artifact_label(a.id, pl.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .labels()
            .remove_artifact_label(a.id, pl.id)
            .await
            .unwrap()
    );
    // Deleting a label takes it off every artifact.
    assert!(store.labels().delete_label(g.id).await.unwrap());
    assert!(store.labels().labels_of(b.id).await.unwrap().is_empty());
    assert!(!store.labels().delete_label(g.id).await.unwrap());
}

pub async fn copy_of_a_tree_is_all_or_nothing(store: MetaStore) {
    let p = project(&store, "lib").await;
    let src = repo(&store, &p, "src").await;
    let dst = repo(&store, &p, "dst").await;
    let amd = push_image(&store, src.id, "amd64", None).await;
    let arm = push_image(&store, src.id, "arm64", None).await;
    let mut index = manifest(src.id, "index");
    index.media_type = IMAGE_INDEX.to_string();
    index.config_media_type = None;
    index.children = vec![(amd.digest.clone(), None), (arm.digest.clone(), None)];
    index.tag = Some(tag("multi"));
    let index = store
        .artifacts()
        .put_manifest(index)
        .await
        .unwrap()
        .artifact;

    // Leaving out a child: the index cannot be copied, and the child that came first in
    // the same call is not left behind either.
    match store
        .artifacts()
        .copy_artifacts(&[amd.id, index.id], dst.id, true, &Default::default())
        .await
    {
        Err(Error::MissingManifests(m)) => assert_eq!(m, vec![arm.digest.clone()]),
        other => panic!("expected MissingManifests, got {other:?}"),
    }
    assert!(
        store
            .artifacts()
            .get_artifact(dst.id, &amd.digest)
            .await
            .unwrap()
            .is_none()
    );

    let (copy, created) = store
        .artifacts()
        .copy_artifacts(
            &[amd.id, arm.id, index.id],
            dst.id,
            true,
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(copy.digest, index.digest);
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(dst.id, &tag("multi"))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(copy.id)
    );
    assert!(
        store
            .artifacts()
            .get_artifact(dst.id, &arm.digest)
            .await
            .unwrap()
            .is_some()
    );
    // Copying again changes nothing and reports the copy as existing.
    let (again, created) = store
        .artifacts()
        .copy_artifacts(&[index.id], dst.id, true, &Default::default())
        .await
        .unwrap();
    assert_eq!((again.id, created), (copy.id, false));
}
