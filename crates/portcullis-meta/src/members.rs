//! Project membership: which users hold which Harbor role in which project.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::sql::{Arg, Sql, bind_args, contains_pattern, with_pool};
use crate::users::found;
use crate::{Error, Members, ProjectId, Result, UserId};

/// One user's role in one project (Harbor's project member of entity type `u`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The membership's own id (Harbor's `mid`).
    pub id: i64,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub username: String,
    /// Harbor role id: 1 projectAdmin, 2 developer, 3 guest, 4 maintainer, 5 limitedGuest.
    pub role_id: i32,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: i64,
    project_id: i64,
    user_id: i64,
    username: String,
    role_id: i32,
    creation_time: DbTime,
    update_time: DbTime,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            id: r.id,
            project_id: ProjectId(r.project_id),
            user_id: UserId(r.user_id),
            username: r.username,
            role_id: r.role_id,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        }
    }
}

const MEMBER_SELECT: &str = "SELECT m.id, m.project_id, m.user_id, u.username, m.role_id, \
     m.creation_time, m.update_time FROM project_members m JOIN users u ON u.id = m.user_id";

impl Members<'_> {
    /// Adds `user` to `project` with `role_id`. [`Error::Conflict`] when already a member,
    /// [`Error::NotFound`] when the project or user does not exist.
    pub async fn add_member(
        self,
        project: ProjectId,
        user: UserId,
        role_id: i32,
    ) -> Result<Member> {
        let t = DbTime(now());
        let res = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO project_members (project_id, user_id, role_id, creation_time, \
                 update_time) VALUES ($1, $2, $3, $4, $4) RETURNING id",
            )
            .bind(project.0)
            .bind(user.0)
            .bind(role_id)
            .bind(t)
            .fetch_one(pool)
            .await
        });
        let id = match res {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(
                    "the user is already a member of the project".into(),
                ));
            }
            Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotFound),
            Err(e) => return Err(e.into()),
        };
        let sql = format!("{MEMBER_SELECT} WHERE m.id = $1");
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row.into())
    }

    /// The project's members by username, optionally those whose name contains `entity_name`.
    pub async fn list_members(
        self,
        project: ProjectId,
        entity_name: Option<&str>,
    ) -> Result<Vec<Member>> {
        let mut sql = Sql::new(MEMBER_SELECT);
        sql.push(" WHERE m.project_id = ").bind(Arg::I64(project.0));
        if let Some(needle) = entity_name.filter(|s| !s.is_empty()) {
            sql.push(" AND LOWER(u.username) LIKE ")
                .bind(Arg::Text(contains_pattern(needle)))
                .push(" ESCAPE '\\'");
        }
        sql.push(" ORDER BY u.username");
        let rows = with_pool!(self, read, |pool| {
            bind_args!(
                sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql.text)),
                sql.args
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Member::from).collect())
    }

    /// The membership `member_id` of `project`.
    pub async fn get_member(self, project: ProjectId, member_id: i64) -> Result<Option<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.project_id = $1 AND m.id = $2");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, MemberRow>(AssertSqlSafe(sql))
                .bind(project.0)
                .bind(member_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Member::from))
    }

    /// Changes a member's role.
    pub async fn update_member_role(
        self,
        project: ProjectId,
        member_id: i64,
        role_id: i32,
    ) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE project_members SET role_id = $3, update_time = $4 \
                 WHERE project_id = $1 AND id = $2",
            )
            .bind(project.0)
            .bind(member_id)
            .bind(role_id)
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Removes a member from the project.
    pub async fn delete_member(self, project: ProjectId, member_id: i64) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND id = $2")
                .bind(project.0)
                .bind(member_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }

    /// Every project the user is a member of, with the role held there.
    pub async fn roles_of_user(self, user: UserId) -> Result<Vec<(ProjectId, i32)>> {
        let rows: Vec<(i64, i32)> = with_pool!(self, read, |pool| {
            sqlx::query_as("SELECT project_id, role_id FROM project_members WHERE user_id = $1")
                .bind(user.0)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(p, r)| (ProjectId(p), r)).collect())
    }

    /// The user's role in the project, if a member.
    pub async fn role_in_project(self, project: ProjectId, user: UserId) -> Result<Option<i32>> {
        let role = with_pool!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT role_id FROM project_members WHERE project_id = $1 AND user_id = $2",
            )
            .bind(project.0)
            .bind(user.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(role)
    }
}
