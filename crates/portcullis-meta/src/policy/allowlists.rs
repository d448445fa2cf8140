//! CVE allowlists: the system's (`/api/v2.0/system/CVEAllowlist`) and each project's
//! (`cve_allowlist` on the project). Validation is the caller's.

use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::sql::with_pool;
use crate::{Error, Policies, ProjectId, Result};

/// An allowlist. `project_id` is `None` for the system's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CveAllowlist {
    pub id: i64,
    pub project_id: Option<ProjectId>,
    /// CVE ids, in the order given.
    pub items: Vec<String>,
    /// Seconds since the epoch; `None` never expires.
    pub expires_at: Option<i64>,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct AllowlistRow {
    id: i64,
    project_id: Option<i64>,
    items: String,
    expires_at: Option<i64>,
    creation_time: DbTime,
    update_time: DbTime,
}

impl TryFrom<AllowlistRow> for CveAllowlist {
    type Error = Error;

    fn try_from(r: AllowlistRow) -> Result<Self> {
        let items = serde_json::from_str(&r.items)
            .map_err(|_| crate::error::corrupt("CVE allowlist", &r.items))?;
        Ok(CveAllowlist {
            id: r.id,
            project_id: r.project_id.map(ProjectId),
            items,
            expires_at: r.expires_at,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

const COLUMNS: &str =
    "SELECT id, project_id, items, expires_at, creation_time, update_time FROM cve_allowlists";

impl Policies<'_> {
    /// The system allowlist, or the project's when `project` is set (`None` when the
    /// project never had one).
    pub async fn get_cve_allowlist(
        self,
        project: Option<ProjectId>,
    ) -> Result<Option<CveAllowlist>> {
        let row = with_pool!(self, read, |pool| {
            match project {
                None => {
                    sqlx::query_as::<_, AllowlistRow>(sqlx::AssertSqlSafe(format!(
                        "{COLUMNS} WHERE project_id IS NULL"
                    )))
                    .fetch_optional(pool)
                    .await?
                }
                Some(p) => {
                    sqlx::query_as::<_, AllowlistRow>(sqlx::AssertSqlSafe(format!(
                        "{COLUMNS} WHERE project_id = $1"
                    )))
                    .bind(p.0)
                    .fetch_optional(pool)
                    .await?
                }
            }
        });
        row.map(CveAllowlist::try_from).transpose()
    }

    /// Replaces the system allowlist (`project` `None`) or the project's.
    pub async fn put_cve_allowlist(
        self,
        project: Option<ProjectId>,
        items: &[String],
        expires_at: Option<i64>,
    ) -> Result<()> {
        let t = DbTime(now());
        let items = serde_json::to_string(items).expect("strings serialise");
        with_pool!(self, write, |pool| {
            match project {
                None => {
                    let done = sqlx::query(
                        "UPDATE cve_allowlists SET items = $1, expires_at = $2, \
                         update_time = $3 WHERE project_id IS NULL",
                    )
                    .bind(&items)
                    .bind(expires_at)
                    .bind(t)
                    .execute(pool)
                    .await?
                    .rows_affected();
                    if done == 0 {
                        sqlx::query(
                            "INSERT INTO cve_allowlists (project_id, items, expires_at, \
                             creation_time, update_time) VALUES (NULL, $1, $2, $3, $3)",
                        )
                        .bind(&items)
                        .bind(expires_at)
                        .bind(t)
                        .execute(pool)
                        .await?;
                    }
                }
                Some(p) => {
                    sqlx::query(
                        "INSERT INTO cve_allowlists (project_id, items, expires_at, \
                         creation_time, update_time) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (project_id) DO UPDATE SET items = $2, expires_at = $3, \
                         update_time = $4",
                    )
                    .bind(p.0)
                    .bind(&items)
                    .bind(expires_at)
                    .bind(t)
                    .execute(pool)
                    .await?;
                }
            }
        });
        Ok(())
    }
}
