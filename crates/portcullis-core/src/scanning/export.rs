//! CVE export (Harbor's scan data export): a job that gathers the findings of one
//! project's latest reports into CSV and JSON files kept in the blob store, listed as
//! executions and downloaded by their owner.

use std::sync::Arc;

use bytes::Bytes;
use portcullis_jobs::{JobContext, JobError, Outcome, Worker};
use portcullis_meta::{ArtifactFilter, NewJob, ProjectId, ReportKey, ReportStatus};
use portcullis_types::{Digest, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Scanning;
use super::codec::unpack;
use super::service::harbor_time;
use super::{BUILTIN_SCANNER, VULN_MIME};
use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// Job kind of a CVE export.
pub const CVE_EXPORT_JOB: &str = "cve-export";

/// Harbor's `ScanDataExportRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportCriteria {
    #[serde(default)]
    pub job_name: String,
    #[serde(default)]
    pub projects: Vec<i64>,
    #[serde(default)]
    pub labels: Vec<i64>,
    /// Repository patterns: `app`, `{app,web}`, `team/*`; empty or `**` means all.
    #[serde(default)]
    pub repositories: String,
    #[serde(default, rename = "cveIds")]
    pub cve_ids: String,
    #[serde(default)]
    pub tags: String,
}

/// The alternatives of Harbor's `{a,b}` lists (or one plain value); empty means all.
fn alternatives(s: &str) -> Vec<String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    inner
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `*` matches any run of characters (slashes included); everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

fn matches_any(patterns: &[String], value: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob(p, value))
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportJob {
    criteria: ExportCriteria,
}

/// One line of the export.
#[derive(Debug, Clone, Serialize)]
struct Row {
    project: String,
    repository: String,
    digest: String,
    tags: String,
    cve: String,
    package: String,
    version: String,
    fix_version: String,
    severity: String,
    cvss_v3: String,
    cwe_ids: String,
    description: String,
}

