//! Pulling one image from a registry over the OCI distribution API into a private
//! temporary directory, so that the scanner can read it: the manifest, its config and
//! its layers, each checked against its digest while it streams to disk.
//!
//! Credentials: a `Bearer …` value is sent as is (a registry token scoped to the
//! repository); a `Basic …` value is sent as is and, when the registry answers with a
//! Bearer challenge, exchanged at the challenge's realm for a token (the Docker token
//! flow), as Harbor's adapters do with robot credentials.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use portcullis_types::{Algorithm, Digest, ParsedManifest, media};
use sha2::Digest as _;

/// A pull that went wrong; `transient` says whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PullError {
    pub message: String,
    pub transient: bool,
}

fn permanent(message: impl Into<String>) -> PullError {
    PullError {
        message: message.into(),
        transient: false,
    }
}

fn transient(message: impl Into<String>) -> PullError {
    PullError {
        message: message.into(),
        transient: true,
    }
}

fn http_error(e: reqwest::Error) -> PullError {
    transient(format!("registry unreachable: {}", e.without_url()))
}

/// The manifest media types asked for (an index is not scanned here).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An image on disk: its manifest and the blobs it names, as `<alg>/<hex>` files.
pub struct PulledImage {
    dir: tempfile::TempDir,
    pub digest: Digest,
    pub manifest: ParsedManifest,
}

impl PulledImage {
    fn path_of(root: &Path, d: &Digest) -> PathBuf {
        root.join(d.algorithm().as_str()).join(d.hex())
    }
}

impl portcullis_scan::BlobSource for PulledImage {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + Send + '_>> {
        let f = std::fs::File::open(Self::path_of(self.dir.path(), digest))?;
        Ok(Box::new(io::BufReader::new(f)))
    }
}

/// One pull from one repository of one registry.
pub struct Puller<'a> {
    pub client: &'a reqwest::Client,
    /// Registry base URL (`https://registry.example.com`).
    pub registry: &'a str,
    pub repository: &'a str,
    /// The `Authorization` value given by the caller, if any.
    pub authorization: Option<&'a str>,
    /// Largest blob accepted, in bytes.
    pub max_blob_size: u64,
}

