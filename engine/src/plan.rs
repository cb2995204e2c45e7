//! The step DAG (SPEC §2.2, `needs`).
//!
//! Two kinds of edge: `needs` is a hard dependency (the step runs only if the
//! dependency passed), while the default edge to the previous step in document
//! order only orders. `undo` blocks are outside the graph: they run only as
//! rollbacks. The order is topological and stable (document order breaks
//! ties), and steps are grouped into levels that could run in parallel.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::model::Runbook;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// `needs=`: run only if the dependency passed.
    Needs,
    /// Document order: run after, whatever happened to it.
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Index into `runbook.steps`.
    pub from: usize,
    pub kind: EdgeKind,
}

#[derive(Debug, Clone)]
pub struct Dag {
    /// Incoming edges of all steps, step after step: those of step `i` are
    /// `edges[dep_start[i]..dep_start[i + 1]]` (one allocation, not one per step).
    edges: Vec<Edge>,
    dep_start: Vec<usize>,
    /// Step indices (undo blocks excluded) in a stable topological order.
    pub order: Vec<usize>,
    /// Parallel level of each step in `order` (0 = roots).
    pub level: Vec<usize>,
    /// The undo block of each step, by index.
    pub rollback: Vec<Option<usize>>,
}

impl Dag {
    pub fn build(rb: &Runbook) -> Result<Dag> {
        let mut errors = Vec::new();
        let file = &rb.path;
        // Step ids sorted (stable: the first of equal ids comes first), looked
        // up by binary search: cheaper than hashing for a runbook's few steps.
        let mut sorted: Vec<(&str, usize)> = rb.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut dups: Vec<(usize, usize)> = Vec::new();
        sorted.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                dups.push((later.1, first.1));
            }
            same
        });
        dups.sort_unstable();
        for (i, first) in dups {
            let s = &rb.steps[i];
            errors.push(
                Diagnostic::error("duplicate-id", format!("duplicate step id `{}`", s.id))
                    .at(file, s.line)
                    .hint(format!("the id is first used at line {}; rename one of them", rb.steps[first].line)),
            );
        }
        let index = Index(sorted);
        let mut edges: Vec<Edge> = Vec::with_capacity(rb.steps.len());
        let mut dep_start: Vec<usize> = Vec::with_capacity(rb.steps.len() + 1);
        dep_start.push(0);
        let mut rollback = vec![None; rb.steps.len()];
        let mut prev: Option<usize> = None;
        for (i, s) in rb.steps.iter().enumerate() {
            if let Some(r) = &s.attrs.rollback {
                match index.get(r) {
                    Some(&u) if rb.steps[u].attrs.undo => rollback[i] = Some(u),
                    Some(_) => errors.push(
                        Diagnostic::error(
                            "rollback-not-undo",
                            format!("`rollback={r}` names a step that is not an `undo` block"),
                        )
                        .at(file, s.line)
                        .hint(format!("add the flag `undo` to step `{r}` so it runs only as a rollback")),
                    ),
                    // Only an undo block can be rolled back to.
                    None => errors.push(unknown(
                        file,
                        s.line,
                        "rollback",
                        r,
                        rb.steps.iter().filter(|t| t.attrs.undo).map(|t| t.id.as_str()),
                    )),
                }
            }
            if s.attrs.undo {
                if s.attrs.needs.is_some() {
                    errors.push(
                        Diagnostic::error("undo-needs", format!("undo block `{}` has `needs`", s.id))
                            .at(file, s.line)
                            .hint("an undo block runs only as the rollback of the step that names it; drop `needs`"),
                    );
                }
                dep_start.push(edges.len());
                continue;
            }
            match &s.attrs.needs {
                Some(needs) => {
                    for n in needs {
                        match index.get(n) {
                            Some(&j) if j == i => errors.push(
                                Diagnostic::error("self-dependency", format!("step `{n}` needs itself"))
                                    .at(file, s.line)
                                    .hint("remove it from `needs`"),
                            ),
                            Some(&j) if rb.steps[j].attrs.undo => errors.push(
                                Diagnostic::error("needs-undo", format!("`needs={n}` names an undo block"))
                                    .at(file, s.line)
                                    .hint("undo blocks only run as rollbacks; depend on the step they undo"),
                            ),
                            Some(&j) => edges.push(Edge { from: j, kind: EdgeKind::Needs }),
                            // An undo block cannot be needed: never the suggestion.
                            None => errors.push(unknown(
                                file,
                                s.line,
                                "needs",
                                n,
                                rb.steps.iter().filter(|t| !t.attrs.undo).map(|t| t.id.as_str()),
                            )),
                        }
                    }
                }
                None => {
                    if let Some(p) = prev {
                        edges.push(Edge { from: p, kind: EdgeKind::After });
                    }
                }
            }
            prev = Some(i);
            dep_start.push(edges.len());
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let deps = |i: usize| &edges[dep_start[i]..dep_start[i + 1]];

        // Kahn's algorithm, smallest document index first for a stable order.
        let n = rb.steps.len();
        let mut indegree: Vec<usize> = (0..n).map(|i| deps(i).len()).collect();
        // Outgoing edges in one array (`out[start[i]..start[i + 1]]`).
        let mut start = vec![0usize; n + 1];
        for e in &edges {
            start[e.from + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut out = vec![0usize; start[n]];
        let mut fill = start.clone();
        for i in 0..n {
            for e in deps(i) {
                out[fill[e.from]] = i;
                fill[e.from] += 1;
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| indegree[i] == 0 && !rb.steps[i].attrs.undo).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        let mut level_of = vec![0usize; n];
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            level_of[i] = deps(i).iter().map(|e| level_of[e.from] + 1).max().unwrap_or(0);
            for &j in &out[start[i]..start[i + 1]] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(Reverse(j));
                }
            }
        }
        let graph_len = rb.steps.iter().filter(|s| !s.attrs.undo).count();
        if order.len() < graph_len {
            let cycle = find_cycle(deps, &indegree);
            let names: Vec<&str> = cycle.iter().map(|&i| rb.steps[i].id.as_str()).collect();
            let first = &rb.steps[cycle[0]];
            return Err(Error::invalid(
                Diagnostic::error("cycle", format!("dependency cycle: {}", names.join(" -> ")))
                    .at(file, first.line)
                    .hint("remove one of these `needs` so that the steps can be ordered"),
            ));
        }
        let level = order.iter().map(|&i| level_of[i]).collect();
        Ok(Dag { edges, dep_start, order, level, rollback })
    }

    /// The incoming edges of step `i`.
    pub fn deps(&self, i: usize) -> &[Edge] {
        &self.edges[self.dep_start[i]..self.dep_start[i + 1]]
    }

    /// The number of steps (undo blocks included).
    pub fn len(&self) -> usize {
        self.dep_start.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps grouped by parallel level, each group in document order.
    pub fn levels(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        for (&i, &l) in self.order.iter().zip(&self.level) {
            if out.len() <= l {
                out.resize(l + 1, Vec::new());
            }
            out[l].push(i);
        }
        for g in &mut out {
            g.sort_unstable();
        }
        out
    }

    /// What has certainly run before step `i` in a play: its ancestors; for
    /// an undo block, each step it rolls back and that step's ancestors.
    pub fn runs_before(&self, i: usize, undo: bool) -> std::collections::BTreeSet<usize> {
        if !undo {
            return self.ancestors(i).into_iter().collect();
        }
        let mut b = std::collections::BTreeSet::new();
        for (k, r) in self.rollback.iter().enumerate() {
            if *r == Some(i) {
                b.insert(k);
                b.extend(self.ancestors(k));
            }
        }
        b
    }

    /// Whether step `j` has certainly run before step `i` in a play
    /// ([`Dag::runs_before`]), found by a walk back from `i` that stops
    /// at `j`: a step mostly reads one a few steps back, and a walk of
    /// every ancestor for every step is quadratic on a long chain.
    pub fn ran_before(&self, i: usize, undo: bool, j: usize) -> bool {
        if undo {
            return self.runs_before(i, true).contains(&j);
        }
        let mut seen = vec![false; self.len()];
        let mut stack = vec![i];
        while let Some(k) = stack.pop() {
            for e in self.deps(k) {
                if e.from == j {
                    return true;
                }
                if !seen[e.from] {
                    seen[e.from] = true;
                    stack.push(e.from);
                }
            }
        }
        false
    }

    /// Every step that `i` transitively depends on (any edge kind).
    pub fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            for e in self.deps(j) {
                if !seen[e.from] {
                    seen[e.from] = true;
                    stack.push(e.from);
                }
            }
        }
        (0..seen.len()).filter(|&j| seen[j]).collect()
    }
}

