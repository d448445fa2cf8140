//! Rust: `Cargo.lock` files and the dependency list that cargo-auditable embeds in
//! binaries (section `.dep-v0`: zlib-compressed JSON).

use std::io::Read;

use serde::Deserialize;

use crate::inventory::{Package, PackageType};

/// Reads `[[package]]` tables of a `Cargo.lock`. Only packages from a registry are kept:
/// path and git dependencies have no crates.io advisories.
pub(crate) fn parse_cargo_lock(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, bool)> = None;
    let mut flush = |c: Option<(Option<String>, Option<String>, bool)>| {
        if let Some((Some(n), Some(v), true)) = c {
            out.push(Package::new(PackageType::Cargo, n, v));
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            flush(current.take());
            if line == "[[package]]" {
                current = Some((None, None, false));
            }
            continue;
        }
        let Some(cur) = current.as_mut() else {
            continue;
        };
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "name" => cur.0 = Some(v),
            "version" => cur.1 = Some(v),
            "source" => cur.2 = v.starts_with("registry+") || v.starts_with("sparse+"),
            _ => {}
        }
    }
    flush(current);
    out
}

#[derive(Deserialize)]
struct Auditable {
    packages: Vec<AuditablePackage>,
}

#[derive(Deserialize)]
struct AuditablePackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
}

const MAX_AUDIT_JSON: u64 = 8 << 20;

/// Decodes a `.dep-v0` section.
pub(crate) fn parse_auditable(section: &[u8]) -> Option<Vec<Package>> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .ok()?;
    let a: Auditable = serde_json::from_slice(&json).ok()?;
    Some(
        a.packages
            .into_iter()
            .filter(|p| p.source == "crates.io" || p.source.starts_with("registry"))
            .map(|p| Package::new(PackageType::Cargo, p.name, p.version))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cargo_lock() {
        let lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n\n[metadata]\n";
        let p = parse_cargo_lock(lock);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("smallvec", "1.6.0")
        );
    }

    #[test]
    fn auditable_section() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"time","version":"0.1.43","source":"crates.io"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let p = parse_auditable(&z.finish().unwrap()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "time");
        assert!(parse_auditable(b"garbage").is_none());
    }
}
