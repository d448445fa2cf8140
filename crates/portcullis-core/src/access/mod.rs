//! Authorization: what a caller may do in a project, from the one permission table
//! (`rbac`). System admins may do everything; members hold their role's permissions;
//! robots hold exactly their granted permissions; anyone may read a public project;
//! bearer tokens carry exactly what they grant. A project the caller cannot see is
//! invisible: it is reported as missing, never as forbidden.
//!
//! [`Access`] is the service: it authenticates callers (Basic credentials, robot secrets,
//! bearer tokens) and answers what they may do, with its own caches. Every other service
//! asks it; it asks none of them.

pub mod login;
pub mod lookup;

use std::sync::Arc;
use std::time::Duration;

use portcullis_meta::{MetaStore, Project, ProjectId, ProjectQuery, UserId};
use portcullis_types::{ErrorCode, RepoName};

use crate::audit::AuditRecorder;
use crate::auth::{
    Actions, CredentialCache, Principal, TokenService, UserPrincipal, verify_password,
};
use crate::cache::Projects;
use crate::error::{Error, Result};
use crate::rbac::{Role, public_allows, role_allows};

/// The project facts authorization needs, cached by name.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub id: i64,
    pub name: String,
    pub public: bool,
}

impl From<&Project> for ProjectInfo {
    fn from(p: &Project) -> Self {
        ProjectInfo {
            id: p.id.0,
            name: p.name.to_string(),
            public: p.public,
        }
    }
}

/// Why a request was refused; the HTTP layer turns `Challenge` into a 401 with a
/// `WWW-Authenticate` header naming the scope.
#[derive(Debug)]
pub enum Refusal {
    /// No identity was presented: ask the client to authenticate.
    Challenge,
    /// A bearer token that does not grant this: the client may ask the token service
    /// for a token with the scope (the challenge carries `error="insufficient_scope"`).
    InsufficientScope,
    /// The caller may see the repository but not do this.
    Denied,
    /// The caller may not know that the repository exists (or it does not).
    NotFound(Error),
}

/// What one caller may do in one project.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    project: String,
    public: bool,
    sysadmin: bool,
    role: Option<Role>,
    robot: Option<crate::auth::RobotPrincipal>,
    /// For bearer tokens: what the token grants on the repository in question.
    token: Option<Actions>,
}

impl ProjectAccess {
    /// Whether the caller may do `action` on `resource` in the project.
    pub fn can(&self, resource: &str, action: &str) -> bool {
        if self.sysadmin {
            return true;
        }
        if let Some(robot) = &self.robot {
            return robot.holds(&self.project, resource, action)
                || (self.public && public_allows(resource, action));
        }
        if self.token.is_some() {
            return false;
        }
        self.role.is_some_and(|r| role_allows(r, resource, action))
            || (self.public && public_allows(resource, action))
    }

    /// Whether the caller may know that the project exists.
    pub fn visible(&self) -> bool {
        self.sysadmin
            || self.public
            || self.role.is_some()
            || self
                .robot
                .as_ref()
                .is_some_and(|r| r.holds_any(&self.project))
            || self.token.is_some_and(|t| !t.is_empty())
    }

    /// The caller's role in the project, when a member.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// The registry actions (pull, push, delete) the caller may take.
    pub fn registry_actions(&self) -> Actions {
        if let Some(t) = self.token {
            return t;
        }
        let mut a = Actions::NONE;
        if self.can("repository", "pull") {
            a = a.union(Actions::PULL);
        }
        if self.can("repository", "push") {
            a = a.union(Actions::PUSH);
        }
        if self.can("artifact", "delete") || self.can("repository", "delete") {
            a = a.union(Actions::DELETE);
        }
        a
    }
}

/// `401` for anonymous callers (who may log in), `403` for everyone else.
pub fn forbidden(principal: &Principal) -> Error {
    if principal.is_anonymous() {
        Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized")
    } else {
        Error::new(ErrorCode::Forbidden, "forbidden")
    }
}

/// Authentication and authorization, with the caches that keep them off the database.
pub struct Access {
    pub(crate) meta: MetaStore,
    pub tokens: TokenService,
    /// Recently verified user credentials (argon2 runs once per credential and minute).
    pub credentials: CredentialCache,
    pub(crate) project_cache: Projects<ProjectInfo>,
    pub(crate) role_cache: Projects<Role>,
    pub(crate) robot_credentials: login::RobotCredentials,
    pub(crate) login_limiter: login::LoginLimiter,
    /// Logins are audited.
    pub(crate) audit_log: Arc<AuditRecorder>,
}

/// The limits and lifetimes of [`Access`].
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// How long a cached project or role may be served.
    pub cache_ttl: Duration,
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    pub login_window: Duration,
    pub login_exempt: Vec<ipnet::IpNet>,
}

