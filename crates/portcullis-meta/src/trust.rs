//! Keys and certificates projects trust for signature verification.

use serde::Serialize;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::sql::with_pool;
use crate::{Error, ProjectId, Result, Trust};

/// A trusted cosign key (`kind` "cosign") or notation certificate ("notation"), as PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedKeyRecord {
    pub id: i64,
    pub project_id: ProjectId,
    pub name: String,
    pub kind: String,
    pub pem: String,
    pub creation_time: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    project_id: i64,
    name: String,
    kind: String,
    pem: String,
    creation_time: DbTime,
}

impl From<Row> for TrustedKeyRecord {
    fn from(r: Row) -> Self {
        TrustedKeyRecord {
            id: r.id,
            project_id: ProjectId(r.project_id),
            name: r.name,
            kind: r.kind,
            pem: r.pem,
            creation_time: r.creation_time.0,
        }
    }
}

impl Trust<'_> {
    /// Adds a trusted key to a project. [`Error::Conflict`] when the project already has
    /// one of that name, [`Error::NotFound`] when the project does not exist.
    pub async fn add_trusted_key(
        self,
        project: ProjectId,
        name: &str,
        kind: &str,
        pem: &str,
    ) -> Result<TrustedKeyRecord> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, Row>(
                "INSERT INTO trusted_keys (project_id, name, kind, pem, creation_time) \
                 VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, project_id, name, kind, pem, creation_time",
            )
            .bind(project.0)
            .bind(name)
            .bind(kind)
            .bind(pem)
            .bind(DbTime(now()))
            .fetch_one(pool)
            .await
        });
        match res {
            Ok(r) => Ok(r.into()),
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
                "the project already trusts a key named {name}"
            ))),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The project's trusted keys, by name.
    pub async fn trusted_keys(self, project: ProjectId) -> Result<Vec<TrustedKeyRecord>> {
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, Row>(
                "SELECT id, project_id, name, kind, pem, creation_time FROM trusted_keys \
                 WHERE project_id = $1 ORDER BY name",
            )
            .bind(project.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(TrustedKeyRecord::from).collect())
    }

    /// Removes a trusted key of a project. False when there was none.
    pub async fn remove_trusted_key(self, project: ProjectId, id: i64) -> Result<bool> {
        let n = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM trusted_keys WHERE project_id = $1 AND id = $2")
                .bind(project.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}
