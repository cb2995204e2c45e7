//! The runs list as its poller keeps it: each run's fold, brought up to
//! date with the events added since the last read ([`Store::events_follow`]),
//! so a runs page open on a store of a thousand runs reads what changed,
//! not every journal whole a few times a second. Every [`REREAD`] reads
//! the journals are read whole again (a journal damaged in place, not
//! appended to, shows then). The rows are those of [`crate::report::list`]
//! (`runs --json`), which a test checks.

use std::collections::HashMap;

use crate::error::Result;
use crate::report::{self, RunRow};
use crate::run::RunState;
use crate::store::Store;

/// Every this many reads, the list is read whole again.
pub const REREAD: u32 = 100;

#[derive(Default)]
struct Followed {
    mark: u64,
    state: RunState,
    error: Option<String>,
}

/// Every run's fold, as the last read left it.
#[derive(Default)]
pub struct Runs {
    runs: HashMap<String, Followed>,
    reads: u32,
}

impl Runs {
    /// The rows of `runs --json`, reading only what was added.
    pub fn rows(&mut self, store: &dyn Store) -> Result<Vec<RunRow>> {
        self.reads += 1;
        if self.reads.is_multiple_of(REREAD) {
            self.runs.clear();
        }
        let playing = store.playing()?;
        let ids = store.runs()?;
        self.runs.retain(|id, _| ids.contains(id));
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let f = self.runs.entry(id.clone()).or_default();
            match store.events_follow(&id, f.state.last_seq, &mut f.mark) {
                Ok(new) => {
                    new.iter().for_each(|e| f.state.apply(e));
                    f.error = None;
                }
                Err(e) => {
                    // Read anew next time, as `runs` would.
                    *f = Followed { error: Some(e.to_string()), ..Followed::default() };
                }
            }
            if let Some(e) = &f.error {
                rows.push(report::corrupt_row(&id, e.clone()));
                continue;
            }
            let mut r = report::row(&id, &f.state);
            // A shared store knows what is played on every machine.
            if let Some(p) = &playing
                && r.ended.is_none()
                && matches!(r.status.as_str(), "running" | "unfinished")
            {
                r.status = if p.contains(&id) { "running" } else { "unfinished" }.into();
            }
            rows.push(r);
        }
        report::supersede(&mut rows);
        Ok(rows)
    }

    /// The rows as JSON.
    pub fn json(&mut self, store: &dyn Store) -> Result<String> {
        Ok(serde_json::to_string(&self.rows(store)?).map_err(anyhow::Error::from)?)
    }
}
