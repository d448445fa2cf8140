//! Scanner registrations, the default among them, project choices and adapter scans.

use portcullis_meta::{AdapterScanState, Error, MetaStore, ScannerQuery, ScannerRegistration};

use crate::fixtures::project;

fn registration(uuid: &str, name: &str, url: &str) -> ScannerRegistration {
    let t = time::OffsetDateTime::UNIX_EPOCH;
    ScannerRegistration {
        uuid: uuid.into(),
        name: name.into(),
        description: format!("{name} adapter"),
        url: url.into(),
        disabled: false,
        is_default: false,
        auth: "Bearer".into(),
        access_credential: "secret".into(),
        skip_cert_verify: false,
        use_internal_addr: false,
        immutable: false,
        create_time: t,
        update_time: t,
    }
}

pub async fn registrations_keep_one_default(store: MetaStore) {
    let mut builtin = registration("builtin", "Portcullis", "builtin://portcullis");
    builtin.immutable = true;
    store.scanners().ensure_scanner(&builtin).await.unwrap();
    store.scanners().ensure_scanner(&builtin).await.unwrap();
    let default = store.scanners().default_scanner().await.unwrap().unwrap();
    assert_eq!(default.uuid, "builtin");
    assert!(default.immutable);

    let trivy = store
        .scanners()
        .create_scanner(&registration("t1", "Trivy", "http://trivy:8080"))
        .await
        .unwrap();
    assert!(!trivy.is_default);
    assert_eq!(trivy.access_credential, "secret");
    let dup = store
        .scanners()
        .create_scanner(&registration("t2", "Trivy", "http://other:8080"))
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    let dup = store
        .scanners()
        .create_scanner(&registration("t3", "Other", "http://trivy:8080"))
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    store
        .scanners()
        .create_scanner(&registration("c1", "Clair", "http://clair:6060"))
        .await
        .unwrap();

    let (all, total) = store
        .scanners()
        .list_scanners(&ScannerQuery::default(), 1, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(all[0].uuid, "builtin");
    let (page, total) = store
        .scanners()
        .list_scanners(&ScannerQuery::default(), 2, 2)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 3));
    let q = ScannerQuery {
        name: Some(("triv".into(), true)),
        ..Default::default()
    };
    let (found, total) = store.scanners().list_scanners(&q, 1, 10).await.unwrap();
    assert_eq!((found[0].uuid.as_str(), total), ("t1", 1));
    let q = ScannerQuery {
        url: Some(("http://clair:6060".into(), false)),
        ..Default::default()
    };
    assert_eq!(
        store.scanners().list_scanners(&q, 1, 10).await.unwrap().1,
        1
    );

    store.scanners().set_default_scanner("t1").await.unwrap();
    store.scanners().set_default_scanner("t1").await.unwrap();
    assert_eq!(
        store
            .scanners()
            .default_scanner()
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "t1"
    );
    assert!(
        !store
            .scanners()
            .get_scanner("builtin")
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(matches!(
        store.scanners().set_default_scanner("nope").await,
        Err(Error::NotFound)
    ));
    // A restart does not take the default back.
    store.scanners().ensure_scanner(&builtin).await.unwrap();
    assert_eq!(
        store
            .scanners()
            .default_scanner()
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "t1"
    );

    let mut edited = trivy.clone();
    edited.name = "Trivy 2".into();
    edited.disabled = true;
    store.scanners().update_scanner(&edited).await.unwrap();
    let got = store.scanners().get_scanner("t1").await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.disabled), ("Trivy 2", true));
    assert!(got.is_default, "an update keeps the default flag");
    edited.name = "Clair".into();
    assert!(matches!(
        store.scanners().update_scanner(&edited).await,
        Err(Error::Conflict(_))
    ));
    edited.uuid = "missing".into();
    edited.name = "Missing".into();
    edited.url = "http://missing".into();
    assert!(matches!(
        store.scanners().update_scanner(&edited).await,
        Err(Error::NotFound)
    ));

    // Deleting the default hands it back to the built-in registration.
    let gone = store.scanners().delete_scanner("t1").await.unwrap();
    assert_eq!(gone.uuid, "t1");
    assert_eq!(
        store
            .scanners()
            .default_scanner()
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "builtin"
    );
    assert!(matches!(
        store.scanners().delete_scanner("t1").await,
        Err(Error::NotFound)
    ));
}

