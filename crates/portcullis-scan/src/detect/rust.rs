//! Rust: `Cargo.lock` files and the dependency list that cargo-auditable embeds in
//! binaries (section `.dep-v0`: zlib-compressed JSON).

use std::io::Read;

use serde::Deserialize;

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

/// Reads `[[package]]` tables of a `Cargo.lock`. Only packages from a registry are kept:
/// path and git dependencies have no crates.io advisories.
pub(crate) fn parse_cargo_lock(text: &str, found: &mut Found<'_, '_>) -> Result<(), LimitError> {
    let mut current: Option<(Option<String>, Option<String>, bool)> = None;
    let flush =
        |c: Option<(Option<String>, Option<String>, bool)>, found: &mut Found<'_, '_>| match c {
            Some((Some(n), Some(v), true)) => found.push(Package::new(PackageType::Cargo, n, v)),
            _ => Ok(()),
        };
    for line in text.lines() {
        let line = found.line(line)?.trim();
        if line.starts_with('[') {
            flush(current.take(), found)?;
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
    flush(current, found)
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

pub(crate) const MAX_AUDIT_JSON: u64 = 8 << 20;

/// Decodes a `.dep-v0` section; `Ok(false)` when it is unreadable.
pub(crate) fn parse_auditable(
    section: &[u8],
    found: &mut Found<'_, '_>,
) -> Result<bool, LimitError> {
    let mut json = Vec::new();
    if flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .is_err()
    {
        return Ok(false);
    }
    let Ok(a) = serde_json::from_slice::<Auditable>(&json) else {
        return Ok(false);
    };
    drop(json);
    for p in a.packages {
        if p.source == "crates.io" || p.source.starts_with("registry") {
            found.push(Package::new(PackageType::Cargo, p.name, p.version))?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cargo_lock() {
        let lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n\n[metadata]\n";
        let p =
            crate::detect::testing::parse_with(&Default::default(), |f| parse_cargo_lock(lock, f))
                .unwrap();
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
        let section = z.finish().unwrap();
        let p = crate::detect::testing::parse_with(&Default::default(), |f| {
            parse_auditable(&section, f).map(|_| ())
        })
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "time");
        let read = crate::detect::testing::parse_with(&Default::default(), |f| {
            parse_auditable(b"garbage", f).map(|ok| assert!(!ok))
        });
        assert_eq!(read, Ok(vec![]));
    }
}
