//! Shell syntax (`bash -n`, `sh -n`) and `shellcheck` of every shell block,
//! steps and documentation alike, batched: a few processes per batch of
//! pages, not one per block ([`syntax_batch`], [`shellcheck()`](shellcheck::shellcheck)).
//!
//! Templates and placeholders are neutralised first, line for line, so that
//! the shell's line numbers map straight back to the page: `{{ … }}` becomes
//! one word (`RB_VALUE`, as after shell quoting; two for a bare list
//! variable, which renders as several words), `{% … %}` and `{## … ##}`
//! (template comments: `{#` is bash's `${#x}`) vanish (keeping their newlines, so both branches of an `if` are
//! checked), `<pod>` becomes `RB_PLACEHOLDER` (the placeholder lint reports
//! it; a syntax error on its line is still found).
//!
//! shellcheck runs over the blocks that passed the syntax check (a block
//! that does not parse would derail the ones after it), one file per page
//! and dialect, many files per process, with `-S warning` and these
//! exclusions, which misfire on runbook steps:
//!
//! - SC2034 (assigned but unused) and SC2154 (used but not assigned):
//!   variables come from templates, the runner's environment and other steps.
//! - SC1090/SC1091 (cannot follow `source`): the sourced files are not here.
//! - SC2164 (`cd` without `|| exit`): steps run under `bash -e`.
//!
//! shellcheck is bounded: a block with a line over [`MAX_LINE`] bytes or a
//! body over [`MAX_BLOCK`] is not given to it (a 400 KB line took it over a
//! minute and 660 MB), and a process is killed after [`shellcheck_timeout`];
//! both are reported as warnings. Each finding is reported once per line.

mod shellcheck;
mod syntax;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::lints::Block;
use super::missing::{self, Unchecked};
use crate::error::Diagnostic;
pub use shellcheck::shellcheck_available;
use shellcheck::{ScCache, shellcheck};
pub use syntax::{syntax, syntax_batch};

/// A shell that runs nothing from its environment (`BASH_ENV`, `ENV`).
fn shell(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_remove("BASH_ENV").env_remove("ENV").stdin(Stdio::null());
    c
}

pub const SHELLCHECK_EXCLUDE: &str = "SC2034,SC2154,SC1090,SC1091,SC2164";

/// The word a `{{ … }}` stands for in syntax checks.
pub const VALUE_WORD: &str = "RB_VALUE";

/// shellcheck is not given a block with a longer line…
pub const MAX_LINE: usize = 4 * 1024;
/// …or a longer body.
pub const MAX_BLOCK: usize = 64 * 1024;
/// A shellcheck process is killed after this long: 30 s, or
/// `RUNBOOK_SHELLCHECK_TIMEOUT` (a duration, for the tests).
pub fn shellcheck_timeout() -> Duration {
    std::env::var("RUNBOOK_SHELLCHECK_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(30))
}

/// Replace template syntax, keeping every newline where it was. One pass
/// over the body: a search per kind of tag from each tag on was quadratic
/// (a line of 36,000 `{{ x }}` took 17 s of CPU).
pub fn neutralize(body: &str) -> String {
    neutralize_as(body, VALUE_WORD)
}

/// What a `{{ name }}` of a list variable stands for: several words, as
/// `plan` renders a list (a loop over it runs more than once).
pub const LIST_WORDS: &str = "RB_VALUE RB_VALUE";

/// [`neutralize`], a `{{ … }}` becoming `value` (a Python body's is a
/// string literal).
pub fn neutralize_as(body: &str, value: &str) -> String {
    neutralize_lists(body, value, &BTreeSet::new())
}

/// [`neutralize_as`], a `{{ name }}` of a variable in `lists` (a bare name,
/// without filters) becoming [`LIST_WORDS`].
fn neutralize_lists(body: &str, value: &str, lists: &BTreeSet<String>) -> String {
    let b = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'{', &b[i..]) {
        let at = i + off;
        let (open, close) = match (b.get(at + 1), b.get(at + 2)) {
            (Some(b'{'), _) => (2, "}}"),
            (Some(b'%'), _) => (2, "%}"),
            (Some(b'#'), Some(b'#')) => (3, "##}"),
            _ => {
                i = at + 1;
                continue;
            }
        };
        let after = &body[at + open..];
        // Unclosed tag: the template check reports it; leave the text.
        let Some(end) = after.find(close) else { break };
        out.push_str(&body[copied..at]);
        if close == "}}" {
            let list = lists.contains(after[..end].trim());
            out.push_str(if list { LIST_WORDS } else { value });
        }
        out.extend(std::iter::repeat_n('\n', after[..end].matches('\n').count()));
        i = at + open + end + close.len();
        copied = i;
    }
    out.push_str(&body[copied..]);
    out
}

