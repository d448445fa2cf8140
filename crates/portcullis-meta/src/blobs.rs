//! Blobs and which repositories (and projects) may see them.

use portcullis_types::Digest;

use crate::dbtime::{DbTime, now};
use crate::model::RepoKey;
use crate::policy::{lock_quota, settle_usage};
use crate::rows::{BlobRow, to_i64};
use crate::sql::{in_tx, with_pool};
use crate::{BlobRecord, Blobs, Error, RepositoryId, Result};

impl Blobs<'_> {
    /// Records a blob the blob store now holds. Recording it again keeps the first record,
    /// filling in a media type it lacked.
    pub async fn record_blob(
        self,
        digest: &Digest,
        size: u64,
        media_type: Option<&str>,
    ) -> Result<()> {
        let size = to_i64(size)?;
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO blobs (digest, size, media_type, creation_time) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO UPDATE \
                 SET media_type = COALESCE(blobs.media_type, excluded.media_type)",
            )
            .bind(digest.as_str())
            .bind(size)
            .bind(media_type)
            .bind(DbTime(now()))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The blob's record, whichever repositories link it.
    pub async fn get_blob(self, digest: &Digest) -> Result<Option<BlobRecord>> {
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, BlobRow>(
                "SELECT digest, size, media_type, creation_time FROM blobs WHERE digest = $1",
            )
            .bind(digest.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(BlobRecord::try_from).transpose()
    }

    /// Lets the repository (and so its project) see a recorded blob; linking twice is a
    /// no-op. [`Error::NotFound`] when the repository or the blob record does not exist.
    /// A blob new to the project counts against its quota from here on:
    /// [`Error::QuotaExceeded`] (and nothing linked) when it would grow usage past the
    /// limit, as Harbor refuses an upload that does not fit.
    /// Returns how the quota changed when the blob is new to the project.
    pub async fn link_blob(
        self,
        repository: RepositoryId,
        digest: &Digest,
    ) -> Result<Option<crate::QuotaUsage>> {
        let usage = in_tx!(self, |tx| {
            let project: Option<i64> =
                sqlx::query_scalar("SELECT project_id FROM repositories WHERE id = $1")
                    .bind(repository.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let project = project.ok_or(Error::NotFound)?;
            let size: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
                .bind(digest.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let size = size.ok_or(Error::NotFound)?;
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
            let associated: Option<i64> = sqlx::query_scalar(
                "SELECT project_id FROM project_blobs WHERE project_id = $1 AND digest = $2",
            )
            .bind(project)
            .bind(digest.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if associated.is_none() {
                let t = DbTime(now());
                // The quota row is locked before the association is added, so concurrent
                // uploads into one project are counted one after another.
                let (hard, used) = lock_quota!(tx, project, t);
                let after = used.saturating_add(size);
                if hard >= 0 && after > hard {
                    return Err(Error::QuotaExceeded {
                        hard,
                        used,
                        requested: after,
                    });
                }
                sqlx::query(
                    "INSERT INTO project_blobs (project_id, digest) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(project)
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE quotas SET used = $2, update_time = $3 WHERE project_id = $1")
                    .bind(project)
                    .bind(after)
                    .bind(t)
                    .execute(&mut *tx)
                    .await?;
                Some(crate::QuotaUsage {
                    hard,
                    before: used,
                    after,
                })
            } else {
                None
            }
        });
        Ok(usage)
    }

    /// The blob, if the repository may see it (`HEAD`/`GET /v2/<name>/blobs/<digest>`):
    /// one indexed query.
    pub async fn blob_in_repository<'a>(
        self,
        repository: impl Into<RepoKey<'a>>,
        digest: &Digest,
    ) -> Result<Option<BlobRecord>> {
        // Linked to the repository and still the project's: a blob the project let go
        // (its last artifact deleted) is not served, so it cannot be kept uncounted.
        const BY_ID: &str = "SELECT b.digest, b.size, b.media_type, b.creation_time \
             FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
             JOIN project_blobs pb ON pb.project_id = r.project_id AND pb.digest = rb.digest \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE rb.repository_id = $1 AND rb.digest = $2";
        const BY_NAME: &str = "SELECT b.digest, b.size, b.media_type, b.creation_time \
             FROM repositories r \
             JOIN repository_blobs rb ON rb.repository_id = r.id \
             JOIN project_blobs pb ON pb.project_id = r.project_id AND pb.digest = rb.digest \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2";
        let row = match repository.into() {
            RepoKey::Id(id) => with_pool!(self, read, |pool| {
                sqlx::query_as::<_, BlobRow>(BY_ID)
                    .bind(id.0)
                    .bind(digest.as_str())
                    .fetch_optional(pool)
                    .await?
            }),
            RepoKey::Name(name) => with_pool!(self, read, |pool| {
                sqlx::query_as::<_, BlobRow>(BY_NAME)
                    .bind(name.as_str())
                    .bind(digest.as_str())
                    .fetch_optional(pool)
                    .await?
            }),
        };
        row.map(BlobRecord::try_from).transpose()
    }

    /// Hides the blob from the repository (`DELETE /v2/<name>/blobs/<digest>`); the project
    /// stops counting it once none of its repositories links it and none of its artifacts
    /// stands on it. False when it was not linked.
    pub async fn unlink_blob(self, repository: RepositoryId, digest: &Digest) -> Result<bool> {
        let removed = in_tx!(self, |tx| {
            let project: Option<i64> =
                sqlx::query_scalar("SELECT project_id FROM repositories WHERE id = $1")
                    .bind(repository.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(project) = project else {
                return Ok(false);
            };
            let t = DbTime(now());
            let locked = lock_quota!(tx, project, t);
            let removed = sqlx::query(
                "DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if removed {
                sqlx::query(
                    "DELETE FROM project_blobs WHERE project_id = $1 AND digest = $2 \
                     AND NOT EXISTS (SELECT 1 FROM repository_blobs rb \
                         JOIN repositories r ON r.id = rb.repository_id \
                         WHERE r.project_id = $1 AND rb.digest = $2) \
                     AND NOT EXISTS (SELECT 1 FROM artifact_blobs ab \
                         JOIN artifacts a ON a.id = ab.artifact_id \
                         JOIN repositories r ON r.id = a.repository_id \
                         WHERE r.project_id = $1 AND ab.digest = $2)",
                )
                .bind(project)
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
                settle_usage!(tx, project, locked, t, false);
            }
            removed
        });
        Ok(removed)
    }
}
