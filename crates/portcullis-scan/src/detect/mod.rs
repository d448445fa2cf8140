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
pub(crate) mod rpm;
mod ruby;
mod rust;

pub use os::{OsInfo, detect_os};

use std::cell::{Cell, RefCell};

use crate::budget::{Reservation, ScanMemory, package_cost, packages_bound, string_cost};
use crate::error::LimitError;
use crate::inventory::{Catalog, FileContent, Package};
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

impl Kind {
    /// The bound on this kind of file's size, and its name for messages.
    pub(crate) fn max_size(self, limits: &Limits) -> (u64, &'static str) {
        match self {
            Kind::RpmSqlite => (limits.max_file_size, "max_file_size"),
            _ => (
                limits.max_package_db_size.min(limits.max_file_size),
                "max_package_db_size",
            ),
        }
    }

    /// Memory that parsing a file of `size` bytes may take, the file included: JSON is
    /// parsed into a tree several times the text's size, and SQLite copies the database
    /// into its own memory.
    pub(crate) fn parse_cost(self, size: u64) -> u64 {
        let factor = match self {
            Kind::NpmPackage | Kind::NpmLock | Kind::ComposerLock | Kind::DotnetDeps => 6,
            Kind::RpmSqlite => 3,
            _ => 2,
        };
        size.saturating_mul(factor)
    }

    /// How a file of this kind is named in messages.
    fn describe(self) -> &'static str {
        match self {
            Kind::Os => "OS release file",
            Kind::Dpkg => "dpkg status file",
            Kind::Apk => "apk database",
            Kind::RpmSqlite | Kind::RpmBdb | Kind::RpmNdb => "rpm database",
            Kind::Python => "Python metadata file",
            Kind::NpmPackage => "npm package.json",
            Kind::NpmLock => "npm lock file",
            Kind::CargoLock => "Cargo.lock",
            Kind::GoMod => "go.mod",
            Kind::Gemspec => "gemspec",
            Kind::ComposerLock => "composer.lock",
            Kind::DotnetDeps => ".NET deps file",
        }
    }
}

/// What parsing inside one layer shares: the bounds, the scan's memory, and how many
/// packages the layer's files listed so far.
pub(crate) struct Ctx<'a> {
    pub limits: &'a Limits,
    pub memory: &'a ScanMemory,
    layer_packages: Cell<u64>,
    /// Reserved with the file being parsed, for the packages it lists.
    pool: RefCell<Option<Reservation<'a>>>,
}

impl<'a> Ctx<'a> {
    pub fn new(limits: &'a Limits, memory: &'a ScanMemory) -> Self {
        Ctx {
            limits,
            memory,
            layer_packages: Cell::new(0),
            pool: RefCell::new(None),
        }
    }

    /// Reserves what parsing a file of `kind` and `size` takes, together with room for
    /// the packages it may list, before the file is read. Reserving both at once is what
    /// makes a scan wait for its turn before it holds anything, rather than two scans
    /// each holding part of the budget and waiting for the rest. The guard gives back,
    /// when dropped, what the packages did not take.
    pub fn reserve_file(&self, kind: Kind, size: u64) -> Result<FileGuard<'_, 'a>, LimitError> {
        let parse = kind.parse_cost(size);
        let room = self.memory.room().saturating_sub(parse);
        let growth = packages_bound(size, self.limits.max_packages).min(room);
        let reservation = self.memory.reserve(parse.saturating_add(growth))?;
        *self.pool.borrow_mut() = Some(reservation);
        Ok(FileGuard { ctx: self })
    }

    /// A collector of the packages of the file at `path`.
    pub fn found<'c>(&'c self, what: &'static str, path: &'c str) -> Found<'c, 'a> {
        Found {
            ctx: self,
            what,
            path,
            packages: Vec::new(),
        }
    }

    /// Charges the scan for a string the layer inventory keeps.
    pub fn keep(&self, s: &str) -> Result<(), LimitError> {
        self.charge(2 * string_cost(s))
    }

    /// Charges the scan for as long as it lasts, from the file's reservation first.
    fn charge(&self, bytes: u64) -> Result<(), LimitError> {
        if let Some(pool) = self.pool.borrow_mut().as_mut()
            && pool.keep(bytes)
        {
            return Ok(());
        }
        self.memory.charge(bytes)
    }
}

