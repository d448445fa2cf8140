//! Alpine's `lib/apk/db/installed`: one paragraph per package, one-letter keys.

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

pub(crate) fn parse(text: &str, found: &mut Found<'_, '_>) -> Result<(), LimitError> {
    for para in text.split("\n\n") {
        let (mut name, mut version, mut origin, mut arch, mut license) =
            (None, None, None, None, None);
        for line in para.lines() {
            let Some((k, v)) = found.line(line)?.split_once(':') else {
                continue;
            };
            match k {
                "P" => name = Some(v),
                "V" => version = Some(v),
                "o" => origin = Some(v),
                "A" => arch = Some(v),
                "L" => license = Some(v),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else {
            continue;
        };
        let mut p = Package::new(PackageType::Apk, name, version);
        p.source_name = Some(origin.unwrap_or(name).to_string());
        p.source_version = Some(version.to_string());
        p.arch = arch.map(str::to_string);
        p.license = license.filter(|l| !l.is_empty()).map(str::to_string);
        found.push(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed() {
        let db = "C:Q1abc=\nP:libcrypto1.1\nV:1.1.1d-r2\nA:x86_64\nL:OpenSSL\no:openssl\n\nP:musl\nV:1.1.24-r0\n\n";
        let p = crate::detect::testing::parse_with(&Default::default(), |f| parse(db, f)).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(p[0].version, "1.1.1d-r2");
        assert_eq!(p[1].source_name.as_deref(), Some("musl"));
    }
}
