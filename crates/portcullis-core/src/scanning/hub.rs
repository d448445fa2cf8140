//! Harbor's security hub (`/security/summary`, `/security/vul`): every artifact's
//! latest successful vulnerability report, across all projects, counted and searched.
//! System admins only, as in Harbor. Reports are read from the store on each call (each
//! project's own scanner's), so the hub is as fresh as the reports.

use portcullis_meta::{ArtifactFilter, ProjectQuery, ReportKey, ReportStatus};
use portcullis_types::{ErrorCode, Severity};
use serde_json::{Value, json};

use super::codec::unpack;
use super::{BUILTIN_SCANNER, Scanning, VULN_MIME};
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// One finding of one artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub project_id: i64,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub cve: String,
    pub severity: String,
    pub cvss_v3: Option<f64>,
    pub package: String,
    pub version: String,
    pub fix_version: String,
    pub description: String,
    pub links: Vec<String>,
}

/// What the hub reads: the findings, and how many artifacts there are and were scanned.
#[derive(Debug, Default)]
pub struct Findings {
    pub findings: Vec<Finding>,
    pub artifacts: u64,
    pub scanned: u64,
}

/// `q` of `/security/vul`: exact keys, `cvss_score_v3=[from~to]`, `~` for substrings.
#[derive(Debug, Default, Clone)]
pub struct VulQuery {
    pub cve_id: Option<String>,
    pub severity: Option<String>,
    pub cvss_from: Option<f64>,
    pub cvss_to: Option<f64>,
    pub project_id: Option<i64>,
    pub repository: Option<String>,
    pub package: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl VulQuery {
    fn keeps(&self, f: &Finding) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let contains = |want: &Option<String>, have: &str| {
            want.as_deref()
                .is_none_or(|w| have.to_lowercase().contains(&w.to_lowercase()))
        };
        eq(&self.cve_id, &f.cve)
            && self
                .severity
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&f.severity))
            && self
                .cvss_from
                .is_none_or(|x| f.cvss_v3.is_some_and(|s| s >= x))
            && self
                .cvss_to
                .is_none_or(|x| f.cvss_v3.is_some_and(|s| s <= x))
            && self.project_id.is_none_or(|p| p == f.project_id)
            && contains(&self.repository, &f.repository)
            && contains(&self.package, &f.package)
            && self
                .tag
                .as_deref()
                .is_none_or(|t| f.tags.iter().any(|x| x == t))
            && eq(&self.digest, &f.digest)
    }
}

fn severity_rank(s: &str) -> Severity {
    s.parse().unwrap_or(Severity::Unknown)
}

impl Scanning {
    fn hub_admin(ctx: &RequestCtx) -> Result<()> {
        if ctx.principal.is_sysadmin() {
            Ok(())
        } else {
            Err(crate::access::forbidden(&ctx.principal))
        }
    }

