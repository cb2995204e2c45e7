//! Shell syntax (`bash -n`, `sh -n`) and `shellcheck` of every shell block,
//! steps and documentation alike.
//!
//! Templates are neutralised first, line for line, so that the shell's line
//! numbers map straight back to the runbook: `{{ … }}` becomes one word
//! (`RB_VALUE`, as after shell quoting), `{% … %}` and `{# … #}` vanish
//! (keeping their newlines, so both branches of an `if` are checked).
//!
//! shellcheck runs once per runbook and dialect over the concatenated blocks
//! that passed `sh -n` (a block that does not parse would derail the ones
//! after it), with `-S warning` and these exclusions, which misfire on
//! runbook steps:
//!
//! - SC2034 (assigned but unused) and SC2154 (used but not assigned):
//!   variables come from templates, the runner's environment and other steps.
//! - SC1090/SC1091 (cannot follow `source`): the sourced files are not here.
//! - SC2164 (`cd` without `|| exit`): steps run under `bash -e`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use regex::Regex;

use super::lints::Block;
use crate::error::Diagnostic;

pub const SHELLCHECK_EXCLUDE: &str = "SC2034,SC2154,SC1090,SC1091,SC2164";

/// The word a `{{ … }}` stands for in syntax checks.
pub const VALUE_WORD: &str = "RB_VALUE";

/// Replace template syntax, keeping every newline where it was.
pub fn neutralize(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        let next = ["{{", "{%", "{#"].iter().filter_map(|t| rest.find(t).map(|i| (i, *t))).min();
        let Some((i, open)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let after = &rest[i + 2..];
        let Some(end) = after.find(close) else {
            // Unclosed tag: the template check reports it; leave the text.
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &after[..end];
        if open == "{{" {
            out.push_str(VALUE_WORD);
        }
        out.extend(std::iter::repeat_n('\n', inner.matches('\n').count()));
        rest = &after[end + 2..];
    }
}

static SYNTAX_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^/dev/stdin: (?:line )?(\d+): (.*)$").expect("syntax regex"));

/// `bash -n` (or `sh -n`) of one block: the 1-based line in the body and the message.
pub fn syntax(dialect: &str, script: &str) -> Option<(usize, String)> {
    let mut child = Command::new(dialect)
        .args(["-n", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(script.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if out.status.success() {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let mut first = None;
    for l in err.lines() {
        if let Some(c) = SYNTAX_LINE.captures(l) {
            let n: usize = c[1].parse().unwrap_or(1);
            let msg = c[2].to_string();
            // bash repeats the offending line as a second message: keep the first.
            if first.is_none() {
                first = Some((n, msg));
            }
        }
    }
    let lines = script.lines().count().max(1);
    first.map(|(n, m)| (n.clamp(1, lines), m)).or_else(|| Some((1, err.trim().to_string())))
}

/// Syntax findings for every shell block of a runbook. Lines that carry a
/// `<placeholder>` are left to that lint, which says what to do.
pub fn syntax_findings(file: &Path, blocks: &[Block]) -> (Vec<Diagnostic>, Vec<bool>) {
    let mut out = Vec::new();
    let mut ok = vec![false; blocks.len()];
    for (k, b) in blocks.iter().enumerate() {
        let Some(dialect) = b.dialect() else { continue };
        let script = neutralize(b.body);
        match syntax(dialect, &script) {
            None => ok[k] = true,
            Some((n, msg)) => {
                let placeholders = super::lints::placeholder_lines(b.body);
                if placeholders.iter().any(|(off, _)| *off < n) {
                    continue;
                }
                out.push(
                    Diagnostic::error("shell-syntax", format!("{dialect} syntax error in {}: {msg}", b.what()))
                        .at(file, b.body_line + n - 1)
                        .hint(format!(
                            "`{dialect} -n` rejects this line; check quotes, brackets and `fi`/`done`/`esac`"
                        )),
                );
            }
        }
    }
    (out, ok)
}

pub fn shellcheck_available() -> bool {
    static AVAILABLE: LazyLock<bool> = LazyLock::new(|| {
        Command::new("shellcheck")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    *AVAILABLE
}

#[derive(serde::Deserialize)]
struct ScOut {
    comments: Vec<ScComment>,
}

#[derive(serde::Deserialize)]
struct ScComment {
    line: usize,
    level: String,
    code: u32,
    message: String,
}

/// shellcheck over the blocks that parse, one process per dialect.
pub fn shellcheck(file: &Path, blocks: &[Block], parses: &[bool]) -> Vec<Diagnostic> {
    if !shellcheck_available() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for dialect in ["bash", "sh"] {
        let mut script = String::new();
        // Script line (1-based) → (block, runbook line).
        let mut map: Vec<(usize, usize)> = vec![(0, 0)];
        for (k, b) in blocks.iter().enumerate() {
            if b.dialect() != Some(dialect) || !parses[k] {
                continue;
            }
            let body = neutralize(b.body);
            for (i, l) in body.lines().enumerate() {
                script.push_str(l);
                script.push('\n');
                map.push((k, b.body_line + i));
            }
        }
        if script.is_empty() {
            continue;
        }
        let shebang = format!("#!/usr/bin/env {dialect}\n");
        let child = Command::new("shellcheck")
            .args(["-f", "json1", "-s", dialect, "-S", "warning", "-e", SHELLCHECK_EXCLUDE, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else { continue };
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(shebang.as_bytes());
            let _ = i.write_all(script.as_bytes());
        }
        let Ok(o) = child.wait_with_output() else { continue };
        let Ok(parsed) = serde_json::from_slice::<ScOut>(&o.stdout) else { continue };
        for c in parsed.comments {
            // Line 1 is the shebang.
            let Some(&(k, line)) = map.get(c.line.saturating_sub(1)) else { continue };
            if c.line < 2 {
                continue;
            }
            let msg = format!("shellcheck SC{} in {}: {}", c.code, blocks[k].what(), c.message);
            let d = if c.level == "error" {
                Diagnostic::error("shellcheck", msg)
            } else {
                Diagnostic::warning("shellcheck", msg)
            };
            out.push(d.at(file, line).hint(format!("see https://www.shellcheck.net/wiki/SC{}", c.code)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralize_keeps_lines() {
        assert_eq!(neutralize("a {{ x }} b\n{% if y %}\nc\n{% endif %}\n"), "a RB_VALUE b\n\nc\n\n");
        assert_eq!(neutralize("{{\n x\n}}\nz"), "RB_VALUE\n\n\nz");
        assert_eq!(neutralize("echo {{ x"), "echo {{ x");
    }

    #[test]
    fn bash_syntax_lines() {
        assert_eq!(syntax("bash", "echo a\necho (\n").map(|x| x.0), Some(2));
        assert_eq!(syntax("bash", "echo a\nif true; then\n  echo b\n").map(|x| x.0), Some(3));
        assert!(syntax("bash", "echo ok | grep o\n").is_none());
        assert_eq!(syntax("sh", "echo a\necho (\n").map(|x| x.0), Some(2));
    }
}
