//! The dispatcher without processes: a runbook, a run's events, and the
//! decisions that must follow from them.

use std::path::{Path, PathBuf};

use super::*;
use crate::run::event::*;
use crate::run::{Entry, RunState};

fn runbook(md: &str) -> (Runbook, Dag) {
    let rb = crate::parse::parse_str(Path::new("r.md"), md, "h".into()).expect("parses");
    let dag = Dag::build(&rb).expect("plans");
    (rb, dag)
}

fn policy(kind: Option<SessionKind>) -> Policy {
    Policy {
        confirm: ConfirmPolicy::Marked,
        guard: false,
        answering: Answering::Yes,
        step_mode: false,
        jobs: 4,
        mode: Mode::default(),
        root: PathBuf::from("/"),
        kind,
        terminal: true,
        resume: "runbook play r --resume".into(),
    }
}

fn entries(events: Vec<Event>) -> Vec<Entry> {
    events.into_iter().enumerate().map(|(n, event)| Entry { seq: n as u64 + 1, at: String::new(), event }).collect()
}

pub(super) fn start_event() -> Event {
    Event::RunStart(RunStart::example("r", "r"))
}

pub(super) fn session(kind: SessionKind) -> Event {
    Event::Session(Session {
        v: 0,
        n: 0,
        run: "r".into(),
        runbook: "r".into(),
        env: "local".into(),
        kind,
        operator: "u@h".into(),
        pid: 2,
        hash: "h".into(),
        vars: Default::default(),
        mode: None,
        answering: Answering::Yes,
        step_mode: false,
        plan: None,
    })
}

fn started(id: &str, command: &str) -> Event {
    Event::StepStart(StepStart {
        step: id.into(),
        line: 1,
        attempt: 1,
        command: command.into(),
        command_hash: hash::hash(command),
        undo: false,
        lang: None,
        interactive: false,
        log_from: None,
    })
}

fn ended(id: &str, status: StepStatus, stdout: Option<&str>, stop: bool) -> Event {
    Event::StepEnd(StepEnd {
        step: id.into(),
        status,
        exit: Some(if status == StepStatus::Passed { 0 } else { 1 }),
        duration_ms: Some(1),
        command_hash: None,
        reason: None,
        captures: Default::default(),
        unrestorable: Vec::new(),
        stdout: stdout.map(str::to_string),
        stdout_redacted: false,
        stdout_cut: false,
        tail: String::new(),
        undo: false,
        attempts: 1,
        exits: Vec::new(),
        stop,
    })
}

/// Drive the dispatcher as the loop would, with every started step ending
/// as `outcome` says; returns the ids started, in order, and the end.
fn drive(
    rb: &Runbook,
    dag: &Dag,
    st: RunState,
    kind: Option<SessionKind>,
    outcome: impl Fn(&str) -> (StepStatus, String),
) -> (Vec<String>, RunEnd, RunState) {
    drive_with(rb, dag, st, policy(kind), outcome)
}

/// [`drive`] under this policy.
fn drive_with(
    rb: &Runbook,
    dag: &Dag,
    mut st: RunState,
    policy: Policy,
    outcome: impl Fn(&str) -> (StepStatus, String),
) -> (Vec<String>, RunEnd, RunState) {
    let mut d = Dispatcher::new(rb, dag, policy, &st);
    let mut ctx = crate::runner::play::Loop::context(rb, &st, Context::default());
    let red = Redactor::default();
    let mut ran = Vec::new();
    let apply = |st: &mut RunState, d: &mut Dispatcher, e: Event| {
        d.observe(&e);
        let seq = st.last_seq + 1;
        st.apply(&Entry { seq, at: String::new(), event: e });
    };
    for _ in 0..1000 {
        match d.next(&st, &ctx, &red) {
            Action::Record(e) => apply(&mut st, &mut d, e),
            Action::Start(s) => {
                let id = rb.steps[s.step].id.clone();
                ran.push(id.clone());
                let mut start = started(&id, &s.prep.display);
                if let Event::StepStart(x) = &mut start {
                    x.undo = s.undo;
                }
                apply(&mut st, &mut d, start);
                let (status, stdout) = outcome(&id);
                ctx.steps.insert(id.clone(), crate::template::StepState::new(status.name(), Some(0), stdout.clone()));
                // A failed undo block does not stop anything: the rollback goes on.
                let stop = status == StepStatus::Failed && !s.undo;
                let mut end = ended(&id, status, Some(&stdout), stop);
                if let Event::StepEnd(x) = &mut end {
                    x.undo = s.undo;
                }
                apply(&mut st, &mut d, end);
            }
            Action::Finish(end) => return (ran, end, st),
            Action::Wait => panic!("nothing runs, yet the dispatcher waits"),
            // As `--yes` answers.
            Action::Ask(a) => {
                let reply = a.choices.iter().map(|&(_, r)| r).find(|r| matches!(r, Reply::Yes | Reply::Continue));
                let answer = Answer {
                    step: Some(rb.steps[a.step].id.clone()),
                    question: a.question,
                    reply: reply.expect("a yes"),
                    how: How::Yes,
                    by: "u@h".into(),
                    asked: String::new(),
                    confirm: a.confirm.clone(),
                    run: None,
                    var: None,
                };
                apply(&mut st, &mut d, Event::Answer(answer));
            }
            Action::Guard => panic!("no guard expected"),
        }
    }
    panic!("the dispatcher does not finish")
}

