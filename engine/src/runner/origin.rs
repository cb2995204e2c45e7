//! bash names the script it reads in its own messages, and a step's script
//! is `/dev/fd/N` ([`super::script`]): `/dev/fd/13: line 2: kubctl: command
//! not found` tells the operator nothing. Shown to a person (the terminal,
//! a rehearsal's transcript, the reason a step failed), such a line about
//! the step's own script names the runbook's line instead,
//! `runbooks/x.md:12: kubctl: command not found`, when that line is
//! certain ([`crate::template::lines`]), else `step x, line 2 of its
//! rendered body: …`.
//!
//! - **The step log and the journal's tail keep the line as bash printed
//!   it**: they are the record of what the step printed, and `runbook
//!   report` shows the tail under the rendered body, whose line 2 it names.
//! - **Only the step's own descriptor**: a script of the step's own
//!   (`source <(…)`, `bash <(…)`) is `/dev/fd/63` to bash, and its line 1
//!   is no line of the runbook.
//! - bash writes `/dev/fd/N: line M: `, dash (`sh` on Debian) `/dev/fd/N: M: `.
//! - python names it in a traceback's frames, `  File "/dev/fd/N", line
//!   M, in f`, shown `  runbooks/x.md:12, in f` (the same place as for
//!   bash, the indent and the function kept), and in a warning,
//!   `/dev/fd/N:M: UserWarning: …`, shown `runbooks/x.md:12: UserWarning: …`.
//! - A line is looked at only when it starts with `/dev/fd/` (or, for a
//!   python step, with a frame's `File "/dev/fd/`).
//!
//! Neither interpreter can be made to name the runbook itself: it names a script by
//! the path it opened (`$0` and `BASH_SOURCE` do not change that, nor does
//! assigning `LINENO`), and the body never travels in argv (`bash -c`) or in
//! a file on disk.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::model::{Runbook, Step, StepKind};

#[derive(Debug)]
pub struct ScriptOrigin {
    step: String,
    /// The runbook, as messages name it (`runbooks/x.md`).
    path: String,
    /// The runbook's line of the body's first line, when each rendered line
    /// is the body's line at the same index.
    first_line: Option<usize>,
    /// python reads the script (else a shell): how it names it differs.
    python: bool,
    /// The descriptor of the running attempt's script (-1: none yet).
    fd: AtomicI32,
}

impl ScriptOrigin {
    /// The origin of `step`'s body, rendered as `rendered`.
    pub fn new(rb: &Runbook, step: &Step, rendered: &str) -> Self {
        ScriptOrigin {
            step: step.id.clone(),
            path: rb.path.display().to_string(),
            first_line: crate::template::lines::same_lines(&step.body, rendered).then_some(step.body_line),
            python: step.kind == StepKind::Python,
            fd: AtomicI32::new(-1),
        }
    }

    /// An attempt started, reading its script from `/dev/fd/{fd}`.
    pub fn set_fd(&self, fd: i32) {
        self.fd.store(fd, Ordering::Relaxed);
    }

    /// Where the line of the script a line of the interpreter names is, and
    /// what it said of it: `("runbooks/x.md:12", "kubctl: command not
    /// found")`. Not a traceback's frame (see [`ScriptOrigin::shown`]).
    pub fn locate<'a>(&self, line: &'a str) -> Option<(String, &'a str)> {
        let (fd, rest) = number(line.strip_prefix("/dev/fd/")?)?;
        let (m, said) = if self.python {
            number(rest.strip_prefix(':')?)?
        } else {
            let rest = rest.strip_prefix(": ")?;
            number(rest.strip_prefix("line ").unwrap_or(rest))?
        };
        let said = said.strip_prefix(": ")?;
        Some((self.at(fd, m)?, said))
    }

    /// A python traceback's frame in the script, `  File "/dev/fd/N", line
    /// M, in f`: its indent, where, and what follows (`, in f`).
    fn frame<'a>(&self, line: &'a str) -> Option<(&'a str, String, &'a str)> {
        let code = line.trim_start_matches(' ');
        let (fd, rest) = number(code.strip_prefix("File \"/dev/fd/")?)?;
        let (m, rest) = number(rest.strip_prefix("\", line ")?)?;
        if !rest.is_empty() && !rest.starts_with(", in ") {
            return None;
        }
        Some((&line[..line.len() - code.len()], self.at(fd, m)?, rest))
    }

    /// Where line `m` of the script read from `/dev/fd/{fd}` is, if that
    /// is the running attempt's script.
    fn at(&self, fd: usize, m: usize) -> Option<String> {
        if i32::try_from(fd).ok()? != self.fd.load(Ordering::Relaxed) || m == 0 {
            return None;
        }
        Some(match self.first_line {
            Some(first) => format!("{}:{}", self.path, first + m - 1),
            None => format!("step {}, line {m} of its rendered body", self.step),
        })
    }

    /// `line` as shown to a person.
    pub fn shown(&self, line: String) -> String {
        if let Some((at, said)) = self.locate(&line) {
            return format!("{at}: {said}");
        }
        if self.python
            && let Some((indent, at, rest)) = self.frame(&line)
        {
            return format!("{indent}{at}{rest}");
        }
        line
    }
}

