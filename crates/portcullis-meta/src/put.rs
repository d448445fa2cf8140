//! Recording a pushed manifest (`PUT /v2/<name>/manifests/<reference>`).

use std::collections::HashSet;

use portcullis_types::Digest;
use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::outbox::insert_event_writes;
use crate::policy::{lock_quota, settle_usage};
use crate::rows::{ARTIFACT_COLUMNS, ArtifactRow, parse_digest, to_i64, to_json};
use crate::sql::{Arg, Sql, bind_args, in_tx, with_pool};
use crate::{Artifacts, Error, PutManifest, PutOutcome, Result};

impl Artifacts<'_> {
    /// Records a pushed manifest in one transaction.
    ///
    /// Every digest in `blobs` must be linked to the repository ([`Error::MissingBlobs`])
    /// and every child an artifact of it ([`Error::MissingManifests`]); otherwise nothing
    /// is written. The artifact is created, or its push time renewed when the repository
    /// already holds the digest. The manifest itself is recorded as a blob the repository
    /// may serve. The tag, if any, is created or moved here.
    ///
    /// Pushes into one repository run one after another (its row is locked first), so a
    /// concurrent delete of a child or a concurrent push of the same tag is seen whole.
    /// The project's quota row is locked next and its usage recounted before the commit:
    /// [`Error::QuotaExceeded`] when the push would grow it past the limit, and
    /// [`Error::Immutable`] when it would move a protected tag; either writes nothing.
    pub async fn put_manifest(self, m: PutManifest) -> Result<PutOutcome> {
        let blobs = dedup(m.blobs.iter());
        let mut children = Vec::with_capacity(m.children.len());
        let mut seen = HashSet::new();
        for (digest, platform) in &m.children {
            if seen.insert(digest.clone()) {
                children.push((digest.clone(), platform.as_ref().map(to_json)));
            }
        }
        let manifest_size = to_i64(m.manifest_size)?;
        let size = to_i64(m.size)?;
        let t = DbTime(now());
        let repo = m.repository_id.0;
        let artifact_sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.id = $1");

        let (row, created, replaced, quota) = in_tx!(self, |tx| {
            let project: Option<i64> = sqlx::query_scalar(
                "UPDATE repositories SET update_time = $2 WHERE id = $1 RETURNING project_id",
            )
            .bind(repo)
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
            let project = project.ok_or(Error::NotFound)?;
            let locked = lock_quota!(tx, project, t);

            if !blobs.is_empty() {
                let mut q = Sql::new("SELECT digest FROM repository_blobs WHERE repository_id = ");
                q.bind(Arg::I64(repo))
                    .push(" AND digest IN ")
                    .bind_list(blobs.iter().map(|d| Arg::Text(d.to_string())));
                let present: Vec<String> =
                    bind_args!(sqlx::query_scalar(AssertSqlSafe(q.text)), q.args)
                        .fetch_all(&mut *tx)
                        .await?;
                let missing = absent(&blobs, &present);
                if !missing.is_empty() {
                    return Err(Error::MissingBlobs(missing));
                }
            }

            if !children.is_empty() {
                let wanted: Vec<Digest> = children.iter().map(|(d, _)| d.clone()).collect();
                let mut q = Sql::new("SELECT digest FROM artifacts WHERE repository_id = ");
                q.bind(Arg::I64(repo))
                    .push(" AND digest IN ")
                    .bind_list(wanted.iter().map(|d| Arg::Text(d.to_string())));
                let present: Vec<String> =
                    bind_args!(sqlx::query_scalar(AssertSqlSafe(q.text)), q.args)
                        .fetch_all(&mut *tx)
                        .await?;
                let missing = absent(&wanted, &present);
                if !missing.is_empty() {
                    return Err(Error::MissingManifests(missing));
                }
            }

            // The manifest is content too: `GET /v2/<name>/blobs/<manifest digest>` serves
            // it, and the project's quota counts it.
            sqlx::query(
                "INSERT INTO blobs (digest, size, media_type, creation_time) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(m.digest.as_str())
            .bind(manifest_size)
            .bind(&m.media_type)
            .bind(t)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(repo)
            .bind(m.digest.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO project_blobs (project_id, digest) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(project)
            .bind(m.digest.as_str())
            .execute(&mut *tx)
            .await?;

            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO artifacts (repository_id, digest, media_type, artifact_type, \
                 config_media_type, manifest_size, size, subject_digest, annotations, \
                 extra_attrs, push_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
            )
            .bind(repo)
            .bind(m.digest.as_str())
            .bind(&m.media_type)
            .bind(m.artifact_type.as_deref())
            .bind(m.config_media_type.as_deref())
            .bind(manifest_size)
            .bind(size)
            .bind(m.subject.as_ref().map(Digest::as_str))
            .bind(to_json(&m.annotations))
            .bind(to_json(&m.extra_attrs))
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
            let (id, created) = match inserted {
                Some(id) => (id, true),
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "UPDATE artifacts SET push_time = $3 \
                         WHERE repository_id = $1 AND digest = $2 RETURNING id",
                    )
                    .bind(repo)
                    .bind(m.digest.as_str())
                    .bind(t)
                    .fetch_one(&mut *tx)
                    .await?;
                    (id, false)
                }
            };

            // Re-pushes insert nothing new here; the links are the same content's links.
            if !blobs.is_empty() {
                let q = digest_rows("artifact_blobs (artifact_id, digest)", id, &blobs);
                bind_args!(sqlx::query(AssertSqlSafe(q.text)), q.args)
                    .execute(&mut *tx)
                    .await?;
                // A blob the repository links but the project had let go (its last
                // artifact deleted) is the project's again, and counted.
                let q = digest_rows("project_blobs (project_id, digest)", project, &blobs);
                bind_args!(sqlx::query(AssertSqlSafe(q.text)), q.args)
                    .execute(&mut *tx)
                    .await?;
            }
            if !children.is_empty() {
                let mut q = Sql::new(
                    "INSERT INTO artifact_references (parent_id, child_digest, platform) VALUES ",
                );
                q.args.push(Arg::I64(id));
                for (i, (d, platform)) in children.iter().enumerate() {
                    q.push(if i == 0 { "($1, " } else { ", ($1, " })
                        .bind(Arg::Text(d.to_string()))
                        .push(", ")
                        .bind(Arg::OptText(platform.clone()))
                        .push(")");
                }
                q.push(" ON CONFLICT DO NOTHING");
                bind_args!(sqlx::query(AssertSqlSafe(q.text)), q.args)
                    .execute(&mut *tx)
                    .await?;
            }

            let replaced = match &m.tag {
                None => None,
                Some(tag) => {
                    let old: Option<(i64, String)> = sqlx::query_as(
                        "SELECT t.artifact_id, a.digest FROM tags t \
                         JOIN artifacts a ON a.id = t.artifact_id \
                         WHERE t.repository_id = $1 AND t.name = $2",
                    )
                    .bind(repo)
                    .bind(tag.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    match old {
                        None => {
                            sqlx::query(
                                "INSERT INTO tags (repository_id, artifact_id, name, push_time) \
                                 VALUES ($1, $2, $3, $4)",
                            )
                            .bind(repo)
                            .bind(id)
                            .bind(tag.as_str())
                            .bind(t)
                            .execute(&mut *tx)
                            .await?;
                            None
                        }
                        Some((old_id, _)) if old_id != id && m.immutable_tag => {
                            return Err(Error::Immutable(tag.to_string()));
                        }
                        Some((old_id, old_digest)) => {
                            sqlx::query(
                                "UPDATE tags SET artifact_id = $3, push_time = $4 \
                                 WHERE repository_id = $1 AND name = $2",
                            )
                            .bind(repo)
                            .bind(tag.as_str())
                            .bind(id)
                            .bind(t)
                            .execute(&mut *tx)
                            .await?;
                            (old_id != id).then_some(old_digest)
                        }
                    }
                }
            };

            let quota = settle_usage!(tx, project, locked, t, true);
            insert_event_writes!(tx, &m.events, t);

            let row = sqlx::query_as::<_, ArtifactRow>(AssertSqlSafe(artifact_sql))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            (row, created, replaced, quota)
        });

        Ok(PutOutcome {
            artifact: row.try_into()?,
            created,
            replaced_tag_from: replaced.as_deref().map(parse_digest).transpose()?,
            quota,
        })
    }
}

