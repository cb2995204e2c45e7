//! Links of a report's query steps: the Prometheus graph of a promql step's
//! query over the window it looked at, Grafana Explore (or the Loki API) for
//! a logql step. Computed from the journal (the rendered query, the step's
//! times, the run's variables) and the runbook file (which steps are
//! queries, their `range`/`soak`), so the journal format stays as it is.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use super::{QueryKind, Servers, link};
use crate::run::event::VarRecord;
use crate::vars::{Origin, Resolved};

/// Window of a graph link when the step has no `range=`/`soak=` longer than it.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

pub struct Links {
    steps: HashMap<String, (QueryKind, Option<Duration>, Option<Duration>)>,
    servers: Servers,
}

impl Links {
    /// `runbook` as recorded in the journal; `root` is tried for a relative path.
    pub fn new(runbook: &Path, root: Option<&Path>, vars: &BTreeMap<String, VarRecord>) -> Links {
        let candidates = [Some(runbook.to_path_buf()), root.map(|r| r.join(runbook))];
        let rb = candidates.into_iter().flatten().find(|p| p.is_file()).and_then(|p| crate::parse::parse_file(&p).ok());
        let steps = rb
            .map(|rb| {
                rb.steps
                    .iter()
                    .filter_map(|s| s.kind.query().map(|k| (s.id.clone(), (k, s.attrs.range, s.attrs.soak))))
                    .collect()
            })
            .unwrap_or_default();
        let mut r = Resolved::default();
        for (k, v) in vars.iter().filter(|(_, v)| !v.secret) {
            let o = if crate::vars::Channel::from_origin(&v.origin).is_some() { Origin::Set } else { Origin::Env };
            r.insert(k.clone(), v.value.clone(), o);
        }
        Links { steps, servers: Servers::resolve(&r, &|k| std::env::var(k).ok()) }
    }

    /// `(label, url)` for a step that ran `command` from `started` to `ended` (RFC 3339).
    pub fn link(&self, step: &str, command: &str, started: Option<&str>, ended: &str) -> Option<(String, String)> {
        let (kind, range, soak) = *self.steps.get(step)?;
        let secs = |t: &str| {
            crate::runner::time::parse(t)?.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
        };
        let end = secs(ended)?;
        let window = range.unwrap_or_else(|| DEFAULT_WINDOW.max(soak.unwrap_or_default()));
        let start = started.and_then(secs).unwrap_or(end).min(end - window.as_secs_f64());
        match kind {
            QueryKind::Promql => {
                let base = self.servers.prometheus.as_deref()?;
                Some(("Prometheus graph".into(), link::prometheus(base, command, end, window)))
            }
            QueryKind::Logql => match (&self.servers.grafana, &self.servers.loki) {
                (Some(g), _) => Some((
                    "Grafana Explore".into(),
                    link::grafana_explore(g, &self.servers.loki_datasource, command, start, end),
                )),
                (None, Some(l)) => Some(("Loki query".into(), link::loki_api(l, command, start, end))),
                _ => None,
            },
            QueryKind::Http => None,
        }
    }
}
