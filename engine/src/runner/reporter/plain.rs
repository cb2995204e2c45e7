//! Plain lines, for pipes, CI logs and `tee`: every line says which step it
//! belongs to, so parallel output stays readable. A value's control
//! characters are shown as escapes ([`crate::visible`]), in every line.

use std::io::Write;

use super::super::{PlayEvent, Reporter, StepStatus};
use crate::run::event::{How, Question, SessionKind};
use crate::run::{Event, event::name};
use crate::runner::time;

pub struct Plain<W: Write + Send> {
    out: W,
    recorded: bool,
}

impl<W: Write + Send> Plain<W> {
    pub fn new(out: W) -> Self {
        Plain { out, recorded: true }
    }

    /// For a play whose run is not kept (a rehearsal's): no run id to quote.
    pub fn not_recorded(self) -> Self {
        Plain { recorded: false, ..self }
    }
}

pub fn first_line(cmd: &str) -> String {
    let mut lines = cmd.trim().lines();
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() { format!("{first} …") } else { first }
}

/// How a step's end reads: `<== pods: passed (0.2s)`.
pub fn step_end(e: &crate::run::event::StepEnd) -> String {
    let id = &e.step;
    let what = if e.undo { format!("undo {id}") } else { id.clone() };
    let mut s = match e.status {
        StepStatus::Skipped | StepStatus::NotRun => format!("--- {what}: {}", e.status.name()),
        _ => format!("<== {what}: {}", e.status.name()),
    };
    if let (Some(c), StepStatus::Failed) = (e.exit, e.status) {
        s.push_str(&format!(", exit {c}"));
    }
    if let Some(d) = e.duration_ms {
        s.push_str(&format!(" ({})", time::short(std::time::Duration::from_millis(d))));
    }
    if let Some(r) = reason(e) {
        s.push_str(&format!(": {r}"));
    }
    s
}

/// A step end's reason, without the `exit N` its line already shows.
pub fn reason(e: &crate::run::event::StepEnd) -> Option<&str> {
    let r = e.reason.as_deref()?;
    match e.exit.and_then(|c| r.strip_prefix(&format!("exit {c}"))) {
        Some(rest) => Some(rest.trim_start_matches(": ")).filter(|x| !x.is_empty()),
        None => Some(r),
    }
}

/// The lines of `e`; `recorded`: the run is kept (else its id is not shown).
pub fn render(e: &PlayEvent, recorded: bool) -> Vec<String> {
    match e {
        PlayEvent::Recorded(entry) => lines(&entry.event, recorded),
        PlayEvent::Output { step, line, .. } if step.is_empty() => vec![line.clone()],
        PlayEvent::Output { step, line, .. } => vec![format!("[{step}] {line}")],
        PlayEvent::Finished(o) => super::summary(o),
    }
}

fn lines(e: &Event, recorded: bool) -> Vec<String> {
    match e {
        Event::RunStart(r) => {
            let run = if recorded { format!("run {}", r.run) } else { "a rehearsal: not recorded".into() };
            let mut v = vec![format!("playing {} @ {} ({run})", r.runbook, r.env)];
            if !r.vars.is_empty() {
                let kv: Vec<String> =
                    r.vars.iter().map(|(k, v)| format!("{k}={}", crate::visible::line(&v.text()))).collect();
                v.push(format!("vars: {}", kv.join(" ")));
            }
            let mode = r.mode.words();
            if !mode.is_empty() {
                v.push(format!("mode: {}", mode.join(" ")));
            }
            v
        }
        Event::Session(s) => {
            let what = match s.kind {
                SessionKind::Resume => "resuming",
                SessionKind::Continue => "continuing the failed run of",
                SessionKind::TakeOver => "taking over",
            };
            let mut v =
                vec![format!("{what} {} @ {} (run {}, session {}, by {})", s.runbook, s.env, s.run, s.n, s.operator)];
            if !s.vars.is_empty() {
                let kv: Vec<String> =
                    s.vars.iter().map(|(k, v)| format!("{k}={}", crate::visible::line(&v.text()))).collect();
                v.push(format!("vars: {}", kv.join(" ")));
            }
            v
        }
        Event::Excluded(x) => match x.steps.as_slice() {
            [one] => vec![format!("--- {one}: skipped: {}", x.reason)],
            many => vec![format!("--- {} steps skipped: {}", many.len(), x.reason)],
        },
        Event::StepStart(s) => {
            let what = if s.undo { format!("undo {}", s.step) } else { s.step.clone() };
            vec![format!("==> {what}: {}", first_line(&s.command))]
        }
        Event::StepEnd(e) => vec![step_end(e)],
        // What the operator typed is on the screen already; the rest is said.
        Event::Answer(a) if a.how == How::Prompt => Vec::new(),
        Event::Answer(a) => {
            let how = match a.how {
                How::Yes => "--yes",
                How::Scenario => "the scenario",
                How::Timeout => "no answer in time",
                How::Prompt => "the operator",
            };
            let q = match (a.question, &a.confirm) {
                (Question::CtrlC, _) => "Ctrl-C".to_string(),
                (q, Some(c)) => format!("{} \"{c}\"", name(&q)),
                (q, None) => name(&q).to_string(),
            };
            let at = a.step.as_deref().map(|s| format!(" [{s}]")).unwrap_or_default();
            vec![format!("answer{at}: {q}: {} ({how})", name(&a.reply))]
        }
        Event::Guard(g) if g.passed => {
            let out =
                g.reason.clone().unwrap_or_else(|| format!("`{}` → `{}` matches `{}`", g.command, g.output, g.expect));
            vec![format!("guard: {out}")]
        }
        Event::Guard(_) => Vec::new(),
        // A refusal or a failure is the closing screen's to say; a stop that
        // kills running steps is news now.
        Event::Stop(s) if s.cancel => vec![format!("stopping: {}", s.why)],
        Event::Stop(_) => Vec::new(),
        Event::Rollback(r) => vec![format!("rolling back: {}", r.undo.join(", "))],
        Event::Note(n) => match &n.step {
            Some(id) => vec![format!("note [{id}]: {}", n.text)],
            None => vec![format!("note: {}", n.text)],
        },
        Event::Spawned(_) | Event::RunEnd(_) => Vec::new(),
    }
}

impl<W: Write + Send> Reporter for Plain<W> {
    fn event(&mut self, e: &PlayEvent) {
        for l in render(e, self.recorded) {
            let _ = writeln!(self.out, "{}", crate::visible::text(&l));
        }
        if !matches!(e, PlayEvent::Output { .. }) {
            let _ = self.out.flush();
        }
    }
}
