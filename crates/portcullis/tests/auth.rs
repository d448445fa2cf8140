//! Authentication and visibility over real HTTP: the Docker token flow, Basic on `/v2/`,
//! anonymous pulls from public projects, invisibility of private ones.

mod common;

use common::*;

async fn token(s: &Server, auth: Option<&str>, scope: &str) -> reqwest::Response {
    let mut req = client().get(s.url(&format!(
        "/service/token?service=harbor-registry&scope={scope}"
    )));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn token_flow() {
    let s = Server::start(Backends::Embedded).await;
    let c = client();
    let resp = c.get(s.url("/v2/")).send().await.unwrap();
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    expect_error(resp, 401, "UNAUTHORIZED").await;
    assert_eq!(
        challenge,
        format!(
            r#"Bearer realm="{}/service/token",service="harbor-registry""#,
            s.base
        )
    );

    // Anonymous pull from a private project, and anonymous push anywhere: a challenge
    // naming the scope, whether or not the repository exists.
    s.create_project("secret", false).await;
    let resp = c
        .get(s.url("/v2/secret/app/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(r#"Bearer realm="{}/service/token",service="harbor-registry",scope="repository:secret/app:pull""#, s.base).as_str()
    );
    let resp = c
        .post(s.url("/v2/library/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(r#"Bearer realm="{}/service/token",service="harbor-registry",scope="repository:library/app:pull,push""#, s.base).as_str()
    );

    let resp = token(&s, Some(&admin_basic()), "repository:library/app:pull,push").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let tok = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["access_token"], tok.as_str());
    assert_eq!(body["expires_in"], 1800);
    assert!(body["issued_at"].as_str().is_some());

    let bearer = format!("Bearer {tok}");
    let resp = c
        .get(s.url("/v2/"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let data = b"pushed with a token";
    let d = sha256(data);
    let resp = c
        .post(s.url(&format!("/v2/library/app/blobs/uploads/?digest={d}")))
        .header("authorization", &bearer)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // The token only covers library/app: elsewhere the client is told to fetch a token
    // with the scope it needs, whether or not the repository exists.
    for repo in ["library/other", "nosuchproject/app"] {
        let resp = c
            .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .header("authorization", &bearer)
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.contains(&format!(r#"scope="repository:{repo}:pull,push""#))
                && challenge.ends_with(r#",error="insufficient_scope""#),
            "{challenge}"
        );
        expect_error(resp, 401, "UNAUTHORIZED").await;
    }

    // Wrong password at the token service and at /v2/.
    let resp = token(
        &s,
        Some(&basic("admin", "wrong")),
        "repository:library/app:pull",
    )
    .await;
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let resp = c
        .get(s.url("/v2/"))
        .header("authorization", basic("admin", "wrong"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let resp = c
        .get(s.url("/v2/"))
        .header("authorization", "Bearer not.a.token")
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let resp = token(&s, Some(&admin_basic()), "nonsense").await;
    expect_error(resp, 400, "BAD_REQUEST").await;
}

#[tokio::test]
async fn anonymous_public_and_private() {
    let s = Server::start(Backends::Embedded).await;
    let c = client();
    s.create_project("secret", false).await;
    push_image(&s, "library/pub", "v1", "p").await;
    push_image(&s, "secret/app", "v1", "s").await;

    // Anonymous token: pull granted on the public project only.
    let body: serde_json::Value = token(&s, None, "repository:library/pub:pull,push")
        .await
        .json()
        .await
        .unwrap();
    let anon = format!("Bearer {}", body["token"].as_str().unwrap());
    let resp = c
        .get(s.url("/v2/library/pub/manifests/v1"))
        .header("authorization", &anon)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = c
        .put(s.url("/v2/library/pub/manifests/v2"))
        .header("authorization", &anon)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "anonymous push must be challenged");
    // Without any credentials, directly.
    let resp = c
        .get(s.url("/v2/library/pub/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Private: a challenge, never the content, for anonymous callers.
    let body: serde_json::Value = token(&s, None, "repository:secret/app:pull")
        .await
        .json()
        .await
        .unwrap();
    let anon = format!("Bearer {}", body["token"].as_str().unwrap());
    let resp = c
        .get(s.url("/v2/secret/app/manifests/v1"))
        .header("authorization", &anon)
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let resp = c
        .get(s.url("/v2/secret/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;

    // An anonymous caller of the catalog is asked to log in for the catalog scope.
    let resp = c.get(s.url("/v2/_catalog")).send().await.unwrap();
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(r#"scope="registry:catalog:*""#),
        "{challenge}"
    );
    expect_error(resp, 401, "UNAUTHORIZED").await;
    let cat: serde_json::Value = c
        .get(s.url("/v2/_catalog"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["library/pub", "secret/app"])
    );

    // Harbor API: the private project does not exist for anonymous callers.
    let resp = c
        .get(s.url("/api/v2.0/projects/secret"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "NOT_FOUND").await;
    let list: serde_json::Value = c
        .get(s.url("/api/v2.0/projects"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["library"]);
}