const WORK_EXPIRED: &str = r#"
```bash {#a read}
echo "miner: WorkExpired"
```

```bash {#slow read}
sleep 3
```

```bash {#b when="'WorkExpired' in steps.a.stdout"}
echo fixing
```
"#;

#[test]
fn a_resume_decides_on_the_output_of_steps_that_passed_before() {
    let (rb, dag) = runbook(WORK_EXPIRED);
    assert!(d_reads(&rb, &dag)[0], "steps.a.stdout is read: a's stdout is journaled");
    // Killed during `slow`: a passed, slow in flight.
    let events = entries(vec![
        start_event(),
        started("a", "echo \"miner: WorkExpired\"\n"),
        ended("a", StepStatus::Passed, Some("miner: WorkExpired\n"), false),
        started("slow", "sleep 3\n"),
        session(SessionKind::Resume),
    ]);
    let st = RunState::from_entries(&events);
    let (ran, end, st) = drive(&rb, &dag, st, Some(SessionKind::Resume), |_| (StepStatus::Passed, String::new()));
    assert_eq!(ran, ["slow", "b"], "a stands, slow runs again, b's `when` is true as before");
    assert_eq!(end.status, RunStatus::Passed);
    assert_eq!(st.step("b").unwrap().status, Some(StepStatus::Passed));
}

fn d_reads(rb: &Runbook, dag: &Dag) -> Vec<bool> {
    Dispatcher::new(rb, dag, policy(None), &RunState::default()).reads_stdout.clone()
}

#[test]
fn a_failure_the_crashed_session_stopped_on_goes_on_to_its_end() {
    let (rb, dag) = runbook("```bash {#a}\nexit 1\n```\n\n```bash {#b}\necho b\n```\n");
    let events = entries(vec![
        start_event(),
        started("a", "exit 1\n"),
        ended("a", StepStatus::Failed, None, true),
        session(SessionKind::Resume),
    ]);
    let (ran, end, _) = drive(&rb, &dag, RunState::from_entries(&events), Some(SessionKind::Resume), |_| {
        (StepStatus::Passed, String::new())
    });
    assert!(ran.is_empty(), "nothing starts: the run was stopping on a's failure");
    assert_eq!(end.status, RunStatus::Failed);
}

#[test]
fn a_continued_run_offers_the_failed_step_again_and_goes_on() {
    let (rb, dag) = runbook("```bash {#a}\necho a\n```\n\n```bash {#f}\nexit 1\n```\n\n```bash {#c}\necho c\n```\n");
    let fail_end = Event::RunEnd(RunEnd { status: RunStatus::Failed, rolled_back: false, message: None });
    let events = entries(vec![
        start_event(),
        started("a", "echo a\n"),
        ended("a", StepStatus::Passed, None, false),
        started("f", "exit 1\n"),
        ended("f", StepStatus::Failed, None, true),
        fail_end,
        session(SessionKind::Continue),
    ]);
    let (ran, end, st) = drive(&rb, &dag, RunState::from_entries(&events), Some(SessionKind::Continue), |_| {
        (StepStatus::Passed, String::new())
    });
    assert_eq!(ran, ["f", "c"], "a stands; f is run again (answered yes by --yes), then c");
    assert_eq!(end.status, RunStatus::Passed);
    assert_eq!(st.answers.len(), 1, "the retry question was asked and answered");
}

const ROLLBACK: &str = "```bash {#a rollback=undo-a}\necho a\n```\n\n```bash {#b rollback=undo-b}\necho b\n```\n\n\
     ```bash {#c}\nexit 1\n```\n\n```bash {#undo-a undo}\necho undo a\n```\n\n```bash {#undo-b undo}\nexit 4\n```\n";

