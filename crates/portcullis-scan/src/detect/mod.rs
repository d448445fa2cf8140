//! Detectors: which paths hold package metadata (decided from the path alone, before any
//! content is read) and how each kind of file is turned into packages.

mod apk;
mod binary;
mod dotnet;
mod dpkg;
mod golang;
mod java;
mod npm;
mod os;
mod php;
mod python;
mod rpm;
mod ruby;
mod rust;

pub use os::{OsInfo, detect_os};

use crate::inventory::{Catalog, FileContent};
use crate::limits::Limits;

/// What a detector wants to do with a file, decided from its path and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// A metadata file: read it whole (it must fit `max_file_size`).
    Metadata(Kind),
    /// A possible executable: look at its magic bytes first (bounded by
    /// `max_artifact_size`, skipped with a note when larger).
    Binary,
    /// A Java archive (bounded like binaries).
    Jar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Os,
    Dpkg,
    Apk,
    RpmSqlite,
    RpmBdb,
    RpmNdb,
    Python,
    NpmPackage,
    NpmLock,
    CargoLock,
    GoMod,
    Gemspec,
    ComposerLock,
    DotnetDeps,
}

const OS_FILES: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
];

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Whether `path` lies inside a directory named `dir` somewhere below the root.
fn under(path: &str, dir: &str) -> bool {
    path.split('/').any(|c| c == dir)
}

/// Classifies a regular file. Called for every entry of every layer, so it only looks at
/// the path string.
pub(crate) fn classify(path: &str, mode: u32) -> Option<Want> {
    let name = file_name(path);
    let kind = match name {
        "os-release" | "alpine-release" | "debian_version" | "redhat-release"
            if OS_FILES.contains(&path) =>
        {
            Kind::Os
        }
        "status" if path == "var/lib/dpkg/status" => Kind::Dpkg,
        _ if parent(path) == "var/lib/dpkg/status.d" && !name.ends_with(".md5sums") => Kind::Dpkg,
        "installed" if path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed" => {
            Kind::Apk
        }
        "rpmdb.sqlite" if is_rpm_dir(parent(path)) => Kind::RpmSqlite,
        "Packages" if is_rpm_dir(parent(path)) => Kind::RpmBdb,
        "Packages.db" if is_rpm_dir(parent(path)) => Kind::RpmNdb,
        "METADATA" if parent(path).ends_with(".dist-info") => Kind::Python,
        "PKG-INFO" if parent(path).ends_with(".egg-info") => Kind::Python,
        "package.json" if npm::is_installed_package_json(path) => Kind::NpmPackage,
        "package-lock.json" if !under(path, "node_modules") => Kind::NpmLock,
        "Cargo.lock" => Kind::CargoLock,
        "go.mod" if !under(path, "vendor") && !path.contains("/pkg/mod/") => Kind::GoMod,
        "composer.lock" if !under(path, "vendor") => Kind::ComposerLock,
        _ if name.ends_with(".gemspec") && parent(path).ends_with("specifications") => {
            Kind::Gemspec
        }
        _ if name.ends_with(".deps.json") => Kind::DotnetDeps,
        _ if java::is_archive_name(name) => return Some(Want::Jar),
        _ if mode & 0o111 != 0 => return Some(Want::Binary),
        _ => return None,
    };
    Some(Want::Metadata(kind))
}

