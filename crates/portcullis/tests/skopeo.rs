//! End to end with a real client: skopeo pushes images the test builds itself (OCI
//! layouts written here, no remote pulls), pulls them back, and the digests must not
//! change. Runs on SQLite + filesystem and on PostgreSQL + S3.

#[macro_use]
mod common;

use std::path::Path;

use common::layout::*;
use common::*;

on_both_backends!(
    single_image_round_trip,
    multi_platform_index,
    artifact_with_subject,
    anonymous_pull,
    robot_limited_to_one_project
);

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "skopeo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn creds() -> String {
    format!("admin:{ADMIN_PASSWORD}")
}

/// The digest skopeo sees for a reference.
fn remote_digest(reference: &str, with_creds: bool) -> String {
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    let c = creds();
    if with_creds {
        args.extend(["--creds", &c]);
    }
    args.push(reference);
    sha256(ok(skopeo(&args)).as_bytes())
}

fn pulled_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn single_image_round_trip(b: Backends) {
    let s = Server::start(b).await;
    let src = tempfile::tempdir().unwrap();
    let desc = write_image(src.path(), "amd64", "hello from portcullis");
    let digest = desc["digest"].as_str().unwrap().to_string();
    write_index_json(src.path(), desc, "v1");
    let dest = format!("docker://{}/library/hello:v1", s.addr);
    ok(skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(),
        &format!("oci:{}:v1", src.path().display()),
        &dest,
    ]));
    assert_eq!(remote_digest(&dest, true), digest);

    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", out.path().join("pulled").display());
    ok(skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds(),
        &dest,
        &target,
    ]));
    assert_eq!(pulled_digest(&out.path().join("pulled")), digest);
    // Every blob came back byte for byte.
    for entry in std::fs::read_dir(src.path().join("blobs/sha256")).unwrap() {
        let e = entry.unwrap();
        let back =
            std::fs::read(out.path().join("pulled/blobs/sha256").join(e.file_name())).unwrap();
        assert_eq!(back, std::fs::read(e.path()).unwrap());
    }
    // A second push of the same image is a no-op that keeps the digest.
    ok(skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(),
        &format!("oci:{}:v1", src.path().display()),
        &dest,
    ]));
    assert_eq!(remote_digest(&dest, true), digest);
    // Wrong credentials are refused.
    let bad = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "admin:wrong",
        &dest,
    ]);
    assert!(!bad.status.success());
}

async fn multi_platform_index(b: Backends) {
    let s = Server::start(b).await;
    let src = tempfile::tempdir().unwrap();
    let amd = write_image(src.path(), "amd64", "amd64 build");
    let arm = write_image(src.path(), "arm64", "arm64 build");
    let index =
        serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd, arm] });
    let (id, is) = write_blob(src.path(), &serde_json::to_vec(&index).unwrap());
    write_index_json(
        src.path(),
        serde_json::json!({ "mediaType": OCI_INDEX, "digest": id, "size": is }),
        "multi",
    );
    let dest = format!("docker://{}/library/multi:1.0", s.addr);
    ok(skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(),
        &format!("oci:{}:multi", src.path().display()),
        &dest,
    ]));
    assert_eq!(remote_digest(&dest, true), id);
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:multi", out.path().join("p").display());
    ok(skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        &creds(),
        &dest,
        &target,
    ]));
    assert_eq!(pulled_digest(&out.path().join("p")), id);
    // A single platform by digest.
    let amd_ref = format!(
        "docker://{}/library/multi@{}",
        s.addr,
        amd["digest"].as_str().unwrap()
    );
    assert_eq!(
        remote_digest(&amd_ref, true),
        amd["digest"].as_str().unwrap()
    );
}

