//! Scanner registrations through the service layer: validation, permissions (system
//! admins for registrations, project roles for a project's choice), the built-in
//! registration's immutability, and audit entries.

use portcullis_meta::{Project, ScannerQuery, ScannerRegistration};
use portcullis_types::ErrorCode;

use super::Scanners;
use super::client::{AdapterEndpoint, AdapterMetadata};
use super::{BUILTIN_UUID, builtin_registration};
use crate::access::forbidden;
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// The authentication schemes Harbor knows for talking to an adapter.
pub const AUTH_TYPES: [&str; 4] = ["", "Basic", "Bearer", "X-ScannerAdapter-API-Key"];

/// The fields a client sends to create or edit a registration.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegistrationRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub auth: String,
    #[serde(default)]
    pub access_credential: String,
    #[serde(default, rename = "skip_certVerify")]
    pub skip_cert_verify: bool,
    #[serde(default)]
    pub use_internal_addr: bool,
    #[serde(default)]
    pub disabled: bool,
}

/// A registration as shown, with what its adapter said about itself when asked.
#[derive(Debug, Clone)]
pub struct RegistrationView {
    pub registration: ScannerRegistration,
    /// `"healthy"`, `"unhealthy"`, or empty when the adapter was not asked.
    pub health: String,
    pub metadata: Option<AdapterMetadata>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, message)
}

