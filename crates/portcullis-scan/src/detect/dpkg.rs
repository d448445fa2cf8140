//! dpkg's `status` file and distroless `status.d/*` files (same paragraph format).

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

/// The fields of one paragraph that we read; continuation lines are skipped since no
/// field we read spans lines.
#[derive(Default)]
struct Paragraph<'a> {
    package: Option<&'a str>,
    version: Option<&'a str>,
    status: Option<&'a str>,
    arch: Option<&'a str>,
    source: Option<&'a str>,
}

impl<'a> Paragraph<'a> {
    fn set(&mut self, key: &str, value: &'a str) {
        let slot = match key {
            k if k.eq_ignore_ascii_case("Package") => &mut self.package,
            k if k.eq_ignore_ascii_case("Version") => &mut self.version,
            k if k.eq_ignore_ascii_case("Status") => &mut self.status,
            k if k.eq_ignore_ascii_case("Architecture") => &mut self.arch,
            k if k.eq_ignore_ascii_case("Source") => &mut self.source,
            _ => return,
        };
        // The first occurrence wins, as dpkg reads it.
        slot.get_or_insert(value);
    }

    fn package(&self) -> Option<Package> {
        let (name, version) = (self.package?, self.version?);
        // Only installed packages count: removed ones leave "deinstall ok config-files".
        if self.status.is_some_and(|s| !s.ends_with(" installed")) {
            return None;
        }
        let mut pkg = Package::new(PackageType::Deb, name, version);
        pkg.arch = self.arch.map(str::to_string);
        let (src, src_version) = match self.source {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (s, version),
            },
            None => (name, version),
        };
        pkg.source_name = Some(src.to_string());
        pkg.source_version = Some(src_version.to_string());
        Some(pkg)
    }
}

/// Reads the text line by line, holding one paragraph's fields at a time, so that the
/// only memory that grows with the file is the bounded list of packages.
pub(crate) fn parse(text: &str, found: &mut Found<'_, '_>) -> Result<(), LimitError> {
    let mut para = Paragraph::default();
    for line in text.split('\n') {
        let line = found.line(line.strip_suffix('\r').unwrap_or(line))?;
        if line.is_empty() {
            if let Some(p) = std::mem::take(&mut para).package() {
                found.push(p)?;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            para.set(k.trim(), v.trim());
        }
    }
    if let Some(p) = para.package() {
        found.push(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::parse_with;
    use crate::limits::Limits;

    fn parse_all(text: &str) -> Result<Vec<Package>, LimitError> {
        parse_with(&Limits::default(), |found| parse(text, found))
    }

    #[test]
    fn parses_status() {
        let status = "Package: libssl1.1\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 1.1.1n-0+deb11u3\nDescription: SSL\n multi-line\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libgcc-s1\nStatus: install ok installed\nSource: gcc-10 (10.2.1-6)\nVersion: 10.2.1-6\n";
        let p = parse_all(status).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "libssl1.1");
        assert_eq!(p[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(p[0].source_version.as_deref(), Some("1.1.1n-0+deb11u3"));
        assert_eq!(p[0].arch.as_deref(), Some("amd64"));
        assert_eq!(p[1].source_name.as_deref(), Some("gcc-10"));
        assert_eq!(p[1].source_version.as_deref(), Some("10.2.1-6"));
        assert!(parse_all("").unwrap().is_empty());
        let crlf = status.replace('\n', "\r\n");
        assert_eq!(parse_all(&crlf).unwrap(), p);
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::detect::testing::{parse_with, small_limits};

    /// A status file listing more packages than the bound stops with an error that
    /// names the bound, before it holds more than the bound's worth of packages.
    #[test]
    fn too_many_packages() {
        let limits = small_limits();
        let mut status = String::new();
        for i in 0..=limits.max_packages {
            status.push_str(&format!(
                "Package: p{i}\nStatus: install ok installed\nVersion: 1\n\n"
            ));
        }
        let err = parse_with(&limits, |found| parse(&status, found)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "dpkg status file var/lib/dpkg/status has more than {} packages \
                 (limit max_packages)",
                limits.max_packages
            )
        );
        status.truncate(status.rfind("Package:").unwrap());
        let all = parse_with(&limits, |found| parse(&status, found)).unwrap();
        assert_eq!(all.len() as u64, limits.max_packages);
    }

    #[test]
    fn huge_line() {
        let limits = small_limits();
        let status = format!(
            "Package: a\nVersion: 1\nDescription: {}\n",
            "x".repeat(limits.max_line_len)
        );
        let err = parse_with(&limits, |found| parse(&status, found)).unwrap_err();
        assert_eq!(
            err,
            LimitError::LineTooLong {
                path: "var/lib/dpkg/status".into(),
                limit: limits.max_line_len
            }
        );
        assert!(err.to_string().contains("(limit max_line_len)"), "{err}");
    }
}