/// Whether a symbolic link at `path` can matter when resolving the OS identification
/// files; other links are not kept, which keeps layer inventories small.
pub(crate) fn link_matters(path: &str) -> bool {
    let one_level = |prefix: &str| path.strip_prefix(prefix).is_some_and(|r| !r.contains('/'));
    OS_FILES.iter().any(|f| {
        f.strip_prefix(path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }) || one_level("etc/")
        || one_level("usr/lib/")
}

fn is_rpm_dir(dir: &str) -> bool {
    dir == "var/lib/rpm" || dir == "usr/lib/sysimage/rpm"
}

/// Parses a metadata file. Returns `None` when the file turned out not to matter; parse
/// problems that do not stop the scan go to `notes`.
pub(crate) fn parse_metadata(
    kind: Kind,
    path: &str,
    data: &[u8],
    notes: &mut Vec<String>,
) -> Option<FileContent> {
    let text = || String::from_utf8_lossy(data);
    let packages = |catalog: Catalog, packages| Some(FileContent::Packages { catalog, packages });
    let result: Result<Option<FileContent>, String> = match kind {
        Kind::Os => Ok(Some(FileContent::OsFile {
            text: text().chars().take(8192).collect(),
        })),
        Kind::Dpkg => Ok(packages(Catalog::Dpkg, dpkg::parse(&text()))),
        Kind::Apk => Ok(packages(Catalog::Apk, apk::parse(&text()))),
        Kind::RpmSqlite => rpm::parse_sqlite(data).map(|p| packages(Catalog::Rpm, p)),
        Kind::RpmBdb => Ok(Some(rpm::unsupported("BerkeleyDB"))),
        Kind::RpmNdb => Ok(Some(rpm::unsupported("NDB"))),
        Kind::Python => Ok(packages(
            Catalog::PythonMetadata,
            python::parse(&text()).into_iter().collect(),
        )),
        Kind::NpmPackage => npm::parse_package_json(data)
            .map(|p| packages(Catalog::NpmPackage, p.into_iter().collect())),
        Kind::NpmLock => npm::parse_lock(data).map(|p| packages(Catalog::NpmLock, p)),
        Kind::CargoLock => Ok(packages(
            Catalog::CargoLock,
            rust::parse_cargo_lock(&text()),
        )),
        Kind::GoMod => Ok(packages(Catalog::GoMod, golang::parse_go_mod(&text()))),
        Kind::Gemspec => Ok(packages(
            Catalog::Gemspec,
            ruby::parse_gemspec(file_name(path), &text())
                .into_iter()
                .collect(),
        )),
        Kind::ComposerLock => php::parse(data).map(|p| packages(Catalog::ComposerLock, p)),
        Kind::DotnetDeps => dotnet::parse(data).map(|p| packages(Catalog::DotnetDeps, p)),
    };
    result.unwrap_or_else(|e| {
        notes.push(format!("{path}: {e}"));
        None
    })
}

/// Whether the first bytes of a file are those of an executable format we inspect.
pub(crate) fn is_executable_magic(head: &[u8]) -> bool {
    binary::is_executable_magic(head)
}

/// Inspects an executable for embedded Go build information and cargo-auditable data.
pub(crate) fn parse_binary(data: &[u8]) -> Option<FileContent> {
    binary::parse(data)
}

/// Reads the Maven coordinates of a Java archive and the archives nested in it.
pub(crate) fn parse_jar(
    path: &str,
    data: Vec<u8>,
    limits: &Limits,
    notes: &mut Vec<String>,
) -> Option<FileContent> {
    let packages = java::parse(path, data, limits, notes);
    Some(FileContent::Packages {
        catalog: Catalog::Jar,
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let m = |k| Some(Want::Metadata(k));
        assert_eq!(classify("etc/os-release", 0o644), m(Kind::Os));
        assert_eq!(classify("opt/etc/os-release", 0o644), None);
        assert_eq!(classify("var/lib/dpkg/status", 0o644), m(Kind::Dpkg));
        assert_eq!(
            classify("var/lib/dpkg/status.d/libc6", 0o644),
            m(Kind::Dpkg)
        );
        assert_eq!(classify("var/lib/dpkg/status.d/libc6.md5sums", 0o644), None);
        assert_eq!(classify("lib/apk/db/installed", 0o644), m(Kind::Apk));
        assert_eq!(
            classify("var/lib/rpm/rpmdb.sqlite", 0o644),
            m(Kind::RpmSqlite)
        );
        assert_eq!(classify("var/lib/rpm/Packages", 0o644), m(Kind::RpmBdb));
        assert_eq!(
            classify(
                "usr/lib/python3/dist-packages/urllib3-1.24.1.dist-info/METADATA",
                0o644
            ),
            m(Kind::Python)
        );
        assert_eq!(
            classify("app/node_modules/@types/node/package.json", 0o644),
            m(Kind::NpmPackage)
        );
        assert_eq!(classify("app/package.json", 0o644), None);
        assert_eq!(classify("app/node_modules/x/lib/package.json", 0o644), None);
        assert_eq!(classify("app/package-lock.json", 0o644), m(Kind::NpmLock));
        assert_eq!(
            classify("app/node_modules/x/package-lock.json", 0o644),
            None
        );
        assert_eq!(
            classify(
                "usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.3.gemspec",
                0o644
            ),
            m(Kind::Gemspec)
        );
        assert_eq!(classify("app/App.deps.json", 0o644), m(Kind::DotnetDeps));
        assert_eq!(classify("app/lib/app.jar", 0o644), Some(Want::Jar));
        assert_eq!(classify("usr/bin/ls", 0o755), Some(Want::Binary));
        assert_eq!(classify("usr/share/doc/README", 0o644), None);
    }

    #[test]
    fn links_worth_keeping() {
        assert!(link_matters("etc/os-release"));
        assert!(link_matters("etc"));
        assert!(link_matters("usr"));
        assert!(link_matters("usr/lib"));
        assert!(link_matters("etc/mtab"));
        assert!(!link_matters("etc/alternatives/awk"));
        assert!(!link_matters("usr/bin/awk"));
        assert!(!link_matters("usr/lib/x86_64-linux-gnu/libz.so.1"));
    }
}
