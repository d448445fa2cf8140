//! Reports: Harbor's vulnerability report, the summary behind Harbor's scan overview, and
//! the terminal table.

mod harbor;
pub mod table;

use std::collections::BTreeMap;

use portcullis_types::Severity;
use serde::{Deserialize, Serialize};

pub use harbor::{
    HARBOR_REPORT_MIME, HarborArtifact, HarborCvss, HarborReport, HarborScanner,
    HarborVulnerability, harbor_report,
};

use crate::matching::{ScanResult, ScanStatus, Vulnerability};

/// Counts per severity and the fixable count, as Harbor's `scan_overview.summary` holds
/// them (`{"total": 3, "fixable": 2, "summary": {"High": 1, "Low": 2}}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VulnerabilitySummary {
    pub total: usize,
    pub fixable: usize,
    pub summary: BTreeMap<Severity, usize>,
}

impl VulnerabilitySummary {
    /// Counts `vulns`.
    pub fn of(vulns: &[Vulnerability]) -> Self {
        let mut s = VulnerabilitySummary::default();
        for v in vulns {
            s.total += 1;
            if v.fixed_version().is_some() {
                s.fixable += 1;
            }
            *s.summary.entry(v.severity()).or_default() += 1;
        }
        s
    }
}

/// What the registry stores per artifact for the pull gate and the scan overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    #[serde(flatten)]
    pub status: ScanStatus,
    /// Highest severity found; `None` when nothing was found or the image is unsupported.
    pub severity: Option<Severity>,
    pub summary: VulnerabilitySummary,
}

impl ScanSummary {
    /// Summarises one image's result.
    pub fn of(result: &ScanResult) -> Self {
        ScanSummary {
            status: result.status.clone(),
            severity: result
                .vulnerabilities
                .iter()
                .map(Vulnerability::severity)
                .max(),
            summary: VulnerabilitySummary::of(&result.vulnerabilities),
        }
    }
}
