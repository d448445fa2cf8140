//! Pull statistics, written in batches so that manifest GETs never wait on a write.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::DbTime;
use crate::sql::{Arg, Sql, bind_args, in_tx};
use crate::{ArtifactId, Artifacts, Result};

/// Ids per `IN (…)` list, well under both backends' placeholder limits.
const CHUNK: usize = 500;

impl Artifacts<'_> {
    /// Records pulls: each artifact's pull time becomes the latest given (never moving
    /// back), and each repository's pull count grows by its artifacts' pulls. Artifacts
    /// deleted meanwhile are skipped. One transaction.
    pub async fn record_pulls(self, pulls: &[(ArtifactId, OffsetDateTime)]) -> Result<()> {
        let mut per_artifact: BTreeMap<i64, (i64, DbTime)> = BTreeMap::new();
        for (id, at) in pulls {
            let at = DbTime::from(*at);
            per_artifact
                .entry(id.0)
                .and_modify(|(n, latest)| {
                    *n += 1;
                    if at.0 > latest.0 {
                        *latest = at;
                    }
                })
                .or_insert((1, at));
        }
        if per_artifact.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = per_artifact.keys().copied().collect();
        in_tx!(self, |tx| {
            let mut per_repository: BTreeMap<i64, i64> = BTreeMap::new();
            for chunk in ids.chunks(CHUNK) {
                let mut q = Sql::new("SELECT id, repository_id FROM artifacts WHERE id IN ");
                q.bind_list(chunk.iter().map(|id| Arg::I64(*id)));
                let owners: Vec<(i64, i64)> =
                    bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                        .fetch_all(&mut *tx)
                        .await?;
                for (artifact, repository) in owners {
                    *per_repository.entry(repository).or_default() += per_artifact[&artifact].0;
                }
            }
            // Repositories before artifacts, each in id order: the same lock order as
            // pushes and deletes, so concurrent batches cannot deadlock (PostgreSQL).
            for (repository, count) in &per_repository {
                sqlx::query("UPDATE repositories SET pull_count = pull_count + $2 WHERE id = $1")
                    .bind(*repository)
                    .bind(*count)
                    .execute(&mut *tx)
                    .await?;
            }
            for (artifact, (_, latest)) in &per_artifact {
                sqlx::query(
                    "UPDATE artifacts SET pull_time = $2 \
                     WHERE id = $1 AND (pull_time IS NULL OR pull_time < $2)",
                )
                .bind(*artifact)
                .bind(*latest)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }
}
