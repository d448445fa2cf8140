//! Fuzz harness for the immutable-tag glob selectors (docs/fuzzing.md). Patterns come
//! from project admins through the API and are matched on every push, so neither
//! compiling nor matching may panic or exhaust the stack.

use crate::immutable::{ImmutableRule, Selector};

fn selector(decoration: &str, pattern: &str) -> Selector {
    Selector {
        kind: "doublestar".into(),
        decoration: decoration.into(),
        pattern: pattern.into(),
        extras: String::new(),
    }
}

/// An input is `<flags><pattern>\0<repository path>\0<tag>`: the flags byte picks
/// whether the pattern selects repositories or tags and whether it includes or excludes.
#[test]
fn immutable_globs() {
    bolero::check!().for_each(|input: &[u8]| {
        let Some((&flags, rest)) = input.split_first() else {
            return;
        };
        let text = String::from_utf8_lossy(rest);
        let mut parts = text.splitn(3, '\0');
        let pattern = parts.next().unwrap_or_default();
        let path = parts.next().unwrap_or_default();
        let tag = parts.next().unwrap_or_default();
        let (repo, tags) = if flags & 1 == 0 {
            let decoration = if flags & 2 == 0 {
                "repoMatches"
            } else {
                "repoExcludes"
            };
            (selector(decoration, pattern), selector("matches", "**"))
        } else {
            let decoration = if flags & 2 == 0 {
                "matches"
            } else {
                "excludes"
            };
            (selector("repoMatches", "**"), selector(decoration, pattern))
        };
        let rule = ImmutableRule {
            id: 1,
            priority: 0,
            disabled: false,
            action: String::new(),
            template: String::new(),
            params: Default::default(),
            tag_selectors: vec![tags],
            scope_selectors: [("repository".to_string(), vec![repo])].into(),
        };
        let Ok(rule) = rule.validated() else {
            return;
        };
        let compiled = rule.compile().expect("a validated rule compiles");
        let _ = compiled.protects(path, tag);
    });
}
