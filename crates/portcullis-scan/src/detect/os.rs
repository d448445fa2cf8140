//! Which distribution and release an image is, and the OSV ecosystem its OS packages'
//! advisories are filed under.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The distribution an image is built on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `ID` of os-release (`debian`, `alpine`, `rhel`, …).
    pub family: String,
    /// `VERSION_ID` (or the release file's version).
    pub version: String,
    /// Human-readable name.
    pub name: String,
    /// OSV ecosystem of the OS packages (`Debian:12`, `Alpine:v3.19`, …), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
}

fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

fn major(v: &str) -> &str {
    v.split(['.', '_', '-', ' ']).next().unwrap_or(v)
}

fn major_minor(v: &str) -> String {
    let mut parts = v.split('.');
    let maj = parts.next().unwrap_or("");
    let min: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if min.is_empty() {
        maj.to_string()
    } else {
        format!("{maj}.{min}")
    }
}

/// The OSV ecosystem name for a distribution id and version.
pub fn ecosystem_for(family: &str, version: &str, pretty: &str) -> Option<String> {
    if version.is_empty() && !matches!(family, "wolfi" | "chainguard") {
        return None;
    }
    Some(match family {
        "debian" => format!("Debian:{}", major(version)),
        "ubuntu" => {
            if pretty.contains("LTS") {
                format!("Ubuntu:{version}:LTS")
            } else {
                format!("Ubuntu:{version}")
            }
        }
        "alpine" => format!("Alpine:v{}", major_minor(version)),
        "rhel" => "Red Hat".to_string(),
        "rocky" => format!("Rocky Linux:{}", major(version)),
        "almalinux" => format!("AlmaLinux:{}", major(version)),
        "wolfi" => "Wolfi".to_string(),
        "chainguard" => "Chainguard".to_string(),
        _ => return None,
    })
}

fn info(family: &str, version: &str, name: &str) -> OsInfo {
    OsInfo {
        family: family.to_string(),
        version: version.to_string(),
        name: name.to_string(),
        ecosystem: ecosystem_for(family, version, name),
    }
}

/// Decides the OS from the identification files of the final file system view, given as
/// `(path, text)`. `os-release` wins; the older per-distribution files are fallbacks.
pub fn detect_os<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<OsInfo> {
    let files: BTreeMap<&str, &str> = files.into_iter().collect();
    for path in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = files.get(path) {
            let kv = parse_os_release(text);
            let Some(id) = kv.get("ID").filter(|s| !s.is_empty()) else {
                continue;
            };
            let mut version = kv.get("VERSION_ID").cloned().unwrap_or_default();
            // Debian testing and sid have no VERSION_ID; debian_version may still tell.
            if version.is_empty()
                && id == "debian"
                && let Some(dv) = files.get("etc/debian_version")
            {
                let dv = dv.trim();
                if dv.starts_with(|c: char| c.is_ascii_digit()) {
                    version = major(dv).to_string();
                }
            }
            let pretty = kv
                .get("PRETTY_NAME")
                .or_else(|| kv.get("VERSION"))
                .cloned()
                .unwrap_or_else(|| id.clone());
            let mut os = info(id, &version, &pretty);
            if id == "ubuntu" && kv.get("VERSION").is_some_and(|v| v.contains("LTS")) {
                os.ecosystem = ecosystem_for(id, &version, "LTS");
            }
            return Some(os);
        }
    }
    if let Some(text) = files.get("etc/alpine-release") {
        let v = text.trim();
        return Some(info("alpine", v, &format!("Alpine Linux v{v}")));
    }
    if let Some(text) = files.get("etc/redhat-release") {
        let line = text.lines().next().unwrap_or("").trim();
        let version = line
            .split_once(" release ")
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or(""))
            .unwrap_or("");
        let family = if line.starts_with("Rocky") {
            "rocky"
        } else if line.starts_with("AlmaLinux") {
            "almalinux"
        } else if line.starts_with("Red Hat") {
            "rhel"
        } else if line.starts_with("CentOS") {
            "centos"
        } else if line.starts_with("Fedora") {
            "fedora"
        } else {
            "redhat-like"
        };
        return Some(info(family, version, line));
    }
    if let Some(text) = files.get("etc/debian_version") {
        let v = text.trim();
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(info("debian", major(v), &format!("Debian {v}")));
        }
        return Some(info("debian", "", &format!("Debian {v}")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(files: &[(&str, &str)]) -> Option<String> {
        detect_os(files.iter().copied()).and_then(|o| o.ecosystem)
    }

    #[test]
    fn ecosystems() {
        assert_eq!(
            eco(&[(
                "etc/os-release",
                "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""
            )]),
            Some("Debian:12".into())
        );
        assert_eq!(
            eco(&[("usr/lib/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")]),
            Some("Alpine:v3.19".into())
        );
        assert_eq!(
            eco(&[(
                "etc/os-release",
                "ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\n"
            )]),
            Some("Ubuntu:22.04:LTS".into())
        );
        assert_eq!(
            eco(&[(
                "etc/os-release",
                "ID=ubuntu\nVERSION_ID=\"23.10\"\nVERSION=\"23.10 (Mantic Minotaur)\"\n"
            )]),
            Some("Ubuntu:23.10".into())
        );
        assert_eq!(
            eco(&[("etc/os-release", "ID=\"rocky\"\nVERSION_ID=\"9.3\"\n")]),
            Some("Rocky Linux:9".into())
        );
        assert_eq!(
            eco(&[("etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"9.3\"\n")]),
            Some("Red Hat".into())
        );
        assert_eq!(
            eco(&[("etc/alpine-release", "3.18.4\n")]),
            Some("Alpine:v3.18".into())
        );
        assert_eq!(
            eco(&[("etc/debian_version", "11.7\n")]),
            Some("Debian:11".into())
        );
        assert_eq!(
            eco(&[(
                "etc/redhat-release",
                "Rocky Linux release 9.2 (Blue Onyx)\n"
            )]),
            Some("Rocky Linux:9".into())
        );
        assert_eq!(eco(&[("etc/debian_version", "trixie/sid\n")]), None);
        assert_eq!(eco(&[("etc/os-release", "ID=arch\n")]), None);
        assert!(detect_os([]).is_none());
    }
}