impl Access {
    pub fn new(
        meta: MetaStore,
        tokens: TokenService,
        audit_log: Arc<AuditRecorder>,
        s: AccessSettings,
    ) -> Self {
        Access {
            meta,
            tokens,
            credentials: CredentialCache::new(Duration::from_secs(60)),
            project_cache: Projects::new(s.cache_ttl),
            role_cache: Projects::new(s.cache_ttl),
            robot_credentials: login::RobotCredentials::new(Duration::from_secs(60)),
            login_limiter: login::LoginLimiter::new(
                s.login_failures_per_account,
                s.login_failures_per_address,
                s.login_window,
                s.login_exempt,
            ),
            audit_log,
        }
    }

    /// Drops the cached facts of a project after it changed.
    pub fn forget_project(&self, name: &str) {
        self.project_cache.forget(name);
    }

    /// Verifies Basic credentials. `Ok(None)`: wrong username or password.
    pub async fn authenticate_basic(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<UserPrincipal>> {
        if let Some(u) = self.credentials.get(username, password) {
            return Ok(Some(u));
        }
        let Some(user) = self.meta.users().get_user_by_name(username).await? else {
            return Ok(None);
        };
        let hash = user.password_hash.clone();
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .map_err(Error::internal)?;
        if !ok {
            return Ok(None);
        }
        let p = UserPrincipal {
            id: user.id.0,
            name: user.username.clone(),
            sysadmin: user.sysadmin,
        };
        self.credentials.put(username, password, p.clone());
        Ok(Some(p))
    }

    /// A project by name or id, if the caller may see it.
    pub async fn find_project(
        &self,
        principal: &Principal,
        name_or_id: &str,
        is_name: bool,
    ) -> Result<Project> {
        let found = if !is_name && let Ok(id) = name_or_id.parse::<i64>() {
            self.meta.projects().get_project(ProjectId(id)).await?
        } else {
            self.meta.projects().get_project_by_name(name_or_id).await?
        };
        let not_found = || {
            Error::new(
                ErrorCode::NotFound,
                format!("project {name_or_id} not found"),
            )
        };
        let Some(p) = found else {
            return Err(not_found());
        };
        if self.access_to(principal, &p).await?.visible() {
            Ok(p)
        } else {
            Err(not_found())
        }
    }

    /// What the caller may do in `project`.
    pub async fn access_to(
        &self,
        principal: &Principal,
        project: &Project,
    ) -> Result<ProjectAccess> {
        let info = ProjectInfo {
            id: project.id.0,
            name: project.name.to_string(),
            public: project.public,
        };
        self.project_access(principal, &info, None).await
    }

    /// A visible project on which the caller may do `action` on `resource`: missing and
    /// invisible projects are `404`, visible ones without the permission `403`.
    pub async fn project_for(
        &self,
        principal: &Principal,
        name_or_id: &str,
        is_name: bool,
        resource: &str,
        action: &str,
    ) -> Result<(Project, ProjectAccess)> {
        let p = self.find_project(principal, name_or_id, is_name).await?;
        let access = self.access_to(principal, &p).await?;
        if !access.can(resource, action) {
            return Err(forbidden(principal));
        }
        Ok((p, access))
    }

    /// The authorization facts of a project, cached briefly.
    pub async fn project_info(&self, name: &str) -> Result<Option<ProjectInfo>> {
        if let Some(hit) = self.project_cache.get(name) {
            return Ok(hit);
        }
        let p = self.meta.projects().get_project_by_name(name).await?;
        let info = p.map(|p| ProjectInfo {
            id: p.id.0,
            name: p.name.to_string(),
            public: p.public,
        });
        self.project_cache.put(name, info.clone());
        Ok(info)
    }

    /// The user's role in a project, cached briefly (membership changes on this node
    /// drop the entry at once).
    pub async fn role_of(&self, user: i64, project: i64) -> Result<Option<Role>> {
        let key = format!("{user}/{project}");
        if let Some(hit) = self.role_cache.get(&key) {
            return Ok(hit);
        }
        let role = self
            .meta
            .members()
            .role_in_project(ProjectId(project), UserId(user))
            .await?
            .and_then(Role::from_id);
        self.role_cache.put(&key, role);
        Ok(role)
    }

    /// What `principal` may do in `project`; `repo` names the repository a bearer token
    /// is checked against.
    pub async fn project_access(
        &self,
        principal: &Principal,
        project: &ProjectInfo,
        repo: Option<&str>,
    ) -> Result<ProjectAccess> {
        let mut access = ProjectAccess {
            project: project.name.clone(),
            public: project.public,
            sysadmin: false,
            role: None,
            robot: None,
            token: None,
        };
        match principal {
            Principal::Anonymous => {}
            Principal::User(u) => {
                access.sysadmin = u.sysadmin;
                access.role = self.role_of(u.id, project.id).await?;
            }
            Principal::Robot(r) => {
                // A project robot never reaches beyond its own project.
                if r.project_id.is_none_or(|p| p == project.id) {
                    access.robot = Some(r.clone());
                } else {
                    access.robot = Some(crate::auth::RobotPrincipal {
                        grants: Vec::new(),
                        ..r.clone()
                    });
                }
                access.public = project.public;
            }
            Principal::Token { .. } => {
                access.token = Some(
                    repo.and_then(|r| principal.token_actions("repository", r))
                        .unwrap_or(Actions::NONE),
                );
                access.public = false;
            }
        }
        Ok(access)
    }

    /// What the caller may do on `repo` right now, for the token service: the
    /// intersection with the request is taken by the caller.
    pub async fn allowed_on(&self, principal: &Principal, repo: &RepoName) -> Result<Actions> {
        Ok(match self.project_info(repo.project()).await? {
            Some(p) => self
                .project_access(principal, &p, Some(repo.as_str()))
                .await?
                .registry_actions(),
            None => Actions::NONE,
        })
    }

    /// Checks that `principal` may do `needed` on `repo`.
    pub async fn authorize(
        &self,
        principal: &Principal,
        repo: &RepoName,
        needed: Actions,
    ) -> Result<ProjectInfo, Refusal> {
        // A token is judged by its claims first, before any lookup, so that a missing
        // and a private repository look alike to its holder: both ask for a better token.
        if let Principal::Token {
            subject: Some(_), ..
        } = principal
            && !principal
                .token_actions("repository", repo.as_str())
                .is_some_and(|a| a.contains(needed))
        {
            return Err(Refusal::InsufficientScope);
        }
        let project = self
            .project_info(repo.project())
            .await
            .map_err(Refusal::NotFound)?;
        let unknown = || {
            Error::new(
                ErrorCode::NameUnknown,
                format!("repository name not known to registry: {}", repo),
            )
            .with_detail(serde_json::json!({ "name": repo.as_str() }))
        };
        let Some(project) = project else {
            if principal.is_anonymous() {
                return Err(Refusal::Challenge);
            }
            // Only someone who could create it learns that the project itself is missing:
            // a system admin, or a token the token service granted push here (it grants
            // that for a missing project only to system admins). Anyone else gets the same
            // answer as for a private project they cannot see.
            let may_create = principal.is_sysadmin()
                || principal
                    .token_actions("repository", repo.as_str())
                    .is_some_and(|a| a.contains(Actions::PUSH));
            let err = if may_create {
                Error::new(
                    ErrorCode::NameUnknown,
                    format!(
                        "project {} not found: create it before pushing",
                        repo.project()
                    ),
                )
                .with_detail(serde_json::json!({ "name": repo.as_str() }))
            } else {
                unknown()
            };
            return Err(Refusal::NotFound(err));
        };
        let access = self
            .project_access(principal, &project, Some(repo.as_str()))
            .await
            .map_err(Refusal::NotFound)?;
        let allowed = access.registry_actions();
        if allowed.contains(needed) {
            return Ok(project);
        }
        if principal.is_anonymous() {
            return Err(Refusal::Challenge);
        }
        if allowed.is_empty() && !access.visible() {
            return Err(Refusal::NotFound(unknown()));
        }
        Err(Refusal::Denied)
    }

    /// Projects whose repositories the caller may list; `None` means all of them.
    pub async fn visible_project_ids(&self, principal: &Principal) -> Result<Option<Vec<i64>>> {
        if principal.is_sysadmin()
            || principal
                .token_actions("registry", "catalog")
                .is_some_and(|a| !a.is_empty())
        {
            return Ok(None);
        }
        if matches!(principal, Principal::Token { .. })
            && let Some(account) = self.subject_principal(principal).await?
        {
            return Box::pin(self.visible_project_ids(&account)).await;
        }
        let query = ProjectQuery {
            public: Some(true),
            ..Default::default()
        };
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let (batch, total) = self
                .meta
                .projects()
                .list_projects(&query, page, 500)
                .await?;
            ids.extend(batch.iter().map(|p| p.id.0));
            if batch.is_empty() || ids.len() as u64 >= total {
                break;
            }
            page += 1;
        }
        ids.extend(self.member_project_ids(principal).await?);
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids))
    }

    /// Private projects the caller reaches through membership or robot grants.
    pub async fn member_project_ids(&self, principal: &Principal) -> Result<Vec<i64>> {
        Ok(match principal {
            Principal::User(u) => self
                .meta
                .members()
                .roles_of_user(UserId(u.id))
                .await?
                .into_iter()
                .map(|(p, _)| p.0)
                .collect(),
            Principal::Robot(r) => {
                let mut ids = Vec::new();
                if let Some(p) = r.project_id {
                    ids.push(p);
                } else if r.grants.iter().any(|g| g.namespace == "*") {
                    let (all, _) = self
                        .meta
                        .projects()
                        .list_projects(&ProjectQuery::default(), 1, u64::MAX)
                        .await?;
                    ids.extend(all.iter().map(|p| p.id.0));
                } else {
                    for g in &r.grants {
                        if let Some(p) = self.project_info(&g.namespace).await? {
                            ids.push(p.id);
                        }
                    }
                }
                ids
            }
            _ => Vec::new(),
        })
    }
}
