//! The pending steps whose dependencies are all done, by position in
//! `dag.order`: what the dispatcher goes through, rather than every pending
//! step on every turn (quadratic in a long runbook).
//!
//! A step the session's filters leave out *passes through*: it never runs,
//! and it is done once its own dependencies are, so that the steps after it
//! still wait for those before it (the order is transitive through it).

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
    /// Left out by a filter: done as soon as its dependencies are.
    passing: Vec<bool>,
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
        Ready { waiting, dependents, pos, set, done: vec![false; n], passing: vec![false; n] }
    }

    /// Step `i` is done (counted once): its dependents may become ready,
    /// and those passing through are done in turn.
    pub fn done(&mut self, i: usize) {
        let mut todo = vec![i];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut self.done[i], true) {
                continue;
            }
            if let Some(p) = self.pos[i] {
                self.set.remove(&p);
            }
            for &j in &self.dependents[i] {
                self.waiting[j] -= 1;
                if self.waiting[j] == 0 && !self.done[j] {
                    if self.passing[j] {
                        todo.push(j);
                    } else if let Some(p) = self.pos[j] {
                        self.set.insert(p);
                    }
                }
            }
        }
    }

    /// Step `i` is left out: it never starts, and is done once its
    /// dependencies are (at once if they already are).
    pub fn pass_through(&mut self, i: usize) {
        if self.done[i] || std::mem::replace(&mut self.passing[i], true) {
            return;
        }
        if let Some(p) = self.pos[i] {
            self.set.remove(&p);
        }
        if self.waiting[i] == 0 {
            self.done(i);
        }
    }

    /// Done, or left out (so never to start).
    pub fn settled(&self, i: usize) -> bool {
        self.done[i] || self.passing[i]
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
