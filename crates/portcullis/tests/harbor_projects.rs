//! Harbor's project API and system endpoints over real HTTP, on both backend pairs.

#[macro_use]
mod common;

use common::*;

on_both_backends!(project_lifecycle, listing_and_paging, system_endpoints);

async fn project_lifecycle(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let create = |body: serde_json::Value| {
        c.post(s.url("/api/v2.0/projects"))
            .header("authorization", admin_basic())
            .json(&body)
            .send()
    };
    let resp = create(serde_json::json!({ "project_name": "team-a", "metadata": { "public": "false", "auto_scan": "true" } })).await.unwrap();
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/api/v2.0/projects/"));

    let resp = create(serde_json::json!({ "project_name": "team-a" }))
        .await
        .unwrap();
    let body = expect_error(resp, 409, "CONFLICT").await;
    assert_eq!(
        body["errors"][0]["message"],
        "The project named team-a already exists"
    );
    let resp = create(serde_json::json!({ "project_name": "Bad Name" }))
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp =
        create(serde_json::json!({ "project_name": "x", "metadata": { "public": "maybe" } }))
            .await
            .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = c
        .post(s.url("/api/v2.0/projects"))
        .json(&serde_json::json!({ "project_name": "anon" }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let resp = c
        .post(s.url("/api/v2.0/projects"))
        .header("authorization", basic("admin", "nope"))
        .json(&serde_json::json!({ "project_name": "x" }))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 401, "UNAUTHORIZED").await;
    assert_eq!(
        body,
        serde_json::json!({ "errors": [{ "code": "UNAUTHORIZED", "message": "UnAuthorized" }] })
    );

    let head = c
        .head(s.url("/api/v2.0/projects?project_name=team-a"))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 200);
    let head = c
        .head(s.url("/api/v2.0/projects?project_name=absent"))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 404);

    let by_id: serde_json::Value = c
        .get(s.url(&loc))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["name"], "team-a");
    assert_eq!(
        by_id["metadata"],
        serde_json::json!({ "public": "false", "auto_scan": "true", "reuse_sys_cve_allowlist": "true" })
    );
    assert_eq!(by_id["owner_name"], "admin");
    assert_eq!(by_id["repo_count"], 0);
    let by_name: serde_json::Value = c
        .get(s.url("/api/v2.0/projects/team-a"))
        .header("authorization", admin_basic())
        .header("x-is-resource-name", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["project_id"], by_id["project_id"]);

    let put = c
        .put(s.url("/api/v2.0/projects/team-a"))
        .header("authorization", admin_basic())
        .json(&serde_json::json!({ "metadata": { "public": "true", "severity": "high", "prevent_vul": "true" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let after: serde_json::Value = c
        .get(s.url("/api/v2.0/projects/team-a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["metadata"]["public"], "true");
    assert_eq!(after["metadata"]["severity"], "high");

    // Non-empty projects cannot be deleted.
    push_image(&s, "team-a/app", "v1", "t").await;
    let del = c
        .delete(s.url("/api/v2.0/projects/team-a"))
        .send_as_admin()
        .await;
    expect_error(del, 412, "PRECONDITION").await;
    let resp = c
        .post(s.url("/api/v2.0/projects"))
        .header("authorization", admin_basic())
        .json(&serde_json::json!({ "project_name": "empty" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let del = c
        .delete(s.url("/api/v2.0/projects/empty"))
        .send_as_admin()
        .await;
    assert_eq!(del.status(), 200);
    let gone = c
        .get(s.url("/api/v2.0/projects/empty"))
        .send_as_admin()
        .await;
    expect_error(gone, 404, "NOT_FOUND").await;
    // Project changes are on record: creation, settings, the refused and the done delete.
    let mut ops = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let logs: serde_json::Value = c
            .get(s.url("/api/v2.0/audit-logs?page_size=100&q=resource_type%3Dproject"))
            .send_as_admin()
            .await
            .json()
            .await
            .unwrap();
        ops = logs
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["operation"].as_str().unwrap().to_string(),
                    e["resource"].as_str().unwrap().to_string(),
                    e["operation_result"].as_bool(),
                )
            })
            .collect::<Vec<_>>();
        if ops.len() >= 5 {
            break;
        }
    }
    for want in [
        ("create", "team-a", Some(true)),
        ("update", "team-a", Some(true)),
        ("delete", "team-a", Some(false)),
        ("create", "empty", Some(true)),
        ("delete", "empty", Some(true)),
    ] {
        assert!(
            ops.iter()
                .any(|(o, r, ok)| o == want.0 && r == want.1 && *ok == want.2),
            "{want:?} not in {ops:?}"
        );
    }
    // A filtered list's next page keeps the filter.
    let resp = c
        .get(s.url("/api/v2.0/audit-logs?page_size=2&q=resource_type%3Dproject"))
        .send_as_admin()
        .await;
    assert_eq!(
        resp.headers()["link"],
        "</api/v2.0/audit-logs?page=2&page_size=2&q=resource%5Ftype%3Dproject>; rel=\"next\""
    );
}

async fn listing_and_paging(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    for i in 0..5 {
        s.create_project(&format!("proj-{i}"), i % 2 == 0).await;
    }
    let resp = c
        .get(s.url("/api/v2.0/projects?page=1&page_size=2"))
        .send_as_admin()
        .await;
    assert_eq!(resp.headers()["x-total-count"], "6");
    assert_eq!(
        resp.headers()["link"],
        "</api/v2.0/projects?page=2&page_size=2>; rel=\"next\""
    );
    let page: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let resp = c
        .get(s.url("/api/v2.0/projects?page=2&page_size=2"))
        .send_as_admin()
        .await;
    assert_eq!(
        resp.headers()["link"],
        "</api/v2.0/projects?page=1&page_size=2>; rel=\"prev\" , </api/v2.0/projects?page=3&page_size=2>; rel=\"next\""
    );
    let resp = c
        .get(s.url("/api/v2.0/projects?name=proj-3"))
        .send_as_admin()
        .await;
    let list: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let resp = c
        .get(s.url("/api/v2.0/projects?q=public%3Dtrue"))
        .send_as_admin()
        .await;
    assert_eq!(resp.headers()["x-total-count"], "4");
    let resp = c
        .get(s.url("/api/v2.0/projects?q=name%3D~proj"))
        .send_as_admin()
        .await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let resp = c
        .get(s.url("/api/v2.0/projects?page=0"))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    // Anonymous callers see public projects only.
    let resp = c.get(s.url("/api/v2.0/projects")).send().await.unwrap();
    assert_eq!(resp.headers()["x-total-count"], "4");
}

async fn system_endpoints(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let ping = c.get(s.url("/api/v2.0/ping")).send().await.unwrap();
    assert_eq!(ping.text().await.unwrap(), "Pong");
    let health: serde_json::Value = c
        .get(s.url("/api/v2.0/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert!(
        health["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == "healthy")
    );
    // Anonymous callers learn how to sign in, and nothing about versions or backends.
    let anonymous: serde_json::Value = c
        .get(s.url("/api/v2.0/systeminfo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys: Vec<&str> = anonymous
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "auth_mode",
            "banner_message",
            "primary_auth_mode",
            "self_registration"
        ],
        "{anonymous}"
    );
    let info = admin_json(&s, "/api/v2.0/systeminfo").await;
    assert_eq!(info["external_url"], s.base.as_str());
    assert_eq!(info["registry_url"], s.addr.as_str());
    let expected_db = if b == Backends::Embedded {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(info["database_backend"], expected_db);
    // What the server does, not fixed words: users create projects, no self-registration
    // unless switched on, webhooks on.
    assert_eq!(info["project_creation_restriction"], "everyone");
    assert_eq!(info["self_registration"], false);
    assert_eq!(info["notification_enable"], true);
    let missing = c.get(s.url("/api/v2.0/nothing")).send().await.unwrap();
    expect_error(missing, 404, "NOT_FOUND").await;
}
