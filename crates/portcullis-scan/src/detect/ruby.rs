//! Ruby: installed gems' `specifications/<name>-<version>.gemspec`.

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

fn assigned<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("s.")?.strip_prefix(field)?;
        let rest = rest.trim_start().strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &rest[1..];
        Some(&inner[..inner.find(quote)?])
    })
}

/// Reads `s.name` and `s.version` from the generated gemspec; the file name
/// (`name-version[-platform].gemspec`) stands in when they are missing.
pub(crate) fn parse_gemspec(
    file_name: &str,
    text: &str,
    found: &mut Found<'_, '_>,
) -> Result<(), LimitError> {
    for line in text.lines() {
        found.line(line)?;
    }
    match from_text(file_name, text) {
        Some(p) => found.push(p),
        None => Ok(()),
    }
}

fn from_text(file_name: &str, text: &str) -> Option<Package> {
    if let (Some(n), Some(v)) = (assigned(text, "name"), assigned(text, "version")) {
        return Some(Package::new(PackageType::Gem, n, v));
    }
    let stem = file_name.strip_suffix(".gemspec")?;
    let split = stem
        .match_indices('-')
        .find(|(i, _)| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))?
        .0;
    let version = stem[split + 1..].split('-').next()?;
    Some(Package::new(PackageType::Gem, &stem[..split], version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gemspec() {
        let text = "Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.3\"\nend\n";
        let p = from_text("rack-2.2.3.gemspec", text).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rack", "2.2.3"));
        let p = from_text("net-http-0.1.1.gemspec", "").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("net-http", "0.1.1"));
        let p = from_text("nokogiri-1.13.10-x86_64-linux.gemspec", "").unwrap();
        assert_eq!(p.version, "1.13.10");
        assert!(from_text("weird.gemspec", "").is_none());
    }
}
