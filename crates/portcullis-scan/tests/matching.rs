//! Fixture images scanned against fixture OSV records through the real database.

mod common;

use common::fixtures::*;
use common::osv::fixture_db;
use common::*;
use portcullis_scan::image::open_path;
use portcullis_scan::report::{HarborArtifact, ScanSummary, harbor_report};
use portcullis_scan::sbom::{SbomSubject, cyclonedx, spdx};
use portcullis_scan::{ScanOptions, ScanOutcome, ScanStatus, scan_image};
use portcullis_types::Severity;

fn scan(path: &std::path::Path, db: &portcullis_vulndb::VulnDb) -> ScanOutcome {
    let opts = ScanOptions::default();
    let img = open_path(path, &opts.limits).unwrap();
    scan_image(
        img.source.as_ref(),
        &img.root,
        img.root_digest.as_ref(),
        &opts,
        db,
    )
    .unwrap()
}

type Row = (String, String, Option<String>, Severity);

fn rows(o: &ScanOutcome) -> Vec<Row> {
    let mut r: Vec<Row> = o.images[0]
        .result
        .vulnerabilities
        .iter()
        .map(|v| {
            (
                v.id.clone(),
                v.package.package.name.clone(),
                v.advisory.fixed_version.clone(),
                v.severity(),
            )
        })
        .collect();
    r.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    r
}

fn row(id: &str, pkg: &str, fixed: &str, sev: Severity) -> Row {
    (id.into(), pkg.into(), Some(fixed.into()), sev)
}

#[test]
fn debian_and_language_packages() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &debian_app_layers());
    let out = scan(dir.path(), &db);
    assert_eq!(out.images[0].result.status, ScanStatus::Supported);
    use Severity::*;
    assert_eq!(
        rows(&out),
        [
            row("CVE-2019-11324", "urllib3", "1.24.2", High),
            row("CVE-2020-7598", "minimist", "1.2.6", Medium),
            row("CVE-2020-8203", "lodash", "4.17.19", High),
            row("CVE-2021-25900", "smallvec", "1.6.1", Critical),
            row("CVE-2021-38561", "golang.org/x/text", "0.3.7", High),
            row(
                "CVE-2021-44228",
                "org.apache.logging.log4j:log4j-core",
                "2.15.0",
                Critical
            ),
            row("CVE-2022-29248", "guzzlehttp/guzzle", "7.4.3", Medium),
            row("CVE-2022-30123", "rack", "2.2.3.1", Critical),
            row(
                "CVE-2022-37434",
                "zlib1g",
                "1:1.2.11.dfsg-2+deb11u2",
                Critical
            ),
            row("CVE-2023-0286", "libssl1.1", "1.1.1n-0+deb11u4", High),
            row("CVE-2023-0286", "openssl", "1.1.1n-0+deb11u4", High),
            row("CVE-2023-24532", "stdlib", "1.20.2", Medium),
            row("CVE-2024-21907", "Newtonsoft.Json", "13.0.1", High),
        ]
    );

    let result = &out.images[0].result;
    let summary = ScanSummary::of(result);
    assert_eq!(summary.severity, Some(Critical));
    assert_eq!(summary.summary.total, 13);
    assert_eq!(summary.summary.fixable, 13);
    assert_eq!(summary.summary.summary[&Critical], 4);
    let s = serde_json::to_value(&summary).unwrap();
    assert_eq!(s["status"], "supported");
    assert_eq!(s["summary"]["summary"]["High"], 6);

    let report = harbor_report(
        result,
        HarborArtifact {
            repository: Some("library/app".into()),
            digest: out.images[0]
                .manifest_digest
                .as_ref()
                .map(|d| d.to_string()),
            mime_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
            tag: None,
        },
        "2024-01-01T00:00:00Z".into(),
    );
    let j = serde_json::to_value(&report).unwrap();
    assert_eq!(j["severity"], "Critical");
    assert_eq!(j["scanner"]["name"], "Portcullis");
    assert_eq!(j["artifact"]["repository"], "library/app");
    let log4j = j["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2021-44228")
        .unwrap();
    assert_eq!(log4j["package"], "org.apache.logging.log4j:log4j-core");
    assert_eq!(log4j["version"], "2.14.1");
    assert_eq!(log4j["fix_version"], "2.15.0");
    assert_eq!(log4j["preferred_cvss"]["score_v3"], 9.8);
    assert_eq!(log4j["cwe_ids"][0], "CWE-20");
    let attrs = &log4j["vendor_attributes"];
    assert_eq!(attrs["package_type"], "maven");
    assert_eq!(attrs["path"], "/opt/app.jar");
    assert_eq!(
        attrs["purl"],
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    );
    assert!(attrs["layer"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn alpine_origin_and_rocky_rpm() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());

    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::new()
        .file("etc/os-release", ALPINE_OS_RELEASE.as_bytes())
        .file("lib/apk/db/installed", APK_INSTALLED.as_bytes());
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    assert_eq!(
        rows(&scan(dir.path(), &db)),
        [(
            "CVE-2020-1967".to_string(),
            "libcrypto1.1".to_string(),
            Some("1.1.1g-r0".to_string()),
            Severity::Unknown
        )]
    );

    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::new()
        .file(
            "etc/os-release",
            b"ID=\"rocky\"\nVERSION_ID=\"9.2\"\nPRETTY_NAME=\"Rocky Linux 9.2 (Blue Onyx)\"\n",
        )
        .file(
            "var/lib/rpm/rpmdb.sqlite",
            &rpmdb(&[
                (
                    "openssl-libs",
                    Some(1),
                    "3.0.7",
                    "16.el9_2",
                    "openssl-3.0.7-16.el9_2.src.rpm",
                ),
                (
                    "bash",
                    None,
                    "5.1.8",
                    "6.el9_1",
                    "bash-5.1.8-6.el9_1.src.rpm",
                ),
            ]),
        );
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    assert_eq!(
        rows(&scan(dir.path(), &db)),
        [row(
            "CVE-2023-0464",
            "openssl-libs",
            "1:3.0.7-16.el9_2.1",
            Severity::Low
        )]
    );
}

