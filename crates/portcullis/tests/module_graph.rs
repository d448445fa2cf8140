//! The module graph of every crate: which top-level modules refer to which (`crate::x`,
//! `use crate::{x, …}`, `super::x` from a top-level module, and items the crate root
//! re-exports), and the circles in it. Dependencies must flow one way inside a crate as
//! between crates; a circle is two jobs that cannot be understood (or changed) apart.
//!
//! None remain. `KNOWN` is where one would be listed, and it must match exactly: a new
//! circle fails until it is taken apart (or, knowingly, listed there).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Circles allowed to remain, per crate, each as its sorted top-level modules: none.
const KNOWN: &[(&str, &[&str])] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source without comments and without the trailing unit-test module.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| match l.find(" // ") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every name a file reaches through `prefix` (`crate::` or `super::`), including the
/// first names of `prefix{a, b::c}` groups.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                out.insert(ident_at(item.trim()).to_string());
            }
        } else {
            out.insert(ident_at(rest).to_string());
        }
    }
    out.remove("");
    out
}

/// The top-level modules of a crate and the edges between them.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let root = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.exists())
        .unwrap();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        (p != root).then(|| first.trim_end_matches(".rs").to_string())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|p| module_of(p)).collect();
    // Items the root re-exports stand for the module they come from.
    let root_code = code_of(&std::fs::read_to_string(&root).unwrap());
    let mut alias: BTreeMap<String, String> = BTreeMap::new();
    for line in root_code.lines().map(str::trim) {
        let Some(rest) = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let module = ident_at(rest).to_string();
        if !modules.contains(&module) {
            continue;
        }
        let tail = &rest[module.len()..];
        for item in tail.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !item.is_empty() && !modules.contains(item) {
                alias.insert(item.to_string(), module.clone());
            }
        }
        if let Some(last) = tail.trim_end_matches(';').rsplit("::").next()
            && modules.contains(last.trim())
        {
            alias.insert(last.trim().to_string(), module.clone());
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let Some(from) = module_of(path) else {
            continue;
        };
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        let mut names = names_after(&code, "crate::");
        let rel = path.strip_prefix(src).unwrap();
        let top_level = rel.components().count() == 1 || rel.ends_with("mod.rs");
        if top_level {
            names.extend(names_after(&code, "super::"));
        }
        for name in names {
            let target = if modules.contains(&name) {
                Some(name)
            } else {
                alias.get(&name).cloned()
            };
            if let Some(t) = target.filter(|t| *t != from) {
                edges.entry(from.clone()).or_default().insert(t);
            }
        }
    }
    for m in modules {
        edges.entry(m).or_default();
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.g[v] {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

#[test]
fn no_module_circles_beyond_the_known_ones() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    for entry in std::fs::read_dir(crates).unwrap() {
        let dir = entry.unwrap().path();
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        for c in circles(&graph(&src)) {
            found.push((name.clone(), c));
        }
    }
    found.sort();
    let known: Vec<(String, Vec<String>)> = KNOWN
        .iter()
        .map(|(c, m)| (c.to_string(), m.iter().map(|s| s.to_string()).collect()))
        .collect();
    let show = |list: &[(String, Vec<String>)]| {
        list.iter()
            .map(|(c, m)| {
                format!(
                    "    (\"{c}\", &[{}]),",
                    m.iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        found,
        known,
        "module circles changed; the circles now are:\n{}",
        show(&found)
    );
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\nmod c;\npub use c::Thing;\n",
    )
    .unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::X, Thing};\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "/// crate::c in a comment\nuse crate::a;\n",
    )
    .unwrap();
    std::fs::create_dir(src.join("c")).unwrap();
    std::fs::write(src.join("c/mod.rs"), "mod inner;\n").unwrap();
    std::fs::write(src.join("c/inner.rs"), "use super::super::a;\n").unwrap();
    let g = graph(src);
    assert_eq!(g["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert_eq!(g["b"], BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
}
