//! OSV records for the fixture packages, written by hand in the shape osv.dev publishes,
//! and imported into a fresh database.

use std::path::Path;

use serde_json::{Value, json};

pub const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"; // 9.8
pub const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"; // 7.5
pub const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N"; // 6.5
pub const LOW: &str = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N"; // 3.3

fn record(
    id: &str,
    aliases: &[&str],
    ecosystem: &str,
    name: &str,
    range: &str,
    fixed: &str,
    vector: Option<&str>,
) -> Value {
    let mut r = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2024-01-01T00:00:00Z",
        "published": "2022-01-01T00:00:00Z",
        "aliases": aliases,
        "summary": format!("{name} issue {id}"),
        "details": format!("A vulnerability in {name} fixed in {fixed}."),
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": range, "events": [{"introduced": "0"}, {"fixed": fixed}]}],
        }],
        "references": [{"type": "ADVISORY", "url": format!("https://example.org/advisories/{id}")}],
        "database_specific": {"cwe_ids": ["CWE-20"]},
    });
    if let Some(v) = vector {
        r["severity"] = json!([{"type": "CVSS_V3", "score": v}]);
    }
    r
}

/// Writes the fixture records as one JSON file each into `dir`.
pub fn write_records(dir: &Path) {
    let records = [
        record(
            "DSA-5343-1",
            &["CVE-2023-0286"],
            "Debian:11",
            "openssl",
            "ECOSYSTEM",
            "1.1.1n-0+deb11u4",
            Some(HIGH),
        ),
        record(
            "DSA-5218-1",
            &["CVE-2022-37434"],
            "Debian:11",
            "zlib",
            "ECOSYSTEM",
            "1:1.2.11.dfsg-2+deb11u2",
            Some(CRITICAL),
        ),
        // Fixed before the installed version: must not be reported.
        record(
            "DSA-4000-1",
            &["CVE-2017-0001"],
            "Debian:11",
            "openssl",
            "ECOSYSTEM",
            "1.1.0f-3+deb9u1",
            Some(CRITICAL),
        ),
        record(
            "ALPINE-v3.11-openssl-CVE-2020-1967",
            &["CVE-2020-1967"],
            "Alpine:v3.11",
            "openssl",
            "ECOSYSTEM",
            "1.1.1g-r0",
            None,
        ),
        record(
            "PYSEC-2019-133",
            &["CVE-2019-11324"],
            "PyPI",
            "urllib3",
            "ECOSYSTEM",
            "1.24.2",
            Some(HIGH),
        ),
        record(
            "GHSA-p6mc-m468-83gw",
            &["CVE-2020-8203"],
            "npm",
            "lodash",
            "SEMVER",
            "4.17.19",
            Some(HIGH),
        ),
        record(
            "GHSA-vh95-rmgr-6w4m",
            &["CVE-2020-7598"],
            "npm",
            "minimist",
            "SEMVER",
            "1.2.6",
            Some(MEDIUM),
        ),
        record(
            "RUSTSEC-2021-0003",
            &["CVE-2021-25900"],
            "crates.io",
            "smallvec",
            "SEMVER",
            "1.6.1",
            Some(CRITICAL),
        ),
        record(
            "GO-2021-0113",
            &["CVE-2021-38561"],
            "Go",
            "golang.org/x/text",
            "SEMVER",
            "0.3.7",
            Some(HIGH),
        ),
        record(
            "GO-2023-1621",
            &["CVE-2023-24532"],
            "Go",
            "stdlib",
            "SEMVER",
            "1.20.2",
            Some(MEDIUM),
        ),
        record(
            "GHSA-jfh8-c2jp-5v3q",
            &["CVE-2021-44228"],
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            "ECOSYSTEM",
            "2.15.0",
            Some(CRITICAL),
        ),
        record(
            "GHSA-wq4h-7r42-5hrr",
            &["CVE-2022-30123"],
            "RubyGems",
            "rack",
            "ECOSYSTEM",
            "2.2.3.1",
            Some(CRITICAL),
        ),
        record(
            "GHSA-cwmx-hcrq-mhc3",
            &["CVE-2022-29248"],
            "Packagist",
            "guzzlehttp/guzzle",
            "ECOSYSTEM",
            "7.4.3",
            Some(MEDIUM),
        ),
        record(
            "GHSA-5crp-9r3c-p9vr",
            &["CVE-2024-21907"],
            "NuGet",
            "Newtonsoft.Json",
            "ECOSYSTEM",
            "13.0.1",
            Some(HIGH),
        ),
        record(
            "RLSA-2023:3722",
            &["CVE-2023-0464"],
            "Rocky Linux:9",
            "openssl",
            "ECOSYSTEM",
            "1:3.0.7-16.el9_2.1",
            Some(LOW),
        ),
    ];
    for r in records {
        let id = r["id"].as_str().unwrap().replace(':', "_");
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(&r).unwrap(),
        )
        .unwrap();
    }
}

/// A database under `data_dir/vulndb` holding the fixture records.
pub fn fixture_db(data_dir: &Path) -> portcullis_vulndb::VulnDb {
    let osv = data_dir.join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    write_records(&osv);
    let db_dir = data_dir.join("vulndb");
    portcullis_vulndb::import(&db_dir, &[osv], &|_| {}).unwrap();
    portcullis_vulndb::VulnDb::open(&db_dir).unwrap()
}
