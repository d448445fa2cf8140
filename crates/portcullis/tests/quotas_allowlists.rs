//! Storage quotas and CVE allowlists end to end on both backend pairs: exact usage across
//! pushes, deletes and concurrent pushes, refusals that leave nothing behind, Harbor's
//! quota API, and allowlist validation and expiry fields.

#[macro_use]
mod common;
#[path = "webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use common::*;

on_both_backends!(
    quota_events_reach_webhooks,
    quota_refusal_leaves_nothing,
    usage_exact_under_concurrency,
    quota_api,
    allowlists
);

/// The project's quota JSON as `GET /api/v2.0/quotas?reference_id=` shows it.
async fn quota_of(s: &Server, project: &str) -> serde_json::Value {
    let p: serde_json::Value = client()
        .get(s.url(&format!("/api/v2.0/projects/{project}")))
        .header("x-is-resource-name", "true")
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let list: serde_json::Value = client()
        .get(s.url(&format!(
            "/api/v2.0/quotas?reference=project&reference_id={}",
            p["project_id"]
        )))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    list[0].clone()
}

async fn used(s: &Server, project: &str) -> i64 {
    quota_of(s, project).await["used"]["storage"]
        .as_i64()
        .unwrap()
}

/// What `push_image` stores for `seed`: manifest, config and layer sizes.
fn image_size(manifest: &[u8], seed: &str) -> i64 {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    );
    (manifest.len() + config.len() + format!("layer of {seed}").len()) as i64
}