/// Step ids to indices.
struct Index<'a>(Vec<(&'a str, usize)>);

impl Index<'_> {
    fn get(&self, id: &str) -> Option<&usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(id)).ok().map(|p| &self.0[p].1)
    }
}

fn unknown<'a>(
    file: &std::path::Path,
    line: usize,
    key: &str,
    name: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Diagnostic {
    let ids: Vec<&str> = ids.collect();
    let hint = match did_you_mean(name, ids.iter().copied()) {
        Some(m) => format!("did you mean `{m}`?"),
        None if ids.is_empty() => format!("no step here can be named by `{key}=`: remove it, or add the step it means"),
        None => format!("steps `{key}=` may name here: {}", ids.join(", ")),
    };
    if name.is_empty() {
        return Diagnostic::error("unknown-step", format!("`{key}=` is empty: it names no step"))
            .at(file, line)
            .hint(hint);
    }
    Diagnostic::error("unknown-step", format!("`{key}={name}` names no step")).at(file, line).hint(hint)
}

/// A cycle among the nodes Kahn's algorithm could not order, printed from its
/// first step in document order back to itself.
fn find_cycle<'e>(deps: impl Fn(usize) -> &'e [Edge], indegree: &[usize]) -> Vec<usize> {
    let stuck: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
    let start = stuck.iter().position(|&s| s).unwrap_or(0);
    // Walk dependencies backwards until a node repeats.
    let mut path = vec![start];
    let mut pos: HashMap<usize, usize> = HashMap::from([(start, 0)]);
    let mut cur = start;
    loop {
        let next = deps(cur).iter().map(|e| e.from).find(|&f| stuck[f]).unwrap_or(start);
        if let Some(&p) = pos.get(&next) {
            // path[p..] is the cycle, in "depends on" direction; print it in run order.
            let mut cycle: Vec<usize> = path[p..].to_vec();
            cycle.reverse();
            let min = cycle.iter().enumerate().min_by_key(|(_, i)| **i).map(|(k, _)| k).unwrap_or(0);
            cycle.rotate_left(min);
            cycle.push(cycle[0]);
            return cycle;
        }
        pos.insert(next, path.len());
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(md: &str) -> Dag {
        let rb = crate::parse::parse_str(std::path::Path::new("t.md"), md, String::new()).unwrap();
        Dag::build(&rb).unwrap()
    }

    #[test]
    fn ran_before_is_runs_before_one_step_at_a_time() {
        let d = dag(concat!(
            "```bash {#a}\na\n```\n",
            "```bash {#b rollback=u}\nb\n```\n",
            "```bash {#c needs=}\nc\n```\n",
            "```bash {#d needs=b}\nd\n```\n",
            "```bash {#u undo}\nu\n```\n",
        ));
        for i in 0..d.len() {
            let undo = i == 4;
            let before = d.runs_before(i, undo);
            for j in 0..d.len() {
                assert_eq!(d.ran_before(i, undo, j), before.contains(&j), "{i} after {j}");
            }
        }
        assert!(d.ran_before(3, false, 0) && !d.ran_before(3, false, 2) && !d.ran_before(1, false, 1));
    }

    #[test]
    fn no_steps() {
        let d = dag("---\nid: empty\n---\n# Nothing to run yet\n");
        assert_eq!((d.len(), d.order.len()), (0, 0));
        assert!(d.levels().is_empty());
    }

    #[test]
    fn edges_per_step() {
        let d = dag(concat!(
            "```bash {#a}\na\n```\n",
            "```bash {#b rollback=u}\nb\n```\n",
            "```bash {#u undo}\nu\n```\n",
            "```bash {#c needs=a,b}\nc\n```\n",
            "```bash {#d}\nd\n```\n",
        ));
        let deps = |i| d.deps(i).iter().map(|e| (e.from, e.kind)).collect::<Vec<_>>();
        assert_eq!(d.len(), 5);
        assert_eq!(deps(0), []);
        assert_eq!(deps(1), [(0, EdgeKind::After)]);
        assert_eq!(deps(2), [], "an undo block is outside the graph");
        assert_eq!(deps(3), [(0, EdgeKind::Needs), (1, EdgeKind::Needs)]);
        assert_eq!(deps(4), [(3, EdgeKind::After)]);
        assert_eq!(d.order, [0, 1, 3, 4]);
        assert_eq!(d.rollback[1], Some(2));
        assert_eq!(d.ancestors(4), [0, 1, 3]);
    }
}
