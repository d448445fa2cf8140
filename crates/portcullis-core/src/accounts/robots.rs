//! Robot accounts: `robot$<project>+<name>` limited to one project, or `robot$<name>`
//! at system level. The secret is shown once and stored hashed.

use portcullis_meta::{NewRobot, Robot, RobotScope, RobotUpdate};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::Accounts;
use crate::access::forbidden;
use crate::auth::{Principal, hash_password, random_secret};
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::login::ROBOT_PREFIX;
use crate::rbac::{is_project_permission, is_system_permission};

/// One access entry of a robot permission.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct RobotAccess {
    pub resource: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// Harbor's `RobotPermission`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct RobotPermission {
    pub kind: String,
    pub namespace: String,
    #[serde(default)]
    pub access: Vec<RobotAccess>,
}

/// Harbor's robot create/update body.
#[derive(Debug, Clone, Deserialize)]
pub struct RobotRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub disable: bool,
    #[serde(default)]
    pub permissions: Vec<RobotPermission>,
    /// A caller-chosen secret (must follow the password rule).
    #[serde(default)]
    pub secret: Option<String>,
}

/// Longest robot lifetime that is not "never": far past any real need, and well inside
/// what a timestamp holds (Harbor's own date arithmetic would overflow beyond).
const MAX_DURATION_DAYS: i64 = 365 * 1000;

fn expiry(duration: i64) -> Result<Option<time::OffsetDateTime>> {
    match duration {
        -1 => Ok(None),
        d if d > 0 && d <= MAX_DURATION_DAYS => Ok(Some(
            time::OffsetDateTime::now_utc() + time::Duration::days(d),
        )),
        _ => Err(Error::new(
            ErrorCode::BadRequest,
            format!(
                "duration must be -1 (never expires) or a number of days from 1 to {MAX_DURATION_DAYS}"
            ),
        )),
    }
}

