//! Tags: listing (`GET /v2/<name>/tags/list`) and deletion.

use portcullis_types::Tag;
use sqlx::AssertSqlSafe;

use crate::rows::{TAG_COLUMNS, TagRow, convert_all};
use crate::sql::{Arg, Sql, bind_args, with_pool};
use crate::{ArtifactId, RepositoryId, Result, TagRecord, Tags};

impl Tags<'_> {
    /// Tag names of the repository in byte order, strictly after `after`, at most `limit`.
    pub async fn list_tags(
        self,
        repository: RepositoryId,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<String>> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT name FROM tags WHERE repository_id = ");
        sql.bind(Arg::I64(repository.0));
        if let Some(after) = after {
            sql.push(" AND name > ").bind(Arg::Text(after.to_string()));
        }
        sql.push(" ORDER BY name");
        if let Some(limit) = limit {
            sql.push(" LIMIT ").bind(Arg::I64(i64::from(limit)));
        }
        let names = with_pool!(self, read, |pool| {
            bind_args!(sqlx::query_scalar(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        Ok(names)
    }

    /// The tags pointing at the artifact, by name.
    pub async fn tags_of(self, artifact: ArtifactId) -> Result<Vec<TagRecord>> {
        let sql =
            format!("SELECT {TAG_COLUMNS} FROM tags t WHERE t.artifact_id = $1 ORDER BY t.name");
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, TagRow>(AssertSqlSafe(sql))
                .bind(artifact.0)
                .fetch_all(pool)
                .await?
        });
        convert_all(rows)
    }

    /// The tag's record.
    pub async fn get_tag(self, repository: RepositoryId, tag: &Tag) -> Result<Option<TagRecord>> {
        let sql =
            format!("SELECT {TAG_COLUMNS} FROM tags t WHERE t.repository_id = $1 AND t.name = $2");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, TagRow>(AssertSqlSafe(sql))
                .bind(repository.0)
                .bind(tag.as_str())
                .fetch_optional(pool)
                .await?
        });
        row.map(TagRecord::try_from).transpose()
    }

    /// Removes the tag; the artifact stays. False when there was no such tag.
    pub async fn delete_tag(self, repository: RepositoryId, tag: &Tag) -> Result<bool> {
        let removed = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
                .bind(repository.0)
                .bind(tag.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(removed > 0)
    }
}
