//! Repositories: creation on first push, listing, the `/v2/_catalog`, deletion.

use portcullis_types::RepoName;
use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::error::is_foreign_key_violation;
use crate::outbox::insert_event_writes;
use crate::policy::{lock_quota, settle_usage};
use crate::rows::{REPOSITORY_SELECT, RepositoryRow, convert_all, to_u64};
use crate::sql::{Arg, Sql, bind_args, contains_pattern, in_tx, limit_offset, with_pool};
use crate::users::found;
use crate::{Error, EventWrites, ProjectId, Repositories, Repository, RepositoryId, Result};

impl Repositories<'_> {
    /// The repository with this full name.
    pub async fn get_repository(self, name: &RepoName) -> Result<Option<Repository>> {
        let sql = format!("{REPOSITORY_SELECT} WHERE r.name = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, RepositoryRow>(AssertSqlSafe(sql))
                .bind(name.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(Repository::try_from).transpose()
    }

    /// The repository with this id.
    pub async fn get_repository_by_id(self, id: RepositoryId) -> Result<Option<Repository>> {
        let sql = format!("{REPOSITORY_SELECT} WHERE r.id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, RepositoryRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(Repository::try_from).transpose()
    }

    /// The repository `name` of `project`, created if missing. Safe when several pushes
    /// create it at once: all of them get the same row. [`Error::NotFound`] when the
    /// project does not exist; [`Error::Conflict`] when the name belongs to another project.
    pub async fn ensure_repository(
        self,
        project: ProjectId,
        name: &RepoName,
    ) -> Result<Repository> {
        let existing = match self.get_repository(name).await? {
            Some(repo) => repo,
            None => {
                let sql = format!("{REPOSITORY_SELECT} WHERE r.name = $1");
                let t = DbTime(now());
                with_pool!(self, write, |pool| {
                    let inserted = sqlx::query(
                        "INSERT INTO repositories (project_id, name, creation_time, update_time) \
                         VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(project.0)
                    .bind(name.as_str())
                    .bind(t)
                    .execute(pool)
                    .await;
                    match inserted {
                        Ok(_) => {}
                        Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotFound),
                        Err(e) => return Err(e.into()),
                    }
                    sqlx::query_as::<_, RepositoryRow>(AssertSqlSafe(sql))
                        .bind(name.as_str())
                        .fetch_one(pool)
                        .await?
                })
                .try_into()?
            }
        };
        if existing.project_id != project {
            return Err(Error::Conflict(format!(
                "repository {name} belongs to another project"
            )));
        }
        Ok(existing)
    }

    /// One page (1-based) of repositories by name, optionally of one project and with a
    /// case-insensitive substring of the name, and the total matching.
    pub async fn list_repositories(
        self,
        project: Option<ProjectId>,
        name_contains: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Repository>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(p) = project {
                sql.push(" AND r.project_id = ").bind(Arg::I64(p.0));
            }
            if let Some(needle) = name_contains {
                sql.push(" AND LOWER(r.name) LIKE ")
                    .bind(Arg::Text(contains_pattern(needle)))
                    .push(" ESCAPE '\\'");
            }
        };
        let mut select = Sql::new(REPOSITORY_SELECT);
        filters(&mut select);
        select
            .push(" ORDER BY r.name LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM repositories r");
        filters(&mut count);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, RepositoryRow>(AssertSqlSafe(select.text)),
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

    /// Repository names in byte order, strictly after `after`, at most `limit` of them,
    /// optionally only those of some projects (`GET /v2/_catalog`).
    pub async fn catalog(
        self,
        after: Option<&str>,
        limit: u32,
        only_projects: Option<&[ProjectId]>,
    ) -> Result<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT name FROM repositories WHERE 1 = 1");
        if let Some(after) = after {
            sql.push(" AND name > ").bind(Arg::Text(after.to_string()));
        }
        if let Some(ids) = only_projects {
            sql.push(" AND project_id IN ")
                .bind_list(ids.iter().map(|id| Arg::I64(id.0)));
        }
        sql.push(" ORDER BY name LIMIT ")
            .bind(Arg::I64(i64::from(limit)));
        let names = with_pool!(self, read, |pool| {
            bind_args!(sqlx::query_scalar(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        Ok(names)
    }

    /// Sets the repository's description.
    pub async fn update_repository_description(
        self,
        id: RepositoryId,
        description: &str,
    ) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("UPDATE repositories SET description = $2, update_time = $3 WHERE id = $1")
                .bind(id.0)
                .bind(description)
                .bind(DbTime(now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }

    /// Deletes the repository with its artifacts, tags and blob links, in one transaction.
    /// The project keeps counting a blob only while another of its repositories links it.
    pub async fn delete_repository(self, id: RepositoryId, events: &EventWrites) -> Result<()> {
        in_tx!(self, |tx| {
            // Touching the row first locks it (PostgreSQL): pushes into the repository wait.
            let project: Option<i64> = sqlx::query_scalar(
                "UPDATE repositories SET update_time = $2 WHERE id = $1 RETURNING project_id",
            )
            .bind(id.0)
            .bind(DbTime(now()))
            .fetch_optional(&mut *tx)
            .await?;
            let project = project.ok_or(Error::NotFound)?;
            let t = DbTime(now());
            let locked = lock_quota!(tx, project, t);
            sqlx::query(
                "DELETE FROM project_blobs WHERE project_id = $1 \
                 AND digest IN (SELECT digest FROM repository_blobs WHERE repository_id = $2) \
                 AND NOT EXISTS (SELECT 1 FROM repository_blobs rb \
                     JOIN repositories r ON r.id = rb.repository_id \
                     WHERE r.project_id = $1 AND rb.repository_id <> $2 \
                     AND rb.digest = project_blobs.digest)",
            )
            .bind(project)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            // Artifacts, tags, references and blob links go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM repositories WHERE id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            settle_usage!(tx, project, locked, t, false);
            insert_event_writes!(tx, events, t);
        });
        Ok(())
    }
}