/// `Bearer realm="…",service="…",scope="…"` as a map of its parameters.
fn challenge_params(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((key.trim().to_ascii_lowercase(), value.to_string()));
        s = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

impl Puller<'_> {
    /// Downloads the image manifest `digest` and every blob it names.
    pub async fn pull(&self, digest: &Digest) -> Result<PulledImage, PullError> {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-adapter-")
            .tempdir()
            .map_err(|e| transient(format!("creating a temporary directory: {e}")))?;
        let mut auth = self.authorization.map(str::to_string);
        let url = format!(
            "{}/v2/{}/manifests/{}",
            self.registry, self.repository, digest
        );
        let resp = self.get(&url, &mut auth, Some(MANIFEST_ACCEPT)).await?;
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(http_error)?;
        if !digest.verify(&bytes) {
            return Err(permanent(format!(
                "the registry's manifest does not match {digest}"
            )));
        }
        let manifest = ParsedManifest::parse(&bytes, content_type.as_deref())
            .map_err(|e| permanent(format!("the manifest is not valid: {e}")))?;
        if manifest.kind.is_index() {
            return Err(permanent(
                "the artifact is an index: scan its image manifests one by one",
            ));
        }
        let blobs = dir.path();
        write_blob(blobs, digest, &bytes)?;
        let mut wanted: Vec<_> = manifest.layers.iter().collect();
        wanted.extend(manifest.config.iter());
        for d in wanted {
            if d.media_type == media::DOCKER_FOREIGN_LAYER
                || d.media_type.starts_with(media::OCI_NONDISTRIBUTABLE_PREFIX)
            {
                continue;
            }
            if d.size > self.max_blob_size {
                return Err(permanent(format!(
                    "blob {} is larger than {} bytes",
                    d.digest, self.max_blob_size
                )));
            }
            let url = format!(
                "{}/v2/{}/blobs/{}",
                self.registry, self.repository, d.digest
            );
            let resp = self.get(&url, &mut auth, None).await?;
            stream_blob(blobs, &d.digest, resp, self.max_blob_size).await?;
        }
        Ok(PulledImage {
            dir,
            digest: digest.clone(),
            manifest,
        })
    }

    /// GET `url`, answering a Bearer challenge once with a token from its realm.
    async fn get(
        &self,
        url: &str,
        auth: &mut Option<String>,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, PullError> {
        for attempt in 0..2 {
            let mut req = self.client.get(url);
            if let Some(a) = auth.as_deref() {
                req = req.header("authorization", a);
            }
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            let resp = req.send().await.map_err(http_error)?;
            let status = resp.status().as_u16();
            if status == 401 && attempt == 0 {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(challenge_params);
                if let Some(params) = challenge {
                    *auth = Some(format!("Bearer {}", self.token(&params).await?));
                    continue;
                }
            }
            return match status {
                200 => Ok(resp),
                401 | 403 => Err(permanent(format!(
                    "the registry refused the credential ({status})"
                ))),
                404 => Err(permanent("the artifact is not in the registry")),
                s if s >= 500 || s == 429 => Err(transient(format!("the registry answered {s}"))),
                s => Err(permanent(format!("the registry answered {s}"))),
            };
        }
        Err(permanent("the registry refused the token it issued"))
    }

    /// Fetches a token from the challenge's realm with the caller's Basic credential.
    async fn token(&self, params: &[(String, String)]) -> Result<String, PullError> {
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let realm = get("realm").ok_or_else(|| permanent("a Bearer challenge without a realm"))?;
        let mut url = reqwest::Url::parse(realm)
            .map_err(|_| permanent(format!("the token realm {realm:?} is not a URL")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = get("service") {
                q.append_pair("service", s);
            }
            let scope = get("scope")
                .cloned()
                .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
            q.append_pair("scope", &scope);
        }
        let mut req = self.client.get(url);
        match self.authorization {
            Some(a) if a.starts_with("Basic ") => req = req.header("authorization", a),
            Some(_) => {
                return Err(permanent(
                    "the registry refused the bearer token given with the scan request",
                ));
            }
            None => {}
        }
        let resp = req.send().await.map_err(http_error)?;
        if !resp.status().is_success() {
            return Err(permanent(format!(
                "the token service answered {}",
                resp.status().as_u16()
            )));
        }
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| permanent(format!("the token answer is not JSON: {}", e.without_url())))?;
        body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| permanent("the token answer holds no token"))
    }
}

fn write_blob(root: &Path, d: &Digest, bytes: &[u8]) -> Result<(), PullError> {
    let path = PulledImage::path_of(root, d);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| transient(format!("writing a blob: {e}")))?;
    }
    std::fs::write(&path, bytes).map_err(|e| transient(format!("writing a blob: {e}")))
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Streams a blob to disk, hashing as it goes; a mismatch or an oversize blob fails.
async fn stream_blob(
    root: &Path,
    d: &Digest,
    resp: reqwest::Response,
    max: u64,
) -> Result<(), PullError> {
    let path = PulledImage::path_of(root, d);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| transient(format!("writing a blob: {e}")))?;
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).map_err(|e| transient(format!("writing a blob: {e}")))?,
    );
    let mut hasher = match d.algorithm() {
        Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
    };
    let mut written = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(http_error)?;
        written += chunk.len() as u64;
        if written > max {
            return Err(permanent(format!("blob {d} is larger than {max} bytes")));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| transient(format!("writing a blob: {e}")))?;
    }
    file.flush()
        .map_err(|e| transient(format!("writing a blob: {e}")))?;
    if hasher.hex() != d.hex() {
        return Err(permanent(format!("blob {d} does not match its digest")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let p = challenge_params(
            r#"Bearer realm="https://r.example/service/token",service="harbor-registry",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(
            p[0],
            ("realm".into(), "https://r.example/service/token".into())
        );
        assert_eq!(p[1], ("service".into(), "harbor-registry".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull".into()));
        let p = challenge_params("Bearer realm=https://x/token, service=reg").unwrap();
        assert_eq!(p[1], ("service".into(), "reg".into()));
        assert!(challenge_params("Basic realm=\"x\"").is_none());
    }
}
