//! dpkg's `status` file and distroless `status.d/*` files (same paragraph format).

use crate::inventory::{Package, PackageType};

/// Splits a deb822 document into paragraphs of `(field, value)`; continuation lines are
/// dropped since no field we read spans lines.
pub(crate) fn paragraphs(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    text.split("\n\n").filter_map(|para| {
        let fields: Vec<(&str, &str)> = para
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim(), v.trim()))
            })
            .collect();
        (!fields.is_empty()).then_some(fields)
    })
}

fn field<'a>(p: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

pub(crate) fn parse(text: &str) -> Vec<Package> {
    let text = text.replace("\r\n", "\n");
    let mut out = Vec::new();
    for p in paragraphs(&text) {
        let (Some(name), Some(version)) = (field(&p, "Package"), field(&p, "Version")) else {
            continue;
        };
        // Only installed packages count: removed ones leave "deinstall ok config-files".
        if let Some(status) = field(&p, "Status")
            && !status.ends_with(" installed")
        {
            continue;
        }
        let mut pkg = Package::new(PackageType::Deb, name, version);
        pkg.arch = field(&p, "Architecture").map(str::to_string);
        let (src, src_version) = match field(&p, "Source") {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (s, version),
            },
            None => (name, version),
        };
        pkg.source_name = Some(src.to_string());
        pkg.source_version = Some(src_version.to_string());
        out.push(pkg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let status = "Package: libssl1.1\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 1.1.1n-0+deb11u3\nDescription: SSL\n multi-line\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libgcc-s1\nStatus: install ok installed\nSource: gcc-10 (10.2.1-6)\nVersion: 10.2.1-6\n";
        let p = parse(status);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "libssl1.1");
        assert_eq!(p[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(p[0].source_version.as_deref(), Some("1.1.1n-0+deb11u3"));
        assert_eq!(p[0].arch.as_deref(), Some("amd64"));
        assert_eq!(p[1].source_name.as_deref(), Some("gcc-10"));
        assert_eq!(p[1].source_version.as_deref(), Some("10.2.1-6"));
        assert!(parse("").is_empty());
    }
}
