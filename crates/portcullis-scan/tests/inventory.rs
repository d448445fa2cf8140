//! Images built here from real package metadata, read back into inventories.

mod common;

use common::fixtures::*;
use common::*;
use portcullis_scan::image::{open_path, resolve_images};
use portcullis_scan::scan::layer_inventories;
use portcullis_scan::{ImageInventory, Limits, PackageType, ScanOptions};

fn inventory_of(path: &std::path::Path) -> Vec<ImageInventory> {
    let opts = ScanOptions::default();
    let img = open_path(path, &opts.limits).unwrap();
    let images = resolve_images(
        img.source.as_ref(),
        &img.root,
        img.root_digest.as_ref(),
        None,
        &opts.limits,
    )
    .unwrap();
    images
        .iter()
        .map(|i| {
            let layers = layer_inventories(img.source.as_ref(), &i.manifest, &opts).unwrap();
            ImageInventory::from_layers(&layers, &Limits::default()).unwrap()
        })
        .collect()
}

fn names(inv: &ImageInventory, kind: PackageType) -> Vec<(String, String)> {
    inv.packages
        .iter()
        .filter(|p| p.package.kind == kind)
        .map(|p| (p.package.name.clone(), p.package.version.clone()))
        .collect()
}

fn pair(n: &str, v: &str) -> (String, String) {
    (n.to_string(), v.to_string())
}

#[test]
fn every_detector_in_one_image() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &debian_app_layers());
    let inv = inventory_of(dir.path()).remove(0);
    let os = inv.os.clone().unwrap();
    assert_eq!(os.ecosystem.as_deref(), Some("Debian:11"));
    assert_eq!(inv.unsupported_reason(), None);
    assert_eq!(
        names(&inv, PackageType::Deb),
        [
            pair("base-files", "11.1+deb11u5"),
            pair("libssl1.1", "1.1.1n-0+deb11u3"),
            pair("openssl", "1.1.1n-0+deb11u3"),
            pair("zlib1g", "1:1.2.11.dfsg-2+deb11u1"),
        ]
    );
    let zlib = inv
        .packages
        .iter()
        .find(|p| p.package.name == "zlib1g")
        .unwrap();
    assert_eq!(zlib.package.source_name.as_deref(), Some("zlib"));
    assert_eq!(zlib.ecosystem.as_deref(), Some("Debian:11"));
    assert!(zlib.purl.starts_with("pkg:deb/debian/zlib1g@1:1.2.11"));
    assert_eq!(
        names(&inv, PackageType::Python),
        [pair("urllib3", "1.24.1")]
    );
    assert_eq!(
        names(&inv, PackageType::Npm),
        [pair("lodash", "4.17.15"), pair("minimist", "1.2.5")]
    );
    assert_eq!(names(&inv, PackageType::Cargo), [pair("smallvec", "1.6.0")]);
    assert_eq!(
        names(&inv, PackageType::Golang),
        [pair("golang.org/x/text", "0.3.5"), pair("stdlib", "1.20.1")]
    );
    assert_eq!(
        names(&inv, PackageType::Maven),
        [pair("org.apache.logging.log4j:log4j-core", "2.14.1")]
    );
    assert_eq!(names(&inv, PackageType::Gem), [pair("rack", "2.2.3")]);
    assert_eq!(
        names(&inv, PackageType::Composer),
        [pair("guzzlehttp/guzzle", "7.4.0")]
    );
    assert_eq!(
        names(&inv, PackageType::Nuget),
        [pair("Newtonsoft.Json", "12.0.1")]
    );
    let go = inv
        .packages
        .iter()
        .find(|p| p.package.name == "stdlib")
        .unwrap();
    assert_eq!(go.path, "usr/local/bin/goapp");
    assert_eq!(go.ecosystem.as_deref(), Some("Go"));
    let jar = inv
        .packages
        .iter()
        .find(|p| p.package.kind == PackageType::Maven)
        .unwrap();
    assert_eq!(jar.path, "opt/app.jar");
    // Every package records the layer it came from.
    assert!(inv.packages.iter().all(|p| p.layer.is_some()));
}