/// The decimal number `s` starts with, and what follows it.
fn number(s: &str) -> Option<(usize, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let v = s[..n].parse().ok()?;
    Some((v, &s[n..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(first_line: Option<usize>) -> ScriptOrigin {
        of(first_line, false)
    }

    fn of(first_line: Option<usize>, python: bool) -> ScriptOrigin {
        let o = ScriptOrigin {
            step: "pods".into(),
            path: "runbooks/k.md".into(),
            first_line,
            python,
            fd: AtomicI32::new(-1),
        };
        o.set_fd(13);
        o
    }

    #[test]
    fn names_the_runbook_line_of_the_steps_own_script_only() {
        let o = origin(Some(11));
        let shown = |l: &str| o.shown(l.to_string());
        assert_eq!(
            shown("/dev/fd/13: line 2: kubctl: command not found"),
            "runbooks/k.md:12: kubctl: command not found"
        );
        assert_eq!(shown("/dev/fd/13: 1: kubctl: not found"), "runbooks/k.md:11: kubctl: not found");
        // Another script (`source <(…)`), another attempt's, or not bash's.
        for l in [
            "/dev/fd/63: line 1: x: command not found",
            "/dev/fd/1: line 1: x",
            "/dev/fd/13 is a file",
            "/dev/fd/13: line two: x",
            "/dev/fd/13: line 0: x",
            "/dev/fd/: line 1: x",
            "/dev/fd/99999999999999999999999: line 1: x",
            "  /dev/fd/13: line 2: x",
        ] {
            assert_eq!(shown(l), l);
        }
        let o = origin(None);
        assert_eq!(
            o.shown("/dev/fd/13: line 2: kubctl: command not found".into()),
            "step pods, line 2 of its rendered body: kubctl: command not found"
        );
    }

    #[test]
    fn names_the_runbook_line_of_a_python_steps_own_script_only() {
        let o = of(Some(11), true);
        let shown = |l: &str| o.shown(l.to_string());
        assert_eq!(shown("  File \"/dev/fd/13\", line 2, in <module>"), "  runbooks/k.md:12, in <module>");
        assert_eq!(shown("    File \"/dev/fd/13\", line 1, in check"), "    runbooks/k.md:11, in check");
        // A syntax error's frame names no function.
        assert_eq!(shown("  File \"/dev/fd/13\", line 3"), "  runbooks/k.md:13");
        assert_eq!(shown("/dev/fd/13:2: DeprecationWarning: old"), "runbooks/k.md:12: DeprecationWarning: old");
        for l in [
            // Another script, a module, or not a frame.
            "  File \"/dev/fd/63\", line 1, in <module>",
            "  File \"/usr/lib/python3.11/json/__init__.py\", line 346, in loads",
            "  File \"/dev/fd/13\", line 0, in <module>",
            "  File \"/dev/fd/13\", line 2x",
            "  File \"/dev/fd/13\" line 2",
            "\tFile \"/dev/fd/13\", line 2, in <module>",
            "    raise ValueError(\"File \\\"/dev/fd/13\\\", line 2\")",
            "ValueError: File \"/dev/fd/13\", line 2",
            // bash's form is not python's.
            "/dev/fd/13: line 2: x",
        ] {
            assert_eq!(shown(l), l);
        }
        let o = of(None, true);
        assert_eq!(
            o.shown("  File \"/dev/fd/13\", line 2, in <module>".into()),
            "  step pods, line 2 of its rendered body, in <module>"
        );
        // A shell step's line that looks like a frame is left as it is.
        let o = of(Some(11), false);
        assert_eq!(
            o.shown("  File \"/dev/fd/13\", line 2, in <module>".into()),
            "  File \"/dev/fd/13\", line 2, in <module>"
        );
    }
}
