//! The audit log: who did what, when, from where, and whether it worked.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::DbTime;
use crate::model::NewAuditEntry;
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, contains_pattern, in_tx, limit_offset, with_pool};
use crate::{Audit, ProjectId, Result};

/// Rows per multi-row insert, well under both backends' placeholder limits.
pub(crate) const INSERT_CHUNK: usize = 200;

/// Inside a transaction: appends `entries` with multi-row inserts (the batched writer and
/// the outbox's completion share it).
macro_rules! insert_audit {
    ($tx:ident, $entries:expr) => {
        for chunk in $entries.chunks($crate::audit::INSERT_CHUNK) {
            let mut sql = $crate::sql::Sql::new(
                "INSERT INTO audit_log (op_time, username, operation, resource_type, \
                 resource, project_id, client_ip, success, description) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(Arg::Time(DbTime::from(e.op_time)))
                    .push(", ")
                    .bind(Arg::Text(e.username.clone()))
                    .push(", ")
                    .bind(Arg::Text(e.operation.clone()))
                    .push(", ")
                    .bind(Arg::Text(e.resource_type.clone()))
                    .push(", ")
                    .bind(Arg::Text(e.resource.clone()))
                    .push(", ")
                    .bind(Arg::OptI64(e.project_id.map(|p| p.0)))
                    .push(", ")
                    .bind(Arg::Text(e.client_ip.clone()))
                    .push(", ")
                    .bind(Arg::Bool(e.success))
                    .push(", ")
                    .bind(Arg::Text(e.description.clone()))
                    .push(")");
            }
            bind_args!(sqlx::query(AssertSqlSafe(sql.text)), sql.args)
                .execute(&mut *$tx)
                .await?;
        }
    };
}
pub(crate) use insert_audit;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub op_time: OffsetDateTime,
    pub username: String,
    /// `create`, `delete`, `pull`, `update`, `login`, …
    pub operation: String,
    /// `artifact`, `user`, `project`, `member`, `robot`, `repository`, `tag`, …
    pub resource_type: String,
    pub resource: String,
    pub project_id: Option<ProjectId>,
    pub client_ip: String,
    pub success: bool,
    pub description: String,
}

/// Filters of [`Audit::list_audit`]; every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries of these projects.
    pub projects: Option<Vec<ProjectId>>,
    pub username: Option<String>,
    pub operation: Option<String>,
    pub resource_type: Option<String>,
    /// Case-insensitive substring of the resource.
    pub resource_contains: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    op_time: DbTime,
    username: String,
    operation: String,
    resource_type: String,
    resource: String,
    project_id: Option<i64>,
    client_ip: String,
    success: bool,
    description: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            op_time: r.op_time.0,
            username: r.username,
            operation: r.operation,
            resource_type: r.resource_type,
            resource: r.resource,
            project_id: r.project_id.map(ProjectId),
            client_ip: r.client_ip,
            success: r.success,
            description: r.description,
        }
    }
}

fn audit_filters(sql: &mut Sql, q: &AuditQuery) {
    sql.push(" WHERE 1 = 1");
    if let Some(ids) = &q.projects {
        sql.push(" AND project_id IN ")
            .bind_list(ids.iter().map(|p| Arg::I64(p.0)));
    }
    for (column, value) in [
        ("username", &q.username),
        ("operation", &q.operation),
        ("resource_type", &q.resource_type),
    ] {
        if let Some(v) = value {
            sql.push(&format!(" AND {column} = "))
                .bind(Arg::Text(v.clone()));
        }
    }
    if let Some(needle) = &q.resource_contains {
        sql.push(" AND LOWER(resource) LIKE ")
            .bind(Arg::Text(contains_pattern(needle)))
            .push(" ESCAPE '\\'");
    }
    if let Some(from) = q.from {
        sql.push(" AND op_time >= ")
            .bind(Arg::Time(DbTime::from(from)));
    }
    if let Some(to) = q.to {
        sql.push(" AND op_time <= ")
            .bind(Arg::Time(DbTime::from(to)));
    }
}

impl Audit<'_> {
    /// Appends entries in one transaction (the batched writer calls this).
    pub async fn record_audit(self, entries: &[NewAuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        in_tx!(self, |tx| {
            insert_audit!(tx, entries);
        });
        Ok(())
    }

    /// One page (1-based) of entries matching `q`, newest first, and the total matching.
    pub async fn list_audit(
        self,
        q: &AuditQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let mut select = Sql::new(
            "SELECT id, op_time, username, operation, resource_type, resource, project_id, \
             client_ip, success, description FROM audit_log",
        );
        audit_filters(&mut select, q);
        select
            .push(" ORDER BY op_time DESC, id DESC LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM audit_log");
        audit_filters(&mut count, q);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, AuditRow>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((
            rows.into_iter().map(AuditEntry::from).collect(),
            to_u64(total),
        ))
    }

    /// Deletes entries older than `before`, optionally only those of some operations;
    /// returns how many went.
    pub async fn purge_audit(
        self,
        before: OffsetDateTime,
        operations: Option<&[String]>,
    ) -> Result<u64> {
        self.purge_or_count(before, operations, false).await
    }

    /// The distinct `(operation, resource type)` pairs the log holds, sorted.
    pub async fn event_types(self) -> Result<Vec<(String, String)>> {
        Ok(with_pool!(self, read, |pool| {
            sqlx::query_as::<_, (String, String)>(
                "SELECT DISTINCT operation, resource_type FROM audit_log \
                 ORDER BY resource_type, operation",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many entries `purge_audit` with these arguments would remove (a dry run).
    pub async fn count_purgeable(
        self,
        before: OffsetDateTime,
        operations: Option<&[String]>,
    ) -> Result<u64> {
        self.purge_or_count(before, operations, true).await
    }

    async fn purge_or_count(
        self,
        before: OffsetDateTime,
        operations: Option<&[String]>,
        count_only: bool,
    ) -> Result<u64> {
        let mut sql = Sql::new(if count_only {
            "SELECT COUNT(*) FROM audit_log WHERE op_time < "
        } else {
            "DELETE FROM audit_log WHERE op_time < "
        });
        sql.bind(Arg::Time(DbTime::from(before)));
        if let Some(ops) = operations {
            sql.push(" AND operation IN ")
                .bind_list(ops.iter().map(|o| Arg::Text(o.clone())));
        }
        if count_only {
            let n: i64 = with_pool!(self, read, |pool| {
                bind_args!(sqlx::query_scalar(AssertSqlSafe(sql.text)), sql.args)
                    .fetch_one(pool)
                    .await?
            });
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let n = with_pool!(self, write, |pool| {
            bind_args!(sqlx::query(AssertSqlSafe(sql.text)), sql.args)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