    /// Every finding of every artifact (accessories left out) with a successful report.
    pub async fn all_findings(&self) -> Result<Findings> {
        let mut out = Findings::default();
        let mut page = 1;
        loop {
            let (projects, total) = self
                .meta
                .projects()
                .list_projects(&ProjectQuery::default(), page, 200)
                .await?;
            for project in &projects {
                let scanner = self
                    .resolver()
                    .scanner_id_for(project.id.0)
                    .await
                    .unwrap_or_else(|| BUILTIN_SCANNER.to_string());
                let (repos, _) = self
                    .meta
                    .repositories()
                    .list_repositories(Some(project.id), None, 1, u64::from(u32::MAX))
                    .await?;
                for repo in repos {
                    let filter = ArtifactFilter {
                        without_accessories: true,
                        ..Default::default()
                    };
                    let (artifacts, _) = self
                        .meta
                        .artifacts()
                        .find_artifacts(repo.id, &filter, 1, u64::from(u32::MAX))
                        .await?;
                    for a in artifacts {
                        out.artifacts += 1;
                        let key = ReportKey {
                            digest: a.digest.to_string(),
                            scanner: scanner.clone(),
                            mime_type: VULN_MIME.to_string(),
                        };
                        let Some(report) = self.meta.scans().get_report(&key).await? else {
                            continue;
                        };
                        let Some(doc) = report.report.as_deref() else {
                            continue;
                        };
                        if report.status != ReportStatus::Success {
                            continue;
                        }
                        out.scanned += 1;
                        let doc: Value =
                            unpack(doc).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
                        let tags: Vec<String> = self
                            .meta
                            .tags()
                            .tags_of(a.id)
                            .await?
                            .iter()
                            .map(|t| t.name.to_string())
                            .collect();
                        for v in doc["vulnerabilities"].as_array().into_iter().flatten() {
                            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                            out.findings.push(Finding {
                                project_id: project.id.0,
                                repository: repo.name.to_string(),
                                digest: a.digest.to_string(),
                                tags: tags.clone(),
                                cve: s("id"),
                                severity: s("severity"),
                                cvss_v3: v["preferred_cvss"]["score_v3"].as_f64(),
                                package: s("package"),
                                version: s("version"),
                                fix_version: s("fix_version"),
                                description: s("description"),
                                links: v["links"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect(),
                            });
                        }
                    }
                }
            }
            if projects.is_empty() || page * 200 >= total {
                break;
            }
            page += 1;
        }
        Ok(out)
    }

    /// Harbor's `SecuritySummary`: counts by severity, fixable, scanned and total
    /// artifacts; with the flags, the five most dangerous CVEs and artifacts.
    pub async fn security_summary(
        &self,
        ctx: &RequestCtx,
        with_cves: bool,
        with_artifacts: bool,
    ) -> Result<Value> {
        Self::hub_admin(ctx)?;
        let all = self.all_findings().await?;
        Ok(summary_json(&all, with_cves, with_artifacts))
    }

    /// A page of `/security/vul`, and the total matching.
    pub async fn security_vulnerabilities(
        &self,
        ctx: &RequestCtx,
        q: &VulQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Finding>, u64)> {
        Self::hub_admin(ctx)?;
        let mut list: Vec<Finding> = self
            .all_findings()
            .await?
            .findings
            .into_iter()
            .filter(|f| q.keeps(f))
            .collect();
        // Most severe first, then by score, then stably by artifact and CVE.
        list.sort_by(|a, b| {
            severity_rank(&b.severity)
                .cmp(&severity_rank(&a.severity))
                .then(
                    b.cvss_v3
                        .unwrap_or(0.0)
                        .total_cmp(&a.cvss_v3.unwrap_or(0.0)),
                )
                .then_with(|| {
                    (&a.repository, &a.digest, &a.cve).cmp(&(&b.repository, &b.digest, &b.cve))
                })
        });
        let total = list.len() as u64;
        let start =
            usize::try_from((page.max(1) - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        Ok((list.into_iter().skip(start).take(size).collect(), total))
    }
}

fn summary_json(all: &Findings, with_cves: bool, with_artifacts: bool) -> Value {
    // Harbor's "None" is a severity of its own; this tree reads it as Unknown.
    let is_none = |f: &&Finding| f.severity.eq_ignore_ascii_case("none");
    let count = |s: Severity| {
        all.findings
            .iter()
            .filter(|f| severity_rank(&f.severity) == s && !is_none(f))
            .count()
    };
    let mut body = json!({
        "critical_cnt": count(Severity::Critical),
        "high_cnt": count(Severity::High),
        "medium_cnt": count(Severity::Medium),
        // Harbor has no Negligible; it sits with Low.
        "low_cnt": count(Severity::Low) + count(Severity::Negligible),
        "none_cnt": all.findings.iter().filter(is_none).count(),
        "unknown_cnt": count(Severity::Unknown),
        "total_vuls": all.findings.len(),
        "scanned_cnt": all.scanned,
        "total_artifact": all.artifacts,
        "fixable_cnt": all.findings.iter().filter(|f| !f.fix_version.is_empty()).count(),
    });
    if with_cves {
        let mut seen = std::collections::HashSet::new();
        let mut cves: Vec<&Finding> = all
            .findings
            .iter()
            .filter(|f| seen.insert(&f.cve))
            .collect();
        cves.sort_by(|a, b| {
            b.cvss_v3
                .unwrap_or(0.0)
                .total_cmp(&a.cvss_v3.unwrap_or(0.0))
                .then(severity_rank(&b.severity).cmp(&severity_rank(&a.severity)))
                .then_with(|| a.cve.cmp(&b.cve))
        });
        body["dangerous_cves"] = cves
            .iter()
            .take(5)
            .map(|f| {
                json!({
                    "cve_id": f.cve, "severity": f.severity,
                    "cvss_score_v3": f.cvss_v3.unwrap_or(0.0),
                    "desc": f.description, "package": f.package, "version": f.version,
                })
            })
            .collect();
    }
    if with_artifacts {
        let mut by_artifact: std::collections::BTreeMap<(i64, &str, &str), [usize; 3]> =
            Default::default();
        for f in &all.findings {
            let slot = by_artifact
                .entry((f.project_id, f.repository.as_str(), f.digest.as_str()))
                .or_default();
            match severity_rank(&f.severity) {
                Severity::Critical => slot[0] += 1,
                Severity::High => slot[1] += 1,
                Severity::Medium => slot[2] += 1,
                _ => {}
            }
        }
        let mut list: Vec<_> = by_artifact
            .into_iter()
            .filter(|(_, c)| c.iter().any(|n| *n > 0))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        body["dangerous_artifacts"] = list
            .iter()
            .take(5)
            .map(|((project, repo, digest), c)| {
                json!({
                    "project_id": project, "repository_name": repo, "digest": digest,
                    "critical_cnt": c[0], "high_cnt": c[1], "medium_cnt": c[2],
                })
            })
            .collect();
    }
    body
}

/// Parses `/security/vul`'s `q`.
pub fn vul_query(q: &str) -> Result<VulQuery> {
    let mut out = VulQuery::default();
    let bad = |m: String| Error::new(ErrorCode::BadRequest, m);
    for part in q.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid query {part:?}")))?;
        let v = v.trim().trim_start_matches('~').to_string();
        match k.trim() {
            "cve_id" => out.cve_id = Some(v),
            "severity" => out.severity = Some(v),
            "project_id" => {
                out.project_id = Some(
                    v.parse()
                        .map_err(|_| bad(format!("invalid project_id {v:?}")))?,
                )
            }
            "repository_name" => out.repository = Some(v),
            "package" => out.package = Some(v),
            "tag" => out.tag = Some(v),
            "digest" => out.digest = Some(v),
            "cvss_score_v3" => {
                let inner = v.trim_start_matches('[').trim_end_matches(']');
                let (from, to) = inner.split_once('~').unwrap_or((inner, inner));
                let num = |s: &str| -> Result<Option<f64>> {
                    let s = s.trim();
                    if s.is_empty() {
                        return Ok(None);
                    }
                    s.parse()
                        .map(Some)
                        .map_err(|_| bad(format!("invalid cvss_score_v3 {s:?}")))
                };
                out.cvss_from = num(from)?;
                out.cvss_to = num(to)?;
            }
            other => return Err(bad(format!("unsupported query key {other:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(cve: &str, sev: &str, score: f64, repo: &str, fix: &str) -> Finding {
        Finding {
            project_id: 1,
            repository: repo.into(),
            digest: format!("sha256:{repo}"),
            tags: vec!["v1".into()],
            cve: cve.into(),
            severity: sev.into(),
            cvss_v3: Some(score),
            package: "openssl".into(),
            version: "1".into(),
            fix_version: fix.into(),
            description: String::new(),
            links: vec![],
        }
    }

    #[test]
    fn summary_counts_and_ranks() {
        let all = Findings {
            findings: vec![
                f("CVE-1", "Critical", 9.8, "a", "2"),
                f("CVE-2", "High", 7.5, "a", ""),
                f("CVE-1", "Critical", 9.8, "b", "2"),
                f("CVE-3", "Low", 3.1, "b", ""),
            ],
            artifacts: 3,
            scanned: 2,
        };
        let s = summary_json(&all, true, true);
        assert_eq!(
            (
                s["critical_cnt"].as_u64(),
                s["high_cnt"].as_u64(),
                s["low_cnt"].as_u64()
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(
            (s["total_vuls"].as_u64(), s["fixable_cnt"].as_u64()),
            (Some(4), Some(2))
        );
        assert_eq!(
            (s["scanned_cnt"].as_u64(), s["total_artifact"].as_u64()),
            (Some(2), Some(3))
        );
        assert_eq!(s["dangerous_cves"][0]["cve_id"], "CVE-1");
        assert_eq!(s["dangerous_cves"].as_array().unwrap().len(), 3);
        assert_eq!(s["dangerous_artifacts"][0]["repository_name"], "a");
    }

    #[test]
    fn queries() {
        let q = vul_query("severity=Critical,cvss_score_v3=[9~10],repository_name=~A").unwrap();
        assert!(q.keeps(&f("CVE-1", "Critical", 9.8, "a", "")));
        assert!(!q.keeps(&f("CVE-2", "High", 9.8, "a", "")));
        assert!(!q.keeps(&f("CVE-1", "Critical", 8.0, "a", "")));
        assert!(vul_query("colour=red").is_err());
        assert!(vul_query("cvss_score_v3=[x~1]").is_err());
    }
}
