//! A take-over reaching an engine that sits at a question on its terminal
//! (docs/team-mode.md): the question is taken off at once, unanswered, and
//! the engine ends as any taken-over engine does (exit 3, saying who has
//! the run); the new engine plays on. Waits are bounded by
//! `RUNBOOK_TEST_WAIT`, never a sleep.

use crate::hangup::Pty;
use crate::postgres::{Bg, Checkout, Db, Shared, count, exit_of, server};

/// `s1` asks first; `s2` waits for the gate; `s3` after it.
fn asking_first(sh: &Shared) -> String {
    let (log, gate) = (sh.log(), sh.gate());
    let (log, gate) = (log.display(), gate.display());
    format!(
        "# Asking first\n\n```bash {{#s1 confirm=\"go?\"}}\necho s1 >> {log}\n```\n\n```bash {{#s2}}\necho s2-start >> {log}\nwhile [ ! -e {gate} ]; do sleep 0.02; done\necho s2 >> {log}\n```\n\n```bash {{#s3}}\necho s3 >> {log}\n```\n"
    )
}

#[test]
fn a_take_over_cancels_the_question_the_first_engine_is_asking() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "takeprompt");
    let sh = Shared::new();
    let rb = asking_first(&sh);
    let (a, b) = (Checkout::new(&db.url, &[("asking", &rb)]), Checkout::new(&db.url, &[("asking", &rb)]));
    let mut first = Pty::on(a.cmd(&["play", "asking"]));
    first.expect("run it?");
    let mut second = Bg(b.spawn(&["play", "asking", "--take-over", "--yes"], "second"));
    // Nobody answers the first engine's question: the take-over ends it.
    let code = first.end();
    let said = first.seen().to_string();
    assert_eq!(code, 3, "{said}");
    assert!(said.contains("taken over by") && said.contains(&format!("pid {}", second.0.id())), "{said}");
    assert_eq!(said.matches("taken over by").count(), 1, "said once: {said}");
    assert!(!said.contains("run it?"), "the question was asked again: {said}");
    for noise in ["failed", "--resume", "interrupted", "[s1]"] {
        assert!(!said.contains(noise), "the taken-over engine says only who has the run ({noise}): {said}");
    }
    // Ended before the new engine could: its `s2` waits for the gate.
    assert!(second.0.try_wait().unwrap().is_none(), "{}", b.output_of("second"));
    sh.open();
    assert!(exit_of(&mut second.0).success(), "{}", b.output_of("second"));
    // One answer: the new engine's `--yes`; none from the cancelled question.
    let answers = db.sql(
        "SELECT string_agg((body::json->>'step') || ':' || (body::json->>'how'), ' ' ORDER BY seq) FROM runbook_events WHERE body::json->>'event' = 'answer'",
    );
    assert_eq!(answers, "s1:yes");
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}: {}", std::fs::read_to_string(sh.log()).unwrap());
    }
}