async fn artifact_with_subject(b: Backends) {
    let s = Server::start(b).await;
    let src = tempfile::tempdir().unwrap();
    let desc = write_image(src.path(), "amd64", "signed image");
    let image_digest = desc["digest"].as_str().unwrap().to_string();
    let image_size = desc["size"].as_u64().unwrap();
    write_index_json(src.path(), desc, "v1");
    let dest = format!("docker://{}/library/app:v1", s.addr);
    ok(skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(),
        &format!("oci:{}:v1", src.path().display()),
        &dest,
    ]));

    // An SBOM artifact (empty config, artifactType, subject) in its own OCI layout,
    // pushed by skopeo like any other manifest.
    let art = tempfile::tempdir().unwrap();
    let (ed, es) = write_blob(art.path(), b"{}");
    let (sd, ss) = write_blob(art.path(), br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#);
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": ed, "size": es },
        "layers": [{ "mediaType": "application/spdx+json", "digest": sd, "size": ss }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": image_digest, "size": image_size },
    });
    let (ad, asz) = write_blob(art.path(), &serde_json::to_vec(&manifest).unwrap());
    write_index_json(
        art.path(),
        serde_json::json!({ "mediaType": OCI_MANIFEST, "digest": ad, "size": asz }),
        "sbom",
    );
    let art_dest = format!("docker://{}/library/app:sbom", s.addr);
    ok(skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(),
        &format!("oci:{}:sbom", art.path().display()),
        &art_dest,
    ]));
    assert_eq!(remote_digest(&art_dest, true), ad);

    let refs: serde_json::Value = client()
        .get(s.url(&format!(
            "/v2/library/app/referrers/{image_digest}?artifactType=application/spdx%2Bjson"
        )))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let list = refs["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], ad.as_str());
    assert_eq!(list[0]["artifactType"], "application/spdx+json");
}

async fn anonymous_pull(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("private", false).await;
    let src = tempfile::tempdir().unwrap();
    let desc = write_image(src.path(), "amd64", "public and private");
    let digest = desc["digest"].as_str().unwrap().to_string();
    write_index_json(src.path(), desc, "v1");
    for project in ["library", "private"] {
        let dest = format!("docker://{}/{project}/img:v1", s.addr);
        ok(skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds(),
            &format!("oci:{}:v1", src.path().display()),
            &dest,
        ]));
    }
    // Anonymous pull of a public project works.
    let out = tempfile::tempdir().unwrap();
    let public = format!("docker://{}/library/img:v1", s.addr);
    ok(skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-no-creds",
        &public,
        &format!("oci:{}:v1", out.path().join("a").display()),
    ]));
    assert_eq!(pulled_digest(&out.path().join("a")), digest);
    // Anonymous pull of a private project is refused.
    let private = format!("docker://{}/private/img:v1", s.addr);
    let refused = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-no-creds",
        &private,
        &format!("oci:{}:v1", out.path().join("b").display()),
    ]);
    assert!(
        !refused.status.success(),
        "anonymous pull of a private project must fail"
    );
    let err = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("authentication required"),
        "{err}"
    );
}

/// A CI robot of one project pushes and pulls there, and is refused everywhere else.
async fn robot_limited_to_one_project(b: Backends) {
    let s = Server::start(b).await;
    s.create_project("ci-team", false).await;
    s.create_project("elsewhere", false).await;
    let (_, name, secret) = create_robot(
        &s,
        "ci-team",
        "pipeline",
        &[("repository", "pull"), ("repository", "push")],
        false,
    )
    .await;
    assert_eq!(name, "robot$ci-team+pipeline");
    let robot = format!("{name}:{secret}");
    let src = tempfile::tempdir().unwrap();
    let desc = write_image(src.path(), "amd64", "built by ci");
    let digest = desc["digest"].as_str().unwrap().to_string();
    write_index_json(src.path(), desc, "v1");
    let image = format!("oci:{}:v1", src.path().display());
    let dest = format!("docker://{}/ci-team/app:v1", s.addr);
    ok(skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &robot,
        &image,
        &dest,
    ]));
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", out.path().join("pulled").display());
    ok(skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &robot,
        &dest,
        &target,
    ]));
    assert_eq!(pulled_digest(&out.path().join("pulled")), digest);
    for elsewhere in ["elsewhere/app:v1", "library/app:v1"] {
        let refused = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &robot,
            &image,
            &format!("docker://{}/{elsewhere}", s.addr),
        ]);
        assert!(!refused.status.success(), "robot pushed to {elsewhere}");
    }
    // The Harbor API takes robot credentials within the robot's grants, but never on
    // the user endpoints.
    let resp = client()
        .get(s.url("/api/v2.0/projects"))
        .header("authorization", basic(&name, &secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let names: Vec<String> = resp
        .json::<Vec<serde_json::Value>>()
        .await
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"ci-team".to_string()), "{names:?}");
    assert!(!names.contains(&"elsewhere".to_string()), "{names:?}");
    for path in [
        "/api/v2.0/users/current",
        "/api/v2.0/users",
        "/api/v2.0/robots",
    ] {
        let resp = client()
            .get(s.url(path))
            .header("authorization", basic(&name, &secret))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
}