/// The digests in order, each once.
fn dedup<'a>(digests: impl Iterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut seen = HashSet::new();
    digests.filter(|d| seen.insert(*d)).cloned().collect()
}

/// Those of `wanted` that are not in `present`.
/// What the repository holds of a manifest's references, to check its descriptors by.
#[derive(Debug, Default)]
pub struct StoredReferences {
    /// Size of each blob linked to the repository, by digest.
    pub blob_sizes: std::collections::HashMap<String, u64>,
    /// Media type and size of each child manifest in the repository, by digest.
    pub children: std::collections::HashMap<String, (String, u64)>,
}

impl Artifacts<'_> {
    /// Sizes of the `blobs`, and media types and sizes of the `children`, that
    /// `repository` holds (absent ones are left out: [`Self::put_manifest`] reports them).
    pub async fn stored_references(
        self,
        repository: crate::RepositoryId,
        blobs: &[Digest],
        children: &[Digest],
    ) -> Result<StoredReferences> {
        let mut out = StoredReferences::default();
        if !blobs.is_empty() {
            let mut q = Sql::new(
                "SELECT b.digest, b.size FROM repository_blobs rb \
                 JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = ",
            );
            q.bind(Arg::I64(repository.0))
                .push(" AND rb.digest IN ")
                .bind_list(blobs.iter().map(|d| Arg::Text(d.to_string())));
            let rows: Vec<(String, i64)> = with_pool!(self, read, |pool| {
                bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                    .fetch_all(pool)
                    .await?
            });
            for (digest, size) in rows {
                out.blob_sizes.insert(digest, crate::rows::to_u64(size));
            }
        }
        if !children.is_empty() {
            let mut q = Sql::new(
                "SELECT a.digest, a.media_type, b.size FROM artifacts a \
                 JOIN blobs b ON b.digest = a.digest WHERE a.repository_id = ",
            );
            q.bind(Arg::I64(repository.0))
                .push(" AND a.digest IN ")
                .bind_list(children.iter().map(|d| Arg::Text(d.to_string())));
            let rows: Vec<(String, String, i64)> = with_pool!(self, read, |pool| {
                bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                    .fetch_all(pool)
                    .await?
            });
            for (digest, media_type, size) in rows {
                out.children
                    .insert(digest, (media_type, crate::rows::to_u64(size)));
            }
        }
        Ok(out)
    }
}

/// `INSERT INTO <table> VALUES (owner, d1), (owner, d2), … ON CONFLICT DO NOTHING`: one
/// row per digest, all for one owner (an artifact, a project).
fn digest_rows(table: &str, owner: i64, digests: &[Digest]) -> Sql {
    let mut q = Sql::new(&format!("INSERT INTO {table} VALUES "));
    q.args.push(Arg::I64(owner));
    for (i, d) in digests.iter().enumerate() {
        q.push(if i == 0 { "($1, " } else { ", ($1, " })
            .bind(Arg::Text(d.to_string()))
            .push(")");
    }
    q.push(" ON CONFLICT DO NOTHING");
    q
}

fn absent(wanted: &[Digest], present: &[String]) -> Vec<Digest> {
    let present: HashSet<&str> = present.iter().map(String::as_str).collect();
    wanted
        .iter()
        .filter(|d| !present.contains(d.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        assert_eq!(dedup([&a, &b, &a].into_iter()), vec![a.clone(), b.clone()]);
        assert_eq!(absent(&[a.clone(), b.clone()], &[b.to_string()]), vec![a]);
    }
}
