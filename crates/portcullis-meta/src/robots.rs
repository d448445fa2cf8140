//! Robot accounts: named credentials with an explicit permission list and an expiry.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, contains_pattern, limit_offset, with_pool};
use crate::users::found;
use crate::{Error, ProjectId, Result, Robots};

/// A robot account. `permissions` is Harbor's `[{kind, namespace, access:[…]}]` list.
#[derive(Clone, PartialEq, Serialize)]
pub struct Robot {
    pub id: i64,
    /// Full name: `robot$<project>+<name>` or `robot$<name>`.
    pub name: String,
    pub description: String,
    /// `"project"` or `"system"`.
    pub level: String,
    pub project_id: Option<ProjectId>,
    /// Argon2 PHC string of the secret; never serialised.
    #[serde(skip)]
    pub secret_hash: String,
    pub disabled: bool,
    /// Days of validity, -1 for never expiring.
    pub duration: i64,
    pub expires_at: Option<OffsetDateTime>,
    pub permissions: serde_json::Value,
    /// Username of whoever created it.
    pub creator: String,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("level", &self.level)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// What [`Robots::create_robot`] needs.
#[derive(Clone)]
pub struct NewRobot {
    pub name: String,
    pub description: String,
    pub level: String,
    pub project_id: Option<ProjectId>,
    pub secret_hash: String,
    pub disabled: bool,
    pub duration: i64,
    pub expires_at: Option<OffsetDateTime>,
    pub permissions: serde_json::Value,
    pub creator: String,
}

/// The fields [`Robots::update_robot`] replaces.
#[derive(Debug, Clone)]
pub struct RobotUpdate {
    pub description: String,
    pub disabled: bool,
    pub duration: i64,
    pub expires_at: Option<OffsetDateTime>,
    pub permissions: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct RobotRow {
    id: i64,
    name: String,
    description: String,
    level: String,
    project_id: Option<i64>,
    secret_hash: String,
    disabled: bool,
    duration: i64,
    expires_at: Option<DbTime>,
    permissions: String,
    creator: String,
    creation_time: DbTime,
    update_time: DbTime,
}

impl TryFrom<RobotRow> for Robot {
    type Error = Error;

    fn try_from(r: RobotRow) -> Result<Self> {
        let permissions = serde_json::from_str(&r.permissions)
            .map_err(|_| crate::error::corrupt("robot permissions", &r.permissions))?;
        Ok(Robot {
            id: r.id,
            name: r.name,
            description: r.description,
            level: r.level,
            project_id: r.project_id.map(ProjectId),
            secret_hash: r.secret_hash,
            disabled: r.disabled,
            duration: r.duration,
            expires_at: r.expires_at.map(|t| t.0),
            permissions,
            creator: r.creator,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

const ROBOT_SELECT: &str = "SELECT id, name, description, level, project_id, secret_hash, \
     disabled, duration, expires_at, permissions, creator, creation_time, update_time FROM robots";

impl Robots<'_> {
    /// Creates a robot; [`Error::Conflict`] when the name is taken, [`Error::NotFound`]
    /// when its project does not exist.
    pub async fn create_robot(self, new: NewRobot) -> Result<Robot> {
        let t = DbTime(now());
        let res = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO robots (name, description, level, project_id, secret_hash, \
                 disabled, duration, expires_at, permissions, creator, creation_time, \
                 update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                 RETURNING id",
            )
            .bind(&new.name)
            .bind(&new.description)
            .bind(&new.level)
            .bind(new.project_id.map(|p| p.0))
            .bind(&new.secret_hash)
            .bind(new.disabled)
            .bind(new.duration)
            .bind(new.expires_at.map(DbTime::from))
            .bind(new.permissions.to_string())
            .bind(&new.creator)
            .bind(t)
            .fetch_one(pool)
            .await
        });
        let id = match res {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict(format!(
                    "robot {} already exists",
                    new.name
                )));
            }
            Err(e) if is_foreign_key_violation(&e) => return Err(Error::NotFound),
            Err(e) => return Err(e.into()),
        };
        let sql = format!("{ROBOT_SELECT} WHERE id = $1");
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, RobotRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    /// The robot with this id.
    pub async fn get_robot(self, id: i64) -> Result<Option<Robot>> {
        let sql = format!("{ROBOT_SELECT} WHERE id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, RobotRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Robot::try_from).transpose()
    }

    /// The robot with this full name.
    pub async fn get_robot_by_name(self, name: &str) -> Result<Option<Robot>> {
        let sql = format!("{ROBOT_SELECT} WHERE name = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, RobotRow>(AssertSqlSafe(sql))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.map(Robot::try_from).transpose()
    }

    /// One page (1-based) of robots by name and the total: those of `project` when given
    /// (else all), optionally with a case-insensitive substring of the name.
    pub async fn list_robots(
        self,
        scope: RobotScope,
        name_contains: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Robot>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            sql.push(" WHERE 1 = 1");
            match scope {
                RobotScope::All => {}
                RobotScope::System => {
                    sql.push(" AND project_id IS NULL");
                }
                RobotScope::AnyProject => {
                    sql.push(" AND project_id IS NOT NULL");
                }
                RobotScope::Project(p) => {
                    sql.push(" AND project_id = ").bind(Arg::I64(p.0));
                }
            }
            if let Some(n) = name_contains.filter(|s| !s.is_empty()) {
                sql.push(" AND LOWER(name) LIKE ")
                    .bind(Arg::Text(contains_pattern(n)))
                    .push(" ESCAPE '\\'");
            }
        };
        let mut select = Sql::new(ROBOT_SELECT);
        filters(&mut select);
        select
            .push(" ORDER BY name LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM robots");
        filters(&mut count);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, RobotRow>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        let robots = rows
            .into_iter()
            .map(Robot::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok((robots, to_u64(total)))
    }

    /// Replaces a robot's description, state, validity and permissions.
    pub async fn update_robot(self, id: i64, u: RobotUpdate) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE robots SET description = $2, disabled = $3, duration = $4, \
                 expires_at = $5, permissions = $6, update_time = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(&u.description)
            .bind(u.disabled)
            .bind(u.duration)
            .bind(u.expires_at.map(DbTime::from))
            .bind(u.permissions.to_string())
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Replaces a robot's secret hash.
    pub async fn set_robot_secret(self, id: i64, secret_hash: &str) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("UPDATE robots SET secret_hash = $2, update_time = $3 WHERE id = $1")
                .bind(id)
                .bind(secret_hash)
                .bind(DbTime(now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }

    /// Deletes a robot.
    pub async fn delete_robot(self, id: i64) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM robots WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }
}

/// Which robots a listing covers (Harbor's `Level` and `ProjectID` filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotScope {
    All,
    /// System-level robots only.
    System,
    /// Project-level robots of every project.
    AnyProject,
    Project(ProjectId),
}
