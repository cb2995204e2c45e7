//! One reader per followed run, however many clients follow it: fifty
//! people watching an incident cost the store what one does.
//!
//! The first client of a run starts a poller that reads the run's new events
//! ([`Store::events_follow`]) and the new output of its steps in flight
//! ([`Store::log_tail`]) every [`App::poll`], and publishes a [`Feed`]: every
//! event so far, the tail of each step's output, and the read's SSE
//! messages as one chunk every up-to-date client sends as is. The poller
//! stops once the last client is gone. The runs list has one poller too,
//! publishing the rows of `runs --json` ([`super::list`]). A followed run's
//! page part is kept per feed, rendered once for every browser.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::watch;

use super::feed::{self, Feed, Follow, Frame, RECENT, TAIL};
use super::{App, list};
use crate::run::{Entry, Event, RunState};
use crate::store::{LogTail, Store};

/// How many more reads the log of a step that ended gets: its last chunk
/// can land just after its `step-end` (the log writer is behind the journal).
const READS_AFTER_END: u32 = 8;

#[derive(Default)]
pub struct Hub {
    runs: Mutex<HashMap<String, watch::Sender<Arc<Feed>>>>,
    list: Mutex<Option<watch::Sender<Bytes>>>,
    /// A followed run's part as last rendered, and the feed it was rendered at.
    parts: Mutex<HashMap<String, (u64, Arc<str>)>>,
}

impl Hub {
    /// Follow a run: its feed, kept current while the receiver lives.
    pub fn follow(app: &Arc<App>, run: &str) -> watch::Receiver<Arc<Feed>> {
        let mut runs = app.hub.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = runs.get(run) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Arc::new(Feed::default()));
        runs.insert(run.to_string(), tx.clone());
        tokio::spawn(poll_run(app.clone(), run.to_string(), tx));
        rx
    }

    /// The feed a followed run is at (`None`: no client follows it, or
    /// nothing was read yet).
    pub fn generation(app: &App, run: &str) -> Option<u64> {
        let runs = app.hub.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(run).map(|tx| tx.borrow().generation).filter(|g| *g > 0)
    }

    /// A run's part rendered at feed `generation`, if it was.
    pub fn part(app: &App, run: &str, generation: u64) -> Option<Arc<str>> {
        let parts = app.hub.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.get(run).filter(|(g, _)| *g == generation).map(|(_, html)| html.clone())
    }

    /// Keep a run's part rendered at (or after) feed `generation`.
    pub fn keep_part(app: &App, run: &str, generation: u64, html: Arc<str>) {
        let mut parts = app.hub.parts.lock().unwrap_or_else(|p| p.into_inner());
        if parts.len() >= 64 && !parts.contains_key(run) {
            parts.clear();
        }
        if parts.get(run).is_none_or(|(g, _)| *g < generation) {
            parts.insert(run.to_string(), (generation, html));
        }
    }

    /// Follow the runs list: the `runs` message with the rows of `runs --json`.
    pub fn follow_list(app: &Arc<App>) -> watch::Receiver<Bytes> {
        let mut list = app.hub.list.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = list.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Bytes::new());
        *list = Some(tx.clone());
        tokio::spawn(poll_list(app.clone(), tx));
        rx
    }
}

/// The rows of `runs --json`, as JSON.
pub fn rows_json(store: &dyn Store) -> crate::error::Result<String> {
    let rows = crate::report::list(store)?;
    Ok(serde_json::to_string(&rows).map_err(anyhow::Error::from)?)
}

async fn poll_list(app: Arc<App>, tx: watch::Sender<Bytes>) {
    let mut cache = list::Runs::default();
    loop {
        {
            let mut list = app.hub.list.lock().unwrap_or_else(|p| p.into_inner());
            if tx.receiver_count() == 0 {
                *list = None;
                return;
            }
        }
        let runs = std::mem::take(&mut cache);
        let (json, runs) = app
            .store(move |s| {
                let mut runs = runs;
                let json = runs.json(s);
                Ok((json, runs))
            })
            .await
            .unwrap_or_else(|e| (Err(e), list::Runs::default()));
        cache = runs;
        let json = json.unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
        let mut msg = String::new();
        feed::message(&mut msg, Some("runs"), None, &json);
        tx.send_if_modified(|cur| {
            let changed = *cur != msg.as_bytes();
            if changed {
                *cur = Bytes::from(msg);
            }
            changed
        });
        tokio::time::sleep(app.poll * 4).await;
    }
}

/// What one read of a run brought.
pub(super) struct Read {
    pub events: crate::error::Result<Vec<Entry>>,
    pub mark: u64,
    pub logs: Vec<(String, Option<LogTail>)>,
}

/// The steps whose logs a poll reads: in flight, and just over.
#[derive(Default)]
struct Watched {
    state: RunState,
    /// Steps over, with the reads their logs still get.
    ended: HashMap<String, u32>,
}

