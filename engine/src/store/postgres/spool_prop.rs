//! The spool's promise as a property (the same rule as `spool::decide`, in
//! a simulated team): two machines play sessions of one run; any session
//! may lose the database part way (its last events kept in its machine's
//! spool, some of them perhaps stored by an attempt whose answer was lost),
//! and the next session on a machine writes its spool back first. Whatever
//! the order, the stored events are one history: seqs contiguous, each
//! session's events after the earlier sessions' (tokens never decrease),
//! and a spool is either written back whole or set aside, never dropped.

use proptest::prelude::*;

use super::spool::{Decision, Spool, Stored, decide};
use crate::run::event::Note;
use crate::run::{Entry, Event};

/// One session: on which machine, how many events it makes, how many of
/// them reach the database before it goes away (all: no outage), and how
/// many of the rest were stored anyway (an answer lost).
#[derive(Debug, Clone)]
struct Session {
    machine: usize,
    events: u64,
    reached: u64,
    lost_answers: u64,
}

fn session() -> impl Strategy<Value = Session> {
    (0..2usize, 1..6u64, 0..7u64, 0..3u64).prop_map(|(machine, events, reached, lost_answers)| Session {
        machine,
        events,
        reached: reached.min(events),
        lost_answers,
    })
}

fn event(seq: u64, token: i64) -> Entry {
    Entry { seq, at: String::new(), event: Event::Note(Note { step: None, text: format!("session {token}") }) }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn whatever_order_of_outages_and_resumes_the_run_is_one_history(sessions in prop::collection::vec(session(), 1..12)) {
        // The run's first event, then the sessions.
        let mut stored: Vec<Stored> = vec![(1, Some(1), serde_json::to_string(&event(1, 1)).unwrap())];
        let mut spools: [Option<Spool>; 2] = [None, None];
        let (mut token, mut spooled, mut settled) = (1i64, 0usize, 0usize);
        for s in sessions {
            token += 1;
            // The lock is taken; this machine's spool first.
            if let Some(sp) = spools[s.machine].take() {
                let max = stored.len() as u64;
                let from = sp.entries.first().map_or(0, |e| e.seq.saturating_sub(1));
                let tail: Vec<Stored> = stored.iter().filter(|e| e.0 >= from).cloned().collect();
                match decide(&sp, max, &tail) {
                    Decision::Write(rest) => {
                        prop_assert_eq!(rest.first().map(|e| e.seq), Some(max + 1), "written right after the last");
                        for e in rest {
                            stored.push((e.seq, sp.token, serde_json::to_string(&e).unwrap()));
                        }
                    }
                    Decision::Done => {
                        let last = sp.entries.last().map_or(0, |e| e.seq);
                        prop_assert!(last <= max, "done only when every event is stored");
                    }
                    Decision::Aside(_) => {}
                }
                settled += 1;
            }
            // Its events, up to an outage.
            let next = stored.len() as u64 + 1;
            let made: Vec<Entry> = (next..next + s.events).map(|q| event(q, token)).collect();
            let (reached, rest) = made.split_at(s.reached as usize);
            for e in reached.iter().chain(rest.iter().take(s.lost_answers as usize)) {
                stored.push((e.seq, Some(token), serde_json::to_string(e).unwrap()));
            }
            if !rest.is_empty() {
                spools[s.machine] = Some(Spool { token: Some(token), entries: rest.to_vec(), unreadable: None });
                spooled += 1;
            }
            // One history.
            for (i, e) in stored.iter().enumerate() {
                prop_assert_eq!(e.0, i as u64 + 1, "seqs contiguous");
            }
            for w in stored.windows(2) {
                prop_assert!(w[0].1 <= w[1].1, "a session's events after a later one's: {:?}", stored);
            }
        }
        let pending = spools.iter().filter(|s| s.is_some()).count();
        prop_assert_eq!(spooled, settled + pending, "every spool written back or set aside, none dropped");
    }
}
