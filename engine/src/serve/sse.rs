//! Server-sent event streams.
//!
//! `/api/runs/<id>/events`: every event of the run's log, in order, each a
//! message whose `id` is its `seq` and whose data is the event as the journal
//! holds it; a client that reconnects with `Last-Event-ID: N` (browsers do
//! it on their own) gets the events after `N` (so does `?after=N`). Between
//! them, `output` messages (no id) carry what steps in flight print:
//! `{"step", "from", "text"}`, `text` starting at byte `from` of the step's
//! log (a client appends it when `from` is where it is, else replaces what
//! it has). An `unreadable` message says the run cannot be read any more.
//!
//! `/api/events`: the runs list, a `runs` message with the rows of
//! `runs --json` each time they change.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::watch;

use super::App;
use super::api::known_run;
use super::hub::{Feed, Hub};

#[derive(Debug, Default, Deserialize)]
pub struct After {
    after: Option<u64>,
}

/// A client of a run's stream: what it has been sent.
struct Client {
    rx: watch::Receiver<Arc<Feed>>,
    last: u64,
    sent: HashMap<String, usize>,
    told_error: bool,
    queue: VecDeque<SseEvent>,
}

impl Client {
    /// Queue what the feed has that this client was not sent.
    fn catch_up(&mut self, feed: &Feed) {
        // Output first: what a step printed comes before its end.
        for (step, t) in &feed.logs {
            let end = t.from + t.text.len();
            let have = self.sent.get(step).copied().unwrap_or(0);
            if have == end {
                continue;
            }
            let (from, text) = if have >= t.from && have <= end && t.text.is_char_boundary(have - t.from) {
                (have, &t.text[have - t.from..])
            } else {
                (t.from, t.text.as_str())
            };
            let data = serde_json::json!({ "step": step, "from": from, "text": text }).to_string();
            self.queue.push_back(SseEvent::default().event("output").data(data));
            self.sent.insert(step.clone(), end);
        }
        let start = feed.events.partition_point(|e| e.seq <= self.last);
        for e in &feed.events[start..] {
            let data = serde_json::to_string(e).unwrap_or_default();
            self.queue.push_back(SseEvent::default().id(e.seq.to_string()).data(data));
            self.last = e.seq;
        }
        if let Some(e) = &feed.error
            && !self.told_error
        {
            self.told_error = true;
            self.queue.push_back(SseEvent::default().event("unreadable").data(e.clone()));
        }
    }
}

fn last_event_id(h: &HeaderMap) -> Option<u64> {
    h.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

fn keep_alive() -> KeepAlive {
    KeepAlive::new().interval(Duration::from_secs(15))
}

pub async fn run_events(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = known_run(&app, &id).await {
        return r;
    }
    let last = last_event_id(&headers).or(q.after).unwrap_or(0);
    let client =
        Client { rx: Hub::follow(&app, &id), last, sent: HashMap::new(), told_error: false, queue: VecDeque::new() };
    Sse::new(run_stream(client)).keep_alive(keep_alive()).into_response()
}

fn run_stream(client: Client) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(client, |mut c| async move {
        loop {
            if let Some(e) = c.queue.pop_front() {
                return Some((Ok(e), c));
            }
            let feed = c.rx.borrow_and_update().clone();
            c.catch_up(&feed);
            if !c.queue.is_empty() {
                continue;
            }
            c.rx.changed().await.ok()?;
        }
    })
}

pub async fn runs_events(State(app): State<Arc<App>>) -> Response {
    let mut rx = Hub::follow_list(&app);
    // The current rows first, then each change.
    rx.mark_changed();
    let s = stream::unfold(rx, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let json = rx.borrow_and_update().clone();
            if !json.is_empty() {
                return Some((Ok::<_, Infallible>(SseEvent::default().event("runs").data(json.as_str())), rx));
            }
        }
    });
    Sse::new(s).keep_alive(keep_alive()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::hub::Tail;

    fn client() -> Client {
        let (_tx, rx) = watch::channel(Arc::new(Feed::default()));
        Client { rx, last: 0, sent: HashMap::new(), told_error: false, queue: VecDeque::new() }
    }

    fn feed(logs: &[(&str, usize, &str)]) -> Feed {
        let logs = logs.iter().map(|(s, from, t)| (s.to_string(), Tail { from: *from, text: t.to_string() })).collect();
        Feed { events: Vec::new(), logs, error: None }
    }

    #[test]
    fn output_is_sent_once_and_an_empty_log_never() {
        let mut c = client();
        c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\n")]));
        assert_eq!(c.queue.len(), 1, "only b's output");
        c.queue.clear();
        c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\n")]));
        assert!(c.queue.is_empty(), "nothing new, nothing sent");
        c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\ntwo\n")]));
        assert_eq!(c.queue.len(), 1);
        assert_eq!(c.sent["b"], 8);
    }
}
