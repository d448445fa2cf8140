//! Local user accounts.

use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::{USER_COLUMNS, UserRow, to_u64};
use crate::sql::{limit_offset, with_pool};
use crate::{Error, NewUser, Result, User, UserId, Users};

impl Users<'_> {
    /// Creates a user; [`Error::Conflict`] when the username is taken.
    pub async fn create_user(self, new: NewUser) -> Result<User> {
        let t = DbTime(now());
        let sql = format!(
            "INSERT INTO users (username, email, realname, comment, password_hash, sysadmin, \
             creation_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING {USER_COLUMNS}"
        );
        let res = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(&new.username)
                .bind(&new.email)
                .bind(&new.realname)
                .bind(&new.comment)
                .bind(&new.password_hash)
                .bind(new.sysadmin)
                .bind(t)
                .fetch_one(pool)
                .await
        });
        match res {
            Ok(row) => Ok(row.into()),
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
                "user {} already exists",
                new.username
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this id.
    pub async fn get_user(self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(User::from))
    }

    /// The user with this username (exact match).
    pub async fn get_user_by_name(self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(User::from))
    }

    /// Replaces the user's password hash (an argon2 PHC string).
    pub async fn set_password(self, id: UserId, password_hash: &str) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("UPDATE users SET password_hash = $2, update_time = $3 WHERE id = $1")
                .bind(id.0)
                .bind(password_hash)
                .bind(DbTime(now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }

    /// Grants or revokes system administrator rights.
    pub async fn set_sysadmin(self, id: UserId, sysadmin: bool) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("UPDATE users SET sysadmin = $2, update_time = $3 WHERE id = $1")
                .bind(id.0)
                .bind(sysadmin)
                .bind(DbTime(now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done)
    }

    /// Updates the profile fields a user may edit about themselves.
    pub async fn update_user_profile(
        self,
        id: UserId,
        email: &str,
        realname: &str,
        comment: &str,
    ) -> Result<()> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE users SET email = $2, realname = $3, comment = $4, update_time = $5 \
                 WHERE id = $1",
            )
            .bind(id.0)
            .bind(email)
            .bind(realname)
            .bind(comment)
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done)
    }

    /// Deletes a user; [`Error::Conflict`] while they still own projects.
    pub async fn delete_user(self, id: UserId) -> Result<()> {
        let res = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        match res {
            Ok(n) => found(n),
            Err(e) if is_foreign_key_violation(&e) => {
                Err(Error::Conflict("the user still owns projects".to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One page (1-based) of users by username, and the total count.
    pub async fn list_users(self, page: u64, page_size: u64) -> Result<(Vec<User>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username LIMIT $1 OFFSET $2");
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(User::from).collect(), to_u64(total)))
    }
}

/// `Ok` when a statement touched a row, [`Error::NotFound`] when it touched none.
pub(crate) fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}
