//! Matching an image's packages against vulnerability advisories.

use std::collections::{BTreeMap, HashMap};

use portcullis_types::Severity;
use serde::{Deserialize, Serialize};

use crate::error::ScanError;
use crate::inventory::PackageType;
use crate::merge::{ImageInventory, ImagePackage};

/// A CVSS score as an advisory gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: String,
    pub vector: String,
    pub score: f64,
}

/// One advisory that affects a queried package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<CvssScore>,
    #[serde(default)]
    pub cwe_ids: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

/// Something that answers "which advisories affect this version of this package".
/// [`portcullis_vulndb::VulnDb`] is the real one; tests may bring their own.
pub trait Advisories: Sync {
    /// Advisories affecting `name` at `version` in the OSV `ecosystem`.
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Vec<Advisory>, ScanError>;

    /// Whether the data holds any advisory for `ecosystem` (`None`: cannot tell). A
    /// distribution the data does not cover cannot be reported as free of
    /// vulnerabilities.
    fn covers(&self, ecosystem: &str) -> Option<bool> {
        let _ = ecosystem;
        None
    }

    /// When the advisory data was last updated (RFC 3339), if known.
    fn updated_at(&self) -> Option<String> {
        None
    }
}

/// One vulnerability of one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// CVE id when the advisory names one, the advisory's own id otherwise.
    pub id: String,
    pub package: ImagePackage,
    pub advisory: Advisory,
}

impl Vulnerability {
    /// The advisory's severity.
    pub fn severity(&self) -> Severity {
        self.advisory.severity
    }

    /// First version that fixes it, when known.
    pub fn fixed_version(&self) -> Option<&str> {
        self.advisory.fixed_version.as_deref()
    }
}

/// Whether the scanner could determine the image's packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScanStatus {
    /// Packages were determined; the vulnerability list is meaningful.
    Supported,
    /// The image cannot be judged; `reason` says why. Never treat as clean.
    Unsupported {
        /// Why.
        reason: String,
    },
}

/// The packages of an image and the vulnerabilities found in them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    #[serde(flatten)]
    pub status: ScanStatus,
    pub inventory: ImageInventory,
    /// Sorted by severity (highest first), then id and package.
    pub vulnerabilities: Vec<Vulnerability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_updated_at: Option<String>,
}

impl ScanResult {
    /// Whether the packages could be determined (see [`ScanStatus`]).
    pub fn is_supported(&self) -> bool {
        self.status == ScanStatus::Supported
    }
}

/// Names and versions under which advisories list a package.
fn queries(p: &ImagePackage) -> Vec<(String, String)> {
    let pkg = &p.package;
    let source = || {
        (
            pkg.source_name.clone().unwrap_or_else(|| pkg.name.clone()),
            pkg.source_version
                .clone()
                .unwrap_or_else(|| pkg.version.clone()),
        )
    };
    match pkg.kind {
        PackageType::Deb | PackageType::Apk => vec![source()],
        // rpm advisories name binary packages in some feeds and source packages in others.
        PackageType::Rpm => {
            let mut q = vec![(pkg.name.clone(), pkg.version.clone())];
            if pkg.source_name.as_deref().is_some_and(|s| s != pkg.name) {
                q.push((
                    pkg.source_name.clone().unwrap_or_default(),
                    pkg.version.clone(),
                ));
            }
            q
        }
        _ => vec![(pkg.name.clone(), pkg.version.clone())],
    }
}

/// Report ids for an advisory: its CVE ids when it names any (allowlists and other
/// scanners speak CVE), else its own id.
fn report_ids(a: &Advisory) -> Vec<String> {
    if a.id.starts_with("CVE-") {
        return vec![a.id.clone()];
    }
    let cves: Vec<String> = a
        .aliases
        .iter()
        .filter(|x| x.starts_with("CVE-"))
        .cloned()
        .collect();
    if cves.is_empty() {
        vec![a.id.clone()]
    } else {
        cves
    }
}

