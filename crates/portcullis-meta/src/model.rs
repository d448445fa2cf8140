//! The records the store reads and writes.

use std::collections::BTreeMap;
use std::fmt;

use portcullis_types::{Digest, ProjectName, RepoName, Tag};
use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::{ArtifactId, ProjectId, RepositoryId, TagId, UserId};

/// A local user account.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub realname: String,
    pub comment: String,
    /// Argon2 PHC string; never serialised.
    #[serde(skip)]
    pub password_hash: String,
    pub sysadmin: bool,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("sysadmin", &self.sysadmin)
            .finish_non_exhaustive()
    }
}

/// What [`crate::Users::create_user`] needs.
#[derive(Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub realname: String,
    pub comment: String,
    /// Argon2 PHC string computed by the caller.
    pub password_hash: String,
    pub sysadmin: bool,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("sysadmin", &self.sysadmin)
            .finish_non_exhaustive()
    }
}

/// A project (Harbor's namespace of repositories).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: ProjectName,
    pub owner_id: UserId,
    pub owner_name: String,
    pub public: bool,
    /// Harbor project metadata: `"public"`, `"auto_scan"`, `"severity"`, … as strings.
    pub metadata: BTreeMap<String, String>,
    pub repo_count: u64,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// What [`crate::Projects::create_project`] needs. `public` wins over `metadata["public"]`.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: ProjectName,
    pub owner_id: UserId,
    pub public: bool,
    pub metadata: BTreeMap<String, String>,
}

/// Filters of [`crate::Projects::list_projects`]; every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    pub name_exact: Option<String>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    pub public: Option<bool>,
    /// Username of the owner.
    pub owner: Option<String>,
    /// Only these projects.
    pub only_ids: Option<Vec<ProjectId>>,
    /// Only public projects and these ones: what a non-admin user may see.
    pub visible_to: Option<Vec<ProjectId>>,
}

/// A repository `project/path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub id: RepositoryId,
    pub project_id: ProjectId,
    pub name: RepoName,
    pub description: String,
    pub pull_count: u64,
    pub artifact_count: u64,
    pub creation_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// Which repository a lookup means: by id, or by name when the caller has not resolved it.
#[derive(Debug, Clone, Copy)]
pub enum RepoKey<'a> {
    Id(RepositoryId),
    Name(&'a RepoName),
}

impl From<RepositoryId> for RepoKey<'_> {
    fn from(id: RepositoryId) -> Self {
        RepoKey::Id(id)
    }
}

impl<'a> From<&'a RepoName> for RepoKey<'a> {
    fn from(name: &'a RepoName) -> Self {
        RepoKey::Name(name)
    }
}

/// A blob known to the registry (content lives in the blob store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobRecord {
    pub digest: Digest,
    pub size: u64,
    pub media_type: Option<String>,
    pub creation_time: OffsetDateTime,
}

/// One manifest in one repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Artifact {
    pub id: ArtifactId,
    pub repository_id: RepositoryId,
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The manifest's `artifactType`, when it has one.
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub manifest_size: u64,
    /// Manifest plus the blobs it references.
    pub size: u64,
    pub subject: Option<Digest>,
    pub annotations: BTreeMap<String, String>,
    pub extra_attrs: serde_json::Value,
    pub push_time: OffsetDateTime,
    pub pull_time: Option<OffsetDateTime>,
}

impl Artifact {
    /// The type the referrers API reports: `artifactType`, else the config media type.
    pub fn effective_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or(self.config_media_type.as_deref())
    }
}

/// A child manifest listed by an index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactReference {
    pub digest: Digest,
    pub platform: Option<serde_json::Value>,
}

/// A tag and the artifact it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRecord {
    pub id: TagId,
    pub repository_id: RepositoryId,
    pub artifact_id: ArtifactId,
    pub name: Tag,
    pub push_time: OffsetDateTime,
    pub pull_time: Option<OffsetDateTime>,
}

/// A pushed manifest, as [`crate::Artifacts::put_manifest`] records it.
#[derive(Debug, Clone)]
pub struct PutManifest {
    pub repository_id: RepositoryId,
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub manifest_size: u64,
    pub size: u64,
    pub subject: Option<Digest>,
    pub annotations: BTreeMap<String, String>,
    pub extra_attrs: serde_json::Value,
    /// Config and layers; each must already be linked to the repository.
    pub blobs: Vec<Digest>,
    /// Manifests an index lists, with their platform; each must be an artifact of the repository.
    pub children: Vec<(Digest, Option<serde_json::Value>)>,
    pub tag: Option<Tag>,
    /// The tag is protected by an immutable tag rule: moving it to another digest is
    /// refused ([`crate::Error::Immutable`]); pushing the digest it has is allowed.
    pub immutable_tag: bool,
    /// What the push's events write in its transaction (see [`EventWrites`]).
    pub events: EventWrites,
}

/// What [`crate::Artifacts::put_manifest`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub artifact: Artifact,
    /// False when the repository already held this digest.
    pub created: bool,
    /// The digest the tag pointed at before, when the push moved it.
    pub replaced_tag_from: Option<Digest>,
    /// The project's storage usage before and after the commit.
    pub quota: crate::QuotaUsage,
}

/// An event to write in the transaction of the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxEvent {
    /// Unique; subscribers' effects are keyed by it.
    pub event_id: String,
    pub kind: String,
    pub project_id: i64,
    /// The event itself, as its producer serialised it.
    pub payload: String,
}

/// What a change's events write in the change's own transaction: the outbox rows of
/// events that need work after commit, and the audit entries, which need none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventWrites {
    pub outbox: Vec<NewOutboxEvent>,
    pub audit: Vec<NewAuditEntry>,
}

/// An action to record; the store assigns the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub op_time: OffsetDateTime,
    pub username: String,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
    pub project_id: Option<ProjectId>,
    pub client_ip: String,
    pub success: bool,
    pub description: String,
}