async fn create_limited(s: &Server, name: &str, limit: i64) {
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .json(&serde_json::json!({ "project_name": name, "storage_limit": limit }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
}

async fn quota_refusal_leaves_nothing(b: Backends) {
    let s = Server::start(b).await;
    create_limited(&s, "small", 100_000).await;
    let q = quota_of(&s, "small").await;
    assert_eq!(q["hard"]["storage"], 100_000);
    assert_eq!(q["used"]["storage"], 0);
    assert_eq!(q["ref"]["name"], "small");
    assert_eq!(q["ref"]["owner_name"], "admin");

    let (d1, m1) = push_image(&s, "small/app", "one", "one").await;
    let size1 = image_size(&m1, "one");
    assert_eq!(used(&s, "small").await, size1);

    // Lower the limit below what a second image needs: its first blob upload is refused,
    // as Harbor refuses it (blobs count from upload on, referenced or not).
    let id = q["id"].as_i64().unwrap();
    let resp = client()
        .put(s.url(&format!("/api/v2.0/quotas/{id}")))
        .json(&serde_json::json!({ "hard": { "storage": size1 + 10 } }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"seed":"two"}"#;
    let cd = sha256(config);
    let resp = client()
        .post(s.url(&format!("/v2/small/app/blobs/uploads/?digest={cd}")))
        .body(config.to_vec())
        .send_as_admin()
        .await;
    let body = expect_error(resp, 403, "DENIED").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "Quota exceeded when processing the request of adding {}B of storage resource, \
             which when updated to current usage of {size1}B will exceed the configured \
             upper limit of {}B.",
            config.len(),
            size1 + 10
        )
    );
    assert_eq!(body["errors"][0]["detail"]["hard"]["storage"], size1 + 10);
    // The refused blob is not served, and a manifest naming it is refused too.
    let resp = client()
        .head(s.url(&format!("/v2/small/app/blobs/{cd}")))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 404);
    let ld = sha256(b"layer of two");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": 12 }],
    }))
    .unwrap();
    let resp = client()
        .put(s.url("/v2/small/app/manifests/two"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send_as_admin()
        .await;
    expect_error(resp, 400, "MANIFEST_BLOB_UNKNOWN").await;

    // Nothing half-written: no tag, no artifact, usage unchanged.
    let resp = client()
        .get(s.url("/v2/small/app/manifests/two"))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "MANIFEST_UNKNOWN").await;
    let resp = client()
        .get(s.url(&format!("/v2/small/app/manifests/{}", sha256(&manifest))))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 404);
    let arts: serde_json::Value = client()
        .get(s.url("/api/v2.0/projects/small/repositories/app/artifacts"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(arts.as_array().unwrap().len(), 1, "{arts}");
    assert_eq!(used(&s, "small").await, size1);
    let tags: serde_json::Value = client()
        .get(s.url("/v2/small/app/tags/list"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["one"]));

    // Re-pushing what is already counted adds nothing and is allowed even at the limit.
    let resp = client()
        .put(s.url("/v2/small/app/manifests/again"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m1.clone())
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(used(&s, "small").await, size1);

    // Unlimited again: the push goes through; deletes bring usage back down exactly.
    let resp = client()
        .put(s.url(&format!("/api/v2.0/quotas/{id}")))
        .json(&serde_json::json!({ "hard": { "storage": -1 } }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    push_blob(&s, "small/app", config).await;
    push_blob(&s, "small/app", b"layer of two").await;
    let resp = client()
        .put(s.url("/v2/small/app/manifests/two"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        used(&s, "small").await,
        size1 + image_size(&manifest, "two")
    );
    let resp = client()
        .delete(s.url(&format!("/v2/small/app/manifests/{d1}")))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(used(&s, "small").await, image_size(&manifest, "two"));

    // The project summary carries the quota.
    let summary: serde_json::Value = client()
        .get(s.url("/api/v2.0/projects/small/summary"))
        .header("x-is-resource-name", "true")
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["quota"]["hard"]["storage"], -1);
    assert_eq!(
        summary["quota"]["used"]["storage"],
        image_size(&manifest, "two")
    );
}

async fn quota_events_reach_webhooks(b: Backends) {
    let s = Server::start(b).await;
    create_limited(&s, "watched", 2_450).await;
    let rx = receiver::Receiver::start(0).await;
    let resp = client()
        .post(s.url("/api/v2.0/projects/watched/webhook/policies"))
        .json(&serde_json::json!({ "name": "quota", "event_types": ["QUOTA_EXCEED", "QUOTA_WARNING"],
            "targets": [{ "type": "http", "address": format!("{}/q", rx.base), "payload_format": "Default" }] }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    // A small image stays under 85 %: no event. A large layer then pushes usage past the
    // warning threshold, and the next layer's upload is refused, as in Harbor.
    push_image(&s, "watched/app", "small", "s").await;
    let upload = |data: Vec<u8>| {
        let s = &s;
        async move {
            client()
                .post(s.url(&format!(
                    "/v2/watched/app/blobs/uploads/?digest={}",
                    sha256(&data)
                )))
                .body(data)
                .send_as_admin()
                .await
        }
    };
    assert_eq!(upload(vec![b'w'; 1_600]).await.status(), 201);
    let over = vec![b'o'; 1_000];
    let over_digest = sha256(&over);
    expect_error(upload(over).await, 403, "DENIED").await;

    let seen = rx
        .wait_for("a warning and a refusal", |r| {
            let has = |t: &str| r.iter().any(|x| x.json()["type"] == t);
            has("QUOTA_EXCEED") && has("QUOTA_WARNING")
        })
        .await;
    let warnings = seen
        .iter()
        .filter(|r| r.json()["type"] == "QUOTA_WARNING")
        .count();
    assert_eq!(warnings, 1, "one upload crossed the threshold");
    let exceed = seen
        .iter()
        .map(|r| r.json())
        .find(|j| j["type"] == "QUOTA_EXCEED")
        .unwrap();
    let details = exceed["event_data"]["custom_attributes"]["Details"]
        .as_str()
        .unwrap();
    assert!(
        details.starts_with("Quota exceeded when processing the request of adding 1000B"),
        "{exceed}"
    );
    assert_eq!(exceed["event_data"]["resources"][0]["digest"], over_digest);
    assert_eq!(exceed["operator"], "admin");
    assert_eq!(
        exceed["event_data"]["repository"]["repo_full_name"],
        "watched/app"
    );
}

async fn usage_exact_under_concurrency(b: Backends) {
    let s = Server::start(b).await;
    create_limited(&s, "busy", -1).await;
    // Two repositories, images sharing one layer: the shared layer counts once.
    let shared = b"a layer every image shares".to_vec();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let base = s.base.clone();
        let shared = shared.clone();
        let addr = s.addr.clone();
        tasks.push(tokio::spawn(async move {
            let repo = if i % 2 == 0 { "busy/a" } else { "busy/b" };
            let url = |p: &str| format!("{base}{p}");
            let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
            let mut digests = Vec::new();
            for data in [config.as_bytes().to_vec(), shared.clone()] {
                let d = sha256(&data);
                let resp = client()
                    .post(url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
                    .body(data.clone())
                    .send_as_admin()
                    .await;
                assert_eq!(resp.status(), 201);
                digests.push((d, data.len()));
            }
            let manifest = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                            "digest": digests[0].0, "size": digests[0].1 },
                "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                             "digest": digests[1].0, "size": digests[1].1 }],
            }))
            .unwrap();
            let resp = client()
                .put(url(&format!("/v2/{repo}/manifests/t{i}")))
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(manifest.clone())
                .send_as_admin()
                .await;
            assert_eq!(resp.status(), 201, "{addr}");
            (repo, sha256(&manifest), manifest.len() + digests[0].1)
        }));
    }
    let mut pushed = Vec::new();
    for t in tasks {
        pushed.push(t.await.unwrap());
    }
    let own: i64 = pushed.iter().map(|(_, _, n)| *n as i64).sum();
    assert_eq!(used(&s, "busy").await, own + shared.len() as i64);

    // Delete half of them concurrently: what remains is counted exactly.
    let mut tasks = Vec::new();
    for (repo, digest, _) in pushed.iter().take(6) {
        let (base, repo, digest) = (s.base.clone(), *repo, digest.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client()
                .delete(format!("{base}/v2/{repo}/manifests/{digest}"))
                .send_as_admin()
                .await;
            assert_eq!(resp.status(), 202);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let left: i64 = pushed.iter().skip(6).map(|(_, _, n)| *n as i64).sum();
    assert_eq!(used(&s, "busy").await, left + shared.len() as i64);
    for (repo, digest, _) in pushed.iter().skip(6) {
        let resp = client()
            .delete(s.url(&format!("/v2/{repo}/manifests/{digest}")))
            .send_as_admin()
            .await;
        assert_eq!(resp.status(), 202);
    }
    assert_eq!(used(&s, "busy").await, 0);
}

async fn quota_api(b: Backends) {
    let s = Server::start(b).await;
    create_limited(&s, "q-big", 5_000_000).await;
    create_limited(&s, "q-small", 1_000).await;
    s.create_project("q-free", false).await;
    push_image(&s, "q-free/app", "x", "x").await;

    // `library` exists from the start, so four quotas; page through them.
    let resp = client()
        .get(s.url("/api/v2.0/quotas?page=1&page_size=3&sort=-hard.storage"))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-total-count"], "4");
    assert!(
        resp.headers()["link"]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let page: serde_json::Value = resp.json().await.unwrap();
    let names: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["ref"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["q-big", "q-small", "library"]);
    let page: serde_json::Value = client()
        .get(s.url("/api/v2.0/quotas?sort=-used.storage&page_size=1"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page[0]["ref"]["name"], "q-free");
    assert!(page[0]["used"]["storage"].as_i64().unwrap() > 0);
    assert!(page[0]["creation_time"].as_str().is_some());

    let id = page[0]["id"].as_i64().unwrap();
    let one: serde_json::Value = client()
        .get(s.url(&format!("/api/v2.0/quotas/{id}")))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["ref"]["name"], "q-free");
    assert_eq!(one["hard"]["storage"], -1);

    let put = |body: serde_json::Value| {
        client()
            .put(s.url(&format!("/api/v2.0/quotas/{id}")))
            .json(&body)
            .send_as_admin()
    };
    expect_error(
        put(serde_json::json!({ "hard": { "storage": -7 } })).await,
        400,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        put(serde_json::json!({ "hard": { "count": 5 } })).await,
        400,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        put(serde_json::json!({ "hard": {} })).await,
        400,
        "BAD_REQUEST",
    )
    .await;
    let resp = client()
        .get(s.url("/api/v2.0/quotas?sort=size"))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    let resp = client()
        .get(s.url("/api/v2.0/quotas/999999"))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .json(&serde_json::json!({ "project_name": "bad-limit", "storage_limit": -2 }))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "BAD_REQUEST").await;

    // Quotas are for system administrators; anonymous callers must log in.
    create_user(&s, "someone", "Some-Passw0rd").await;
    let resp = client()
        .get(s.url("/api/v2.0/quotas"))
        .header("authorization", basic("someone", "Some-Passw0rd"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = client()
        .put(s.url(&format!("/api/v2.0/quotas/{id}")))
        .header("authorization", basic("someone", "Some-Passw0rd"))
        .json(&serde_json::json!({ "hard": { "storage": 1 } }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = client()
        .get(s.url("/api/v2.0/quotas"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;
}

async fn allowlists(b: Backends) {
    let s = Server::start(b).await;
    let sys: serde_json::Value = client()
        .get(s.url("/api/v2.0/system/CVEAllowlist"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sys["project_id"], 0);
    assert_eq!(sys["items"], serde_json::json!([]));

    let put_sys = |body: serde_json::Value| {
        client()
            .put(s.url("/api/v2.0/system/CVEAllowlist"))
            .json(&body)
            .send_as_admin()
    };
    let resp = put_sys(
        serde_json::json!({ "items": [{ "cve_id": "CVE-2024-1" }, { "cve_id": "CVE-2024-1" }] }),
    )
    .await;
    let body = expect_error(resp, 400, "BAD_REQUEST").await;
    assert_eq!(
        body["errors"][0]["message"],
        "duplicate CVE ID in allowlist: CVE-2024-1"
    );
    let resp = put_sys(serde_json::json!({ "items": [{ "cve_id": " " }] })).await;
    let body = expect_error(resp, 400, "BAD_REQUEST").await;
    assert_eq!(body["errors"][0]["message"], "empty CVE ID in allowlist");
    let resp =
        put_sys(serde_json::json!({ "items": [{ "cve_id": "CVE-2024-9" }], "expires_at": 1_000 }))
            .await;
    assert_eq!(resp.status(), 200);
    let sys: serde_json::Value = client()
        .get(s.url("/api/v2.0/system/CVEAllowlist"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sys["items"],
        serde_json::json!([{ "cve_id": "CVE-2024-9" }])
    );
    assert_eq!(sys["expires_at"], 1_000);

    // Any signed-in user reads it; only administrators change it.
    create_user(&s, "reader", "Read-Passw0rd").await;
    let resp = client()
        .get(s.url("/api/v2.0/system/CVEAllowlist"))
        .header("authorization", basic("reader", "Read-Passw0rd"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .put(s.url("/api/v2.0/system/CVEAllowlist"))
        .header("authorization", basic("reader", "Read-Passw0rd"))
        .json(&serde_json::json!({ "items": [] }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "FORBIDDEN").await;
    let resp = client()
        .get(s.url("/api/v2.0/system/CVEAllowlist"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "UNAUTHORIZED").await;

    // A project's own list, on create and update; reuse of the system list by default.
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .json(
            &serde_json::json!({ "project_name": "own", "cve_allowlist": {
            "items": [{ "cve_id": "CVE-2023-1" }, { "cve_id": "CVE-2023-2" }],
            "expires_at": 4_102_444_800_i64 } }),
        )
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    let project = |name: &'static str| {
        client()
            .get(s.url(&format!("/api/v2.0/projects/{name}")))
            .header("x-is-resource-name", "true")
            .send_as_admin()
    };
    let p: serde_json::Value = project("own").await.json().await.unwrap();
    assert_eq!(p["metadata"]["reuse_sys_cve_allowlist"], "true");
    assert_eq!(p["cve_allowlist"]["project_id"], p["project_id"]);
    assert_eq!(
        p["cve_allowlist"]["items"],
        serde_json::json!([{ "cve_id": "CVE-2023-1" }, { "cve_id": "CVE-2023-2" }])
    );
    assert_eq!(p["cve_allowlist"]["expires_at"], 4_102_444_800_i64);

    let update = |body: serde_json::Value| {
        client()
            .put(s.url("/api/v2.0/projects/own"))
            .header("x-is-resource-name", "true")
            .json(&body)
            .send_as_admin()
    };
    let resp = update(serde_json::json!({ "cve_allowlist": { "items": [{ "cve_id": "CVE-1" }, { "cve_id": "CVE-1" }] } })).await;
    let body = expect_error(resp, 400, "BAD_REQUEST").await;
    assert_eq!(
        body["errors"][0]["message"],
        "duplicate CVE ID in allowlist: CVE-1"
    );
    let resp = update(
        serde_json::json!({ "metadata": { "reuse_sys_cve_allowlist": "false" },
        "cve_allowlist": { "items": [{ "cve_id": "CVE-2025-7" }] } }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let p: serde_json::Value = project("own").await.json().await.unwrap();
    assert_eq!(p["metadata"]["reuse_sys_cve_allowlist"], "false");
    assert_eq!(
        p["cve_allowlist"]["items"],
        serde_json::json!([{ "cve_id": "CVE-2025-7" }])
    );
    assert!(p["cve_allowlist"].get("expires_at").is_none(), "{p}");

    // Refused creation leaves no project behind.
    let resp = client()
        .post(s.url("/api/v2.0/projects"))
        .json(
            &serde_json::json!({ "project_name": "dupes", "cve_allowlist": {
            "items": [{ "cve_id": "" }] } }),
        )
        .send_as_admin()
        .await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    assert_eq!(project("dupes").await.status(), 404);
}
