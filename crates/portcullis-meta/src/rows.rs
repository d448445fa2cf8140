//! Rows as the database returns them, and their conversion into the public records.
//!
//! Raw rows hold only types both backends decode (integers, text, booleans, [`DbTime`]),
//! so one `FromRow` derive serves SQLite and PostgreSQL alike.

use std::collections::BTreeMap;

use portcullis_types::{Digest, ProjectName, RepoName, Tag};

use crate::dbtime::DbTime;
use crate::error::{Result, corrupt};
use crate::ids::{ArtifactId, ProjectId, RepositoryId, TagId, UserId};
use crate::model::{Artifact, ArtifactReference, BlobRecord, Project, Repository, TagRecord, User};

pub(crate) const USER_COLUMNS: &str = "id, username, email, realname, comment, password_hash, \
     sysadmin, creation_time, update_time";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: String,
    realname: String,
    comment: String,
    password_hash: String,
    sysadmin: bool,
    creation_time: DbTime,
    update_time: DbTime,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            username: r.username,
            email: r.email,
            realname: r.realname,
            comment: r.comment,
            password_hash: r.password_hash,
            sysadmin: r.sysadmin,
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        }
    }
}

pub(crate) const PROJECT_SELECT: &str = "SELECT p.id, p.name, p.owner_id, u.username AS owner_name, \
     p.public, p.metadata, p.creation_time, p.update_time, \
     (SELECT COUNT(*) FROM repositories r WHERE r.project_id = p.id) AS repo_count \
     FROM projects p JOIN users u ON u.id = p.owner_id";

#[derive(sqlx::FromRow)]
pub(crate) struct ProjectRow {
    id: i64,
    name: String,
    owner_id: i64,
    owner_name: String,
    public: bool,
    metadata: String,
    creation_time: DbTime,
    update_time: DbTime,
    repo_count: i64,
}

impl TryFrom<ProjectRow> for Project {
    type Error = crate::Error;

