//! What one layer contributes to an image: the package-metadata files it holds (already
//! parsed), its whiteouts and its links. A layer's inventory depends only on the layer's
//! bytes, so the registry can cache it by layer digest and merge cached inventories again
//! after every vulnerability database update without re-reading any layer.

use portcullis_types::Digest;
use serde::{Deserialize, Serialize};

/// The kind of package, which decides the advisory ecosystem and the purl type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    Deb,
    Apk,
    Rpm,
    Python,
    Npm,
    Cargo,
    Golang,
    Maven,
    Gem,
    Composer,
    Nuget,
}

impl PackageType {
    /// Short name used in tables, reports and SBOMs.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::Cargo => "cargo",
            PackageType::Golang => "golang",
            PackageType::Maven => "maven",
            PackageType::Gem => "gem",
            PackageType::Composer => "composer",
            PackageType::Nuget => "nuget",
        }
    }

    /// Whether the distribution's package manager installed it (its advisories then come
    /// from the distribution's ecosystem).
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }

    /// The OSV ecosystem of a language package; OS packages take theirs from the OS.
    pub fn language_ecosystem(self) -> Option<&'static str> {
        Some(match self {
            PackageType::Python => "PyPI",
            PackageType::Npm => "npm",
            PackageType::Cargo => "crates.io",
            PackageType::Golang => "Go",
            PackageType::Maven => "Maven",
            PackageType::Gem => "RubyGems",
            PackageType::Composer => "Packagist",
            PackageType::Nuget => "NuGet",
            PackageType::Deb | PackageType::Apk | PackageType::Rpm => return None,
        })
    }
}

/// One installed package as a metadata file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Source package (dpkg `Source:`, apk origin, rpm source rpm) when advisories name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Epoch of an rpm, kept apart because purls carry it as a qualifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Licence as the metadata declares it, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

impl Package {
    /// A package with only the required fields set.
    pub fn new(kind: PackageType, name: impl Into<String>, version: impl Into<String>) -> Self {
        Package {
            name: name.into(),
            version: version.into(),
            kind,
            source_name: None,
            source_version: None,
            arch: None,
            epoch: None,
            license: None,
        }
    }
}

/// Which package database or manifest a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Catalog {
    Dpkg,
    Apk,
    Rpm,
    PythonMetadata,
    NpmPackage,
    NpmLock,
    CargoLock,
    RustBinary,
    GoBinary,
    GoMod,
    Jar,
    Gemspec,
    ComposerLock,
    DotnetDeps,
}

impl Catalog {
    /// Whether this is an OS package manager's database.
    pub fn is_os_db(self) -> bool {
        matches!(self, Catalog::Dpkg | Catalog::Apk | Catalog::Rpm)
    }
}

/// What a layer holds at one path that matters to the scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileContent {
    /// An OS identification file (`os-release`, `alpine-release`, …), its text kept.
    OsFile { text: String },
    /// A package database or manifest and what it lists (possibly nothing).
    Packages {
        catalog: Catalog,
        packages: Vec<Package>,
    },
    /// A package database the scanner cannot read (BerkeleyDB or NDB rpm databases).
    UnsupportedDb { catalog: Catalog, reason: String },
    /// A symbolic or hard link; `target` is absolute for hard links.
    Link { target: String, hard: bool },
}

/// One path of interest in a layer; `path` is relative to the root, without a leading `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFile {
    pub path: String,
    #[serde(flatten)]
    pub content: FileContent,
}

/// Everything the scanner keeps of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LayerInventory {
    /// Digest of the layer blob, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Files of interest in tar order.
    pub files: Vec<LayerFile>,
    /// Paths deleted from lower layers (`.wh.<name>`).
    pub whiteouts: Vec<String>,
    /// Directories whose lower-layer contents are hidden (`.wh..wh..opq`).
    pub opaque_dirs: Vec<String>,
    /// Things skipped or unreadable that a reader of the report should know about.
    pub notes: Vec<String>,
    /// Tar entries read.
    pub entries: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// Inventory format version; bump when the detectors change so that cached inventories
/// are recomputed.
pub const INVENTORY_VERSION: u32 = 1;
