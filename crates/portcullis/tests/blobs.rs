//! `/v2/` blob endpoints over real HTTP: uploads (monolithic, chunked), status, cancel,
//! mount, HEAD/GET with ranges, delete, and their error paths. Each case runs on the
//! embedded backends (SQLite + filesystem) and the scale-out pair (PostgreSQL + S3).

#[macro_use]
mod common;

use common::*;

on_both_backends!(
    monolithic_and_reads,
    chunked_upload,
    upload_errors,
    mount_and_delete
);

async fn monolithic_and_reads(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let data = b"hello, registry".to_vec();
    let d = push_blob(&s, "library/app", &data).await;

    let head = c
        .head(s.url(&format!("/v2/library/app/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(head.headers()["docker-content-digest"], d.as_str());
    assert_eq!(
        head.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    let get = c
        .get(s.url(&format!("/v2/library/app/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(get.status(), 200);
    assert_eq!(get.bytes().await.unwrap().as_ref(), data.as_slice());

    let part = c
        .get(s.url(&format!("/v2/library/app/blobs/{d}")))
        .header("authorization", admin_basic())
        .header("range", "bytes=7-14")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 7-14/{}", data.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"registry");

    let bad_range = c
        .get(s.url(&format!("/v2/library/app/blobs/{d}")))
        .header("authorization", admin_basic())
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    expect_error(bad_range, 416, "BLOB_UPLOAD_INVALID").await;

    // The same bytes in another repository are not visible there until pushed or mounted.
    let other = c
        .get(s.url(&format!("/v2/library/other/blobs/{d}")))
        .send_as_admin()
        .await;
    expect_error(other, 404, "BLOB_UNKNOWN").await;
    let unknown = sha256(b"never pushed");
    let resp = c
        .get(s.url(&format!("/v2/library/app/blobs/{unknown}")))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "BLOB_UNKNOWN").await;
    let resp = c
        .get(s.url("/v2/library/app/blobs/sha256:nothex"))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "DIGEST_INVALID").await;

    // POST then PUT with the whole body in the PUT.
    let post = c
        .post(s.url("/v2/library/app/blobs/uploads/"))
        .send_as_admin()
        .await;
    assert_eq!(post.status(), 202);
    let loc = post.headers()["location"].to_str().unwrap().to_string();
    let body = b"second blob".to_vec();
    let put = c
        .put(s.url(&format!("{loc}?digest={}", sha256(&body))))
        .header("authorization", admin_basic())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(
        put.headers()["docker-content-digest"],
        sha256(&body).as_str()
    );
    assert_eq!(
        put.headers()["location"],
        format!("/v2/library/app/blobs/{}", sha256(&body)).as_str()
    );
}

async fn chunked_upload(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let post = c
        .post(s.url("/v2/library/chunky/blobs/uploads/"))
        .send_as_admin()
        .await;
    assert_eq!(post.status(), 202);
    assert_eq!(post.headers()["range"], "0-0");
    let uuid = post.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let mut loc = post.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.ends_with(&uuid));
    let mut offset = 0usize;
    for chunk in data.chunks(1_000_000) {
        let end = offset + chunk.len() - 1;
        let resp = c
            .patch(s.url(&loc))
            .header("authorization", admin_basic())
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{end}"))
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
        assert_eq!(resp.headers()["range"], format!("0-{end}").as_str());
        loc = resp.headers()["location"].to_str().unwrap().to_string();
        offset = end + 1;
    }
    // Out of order: a chunk that does not start where the upload ends.
    let resp = c
        .patch(s.url(&loc))
        .header("authorization", admin_basic())
        .header("content-range", "10-19")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    expect_error(resp, 416, "BLOB_UPLOAD_INVALID").await;
    let status = c.get(s.url(&loc)).send_as_admin().await;
    assert_eq!(status.status(), 204);
    assert_eq!(
        status.headers()["range"],
        format!("0-{}", data.len() - 1).as_str()
    );
    assert_eq!(status.headers()["docker-upload-uuid"], uuid.as_str());

    let d = sha256(&data);
    let wrong = c
        .put(s.url(&format!("{loc}?digest={}", sha256(b"x"))))
        .send_as_admin()
        .await;
    expect_error(wrong, 400, "DIGEST_INVALID").await;
    // A failed completion ends the session; start again and finish properly.
    let post = c
        .post(s.url("/v2/library/chunky/blobs/uploads/"))
        .send_as_admin()
        .await;
    let loc = post.headers()["location"].to_str().unwrap().to_string();
    let resp = c
        .patch(s.url(&loc))
        .header("authorization", admin_basic())
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let put = c
        .put(s.url(&format!("{loc}?digest={d}")))
        .send_as_admin()
        .await;
    assert_eq!(put.status(), 201);
    let get = c
        .get(s.url(&format!("/v2/library/chunky/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(sha256(&get.bytes().await.unwrap()), d);
}

async fn upload_errors(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    // Monolithic upload whose body does not match the digest: nothing becomes visible.
    let d = sha256(b"expected");
    let resp = c
        .post(s.url(&format!("/v2/library/app/blobs/uploads/?digest={d}")))
        .header("authorization", admin_basic())
        .body("something else")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "DIGEST_INVALID").await;
    let head = c
        .head(s.url(&format!("/v2/library/app/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 404);

    let resp = c
        .post(s.url("/v2/library/app/blobs/uploads/?digest=md5:abc"))
        .header("authorization", admin_basic())
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "DIGEST_INVALID").await;

    let unknown = "/v2/library/app/blobs/uploads/0b9c7f4e-1b8e-4c55-9a1a-3f0b7d6c2a11";
    for m in [
        reqwest::Method::GET,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let resp = c.request(m, s.url(unknown)).send_as_admin().await;
        expect_error(resp, 404, "BLOB_UPLOAD_UNKNOWN").await;
    }
    let resp = c
        .get(s.url("/v2/library/app/blobs/uploads/not-a-uuid"))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "BLOB_UPLOAD_UNKNOWN").await;

    // Cancel, then the session is gone.
    let post = c
        .post(s.url("/v2/library/app/blobs/uploads/"))
        .send_as_admin()
        .await;
    let loc = post.headers()["location"].to_str().unwrap().to_string();
    let del = c.delete(s.url(&loc)).send_as_admin().await;
    assert_eq!(del.status(), 204);
    let resp = c.get(s.url(&loc)).send_as_admin().await;
    expect_error(resp, 404, "BLOB_UPLOAD_UNKNOWN").await;

    // A session belongs to the repository that opened it.
    let post = c
        .post(s.url("/v2/library/app/blobs/uploads/"))
        .send_as_admin()
        .await;
    let loc = post.headers()["location"].to_str().unwrap().to_string();
    let foreign = loc.replace("/library/app/", "/library/other/");
    let resp = c.get(s.url(&foreign)).send_as_admin().await;
    expect_error(resp, 404, "BLOB_UPLOAD_UNKNOWN").await;

    // PUT without digest.
    let resp = c.put(s.url(&loc)).send_as_admin().await;
    expect_error(resp, 400, "DIGEST_INVALID").await;

    // Names and projects.
    let resp = c
        .post(s.url("/v2/Library/App/blobs/uploads/"))
        .send_as_admin()
        .await;
    expect_error(resp, 400, "NAME_INVALID").await;
    let resp = c
        .post(s.url("/v2/nosuchproject/app/blobs/uploads/"))
        .send_as_admin()
        .await;
    let body = expect_error(resp, 404, "NAME_UNKNOWN").await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nosuchproject")
    );
    let resp = c
        .get(s.url("/v2/library/app/nonsense"))
        .send_as_admin()
        .await;
    expect_error(resp, 404, "NOT_FOUND").await;
    let resp = c
        .post(s.url("/v2/library/app/manifests/latest"))
        .send_as_admin()
        .await;
    expect_error(resp, 405, "UNSUPPORTED").await;
}

async fn mount_and_delete(b: Backends) {
    let s = Server::start(b).await;
    let c = client();
    let d = push_blob(&s, "library/source", b"shared layer").await;
    let resp = c
        .post(s.url(&format!(
            "/v2/library/target/blobs/uploads/?mount={d}&from=library/source"
        )))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()["location"],
        format!("/v2/library/target/blobs/{d}").as_str()
    );
    let head = c
        .head(s.url(&format!("/v2/library/target/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 200);

    // Mounting something the source does not have falls back to a new session.
    let missing = sha256(b"absent");
    let resp = c
        .post(s.url(&format!(
            "/v2/library/target/blobs/uploads/?mount={missing}&from=library/source"
        )))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    assert!(resp.headers().contains_key("docker-upload-uuid"));

    let del = c
        .delete(s.url(&format!("/v2/library/target/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(del.status(), 202);
    let head = c
        .head(s.url(&format!("/v2/library/target/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 404);
    // The source repository still has it.
    let head = c
        .head(s.url(&format!("/v2/library/source/blobs/{d}")))
        .send_as_admin()
        .await;
    assert_eq!(head.status(), 200);
    let del = c
        .delete(s.url(&format!("/v2/library/target/blobs/{d}")))
        .send_as_admin()
        .await;
    expect_error(del, 404, "BLOB_UNKNOWN").await;
}