#[test]
fn whiteouts_remove_lower_packages() {
    let dir = tempfile::tempdir().unwrap();
    let base = Layer::new()
        .file("etc/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .file("var/lib/dpkg/status", DPKG_STATUS.as_bytes())
        .file(
            "app/node_modules/lodash/package.json",
            LODASH_PACKAGE_JSON.as_bytes(),
        )
        .file(
            "usr/lib/python3/dist-packages/urllib3-1.24.1.dist-info/METADATA",
            URLLIB3_METADATA.as_bytes(),
        );
    let upper = Layer::new()
        .whiteout("app/node_modules")
        .opaque("usr/lib/python3/dist-packages")
        .file("var/lib/dpkg/status", b"");
    oci_layout(
        dir.path(),
        &[(gzip(&base.tar()), GZIP_LAYER), (upper.tar(), TAR_LAYER)],
    );
    let inv = inventory_of(dir.path()).remove(0);
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
    // An empty but present dpkg database still makes a supported image.
    assert_eq!(inv.unsupported_reason(), None);
}

#[test]
fn alpine_from_docker_archive_without_eof_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::new()
        .file("etc/os-release", ALPINE_OS_RELEASE.as_bytes())
        .file("lib/apk/db/installed", APK_INSTALLED.as_bytes())
        .tar_without_eof(APK_INSTALLED.len());
    let path = dir.path().join("image.tar");
    docker_archive(&path, &[layer]);
    let inv = inventory_of(&path).remove(0);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Alpine:v3.11"));
    let crypto = inv
        .packages
        .iter()
        .find(|p| p.package.name == "libcrypto1.1")
        .unwrap();
    assert_eq!(crypto.package.source_name.as_deref(), Some("openssl"));
    assert_eq!(inv.packages.len(), 2);
}

#[test]
fn rocky_rpmdb_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = rpmdb(&[
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
        ("gpg-pubkey", None, "350d275d", "6279464b", ""),
    ]);
    let layer = Layer::new()
        .file("etc/os-release", b"NAME=\"Rocky Linux\"\nVERSION=\"9.2 (Blue Onyx)\"\nID=\"rocky\"\nVERSION_ID=\"9.2\"\n")
        .file("usr/lib/sysimage/rpm/rpmdb.sqlite", &db)
        .symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm");
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    let inv = inventory_of(dir.path()).remove(0);
    assert_eq!(
        inv.os.clone().unwrap().ecosystem.as_deref(),
        Some("Rocky Linux:9")
    );
    assert_eq!(
        names(&inv, PackageType::Rpm),
        [
            pair("bash", "5.1.8-6.el9_1"),
            pair("openssl-libs", "1:3.0.7-16.el9_2")
        ]
    );
    let ssl = inv
        .packages
        .iter()
        .find(|p| p.package.name == "openssl-libs")
        .unwrap();
    assert_eq!(ssl.package.source_name.as_deref(), Some("openssl"));
    assert_eq!(
        ssl.purl,
        "pkg:rpm/rocky/openssl-libs@3.0.7-16.el9_2?arch=x86_64&distro=rocky-9.2&epoch=1"
    );
}

#[test]
fn berkeley_rpmdb_is_unsupported_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let layer = Layer::new()
        .file(
            "etc/redhat-release",
            b"CentOS Linux release 7.9.2009 (Core)\n",
        )
        .file("var/lib/rpm/Packages", &[0u8; 4096]);
    oci_layout(dir.path(), &[(layer.tar(), TAR_LAYER)]);
    let inv = inventory_of(dir.path()).remove(0);
    let reason = inv.unsupported_reason().unwrap();
    assert!(reason.contains("BerkeleyDB"), "{reason}");
}

#[test]
fn scratch_static_binary_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    // A static binary with no embedded module information and no OS files.
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(4096, 0);
    let layer = Layer::new().exe("app", &elf);
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    let inv = inventory_of(dir.path()).remove(0);
    assert!(inv.packages.is_empty());
    assert!(inv.unsupported_reason().is_some());
}

#[test]
fn index_platforms_are_each_scanned_or_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let deb = Layer::new()
        .file("etc/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .file("var/lib/dpkg/status", DPKG_STATUS.as_bytes());
    let alp = Layer::new()
        .file("etc/os-release", ALPINE_OS_RELEASE.as_bytes())
        .file("lib/apk/db/installed", APK_INSTALLED.as_bytes());
    let a = put_image(
        dir.path(),
        &[(gzip(&deb.tar()), GZIP_LAYER)],
        ("linux", "amd64"),
    );
    let b = put_image(
        dir.path(),
        &[(gzip(&alp.tar()), GZIP_LAYER)],
        ("linux", "arm64"),
    );
    finish_layout(dir.path(), vec![a, b]);
    let all = inventory_of(dir.path());
    assert_eq!(all.len(), 2);
    let limits = Limits::default();
    let img = open_path(dir.path(), &limits).unwrap();
    let arm = "linux/arm64".parse().unwrap();
    let only = resolve_images(img.source.as_ref(), &img.root, None, Some(&arm), &limits).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].platform.as_ref().unwrap().architecture, "arm64");
    let none = "linux/s390x".parse().unwrap();
    assert!(resolve_images(img.source.as_ref(), &img.root, None, Some(&none), &limits).is_err());
}