impl Watched {
    fn steps(&mut self) -> Vec<String> {
        self.ended.retain(|_, left| *left > 0);
        self.ended.values_mut().for_each(|left| *left -= 1);
        let mut v: Vec<String> = self.state.in_flight().into_iter().map(str::to_string).collect();
        v.extend(self.ended.keys().cloned());
        v
    }

    fn apply(&mut self, e: &Entry) {
        self.state.apply(e);
        if let Event::StepEnd(x) = &e.event {
            self.ended.insert(x.step.clone(), READS_AFTER_END);
        }
    }
}

/// A run's poller: what it has read, and the feed it publishes.
#[derive(Default)]
pub(super) struct Poller {
    w: Watched,
    /// The store's place in the run's events.
    mark: u64,
    events: Vec<Frame>,
    logs: BTreeMap<String, Follow>,
    told: bool,
    generation: u64,
    recent: std::collections::VecDeque<Bytes>,
}

impl Poller {
    /// Take a read: the SSE messages it makes (output first: what a step
    /// printed comes before its end), and whether the feed changed.
    pub fn take(&mut self, read: crate::error::Result<Read>) -> (String, bool, Option<String>) {
        let mut chunk = String::new();
        let mut changed = false;
        let r = match read {
            Ok(r) => r,
            Err(e) => return self.unreadable(chunk, e.to_string()),
        };
        let new = match r.events {
            Ok(new) => new,
            Err(e) => return self.unreadable(chunk, e.to_string()),
        };
        self.mark = r.mark;
        // Only the logs being watched stay in the feed.
        let before = self.logs.len();
        self.logs.retain(|s, _| r.logs.iter().any(|(w, _)| w == s));
        changed |= self.logs.len() != before;
        for (step, read) in &r.logs {
            let Some(read) = read else { continue };
            if let Some((from, text)) = self.logs.entry(step.clone()).or_default().take(read) {
                feed::output(&mut chunk, step, from, &text);
                changed = true;
            }
        }
        for e in &new {
            self.w.apply(e);
            let json = serde_json::to_string(e).unwrap_or_default();
            // The fold numbers the lines of `v: 1` journals.
            let seq = self.w.state.last_seq;
            feed::message(&mut chunk, None, Some(seq), &json);
            self.events.push(Frame { seq, json: json.into() });
        }
        changed |= !new.is_empty();
        (chunk, changed, None)
    }

    /// Where each followed log was read to.
    pub fn ends(&self) -> HashMap<String, u64> {
        self.logs.iter().map(|(s, f)| (s.clone(), f.end)).collect()
    }

    fn unreadable(&mut self, mut chunk: String, e: String) -> (String, bool, Option<String>) {
        let first = !self.told;
        if first {
            self.told = true;
            feed::message(&mut chunk, Some("unreadable"), None, &e);
        }
        (chunk, first, Some(e))
    }

    pub fn publish(&mut self, chunk: String, error: Option<String>) -> Feed {
        self.generation += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Bytes::from(chunk));
        Feed {
            events: self.events.clone(),
            logs: self.logs.iter().map(|(s, f)| (s.clone(), f.tail.clone())).collect(),
            error,
            told: self.told,
            generation: self.generation,
            recent: self.recent.clone(),
        }
    }
}

async fn poll_run(app: Arc<App>, run: String, tx: watch::Sender<Arc<Feed>>) {
    let mut p = Poller::default();
    loop {
        {
            let mut runs = app.hub.runs.lock().unwrap_or_else(|p| p.into_inner());
            if tx.receiver_count() == 0 {
                runs.remove(&run);
                return;
            }
        }
        let after = p.w.state.last_seq;
        let mut mark = p.mark;
        let watched = p.w.steps();
        let since = p.ends();
        let id = run.clone();
        let read = app
            .store(move |s| {
                let events = s.events_follow(&id, after, &mut mark);
                // And the steps that started meanwhile.
                let mut steps = watched;
                if let Ok(new) = &events {
                    steps.extend(new.iter().filter_map(|e| match &e.event {
                        Event::StepStart(x) => Some(x.step.clone()),
                        _ => None,
                    }));
                }
                steps.sort();
                steps.dedup();
                let logs = steps
                    .into_iter()
                    .map(|st| {
                        let from = since.get(&st).copied().unwrap_or(0);
                        let tail = s.log_tail(&id, &st, from, TAIL as u64).ok().flatten();
                        (st, tail)
                    })
                    .collect();
                Ok(Read { events, mark, logs })
            })
            .await;
        let (chunk, changed, error) = p.take(read);
        if changed {
            tx.send_replace(Arc::new(p.publish(chunk, error)));
        }
        tokio::time::sleep(app.poll).await;
    }
}
