//! The gate's calls to a registry's Harbor API and `/v2/`.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use portcullis_policy::Threshold;
use portcullis_policy::allowlist::{CveIds, ListRef, effective, reuses_system};
use reqwest::StatusCode;
use serde_json::Value;

use super::GateArgs;

/// The vulnerability report type the gate reads.
pub const REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";

/// `[scheme://]host[:port]/project/repo[/…](:tag|@digest)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub base: String,
    pub project: String,
    /// The repository path inside the project.
    pub repository: String,
    pub reference: String,
}

impl ImageRef {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = match s.split_once("://") {
            Some((sch @ ("http" | "https"), r)) => (sch, r),
            Some((other, _)) => bail!("unsupported scheme {other}: use http or https"),
            None => ("https", s),
        };
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| anyhow!("{s}: expected <registry>/<project>/<repository>:<tag>"))?;
        let (name, reference) = if let Some((n, d)) = path.split_once('@') {
            (n, d.to_string())
        } else {
            let last = path.rfind('/').map(|i| i + 1).unwrap_or(0);
            match path[last..].rfind(':') {
                Some(i) => (&path[..last + i], path[last + i + 1..].to_string()),
                None => bail!("{s}: name a tag (:tag) or a digest (@sha256:…)"),
            }
        };
        let (project, repository) = name
            .split_once('/')
            .ok_or_else(|| anyhow!("{s}: expected <registry>/<project>/<repository>"))?;
        if host.is_empty() || project.is_empty() || repository.is_empty() || reference.is_empty() {
            bail!("{s}: expected <registry>/<project>/<repository>:<tag>");
        }
        Ok(ImageRef {
            base: format!("{scheme}://{host}"),
            project: project.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    pub fn display(&self) -> String {
        let sep = if self.reference.contains(':') {
            "@"
        } else {
            ":"
        };
        format!(
            "{}/{}{sep}{}",
            self.project, self.repository, self.reference
        )
    }
}

/// A project's policy settings and allowlist as the API gives them.
pub struct Project(Value);

impl Project {
    /// The project's metadata (Harbor gives every value as a string).
    fn metadata(&self) -> BTreeMap<String, String> {
        self.0
            .get("metadata")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect()
    }

    /// The threshold the registry's pull gate applies, when the project turns it on.
    pub fn policy_threshold(&self) -> Option<Threshold> {
        Threshold::from_metadata(&self.metadata())
    }
}

/// An artifact as the API gives it (`with_scan_overview`, `with_signature`).
pub struct Artifact(pub Value);

impl Artifact {
    fn overview(&self) -> Option<&Value> {
        let o = self.0.get("scan_overview")?.as_object()?;
        o.get(REPORT_MIME).or_else(|| o.values().next())
    }

    pub fn scan_status(&self) -> Option<&str> {
        self.overview()?.get("scan_status")?.as_str()
    }

    pub fn complete_percent(&self) -> i64 {
        self.overview()
            .and_then(|o| o.get("complete_percent"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    pub fn summary(&self) -> Option<&Value> {
        self.overview()?.get("summary")
    }

    pub fn signatures(&self) -> Option<&Value> {
        self.0.get("signatures")
    }
}

/// The CVE ids exempted for the project (expired lists are ignored whole, as the
/// registry does).
pub type Allowlist = CveIds;

/// What the registry answers to a manifest request: served, or refused with a message.
pub enum Served {
    Yes,
    Refused(String),
}

pub struct Client {
    http: reqwest::Client,
    image: ImageRef,
    auth: Option<(String, String)>,
}

fn encode_twice(repo: &str) -> String {
    repo.replace('/', "%252F")
}

/// An allowlist as the API gives it (`CVEAllowlist`).
struct ApiList {
    items: Vec<String>,
    expires_at: Option<i64>,
}

impl ApiList {
    fn parse(v: &Value) -> Self {
        ApiList {
            items: v
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("cve_id").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            expires_at: v.get("expires_at").and_then(Value::as_i64),
        }
    }

    fn as_list(&self) -> ListRef<'_> {
        ListRef {
            items: &self.items,
            expires_at: self.expires_at,
        }
    }
}

impl Client {
    pub fn new(image: &ImageRef, args: &GateArgs) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(args.insecure)
            .user_agent(concat!("portcullis-gate/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let auth = match (&args.username, &args.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) => None,
            _ => bail!(
                "give both --username and --password (or PORTCULLIS_USERNAME and PORTCULLIS_PASSWORD)"
            ),
        };
        Ok(Client {
            http,
            image: image.clone(),
            auth,
        })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.with_auth(self.http.get(format!("{}{path}", self.image.base)))
    }

    fn with_auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some((u, p)) => req.basic_auth(u, Some(p)),
            None => req,
        }
    }

    async fn json(&self, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching the registry for {what}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let message = body
            .pointer("/errors/0/message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::UNAUTHORIZED => {
                bail!("{what}: the registry refused the credentials ({message})")
            }
            StatusCode::FORBIDDEN => bail!("{what}: not allowed ({message})"),
            StatusCode::NOT_FOUND => bail!("{what}: not found ({message})"),
            s => bail!("{what}: the registry answered {s} ({message})"),
        }
    }

    fn artifact_path(&self) -> String {
        format!(
            "/api/v2.0/projects/{}/repositories/{}/artifacts/{}",
            self.image.project,
            encode_twice(&self.image.repository),
            self.image.reference
        )
    }

    pub async fn project(&self) -> anyhow::Result<Project> {
        let req = self
            .get(&format!("/api/v2.0/projects/{}", self.image.project))
            .header("x-is-resource-name", "true");
        Ok(Project(self.json(req, "reading the project").await?))
    }

    pub async fn artifact(&self) -> anyhow::Result<Artifact> {
        let req = self.get(&format!(
            "{}?with_scan_overview=true&with_signature=true&with_tag=false",
            self.artifact_path()
        ));
        Ok(Artifact(
            self.json(req, &format!("reading {}", self.image.display()))
                .await?,
        ))
    }

    pub async fn start_scan(&self) -> anyhow::Result<()> {
        let req = self
            .with_auth(
                self.http
                    .post(format!("{}{}/scan", self.image.base, self.artifact_path())),
            )
            .json(&serde_json::json!({ "scan_type": "vulnerability" }));
        let resp = req.send().await.context("starting a scan")?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            // Already running: wait for it.
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                bail!("starting a scan: not allowed (the account needs the scan permission)")
            }
            s => bail!("starting a scan: the registry answered {s}"),
        }
    }

    /// The findings of the vulnerability report.
    pub async fn vulnerabilities(&self) -> anyhow::Result<Vec<Value>> {
        let req = self
            .get(&format!(
                "{}/additions/vulnerabilities",
                self.artifact_path()
            ))
            .header("x-accept-vulnerabilities", REPORT_MIME);
        let body = self.json(req, "reading the vulnerability report").await?;
        let report = body
            .get(REPORT_MIME)
            .or_else(|| body.as_object().and_then(|o| o.values().next()))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(report
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// The CVE ids the registry's pull gate exempts for the project: the system list
    /// when the project reuses it, its own otherwise, nothing from an expired list. A
    /// robot may not read the system list; then nothing is exempted.
    pub async fn allowlist(&self, project: &Project) -> Allowlist {
        let reuse = reuses_system(&project.metadata());
        let system = if reuse {
            self.json(self.get("/api/v2.0/system/CVEAllowlist"), "")
                .await
                .ok()
                .map(|v| ApiList::parse(&v))
        } else {
            None
        };
        let own = project.0.get("cve_allowlist").map(ApiList::parse);
        effective(
            reuse,
            system.as_ref().map(ApiList::as_list),
            own.as_ref().map(ApiList::as_list),
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
    }

    /// Whether the registry would serve the manifest (its own pull gate).
    pub async fn registry_check(&self) -> anyhow::Result<Served> {
        let url = format!(
            "{}/v2/{}/{}/manifests/{}",
            self.image.base, self.image.project, self.image.repository, self.image.reference
        );
        let resp = self
            .with_auth(self.http.head(url))
            .header(
                "accept",
                "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json, \
                 application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await?;
        if resp.status() != StatusCode::PRECONDITION_FAILED {
            return Ok(Served::Yes);
        }
        // HEAD has no body: ask again with GET for the registry's reason.
        let resp = self
            .with_auth(self.http.get(format!(
                "{}/v2/{}/{}/manifests/{}",
                self.image.base, self.image.project, self.image.repository, self.image.reference
            )))
            .send()
            .await?;
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Ok(Served::Refused(
            body.pointer("/errors/0/message")
                .and_then(Value::as_str)
                .unwrap_or("refused by the project's policy")
                .to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = ImageRef::parse("reg.example:5000/team/apps/web:v1").unwrap();
        assert_eq!(
            r,
            ImageRef {
                base: "https://reg.example:5000".into(),
                project: "team".into(),
                repository: "apps/web".into(),
                reference: "v1".into(),
            }
        );
        let r = ImageRef::parse("http://127.0.0.1:5000/team/app@sha256:abc").unwrap();
        assert_eq!(r.base, "http://127.0.0.1:5000");
        assert_eq!(r.reference, "sha256:abc");
        assert_eq!(r.display(), "team/app@sha256:abc");
        for bad in [
            "reg/team",
            "reg/team/app",
            "ftp://reg/team/app:v1",
            "reg//app:v1",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowlists() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let ids = |v: Value| {
            let l = ApiList::parse(&v);
            effective(false, None, Some(l.as_list()), now)
        };
        let v = serde_json::json!({ "items": [{ "cve_id": "CVE-1" }], "expires_at": now + 100 });
        assert!(ids(v).contains("CVE-1"));
        let v = serde_json::json!({ "items": [{ "cve_id": "CVE-1" }], "expires_at": now - 100 });
        assert!(ids(v).is_empty());
        let v = serde_json::json!({ "items": [{ "cve_id": "CVE-1" }, { "cve_id": "CVE-2" }] });
        assert_eq!(ids(v).len(), 2);
    }

    #[test]
    fn project_policy() {
        let p = Project(serde_json::json!({
            "metadata": { "prevent_vul": "true", "severity": "critical", "reuse_sys_cve_allowlist": "false" },
        }));
        assert_eq!(
            p.policy_threshold(),
            Some(Threshold::At(portcullis_policy::Severity::Critical))
        );
        assert!(!reuses_system(&p.metadata()));
        let p = Project(serde_json::json!({ "metadata": { "prevent_vul": "false" } }));
        assert_eq!(p.policy_threshold(), None);
        assert!(reuses_system(&p.metadata()));
        assert_eq!(Project(Value::Null).policy_threshold(), None);
    }
}
