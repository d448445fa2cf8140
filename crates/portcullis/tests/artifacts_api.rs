//! Harbor's browsing and promotion API over real HTTP, on both backends: repositories,
//! artifacts, tags, accessories, copy between projects, search and project summaries.

#[macro_use]
mod common;

use common::*;
use reqwest::Method;

on_both_backends!(
    repositories_and_artifacts,
    promotion_by_copy,
    indexes_and_accessories,
    visibility_and_search
);

const PW: &str = "Browse-Pass-1";

async fn get_json(s: &Server, path: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let resp = api(s, Method::GET, path, auth, None).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Audit entries matching `q`, waiting for the batched writer to record `resource`.
async fn audited(s: &Server, q: &str, resource: &str) -> Vec<serde_json::Value> {
    for _ in 0..40 {
        let (status, body) = get_json(
            s,
            &format!("/api/v2.0/audit-logs?page_size=100&q={q}"),
            Some(&admin_basic()),
        )
        .await;
        assert_eq!(status, 200);
        let list = body.as_array().cloned().unwrap_or_default();
        if list.iter().any(|e| e["resource"] == resource) {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("no audit entry for {resource} matching {q}");
}

async fn repositories_and_artifacts(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("team", false).await;
    let (digest, _) = push_image(&s, "team/apps/web", "v1", "web").await;
    push_image(&s, "team/api", "v1", "api").await;

    // Repositories, with Harbor's double encoding of slashes.
    let resp = api(
        &s,
        Method::GET,
        "/api/v2.0/projects/team/repositories?page_size=1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "2");
    assert!(
        resp.headers()["link"]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let web = "/api/v2.0/projects/team/repositories/apps%252Fweb";
    let (status, repo) = get_json(&s, web, Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (repo["name"].as_str(), repo["artifact_count"].as_u64()),
        (Some("team/apps/web"), Some(1))
    );
    let resp = api(
        &s,
        Method::PUT,
        web,
        Some(&admin),
        Some(serde_json::json!({ "description": "front end" })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (_, repo) = get_json(&s, web, Some(&admin)).await;
    assert_eq!(repo["description"], "front end");
    let (_, all) = get_json(&s, "/api/v2.0/repositories?q=name%3D~api", Some(&admin)).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["name"], "team/api");

    // Artifacts in Harbor's JSON.
    let (status, list) = get_json(&s, &format!("{web}/artifacts"), Some(&admin)).await;
    assert_eq!(status, 200);
    let a = &list[0];
    assert_eq!(a["digest"], digest.as_str());
    assert_eq!(a["type"], "IMAGE");
    assert_eq!(a["media_type"], "application/vnd.oci.image.config.v1+json");
    assert_eq!(
        a["manifest_media_type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(a["extra_attrs"]["architecture"], "amd64");
    assert_eq!(a["extra_attrs"]["os"], "linux");
    assert_eq!(a["tags"][0]["name"], "v1");
    let (_, by_tag) = get_json(&s, &format!("{web}/artifacts/v1"), Some(&admin)).await;
    assert_eq!(by_tag["id"], a["id"]);
    let (_, untagged) = get_json(&s, &format!("{web}/artifacts?q=tags%3Dnil"), Some(&admin)).await;
    assert!(untagged.as_array().unwrap().is_empty());

    // Tags: create, conflict, list, delete.
    let tags = format!("{web}/artifacts/{digest}/tags");
    let resp = api(
        &s,
        Method::POST,
        &tags,
        Some(&admin),
        Some(serde_json::json!({ "name": "v2" })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let resp = api(
        &s,
        Method::POST,
        &tags,
        Some(&admin),
        Some(serde_json::json!({ "name": "v2" })),
    )
    .await;
    expect_error(resp, 409, "CONFLICT").await;
    let (_, list) = get_json(&s, &tags, Some(&admin)).await;
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v1", "v2"]);
    let resp = client()
        .get(s.url("/v2/team/apps/web/manifests/v2"))
        .header("authorization", &admin)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the new tag is pullable");
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{tags}/v1"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{tags}/v1"),
        Some(&admin),
        None,
    )
    .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    audited(
        &s,
        "operation%3Dcreate,resource_type%3Dtag",
        "team/apps/web:v2",
    )
    .await;
    audited(
        &s,
        "operation%3Ddelete,resource_type%3Dtag",
        "team/apps/web:v1",
    )
    .await;

    // No accessories yet.
    let (status, acc) = get_json(
        &s,
        &format!("{web}/artifacts/{digest}/accessories"),
        Some(&admin),
    )
    .await;
    assert_eq!((status, acc), (200, serde_json::json!([])));

    // Deleting the artifact, then the other repository.
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{web}/artifacts/v2"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (status, _) = get_json(&s, &format!("{web}/artifacts/{digest}"), Some(&admin)).await;
    assert_eq!(status, 404);
    let resp = api(
        &s,
        Method::DELETE,
        "/api/v2.0/projects/team/repositories/api",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (status, _) = get_json(&s, "/api/v2.0/projects/team/repositories/api", Some(&admin)).await;
    assert_eq!(status, 404);
    audited(
        &s,
        "operation%3Ddelete,resource_type%3Dartifact",
        &format!("team/apps/web@{digest}"),
    )
    .await;
    audited(
        &s,
        "operation%3Ddelete,resource_type%3Drepository",
        "team/api",
    )
    .await;
}

async fn promotion_by_copy(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("staging", false).await;
    s.create_project("prod", false).await;
    let (digest, manifest) = push_image(&s, "staging/app", "rc1", "app").await;
    create_user(&s, "dev", PW).await;
    add_member(&s, "staging", "dev", 2).await;
    add_member(&s, "prod", "dev", 3).await;
    let dev = basic("dev", PW);
    let copy =
        format!("/api/v2.0/projects/prod/repositories/app/artifacts?from=staging/app@{digest}");

    // A guest of prod may not promote into it.
    let resp = api(&s, Method::POST, &copy, Some(&dev), None).await;
    expect_error(resp, 403, "FORBIDDEN").await;
    // A source the caller cannot see is missing.
    create_user(&s, "ops", PW).await;
    add_member(&s, "prod", "ops", 4).await;
    let ops = basic("ops", PW);
    let resp = api(&s, Method::POST, &copy, Some(&ops), None).await;
    expect_error(resp, 404, "NOT_FOUND").await;

    let resp = api(&s, Method::POST, &copy, Some(&admin), None).await;
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        loc,
        format!("/api/v2.0/projects/prod/repositories/app/artifacts/{digest}")
    );
    let (_, a) = get_json(&s, &loc, Some(&admin)).await;
    assert_eq!(a["digest"], digest.as_str());
    assert_eq!(a["tags"][0]["name"], "rc1", "the tags come along");
    // By tag, into a nested repository; the copy is pullable with its blobs.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/projects/prod/repositories/web%252Fapp/artifacts?from=staging/app:rc1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 201);
    let resp = client()
        .get(s.url("/v2/prod/web/app/manifests/rc1"))
        .header("authorization", &admin)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), manifest.as_slice());
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let resp = client()
        .get(s.url(&format!("/v2/prod/web/app/blobs/{layer}")))
        .header("authorization", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"layer of app");
    // Copying again is harmless; a bad from is a 400.
    let resp = api(&s, Method::POST, &copy, Some(&admin), None).await;
    assert_eq!(resp.status(), 201);
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/projects/prod/repositories/app/artifacts?from=staging/app",
        Some(&admin),
        None,
    )
    .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    audited(
        &s,
        "operation%3Dcreate,resource_type%3Dartifact",
        &format!("prod/app@{digest}"),
    )
    .await;
}

async fn visibility_and_search(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("open", true).await;
    s.create_project("secret", false).await;
    push_image(&s, "open/tool", "v1", "tool").await;
    push_image(&s, "secret/tool", "v1", "hidden").await;
    create_user(&s, "guest", PW).await;
    create_user(&s, "lead", PW).await;
    add_member(&s, "secret", "lead", 4).await;
    let guest = basic("guest", PW);

    // Private content is missing to outsiders and anonymous callers alike.
    for auth in [Some(guest.as_str()), None] {
        let (status, _) = get_json(&s, "/api/v2.0/projects/secret/repositories/tool", auth).await;
        assert_eq!(status, 404);
        let (status, _) = get_json(
            &s,
            "/api/v2.0/projects/secret/repositories/tool/artifacts",
            auth,
        )
        .await;
        assert_eq!(status, 404);
        let (status, list) = get_json(&s, "/api/v2.0/repositories", auth).await;
        assert_eq!(status, 200);
        let names: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, ["open/tool"]);
        let (_, found) = get_json(&s, "/api/v2.0/search?q=tool", auth).await;
        let repos: Vec<_> = found["repository"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["repository_name"].clone())
            .collect();
        assert_eq!(repos, ["open/tool"]);
        let (_, found) = get_json(&s, "/api/v2.0/search?q=secr", auth).await;
        assert_eq!(found["project"], serde_json::json!([]));
    }
    // Public content is readable anonymously but not writable.
    let (status, _) = get_json(
        &s,
        "/api/v2.0/projects/open/repositories/tool/artifacts/v1",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let resp = api(
        &s,
        Method::DELETE,
        "/api/v2.0/projects/open/repositories/tool/artifacts/v1",
        Some(&guest),
        None,
    )
    .await;
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = api(
        &s,
        Method::DELETE,
        "/api/v2.0/projects/open/repositories/tool",
        None,
        None,
    )
    .await;
    assert_eq!(resp.status(), 401);

    // A maintainer sees the project, its summary and its repositories in search.
    let lead = basic("lead", PW);
    let (_, found) = get_json(&s, "/api/v2.0/search?q=secr", Some(&lead)).await;
    assert_eq!(found["project"][0]["name"], "secret");
    let (status, summary) = get_json(&s, "/api/v2.0/projects/secret/summary", Some(&lead)).await;
    assert_eq!(status, 200);
    assert_eq!(summary["repo_count"], 1);
    assert_eq!(summary["project_admin_count"], 1);
    assert_eq!(summary["maintainer_count"], 1);
    assert_eq!(summary["guest_count"], 0);
    let (status, _) = get_json(&s, "/api/v2.0/projects/secret/summary", Some(&guest)).await;
    assert_eq!(status, 404);
    let (_, all) = get_json(&s, "/api/v2.0/repositories", Some(&admin)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

/// Pushes a manifest as admin under `reference`; returns its digest.
async fn put_manifest(
    s: &Server,
    repo: &str,
    reference: &str,
    manifest: &serde_json::Value,
) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("authorization", admin_basic())
        .header("content-type", manifest["mediaType"].as_str().unwrap())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    sha256(&bytes)
}

async fn indexes_and_accessories(b: Backends) {
    let s = Server::start(b).await;
    let admin = admin_basic();
    s.create_project("build", false).await;
    s.create_project("release", false).await;
    let (amd, amd_bytes) = push_image(&s, "build/multi", "amd", "amd").await;
    let (arm, arm_bytes) = push_image(&s, "build/multi", "arm", "arm").await;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd,
              "size": amd_bytes.len(), "platform": { "architecture": "amd64", "os": "linux" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm,
              "size": arm_bytes.len(), "platform": { "architecture": "arm64", "os": "linux" } },
        ],
    });
    let index_digest = put_manifest(&s, "build/multi", "v1", &index).await;
    // A signature of the index: an artifact whose subject is the index.
    let empty = push_blob(&s, "build/multi", b"{}").await;
    let sig = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 }],
        "subject": { "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest,
                     "size": serde_json::to_vec(&index).unwrap().len() },
    });
    let sig_digest = put_manifest(
        &s,
        "build/multi",
        &sha256(&serde_json::to_vec(&sig).unwrap()),
        &sig,
    )
    .await;

    let base = "/api/v2.0/projects/build/repositories/multi/artifacts";
    let (_, a) = get_json(&s, &format!("{base}/v1"), Some(&admin)).await;
    assert_eq!(a["type"], "IMAGE");
    assert_eq!(
        a["manifest_media_type"],
        "application/vnd.oci.image.index.v1+json"
    );
    let refs = a["references"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert!(
        refs.iter()
            .all(|r| r["child_id"].is_i64() && r["parent_id"] == a["id"])
    );
    assert!(
        refs.iter()
            .any(|r| r["child_digest"] == amd.as_str() && r["platform"]["architecture"] == "amd64")
    );
    let (status, acc) = get_json(&s, &format!("{base}/v1/accessories"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(acc.as_array().unwrap().len(), 1);
    assert_eq!(acc[0]["digest"], sig_digest.as_str());
    assert_eq!(acc[0]["type"], "signature.cosign");
    assert_eq!(acc[0]["subject_artifact_digest"], index_digest.as_str());
    let (_, sig_json) = get_json(&s, &format!("{base}/{sig_digest}"), Some(&admin)).await;
    assert_eq!(sig_json["type"], "SIGNATURE");
    // The index is kept while listed; its children cannot go first.
    let resp = api(
        &s,
        Method::DELETE,
        &format!("{base}/{amd}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 412);

    // Promoting the index brings its children along.
    let resp = api(
        &s,
        Method::POST,
        "/api/v2.0/projects/release/repositories/multi/artifacts?from=build/multi:v1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let (_, list) = get_json(
        &s,
        "/api/v2.0/projects/release/repositories/multi/artifacts",
        Some(&admin),
    )
    .await;
    let mut digests: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["digest"].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    let mut want = vec![amd.clone(), arm.clone(), index_digest.clone()];
    want.sort();
    assert_eq!(digests, want);
    let (_, copied) = get_json(
        &s,
        "/api/v2.0/projects/release/repositories/multi/artifacts/v1",
        Some(&admin),
    )
    .await;
    assert_eq!(copied["digest"], index_digest.as_str());
    assert_eq!(copied["references"].as_array().unwrap().len(), 2);
    let resp = client()
        .get(s.url(&format!("/v2/release/multi/manifests/{arm}")))
        .header("authorization", &admin)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, tagged) = get_json(
        &s,
        "/api/v2.0/projects/release/repositories/multi/artifacts?q=tags%3D*",
        Some(&admin),
    )
    .await;
    assert_eq!(
        tagged.as_array().unwrap().len(),
        1,
        "only the index carries a tag"
    );
}
