//! First start: data directory, signing key, the system admin and Harbor's default
//! `library` project. Every step is idempotent, so restarts change nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use portcullis_meta::{MetaStore, NewProject, NewUser};
use portcullis_types::ProjectName;

use crate::auth::{hash_password, random_secret};

/// The token signing key, created with owner-only permissions on first start.
pub fn token_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("token.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        check_private(&path)?;
        return Ok(hex::decode(text.trim())?);
    }
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    let tmp = data_dir.join("token.key.tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(hex::encode(key).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(key.to_vec())
}

/// Refuses secret files readable by group or others.
pub fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
    Ok(())
}

/// Creates the `admin` user when missing. The password comes from `admin_password`, or
/// is generated and printed once to stderr. Never a fixed default.
pub async fn ensure_admin(meta: &MetaStore, admin_password: Option<&str>) -> anyhow::Result<()> {
    if meta.users().get_user_by_name("admin").await?.is_some() {
        return Ok(());
    }
    let (password, generated) = match admin_password {
        Some(p) if !p.is_empty() => (p.to_string(), false),
        _ => (random_secret(20), true),
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
        .await??;
    let user = meta
        .users()
        .create_user(NewUser {
            username: "admin".into(),
            email: "admin@example.com".into(),
            realname: "system admin".into(),
            comment: "created at first start".into(),
            password_hash: hash.0,
            sysadmin: true,
        })
        .await?;
    if generated {
        eprintln!(
            "portcullis: created the system admin user 'admin' with password: {}",
            hash.1
        );
        eprintln!(
            "portcullis: this password is shown only once; set PORTCULLIS_ADMIN_PASSWORD to choose it instead."
        );
    }
    let library = ProjectName::parse("library")?;
    if meta
        .projects()
        .get_project_by_name("library")
        .await?
        .is_none()
    {
        let mut metadata = BTreeMap::new();
        metadata.insert("public".to_string(), "true".to_string());
        meta.projects()
            .create_project(NewProject {
                name: library,
                owner_id: user.id,
                public: true,
                metadata,
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = token_key(dir.path()).unwrap();
        let b = token_key(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join("token.key");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(token_key(dir.path()).is_err());
        }
    }
}
