//! `runbook list`: every runbook, one line each (or JSON); with `--all`, the
//! plain pages too (markdown without steps, whose shell blocks `check` lints
//! and `runbook import` converts). A runbook that does not parse, or whose
//! steps cannot be ordered, is not listed: its diagnostics are printed, and
//! `list` exits 2.

use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Exit, Result};
use crate::model::Runbook;
use crate::plan::Dag;

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    /// `runbook` or `page`.
    kind: &'static str,
    title: &'a str,
    path: String,
    steps: usize,
    /// Shell blocks that are not steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    shell_blocks: Option<usize>,
    envs: &'a [String],
}

fn shell_blocks(r: &Runbook) -> usize {
    r.doc_blocks.iter().filter(|d| d.is_shell()).count()
}

pub fn run(config: &Config, json: bool, all: bool) -> Result<Exit> {
    let mut cat = if all { Catalog::load_all(config)? } else { Catalog::load(config)? };
    // A runbook whose steps cannot be ordered (a duplicate step id, `needs=`
    // naming no step, a cycle) is refused by `plan` and `check` as a file
    // that does not parse is: broken here too, with their diagnostics.
    let (mut ordered, mut unordered) = (Vec::new(), Vec::new());
    for rb in std::mem::take(&mut cat.runbooks) {
        match Dag::build(&rb) {
            Ok(_) => ordered.push(rb),
            Err(e) => unordered.push((rb.path.clone(), e)),
        }
    }
    cat.runbooks = ordered;
    cat.broken.append(&mut unordered);
    let mut items: Vec<Item> = cat
        .runbooks
        .iter()
        .map(|r| Item {
            id: &r.id,
            kind: "runbook",
            title: &r.title,
            path: r.path.display().to_string(),
            steps: r.steps.iter().filter(|s| !s.attrs.undo).count(),
            shell_blocks: None,
            envs: &r.envs,
        })
        .collect();
    items.extend(cat.pages.iter().filter(|_| all).map(|r| Item {
        id: &r.id,
        kind: "page",
        title: &r.title,
        path: r.path.display().to_string(),
        steps: 0,
        shell_blocks: Some(shell_blocks(r)),
        envs: &r.envs,
    }));
    if json {
        super::out(&(serde_json::to_string_pretty(&items).map_err(anyhow::Error::from)? + "\n"));
    } else {
        let name = |i: &Item| if i.kind == "page" { i.path.clone() } else { i.id.to_string() };
        let w = items.iter().map(|i| name(i).len()).max().unwrap_or(0);
        let mut s = String::new();
        for i in &items {
            let what = match i.shell_blocks {
                None => format!("{:>2} {:<5}", i.steps, if i.steps == 1 { "step" } else { "steps" }),
                Some(_) => "page    ".to_string(),
            };
            let blocks = match i.shell_blocks {
                Some(0) | None => String::new(),
                Some(1) => " (1 shell block)".to_string(),
                Some(n) => format!(" ({n} shell blocks)"),
            };
            s.push_str(&format!("{:w$}  {what}  {}{blocks}\n", name(i), i.title));
        }
        super::out(&s);
        if cat.plain_pages > 0 {
            let more = if all { "" } else { ": `runbook list --all` lists them" };
            crate::errln!("{} runbooks, {} plain pages (no steps){more}", cat.runbooks.len(), cat.plain_pages);
        }
    }
    if cat.broken.is_empty() {
        return Ok(Exit::Success);
    }
    let mut diags = Vec::new();
    for (_, e) in cat.broken {
        match e {
            Error::Invalid(d) => diags.extend(d),
            other => return Err(other),
        }
    }
    // In file order, each file's in its own order.
    diags.sort_by(|a, b| a.file.cmp(&b.file));
    Err(Error::Invalid(diags))
}
