//! Immutable tag rules in Harbor's format: a tag is immutable when an enabled rule's
//! repository selectors and tag selectors all accept it. Patterns are doublestar globs
//! (`*` stays within a path segment, `**` crosses `/`, `{a,b}` alternation, `[…]`
//! classes), matched against the repository path without its project, as Harbor does.

use std::collections::BTreeMap;

use globset::GlobMatcher;
use serde::{Deserialize, Serialize};

/// Why a rule is refused (the registry answers `400` with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRule(pub String);

type Result<T> = std::result::Result<T, InvalidRule>;

/// Harbor's limit of rules per project.
pub const MAX_RULES_PER_PROJECT: usize = 15;
const ACTION: &str = "immutable";
const TEMPLATE: &str = "immutable_template";

/// One selector of a rule (`ImmutableSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub decoration: String,
    #[serde(default)]
    pub pattern: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extras: String,
}

/// A rule as Harbor's API shows it (`ImmutableRule`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImmutableRule {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub template: String,
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub tag_selectors: Vec<Selector>,
    #[serde(default)]
    pub scope_selectors: BTreeMap<String, Vec<Selector>>,
}

impl ImmutableRule {
    /// Checks the rule and fills Harbor's defaults for action and template.
    pub fn validated(mut self) -> Result<Self> {
        if self.action.is_empty() {
            self.action = ACTION.into();
        }
        if self.template.is_empty() {
            self.template = TEMPLATE.into();
        }
        if self.action != ACTION {
            return Err(bad(format!(
                "invalid action {:?}: the only action is \"{ACTION}\"",
                self.action
            )));
        }
        if self.template != TEMPLATE {
            return Err(bad(format!(
                "invalid template {:?}: the only template is \"{TEMPLATE}\"",
                self.template
            )));
        }
        if self.tag_selectors.is_empty() {
            return Err(bad("a rule needs at least one tag selector"));
        }
        if let Some(k) = self.scope_selectors.keys().find(|k| *k != "repository") {
            return Err(bad(format!(
                "invalid scope selector {k:?}: the only scope is \"repository\""
            )));
        }
        let repos = self.scope_selectors.get("repository").map_or(0, Vec::len);
        if repos == 0 {
            return Err(bad("a rule needs at least one repository selector"));
        }
        self.compile()?;
        Ok(self)
    }

    /// Both kinds of selectors compiled; errors name the bad selector.
    pub fn compile(&self) -> Result<CompiledRule> {
        let repo = self
            .scope_selectors
            .get("repository")
            .map(|s| s.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| compile_selector(s, "repoMatches", "repoExcludes"))
            .collect::<Result<_>>()?;
        let tag = self
            .tag_selectors
            .iter()
            .map(|s| compile_selector(s, "matches", "excludes"))
            .collect::<Result<_>>()?;
        Ok(CompiledRule {
            id: self.id,
            disabled: self.disabled,
            repo,
            tag,
        })
    }

    /// The part two rules must not share: what they select.
    pub fn same_selection(&self, other: &ImmutableRule) -> bool {
        self.tag_selectors == other.tag_selectors && self.scope_selectors == other.scope_selectors
    }
}

fn bad(msg: impl Into<String>) -> InvalidRule {
    InvalidRule(msg.into())
}

fn compile_selector(s: &Selector, matches: &str, excludes: &str) -> Result<(GlobMatcher, bool)> {
    if s.kind != "doublestar" {
        return Err(bad(format!(
            "invalid selector kind {:?}: the only kind is \"doublestar\"",
            s.kind
        )));
    }
    let include = if s.decoration == matches {
        true
    } else if s.decoration == excludes {
        false
    } else {
        return Err(bad(format!(
            "invalid selector decoration {:?}: use \"{matches}\" or \"{excludes}\"",
            s.decoration
        )));
    };
    if s.pattern.is_empty() {
        return Err(bad("a selector needs a pattern"));
    }
    check_pattern_size(&s.pattern)?;
    let glob = globset::GlobBuilder::new(&s.pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| bad(format!("invalid pattern {:?}: {e}", s.pattern)))?;
    Ok((glob.compile_matcher(), include))
}

/// Longest selector pattern accepted, in bytes.
const MAX_PATTERN_LEN: usize = 1024;
/// Deepest nesting of `{…}` alternatives accepted.
const MAX_ALTERNATE_DEPTH: usize = 8;

/// Refuses patterns whose compilation would cost unbounded stack or memory: the glob
/// compiler recurses once per nested `{`, and a few hundred levels overflow the stack,
/// which aborts the whole process rather than failing the request.
fn check_pattern_size(pattern: &str) -> Result<()> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(bad(format!(
            "pattern is longer than {MAX_PATTERN_LEN} bytes"
        )));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            // A class is skipped the way globset reads it (a `]` right after `[` or `[!`
            // is a member, backslashes are literal), so that a `}` inside one, as in
            // `{[}]`, cannot hide a level of nesting.
            '[' => {
                chars.next_if(|&c| c == '!' || c == '^');
                chars.next_if_eq(&']');
                chars.by_ref().find(|&c| c == ']');
            }
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_ALTERNATE_DEPTH {
        return Err(bad(format!(
            "pattern nests {{…}} {deepest} deep; at most {MAX_ALTERNATE_DEPTH} levels are allowed"
        )));
    }
    Ok(())
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: i64,
    pub disabled: bool,
    repo: Vec<(GlobMatcher, bool)>,
    tag: Vec<(GlobMatcher, bool)>,
}

