//! The throwaway PostgreSQL databases handed to other crates' tests really go away.

use std::str::FromStr;

use portcullis_meta::MetaStore;
use portcullis_meta::testing::{TestDatabase, pg_server_url, skip_pg, temp_pg_database};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

async fn database_exists(name: &str) -> bool {
    let mut conn = PgConnectOptions::from_str(&pg_server_url())
        .unwrap()
        .connect()
        .await
        .expect("connect to the PostgreSQL server");
    let found: Option<String> =
        sqlx::query_scalar("SELECT datname::TEXT FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    found.is_some()
}

fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn dropping_the_guard_drops_the_database_even_while_connected() {
    if skip_pg() {
        return;
    }
    let (url, guard) = temp_pg_database(&pg_server_url())
        .await
        .expect("PostgreSQL for tests (set PORTCULLIS_SKIP_PG=1 to skip)");
    let name = database_name(&url);
    assert_eq!(guard.name(), name);
    let store = MetaStore::connect(&url).await.unwrap();
    store.health().await.unwrap();
    assert!(database_exists(&name).await);
    // Not closed on purpose: a failed test leaves its pool open, and the drop must still work.
    drop(guard);
    assert!(!database_exists(&name).await);
    assert!(store.health().await.is_err());
}

#[tokio::test]
async fn test_database_lives_as_long_as_its_value() {
    if skip_pg() {
        return;
    }
    let db = TestDatabase::create()
        .await
        .expect("PostgreSQL for tests (set PORTCULLIS_SKIP_PG=1 to skip)");
    let name = database_name(db.url());
    let store = MetaStore::connect(db.url()).await.unwrap();
    assert_eq!(store.backend_name(), "postgres");
    store.close().await;
    assert!(database_exists(&name).await);
    drop(db);
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    if skip_pg() {
        return;
    }
    let db = TestDatabase::create()
        .await
        .expect("PostgreSQL for tests (set PORTCULLIS_SKIP_PG=1 to skip)");
    let (a, b, c) = tokio::join!(
        MetaStore::connect(db.url()),
        MetaStore::connect(db.url()),
        MetaStore::connect(db.url()),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let user = a
        .users()
        .create_user(portcullis_meta::NewUser {
            username: "shared".into(),
            password_hash: "h".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        b.users().get_user_by_name("shared").await.unwrap(),
        Some(user)
    );
    for store in [a, b, c] {
        store.close().await;
    }
}
