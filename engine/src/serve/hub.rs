//! One reader per followed run, however many clients follow it: fifty
//! people watching an incident cost the store what one does.
//!
//! The first client of a run starts a poller that reads the run's new events
//! ([`Store::events_after`]) and the output of its steps in flight
//! ([`Store::log`]) every [`App::poll`], and publishes a [`Feed`]: every
//! event so far, and the tail of each step's output. Clients wait for a new
//! feed and send what they have not sent yet. The poller stops once the last
//! client is gone. The runs list has one poller too, publishing the rows of
//! `runs --json`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::App;
use crate::run::{Entry, Event, RunState};
use crate::store::Store;

/// How many more reads the log of a step that ended gets: its last chunk
/// can land just after its `step-end` (the log writer is behind the journal).
const READS_AFTER_END: u32 = 8;

/// How much of a step's output a feed keeps (its tail).
pub const TAIL: usize = 64 * 1024;

/// The tail of a step's output: `text` starts at byte `from` of its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tail {
    pub from: usize,
    pub text: Arc<str>,
}

/// An event of the run, as JSON once for every client.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    pub json: Arc<str>,
}

/// What a run's poller has read so far: every event, and the output of the
/// steps in flight (or just over).
#[derive(Debug, Default)]
pub struct Feed {
    pub events: Vec<Frame>,
    pub logs: BTreeMap<String, Tail>,
    /// The run cannot be read (damaged, removed): the clients are told, once.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Hub {
    runs: Mutex<HashMap<String, watch::Sender<Arc<Feed>>>>,
    list: Mutex<Option<watch::Sender<Arc<String>>>>,
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

    /// Follow the runs list: the JSON rows of `runs --json`.
    pub fn follow_list(app: &Arc<App>) -> watch::Receiver<Arc<String>> {
        let mut list = app.hub.list.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = list.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(Arc::new(String::new()));
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

async fn poll_list(app: Arc<App>, tx: watch::Sender<Arc<String>>) {
    loop {
        {
            let mut list = app.hub.list.lock().unwrap_or_else(|p| p.into_inner());
            if tx.receiver_count() == 0 {
                *list = None;
                return;
            }
        }
        let json = app
            .store(|s| rows_json(s))
            .await
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
        tx.send_if_modified(|cur| {
            let changed = **cur != json;
            if changed {
                *cur = Arc::new(json);
            }
            changed
        });
        tokio::time::sleep(app.poll * 4).await;
    }
}

/// What one read of a run brought.
struct Read {
    events: crate::error::Result<Vec<Entry>>,
    logs: Vec<(String, Option<Vec<u8>>)>,
}

/// The steps whose logs a poll reads: in flight, and just over.
#[derive(Default)]
struct Watched {
    state: RunState,
    /// Steps over, with the reads their logs still get.
    ended: HashMap<String, u32>,
    sizes: HashMap<String, usize>,
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

async fn poll_run(app: Arc<App>, run: String, tx: watch::Sender<Arc<Feed>>) {
    let mut w = Watched::default();
    let mut events: Vec<Frame> = Vec::new();
    let mut logs: BTreeMap<String, Tail> = BTreeMap::new();
    loop {
        {
            let mut runs = app.hub.runs.lock().unwrap_or_else(|p| p.into_inner());
            if tx.receiver_count() == 0 {
                runs.remove(&run);
                return;
            }
        }
        let after = w.state.last_seq;
        let watched = w.steps();
        let id = run.clone();
        let read = app
            .store(move |s| {
                let events = s.events_after(&id, after);
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
                let logs = steps.into_iter().map(|st| (st.clone(), s.log(&id, &st).ok().flatten())).collect();
                Ok(Read { events, logs })
            })
            .await;
        let mut changed = false;
        let mut error = None;
        match read.map(|r| (r.events, r.logs)) {
            Ok((Ok(new), read_logs)) => {
                changed |= !new.is_empty();
                for e in &new {
                    w.apply(e);
                    let json = serde_json::to_string(e).unwrap_or_default();
                    // The fold numbers the lines of `v: 1` journals.
                    events.push(Frame { seq: w.state.last_seq, json: json.into() });
                }
                // Only the logs being watched stay in the feed.
                let keep: Vec<&String> = read_logs.iter().map(|(s, _)| s).collect();
                let before = logs.len();
                logs.retain(|s, _| keep.contains(&s));
                w.sizes.retain(|s, _| keep.contains(&s));
                changed |= logs.len() != before;
                for (step, bytes) in read_logs {
                    let Some(bytes) = bytes else { continue };
                    if w.sizes.get(&step) == Some(&bytes.len()) {
                        continue;
                    }
                    w.sizes.insert(step.clone(), bytes.len());
                    logs.insert(step, tail(&bytes));
                    changed = true;
                }
            }
            Ok((Err(e), _)) | Err(e) => error = Some(e.to_string()),
        }
        if changed || (error.is_some() && tx.borrow().error.is_none()) {
            let feed = Feed { events: events.clone(), logs: logs.clone(), error };
            tx.send_replace(Arc::new(feed));
        }
        tokio::time::sleep(app.poll).await;
    }
}

/// The last [`TAIL`] bytes of a log, from a character boundary.
pub fn tail(bytes: &[u8]) -> Tail {
    let mut from = bytes.len().saturating_sub(TAIL);
    while from < bytes.len() && from > 0 && (bytes[from] & 0xC0) == 0x80 {
        from += 1;
    }
    Tail { from, text: String::from_utf8_lossy(&bytes[from..]).into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_starts_on_a_character() {
        let mut log = "é".repeat(TAIL);
        log.push('x');
        let t = tail(log.as_bytes());
        assert!(t.text.len() <= TAIL && t.text.ends_with('x') && !t.text.contains('\u{FFFD}'));
        assert_eq!(t.from + t.text.len(), log.len());
        assert_eq!(tail(b"short"), Tail { from: 0, text: "short".into() });
    }
}