#[test]
fn a_rollback_left_incomplete_is_finished_by_the_next_session_and_nothing_runs_forward() {
    let (rb, dag) = runbook(ROLLBACK);
    let st = RunState::from_entries(&entries(vec![start_event()]));
    let fails = |id: &str| {
        let status = if matches!(id, "c" | "undo-b") { StepStatus::Failed } else { StepStatus::Passed };
        (status, String::new())
    };
    let (ran, end, mut st) = drive(&rb, &dag, st, None, fails);
    assert_eq!(ran, ["a", "b", "c", "undo-b", "undo-a"]);
    assert!(end.rolled_back);
    let seq = st.last_seq + 1;
    st.apply(&Entry { seq, at: String::new(), event: Event::RunEnd(end) });
    assert_eq!(st.rollback_incomplete(), ["undo-b"]);
    assert!(st.resumable(), "a failed undo block can be run again");
    let seq = st.last_seq + 1;
    st.apply(&Entry { seq, at: String::new(), event: session(SessionKind::Continue) });
    let (ran, end, mut st) = drive(&rb, &dag, st, Some(SessionKind::Continue), |_| (StepStatus::Passed, String::new()));
    assert_eq!(ran, ["undo-b"], "only the undo block that failed; c is not offered again, undo-a stands");
    assert_eq!((end.status, end.rolled_back), (RunStatus::Failed, true));
    let seq = st.last_seq + 1;
    st.apply(&Entry { seq, at: String::new(), event: Event::RunEnd(end) });
    assert!(st.rollback_incomplete().is_empty());
    assert!(!st.resumable(), "rolled back: finished");
}

#[test]
fn the_filters_leave_steps_out_in_one_event() {
    let mut md = String::new();
    for i in 0..200 {
        md.push_str(&format!("```bash {{#t{i}}}\necho {i}\n```\n\n"));
    }
    let (rb, dag) = runbook(&md);
    let mut p = policy(None);
    p.mode.only = Some("t100".into());
    let st = RunState::from_entries(&entries(vec![start_event()]));
    let mut d = Dispatcher::new(&rb, &dag, p, &st);
    let ctx = crate::runner::play::Loop::context(&rb, &st, Context::default());
    match d.next(&st, &ctx, &Redactor::default()) {
        Action::Record(Event::Excluded(x)) => {
            assert_eq!(x.steps.len(), 199);
            assert_eq!(x.reason, "not selected (--only t100)");
        }
        _ => panic!("the excluded steps first, in one event"),
    }
}

#[test]
fn a_question_holds_back_later_steps_while_others_run() {
    let (rb, dag) = runbook(
        "```bash {#a needs=}\nsleep 1\n```\n\n```bash {#b needs= confirm}\necho b\n```\n\n```bash {#c needs=}\necho c\n```\n",
    );
    let mut p = policy(None);
    p.answering = Answering::Ask;
    let mut st = RunState::from_entries(&entries(vec![start_event()]));
    let mut d = Dispatcher::new(&rb, &dag, p, &st);
    let ctx = crate::runner::play::Loop::context(&rb, &st, Context::default());
    let red = Redactor::default();
    let Action::Start(s) = d.next(&st, &ctx, &red) else { panic!("a starts") };
    let e = started(&rb.steps[s.step].id, "sleep 1\n");
    d.observe(&e);
    st.apply(&Entry { seq: 2, at: String::new(), event: e });
    assert!(matches!(d.next(&st, &ctx, &red), Action::Wait), "b asks first: it waits for a, and c waits behind it");
}

/// A policy without a terminal for `interactive` steps.
fn no_terminal(kind: Option<SessionKind>) -> Policy {
    Policy { terminal: false, ..policy(kind) }
}

fn then(mut st: RunState, e: Event) -> RunState {
    let seq = st.last_seq + 1;
    st.apply(&Entry { seq, at: String::new(), event: e });
    st
}

#[test]
fn an_interactive_step_without_a_terminal_refuses_the_play_and_a_resume_runs_it() {
    let (rb, dag) = runbook(
        "```bash {#a}\necho a\n```\n\n```bash {#i interactive}\nkubectl edit x\n```\n\n```bash {#c}\necho c\n```\n",
    );
    let st = RunState::from_entries(&entries(vec![start_event()]));
    let passes = |_: &str| (StepStatus::Passed, String::new());
    let (ran, end, st) = drive_with(&rb, &dag, st, no_terminal(None), passes);
    assert_eq!(ran, ["a"], "i does not start, nor anything after it");
    assert_eq!(end.status, RunStatus::Refused);
    assert_eq!(
        end.message.as_deref(),
        Some(
            "step `i` (r.md:5) is `interactive` and needs a terminal (stdin, stdout and stderr), which this play \
             does not have: it did not run; run `runbook play r --resume` from a terminal to run it"
        )
    );
    assert!(st.step("i").is_none(), "nothing of i is recorded: it is pending");
    let st = then(then(st, Event::RunEnd(end)), session(SessionKind::Resume));
    assert!(st.resumable());
    let (ran, end, _) = drive(&rb, &dag, st, Some(SessionKind::Resume), passes);
    assert_eq!(ran, ["i", "c"], "a stands; on a terminal i runs, then c");
    assert_eq!(end.status, RunStatus::Passed);
}

