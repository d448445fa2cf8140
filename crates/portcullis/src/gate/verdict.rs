//! The gate's decision and its printout.

use std::fmt::Write as _;

use portcullis_policy::vulnerability::blocked;
use portcullis_policy::{
    Blocked, ScanState, Severity, Threshold, after_allowlist, finding_severity,
};
use serde_json::Value;

use super::client::{Allowlist, Artifact, Served};

/// One finding at or above the threshold.
struct Finding {
    id: String,
    package: String,
    version: String,
    fixed: String,
    severity: Severity,
    allowed: bool,
}

pub struct Verdict {
    image: String,
    scan_status: String,
    /// The report's findings after the allowlist, as the registry counts them.
    scan: ScanState,
    threshold: Threshold,
    /// Counts per severity, highest first, from the scan summary.
    counts: Vec<(String, i64)>,
    total: i64,
    fixable: i64,
    findings: Vec<Finding>,
    signature: Option<String>,
    signature_ok: bool,
    require_signature: bool,
    served: Served,
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Whether a signature state counts: verified, or attached where the project trusts no
/// key of that kind (then nothing can be verified, as in Harbor).
fn signature_counts(sig: &Value, kind: &str) -> bool {
    match sig
        .pointer(&format!("/{kind}/status"))
        .and_then(Value::as_str)
    {
        Some("verified") => true,
        Some("present") => {
            sig.pointer(&format!("/trusted_keys/{kind}"))
                .and_then(Value::as_u64)
                == Some(0)
        }
        _ => false,
    }
}

impl Verdict {
    pub fn new(
        image: String,
        artifact: &Artifact,
        threshold: Threshold,
        vulnerabilities: Vec<Value>,
        allowlist: Allowlist,
        require_signature: bool,
        served: Served,
    ) -> Self {
        let summary = artifact.summary().cloned().unwrap_or(Value::Null);
        let mut counts: Vec<(String, i64)> = summary
            .get("summary")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        counts.sort_by_key(|(k, _)| std::cmp::Reverse(finding_severity(k)));
        let all: Vec<(&str, Severity)> = vulnerabilities
            .iter()
            .map(|v| (str_of(v, "id"), finding_severity(str_of(v, "severity"))))
            .collect();
        let scan_status = artifact.scan_status();
        let scan = match scan_status {
            None => ScanState::NotScanned,
            Some("Success") => after_allowlist(all.iter().copied(), &allowlist),
            Some(other) => ScanState::Unsuccessful(other.to_string()),
        };
        let mut findings: Vec<Finding> = vulnerabilities
            .iter()
            .zip(&all)
            .filter(|(_, (_, severity))| threshold.reaches(*severity))
            .map(|(v, (id, severity))| Finding {
                id: id.to_string(),
                package: str_of(v, "package").to_string(),
                version: str_of(v, "version").to_string(),
                fixed: str_of(v, "fix_version").to_string(),
                severity: *severity,
                allowed: allowlist.contains(*id),
            })
            .collect();
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        let sig = artifact.signatures().cloned().unwrap_or(Value::Null);
        let signature_ok = signature_counts(&sig, "cosign") || signature_counts(&sig, "notation");
        let signature = (!sig.is_null()).then(|| {
            ["cosign", "notation"]
                .iter()
                .map(|k| {
                    let status = sig
                        .pointer(&format!("/{k}/status"))
                        .and_then(Value::as_str)
                        .unwrap_or("none");
                    match sig.pointer(&format!("/{k}/key")).and_then(Value::as_str) {
                        Some(key) => format!("{k}: {status} by {key}"),
                        None => format!("{k}: {status}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
        Verdict {
            image,
            scan_status: scan_status.unwrap_or("Not Scanned").to_string(),
            scan,
            threshold,
            counts,
            total: summary.get("total").and_then(Value::as_i64).unwrap_or(0),
            fixable: summary.get("fixable").and_then(Value::as_i64).unwrap_or(0),
            findings,
            signature,
            signature_ok,
            require_signature,
            served,
        }
    }

    /// Why the image fails; empty when it passes.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        match blocked(self.threshold, &self.scan) {
            Some(Blocked::NotScanned | Blocked::Unsuccessful(_)) => out.push(format!(
                "the scan did not succeed (status {})",
                self.scan_status
            )),
            Some(Blocked::Vulnerable { reaching, .. }) => out.push(format!(
                "{reaching} vulnerabilities of severity {} or higher are not on the CVE allowlist",
                self.threshold.label()
            )),
            None => {}
        }
        if self.require_signature && !self.signature_ok {
            out.push("no verified cosign or notation signature is attached".into());
        }
        if let Served::Refused(m) = &self.served {
            out.push(format!("the registry refuses to serve it: {m}"));
        }
        out
    }

    pub fn passed(&self) -> bool {
        self.reasons().is_empty()
    }

    pub fn render(&self, show: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "image      {}", self.image);
        let _ = writeln!(s, "scan       {}", self.scan_status);
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            s,
            "findings   {} in all, {} fixable{}{}",
            self.total,
            self.fixable,
            if counts.is_empty() { "" } else { ": " },
            counts.join(", ")
        );
        if let Some(sig) = &self.signature {
            let _ = writeln!(s, "signatures {sig}");
        }
        if !self.findings.is_empty() {
            let _ = writeln!(
                s,
                "\n{:<20} {:<10} {:<28} {:<20} {:<20}",
                "VULNERABILITY", "SEVERITY", "PACKAGE", "VERSION", "FIXED IN"
            );
            for f in self.findings.iter().take(show) {
                let id = if f.allowed {
                    format!("{} (allowed)", f.id)
                } else {
                    f.id.clone()
                };
                let _ = writeln!(
                    s,
                    "{:<20} {:<10} {:<28} {:<20} {:<20}",
                    id,
                    f.severity.as_str(),
                    f.package,
                    f.version,
                    if f.fixed.is_empty() { "-" } else { &f.fixed }
                );
            }
            if self.findings.len() > show {
                let _ = writeln!(s, "… and {} more", self.findings.len() - show);
            }
        }
        let reasons = self.reasons();
        if reasons.is_empty() {
            let _ = writeln!(
                s,
                "\nPASS: no vulnerability of severity {} or higher outside the allowlist{}",
                self.threshold.label(),
                if self.require_signature {
                    "; signed"
                } else {
                    ""
                }
            );
        } else {
            let _ = writeln!(s, "\nFAIL:");
            for r in reasons {
                let _ = writeln!(s, "  - {r}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(status: &str, sig: Value) -> Artifact {
        Artifact(serde_json::json!({
            "scan_overview": { super::super::client::REPORT_MIME: {
                "scan_status": status,
                "summary": { "total": 3, "fixable": 2, "summary": { "High": 1, "Critical": 1, "Low": 1 } },
            }},
            "signatures": sig,
        }))
    }

    fn vuln(id: &str, severity: &str) -> Value {
        serde_json::json!({ "id": id, "package": "openssl", "version": "3.0.1", "fix_version": "3.0.9", "severity": severity })
    }

    #[test]
    fn thresholds_and_allowlist() {
        let vulns = vec![
            vuln("CVE-1", "Critical"),
            vuln("CVE-2", "High"),
            vuln("CVE-3", "Low"),
        ];
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Threshold::At(Severity::High),
            vulns.clone(),
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert!(!v.passed());
        assert_eq!(v.findings.len(), 2);
        let out = v.render(10);
        assert!(out.contains("FAIL"), "{out}");
        assert!(out.contains("Critical 1, High 1, Low 1"), "{out}");
        let allow: Allowlist = ["CVE-1".to_string(), "CVE-2".to_string()].into();
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Threshold::At(Severity::High),
            vulns.clone(),
            allow,
            false,
            Served::Yes,
        );
        assert!(v.passed(), "{}", v.render(10));
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Threshold::Never,
            vulns,
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert!(v.passed());
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Error", Value::Null),
            Threshold::Never,
            vec![],
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert!(!v.passed());
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Threshold::Never,
            vec![],
            Allowlist::new(),
            false,
            Served::Refused("The image is not signed by cosign.".into()),
        );
        assert!(
            v.render(5)
                .contains("refuses to serve it: The image is not signed by cosign.")
        );
    }

    #[test]
    fn reasons_and_thresholds() {
        let vulns = vec![
            vuln("CVE-1", "Critical"),
            vuln("CVE-2", "High"),
            vuln("CVE-3", "Low"),
            vuln("CVE-4", "whatever"),
        ];
        let judge = |threshold, allow: &[&str], status: &str| {
            Verdict::new(
                "p/r:t".into(),
                &artifact(status, Value::Null),
                threshold,
                vulns.clone(),
                allow.iter().map(|s| s.to_string()).collect(),
                false,
                Served::Yes,
            )
        };
        let high = Threshold::from_cli_word("high").unwrap();
        assert_eq!(
            judge(high, &["CVE-2"], "Success").reasons(),
            ["1 vulnerabilities of severity High or higher are not on the CVE allowlist"]
        );
        // `none` on the command line: findings never fail, a failed scan still does.
        let never = Threshold::from_cli_word("none").unwrap();
        let v = judge(never, &[], "Success");
        assert!(v.passed());
        assert!(v.findings.is_empty());
        assert!(
            v.render(5).contains(
                "PASS: no vulnerability of severity None or higher outside the allowlist"
            )
        );
        assert_eq!(
            judge(never, &[], "Stopped").reasons(),
            ["the scan did not succeed (status Stopped)"]
        );
        // Harbor's None (a project's `severity: none`): every finding counts.
        let all = Threshold::At(Severity::Unknown);
        let v = judge(all, &["CVE-1"], "Success");
        assert_eq!(
            v.reasons(),
            ["3 vulnerabilities of severity None or higher are not on the CVE allowlist"]
        );
        assert_eq!(v.findings.len(), 4);
        let out = v.render(10);
        assert!(out.contains("CVE-1 (allowed)"), "{out}");
        assert!(out.contains("CVE-4                Unknown"), "{out}");
        // No scan overview at all.
        let v = Verdict::new(
            "p/r:t".into(),
            &Artifact(serde_json::json!({})),
            high,
            vec![],
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert_eq!(
            v.reasons(),
            ["the scan did not succeed (status Not Scanned)"]
        );
    }

    #[test]
    fn signatures() {
        let none = serde_json::json!({ "cosign": { "status": "none" }, "notation": { "status": "none" }, "trusted_keys": { "cosign": 0, "notation": 0 } });
        let present_untrusted = serde_json::json!({ "cosign": { "status": "present" }, "notation": { "status": "none" }, "trusted_keys": { "cosign": 0, "notation": 0 } });
        let present_trusted = serde_json::json!({ "cosign": { "status": "present" }, "notation": { "status": "none" }, "trusted_keys": { "cosign": 1, "notation": 0 } });
        let verified = serde_json::json!({ "cosign": { "status": "none" }, "notation": { "status": "verified", "key": "root" }, "trusted_keys": { "cosign": 0, "notation": 1 } });
        for (sig, ok) in [
            (none, false),
            (present_untrusted, true),
            (present_trusted, false),
            (verified, true),
        ] {
            let v = Verdict::new(
                "p/r:t".into(),
                &artifact("Success", sig.clone()),
                Threshold::At(Severity::High),
                vec![],
                Allowlist::new(),
                true,
                Served::Yes,
            );
            assert_eq!(v.passed(), ok, "{sig}");
        }
    }
}
