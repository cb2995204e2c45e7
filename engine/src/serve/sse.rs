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

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::watch;

use super::App;
use super::api::known_run;
use super::hub::{Feed, Hub};

/// A comment line every so often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Default, Deserialize)]
pub struct After {
    after: Option<u64>,
}

/// One message of the stream, in the text/event-stream format.
fn message(out: &mut String, event: Option<&str>, id: Option<u64>, data: &str) {
    if let Some(e) = event {
        let _ = writeln!(out, "event: {e}");
    }
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    for line in data.split('\n') {
        let _ = writeln!(out, "data: {}", line.trim_end_matches('\r'));
    }
    out.push('\n');
}

/// A client of a run's stream: what it has been sent.
struct Client {
    rx: watch::Receiver<Arc<Feed>>,
    last: u64,
    sent: HashMap<String, usize>,
    told_error: bool,
}

impl Client {
    /// What the feed has that this client was not sent, as one chunk (one
    /// write for a burst of events, whatever its size).
    fn catch_up(&mut self, feed: &Feed) -> String {
        let mut out = String::new();
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
                (t.from, &t.text[..])
            };
            let data = serde_json::json!({ "step": step, "from": from, "text": text }).to_string();
            message(&mut out, Some("output"), None, &data);
            self.sent.insert(step.clone(), end);
        }
        let start = feed.events.partition_point(|e| e.seq <= self.last);
        for e in &feed.events[start..] {
            message(&mut out, None, Some(e.seq), &e.json);
            self.last = e.seq;
        }
        if let Some(e) = &feed.error
            && !self.told_error
        {
            self.told_error = true;
            message(&mut out, Some("unreadable"), None, e);
        }
        out
    }
}

fn last_event_id(h: &HeaderMap) -> Option<u64> {
    h.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

fn event_stream(s: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(s))
        .into_response()
}

/// Wait for a change of `rx`: `Some(true)` changed, `Some(false)` time for
/// a keep-alive, `None` the sender is gone.
async fn changed<T>(rx: &mut watch::Receiver<T>) -> Option<bool> {
    tokio::select! {
        r = rx.changed() => r.ok().map(|_| true),
        _ = tokio::time::sleep(KEEP_ALIVE) => Some(false),
    }
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
    let mut rx = Hub::follow(&app, &id);
    rx.mark_changed();
    let client = Client { rx, last, sent: HashMap::new(), told_error: false };
    event_stream(stream::unfold(client, |mut c| async move {
        loop {
            if !changed(&mut c.rx).await? {
                return Some((Ok(Bytes::from_static(b":\n\n")), c));
            }
            let feed = c.rx.borrow_and_update().clone();
            let chunk = c.catch_up(&feed);
            if !chunk.is_empty() {
                return Some((Ok(Bytes::from(chunk)), c));
            }
        }
    }))
}

pub async fn runs_events(State(app): State<Arc<App>>) -> Response {
    let mut rx = Hub::follow_list(&app);
    // The current rows first, then each change.
    rx.mark_changed();
    event_stream(stream::unfold(rx, |mut rx| async move {
        loop {
            if !changed(&mut rx).await? {
                return Some((Ok(Bytes::from_static(b":\n\n")), rx));
            }
            let json = rx.borrow_and_update().clone();
            if !json.is_empty() {
                let mut out = String::new();
                message(&mut out, Some("runs"), None, &json);
                return Some((Ok(Bytes::from(out)), rx));
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::hub::Tail;

    fn client() -> Client {
        let (_tx, rx) = watch::channel(Arc::new(Feed::default()));
        Client { rx, last: 0, sent: HashMap::new(), told_error: false }
    }

    fn feed(logs: &[(&str, usize, &str)]) -> Feed {
        let logs = logs.iter().map(|(s, from, t)| (s.to_string(), Tail { from: *from, text: (*t).into() })).collect();
        Feed { events: Vec::new(), logs, error: None }
    }

    #[test]
    fn output_is_sent_once_and_an_empty_log_never() {
        let mut c = client();
        let out = c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\n")]));
        assert_eq!(out, "event: output\ndata: {\"from\":0,\"step\":\"b\",\"text\":\"one\\n\"}\n\n", "only b's output");
        assert_eq!(c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\n")])), "", "nothing new, nothing sent");
        let out = c.catch_up(&feed(&[("a", 0, ""), ("b", 0, "one\ntwo\n")]));
        assert!(out.contains("\"from\":4,") && out.contains("\"text\":\"two\\n\""), "{out}");
        assert_eq!(c.sent["b"], 8);
    }

    #[test]
    fn a_message_with_lines_is_a_data_line_each() {
        let mut out = String::new();
        message(&mut out, Some("unreadable"), None, "a\nb");
        message(&mut out, None, Some(7), "{}");
        assert_eq!(out, "event: unreadable\ndata: a\ndata: b\n\nid: 7\ndata: {}\n\n");
    }
}
