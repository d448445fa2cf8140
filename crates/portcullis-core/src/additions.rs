//! Harbor's artifact additions: an image's build history (from its config), and a Helm
//! chart's values, readme and dependencies (from its chart archive). Each is read from
//! the stored blobs when asked for, within size bounds, and never stored.

use std::io::Read;

use portcullis_types::{Digest, ErrorCode, ParsedManifest, media};
use serde::Deserialize;

use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// Largest config or chart archive read for an addition, and largest file taken out
/// of a chart archive: charts and configs are small; a huge one is not worth reading.
const MAX_BLOB: u64 = 16 << 20;
const MAX_FILE: u64 = 4 << 20;

const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// An addition's content and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addition {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The addition `name` of an artifact (needs `artifact-addition:read`, as in Harbor).
pub async fn addition(
    reg: &Registry,
    ctx: &RequestCtx,
    project: &str,
    repository: &str,
    reference: &str,
    name: &str,
) -> Result<Addition> {
    let (_, _, repo) = reg
        .access
        .repository_for(
            &ctx.principal,
            project,
            repository,
            "artifact-addition",
            "read",
        )
        .await?;
    let artifact = reg.access.find_artifact(&repo, reference).await?;
    let manifest = reg.blobs.get_bytes(&artifact.digest).await?;
    let parsed = ParsedManifest::parse(&manifest, Some(&artifact.media_type))
        .map_err(|e| Error::internal(anyhow::anyhow!("stored manifest unreadable: {e}")))?;
    let unsupported = || {
        Error::new(
            ErrorCode::NotFound,
            format!("addition {name} is not supported for this artifact"),
        )
    };
    let config = parsed.config.as_ref().ok_or_else(unsupported)?;
    match name {
        "build_history" => {
            if config.media_type != media::OCI_CONFIG && config.media_type != media::DOCKER_CONFIG {
                return Err(unsupported());
            }
            let bytes = bounded_blob(reg, &config.digest, config.size).await?;
            let history = build_history(&bytes)?;
            Ok(Addition {
                content_type: "application/json; charset=utf-8",
                body: history,
            })
        }
        "values.yaml" | "readme.md" | "dependencies" => {
            if config.media_type != HELM_CONFIG {
                return Err(unsupported());
            }
            let layer = parsed
                .layers
                .iter()
                .find(|l| l.media_type == HELM_CHART)
                .ok_or_else(unsupported)?;
            let archive = bounded_blob(reg, &layer.digest, layer.size).await?;
            tokio::task::spawn_blocking({
                let name = name.to_string();
                move || chart_addition(&archive, &name)
            })
            .await
            .map_err(Error::internal)?
        }
        _ => Err(unsupported()),
    }
}

async fn bounded_blob(reg: &Registry, digest: &Digest, size: u64) -> Result<bytes::Bytes> {
    if size > MAX_BLOB {
        return Err(Error::new(
            ErrorCode::UnprocessableEntity,
            format!(
                "the blob {digest} is {size} bytes; additions are read from at most {MAX_BLOB}"
            ),
        ));
    }
    Ok(reg.blobs.get_bytes(digest).await?)
}

/// The `history` of an image config, as JSON (an empty list when it has none).
fn build_history(config: &[u8]) -> Result<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(config).map_err(|e| {
        Error::new(
            ErrorCode::UnprocessableEntity,
            format!("the image config is not JSON: {e}"),
        )
    })?;
    let history = v
        .get("history")
        .cloned()
        .unwrap_or_else(|| serde_json::json!([]));
    serde_json::to_vec(&history).map_err(Error::internal)
}

#[derive(Deserialize)]
struct ChartMeta {
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

/// Harbor's chart dependency: name, version, repository.
#[derive(Deserialize, serde::Serialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    repository: String,
}

/// One of a chart archive's additions. Files sit under one top directory named after
/// the chart (`mychart/values.yaml`); older charts list dependencies in
/// `requirements.yaml`.
fn chart_addition(archive: &[u8], name: &str) -> Result<Addition> {
    let wanted: &[&str] = match name {
        "values.yaml" => &["values.yaml"],
        "readme.md" => &["README.md", "readme.md"],
        _ => &["Chart.yaml", "requirements.yaml"],
    };
    let bad = |e: std::io::Error| {
        Error::new(
            ErrorCode::UnprocessableEntity,
            format!("the chart archive is unreadable: {e}"),
        )
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let mut parts = path.splitn(2, '/');
        let (Some(_chart), Some(file)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !wanted.contains(&file) || entry.size() > MAX_FILE {
            continue;
        }
        let mut body = Vec::new();
        entry.take(MAX_FILE).read_to_end(&mut body).map_err(bad)?;
        found.push((file.to_string(), body));
    }
    let first = |files: &[&str]| {
        files
            .iter()
            .find_map(|f| found.iter().find(|(n, _)| n == f).map(|(_, b)| b.clone()))
    };
    let missing = || Error::new(ErrorCode::NotFound, format!("the chart has no {name}"));
    match name {
        "values.yaml" => Ok(Addition {
            content_type: "text/plain; charset=utf-8",
            body: first(&["values.yaml"]).ok_or_else(missing)?,
        }),
        "readme.md" => Ok(Addition {
            content_type: "text/markdown; charset=utf-8",
            body: first(&["README.md", "readme.md"]).ok_or_else(missing)?,
        }),
        _ => {
            let mut deps = Vec::new();
            for file in ["Chart.yaml", "requirements.yaml"] {
                if let Some(b) = first(&[file]) {
                    let meta: ChartMeta = serde_yaml_ng::from_slice(&b).map_err(|e| {
                        Error::new(
                            ErrorCode::UnprocessableEntity,
                            format!("the chart's {file} is not valid YAML: {e}"),
                        )
                    })?;
                    deps.extend(meta.dependencies);
                }
            }
            Ok(Addition {
                content_type: "application/json; charset=utf-8",
                body: serde_json::to_vec(&deps).map_err(Error::internal)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn chart_files_and_dependencies() {
        let archive = chart(&[
            (
                "web/Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 17.0.0\n    repository: https://charts.example.org\n",
            ),
            ("web/values.yaml", "replicas: 2\n"),
            ("web/README.md", "# web\n"),
            ("web/charts/redis/values.yaml", "ignored: true\n"),
        ]);
        let v = chart_addition(&archive, "values.yaml").unwrap();
        assert_eq!(v.body, b"replicas: 2\n");
        let r = chart_addition(&archive, "readme.md").unwrap();
        assert_eq!(r.body, b"# web\n");
        let d = chart_addition(&archive, "dependencies").unwrap();
        let deps: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(
            deps,
            serde_json::json!([{"name": "redis", "version": "17.0.0", "repository": "https://charts.example.org"}])
        );
        let none = chart(&[("web/Chart.yaml", "apiVersion: v2\nname: web\n")]);
        assert_eq!(
            chart_addition(&none, "readme.md").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(chart_addition(&none, "dependencies").unwrap().body, b"[]");
        assert_eq!(
            chart_addition(b"not gzip", "values.yaml").unwrap_err().code,
            ErrorCode::UnprocessableEntity
        );
    }

    #[test]
    fn history_of_a_config() {
        let h = build_history(br#"{"history":[{"created_by":"RUN x"}]}"#).unwrap();
        assert_eq!(h, br#"[{"created_by":"RUN x"}]"#);
        assert_eq!(build_history(b"{}").unwrap(), b"[]");
        assert!(build_history(b"nope").is_err());
    }
}