    fn try_from(r: ProjectRow) -> Result<Self> {
        Ok(Project {
            id: ProjectId(r.id),
            name: ProjectName::parse(&r.name).map_err(|_| corrupt("project name", &r.name))?,
            owner_id: UserId(r.owner_id),
            owner_name: r.owner_name,
            public: r.public,
            metadata: parse_json(&r.metadata, "project metadata")?,
            repo_count: to_u64(r.repo_count),
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

/// The condition that `a` (an artifacts row) is not an accessory: Harbor's listings and
/// counts leave out artifacts with a subject and cosign's tag-attached signatures
/// (`sha256-<hex>.sig`).
macro_rules! not_accessory {
    () => {
        " AND a.subject_digest IS NULL AND NOT EXISTS \
         (SELECT 1 FROM tags t WHERE t.artifact_id = a.id AND t.name LIKE 'sha256-%.sig')"
    };
}
pub(crate) use not_accessory;

pub(crate) const REPOSITORY_SELECT: &str = concat!(
    "SELECT r.id, r.project_id, r.name, r.description, \
     r.pull_count, r.creation_time, r.update_time, \
     (SELECT COUNT(*) FROM artifacts a WHERE a.repository_id = r.id",
    not_accessory!(),
    ") AS artifact_count FROM repositories r"
);

#[derive(sqlx::FromRow)]
pub(crate) struct RepositoryRow {
    id: i64,
    project_id: i64,
    name: String,
    description: String,
    pull_count: i64,
    creation_time: DbTime,
    update_time: DbTime,
    artifact_count: i64,
}

impl TryFrom<RepositoryRow> for Repository {
    type Error = crate::Error;

    fn try_from(r: RepositoryRow) -> Result<Self> {
        Ok(Repository {
            id: RepositoryId(r.id),
            project_id: ProjectId(r.project_id),
            name: RepoName::parse(&r.name).map_err(|_| corrupt("repository name", &r.name))?,
            description: r.description,
            pull_count: to_u64(r.pull_count),
            artifact_count: to_u64(r.artifact_count),
            creation_time: r.creation_time.0,
            update_time: r.update_time.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BlobRow {
    digest: String,
    size: i64,
    media_type: Option<String>,
    creation_time: DbTime,
}

impl TryFrom<BlobRow> for BlobRecord {
    type Error = crate::Error;

    fn try_from(r: BlobRow) -> Result<Self> {
        Ok(BlobRecord {
            digest: parse_digest(&r.digest)?,
            size: to_u64(r.size),
            media_type: r.media_type,
            creation_time: r.creation_time.0,
        })
    }
}

pub(crate) const ARTIFACT_COLUMNS: &str = "a.id, a.repository_id, a.digest, a.media_type, \
     a.artifact_type, a.config_media_type, a.manifest_size, a.size, a.subject_digest, \
     a.annotations, a.extra_attrs, a.push_time, a.pull_time";

#[derive(sqlx::FromRow)]
pub(crate) struct ArtifactRow {
    id: i64,
    repository_id: i64,
    digest: String,
    media_type: String,
    artifact_type: Option<String>,
    config_media_type: Option<String>,
    manifest_size: i64,
    size: i64,
    subject_digest: Option<String>,
    annotations: String,
    extra_attrs: String,
    push_time: DbTime,
    pull_time: Option<DbTime>,
}

impl TryFrom<ArtifactRow> for Artifact {
    type Error = crate::Error;

    fn try_from(r: ArtifactRow) -> Result<Self> {
        Ok(Artifact {
            id: ArtifactId(r.id),
            repository_id: RepositoryId(r.repository_id),
            digest: parse_digest(&r.digest)?,
            media_type: r.media_type,
            artifact_type: r.artifact_type,
            config_media_type: r.config_media_type,
            manifest_size: to_u64(r.manifest_size),
            size: to_u64(r.size),
            subject: r.subject_digest.as_deref().map(parse_digest).transpose()?,
            annotations: parse_json(&r.annotations, "annotations")?,
            extra_attrs: parse_json(&r.extra_attrs, "extra attributes")?,
            push_time: r.push_time.0,
            pull_time: r.pull_time.map(|t| t.0),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReferenceRow {
    child_digest: String,
    platform: Option<String>,
}

impl TryFrom<ReferenceRow> for ArtifactReference {
    type Error = crate::Error;

    fn try_from(r: ReferenceRow) -> Result<Self> {
        Ok(ArtifactReference {
            digest: parse_digest(&r.child_digest)?,
            platform: r
                .platform
                .as_deref()
                .map(|p| parse_json(p, "platform"))
                .transpose()?,
        })
    }
}

pub(crate) const TAG_COLUMNS: &str =
    "t.id, t.repository_id, t.artifact_id, t.name, t.push_time, t.pull_time";

#[derive(sqlx::FromRow)]
pub(crate) struct TagRow {
    id: i64,
    repository_id: i64,
    artifact_id: i64,
    name: String,
    push_time: DbTime,
    pull_time: Option<DbTime>,
}

impl TryFrom<TagRow> for TagRecord {
    type Error = crate::Error;

    fn try_from(r: TagRow) -> Result<Self> {
        Ok(TagRecord {
            id: TagId(r.id),
            repository_id: RepositoryId(r.repository_id),
            artifact_id: ArtifactId(r.artifact_id),
            name: Tag::parse(&r.name).map_err(|_| corrupt("tag", &r.name))?,
            push_time: r.push_time.0,
            pull_time: r.pull_time.map(|t| t.0),
        })
    }
}

/// Converts a batch of raw rows, failing on the first that does not parse.
pub(crate) fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R, Error = crate::Error>,
{
    rows.into_iter().map(T::try_from).collect()
}

pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|_| corrupt("digest", s))
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|_| corrupt(what, s))
}

/// Counts and sizes are never negative in the database; a negative one reads as zero.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Sizes are stored as signed 64-bit integers.
pub(crate) fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| crate::Error::Invalid(format!("size {v} is too large")))
}

/// Serialises a map for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("maps of strings and JSON values always serialise")
}

/// Turns a row list of strings into typed maps when the caller needs both.
pub(crate) fn metadata_from_json(s: &str) -> Result<BTreeMap<String, String>> {
    parse_json(s, "project metadata")
}
