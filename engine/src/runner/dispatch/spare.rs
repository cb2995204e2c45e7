//! What a new session of a run can do without: the variables only steps
//! that stand read. A secret is journaled as `***`, so a resume must be
//! given it again; but a step that passed and stands does not run, and an
//! operator handed the incident at 3 a.m. may not hold the secret it read.
//!
//! Which steps stand is decided as the dispatcher decides at each step's
//! turn ([`super::step::again`]), from the run's state when the session
//! starts and without any secret's value ([`super::hash`]); a step stands
//! only if every step whose capture or output it reads stands too (one run
//! again may change what it renders). An undo block never stands: a
//! rollback may run it. Where this cannot tell, the step does not stand
//! and its variables are asked for as before.

use std::collections::{BTreeMap, BTreeSet};

use super::{hash, reads_stdout, step};
use crate::model::{Runbook, Step};
use crate::plan::Dag;
use crate::redact::Redactor;
use crate::run::RunState;
use crate::template::{Context, Templater};

/// The steps a new session over `st` keeps for certain, by index into
/// `rb.steps`. `ctx`: the template context the session starts with (the
/// run's restored captures and outputs, [`crate::runner::run_context`]).
pub fn kept(rb: &Runbook, dag: &Dag, st: &RunState, ctx: &Context, red: &Redactor) -> Vec<bool> {
    let t = Templater::new(rb);
    let reads = reads_stdout(rb);
    let mut kept = vec![false; rb.steps.len()];
    for &i in &dag.order {
        let s = &rb.steps[i];
        let Some(p) = st.step(&s.id).filter(|p| p.passed() && !p.undo) else { continue };
        let same = hash::unchanged(&t, rb, s, p, ctx, red);
        if step::again(p, same, reads[i]).is_some() {
            continue;
        }
        kept[i] = inputs(rb, &t, s).is_some_and(|from| from.iter().all(|&j| kept[j]));
    }
    kept
}

/// The names (variables, secrets among them) that only steps a new session
/// over `st` keeps ([`kept`]) read: it need not ask for them. A name no
/// step reads is not among them.
pub fn read_only_by_kept(rb: &Runbook, dag: &Dag, st: &RunState, ctx: &Context, red: &Redactor) -> BTreeSet<String> {
    let kept = kept(rb, dag, st, ctx, red);
    let t = Templater::new(rb);
    let mut readers: BTreeMap<String, bool> = BTreeMap::new();
    for (i, s) in rb.steps.iter().enumerate() {
        for n in t.names_used(s) {
            *readers.entry(n).or_insert(true) &= kept[i];
        }
    }
    readers.into_iter().filter(|(_, only_kept)| *only_kept).map(|(n, _)| n).collect()
}

/// The steps whose capture or output a template of `s` reads; `None` when
/// that cannot be told (`steps` indexed by something else, or iterated).
fn inputs(rb: &Runbook, t: &Templater, s: &Step) -> Option<Vec<usize>> {
    let names = t.names_used(s);
    let mut from: Vec<usize> = rb
        .steps
        .iter()
        .enumerate()
        .filter(|(_, p)| p.attrs.capture.as_ref().is_some_and(|c| names.contains(c)))
        .map(|(j, _)| j)
        .collect();
    if !names.contains("steps") {
        return Some(from);
    }
    let a = &s.attrs;
    let texts: Vec<&str> =
        [Some(&s.body), a.when.as_ref(), a.expect.as_ref(), a.cwd.as_ref(), a.confirm.as_ref(), a.escalate.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
    let refs = |id: &str| {
        texts.iter().any(|t| {
            t.contains(&format!("steps.{id}"))
                || t.contains(&format!("steps[\"{id}\"]"))
                || t.contains(&format!("steps['{id}']"))
        })
    };
    let named: Vec<usize> = (0..rb.steps.len()).filter(|&j| refs(&rb.steps[j].id)).collect();
    // Any other use of the word (`steps[x]`, `for s in steps`) may read any step.
    let dynamic = texts.iter().any(|t| {
        t.match_indices("steps").any(|(p, _)| {
            let after = &t[p + 5..];
            !(after.starts_with('.') || after.starts_with("[\"") || after.starts_with("['"))
        })
    });
    if named.is_empty() || dynamic {
        return None;
    }
    from.extend(named);
    Some(from)
}
