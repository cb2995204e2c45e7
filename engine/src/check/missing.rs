//! The checks `check` could not make for want of an interpreter (`bash -n`
//! without bash, `python3`'s compile without python3): counted per tool over
//! the whole run and told once, on stderr, with how to enable them. They
//! are no finding: the exit code does not change (as for shellcheck, whose
//! absence the summary line mentions). `import`, which parses the blocks it
//! converts the same way, tells its own the same.

use std::collections::BTreeMap;
use std::path::Path;

/// Is `program` an executable file in a directory of `PATH` (where
/// `Command::new(program)` would find it)?
pub fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|d| executable(&d.join(program)))
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The blocks left unchecked, by the tool that was missing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unchecked(BTreeMap<&'static str, usize>);

impl Unchecked {
    /// `n` blocks that needed `tool` (`bash`, `sh`, `python3`).
    pub fn add(&mut self, tool: &'static str, n: usize) {
        if n > 0 {
            *self.0.entry(tool).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: Unchecked) {
        for (tool, n) in other.0 {
            self.add(tool, n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One notice per missing tool, with its hint line: what was not
    /// checked and how to have `command` (`check`, `import`) check it.
    pub fn notices(&self, command: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|(tool, &n)| {
                let (what, how) = match *tool {
                    "python3" => ("python step", "compile the python steps (it never runs them)"),
                    "sh" => ("sh block", "parse the sh blocks (`sh -n`: nothing runs)"),
                    _ => ("bash block", "parse the bash blocks (`bash -n`: nothing runs)"),
                };
                let s = if n == 1 { "" } else { "s" };
                format!(
                    "notice: {tool} is not on PATH: the syntax of {n} {what}{s} was not checked\n  \
                     hint: install {tool} to have {command} {how}"
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_tool_and_each_tool_is_told_once() {
        let mut a = Unchecked::default();
        a.add("python3", 2);
        a.add("bash", 0);
        let mut b = Unchecked::default();
        b.add("python3", 1);
        b.add("sh", 1);
        a.merge(b);
        assert_eq!(
            a.notices("check"),
            [
                "notice: python3 is not on PATH: the syntax of 3 python steps was not checked\n  \
                 hint: install python3 to have check compile the python steps (it never runs them)",
                "notice: sh is not on PATH: the syntax of 1 sh block was not checked\n  \
                 hint: install sh to have check parse the sh blocks (`sh -n`: nothing runs)",
            ]
        );
    }
}
