//! Blobs and which repositories (and projects) may see them.

use portcullis_types::Digest;

use crate::dbtime::{DbTime, now};
use crate::model::RepoKey;
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
    pub async fn link_blob(self, repository: RepositoryId, digest: &Digest) -> Result<()> {
        in_tx!(self, |tx| {
            let project: Option<i64> =
                sqlx::query_scalar("SELECT project_id FROM repositories WHERE id = $1")
                    .bind(repository.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let project = project.ok_or(Error::NotFound)?;
            let known: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
                .bind(digest.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(Error::NotFound);
            }
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(repository.0)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO project_blobs (project_id, digest) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(project)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// The blob, if the repository may see it (`HEAD`/`GET /v2/<name>/blobs/<digest>`):
    /// one indexed query.
    pub async fn blob_in_repository<'a>(
        self,
        repository: impl Into<RepoKey<'a>>,
        digest: &Digest,
    ) -> Result<Option<BlobRecord>> {
        const BY_ID: &str = "SELECT b.digest, b.size, b.media_type, b.creation_time \
             FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
             WHERE rb.repository_id = $1 AND rb.digest = $2";
        const BY_NAME: &str = "SELECT b.digest, b.size, b.media_type, b.creation_time \
             FROM repositories r \
             JOIN repository_blobs rb ON rb.repository_id = r.id \
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
    /// stops counting it once none of its repositories links it. False when it was not
    /// linked. Manifests already pushed keep their own record of the blob.
    pub async fn unlink_blob(self, repository: RepositoryId, digest: &Digest) -> Result<bool> {
        let removed = in_tx!(self, |tx| {
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
                    "DELETE FROM project_blobs WHERE digest = $2 \
                     AND project_id = (SELECT project_id FROM repositories WHERE id = $1) \
                     AND NOT EXISTS (SELECT 1 FROM repository_blobs rb \
                         JOIN repositories r ON r.id = rb.repository_id \
                         WHERE r.project_id = project_blobs.project_id AND rb.digest = $2)",
                )
                .bind(repository.0)
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
            }
            removed
        });
        Ok(removed)
    }
}
