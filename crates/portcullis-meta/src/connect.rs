//! Opening the store: URL parsing, pool settings and migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Error, MetaStore, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for a lock held by another process.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers beside the single SQLite writer.
const SQLITE_READERS: u32 = 4;
/// PostgreSQL connections per node.
const POSTGRES_CONNECTIONS: u32 = 16;

impl MetaStore {
    /// Opens the store at `url` and brings its schema up to date.
    ///
    /// `sqlite:path`, `sqlite://path?mode=rwc` or `sqlite::memory:` open (and create)
    /// a SQLite database; `postgres://…` or `postgresql://…` a PostgreSQL one.
    pub async fn connect(url: &str) -> Result<MetaStore> {
        if url.starts_with("sqlite:") {
            connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await
        } else {
            Err(Error::Invalid(
                "database URL must start with sqlite: or postgres://".to_string(),
            ))
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<MetaStore> {
    let base = SqliteConnectOptions::from_str(url)?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // A registry that acknowledged a push must not lose it to a power cut.
        .synchronous(SqliteSynchronous::Full);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !in_memory {
        create_parent_dir(base.get_filename()).await?;
        owner_only_file(base.get_filename())
            .await
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
    }
    let writer_options = base
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    // The writer is never recycled: an in-memory database lives only as long as its
    // connection, and a file database loses nothing by keeping one connection open.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(writer_options)
        .await?;
    SQLITE_MIGRATIONS.run(&writer).await?;
    // An in-memory database exists only inside the writer's connection.
    let reader = if in_memory {
        writer.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(SQLITE_READERS)
            .connect_with(base.read_only(true))
            .await?
    };
    Ok(MetaStore {
        backend: Backend::Sqlite { writer, reader },
    })
}

/// Directories the database file needs are created for the owner alone.
async fn create_parent_dir(file: &Path) -> Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            let mut builder = tokio::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            builder.mode(0o700);
            builder
                .create(dir)
                .await
                .map_err(|e| Error::Database(sqlx::Error::Io(e)))
        }
        _ => Ok(()),
    }
}

/// The database holds password hashes and robot secrets' hashes: its file is the
/// owner's alone. A new file is created so (SQLite gives its WAL and shared-memory files
/// the database file's mode); an existing one readable by others is tightened.
async fn owner_only_file(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match tokio::fs::metadata(file).await {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                let mode = m.permissions().mode() & 0o700;
                tracing::warn!(file = %file.display(), "database file was readable by others; now mode {mode:o}");
                tokio::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).await?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true).mode(0o600);
                match opts.open(file) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn connect_postgres(url: &str) -> Result<MetaStore> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    // The migrator takes an advisory lock, so nodes starting together migrate once.
    POSTGRES_MIGRATIONS.run(&pool).await?;
    Ok(MetaStore {
        backend: Backend::Postgres(pool),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_and_its_new_directories_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/meta.db");
        let store = MetaStore::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        store.health().await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        let wal = dir.path().join("state/meta.db-wal");
        if wal.exists() {
            assert_eq!(mode(&wal), 0o600);
        }
        drop(store);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        MetaStore::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[tokio::test]
    async fn sqlite_runs_wal_with_full_sync_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("nested/meta.db").display());
        let store = MetaStore::connect(&url).await.unwrap();
        let Backend::Sqlite { writer, reader } = &store.backend else {
            panic!("expected sqlite");
        };
        for pool in [writer, reader] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(fk, 1);
        }
        assert_eq!(writer.options().get_max_connections(), 1);
        assert!(reader.options().get_max_connections() > 1);
        let err = sqlx::query("CREATE TABLE nope (x INTEGER)")
            .execute(reader)
            .await;
        assert!(err.is_err(), "reader pool must be read-only");
        store.health().await.unwrap();
        assert_eq!(store.backend_name(), "sqlite");
        store.close().await;
    }

    #[tokio::test]
    async fn sqlite_data_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let store = MetaStore::connect(&url).await.unwrap();
        let user = store
            .users()
            .create_user(crate::NewUser {
                username: "kept".into(),
                password_hash: "h".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
        let reopened = MetaStore::connect(&url).await.unwrap();
        assert_eq!(
            reopened.users().get_user(user.id).await.unwrap(),
            Some(user)
        );
    }

    #[tokio::test]
    async fn in_memory_sqlite_shares_one_database() {
        let store = MetaStore::connect("sqlite::memory:").await.unwrap();
        store.health().await.unwrap();
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let err = MetaStore::connect("mysql://x").await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)));
    }
}
