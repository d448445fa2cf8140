//! Imports OSV archives into a fresh database and times opening and querying it:
//! `cargo run --release --example vulndb_bench -- <zip>...`

use portcullis_vulndb::{PackageQuery, VulnDb, import};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let summary = import(dir.path(), &paths, &|_| {})?;
    println!(
        "import: {:?} ({} records, {} invalid)",
        t.elapsed(),
        summary.records_read,
        summary.invalid
    );
    for e in &summary.errors {
        println!("  {e}");
    }
    let size = std::fs::metadata(dir.path().join("osv-index.bin"))?.len();
    println!("index size: {size} bytes");
    let t = Instant::now();
    let db = VulnDb::open(dir.path())?;
    let opened = t.elapsed();
    let queries = [
        ("Debian:11", "openssl", "1.1.1n-0+deb11u3"),
        ("Debian:10", "linux", "4.19.0"),
        ("Alpine:v3.11", "openssl", "1.1.1d-r0"),
        ("PyPI", "django", "3.2.0"),
        ("PyPI", "Pillow", "8.0.0"),
        ("crates.io", "tokio", "1.0.0"),
        ("Go", "stdlib", "1.20.0"),
        (
            "Go",
            "golang.org/x/net",
            "v0.0.0-20200101000000-abcdefabcdef",
        ),
        ("npm", "lodash", "4.17.15"),
    ];
    let t = Instant::now();
    let first = db.query(&PackageQuery {
        ecosystem: queries[0].0,
        name: queries[0].1,
        version: queries[0].2,
    })?;
    println!(
        "open: {opened:?}, first query: {:?} ({} findings)",
        t.elapsed(),
        first.len()
    );
    for (eco, name, version) in queries {
        let t = Instant::now();
        let f = db.query(&PackageQuery {
            ecosystem: eco,
            name,
            version,
        })?;
        let crit = f
            .iter()
            .filter(|f| f.severity >= portcullis_types::Severity::High)
            .count();
        println!(
            "{eco} {name} {version}: {} findings ({crit} high+) in {:?}",
            f.len(),
            t.elapsed()
        );
    }
    println!("{:#?}", db.metadata());
    Ok(())
}