const HEADER: [&str; 12] = [
    "Project",
    "Repository",
    "Digest",
    "Tags",
    "CVE",
    "Package",
    "Version",
    "Fix Version",
    "Severity",
    "CVSS3 Score",
    "CWE Ids",
    "Description",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn to_csv(rows: &[Row]) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for r in rows {
        let fields = [
            &r.project,
            &r.repository,
            &r.digest,
            &r.tags,
            &r.cve,
            &r.package,
            &r.version,
            &r.fix_version,
            &r.severity,
            &r.cvss_v3,
            &r.cwe_ids,
            &r.description,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Runs `cve-export` jobs.
pub struct CveExportWorker {
    pub scanning: Arc<Scanning>,
}

impl Worker for CveExportWorker {
    async fn run(&self, job: &JobContext) -> std::result::Result<Outcome, JobError> {
        let p: ExportJob = job.payload_as()?;
        let rows = self
            .scanning
            .export_rows(&p.criteria)
            .await
            .map_err(JobError::retry)?;
        let csv = Bytes::from(to_csv(&rows));
        let json = Bytes::from(serde_json::to_vec(&rows).map_err(JobError::permanent)?);
        let (csv_d, json_d) = (Digest::sha256_of(&csv), Digest::sha256_of(&json));
        for (d, b) in [(&csv_d, csv), (&json_d, json)] {
            if self
                .scanning
                .blobs
                .stat(d)
                .await
                .map_err(JobError::retry)?
                .is_none()
            {
                self.scanning
                    .blobs
                    .put_bytes(d, b)
                    .await
                    .map_err(JobError::retry)?;
            }
        }
        self.scanning
            .meta
            .cve_exports()
            .finish_cve_export(
                job.id().0,
                csv_d.as_str(),
                json_d.as_str(),
                rows.len() as u64,
            )
            .await?;
        Ok(Outcome::Done)
    }
}

impl Scanning {
    async fn export_rows(&self, c: &ExportCriteria) -> Result<Vec<Row>> {
        let repos = alternatives(&c.repositories)
            .into_iter()
            .filter(|r| r != "**")
            .collect::<Vec<_>>();
        let tags = alternatives(&c.tags)
            .into_iter()
            .filter(|t| t != "**")
            .collect::<Vec<_>>();
        let cves = alternatives(&c.cve_ids);
        let scanner = self
            .resolver()
            .scanner_id_for(c.projects[0])
            .await
            .unwrap_or_else(|| BUILTIN_SCANNER.to_string());
        let mut rows = Vec::new();
        for project_id in &c.projects {
            let Some(project) = self
                .meta
                .projects()
                .get_project(ProjectId(*project_id))
                .await?
            else {
                continue;
            };
            let (list, _) = self
                .meta
                .repositories()
                .list_repositories(Some(project.id), None, 1, 100_000)
                .await?;
            for repo in list {
                let path = repo
                    .name
                    .as_str()
                    .strip_prefix(&format!("{}/", project.name))
                    .unwrap_or(repo.name.as_str())
                    .to_string();
                if !matches_any(&repos, &path) && !matches_any(&repos, repo.name.as_str()) {
                    continue;
                }
                let (artifacts, _) = self
                    .meta
                    .artifacts()
                    .find_artifacts(repo.id, &ArtifactFilter::default(), 1, 100_000)
                    .await?;
                for a in artifacts {
                    let tag_names: Vec<String> = self
                        .meta
                        .tags()
                        .tags_of(a.id)
                        .await?
                        .iter()
                        .map(|t| t.name.to_string())
                        .collect();
                    if !tags.is_empty() && !tag_names.iter().any(|t| matches_any(&tags, t)) {
                        continue;
                    }
                    // Harbor: an artifact carrying any of the given labels.
                    if !c.labels.is_empty()
                        && !self
                            .meta
                            .labels()
                            .labels_of(a.id)
                            .await?
                            .iter()
                            .any(|l| c.labels.contains(&l.id))
                    {
                        continue;
                    }
                    let key = ReportKey {
                        digest: a.digest.to_string(),
                        scanner: scanner.clone(),
                        mime_type: VULN_MIME.to_string(),
                    };
                    let Some(report) = self.meta.scans().get_report(&key).await? else {
                        continue;
                    };
                    if report.status != ReportStatus::Success {
                        continue;
                    }
                    let Some(doc) = report.report.as_deref() else {
                        continue;
                    };
                    let doc: Value =
                        unpack(doc).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
                    for v in doc["vulnerabilities"].as_array().into_iter().flatten() {
                        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                        let cve = s("id");
                        if !cves.is_empty() && !cves.contains(&cve) {
                            continue;
                        }
                        rows.push(Row {
                            project: project.name.to_string(),
                            repository: repo.name.to_string(),
                            digest: a.digest.to_string(),
                            tags: tag_names.join(" "),
                            cve,
                            package: s("package"),
                            version: s("version"),
                            fix_version: s("fix_version"),
                            severity: s("severity"),
                            cvss_v3: v["preferred_cvss"]["score_v3"]
                                .as_f64()
                                .map(|x| x.to_string())
                                .unwrap_or_default(),
                            cwe_ids: v["cwe_ids"]
                                .as_array()
                                .map(|c| {
                                    c.iter()
                                        .filter_map(Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join(" ")
                                })
                                .unwrap_or_default(),
                            description: s("description"),
                        });
                    }
                }
            }
        }
        Ok(rows)
    }

    /// `POST /api/v2.0/export/cve`: queues an export of one project's findings.
    pub async fn request_cve_export(
        &self,
        ctx: &RequestCtx,
        data_type: Option<&str>,
        criteria: ExportCriteria,
    ) -> Result<i64> {
        let Principal::User(user) = &ctx.principal else {
            return Err(crate::access::forbidden(&ctx.principal));
        };
        if data_type.map(|d| d.replace(' ', "")) != Some(VULN_MIME.replace(' ', "")) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("X-Scan-Data-Type must be {VULN_MIME}"),
            ));
        }
        let [project] = criteria.projects.as_slice() else {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "name exactly one project",
            ));
        };
        self.access
            .project_for(&ctx.principal, &project.to_string(), false, "scan", "read")
            .await?;
        let job = NewJob::new(
            CVE_EXPORT_JOB,
            serde_json::to_value(ExportJob {
                criteria: criteria.clone(),
            })
            .map_err(Error::internal)?,
        );
        let queued = self.enqueue(&job).await?;
        self.meta
            .cve_exports()
            .create_cve_export(queued.job.id.0, user.id, &user.name, &criteria.job_name)
            .await?;
        Ok(queued.job.id.0)
    }

    async fn own_export(
        &self,
        ctx: &RequestCtx,
        id: i64,
    ) -> Result<(portcullis_meta::CveExport, portcullis_meta::Job)> {
        let missing = || Error::new(ErrorCode::NotFound, format!("execution {id} not found"));
        let Principal::User(user) = &ctx.principal else {
            return Err(crate::access::forbidden(&ctx.principal));
        };
        let export = self
            .meta
            .cve_exports()
            .get_cve_export(id)
            .await?
            .ok_or_else(missing)?;
        if export.user_id != user.id && !user.sysadmin {
            return Err(missing());
        }
        let job = self
            .meta
            .jobs()
            .get_job(portcullis_meta::JobId(id))
            .await?
            .ok_or_else(missing)?;
        Ok((export, job))
    }

    fn execution_json(e: &portcullis_meta::CveExport, job: &portcullis_meta::Job) -> Value {
        let status = match job.state {
            portcullis_meta::JobState::Pending => "Pending",
            portcullis_meta::JobState::Running => "Running",
            portcullis_meta::JobState::Succeeded => "Success",
            portcullis_meta::JobState::Failed => "Error",
            portcullis_meta::JobState::Stopped => "Stopped",
        };
        json!({
            "id": e.job_id,
            "user_id": e.user_id,
            "user_name": e.user_name,
            "status": status,
            "trigger": "MANUAL",
            "start_time": harbor_time(job.created_at),
            "end_time": job.finished_at.map(harbor_time),
            "status_text": job.last_error.clone().unwrap_or_default(),
            "file_present": e.csv_digest.is_some(),
            "job_name": e.job_name,
            "row_count": e.row_count,
        })
    }

    /// `GET /api/v2.0/export/cve/execution/{id}`.
    pub async fn cve_export_execution(&self, ctx: &RequestCtx, id: i64) -> Result<Value> {
        let (e, job) = self.own_export(ctx, id).await?;
        Ok(Self::execution_json(&e, &job))
    }

    /// `GET /api/v2.0/export/cve/executions`: the caller's exports, newest first.
    pub async fn cve_export_executions(&self, ctx: &RequestCtx) -> Result<Value> {
        let Principal::User(user) = &ctx.principal else {
            return Err(crate::access::forbidden(&ctx.principal));
        };
        let mut items = Vec::new();
        for e in self
            .meta
            .cve_exports()
            .list_cve_exports(Some(user.id))
            .await?
        {
            if let Some(job) = self
                .meta
                .jobs()
                .get_job(portcullis_meta::JobId(e.job_id))
                .await?
            {
                items.push(Self::execution_json(&e, &job));
            }
        }
        Ok(json!({ "items": items }))
    }

    /// `GET /api/v2.0/export/cve/download/{id}?format=csv|json`: content type, file name
    /// and bytes.
    pub async fn cve_export_download(
        &self,
        ctx: &RequestCtx,
        id: i64,
        format: Option<&str>,
    ) -> Result<(&'static str, String, Bytes)> {
        let (e, _) = self.own_export(ctx, id).await?;
        let (digest, mime, ext) = match format.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("csv") => (e.csv_digest, "text/csv", "csv"),
            Some("json") => (e.json_digest, "application/json", "json"),
            Some(other) => {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    format!("unsupported format {other:?}: use csv or json"),
                ));
            }
        };
        let digest = digest.ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("execution {id} has no file yet"),
            )
        })?;
        let digest = Digest::parse(&digest).map_err(Error::internal)?;
        let bytes = self.blobs.get_bytes(&digest).await?;
        Ok((mime, format!("cve-export-{id}.{ext}"), bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_lists() {
        assert_eq!(alternatives("{a, b}"), vec!["a", "b"]);
        assert_eq!(alternatives("app"), vec!["app"]);
        assert!(alternatives("").is_empty());
        assert!(glob("team/*", "team/app/web"));
        assert!(glob("*web", "team/web"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(!glob("app", "apps"));
        assert!(matches_any(&[], "anything"));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let r = Row {
            project: "p".into(),
            repository: "p/a".into(),
            digest: "sha256:1".into(),
            tags: "v1".into(),
            cve: "CVE-1".into(),
            package: "x".into(),
            version: "1".into(),
            fix_version: "2".into(),
            severity: "High".into(),
            cvss_v3: "7.5".into(),
            cwe_ids: "".into(),
            description: "a, \"quoted\" text".into(),
        };
        let csv = to_csv(&[r]);
        assert!(csv.starts_with("Project,Repository,Digest"));
        assert!(csv.contains(",\"a, \"\"quoted\"\" text\"\n"), "{csv}");
    }
}
