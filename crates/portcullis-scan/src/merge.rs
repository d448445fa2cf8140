//! The final file system view of an image: layer inventories applied in order, with
//! whiteouts and opaque directories hiding what lower layers held.

use std::collections::BTreeMap;

use portcullis_types::Digest;
use serde::{Deserialize, Serialize};

use crate::detect::{OsInfo, detect_os};
use crate::error::{LimitError, ScanError};
use crate::inventory::{Catalog, FileContent, LayerInventory, Package};
use crate::limits::Limits;
use crate::purl::purl_of;

/// A package of the final image, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePackage {
    #[serde(flatten)]
    pub package: Package,
    /// File the package was read from (root-relative; `a.jar!/b.jar` inside archives).
    pub path: String,
    /// Digest of the lowest layer from which the package is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Digest>,
    pub purl: String,
    /// OSV ecosystem its advisories are filed under, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
}

/// Everything the scanner knows about an image's contents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageInventory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// Packages sorted by type, name, version and path.
    pub packages: Vec<ImagePackage>,
    /// Paths of the OS package databases present.
    pub os_package_dbs: Vec<String>,
    /// Package databases present but unreadable, with the reason.
    pub unsupported_dbs: Vec<String>,
    pub notes: Vec<String>,
}

struct Slot<'a> {
    layer: usize,
    content: &'a FileContent,
    /// For package files, the layer each listed package first appeared in unchanged.
    origins: Vec<usize>,
}

fn remove_prefix(view: &mut BTreeMap<String, Slot<'_>>, dir: &str) {
    if dir.is_empty() {
        view.clear();
        return;
    }
    let start = format!("{dir}/");
    let keys: Vec<String> = view
        .range(start.clone()..)
        .take_while(|(k, _)| k.starts_with(&start))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        view.remove(&k);
    }
}

fn same(a: &Package, b: &Package) -> bool {
    a.name == b.name && a.version == b.version && a.arch == b.arch
}

fn package_list(c: &FileContent) -> &[Package] {
    match c {
        FileContent::Packages { packages, .. } => packages,
        _ => &[],
    }
}

fn resolve(
    view: &BTreeMap<String, Slot<'_>>,
    path: &str,
    max_hops: u32,
) -> Result<String, LimitError> {
    let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        resolved.push(c);
        let here = resolved.join("/");
        if let Some(Slot {
            content: FileContent::Link { target, hard },
            ..
        }) = view.get(&here)
        {
            hops += 1;
            if hops > max_hops {
                return Err(LimitError::SymlinkLoop {
                    path: path.to_string(),
                    limit: max_hops,
                });
            }
            resolved.pop();
            if *hard || target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(target.split('/').rev().map(str::to_string));
        }
    }
    Ok(resolved.join("/"))
}

const OS_PATHS: [&str; 5] = [
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
];

impl ImageInventory {
    /// Applies `layers` bottom to top. Fails on a link loop, or when the image lists more
    /// than `max_packages` packages.
    pub fn from_layers<L: std::borrow::Borrow<LayerInventory>>(
        layers: &[L],
        limits: &Limits,
    ) -> Result<Self, ScanError> {
        let mut view: BTreeMap<String, Slot<'_>> = BTreeMap::new();
        let mut notes = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let layer: &LayerInventory = layer.borrow();
            for dir in &layer.opaque_dirs {
                remove_prefix(&mut view, dir);
            }
            for w in &layer.whiteouts {
                view.remove(w);
                remove_prefix(&mut view, w);
            }
            for f in &layer.files {
                let new = package_list(&f.content);
                let origins = match view.get(&f.path) {
                    Some(old) => new
                        .iter()
                        .map(|p| {
                            package_list(old.content)
                                .iter()
                                .position(|q| same(p, q))
                                .map_or(i, |j| old.origins.get(j).copied().unwrap_or(old.layer))
                        })
                        .collect(),
                    None => vec![i; new.len()],
                };
                view.insert(
                    f.path.clone(),
                    Slot {
                        layer: i,
                        content: &f.content,
                        origins,
                    },
                );
            }
            notes.extend(layer.notes.iter().cloned());
        }

        let listed: usize = view.values().map(|s| package_list(s.content).len()).sum();
        if listed as u64 > limits.max_packages {
            return Err(LimitError::TooManyPackages {
                what: "image".into(),
                limit: limits.max_packages,
            }
            .into());
        }

        let mut os_texts = Vec::new();
        for p in OS_PATHS {
            let real = resolve(&view, p, limits.max_symlink_hops)?;
            if let Some(Slot {
                content: FileContent::OsFile { text },
                ..
            }) = view.get(&real)
            {
                os_texts.push((p, text.as_str()));
            }
        }
        let os = detect_os(os_texts);

