//! Small builders shared by the cases.

use std::collections::BTreeMap;

use portcullis_meta::{
    Artifact, MetaStore, NewProject, NewUser, Project, PutManifest, Repository, RepositoryId, User,
};
use portcullis_types::{Digest, ProjectName, RepoName, Tag};

pub const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub async fn user(store: &MetaStore, username: &str) -> User {
    store
        .users()
        .create_user(NewUser {
            username: username.to_string(),
            email: format!("{username}@example.com"),
            realname: username.to_uppercase(),
            comment: String::new(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_string(),
            sysadmin: false,
        })
        .await
        .expect("create user")
}

pub async fn project_of(store: &MetaStore, owner: &User, name: &str, public: bool) -> Project {
    store
        .projects()
        .create_project(NewProject {
            name: ProjectName::parse(name).unwrap(),
            owner_id: owner.id,
            public,
            metadata: BTreeMap::new(),
        })
        .await
        .expect("create project")
}

/// A project owned by a fresh user named after it.
pub async fn project(store: &MetaStore, name: &str) -> Project {
    let owner = user(store, &format!("{name}-owner")).await;
    project_of(store, &owner, name, false).await
}

pub async fn repo(store: &MetaStore, project: &Project, path: &str) -> Repository {
    let name = RepoName::parse(&format!("{}/{path}", project.name)).unwrap();
    store
        .repositories()
        .ensure_repository(project.id, &name)
        .await
        .expect("ensure repository")
}

pub fn tag(s: &str) -> Tag {
    Tag::parse(s).unwrap()
}

pub fn digest(seed: &str) -> Digest {
    Digest::sha256_of(seed.as_bytes())
}

/// Records a blob with `content` as its seed and links it to the repository.
pub async fn blob(store: &MetaStore, repo: RepositoryId, seed: &str, media_type: &str) -> Digest {
    let d = digest(seed);
    store
        .blobs()
        .record_blob(&d, seed.len() as u64 * 100, Some(media_type))
        .await
        .expect("record blob");
    store.blobs().link_blob(repo, &d).await.expect("link blob");
    d
}

/// A manifest with no blobs, children or tag; cases fill in what they test.
pub fn manifest(repo: RepositoryId, seed: &str) -> PutManifest {
    PutManifest {
        repository_id: repo,
        digest: digest(&format!("manifest {seed}")),
        media_type: IMAGE_MANIFEST.to_string(),
        artifact_type: None,
        config_media_type: Some(IMAGE_CONFIG.to_string()),
        manifest_size: 500,
        size: 500,
        subject: None,
        annotations: BTreeMap::new(),
        extra_attrs: serde_json::json!({}),
        blobs: Vec::new(),
        children: Vec::new(),
        tag: None,
        immutable_tag: false,
        events: Default::default(),
    }
}

/// Pushes an image (config and one layer, both linked first), optionally tagged.
pub async fn push_image(
    store: &MetaStore,
    repo: RepositoryId,
    seed: &str,
    tag_name: Option<&str>,
) -> Artifact {
    let config = blob(store, repo, &format!("config {seed}"), IMAGE_CONFIG).await;
    let layer = blob(store, repo, &format!("layer {seed}"), LAYER).await;
    let mut m = manifest(repo, seed);
    m.blobs = vec![config, layer];
    m.size = 2_000;
    m.tag = tag_name.map(tag);
    store
        .artifacts()
        .put_manifest(m)
        .await
        .expect("put manifest")
        .artifact
}
