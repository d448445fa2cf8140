//! `/v2/<name>/…` paths: names contain any number of slashes, so the path is parsed
//! from its end into one endpoint value that the dispatcher matches on.

use portcullis_types::{NameError, RepoName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Base,
    Catalog,
    Tags(RepoName),
    Manifest(RepoName, String),
    Blob(RepoName, String),
    UploadStart(RepoName),
    Upload(RepoName, String),
    Referrers(RepoName, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    NotFound,
    Name(NameError),
}

fn name(segs: &[&str]) -> Result<RepoName, PathError> {
    if segs.is_empty() {
        return Err(PathError::NotFound);
    }
    RepoName::parse(&segs.join("/")).map_err(PathError::Name)
}

/// Parses the part after `/v2/`.
pub fn parse(rest: &str) -> Result<Endpoint, PathError> {
    if rest.is_empty() || rest == "/" {
        return Ok(Endpoint::Base);
    }
    if rest == "_catalog" {
        return Ok(Endpoint::Catalog);
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Ok(Endpoint::Tags(name(&segs[..n - 2])?));
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Ok(Endpoint::UploadStart(name(&segs[..n - 2])?));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        let id = segs[n - 1];
        let repo = name(&segs[..n - 3])?;
        return Ok(if id.is_empty() {
            Endpoint::UploadStart(repo)
        } else {
            Endpoint::Upload(repo, id.to_string())
        });
    }
    if n >= 3 {
        let last = segs[n - 1];
        if last.is_empty() {
            return Err(PathError::NotFound);
        }
        let repo = || name(&segs[..n - 2]);
        match segs[n - 2] {
            "manifests" => return Ok(Endpoint::Manifest(repo()?, last.to_string())),
            "blobs" => return Ok(Endpoint::Blob(repo()?, last.to_string())),
            "referrers" => return Ok(Endpoint::Referrers(repo()?, last.to_string())),
            _ => {}
        }
    }
    Err(PathError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RepoName {
        RepoName::parse(s).unwrap()
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Result<Endpoint, PathError>)> = vec![
            ("", Ok(Endpoint::Base)),
            ("_catalog", Ok(Endpoint::Catalog)),
            ("p/r/tags/list", Ok(Endpoint::Tags(r("p/r")))),
            (
                "p/a/b/manifests/latest",
                Ok(Endpoint::Manifest(r("p/a/b"), "latest".into())),
            ),
            (
                "p/r/blobs/sha256:ab",
                Ok(Endpoint::Blob(r("p/r"), "sha256:ab".into())),
            ),
            ("p/r/blobs/uploads/", Ok(Endpoint::UploadStart(r("p/r")))),
            ("p/r/blobs/uploads", Ok(Endpoint::UploadStart(r("p/r")))),
            (
                "p/r/blobs/uploads/abc-123",
                Ok(Endpoint::Upload(r("p/r"), "abc-123".into())),
            ),
            (
                "p/blobs/blobs/uploads/x",
                Ok(Endpoint::Upload(r("p/blobs"), "x".into())),
            ),
            (
                "p/manifests/manifests/v1",
                Ok(Endpoint::Manifest(r("p/manifests"), "v1".into())),
            ),
            (
                "p/r/referrers/sha256:ab",
                Ok(Endpoint::Referrers(r("p/r"), "sha256:ab".into())),
            ),
            ("p/r/tags/list/extra", Err(PathError::NotFound)),
            ("manifests/latest", Err(PathError::NotFound)),
            ("p/r/unknown/x", Err(PathError::NotFound)),
            ("p/r/manifests/", Err(PathError::NotFound)),
        ];
        for (path, want) in cases {
            assert_eq!(parse(path), want, "{path}");
        }
        assert!(matches!(parse("P/r/manifests/x"), Err(PathError::Name(_))));
        assert!(matches!(
            parse("alpine/manifests/x"),
            Err(PathError::Name(NameError::NoProject(_)))
        ));
    }
}
