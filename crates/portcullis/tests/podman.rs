//! podman as users run it: push and pull with plain credentials (`--creds`, so podman
//! follows the registry's challenges and fetches its own tokens), and `podman search`,
//! which lists what the user may see. Storage is podman's `vfs` driver under the test's
//! directory, so no daemon and no privileges beyond the test's own are needed.

mod common;

use std::path::Path;
use std::process::Command;

use common::layout::*;
use common::*;

fn podman(dir: &Path, args: &[&str]) -> std::process::Output {
    let root = dir.join("store");
    let run = dir.join("run");
    Command::new(tool("podman"))
        .args([
            "--root",
            root.to_str().unwrap(),
            "--runroot",
            run.to_str().unwrap(),
        ])
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
        ])
        .args(args)
        .output()
        .expect("podman runs")
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "podman failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn push_pull_and_search_with_plain_credentials() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("team", false).await;
    s.create_project("other", false).await;
    s.create_project("open", true).await;
    create_user(&s, "dev", "Dev-Password-1").await;
    add_member(&s, "team", "dev", 2).await;
    let host = s.base.trim_start_matches("http://").to_string();
    let work = tempfile::tempdir().unwrap();

    // An image written here, pushed once by skopeo as admin so podman has one to pull.
    let layout = work.path().join("layout");
    let desc = write_image(&layout, "amd64", "podman");
    write_index_json(&layout, desc, "v1");
    let admin = format!("admin:{ADMIN_PASSWORD}");
    for repo in ["team/base", "other/secret", "open/shared"] {
        let out = skopeo(&[
            "copy",
            "--insecure-policy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &admin,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/{repo}:v1"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A developer of team pulls, retags and pushes with plain credentials.
    let dev = "dev:Dev-Password-1";
    let dir = work.path();
    ok(podman(
        dir,
        &[
            "pull",
            "--tls-verify=false",
            "--creds",
            dev,
            &format!("{host}/team/base:v1"),
        ],
    ));
    ok(podman(
        dir,
        &[
            "tag",
            &format!("{host}/team/base:v1"),
            &format!("{host}/team/app:v2"),
        ],
    ));
    ok(podman(
        dir,
        &[
            "push",
            "--tls-verify=false",
            "--creds",
            dev,
            &format!("{host}/team/app:v2"),
        ],
    ));
    let got = admin_json(&s, "/api/v2.0/projects/team/repositories/app/artifacts").await;
    assert_eq!(got[0]["tags"][0]["name"], "v2", "{got}");
    // Pushing where the developer may not is refused, not silently accepted.
    ok(podman(
        dir,
        &[
            "tag",
            &format!("{host}/team/base:v1"),
            &format!("{host}/other/app:v1"),
        ],
    ));
    let out = podman(
        dir,
        &[
            "push",
            "--tls-verify=false",
            "--creds",
            dev,
            &format!("{host}/other/app:v1"),
        ],
    );
    assert!(!out.status.success());

    // search lists what dev may see: team's and the public project's, not other's.
    let auth = dir.join("auth.json");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dev);
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{b64}"}}}}}}"#),
    )
    .unwrap();
    let list = ok(podman(
        dir,
        &[
            "search",
            "--tls-verify=false",
            "--authfile",
            auth.to_str().unwrap(),
            &format!("{host}/"),
        ],
    ));
    for seen in ["team/base", "team/app", "open/shared"] {
        assert!(
            list.contains(&format!("{host}/{seen}")),
            "{seen} missing:\n{list}"
        );
    }
    assert!(!list.contains("other/"), "other is private:\n{list}");
}