/// Holds the reservation of the file being parsed; dropping it gives back what the
/// file's packages did not keep.
pub(crate) struct FileGuard<'c, 'a> {
    ctx: &'c Ctx<'a>,
}

impl Drop for FileGuard<'_, '_> {
    fn drop(&mut self) {
        self.ctx.pool.borrow_mut().take();
    }
}

/// The packages of one file, gathered under the bounds: a parser stops at the first
/// package over `max_packages` (for the file or its layer) and before any package that
/// does not fit the budget.
pub(crate) struct Found<'c, 'a> {
    ctx: &'c Ctx<'a>,
    what: &'static str,
    path: &'c str,
    packages: Vec<Package>,
}

impl Found<'_, '_> {
    pub fn push(&mut self, p: Package) -> Result<(), LimitError> {
        let limits = self.ctx.limits;
        let limit = limits.max_packages;
        if self.packages.len() as u64 >= limit {
            return Err(LimitError::TooManyPackages {
                what: format!("{} {}", self.what, self.path),
                limit,
            });
        }
        let in_layer = self.ctx.layer_packages.get() + 1;
        if in_layer > limit {
            return Err(LimitError::TooManyPackages {
                what: "layer".into(),
                limit,
            });
        }
        let longest = [&p.source_name, &p.source_version, &p.arch, &p.license]
            .into_iter()
            .flatten()
            .chain([&p.name, &p.version])
            .map(String::len)
            .max()
            .unwrap_or(0);
        if longest > limits.max_line_len {
            return Err(self.line_too_long());
        }
        self.ctx.charge(package_cost(&p))?;
        self.ctx.layer_packages.set(in_layer);
        self.packages.push(p);
        Ok(())
    }

    /// `line`, unless it is longer than `max_line_len`.
    pub fn line<'l>(&self, line: &'l str) -> Result<&'l str, LimitError> {
        if line.len() > self.ctx.limits.max_line_len {
            return Err(self.line_too_long());
        }
        Ok(line)
    }

    fn line_too_long(&self) -> LimitError {
        LimitError::LineTooLong {
            path: self.path.to_string(),
            limit: self.ctx.limits.max_line_len,
        }
    }

    pub fn last_mut(&mut self) -> Option<&mut Package> {
        self.packages.last_mut()
    }

    pub fn into_packages(self) -> Vec<Package> {
        self.packages
    }
}

/// Why a file yielded nothing: a problem worth a note in the report, or a bound that
/// stops the scan.
#[derive(Debug)]
pub(crate) enum Fail {
    Note(String),
    Limit(LimitError),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Note(s)
    }
}

impl From<LimitError> for Fail {
    fn from(l: LimitError) -> Self {
        Fail::Limit(l)
    }
}

/// Parses a metadata file. Returns `None` when the file turned out not to matter; parse
/// problems that do not stop the scan go to `notes`, bounds exceeded are errors.
pub(crate) fn parse_metadata(
    kind: Kind,
    path: &str,
    data: Vec<u8>,
    ctx: &Ctx<'_>,
    notes: &mut Vec<String>,
) -> Result<Option<FileContent>, LimitError> {
    let mut found = ctx.found(kind.describe(), path);
    let catalog = match kind {
        Kind::Os => {
            let text: String = String::from_utf8_lossy(&data).chars().take(8192).collect();
            ctx.keep(&text)?;
            return Ok(Some(FileContent::OsFile { text }));
        }
        Kind::RpmBdb => return Ok(Some(rpm::unsupported("BerkeleyDB"))),
        Kind::RpmNdb => return Ok(Some(rpm::unsupported("NDB"))),
        Kind::Dpkg => Catalog::Dpkg,
        Kind::Apk => Catalog::Apk,
        Kind::RpmSqlite => Catalog::Rpm,
        Kind::Python => Catalog::PythonMetadata,
        Kind::NpmPackage => Catalog::NpmPackage,
        Kind::NpmLock => Catalog::NpmLock,
        Kind::CargoLock => Catalog::CargoLock,
        Kind::GoMod => Catalog::GoMod,
        Kind::Gemspec => Catalog::Gemspec,
        Kind::ComposerLock => Catalog::ComposerLock,
        Kind::DotnetDeps => Catalog::DotnetDeps,
    };
    let result: Result<(), Fail> = if kind == Kind::RpmSqlite {
        rpm::parse_sqlite(data, &mut found)
    } else {
        parse_text(kind, path, &data, &mut found)
    };
    match result {
        Ok(()) => Ok(Some(FileContent::Packages {
            catalog,
            packages: found.into_packages(),
        })),
        Err(Fail::Limit(l)) => Err(l),
        Err(Fail::Note(e)) => {
            ctx.keep(path)?;
            notes.push(format!("{path}: {e}"));
            Ok(None)
        }
    }
}

