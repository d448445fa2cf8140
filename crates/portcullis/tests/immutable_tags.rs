//! Immutable tag rules end to end: Harbor's rule API, then skopeo and curl-style clients
//! refused when they move or delete a protected tag, on both backend pairs.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

on_both_backends!(rule_api, protected_tags, skopeo_repush_refused);

fn rule(repo: &str, tag_decoration: &str, tag: &str) -> serde_json::Value {
    serde_json::json!({
        "disabled": false,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{ "kind": "doublestar", "decoration": tag_decoration, "pattern": tag }],
        "scope_selectors": { "repository": [
            { "kind": "doublestar", "decoration": "repoMatches", "pattern": repo }
        ]},
    })
}

async fn add_rule(s: &Server, project: &str, body: serde_json::Value) -> reqwest::Response {
    client()
        .post(s.url(&format!("/api/v2.0/projects/{project}/immutabletagrules")))
        .json(&body)
        .send_as_admin()
        .await
}

async fn rule_api(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("rules", false).await;

    let resp = add_rule(&s, "rules", rule("**", "matches", "v*")).await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    assert!(location.starts_with("/api/v2.0/projects/rules/immutabletagrules/"));

    let list: serde_json::Value = client()
        .get(s.url("/api/v2.0/projects/rules/immutabletagrules"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["action"], "immutable");
    assert_eq!(list[0]["template"], "immutable_template");
    assert_eq!(list[0]["disabled"], false);
    assert_eq!(list[0]["tag_selectors"][0]["pattern"], "v*");
    assert_eq!(
        list[0]["scope_selectors"]["repository"][0]["decoration"],
        "repoMatches"
    );

    // The same selection twice is a conflict; bad rules are 400 with a reason.
    let resp = add_rule(&s, "rules", rule("**", "matches", "v*")).await;
    expect_error(resp, 409, "CONFLICT").await;
    let resp = add_rule(&s, "rules", rule("**", "sometimes", "v*")).await;
    let body = expect_error(resp, 400, "BAD_REQUEST").await;
    assert!(body.to_string().contains("decoration"), "{body}");
    let resp = add_rule(&s, "rules", rule("[oops", "matches", "v*")).await;
    expect_error(resp, 400, "BAD_REQUEST").await;
    let mut wrong_kind = rule("**", "matches", "v*");
    wrong_kind["tag_selectors"][0]["kind"] = "regexp".into();
    expect_error(add_rule(&s, "rules", wrong_kind).await, 400, "BAD_REQUEST").await;

    // Toggle with only `disabled`, as Harbor's UI does; the selectors stay.
    let resp = client()
        .put(s.url(&format!("/api/v2.0/projects/rules/immutabletagrules/{id}")))
        .json(&serde_json::json!({ "id": id, "disabled": true }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    let list: serde_json::Value = client()
        .get(s.url("/api/v2.0/projects/rules/immutabletagrules"))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["disabled"], true);
    assert_eq!(list[0]["tag_selectors"][0]["pattern"], "v*");

    // A developer may list but not change rules; strangers do not see the project.
    create_user(&s, "dev", "Dev-Passw0rd").await;
    add_member(&s, "rules", "dev", 2).await;
    let resp = client()
        .get(s.url("/api/v2.0/projects/rules/immutabletagrules"))
        .header("authorization", basic("dev", "Dev-Passw0rd"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .post(s.url("/api/v2.0/projects/rules/immutabletagrules"))
        .header("authorization", basic("dev", "Dev-Passw0rd"))
        .json(&rule("app", "matches", "**"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "FORBIDDEN").await;

    let del = |id: i64| {
        client()
            .delete(s.url(&format!("/api/v2.0/projects/rules/immutabletagrules/{id}")))
            .send_as_admin()
    };
    assert_eq!(del(id).await.status(), 200);
    expect_error(del(id).await, 404, "NOT_FOUND").await;
}

/// Pushes a manifest body as admin; returns the response.
async fn put_manifest(s: &Server, repo: &str, reference: &str, body: &[u8]) -> reqwest::Response {
    client()
        .put(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.to_vec())
        .send_as_admin()
        .await
}

async fn protected_tags(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("imm", false).await;
    let (d1, m1) = push_image(&s, "imm/team/app", "v1.0", "one").await;
    let resp = add_rule(&s, "imm", rule("team/**", "matches", "{v*,stable}")).await;
    assert_eq!(resp.status(), 201);
    let rule_id: i64 = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Same digest again: allowed.
    assert_eq!(
        put_manifest(&s, "imm/team/app", "v1.0", &m1).await.status(),
        201
    );

    // Different content under the protected tag: refused, and the tag still points at d1.
    let (_, m2) = push_image(&s, "imm/team/app", "latest", "two").await;
    let resp = put_manifest(&s, "imm/team/app", "v1.0", &m2).await;
    let body = expect_error(resp, 403, "DENIED").await;
    assert_eq!(
        body["errors"][0]["message"],
        "Failed to process request due to 'imm/team/app:v1.0' configured as immutable."
    );
    assert_eq!(body["errors"][0]["detail"]["immutable_rule_id"], rule_id);
    let head = client()
        .head(s.url("/v2/imm/team/app/manifests/v1.0"))
        .send_as_admin()
        .await;
    assert_eq!(head.headers()["docker-content-digest"], d1.as_str());

    // A tag the rule does not select moves freely; a new protected tag can be created.
    assert_eq!(
        put_manifest(&s, "imm/team/app", "latest", &m1)
            .await
            .status(),
        201
    );
    assert_eq!(
        put_manifest(&s, "imm/team/app", "stable", &m2)
            .await
            .status(),
        201
    );
    // The artifact API tells which tags are protected when asked, as Harbor does.
    let base = format!("/api/v2.0/projects/imm/repositories/team%252Fapp/artifacts/{d1}");
    let immutable_of = |tags: &serde_json::Value| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = tags
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["immutable"].as_bool().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    for (path, want) in [
        (format!("{base}?with_immutable_status=true"), true),
        (base.clone(), false),
    ] {
        let a = admin_json(&s, &path).await;
        assert_eq!(
            immutable_of(&a["tags"]),
            [("latest".to_string(), false), ("v1.0".to_string(), want)],
            "{path}"
        );
    }
    let tags = admin_json(&s, &format!("{base}/tags?with_immutable_status=true")).await;
    assert_eq!(
        immutable_of(&tags),
        [("latest".to_string(), false), ("v1.0".to_string(), true)]
    );

    // Outside the rule's repositories nothing is protected.
    push_image(&s, "imm/other", "v1.0", "one").await;
    push_image(&s, "imm/other", "v1.0", "two").await;

    // Deleting the tag, or the artifact carrying it, is refused on every path.
    let resp = client()
        .delete(s.url("/v2/imm/team/app/manifests/v1.0"))
        .send_as_admin()
        .await;
    expect_error(resp, 403, "DENIED").await;
    let resp = client()
        .delete(s.url(&format!("/v2/imm/team/app/manifests/{d1}")))
        .send_as_admin()
        .await;
    expect_error(resp, 403, "DENIED").await;
    // Harbor's API says 412 PRECONDITION where /v2/ says 403 DENIED.
    let art = "/api/v2.0/projects/imm/repositories/team%252Fapp/artifacts";
    let resp = client()
        .delete(s.url(&format!("{art}/v1.0/tags/v1.0")))
        .send_as_admin()
        .await;
    expect_error(resp, 412, "PRECONDITION").await;
    let resp = client()
        .delete(s.url(&format!("{art}/{d1}")))
        .send_as_admin()
        .await;
    expect_error(resp, 412, "PRECONDITION").await;

    // Nor can the repository holding it be deleted.
    let resp = client()
        .delete(s.url("/api/v2.0/projects/imm/repositories/team%252Fapp"))
        .send_as_admin()
        .await;
    expect_error(resp, 412, "PRECONDITION").await;

    // Promotion by copy may not move a protected tag of the destination either.
    s.create_project("dest", false).await;
    push_image(&s, "dest/team/app", "v1.0", "three").await;
    let resp = add_rule(&s, "dest", rule("**", "matches", "**")).await;
    assert_eq!(resp.status(), 201);
    let resp = client()
        .post(s.url(
            "/api/v2.0/projects/dest/repositories/team%252Fapp/artifacts?from=imm/team/app:v1.0",
        ))
        .send_as_admin()
        .await;
    expect_error(resp, 403, "DENIED").await;

    // With the rule disabled the tag is ordinary again.
    let resp = client()
        .put(s.url(&format!(
            "/api/v2.0/projects/imm/immutabletagrules/{rule_id}"
        )))
        .json(&serde_json::json!({ "disabled": true }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        put_manifest(&s, "imm/team/app", "v1.0", &m2).await.status(),
        201
    );
    let resp = client()
        .delete(s.url("/v2/imm/team/app/manifests/v1.0"))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    let resp = client()
        .delete(s.url("/api/v2.0/projects/imm/repositories/team%252Fapp"))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 200);
}

fn write_blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let d = sha256(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.trim_start_matches("sha256:")), data).unwrap();
    (d, data.len())
}

/// An OCI layout holding one image tagged `tag` whose single layer holds `text`.
fn write_layout(layout: &Path, tag: &str, text: &str) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "hello.txt", text.as_bytes())
        .unwrap();
    let raw = tar.into_inner().unwrap();
    let diff_id = sha256(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let (ld, ls) = write_blob(layout, &gz.finish().unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let (cd, cs) = write_blob(layout, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls }],
    });
    let (md, ms) = write_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": { "org.opencontainers.image.ref.name": tag },
    }]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

fn skopeo_copy(layout: &Path, tag: &str, dest: &str) -> std::process::Output {
    Command::new(tool("skopeo"))
        .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
        .arg(format!("admin:{ADMIN_PASSWORD}"))
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(dest)
        .output()
        .expect("run skopeo")
}

async fn skopeo_repush_refused(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("rel", false).await;
    let resp = add_rule(&s, "rel", rule("**", "matches", "1.*")).await;
    assert_eq!(resp.status(), 201);
    let dest = format!("docker://{}/rel/app:1.0", s.addr);
    let first = tempfile::tempdir().unwrap();
    write_layout(first.path(), "1.0", "first build");
    let out = skopeo_copy(first.path(), "1.0", &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same image again is fine: nothing changes.
    let out = skopeo_copy(first.path(), "1.0", &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let second = tempfile::tempdir().unwrap();
    write_layout(second.path(), "1.0", "second build");
    let out = skopeo_copy(second.path(), "1.0", &dest);
    assert!(
        !out.status.success(),
        "re-push of an immutable tag succeeded"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'rel/app:1.0' configured as immutable"),
        "skopeo said: {stderr}"
    );
}
