//! The gate's decision and its printout.

use std::fmt::Write as _;

use anyhow::bail;
use serde_json::Value;

use super::client::{Allowlist, Artifact, Served};

/// Harbor's severity order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
    /// A threshold nothing reaches (`none`).
    Never,
}

impl Severity {
    /// A threshold as written on the command line or in project metadata.
    pub fn parse_threshold(s: &str) -> anyhow::Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" => Severity::Never,
            "negligible" => Severity::Negligible,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => bail!("invalid severity {s:?}: use none, low, medium, high or critical"),
        })
    }

    /// A finding's severity as a report writes it.
    fn of_finding(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            "negligible" => Severity::Negligible,
            _ => Severity::Unknown,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "Unknown",
            Severity::Negligible => "Negligible",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Never => "None",
        }
    }
}

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
    threshold: Severity,
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
        threshold: Severity,
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
        counts.sort_by_key(|(k, _)| std::cmp::Reverse(Severity::of_finding(k)));
        let mut findings: Vec<Finding> = vulnerabilities
            .iter()
            .map(|v| Finding {
                id: str_of(v, "id").to_string(),
                package: str_of(v, "package").to_string(),
                version: str_of(v, "version").to_string(),
                fixed: str_of(v, "fix_version").to_string(),
                severity: Severity::of_finding(str_of(v, "severity")),
                allowed: allowlist.contains(str_of(v, "id")),
            })
            .filter(|f| f.severity >= threshold)
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
            scan_status: artifact.scan_status().unwrap_or("Not Scanned").to_string(),
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
        if self.scan_status != "Success" {
            out.push(format!(
                "the scan did not succeed (status {})",
                self.scan_status
            ));
        }
        let blocking = self.findings.iter().filter(|f| !f.allowed).count();
        if blocking > 0 {
            out.push(format!(
                "{blocking} vulnerabilities of severity {} or higher are not on the CVE allowlist",
                self.threshold.name()
            ));
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
                    f.severity.name(),
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
                self.threshold.name(),
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
            Severity::High,
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
            Severity::High,
            vulns.clone(),
            allow,
            false,
            Served::Yes,
        );
        assert!(v.passed(), "{}", v.render(10));
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Severity::Never,
            vulns,
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert!(v.passed());
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Error", Value::Null),
            Severity::Never,
            vec![],
            Allowlist::new(),
            false,
            Served::Yes,
        );
        assert!(!v.passed());
        let v = Verdict::new(
            "p/r:t".into(),
            &artifact("Success", Value::Null),
            Severity::Never,
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
                Severity::High,
                vec![],
                Allowlist::new(),
                true,
                Served::Yes,
            );
            assert_eq!(v.passed(), ok, "{sig}");
        }
    }
}
