//! Copying an artifact into another repository (Harbor's promotion by copy): only rows
//! are written; the blobs are linked, never duplicated.

use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::outbox::insert_event_writes;
use crate::policy::{lock_quota, settle_usage};
use crate::rows::{ARTIFACT_COLUMNS, ArtifactRow};
use crate::sql::{Arg, Sql, bind_args, in_tx, limit_offset, with_pool};
use crate::{Artifact, ArtifactId, Artifacts, Error, EventWrites, ProjectId, RepositoryId, Result};

/// Filters of [`Artifacts::find_artifacts`]; every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct ArtifactFilter {
    /// Exactly this digest.
    pub digest: Option<String>,
    /// A tag of exactly this name points at it.
    pub tag: Option<String>,
    /// A tag whose name contains this (any case) points at it.
    pub tag_contains: Option<String>,
    /// Only artifacts with at least one tag (`Some(true)`) or none (`Some(false)`).
    pub tagged: Option<bool>,
    /// The manifest's media type.
    pub media_type: Option<String>,
    /// Carries every one of these labels.
    pub all_labels: Vec<i64>,
    /// Carries at least one of these labels (ignored when empty).
    pub any_label: Vec<i64>,
    /// Oldest push first instead of newest first.
    pub oldest_first: bool,
    /// Leaves out accessories, as Harbor's listings do: artifacts with a subject, and
    /// cosign's tag-attached signatures (`sha256-<hex>.sig`).
    pub without_accessories: bool,
}