fn parse_text(kind: Kind, path: &str, data: &[u8], found: &mut Found<'_, '_>) -> Result<(), Fail> {
    let text = || String::from_utf8_lossy(data);
    match kind {
        Kind::Dpkg => dpkg::parse(&text(), found).map_err(Fail::from),
        Kind::Apk => apk::parse(&text(), found).map_err(Fail::from),
        Kind::Python => python::parse(&text(), found).map_err(Fail::from),
        Kind::NpmPackage => npm::parse_package_json(data, found),
        Kind::NpmLock => npm::parse_lock(data, found),
        Kind::CargoLock => rust::parse_cargo_lock(&text(), found).map_err(Fail::from),
        Kind::GoMod => golang::parse_go_mod(&text(), found).map_err(Fail::from),
        Kind::Gemspec => ruby::parse_gemspec(file_name(path), &text(), found).map_err(Fail::from),
        Kind::ComposerLock => php::parse(data, found),
        Kind::DotnetDeps => dotnet::parse(data, found),
        Kind::Os | Kind::RpmSqlite | Kind::RpmBdb | Kind::RpmNdb => Ok(()),
    }
}

/// Whether the first bytes of a file are those of an executable format we inspect.
pub(crate) fn is_executable_magic(head: &[u8]) -> bool {
    binary::is_executable_magic(head)
}

/// Memory that inspecting an executable of `size` bytes may take, besides the file:
/// the cargo-auditable JSON it may carry.
pub(crate) const BINARY_EXTRA: u64 = rust::MAX_AUDIT_JSON;

/// Inspects an executable for embedded Go build information and cargo-auditable data.
pub(crate) fn parse_binary(
    path: &str,
    data: &[u8],
    ctx: &Ctx<'_>,
) -> Result<Option<FileContent>, LimitError> {
    binary::parse(data, ctx.found("executable", path))
}

/// Reads the Maven coordinates of a Java archive and the archives nested in it.
pub(crate) fn parse_jar(
    path: &str,
    data: Vec<u8>,
    ctx: &Ctx<'_>,
    notes: &mut Vec<String>,
) -> Result<Option<FileContent>, LimitError> {
    let packages = java::parse(path, data, ctx, notes)?;
    Ok(Some(FileContent::Packages {
        catalog: Catalog::Jar,
        packages,
    }))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::budget::MemoryBudget;

    /// Bounds small enough that tests can build inputs beyond them.
    pub fn small_limits() -> Limits {
        Limits {
            max_packages: 1000,
            max_line_len: 1024,
            ..Limits::default()
        }
    }

    /// Runs a parser as the layer reader would, on a file named like a dpkg status file.
    pub fn parse_with<E>(
        limits: &Limits,
        parse: impl FnOnce(&mut Found<'_, '_>) -> Result<(), E>,
    ) -> Result<Vec<Package>, E> {
        let budget = MemoryBudget::unlimited();
        let memory = budget.account();
        let ctx = Ctx::new(limits, &memory);
        let mut found = ctx.found(Kind::Dpkg.describe(), "var/lib/dpkg/status");
        parse(&mut found)?;
        Ok(found.into_packages())
    }
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
