//! Scan requests accepted by Portcullis acting as a Harbor scanner adapter: their state
//! and, once done, the report, so that a restart loses none of them.

use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::is_unique_violation;
use crate::sql::with_pool;
use crate::users::found;
use crate::{AdapterScans, Error, Result};

/// Where an adapter scan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterScanState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl AdapterScanState {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterScanState::Pending => "pending",
            AdapterScanState::Running => "running",
            AdapterScanState::Succeeded => "succeeded",
            AdapterScanState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => AdapterScanState::Pending,
            "running" => AdapterScanState::Running,
            "succeeded" => AdapterScanState::Succeeded,
            "failed" => AdapterScanState::Failed,
            other => return Err(crate::error::corrupt("adapter scan state", other)),
        })
    }
}

/// One accepted scan request.
#[derive(Clone, PartialEq, Eq)]
pub struct AdapterScan {
    /// The scan request id handed to the caller.
    pub id: String,
    pub state: AdapterScanState,
    /// The scan request as received, without its registry credential.
    pub request: serde_json::Value,
    /// The `Authorization` value for the registry; dropped once the scan ends.
    pub registry_auth: Option<String>,
    /// The report (JSON text) once succeeded.
    pub report: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for AdapterScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterScan")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    state: String,
    request: String,
    registry_auth: Option<String>,
    report: Option<String>,
    error: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl TryFrom<Row> for AdapterScan {
    type Error = Error;

    fn try_from(r: Row) -> Result<Self> {
        Ok(AdapterScan {
            id: r.id,
            state: AdapterScanState::parse(&r.state)?,
            request: serde_json::from_str(&r.request)
                .map_err(|_| crate::error::corrupt("adapter scan request", &r.request))?,
            registry_auth: r.registry_auth,
            report: r.report,
            error: r.error,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

impl AdapterScans<'_> {
    /// Records a new pending scan request.
    pub async fn create_adapter_scan(
        self,
        id: &str,
        request: &serde_json::Value,
        registry_auth: Option<&str>,
    ) -> Result<()> {
        let t = DbTime(now());
        let res = with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO adapter_scans (id, state, request, registry_auth, created_at, \
                 updated_at) VALUES ($1, 'pending', $2, $3, $4, $4)",
            )
            .bind(id)
            .bind(request.to_string())
            .bind(registry_auth)
            .bind(t)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(Error::Conflict(format!("scan request {id} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The scan request with this id.
    pub async fn get_adapter_scan(self, id: &str) -> Result<Option<AdapterScan>> {
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, Row>(
                "SELECT id, state, request, registry_auth, report, error, created_at, \
                 updated_at FROM adapter_scans WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(AdapterScan::try_from).transpose()
    }

    /// Marks a scan as running (again, after a restart).
    pub async fn start_adapter_scan(self, id: &str) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE adapter_scans SET state = 'running', updated_at = $2 \
                 WHERE id = $1 AND state IN ('pending', 'running')",
            )
            .bind(id)
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Ends a scan with its report (`Ok`) or the reason it failed (`Err`), and forgets
    /// the registry credential.
    pub async fn finish_adapter_scan(
        self,
        id: &str,
        outcome: std::result::Result<&str, &str>,
    ) -> Result<()> {
        let (state, report, error) = match outcome {
            Ok(report) => (AdapterScanState::Succeeded, Some(report), None),
            Err(e) => (AdapterScanState::Failed, None, Some(e)),
        };
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE adapter_scans SET state = $2, report = $3, error = $4, \
                 registry_auth = NULL, updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(report)
            .bind(error)
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Removes scan requests created before `before`; returns how many.
    pub async fn purge_adapter_scans(self, before: OffsetDateTime) -> Result<u64> {
        Ok(with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM adapter_scans WHERE created_at < $1")
                .bind(DbTime::from(before))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
