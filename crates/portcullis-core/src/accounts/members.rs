//! Project membership through the service layer: permission checks and audit entries.

use portcullis_meta::{Member, Project};
use portcullis_types::ErrorCode;

use super::Accounts;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::rbac::Role;

fn role(id: i32) -> Result<Role> {
    Role::from_id(id).ok_or_else(|| {
        Error::new(
            ErrorCode::BadRequest,
            format!("invalid role_id {id}: use 1 to 5"),
        )
    })
}

impl Accounts {
    /// The project's members (needs `member:list`).
    pub async fn list_members(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        entity_name: Option<&str>,
    ) -> Result<(Project, Vec<Member>)> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "member", "list")
            .await?;
        let members = self.meta.members().list_members(p.id, entity_name).await?;
        Ok((p, members))
    }

    /// One membership (needs `member:read`).
    pub async fn get_member(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        member_id: i64,
    ) -> Result<Member> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "member", "read")
            .await?;
        self.meta
            .members()
            .get_member(p.id, member_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "member not found"))
    }

    /// Adds a user by name with a role (needs `member:create`).
    pub async fn add_member(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        username: &str,
        role_id: i32,
    ) -> Result<Member> {
        let role = role(role_id)?;
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "member", "create")
            .await?;
        let user = self
            .meta
            .users()
            .get_user_by_name(username)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("user {username} not found")))?;
        let res = self
            .meta
            .members()
            .add_member(p.id, user.id, role.id())
            .await;
        self.access
            .role_cache
            .forget(&format!("{}/{}", user.id.0, p.id.0));
        let resource = format!("{}:{}", p.name, username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "member",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Changes a member's role (needs `member:update`).
    pub async fn update_member(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        member_id: i64,
        role_id: i32,
    ) -> Result<()> {
        let role = role(role_id)?;
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "member", "update")
            .await?;
        let m = self
            .meta
            .members()
            .get_member(p.id, member_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "member not found"))?;
        let res = self
            .meta
            .members()
            .update_member_role(p.id, member_id, role.id())
            .await;
        self.access
            .role_cache
            .forget(&format!("{}/{}", m.user_id.0, p.id.0));
        let resource = format!("{}:{}", p.name, m.username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "member",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Removes a member (needs `member:delete`).
    pub async fn remove_member(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        member_id: i64,
    ) -> Result<()> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "member", "delete")
            .await?;
        let m = self
            .meta
            .members()
            .get_member(p.id, member_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "member not found"))?;
        let res = self.meta.members().delete_member(p.id, member_id).await;
        self.access
            .role_cache
            .forget(&format!("{}/{}", m.user_id.0, p.id.0));
        let resource = format!("{}:{}", p.name, m.username);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "member",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }
}
