//! Downloading osv.dev's per-ecosystem `all.zip` archives and importing them.

use crate::error::DbError;
use crate::import::{ImportSummary, import};
use futures::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// osv.dev's public bucket; `<base>/<ecosystem>/all.zip` is one ecosystem's archive.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// Ecosystems fetched by default: the distributions and language ecosystems the scanner
/// detects packages for.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "Alpine",
    "Debian",
    "Ubuntu",
    "Red Hat",
    "Rocky Linux",
    "AlmaLinux",
    "Wolfi",
    "Chainguard",
    "PyPI",
    "npm",
    "crates.io",
    "Go",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
];

/// The largest archive accepted (osv.dev's largest, Debian's, is a few hundred MB).
const MAX_ARCHIVE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

fn archive_url(base_url: &str, ecosystem: &str) -> Result<reqwest::Url, DbError> {
    let bad = |reason: String| DbError::Download {
        url: base_url.to_string(),
        reason,
    };
    let mut url = reqwest::Url::parse(base_url).map_err(|e| bad(format!("invalid URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| bad("URL cannot have a path".into()))?
        .pop_if_empty()
        .push(ecosystem)
        .push("all.zip");
    Ok(url)
}

async fn download(client: &reqwest::Client, url: reqwest::Url, to: &Path) -> Result<u64, DbError> {
    let fail = |reason: String| DbError::Download {
        url: url.to_string(),
        reason,
    };
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut file = std::fs::File::create(to).map_err(|e| fail(e.to_string()))?;
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| fail(error_chain(&e)))?;
        written += chunk.len() as u64;
        if written > MAX_ARCHIVE_BYTES {
            return Err(fail(format!("larger than {MAX_ARCHIVE_BYTES} bytes")));
        }
        file.write_all(&chunk).map_err(|e| fail(e.to_string()))?;
    }
    file.sync_all().map_err(|e| fail(e.to_string()))?;
    Ok(written)
}

/// reqwest's top-level message hides the cause ("error sending request"); the chain says
/// "connection refused" or "dns error", which is what an operator needs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Downloads `<base_url>/<ecosystem>/all.zip` for every ecosystem and imports them into the
/// database in `db_dir`. All archives are downloaded before anything is imported: when one
/// download fails (no network, HTTP error) the error names it and the database is unchanged.
pub async fn update(
    db_dir: &Path,
    base_url: &str,
    ecosystems: &[String],
) -> Result<ImportSummary, DbError> {
    std::fs::create_dir_all(db_dir).map_err(|source| DbError::Io {
        path: db_dir.to_path_buf(),
        source,
    })?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DbError::Download {
            url: base_url.to_string(),
            reason: error_chain(&e),
        })?;
    let staging = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(db_dir)
        .map_err(|source| DbError::Io {
            path: db_dir.to_path_buf(),
            source,
        })?;
    let mut archives: Vec<PathBuf> = Vec::new();
    for (i, ecosystem) in ecosystems.iter().enumerate() {
        let url = archive_url(base_url, ecosystem)?;
        let to = staging.path().join(format!("{i}.zip"));
        tracing::info!(%url, "downloading");
        let bytes = download(&client, url, &to).await?;
        tracing::info!(ecosystem, bytes, "downloaded");
        archives.push(to);
    }
    let db_dir = db_dir.to_path_buf();
    let summary = tokio::task::spawn_blocking(move || {
        let result = import(&db_dir, &archives, &|_| {});
        drop(staging);
        result
    })
    .await
    .map_err(|e| DbError::Invalid(format!("import task failed: {e}")))??;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_escaped_per_segment() {
        let u = archive_url("https://example.org/osv/", "Red Hat").unwrap();
        assert_eq!(u.as_str(), "https://example.org/osv/Red%20Hat/all.zip");
        let u = archive_url("http://127.0.0.1:9", "crates.io").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9/crates.io/all.zip");
        assert!(archive_url("not a url", "PyPI").is_err());
    }
}