impl Accounts {
    /// Checks that the caller may manage robots at the level and namespaces of `req`;
    /// returns the project of a project robot.
    async fn robot_scope(
        &self,
        ctx: &RequestCtx,
        level: &str,
        permissions: &[RobotPermission],
        action: &str,
    ) -> Result<Option<portcullis_meta::Project>> {
        if !matches!(ctx.principal, Principal::User(_)) {
            return Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized"));
        }
        for p in permissions {
            // System permissions (kind "system", namespace "/") only on system robots.
            let system = p.kind == "system";
            if system && (level != "system" || p.namespace != "/") {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    "system permissions go to a system robot, with namespace \"/\"",
                ));
            }
            for a in &p.access {
                if let Some(e) = a.effect.as_deref()
                    && !matches!(e, "" | "allow" | "deny")
                {
                    return Err(Error::new(
                        ErrorCode::BadRequest,
                        format!("invalid effect {e:?}: use allow or deny"),
                    ));
                }
                let known = if system {
                    is_system_permission(&a.resource, &a.action)
                } else {
                    is_project_permission(&a.resource, &a.action)
                };
                if !known {
                    return Err(Error::new(
                        ErrorCode::BadRequest,
                        format!("unknown permission {}:{}", a.resource, a.action),
                    ));
                }
            }
        }
        match level {
            "system" => {
                if !ctx.principal.is_sysadmin() {
                    return Err(forbidden(&ctx.principal));
                }
                Ok(None)
            }
            "project" => {
                let [perm] = permissions else {
                    return Err(Error::new(
                        ErrorCode::BadRequest,
                        "a project robot has exactly one permission entry, of its project",
                    ));
                };
                let (p, _) = self
                    .access
                    .project_for(&ctx.principal, &perm.namespace, true, "robot", action)
                    .await?;
                Ok(Some(p))
            }
            other => Err(Error::new(
                ErrorCode::BadRequest,
                format!("level must be \"system\" or \"project\", not {other:?}"),
            )),
        }
    }

    /// Creates a robot; returns it and its secret (shown this once).
    pub async fn create_robot(
        &self,
        ctx: &RequestCtx,
        req: RobotRequest,
    ) -> Result<(Robot, String)> {
        let project = self
            .robot_scope(ctx, &req.level, &req.permissions, "create")
            .await?;
        let valid_name = !req.name.is_empty()
            && req
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid_name {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "robot names use letters, digits, '-', '_' and '.'",
            ));
        }
        let name = match &project {
            Some(p) => format!("{ROBOT_PREFIX}{}+{}", p.name, req.name),
            None => format!("{ROBOT_PREFIX}{}", req.name),
        };
        let secret = match req.secret {
            Some(s) => {
                crate::users::check_password(&s)?;
                s
            }
            None => random_secret(32),
        };
        let to_hash = secret.clone();
        let secret_hash = tokio::task::spawn_blocking(move || hash_password(&to_hash))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        let duration = req.duration.unwrap_or(-1);
        let res = self
            .meta
            .robots()
            .create_robot(NewRobot {
                name: name.clone(),
                description: req.description,
                level: req.level,
                project_id: project.as_ref().map(|p| p.id),
                secret_hash,
                disabled: req.disable,
                duration,
                expires_at: expiry(duration)?,
                permissions: serde_json::to_value(&req.permissions).map_err(Error::internal)?,
                creator: ctx.actor.clone(),
            })
            .await;
        let pid = project.as_ref().map(|p| p.id.0);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "robot",
            &name,
            pid,
            res.is_ok(),
        );
        Ok((res?, secret))
    }

    /// A robot the caller may `action` (system robots: admin only; project robots:
    /// per the project's `robot` permissions). Invisible robots are `404`.
    pub async fn robot_for(&self, ctx: &RequestCtx, id: i64, action: &str) -> Result<Robot> {
        if !matches!(ctx.principal, Principal::User(_)) {
            return Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized"));
        }
        let not_found = || Error::new(ErrorCode::NotFound, format!("robot {id} not found"));
        let robot = self
            .meta
            .robots()
            .get_robot(id)
            .await?
            .ok_or_else(not_found)?;
        if ctx.principal.is_sysadmin() {
            return Ok(robot);
        }
        let Some(pid) = robot.project_id else {
            return Err(not_found());
        };
        let project = self
            .meta
            .projects()
            .get_project(pid)
            .await?
            .ok_or_else(not_found)?;
        let access = self.access.access_to(&ctx.principal, &project).await?;
        if !access.visible() || !access.can("robot", "read") {
            return Err(not_found());
        }
        if !access.can("robot", action) {
            return Err(forbidden(&ctx.principal));
        }
        Ok(robot)
    }

    /// Robots of a project (needs `robot:list`), or all robots (admin).
    pub async fn list_robots(
        &self,
        ctx: &RequestCtx,
        scope: RobotScope,
        name: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Robot>, u64)> {
        if !matches!(ctx.principal, Principal::User(_)) {
            return Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized"));
        }
        match scope {
            RobotScope::Project(id) => {
                self.access
                    .project_for(&ctx.principal, &id.0.to_string(), false, "robot", "list")
                    .await?;
            }
            _ if ctx.principal.is_sysadmin() => {}
            _ => return Err(forbidden(&ctx.principal)),
        }
        Ok(self
            .meta
            .robots()
            .list_robots(scope, name, page, page_size)
            .await?)
    }

    /// Replaces a robot's description, state, duration and permissions.
    pub async fn update_robot(&self, ctx: &RequestCtx, id: i64, req: RobotRequest) -> Result<()> {
        let robot = self.robot_for(ctx, id, "update").await?;
        if !req.level.is_empty() && req.level != robot.level {
            return Err(Error::new(ErrorCode::BadRequest, "the level cannot change"));
        }
        self.robot_scope(ctx, &robot.level, &req.permissions, "update")
            .await?;
        let duration = req.duration.unwrap_or(robot.duration);
        let expires_at = if duration == robot.duration {
            robot.expires_at
        } else {
            expiry(duration)?
        };
        let res = self
            .meta
            .robots()
            .update_robot(
                id,
                RobotUpdate {
                    description: req.description,
                    disabled: req.disable,
                    duration,
                    expires_at,
                    permissions: serde_json::to_value(&req.permissions).map_err(Error::internal)?,
                },
            )
            .await;
        self.access.robot_credentials.forget(&robot.name);
        let pid = robot.project_id.map(|p| p.0);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "robot",
            &robot.name,
            pid,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Sets a new secret (the given one, or a generated one) and returns it.
    pub async fn refresh_robot_secret(
        &self,
        ctx: &RequestCtx,
        id: i64,
        secret: Option<String>,
    ) -> Result<String> {
        let robot = self.robot_for(ctx, id, "update").await?;
        let secret = match secret.filter(|s| !s.is_empty()) {
            Some(s) => {
                crate::users::check_password(&s)?;
                s
            }
            None => random_secret(32),
        };
        let to_hash = secret.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&to_hash))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        let res = self.meta.robots().set_robot_secret(id, &hash).await;
        self.access.robot_credentials.forget(&robot.name);
        let pid = robot.project_id.map(|p| p.0);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "robot",
            &robot.name,
            pid,
            res.is_ok(),
        );
        res?;
        Ok(secret)
    }

    /// Deletes a robot.
    pub async fn delete_robot(&self, ctx: &RequestCtx, id: i64) -> Result<()> {
        let robot = self.robot_for(ctx, id, "delete").await?;
        let res = self.meta.robots().delete_robot(id).await;
        self.access.robot_credentials.forget(&robot.name);
        let pid = robot.project_id.map(|p| p.0);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "robot",
            &robot.name,
            pid,
            res.is_ok(),
        );
        Ok(res?)
    }
}
