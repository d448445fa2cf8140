//! The on-disk index: one file, `<db_dir>/osv-index.bin`, replaced atomically (temp file,
//! fsync, rename) on every import, so readers see either the old or the new database.
//!
//! Layout (integers little-endian):
//! ```text
//! "PCVDB\0\0\x01"  u32 header_len  header (JSON: metadata and section sizes)
//! key section:     u32 key_count, key_count × u32 entry offset, then entries
//!                  [u16 len, ecosystem][u16 len, name][u32 n][n × u32 record index],
//!                  sorted by (ecosystem, name) as normalised by `key_of`
//! record table:    per record (u32 block, u32 offset in block, u32 length)
//! block table:     per block (u64 offset from the first block, u32 stored len, u32 raw len)
//! blocks:          zstd frames of concatenated OSV JSON records
//! ```
//! Opening reads the header and the three tables (a few hundred kilobytes for ~25k records)
//! and keeps the file open; a query binary-searches the key section and decompresses only
//! the blocks holding that package's records. Records are stored grouped by package, so a
//! package's records usually share one or two blocks.

pub(crate) mod reader;
pub(crate) mod writer;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub(crate) const INDEX_FILE: &str = "osv-index.bin";
pub(crate) const MAGIC: &[u8; 8] = b"PCVDB\0\0\x01";
pub(crate) const FORMAT: u32 = 1;
/// Uncompressed size at which a block is closed: small enough that a query decompresses
/// little, large enough for zstd to find repetition across records.
pub(crate) const BLOCK_TARGET: usize = 48 * 1024;
/// Upper bounds checked when opening, so a damaged file cannot make us allocate wildly.
pub(crate) const MAX_HEADER: u32 = 16 * 1024 * 1024;
pub(crate) const MAX_BLOCK: u32 = 64 * 1024 * 1024;

/// What the database holds and when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbMetadata {
    /// Incremented by every import or update; a server compares it to notice a new database.
    pub generation: u64,
    /// When the database was last written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Records (not withdrawn) naming each ecosystem, e.g. `Debian:11`, `PyPI`.
    pub counts: BTreeMap<String, u64>,
    /// Records stored, withdrawn ones included.
    pub records: u64,
    /// Withdrawn records (kept so that an older copy cannot resurrect them).
    pub withdrawn: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub format: u32,
    pub metadata: DbMetadata,
    pub key_section_len: u64,
    pub record_count: u64,
    pub block_count: u64,
}

/// The index key of a package: ecosystem and name in the spelling every source agrees on.
pub(crate) fn key_of(ecosystem: &str, name: &str) -> (String, String) {
    let eco = normalize_ecosystem(ecosystem);
    let base = eco.split(':').next().unwrap_or("");
    let name = name.trim();
    let name = match base {
        // PEP 503: case-insensitive, runs of `-`, `_`, `.` are one separator.
        "pypi" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        "nuget" | "packagist" => name.to_lowercase(),
        _ => name.to_string(),
    };
    (eco, name)
}

/// Lower-cased ecosystem with Alpine releases spelled as osv.dev does (`alpine:v3.19`).
fn normalize_ecosystem(ecosystem: &str) -> String {
    let eco = ecosystem.trim().to_lowercase();
    match eco.strip_prefix("alpine:") {
        Some(rel) if rel.starts_with(|c: char| c.is_ascii_digit()) => format!("alpine:v{rel}"),
        _ => eco,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            key_of("PyPI", "Foo_Bar.baz"),
            ("pypi".into(), "foo-bar-baz".into())
        );
        assert_eq!(
            key_of("Alpine:3.19", "openssl"),
            ("alpine:v3.19".into(), "openssl".into())
        );
        assert_eq!(
            key_of("Debian:12", "OpenSSL"),
            ("debian:12".into(), "OpenSSL".into())
        );
        assert_eq!(key_of("NuGet", "Newtonsoft.Json").1, "newtonsoft.json");
    }
}
