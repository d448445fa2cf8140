//! The offline OSV vulnerability database of Portcullis.
//!
//! OSV is the one internal format: [`import`] ingests osv.dev per-ecosystem `all.zip`
//! archives and directories of OSV JSON/YAML (air-gapped sites copy them in), [`update`]
//! downloads the same archives when a network exists, and both rewrite one compact index
//! under `<data_dir>/vulndb` atomically. [`VulnDb::query`] answers "which vulnerabilities
//! affect this package version" with each ecosystem's own version ordering
//! ([`version::compare`]) and CVSS scores computed from vectors ([`cvss`]).
//!
//! ```no_run
//! use portcullis_vulndb::{PackageQuery, VulnDb};
//! # fn main() -> Result<(), portcullis_vulndb::DbError> {
//! let db = VulnDb::open(std::path::Path::new("data/vulndb"))?;
//! let q = PackageQuery { ecosystem: "Debian:12", name: "openssl", version: "3.0.11-1~deb12u1" };
//! for f in db.query(&q)? {
//!     println!("{} {} fixed in {:?}", f.id, f.severity, f.fixed_version);
//! }
//! # Ok(()) }
//! ```

pub mod cli;
pub mod cvss;
mod error;
mod finding;
mod import;
mod matcher;
pub mod osv;
mod store;
mod update;
pub mod version;

pub use error::DbError;
pub use finding::{Cvss, Finding};
pub use import::{ImportPhase, ImportProgress, ImportSummary, import};
pub use store::DbMetadata;
pub use store::reader::{PackageQuery, SharedVulnDb, VulnDb};
pub use update::{DEFAULT_BASE_URL, DEFAULT_ECOSYSTEMS, update};

/// The database directory inside a Portcullis data directory.
pub fn db_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("vulndb")
}
