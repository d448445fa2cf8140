//! The layer inventory cache: each layer's package inventory by digest and format
//! version, so that a rescan after a vulnerability database update reads no layer.

use sqlx::AssertSqlSafe;

use crate::dbtime::{DbTime, now};
use crate::sql::{Arg, Sql, bind_args, with_pool};
use crate::{Result, Scans};

impl Scans<'_> {
    /// Cached layer inventories of format `version`, by layer digest.
    pub async fn layer_inventories(
        self,
        digests: &[String],
        version: i64,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for chunk in digests.chunks(400) {
            let mut q =
                Sql::new("SELECT digest, inventory FROM layer_inventories WHERE version = ");
            q.bind(Arg::I64(version))
                .push(" AND digest IN ")
                .bind_list(chunk.iter().map(|d| Arg::Text(d.clone())));
            let rows: Vec<(String, Vec<u8>)> = with_pool!(self, read, |pool| {
                bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                    .fetch_all(pool)
                    .await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Stores a layer's inventory (replacing one of another format version).
    pub async fn put_layer_inventory(
        self,
        digest: &str,
        version: i64,
        inventory: &[u8],
    ) -> Result<()> {
        let at = DbTime::from(now());
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO layer_inventories (digest, version, inventory, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO UPDATE SET \
                 version = excluded.version, inventory = excluded.inventory, \
                 created_at = excluded.created_at",
            )
            .bind(digest)
            .bind(version)
            .bind(inventory)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
