//! Turning matched OSV records into findings: severity from CVSS vectors or rating words,
//! and one finding per issue, so that a DSA, a GHSA and a PYSEC record describing the same
//! CVE for the same package are reported once, under the CVE id.

use crate::cvss::{score_v2, score_v3, score_v4};
use crate::osv::{Affected, Record, SeverityScore};
use crate::version::Scheme;
use portcullis_types::Severity;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// A CVSS vector and the base score computed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// `"2.0"`, `"3.0"`, `"3.1"` or `"4.0"`.
    pub version: String,
    /// The vector as published.
    pub vector: String,
    /// The base score computed from the vector.
    pub score: f64,
}

/// One vulnerability affecting the queried package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The CVE id when one exists, else the OSV id.
    pub id: String,
    /// Other ids of the same issue (GHSA, DSA, PYSEC, …), sorted.
    pub aliases: Vec<String>,
    /// Ids of the OSV records this finding was built from, sorted.
    pub source_ids: Vec<String>,
    /// One-line summary.
    pub summary: String,
    /// Longer description.
    pub description: String,
    /// The first version that fixes the issue for the queried version, if one is known.
    pub fixed_version: Option<String>,
    /// Harbor severity.
    pub severity: Severity,
    /// The preferred CVSS score: v3 when present, else v4 (else v2).
    pub cvss: Option<Cvss>,
    /// CWE ids (`CWE-79`), sorted.
    pub cwe_ids: Vec<String>,
    /// Reference URLs, in record order without duplicates.
    pub links: Vec<String>,
    /// Earliest publication time among the records.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published: Option<OffsetDateTime>,
    /// Latest modification time among the records.
    #[serde(with = "time::serde::rfc3339::option")]
    pub modified: Option<OffsetDateTime>,
}

/// A record that affects the queried version through `affected`.
pub(crate) struct Matched<'a> {
    pub record: &'a Record,
    pub affected: &'a Affected,
    pub fixed: Option<String>,
}

fn cvss_of(s: &SeverityScore) -> Option<Cvss> {
    let (version, score) = match s.kind.as_str() {
        "CVSS_V4" => ("4.0", score_v4(&s.score)?),
        "CVSS_V3" => (
            if s.score.starts_with("CVSS:3.0/") {
                "3.0"
            } else {
                "3.1"
            },
            score_v3(&s.score)?,
        ),
        "CVSS_V2" => ("2.0", score_v2(&s.score)?),
        _ => return None,
    };
    Some(Cvss {
        version: version.to_string(),
        vector: s.score.trim().to_string(),
        score,
    })
}

/// The best vector of a record for a package: the highest-scoring v3, else v4, else v2.
fn best_cvss<'a>(scores: impl Iterator<Item = &'a SeverityScore>) -> Option<Cvss> {
    let all: Vec<Cvss> = scores.filter_map(cvss_of).collect();
    ["3", "4", "2"].iter().find_map(|major| {
        all.iter()
            .filter(|c| c.version.starts_with(major))
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .cloned()
    })
}

fn severity_word(value: Option<&serde_json::Value>) -> Option<Severity> {
    let word = value?.get("severity")?.as_str()?;
    word.parse::<Severity>()
        .ok()
        .filter(|s| *s != Severity::Unknown)
}

fn severity_of_cvss(c: &Cvss) -> Severity {
    if c.version == "2.0" {
        // CVSS v2 has no Critical band.
        return match c.score {
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        };
    }
    Severity::from_cvss_score(c.score)
}

/// Severity and preferred CVSS of one matched record.
fn rate(m: &Matched<'_>) -> (Severity, Option<Cvss>) {
    let cvss = best_cvss(m.record.severity.iter().chain(&m.affected.severity));
    let severity = cvss
        .as_ref()
        .map(severity_of_cvss)
        .filter(|s| *s != Severity::Unknown)
        .or_else(|| severity_word(m.affected.ecosystem_specific.as_ref()))
        .or_else(|| severity_word(m.affected.database_specific.as_ref()))
        .or_else(|| severity_word(m.record.database_specific.as_ref()))
        .or_else(|| {
            m.record
                .severity
                .iter()
                .chain(&m.affected.severity)
                .filter(|s| !s.kind.starts_with("CVSS"))
                .find_map(|s| s.score.parse::<Severity>().ok())
        })
        .unwrap_or(Severity::Unknown);
    (severity, cvss)
}

