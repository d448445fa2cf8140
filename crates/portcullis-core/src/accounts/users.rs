//! Local users: creation (by the admin, or by anyone when self-registration is on),
//! profile changes, password changes, the system-admin flag, deletion.

use portcullis_meta::{NewUser, User, UserId};
use portcullis_types::ErrorCode;

use super::Accounts;
use crate::access::forbidden;
use crate::auth::{Principal, hash_password, verify_password};
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::login::ROBOT_PREFIX;

/// Harbor's password rule: 8 to 128 characters with an upper-case letter, a lower-case
/// letter and a digit.
pub fn check_password(pw: &str) -> Result<()> {
    let n = pw.chars().count();
    let ok = (8..=128).contains(&n)
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::BadRequest,
            "the password must be 8 to 128 characters long with at least one uppercase \
             letter, one lowercase letter and one digit",
        ))
    }
}

fn check_username(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.chars().count() > 255
        || name.starts_with(ROBOT_PREFIX)
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || ",~#$%:\"'/\\".contains(c));
    if bad {
        return Err(Error::new(
            ErrorCode::BadRequest,
            format!("invalid username {name:?}"),
        ));
    }
    Ok(())
}

/// What a new account needs.
#[derive(Clone, Default)]
pub struct UserRequest {
    pub username: String,
    pub email: String,
    pub realname: String,
    pub comment: String,
    pub password: String,
}

async fn hash(password: &str) -> Result<String> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

impl Accounts {
    fn require_user(ctx: &RequestCtx) -> Result<&crate::auth::UserPrincipal> {
        match &ctx.principal {
            Principal::User(u) => Ok(u),
            _ => Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized")),
        }
    }

    fn require_admin(ctx: &RequestCtx) -> Result<()> {
        if ctx.principal.is_sysadmin() {
            Ok(())
        } else {
            Err(forbidden(&ctx.principal))
        }
    }

    /// Creates a local user: the system admin may; anyone may when self-registration is on.
    pub async fn create_user(&self, ctx: &RequestCtx, req: UserRequest) -> Result<User> {
        let allowed = ctx.principal.is_sysadmin()
            || (self.self_registration && matches!(ctx.principal, Principal::Anonymous));
        if !allowed {
            return Err(forbidden(&ctx.principal));
        }
        check_username(&req.username)?;
        check_password(&req.password)?;
        let created = self
            .meta
            .users()
            .create_user(NewUser {
                username: req.username.clone(),
                email: req.email,
                realname: req.realname,
                comment: req.comment,
                password_hash: hash(&req.password).await?,
                sysadmin: false,
            })
            .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "user",
            &req.username,
            None,
            created.is_ok(),
        );
        Ok(created?)
    }

    /// A user's record: the admin may read anyone, others only themselves.
    pub async fn get_user(&self, ctx: &RequestCtx, id: i64) -> Result<User> {
        let me = Self::require_user(ctx)?;
        if !me.sysadmin && me.id != id {
            return Err(forbidden(&ctx.principal));
        }
        self.meta
            .users()
            .get_user(UserId(id))
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("user {id} not found")))
    }

    /// The username of a user id (adding a member by id).
    pub async fn get_user_name(&self, id: i64) -> Result<String> {
        self.meta
            .users()
            .get_user(UserId(id))
            .await?
            .map(|u| u.username)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("user {id} not found")))
    }

    /// A page of users, optionally those whose name contains `needle`; admin only.
    pub async fn list_users(
        &self,
        ctx: &RequestCtx,
        needle: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<User>, u64)> {
        Self::require_user(ctx)?;
        Self::require_admin(ctx)?;
        Ok(match needle {
            Some(n) => self.meta.users().search_users(n, page, page_size).await?,
            None => self.meta.users().list_users(page, page_size).await?,
        })
    }

    /// Users whose name contains `needle`, for any logged-in user (adding members).
    pub async fn search_users(
        &self,
        ctx: &RequestCtx,
        needle: &str,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<User>, u64)> {
        Self::require_user(ctx)?;
        Ok(self
            .meta
            .users()
            .search_users(needle, page, page_size)
            .await?)
    }

    /// Changes a profile: the admin may change anyone's, others only their own.
    pub async fn update_user_profile(
        &self,
        ctx: &RequestCtx,
        id: i64,
        email: &str,
        realname: &str,
        comment: &str,
    ) -> Result<()> {
        let user = self.get_user(ctx, id).await?;
        let res = self
            .meta
            .users()
            .update_user_profile(user.id, email, realname, comment)
            .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "user",
            &user.username,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Deletes a user; admin only, never oneself.
    pub async fn delete_user(&self, ctx: &RequestCtx, id: i64) -> Result<()> {
        let me = Self::require_user(ctx)?;
        Self::require_admin(ctx)?;
        if me.id == id {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "you cannot delete yourself",
            ));
        }
        let user = self.get_user(ctx, id).await?;
        let res = self.meta.users().delete_user(user.id).await;
        self.access.credentials.forget(&user.username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "user",
            &user.username,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Changes a password. Changing one's own needs the old password; the admin may
    /// reset anyone else's without it.
    pub async fn change_password(
        &self,
        ctx: &RequestCtx,
        id: i64,
        old: Option<&str>,
        new: &str,
    ) -> Result<()> {
        let me = Self::require_user(ctx)?.clone();
        let user = self.get_user(ctx, id).await?;
        if me.id == id {
            let old = old.unwrap_or_default();
            let stored = user.password_hash.clone();
            let given = old.to_string();
            let ok = tokio::task::spawn_blocking(move || verify_password(&stored, &given))
                .await
                .map_err(Error::internal)?;
            if !ok {
                self.audit_log.action(
                    &ctx.audit_actor(),
                    "update",
                    "user",
                    &user.username,
                    None,
                    false,
                );
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    "the old password is wrong",
                ));
            }
        }
        check_password(new)?;
        if old == Some(new) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "the new password must differ from the old one",
            ));
        }
        let res = self
            .meta
            .users()
            .set_password(user.id, &hash(new).await?)
            .await;
        self.access.credentials.forget(&user.username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "user",
            &user.username,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Sets or clears the system-admin flag; admin only, never on oneself.
    pub async fn set_sysadmin(&self, ctx: &RequestCtx, id: i64, flag: bool) -> Result<()> {
        let me = Self::require_user(ctx)?;
        Self::require_admin(ctx)?;
        if me.id == id {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "you cannot change your own system admin flag",
            ));
        }
        let user = self.get_user(ctx, id).await?;
        let res = self.meta.users().set_sysadmin(user.id, flag).await;
        self.access.credentials.forget(&user.username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "user",
            &user.username,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_follow_harbor() {
        assert!(check_password("Harbor12345").is_ok());
        assert!(check_password("Short1A").is_err());
        assert!(check_password("alllowercase1").is_err());
        assert!(check_password("ALLUPPERCASE1").is_err());
        assert!(check_password("NoDigitsHere").is_err());
        assert!(check_password(&format!("Aa1{}", "x".repeat(126))).is_err());
        assert!(check_password(&format!("Aa1{}", "x".repeat(125))).is_ok());
    }

    #[test]
    fn usernames_exclude_robots_and_separators() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("robot$x").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username("").is_err());
    }
}
