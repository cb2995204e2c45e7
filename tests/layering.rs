//! The parser layer stands on its own: the modules a runbook is read,
//! planned and rendered with import only what lies below them, so the
//! layers above (runner, observe, rehearse, check, cli) can change without
//! touching them, and no import cycle runs through them.
//!
//! The test reads the sources: every `crate::NAME` path outside comments (a
//! `use` line or an inline path, grouped `crate::{a, b}` included) is a
//! dependency on module NAME.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The lower layer, each module with what it may import. `quote`, `error`,
/// `expect`, `state_url`, `prose`, `visible` and `stdout` are leaves.
const ALLOWED: &[(&str, &[&str])] = &[
    ("quote", &[]),
    ("error", &[]),
    ("expect", &[]),
    ("state_url", &[]),
    ("prose", &[]),
    ("visible", &[]),
    ("stdout", &[]),
    ("redact", &["quote"]),
    ("model", &["redact"]),
    ("parse", &["error", "model", "redact", "quote"]),
    ("config", &["error", "expect", "model", "parse", "state_url"]),
    ("template", &["error", "model", "quote", "redact"]),
    ("vars", &["config", "error", "model", "parse", "quote", "redact", "template"]),
    ("plan", &["error", "model", "parse"]),
    ("preview", &["config", "error", "expect", "model", "plan", "quote", "redact", "template", "vars"]),
    ("render", &["model"]),
    ("doc_blocks", &["model", "template"]),
];

/// Inside these modules only their top-level items are public API: other
/// modules name `crate::parse::valid_var`, never `crate::parse::attrs::…`.
const SEALED: &[&str] = &["parse"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/src")
}

/// The crate's top-level modules, from `pub mod X;` in lib.rs.
fn modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// The files of module `m`: `m.rs` and everything under `m/`.
fn files(m: &str) -> Vec<PathBuf> {
    let file = src().join(format!("{m}.rs"));
    let mut out: Vec<PathBuf> = file.is_file().then_some(file).into_iter().collect();
    let mut stack: Vec<PathBuf> = Some(src().join(m)).filter(|d| d.is_dir()).into_iter().collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "no sources for module {m}");
    out
}

/// Every `crate::` path in the text, outside comments, as its segments
/// (`crate::{a::b, c}` gives `[a, b]` and `[c]`).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        for (i, _) in code.match_indices("crate::") {
            if code[..i].ends_with('$') || code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                out.extend(inner.split(',').map(|p| segments(p.trim())).filter(|s| !s.is_empty()));
            } else {
                out.push(segments(rest));
            }
        }
    }
    out
}

fn segments(path: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut rest = path;
    loop {
        let n = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if n == 0 {
            break;
        }
        segs.push(rest[..n].to_string());
        match rest[n..].strip_prefix("::") {
            Some(r) if !r.starts_with('{') => rest = r,
            _ => break,
        }
    }
    segs
}

/// Module → (module it names, file, the path as written).
fn dependencies() -> BTreeMap<String, Vec<(String, PathBuf, String)>> {
    let mods = modules();
    let mut out: BTreeMap<String, Vec<(String, PathBuf, String)>> = BTreeMap::new();
    for (m, _) in ALLOWED {
        assert!(mods.contains(*m), "lib.rs has no module {m}");
        for f in files(m) {
            let text = std::fs::read_to_string(&f).unwrap();
            for p in crate_paths(&text) {
                if mods.contains(&p[0]) && p[0] != *m {
                    out.entry(m.to_string()).or_default().push((p[0].clone(), f.clone(), p.join("::")));
                }
            }
        }
    }
    out
}

#[test]
fn lower_modules_import_only_what_lies_below_them() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (m, deps) in dependencies() {
        for (dep, file, path) in deps {
            if !allowed[m.as_str()].contains(&dep.as_str()) {
                wrong.push(format!("{}: {m} uses crate::{path}", file.display()));
            } else if SEALED.contains(&dep.as_str()) && path.split("::").count() > 2 {
                let inner = path.split("::").nth(1).unwrap_or("");
                if files(&dep).iter().any(|f| f.file_stem().is_some_and(|s| s == inner))
                    || src().join(&dep).join(inner).is_dir()
                {
                    wrong
                        .push(format!("{}: {m} reaches into crate::{path}: use {dep}'s top-level API", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_allowed_graph_has_no_cycle() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    fn visit<'a>(m: &'a str, g: &BTreeMap<&'a str, &'a [&'a str]>, path: &mut Vec<&'a str>) {
        assert!(!path.contains(&m), "cycle: {} -> {m}", path.join(" -> "));
        path.push(m);
        for d in g.get(m).copied().unwrap_or(&[]) {
            visit(d, g, path);
        }
        path.pop();
    }
    for m in allowed.keys() {
        visit(m, &allowed, &mut Vec::new());
    }
}

#[test]
fn the_scanner_sees_inline_and_grouped_paths() {
    let text = "use crate::{model::Vars, observe};\n// crate::runner in a comment\nlet x = crate::observe::misplaced_attr(k);\n$crate::errln!();\n";
    let firsts: Vec<String> = crate_paths(text).into_iter().map(|p| p[0].clone()).collect();
    assert_eq!(firsts, ["model", "observe", "observe"]);
}
