//! Users, robots, login limits and the audit log over real HTTP, on both backends.

#[macro_use]
mod common;

use common::*;
use reqwest::Method;

on_both_backends!(users_lifecycle, robots_lifecycle, login_limits_and_audit);

const PW: &str = "Users-Pass-1";

async fn users_lifecycle(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    // Harbor's password rule.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/users",
        Some(&admin),
        Some(serde_json::json!({ "username": "weak", "password": "password" })),
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    // Self-registration is off by default.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/users",
        None,
        Some(serde_json::json!({ "username": "self", "password": PW })),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let alice = create_user(&s, "alice", PW).await;
    let me = basic("alice", PW);
    let resp = api(&s, Method::GET, "/api/v2.0/users/current", Some(&me), None).await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["username"].as_str(), body["sysadmin_flag"].as_bool()),
        (Some("alice"), Some(false))
    );
    // Non-admins cannot list users but can search them.
    let resp = api(&s, Method::GET, "/api/v2.0/users", Some(&me), None).await;
    assert_eq!(resp.status(), 403);
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/users/search?username=ali",
        Some(&me),
        None,
    )
    .await;
    let found: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(found[0]["username"], "alice");
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/users?q=username%3D~lic",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    // Changing one's own password needs the old one.
    let path = format!("/api/v2.0/users/{alice}/password");
    let resp = api(
        &s,
        Method::PUT,
        &path,
        Some(&me),
        Some(serde_json::json!({ "old_password": "Wrong-Pass-1", "new_password": "Newer-Pass-2" })),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = api(
        &s,
        Method::PUT,
        &path,
        Some(&me),
        Some(serde_json::json!({ "old_password": PW, "new_password": "Newer-Pass-2" })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let me = basic("alice", "Newer-Pass-2");
    // Any user may create a project and becomes its projectAdmin.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/projects",
        Some(&me),
        Some(serde_json::json!({ "project_name": "alices" })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/alices/members",
        Some(&me),
        None,
    )
    .await;
    let members: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(members[0]["entity_name"], "alice");
    assert_eq!(members[0]["role_name"], "projectAdmin");
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/users/current/permissions?scope=/project/alices&relative=true",
        Some(&me),
        None,
    )
    .await;
    let perms: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert!(
        perms
            .iter()
            .any(|p| p["resource"] == "member" && p["action"] == "create")
    );
    // The sysadmin flag.
    let flag = format!("/api/v2.0/users/{alice}/sysadmin");
    let resp = api(
        &s,
        Method::PUT,
        &flag,
        Some(&me),
        Some(serde_json::json!({ "sysadmin_flag": true })),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = api(
        &s,
        Method::PUT,
        &flag,
        Some(&admin),
        Some(serde_json::json!({ "sysadmin_flag": true })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(&s, Method::GET, "/api/v2.0/users", Some(&me), None).await;
    assert_eq!(resp.status(), 200);
    // Deleting a user who owns nothing.
    let bob = create_user(&s, "bob", PW).await;
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/users/{bob}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(&s, Method::GET, "/v2/", Some(&basic("bob", PW)), None).await;
    assert_eq!(resp.status(), 401);
}

async fn robots_lifecycle(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("team", false).await;
    let admin = admin_basic();
    let (id, name, secret) = create_robot(&s, "team", "ci", &[("repository", "pull")], false).await;
    let robot = basic(&name, &secret);
    let resp = api(
        &s,
        Method::GET,
        "/v2/team/app/tags/list",
        Some(&robot),
        None,
    )
    .await;
    assert_eq!(resp.status(), 404, "pull allowed, repository missing");
    // The secret is never shown again.
    let resp = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/robots/{id}"),
        Some(&admin),
        None,
    )
    .await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["name"], name.as_str());
    assert!(body.get("secret").is_none());
    assert_eq!(body["permissions"][0]["namespace"], "team");
    // Refreshing the secret retires the old one.
    let resp = api(
        &s,
        Method::PATCH,
        &format!("/api/v2.0/robots/{id}"),
        Some(&admin),
        Some(serde_json::json!({})),
    )
    .await;
    let fresh: serde_json::Value = resp.json().await.unwrap();
    let fresh = fresh["secret"].as_str().unwrap().to_string();
    assert_ne!(fresh, secret);
    let resp = api(
        &s,
        Method::GET,
        "/v2/team/app/tags/list",
        Some(&robot),
        None,
    )
    .await;
    assert_eq!(resp.status(), 401);
    let robot = basic(&name, &fresh);
    // Disabling refuses it.
    let resp = api(
        &s,
        Method::PUT,
        &format!("/api/v2.0/robots/{id}"),
        Some(&admin),
        Some(
            serde_json::json!({ "name": "ci", "level": "project", "disable": true, "duration": -1,
            "permissions": [{ "kind": "project", "namespace": "team",
                "access": [{ "resource": "repository", "action": "pull" }] }] }),
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::GET,
        "/v2/team/app/tags/list",
        Some(&robot),
        None,
    )
    .await;
    assert_eq!(resp.status(), 401);
    // Only the system admin makes system robots; unknown permissions are refused.
    let user = create_user(&s, "carol", PW).await;
    assert!(user > 0);
    let resp = api(&s, Method::POST, "/api/v2.0/robots", Some(&basic("carol", PW)),
        Some(serde_json::json!({ "name": "sys", "level": "system", "duration": -1, "permissions": [] }))).await;
    assert_eq!(resp.status(), 403);
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/robots",
        Some(&admin),
        Some(
            serde_json::json!({ "name": "bad", "level": "project", "duration": -1,
            "permissions": [{ "kind": "project", "namespace": "team",
                "access": [{ "resource": "repository", "action": "fly" }] }] }),
        ),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/robots?q=ProjectID%3D2",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(&s, Method::GET, "/api/v2.0/permissions", Some(&admin), None).await;
    let perms: serde_json::Value = resp.json().await.unwrap();
    assert!(
        perms["project"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["resource"] == "repository" && p["action"] == "push")
    );
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/robots/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
}

async fn audit_entries(s: &Server, q: &str) -> Vec<serde_json::Value> {
    let resp = api(
        s,
        Method::GET,
        &format!("/api/v2.0/audit-logs?page_size=100&q={q}"),
        Some(&admin_basic()),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    resp.json::<Vec<serde_json::Value>>().await.unwrap()
}

async fn login_limits_and_audit(b: Backends) {
    // As behind a proxy, so that the forwarded client address is the one recorded.
    let s = Server::start_with(b, &["--trust-proxy-headers", "true"]).await;
    create_user(&s, "mallory", PW).await;
    let wrong = basic("mallory", "Not-The-Pass-1");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let resp = client()
            .get(s.url("/v2/"))
            .header("authorization", &wrong)
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    let from = |ip: &'static str| {
        client()
            .get(s.url("/v2/"))
            .header("authorization", basic("mallory", PW))
            .header("x-forwarded-for", ip)
    };
    // The guessing address is refused even the right password ...
    expect_error(
        from("203.0.113.9").send().await.unwrap(),
        429,
        "TOOMANYREQUESTS",
    )
    .await;
    // ... but the account is not locked for its owner elsewhere.
    assert_eq!(from("198.51.100.7").send().await.unwrap().status(), 200);
    // Parallel guesses from a new address: the limit holds although all arrive at once.
    create_user(&s, "trudy", PW).await;
    let guesses = (0..60).map(|_| {
        client()
            .get(s.url("/v2/"))
            .header("authorization", basic("trudy", "Not-The-Pass-1"))
            .header("x-forwarded-for", "203.0.113.10")
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 50);
    // Push, pull, delete, member and project changes are all on record.
    s.create_project("audited", false).await;
    let (digest, _) = push_image(&s, "audited/app", "v1", "x").await;
    let resp = client()
        .get(s.url("/v2/audited/app/manifests/v1"))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let resp = client()
        .delete(s.url(&format!("/v2/audited/app/manifests/{digest}")))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    add_member(&s, "audited", "mallory", 3).await;
    let (robot, _, _) = create_robot(&s, "audited", "ci", &[("repository", "pull")], false).await;
    // Changes to members, users and robots, and a successful login, go on record too.
    let admin = admin_basic();
    let members: Vec<serde_json::Value> = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/audited/members",
        Some(&admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let member = members
        .iter()
        .find(|m| m["entity_name"] == "mallory")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let user = create_user(&s, "trent", PW).await;
    let robot_body = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/robots/{robot}"),
        Some(&admin),
        None,
    )
    .await
    .json::<serde_json::Value>()
    .await
    .unwrap();
    let mut robot_update = robot_body.clone();
    robot_update["description"] = "updated".into();
    for (method, path, body, status) in [
        (
            Method::PUT,
            format!("/api/v2.0/projects/audited/members/{member}"),
            Some(serde_json::json!({ "role_id": 2 })),
            200,
        ),
        (
            Method::DELETE,
            format!("/api/v2.0/projects/audited/members/{member}"),
            None,
            200,
        ),
        (
            Method::PUT,
            format!("/api/v2.0/users/{user}"),
            Some(serde_json::json!({ "email": "trent@example.org", "realname": "Trent" })),
            200,
        ),
        (
            Method::PUT,
            format!("/api/v2.0/users/{user}/password"),
            Some(serde_json::json!({ "old_password": PW, "new_password": "Other-Pass-22" })),
            200,
        ),
        (
            Method::PUT,
            format!("/api/v2.0/users/{user}/sysadmin"),
            Some(serde_json::json!({ "sysadmin_flag": true })),
            200,
        ),
        (
            Method::PUT,
            format!("/api/v2.0/robots/{robot}"),
            Some(robot_update),
            200,
        ),
        (
            Method::DELETE,
            format!("/api/v2.0/robots/{robot}"),
            None,
            200,
        ),
    ] {
        let resp = api(&s, method.clone(), &path, Some(&admin), body).await;
        assert_eq!(
            resp.status(),
            status,
            "{method} {path}: {}",
            resp.text().await.unwrap()
        );
    }
    let resp = client()
        .get(s.url("/v2/"))
        .header("authorization", basic("trent", "Other-Pass-22"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/users/{user}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let logins = audit_entries(&s, "operation%3Dlogin,username%3Dtrent").await;
    assert!(
        logins.iter().any(|e| e["operation_result"] == true),
        "{logins:?}"
    );
    // Identical actions within a second share a row that counts them.
    let updates = audit_entries(&s, "operation%3Dupdate,resource_type%3Duser").await;
    let counted: u64 = updates
        .iter()
        .map(|e| {
            let d = e["operation_description"].as_str().unwrap_or("");
            d.split_once('(')
                .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(counted, 3, "profile, password and sysadmin: {updates:?}");
    let logins = audit_entries(&s, "operation%3Dlogin,username%3Dmallory").await;
    assert!(
        logins
            .iter()
            .any(|e| e["operation_result"] == false && e["client_ip"] == "203.0.113.9")
    );
    for (op, rtype) in [
        ("create", "artifact"),
        ("pull", "artifact"),
        ("delete", "artifact"),
        ("create", "member"),
        ("update", "member"),
        ("delete", "member"),
        ("create", "robot"),
        ("update", "robot"),
        ("delete", "robot"),
        ("create", "user"),
        ("delete", "user"),
    ] {
        let hits = audit_entries(&s, &format!("operation%3D{op},resource_type%3D{rtype}")).await;
        assert!(!hits.is_empty(), "no {op} {rtype} entry");
        assert!(hits[0]["op_time"].as_str().is_some());
    }
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/audited/logs",
        Some(&admin_basic()),
        None,
    )
    .await;
    let logs: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert!(
        logs.iter()
            .all(|e| e["resource"].as_str().unwrap().contains("audited"))
    );
    assert!(logs.len() >= 5);
    // Purging everything older than zero hours empties the log.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/system/purgeaudit",
        Some(&admin_basic()),
        Some(serde_json::json!({ "parameters": { "audit_retention_hour": 0 } })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert!(audit_entries(&s, "operation%3Dpull").await.is_empty());
}
