//! The query half of `play --record-fixture`: the real servers answer the
//! promql, logql and http steps, and each answer is kept as a
//! `[[scenario.query]]` (see [`crate::observe::fixture`] for the format).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::observe::prom::{QueryResult, Range};
use crate::observe::{Backend, Servers, fixture, http};
use crate::redact::Redactor;

use super::fixture::toml_string;

/// One query and the answers it got, in order.
struct Asked {
    kind: &'static str,
    text: String,
    /// Each answer as `key = value` pairs of the fixture format.
    answers: Vec<Vec<(String, String)>>,
}

/// Answers from the real servers, and remembers them.
pub struct Recorder {
    inner: Arc<dyn Backend>,
    asked: Mutex<Vec<Asked>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Backend>) -> Recorder {
        Recorder { inner, asked: Mutex::new(Vec::new()) }
    }

    fn keep(&self, kind: &'static str, text: &str, answer: Vec<(String, String)>) {
        let text = fixture::normalize(text);
        let mut asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
        match asked.iter_mut().find(|a| a.kind == kind && a.text == text) {
            Some(a) => a.answers.push(answer),
            None => asked.push(Asked { kind, text, answers: vec![answer] }),
        }
    }

    /// The `[[scenario.query]]` tables (as TOML bodies), secrets masked: a
    /// secret in the query text is a `*`, in an answer `***`.
    pub fn tables(&self, red: &Redactor, secrets: &[String]) -> Vec<String> {
        let asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
        asked
            .iter()
            .map(|a| {
                let mut pattern = a.text.replace('\\', "\\\\").replace('*', "\\*").replace('?', "\\?");
                for s in secrets {
                    pattern = pattern.replace(s.as_str(), "*");
                }
                let mut t = format!("kind = \"{}\"\nmatch = {}\n", a.kind, toml_string(&pattern));
                let mask = |pairs: &Vec<(String, String)>| -> Vec<(String, String)> {
                    pairs.iter().map(|(k, v)| (k.clone(), red.redact(v).into_owned())).collect()
                };
                if a.answers.iter().all(|x| *x == a.answers[0]) {
                    for (k, v) in mask(&a.answers[0]) {
                        t.push_str(&format!("{k} = {v}\n"));
                    }
                } else {
                    t.push_str("sequence = [\n");
                    for x in &a.answers {
                        let kv: Vec<String> = mask(x).iter().map(|(k, v)| format!("{k} = {v}")).collect();
                        t.push_str(&format!("  {{ {} }},\n", kv.join(", ")));
                    }
                    t.push_str("]\n");
                }
                t
            })
            .collect()
    }
}

fn result_pairs(r: &Result<QueryResult, String>, logs: bool) -> Vec<(String, String)> {
    let r = match r {
        Err(e) => return vec![("error".into(), toml_string(e))],
        Ok(r) => r,
    };
    if logs {
        let lines: Vec<String> = r.series.iter().flat_map(|s| s.samples.iter().map(|(_, l)| toml_string(l))).collect();
        return vec![("lines".into(), format!("[{}]", lines.join(", ")))];
    }
    if let [one] = &r.series[..]
        && one.labels.is_empty()
    {
        let v = one.samples.last().map(|(_, v)| v.as_str()).unwrap_or_default();
        return vec![("value".into(), toml_string(v))];
    }
    let rows: Vec<String> = r
        .series
        .iter()
        .map(|s| {
            let labels: Vec<String> =
                s.labels.iter().map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v))).collect();
            let v = s.samples.last().map(|(_, v)| v.as_str()).unwrap_or_default();
            format!("{{ labels = {{ {} }}, value = {} }}", labels.join(", "), toml_string(v))
        })
        .collect();
    vec![("rows".into(), format!("[{}]", rows.join(", ")))]
}

impl Backend for Recorder {
    fn prometheus(&self, s: &Servers, expr: &str, range: Option<Range>, t: Duration) -> Result<QueryResult, String> {
        let r = self.inner.prometheus(s, expr, range, t);
        self.keep("promql", expr, result_pairs(&r, false));
        r
    }

    fn loki(&self, s: &Servers, expr: &str, range: Range, t: Duration) -> Result<QueryResult, String> {
        let r = self.inner.loki(s, expr, range, t);
        self.keep("logql", expr, result_pairs(&r, true));
        r
    }

    fn http(&self, req: &http::Request, t: Duration) -> Result<http::Response, String> {
        let r = self.inner.http(req, t);
        let pairs = match &r {
            Ok(resp) => vec![("status".into(), resp.status.to_string()), ("body".into(), toml_string(&resp.body))],
            Err(e) => vec![("error".into(), toml_string(e))],
        };
        self.keep("http", &fixture::http_key(req), pairs);
        r
    }
}
