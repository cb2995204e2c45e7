//! A take-over reaching an engine that sits at a question on its terminal
//! (docs/team-mode.md): the question is taken off at once, unanswered, and
//! the engine ends as any taken-over engine does (exit 3, saying who has
//! the run); the new engine plays on. And the take-over question itself
//! ends with its input (Ctrl-D, a hang-up), never as an answer. Waits are
//! bounded by `RUNBOOK_TEST_WAIT`, never a sleep.

use crate::hangup::Pty;
use crate::postgres::{Bg, Checkout, Db, Shared, count, exit_of, server, wait_for};

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

/// B asks on its terminal whether to take over A's run; its input ends.
fn take_over_question(hang_up: bool) {
    let Some(server) = server() else { return };
    let db = Db::new(&server, if hang_up { "takeqhup" } else { "takeqeof" });
    let sh = Shared::new();
    let rb = sh.runbook();
    let (a, b) = (Checkout::new(&db.url, &[("gated", &rb)]), Checkout::new(&db.url, &[("gated", &rb)]));
    let mut first = Bg(a.spawn(&["play", "gated"], "first"));
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let mut second = Pty::on(b.cmd(&["play", "gated", "--take-over"]));
    second.expect("[y/N] ");
    let (code, said) = if hang_up {
        (second.hang_up(), String::new())
    } else {
        second.ctrl_d();
        (second.end(), second.seen().to_string())
    };
    assert_eq!(code, 130, "{said}");
    if !hang_up {
        let why = "interrupted at the take-over question (end of input: Ctrl-D): nothing was run";
        assert!(said.contains(why), "{said}");
    }
    // Not a "no", not a "yes": the first engine keeps its run and ends it.
    assert!(first.0.try_wait().unwrap().is_none(), "{}", a.output_of("first"));
    sh.open();
    assert!(exit_of(&mut first.0).success(), "{}", a.output_of("first"));
    assert_eq!(db.sql("SELECT count(*) FROM runbook_events WHERE body LIKE '%\"kind\":\"take-over\"%'"), "0");
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}: {}", std::fs::read_to_string(sh.log()).unwrap());
    }
}

#[test]
fn ctrl_d_at_the_take_over_question_takes_nothing_over() {
    take_over_question(false);
}

#[test]
fn closing_the_terminal_at_the_take_over_question_takes_nothing_over() {
    take_over_question(true);
}