impl CompiledRule {
    /// Whether the rule protects `tag` of the repository `path` (the name after the
    /// project, e.g. `team/app` in `proj/team/app`).
    pub fn protects(&self, path: &str, tag: &str) -> bool {
        !self.disabled && all_accept(&self.repo, path) && all_accept(&self.tag, tag)
    }
}

fn all_accept(selectors: &[(GlobMatcher, bool)], value: &str) -> bool {
    selectors
        .iter()
        .all(|(m, include)| m.is_match(value) == *include)
}

/// The id of the first rule protecting the tag, if any.
pub fn protecting_rule(rules: &[CompiledRule], path: &str, tag: &str) -> Option<i64> {
    rules.iter().find(|r| r.protects(path, tag)).map(|r| r.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(repo: (&str, &str), tag: (&str, &str)) -> ImmutableRule {
        serde_json::from_value(serde_json::json!({
            "tag_selectors": [{"kind": "doublestar", "decoration": tag.0, "pattern": tag.1}],
            "scope_selectors": {"repository": [
                {"kind": "doublestar", "decoration": repo.0, "pattern": repo.1}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn doublestar_semantics() {
        let r = rule(("repoMatches", "**"), ("matches", "v*"))
            .validated()
            .unwrap();
        assert_eq!(r.action, "immutable");
        assert_eq!(r.template, "immutable_template");
        let c = r.compile().unwrap();
        assert!(c.protects("app", "v1.0"));
        assert!(c.protects("team/app", "v2"));
        assert!(!c.protects("app", "latest"));

        let c = rule(("repoMatches", "team/*"), ("matches", "**"))
            .compile()
            .unwrap();
        assert!(c.protects("team/app", "x"));
        assert!(!c.protects("team/a/b", "x"), "* stays within one segment");
        assert!(!c.protects("app", "x"));

        let c = rule(("repoMatches", "{app,web}"), ("excludes", "dev-*"))
            .compile()
            .unwrap();
        assert!(c.protects("web", "1.0"));
        assert!(!c.protects("web", "dev-1"));
        assert!(!c.protects("db", "1.0"));

        let c = rule(("repoExcludes", "tmp/**"), ("matches", "{1,2}.[0-9]"))
            .compile()
            .unwrap();
        assert!(c.protects("app", "1.5"));
        assert!(!c.protects("tmp/x/y", "1.5"));
        assert!(!c.protects("app", "3.5"));
    }

    #[test]
    fn disabled_rules_protect_nothing() {
        let mut r = rule(("repoMatches", "**"), ("matches", "**"));
        r.disabled = true;
        r.id = 7;
        let compiled = vec![r.compile().unwrap()];
        assert_eq!(protecting_rule(&compiled, "app", "v1"), None);
        r.disabled = false;
        let compiled = vec![r.compile().unwrap()];
        assert_eq!(protecting_rule(&compiled, "app", "v1"), Some(7));
    }

    #[test]
    fn invalid_rules_are_refused() {
        let bad_decoration = rule(("matches", "**"), ("matches", "**"));
        assert!(bad_decoration.validated().is_err());
        let bad_pattern = rule(("repoMatches", "[a"), ("matches", "**"));
        assert!(bad_pattern.validated().is_err());
        let mut bad_action = rule(("repoMatches", "**"), ("matches", "**"));
        bad_action.action = "retain".into();
        assert!(bad_action.validated().is_err());
        let mut no_tags = rule(("repoMatches", "**"), ("matches", "**"));
        no_tags.tag_selectors.clear();
        assert!(no_tags.validated().is_err());
        let mut bad_kind = rule(("repoMatches", "**"), ("matches", "**"));
        bad_kind.tag_selectors[0].kind = "regexp".into();
        assert_eq!(
            bad_kind.validated().unwrap_err().to_string(),
            "invalid selector kind \"regexp\": the only kind is \"doublestar\""
        );
    }

    #[test]
    fn deeply_nested_or_huge_patterns_are_refused_not_compiled() {
        let nested = format!("{}a{}", "{".repeat(300), "}".repeat(300));
        let err = rule(("repoMatches", "**"), ("matches", &nested))
            .validated()
            .unwrap_err()
            .to_string();
        assert!(err.contains("300 deep"), "{err}");
        let long = "a".repeat(2000);
        assert!(
            rule(("repoMatches", &long), ("matches", "**"))
                .validated()
                .is_err()
        );
        // Escaped braces are literal and do not nest.
        let escaped = format!("{}x", "\\{".repeat(20));
        assert!(
            rule(("repoMatches", "**"), ("matches", &escaped))
                .validated()
                .is_ok()
        );
        let fine = rule(("repoMatches", "**"), ("matches", "{v1,{v2,v3}}"));
        assert!(fine.validated().is_ok());
    }

    /// A `}` inside a class used to count as closing a group, so `{[}]` repeated nested
    /// 200 groups past the bound and globset panicked on the regex it built ("regex
    /// compilation shouldn't fail").
    #[test]
    fn braces_inside_classes_do_not_hide_nesting() {
        let hidden = format!("{}a{}", "{[}]".repeat(200), "}".repeat(200));
        let err = rule(("repoMatches", "**"), ("matches", &hidden))
            .validated()
            .unwrap_err()
            .to_string();
        assert!(err.contains("200 deep"), "{err}");
        let negated = format!("{}a{}", "{[!]}]".repeat(100), "}".repeat(100));
        assert!(
            rule(("repoMatches", "**"), ("matches", &negated))
                .validated()
                .is_err()
        );
        // A brace that is a class member is literal, as globset reads it.
        let c = rule(("repoMatches", "**"), ("matches", "v[{}]"))
            .validated()
            .unwrap()
            .compile()
            .unwrap();
        assert!(c.protects("app", "v{"));
        assert!(!c.protects("app", "v["));
    }
}
