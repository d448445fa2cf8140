//! Users and projects.

use std::collections::BTreeMap;

use portcullis_meta::{Error, MetaStore, NewProject, ProjectId, ProjectQuery, UserId};
use portcullis_types::ProjectName;

use crate::fixtures::{project, project_of, repo, user};

pub async fn users_are_unique_and_editable(store: MetaStore) {
    let alice = user(&store, "alice").await;
    assert_eq!(alice.username, "alice");
    assert!(!alice.sysadmin);
    assert_eq!(alice.creation_time, alice.update_time);

    let again = store
        .users()
        .create_user(portcullis_meta::NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
            ..Default::default()
        })
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    assert_eq!(
        store.users().get_user(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .users()
            .get_user_by_name("alice")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert_eq!(store.users().get_user_by_name("Alice").await.unwrap(), None);

    store
        .users()
        .set_password(alice.id, "new-hash")
        .await
        .unwrap();
    store.users().set_sysadmin(alice.id, true).await.unwrap();
    store
        .users()
        .update_user_profile(alice.id, "a@example.org", "Alice A", "hello")
        .await
        .unwrap();
    let changed = store.users().get_user(alice.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "new-hash");
    assert!(changed.sysadmin);
    assert_eq!(changed.email, "a@example.org");
    assert_eq!(changed.realname, "Alice A");
    assert_eq!(changed.comment, "hello");
    assert!(changed.update_time >= alice.update_time);
    assert!(!format!("{changed:?}").contains("new-hash"));

    let missing = UserId(alice.id.0 + 1000);
    assert!(matches!(
        store.users().set_password(missing, "h").await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.users().set_sysadmin(missing, true).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.users().delete_user(missing).await,
        Err(Error::NotFound)
    ));

    project_of(&store, &alice, "owned", false).await;
    assert!(matches!(
        store.users().delete_user(alice.id).await,
        Err(Error::Conflict(_))
    ));
    let bob = user(&store, "bob").await;
    store.users().delete_user(bob.id).await.unwrap();
    assert_eq!(store.users().get_user(bob.id).await.unwrap(), None);
}

pub async fn users_page_with_totals(store: MetaStore) {
    for name in ["e", "c", "a", "d", "b"] {
        user(&store, name).await;
    }
    let (page1, total) = store.users().list_users(1, 2).await.unwrap();
    assert_eq!(total, 5);
    let names = |users: &[portcullis_meta::User]| {
        users.iter().map(|u| u.username.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&page1), ["a", "b"]);
    let (page3, total) = store.users().list_users(3, 2).await.unwrap();
    assert_eq!((names(&page3), total), (vec!["e".to_string()], 5));
    let (page4, total) = store.users().list_users(4, 2).await.unwrap();
    assert!(page4.is_empty());
    assert_eq!(total, 5);
}

pub async fn projects_are_unique(store: MetaStore) {
    let owner = user(&store, "owner").await;
    let mut metadata = BTreeMap::new();
    metadata.insert("auto_scan".to_string(), "true".to_string());
    metadata.insert("public".to_string(), "false".to_string());
    let created = store
        .projects()
        .create_project(NewProject {
            name: ProjectName::parse("library").unwrap(),
            owner_id: owner.id,
            public: true,
            metadata,
        })
        .await
        .unwrap();
    assert_eq!(created.name.as_str(), "library");
    assert_eq!(created.owner_id, owner.id);
    assert_eq!(created.owner_name, "owner");
    assert!(created.public);
    assert_eq!(created.metadata["public"], "true", "the flag wins");
    assert_eq!(created.metadata["auto_scan"], "true");
    assert_eq!(created.repo_count, 0);

    let dup = store
        .projects()
        .create_project(NewProject {
            name: ProjectName::parse("library").unwrap(),
            owner_id: owner.id,
            public: false,
            metadata: BTreeMap::new(),
        })
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");

    let orphan = store
        .projects()
        .create_project(NewProject {
            name: ProjectName::parse("orphan").unwrap(),
            owner_id: UserId(owner.id.0 + 1000),
            public: false,
            metadata: BTreeMap::new(),
        })
        .await;
    assert!(matches!(orphan, Err(Error::NotFound)), "{orphan:?}");

    assert_eq!(
        store.projects().get_project(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store
            .projects()
            .get_project_by_name("library")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.projects().get_project_by_name("nope").await.unwrap(),
        None
    );

    repo(&store, &created, "app").await;
    repo(&store, &created, "tools/cli").await;
    let counted = store
        .projects()
        .get_project(created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counted.repo_count, 2);
}

pub async fn project_listing_filters_and_pages(store: MetaStore) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let mut ids = BTreeMap::new();
    for (name, owner, public) in [
        ("alpha", &alice, true),
        ("beta", &alice, false),
        ("gamma", &bob, true),
        ("delta", &bob, false),
        ("alpha_2", &bob, false),
        ("alphabet", &alice, false),
        ("omega", &alice, true),
    ] {
        let p = project_of(&store, owner, name, public).await;
        ids.insert(name, p.id);
    }
    let names = |q: &ProjectQuery, page, size| {
        let store = store.clone();
        let q = q.clone();
        async move {
            let (projects, total) = store
                .projects()
                .list_projects(&q, page, size)
                .await
                .unwrap();
            let names: Vec<String> = projects.iter().map(|p| p.name.to_string()).collect();
            (names, total)
        }
    };

    let all = ProjectQuery::default();
    assert_eq!(
        names(&all, 1, 3).await,
        (vec!["alpha".into(), "alpha_2".into(), "alphabet".into()], 7)
    );
    assert_eq!(names(&all, 3, 3).await, (vec!["omega".into()], 7));

    let contains = ProjectQuery {
        name_contains: Some("ALPHA_".into()),
        ..Default::default()
    };
    assert_eq!(names(&contains, 1, 10).await, (vec!["alpha_2".into()], 1));

    let public = ProjectQuery {
        public: Some(true),
        ..Default::default()
    };
    assert_eq!(
        names(&public, 1, 10).await,
        (vec!["alpha".into(), "gamma".into(), "omega".into()], 3)
    );

    let bobs_private = ProjectQuery {
        owner: Some("bob".into()),
        public: Some(false),
        ..Default::default()
    };
    assert_eq!(
        names(&bobs_private, 1, 10).await,
        (vec!["alpha_2".into(), "delta".into()], 2)
    );

    let exact = ProjectQuery {
        name_exact: Some("beta".into()),
        ..Default::default()
    };
    assert_eq!(names(&exact, 1, 10).await, (vec!["beta".into()], 1));

    let only = ProjectQuery {
        only_ids: Some(vec![ids["beta"], ids["omega"]]),
        ..Default::default()
    };
    assert_eq!(
        names(&only, 1, 10).await,
        (vec!["beta".into(), "omega".into()], 2)
    );
    let none = ProjectQuery {
        only_ids: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(names(&none, 1, 10).await, (vec![], 0));

    let visible = ProjectQuery {
        visible_to: Some(vec![ids["delta"]]),
        ..Default::default()
    };
    assert_eq!(
        names(&visible, 1, 10).await,
        (
            vec![
                "alpha".into(),
                "delta".into(),
                "gamma".into(),
                "omega".into()
            ],
            4
        )
    );
}

pub async fn project_metadata_merges_and_syncs_public(store: MetaStore) {
    let p = project(&store, "meta").await;
    assert!(!p.public);

    let mut changes = BTreeMap::new();
    changes.insert("auto_scan".to_string(), "true".to_string());
    changes.insert("severity".to_string(), "high".to_string());
    let p = store
        .projects()
        .update_project_metadata(p.id, changes)
        .await
        .unwrap();
    assert_eq!(p.metadata["auto_scan"], "true");
    assert_eq!(p.metadata["severity"], "high");
    assert_eq!(p.metadata["public"], "false");
    assert!(!p.public);

    let mut changes = BTreeMap::new();
    changes.insert("public".to_string(), "TRUE".to_string());
    changes.insert("severity".to_string(), "critical".to_string());
    let p = store
        .projects()
        .update_project_metadata(p.id, changes)
        .await
        .unwrap();
    assert!(p.public);
    assert_eq!(p.metadata["public"], "true");
    assert_eq!(p.metadata["severity"], "critical");
    assert_eq!(p.metadata["auto_scan"], "true", "merged, not replaced");

    let mut bad = BTreeMap::new();
    bad.insert("public".to_string(), "yes".to_string());
    assert!(matches!(
        store.projects().update_project_metadata(p.id, bad).await,
        Err(Error::Invalid(_))
    ));
    assert!(
        store
            .projects()
            .get_project(p.id)
            .await
            .unwrap()
            .unwrap()
            .public
    );

    let p = store
        .projects()
        .remove_project_metadata(p.id, "severity")
        .await
        .unwrap();
    assert!(!p.metadata.contains_key("severity"));
    assert!(matches!(
        store
            .projects()
            .remove_project_metadata(p.id, "public")
            .await,
        Err(Error::Invalid(_))
    ));

    let missing = ProjectId(p.id.0 + 1000);
    assert!(matches!(
        store
            .projects()
            .update_project_metadata(missing, BTreeMap::new())
            .await,
        Err(Error::NotFound)
    ));
}

pub async fn delete_project_refuses_non_empty(store: MetaStore) {
    let p = project(&store, "full").await;
    let r = repo(&store, &p, "app").await;
    assert!(matches!(
        store.projects().delete_project(p.id).await,
        Err(Error::NotEmpty)
    ));
    assert!(store.projects().get_project(p.id).await.unwrap().is_some());

    store
        .repositories()
        .delete_repository(r.id, &Default::default())
        .await
        .unwrap();
    store.projects().delete_project(p.id).await.unwrap();
    assert_eq!(store.projects().get_project(p.id).await.unwrap(), None);
    assert!(matches!(
        store.projects().delete_project(p.id).await,
        Err(Error::NotFound)
    ));
}
