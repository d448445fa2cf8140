//! Upkeep runs through the durable job runner: the server writes its schedules as rows
//! in the metadata store (upload expiry hourly, audit purge daily).

mod common;

use common::*;

#[tokio::test]
async fn upkeep_schedules_are_rows() {
    let s = Server::start(Backends::Embedded).await;
    let db = format!("sqlite://{}", s.dir.path().join("portcullis.db").display());
    let check = |list: Vec<portcullis_meta::Schedule>| {
        let names: Vec<_> = list
            .iter()
            .map(|x| (x.name.as_str(), x.kind.as_str(), x.enabled))
            .collect();
        assert!(
            names.contains(&("expire-uploads", "expire-uploads", true)),
            "{names:?}"
        );
        assert!(
            names.contains(&("purge-audit", "purge-audit", true)),
            "{names:?}"
        );
        assert_eq!(list.len(), 2);
        let now = time::OffsetDateTime::now_utc();
        assert!(list.iter().all(|x| x.next_run_at > now));
    };
    let meta = portcullis_meta::MetaStore::connect(&db).await.unwrap();
    check(meta.list_schedules().await.unwrap());
    meta.close().await;
}