#[test]
fn an_interactive_undo_block_without_a_terminal_is_left_for_the_next_session() {
    let (rb, dag) = runbook(
        "```bash {#a rollback=undo-a}\necho a\n```\n\n```bash {#c}\nexit 1\n```\n\n\
         ```bash {#undo-a undo interactive}\nkubectl edit x\n```\n",
    );
    let st = RunState::from_entries(&entries(vec![start_event()]));
    let fails = |id: &str| (if id == "c" { StepStatus::Failed } else { StepStatus::Passed }, String::new());
    let (ran, end, st) = drive_with(&rb, &dag, st, no_terminal(None), fails);
    assert_eq!(ran, ["a", "c"], "the undo block does not start");
    let undo = st.step("undo-a").expect("the undo block's end is recorded");
    assert_eq!(undo.status, Some(StepStatus::Skipped));
    assert!(undo.reason.as_deref().unwrap_or_default().contains("needs a terminal"), "{:?}", undo.reason);
    let st = then(st, Event::RunEnd(end));
    assert_eq!(st.rollback_incomplete(), ["undo-a"]);
    assert!(st.resumable(), "the rollback is finished from a terminal");
}

/// The steps started together, wave after wave: every step that can start
/// starts, then all of them end (passed).
fn waves(rb: &Runbook, dag: &Dag, policy: Policy) -> Vec<Vec<String>> {
    let mut st = RunState::from_entries(&entries(vec![start_event()]));
    let mut d = Dispatcher::new(rb, dag, policy, &st);
    let ctx = crate::runner::play::Loop::context(rb, &st, Context::default());
    let red = Redactor::default();
    let apply = |st: &mut RunState, d: &mut Dispatcher, e: Event| {
        d.observe(&e);
        let seq = st.last_seq + 1;
        st.apply(&Entry { seq, at: String::new(), event: e });
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut wave: Vec<String> = Vec::new();
    for _ in 0..100 {
        match d.next(&st, &ctx, &red) {
            Action::Record(e) => apply(&mut st, &mut d, e),
            Action::Start(s) => {
                let id = rb.steps[s.step].id.clone();
                apply(&mut st, &mut d, started(&id, &s.prep.display));
                wave.push(id);
            }
            Action::Wait => {
                for id in &wave {
                    apply(&mut st, &mut d, ended(id, StepStatus::Passed, None, false));
                }
                out.push(std::mem::take(&mut wave));
            }
            Action::Finish(_) => {
                assert!(wave.is_empty(), "the steps started end before the play does");
                return out;
            }
            Action::Ask(_) | Action::Guard => panic!("no question expected"),
        }
    }
    panic!("the dispatcher does not finish")
}

/// `verify` needs `restart` and `cleanup` (write steps), which need
/// `notify`, which needs `assess`.
const TRIAGE: &str = "```bash {#assess read}\na\n```\n\n```bash {#notify read needs=assess}\nn\n```\n\n\
     ```bash {#restart needs=notify}\nr\n```\n\n```bash {#cleanup needs=notify}\nc\n```\n\n\
     ```bash {#verify read needs=restart,cleanup}\nv\n```\n";

#[test]
fn a_step_left_out_still_orders_the_steps_around_it() {
    let (rb, dag) = runbook(TRIAGE);
    let mut p = policy(None);
    p.mode.read_only = true;
    assert_eq!(
        waves(&rb, &dag, p),
        [["assess"], ["notify"], ["verify"]],
        "verify waits for notify through the write steps"
    );
    let mut p = policy(None);
    p.mode.from = Some("notify".into());
    assert_eq!(waves(&rb, &dag, p), vec![vec!["notify"], vec!["restart", "cleanup"], vec!["verify"]]);
    let (rb, dag) = runbook(
        "```bash {#a needs=}\na\n```\n\n```bash {#b needs=a}\nb\n```\n\n```bash {#c read needs=b}\nc\n```\n\n\
         ```bash {#d read needs=}\nd\n```\n",
    );
    let mut p = policy(None);
    p.mode.read_only = true;
    assert_eq!(waves(&rb, &dag, p), [["c", "d"]], "left out without dependencies run: nothing to wait for");
}
