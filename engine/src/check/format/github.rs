//! `check --format github`: GitHub Actions workflow commands, one per
//! finding and per failed scenario, so they show on the pull request's diff:
//! `::error file=F,line=N,title=CODE::message`.

use super::super::Report;
use super::human::{count, warnings};
use crate::error::{Diagnostic, Severity};

/// Escape a message (data) of a workflow command.
fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a property value of a workflow command.
fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A warning is an `::error` when `--deny-warnings` fails the check for it.
fn annotation(d: &Diagnostic, denied: bool) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning if denied => "error",
        Severity::Warning => "warning",
    };
    let mut props = Vec::new();
    if let Some(f) = &d.file {
        props.push(format!("file={}", prop(&f.display().to_string())));
    }
    if let Some(l) = d.line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", prop(d.code)));
    let mut msg = d.message.clone();
    if let Some(h) = &d.hint {
        msg.push_str(&format!("\nhint: {h}"));
    }
    format!("::{level} {}::{}\n", props.join(","), data(&msg))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.runbooks {
        for d in &r.findings {
            out.push_str(&annotation(d, report.deny_warnings));
        }
        for s in r.scenarios.iter().filter(|s| s.interrupted) {
            let mut props = vec![format!("file={}", prop(&s.fixture.display().to_string()))];
            props.push(format!("line={}", s.line));
            props.push("title=interrupted".to_string());
            out.push_str(&format!(
                "::notice {}::{}\n",
                props.join(","),
                data(&format!(
                    "scenario `{}` of `{}` was cut short: the check was cancelled (neither passed nor failed)",
                    s.scenario, s.runbook
                ))
            ));
        }
        for s in r.scenarios.iter().filter(|s| !s.passed && !s.interrupted) {
            let mut msg = format!("scenario `{}` of `{}` failed:\n{}", s.scenario, s.runbook, s.failures.join("\n"));
            if let Some(diff) = &s.diff {
                msg.push('\n');
                msg.push_str(diff);
            }
            for n in &s.notes {
                msg.push_str(&format!("\nnote: {n}"));
            }
            let d = Diagnostic::error("rehearsal", msg).at(&s.fixture, s.line);
            out.push_str(&annotation(&d, report.deny_warnings));
        }
    }
    let s = &report.summary;
    let pages = if s.pages > 0 { format!(", {}", count(s.pages, "plain page")) } else { String::new() };
    let interrupted =
        if s.scenarios_interrupted > 0 { format!(", {} interrupted", s.scenarios_interrupted) } else { String::new() };
    out.push_str(&format!(
        "checked {}{pages}: {}, {}, {} of {} failed{interrupted}\n",
        count(s.runbooks, "runbook"),
        count(s.errors, "error"),
        warnings(report),
        s.scenarios_failed,
        count(s.scenarios, "scenario"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let d = Diagnostic::error("x", "a%b\nc").at("d,e:f.md", 3).hint("h");
        assert_eq!(annotation(&d, false), "::error file=d%2Ce%3Af.md,line=3,title=x::a%25b%0Ac%0Ahint: h\n");
    }
}
