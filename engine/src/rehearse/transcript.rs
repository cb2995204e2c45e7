//! The deterministic transcript of a rehearsal, compared with a golden file.
//!
//! A play's events arrive in an order that depends on scheduling (parallel
//! branches, stdout against stderr), so the reporter only collects them; the
//! text is rendered afterwards, step by step in document order:
//!
//! ```text
//! == step pods (line 27)
//! $ kubectl get pods -n animica-devnet -o wide
//! > kubectl get pods -n animica-devnet -o wide
//! | NAME             READY   STATUS
//! ! a line of stderr
//! # a note of the play (retry, skip reason, …)
//! -- passed (exit 0)
//! ```
//!
//! `$` lines are the rendered command, `>` lines the stubbed calls it made
//! (from the shim's log), `|` stdout, `!` stderr (after stdout: their
//! interleaving is not deterministic). No times appear: the sandbox path is
//! written `$WORK` and the run id `$RUN` ([`super::sandbox::SandboxDir::scrub`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::model::Runbook;
use crate::run::Event;
use crate::runner::{Outcome, PlayEvent, Reporter, Stream};

use super::shim::Call;

#[derive(Debug, Default, Clone)]
struct Attempt {
    command: String,
    stdout: Vec<String>,
    stderr: Vec<String>,
    notes: Vec<String>,
    /// Calls of the step already logged when this attempt started.
    calls_before: usize,
}

#[derive(Debug, Default, Clone)]
struct StepLog {
    attempts: Vec<Attempt>,
    /// Notes before the first start (skips) or after the end.
    notes: Vec<String>,
    end: Option<(String, Option<i32>, Option<String>)>,
}

#[derive(Debug, Default)]
pub struct Collected {
    steps: BTreeMap<String, StepLog>,
    run_notes: Vec<String>,
}

/// The reporter half: collects events into a shared [`Collected`].
#[derive(Clone, Default)]
pub struct TranscriptReporter {
    pub collected: Arc<Mutex<Collected>>,
    /// The shim state dir, to split a retried step's calls by attempt.
    pub shim_dir: Option<std::path::PathBuf>,
}

impl Reporter for TranscriptReporter {
    fn event(&mut self, e: &PlayEvent) {
        let mut c = self.collected.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            PlayEvent::Recorded(entry) => self.recorded(&mut c, &entry.event),
            PlayEvent::Output { step: id, stream, line } => {
                let s = c.steps.entry(id.clone()).or_default();
                if s.attempts.is_empty() {
                    s.attempts.push(Attempt::default());
                }
                let a = s.attempts.last_mut().expect("just ensured");
                match stream {
                    Stream::Stdout => a.stdout.push(line.clone()),
                    Stream::Stderr => a.stderr.push(line.clone()),
                }
            }
            PlayEvent::Finished(_) => {}
        }
    }
}

impl TranscriptReporter {
    fn recorded(&self, c: &mut Collected, e: &Event) {
        match e {
            Event::StepStart(st) => {
                let (id, command) = (&st.step, &st.command);
                let s = c.steps.entry(id.clone()).or_default();
                let calls_before = match (&self.shim_dir, s.attempts.is_empty()) {
                    (Some(d), false) => {
                        super::shim::read_calls(d).iter().filter(|k| k.step.as_deref() == Some(id)).count()
                    }
                    _ => 0,
                };
                s.attempts.push(Attempt { command: command.clone(), calls_before, ..Attempt::default() });
            }
            Event::Note(n) => match &n.step {
                Some(id) => {
                    let s = c.steps.entry(id.clone()).or_default();
                    match s.attempts.last_mut() {
                        Some(a) if s.end.is_none() => a.notes.push(n.text.clone()),
                        _ => s.notes.push(n.text.clone()),
                    }
                }
                None => c.run_notes.push(n.text.clone()),
            },
            Event::Excluded(x) => {
                for id in &x.steps {
                    let s = c.steps.entry(id.clone()).or_default();
                    s.end = Some(("skipped".into(), None, Some(x.reason.clone())));
                }
            }
            Event::StepEnd(e) => {
                let s = c.steps.entry(e.step.clone()).or_default();
                s.end = Some((e.status.name().to_string(), e.exit, e.reason.clone()));
            }
            Event::Stop(stop) => c.run_notes.push(format!("stopping: {}", stop.why)),
            Event::Rollback(r) => c.run_notes.push(format!("rolling back: {}", r.undo.join(", "))),
            _ => {}
        }
    }
}

