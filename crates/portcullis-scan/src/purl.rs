//! Package URLs (purl) for inventory entries.

use packageurl::PackageUrl;

use crate::detect::OsInfo;
use crate::inventory::{Package, PackageType};

fn os_namespace(os: Option<&OsInfo>, fallback: &str) -> String {
    match os.map(|o| o.family.as_str()) {
        Some("rhel") => "redhat".to_string(),
        Some(f) if !f.is_empty() => f.to_string(),
        _ => fallback.to_string(),
    }
}

/// The purl of `p`; `os` supplies the namespace and `distro` qualifier of OS packages.
/// Returns `None` only for names the purl grammar cannot carry (an empty name).
pub fn purl_of(p: &Package, os: Option<&OsInfo>) -> Option<String> {
    let (ty, namespace, name, version) = match p.kind {
        PackageType::Deb => (
            "deb",
            Some(os_namespace(os, "debian")),
            p.name.clone(),
            p.version.clone(),
        ),
        PackageType::Apk => (
            "apk",
            Some(os_namespace(os, "alpine")),
            p.name.clone(),
            p.version.clone(),
        ),
        PackageType::Rpm => {
            // purl keeps the epoch as a qualifier, not in the version.
            let v = match p.version.split_once(':') {
                Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => rest.to_string(),
                _ => p.version.clone(),
            };
            ("rpm", Some(os_namespace(os, "redhat")), p.name.clone(), v)
        }
        PackageType::Python => ("pypi", None, p.name.to_lowercase(), p.version.clone()),
        PackageType::Npm => match p.name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => (
                "npm",
                Some(scope.to_string()),
                n.to_string(),
                p.version.clone(),
            ),
            _ => ("npm", None, p.name.clone(), p.version.clone()),
        },
        PackageType::Cargo => ("cargo", None, p.name.clone(), p.version.clone()),
        PackageType::Golang => match p.name.rsplit_once('/') {
            Some((ns, n)) => (
                "golang",
                Some(ns.to_string()),
                n.to_string(),
                format!("v{}", p.version),
            ),
            None => ("golang", None, p.name.clone(), p.version.clone()),
        },
        PackageType::Maven => match p.name.split_once(':') {
            Some((g, a)) => (
                "maven",
                Some(g.to_string()),
                a.to_string(),
                p.version.clone(),
            ),
            None => ("maven", None, p.name.clone(), p.version.clone()),
        },
        PackageType::Gem => ("gem", None, p.name.clone(), p.version.clone()),
        PackageType::Composer => match p.name.split_once('/') {
            Some((v, n)) => (
                "composer",
                Some(v.to_string()),
                n.to_string(),
                p.version.clone(),
            ),
            None => ("composer", None, p.name.clone(), p.version.clone()),
        },
        PackageType::Nuget => ("nuget", None, p.name.clone(), p.version.clone()),
    };
    let mut purl = PackageUrl::new(ty, name).ok()?;
    if let Some(ns) = namespace {
        purl.with_namespace(ns).ok()?;
    }
    if !version.is_empty() {
        purl.with_version(version).ok()?;
    }
    if p.kind.is_os() {
        if let Some(arch) = &p.arch {
            purl.add_qualifier("arch", arch.clone()).ok()?;
        }
        if let Some(e) = p.epoch.filter(|e| *e > 0) {
            purl.add_qualifier("epoch", e.to_string()).ok()?;
        }
        if let Some(os) = os.filter(|o| !o.version.is_empty()) {
            purl.add_qualifier("distro", format!("{}-{}", os.family, os.version))
                .ok()?;
        }
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        let os = OsInfo {
            family: "debian".into(),
            version: "11".into(),
            name: "Debian".into(),
            ecosystem: Some("Debian:11".into()),
        };
        let mut deb = Package::new(PackageType::Deb, "libssl1.1", "1.1.1n-0+deb11u3");
        deb.arch = Some("amd64".into());
        assert_eq!(
            purl_of(&deb, Some(&os)).unwrap(),
            "pkg:deb/debian/libssl1.1@1.1.1n-0%2Bdeb11u3?arch=amd64&distro=debian-11"
        );
        let npm = Package::new(PackageType::Npm, "@babel/core", "7.0.0");
        assert_eq!(purl_of(&npm, None).unwrap(), "pkg:npm/%40babel/core@7.0.0");
        let go = Package::new(PackageType::Golang, "github.com/gin-gonic/gin", "1.7.0");
        assert_eq!(
            purl_of(&go, None).unwrap(),
            "pkg:golang/github.com/gin-gonic/gin@v1.7.0"
        );
        let mvn = Package::new(
            PackageType::Maven,
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
        );
        assert_eq!(
            purl_of(&mvn, None).unwrap(),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        let mut rpm = Package::new(PackageType::Rpm, "openssl-libs", "1:3.0.7-16.el9_2");
        rpm.epoch = Some(1);
        assert_eq!(
            purl_of(&rpm, None).unwrap(),
            "pkg:rpm/redhat/openssl-libs@3.0.7-16.el9_2?epoch=1"
        );
    }
}
