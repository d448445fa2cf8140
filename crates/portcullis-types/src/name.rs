//! Repository names, project names, tags and references, validated by the OCI
//! distribution grammar and Harbor's project-name rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::{Digest, DigestError};

/// Distribution caps a full repository name at 255 characters; so do we.
pub const MAX_REPO_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "invalid repository name {0:?}: components must be lowercase letters and digits separated by '.', '_', '__' or '-', joined by '/'"
    )]
    Repository(String),
    #[error("repository name {0:?} must be <project>/<repository>")]
    NoProject(String),
    #[error("repository name is longer than {MAX_REPO_NAME} characters")]
    TooLong,
    #[error(
        "invalid tag {0:?}: up to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"
    )]
    Tag(String),
    #[error(
        "invalid project name {0:?}: 1-255 lowercase letters, digits and '._-', starting and ending with a letter or digit"
    )]
    Project(String),
    #[error("invalid reference: {0}")]
    Digest(#[from] DigestError),
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator must follow an alphanumeric and be followed by one.
        if i == 0 {
            return false;
        }
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == b.len() || !alnum(b[i]) || i == start {
            return false;
        }
    }
    true
}

/// A repository name `<project>/<path…>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.len() > MAX_REPO_NAME {
            return Err(NameError::TooLong);
        }
        if !s.split('/').all(valid_component) {
            return Err(NameError::Repository(s.to_string()));
        }
        if !s.contains('/') {
            return Err(NameError::NoProject(s.to_string()));
        }
        Ok(RepoName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first component: the project (Harbor's namespace).
    pub fn project(&self) -> &str {
        self.0.split_once('/').map(|(p, _)| p).unwrap_or(&self.0)
    }

    /// Everything after the project.
    pub fn path(&self) -> &str {
        self.0.split_once('/').map(|(_, r)| r).unwrap_or("")
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok {
            Ok(Tag(s.to_string()))
        } else {
            Err(NameError::Tag(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Harbor project name: lowercase, 1–255 characters, `[a-z0-9]+([._-][a-z0-9]+)*`
/// with runs of separators allowed as in repository names.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() || s.len() > 255 || !valid_component(s) {
            return Err(NameError::Project(s.to_string()));
        }
        Ok(ProjectName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains(':') {
            Ok(Reference::Digest(Digest::parse(s)?))
        } else {
            Ok(Reference::Tag(Tag::parse(s)?))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) => t.as_str(),
            Reference::Digest(d) => d.as_str(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_newtype {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({:?})"), self.0)
            }
        }
        impl FromStr for $t {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $t::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(RepoName);
string_newtype!(Tag);
string_newtype!(ProjectName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in [
            "library/alpine",
            "a/b/c",
            "my-org/my__repo",
            "p/a.b_c--d",
            "x0/y1",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Library/alpine",
            "a//b",
            "a/b/",
            "/a",
            "a/-b",
            "a/b-",
            "a/b___c",
            "a/b..c",
            "a/b_.c",
            "a/b:c",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            RepoName::parse("alpine"),
            Err(NameError::NoProject(_))
        ));
        let long = format!("p/{}", "a".repeat(300));
        assert!(matches!(RepoName::parse(&long), Err(NameError::TooLong)));
        let n = RepoName::parse("proj/team/app").unwrap();
        assert_eq!(n.project(), "proj");
        assert_eq!(n.path(), "team/app");
    }

    #[test]
    fn tags_and_references() {
        assert!(Tag::parse("v1.0.0-rc_1").is_ok());
        assert!(Tag::parse("_x").is_ok());
        assert!(Tag::parse(".x").is_err());
        assert!(Tag::parse("-x").is_err());
        assert!(Tag::parse(&"a".repeat(128)).is_ok());
        assert!(Tag::parse(&"a".repeat(129)).is_err());
        assert!(matches!(
            Reference::parse("latest").unwrap(),
            Reference::Tag(_)
        ));
        let d = Digest::sha256_of(b"x");
        assert!(matches!(
            Reference::parse(d.as_str()).unwrap(),
            Reference::Digest(_)
        ));
        assert!(Reference::parse("sha256:zz").is_err());
    }

    #[test]
    fn project_names() {
        assert!(ProjectName::parse("library").is_ok());
        assert!(ProjectName::parse("team-a.b_c").is_ok());
        assert!(ProjectName::parse("Team").is_err());
        assert!(ProjectName::parse("a/b").is_err());
        assert!(ProjectName::parse("").is_err());
    }
}
