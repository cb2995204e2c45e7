//! `check --format human`: findings as `file:line: error[code]: message`
//! with their hints, then one line per scenario (with what failed and the
//! transcript diff), then a summary. Coloured on a terminal unless
//! `NO_COLOR` is set.

use super::super::Report;
use crate::error::Severity;

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    fn red(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("1;33", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

pub fn render(report: &Report, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    for r in &report.runbooks {
        for d in &r.findings {
            let sev = match d.severity {
                Severity::Error => p.red(&format!("error[{}]", d.code)),
                Severity::Warning => p.yellow(&format!("warning[{}]", d.code)),
            };
            let loc = d.location().map(|l| format!("{l}: ")).unwrap_or_default();
            out.push_str(&format!("{loc}{sev}: {}\n", d.message));
            if let Some(h) = &d.hint {
                out.push_str(&p.dim(&format!("  hint: {h}")));
                out.push('\n');
            }
        }
        for s in &r.scenarios {
            let time = crate::rehearse::secs(s.duration_ms);
            if s.passed {
                let blessed = if s.blessed { " (golden transcript written)" } else { "" };
                out.push_str(&format!(
                    "{} {} / {}  {}{blessed}\n",
                    p.green("ok"),
                    s.runbook,
                    s.scenario,
                    p.dim(&format!("({time})"))
                ));
                facts(&mut out, &p, s);
            } else {
                let (label, cut) = if s.interrupted {
                    (p.yellow("interrupted"), ", cut short: neither passed nor failed")
                } else {
                    (p.red("FAILED"), "")
                };
                out.push_str(&format!(
                    "{label} {} / {}  {}:{}  {}\n",
                    s.runbook,
                    s.scenario,
                    s.fixture.display(),
                    s.line,
                    p.dim(&format!("({time}{cut})"))
                ));
                if s.interrupted {
                    continue;
                }
                for f in &s.failures {
                    out.push_str(&format!("  - {}\n", f.replace('\n', "\n      ")));
                }
                if let Some(d) = &s.diff {
                    for l in d.lines() {
                        let l = match l.chars().next() {
                            Some('+') if !l.starts_with("+++") => p.green(l),
                            Some('-') if !l.starts_with("---") => p.red(l),
                            _ => l.to_string(),
                        };
                        out.push_str(&format!("    {l}\n"));
                    }
                }
                for n in &s.notes {
                    out.push_str(&p.dim(&format!("  note: {n}")));
                    out.push('\n');
                }
                facts(&mut out, &p, s);
            }
        }
    }
    let s = &report.summary;
    let verdict = if report.interrupted {
        p.yellow("interrupted")
    } else if !report.failed() {
        p.green("ok")
    } else {
        p.red("FAILED")
    };
    let interrupted =
        if s.scenarios_interrupted > 0 { format!(", {} interrupted", s.scenarios_interrupted) } else { String::new() };
    let pages = if s.pages > 0 { format!(", {}", count(s.pages, "plain page")) } else { String::new() };
    out.push_str(&format!(
        "\n{verdict}: {}{pages}, {}, {}; {} rehearsed, {} failed{interrupted}{}\n",
        count(s.runbooks, "runbook"),
        count(s.errors, "error"),
        warnings(report),
        count(s.scenarios, "scenario"),
        s.scenarios_failed,
        if s.shellcheck { "" } else { " (shellcheck not installed: skipped)" }
    ));
    out
}

/// `1 warning`, or `1 warning, denied by --deny-warnings` when that is
/// what fails the check.
pub fn warnings(report: &Report) -> String {
    let n = count(report.summary.warnings, "warning");
    if report.warnings_denied() { format!("{n}, denied by --deny-warnings") } else { n }
}

/// `1 error`, `2 errors`.
/// What an uncontained scenario did not play as the real one would, as
/// `play --dry-run` says it after the scenario and JSON has it (`stand_in`,
/// `withheld`): the stand-in repo left files out, a program installed here
/// was not run.
fn facts(out: &mut String, p: &Paint, s: &crate::rehearse::ScenarioRun) {
    if let Some(n) = &s.stand_in {
        out.push_str(&p.dim(&format!("  note: {n}")));
        out.push('\n');
    }
    for w in &s.withheld {
        out.push_str(&format!("  not run here: {w}\n"));
    }
}

pub fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