/// Harbor's checks: a name, an http(s) URL, a known auth scheme and, with one, a credential.
pub fn validate(r: &RegistrationRequest) -> Result<()> {
    if r.name.trim().is_empty() {
        return Err(bad("name is required"));
    }
    if r.name.len() > 255 {
        return Err(bad("name is longer than 255 characters"));
    }
    let url = reqwest::Url::parse(&r.url)
        .map_err(|_| bad(format!("url {:?} is not a valid URL", r.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(format!("url {:?} must be an http or https URL", r.url)));
    }
    if !AUTH_TYPES.contains(&r.auth.as_str()) {
        return Err(bad(format!(
            "auth {:?} is not supported: use \"\", \"Basic\", \"Bearer\" or \"X-ScannerAdapter-API-Key\"",
            r.auth
        )));
    }
    if !r.auth.is_empty() && r.access_credential.is_empty() {
        return Err(bad(format!(
            "access_credential is required with auth {:?}",
            r.auth
        )));
    }
    Ok(())
}

fn not_found(uuid: &str) -> Error {
    Error::new(ErrorCode::NotFound, format!("scanner {uuid} not found"))
}

fn require_admin(ctx: &RequestCtx) -> Result<()> {
    if ctx.principal.is_sysadmin() {
        Ok(())
    } else {
        Err(forbidden(&ctx.principal))
    }
}

impl Scanners {
    /// Creates the built-in registration at start (default while no other is).
    pub async fn ensure_builtin_scanner(&self) -> Result<()> {
        Ok(self
            .meta
            .scanners()
            .ensure_scanner(&builtin_registration())
            .await?)
    }

    /// One page of registrations (system admins).
    pub async fn list_scanners(
        &self,
        ctx: &RequestCtx,
        q: &ScannerQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<RegistrationView>, u64)> {
        require_admin(ctx)?;
        let (list, total) = self
            .meta
            .scanners()
            .list_scanners(q, page, page_size)
            .await?;
        Ok((list.into_iter().map(|r| self.view(r)).collect(), total))
    }

    /// A registration with its adapter's health (system admins).
    pub async fn get_scanner(&self, ctx: &RequestCtx, uuid: &str) -> Result<RegistrationView> {
        require_admin(ctx)?;
        let r = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        Ok(self.checked_view(r).await)
    }

    /// Registers an adapter; returns its uuid (system admins).
    pub async fn create_scanner(
        &self,
        ctx: &RequestCtx,
        req: RegistrationRequest,
    ) -> Result<ScannerRegistration> {
        require_admin(ctx)?;
        validate(&req)?;
        let now = time::OffsetDateTime::now_utc();
        let r = ScannerRegistration {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: req.name.trim().to_string(),
            description: req.description,
            url: req.url.trim_end_matches('/').to_string(),
            disabled: req.disabled,
            is_default: false,
            auth: req.auth,
            access_credential: req.access_credential,
            skip_cert_verify: req.skip_cert_verify,
            use_internal_addr: req.use_internal_addr,
            immutable: false,
            create_time: now,
            update_time: now,
        };
        let res = self.meta.scanners().create_scanner(&r).await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "scanner",
            &r.name,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Replaces a registration's settings; an empty credential keeps the stored one
    /// while the scheme still needs one (system admins; never the built-in one).
    pub async fn update_scanner(
        &self,
        ctx: &RequestCtx,
        uuid: &str,
        req: RegistrationRequest,
    ) -> Result<()> {
        require_admin(ctx)?;
        let old = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        if old.immutable {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!(
                    "registration {} is immutable and cannot be updated",
                    old.name
                ),
            ));
        }
        let mut req = req;
        if req.access_credential.is_empty() && !req.auth.is_empty() {
            req.access_credential = old.access_credential.clone();
        }
        validate(&req)?;
        let r = ScannerRegistration {
            name: req.name.trim().to_string(),
            description: req.description,
            url: req.url.trim_end_matches('/').to_string(),
            disabled: req.disabled,
            auth: req.auth,
            access_credential: req.access_credential,
            skip_cert_verify: req.skip_cert_verify,
            use_internal_addr: req.use_internal_addr,
            ..old
        };
        let res = self.meta.scanners().update_scanner(&r).await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "scanner",
            &r.name,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Removes a registration and returns it (system admins; never the built-in one).
    pub async fn delete_scanner(&self, ctx: &RequestCtx, uuid: &str) -> Result<RegistrationView> {
        require_admin(ctx)?;
        let old = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        if old.immutable {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!(
                    "registration {} is immutable and cannot be deleted",
                    old.name
                ),
            ));
        }
        let res = self.meta.scanners().delete_scanner(uuid).await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "scanner",
            &old.name,
            None,
            res.is_ok(),
        );
        Ok(self.view(res?))
    }

    /// Makes a registration the system default (`is_default: false` changes nothing,
    /// as in Harbor). A disabled registration cannot be the default.
    pub async fn set_default_scanner(
        &self,
        ctx: &RequestCtx,
        uuid: &str,
        is_default: bool,
    ) -> Result<()> {
        require_admin(ctx)?;
        let r = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        if !is_default {
            return Ok(());
        }
        if r.disabled {
            return Err(bad(format!(
                "registration {} is disabled and cannot be the default",
                r.name
            )));
        }
        let res = self.meta.scanners().set_default_scanner(uuid).await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "scanner",
            &r.name,
            None,
            res.is_ok(),
        );
        Ok(res?)
    }

    /// What a registration's adapter says about itself (system admins).
    pub async fn scanner_metadata(&self, ctx: &RequestCtx, uuid: &str) -> Result<AdapterMetadata> {
        require_admin(ctx)?;
        let r = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        self.adapter_metadata(&r).await
    }

    /// Checks that an adapter answers its metadata call with these settings (system admins).
    pub async fn ping_scanner(
        &self,
        ctx: &RequestCtx,
        req: RegistrationRequest,
    ) -> Result<AdapterMetadata> {
        require_admin(ctx)?;
        validate(&req)?;
        let endpoint = AdapterEndpoint {
            url: req.url.trim_end_matches('/').to_string(),
            auth: req.auth,
            credential: req.access_credential,
            skip_cert_verify: req.skip_cert_verify,
        };
        self.client
            .metadata(&endpoint)
            .await
            .map_err(|e| bad(format!("failed to ping the scanner adapter: {e}")))
    }

    /// The scanner a project's scans use: its own choice, else the system default
    /// (needs `scanner:read`).
    pub async fn project_scanner(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<RegistrationView> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "scanner", "read")
            .await?;
        let r = self.scanner_of_project(&p).await?;
        Ok(self.checked_view(r).await)
    }

    /// The registration that scans `project`'s artifacts (no permission check).
    pub async fn scanner_of_project(&self, project: &Project) -> Result<ScannerRegistration> {
        if let Some(r) = self.meta.scanners().project_scanner(project.id).await? {
            return Ok(r);
        }
        match self.meta.scanners().default_scanner().await? {
            Some(r) => Ok(r),
            None => {
                self.ensure_builtin_scanner().await?;
                self.meta
                    .scanners()
                    .get_scanner(BUILTIN_UUID)
                    .await?
                    .ok_or_else(|| Error::internal(anyhow::anyhow!("no default scanner")))
            }
        }
    }

    /// Sets the scanner of a project (needs `scanner:create`, i.e. projectAdmin).
    pub async fn set_project_scanner(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        uuid: &str,
    ) -> Result<()> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "scanner", "create")
            .await?;
        if uuid.is_empty() {
            return Err(bad("uuid of the scanner registration is required"));
        }
        let r = self
            .meta
            .scanners()
            .get_scanner(uuid)
            .await?
            .ok_or_else(|| not_found(uuid))?;
        if r.disabled {
            return Err(bad(format!(
                "registration {} is disabled and cannot scan projects",
                r.name
            )));
        }
        let res = self.meta.scanners().set_project_scanner(p.id, uuid).await;
        let resource = format!("{}:{}", p.name, r.name);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "scanner",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Registrations a project may choose from (needs `scanner:create`).
    pub async fn project_scanner_candidates(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        q: &ScannerQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<RegistrationView>, u64)> {
        self.access
            .project_for(&ctx.principal, project, is_name, "scanner", "create")
            .await?;
        let (list, total) = self
            .meta
            .scanners()
            .list_scanners(q, page, page_size)
            .await?;
        Ok((list.into_iter().map(|r| self.view(r)).collect(), total))
    }

    /// A registration as listed: the built-in one describes itself, others are not asked.
    fn view(&self, r: ScannerRegistration) -> RegistrationView {
        let builtin = r.uuid == BUILTIN_UUID;
        RegistrationView {
            health: if builtin {
                "healthy".into()
            } else {
                String::new()
            },
            metadata: builtin.then(|| self.builtin_metadata()),
            registration: r,
        }
    }

    /// A registration with its adapter asked for its metadata (health).
    async fn checked_view(&self, r: ScannerRegistration) -> RegistrationView {
        match self.adapter_metadata(&r).await {
            Ok(m) => RegistrationView {
                registration: r,
                health: "healthy".into(),
                metadata: Some(m),
            },
            Err(e) => {
                tracing::warn!(scanner = %r.name, error = %e, "scanner adapter is unhealthy");
                RegistrationView {
                    registration: r,
                    health: "unhealthy".into(),
                    metadata: None,
                }
            }
        }
    }

    /// The metadata of a registration's adapter; the built-in scanner answers locally.
    pub async fn adapter_metadata(&self, r: &ScannerRegistration) -> Result<AdapterMetadata> {
        if r.uuid == BUILTIN_UUID {
            return Ok(self.builtin_metadata());
        }
        self.client
            .metadata(&AdapterEndpoint::of(r))
            .await
            // The adapter is a service this one depends on: its failure is "unavailable",
            // not an internal error of the registry (which would read as a bug to fix).
            .map_err(|e| {
                Error::new(
                    ErrorCode::ServiceUnavailable,
                    format!("failed to get the metadata of scanner {}: {e}", r.name),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, url: &str, auth: &str, cred: &str) -> RegistrationRequest {
        RegistrationRequest {
            name: name.into(),
            url: url.into(),
            auth: auth.into(),
            access_credential: cred.into(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_follows_harbor() {
        assert!(validate(&req("Trivy", "http://trivy:8080", "", "")).is_ok());
        assert!(validate(&req("T", "https://t.example/x", "Bearer", "tok")).is_ok());
        assert!(validate(&req("", "http://t", "", "")).is_err());
        assert!(validate(&req("T", "trivy:8080", "", "")).is_err());
        assert!(validate(&req("T", "ftp://t", "", "")).is_err());
        assert!(validate(&req("T", "http://t", "Digest", "x")).is_err());
        assert!(validate(&req("T", "http://t", "Basic", "")).is_err());
        assert!(validate(&req("T", "http://t", "X-ScannerAdapter-API-Key", "k")).is_ok());
    }
}
