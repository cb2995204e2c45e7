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
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::App;
use crate::run::{Entry, Event, RunState};
use crate::store::Store;

/// How long the log of a step that ended is still read.
const LOG_GRACE: Duration = Duration::from_secs(2);

/// How much of a step's output a feed keeps (its tail).
pub const TAIL: usize = 64 * 1024;

/// The tail of a step's output: `text` starts at byte `from` of its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tail {
    pub from: usize,
    pub text: String,
}

/// What a run's poller has read so far.
#[derive(Debug, Default)]
pub struct Feed {
    pub events: Vec<Entry>,
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

async fn poll_run(app: Arc<App>, run: String, tx: watch::Sender<Arc<Feed>>) {
    let mut state = RunState::default();
    let mut events: Vec<Entry> = Vec::new();
    let mut logs: BTreeMap<String, Tail> = BTreeMap::new();
    let mut sizes: HashMap<String, usize> = HashMap::new();
    // Steps that ended lately: their log's last chunk may land after their
    // `step-end` (the log writer is behind the journal), so they are read a
    // while longer.
    let mut ended: HashMap<String, Instant> = HashMap::new();
    loop {
        {
            let mut runs = app.hub.runs.lock().unwrap_or_else(|p| p.into_inner());
            if tx.receiver_count() == 0 {
                runs.remove(&run);
                return;
            }
        }
        let after = state.last_seq;
        ended.retain(|_, at| at.elapsed() < LOG_GRACE);
        let mut in_flight: Vec<String> = state.in_flight().into_iter().map(str::to_string).collect();
        in_flight.extend(ended.keys().cloned());
        let id = run.clone();
        let read = app
            .store(move |s| {
                let events = s.events_after(&id, after);
                // Steps in flight, and those that just ended (their last output).
                let mut steps = in_flight;
                if let Ok(new) = &events {
                    for e in new {
                        if let Event::StepStart(x) = &e.event {
                            steps.push(x.step.clone());
                        }
                    }
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
                for e in &new {
                    state.apply(e);
                    if let Event::StepEnd(x) = &e.event {
                        ended.insert(x.step.clone(), Instant::now());
                    }
                }
                changed |= !new.is_empty();
                events.extend(new);
                for (step, bytes) in read_logs {
                    let Some(bytes) = bytes else { continue };
                    if sizes.get(&step) == Some(&bytes.len()) {
                        continue;
                    }
                    sizes.insert(step.clone(), bytes.len());
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
    Tail { from, text: String::from_utf8_lossy(&bytes[from..]).into_owned() }
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
