//! Managing the keys and certificates a project trusts for signatures (an extension of
//! Harbor's API): cosign public keys and notation trust anchors, as PEM. Reading needs
//! the project's `metadata:read`, changing `metadata:update` (projectAdmin); every change
//! is audited and takes effect on the next pull.

use portcullis_meta::TrustedKeyRecord;
use portcullis_trust::{TrustAnchor, TrustedKey, fingerprint};
use portcullis_types::ErrorCode;
use serde::Serialize;

use super::Policy;
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// A trusted key as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TrustedKeyView {
    pub id: i64,
    pub name: String,
    /// `cosign` or `notation`.
    pub kind: String,
    /// ECDSA-P256, ECDSA-P384, Ed25519, RSA; or X.509 for certificates.
    pub algorithm: String,
    /// SHA-256 of the key (SubjectPublicKeyInfo) or certificate (DER).
    pub fingerprint: String,
    /// The certificate's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the certificate expires.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<time::OffsetDateTime>,
    pub pem: String,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_time: time::OffsetDateTime,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, message)
}

/// A key to add: its name, kind (`cosign` or `notation`) and PEM text.
#[derive(Debug, Clone)]
pub struct NewTrustedKey {
    pub name: String,
    pub kind: String,
    pub pem: String,
}

/// Parses and describes PEM material of `kind`.
fn describe(r: &TrustedKeyRecord) -> Result<TrustedKeyView> {
    let base = |algorithm: String, fingerprint: String, subject, expires_at| TrustedKeyView {
        id: r.id,
        name: r.name.clone(),
        kind: r.kind.clone(),
        algorithm,
        fingerprint,
        subject,
        expires_at,
        pem: r.pem.clone(),
        creation_time: r.creation_time,
    };
    match r.kind.as_str() {
        "cosign" => {
            let k = TrustedKey::from_pem(&r.name, &r.pem).map_err(|e| bad(e.to_string()))?;
            let spki =
                portcullis_trust::PublicKey::spki_fingerprint_of_pem(&r.pem).unwrap_or_default();
            Ok(base(k.key.algorithm().to_string(), spki, None, None))
        }
        "notation" => {
            let anchors = TrustAnchor::from_pem(&r.name, &r.pem).map_err(|e| bad(e.to_string()))?;
            let first = &anchors[0].cert;
            Ok(base(
                "X.509".into(),
                fingerprint(first.der()),
                Some(first.subject().to_string()),
                Some(first.not_after()),
            ))
        }
        other => Err(bad(format!(
            "invalid kind {other:?}: use cosign or notation"
        ))),
    }
}

impl Policy {
    /// The project's trusted keys (configured ones are not listed: they live in files).
    pub async fn list_trusted_keys(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<Vec<TrustedKeyView>> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "metadata", "read")
            .await?;
        self.meta
            .trust()
            .trusted_keys(p.id)
            .await?
            .iter()
            .map(describe)
            .collect()
    }

    /// Adds a trusted key after checking that it parses (`201`).
    pub async fn add_trusted_key(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        key: &NewTrustedKey,
    ) -> Result<TrustedKeyView> {
        let (kind, pem) = (key.kind.as_str(), key.pem.as_str());
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "metadata", "update")
            .await?;
        let name = key.name.trim();
        if name.is_empty()
            || name.len() > 128
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(bad(
                "the key name must be 1 to 128 letters, digits, '-', '_', '.' or '@'",
            ));
        }
        if pem.len() > 64 * 1024 {
            return Err(bad("the PEM text is larger than 64 KiB"));
        }
        // Validate before storing: a key that cannot be parsed would never verify anything.
        describe(&TrustedKeyRecord {
            id: 0,
            project_id: p.id,
            name: name.to_string(),
            kind: kind.to_string(),
            pem: pem.to_string(),
            creation_time: time::OffsetDateTime::now_utc(),
        })?;
        let res = self
            .meta
            .trust()
            .add_trusted_key(p.id, name, kind, pem)
            .await;
        self.gate_changed();
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "trusted_key",
            &format!("{}/{name}", p.name),
            Some(p.id.0),
            res.is_ok(),
        );
        describe(&res?)
    }

    /// Removes a trusted key.
    pub async fn remove_trusted_key(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
    ) -> Result<()> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "metadata", "update")
            .await?;
        let removed = self.meta.trust().remove_trusted_key(p.id, id).await?;
        self.gate_changed();
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "trusted_key",
            &format!("{}/{id}", p.name),
            Some(p.id.0),
            removed,
        );
        if removed {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::NotFound,
                format!("trusted key {id} not found"),
            ))
        }
    }
}
