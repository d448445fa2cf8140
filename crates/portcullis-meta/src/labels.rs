//! Harbor labels: global (scope `g`) or of one project (scope `p`), and the artifacts
//! that carry them.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::sql::{Arg, Sql, bind_args, contains_pattern, limit_offset, with_pool};
use crate::{ArtifactId, Error, Labels, ProjectId, Result};

/// A label. `project_id` is set exactly when `scope` is `p`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub color: String,
    pub scope: String,
    pub project_id: Option<ProjectId>,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// A label to create, or the new values of one.
#[derive(Debug, Clone, Default)]
pub struct NewLabel {
    pub name: String,
    pub description: String,
    pub color: String,
    pub scope: String,
    pub project_id: Option<ProjectId>,
}

/// Filters of [`Labels::list_labels`]; every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct LabelQuery {
    /// Names containing this (any case).
    pub name_contains: Option<String>,
    /// Exactly this name.
    pub name: Option<String>,
    pub scope: Option<String>,
    pub project_id: Option<ProjectId>,
}

#[derive(sqlx::FromRow)]
struct LabelRow {
    id: i64,
    name: String,
    description: String,
    color: String,
    scope: String,
    project_id: Option<i64>,
    creation_time: DbTime,
    update_time: DbTime,
}

impl From<LabelRow> for Label {
    fn from(r: LabelRow) -> Self {
        Label {
            id: r.id,
            name: r.name,
            description: r.description,
            color: r.color,
            scope: r.scope,
            project_id: r.project_id.map(ProjectId),
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        }
    }
}

const LABEL_SELECT: &str = "SELECT l.id, l.name, l.description, l.color, l.scope, l.project_id, \
     l.creation_time, l.update_time FROM labels l";

fn name_taken(name: &str) -> Error {
    Error::Conflict(format!("label {name} already exists"))
}

impl Labels<'_> {
    /// Creates a label. [`Error::Conflict`] when its scope (and project) already has one of
    /// that name, [`Error::NotFound`] when the project does not exist.
    pub async fn create_label(self, new: &NewLabel) -> Result<Label> {
        let t = DbTime(now());
        let res = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO labels (name, description, color, scope, project_id, \
                 creation_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(&new.name)
            .bind(&new.description)
            .bind(&new.color)
            .bind(&new.scope)
            .bind(new.project_id.map(|p| p.0))
            .bind(t)
            .fetch_one(pool)
            .await
        });
        let id = match res {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Err(name_taken(&new.name)),
            Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotFound),
            Err(e) => return Err(e.into()),
        };
        self.get_label_from_writer(id).await
    }

    async fn get_label_from_writer(self, id: i64) -> Result<Label> {
        let sql = format!("{LABEL_SELECT} WHERE l.id = $1");
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, LabelRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Label::from).ok_or(Error::NotFound)
    }

    /// The label `id`.
    pub async fn get_label(self, id: i64) -> Result<Option<Label>> {
        let sql = format!("{LABEL_SELECT} WHERE l.id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, LabelRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Label::from))
    }

    /// One page (1-based) of the labels matching `q`, by name, and the total matching.
    pub async fn list_labels(
        self,
        q: &LabelQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Label>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(n) = &q.name {
                sql.push(" AND l.name = ").bind(Arg::Text(n.clone()));
            }
            if let Some(n) = q.name_contains.as_deref().filter(|n| !n.is_empty()) {
                sql.push(" AND LOWER(l.name) LIKE ")
                    .bind(Arg::Text(contains_pattern(n)))
                    .push(" ESCAPE '\\'");
            }
            if let Some(s) = &q.scope {
                sql.push(" AND l.scope = ").bind(Arg::Text(s.clone()));
            }
            if let Some(p) = q.project_id {
                sql.push(" AND l.project_id = ").bind(Arg::I64(p.0));
            }
        };
        let mut select = Sql::new(LABEL_SELECT);
        filters(&mut select);
        select
            .push(" ORDER BY l.name, l.id LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM labels l");
        filters(&mut count);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, LabelRow>(AssertSqlSafe(select.text)),
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
            rows.into_iter().map(Label::from).collect(),
            crate::rows::to_u64(total),
        ))
    }

    /// Changes a label's name, description and color (its scope and project stay).
    pub async fn update_label(
        self,
        id: i64,
        name: &str,
        description: &str,
        color: &str,
    ) -> Result<Label> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE labels SET name = $2, description = $3, color = $4, update_time = $5 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(name)
            .bind(description)
            .bind(color)
            .bind(DbTime(now()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match res {
            Ok(0) => Err(Error::NotFound),
            Ok(_) => self.get_label_from_writer(id).await,
            Err(e) if is_unique_violation(&e) => Err(name_taken(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a label, detaching it from every artifact. False when there was none.
    pub async fn delete_label(self, id: i64) -> Result<bool> {
        let n = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM labels WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Attaches a label to an artifact. [`Error::Conflict`] when already attached,
    /// [`Error::NotFound`] when either is gone.
    pub async fn add_artifact_label(self, artifact: ArtifactId, label: i64) -> Result<()> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO artifact_labels (artifact_id, label_id, creation_time) \
                 VALUES ($1, $2, $3)",
            )
            .bind(artifact.0)
            .bind(label)
            .bind(DbTime(now()))
            .execute(pool)
            .await
            .map(|_| ())
        });
        match res {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
                "label {label} is already added to the artifact"
            ))),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Detaches a label from an artifact. False when it was not attached.
    pub async fn remove_artifact_label(self, artifact: ArtifactId, label: i64) -> Result<bool> {
        let n = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM artifact_labels WHERE artifact_id = $1 AND label_id = $2")
                .bind(artifact.0)
                .bind(label)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// The labels an artifact carries, by name.
    pub async fn labels_of(self, artifact: ArtifactId) -> Result<Vec<Label>> {
        let sql = format!(
            "{LABEL_SELECT} JOIN artifact_labels al ON al.label_id = l.id \
             WHERE al.artifact_id = $1 ORDER BY l.name, l.id"
        );
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, LabelRow>(AssertSqlSafe(sql))
                .bind(artifact.0)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Label::from).collect())
    }
}
