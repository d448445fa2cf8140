//! Fuzz harnesses for everything the scanner reads out of an image: the layer reader
//! and each package-database parser (docs/fuzzing.md). Layers come from whoever pushed
//! the image, so every parser must turn any bytes into packages, a note or a limit
//! error, never a panic. Under `cargo test` each harness replays its corpus
//! (`src/__fuzz__/<target>/corpus`) and then runs random inputs for a second.

use crate::budget::MemoryBudget;
use crate::detect::{self, Ctx, Kind};
use crate::limits::Limits;
use crate::merge::ImageInventory;

/// Bounds small enough that inputs can reach them, so their checks are fuzzed too.
fn limits() -> Limits {
    Limits {
        max_layer_bytes: 8 << 20,
        max_file_size: 1 << 20,
        max_package_db_size: 1 << 20,
        max_artifact_size: 1 << 20,
        max_packages: 1000,
        max_line_len: 4096,
        max_entries: 10_000,
        ..Limits::default()
    }
}

/// Parses `data` as the layer reader would parse a metadata file of `kind` at `path`.
fn metadata(kind: Kind, path: &str, data: &[u8]) {
    let limits = limits();
    let budget = MemoryBudget::unlimited();
    let memory = budget.account();
    let ctx = Ctx::new(&limits, &memory);
    let mut notes = Vec::new();
    let _ = detect::parse_metadata(kind, path, data.to_vec(), &ctx, &mut notes);
}

macro_rules! metadata_target {
    ($name:ident, $kind:expr, $path:expr) => {
        #[test]
        fn $name() {
            assert_eq!(
                detect::classify($path, 0o644),
                Some(detect::Want::Metadata($kind))
            );
            bolero::check!().for_each(|data: &[u8]| metadata($kind, $path, data));
        }
    };
}

metadata_target!(dpkg, Kind::Dpkg, "var/lib/dpkg/status");
metadata_target!(apk, Kind::Apk, "lib/apk/db/installed");
metadata_target!(rpm_sqlite, Kind::RpmSqlite, "var/lib/rpm/rpmdb.sqlite");
metadata_target!(
    python,
    Kind::Python,
    "usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA"
);
metadata_target!(
    npm_package,
    Kind::NpmPackage,
    "usr/lib/node_modules/left-pad/package.json"
);
metadata_target!(npm_lock, Kind::NpmLock, "app/package-lock.json");
metadata_target!(cargo_lock, Kind::CargoLock, "app/Cargo.lock");
metadata_target!(go_mod, Kind::GoMod, "app/go.mod");
metadata_target!(
    gemspec,
    Kind::Gemspec,
    "usr/lib/ruby/gems/3.1.0/specifications/rack-3.0.8.gemspec"
);
metadata_target!(composer_lock, Kind::ComposerLock, "app/composer.lock");
metadata_target!(dotnet_deps, Kind::DotnetDeps, "app/App.deps.json");

/// One rpm header blob, as a row of rpmdb.sqlite holds it: random bytes rarely make a
/// valid SQLite file, so the header parser behind it is fuzzed directly as well.
#[test]
fn rpm_header() {
    bolero::check!().for_each(|blob: &[u8]| {
        let _ = detect::rpm::parse_header(blob);
    });
}

/// The OS identification files: the first byte picks which one the text is.
#[test]
fn os_release() {
    const FILES: &[&str] = &[
        "etc/os-release",
        "usr/lib/os-release",
        "etc/alpine-release",
        "etc/debian_version",
        "etc/redhat-release",
    ];
    bolero::check!().for_each(|input: &[u8]| {
        let Some((&which, text)) = input.split_first() else {
            return;
        };
        let path = FILES[usize::from(which) % FILES.len()];
        let text = String::from_utf8_lossy(text);
        let _ = detect::detect_os([(path, text.as_ref())]);
        metadata(Kind::Os, path, input);
    });
}

/// Executables: ELF, Mach-O and PE headers, Go build information and cargo-auditable
/// sections.
#[test]
fn binary() {
    bolero::check!().for_each(|data: &[u8]| {
        let limits = limits();
        let budget = MemoryBudget::unlimited();
        let memory = budget.account();
        let ctx = Ctx::new(&limits, &memory);
        let _ = detect::is_executable_magic(data);
        let _ = detect::parse_binary("usr/bin/app", data, &ctx);
    });
}

/// Java archives, with the archives nested in them.
#[test]
fn jar() {
    bolero::check!().for_each(|data: &[u8]| {
        let limits = limits();
        let budget = MemoryBudget::unlimited();
        let memory = budget.account();
        let ctx = Ctx::new(&limits, &memory);
        let mut notes = Vec::new();
        let _ = detect::parse_jar("app/lib/app.jar", data.to_vec(), &ctx, &mut notes);
    });
}

/// A whole layer blob (plain, gzip or zstd tar, as the magic bytes say), then the
/// image view of it, which resolves links and whiteouts.
#[test]
fn layer() {
    bolero::check!().for_each(|data: &[u8]| {
        let limits = limits();
        if let Ok(inv) = crate::inventory_of_layer(data, None, None, &limits) {
            let _ = ImageInventory::from_layers(&[inv], &limits);
        }
    });
}