/// Matches the packages of `inventory` against `db`.
pub fn match_packages(
    inventory: ImageInventory,
    db: &dyn Advisories,
) -> Result<ScanResult, ScanError> {
    let uncovered = inventory
        .os
        .as_ref()
        .and_then(|os| os.ecosystem.as_deref())
        .filter(|eco| db.covers(eco) == Some(false))
        .map(|eco| format!("the vulnerability database holds no advisories for {eco}"));
    let status = match inventory.unsupported_reason().or(uncovered) {
        Some(reason) => ScanStatus::Unsupported { reason },
        None => ScanStatus::Supported,
    };
    let mut cache: HashMap<(String, String, String), Vec<Advisory>> = HashMap::new();
    let mut found: BTreeMap<(String, String, String, String), Vulnerability> = BTreeMap::new();
    for p in &inventory.packages {
        let Some(eco) = &p.ecosystem else { continue };
        if p.package.version.is_empty() {
            continue;
        }
        let mut seen_ids = Vec::new();
        for (name, version) in queries(p) {
            let key = (eco.clone(), name, version);
            if !cache.contains_key(&key) {
                let hits = db.advisories(&key.0, &key.1, &key.2)?;
                cache.insert(key.clone(), hits);
            }
            for a in &cache[&key] {
                if seen_ids.contains(&a.id) {
                    continue;
                }
                seen_ids.push(a.id.clone());
                for id in report_ids(a) {
                    let k = (
                        id.clone(),
                        p.package.name.clone(),
                        p.package.version.clone(),
                        p.path.clone(),
                    );
                    let v = Vulnerability {
                        id,
                        package: p.clone(),
                        advisory: a.clone(),
                    };
                    // Two advisories for one CVE: keep the graver view of it.
                    match found.get(&k) {
                        Some(old) if old.severity() >= v.severity() => {}
                        _ => {
                            found.insert(k, v);
                        }
                    }
                }
            }
        }
    }
    let mut vulnerabilities: Vec<Vulnerability> = found.into_values().collect();
    vulnerabilities.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.package.name.cmp(&b.package.package.name))
            .then_with(|| a.package.path.cmp(&b.package.path))
    });
    Ok(ScanResult {
        status,
        inventory,
        vulnerabilities,
        db_updated_at: db.updated_at(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Package;

    struct Fake;
    impl Advisories for Fake {
        fn advisories(
            &self,
            eco: &str,
            name: &str,
            version: &str,
        ) -> Result<Vec<Advisory>, ScanError> {
            Ok(
                if eco == "Debian:11" && name == "openssl" && version == "1.1.1n-0+deb11u3" {
                    vec![Advisory {
                        id: "DSA-5343-1".into(),
                        aliases: vec!["CVE-2023-0286".into(), "CVE-2023-0215".into()],
                        fixed_version: Some("1.1.1n-0+deb11u4".into()),
                        severity: Severity::High,
                        ..Advisory::default()
                    }]
                } else {
                    vec![]
                },
            )
        }
    }

    fn pkg(name: &str) -> ImagePackage {
        let mut p = Package::new(PackageType::Deb, name, "1.1.1n-0+deb11u3");
        p.source_name = Some("openssl".into());
        p.source_version = Some("1.1.1n-0+deb11u3".into());
        ImagePackage {
            package: p,
            path: "var/lib/dpkg/status".into(),
            layer: None,
            purl: String::new(),
            ecosystem: Some("Debian:11".into()),
        }
    }

    #[test]
    fn matches_by_source_and_expands_cves() {
        let inv = ImageInventory {
            packages: vec![pkg("libssl1.1"), pkg("openssl")],
            os_package_dbs: vec!["var/lib/dpkg/status".into()],
            ..ImageInventory::default()
        };
        let r = match_packages(inv, &Fake).unwrap();
        let ids: Vec<_> = r
            .vulnerabilities
            .iter()
            .map(|v| (v.id.as_str(), v.package.package.name.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("CVE-2023-0215", "libssl1.1"),
                ("CVE-2023-0215", "openssl"),
                ("CVE-2023-0286", "libssl1.1"),
                ("CVE-2023-0286", "openssl")
            ]
        );
        // No os-release: unsupported, but what was found is still listed.
        assert!(!r.is_supported());
    }
}
