//! What a play tells the outside world while it runs: the run's events as
//! they are recorded, the steps' output lines (logged, never journaled), and
//! the outcome at the end. The terminal, the rehearsal's transcript and
//! anything else that watches a play are [`Reporter`]s of this one stream;
//! the journal is written from the same events by the recorder.
//!
//! Everything in an event is already redacted, so a reporter can print it
//! as is.

use std::sync::Mutex;

use serde::Serialize;

use super::Outcome;
use crate::run::Entry;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub enum PlayEvent {
    /// An event of the run, as journaled.
    Recorded(Box<Entry>),
    /// One line of a step's output: redacted, lossy UTF-8, without control
    /// characters.
    Output { step: String, stream: Stream, line: String },
    /// The play is over.
    Finished(Box<Outcome>),
}

/// Receives every event of a play, in order.
pub trait Reporter: Send {
    fn event(&mut self, e: &PlayEvent);

    /// Run `f` (a terminal prompt) with the display paused, e.g. spinners
    /// cleared. The default just runs it.
    fn suspend(&mut self, f: &mut dyn FnMut()) {
        f()
    }
}

/// Fans events out to the reporters; shared by the play and the output pumps.
pub(crate) struct Sink {
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
    /// While a question is on the terminal, events wait here (bounded;
    /// the count of dropped output lines is kept).
    held: Mutex<Option<(Vec<PlayEvent>, usize)>>,
}

/// Events held back while a question is asked, at most.
const HOLD: usize = 10_000;

impl Sink {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Sink { reporters: Mutex::new(reporters), held: Mutex::new(None) }
    }

    pub fn emit(&self, e: PlayEvent) {
        {
            let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((buf, dropped)) = h.as_mut() {
                if buf.len() < HOLD || !matches!(e, PlayEvent::Output { .. }) {
                    buf.push(e);
                } else {
                    *dropped += 1;
                }
                return;
            }
        }
        let mut r = self.reporters.lock().unwrap_or_else(|p| p.into_inner());
        for rep in r.iter_mut() {
            rep.event(&e);
        }
    }

    pub fn output(&self, step: &str, stream: Stream, line: String) {
        self.emit(PlayEvent::Output { step: step.to_string(), stream, line });
    }

    /// Ask a question on the terminal: the display is paused and other
    /// events are held back until `f` returns, then shown.
    pub fn prompt<T>(&self, f: impl FnOnce() -> T) -> T {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some((Vec::new(), 0));
        let out = self.suspend(f);
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((events, dropped)) = held {
            for e in events {
                self.emit(e);
            }
            if dropped > 0 {
                let mut r = self.reporters.lock().unwrap_or_else(|p| p.into_inner());
                let line = format!("({dropped} output lines not shown while asking: they are in the step logs)");
                let e = PlayEvent::Output { step: String::new(), stream: Stream::Stderr, line };
                for rep in r.iter_mut() {
                    rep.event(&e);
                }
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
