//! `check --format junit`: one test suite per runbook, with a `lint` case
//! (its findings) and a `scenario NAME` case per rehearsed scenario. The
//! names never carry a line number, nor depend on what was found: CI keeps
//! a test's history by its name, so a line inserted above a finding, or a
//! finding fixed, must not rename or remove a test.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use super::super::Report;
use crate::error::Severity;

pub fn render(report: &Report) -> String {
    let mut j = JReport::new("runbook check");
    for r in &report.runbooks {
        let name = r.id.clone().unwrap_or_else(|| r.path.display().to_string());
        let mut suite = TestSuite::new(name.as_str());
        let classname = r.path.display().to_string();
        suite.add_test_case(lint(&r.findings, &classname, report.deny_warnings));
        for s in &r.scenarios {
            let status = if s.passed {
                TestCaseStatus::success()
            } else if s.interrupted {
                let mut st = TestCaseStatus::skipped();
                st.set_message("interrupted").set_description("cut short by a signal that stopped the check");
                st
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut desc = s.failures.join("\n");
                if let Some(d) = &s.diff {
                    desc.push('\n');
                    desc.push_str(d);
                }
                for n in &s.notes {
                    desc.push_str(&format!("\nnote: {n}"));
                }
                st.set_message(s.failures.first().map(String::as_str).unwrap_or("failed"))
                    .set_type("rehearsal")
                    .set_description(desc);
                st
            };
            let mut tc = TestCase::new(format!("scenario {}", s.scenario), status);
            tc.set_classname(s.fixture.display().to_string());
            tc.set_time(Duration::from_millis(s.duration_ms as u64));
            if !s.transcript.is_empty() {
                tc.set_system_out(s.transcript.as_str());
            }
            suite.add_test_case(tc);
        }
        j.add_test_suite(suite);
    }
    let mut out = j.to_string().unwrap_or_else(|e| format!("<!-- junit serialization failed: {e} -->"));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The runbook's `lint` case: failed by its errors (and its warnings under
/// `--deny-warnings`), the first one the message, every finding in the
/// description (`file:line: severity: message`, hints too); passed with its
/// warnings in system-out.
fn lint(findings: &[crate::error::Diagnostic], classname: &str, deny_warnings: bool) -> TestCase {
    let failing: Vec<_> = findings.iter().filter(|d| d.severity == Severity::Error || deny_warnings).collect();
    let all = findings.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    let status = match failing.first() {
        Some(first) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let n = failing.len();
            let message = match first.location() {
                Some(at) => format!("{at}: {}", first.message),
                None => first.message.clone(),
            };
            let message = if n > 1 { format!("{message} (and {} more)", n - 1) } else { message };
            s.set_message(message).set_type(first.code).set_description(all.as_str());
            s
        }
        None => TestCaseStatus::success(),
    };
    let mut tc = TestCase::new("lint", status);
    tc.set_classname(classname);
    if failing.is_empty() && !findings.is_empty() {
        tc.set_system_out(all);
    }
    tc
}
