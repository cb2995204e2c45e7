//! A shell variable that one step sets and another reads. Each step runs in
//! a shell of its own (`bash -euo pipefail`), so what an earlier block set
//! (`export PGHOST=db1`, as a wiki page's setup block does) is gone in the
//! next one, where `set -u` stops the step. Found only when another step
//! of the runbook assigns the name and this one does not: a name no step
//! assigns comes from the environment, and is not this lint's business.
//! A read with a default (`${X:-…}`, `${X-}`) is safe and not reported.
//!
//! The scan is textual: single-quoted text and comments are skipped, the
//! rest is read for `NAME=` (after `export`, `local`, `readonly`,
//! `declare`, or at a command's start), `read NAME`, `for NAME in`, and
//! `$NAME` / `${NAME}`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use crate::error::Diagnostic;
use crate::model::{Runbook, StepKind};

static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[;&|({]|\b(?:export|local|readonly|declare|typeset)(?:\s+-\w+)*\s)\s*([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
        .expect("valid regex")
});
static READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:read|mapfile|for)(?:\s+-\w+)*\s+([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex")
});
static USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=?+])?|([A-Za-z_][A-Za-z0-9_]*))").expect("valid regex")
});

/// What the environment has on any machine: never reported.
const ENVIRONMENT: &[&str] = &["HOME", "PATH", "USER", "PWD", "OLDPWD", "SHELL", "TMPDIR", "HOSTNAME", "LANG", "TERM"];

/// Each line of `body` without its single-quoted text and its comment.
fn code_lines(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut single = false;
    for line in body.lines() {
        let mut kept = String::new();
        let mut prev = ' ';
        let mut double = false;
        for c in line.chars() {
            if single {
                if c == '\'' {
                    single = false;
                }
            } else if c == '\'' && !double {
                single = true;
            } else if c == '"' && prev != '\\' {
                double = !double;
                kept.push(c);
            } else if c == '#' && !double && (prev.is_whitespace() || kept.is_empty()) && !kept.ends_with('$') {
                break;
            } else {
                kept.push(c);
            }
            prev = c;
        }
        out.push(kept);
    }
    out
}

/// The names `lines` assign.
fn assigned(lines: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for l in lines {
        for re in [&*ASSIGN, &*READ] {
            out.extend(re.captures_iter(l).map(|c| c[1].to_string()));
        }
    }
    out
}

pub fn lint(rb: &Runbook) -> Vec<Diagnostic> {
    let shell: Vec<(usize, Vec<String>)> = rb
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.kind, StepKind::Bash | StepKind::Sh))
        .map(|(i, s)| (i, code_lines(&s.body)))
        .collect();
    let sets: Vec<BTreeSet<String>> = shell.iter().map(|(_, l)| assigned(l)).collect();
    // Which step sets each name first.
    let mut setter: BTreeMap<&str, usize> = BTreeMap::new();
    for ((i, _), names) in shell.iter().zip(&sets) {
        for n in names {
            setter.entry(n.as_str()).or_insert(*i);
        }
    }
    let mut out = Vec::new();
    for ((i, lines), own) in shell.iter().zip(&sets) {
        let s = &rb.steps[*i];
        let mut told = BTreeSet::new();
        for (n, l) in lines.iter().enumerate() {
            for c in USE.captures_iter(l) {
                if c.get(2).is_some() {
                    continue;
                }
                let name = c.get(1).or(c.get(3)).map_or("", |m| m.as_str());
                if own.contains(name) || ENVIRONMENT.contains(&name) || !told.insert(name.to_string()) {
                    continue;
                }
                let Some(&j) = setter.get(name) else { continue };
                out.push(
                    Diagnostic::warning(
                        "shell-state",
                        format!(
                            "step `{}` reads `${name}`, which only step `{}` sets: each step runs in a shell of its own, so it is unset here (and `set -u` stops the step)",
                            s.id, rb.steps[j].id
                        ),
                    )
                    .at(&rb.path, s.body_line + n)
                    .hint(format!(
                        "make it a variable of the runbook (front matter `vars`, read as `{{{{ {} }}}}`), capture it from the step that prints it (`capture=`), or put both blocks in one step",
                        name.to_lowercase()
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(md: &str) -> Vec<String> {
        let rb = crate::parse::parse_str(std::path::Path::new("r.md"), md, String::new()).unwrap();
        lint(&rb).into_iter().map(|d| format!("{}: {}", d.line.unwrap_or(0), d.message)).collect()
    }

    #[test]
    fn a_variable_set_in_one_step_and_read_in_another_is_found() {
        let md = "# R\n\n```bash {#setup}\nexport PGHOST=db1\n```\n\n```bash {#lag read}\npsql -h \"$PGHOST\" -c 'select 1'\n```\n";
        assert_eq!(
            found(md),
            [
                "8: step `lag` reads `$PGHOST`, which only step `setup` sets: each step runs in a shell of its own, so it is unset here (and `set -u` stops the step)"
            ]
        );
    }

    #[test]
    fn what_a_step_sets_itself_defaults_quotes_comments_and_the_environment_are_not() {
        let md = "# R\n\n```bash {#a}\nNS=x; export HOME=/h; for P in a; do :; done; read -r LINE\n```\n\n\
                  ```bash {#b read}\nNS=y; echo \"$NS\" ${P:-none} ${LINE-} \"$HOME\"\n\
                  awk '{print $NS}' f # $P\nwhile read -r P; do echo $P; done\n```\n";
        assert_eq!(found(md), Vec::<String>::new());
    }

    #[test]
    fn each_name_once_per_step_and_only_shell_steps() {
        let md = "# R\n\n```bash {#a}\nX=1\n```\n\n```bash {#b read}\necho $X ${X}\n```\n\n\
                  ```python {#c read}\nprint('$X')\n```\n";
        assert_eq!(found(md).len(), 1);
    }
}