#[test]
fn unsupported_images_are_never_clean() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let dir = tempfile::tempdir().unwrap();
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(8192, 0);
    oci_layout(
        dir.path(),
        &[(gzip(&Layer::new().exe("server", &elf).tar()), GZIP_LAYER)],
    );
    let out = scan(dir.path(), &db);
    let r = &out.images[0].result;
    assert!(matches!(r.status, ScanStatus::Unsupported { .. }));
    let s = serde_json::to_value(ScanSummary::of(r)).unwrap();
    assert_eq!(s["status"], "unsupported");
    assert!(s["reason"].as_str().unwrap().contains("no OS release"));
}

#[test]
fn distribution_missing_from_the_database_is_unsupported() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::new()
        .file(
            "etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .file("var/lib/dpkg/status", DPKG_STATUS.as_bytes());
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    let out = scan(dir.path(), &db);
    match &out.images[0].result.status {
        ScanStatus::Unsupported { reason } => assert!(reason.contains("Debian:12"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sboms_have_required_fields_and_stable_order() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &debian_app_layers());
    let out = scan(dir.path(), &db);
    let inv = &out.images[0].result.inventory;
    let subject = SbomSubject {
        name: "app:1".into(),
        digest: Some("sha256:abc".into()),
        created: "2024-01-01T00:00:00Z".into(),
    };
    let doc = spdx(&subject, inv);
    for key in [
        "spdxVersion",
        "dataLicense",
        "SPDXID",
        "name",
        "documentNamespace",
        "creationInfo",
    ] {
        assert!(doc.get(key).is_some(), "SPDX misses {key}");
    }
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let pkgs = doc["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), inv.packages.len() + 2);
    for p in pkgs {
        for key in ["SPDXID", "name", "downloadLocation"] {
            assert!(p.get(key).is_some(), "SPDX package misses {key}");
        }
        let id = p["SPDXID"].as_str().unwrap();
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }
    assert_eq!(spdx(&subject, inv), doc, "same inventory, same document");

    let bom = cyclonedx(&subject, inv);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    let comps = bom["components"].as_array().unwrap();
    assert_eq!(comps.len(), inv.packages.len() + 1);
    let mut refs: Vec<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), comps.len(), "bom-refs are unique");
    let log4j = comps.iter().find(|c| c["name"] == "log4j-core").unwrap();
    assert_eq!(log4j["group"], "org.apache.logging.log4j");
    assert!(
        comps
            .iter()
            .all(|c| c["type"].is_string() && c["name"].is_string())
    );
}
