//! Harbor's vulnerability report, `application/vnd.security.vulnerability.report;
//! version=1.1`, as the pluggable scanner adapter API defines it.

use portcullis_types::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::matching::{ScanResult, Vulnerability};

/// Media type of the report, as Harbor requests it.
pub const HARBOR_REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";

/// The scanned artifact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HarborArtifact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// Who scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarborScanner {
    pub name: String,
    pub vendor: String,
    pub version: String,
}

impl Default for HarborScanner {
    fn default() -> Self {
        HarborScanner {
            name: "Portcullis".into(),
            vendor: "Portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// `preferred_cvss`: the v3 (or v2) score and vector.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HarborCvss {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_v3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_v2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_v3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_v2: Option<String>,
}

/// One entry of `vulnerabilities`; package type, path, layer and purl are in
/// `vendor_attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarborVulnerability {
    pub id: String,
    pub package: String,
    pub version: String,
    pub fix_version: String,
    pub severity: Severity,
    pub description: String,
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_cvss: Option<HarborCvss>,
    pub cwe_ids: Vec<String>,
    pub vendor_attributes: Map<String, Value>,
}

/// The report document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarborReport {
    pub generated_at: String,
    pub artifact: HarborArtifact,
    pub scanner: HarborScanner,
    pub severity: Severity,
    pub vulnerabilities: Vec<HarborVulnerability>,
}

fn item(v: &Vulnerability) -> HarborVulnerability {
    let a = &v.advisory;
    let p = &v.package;
    let preferred_cvss = a.cvss.as_ref().map(|c| {
        if c.version.starts_with('2') {
            HarborCvss {
                score_v2: Some(c.score),
                vector_v2: Some(c.vector.clone()),
                ..HarborCvss::default()
            }
        } else {
            HarborCvss {
                score_v3: Some(c.score),
                vector_v3: Some(c.vector.clone()),
                ..HarborCvss::default()
            }
        }
    });
    let mut attrs = Map::new();
    attrs.insert("package_type".into(), json!(p.package.kind.as_str()));
    attrs.insert("path".into(), json!(format!("/{}", p.path)));
    if let Some(l) = &p.layer {
        attrs.insert("layer".into(), json!(l));
    }
    attrs.insert("purl".into(), json!(p.purl));
    if a.id != v.id {
        attrs.insert("advisory".into(), json!(a.id));
    }
    if let Some(s) = &p.package.source_name
        && *s != p.package.name
    {
        attrs.insert("source_package".into(), json!(s));
    }
    if let Some(c) = &a.cvss {
        attrs.insert(
            "cvss".into(),
            json!({"version": c.version, "vector": c.vector, "score": c.score}),
        );
    }
    let description = if a.description.is_empty() {
        a.summary.clone()
    } else {
        a.description.clone()
    };
    HarborVulnerability {
        id: v.id.clone(),
        package: p.package.name.clone(),
        version: p.package.version.clone(),
        fix_version: a.fixed_version.clone().unwrap_or_default(),
        severity: a.severity,
        description,
        links: a.links.clone(),
        preferred_cvss,
        cwe_ids: a.cwe_ids.clone(),
        vendor_attributes: attrs,
    }
}

/// Builds Harbor's report for one image. `generated_at` is RFC 3339.
pub fn harbor_report(
    result: &ScanResult,
    artifact: HarborArtifact,
    generated_at: String,
) -> HarborReport {
    HarborReport {
        generated_at,
        artifact,
        scanner: HarborScanner::default(),
        severity: result
            .vulnerabilities
            .iter()
            .map(Vulnerability::severity)
            .max()
            .unwrap_or(Severity::Unknown),
        vulnerabilities: result.vulnerabilities.iter().map(item).collect(),
    }
}
