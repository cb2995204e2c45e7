//! The runbook version (the file's sha256) each session of a run played.
//! A resume plays the runbook as it is on disk then: when it was edited
//! between sessions, the steps of one session ran one text and those of the
//! next another. The report says which steps ran under which version, so
//! that a reader of the incident knows what each command came from.

use serde::Serialize;

use super::Entry;
use crate::run::Event;

/// The sha256 of the runbook each session played, in session order (a
/// session that recorded none played the one before it).
pub fn of_sessions(events: &[crate::run::Entry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let hash = match &e.event {
            Event::RunStart(r) => &r.hash,
            Event::Session(s) => &s.hash,
            _ => continue,
        };
        let hash = if hash.is_empty() { out.last().cloned().unwrap_or_default() } else { hash.clone() };
        out.push(hash);
    }
    out
}

/// One version of the runbook and what ran under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// The runbook file's sha256.
    pub hash: String,
    /// The sessions, one after another, that played it.
    pub sessions: Vec<u32>,
    /// The steps (and undo blocks) that ran in those sessions, each once,
    /// in the order they first started.
    pub steps: Vec<String>,
}

/// The versions of a run, one per stretch of sessions that played the same
/// runbook (`sessions`: each session's number and hash), with the steps
/// that ran under each.
pub fn versions(sessions: &[(u32, String)], timeline: &[Entry]) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for (n, hash) in sessions {
        match out.last_mut() {
            Some(v) if v.hash == *hash => v.sessions.push(*n),
            _ => out.push(Version { hash: hash.clone(), sessions: vec![*n], steps: Vec::new() }),
        }
    }
    for v in &mut out {
        for e in timeline.iter().filter(|e| e.started.is_some() && v.sessions.contains(&e.session)) {
            if !v.steps.contains(&e.step) {
                v.steps.push(e.step.clone());
            }
        }
    }
    out
}