/// What the shell tools are given for a body: templates and placeholders neutralised.
pub fn prepare(body: &str) -> String {
    prepare_lists(body, &BTreeSet::new())
}

/// [`prepare`], knowing which variables hold lists.
pub fn prepare_lists(body: &str, lists: &BTreeSet<String>) -> String {
    super::placeholders::neutralize(&neutralize_lists(body, VALUE_WORD, lists))
}

/// The variables whose value is a list, in the runbook's front matter or
/// in some env of the config: `{{ name }}` renders several words.
pub fn list_vars(rb: &crate::model::Runbook, config: &crate::config::Config) -> BTreeSet<String> {
    let envs = config.envs.values().flat_map(|e| &e.vars);
    rb.vars.iter().chain(envs).filter(|(_, v)| v.is_array()).map(|(k, _)| k.clone()).collect()
}

/// A shell block of some page, prepared for the shell tools.
pub struct ShellBlock<'a> {
    pub file: &'a Path,
    pub block: Block<'a>,
    pub dialect: &'static str,
    pub script: String,
}

impl<'a> ShellBlock<'a> {
    /// `lists`: the page's list variables ([`list_vars`]).
    pub fn new(file: &'a Path, block: Block<'a>, lists: &BTreeSet<String>) -> Option<Self> {
        let dialect = block.dialect()?;
        let script = prepare_lists(block.body, lists);
        Some(ShellBlock { file, block, dialect, script })
    }
}

/// Syntax and (when installed) shellcheck findings of a batch of blocks.
/// `cache`: where shellcheck's findings are kept by content (none: always run it).
/// The blocks of a dialect whose shell is not on PATH are counted in `unchecked`
/// (and still given to shellcheck).
pub fn check(
    blocks: &[ShellBlock],
    shellcheck_on: bool,
    cache: Option<&Path>,
    unchecked: &mut Unchecked,
) -> Vec<Diagnostic> {
    let Ok(dir) = tempfile::tempdir() else {
        return vec![
            Diagnostic::warning("shell-check", "cannot create a temporary directory: shell syntax not checked")
                .hint("check that $TMPDIR is writable"),
        ];
    };
    let mut out = Vec::new();
    let mut parses = vec![false; blocks.len()];
    for dialect in ["bash", "sh"] {
        let idx: Vec<usize> = (0..blocks.len()).filter(|&k| blocks[k].dialect == dialect).collect();
        if idx.is_empty() {
            continue;
        }
        if !missing::on_path(dialect) {
            unchecked.add(dialect, idx.len());
            idx.iter().for_each(|&k| parses[k] = true);
            continue;
        }
        let scripts: Vec<&str> = idx.iter().map(|&k| blocks[k].script.as_str()).collect();
        for (&k, r) in idx.iter().zip(syntax_batch(dialect, &scripts, dir.path())) {
            let b = &blocks[k];
            match r {
                None => parses[k] = true,
                Some((n, msg)) => out.push(
                    Diagnostic::error("shell-syntax", format!("{dialect} syntax error in {}: {msg}", b.block.what()))
                        .at(b.file, b.block.body_line + n - 1)
                        .hint(format!(
                            "`{dialect} -n` rejects this line; check quotes, brackets and `fi`/`done`/`esac`"
                        )),
                ),
            }
        }
    }
    if shellcheck_on && shellcheck_available() {
        let cache = cache.map(|d| ScCache { dir: d.to_path_buf() });
        out.extend(shellcheck(blocks, &parses, dir.path(), cache.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests;
