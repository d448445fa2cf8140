//! Python distributions: `*.dist-info/METADATA` and `*.egg-info/PKG-INFO` (RFC 822 style
//! headers; the body after the first blank line is the long description).

use crate::inventory::{Package, PackageType};

pub(crate) fn parse(text: &str) -> Option<Package> {
    let (mut name, mut version, mut license) = (None, None, None);
    for line in text.lines() {
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
    let mut p = Package::new(PackageType::Python, name?, version?);
    p.license = license
        .filter(|l| !l.is_empty() && *l != "UNKNOWN")
        .map(str::to_string);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers() {
        let p = parse("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\nLicense: MIT\n\nName: not-this\n").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("urllib3", "1.24.1"));
        assert_eq!(p.license.as_deref(), Some("MIT"));
        assert!(parse("Metadata-Version: 2.1\n").is_none());
    }
}
