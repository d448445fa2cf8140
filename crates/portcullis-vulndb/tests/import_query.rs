//! Import of OSV fixtures (directory and zip) and the findings queries return.

use portcullis_types::Severity;
use portcullis_vulndb::{
    DbError, Finding, ImportPhase, PackageQuery, SharedVulnDb, VulnDb, import,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn imported() -> (tempfile::TempDir, VulnDb) {
    let dir = tempfile::tempdir().unwrap();
    let summary = import(dir.path(), &[fixtures()], &|_| {}).unwrap();
    assert_eq!(summary.invalid, 0, "{:?}", summary.errors);
    let db = VulnDb::open(dir.path()).unwrap();
    (dir, db)
}

fn query(db: &VulnDb, ecosystem: &str, name: &str, version: &str) -> Vec<Finding> {
    db.query(&PackageQuery {
        ecosystem,
        name,
        version,
    })
    .unwrap()
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn directory_import_counts_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let phases = Mutex::new(Vec::new());
    let summary = import(dir.path(), &[fixtures()], &|p| {
        phases.lock().unwrap().push(p.phase);
    })
    .unwrap();
    assert_eq!(summary.files, 9);
    assert_eq!(summary.records_read, 9);
    assert_eq!(summary.added, 9);
    assert_eq!(summary.total_records, 9);
    assert_eq!(summary.generation, 1);
    let phases = phases.into_inner().unwrap();
    assert_eq!(phases.first(), Some(&ImportPhase::Loading));
    assert_eq!(phases.last(), Some(&ImportPhase::Done));

    let db = VulnDb::open(dir.path()).unwrap();
    let meta = db.metadata();
    assert_eq!(meta.generation, 1);
    assert_eq!(meta.records, 9);
    assert_eq!(meta.withdrawn, 1);
    assert_eq!(
        meta.counts.get("PyPI"),
        Some(&2),
        "the withdrawn record is not counted"
    );
    assert_eq!(meta.counts.get("Debian:11"), Some(&1));
    assert_eq!(meta.counts.get("Go"), Some(&1));
    assert!(meta.updated_at > time::OffsetDateTime::now_utc() - time::Duration::minutes(5));
}

#[test]
fn debian_record_with_epoch_splits_per_cve() {
    let (_dir, db) = imported();
    let f = query(&db, "Debian:11", "zlib", "1:1.2.11.dfsg-2+deb11u1");
    assert_eq!(ids(&f), ["CVE-2018-25032", "CVE-2022-37434"]);
    for finding in &f {
        assert_eq!(finding.aliases, ["DSA-5197-1"]);
        assert_eq!(finding.source_ids, ["DSA-5197-1"]);
        assert_eq!(
            finding.fixed_version.as_deref(),
            Some("1:1.2.11.dfsg-2+deb11u2")
        );
        assert_eq!(finding.severity, Severity::Unknown);
        assert_eq!(finding.summary, "zlib - security update");
        assert!(finding.published.is_some());
    }
    // Without the epoch the version is older than any epoch-1 version.
    assert_eq!(query(&db, "Debian:11", "zlib", "1.2.13").len(), 2);
    assert!(query(&db, "Debian:11", "zlib", "1:1.2.11.dfsg-2+deb11u2").is_empty());
    assert!(query(&db, "Debian:11", "zlib", "1:1.2.13.dfsg-1").is_empty());
    // Another release has its own fixed version; an absent release matches nothing.
    assert_eq!(
        query(&db, "Debian:10", "zlib", "1:1.2.11.dfsg-1+deb10u1")[0]
            .fixed_version
            .as_deref(),
        Some("1:1.2.11.dfsg-1+deb10u2")
    );
    assert!(query(&db, "Debian:12", "zlib", "1:1.2.11.dfsg-2").is_empty());
}

#[test]
fn alpine_apk_versions() {
    let (_dir, db) = imported();
    let f = query(&db, "Alpine:v3.19", "openssl", "3.1.4-r0");
    assert_eq!(ids(&f), ["CVE-2023-5678"]);
    assert_eq!(f[0].aliases, ["ALPINE-v3.19-openssl-CVE-2023-5678"]);
    assert_eq!(f[0].fixed_version.as_deref(), Some("3.1.4-r1"));
    assert_eq!(
        ids(&query(&db, "Alpine:3.19", "openssl", "3.1.3-r0")),
        ["CVE-2023-5678"]
    );
    assert!(query(&db, "Alpine:v3.19", "openssl", "3.1.4-r1").is_empty());
    assert!(query(&db, "Alpine:v3.19", "openssl", "3.1.4_p1-r0").is_empty());
}

#[test]
fn pypi_records_sharing_a_cve_merge_and_withdrawn_is_skipped() {
    let (_dir, db) = imported();
    // The name is normalised (PEP 503) on both sides.
    let f = query(&db, "PyPI", "example.pkg", "1.9");
    assert_eq!(
        ids(&f),
        ["CVE-2024-11111"],
        "one issue, withdrawn record skipped"
    );
    let f = &f[0];
    assert_eq!(f.source_ids, ["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"]);
    assert_eq!(f.aliases, ["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"]);
    assert_eq!(
        f.fixed_version.as_deref(),
        Some("1.10"),
        "YAML 1.10 stays 1.10"
    );
    assert_eq!(
        f.severity,
        Severity::Medium,
        "CVSS 6.5 from the GHSA vector"
    );
    let cvss = f.cvss.as_ref().unwrap();
    assert_eq!((cvss.version.as_str(), cvss.score), ("3.1", 6.5));
    assert_eq!(f.cwe_ids, ["CWE-22"]);
    assert_eq!(
        f.published.unwrap(),
        time::macros::datetime!(2024-01-30 00:00:00 UTC)
    );
    assert_eq!(
        f.modified.unwrap(),
        time::macros::datetime!(2024-03-05 00:00:00 UTC)
    );
    assert_eq!(f.links.len(), 2);

    assert!(query(&db, "PyPI", "example-pkg", "1.10").is_empty());
    assert!(query(&db, "PyPI", "example-pkg", "2.0").is_empty());
    assert_eq!(
        query(&db, "PyPI", "Example_Pkg", "1.1").len(),
        1,
        "range match"
    );
    // Not PEP 440, but named exactly in the versions list: reported, never silently clean.
    assert_eq!(
        query(&db, "PyPI", "example-pkg", "not-a-pep440-version").len(),
        1
    );
    assert!(query(&db, "PyPI", "example-pkg", "another-bad-version").is_empty());
}

#[test]
fn crates_io_semver_ranges_from_0_0_0_0() {
    let (_dir, db) = imported();
    let f = query(&db, "crates.io", "tokio", "1.20.1");
    assert_eq!(ids(&f), ["CVE-2023-22466"]);
    assert_eq!(f[0].fixed_version.as_deref(), Some("1.20.3"));
    assert_eq!(f[0].severity, Severity::Medium);
    assert_eq!(f[0].cvss.as_ref().map(|c| c.score), Some(5.6));
    assert_eq!(f[0].aliases, ["GHSA-4q83-7cq4-p6wg", "RUSTSEC-2023-0001"]);
    assert_eq!(query(&db, "crates.io", "tokio", "0.1.0").len(), 1);
    assert_eq!(
        query(&db, "crates.io", "tokio", "0.1.0")[0]
            .fixed_version
            .as_deref(),
        Some("1.18.4")
    );
    assert!(query(&db, "crates.io", "tokio", "1.18.4").is_empty());
    assert!(query(&db, "crates.io", "tokio", "1.23.1").is_empty());
    assert!(query(&db, "crates.io", "tokio", "1.24.0").is_empty());
}

#[test]
fn npm_cvss_v4_and_several_affected_entries() {
    let (_dir, db) = imported();
    let f = query(&db, "npm", "path-to-regexp", "0.1.7");
    assert_eq!(ids(&f), ["CVE-2024-45296"]);
    let cvss = f[0].cvss.as_ref().unwrap();
    assert_eq!((cvss.version.as_str(), cvss.score), ("4.0", 8.2));
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].fixed_version.as_deref(), Some("0.1.10"));
    assert_eq!(f[0].cwe_ids, ["CWE-1333"]);
    let f = query(&db, "npm", "path-to-regexp", "2.4.0");
    assert_eq!(f[0].fixed_version.as_deref(), Some("3.3.0"));
    assert!(query(&db, "npm", "path-to-regexp", "1.8.0").is_empty());
    assert!(query(&db, "npm", "path-to-regexp", "6.3.0").is_empty());
}

