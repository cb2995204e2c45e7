//! The recorder: every event of a play goes through here, in order. It gets
//! its sequence number and time, is appended to the store (the journal),
//! folded into the run's state ([`RunState`]), and shown by the reporters.
//! So the journal, the play's own decisions and the terminal never disagree:
//! they are one stream.
//!
//! Shared (`Arc`) between the play's loop and the steps' tasks, which record
//! the process group of each attempt the moment it exists.
//!
//! A step's start is shown once it is durable ([`Show::Held`]): a start
//! the store could not take is no step started, and the screen does not
//! say `==>` for it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::events::{PlayEvent, Sink};
use crate::error::Result;
use crate::run::event::{Note, Spawned};
use crate::run::{Entry, Event, RunState};
use crate::store::logs::LogSender;
use crate::store::{Durable, Lost, Writer};

pub struct Recorder {
    inner: Mutex<Inner>,
    /// The steps' output on its way to the store: output it could not
    /// keep is a record lost ([`Recorder::failed`]).
    output: LogSender,
    pub sink: Arc<Sink>,
    /// `false` in a rehearsal: no times in events.
    clock: bool,
}

struct Inner {
    state: RunState,
    writer: Box<dyn Writer>,
    /// The first append the store refused.
    failed: Option<String>,
    /// Shown later ([`Show::Held`], until [`Recorder::release`]): the held event, then what came after it.
    held: Option<Vec<Entry>>,
}

/// The run's state, locked while held: read it, decide, let go.
pub struct State<'a>(MutexGuard<'a, Inner>);

impl std::ops::Deref for State<'_> {
    type Target = RunState;
    fn deref(&self) -> &RunState {
        &self.0.state
    }
}

impl Recorder {
    /// `state`: the run so far (folded from the store on a resume).
    pub fn new(state: RunState, writer: Box<dyn Writer>, sink: Arc<Sink>, clock: bool) -> Arc<Recorder> {
        let output = writer.logs();
        Arc::new(Recorder { inner: Mutex::new(Inner { state, writer, failed: None, held: None }), output, sink, clock })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> State<'_> {
        State(self.lock())
    }

    /// Record an event. A store that refuses it does not stop the fold or
    /// the display; [`Recorder::failed`] says so, and the play stops.
    pub fn record(&self, event: Event) {
        self.record_as(event, Show::Now);
    }

    /// Record an event, shown now, later, or never: [`Show::Held`] is shown
    /// once [`Recorder::release`]d, and what is recorded meanwhile after it.
    pub fn record_as(&self, event: Event, show: Show) {
        if let Some(entry) = self.append(event, show) {
            self.sink.emit(PlayEvent::Recorded(Box::new(entry)));
        }
    }

    /// Show the held event (`show`), or not, and what came after it: not
    /// the process group of a held start not shown (its process was killed
    /// having run nothing).
    pub fn release(&self, show: bool) {
        let held = self.lock().held.take().unwrap_or_default();
        let step = match held.first().map(|e| &e.event) {
            Some(Event::StepStart(s)) => Some(s.step.clone()),
            _ => None,
        };
        for (i, entry) in held.into_iter().enumerate() {
            let unshown = matches!(&entry.event, Event::Spawned(s) if Some(&s.step) == step.as_ref());
            if show || (i > 0 && !unshown) {
                self.sink.emit(PlayEvent::Recorded(Box::new(entry)));
            }
        }
    }

    /// Append and fold; the entry if it is to be shown now.
    fn append(&self, event: Event, show: Show) -> Option<Entry> {
        let mut g = self.lock();
        let entry = Entry {
            seq: g.state.last_seq + 1,
            at: if self.clock { crate::time::now_rfc3339() } else { String::new() },
            event,
        };
        if g.failed.is_none()
            && let Err(e) = g.writer.append(&entry)
        {
            tracing::error!("{e}");
            g.failed = Some(e.to_string());
        }
        g.state.apply(&entry);
        if let Event::StepEnd(end) = &entry.event
            && super::fault::at("kill-after-end", &end.step)
        {
            // As `kill -9` right after the end is handed to the store.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        match (show, &mut g.held) {
            (Show::Never, _) => None,
            (Show::Held, held) => {
                *held = Some(vec![entry]);
                None
            }
            (Show::Now, Some(held)) => {
                held.push(entry);
                None
            }
            (Show::Now, None) => Some(entry),
        }
    }

    /// An event the store already holds (a new run's first): folded and
    /// shown, not appended again.
    pub fn written(&self, entry: Entry) {
        self.lock().state.apply(&entry);
        self.sink.emit(PlayEvent::Recorded(Box::new(entry)));
    }

    pub fn note(&self, step: Option<&str>, text: impl Into<String>) {
        let text = text.into();
        tracing::info!(step = step.unwrap_or(""), "{text}");
        self.record(Event::Note(Note { step: step.map(str::to_string), text }));
    }

    /// The first append the store refused, or else the first output it
    /// could not keep, if any.
    pub fn failed(&self) -> Option<String> {
        self.lock().failed.clone().or_else(|| self.output.lost())
    }

    /// Output the store could not keep (known once the play's logs are
    /// written: after [`Recorder::close`]).
    pub fn output_lost(&self) -> Option<String> {
        self.output.lost()
    }

    /// Everything recorded so far, durable enough for a step to start.
    pub fn durable(&self) -> Durable {
        self.lock().writer.durable()
    }

    /// Does [`Recorder::durable`] wait for the store ([`Writer::waits`])?
    pub fn waits(&self) -> bool {
        self.lock().writer.waits()
    }

    /// Wait until everything recorded is durable.
    pub fn sync(&self) -> Result<()> {
        self.lock().writer.sync()
    }

    /// [`Recorder::sync`], waited for on the play's runtime (which may be
    /// the store's own, see [`crate::store::lent`]).
    pub fn synced(&self) -> Durable {
        self.lock().writer.synced()
    }

    pub fn logs(&self) -> LogSender {
        self.lock().writer.logs()
    }

    /// Resolves once another engine took the run's lock.
    pub fn lost(&self) -> Lost {
        self.lock().writer.lost()
    }

    /// Stop waiting for the store (Ctrl-C while it is away).
    pub fn interrupt(&self) {
        self.lock().writer.interrupt();
    }

    pub fn idle_hook(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        self.lock().writer.idle()
    }

    /// A step's process group, recorded as soon as it exists (a resume after
    /// a crash kills what is left of it).
    pub fn spawned(&self, step: &str, pgid: i32, born_ms: u64) {
        self.record(Event::Spawned(Spawned { step: step.to_string(), pgid, born_ms: Some(born_ms) }));
    }

    /// Closes the store's writer (its last flush, its log writer joined).
    pub fn close(&self) {
        let mut g = self.lock();
        let _ = g.writer.sync();
        g.writer = Box::new(Closed);
    }
}

/// When a recorded event is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Now,
    /// Once [`Recorder::release`]d.
    Held,
    Never,
}

/// What is left after [`Recorder::close`].
struct Closed;

impl Writer for Closed {
    fn append(&mut self, _: &Entry) -> Result<()> {
        Err(anyhow::anyhow!("the run is closed").into())
    }
    fn durable(&mut self) -> Durable {
        Box::pin(std::future::ready(Ok(())))
    }
    fn logs(&self) -> LogSender {
        LogSender::closed()
    }
    fn idle(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        None
    }
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