impl Artifacts<'_> {
    /// Copies the artifacts `sources` (of any repository; children before the indexes
    /// that list them) into `dest`, with the blob links their manifests need, all in one
    /// transaction: either the whole tree is copied or nothing is. Index children must be
    /// among the copies or already artifacts of `dest` ([`Error::MissingManifests`]).
    /// With `with_tags`, the tags of the last source are pointed at its copy (moving a
    /// destination tag of the same name), as Harbor does for the outermost artifact.
    /// [`Error::QuotaExceeded`] when the copy would grow the destination project past its
    /// storage limit. Returns the copy of the last source and whether it is new.
    pub async fn copy_artifacts(
        self,
        sources: &[ArtifactId],
        dest: RepositoryId,
        with_tags: bool,
        events: &EventWrites,
    ) -> Result<(Artifact, bool)> {
        let Some(top) = sources.last().copied() else {
            return Err(Error::NotFound);
        };
        let t = DbTime(now());
        let select = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.id = $1");
        let (row, created) = in_tx!(self, |tx| {
            // Locking the destination orders the copy with pushes and deletes there.
            let project: Option<i64> = sqlx::query_scalar(
                "UPDATE repositories SET update_time = $2 WHERE id = $1 RETURNING project_id",
            )
            .bind(dest.0)
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
            let project = project.ok_or(Error::NotFound)?;
            let locked = lock_quota!(tx, project, t);
            let mut last = None;
            for source in sources.iter().map(|s| s.0) {
                let src: Option<String> =
                    sqlx::query_scalar("SELECT digest FROM artifacts WHERE id = $1")
                        .bind(source)
                        .fetch_optional(&mut *tx)
                        .await?;
                let digest = src.ok_or(Error::NotFound)?;
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM artifacts WHERE repository_id = $1 AND digest = $2",
                )
                .bind(dest.0)
                .bind(&digest)
                .fetch_optional(&mut *tx)
                .await?;
                let (id, created) = match existing {
                    Some(id) => (id, false),
                    None => {
                        let missing: Vec<String> = sqlx::query_scalar(
                            "SELECT ar.child_digest FROM artifact_references ar \
                             WHERE ar.parent_id = $1 AND NOT EXISTS (SELECT 1 FROM artifacts c \
                             WHERE c.repository_id = $2 AND c.digest = ar.child_digest) \
                             ORDER BY ar.child_digest",
                        )
                        .bind(source)
                        .bind(dest.0)
                        .fetch_all(&mut *tx)
                        .await?;
                        if !missing.is_empty() {
                            let missing = missing
                                .iter()
                                .map(|d| crate::rows::parse_digest(d))
                                .collect::<Result<_>>()?;
                            return Err(Error::MissingManifests(missing));
                        }
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO artifacts (repository_id, digest, media_type, \
                             artifact_type, config_media_type, manifest_size, size, subject_digest, \
                             annotations, extra_attrs, push_time) \
                             SELECT $2, digest, media_type, artifact_type, config_media_type, \
                             manifest_size, size, subject_digest, annotations, extra_attrs, $3 \
                             FROM artifacts WHERE id = $1 RETURNING id",
                        )
                        .bind(source)
                        .bind(dest.0)
                        .bind(t)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO artifact_blobs (artifact_id, digest) \
                             SELECT $2, digest FROM artifact_blobs WHERE artifact_id = $1",
                        )
                        .bind(source)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO artifact_references (parent_id, child_digest, platform) \
                             SELECT $2, child_digest, platform FROM artifact_references \
                             WHERE parent_id = $1",
                        )
                        .bind(source)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        (id, true)
                    }
                };
                // The destination may serve the manifest and every blob it references, and
                // its project's quota counts them.
                for (table, column, owner) in [
                    ("repository_blobs", "repository_id", dest.0),
                    ("project_blobs", "project_id", project),
                ] {
                    let from_links = format!(
                        "INSERT INTO {table} ({column}, digest) \
                         SELECT $2, digest FROM artifact_blobs WHERE artifact_id = $1 \
                         ON CONFLICT DO NOTHING"
                    );
                    sqlx::query(AssertSqlSafe(from_links))
                        .bind(id)
                        .bind(owner)
                        .execute(&mut *tx)
                        .await?;
                    let manifest = format!(
                        "INSERT INTO {table} ({column}, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                    );
                    sqlx::query(AssertSqlSafe(manifest))
                        .bind(owner)
                        .bind(&digest)
                        .execute(&mut *tx)
                        .await?;
                }
                last = Some((id, created));
            }
            let (id, created) = last.ok_or(Error::NotFound)?;
            if with_tags {
                // A destination tag of the same name moves to the copy.
                sqlx::query(
                    "DELETE FROM tags WHERE repository_id = $1 AND artifact_id <> $2 \
                     AND name IN (SELECT name FROM tags WHERE artifact_id = $3)",
                )
                .bind(dest.0)
                .bind(id)
                .bind(top.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO tags (repository_id, artifact_id, name, push_time) \
                     SELECT $1, $2, name, $4 FROM tags WHERE artifact_id = $3 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(dest.0)
                .bind(id)
                .bind(top.0)
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
            // A copy grows the destination project's usage like a push does.
            settle_usage!(tx, project, locked, t, true);
            insert_event_writes!(tx, events, t);
            let row = sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(select))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            (row, created)
        });
        Ok((row.try_into()?, created))
    }

    /// One page (1-based) of the repository's artifacts matching `filter`, newest push
    /// first unless asked otherwise, and the total matching.
    pub async fn find_artifacts(
        self,
        repository: RepositoryId,
        filter: &ArtifactFilter,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Artifact>, u64)> {
        self.find_in(Scope::Repository(repository), filter, page, page_size)
            .await
    }

    /// `find_artifacts` over every repository of a project (Harbor's
    /// `/projects/{p}/artifacts`); with `latest_in_repository`, only each repository's
    /// newest artifact that passes the filter's accessory rule.
    pub async fn find_project_artifacts(
        self,
        project: ProjectId,
        latest_in_repository: bool,
        filter: &ArtifactFilter,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Artifact>, u64)> {
        let scope = Scope::Project {
            id: project,
            latest_in_repository,
        };
        self.find_in(scope, filter, page, page_size).await
    }

    async fn find_in(
        self,
        scope: Scope,
        filter: &ArtifactFilter,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Artifact>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let filters = |sql: &mut Sql| {
            match scope {
                Scope::Repository(repository) => {
                    sql.push(" WHERE a.repository_id = ")
                        .bind(Arg::I64(repository.0));
                }
                Scope::Project {
                    id,
                    latest_in_repository,
                } => {
                    sql.push(" WHERE a.repository_id IN (SELECT id FROM repositories WHERE project_id = ")
                        .bind(Arg::I64(id.0))
                        .push(")");
                    if latest_in_repository {
                        sql.push(
                            " AND NOT EXISTS (SELECT 1 FROM artifacts b \
                             WHERE b.repository_id = a.repository_id \
                             AND (b.push_time > a.push_time \
                                  OR (b.push_time = a.push_time AND b.id > a.id))",
                        );
                        if filter.without_accessories {
                            sql.push(
                                " AND b.subject_digest IS NULL AND NOT EXISTS \
                                 (SELECT 1 FROM tags t2 WHERE t2.artifact_id = b.id \
                                 AND t2.name LIKE 'sha256-%.sig')",
                            );
                        }
                        sql.push(")");
                    }
                }
            }
            if filter.without_accessories {
                sql.push(crate::rows::not_accessory!());
            }
            if let Some(d) = &filter.digest {
                sql.push(" AND a.digest = ").bind(Arg::Text(d.clone()));
            }
            if let Some(m) = &filter.media_type {
                sql.push(" AND a.media_type = ").bind(Arg::Text(m.clone()));
            }
            if let Some(tag) = &filter.tag {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id AND t.name = ",
                )
                .bind(Arg::Text(tag.clone()))
                .push(")");
            }
            if let Some(needle) = &filter.tag_contains {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id \
                     AND LOWER(t.name) LIKE ",
                )
                .bind(Arg::Text(crate::sql::contains_pattern(needle)))
                .push(" ESCAPE '\\')");
            }
            for label in &filter.all_labels {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM artifact_labels al WHERE al.artifact_id = a.id \
                     AND al.label_id = ",
                )
                .bind(Arg::I64(*label))
                .push(")");
            }
            if !filter.any_label.is_empty() {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM artifact_labels al WHERE al.artifact_id = a.id \
                     AND al.label_id IN ",
                )
                .bind_list(filter.any_label.iter().map(|l| Arg::I64(*l)))
                .push(")");
            }
            match filter.tagged {
                Some(true) => {
                    sql.push(" AND EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id)");
                }
                Some(false) => {
                    sql.push(" AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id)");
                }
                None => {}
            }
        };
        let mut select = Sql::new(&format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts a"));
        filters(&mut select);
        select
            .push(if filter.oldest_first {
                " ORDER BY a.push_time, a.id LIMIT "
            } else {
                " ORDER BY a.push_time DESC, a.id DESC LIMIT "
            })
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let mut count = Sql::new("SELECT COUNT(*) FROM artifacts a");
        filters(&mut count);
        let (rows, total) = with_pool!(self, read, |pool| {
            let rows = bind_args!(
                sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(select.text)),
                select.args
            )
            .fetch_all(pool)
            .await?;
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count.text)), count.args)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((crate::rows::convert_all(rows)?, crate::rows::to_u64(total)))
    }
}

/// Where `find_in` looks.
#[derive(Clone, Copy)]
enum Scope {
    Repository(RepositoryId),
    Project {
        id: ProjectId,
        latest_in_repository: bool,
    },
}