#[test]
fn go_placeholder_timestamps_and_prefixes() {
    let (_dir, db) = imported();
    let f = query(&db, "Go", "stdlib", "go1.22.1");
    assert_eq!(ids(&f), ["CVE-2023-45288"]);
    assert_eq!(f[0].fixed_version.as_deref(), Some("1.22.2"));
    assert_eq!(f[0].published, None, "0001-01-01 is a placeholder");
    assert_eq!(f[0].modified, None);
    assert_eq!(f[0].aliases, ["GHSA-4v7x-pqxf-cx7m", "GO-2024-2687"]);
    assert_eq!(f[0].links, ["https://go.dev/issue/65051"]);
    assert!(query(&db, "Go", "stdlib", "1.21.9").is_empty());
    let f = query(
        &db,
        "Go",
        "golang.org/x/net",
        "v0.0.0-20231010000000-abcdefabcdef",
    );
    assert_eq!(ids(&f), ["CVE-2023-45288"]);
    assert!(query(&db, "Go", "golang.org/x/net", "v0.23.0").is_empty());
}

#[test]
fn maven_last_affected() {
    let (_dir, db) = imported();
    let f = query(&db, "Maven", "org.yaml:snakeyaml", "1.33");
    assert_eq!(ids(&f), ["CVE-2022-1471"]);
    assert_eq!(f[0].fixed_version, None);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].cwe_ids, ["CWE-20", "CWE-502"]);
    assert_eq!(
        query(&db, "Maven", "org.yaml:snakeyaml", "1.30-SNAPSHOT").len(),
        1
    );
    assert!(query(&db, "Maven", "org.yaml:snakeyaml", "2.0").is_empty());
    assert!(query(&db, "Maven", "org.yaml:snakeyaml", "1.33.1").is_empty());
}

