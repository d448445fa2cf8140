//! Severity thresholds: the level at which findings block, as a project's metadata sets it
//! for the pull gate (`prevent_vul` and `severity`) and as the gate CLI takes it
//! (`--severity`), and how a report's severity words read.

use std::collections::BTreeMap;

use portcullis_types::Severity;

/// The project metadata key that turns the vulnerability policy on ("true").
pub const PREVENT_VUL_KEY: &str = "prevent_vul";
/// The project metadata key holding the threshold ("none", "low", … "critical").
pub const SEVERITY_KEY: &str = "severity";

/// Where findings start to block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// Findings of this severity or higher block. `At(Severity::Unknown)` is Harbor's
    /// "None": every finding left after the allowlist blocks.
    At(Severity),
    /// No finding blocks: the gate CLI's `--severity none`, which still wants a finished
    /// scan (and whatever else the CLI was asked to demand). Project metadata never reads
    /// as this.
    Never,
}

/// A `--severity` word the gate CLI does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid severity {0:?}: use none, low, medium, high or critical")]
pub struct InvalidThreshold(pub String);

impl Threshold {
    /// The gate CLI's threshold when neither `--severity` nor the project's policy sets one.
    pub const CLI_DEFAULT: Threshold = Threshold::At(Severity::High);

    /// The project's threshold when its metadata turns the policy on (`prevent_vul`
    /// "true"), as the pull gate applies it. An unset or unknown `severity` reads as
    /// "low", the value Harbor's UI starts from; "none" is Harbor's None (every finding).
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Option<Threshold> {
        if metadata.get(PREVENT_VUL_KEY).map(String::as_str) != Some("true") {
            return None;
        }
        Some(Threshold::At(
            match metadata.get(SEVERITY_KEY).map(String::as_str) {
                Some("none") => Severity::Unknown,
                Some("medium") => Severity::Medium,
                Some("high") => Severity::High,
                Some("critical") => Severity::Critical,
                _ => Severity::Low,
            },
        ))
    }

    /// A threshold as the gate CLI's `--severity` takes it (any case): `none` means no
    /// finding fails the gate ([`Threshold::Never`]); `negligible` is accepted too.
    pub fn from_cli_word(word: &str) -> Result<Threshold, InvalidThreshold> {
        Ok(match word.to_ascii_lowercase().as_str() {
            "none" => Threshold::Never,
            "negligible" => Threshold::At(Severity::Negligible),
            "low" => Threshold::At(Severity::Low),
            "medium" => Threshold::At(Severity::Medium),
            "high" => Threshold::At(Severity::High),
            "critical" => Threshold::At(Severity::Critical),
            _ => return Err(InvalidThreshold(word.to_string())),
        })
    }

    /// Whether a finding of `severity` blocks.
    pub fn reaches(self, severity: Severity) -> bool {
        match self {
            Threshold::At(floor) => severity >= floor,
            Threshold::Never => false,
        }
    }

    /// How Harbor prints the threshold in its messages ("None" for the lowest).
    pub fn label(self) -> &'static str {
        match self {
            Threshold::At(Severity::Unknown) | Threshold::Never => "None",
            Threshold::At(s) => s.as_str(),
        }
    }
}

/// Shorthand for [`Threshold::from_metadata`].
pub fn threshold(metadata: &BTreeMap<String, String>) -> Option<Threshold> {
    Threshold::from_metadata(metadata)
}

/// A finding's severity as a report writes it (any case, Harbor's words plus the common
/// "moderate" and "important"); anything else is `Unknown`.
pub fn finding_severity(word: &str) -> Severity {
    word.parse().unwrap_or(Severity::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_words() {
        assert_eq!(threshold(&meta(&[("severity", "high")])), None);
        assert_eq!(
            threshold(&meta(&[("prevent_vul", "false"), ("severity", "high")])),
            None
        );
        for (word, want, label) in [
            ("none", Severity::Unknown, "None"),
            ("low", Severity::Low, "Low"),
            ("medium", Severity::Medium, "Medium"),
            ("high", Severity::High, "High"),
            ("critical", Severity::Critical, "Critical"),
            // Unknown words and an unset severity read as Harbor's starting value.
            ("negligible", Severity::Low, "Low"),
            ("HIGH", Severity::Low, "Low"),
        ] {
            let t = threshold(&meta(&[("prevent_vul", "true"), ("severity", word)])).unwrap();
            assert_eq!(t, Threshold::At(want), "{word}");
            assert_eq!(t.label(), label, "{word}");
        }
        assert_eq!(
            threshold(&meta(&[("prevent_vul", "true")])),
            Some(Threshold::At(Severity::Low))
        );
    }

    #[test]
    fn cli_words() {
        assert_eq!(Threshold::from_cli_word("none"), Ok(Threshold::Never));
        assert_eq!(
            Threshold::from_cli_word("Critical"),
            Ok(Threshold::At(Severity::Critical))
        );
        assert_eq!(
            Threshold::from_cli_word("NEGLIGIBLE"),
            Ok(Threshold::At(Severity::Negligible))
        );
        assert_eq!(
            Threshold::from_cli_word("medium"),
            Ok(Threshold::At(Severity::Medium))
        );
        let e = Threshold::from_cli_word("severe").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid severity \"severe\": use none, low, medium, high or critical"
        );
        assert!(Threshold::from_cli_word("unknown").is_err());
        assert_eq!(Threshold::CLI_DEFAULT, Threshold::At(Severity::High));
    }

    #[test]
    fn reaching() {
        let high = Threshold::At(Severity::High);
        assert!(high.reaches(Severity::Critical));
        assert!(high.reaches(Severity::High));
        assert!(!high.reaches(Severity::Medium));
        let all = Threshold::At(Severity::Unknown);
        assert!(Severity::ALL.iter().all(|s| all.reaches(*s)));
        assert!(!Severity::ALL.iter().any(|s| Threshold::Never.reaches(*s)));
        assert_eq!(Threshold::Never.label(), "None");
        assert_eq!(Threshold::At(Severity::Negligible).label(), "Negligible");
    }

    #[test]
    fn finding_words() {
        assert_eq!(finding_severity("Critical"), Severity::Critical);
        assert_eq!(finding_severity("high"), Severity::High);
        assert_eq!(finding_severity("Moderate"), Severity::Medium);
        assert_eq!(finding_severity("Negligible"), Severity::Negligible);
        assert_eq!(finding_severity("whatever"), Severity::Unknown);
        assert_eq!(finding_severity(""), Severity::Unknown);
    }
}
