//! Counting a Harbor vulnerability report, and merging the reports of an index's images.
//! Works on the JSON document alone, so reports from any engine are counted alike.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use portcullis_types::Severity;
use serde_json::{Value, json};

/// What Harbor's scan overview shows of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// Highest severity found; `None` when nothing was found.
    pub severity: Option<Severity>,
    pub total: u64,
    pub fixable: u64,
    pub by_severity: BTreeMap<String, u64>,
}

fn severity_of(v: &Value) -> Severity {
    v.get("severity")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Unknown)
}

/// Counts the `vulnerabilities` of a report.
pub fn summarize(report: &Value) -> ReportSummary {
    summarize_findings(
        report
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| {
                let fixable = v
                    .get("fix_version")
                    .and_then(Value::as_str)
                    .is_some_and(|f| !f.is_empty());
                (severity_of(v), fixable)
            }),
    )
}

/// Counts findings given as (severity, has a fix).
pub fn summarize_findings(findings: impl IntoIterator<Item = (Severity, bool)>) -> ReportSummary {
    let mut s = ReportSummary::default();
    for (sev, fixable) in findings {
        s.total += 1;
        if fixable {
            s.fixable += 1;
        }
        *s.by_severity.entry(sev.as_str().to_string()).or_default() += 1;
        s.severity = s.severity.max(Some(sev));
    }
    s
}

/// Harbor's overall severity word: `None` when nothing was found.
pub fn severity_word(s: &ReportSummary) -> String {
    s.severity
        .map_or_else(|| "None".to_string(), |v| v.as_str().to_string())
}

/// One report for several images (an index): every finding once, per (id, package,
/// version), the highest severity overall, the first report's artifact and scanner.
pub fn merge_reports(reports: &[Value]) -> Cow<'_, Value> {
    let Some(first) = reports.first() else {
        return Cow::Owned(json!({"vulnerabilities": [], "severity": "Unknown"}));
    };
    if reports.len() == 1 {
        return Cow::Borrowed(first);
    }
    let mut seen = BTreeSet::new();
    let mut vulns = Vec::new();
    let mut worst = Severity::Unknown;
    for r in reports {
        for v in r
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = (
                v.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("package")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.get("version")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
            if seen.insert(key) {
                worst = worst.max(severity_of(v));
                vulns.push(v.clone());
            }
        }
    }
    let mut out = first.clone();
    out["vulnerabilities"] = Value::Array(vulns);
    out["severity"] = json!(worst.as_str());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(items: &[(&str, &str, &str)]) -> Value {
        json!({
            "severity": "High",
            "vulnerabilities": items.iter().map(|(id, sev, fix)| json!({
                "id": id, "package": "p", "version": "1", "severity": sev, "fix_version": fix
            })).collect::<Vec<_>>()
        })
    }

    #[test]
    fn counts_by_severity_and_fixable() {
        let s = summarize(&report(&[
            ("A", "High", "2"),
            ("B", "Low", ""),
            ("C", "High", ""),
        ]));
        assert_eq!(s.total, 3);
        assert_eq!(s.fixable, 1);
        assert_eq!(s.by_severity["High"], 2);
        assert_eq!(s.severity, Some(Severity::High));
        assert_eq!(severity_word(&summarize(&report(&[]))), "None");
    }

    #[test]
    fn merging_keeps_each_finding_once() {
        let reports = [
            report(&[("A", "High", "2")]),
            report(&[("A", "High", "2"), ("B", "Critical", "")]),
        ];
        let m = merge_reports(&reports);
        let s = summarize(&m);
        assert_eq!(s.total, 2);
        assert_eq!(m["severity"], "Critical");
    }
}