#[test]
fn unknown_packages_and_missing_database() {
    let (_dir, db) = imported();
    assert!(query(&db, "npm", "left-pad", "1.0.0").is_empty());
    assert!(query(&db, "Nonexistent", "zlib", "1").is_empty());
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        VulnDb::open(empty.path()),
        Err(DbError::Missing(_))
    ));
}

fn zip_of_fixtures(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        zip.start_file(name, options).unwrap();
        zip.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    zip.start_file("README.txt", options).unwrap();
    zip.write_all(b"not a record").unwrap();
    zip.start_file("broken.json", options).unwrap();
    zip.write_all(b"{\"id\": ").unwrap();
    zip.finish().unwrap();
}

#[test]
fn zip_import_skips_broken_entries_and_reports_them() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("all.zip");
    zip_of_fixtures(&archive);
    let db_dir = work.path().join("vulndb");
    let summary = import(&db_dir, std::slice::from_ref(&archive), &|_| {}).unwrap();
    assert_eq!(summary.records_read, 9);
    assert_eq!(summary.invalid, 1);
    assert!(
        summary.errors[0].contains("broken.json"),
        "{:?}",
        summary.errors
    );
    let db = VulnDb::open(&db_dir).unwrap();
    assert_eq!(
        ids(&query(&db, "Debian:11", "zlib", "1:1.2.11.dfsg-2")),
        ["CVE-2018-25032", "CVE-2022-37434"]
    );
}