        let mut inv = ImageInventory {
            os,
            notes,
            ..ImageInventory::default()
        };
        let mut has_readable_rpm = false;
        let mut unsupported = Vec::new();
        for (path, slot) in &view {
            match slot.content {
                FileContent::Packages { catalog, packages } => {
                    if catalog.is_os_db() {
                        inv.os_package_dbs.push(path.clone());
                        has_readable_rpm |= *catalog == Catalog::Rpm;
                    }
                    for (p, origin) in packages.iter().zip(&slot.origins) {
                        inv.packages
                            .push(inv_package(p, path, layers, *origin, inv.os.as_ref()));
                    }
                }
                FileContent::UnsupportedDb { catalog, reason } => {
                    unsupported.push((*catalog, format!("{path}: {reason}")));
                }
                _ => {}
            }
        }
        // rpm may leave an old BerkeleyDB file beside the SQLite one it migrated to.
        inv.unsupported_dbs = unsupported
            .into_iter()
            .filter(|(c, _)| !(*c == Catalog::Rpm && has_readable_rpm))
            .map(|(_, r)| r)
            .collect();
        inv.packages.sort_by(|a, b| {
            (a.package.kind, &a.package.name, &a.package.version, &a.path).cmp(&(
                b.package.kind,
                &b.package.name,
                &b.package.version,
                &b.path,
            ))
        });
        Ok(inv)
    }

    /// Why the image's packages cannot be fully determined, if they cannot. Such an image
    /// must be reported as unsupported, never as free of vulnerabilities.
    pub fn unsupported_reason(&self) -> Option<String> {
        if let Some(r) = self.unsupported_dbs.first() {
            return Some(r.clone());
        }
        match &self.os {
            Some(os) => {
                if self.os_package_dbs.is_empty() {
                    return Some(format!("{}: no OS package database found", os.name));
                }
                if os.ecosystem.is_none() {
                    return Some(format!(
                        "distribution {} {} is not supported",
                        os.family, os.version
                    ));
                }
                None
            }
            None if !self.os_package_dbs.is_empty() => {
                Some("OS packages found but the distribution could not be determined".to_string())
            }
            None if self.packages.is_empty() => {
                Some("no OS release file and no package metadata found".to_string())
            }
            None => None,
        }
    }
}

fn inv_package<L: std::borrow::Borrow<LayerInventory>>(
    p: &Package,
    path: &str,
    layers: &[L],
    origin: usize,
    os: Option<&OsInfo>,
) -> ImagePackage {
    let ecosystem = match p.kind.language_ecosystem() {
        Some(e) => Some(e.to_string()),
        None => os.and_then(|o| o.ecosystem.clone()),
    };
    ImagePackage {
        purl: purl_of(p, os).unwrap_or_default(),
        package: p.clone(),
        path: path.to_string(),
        layer: layers.get(origin).and_then(|l| l.borrow().digest.clone()),
        ecosystem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{LayerFile, PackageType};

    fn layer(n: u8, files: Vec<LayerFile>, whiteouts: &[&str], opaque: &[&str]) -> LayerInventory {
        LayerInventory {
            digest: Some(Digest::sha256_of(&[n])),
            files,
            whiteouts: whiteouts.iter().map(|s| s.to_string()).collect(),
            opaque_dirs: opaque.iter().map(|s| s.to_string()).collect(),
            ..LayerInventory::default()
        }
    }

    fn pkgs(path: &str, names: &[(&str, &str)]) -> LayerFile {
        LayerFile {
            path: path.into(),
            content: FileContent::Packages {
                catalog: Catalog::Dpkg,
                packages: names
                    .iter()
                    .map(|(n, v)| Package::new(PackageType::Deb, *n, *v))
                    .collect(),
            },
        }
    }

    fn os() -> LayerFile {
        LayerFile {
            path: "usr/lib/os-release".into(),
            content: FileContent::OsFile {
                text: "ID=debian\nVERSION_ID=12\n".into(),
            },
        }
    }

    fn link(path: &str, target: &str) -> LayerFile {
        LayerFile {
            path: path.into(),
            content: FileContent::Link {
                target: target.into(),
                hard: false,
            },
        }
    }

    #[test]
    fn whiteouts_and_origins() {
        let l0 = layer(
            0,
            vec![
                os(),
                link("etc/os-release", "../usr/lib/os-release"),
                pkgs("var/lib/dpkg/status", &[("a", "1"), ("b", "1")]),
                pkgs("opt/x/status", &[("x", "1")]),
                pkgs("srv/y/status", &[("y", "1")]),
            ],
            &[],
            &[],
        );
        let l1 = layer(
            1,
            vec![pkgs("var/lib/dpkg/status", &[("a", "1"), ("b", "2")])],
            &["opt/x"],
            &["srv"],
        );
        let inv =
            ImageInventory::from_layers(&[l0.clone(), l1.clone()], &Limits::default()).unwrap();
        assert_eq!(
            inv.os.as_ref().unwrap().ecosystem.as_deref(),
            Some("Debian:12")
        );
        let got: Vec<_> = inv
            .packages
            .iter()
            .map(|p| (p.package.name.as_str(), p.layer.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", l0.digest.clone().unwrap()),
                ("b", l1.digest.clone().unwrap())
            ]
        );
        assert_eq!(inv.unsupported_reason(), None);
    }

    #[test]
    fn link_loop_is_an_error() {
        let l = layer(
            0,
            vec![
                link("etc/os-release", "os-release2"),
                link("etc/os-release2", "/etc/os-release"),
            ],
            &[],
            &[],
        );
        let err = ImageInventory::from_layers(&[l], &Limits::default()).unwrap_err();
        assert!(matches!(err.limit(), Some(LimitError::SymlinkLoop { .. })));
    }

    #[test]
    fn unsupported_reasons() {
        let empty =
            ImageInventory::from_layers(&[layer(0, vec![], &[], &[])], &Limits::default()).unwrap();
        assert!(empty.unsupported_reason().is_some());
        let no_db =
            ImageInventory::from_layers(&[layer(0, vec![os()], &[], &[])], &Limits::default())
                .unwrap();
        assert!(
            no_db
                .unsupported_reason()
                .unwrap()
                .contains("no OS package database")
        );
        let empty_status = ImageInventory::from_layers(
            &[layer(
                0,
                vec![os(), pkgs("var/lib/dpkg/status", &[])],
                &[],
                &[],
            )],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(empty_status.unsupported_reason(), None);
    }
}
