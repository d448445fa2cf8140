//! Storage quotas per project (`/api/v2.0/quotas`) and the usage kept beside them.
//!
//! Usage is the size of the unique blobs and manifests the project's artifacts reference.
//! It is recomputed from the rows inside the transaction of every manifest commit, copy
//! and delete, after the quota row has been locked, so it stays exact whatever runs
//! concurrently and can never drift.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, limit_offset, with_pool};
use crate::users::found;
use crate::{ProjectId, Quotas, Result};

/// A quota's id (Harbor's quota `id`, distinct from the project's).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct QuotaId(pub i64);

/// A project's storage quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub id: QuotaId,
    pub project_id: ProjectId,
    pub project_name: String,
    pub owner_name: String,
    /// Bytes; -1 is unlimited.
    pub hard: i64,
    pub used: i64,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// How a commit changed a project's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub hard: i64,
    pub before: i64,
    pub after: i64,
}

/// Sort keys of [`Quotas::list_quotas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSort {
    Hard,
    Used,
    CreationTime,
    UpdateTime,
}

/// Filters and order of [`Quotas::list_quotas`].
#[derive(Debug, Clone, Default)]
pub struct QuotaQuery {
    pub project_id: Option<ProjectId>,
    /// Key and descending; by id when unset.
    pub sort: Option<(QuotaSort, bool)>,
}

/// Usage of project `$1`: the size of every blob associated with it, counted once. A blob
/// is associated when it is uploaded or mounted into one of the project's repositories
/// (as Harbor counts it, so that blobs no manifest references yet cannot fill storage
/// past the limit) and while an artifact of the project references it; deleting the
/// last such artifact ends the association.
pub(crate) const USAGE_SQL: &str = "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) \
     FROM project_blobs pb JOIN blobs b ON b.digest = pb.digest WHERE pb.project_id = $1";

/// After an artifact of `project` was deleted: the statement ending the associations of
/// `digests` that no artifact of the project still stands on. Their repository links
/// stay, as Distribution keeps them, until the blob is deleted or collected; without the
/// association they are neither counted nor served.
pub(crate) fn release_sql(project: i64, digests: &[String]) -> crate::sql::Sql {
    let mut q = Sql::new("DELETE FROM project_blobs WHERE project_id = ");
    q.bind(Arg::I64(project))
        .push(" AND digest IN ")
        .bind_list(digests.iter().map(|d| Arg::Text(d.clone())))
        .push(
            " AND NOT EXISTS (SELECT 1 FROM artifact_blobs ab \
             JOIN artifacts a ON a.id = ab.artifact_id \
             JOIN repositories r ON r.id = a.repository_id \
             WHERE ab.digest = project_blobs.digest AND r.project_id = ",
        )
        .bind(Arg::I64(project))
        .push(
            ") AND NOT EXISTS (SELECT 1 FROM artifacts a \
             JOIN repositories r ON r.id = a.repository_id \
             WHERE a.digest = project_blobs.digest AND r.project_id = ",
        )
        .bind(Arg::I64(project))
        .push(")");
    q
}

/// Inside a transaction: locks the project's quota row (creating it, unlimited, if a
/// project predates it) and yields `(hard, used)`. Commits in one project are thereby
/// ordered, so each one's recount sees the others' rows.
macro_rules! lock_quota {
    ($tx:ident, $project:expr, $t:expr) => {{
        sqlx::query(
            "INSERT INTO quotas (project_id, hard, used, creation_time, update_time) \
             VALUES ($1, -1, 0, $2, $2) ON CONFLICT (project_id) DO NOTHING",
        )
        .bind($project)
        .bind($t)
        .execute(&mut *$tx)
        .await?;
        let locked: (i64, i64) = sqlx::query_as(
            "UPDATE quotas SET hard = hard WHERE project_id = $1 RETURNING hard, used",
        )
        .bind($project)
        .fetch_one(&mut *$tx)
        .await?;
        locked
    }};
}

