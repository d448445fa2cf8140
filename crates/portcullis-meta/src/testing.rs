//! Throwaway PostgreSQL databases for tests (feature `testing`).
//!
//! The server comes from `PORTCULLIS_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Each call creates a database with a
//! random name; dropping the guard drops the database, even when the test panicked.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::{Error, Result};

/// Environment variable naming the PostgreSQL server tests may use.
pub const PG_URL_ENV: &str = "PORTCULLIS_TEST_PG_URL";
/// Environment variable that, set to `1`, skips PostgreSQL tests instead of failing them.
pub const SKIP_PG_ENV: &str = "PORTCULLIS_SKIP_PG";
/// The server used when [`PG_URL_ENV`] is unset.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server URL tests should use.
pub fn pg_server_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// True when PostgreSQL tests were asked to be skipped.
pub fn skip_pg() -> bool {
    std::env::var(SKIP_PG_ENV).is_ok_and(|v| v == "1")
}

/// Creates a fresh database on the server at `server_url` and returns its URL and the
/// guard that drops it.
pub async fn temp_pg_database(server_url: &str) -> Result<(String, PgDatabaseGuard)> {
    let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgConnectOptions::from_str(server_url)?;
    let mut conn = admin.connect().await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let url = with_database(server_url, &name)?;
    Ok((
        url,
        PgDatabaseGuard {
            server_url: server_url.to_string(),
            name,
            dropped: false,
        },
    ))
}

/// [`temp_pg_database`] on [`pg_server_url`], with a panic message that says what to do
/// when the server cannot be reached. `None` when [`skip_pg`] is set.
pub async fn temp_pg_database_or_panic() -> Option<(String, PgDatabaseGuard)> {
    if skip_pg() {
        eprintln!("{SKIP_PG_ENV}=1: skipping a PostgreSQL test");
        return None;
    }
    let server = pg_server_url();
    match temp_pg_database(&server).await {
        Ok(db) => Some(db),
        Err(e) => panic!(
            "cannot create a test database on PostgreSQL at {server}: {e}\n\
             Start PostgreSQL there, point {PG_URL_ENV} at a server, \
             or set {SKIP_PG_ENV}=1 to skip PostgreSQL tests."
        ),
    }
}

/// A throwaway database on [`pg_server_url`] that owns its own drop guard: what
/// end-to-end tests keep alive for as long as a server uses the database.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    _guard: PgDatabaseGuard,
}

impl TestDatabase {
    /// Creates the database on [`pg_server_url`].
    pub async fn create() -> Result<TestDatabase> {
        let (url, guard) = temp_pg_database(&pg_server_url()).await?;
        Ok(TestDatabase { url, _guard: guard })
    }

    /// The database's `postgres://` URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Drops its database when dropped (or when [`PgDatabaseGuard::drop_database`] is awaited).
#[derive(Debug)]
pub struct PgDatabaseGuard {
    server_url: String,
    name: String,
    dropped: bool,
}

impl PgDatabaseGuard {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, disconnecting anyone still using it.
    pub async fn drop_database(mut self) -> Result<()> {
        self.dropped = true;
        drop_database(&self.server_url, &self.name).await
    }
}

impl Drop for PgDatabaseGuard {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let server = self.server_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime (which cannot be blocked on) or outside any:
        // a thread with its own runtime works in both cases.
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
            rt.block_on(drop_database(&server, &name))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

async fn drop_database(server_url: &str, name: &str) -> Result<()> {
    let mut conn = PgConnectOptions::from_str(server_url)?.connect().await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// `url` with its database path replaced by `database`, keeping credentials and options.
fn with_database(url: &str, database: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| Error::Invalid(format!("not a PostgreSQL URL: {url}")))?;
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_path_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t1").unwrap(),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h", "t2").unwrap(),
            "postgresql://h/t2"
        );
        assert!(with_database("nonsense", "t").is_err());
    }
}