fn is_cve(id: &str) -> bool {
    id.starts_with("CVE-")
}

fn ids_of(r: &Record) -> impl Iterator<Item = &str> {
    std::iter::once(r.id.as_str()).chain(r.aliases.iter().map(String::as_str))
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    let mut j = i;
    while parent[j] != root {
        let next = parent[j];
        parent[j] = root;
        j = next;
    }
    root
}

/// Groups matched records into findings (see the module documentation).
pub(crate) fn build(matches: &[Matched<'_>], ecosystem: &str) -> Vec<Finding> {
    // Records sharing any id or alias describe the same issue (or a superset of it).
    let mut parent: Vec<usize> = (0..matches.len()).collect();
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, m) in matches.iter().enumerate() {
        for id in ids_of(m.record) {
            match owner.get(id) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(id, i);
                }
            }
        }
    }
    let mut components: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..matches.len() {
        let root = find(&mut parent, i);
        components.entry(root).or_default().push(i);
    }

    let mut findings = Vec::new();
    for members in components.values() {
        let cves: BTreeSet<&str> = members
            .iter()
            .flat_map(|&i| ids_of(matches[i].record))
            .filter(|id| is_cve(id))
            .collect();
        if cves.is_empty() {
            let id = members
                .iter()
                .map(|&i| matches[i].record.id.as_str())
                .min()
                .unwrap_or_default();
            findings.push(merge(id, matches, members, &BTreeSet::new(), ecosystem));
            continue;
        }
        // A DSA fixing three CVEs becomes three findings, each with the DSA as an alias.
        for cve in &cves {
            let sources: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| {
                    let mut ids = ids_of(matches[i].record);
                    ids.any(|x| x == *cve) || !ids_of(matches[i].record).any(is_cve)
                })
                .collect();
            findings.push(merge(cve, matches, &sources, &cves, ecosystem));
        }
    }
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

