//! The OSV record model (<https://ossf.github.io/osv-schema/>), read leniently: unknown
//! fields are ignored, `null` reads as empty, timestamps are kept as written (placeholders
//! such as `0001-01-01T00:00:00Z` included) and YAML scalars stay strings, so a version
//! written `1.10` is not read as the number 1.1.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest record accepted from any source; real records are a few kilobytes.
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One OSV record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record's id (`GHSA-…`, `DSA-…`, `RUSTSEC-…`, `GO-…`, `CVE-…`).
    pub id: String,
    /// RFC 3339 time of the last change, as written.
    #[serde(default, deserialize_with = "null_default")]
    pub modified: String,
    /// RFC 3339 publication time, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was withdrawn; such records never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Ids of the same issue in other databases.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Longer description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Severity scores of the whole record.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityScore>,
    /// Affected packages and their versions.
    #[serde(default, deserialize_with = "null_default")]
    pub affected: Vec<Affected>,
    /// Links to advisories, fixes, reports.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    /// Database-specific data (GHSA keeps `severity` and `cwe_ids` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// A `severity` entry: a CVSS vector or an ecosystem's own rating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// The vector or rating.
    #[serde(default, deserialize_with = "null_default")]
    pub score: String,
}

/// One affected package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package; entries without one describe only Git ranges and never match a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Version ranges.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    /// Every affected version, enumerated.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    /// Severity that applies to this package only.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityScore>,
    /// Ecosystem-specific data (some distributions keep a `severity` word here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    /// Database-specific data for this package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// A package in an ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// `PyPI`, `Debian:12`, `Alpine:v3.19`, …
    #[serde(default, deserialize_with = "null_default")]
    pub ecosystem: String,
    /// Package name as the ecosystem spells it (source package for distributions).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Package URL, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A version range: events in one ordering.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Boundary events.
    #[serde(default, deserialize_with = "null_default")]
    pub events: Vec<Event>,
}

/// One range event; exactly one field is set in a well-formed record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// First affected version (`0` means "since the beginning").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// First version no longer affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Last affected version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// Upper bound of the range (`*` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A reference link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `FIX`, `WEB`, …
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// The URL.
    #[serde(default, deserialize_with = "null_default")]
    pub url: String,
}

/// The format of a record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`
    Json,
    /// `.yaml` / `.yml`
    Yaml,
}

impl Format {
    /// The format implied by a file name, if it names an OSV file.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }
}

/// Why a record was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON/YAML of the OSV shape.
    #[error("not an OSV record: {0}")]
    Syntax(String),
    /// Parsed, but without an id.
    #[error("OSV record without an id")]
    MissingId,
}

/// Parses one record from bytes.
pub fn parse_record(bytes: &[u8], format: Format) -> Result<Record, ParseError> {
    let record: Record = match format {
        Format::Json => {
            serde_json::from_slice(bytes).map_err(|e| ParseError::Syntax(e.to_string()))?
        }
        Format::Yaml => {
            serde_yaml_ng::from_slice(bytes).map_err(|e| ParseError::Syntax(e.to_string()))?
        }
    };
    if record.id.trim().is_empty() {
        return Err(ParseError::MissingId);
    }
    Ok(record)
}

/// Reads an RFC 3339 time; placeholders before 1970 (Go's `0001-01-01T00:00:00Z`) and
/// unreadable values are `None`.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    (t.year() >= 1970).then_some(t)
}

impl Record {
    /// Publication time, unless missing or a placeholder.
    pub fn published_at(&self) -> Option<OffsetDateTime> {
        self.published.as_deref().and_then(parse_time)
    }

    /// Last-modified time, unless missing or a placeholder.
    pub fn modified_at(&self) -> Option<OffsetDateTime> {
        parse_time(&self.modified)
    }

    /// Whether the record has been withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yaml_keeps_versions_as_written() {
        let yaml = b"id: PYSEC-2020-1\nmodified: 2021-01-01T00:00:00Z\naffected:\n- package:\n    name: foo\n    ecosystem: PyPI\n  versions: [1.10, 2.0]\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n";
        let r = parse_record(yaml, Format::Yaml).unwrap();
        assert_eq!(r.affected[0].versions, vec!["1.10", "2.0"]);
        assert_eq!(
            r.affected[0].ranges[0].events[0].introduced.as_deref(),
            Some("0")
        );
        assert_eq!(
            r.affected[0].ranges[0].events[1].fixed.as_deref(),
            Some("1.10")
        );
        assert_eq!(r.modified, "2021-01-01T00:00:00Z");
    }

    #[test]
    fn nulls_unknown_fields_and_placeholders() {
        let json = br#"{"id":"GO-2020-0001","modified":"0001-01-01T00:00:00Z","published":"0001-01-01T00:00:00Z","aliases":null,"schema_version":"1.3.1","affected":[{"package":{"name":"x","ecosystem":"Go"},"ranges":null,"unknown":{"a":1}}]}"#;
        let r = parse_record(json, Format::Json).unwrap();
        assert!(r.aliases.is_empty());
        assert_eq!(r.published_at(), None);
        assert_eq!(r.modified_at(), None);
        assert!(!r.is_withdrawn());
    }

    #[test]
    fn rejects_missing_id() {
        assert!(matches!(
            parse_record(br#"{"id":"","affected":[]}"#, Format::Json),
            Err(ParseError::MissingId)
        ));
        assert!(parse_record(b"[1,2]", Format::Json).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_record(&bytes, Format::Json);
            let _ = parse_record(&bytes, Format::Yaml);
        }

        #[test]
        fn never_panics_on_near_records(s in r#"\{"id":"[A-Z0-9-]{0,8}"(,"(aliases|affected|severity|modified)":(null|\[\]|\{\}|"x"|1|\[\{"package":\{\}\}\]))*\}"#) {
            let _ = parse_record(s.as_bytes(), Format::Json);
            let _ = parse_record(s.as_bytes(), Format::Yaml);
        }
    }
}
