//! The authorization matrix against the live server: every kind of principal × endpoint
//! group × public and private project → allow, deny, not found or log in. Also checks
//! that no private name reaches a caller who cannot see it. Runs on both backends.

#[macro_use]
mod common;

use common::*;
use reqwest::Method;

on_both_backends!(matrix);

const PW: &str = "Matrix-Pass-1";
/// A distinctive private name, so that any leak is easy to find in a body.
const HIDDEN: &str = "hidden-q7z";
const OPEN: &str = "open-q7z";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Allowed.
    A,
    /// Forbidden (403): the caller may see the project but not do this.
    D,
    /// Not found (404): the caller may not know the project exists.
    N,
    /// Unauthorized (401): log in first (or the credentials are refused).
    U,
}
use Outcome::*;

/// Endpoint groups, in the order of the outcome arrays below.
const GROUPS: [&str; 7] = [
    "pull manifest",
    "push (start upload)",
    "delete manifest",
    "get project",
    "list members",
    "project logs",
    "update project",
];

/// principal, outcomes on the public project, outcomes on the private project.
const MATRIX: &[(&str, [Outcome; 7], [Outcome; 7])] = &[
    ("anonymous", [A, U, U, A, U, U, U], [U, U, U, N, N, N, N]),
    ("projectAdmin", [A, A, A, A, A, A, A], [A, A, A, A, A, A, A]),
    ("maintainer", [A, A, A, A, A, A, D], [A, A, A, A, A, A, D]),
    ("developer", [A, A, D, A, A, A, D], [A, A, D, A, A, A, D]),
    ("guest", [A, D, D, A, A, A, D], [A, D, D, A, A, A, D]),
    ("limitedGuest", [A, D, D, A, D, D, D], [A, D, D, A, D, D, D]),
    ("non-member", [A, D, D, A, D, D, D], [N, N, N, N, N, N, N]),
    // Robots use the Harbor API within their grants ("robot without permission" holds
    // only `log:list`, which is also what makes the private project visible to it).
    (
        "robot with permission",
        [A, A, A, A, D, D, D],
        [A, A, A, A, D, D, D],
    ),
    (
        "robot without permission",
        [A, D, D, A, D, A, D],
        [D, D, D, A, D, A, D],
    ),
    (
        "expired robot",
        [U, U, U, U, U, U, U],
        [U, U, U, U, U, U, U],
    ),
    (
        "disabled robot",
        [U, U, U, U, U, U, U],
        [U, U, U, U, U, U, U],
    ),
    ("system admin", [A, A, A, A, A, A, A], [A, A, A, A, A, A, A]),
];

async fn outcome(resp: reqwest::Response) -> (Outcome, String) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let o = match status {
        200..=299 => A,
        // The manifest to delete does not exist: the request got past authorization.
        404 if body.contains("MANIFEST_UNKNOWN") => A,
        403 => D,
        404 => N,
        401 => U,
        other => panic!("unexpected status {other}: {body}"),
    };
    (o, body)
}

async fn call(s: &Server, group: usize, project: &str, auth: Option<&str>) -> (Outcome, String) {
    let (method, path, body) = match group {
        0 => (Method::GET, format!("/v2/{project}/app/manifests/v1"), None),
        1 => (
            Method::POST,
            format!("/v2/{project}/app/blobs/uploads/"),
            None,
        ),
        2 => (
            Method::DELETE,
            format!("/v2/{project}/app/manifests/nope"),
            None,
        ),
        3 => (Method::GET, format!("/api/v2.0/projects/{project}"), None),
        4 => (
            Method::GET,
            format!("/api/v2.0/projects/{project}/members"),
            None,
        ),
        5 => (
            Method::GET,
            format!("/api/v2.0/projects/{project}/logs"),
            None,
        ),
        _ => (
            Method::PUT,
            format!("/api/v2.0/projects/{project}"),
            Some(serde_json::json!({ "metadata": { "auto_scan": "false" } })),
        ),
    };
    outcome(api(s, method, &path, auth, body).await).await
}

