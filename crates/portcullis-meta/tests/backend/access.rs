//! Members, robots, the audit log, and the browsing lookups.

use portcullis_meta::{
    AuditQuery, Error, MetaStore, NewAuditEntry, NewRobot, RobotScope, RobotUpdate,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::fixtures::{project_of, push_image, repo, tag, user};

pub async fn members_hold_one_role_per_project(store: MetaStore) {
    let owner = user(&store, "owner").await;
    let dev = user(&store, "dev").await;
    let p = project_of(&store, &owner, "team", false).await;
    let q = project_of(&store, &owner, "other", false).await;
    let m = store.members().add_member(p.id, dev.id, 2).await.unwrap();
    assert_eq!((m.username.as_str(), m.role_id), ("dev", 2));
    assert!(matches!(
        store.members().add_member(p.id, dev.id, 3).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store
            .members()
            .add_member(p.id, portcullis_meta::UserId(9999), 3)
            .await,
        Err(Error::NotFound)
    ));
    store.members().add_member(q.id, dev.id, 5).await.unwrap();
    store.members().add_member(p.id, owner.id, 1).await.unwrap();
    let names: Vec<_> = store
        .members()
        .list_members(p.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(names, ["dev", "owner"]);
    assert_eq!(
        store
            .members()
            .list_members(p.id, Some("OWN"))
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .members()
        .update_member_role(p.id, m.id, 4)
        .await
        .unwrap();
    assert_eq!(
        store.members().role_in_project(p.id, dev.id).await.unwrap(),
        Some(4)
    );
    let mut roles = store.members().roles_of_user(dev.id).await.unwrap();
    roles.sort();
    assert_eq!(roles, vec![(p.id, 4), (q.id, 5)]);
    // A member id of another project is not found through this one.
    assert!(matches!(
        store.members().update_member_role(q.id, m.id, 1).await,
        Err(Error::NotFound)
    ));
    store.members().delete_member(p.id, m.id).await.unwrap();
    assert_eq!(
        store.members().role_in_project(p.id, dev.id).await.unwrap(),
        None
    );
    assert!(
        store
            .members()
            .get_member(p.id, m.id)
            .await
            .unwrap()
            .is_none()
    );
}

fn new_robot(name: &str, project: Option<portcullis_meta::ProjectId>) -> NewRobot {
    NewRobot {
        name: name.to_string(),
        description: "ci".into(),
        level: if project.is_some() {
            "project"
        } else {
            "system"
        }
        .into(),
        project_id: project,
        secret_hash: "hash".into(),
        disabled: false,
        duration: 30,
        expires_at: Some(datetime!(2030-01-02 03:04:05.123456 UTC)),
        permissions: serde_json::json!([{"kind": "project", "namespace": "team",
            "access": [{"resource": "repository", "action": "pull"}]}]),
        creator: "owner".into(),
    }
}

pub async fn robots_round_trip(store: MetaStore) {
    let owner = user(&store, "owner").await;
    let p = project_of(&store, &owner, "team", false).await;
    let r = store
        .robots()
        .create_robot(new_robot("robot$team+ci", Some(p.id)))
        .await
        .unwrap();
    assert_eq!(r.project_id, Some(p.id));
    assert_eq!(
        r.expires_at,
        Some(datetime!(2030-01-02 03:04:05.123456 UTC))
    );
    assert_eq!(r.permissions[0]["access"][0]["action"], "pull");
    assert!(matches!(
        store
            .robots()
            .create_robot(new_robot("robot$team+ci", Some(p.id)))
            .await,
        Err(Error::Conflict(_))
    ));
    store
        .robots()
        .create_robot(new_robot("robot$global", None))
        .await
        .unwrap();
    let (all, total) = store
        .robots()
        .list_robots(RobotScope::All, None, 1, 10)
        .await
        .unwrap();
    assert_eq!((all.len(), total), (2, 2));
    let (mine, _) = store
        .robots()
        .list_robots(RobotScope::Project(p.id), None, 1, 10)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    let (found, _) = store
        .robots()
        .list_robots(RobotScope::All, Some("GLOB"), 1, 10)
        .await
        .unwrap();
    assert_eq!(found[0].name, "robot$global");
    store
        .robots()
        .update_robot(
            r.id,
            RobotUpdate {
                description: "changed".into(),
                disabled: true,
                duration: -1,
                expires_at: None,
                permissions: serde_json::json!([]),
            },
        )
        .await
        .unwrap();
    store
        .robots()
        .set_robot_secret(r.id, "other")
        .await
        .unwrap();
    let got = store
        .robots()
        .get_robot_by_name("robot$team+ci")
        .await
        .unwrap()
        .unwrap();
    assert!(got.disabled);
    assert_eq!(
        (
            got.description.as_str(),
            got.expires_at,
            got.secret_hash.as_str()
        ),
        ("changed", None, "other")
    );
    store.robots().delete_robot(r.id).await.unwrap();
    assert!(store.robots().get_robot(r.id).await.unwrap().is_none());
    assert!(matches!(
        store.robots().delete_robot(r.id).await,
        Err(Error::NotFound)
    ));
}

fn entry(at: OffsetDateTime, user: &str, op: &str, project: Option<i64>) -> NewAuditEntry {
    NewAuditEntry {
        op_time: at,
        username: user.into(),
        operation: op.into(),
        resource_type: "artifact".into(),
        resource: format!("team/app:{op}"),
        project_id: project.map(portcullis_meta::ProjectId),
        client_ip: "10.0.0.1".into(),
        success: op != "login",
        description: String::new(),
    }
}

pub async fn audit_filters_pages_and_purges(store: MetaStore) {
    let old = datetime!(2020-01-01 00:00 UTC);
    let new = datetime!(2026-01-01 00:00 UTC);
    let mut batch: Vec<_> = (0..450)
        .map(|i| entry(old, "bulk", "pull", Some(i % 2)))
        .collect();
    batch.push(entry(new, "alice", "create", Some(1)));
    batch.push(entry(new, "bob", "login", None));
    store.audit().record_audit(&batch).await.unwrap();
    let (page, total) = store
        .audit()
        .list_audit(&AuditQuery::default(), 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 452);
    assert!(page.iter().all(|e| e.op_time == new));
    let q = AuditQuery {
        projects: Some(vec![portcullis_meta::ProjectId(1)]),
        operation: Some("create".into()),
        ..Default::default()
    };
    let (hits, total) = store.audit().list_audit(&q, 1, 10).await.unwrap();
    assert_eq!((total, hits[0].username.as_str()), (1, "alice"));
    assert_eq!(hits[0].client_ip, "10.0.0.1");
    let q = AuditQuery {
        username: Some("bob".into()),
        ..Default::default()
    };
    let (hits, _) = store.audit().list_audit(&q, 1, 10).await.unwrap();
    assert!(!hits[0].success);
    let q = AuditQuery {
        resource_contains: Some("APP:CREATE".into()),
        from: Some(datetime!(2025-01-01 00:00 UTC)),
        ..Default::default()
    };
    assert_eq!(store.audit().list_audit(&q, 1, 10).await.unwrap().1, 1);
    let purged = store
        .audit()
        .purge_audit(datetime!(2021-01-01 00:00 UTC), Some(&["create".into()]))
        .await
        .unwrap();
    assert_eq!(purged, 0);
    let purged = store
        .audit()
        .purge_audit(datetime!(2021-01-01 00:00 UTC), None)
        .await
        .unwrap();
    assert_eq!(purged, 450);
    assert_eq!(
        store
            .audit()
            .list_audit(&AuditQuery::default(), 1, 1)
            .await
            .unwrap()
            .1,
        2
    );
}

pub async fn browsing_lookups(store: MetaStore) {
    let owner = user(&store, "owner").await;
    user(&store, "Owen").await;
    let (found, total) = store.users().search_users("OW", 1, 10).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(found[0].username, "Owen");
    let a = project_of(&store, &owner, "alpha", false).await;
    let b = project_of(&store, &owner, "beta", true).await;
    let ra = repo(&store, &a, "app").await;
    repo(&store, &b, "app").await;
    repo(&store, &b, "tool").await;
    let (repos, total) = store
        .repositories()
        .list_repositories_in(Some(&[b.id]), None, 1, 10)
        .await
        .unwrap();
    assert_eq!((repos.len(), total), (2, 2));
    let (repos, _) = store
        .repositories()
        .list_repositories_in(None, Some("APP"), 1, 10)
        .await
        .unwrap();
    assert_eq!(repos.len(), 2);
    let art = push_image(&store, ra.id, "one", Some("v1")).await;
    store
        .tags()
        .create_tag(ra.id, art.id, &tag("v2"))
        .await
        .unwrap();
    assert!(matches!(
        store.tags().create_tag(ra.id, art.id, &tag("v1")).await,
        Err(Error::Conflict(_))
    ));
    let tags: Vec<_> = store
        .tags()
        .tags_of(art.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(tags, ["v1", "v2"]);
}
