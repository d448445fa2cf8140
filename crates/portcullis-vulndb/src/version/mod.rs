//! Version ordering per ecosystem. OSV ranges are only meaningful in the ordering of the
//! ecosystem that wrote them, so the comparator is chosen from the ecosystem name (the part
//! before the first `:`; `Debian:12` orders like `Debian`).

mod apk;
mod dpkg;
mod gem;
mod generic;
mod maven;
mod pep440;
mod rpm;
pub(crate) mod semver;

use std::cmp::Ordering;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Debian and Ubuntu packages (`deb-version(7)`).
    Dpkg,
    /// Alpine, Wolfi and Chainguard packages (apk-tools).
    Apk,
    /// RPM-based distributions (`rpmvercmp` on epoch, version, release).
    Rpm,
    /// PyPI (PEP 440).
    Pep440,
    /// SemVer precedence: npm, crates.io, Hex, Pub, and OSV `SEMVER` ranges.
    SemVer,
    /// Go modules: SemVer with `v`/`go` prefixes, pseudo-versions and `+incompatible`.
    Go,
    /// Maven (`ComparableVersion`).
    Maven,
    /// RubyGems (`Gem::Version`).
    RubyGems,
    /// Numeric dotted versions with an optional pre-release (NuGet, Packagist, others).
    Generic,
}

impl Scheme {
    /// The ordering used by an OSV ecosystem name such as `Debian:12` or `crates.io`.
    pub fn for_ecosystem(ecosystem: &str) -> Scheme {
        let base = ecosystem.split(':').next().unwrap_or("").trim();
        match base.to_ascii_lowercase().as_str() {
            "debian" | "ubuntu" => Scheme::Dpkg,
            "alpine"
            | "wolfi"
            | "chainguard"
            | "alpaquita"
            | "bellsoft hardened containers"
            | "minimos" => Scheme::Apk,
            "red hat" | "rocky linux" | "almalinux" | "opensuse" | "suse" | "mageia"
            | "openeuler" | "photon os" | "azure linux" | "cbl-mariner" | "fedora"
            | "oracle linux" | "amazon linux" | "centos" => Scheme::Rpm,
            "pypi" => Scheme::Pep440,
            "go" => Scheme::Go,
            "npm" | "crates.io" | "hex" | "pub" | "swifturl" | "bitnami" => Scheme::SemVer,
            "maven" => Scheme::Maven,
            "rubygems" => Scheme::RubyGems,
            _ => Scheme::Generic,
        }
    }

    /// Compares two versions; `None` when either cannot be read in this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::SemVer => semver::compare(a, b),
            Scheme::Go => semver::compare(strip_go(a), strip_go(b)),
            Scheme::Maven => maven::compare(a, b),
            Scheme::RubyGems => gem::compare(a, b),
            Scheme::Generic => generic::compare(a, b),
        }
    }
}

/// Go toolchain versions are written `go1.21.3` in binaries but `1.21.3` in advisories.
fn strip_go(v: &str) -> &str {
    match v.strip_prefix("go") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => v,
    }
}

/// Compares two versions in the ordering of `ecosystem`; `None` when a version cannot be
/// parsed in that ecosystem.
pub fn compare(ecosystem: &str, a: &str, b: &str) -> Option<Ordering> {
    Scheme::for_ecosystem(ecosystem).compare(a, b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// Checks that `cmp` behaves as a total order on three values: reflexive, antisymmetric,
    /// transitive, and defined on all of them (the strategies generate valid versions only).
    pub(crate) fn check_total_order(
        cmp: fn(&str, &str) -> Option<Ordering>,
        a: &str,
        b: &str,
        c: &str,
    ) -> Result<(), TestCaseError> {
        for v in [a, b, c] {
            prop_assert_eq!(cmp(v, v), Some(Ordering::Equal), "reflexive {}", v);
        }
        let ab = cmp(a, b).ok_or_else(|| TestCaseError::fail(format!("{a} vs {b}")))?;
        let bc = cmp(b, c).ok_or_else(|| TestCaseError::fail(format!("{b} vs {c}")))?;
        let ac = cmp(a, c).ok_or_else(|| TestCaseError::fail(format!("{a} vs {c}")))?;
        prop_assert_eq!(cmp(b, a), Some(ab.reverse()), "antisymmetric {} {}", a, b);
        if ab == bc {
            prop_assert_eq!(ac, ab, "transitive {} {} {}", a, b, c);
        }
        if ab == Ordering::Equal {
            prop_assert_eq!(ac, bc, "equality substitutes {} {} {}", a, b, c);
        }
        if bc == Ordering::Equal {
            prop_assert_eq!(ac, ab, "equality substitutes {} {} {}", a, b, c);
        }
        Ok(())
    }

    #[test]
    fn scheme_from_ecosystem() {
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Scheme::Dpkg);
        assert_eq!(Scheme::for_ecosystem("Ubuntu:22.04:LTS"), Scheme::Dpkg);
        assert_eq!(Scheme::for_ecosystem("Alpine:v3.19"), Scheme::Apk);
        assert_eq!(Scheme::for_ecosystem("Red Hat"), Scheme::Rpm);
        assert_eq!(Scheme::for_ecosystem("Rocky Linux:9"), Scheme::Rpm);
        assert_eq!(Scheme::for_ecosystem("PyPI"), Scheme::Pep440);
        assert_eq!(Scheme::for_ecosystem("crates.io"), Scheme::SemVer);
        assert_eq!(Scheme::for_ecosystem("Go"), Scheme::Go);
        assert_eq!(Scheme::for_ecosystem("Maven"), Scheme::Maven);
        assert_eq!(Scheme::for_ecosystem("RubyGems"), Scheme::RubyGems);
        assert_eq!(Scheme::for_ecosystem("NuGet"), Scheme::Generic);
    }

    #[test]
    fn go_prefixes_and_pseudo_versions() {
        let go = |a, b| compare("Go", a, b);
        assert_eq!(go("go1.21.3", "1.21.4"), Some(Ordering::Less));
        assert_eq!(go("v1.2.3", "1.2.3"), Some(Ordering::Equal));
        assert_eq!(
            go(
                "v0.0.0-20200622213623-75b288015ac9",
                "0.0.0-20210101000000-000000000000"
            ),
            Some(Ordering::Less)
        );
        assert_eq!(
            go("v1.4.1-0.20210101000000-abcdefabcdef", "v1.4.0"),
            Some(Ordering::Greater),
            "a pseudo-version based on v1.4.0 sorts after it"
        );
        assert_eq!(
            go("v1.4.1-0.20210101000000-abcdefabcdef", "v1.4.1"),
            Some(Ordering::Less)
        );
        assert_eq!(go("v2.0.0+incompatible", "v2.0.1"), Some(Ordering::Less));
    }
}
