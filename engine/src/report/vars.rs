//! The values a variable had in each session of a run. The report's
//! Variables row shows the values in force at the end (each session's
//! overlay the last one's); a variable whose value changed between
//! sessions (`--resume --set replicas=5` after a first session with 3)
//! shows each value with the session it came in, so the row agrees with
//! the commands the steps ran. Values are as journaled: secrets stay `***`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run::event::{Event, VarRecord};

/// A value of a variable and the session that gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionValue {
    pub session: u32,
    #[serde(flatten)]
    pub value: VarRecord,
}

/// Each variable whose value changed between sessions, with every value it
/// took, in order (a session that gave the same value adds nothing).
pub fn changes(events: &[crate::run::Entry]) -> BTreeMap<String, Vec<SessionValue>> {
    let mut all: BTreeMap<String, Vec<SessionValue>> = BTreeMap::new();
    let mut session = 0;
    for e in events {
        let vars = match &e.event {
            Event::RunStart(r) => &r.vars,
            Event::Session(s) => &s.vars,
            _ => continue,
        };
        session += 1;
        for (k, v) in vars {
            let seen = all.entry(k.clone()).or_default();
            if seen.last().is_none_or(|l| l.value.value != v.value) {
                seen.push(SessionValue { session, value: v.clone() });
            }
        }
    }
    all.retain(|_, v| v.len() > 1);
    all
}

/// Where the value of `k` came from, as the operator gave it.
pub fn origin(k: &str, o: &str) -> String {
    match o {
        "runbook-var" => format!("{}{k}", crate::vars::ENV_PREFIX),
        o => origin_flag(o).to_string(),
    }
}

fn origin_flag(o: &str) -> &str {
    match o {
        "set" => "--set",
        "set-file" => "--set-file",
        "alert" => "--from-alert",
        "prompt" => "asked",
        "env" => "env profile",
        "front-matter" => "front matter",
        o => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> crate::run::Entry {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn only_values_that_changed_are_listed_each_with_its_session() {
        let events = [
            entry(
                r#"{"event":"run-start","run":"r","runbook":"a","path":"a.md","hash":"h","env":"local","operator":"u@h","vars":{"replicas":{"value":3,"origin":"set","secret":false},"ns":{"value":"x","origin":"env","secret":false}}}"#,
            ),
            entry(
                r#"{"event":"session","operator":"u@h","vars":{"replicas":{"value":3,"origin":"set","secret":false},"ns":{"value":"x","origin":"env","secret":false}}}"#,
            ),
            entry(
                r#"{"event":"session","operator":"u@h","vars":{"replicas":{"value":5,"origin":"set","secret":false},"ns":{"value":"x","origin":"env","secret":false}}}"#,
            ),
        ];
        let c = changes(&events);
        let got: Vec<(&str, u32, String)> =
            c.iter().flat_map(|(k, v)| v.iter().map(move |s| (k.as_str(), s.session, s.value.text()))).collect();
        assert_eq!(got, [("replicas", 1, "3".to_string()), ("replicas", 3, "5".to_string())]);
    }
}
