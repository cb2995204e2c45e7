//! Reading one journal line back into an [`Entry`], against the event
//! vocabulary this binary knows ([`VOCABULARY`]). A run's `run-start` and
//! each `session` say the vocabulary their engine wrote with (`v`), so a
//! journal says which engines wrote it. A line written by a newer engine,
//! or an event this binary does not know, is never misread nor dropped: it
//! is [`Unreadable`], and every store turns that into an error naming what
//! it found (exit 2; for a newer vocabulary: upgrade runbook), as the
//! shared store refuses a newer schema.

use serde::Deserialize;

use super::{Entry, Event};

/// The event vocabulary this binary writes and reads (`v` of `run-start`
/// and `session`): 1 the first format, 2 `seq` and `session`, 3 the
/// `resume` and `take-over` questions, `v` on `session`, an answer's `run`,
/// 4 the `variable` question (an answer's `var`, the reply `given`).
pub const VOCABULARY: u32 = super::event::FORMAT;

/// Why a line is not an event this binary can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Written by an engine of a newer vocabulary, this one.
    Newer(u32),
    /// An event this vocabulary has no name for.
    Unknown(String),
    /// Not an event: what the parser said.
    Bad(String),
}

impl Unreadable {
    /// What is wrong, for a message that says where.
    pub fn what(&self) -> String {
        match self {
            Unreadable::Newer(v) => {
                format!("written by a newer runbook (event vocabulary v{v}; this runbook reads up to v{VOCABULARY})")
            }
            Unreadable::Unknown(e) => {
                format!("unknown event `{e}` (not in event vocabulary v{VOCABULARY}, which this runbook reads)")
            }
            Unreadable::Bad(m) => m.clone(),
        }
    }

    /// The way out.
    pub fn hint(&self) -> &'static str {
        match self {
            Unreadable::Newer(_) | Unreadable::Unknown(_) => {
                "upgrade runbook on this machine to read, report or resume this run (an engine never writes to a run it cannot read)"
            }
            Unreadable::Bad(_) => {
                "start a new run with --fresh (the damaged run stays for the post-mortem; its leftover processes are killed first)"
            }
        }
    }

    /// The diagnostic code: `journal-version` for what a newer runbook
    /// reads, else `corrupt-journal`.
    pub fn code(&self) -> &'static str {
        match self {
            Unreadable::Newer(_) | Unreadable::Unknown(_) => "journal-version",
            Unreadable::Bad(_) => "corrupt-journal",
        }
    }
}

/// The vocabulary a line says it was written with, and its event's name,
/// read whatever else the line holds.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    v: Option<u32>,
}

/// One line of a journal (or one row of the shared store).
pub fn decode(line: &str) -> Result<Entry, Unreadable> {
    match serde_json::from_str::<Entry>(line) {
        Ok(e) => match version(&e.event) {
            v if v > VOCABULARY => Err(Unreadable::Newer(v)),
            _ => Ok(e),
        },
        Err(err) => {
            let peek = serde_json::from_str::<Peek>(line).ok();
            if let Some(v) = peek.as_ref().and_then(|p| p.v).filter(|&v| v > VOCABULARY) {
                return Err(Unreadable::Newer(v));
            }
            match peek.and_then(|p| p.event) {
                Some(name) if !known(&name) => Err(Unreadable::Unknown(name)),
                _ => Err(Unreadable::Bad(err.to_string())),
            }
        }
    }
}

/// The vocabulary an event says it was written with (0: it does not say).
fn version(e: &Event) -> u32 {
    match e {
        Event::RunStart(r) => r.v,
        Event::Session(s) => s.v,
        _ => 0,
    }
}

/// Is `name` an event of this vocabulary (whatever its fields)?
fn known(name: &str) -> bool {
    let probe = serde_json::json!({ "event": name });
    match serde_json::from_value::<Event>(probe) {
        Ok(_) => true,
        Err(e) => !e.to_string().starts_with("unknown variant"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = r#"{"seq":1,"event":"run-start","v":3,"run":"r","runbook":"a","path":"a.md","hash":"h","env":"e","operator":"u@h"}"#;

    #[test]
    fn this_vocabulary_reads() {
        assert!(matches!(decode(START).map(|e| e.event), Ok(Event::RunStart(_))));
        let note = r#"{"seq":2,"event":"note","text":"hi"}"#;
        assert!(decode(note).is_ok());
    }

    #[test]
    fn a_newer_start_or_session_is_refused_even_when_it_parses() {
        let start = START.replace(r#""v":3"#, r#""v":99"#);
        assert_eq!(decode(&start).unwrap_err(), Unreadable::Newer(99));
        let next = VOCABULARY + 1;
        let session = format!(r#"{{"seq":5,"event":"session","v":{next},"n":2,"operator":"u@h","kind":"a-new-kind"}}"#);
        assert_eq!(decode(&session).unwrap_err(), Unreadable::Newer(next));
        let session = format!(r#"{{"seq":5,"event":"session","v":{next},"n":2,"operator":"u@h"}}"#);
        assert_eq!(decode(&session).unwrap_err(), Unreadable::Newer(next));
    }

    #[test]
    fn an_unknown_event_is_named_never_dropped() {
        let e = decode(r#"{"seq":3,"event":"step-paused","step":"a"}"#).unwrap_err();
        assert_eq!(e, Unreadable::Unknown("step-paused".into()));
        assert_eq!(e.code(), "journal-version");
        // A known event with a field it lacks is damage, not a newer event.
        let e = decode(r#"{"seq":3,"event":"note"}"#).unwrap_err();
        assert!(matches!(&e, Unreadable::Bad(m) if m.contains("text")), "{e:?}");
        assert!(matches!(decode("{\"seq\":3,").unwrap_err(), Unreadable::Bad(_)));
    }

    #[test]
    fn every_event_name_is_known() {
        for name in [
            "run-start",
            "session",
            "resume",
            "excluded",
            "step-start",
            "spawned",
            "answer",
            "guard",
            "step-end",
            "stop",
            "rollback",
            "note",
            "run-end",
        ] {
            assert!(known(name), "{name}");
        }
        assert!(!known("no-such-event"));
    }
}
