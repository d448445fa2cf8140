//! Reading and deleting artifacts: manifest GET, referrers, index children.

use portcullis_types::{Digest, Reference, RepoName, Tag};
use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::outbox::insert_event_writes;
use crate::policy::{lock_quota, settle_usage};
use crate::rows::{ARTIFACT_COLUMNS, ArtifactRow, ReferenceRow, convert_all, parse_digest, to_u64};
use crate::sql::{Arg, Sql, bind_args, in_tx, limit_offset, with_pool};
use crate::{Artifact, ArtifactId, ArtifactReference, Artifacts, Error, RepositoryId, Result};

impl Artifacts<'_> {
    /// The artifact with this digest in the repository.
    pub async fn get_artifact(
        self,
        repository: RepositoryId,
        digest: &Digest,
    ) -> Result<Option<Artifact>> {
        let sql = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts a \
             WHERE a.repository_id = $1 AND a.digest = $2"
        );
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql))
                .bind(repository.0)
                .bind(digest.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(Artifact::try_from).transpose()
    }

    /// The artifact with this id.
    pub async fn get_artifact_by_id(self, id: ArtifactId) -> Result<Option<Artifact>> {
        let sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(Artifact::try_from).transpose()
    }

    /// The artifact the tag points at.
    pub async fn resolve_tag(
        self,
        repository: RepositoryId,
        tag: &Tag,
    ) -> Result<Option<Artifact>> {
        let sql = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM tags t JOIN artifacts a ON a.id = t.artifact_id \
             WHERE t.repository_id = $1 AND t.name = $2"
        );
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql))
                .bind(repository.0)
                .bind(tag.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(Artifact::try_from).transpose()
    }

    /// The artifact a manifest GET names, by repository name and tag or digest: one query.
    pub async fn resolve(self, name: &RepoName, reference: &Reference) -> Result<Option<Artifact>> {
        let sql = match reference {
            Reference::Tag(_) => format!(
                "SELECT {ARTIFACT_COLUMNS} FROM repositories r \
                 JOIN tags t ON t.repository_id = r.id \
                 JOIN artifacts a ON a.id = t.artifact_id \
                 WHERE r.name = $1 AND t.name = $2"
            ),
            Reference::Digest(_) => format!(
                "SELECT {ARTIFACT_COLUMNS} FROM repositories r \
                 JOIN artifacts a ON a.repository_id = r.id \
                 WHERE r.name = $1 AND a.digest = $2"
            ),
        };
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql))
                .bind(name.as_str())
                .bind(reference.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(Artifact::try_from).transpose()
    }

    /// One page (1-based) of the repository's artifacts, newest push first, and the total.
    pub async fn list_artifacts(
        self,
        repository: RepositoryId,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Artifact>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let sql = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.repository_id = $1 \
             ORDER BY a.push_time DESC, a.id DESC LIMIT $2 OFFSET $3"
        );
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql))
                .bind(repository.0)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM artifacts WHERE repository_id = $1")
                    .bind(repository.0)
                    .fetch_one(pool)
                    .await?;
            (rows, total)
        });
        Ok((convert_all(rows)?, to_u64(total)))
    }

    /// Artifacts of the repository whose subject is `subject`, oldest first
    /// (`GET /v2/<name>/referrers/<digest>`), optionally only those whose artifact type
    /// (`artifactType`, else the config media type) is `artifact_type`.
    pub async fn referrers(
        self,
        repository: RepositoryId,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        let mut sql = Sql::new(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.repository_id = "
        ));
        sql.bind(Arg::I64(repository.0))
            .push(" AND a.subject_digest = ")
            .bind(Arg::Text(subject.to_string()));
        if let Some(t) = artifact_type {
            sql.push(" AND COALESCE(a.artifact_type, a.config_media_type) = ")
                .bind(Arg::Text(t.to_string()));
        }
        sql.push(" ORDER BY a.push_time, a.id");
        let rows = with_pool!(self, read, |pool| {
            bind_args!(
                sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(sql.text)),
                sql.args
            )
            .fetch_all(pool)
            .await?
        });
        convert_all(rows)
    }

    /// Digests of the indexes in the repository that list `digest` as a child.
    pub async fn parents_of(
        self,
        repository: RepositoryId,
        digest: &Digest,
    ) -> Result<Vec<Digest>> {
        let digests: Vec<String> = with_pool!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT p.digest FROM artifact_references ar \
                 JOIN artifacts p ON p.id = ar.parent_id \
                 WHERE p.repository_id = $1 AND ar.child_digest = $2 ORDER BY p.digest",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .fetch_all(pool)
            .await?
        });
        digests.iter().map(|d| parse_digest(d)).collect()
    }

    /// The manifests an index lists, with their platforms, by digest.
    pub async fn children_of(self, artifact: ArtifactId) -> Result<Vec<ArtifactReference>> {
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ReferenceRow>(
                "SELECT child_digest, platform FROM artifact_references \
                 WHERE parent_id = $1 ORDER BY child_digest",
            )
            .bind(artifact.0)
            .fetch_all(pool)
            .await?
        });
        convert_all(rows)
    }

    /// Deletes the artifact with its tags, its blob links and the children it lists
    /// (the repository keeps its blob links, but blobs no other artifact of the project
    /// stands on leave the project: they are no longer counted nor served). False when there was no such artifact.
    /// [`Error::Referenced`] while an index of the repository still lists it.
    /// Referrers of the artifact are left alone: that policy belongs to the caller.
    pub async fn delete_artifact(
        self,
        repository: RepositoryId,
        digest: &Digest,
        events: &crate::EventWrites,
    ) -> Result<bool> {
        let deleted = in_tx!(self, |tx| {
            // A no-op update locks the repository row (PostgreSQL), ordering this after
            // any push in progress, which may be adding an index that lists this artifact.
            let project: Option<i64> = sqlx::query_scalar(
                "UPDATE repositories SET update_time = update_time WHERE id = $1 \
                 RETURNING project_id",
            )
            .bind(repository.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(project) = project else {
                return Ok(false);
            };
            let t = DbTime(now());
            let locked = lock_quota!(tx, project, t);
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM artifacts WHERE repository_id = $1 AND digest = $2",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                return Ok(false);
            };
            let parents: Vec<String> = sqlx::query_scalar(
                "SELECT p.digest FROM artifact_references ar \
                 JOIN artifacts p ON p.id = ar.parent_id \
                 WHERE p.repository_id = $1 AND ar.child_digest = $2 AND p.id <> $3 \
                 ORDER BY p.digest",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            if !parents.is_empty() {
                let parents = parents
                    .iter()
                    .map(|d| parse_digest(d))
                    .collect::<Result<_>>()?;
                return Err(Error::Referenced(parents));
            }
            let mut stood_on: Vec<String> =
                sqlx::query_scalar("SELECT digest FROM artifact_blobs WHERE artifact_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            stood_on.push(digest.to_string());
            // Tags, blob links and child references go with it (ON DELETE CASCADE).
            let deleted = sqlx::query("DELETE FROM artifacts WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            let release = crate::policy::release_sql(project, &stood_on);
            bind_args!(sqlx::query(AssertSqlSafe(release.text)), release.args)
                .execute(&mut *tx)
                .await?;
            settle_usage!(tx, project, locked, t, false);
            if deleted {
                insert_event_writes!(tx, events, t);
            }
            deleted
        });
        Ok(deleted)
    }
}
