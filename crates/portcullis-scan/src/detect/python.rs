//! Python distributions: `*.dist-info/METADATA` and `*.egg-info/PKG-INFO` (RFC 822 style
//! headers; the body after the first blank line is the long description).

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

/// Reads the headers only: the body may hold anything (READMEs with inlined images).
pub(crate) fn parse(text: &str, found: &mut Found<'_, '_>) -> Result<(), LimitError> {
    let (mut name, mut version, mut license) = (None, None, None);
    for line in text.lines() {
        let line = found.line(line)?;
        if line.trim().is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "Name" => name = Some(v.trim()),
            "Version" => version = Some(v.trim()),
            "License" => license = Some(v.trim()),
            _ => {}
        }
    }
    let (Some(name), Some(version)) = (name, version) else {
        return Ok(());
    };
    let mut p = Package::new(PackageType::Python, name, version);
    p.license = license
        .filter(|l| !l.is_empty() && *l != "UNKNOWN")
        .map(str::to_string);
    found.push(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers() {
        let one = |t: &str| {
            crate::detect::testing::parse_with(&Default::default(), |f| parse(t, f)).unwrap()
        };
        let p = one("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\nLicense: MIT\n\nName: not-this\n").remove(0);
        assert_eq!((p.name.as_str(), p.version.as_str()), ("urllib3", "1.24.1"));
        assert_eq!(p.license.as_deref(), Some("MIT"));
        assert!(one("Metadata-Version: 2.1\n").is_empty());
    }
}
