//! CVE exports: who asked for one, and where its files are once built.

use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::rows::to_u64;
use crate::sql::with_pool;
use crate::{CveExports, Result};

/// One export, keyed by the id of the job that builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CveExport {
    pub job_id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub job_name: String,
    /// Digests of the CSV and JSON files in the blob store, once built.
    pub csv_digest: Option<String>,
    pub json_digest: Option<String>,
    pub row_count: u64,
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str =
    "job_id, user_id, user_name, job_name, csv_digest, json_digest, row_count, created_at";

#[derive(sqlx::FromRow)]
struct ExportRow {
    job_id: i64,
    user_id: i64,
    user_name: String,
    job_name: String,
    csv_digest: Option<String>,
    json_digest: Option<String>,
    row_count: i64,
    created_at: DbTime,
}

impl From<ExportRow> for CveExport {
    fn from(r: ExportRow) -> Self {
        CveExport {
            job_id: r.job_id,
            user_id: r.user_id,
            user_name: r.user_name,
            job_name: r.job_name,
            csv_digest: r.csv_digest,
            json_digest: r.json_digest,
            row_count: to_u64(r.row_count),
            created_at: r.created_at.0,
        }
    }
}

impl CveExports<'_> {
    /// Records a requested export.
    pub async fn create_cve_export(
        self,
        job_id: i64,
        user_id: i64,
        user_name: &str,
        job_name: &str,
    ) -> Result<()> {
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO cve_exports (job_id, user_id, user_name, job_name, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING",
            )
            .bind(job_id)
            .bind(user_id)
            .bind(user_name)
            .bind(job_name)
            .bind(DbTime::from(now()))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records the files of a built export.
    pub async fn finish_cve_export(
        self,
        job_id: i64,
        csv_digest: &str,
        json_digest: &str,
        row_count: u64,
    ) -> Result<()> {
        with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE cve_exports SET csv_digest = $2, json_digest = $3, row_count = $4 \
                 WHERE job_id = $1",
            )
            .bind(job_id)
            .bind(csv_digest)
            .bind(json_digest)
            .bind(i64::try_from(row_count).unwrap_or(i64::MAX))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn get_cve_export(self, job_id: i64) -> Result<Option<CveExport>> {
        let sql = format!("SELECT {COLUMNS} FROM cve_exports WHERE job_id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ExportRow>(sqlx::AssertSqlSafe(sql))
                .bind(job_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(CveExport::from))
    }

    /// The newest exports (at most 100), of one user or of everyone.
    pub async fn list_cve_exports(self, user_id: Option<i64>) -> Result<Vec<CveExport>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM cve_exports WHERE ($1 IS NULL OR user_id = $1) \
             ORDER BY job_id DESC LIMIT 100"
        );
        let rows: Vec<ExportRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(CveExport::from).collect())
    }
}
