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
use super::feed::{Feed, message, output};
use super::hub::Hub;

/// A comment line every so often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Default, Deserialize)]
pub struct After {
    after: Option<u64>,
}

/// A client of a run's stream: what it has been sent.
struct Client {
    rx: watch::Receiver<Arc<Feed>>,
    /// The feed it is up to date with (0: none yet).
    generation: u64,
    last: u64,
    sent: HashMap<String, usize>,
    told_error: bool,
}

impl Client {
    /// What the feed has that this client was not sent, as one chunk (one
    /// write for a burst of events): the feed's own chunks when the client
    /// was up to date with one of the last, else made for this client.
    fn next(&mut self, feed: &Feed) -> Bytes {
        if let Some(b) = feed.since(self.generation) {
            self.generation = feed.generation;
            self.last = self.last.max(feed.events.last().map_or(0, |e| e.seq));
            self.told_error |= feed.told;
            // Its output positions are the feed's now.
            self.sent.clear();
            return b;
        }
        self.generation = feed.generation;
        Bytes::from(self.catch_up(feed))
    }

    /// Everything of the feed this client was not sent, made for it.
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
            output(&mut out, step, from, text);
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
    let client = Client { rx, generation: 0, last, sent: HashMap::new(), told_error: false };
    event_stream(stream::unfold(client, |mut c| async move {
        loop {
            if !changed(&mut c.rx).await? {
                return Some((Ok(Bytes::from_static(b":\n\n")), c));
            }
            let feed = c.rx.borrow_and_update().clone();
            let chunk = c.next(&feed);
            if !chunk.is_empty() {
                return Some((Ok(chunk), c));
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
            let msg = rx.borrow_and_update().clone();
            if !msg.is_empty() {
                return Some((Ok(msg), rx));
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::feed::Tail;

    fn client() -> Client {
        let (_tx, rx) = watch::channel(Arc::new(Feed::default()));
        Client { rx, generation: 0, last: 0, sent: HashMap::new(), told_error: false }
    }

    fn feed(logs: &[(&str, usize, &str)]) -> Feed {
        let logs = logs.iter().map(|(s, from, t)| (s.to_string(), Tail { from: *from, text: (*t).into() })).collect();
        Feed { logs, ..Feed::default() }
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

    /// What a browser does with the stream: the events' ids, and each
    /// step's output (appended when it starts where the page's ends, else
    /// replacing it).
    #[derive(Default)]
    struct Page {
        ids: Vec<u64>,
        out: HashMap<String, String>,
        unreadable: usize,
    }

    impl Page {
        fn read(&mut self, chunk: &[u8]) {
            for m in std::str::from_utf8(chunk).unwrap().split("\n\n").filter(|m| !m.is_empty()) {
                let field = |k: &str| m.lines().find_map(|l| l.strip_prefix(k)).map(str::to_string);
                match field("event: ").as_deref() {
                    Some("output") => {
                        let v: serde_json::Value = serde_json::from_str(&field("data: ").unwrap()).unwrap();
                        let (step, from, text) =
                            (v["step"].as_str().unwrap(), v["from"].as_u64().unwrap(), v["text"].as_str().unwrap());
                        let have = self.out.entry(step.to_string()).or_default();
                        if from as usize == have.len() {
                            have.push_str(text);
                        } else if from as usize + text.len() > have.len() {
                            *have = text.to_string();
                        }
                    }
                    Some("unreadable") => self.unreadable += 1,
                    _ => self.ids.push(field("id: ").unwrap().parse().unwrap()),
                }
            }
        }
    }

    fn note(seq: u64) -> crate::run::Entry {
        let text = format!("n{seq}");
        crate::run::Entry {
            seq,
            at: String::new(),
            event: crate::run::Event::Note(crate::run::event::Note { step: None, text }),
        }
    }

    /// Clients that follow every feed, join late, miss a few feeds or many
    /// (slow readers) all end with every event once, in order, and every
    /// step's output whole: the shared chunks and the catch-up agree.
    #[test]
    fn every_client_gets_every_event_once_and_the_whole_output() {
        use crate::serve::hub::{Poller, Read};
        use crate::store::LogTail;
        let log: String = (0..400).map(|i| format!("line {i} é\n")).collect();
        let mut poller = Poller::default();
        // (joins at feed, reads every nth feed)
        let plan = [(0u64, 1u64), (5, 1), (0, 3), (0, 70), (150, 2)];
        let mut clients: Vec<(Client, Page)> = plan.iter().map(|_| (client(), Page::default())).collect();
        let (mut seq, mut written) = (0u64, 0usize);
        for round in 1..=200u64 {
            let mut events = Vec::new();
            if round % 2 == 0 {
                seq += 1;
                events.push(note(seq));
            }
            written = (written + 37).min(log.len());
            let since = poller.ends().get("s").copied().unwrap_or(0);
            let read = LogTail::cut(&log.as_bytes()[..written], since, 64 * 1024);
            let r = Read { events: Ok(events), mark: 0, logs: vec![("s".into(), Some(read))] };
            let (chunk, changed, error) = poller.take(Ok(r));
            if !changed {
                continue;
            }
            let feed = poller.publish(chunk, error);
            for ((c, page), (join, every)) in clients.iter_mut().zip(plan) {
                if feed.generation >= join && (feed.generation % every == 0 || round == 200) {
                    page.read(&c.next(&feed));
                }
            }
        }
        for ((_, page), (join, every)) in clients.iter().zip(plan) {
            assert_eq!(page.ids, (1..=seq).collect::<Vec<_>>(), "client ({join}, {every})");
            assert_eq!(page.out["s"], log, "client ({join}, {every})");
        }
    }
}
