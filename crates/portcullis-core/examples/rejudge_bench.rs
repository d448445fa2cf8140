//! Benchmark of re-judging after a vulnerability database change: N artifacts (default
//! 10,000) with successful reports and cached layer inventories in a SQLite metadata
//! store are matched again against a new database, reading no layer.
//!
//! Each artifact has one of 20 Debian base layers (150 dpkg packages each) and a layer of
//! its own with 3 Python packages; the database holds 1,500 Debian and 300 PyPI
//! advisories. Run with `bash bench/rejudge.sh` (release build).

use std::sync::Arc;
use std::time::Instant;

use portcullis_blob::{BlobStore, FsConfig};
use portcullis_core::scanning::rejudge::RescanInput;
use portcullis_core::scanning::{
    BUILTIN_SCANNER, BuiltinEngine, ScanSettings, ScanSetup, VULN_MIME, VulnDbHolder, codec,
};
use portcullis_meta::{FinishedScan, MetaStore, ReportKey, ReportStatus};
use portcullis_scan::{INVENTORY_VERSION, Limits, inventory_of_layer};
use portcullis_types::Digest;
use serde_json::json;

const BASES: usize = 20;
const BASE_PACKAGES: usize = 150;

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, content.as_slice()).unwrap();
    }
    tar.into_inner().unwrap()
}

fn base_layer(b: usize) -> Vec<u8> {
    let mut status = String::new();
    for p in 0..BASE_PACKAGES {
        status.push_str(&format!(
            "Package: pkg{p}\nStatus: install ok installed\nArchitecture: amd64\n\
             Version: 1.{}.{b}-1\nDescription: package {p}\n\n",
            p % 7
        ));
    }
    tar_of(&[
        (
            "etc/os-release".into(),
            b"ID=debian\nVERSION_ID=\"11\"\nPRETTY_NAME=\"Debian GNU/Linux 11\"\n".to_vec(),
        ),
        ("var/lib/dpkg/status".into(), status.into_bytes()),
    ])
}

fn app_layer(i: usize) -> Vec<u8> {
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|k| {
            let name = format!("lib{}", (i * 3 + k) % 400);
            (
                format!("usr/lib/python3/dist-packages/{name}-0.{k}.dist-info/METADATA"),
                format!(
                    "Metadata-Version: 2.1\nName: {name}\nVersion: 0.{k}.{}\n",
                    i % 5
                )
                .into_bytes(),
            )
        })
        .collect();
    tar_of(&files)
}

fn advisories(dir: &std::path::Path) {
    let cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N";
    let mut n = 0;
    for p in 0..BASE_PACKAGES {
        for v in 0..10 {
            n += 1;
            let a = json!({ "id": format!("DSA-{n}"), "modified": "2024-01-01T00:00:00Z",
                "aliases": [format!("CVE-2024-{n:05}")], "summary": "bench advisory",
                "severity": [{ "type": "CVSS_V3", "score": cvss }],
                "affected": [{ "package": { "ecosystem": "Debian:11", "name": format!("pkg{p}") },
                  "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": format!("1.{v}.99-1") }] }] }] });
            std::fs::write(dir.join(format!("d{n}.json")), a.to_string()).unwrap();
        }
    }
    for l in 0..300 {
        let a = json!({ "id": format!("PYSEC-{l}"), "modified": "2024-01-01T00:00:00Z",
            "aliases": [format!("CVE-2023-{l:05}")], "summary": "bench advisory",
            "affected": [{ "package": { "ecosystem": "PyPI", "name": format!("lib{l}") },
              "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": "0.1.3" }] }] }] });
        std::fs::write(dir.join(format!("p{l}.json")), a.to_string()).unwrap();
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let meta = MetaStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("portcullis.db").display()
    ))
    .await?;
    let blobs = BlobStore::open_fs(FsConfig {
        root: dir.path().join("storage"),
    })
    .await?;
    let limits = Limits::default();

    eprintln!("setting up {n} artifacts…");
    let setup = Instant::now();
    let mut base_digests = Vec::new();
    for b in 0..BASES {
        let tar = base_layer(b);
        let d = Digest::sha256_of(&tar);
        let inv = inventory_of_layer(tar.as_slice(), None, Some(d.clone()), &limits)?;
        meta.scans()
            .put_layer_inventory(d.as_str(), i64::from(INVENTORY_VERSION), &codec::pack(&inv))
            .await?;
        base_digests.push(d.to_string());
    }
    for i in 0..n {
        let tar = app_layer(i);
        let d = Digest::sha256_of(&tar);
        let inv = inventory_of_layer(tar.as_slice(), None, Some(d.clone()), &limits)?;
        meta.scans()
            .put_layer_inventory(d.as_str(), i64::from(INVENTORY_VERSION), &codec::pack(&inv))
            .await?;
        let digest = format!("sha256:{:064x}", i + 1);
        let key = ReportKey {
            digest: digest.clone(),
            scanner: BUILTIN_SCANNER.into(),
            mime_type: VULN_MIME.into(),
        };
        meta.scans()
            .start_scan(&key, &format!("report-{i}"), 0)
            .await?;
        let input = RescanInput {
            repository: "bench/app".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            images: vec![vec![base_digests[i % BASES].clone(), d.to_string()]],
        };
        let done = FinishedScan {
            layers: serde_json::to_string(&input)?,
            summary: "{}".into(),
            db_generation: Some(0),
            ..FinishedScan::default()
        };
        meta.scans()
            .finish_scan(&key, ReportStatus::Success, &done)
            .await?;
    }
    let osv = tempfile::tempdir()?;
    advisories(osv.path());
    let db_dir = portcullis_vulndb::db_dir(dir.path());
    portcullis_vulndb::import(&db_dir, &[osv.path().to_path_buf()], &|_| {})?;
    eprintln!("set up in {:.1} s", setup.elapsed().as_secs_f64());

    let holder = Arc::new(VulnDbHolder::new(dir.path()));
    holder.refresh()?;
    let setup = ScanSetup {
        engine: BuiltinEngine {
            blobs: blobs.clone(),
            meta: meta.clone(),
            vulndb: holder,
            layer_cache: true,
            limits,
            budget: portcullis_scan::MemoryBudget::unlimited(),
        },
        settings: ScanSettings::default(),
    };
    let tokens = portcullis_core::auth::TokenService::new(
        &[7u8; 32],
        "rejudge-bench",
        std::time::Duration::from_secs(60),
    );
    let reg = portcullis_core::Registry::new(
        meta.clone(),
        blobs,
        tokens,
        portcullis_core::Settings::default(),
        setup,
    );
    let scanning = &reg.scanning;
    let started = Instant::now();
    let stats = scanning
        .rejudge_all(None)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let secs = started.elapsed().as_secs_f64();
    let sample = meta
        .scans()
        .get_report(&ReportKey {
            digest: format!("sha256:{:064x}", 1),
            scanner: BUILTIN_SCANNER.into(),
            mime_type: VULN_MIME.into(),
        })
        .await?
        .map(|r| r.total)
        .unwrap_or(0);
    println!(
        "re-judged {} artifacts ({} queued for a full scan) in {secs:.1} s ({:.0} per second); \
         findings in the first report: {sample}",
        stats.rejudged,
        stats.rescans,
        stats.rejudged as f64 / secs
    );
    Ok(())
}
