//! The calls the Terraform provider for Harbor (goharbor/terraform-provider-harbor)
//! makes, replayed for every resource and data source Portcullis implements: the same
//! methods, paths, bodies (byte for byte as the provider's Go encoder writes them) and
//! the exact status each call demands. Ids come from `Location` as the provider takes
//! them (`/api` and `/v2.0` cut out), and reads are checked the way the provider reads
//! them back. The provider itself cannot run here (it needs the Terraform CLI and its
//! plugin protocol); these are its calls, written from its source.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

struct Provider<'a> {
    s: &'a Server,
    auth: String,
}

impl Provider<'_> {
    /// One call of the provider's `SendRequest`: `Content-Type: application/json` on
    /// every request, the body as its encoder writes it (trailing newline), and exactly
    /// `want` as the status (anything else fails the provider).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        want: u16,
    ) -> (reqwest::header::HeaderMap, String) {
        let mut req = client()
            .request(method.clone(), self.s.url(&format!("/api/v2.0{path}")))
            .header("authorization", &self.auth)
            .header("content-type", "application/json");
        if let Some(b) = body {
            req = req.body(format!("{b}\n"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        assert_eq!(status, want, "{method} {path}: {text}");
        (headers, text)
    }

    async fn json(&self, path: &str) -> Value {
        let (_, text) = self.call(Method::GET, path, None, 200).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text:?}"))
    }

    /// A create: 201 and the state id from `Location`, as the provider cuts it.
    async fn create(&self, path: &str, body: &str) -> (String, String) {
        let (headers, text) = self.call(Method::POST, path, Some(body), 201).await;
        let loc = headers
            .get("location")
            .unwrap_or_else(|| panic!("POST {path}: no Location (the provider panics)"))
            .to_str()
            .unwrap();
        assert!(loc.starts_with("/api/v2.0/"), "relative Location: {loc}");
        (loc.replace("/api", "").replace("/v2.0", ""), text)
    }

    /// The provider's paging loop: `page=1,2,…` until a page is `[]`.
    async fn all_pages(&self, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        for page in 1..=50 {
            let v = self.json(&format!("{path}{sep}page={page}")).await;
            let items = v.as_array().unwrap_or_else(|| panic!("{path}: {v}"));
            if items.is_empty() {
                return out;
            }
            out.extend(items.iter().cloned());
        }
        panic!("{path}: paging never ended (the provider loops forever)");
    }
}

/// Go's `strconv.ParseBool`, which the provider applies to metadata strings.
fn parse_bool(v: &Value) -> bool {
    match v.as_str().unwrap_or("") {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
        other => panic!("metadata value {other:?} is not a Go bool: the provider errors"),
    }
}

const PROJECT: &str = r#"{"project_name":"demo","cve_allowlist":{},"storage_limit":-1,"metadata":{"enable_content_trust":"false","enable_content_trust_cosign":"false","auto_scan":"true","severity":"low","reuse_sys_cve_allowlist":"true","public":"false","prevent_vul":"false","auto_sbom_generation":"false","proxy_speed_kb":"-1","proxy_cache_local_on_not_found":"false"}}"#;

const PROJECT_HIGH: &str = r#"{"project_name":"demo","cve_allowlist":{"items":[{"cve_id":"CVE-2020-1"},{"cve_id":"CVE-2021-2"}]},"storage_limit":10737418240,"metadata":{"enable_content_trust":"false","enable_content_trust_cosign":"false","auto_scan":"true","severity":"high","reuse_sys_cve_allowlist":"false","public":"false","prevent_vul":"true","auto_sbom_generation":"false","proxy_speed_kb":"-1","proxy_cache_local_on_not_found":"false"}}"#;

#[tokio::test]
async fn project_member_label_and_rule_resources() {
    let s = Server::start(Backends::Embedded).await;
    let tf = Provider {
        s: &s,
        auth: admin_basic(),
    };

    // harbor_project: create, read, update with an allowlist and a deployment policy.
    let (project, _) = tf.create("/projects", PROJECT).await;
    let p = tf.json(&project).await;
    assert_eq!(p["name"], "demo");
    assert!(p["project_id"].is_i64());
    assert!(
        p.get("registry_id").is_none_or(Value::is_null),
        "a registry_id makes the provider take the project for a proxy cache: {p}"
    );
    let md = &p["metadata"];
    assert!(!parse_bool(&md["public"]));
    assert!(parse_bool(&md["auto_scan"]));
    for key in [
        "enable_content_trust",
        "enable_content_trust_cosign",
        "auto_sbom_generation",
    ] {
        parse_bool(&md[key]);
    }
    tf.call(Method::PUT, &project, Some(PROJECT_HIGH), 200)
        .await;
    let p = tf.json(&project).await;
    assert_eq!(p["metadata"]["severity"], "high");
    assert!(parse_bool(&p["metadata"]["prevent_vul"]));
    let cves: Vec<&str> = p["cve_allowlist"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["cve_id"].as_str().unwrap())
        .collect();
    assert_eq!(cves, ["CVE-2020-1", "CVE-2021-2"]);
    // A proxy-cache project is not built: refused, never created as a plain one.
    let proxy = PROJECT.replace(
        r#""project_name":"demo","#,
        r#""project_name":"mirror","registry_id":3,"#,
    );
    tf.call(Method::POST, "/projects", Some(&proxy), 400).await;

    // Data sources: by name, and every page until an empty one.
    let found = tf.json("/projects?name=demo").await;
    assert_eq!(found[0]["name"], "demo");
    let all = tf.all_pages("/projects").await;
    assert!(all.iter().any(|p| p["name"] == "demo"));

    // harbor_project_member_user.
    create_user(&s, "bob", "Bob-Password-1").await;
    let (member, _) = tf
        .create(
            &format!("{project}/members"),
            r#"{"role_id":2,"member_group":{},"member_user":{"username":"bob"}}"#,
        )
        .await;
    let m = tf.json(&member).await;
    assert_eq!(
        (m["role_id"].as_i64(), m["entity_name"].as_str()),
        (Some(2), Some("bob"))
    );
    assert_eq!(m["entity_type"], "u");
    assert!(m["project_id"].is_i64());
    tf.call(
        Method::PUT,
        &member,
        Some(r#"{"role_id":4,"member_group":{},"member_user":{"username":"bob"}}"#),
        200,
    )
    .await;
    assert_eq!(tf.json(&member).await["role_id"], 4);
    let members = tf.all_pages(&format!("{project}/members")).await;
    assert!(members.iter().any(|m| m["entity_name"] == "bob"));

    // harbor_label, global and of the project, with the provider's default colour.
    let (label, _) = tf
        .create(
            "/labels",
            r#"{"description":"","color":"false","deleted":false,"scope":"g","project_id":0,"id":0,"name":"l1"}"#,
        )
        .await;
    let l = tf.json(&label).await;
    assert_eq!(
        (l["name"].as_str(), l["color"].as_str(), l["scope"].as_str()),
        (Some("l1"), Some("false"), Some("g"))
    );
    let pid = p["project_id"].as_i64().unwrap();
    let (plabel, _) = tf
        .create(
            "/labels",
            &format!(r##"{{"description":"d","color":"#FF0000","deleted":false,"scope":"p","project_id":{pid},"id":0,"name":"l1"}}"##),
        )
        .await;
    tf.call(
        Method::PUT,
        &plabel,
        Some(&format!(r##"{{"description":"e","color":"#00FF00","deleted":false,"scope":"p","project_id":{pid},"id":0,"name":"l2"}}"##)),
        200,
    )
    .await;
    assert_eq!(tf.json(&plabel).await["name"], "l2");

    // harbor_immutable_tag_rule: created, then disabled by a PUT carrying its id, read
    // back from pages of 15.
    let (rule, _) = tf
        .create(
            &format!("{project}/immutabletagrules"),
            r#"{"disabled":false,"scope_selectors":{"repository":[{"kind":"doublestar","decoration":"repoMatches","pattern":"**"}]},"tag_selectors":[{"kind":"doublestar","decoration":"matches","pattern":"v*"}],"action":"immutable","template":"immutable_template"}"#,
        )
        .await;
    let rule_id: i64 = rule.rsplit('/').next().unwrap().parse().unwrap();
    tf.call(
        Method::PUT,
        &rule,
        Some(&format!(r#"{{"id":{rule_id},"disabled":true,"scope_selectors":{{"repository":[{{"kind":"doublestar","decoration":"repoMatches","pattern":"**"}}]}},"tag_selectors":[{{"kind":"doublestar","decoration":"matches","pattern":"v*"}}],"action":"immutable","template":"immutable_template"}}"#)),
        200,
    )
    .await;
    let rules = tf
        .json(&format!("{project}/immutabletagrules?page=1&page_size=15"))
        .await;
    let r = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rule_id)
        .expect("the rule is listed");
    assert_eq!(r["disabled"], true);
    assert_eq!(r["tag_selectors"][0]["decoration"], "matches");

    // Deletes, each answering 200; then the project, after the provider's emptiness check.
    tf.call(Method::DELETE, &rule, None, 200).await;
    tf.call(Method::DELETE, &plabel, None, 200).await;
    tf.call(Method::DELETE, &label, None, 200).await;
    tf.call(Method::DELETE, &member, None, 200).await;
    let repos = tf
        .json("/projects/demo/repositories?page=1&page_size=100")
        .await;
    assert_eq!(repos, serde_json::json!([]));
    tf.call(Method::DELETE, &project, None, 200).await;
    tf.call(Method::GET, &project, None, 404).await;
}

#[tokio::test]
async fn robot_user_and_webhook_resources() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    let tf = Provider {
        s: &s,
        auth: admin_basic(),
    };

    // harbor_robot_account, system level: project-wide grants with a denial, and the
    // system permissions /permissions lists.
    let (robot, created) = tf
        .create(
            "/robots",
            r#"{"name":"ci","level":"system","duration":-1,"permissions":[{"access":[{"action":"create","resource":"project"},{"action":"list","resource":"project"},{"action":"list","resource":"audit-log"}],"kind":"system","namespace":"/"},{"access":[{"action":"pull","resource":"repository"},{"action":"push","resource":"repository","effect":"deny"}],"kind":"project","namespace":"*"}]}"#,
        )
        .await;
    let created: Value = serde_json::from_str(&created).unwrap();
    assert!(created["id"].is_i64() && created["secret"].is_string());
    let r = tf.json(&robot).await;
    assert_eq!(r["name"], "robot$ci");
    assert_eq!(r["level"], "system");
    assert_eq!(r["duration"], -1);
    // What the robot may now do: create and list projects, read the audit log; not push.
    let robot_auth = basic("robot$ci", created["secret"].as_str().unwrap());
    let as_robot = Provider {
        s: &s,
        auth: robot_auth.clone(),
    };
    as_robot
        .create("/projects", &PROJECT.replace("\"demo\"", "\"by-robot\""))
        .await;
    let seen = as_robot.all_pages("/projects").await;
    assert!(
        seen.iter().any(|p| p["name"] == "demo"),
        "project:list shows private projects"
    );
    as_robot.json("/audit-logs").await;
    let resp = client()
        .post(s.url("/v2/demo/app/blobs/uploads/"))
        .header("authorization", &robot_auth)
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "DENIED").await;
    // Update by its full name, a secret of our own, and the listing by level.
    tf.call(
        Method::PUT,
        &robot,
        Some(r#"{"name":"robot$ci","level":"system","description":"d","duration":30,"permissions":[{"access":[{"action":"list","resource":"project"}],"kind":"system","namespace":"/"}]}"#),
        200,
    )
    .await;
    assert_eq!(tf.json(&robot).await["description"], "d");
    tf.call(
        Method::PATCH,
        &robot,
        Some(r#"{"secret":"Robot-Secret-12345"}"#),
        200,
    )
    .await;
    let listed = tf.all_pages("/robots?q=Level=system").await;
    assert!(listed.iter().all(|r| r["level"] == "system") && !listed.is_empty());

    // A project robot: full name robot$<project>+<name>, its project first in permissions.
    let (probot, _) = tf
        .create(
            "/robots",
            r#"{"name":"ci","level":"project","description":"d","duration":30,"disable":true,"permissions":[{"access":[{"action":"pull","resource":"repository"}],"kind":"project","namespace":"demo"}]}"#,
        )
        .await;
    let pr = tf.json(&probot).await;
    let full = pr["name"].as_str().unwrap();
    let ns = pr["permissions"][0]["namespace"].as_str().unwrap();
    assert_eq!(full.split(&format!("{ns}+")).nth(1), Some("ci"), "{pr}");
    assert_eq!(pr["disable"], true);
    // A lifetime no date can hold is refused, not a dropped connection.
    for days in ["1000000000", "4611686018427387904"] {
        tf.call(
            Method::POST,
            "/robots",
            Some(&format!(
                r#"{{"name":"far","level":"system","duration":{days},"permissions":[]}}"#
            )),
            400,
        )
        .await;
    }
    tf.call(Method::DELETE, &probot, None, 200).await;
    tf.call(Method::DELETE, &robot, None, 200).await;

    // harbor_user: the same full body to the user, its sysadmin flag and its password.
    let body = r#"{"username":"carol","password":"Passw0rd-1!","realname":"Carol C","email":"c@x.io","new_password":"Passw0rd-1!"}"#;
    let (user, _) = tf.create("/users", body).await;
    let u = tf.json(&user).await;
    assert_eq!(
        (u["username"].as_str(), u["sysadmin_flag"].as_bool()),
        (Some("carol"), Some(false))
    );
    let admin_body = body.replace(
        r#""realname":"Carol C","#,
        r#""realname":"Carol C","sysadmin_flag":true,"#,
    );
    tf.call(Method::PUT, &user, Some(&admin_body), 200).await;
    tf.call(
        Method::PUT,
        &format!("{user}/sysadmin"),
        Some(&admin_body),
        200,
    )
    .await;
    assert_eq!(tf.json(&user).await["sysadmin_flag"], true);
    // No sysadmin_flag key: false, as Go's decoder reads it.
    tf.call(Method::PUT, &format!("{user}/sysadmin"), Some(body), 200)
        .await;
    assert_eq!(tf.json(&user).await["sysadmin_flag"], false);
    let changed = body.replace(
        r#""new_password":"Passw0rd-1!""#,
        r#""new_password":"Passw0rd-2!""#,
    );
    tf.call(
        Method::PUT,
        &format!("{user}/password"),
        Some(&changed),
        200,
    )
    .await;
    let users = tf.all_pages("/users?q=username=carol").await;
    assert_eq!(users.len(), 1);
    tf.call(Method::DELETE, &user, None, 200).await;

    // harbor_project_webhook: zero timestamps, zero ids and the provider's mis-tagged key.
    let hook = r#"{"update_time":"0001-01-01T00:00:00Z","description":"","creator":"","creation_time":"0001-01-01T00:00:00Z","enabled":true,"targets":[{"type":"http","auth_header":"","skip_cert_verify":true,"address":"https://hook.example/x","payload_format:omitempty":""}],"event_types":["PUSH_ARTIFACT","PULL_ARTIFACT"],"project_id":0,"id":0,"name":"wh"}"#;
    let pid = tf.json("/projects/demo").await["project_id"]
        .as_i64()
        .unwrap();
    let (policy, _) = tf
        .create(&format!("/projects/{pid}/webhook/policies"), hook)
        .await;
    let w = tf.json(&policy).await;
    assert_eq!(
        (w["name"].as_str(), w["enabled"].as_bool()),
        (Some("wh"), Some(true))
    );
    let t = &w["targets"][0];
    assert_eq!(t["address"], "https://hook.example/x");
    assert_eq!(t["skip_cert_verify"], true);
    for key in ["creation_time", "update_time"] {
        let v = w[key].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok(),
            "{key}: {v}"
        );
    }
    tf.call(
        Method::PUT,
        &policy,
        Some(&hook.replace("\"wh\"", "\"wh2\"")),
        200,
    )
    .await;
    assert_eq!(tf.json(&policy).await["name"], "wh2");
    tf.call(Method::DELETE, &policy, None, 200).await;
}

/// The provider's `SetSchedule`: GET, then POST (201) when the body is empty, else PUT.
async fn set_schedule(tf: &Provider<'_>, path: &str, body: &str) {
    let (_, current) = tf.call(Method::GET, path, None, 200).await;
    if current.is_empty() {
        tf.call(Method::POST, path, Some(body), 201).await;
    } else {
        tf.call(Method::PUT, path, Some(body), 200).await;
    }
}

#[tokio::test]
async fn schedules_quotas_and_scanner() {
    let s = Server::start(Backends::Embedded).await;
    s.create_project("demo", false).await;
    let tf = Provider {
        s: &s,
        auth: admin_basic(),
    };

    // harbor_interrogation_services: no schedule reads as 200 with an empty body.
    let scan_all = "/system/scanAll/schedule";
    let (_, empty) = tf.call(Method::GET, scan_all, None, 200).await;
    assert_eq!(empty, "");
    let daily = r#"{"schedule":{"type":"Daily","cron":"0 0 0 * * *"},"creation_time":"0001-01-01T00:00:00Z","update_time":"0001-01-01T00:00:00Z","parameters":{}}"#;
    set_schedule(&tf, scan_all, daily).await;
    assert_eq!(tf.json(scan_all).await["schedule"]["type"], "Daily");
    // harbor_tasks writes the keys capitalised; Harbor's decoder matches them anyway.
    tf.call(
        Method::PUT,
        scan_all,
        Some(r#"{"Schedule":{"type":"Weekly","Cron":"0 0 0 * * 0"}}"#),
        200,
    )
    .await;
    assert_eq!(tf.json(scan_all).await["schedule"]["type"], "Weekly");
    tf.call(
        Method::PUT,
        scan_all,
        Some(r#"{"schedule":{"type":"None"},"creation_time":"0001-01-01T00:00:00Z","update_time":"0001-01-01T00:00:00Z","parameters":{}}"#),
        200,
    )
    .await;

    // harbor_purge_audit_log (the server keeps a purge schedule of its own, so this is
    // an update): job_parameters read back as a JSON string.
    let purge = "/system/purgeaudit/schedule";
    set_schedule(
        &tf,
        purge,
        r#"{"schedule":{"type":"Hourly","cron":"0 0 * * * *"},"creation_time":"0001-01-01T00:00:00Z","update_time":"0001-01-01T00:00:00Z","parameters":{"audit_retention_hour":24,"include_event_types":"create_artifact,delete_artifact"}}"#,
    )
    .await;
    let got = tf.json(purge).await;
    assert_eq!(got["schedule"]["type"], "Hourly");
    let params: Value = serde_json::from_str(got["job_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(params["audit_retention_hour"], 24);
    assert_eq!(
        params["include_event_types"],
        "create_artifact,delete_artifact"
    );
    set_schedule(
        &tf,
        purge,
        r#"{"schedule":{"type":"None"},"creation_time":"0001-01-01T00:00:00Z","update_time":"0001-01-01T00:00:00Z","parameters":{"audit_retention_hour":24,"include_event_types":"create_artifact"}}"#,
    )
    .await;

    // Project quota update: every page of /quotas/ (with the provider's slash).
    let quotas = tf.all_pages("/quotas/?page_size=100").await;
    let pid = tf.json("/projects/demo").await["project_id"]
        .as_i64()
        .unwrap();
    let q = quotas
        .iter()
        .find(|q| q["ref"]["id"] == pid)
        .expect("the project's quota");
    for key in ["creation_time", "update_time"] {
        let v = q[key].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok(),
            "{key}: {v}"
        );
    }
    tf.call(
        Method::PUT,
        &format!("/quotas/{}", q["id"]),
        Some(r#"{"hard":{"storage":10737418240}}"#),
        200,
    )
    .await;
    assert_eq!(
        tf.json(&format!("/quotas/{}", q["id"])).await["hard"]["storage"],
        10737418240_i64
    );

    // The project's scanner: 404 or a scanner, both accepted by the provider; the
    // scanner list decodes with RFC 3339 times.
    let (headers, _) = {
        let resp = client()
            .get(s.url(&format!("/api/v2.0/projects/{pid}/scanner")))
            .header("authorization", admin_basic())
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert!(
            matches!(resp.status().as_u16(), 200 | 404),
            "{}",
            resp.status()
        );
        (resp.headers().clone(), ())
    };
    drop(headers);
    let scanners = tf.json("/scanners").await;
    for sc in scanners.as_array().unwrap() {
        for key in ["create_time", "update_time"] {
            let v = sc[key].as_str().unwrap();
            assert!(
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{key}: {v}"
            );
        }
    }
    if let Some(first) = scanners.as_array().unwrap().first() {
        let uuid = first["uuid"].as_str().unwrap();
        tf.call(
            Method::PUT,
            &format!("/projects/{pid}/scanner"),
            Some(&format!(r#"{{"uuid":"{uuid}"}}"#)),
            200,
        )
        .await;
    }
}