#[test]
fn reimport_merges_by_modified_and_server_notices_the_new_generation() {
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("vulndb");
    import(&db_dir, &[fixtures()], &|_| {}).unwrap();
    let shared = SharedVulnDb::new(VulnDb::open(&db_dir).unwrap());
    assert!(!shared.reload_if_changed().unwrap());

    // A newer copy of the Alpine record moves the fix; an older copy of the DSA is ignored.
    let newer = work.path().join("newer");
    std::fs::create_dir(&newer).unwrap();
    let alpine =
        std::fs::read_to_string(fixtures().join("ALPINE-v3.19-openssl-CVE-2023-5678.json"))
            .unwrap()
            .replace("2023-11-20T00:00:00Z", "2024-01-01T00:00:00Z")
            .replace("3.1.4-r1", "3.1.4-r2");
    std::fs::write(newer.join("a.json"), alpine).unwrap();
    let dsa = std::fs::read_to_string(fixtures().join("DSA-5197-1.json"))
        .unwrap()
        .replace("2023-04-02T12:00:00Z", "2020-01-01T00:00:00Z")
        .replace("dfsg-2+deb11u2", "dfsg-9");
    std::fs::write(newer.join("b.json"), dsa).unwrap();
    std::fs::write(
        newer.join("c.yml"),
        "id: OSV-2024-1\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package: {ecosystem: RubyGems, name: rack}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: '0'}, {fixed: 2.2.8.1}]\n",
    )
    .unwrap();
    let summary = import(&db_dir, &[newer], &|_| {}).unwrap();
    assert_eq!(
        (summary.added, summary.updated, summary.unchanged),
        (1, 1, 1)
    );
    assert_eq!(summary.total_records, 10);
    assert_eq!(summary.generation, 2);

    assert!(shared.reload_if_changed().unwrap());
    let db = shared.current();
    assert_eq!(db.metadata().generation, 2);
    assert_eq!(
        query(&db, "Alpine:v3.19", "openssl", "3.1.4-r1")[0]
            .fixed_version
            .as_deref(),
        Some("3.1.4-r2")
    );
    assert_eq!(
        query(&db, "Debian:11", "zlib", "1:1.2.11.dfsg-2")[0]
            .fixed_version
            .as_deref(),
        Some("1:1.2.11.dfsg-2+deb11u2")
    );
    assert_eq!(
        ids(&query(&db, "RubyGems", "rack", "2.2.8")),
        ["OSV-2024-1"]
    );
    assert!(query(&db, "RubyGems", "rack", "2.2.8.1").is_empty());
    // Records from the first import are all still there.
    assert_eq!(query(&db, "Go", "stdlib", "1.22.0").len(), 1);
}

#[test]
fn bad_sources_fail_without_touching_the_database() {
    let work = tempfile::tempdir().unwrap();
    let db_dir = work.path().join("vulndb");
    import(&db_dir, &[fixtures()], &|_| {}).unwrap();
    let not_zip = work.path().join("all.zip");
    std::fs::write(&not_zip, b"PK\x03\x04 truncated").unwrap();
    let err = import(&db_dir, &[not_zip], &|_| {}).unwrap_err();
    assert!(matches!(err, DbError::Source { .. }), "{err}");
    let err = import(&db_dir, &[work.path().join("nope")], &|_| {}).unwrap_err();
    assert!(matches!(err, DbError::Source { .. }), "{err}");
    let other = work.path().join("notes.txt");
    std::fs::write(&other, b"hello").unwrap();
    assert!(import(&db_dir, &[other], &|_| {}).is_err());
    assert_eq!(VulnDb::open(&db_dir).unwrap().metadata().generation, 1);
}

#[test]
fn damaged_index_is_an_error_not_a_panic() {
    let (dir, _db) = imported();
    let path = dir.path().join("osv-index.bin");
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 5, 12, 40, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(VulnDb::open(dir.path()).is_err(), "cut at {cut}");
    }
    // Damage inside the compressed blocks shows up at query time.
    let mut damaged = bytes.clone();
    let n = damaged.len();
    for b in &mut damaged[n - 200..n - 10] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &damaged).unwrap();
    let db = VulnDb::open(dir.path()).unwrap();
    let results: Vec<_> = [
        ("Debian:11", "zlib"),
        ("PyPI", "example-pkg"),
        ("Go", "stdlib"),
        ("crates.io", "tokio"),
        ("npm", "path-to-regexp"),
    ]
    .iter()
    .map(|(e, n)| {
        db.query(&PackageQuery {
            ecosystem: e,
            name: n,
            version: "1.0",
        })
    })
    .collect();
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(DbError::Corrupt { .. })))
    );
}

mod damaged {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A valid index, built once; each case damages a copy of it.
    fn valid_index() -> &'static Vec<u8> {
        static INDEX: OnceLock<Vec<u8>> = OnceLock::new();
        INDEX.get_or_init(|| {
            let (dir, _db) = imported();
            std::fs::read(dir.path().join("osv-index.bin")).unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn damaged_indexes_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..8)) {
            let mut bytes = valid_index().clone();
            let n = bytes.len();
            for (at, x) in flips {
                bytes[at.index(n)] ^= x;
            }
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("osv-index.bin"), &bytes).unwrap();
            if let Ok(db) = VulnDb::open(dir.path()) {
                for (e, name) in [("Debian:11", "zlib"), ("PyPI", "example-pkg"), ("Go", "stdlib")] {
                    let _ = db.query(&PackageQuery { ecosystem: e, name, version: "1.0" });
                }
            }
        }
    }
}
