//! `portcullis scan` end to end on fixture images.

mod common;

use clap::Parser;
use common::osv::fixture_db;
use common::*;
use portcullis_scan::cli::{ScanArgs, run, run_blocking};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    scan: ScanArgs,
}

fn args(list: &[&str]) -> ScanArgs {
    Cli::try_parse_from(std::iter::once("scan").chain(list.iter().copied()))
        .unwrap()
        .scan
}

#[test]
fn formats_filters_and_exit_codes() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let img = tempfile::tempdir().unwrap();
    oci_layout(img.path(), &debian_app_layers());
    let target = img.path().to_str().unwrap();
    let out = img.path().join("report.txt");
    let out_s = out.to_str().unwrap();

    let code = run_blocking(&args(&[target, "-o", out_s]), &db).unwrap();
    assert_eq!(code, 0);
    let table = std::fs::read_to_string(&out).unwrap();
    assert!(table.contains("Debian GNU/Linux 11"), "{table}");
    assert!(table.contains("CVE-2021-44228"));
    assert!(table.contains("Total: 13"));

    let code = run_blocking(
        &args(&[
            target,
            "--severity",
            "CRITICAL",
            "--exit-code",
            "3",
            "--format",
            "json",
            "-o",
            out_s,
        ]),
        &db,
    )
    .unwrap();
    assert_eq!(code, 3);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let vulns = json[0]["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 4);
    assert!(
        vulns
            .iter()
            .all(|v| v["advisory"]["severity"] == "Critical")
    );

    let code = run_blocking(
        &args(&[target, "--severity", "LOW", "--exit-code", "3", "-o", out_s]),
        &db,
    )
    .unwrap();
    assert_eq!(code, 0, "no Low findings remain");

    for (format, key) in [
        ("harbor", "vulnerabilities"),
        ("spdx", "spdxVersion"),
        ("cyclonedx", "bomFormat"),
    ] {
        run_blocking(&args(&[target, "--format", format, "-o", out_s]), &db).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert!(doc.get(key).is_some(), "{format}: {doc}");
    }
}

#[test]
fn unsupported_image_fails_the_exit_code() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let img = tempfile::tempdir().unwrap();
    oci_layout(
        img.path(),
        &[(
            gzip(&Layer::new().file("hello.txt", b"hi").tar()),
            GZIP_LAYER,
        )],
    );
    let out = img.path().join("r.txt");
    let code = run_blocking(
        &args(&[
            img.path().to_str().unwrap(),
            "--exit-code",
            "1",
            "-o",
            out.to_str().unwrap(),
        ]),
        &db,
    )
    .unwrap();
    assert_eq!(code, 1);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("UNSUPPORTED")
    );
}

#[tokio::test]
async fn run_opens_the_database_under_the_data_dir() {
    let data = tempfile::tempdir().unwrap();
    drop(fixture_db(data.path()));
    let img = tempfile::tempdir().unwrap();
    let tar = img.path().join("image.tar");
    docker_archive(
        &tar,
        &[Layer::new()
            .file(
                "etc/os-release",
                common::fixtures::ALPINE_OS_RELEASE.as_bytes(),
            )
            .file(
                "lib/apk/db/installed",
                common::fixtures::APK_INSTALLED.as_bytes(),
            )
            .tar()],
    );
    let out = img.path().join("r.json");
    let a = args(&[
        tar.to_str().unwrap(),
        "--format",
        "harbor",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run(a, data.path()).await.unwrap(), 0);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["vulnerabilities"][0]["id"], "CVE-2020-1967");
    let missing = tempfile::tempdir().unwrap();
    let a = args(&[tar.to_str().unwrap()]);
    let err = run(a, missing.path()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("vulnerability database"),
        "{err:#}"
    );
}