#[test]
fn real_go_binary_when_go_is_installed() {
    let Ok(out) = std::process::Command::new("go").arg("version").output() else {
        eprintln!("go not installed; the embedded-buildinfo fixture covers the format");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/hello\n\ngo 1.18\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n",
    )
    .unwrap();
    let status = std::process::Command::new("go")
        .args(["build", "-o", "hello", "."])
        .current_dir(dir.path())
        .env("GOFLAGS", "-mod=mod")
        .env("GOCACHE", dir.path().join("cache"))
        .env("GOPATH", dir.path().join("gopath"))
        .env("CGO_ENABLED", "0")
        .status()
        .unwrap();
    assert!(status.success());
    let bin = std::fs::read(dir.path().join("hello")).unwrap();
    let layer = Layer::new().exe("hello", &bin);
    let inv = portcullis_scan::inventory_of_layer(&layer.tar()[..], None, None, &Limits::default())
        .unwrap();
    let pkgs = match &inv.files[0].content {
        portcullis_scan::FileContent::Packages { packages, .. } => packages.clone(),
        other => panic!("{other:?}"),
    };
    let version = String::from_utf8(out.stdout).unwrap();
    let stdlib = pkgs.iter().find(|p| p.name == "stdlib").unwrap();
    assert!(
        version.contains(&format!("go{}", stdlib.version)),
        "{version} vs {}",
        stdlib.version
    );
}

#[test]
fn cargo_auditable_binary_and_hard_linked_os_release() {
    let dir = tempfile::tempdir().unwrap();
    let audit = r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","kind":"runtime","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io","kind":"runtime"}]}"#;
    let layer = Layer::new()
        .file("usr/lib/os-release", DEBIAN_11_OS_RELEASE.as_bytes())
        .hardlink("etc/os-release", "usr/lib/os-release")
        .file("var/lib/dpkg/status", b"")
        .exe("usr/local/bin/rustapp", &auditable_elf(audit));
    oci_layout(dir.path(), &[(gzip(&layer.tar()), GZIP_LAYER)]);
    let inv = inventory_of(dir.path()).remove(0);
    assert_eq!(
        inv.os.as_ref().unwrap().ecosystem.as_deref(),
        Some("Debian:11")
    );
    assert_eq!(names(&inv, PackageType::Cargo), [pair("smallvec", "1.6.0")]);
    assert_eq!(inv.packages[0].path, "usr/local/bin/rustapp");
}

/// `umoci insert` writes layers without end-of-archive blocks; real images made that way
/// must scan. Runs where umoci is installed.
#[test]
fn umoci_inserted_layers() {
    let umoci = |args: &[&str], dir: &std::path::Path| {
        std::process::Command::new("umoci")
            .args(args)
            .current_dir(dir)
            .status()
    };
    let dir = tempfile::tempdir().unwrap();
    if umoci(&["--version"], dir.path()).is_err() {
        eprintln!("umoci not installed; tar_without_eof fixtures cover the format");
        return;
    }
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::create_dir_all(src.join("var/lib/dpkg")).unwrap();
    std::fs::write(src.join("etc/os-release"), DEBIAN_11_OS_RELEASE).unwrap();
    std::fs::write(src.join("var/lib/dpkg/status"), DPKG_STATUS).unwrap();
    for args in [
        &["init", "--layout", "L"][..],
        &["new", "--image", "L:t"],
        &["insert", "--image", "L:t", "src/etc", "/etc"],
        &["insert", "--image", "L:t", "src/var", "/var"],
    ] {
        assert!(umoci(args, dir.path()).unwrap().success(), "umoci {args:?}");
    }
    let inv = inventory_of(&dir.path().join("L")).remove(0);
    assert_eq!(
        inv.os.as_ref().unwrap().ecosystem.as_deref(),
        Some("Debian:11")
    );
    assert_eq!(names(&inv, PackageType::Deb).len(), 4);
}