pub async fn projects_choose_scanners(store: MetaStore) {
    let p = project(&store, "scanned").await;
    assert!(
        store
            .scanners()
            .project_scanner(p.id)
            .await
            .unwrap()
            .is_none()
    );
    store
        .scanners()
        .create_scanner(&registration("a", "A", "http://a"))
        .await
        .unwrap();
    store
        .scanners()
        .create_scanner(&registration("b", "B", "http://b"))
        .await
        .unwrap();
    store
        .scanners()
        .set_project_scanner(p.id, "a")
        .await
        .unwrap();
    store
        .scanners()
        .set_project_scanner(p.id, "b")
        .await
        .unwrap();
    assert_eq!(
        store
            .scanners()
            .project_scanner(p.id)
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "b"
    );
    assert!(matches!(
        store.scanners().set_project_scanner(p.id, "zzz").await,
        Err(Error::NotFound)
    ));
    // Removing the registration removes the choice; removing the project too.
    store.scanners().delete_scanner("b").await.unwrap();
    assert!(
        store
            .scanners()
            .project_scanner(p.id)
            .await
            .unwrap()
            .is_none()
    );
    store
        .scanners()
        .set_project_scanner(p.id, "a")
        .await
        .unwrap();
    store.projects().delete_project(p.id).await.unwrap();
    assert!(store.scanners().delete_scanner("a").await.is_ok());
}

pub async fn adapter_scans_are_durable(store: MetaStore) {
    let req = serde_json::json!({ "artifact": { "repository": "p/r" } });
    store
        .adapter_scans()
        .create_adapter_scan("s1", &req, Some("Bearer t"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .adapter_scans()
            .create_adapter_scan("s1", &req, None)
            .await,
        Err(Error::Conflict(_))
    ));
    let s = store
        .adapter_scans()
        .get_adapter_scan("s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state, AdapterScanState::Pending);
    assert_eq!(s.request, req);
    assert_eq!(s.registry_auth.as_deref(), Some("Bearer t"));
    store
        .adapter_scans()
        .start_adapter_scan("s1")
        .await
        .unwrap();
    store
        .adapter_scans()
        .start_adapter_scan("s1")
        .await
        .unwrap();
    assert_eq!(
        store
            .adapter_scans()
            .get_adapter_scan("s1")
            .await
            .unwrap()
            .unwrap()
            .state,
        AdapterScanState::Running
    );
    store
        .adapter_scans()
        .finish_adapter_scan("s1", Ok("{\"vulnerabilities\":[]}"))
        .await
        .unwrap();
    let s = store
        .adapter_scans()
        .get_adapter_scan("s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state, AdapterScanState::Succeeded);
    assert_eq!(s.registry_auth, None, "the credential is dropped");
    assert!(s.report.unwrap().contains("vulnerabilities"));
    assert!(matches!(
        store.adapter_scans().start_adapter_scan("s1").await,
        Err(Error::NotFound)
    ));
    store
        .adapter_scans()
        .create_adapter_scan("s2", &req, None)
        .await
        .unwrap();
    store
        .adapter_scans()
        .finish_adapter_scan("s2", Err("pull failed"))
        .await
        .unwrap();
    let s = store
        .adapter_scans()
        .get_adapter_scan("s2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.state, s.error.as_deref()),
        (AdapterScanState::Failed, Some("pull failed"))
    );
    assert!(
        store
            .adapter_scans()
            .get_adapter_scan("nope")
            .await
            .unwrap()
            .is_none()
    );
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert_eq!(
        store
            .adapter_scans()
            .purge_adapter_scans(later)
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .adapter_scans()
            .get_adapter_scan("s1")
            .await
            .unwrap()
            .is_none()
    );
}
