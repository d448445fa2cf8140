//! Referrers and index children.

use portcullis_meta::{Error, MetaStore};

use crate::fixtures::{IMAGE_INDEX, digest, manifest, project, push_image, repo, tag};

pub async fn referrers_filter_by_artifact_type(store: MetaStore) {
    const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
    const SBOM: &str = "application/spdx+json";
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let other = repo(&store, &p, "other").await;
    let subject = push_image(&store, r.id, "subject", Some("v1")).await;

    let mut sig = manifest(r.id, "sig");
    sig.artifact_type = Some(SIG.to_string());
    sig.config_media_type = Some("application/vnd.oci.empty.v1+json".to_string());
    sig.subject = Some(subject.digest.clone());
    let sig = store.artifacts().put_manifest(sig).await.unwrap().artifact;
    assert_eq!(sig.subject.as_ref(), Some(&subject.digest));

    // An older-style artifact: its type is only its config media type.
    let mut sbom = manifest(r.id, "sbom");
    sbom.config_media_type = Some(SBOM.to_string());
    sbom.subject = Some(subject.digest.clone());
    let sbom = store.artifacts().put_manifest(sbom).await.unwrap().artifact;

    // A referrer of a subject that is not (yet) in the repository is fine.
    let mut dangling = manifest(r.id, "dangling");
    dangling.subject = Some(digest("not pushed yet"));
    store.artifacts().put_manifest(dangling).await.unwrap();

    let ids = |v: Vec<portcullis_meta::Artifact>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .artifacts()
            .referrers(r.id, &subject.digest, None)
            .await
            .unwrap()),
        [sig.id, sbom.id]
    );
    assert_eq!(
        ids(store
            .artifacts()
            .referrers(r.id, &subject.digest, Some(SIG))
            .await
            .unwrap()),
        [sig.id]
    );
    assert_eq!(
        ids(store
            .artifacts()
            .referrers(r.id, &subject.digest, Some(SBOM))
            .await
            .unwrap()),
        [sbom.id]
    );
    assert!(
        store
            .artifacts()
            .referrers(r.id, &subject.digest, Some("application/x-none"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .artifacts()
            .referrers(other.id, &subject.digest, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .artifacts()
            .referrers(r.id, &sig.digest, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn index_children_block_deletion(store: MetaStore) {
    let p = project(&store, "lib").await;
    let r = repo(&store, &p, "app").await;
    let amd = push_image(&store, r.id, "amd64", None).await;
    let arm = push_image(&store, r.id, "arm64", None).await;
    let amd_platform = serde_json::json!({"architecture": "amd64", "os": "linux"});

    let mut index = manifest(r.id, "index");
    index.media_type = IMAGE_INDEX.to_string();
    index.config_media_type = None;
    index.children = vec![
        (amd.digest.clone(), Some(amd_platform.clone())),
        (arm.digest.clone(), None),
        (amd.digest.clone(), Some(amd_platform.clone())),
    ];
    index.tag = Some(tag("multi"));
    let index = store
        .artifacts()
        .put_manifest(index)
        .await
        .unwrap()
        .artifact;

    assert_eq!(
        store
            .artifacts()
            .parents_of(r.id, &amd.digest)
            .await
            .unwrap(),
        std::slice::from_ref(&index.digest)
    );
    assert!(
        store
            .artifacts()
            .parents_of(r.id, &index.digest)
            .await
            .unwrap()
            .is_empty()
    );
    let mut children = store.artifacts().children_of(index.id).await.unwrap();
    children.sort_by(|a, b| a.digest.cmp(&b.digest));
    let mut expected = vec![
        (amd.digest.clone(), Some(amd_platform)),
        (arm.digest.clone(), None),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        children
            .into_iter()
            .map(|c| (c.digest, c.platform))
            .collect::<Vec<_>>(),
        expected
    );

    match store
        .artifacts()
        .delete_artifact(r.id, &amd.digest, &Default::default())
        .await
    {
        Err(Error::Referenced(parents)) => assert_eq!(parents, vec![index.digest.clone()]),
        other => panic!("expected Referenced, got {other:?}"),
    }
    assert!(
        store
            .artifacts()
            .get_artifact(r.id, &amd.digest)
            .await
            .unwrap()
            .is_some()
    );

    assert!(
        store
            .artifacts()
            .delete_artifact(r.id, &index.digest, &Default::default())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .artifacts()
            .resolve_tag(r.id, &tag("multi"))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .artifacts()
            .parents_of(r.id, &amd.digest)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .artifacts()
            .children_of(index.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .artifacts()
            .delete_artifact(r.id, &amd.digest, &Default::default())
            .await
            .unwrap()
    );
    assert!(
        !store
            .artifacts()
            .delete_artifact(r.id, &amd.digest, &Default::default())
            .await
            .unwrap()
    );
    assert!(
        !store
            .artifacts()
            .delete_artifact(
                portcullis_meta::RepositoryId(r.id.0 + 1000),
                &arm.digest,
                &Default::default()
            )
            .await
            .unwrap()
    );
    // The deleted artifact's blobs leave the project: neither served nor counted. The
    // repository keeps its link (GC decides about the bytes), so deleting the blob, as
    // clients do after deleting a manifest, still finds it.
    assert!(
        store
            .blobs()
            .blob_in_repository(r.id, &digest("layer amd64"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .blobs()
            .unlink_blob(r.id, &digest("layer amd64"))
            .await
            .unwrap()
    );
}