/// Inside a transaction, after [`lock_quota`] and the writes: recounts the project's
/// usage and stores it. With `$refuse` set, a commit that grows usage past the limit
/// returns [`crate::Error::QuotaExceeded`] from the enclosing function, which rolls back
/// everything the transaction wrote.
macro_rules! settle_usage {
    ($tx:ident, $project:expr, $locked:expr, $t:expr, $refuse:expr) => {{
        let (hard, before): (i64, i64) = $locked;
        let after: i64 = sqlx::query_scalar($crate::policy::quotas::USAGE_SQL)
            .bind($project)
            .fetch_one(&mut *$tx)
            .await?;
        if $refuse && hard >= 0 && after > hard && after > before {
            return Err($crate::Error::QuotaExceeded {
                hard,
                used: before,
                requested: after,
            });
        }
        if after != before {
            sqlx::query("UPDATE quotas SET used = $2, update_time = $3 WHERE project_id = $1")
                .bind($project)
                .bind(after)
                .bind($t)
                .execute(&mut *$tx)
                .await?;
        }
        $crate::QuotaUsage {
            hard,
            before,
            after,
        }
    }};
}

pub(crate) use {lock_quota, settle_usage};

const QUOTA_SELECT: &str = "SELECT q.id, q.project_id, p.name AS project_name, \
     u.username AS owner_name, q.hard, q.used, q.creation_time, q.update_time \
     FROM quotas q JOIN projects p ON p.id = q.project_id JOIN users u ON u.id = p.owner_id";

#[derive(sqlx::FromRow)]
struct QuotaRow {
    id: i64,
    project_id: i64,
    project_name: String,
    owner_name: String,
    hard: i64,
    used: i64,
    creation_time: DbTime,
    update_time: DbTime,
}

impl From<QuotaRow> for Quota {
    fn from(r: QuotaRow) -> Self {
        Quota {
            id: QuotaId(r.id),
            project_id: ProjectId(r.project_id),
            project_name: r.project_name,
            owner_name: r.owner_name,
            hard: r.hard,
            used: r.used,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        }
    }
}

impl Quotas<'_> {
    /// One page (1-based) of quotas and the total matching.
    pub async fn list_quotas(
        self,
        query: &QuotaQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Quota>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let mut select = Sql::new(QUOTA_SELECT);
        let mut count = Sql::new("SELECT COUNT(*) FROM quotas q");
        if let Some(p) = query.project_id {
            select.push(" WHERE q.project_id = ").bind(Arg::I64(p.0));
            count.push(" WHERE q.project_id = ").bind(Arg::I64(p.0));
        }
        let order = match query.sort {
            None => " ORDER BY q.id",
            Some((QuotaSort::Hard, false)) => " ORDER BY q.hard, q.id",
            Some((QuotaSort::Hard, true)) => " ORDER BY q.hard DESC, q.id",
            Some((QuotaSort::Used, false)) => " ORDER BY q.used, q.id",
            Some((QuotaSort::Used, true)) => " ORDER BY q.used DESC, q.id",
            Some((QuotaSort::CreationTime, false)) => " ORDER BY q.creation_time, q.id",
            Some((QuotaSort::CreationTime, true)) => " ORDER BY q.creation_time DESC, q.id",
            Some((QuotaSort::UpdateTime, false)) => " ORDER BY q.update_time, q.id",
            Some((QuotaSort::UpdateTime, true)) => " ORDER BY q.update_time DESC, q.id",
        };
        select
            .push(order)
            .push(" LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, QuotaRow>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Quota::from).collect(), to_u64(total)))
    }

    /// The quota with this id.
    pub async fn get_quota(self, id: QuotaId) -> Result<Option<Quota>> {
        let sql = format!("{QUOTA_SELECT} WHERE q.id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, QuotaRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Quota::from))
    }

    /// The project's quota.
    pub async fn project_quota(self, project: ProjectId) -> Result<Option<Quota>> {
        let sql = format!("{QUOTA_SELECT} WHERE q.project_id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, QuotaRow>(AssertSqlSafe(sql))
                .bind(project.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Quota::from))
    }

    /// Sets the project's storage limit (-1: unlimited). A limit below the current usage
    /// is accepted: it stops growth, as Harbor's does, without removing anything.
    pub async fn set_quota_limit(self, project: ProjectId, hard: i64) -> Result<()> {
        let t = DbTime(now());
        let done = with_pool!(self, write, |pool| {
            sqlx::query("UPDATE quotas SET hard = $2, update_time = $3 WHERE project_id = $1")
                .bind(project.0)
                .bind(hard)
                .bind(t)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }
}
