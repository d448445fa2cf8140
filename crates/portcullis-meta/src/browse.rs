//! Lookups of the browsing API (users by name, repositories across several projects) and
//! tag creation, each on the facet of its domain.

use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::{REPOSITORY_SELECT, RepositoryRow, USER_COLUMNS, UserRow, convert_all, to_u64};
use crate::sql::{Arg, Sql, bind_args, contains_pattern, limit_offset, with_pool};
use crate::{
    ArtifactId, Error, ProjectId, Repositories, Repository, RepositoryId, Result, Tags, User, Users,
};
use portcullis_types::Tag;

impl Users<'_> {
    /// One page (1-based) of users whose username contains `needle` (any case), by
    /// username, and the total matching.
    pub async fn search_users(
        self,
        needle: &str,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<User>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let pattern = contains_pattern(needle);
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE LOWER(username) LIKE $1 ESCAPE '\\' \
             ORDER BY username LIMIT $2 OFFSET $3"
        );
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(&pattern)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE LOWER(username) LIKE $1 ESCAPE '\\'",
            )
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(User::from).collect(), to_u64(total)))
    }
}

impl Repositories<'_> {
    /// One page (1-based) of repositories by name across `projects` (all projects when
    /// `None`), optionally with a case-insensitive substring of the name, and the total.
    pub async fn list_repositories_in(
        self,
        projects: Option<&[ProjectId]>,
        name_contains: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Repository>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            if let Some(ids) = projects {
                sql.push(" AND r.project_id IN ")
                    .bind_list(ids.iter().map(|p| Arg::I64(p.0)));
            }
            if let Some(needle) = name_contains.filter(|s| !s.is_empty()) {
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
}

impl Tags<'_> {
    /// Points a new tag at an artifact of the repository; [`Error::Conflict`] when the
    /// repository already has a tag of that name, [`Error::NotFound`] when the artifact is gone.
    pub async fn create_tag(
        self,
        repository: RepositoryId,
        artifact: ArtifactId,
        tag: &Tag,
    ) -> Result<()> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO tags (repository_id, artifact_id, name, push_time) \
                 SELECT $1, id, $3, $4 FROM artifacts WHERE id = $2 AND repository_id = $1",
            )
            .bind(repository.0)
            .bind(artifact.0)
            .bind(tag.as_str())
            .bind(DbTime(now()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match res {
            Ok(0) => Err(Error::NotFound),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(Error::Conflict(format!("tag {tag} already exists")))
            }
            Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}
