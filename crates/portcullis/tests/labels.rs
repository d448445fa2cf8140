//! Harbor labels over real HTTP, on both backends: global and project labels, who may
//! manage them, adding them to artifacts, filtering artifacts by label, and the
//! `labels` field of artifact JSON.

#[macro_use]
mod common;

use common::*;
use reqwest::Method;

on_both_backends!(labels_round_trip, label_permissions_follow_roles);

const PW: &str = "Label-Pass-1";

async fn json(resp: reqwest::Response) -> serde_json::Value {
    resp.json().await.unwrap()
}

/// Creates a label as `auth`; returns its id.
async fn create_label(s: &Server, auth: &str, body: serde_json::Value) -> i64 {
    let resp = api(s, Method::POST, "/api/v2.0/labels", Some(auth), Some(body)).await;
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

async fn project_id(s: &Server, name: &str) -> i64 {
    let resp = api(
        s,
        Method::GET,
        &format!("/api/v2.0/projects/{name}"),
        Some(&admin_basic()),
        None,
    )
    .await;
    json(resp).await["project_id"].as_i64().unwrap()
}

async fn labels_round_trip(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("team", false).await;
    s.create_project("other", false).await;
    let pid = project_id(&s, "team").await;
    let other = project_id(&s, "other").await;
    let (d1, _) = push_image(&s, "team/app", "v1", "one").await;
    let (d2, _) = push_image(&s, "team/app", "v2", "two").await;

    let global = create_label(
        &s,
        &admin,
        serde_json::json!({ "name": "qa-passed", "color": "#00AA00", "scope": "g" }),
    )
    .await;
    let mine = create_label(
        &s,
        &admin,
        serde_json::json!({ "name": "release", "scope": "p", "project_id": pid }),
    )
    .await;
    let theirs = create_label(
        &s,
        &admin,
        serde_json::json!({ "name": "release", "scope": "p", "project_id": other }),
    )
    .await;

    // Validation and conflicts.
    for (body, status, code) in [
        (
            serde_json::json!({ "name": "qa-passed", "scope": "g" }),
            409,
            "CONFLICT",
        ),
        (
            serde_json::json!({ "name": "", "scope": "g" }),
            400,
            "BAD_REQUEST",
        ),
        (
            serde_json::json!({ "name": "x", "scope": "q" }),
            400,
            "BAD_REQUEST",
        ),
        (
            serde_json::json!({ "name": "x", "scope": "p" }),
            400,
            "BAD_REQUEST",
        ),
        (
            serde_json::json!({ "name": "x", "color": "a colour of over 16 characters" }),
            400,
            "BAD_REQUEST",
        ),
        (
            serde_json::json!({ "name": "x", "scope": "p", "project_id": 99999 }),
            404,
            "NOT_FOUND",
        ),
    ] {
        let resp = api(
            &s,
            Method::POST,
            "/api/v2.0/labels",
            Some(&admin),
            Some(body),
        )
        .await;
        expect_error(resp, status, code).await;
    }

    // Listing by scope and project.
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/labels?scope=g",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    let list = json(resp).await;
    assert_eq!(list[0]["name"], "qa-passed");
    assert_eq!(list[0]["color"], "#00AA00");
    assert_eq!(list[0]["project_id"], 0);
    let resp = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/labels?scope=p&project_id={pid}"),
        Some(&admin),
        None,
    )
    .await;
    let list = json(resp).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], mine);
    assert_eq!(list[0]["scope"], "p");

    // Adding labels to artifacts.
    let labels_of = |reference: &str| {
        format!("/api/v2.0/projects/team/repositories/app/artifacts/{reference}/labels")
    };
    for (reference, id) in [("v1", global), ("v1", mine), ("v2", global)] {
        let resp = api(
            &s,
            Method::POST,
            &labels_of(reference),
            Some(&admin),
            Some(serde_json::json!({ "id": id })),
        )
        .await;
        assert_eq!(resp.status(), 200);
    }
    let again = api(
        &s,
        Method::POST,
        &labels_of("v1"),
        Some(&admin),
        Some(serde_json::json!({ "id": global })),
    )
    .await;
    expect_error(again, 409, "CONFLICT").await;
    let foreign = api(
        &s,
        Method::POST,
        &labels_of("v1"),
        Some(&admin),
        Some(serde_json::json!({ "id": theirs })),
    )
    .await;
    expect_error(foreign, 400, "BAD_REQUEST").await;
    let missing = api(
        &s,
        Method::POST,
        &labels_of("v1"),
        Some(&admin),
        Some(serde_json::json!({ "id": 987654 })),
    )
    .await;
    expect_error(missing, 404, "NOT_FOUND").await;

    // Artifact JSON shows labels only with `with_label=true`; `q=labels=` filters.
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/repositories/app/artifacts/v1?with_label=true",
        Some(&admin),
        None,
    )
    .await;
    let a = json(resp).await;
    let names: Vec<_> = a["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["qa-passed", "release"]);
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/repositories/app/artifacts/v1",
        Some(&admin),
        None,
    )
    .await;
    assert!(json(resp).await["labels"].is_null());
    let filtered = |q: String| {
        let s = &s;
        let admin = admin.clone();
        async move {
            let resp = api(
                s,
                Method::GET,
                &format!("/api/v2.0/projects/team/repositories/app/artifacts?q={q}"),
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(resp.status(), 200);
            let mut digests: Vec<String> = json(resp)
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["digest"].as_str().unwrap().to_string())
                .collect();
            digests.sort();
            digests
        }
    };
    let mut both = vec![d1.clone(), d2.clone()];
    both.sort();
    assert_eq!(
        filtered(format!("labels%3D({global}%20{mine})")).await,
        vec![d1.clone()]
    );
    assert_eq!(filtered(format!("labels%3D{global}")).await, both);
    assert_eq!(
        filtered(format!("labels%3D%7B{mine}%20{theirs}%7D")).await,
        vec![d1]
    );
    let bad = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/repositories/app/artifacts?q=labels%3D(x)",
        Some(&admin),
        None,
    )
    .await;
    expect_error(bad, 400, "BAD_REQUEST").await;

    // Removing a label from an artifact, renaming, and deleting a label everywhere.
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{}/{mine}", labels_of("v1")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{}/{mine}", labels_of("v1")),
        Some(&admin),
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::PUT,
        &format!("/api/v2.0/labels/{global}"),
        Some(&admin),
        Some(serde_json::json!({ "name": "qa-ok", "color": "#123456" })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got = json(
        api(
            &s,
            Method::GET,
            &format!("/api/v2.0/labels/{global}"),
            Some(&admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (got["name"].as_str(), got["color"].as_str()),
        (Some("qa-ok"), Some("#123456"))
    );
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/labels/{global}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(filtered(format!("labels%3D{global}")).await.is_empty());
    let gone = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/labels/{global}"),
        Some(&admin),
        None,
    )
    .await;
    expect_error(gone, 404, "NOT_FOUND").await;
}

async fn label_permissions_follow_roles(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("team", false).await;
    let pid = project_id(&s, "team").await;
    push_image(&s, "team/app", "v1", "one").await;
    for (user, role) in [("maint", 4), ("dev", 2), ("guest", 3)] {
        create_user(&s, user, PW).await;
        add_member(&s, "team", user, role).await;
    }
    create_user(&s, "outsider", PW).await;
    let project_label = serde_json::json!({ "name": "hot", "scope": "p", "project_id": pid });

    // Only system admins make global labels; maintainers make project labels.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/labels",
        Some(&basic("maint", PW)),
        Some(serde_json::json!({ "name": "g1", "scope": "g" })),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/labels",
        Some(&basic("dev", PW)),
        Some(project_label.clone()),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    // An outsider cannot learn that the private project exists.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/labels",
        Some(&basic("outsider", PW)),
        Some(project_label.clone()),
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let id = create_label(&s, &basic("maint", PW), project_label).await;
    let resp = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/labels/{id}"),
        Some(&basic("outsider", PW)),
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/labels/{id}"),
        Some(&basic("guest", PW)),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(&s, Method::GET, "/api/v2.0/labels?scope=g", None, None).await;
    expect_error(resp, 401, "UNAUTHORIZED").await;

    // Developers add labels to artifacts; guests may not.
    let path = "/api/v2.0/projects/team/repositories/app/artifacts/v1/labels";
    let resp = api(
        &s,
        Method::POST,
        path,
        Some(&basic("guest", PW)),
        Some(serde_json::json!({ "id": id })),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::POST,
        path,
        Some(&basic("dev", PW)),
        Some(serde_json::json!({ "id": id })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/labels/{id}"),
        Some(&basic("dev", PW)),
        None,
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/labels/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
}
