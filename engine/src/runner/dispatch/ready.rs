//! The pending steps whose dependencies are all done, by position in
//! `dag.order`: what the dispatcher goes through, rather than every pending
//! step on every turn (quadratic in a long runbook).

use std::collections::BTreeSet;

use crate::plan::Dag;

pub(super) struct Ready {
    /// Dependencies of each step not done yet.
    waiting: Vec<usize>,
    /// The steps that depend on each step.
    dependents: Vec<Vec<usize>>,
    /// Each step's position in `dag.order` (`None`: an undo block).
    pos: Vec<Option<usize>>,
    set: BTreeSet<usize>,
    done: Vec<bool>,
}

impl Ready {
    pub fn new(dag: &Dag) -> Ready {
        let n = dag.len();
        let mut pos = vec![None; n];
        for (p, &i) in dag.order.iter().enumerate() {
            pos[i] = Some(p);
        }
        let mut dependents = vec![Vec::new(); n];
        for i in 0..n {
            for e in dag.deps(i) {
                dependents[e.from].push(i);
            }
        }
        let waiting: Vec<usize> = (0..n).map(|i| dag.deps(i).len()).collect();
        let set = (0..n).filter(|&i| waiting[i] == 0).filter_map(|i| pos[i]).collect();
        Ready { waiting, dependents, pos, set, done: vec![false; n] }
    }

    /// Step `i` is done (counted once): its dependents may become ready.
    pub fn done(&mut self, i: usize) {
        if std::mem::replace(&mut self.done[i], true) {
            return;
        }
        if let Some(p) = self.pos[i] {
            self.set.remove(&p);
        }
        for &j in &self.dependents[i] {
            self.waiting[j] -= 1;
            if self.waiting[j] == 0
                && !self.done[j]
                && let Some(p) = self.pos[j]
            {
                self.set.insert(p);
            }
        }
    }

    pub fn is_done(&self, i: usize) -> bool {
        self.done[i]
    }

    /// The first ready position at or after `from`.
    pub fn next(&self, from: usize) -> Option<usize> {
        self.set.range(from..).next().copied()
    }

    /// The step at `pos` is no longer pending (it started).
    pub fn taken(&mut self, pos: usize) {
        self.set.remove(&pos);
    }

    /// Every step in the plan is done.
    pub fn all_done(&self, dag: &Dag) -> bool {
        dag.order.iter().all(|&i| self.done[i])
    }
}
