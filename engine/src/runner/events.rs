//! What a play tells the outside world while it runs.
//!
//! The scheduler never prints: it emits [`Event`]s to pluggable [`Reporter`]s
//! (spinners on a terminal, plain prefixed lines in a pipe, the rehearsal's
//! transcript). Everything in an event is already redacted, so a reporter can
//! print it as is.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::Outcome;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The status of a step (journal, report, `steps.<id>.status` in templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
    NotRun,
    Interrupted,
}

impl StepStatus {
    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::NotRun => "not-run",
            StepStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// `started` is `None` when the sandbox asks for no wall-clock times.
    RunStart {
        run_id: String,
        runbook: String,
        env: String,
        /// name, value (secrets already `***`).
        vars: Vec<(String, String)>,
        resumed: bool,
        started: Option<String>,
    },
    /// `command` is the rendered body, redacted. `undo` marks a rollback.
    /// `interactive`: the step owns the terminal, nothing may draw over it.
    StepStart {
        id: String,
        line: usize,
        command: String,
        attempt: u32,
        undo: bool,
        interactive: bool,
    },
    /// One line of output, redacted, lossy UTF-8, without control characters.
    Output {
        id: String,
        stream: Stream,
        line: String,
    },
    /// `duration` is `None` when the sandbox asks for no wall-clock times.
    StepEnd {
        id: String,
        status: StepStatus,
        exit: Option<i32>,
        duration: Option<Duration>,
        reason: Option<String>,
    },
    /// Budgets, skips, retries, rollback, guard, resume decisions.
    Note {
        id: Option<String>,
        text: String,
    },
    RunEnd {
        outcome: Outcome,
    },
}

/// Receives every event of a play, in order.
pub trait Reporter: Send {
    fn event(&mut self, e: &Event);

    /// Run `f` (a terminal prompt) with the display paused, e.g. spinners
    /// cleared. The default just runs it.
    fn suspend(&mut self, f: &mut dyn FnMut()) {
        f()
    }
}

/// Fans events out to the reporters; shared by the scheduler and the output pumps.
pub(crate) struct Sink {
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
    /// While a question is on the terminal, events wait here (bounded;
    /// the count of dropped output lines is kept).
    held: Mutex<Option<(Vec<Event>, usize)>>,
}

/// Events held back while a question is asked, at most.
const HOLD: usize = 10_000;

impl Sink {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Sink { reporters: Mutex::new(reporters), held: Mutex::new(None) }
    }

    pub fn emit(&self, e: &Event) {
        {
            let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((buf, dropped)) = h.as_mut() {
                if buf.len() < HOLD || !matches!(e, Event::Output { .. }) {
                    buf.push(e.clone());
                } else {
                    *dropped += 1;
                }
                return;
            }
        }
        let mut r = self.reporters.lock().unwrap_or_else(|p| p.into_inner());
        for rep in r.iter_mut() {
            rep.event(e);
        }
    }

    pub fn note(&self, id: Option<&str>, text: impl Into<String>) {
        self.emit(&Event::Note { id: id.map(str::to_string), text: text.into() });
    }

    /// Ask a question on the terminal: the display is paused and other
    /// events are held back until `f` returns, then shown.
    pub fn prompt<T>(&self, f: impl FnOnce() -> T) -> T {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some((Vec::new(), 0));
        let out = self.suspend(f);
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((events, dropped)) = held {
            for e in &events {
                self.emit(e);
            }
            if dropped > 0 {
                self.note(None, format!("{dropped} output lines not shown while asking (they are in the step logs)"));
            }
        }
        out
    }

    /// Run `f` with every reporter's display paused (nested, outermost first).
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut r = self.reporters.lock().unwrap_or_else(|p| p.into_inner());
        let mut f = Some(f);
        let mut out = None;
        suspend_all(&mut r[..], &mut || {
            if let Some(f) = f.take() {
                out = Some(f());
            }
        });
        match out {
            Some(o) => o,
            None => (f.take().expect("suspend ran nothing"))(),
        }
    }
}

fn suspend_all(reps: &mut [Box<dyn Reporter>], f: &mut dyn FnMut()) {
    match reps.split_first_mut() {
        None => f(),
        Some((first, rest)) => first.suspend(&mut || suspend_all(rest, f)),
    }
}
