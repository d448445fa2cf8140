//! SBOMs as OCI artifacts: an SPDX document in a manifest whose `subject` is the
//! scanned image, pushed into the image's repository so that the referrers API and the
//! accessories list find it. The SBOM report row points at it.

use std::future::Future;
use std::pin::Pin;

use portcullis_meta::{FinishedScan, ReportKey, ReportStatus};
use portcullis_types::Digest;

use super::job::ScanJob;
use super::{SBOM_MIME, Scanning};
use crate::error::Result;

/// Harbor's artifact type of SBOM accessories.
pub const SBOM_ARTIFACT_TYPE: &str = "application/vnd.goharbor.harbor.sbom.v1";
/// Media type of the SBOM layer.
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";

/// Where scans put the SBOMs they make: pushed as accessories of the scanned artifact,
/// through the registry's own push path (quota, events, audit), by whoever implements
/// it — the registry does. A seam, so that scanning needs no registry of its own.
pub trait SbomStore: Send + Sync {
    /// Pushes the SBOM of the artifact `key` names and records the SBOM report; several
    /// images (an index) give one document per image, in one array.
    fn store_sbom<'a>(
        &'a self,
        key: &'a ReportKey,
        job: &'a ScanJob,
        sboms: &'a [serde_json::Value],
    ) -> Pin<Box<dyn Future<Output = Result<Digest>> + Send + 'a>>;
}

/// Records the SBOM report of an SBOM stored as `digest` in `repo`.
pub(crate) async fn record_sbom(
    meta: &portcullis_meta::MetaStore,
    key: &ReportKey,
    digest: &Digest,
    repo: &str,
) -> Result<()> {
    let sbom_key = ReportKey {
        mime_type: SBOM_MIME.to_string(),
        ..key.clone()
    };
    let done = FinishedScan {
        report: Some(super::codec::pack(
            &serde_json::json!({ "sbom_digest": digest.to_string() }),
        )),
        log: format!("SBOM stored as {digest} in {repo}\n"),
        ..FinishedScan::default()
    };
    meta.scans()
        .start_scan(&sbom_key, &uuid::Uuid::new_v4().to_string(), 0)
        .await?;
    meta.scans()
        .finish_scan(&sbom_key, ReportStatus::Success, &done)
        .await?;
    Ok(())
}

impl Scanning {
    /// Records that an SBOM was asked for and none came (the scanner makes none), so the
    /// SBOM overview shows an error with the reason instead of nothing.
    pub(crate) async fn sbom_unavailable(&self, key: &ReportKey, reason: &str) -> Result<()> {
        let sbom_key = ReportKey {
            mime_type: SBOM_MIME.to_string(),
            ..key.clone()
        };
        self.meta
            .scans()
            .start_scan(&sbom_key, &uuid::Uuid::new_v4().to_string(), 0)
            .await?;
        let failed = FinishedScan {
            log: format!("{reason}\n"),
            ..FinishedScan::default()
        };
        self.meta
            .scans()
            .finish_scan(&sbom_key, ReportStatus::Error, &failed)
            .await?;
        Ok(())
    }
}