fn merge(
    id: &str,
    matches: &[Matched<'_>],
    members: &[usize],
    other_cves: &BTreeSet<&str>,
    ecosystem: &str,
) -> Finding {
    let scheme = Scheme::for_ecosystem(ecosystem);
    let mut sources: Vec<&Matched<'_>> = members.iter().map(|&i| &matches[i]).collect();
    // The record named like the finding speaks first, then the others in id order.
    sources.sort_by_key(|m| (m.record.id != id, m.record.id.as_str()));

    let mut aliases = BTreeSet::new();
    let mut cwe_ids = BTreeSet::new();
    let mut links = Vec::new();
    let mut severity = Severity::Unknown;
    let mut cvss: Option<Cvss> = None;
    let mut fixed: Option<String> = None;
    let (mut published, mut modified) = (None::<OffsetDateTime>, None::<OffsetDateTime>);
    for m in &sources {
        let r = m.record;
        aliases.extend(ids_of(r).filter(|x| *x != id && !other_cves.contains(x)));
        if let Some(cwes) = r
            .database_specific
            .as_ref()
            .and_then(|d| d.get("cwe_ids"))
            .and_then(|c| c.as_array())
        {
            cwe_ids.extend(cwes.iter().filter_map(|c| c.as_str()).map(str::to_string));
        }
        for link in &r.references {
            if !link.url.is_empty() && !links.contains(&link.url) {
                links.push(link.url.clone());
            }
        }
        let (s, c) = rate(m);
        severity = severity.max(s);
        cvss = match (cvss, c) {
            (None, c) => c,
            (Some(a), Some(b)) if prefer(&b, &a) => Some(b),
            (a, _) => a,
        };
        if let Some(f) = &m.fixed {
            fixed = match fixed {
                Some(cur) if scheme.compare(f, &cur) != Some(Ordering::Greater) => Some(cur),
                _ => Some(f.clone()),
            };
        }
        published = match (published, r.published_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        modified = match (modified, r.modified_at()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let text = |f: fn(&Record) -> Option<&String>| {
        sources
            .iter()
            .find_map(|m| f(m.record).filter(|s| !s.trim().is_empty()))
            .cloned()
            .unwrap_or_default()
    };
    Finding {
        id: id.to_string(),
        aliases: aliases.into_iter().map(str::to_string).collect(),
        source_ids: sources
            .iter()
            .map(|m| m.record.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        summary: text(|r| r.summary.as_ref()),
        description: text(|r| r.details.as_ref()),
        fixed_version: fixed,
        severity,
        cvss,
        cwe_ids: cwe_ids.into_iter().collect(),
        links,
        published,
        modified,
    }
}

/// Whether `b` is the better score to show: a newer major version family first (v3 over
/// v4 over v2, as Harbor's reports expect v3), then the higher score.
fn prefer(b: &Cvss, a: &Cvss) -> bool {
    let rank = |c: &Cvss| match c.version.as_bytes().first() {
        Some(b'3') => 3,
        Some(b'4') => 2,
        _ => 1,
    };
    (rank(b), b.score) > (rank(a), a.score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Package;

    fn record(id: &str, aliases: &[&str], sev: Option<(&str, &str)>) -> Record {
        Record {
            id: id.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            severity: sev
                .map(|(k, s)| {
                    vec![SeverityScore {
                        kind: k.into(),
                        score: s.into(),
                    }]
                })
                .unwrap_or_default(),
            summary: Some(format!("summary of {id}")),
            affected: vec![Affected {
                package: Some(Package::default()),
                ..Affected::default()
            }],
            ..Record::default()
        }
    }

    fn matched<'a>(r: &'a Record, fixed: &str) -> Matched<'a> {
        Matched {
            record: r,
            affected: &r.affected[0],
            fixed: Some(fixed.into()),
        }
    }

    #[test]
    fn records_sharing_a_cve_merge_and_multi_cve_records_split() {
        let dsa = record("DSA-1-1", &["CVE-2023-1", "CVE-2023-2"], None);
        let ghsa = record(
            "GHSA-aaaa",
            &["CVE-2023-2"],
            Some(("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")),
        );
        let lone = record("GO-2023-9", &[], None);
        let m = [
            matched(&dsa, "1.2-1"),
            matched(&ghsa, "1.3-1"),
            matched(&lone, "2.0"),
        ];
        let f = build(&m, "Debian:12");
        let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["CVE-2023-1", "CVE-2023-2", "GO-2023-9"]);
        assert_eq!(f[0].aliases, ["DSA-1-1"]);
        assert_eq!(f[0].source_ids, ["DSA-1-1"]);
        assert_eq!(f[0].severity, Severity::Unknown);
        assert_eq!(f[1].aliases, ["DSA-1-1", "GHSA-aaaa"]);
        assert_eq!(f[1].source_ids, ["DSA-1-1", "GHSA-aaaa"]);
        assert_eq!(f[1].severity, Severity::Critical);
        assert_eq!(
            f[1].fixed_version.as_deref(),
            Some("1.3-1"),
            "the later fix covers both"
        );
        assert_eq!(f[1].cvss.as_ref().map(|c| c.score), Some(9.8));
    }

    #[test]
    fn severity_words_and_preference_of_v3() {
        let mut r = record(
            "GHSA-x",
            &[],
            Some((
                "CVSS_V4",
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            )),
        );
        r.severity.push(SeverityScore {
            kind: "CVSS_V3".into(),
            score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N".into(),
        });
        let (s, c) = rate(&matched(&r, "1"));
        assert_eq!(c.unwrap().version, "3.1");
        assert_eq!(s, Severity::Medium);

        let mut w = record("GHSA-y", &[], None);
        w.database_specific =
            Some(serde_json::json!({"severity": "MODERATE", "cwe_ids": ["CWE-79"]}));
        let f = build(&[matched(&w, "1")], "npm");
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].cwe_ids, ["CWE-79"]);
        assert!(f[0].cvss.is_none());
    }
}
