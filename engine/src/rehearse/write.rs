//! Writing a scenario into `fixtures/<id>.toml` (`runbook fixture new`,
//! `play --record-fixture`): with `toml_edit`, so that the other scenarios,
//! their comments and their layout stay byte for byte, and a scenario of
//! the same name is replaced where it stands.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use toml_edit::{DocumentMut, Item};

use super::fixture::toml_string;

/// One scenario to write, as TOML text building blocks.
#[derive(Debug, Default)]
pub struct NewScenario {
    pub name: String,
    pub env: Option<String>,
    pub vars: Vec<(String, String)>,
    /// A comment line above the scenario (without `#`).
    pub comment: Option<String>,
    pub stubs: Vec<NewStub>,
    /// `[[scenario.query]]` tables, as TOML text each (`kind`, `match`, …).
    pub queries: Vec<String>,
    pub answers: Option<String>,
    /// Per-step answers (`answers = { step = "skip" }`), over `answers`.
    pub answer_steps: Vec<(String, String)>,
    pub outcome: String,
    pub steps: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct NewStub {
    /// The glob, already escaped where it must match exactly.
    pub cmd: String,
    pub stdout: String,
    pub stderr: String,
    pub exit: i32,
    /// Said after the `cmd` line (`# step pods, runbooks/x.md:12`).
    pub note: Option<String>,
    /// Successive answers (instead of the one above), the last repeating.
    pub sequence: Vec<super::fixture::Response>,
}

impl NewScenario {
    /// The scenario as a fixture file of its own.
    pub fn to_toml(&self) -> String {
        let mut t = String::new();
        if let Some(c) = &self.comment {
            for l in c.lines() {
                t.push_str(&format!("# {l}\n"));
            }
        }
        t.push_str(&format!("[[scenario]]\nname = {}\n", toml_string(&self.name)));
        if let Some(e) = &self.env {
            t.push_str(&format!("env = {}\n", toml_string(e)));
        }
        if !self.vars.is_empty() {
            let v: Vec<String> = self.vars.iter().map(|(k, v)| format!("{k} = {}", toml_string(v))).collect();
            t.push_str(&format!("vars = {{ {} }}\n", v.join(", ")));
        }
        if !self.answer_steps.is_empty() {
            let a: Vec<String> =
                self.answer_steps.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v))).collect();
            t.push_str(&format!("answers = {{ {} }}\n", a.join(", ")));
        } else if let Some(a) = &self.answers {
            t.push_str(&format!("answers = {}\n", toml_string(a)));
        }
        for s in &self.stubs {
            t.push_str(&format!("\n  [[scenario.stub]]\n  cmd = {}", toml_string(&s.cmd)));
            if let Some(n) = &s.note {
                t.push_str(&format!("   # {n}"));
            }
            t.push('\n');
            if !s.sequence.is_empty() {
                t.push_str("  sequence = [\n");
                for r in &s.sequence {
                    t.push_str(&format!(
                        "    {{ stdout = {}, stderr = {}, exit = {} }},\n",
                        toml_string(&r.stdout),
                        toml_string(&r.stderr),
                        r.exit
                    ));
                }
                t.push_str("  ]\n");
                continue;
            }
            t.push_str(&format!("  stdout = {}\n", multiline(&s.stdout)));
            if !s.stderr.is_empty() {
                t.push_str(&format!("  stderr = {}\n", multiline(&s.stderr)));
            }
            t.push_str(&format!("  exit = {}\n", s.exit));
        }
        for q in &self.queries {
            t.push_str("\n  [[scenario.query]]\n");
            for l in q.lines() {
                t.push_str(&format!("  {l}\n"));
            }
        }
        t.push_str(&format!("\n  [scenario.expect]\n  outcome = {}\n", toml_string(&self.outcome)));
        if !self.steps.is_empty() {
            let v: Vec<String> = self.steps.iter().map(|(k, v)| format!("{} = {}", key(k), toml_string(v))).collect();
            t.push_str(&format!("  steps = {{ {} }}\n", v.join(", ")));
        }
        t
    }
}

