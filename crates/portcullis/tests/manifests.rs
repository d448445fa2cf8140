//! `/v2/` manifest, tag, catalog and referrers endpoints over real HTTP, with their error
//! paths, on both backend pairs.

#[macro_use]
mod common;

use common::*;

on_both_backends!(
    push_get_delete,
    manifest_errors,
    tags_and_catalog,
    index_and_referrers
);

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn push_get_delete(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let (d, bytes) = push_image(&s, "library/app", "v1", "a").await;
    for r in ["v1", d.as_str()] {
        let get = c
            .get(s.url(&format!("/v2/library/app/manifests/{r}")))
            .send_as_admin()
            .await;
        assert_eq!(get.status(), 200);
        assert_eq!(get.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(get.headers()["docker-content-digest"], d.as_str());
        assert_eq!(get.bytes().await.unwrap().as_ref(), bytes.as_slice());
        let head = c
            .head(s.url(&format!("/v2/library/app/manifests/{r}")))
            .send_as_admin()
            .await;
        assert_eq!(head.status(), 200);
        assert_eq!(
            head.headers()["content-length"],
            bytes.len().to_string().as_str()
        );
    }
    // Same content under a second tag, then move v1 to new content.
    let put = c
        .put(s.url("/v2/library/app/manifests/stable"))
        .header("authorization", admin_basic())
        .header("content-type", OCI_MANIFEST)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let (d2, _) = push_image(&s, "library/app", "v1", "b").await;
    let get = c
        .head(s.url("/v2/library/app/manifests/v1"))
        .send_as_admin()
        .await;
    assert_eq!(get.headers()["docker-content-digest"], d2.as_str());

    // Delete a tag: the manifest stays reachable by digest and by its other tag.
    let del = c
        .delete(s.url("/v2/library/app/manifests/stable"))
        .send_as_admin()
        .await;
    assert_eq!(del.status(), 202);
    let get = c
        .get(s.url("/v2/library/app/manifests/stable"))
        .send_as_admin()
        .await;
    expect_error(get, 404, "MANIFEST_UNKNOWN").await;
    let get = c
        .get(s.url(&format!("/v2/library/app/manifests/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(get.status(), 200);
    // Delete by digest.
    let del = c
        .delete(s.url(&format!("/v2/library/app/manifests/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(del.status(), 202);
    let get = c
        .get(s.url(&format!("/v2/library/app/manifests/{d}")))
        .send_as_admin()
        .await;
    expect_error(get, 404, "MANIFEST_UNKNOWN").await;
    let del = c
        .delete(s.url(&format!("/v2/library/app/manifests/{d}")))
        .send_as_admin()
        .await;
    expect_error(del, 404, "MANIFEST_UNKNOWN").await;

    // Push by digest.
    let (_, bytes3) = push_image(&s, "library/app", "tmp", "c").await;
    let d3 = sha256(&bytes3);
    let put = c
        .put(s.url(&format!("/v2/library/app/manifests/{d3}")))
        .header("authorization", admin_basic())
        .header("content-type", OCI_MANIFEST)
        .body(bytes3)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(
        put.headers()["location"],
        format!("/v2/library/app/manifests/{d3}").as_str()
    );
}

async fn manifest_errors(b: Backends) {
    let s = Server::start_with(b, &["--max-manifest-size", "4096"]).await;
    let c = client();
    let put = |path: String, ct: &'static str, body: Vec<u8>| {
        c.put(s.url(&path))
            .header("authorization", admin_basic())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    // Refers to blobs that were never pushed.
    let missing = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"nope"), "size": 4 },
        "layers": [],
    });
    let resp = put(
        "/v2/library/app/manifests/v1".into(),
        OCI_MANIFEST,
        serde_json::to_vec(&missing).unwrap(),
    )
    .await
    .unwrap();
    let body = expect_error(resp, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert_eq!(body["errors"][0]["detail"]["digest"], sha256(b"nope"));
    // Nothing was written: no tag, no repository content.
    let get = c
        .get(s.url("/v2/library/app/manifests/v1"))
        .send_as_admin()
        .await;
    assert!(get.status() == 404);

    let resp = put(
        "/v2/library/app/manifests/v1".into(),
        OCI_MANIFEST,
        b"{not json".to_vec(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;
    let resp = put(
        "/v2/library/app/manifests/v1".into(),
        OCI_MANIFEST,
        br#"{"schemaVersion":1}"#.to_vec(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;
    let mut big = serde_json::to_vec(&missing).unwrap();
    big.extend(std::iter::repeat_n(b' ', 5000));
    let resp = put("/v2/library/app/manifests/v1".into(), OCI_MANIFEST, big)
        .await
        .unwrap();
    expect_error(resp, 413, "SIZE_INVALID").await;
    // Content-Type that disagrees with the body's mediaType.
    let (_, bytes) = push_image(&s, "library/app", "ok", "x").await;
    let resp = put(
        "/v2/library/app/manifests/v2".into(),
        "application/vnd.docker.distribution.manifest.v2+json",
        bytes.clone(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;
    // Digest in the URL that does not match the body.
    let resp = put(
        format!("/v2/library/app/manifests/{}", sha256(b"other")),
        OCI_MANIFEST,
        bytes.clone(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "DIGEST_INVALID").await;
    let resp = put(
        "/v2/library/app/manifests/bad:tag".into(),
        OCI_MANIFEST,
        bytes.clone(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "DIGEST_INVALID").await;
    let resp = put(
        "/v2/library/app/manifests/.badtag".into(),
        OCI_MANIFEST,
        bytes.clone(),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;

    // Descriptors that misstate what the repository holds.
    let mut image: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    image["layers"][0]["size"] = serde_json::json!(999_999);
    let resp = put(
        "/v2/library/app/manifests/v3".into(),
        OCI_MANIFEST,
        serde_json::to_vec(&image).unwrap(),
    )
    .await
    .unwrap();
    let body = expect_error(resp, 400, "MANIFEST_INVALID").await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("999999 bytes"),
        "{body}"
    );
    let index = |media_type: &str| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{ "mediaType": media_type, "digest": sha256(&bytes), "size": bytes.len() }],
        }))
        .unwrap()
    };
    let resp = put(
        "/v2/library/app/manifests/idx".into(),
        OCI_INDEX,
        index(OCI_INDEX),
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;
    let resp = put(
        "/v2/library/app/manifests/idx".into(),
        OCI_INDEX,
        index(OCI_MANIFEST),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    // Bytes that are not UTF-8, hidden in a field the decoder would skip.
    let mut not_text = bytes.clone();
    let at = not_text.len() - 1;
    not_text.splice(at..at, b",\"x\":\"\xff\"".iter().copied());
    let resp = put(
        "/v2/library/app/manifests/v4".into(),
        OCI_MANIFEST,
        not_text,
    )
    .await
    .unwrap();
    expect_error(resp, 400, "MANIFEST_INVALID").await;

    let get = c
        .get(s.url("/v2/library/app/manifests/nosuchtag"))
        .send_as_admin()
        .await;
    expect_error(get, 404, "MANIFEST_UNKNOWN").await;
    let get = c
        .get(s.url("/v2/library/nosuchrepo/manifests/latest"))
        .send_as_admin()
        .await;
    expect_error(get, 404, "MANIFEST_UNKNOWN").await;
    let tags = c
        .get(s.url("/v2/library/nosuchrepo/tags/list"))
        .send_as_admin()
        .await;
    expect_error(tags, 404, "NAME_UNKNOWN").await;
}

async fn tags_and_catalog(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let (_, bytes) = push_image(&s, "library/app", "a", "t").await;
    for t in ["b", "c", "d", "e"] {
        let put = c
            .put(s.url(&format!("/v2/library/app/manifests/{t}")))
            .header("authorization", admin_basic())
            .header("content-type", OCI_MANIFEST)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
    }
    let all: serde_json::Value = c
        .get(s.url("/v2/library/app/tags/list"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all,
        serde_json::json!({ "name": "library/app", "tags": ["a", "b", "c", "d", "e"] })
    );
    let page = c
        .get(s.url("/v2/library/app/tags/list?n=2"))
        .send_as_admin()
        .await;
    assert_eq!(
        page.headers()["link"],
        "</v2/library/app/tags/list?n=2&last=b>; rel=\"next\""
    );
    let body: serde_json::Value = page.json().await.unwrap();
    assert_eq!(body["tags"], serde_json::json!(["a", "b"]));
    let page: serde_json::Value = c
        .get(s.url("/v2/library/app/tags/list?n=2&last=d"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["tags"], serde_json::json!(["e"]));
    let zero: serde_json::Value = c
        .get(s.url("/v2/library/app/tags/list?n=0"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(zero["tags"], serde_json::json!([]));
    let bad = c
        .get(s.url("/v2/library/app/tags/list?n=-1"))
        .send_as_admin()
        .await;
    assert_eq!(bad.status(), 400);

    push_image(&s, "library/zeta", "1", "z").await;
    push_image(&s, "library/beta/nested", "1", "y").await;
    let cat: serde_json::Value = c
        .get(s.url("/v2/_catalog"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["library/app", "library/beta/nested", "library/zeta"])
    );
    let page = c
        .get(s.url("/v2/_catalog?n=1&last=library/app"))
        .send_as_admin()
        .await;
    assert!(
        page.headers()["link"]
            .to_str()
            .unwrap()
            .contains("last=library%2Fbeta%2Fnested")
    );
    let body: serde_json::Value = page.json().await.unwrap();
    assert_eq!(
        body["repositories"],
        serde_json::json!(["library/beta/nested"])
    );
}

async fn index_and_referrers(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let (amd, amd_bytes) = push_image(&s, "library/multi", "amd64", "amd").await;
    let (arm, arm_bytes) = push_image(&s, "library/multi", "arm64", "arm").await;
    let child = |d: &str, len: usize, arch: &str| serde_json::json!({ "mediaType": OCI_MANIFEST, "digest": d, "size": len, "platform": { "architecture": arch, "os": "linux" } });
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [child(&amd, amd_bytes.len(), "amd64"), child(&arm, arm_bytes.len(), "arm64")],
    });
    let ib = serde_json::to_vec(&index).unwrap();
    let put = c
        .put(s.url("/v2/library/multi/manifests/latest"))
        .header("authorization", admin_basic())
        .header("content-type", OCI_INDEX)
        .body(ib.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let get = c
        .get(s.url("/v2/library/multi/manifests/latest"))
        .send_as_admin()
        .await;
    assert_eq!(get.headers()["content-type"], OCI_INDEX);
    // A child still listed by an index cannot be deleted on its own.
    let del = c
        .delete(s.url(&format!("/v2/library/multi/manifests/{amd}")))
        .send_as_admin()
        .await;
    assert_eq!(del.status(), 412);
    // An index naming an unknown child is refused.
    let bad = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child(&sha256(b"ghost"), 10, "s390x")] });
    let put = c
        .put(s.url("/v2/library/multi/manifests/bad"))
        .header("authorization", admin_basic())
        .header("content-type", OCI_INDEX)
        .body(serde_json::to_vec(&bad).unwrap())
        .send()
        .await
        .unwrap();
    expect_error(put, 400, "MANIFEST_BLOB_UNKNOWN").await;

    // An artifact whose subject is the amd64 image, with the empty config.
    let empty = push_blob(&s, "library/multi", b"{}").await;
    let sbom = push_blob(&s, "library/multi", br#"{"spdxVersion":"SPDX-2.3"}"#).await;
    let artifact = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/spdx+json", "digest": sbom, "size": 26 }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": amd, "size": amd_bytes.len() },
        "annotations": { "org.opencontainers.image.created": "2026-11-23T00:00:00Z" },
    });
    let ab = serde_json::to_vec(&artifact).unwrap();
    let ad = sha256(&ab);
    let put = c
        .put(s.url(&format!("/v2/library/multi/manifests/{ad}")))
        .header("authorization", admin_basic())
        .header("content-type", OCI_MANIFEST)
        .body(ab.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.headers()["oci-subject"], amd.as_str());
    let sig = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.signature",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/spdx+json", "digest": sbom, "size": 26 }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": amd, "size": amd_bytes.len() },
    });
    let sb = serde_json::to_vec(&sig).unwrap();
    let put = c
        .put(s.url(&format!("/v2/library/multi/manifests/{}", sha256(&sb))))
        .header("authorization", admin_basic())
        .header("content-type", OCI_MANIFEST)
        .body(sb)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let refs = c
        .get(s.url(&format!("/v2/library/multi/referrers/{amd}")))
        .send_as_admin()
        .await;
    assert_eq!(refs.status(), 200);
    assert_eq!(refs.headers()["content-type"], OCI_INDEX);
    assert!(!refs.headers().contains_key("oci-filters-applied"));
    let body: serde_json::Value = refs.json().await.unwrap();
    assert_eq!(body["mediaType"], OCI_INDEX);
    assert_eq!(body["manifests"].as_array().unwrap().len(), 2);
    let filtered = c
        .get(s.url(&format!(
            "/v2/library/multi/referrers/{amd}?artifactType=application/spdx%2Bjson"
        )))
        .send_as_admin()
        .await;
    assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
    let body: serde_json::Value = filtered.json().await.unwrap();
    let list = body["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], ad.as_str());
    assert_eq!(list[0]["artifactType"], "application/spdx+json");
    assert_eq!(list[0]["size"], ab.len());
    assert_eq!(
        list[0]["annotations"]["org.opencontainers.image.created"],
        "2026-11-23T00:00:00Z"
    );
    // No referrers: an empty index, not an error.
    let none: serde_json::Value = c
        .get(s.url(&format!("/v2/library/multi/referrers/{arm}")))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["manifests"], serde_json::json!([]));
    let bad = c
        .get(s.url("/v2/library/multi/referrers/sha256:xyz"))
        .send_as_admin()
        .await;
    expect_error(bad, 400, "DIGEST_INVALID").await;
}
