//! `/api/v2.0/scanners…` and a project's scanner: permissions, validation, the built-in
//! registration, the default, paging and errors.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    Backends, Server, add_member, admin_basic, api, basic, create_user, expect_error,
};

async fn json_of(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Registers an adapter as admin; returns its uuid.
pub async fn register(s: &Server, body: Value) -> String {
    let resp = api(
        s,
        Method::POST,
        "/api/v2.0/scanners",
        Some(&admin_basic()),
        Some(body),
    )
    .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/api/v2.0/scanners/"), "{loc}");
    loc.rsplit('/').next().unwrap().to_string()
}

async fn registrations_through_the_api(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    let a = Some(admin.as_str());

    // The built-in scanner is there from the start, as the default.
    let resp = api(&s, Method::GET, "/api/v2.0/scanners", a, None).await;
    assert_eq!(resp.headers()["x-total-count"], "1");
    let list = json_of(resp).await;
    let builtin = &list[0];
    assert_eq!(builtin["name"], "Portcullis");
    assert_eq!(builtin["is_default"], true);
    assert_eq!(builtin["health"], "healthy");
    assert_eq!(builtin["adapter"], "Portcullis");
    assert_eq!(builtin["capabilities"]["support_vulnerability"], true);
    let builtin_id = builtin["uuid"].as_str().unwrap().to_string();

    // System admins only; anonymous callers are asked to log in.
    create_user(&s, "dana", "Dana-Pass-1").await;
    let dana = basic("dana", "Dana-Pass-1");
    let resp = api(&s, Method::GET, "/api/v2.0/scanners", Some(&dana), None).await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(&s, Method::GET, "/api/v2.0/scanners", None, None).await;
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let body = json!({ "name": "Mine", "url": "http://127.0.0.1:9" });
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/scanners",
        Some(&dana),
        Some(body),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;

    // Validation, as Harbor does it.
    for (body, needle) in [
        (json!({ "url": "http://x" }), "name"),
        (json!({ "name": "X", "url": "not a url" }), "url"),
        (json!({ "name": "X", "url": "ftp://x" }), "http"),
        (
            json!({ "name": "X", "url": "http://x", "auth": "Digest", "access_credential": "c" }),
            "auth",
        ),
        (
            json!({ "name": "X", "url": "http://x", "auth": "Bearer" }),
            "access_credential",
        ),
    ] {
        let resp = api(&s, Method::POST, "/api/v2.0/scanners", a, Some(body)).await;
        let err = expect_error(resp, 400, "BAD_REQUEST").await;
        assert!(err.to_string().contains(needle), "{err}");
    }
    let resp = crate::common::client()
        .post(s.url("/api/v2.0/scanners"))
        .header("authorization", &admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;

    // An adapter nobody answers for: registered, but unhealthy.
    let dead = register(
        &s,
        json!({ "name": "Dead", "description": "nothing listens", "url": "http://127.0.0.1:9/",
                "auth": "Bearer", "access_credential": "s3cret", "skip_certVerify": true }),
    )
    .await;
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/scanners",
        a,
        Some(json!({ "name": "Dead", "url": "http://127.0.0.1:10" })),
    )
    .await;
    expect_error(resp, 409, "CONFLICT").await;
    let got = json_of(
        api(
            &s,
            Method::GET,
            &format!("/api/v2.0/scanners/{dead}"),
            a,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(got["url"], "http://127.0.0.1:9");
    assert_eq!(got["health"], "unhealthy");
    assert_eq!(got["auth"], "Bearer");
    assert_eq!(
        got["access_credential"], "",
        "the credential is never shown"
    );
    assert_eq!(got["skip_certVerify"], true);
    assert_eq!(got["is_default"], false);
    let resp = api(
        &s,
        Method::GET,
        &format!("/api/v2.0/scanners/{dead}/metadata"),
        a,
        None,
    )
    .await;
    let body = expect_error(resp, 503, "SERVICE_UNAVAILABLE").await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("failed to get the metadata of scanner"),
        "{body}"
    );
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/scanners/ping",
        a,
        Some(json!({ "name": "Dead", "url": "http://127.0.0.1:9" })),
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = api(&s, Method::GET, "/api/v2.0/scanners/no-such-id", a, None).await;
    expect_error(resp, 404, "NOT_FOUND").await;

    // The built-in scanner describes itself and cannot be edited or removed.
    let meta = json_of(
        api(
            &s,
            Method::GET,
            &format!("/api/v2.0/scanners/{builtin_id}/metadata"),
            a,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(meta["scanner"]["name"], "Portcullis");
    assert_eq!(
        meta["properties"]["harbor.scanner-adapter/scanner-type"],
        "os-package-vulnerability"
    );
    assert!(
        meta["capabilities"][0]["produces_mime_types"]
            .to_string()
            .contains("version=1.1")
    );
    let resp = api(
        &s,
        Method::PUT,
        &format!("/api/v2.0/scanners/{builtin_id}"),
        a,
        Some(json!({ "name": "Other", "url": "http://x" })),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/scanners/{builtin_id}"),
        a,
        None,
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;

    // Updating without a credential keeps the stored one; disabling blocks default use.
    let resp = api(&s, Method::PUT, &format!("/api/v2.0/scanners/{dead}"), a,
        Some(json!({ "name": "Dead 2", "url": "http://127.0.0.1:9", "auth": "Bearer", "disabled": true }))).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/scanners/no-such-id",
        a,
        Some(json!({ "name": "N", "url": "http://n" })),
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::PATCH,
        &format!("/api/v2.0/scanners/{dead}"),
        a,
        Some(json!({ "is_default": true })),
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    api(
        &s,
        Method::PUT,
        &format!("/api/v2.0/scanners/{dead}"),
        a,
        Some(json!({ "name": "Dead 2", "url": "http://127.0.0.1:9", "auth": "Bearer" })),
    )
    .await;

    // Paging and filters.
    register(&s, json!({ "name": "Spare", "url": "http://127.0.0.1:11" })).await;
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/scanners?page=2&page_size=1",
        a,
        None,
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "3");
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"prev\"") && link.contains("rel=\"next\""),
        "{link}"
    );
    assert_eq!(json_of(resp).await.as_array().unwrap().len(), 1);
    let found = json_of(
        api(
            &s,
            Method::GET,
            "/api/v2.0/scanners?q=name%3D~dead",
            a,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["uuid"], dead.as_str());
    let resp = api(&s, Method::GET, "/api/v2.0/scanners?q=vendor%3Dx", a, None).await;
    expect_error(resp, 400, "BAD_REQUEST").await;

    // Per project: members read it, only project admins (and system admins) choose it.
    s.create_project("team", false).await;
    add_member(&s, "team", "dana", 2).await;
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/scanner",
        Some(&dana),
        None,
    )
    .await;
    assert_eq!(json_of(resp).await["uuid"], builtin_id.as_str());
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/projects/team/scanner",
        Some(&dana),
        Some(json!({ "uuid": dead })),
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/scanner/candidates",
        Some(&dana),
        None,
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    create_user(&s, "olga", "Olga-Pass-1").await;
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/scanner",
        Some(&basic("olga", "Olga-Pass-1")),
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/projects/team/scanner",
        a,
        Some(json!({ "uuid": "no-such-id" })),
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/projects/team/scanner",
        a,
        Some(json!({})),
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    add_member(&s, "team", "olga", 1).await;
    let olga = basic("olga", "Olga-Pass-1");
    let resp = api(
        &s,
        Method::PUT,
        "/api/v2.0/projects/team/scanner",
        Some(&olga),
        Some(json!({ "uuid": dead })),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let got = json_of(
        api(
            &s,
            Method::GET,
            "/api/v2.0/projects/team/scanner",
            Some(&dana),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (got["uuid"].as_str(), got["health"].as_str()),
        (Some(dead.as_str()), Some("unhealthy"))
    );
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/scanner/candidates?page_size=2",
        Some(&olga),
        None,
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "3");
    assert_eq!(json_of(resp).await.as_array().unwrap().len(), 2);

    // A new default; deleting it hands the default back to the built-in scanner, and
    // the project falls back to the default.
    let resp = api(
        &s,
        Method::PATCH,
        &format!("/api/v2.0/scanners/{dead}"),
        a,
        Some(json!({ "is_default": true })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let list = json_of(api(&s, Method::GET, "/api/v2.0/scanners", a, None).await).await;
    let defaults: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["uuid"], dead.as_str());
    let deleted = json_of(
        api(
            &s,
            Method::DELETE,
            &format!("/api/v2.0/scanners/{dead}"),
            a,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(deleted["name"], "Dead 2");
    let resp = api(
        &s,
        Method::DELETE,
        &format!("/api/v2.0/scanners/{dead}"),
        a,
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let got = json_of(api(&s, Method::GET, "/api/v2.0/projects/team/scanner", a, None).await).await;
    assert_eq!(
        (got["uuid"].as_str(), got["is_default"].as_bool()),
        (Some(builtin_id.as_str()), Some(true))
    );

    // Without a configured key the adapter API is off.
    let resp = crate::common::client()
        .get(s.url("/api/v1/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scanner-adapter-api-key")
    );
}

on_both_backends!(registrations_through_the_api);
