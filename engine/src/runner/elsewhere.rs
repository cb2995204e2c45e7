//! The steps a session cannot reap: a step in flight when its engine, on
//! another machine, was killed or is taken over may still run there (its
//! process group is out of reach of this machine). Same-machine leftovers
//! are killed by the session ([`super::session`]); for these, the refusal
//! and the session's notes say which step, on which host, with which
//! process group, and how to stop it there (docs/team-mode.md).

use crate::error::Error;
use crate::run::RunState;
use crate::store::{Holder, Store};

/// `step `S` was in flight on host H (process group G)`, and the command
/// that stops it there, for each step in flight of `st`.
fn in_flight(st: &RunState, host: &str) -> Vec<(String, String)> {
    st.in_flight()
        .into_iter()
        .map(|id| match st.step(id).and_then(|s| s.pgid) {
            Some(g) => (
                format!("step `{id}` was in flight on host {host} (process group {g})"),
                format!("make sure it is not still running there (`kill -- -{g}` on {host})"),
            ),
            None => (
                format!("step `{id}` was in flight on host {host} (its process group was not recorded)"),
                "make sure it is not still running there".to_string(),
            ),
        })
        .collect()
}

/// A refusal naming a holder of another machine, with a hint for each
/// step of its run in flight (read from the store; nothing is added when
/// they cannot be read).
pub fn refusal(store: &dyn Store, runbook: &str, env: &str, e: Error) -> Error {
    let Error::Refused(msg) = e else { return e };
    let Some(h) = store.holder(runbook, env).ok().flatten().filter(|h| h.elsewhere) else {
        return Error::Refused(msg);
    };
    let run = if h.run.is_empty() {
        store.latest(runbook, env).ok().flatten().map(|l| l.id).unwrap_or_default()
    } else {
        h.run.clone()
    };
    let Some(st) = (!run.is_empty()).then(|| store.events(&run).ok()).flatten().map(|ev| RunState::from_entries(&ev))
    else {
        return Error::Refused(msg);
    };
    let hints: String = in_flight(&st, &h.host)
        .into_iter()
        .map(|(what, how)| format!("\n  hint: {what}: {how} before --take-over"))
        .collect();
    Error::Refused(format!("{msg}{hints}"))
}

/// The notes of a session that took run `id` (its state `st`) from
/// `previous`, a holder of another machine: its steps in flight run again
/// here, and may still run there.
pub fn notes(previous: Option<&Holder>, id: &str, st: &RunState) -> Vec<String> {
    match previous {
        Some(h) if h.elsewhere && (h.run.is_empty() || h.run == id) => {
            in_flight(st, &h.host).into_iter().map(|(what, how)| format!("{what} and runs again here: {how}")).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Entry;

    fn state(lines: &[&str]) -> RunState {
        let entries: Vec<Entry> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        RunState::from_entries(&entries)
    }

    const RUN: &[&str] = &[
        r#"{"seq":1,"event":"run-start","v":1,"run":"r","runbook":"a","path":"runbooks/a.md","hash":"h","env":"local","vars":{},"operator":"u@vm-a","pid":7}"#,
        r#"{"seq":2,"event":"step-start","step":"done","attempt":1,"command":"true","command_hash":"c"}"#,
        r#"{"seq":3,"event":"spawned","step":"done","pgid":11,"born_ms":9}"#,
        r#"{"seq":4,"event":"step-end","step":"done","status":"passed","exit":0,"duration_ms":1}"#,
        r#"{"seq":5,"event":"step-start","step":"wait","attempt":1,"command":"sleep 12","command_hash":"c"}"#,
        r#"{"seq":6,"event":"spawned","step":"wait","pgid":2553,"born_ms":99}"#,
        r#"{"seq":7,"event":"step-start","step":"early","attempt":1,"command":"true","command_hash":"c"}"#,
    ];

    #[test]
    fn a_holder_of_another_machine_is_named_with_each_step_in_flight_and_its_process_group() {
        let st = state(RUN);
        let h = |elsewhere, run: &str| Holder { elsewhere, run: run.into(), host: "vm-a".into(), ..Holder::me() };
        assert_eq!(
            notes(Some(&h(true, "r")), "r", &st),
            [
                "step `wait` was in flight on host vm-a (process group 2553) and runs again here: make sure it is not still running there (`kill -- -2553` on vm-a)",
                "step `early` was in flight on host vm-a (its process group was not recorded) and runs again here: make sure it is not still running there",
            ]
        );
        assert!(notes(Some(&h(false, "r")), "r", &st).is_empty(), "this machine's leftovers are killed");
        assert!(notes(Some(&h(true, "other")), "r", &st).is_empty(), "another run's holder");
        assert!(notes(None, "r", &st).is_empty());
    }
}
