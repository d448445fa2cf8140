//! Projects and their Harbor metadata.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::{PROJECT_SELECT, ProjectRow, convert_all, metadata_from_json, to_json, to_u64};
use crate::sql::{Arg, Sql, bind_args, contains_pattern, in_tx, limit_offset, with_pool};
use crate::users::found;
use crate::{Error, NewProject, Project, ProjectId, ProjectQuery, Projects, Result};

/// The metadata key Harbor mirrors into the project's `public` flag.
const PUBLIC_KEY: &str = "public";

impl Projects<'_> {
    /// Creates a project; [`Error::Conflict`] when the name is taken, [`Error::NotFound`]
    /// when the owner does not exist. `metadata["public"]` is set from `public`. Its
    /// storage quota is unlimited.
    pub async fn create_project(self, new: NewProject) -> Result<Project> {
        self.create_project_with_quota(new, -1).await
    }

    /// [`Projects::create_project`] with a storage limit in bytes (-1: unlimited),
    /// written in the same transaction as the project.
    pub async fn create_project_with_quota(
        self,
        new: NewProject,
        storage_limit: i64,
    ) -> Result<Project> {
        let mut metadata = new.metadata;
        metadata.insert(PUBLIC_KEY.to_string(), new.public.to_string());
        let t = DbTime(now());
        let id = in_tx!(self, |tx| {
            let res = sqlx::query_scalar::<_, i64>(
                "INSERT INTO projects (name, owner_id, public, metadata, creation_time, \
                 update_time) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(new.name.as_str())
            .bind(new.owner_id.0)
            .bind(new.public)
            .bind(to_json(&metadata))
            .bind(t)
            .fetch_one(&mut *tx)
            .await;
            let id = match res {
                Ok(id) => id,
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::Conflict(format!(
                        "project {} already exists",
                        new.name
                    )));
                }
                Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotFound),
                Err(e) => return Err(e.into()),
            };
            sqlx::query(
                "INSERT INTO quotas (project_id, hard, used, creation_time, update_time) \
                 VALUES ($1, $2, 0, $3, $3)",
            )
            .bind(id)
            .bind(storage_limit)
            .bind(t)
            .execute(&mut *tx)
            .await?;
            ProjectId(id)
        });
        // Read back through the writer: the new row must be visible even to this caller.
        let sql = format!("{PROJECT_SELECT} WHERE p.id = $1");
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    /// The project with this id.
    pub async fn get_project(self, id: ProjectId) -> Result<Option<Project>> {
        let sql = format!("{PROJECT_SELECT} WHERE p.id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(Project::try_from).transpose()
    }

    /// The project with this name.
    pub async fn get_project_by_name(self, name: &str) -> Result<Option<Project>> {
        let sql = format!("{PROJECT_SELECT} WHERE p.name = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(sql))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.map(Project::try_from).transpose()
    }

    /// One page (1-based) of projects matching `query`, by name, and the total matching.
    pub async fn list_projects(
        self,
        query: &ProjectQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Project>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let mut select = Sql::new(PROJECT_SELECT);
        project_filters(&mut select, query);
        select
            .push(" ORDER BY p.name LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count =
            Sql::new("SELECT COUNT(*) FROM projects p JOIN users u ON u.id = p.owner_id");
        project_filters(&mut count, query);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((convert_all(rows)?, to_u64(total)))
    }

    /// Merges `changes` into the project's metadata. A `"public"` key must be `"true"` or
    /// `"false"` and also sets the project's `public` flag.
    pub async fn update_project_metadata(
        self,
        id: ProjectId,
        changes: BTreeMap<String, String>,
    ) -> Result<Project> {
        let public_change = match changes.get(PUBLIC_KEY) {
            Some(v) => Some(parse_bool(v)?),
            None => None,
        };
        let sql = format!("{PROJECT_SELECT} WHERE p.id = $1");
        let row = in_tx!(self, |tx| {
            let current: Option<(String, bool)> =
                sqlx::query_as("SELECT metadata, public FROM projects WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (metadata, public) = current.ok_or(Error::NotFound)?;
            let mut metadata = metadata_from_json(&metadata)?;
            metadata.extend(changes);
            let public = public_change.unwrap_or(public);
            metadata.insert(PUBLIC_KEY.to_string(), public.to_string());
            sqlx::query(
                "UPDATE projects SET metadata = $2, public = $3, update_time = $4 WHERE id = $1",
            )
            .bind(id.0)
            .bind(to_json(&metadata))
            .bind(public)
            .bind(DbTime(now()))
            .execute(&mut *tx)
            .await?;
            sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?
        });
        row.try_into()
    }

    /// Removes one metadata key. The `"public"` key cannot be removed (set it instead).
    pub async fn remove_project_metadata(self, id: ProjectId, key: &str) -> Result<Project> {
        if key == PUBLIC_KEY {
            return Err(Error::Invalid(
                "the public flag cannot be removed".to_string(),
            ));
        }
        let sql = format!("{PROJECT_SELECT} WHERE p.id = $1");
        let row = in_tx!(self, |tx| {
            let current: Option<String> =
                sqlx::query_scalar("SELECT metadata FROM projects WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let mut metadata = metadata_from_json(&current.ok_or(Error::NotFound)?)?;
            if metadata.remove(key).is_some() {
                sqlx::query("UPDATE projects SET metadata = $2, update_time = $3 WHERE id = $1")
                    .bind(id.0)
                    .bind(to_json(&metadata))
                    .bind(DbTime(now()))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query_as::<_, ProjectRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?
        });
        row.try_into()
    }

    /// Deletes an empty project; [`Error::NotEmpty`] while it has repositories.
    pub async fn delete_project(self, id: ProjectId) -> Result<()> {
        let deleted = in_tx!(self, |tx| {
            let repos: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM repositories WHERE project_id = $1")
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await?;
            if repos > 0 {
                return Err(Error::NotEmpty);
            }
            match sqlx::query("DELETE FROM projects WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
            {
                Ok(r) => r.rows_affected(),
                // A repository created concurrently (PostgreSQL) still blocks the delete.
                Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotEmpty),
                Err(e) => return Err(e.into()),
            }
        });
        found(deleted)
    }
}

fn project_filters(sql: &mut Sql, q: &ProjectQuery) {
    sql.push(" WHERE 1 = 1");
    if let Some(name) = &q.name_exact {
        sql.push(" AND p.name = ").bind(Arg::Text(name.clone()));
    }
    if let Some(needle) = &q.name_contains {
        sql.push(" AND LOWER(p.name) LIKE ")
            .bind(Arg::Text(contains_pattern(needle)))
            .push(" ESCAPE '\\'");
    }
    if let Some(public) = q.public {
        sql.push(" AND p.public = ").bind(Arg::Bool(public));
    }
    if let Some(owner) = &q.owner {
        sql.push(" AND u.username = ")
            .bind(Arg::Text(owner.clone()));
    }
    if let Some(ids) = &q.only_ids {
        sql.push(" AND p.id IN ")
            .bind_list(ids.iter().map(|id| Arg::I64(id.0)));
    }
    if let Some(ids) = &q.visible_to {
        sql.push(" AND (p.public = ")
            .bind(Arg::Bool(true))
            .push(" OR p.id IN ")
            .bind_list(ids.iter().map(|id| Arg::I64(id.0)))
            .push(")");
    }
}

fn parse_bool(v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::Invalid(format!(
            "metadata \"public\" must be true or false, not {v:?}"
        ))),
    }
}