/// A step id as a TOML key (`lower-theta` is bare, `2.1` is quoted).
fn key(k: &str) -> String {
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        k.to_string()
    } else {
        toml_string(k)
    }
}

/// Output as a TOML string: `"""` for text of several lines (as people
/// write fixtures), else one line.
fn multiline(s: &str) -> String {
    let plain = s.contains('\n')
        && !s.contains("\"\"\"")
        && !s.contains('\\')
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if plain { format!("\"\"\"\n{s}\"\"\"") } else { toml_string(s) }
}

/// What [`put`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    Created,
    Added,
    Replaced,
}

/// Write `sc` into the fixture `path`: a new file, a scenario added at the
/// end, or (`replace`) the scenario of the same name replaced in place.
/// Without `replace`, an existing name is an error (`Ok(None)`).
pub fn put(path: &Path, sc: &NewScenario, replace: bool) -> anyhow::Result<Option<Put>> {
    let text = sc.to_toml();
    if !path.exists() {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(Some(Put::Created));
    }
    let old = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: DocumentMut = old.parse().map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let new: DocumentMut = text.parse().map_err(|e| anyhow!("generated scenario: {e}"))?;
    let table = new
        .get("scenario")
        .and_then(Item::as_array_of_tables)
        .and_then(|a| a.get(0))
        .cloned()
        .ok_or_else(|| anyhow!("generated scenario has no [[scenario]]"))?;
    let arr = match doc.get_mut("scenario") {
        Some(item) => item
            .as_array_of_tables_mut()
            .ok_or_else(|| anyhow!("{}: `scenario` is not [[scenario]]", path.display()))?,
        None => {
            doc.insert("scenario", Item::ArrayOfTables(Default::default()));
            doc["scenario"].as_array_of_tables_mut().expect("just inserted")
        }
    };
    let at = arr.iter().position(|t| t.get("name").and_then(|n| n.as_str()) == Some(sc.name.as_str()));
    if at.is_some() && !replace {
        return Ok(None);
    }
    // Tables are written in the order of their positions. The new ones come
    // from another document: the existing positions are spread apart, and
    // the new tables numbered in the gap where they belong (where the old
    // scenario was, or after everything), so nothing else moves.
    let mut top = 0;
    walk(doc.as_table_mut(), &mut |t| {
        let p = t.position().unwrap_or(0).saturating_mul(SPREAD);
        top = top.max(p);
        t.set_position(Some(p));
    });
    let arr = doc["scenario"].as_array_of_tables_mut().expect("checked above");
    let mut table = table;
    let done = match at {
        Some(i) => {
            let slot = arr.get_mut(i).expect("found");
            let mut next = slot.position().unwrap_or(top + SPREAD);
            walk(&mut table, &mut |t| {
                t.set_position(Some(next));
                next += 1;
            });
            // Keep the old scenario's leading comments where they are.
            let decor = slot.decor().clone();
            *slot = table;
            *slot.decor_mut() = decor;
            Put::Replaced
        }
        None => {
            let mut next = top + SPREAD;
            walk(&mut table, &mut |t| {
                t.set_position(Some(next));
                next += 1;
            });
            table.decor_mut().set_prefix(format!("\n{}", comment_block(sc)));
            arr.push(table);
            Put::Added
        }
    };
    let mut out = doc.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(done))
}

/// Room between two existing tables' positions for a scenario's tables.
const SPREAD: isize = 1 << 16;

/// Every table under `t` (itself included), in key order.
fn walk(t: &mut toml_edit::Table, f: &mut dyn FnMut(&mut toml_edit::Table)) {
    f(t);
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(t) => walk(t, f),
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    walk(t, f);
                }
            }
            _ => {}
        }
    }
}

fn comment_block(sc: &NewScenario) -> String {
    sc.comment.as_deref().map(|c| c.lines().map(|l| format!("# {l}\n")).collect()).unwrap_or_default()
}

/// A step id as a TOML key: bare when it can be.
fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        k.to_string()
    } else {
        toml_string(k)
    }
}