/// Basic credentials of each principal, in the order of `MATRIX`.
async fn principals(s: &Server) -> Vec<Option<String>> {
    for (name, role) in [
        ("padmin", 1),
        ("dev", 2),
        ("guest", 3),
        ("maint", 4),
        ("lguest", 5),
    ] {
        create_user(s, name, PW).await;
        add_member(s, OPEN, name, role).await;
        add_member(s, HIDDEN, name, role).await;
    }
    create_user(s, "outsider", PW).await;
    let sys = create_user(s, "sysadm", PW).await;
    let resp = api(
        s,
        Method::PUT,
        &format!("/api/v2.0/users/{sys}/sysadmin"),
        Some(&admin_basic()),
        Some(serde_json::json!({ "sysadmin_flag": true })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let users = ["padmin", "maint", "dev", "guest", "lguest", "outsider"];
    let mut out: Vec<Option<String>> = vec![None];
    out.extend(users.iter().map(|u| Some(basic(u, PW))));
    // Robots are per project: `robot_for` picks the one of the project under test.
    out.extend([None, None, None, None]);
    out.push(Some(basic("sysadm", PW)));
    out
}

/// The robots of one project: with permission, without, expired, disabled.
async fn robots(s: &Server, project: &str) -> [String; 4] {
    let all = [
        ("repository", "pull"),
        ("repository", "push"),
        ("artifact", "delete"),
    ];
    let (_, n1, s1) = create_robot(s, project, "ci", &all, false).await;
    let (_, n2, s2) = create_robot(s, project, "logs", &[("log", "list")], false).await;
    let (id3, n3, s3) = create_robot(s, project, "old", &all, false).await;
    let (_, n4, s4) = create_robot(s, project, "off", &all, true).await;
    // Expiry cannot be set in the past through the API: age the row directly.
    let meta = portcullis_meta::MetaStore::connect(&s.database_url())
        .await
        .unwrap();
    let r = meta.robots().get_robot(id3).await.unwrap().unwrap();
    meta.robots()
        .update_robot(
            id3,
            portcullis_meta::RobotUpdate {
                description: r.description,
                disabled: false,
                duration: 1,
                expires_at: Some(r.creation_time - std::time::Duration::from_secs(86_400)),
                permissions: r.permissions,
            },
        )
        .await
        .unwrap();
    meta.close().await;
    [
        basic(&n1, &s1),
        basic(&n2, &s2),
        basic(&n3, &s3),
        basic(&n4, &s4),
    ]
}

async fn matrix(b: Backends) {
    let s = Server::start(b).await;
    s.create_project(OPEN, true).await;
    s.create_project(HIDDEN, false).await;
    push_image(&s, &format!("{OPEN}/app"), "v1", "open").await;
    push_image(&s, &format!("{HIDDEN}/app"), "v1", "hidden").await;
    let creds = principals(&s).await;
    let robot_creds = [robots(&s, OPEN).await, robots(&s, HIDDEN).await];
    let mut failures = Vec::new();
    for (i, (who, on_public, on_private)) in MATRIX.iter().enumerate() {
        for (pi, (project, expected)) in [(OPEN, on_public), (HIDDEN, on_private)]
            .into_iter()
            .enumerate()
        {
            let auth = match i {
                7..=10 => Some(robot_creds[pi][i - 7].clone()),
                _ => creds[i].clone(),
            };
            for (g, want) in expected.iter().enumerate() {
                let (got, body) = call(&s, g, project, auth.as_deref()).await;
                if got != *want {
                    failures.push(format!(
                        "{who} × {} × {project}: expected {want:?}, got {got:?} ({body})",
                        GROUPS[g]
                    ));
                }
                if project == HIDDEN && expected[3] != A && *want != A {
                    assert!(
                        !body.contains("v1") || !body.contains("digest"),
                        "{who} learnt about private content: {body}"
                    );
                }
            }
            // The token service grants exactly what the caller may do.
            let mut req = client().get(s.url(&format!(
                "/service/token?service=harbor-registry&scope=repository:{project}/app:pull,push,delete"
            )));
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.unwrap();
            let wanted: Vec<&str> = ["pull", "push", "delete"]
                .iter()
                .zip(&expected[..3])
                .filter(|(_, o)| **o == A)
                .map(|(a, _)| *a)
                .collect();
            if auth.is_some() && expected.iter().all(|o| *o == U) {
                assert_eq!(resp.status(), 401, "{who}: token for refused credentials");
                continue;
            }
            assert_eq!(resp.status(), 200, "{who}: token");
            let tok: serde_json::Value = resp.json().await.unwrap();
            let granted = granted_actions(tok["token"].as_str().unwrap());
            if granted != wanted {
                failures.push(format!(
                    "{who} × token × {project}: expected {wanted:?}, granted {granted:?}"
                ));
            }
        }
        leak_checks(&s, who, creds[i].as_deref(), i).await;
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

/// The actions of the single access entry of a registry token (none when it has none).
fn granted_actions(token: &str) -> Vec<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["access"][0]["actions"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Callers who cannot see the private project find its name nowhere: not in the catalog,
/// the project list or the audit log, and its errors read like those of a project that
/// does not exist.
async fn leak_checks(s: &Server, who: &str, auth: Option<&str>, index: usize) {
    if !matches!(index, 0 | 6) {
        return;
    }
    for path in [
        "/v2/_catalog",
        "/api/v2.0/projects",
        "/api/v2.0/projects?q=name%3D~q7z",
        "/api/v2.0/audit-logs",
        "/api/v2.0/search?q=q7z",
        "/api/v2.0/repositories",
        "/api/v2.0/repositories?q=name%3D~q7z",
        "/api/v2.0/labels?scope=g",
        "/api/v2.0/quotas",
    ] {
        let resp = api(s, Method::GET, path, auth, None).await;
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains(HIDDEN),
            "{who} sees {HIDDEN} in {path}: {body}"
        );
    }
    // The Harbor API answers for the private project exactly as for a missing one.
    for suffix in [
        "",
        "/summary",
        "/repositories",
        "/repositories/app",
        "/repositories/app/artifacts",
        "/repositories/app/artifacts/v1",
        "/repositories/app/artifacts/v1/tags",
        "/members",
        "/webhook/policies",
        "/immutabletagrules",
        "/scanner",
    ] {
        same_as_missing(
            s,
            who,
            auth,
            Method::GET,
            &format!("/api/v2.0/projects/{{p}}{suffix}"),
        )
        .await;
    }

    // The same through a bearer token asked for both names, as clients do.
    let mut req = client().get(s.url(&format!(
        "/service/token?service=harbor-registry&scope=repository:{HIDDEN}/app:pull,push\
         &scope=repository:nothing-q7z/app:pull,push"
    )));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let token = req.send().await.unwrap();
    let bearer = if token.status() == 200 {
        let t: serde_json::Value = token.json().await.unwrap();
        Some(format!("Bearer {}", t["token"].as_str().unwrap()))
    } else {
        None
    };
    for credential in [auth.map(str::to_string), bearer] {
        let auth = credential.as_deref();
        for (method, suffix) in [
            (Method::GET, "app/manifests/v1"),
            (Method::GET, "app/tags/list"),
            (Method::POST, "app/blobs/uploads/"),
        ] {
            same_as_missing(s, who, auth, method, &format!("/v2/{{p}}/{suffix}")).await;
        }
    }
}

/// Asks `method path` of the private project and of a missing one as `auth`; the two
/// answers must match once each name is blanked.
async fn same_as_missing(s: &Server, who: &str, auth: Option<&str>, method: Method, path: &str) {
    let hidden = api(s, method.clone(), &path.replace("{p}", HIDDEN), auth, None).await;
    let missing = api(s, method, &path.replace("{p}", "nothing-q7z"), auth, None).await;
    let (hs, ms) = (hidden.status(), missing.status());
    let hb = hidden.text().await.unwrap().replace(HIDDEN, "X");
    let mb = missing.text().await.unwrap().replace("nothing-q7z", "X");
    assert_eq!(
        (hs, hb),
        (ms, mb),
        "{who} ({:?}): {path} tells private from missing",
        auth.map(|a| a.split(' ').next().unwrap_or(""))
    );
}
