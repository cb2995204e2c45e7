//! `check --format junit`: one test suite per runbook; one test case per
//! rehearsed scenario and per finding (error findings fail, warnings pass
//! with the message in system-out), or a single `lint` case for a clean
//! runbook, so that CI lists every runbook.

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
        for d in &r.findings {
            let at = d.location().unwrap_or_default();
            let status = match d.severity {
                Severity::Error => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(d.message.as_str()).set_type(d.code).set_description(d.to_string());
                    s
                }
                Severity::Warning => TestCaseStatus::success(),
            };
            let sev = if d.severity == Severity::Error { "error" } else { "warning" };
            let mut tc = TestCase::new(format!("{sev} {} at {at}", d.code), status);
            tc.set_classname(classname.as_str());
            if d.severity == Severity::Warning {
                tc.set_system_out(d.to_string());
            }
            suite.add_test_case(tc);
        }
        if r.findings.is_empty() {
            let mut tc = TestCase::new("lint", TestCaseStatus::success());
            tc.set_classname(classname.as_str());
            suite.add_test_case(tc);
        }
        for s in &r.scenarios {
            let status = if s.passed {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut desc = s.failures.join("\n");
                if let Some(d) = &s.diff {
                    desc.push('\n');
                    desc.push_str(d);
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