impl TranscriptReporter {
    /// Render the transcript. `calls` are the shim's log; each step's calls
    /// are spread over its attempts by count (an attempt's calls are logged
    /// before the next attempt starts), the remainder going to the last.
    /// `contained`: how an unanswered call was answered ([`verdict`]).
    pub fn render(
        &self,
        rb: &Runbook,
        scenario: &str,
        env: &str,
        outcome: &Outcome,
        calls: &[Call],
        contained: bool,
    ) -> String {
        let c = self.collected.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = format!("# rehearsal of {} — scenario {scenario} (env {env})\n", rb.id);
        for n in &c.run_notes {
            out.push_str(&format!("# {n}\n"));
        }
        let mut by_step: BTreeMap<&str, Vec<&Call>> = BTreeMap::new();
        let mut unattributed = Vec::new();
        for call in calls {
            match &call.step {
                Some(s) => by_step.entry(s.as_str()).or_default().push(call),
                None => unattributed.push(call),
            }
        }
        for step in &rb.steps {
            let log = c.steps.get(&step.id);
            let result = outcome.steps.get(&step.id);
            let ran = log.is_some_and(|l| !l.attempts.is_empty());
            if step.attrs.undo && !ran {
                continue;
            }
            out.push_str(&format!("\n== step {} (line {})\n", step.id, step.line));
            let step_calls: Vec<&&Call> = by_step.get(step.id.as_str()).map(|v| v.iter().collect()).unwrap_or_default();
            if let Some(l) = log {
                let n = l.attempts.len();
                for (k, a) in l.attempts.iter().enumerate() {
                    if n > 1 {
                        out.push_str(&format!("~ attempt {} of {n}\n", k + 1));
                    }
                    if k == 0 || a.command != l.attempts[0].command {
                        for line in a.command.trim_end().lines() {
                            out.push_str(&format!("$ {line}\n"));
                        }
                    }
                    let upto = l.attempts.get(k + 1).map_or(step_calls.len(), |b| b.calls_before);
                    for call in step_calls.iter().take(upto).skip(a.calls_before) {
                        out.push_str(&format!("> {}\n", call.cmd));
                    }
                    for line in &a.stdout {
                        out.push_str(&format!("| {line}\n"));
                    }
                    for line in &a.stderr {
                        out.push_str(&format!("! {line}\n"));
                    }
                    for note in &a.notes {
                        out.push_str(&format!("# {note}\n"));
                    }
                }
                for note in &l.notes {
                    out.push_str(&format!("# {note}\n"));
                }
            }
            let (status, exit, reason) = match (log.and_then(|l| l.end.clone()), result) {
                (Some(e), _) => e,
                (None, Some(r)) => (r.status.name().to_string(), r.exit, r.reason.clone()),
                (None, None) => ("not-run".to_string(), None, None),
            };
            let mut end = format!("-- {status}");
            if let Some(x) = exit {
                end.push_str(&format!(" (exit {x})"));
            }
            if let Some(r) = reason {
                end.push_str(&format!(": {r}"));
            }
            out.push_str(&end);
            out.push('\n');
        }
        if !unattributed.is_empty() {
            out.push_str("\n== calls outside any step\n");
            for call in unattributed {
                out.push_str(&format!("> {}\n", call.cmd));
            }
        }
        if !outcome.rollback_incomplete.is_empty() {
            out.push_str(&format!("\n== rollback incomplete: {}\n", outcome.rollback_incomplete.join(", ")));
        }
        if !outcome.rolled_back.is_empty() {
            out.push_str(&format!("\n== rolled back: {}\n", outcome.rolled_back.join(", ")));
        }
        out.push_str(&format!("\n== outcome: {}\n", verdict(outcome, calls, contained)));
        out
    }
}

/// The last line's verdict: the play's outcome, unless a call had no stub.
/// Contained, such a call is answered empty so that the play goes on;
/// uncontained, it fails its step ([`super::shim::NO_FIXTURE_STRICT_EXIT`]:
/// no later step acts on an invented answer where its writes stay). Either
/// way the scenario fails for it (`run_scenario`), whatever the play came
/// to: the verdict says so, names the calls and how they were answered, so
/// the transcript (junit's system-out) never ends in `passed` beside the
/// failure.
fn verdict(outcome: &Outcome, calls: &[Call], contained: bool) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let missing: Vec<String> = calls
        .iter()
        .filter(|c| c.stub.is_none() && seen.insert(&c.cmd))
        .map(|c| {
            let cmd = c.cmd.replace('\n', "\\n");
            match &c.step {
                Some(s) => format!("`{cmd}` (step `{s}`)"),
                None => format!("`{cmd}`"),
            }
        })
        .collect();
    let play = outcome.status.name();
    let answered = match (missing.len(), contained) {
        (0, _) => return play.to_string(),
        (1, true) => "answered empty",
        (_, true) => "each answered empty",
        (1, false) => "the call failed its step (not contained: no invented answer)",
        (_, false) => "each call failed its step (not contained: no invented answer)",
    };
    format!("failed: no stub for {}, {answered} (the play itself {play})", missing.join(", "))
}
