//! Hostile layers are cut off with the matching limit error, and no input panics.

mod common;

use std::io::Write;

use common::fixtures::DEBIAN_11_OS_RELEASE;
use common::*;
use portcullis_scan::{ImageInventory, LimitError, Limits, ScanError, inventory_of_layer};
use proptest::prelude::*;

fn read(blob: &[u8], limits: &Limits) -> Result<portcullis_scan::LayerInventory, ScanError> {
    inventory_of_layer(blob, None, None, limits)
}

fn limit_of(r: Result<portcullis_scan::LayerInventory, ScanError>) -> LimitError {
    r.expect_err("the layer should have been refused")
        .limit()
        .cloned()
        .expect("a limit error")
}

#[test]
fn gzip_bomb() {
    // 256 MiB of zeros as concatenated gzip members (one compressed MiB repeated), which
    // is how a bomb is made cheaply; the whole blob is a few hundred KiB.
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_size(256 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    let mut blob = gzip(h.as_bytes());
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 1 << 20]).unwrap();
    let mib = z.finish().unwrap();
    for _ in 0..256 {
        blob.extend_from_slice(&mib);
    }
    assert!(blob.len() < 2 << 20);
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(read(&blob, &limits)),
        LimitError::LayerTooLarge { limit: 16 << 20 }
    );
}

#[test]
fn parent_traversal_names() {
    let blob = Layer::new().raw_name(b"../../etc/passwd", b"x").tar();
    assert!(matches!(
        limit_of(read(&blob, &Limits::default())),
        LimitError::PathTraversal { .. }
    ));
    let blob = Layer::new().raw_name(b"a/b/../../../x", b"x").tar();
    assert!(matches!(
        limit_of(read(&blob, &Limits::default())),
        LimitError::PathTraversal { .. }
    ));
}

#[test]
fn absolute_names() {
    let blob = Layer::new().raw_name(b"/etc/shadow", b"x").tar();
    assert!(matches!(
        limit_of(read(&blob, &Limits::default())),
        LimitError::AbsolutePath { .. }
    ));
}

#[test]
fn symlink_loop() {
    let blob = Layer::new()
        .symlink("etc/os-release", "../usr/lib/os-release")
        .symlink("usr/lib/os-release", "/etc/os-release")
        .tar();
    let inv = read(&blob, &Limits::default()).unwrap();
    let err = ImageInventory::from_layers(&[inv], &Limits::default()).unwrap_err();
    assert!(
        matches!(err.limit(), Some(LimitError::SymlinkLoop { .. })),
        "{err}"
    );
}

#[test]
fn huge_metadata_file() {
    let status = "Package: x\nVersion: 1\n\n".repeat(100_000);
    let blob = gzip(
        &Layer::new()
            .file("var/lib/dpkg/status", status.as_bytes())
            .tar(),
    );
    let limits = Limits {
        max_file_size: 1 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        limit_of(read(&blob, &limits)),
        LimitError::FileTooLarge { ref path, .. } if path == "var/lib/dpkg/status"
    ));
}

#[test]
fn huge_executable_is_skipped_with_a_note() {
    let mut elf = b"\x7fELF".to_vec();
    elf.resize(64 << 10, 0);
    let blob = Layer::new().exe("usr/bin/big", &elf).tar();
    let limits = Limits {
        max_artifact_size: 4 << 10,
        ..Limits::default()
    };
    let inv = read(&blob, &limits).unwrap();
    assert!(inv.files.is_empty());
    assert!(inv.notes[0].contains("usr/bin/big"));
}

#[test]
fn too_many_entries() {
    let mut layer = Layer::new();
    for i in 0..100 {
        layer = layer.file(&format!("f{i}"), b"");
    }
    let limits = Limits {
        max_entries: 50,
        ..Limits::default()
    };
    assert_eq!(
        limit_of(read(&layer.tar(), &limits)),
        LimitError::TooManyEntries { limit: 50 }
    );
}

#[test]
fn overlong_path() {
    let long = format!("{}/file", "d".repeat(5000));
    let blob = Layer::new().file(&long, b"x").tar();
    assert!(matches!(
        limit_of(read(&blob, &Limits::default())),
        LimitError::PathTooLong { .. }
    ));
}

#[test]
fn truncated_inside_an_entry_is_an_error_not_a_short_inventory() {
    let tar = Layer::new()
        .file("etc/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .file("var/lib/dpkg/status", &[b'x'; 4000])
        .tar();
    let cut = &tar[..1536];
    assert!(read(cut, &Limits::default()).is_err());
    // Ending exactly where the last entry's data ends, without padding or end blocks, is
    // how unclosed Go tar writers leave layers: accepted.
    let ok = Layer::new()
        .file("etc/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .tar_without_eof(DEBIAN_11_OS_RELEASE.len());
    assert_eq!(read(&ok, &Limits::default()).unwrap().files.len(), 1);
    // A few bytes fewer is a truncated file, not a clean end.
    assert!(read(&ok[..ok.len() - 10], &Limits::default()).is_err());
}

#[test]
fn mislabelled_compression() {
    let blob = Layer::new().file("a", b"x").tar();
    assert!(matches!(
        inventory_of_layer(&blob[..], Some(GZIP_LAYER), None, &Limits::default()),
        Err(ScanError::MalformedLayer(_))
    ));
}

fn small_limits() -> Limits {
    Limits {
        max_layer_bytes: 4 << 20,
        max_file_size: 1 << 20,
        max_artifact_size: 1 << 20,
        max_entries: 1000,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read(&data, &small_limits());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let _ = read(&gz.finish().unwrap(), &small_limits());
    }

    #[test]
    fn mutated_layers_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut tar = Layer::new()
            .file("etc/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
            .file("var/lib/dpkg/status", common::fixtures::DPKG_STATUS.as_bytes())
            .file("app/node_modules/x/package.json", br#"{"name":"x","version":"1.0.0"}"#)
            .file("opt/a.jar", &common::fixtures::log4j_jar())
            .symlink("etc/alt", "../x")
            .tar();
        for (i, b) in flips {
            let at = i.index(tar.len());
            tar[at] = b;
        }
        if let Ok(inv) = read(&tar, &small_limits()) {
            let _ = ImageInventory::from_layers(&[inv], &small_limits());
        }
    }
}
