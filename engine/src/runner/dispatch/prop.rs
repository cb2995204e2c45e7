//! The invariant of resume, as a property: whatever the runbook and wherever
//! the engine is killed (the journal cut after any event), resuming until
//! the run ends decides exactly as the uninterrupted play did — the same
//! status for every step and the same `when` decisions, the same undo
//! blocks, the same end, the same notes of a cut stdout read — and no step
//! that passed runs again.
//!
//! The world is simulated (a step's result is a function of the step), so
//! thousands of kills take a second; `tests/resume_prop.rs` does the same
//! with real processes and `kill -9`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::run::event::*;
use crate::run::{Entry, RunState};
use crate::template::{Capture, StepState as Tpl};

/// A generated step.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// `needs=` (indices of earlier steps); `None`: after the previous step.
    pub needs: Option<Vec<usize>>,
    pub token: &'static str,
    pub exit: i32,
    /// A `when` on a step it depends on: (kind, that step).
    pub when: Option<(u8, usize)>,
    pub capture: bool,
    pub on_fail_continue: bool,
    pub undo: bool,
    pub retry: u8,
    /// It (and its undo block) reads the secret `api_token`.
    pub secret: bool,
    /// It prints more than the engine keeps before its token: its stdout
    /// ends `stdout_cut`, without the token.
    pub big: bool,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub steps: Vec<StepSpec>,
    pub jobs: usize,
}

const TOKENS: [&str; 3] = ["ok", "WorkExpired", "degraded"];

fn step_spec(i: usize) -> impl Strategy<Value = StepSpec> {
    let needs = if i == 0 {
        Just(None).boxed()
    } else {
        prop_oneof![
            3 => Just(None),
            2 => proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(3)).prop_map(Some),
        ]
        .boxed()
    };
    (
        needs,
        0..3usize,
        prop_oneof![6 => Just(0), 1 => Just(1), 1 => Just(3)],
        0..5u8,
        any::<bool>(),
        any::<bool>(),
        0..4u8,
        0..3u8,
        any::<bool>(),
        0..4u8,
    )
        .prop_map(move |(needs, t, exit, w, capture, cont, undo, retry, secret, big)| {
            // A `when` reads a step this one depends on: what it reads is
            // then known when it is decided, in any run.
            let deps: Vec<usize> = match &needs {
                Some(n) => n.clone(),
                None if i > 0 => vec![i - 1],
                None => Vec::new(),
            };
            let when = (w < 4).then(|| deps.last().map(|&d| (w, d))).flatten();
            StepSpec {
                needs,
                token: TOKENS[t],
                exit,
                when,
                capture,
                on_fail_continue: cont,
                undo: undo == 0,
                retry: if retry == 0 { 2 } else { 0 },
                secret,
                big: big == 0,
            }
        })
}

pub fn spec() -> impl Strategy<Value = Spec> {
    (2..9usize, 1..4usize).prop_flat_map(|(n, jobs)| {
        let steps: Vec<_> = (0..n).map(step_spec).collect();
        (steps, Just(jobs)).prop_map(|(steps, jobs)| Spec { steps, jobs })
    })
}

/// The runbook of a spec. Step `i` prints its token and exits with its code.
pub fn markdown(spec: &Spec) -> String {
    let mut md = String::new();
    for (i, s) in spec.steps.iter().enumerate() {
        let mut attrs = vec![format!("#s{i}")];
        if let Some(n) = &s.needs {
            let ids: Vec<String> = n.iter().map(|d| format!("s{d}")).collect();
            attrs.push(format!("needs={}", ids.join(",")));
        }
        if let Some((kind, d)) = s.when {
            let dep = &spec.steps[d];
            let cond = match kind {
                0 => format!("'{}' in steps.s{d}.stdout", dep.token),
                1 => format!("steps.s{d}.exit == {}", dep.exit),
                2 if dep.capture => format!("c{d} == '{}'", dep.token),
                2 => format!("steps.s{d}.status == 'passed'"),
                _ => "'WorkExpired' in steps.s0.stdout or true".to_string(),
            };
            attrs.push(format!("when=\"{cond}\""));
        }
        if s.capture {
            attrs.push(format!("capture=c{i}"));
        }
        if s.on_fail_continue {
            attrs.push("on-fail=continue".into());
        }
        if s.retry > 0 {
            attrs.push(format!("retry={} delay=0s", s.retry));
        }
        if s.undo {
            attrs.push(format!("rollback=u{i}"));
        }
        let secret = if s.secret { ": {{ api_token }}\n" } else { "" };
        let big = if s.big { "head -c 1100000 /dev/zero | tr '\\0' x; echo\n" } else { "" };
        md.push_str(&format!(
            "```bash {{{}}}\n{secret}{big}echo {}\nexit {}\n```\n\n",
            attrs.join(" "),
            s.token,
            s.exit
        ));
    }
    for (i, s) in spec.steps.iter().enumerate() {
        if s.undo {
            let secret = if s.secret { ": {{ api_token }}\n" } else { "" };
            md.push_str(&format!("```bash {{#u{i} undo}}\n{secret}echo undone\n```\n\n"));
        }
    }
    md
}

/// A simulated engine: plays sessions of a run until it ends, a kill cutting
/// the journal after `kills[k]` events of session `k`.
struct World<'a> {
    rb: &'a Runbook,
    dag: &'a Dag,
    spec: &'a Spec,
    log: Vec<Entry>,
    /// Steps started while they had passed before: must stay empty.
    ran_again: Vec<String>,
    /// Sessions after the first that were not given the secret: it was
    /// asked for only where a step still to run reads it.
    spared: usize,
}

/// The value of the secret `api_token`, given to the first session only:
/// a later one is given it only where [`spare`] says a step still to run
/// reads it, as `runner::session` asks for it.
const SECRET: &str = "tok-1234567";

impl World<'_> {
    fn push(&mut self, e: Event) {
        let seq = self.log.len() as u64 + 1;
        self.log.push(Entry { seq, at: String::new(), event: e });
    }

    /// One session; `false` when killed after `kill` events.
    fn session(&mut self, kill: Option<usize>) -> bool {
        let mut st = RunState::from_entries(&self.log);
        let kind =
            if self.log.is_empty() { None } else { Some(crate::runner::session::next_kind(self.rb, self.dag, &st)) };
        let first = match kind {
            None => super::tests::start_event(),
            Some(kind) => super::tests::session(kind),
        };
        let mut vars = crate::model::Vars::new();
        vars.insert("api_token".into(), crate::model::Value::String(SECRET.into()));
        let given = kind.is_none() || {
            let known = crate::runner::play::Loop::context(self.rb, &st, Context::default());
            let spared = super::spare::read_only_by_kept(self.rb, self.dag, &st, &known, &Redactor::default());
            !spared.contains("api_token")
        };
        if !given {
            vars.clear();
            self.spared += 1;
        }
        let start = self.log.len();
        let budget = kill.map(|k| start + k);
        let killed = |w: &World| budget.is_some_and(|b| w.log.len() >= b);
        let apply = |w: &mut World, st: &mut RunState, d: Option<&mut Dispatcher>, e: Event| {
            if let Some(d) = d {
                d.observe(&e);
            }
            w.push(e);
            st.apply(w.log.last().expect("pushed"));
        };
        apply(self, &mut st, None, first);
        if killed(self) {
            return false;
        }
        let policy = Policy {
            confirm: ConfirmPolicy::Marked,
            guard: false,
            answering: Answering::Yes,
            step_mode: false,
            jobs: self.spec.jobs,
            mode: Mode::default(),
            root: PathBuf::from("/"),
            kind,
            terminal: true,
            resume: "runbook play r --resume".into(),
        };
        let mut d = Dispatcher::new(self.rb, self.dag, policy, &st);
        let mut ctx = crate::runner::play::Loop::context(self.rb, &st, Context { vars, ..Context::default() });
        let red = if given { Redactor::new([SECRET.to_string()]) } else { Redactor::default() };
        let passed_before: BTreeSet<String> =
            st.steps.iter().filter(|(_, s)| s.passed() && !s.undo).map(|(k, _)| k.clone()).collect();
        let mut running: Vec<usize> = Vec::new();
        for _ in 0..10_000 {
            let e = match d.next(&st, &ctx, &red) {
                Action::Record(e) => e,
                Action::Ask(a) => {
                    let reply = a.choices.iter().map(|&(_, r)| r).find(|r| matches!(r, Reply::Yes | Reply::Continue));
                    Event::Answer(Answer {
                        step: Some(self.rb.steps[a.step].id.clone()),
                        question: a.question,
                        reply: reply.unwrap_or(Reply::Yes),
                        how: How::Yes,
                        by: "u@h".into(),
                        asked: String::new(),
                        confirm: a.confirm,
                        run: None,
                        var: None,
                    })
                }
                Action::Guard => panic!("no guard in these runbooks"),
                Action::Start(s) => {
                    let id = self.rb.steps[s.step].id.clone();
                    if passed_before.contains(&id) {
                        self.ran_again.push(id.clone());
                    }
                    running.push(s.step);
                    Event::StepStart(StepStart {
                        step: id,
                        line: 1,
                        attempt: 1,
                        command: s.prep.display.clone(),
                        command_hash: s.prep.hash.clone(),
                        undo: s.undo,
                        lang: None,
                        interactive: false,
                        log_from: None,
                    })
                }
                Action::Wait => {
                    // The running step first in plan order ends first: the
                    // same order in every session that runs the same steps.
                    let pos = |i: usize| self.dag.order.iter().position(|&j| j == i).unwrap_or(usize::MAX - i);
                    running.sort_by_key(|&i| pos(i));
                    assert!(!running.is_empty(), "the dispatcher waits with nothing running");
                    let i = running.remove(0);
                    self.end_of(i, &st, &mut ctx)
                }
                Action::Finish(end) => {
                    apply(self, &mut st, Some(&mut d), Event::RunEnd(end));
                    return !killed(self);
                }
            };
            apply(self, &mut st, Some(&mut d), e);
            if killed(self) {
                return false;
            }
        }
        panic!("the dispatcher does not finish");
    }

    /// What step (or undo block) `i` comes to, as the loop records it.
    fn end_of(&self, i: usize, st: &RunState, ctx: &mut Context) -> Event {
        let s = &self.rb.steps[i];
        let undo = s.attrs.undo;
        let (status, exit, stdout, cut) = if undo {
            (StepStatus::Passed, 0, "undone\n".to_string(), false)
        } else {
            let k: usize = s.id[1..].parse().expect("s<i>");
            let spec = &self.spec.steps[k];
            let status = if spec.exit == 0 { StepStatus::Passed } else { StepStatus::Failed };
            // The kept part of a big output ends before the token.
            let stdout = if spec.big { "xxxx".to_string() } else { format!("{}\n", spec.token) };
            (status, spec.exit, stdout, spec.big)
        };
        let mut captures = BTreeMap::new();
        if status == StepStatus::Passed
            && let Some(name) = &s.attrs.capture
        {
            ctx.captures.insert(name.clone(), Capture::Value(stdout.trim().to_string()));
            captures.insert(name.clone(), stdout.trim().to_string());
        }
        ctx.steps.insert(s.id.clone(), Tpl::new(status.name(), Some(exit), stdout.clone()));
        let _ = st;
        Event::StepEnd(StepEnd {
            step: s.id.clone(),
            status,
            exit: Some(exit),
            duration_ms: Some(1),
            command_hash: None,
            reason: (status == StepStatus::Failed).then(|| format!("exit {exit}")),
            captures,
            unrestorable: Vec::new(),
            stdout: Some(stdout),
            stdout_redacted: false,
            stdout_cut: cut,
            tail: String::new(),
            undo,
            attempts: 1,
            exits: Vec::new(),
            stop: status == StepStatus::Failed && !undo && s.attrs.on_fail == crate::model::OnFail::Stop,
        })
    }
}

/// What a run decided: each step's status and reason, the undo blocks that
/// ran, the end, the notes of a cut stdout read (step, text; each said
/// once in a run, however often it was killed).
type Decisions = (
    BTreeMap<String, (Option<StepStatus>, Option<String>)>,
    BTreeSet<String>,
    RunStatus,
    Vec<(Option<String>, String)>,
);

fn decisions(log: &[Entry]) -> Decisions {
    let st = RunState::from_entries(log);
    let steps =
        st.steps.iter().filter(|(_, s)| !s.undo).map(|(k, s)| (k.clone(), (s.status, s.reason.clone()))).collect();
    let undone = st.steps.iter().filter(|(_, s)| s.undo && s.passed()).map(|(k, _)| k.clone()).collect();
    let cut = st.notes.iter().filter(|n| n.text.contains("stdout`, which")).map(|n| (n.step.clone(), n.text.clone()));
    let mut cut: Vec<_> = cut.collect();
    cut.sort();
    (steps, undone, st.end.as_ref().map_or(RunStatus::Interrupted, |e| e.status), cut)
}

/// `kills`: where each session is cut, as a fraction of the events the
/// uninterrupted play writes (so that every point is as likely). Returns
/// the journal, the steps that ran again, and how many sessions were not
/// given the secret.
fn play(spec: &Spec, kills: &[f64]) -> (Vec<Entry>, Vec<String>, usize) {
    let total = if kills.is_empty() { 0 } else { play(spec, &[]).0.len() };
    let kills: Vec<usize> = kills.iter().map(|f| ((f * total as f64).ceil() as usize).max(1)).collect();
    let md = markdown(spec);
    let rb = crate::parse::parse_str(Path::new("p.md"), &md, "h".into()).expect("a generated runbook parses");
    let dag = Dag::build(&rb).expect("and plans");
    let mut w = World { rb: &rb, dag: &dag, spec, log: Vec::new(), ran_again: Vec::new(), spared: 0 };
    let mut kills = kills.iter();
    for _ in 0..50 {
        let kill = kills.next().copied();
        // Killed after the run's end was written, or once only its failed
        // end was left to write: it ended all the same (a next session
        // continues the failed run, as it would the uninterrupted one).
        if w.session(kill) {
            break;
        }
        let st = RunState::from_entries(&w.log);
        if st.end.is_some() {
            break;
        }
        if crate::runner::session::next_kind(&rb, &dag, &st) == SessionKind::Continue {
            w.push(Event::RunEnd(RunEnd { status: RunStatus::Failed, rolled_back: false, message: None }));
            break;
        }
    }
    (w.log, w.ran_again, w.spared)
}

/// A secret only a step that passed reads is not given to the resume, which
/// then decides as the uninterrupted play (and a later step that reads it
/// gets it).
#[test]
fn a_resume_is_not_given_a_secret_only_passed_steps_read() {
    let step = |secret, exit| StepSpec {
        needs: None,
        token: "ok",
        exit,
        when: None,
        capture: false,
        on_fail_continue: false,
        undo: false,
        retry: 0,
        secret,
        big: false,
    };
    for (steps, spared) in [
        (vec![step(true, 0), step(false, 0), step(false, 0)], 1),
        (vec![step(true, 0), step(false, 0), step(true, 0)], 0),
    ] {
        let spec = Spec { steps, jobs: 1 };
        let want = decisions(&play(&spec, &[]).0);
        // Killed once the first step's end is written (run-start, start, end).
        let (log, again, n) = play(&spec, &[0.5]);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(decisions(&log), want);
        assert_eq!(n, spared, "{}", markdown(&spec));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn a_resumed_run_decides_as_the_uninterrupted_one(spec in spec(), kills in proptest::collection::vec(0.0..1.0f64, 1..4)) {
        let (whole, again, _) = play(&spec, &[]);
        prop_assert!(again.is_empty());
        let want = decisions(&whole);
        let (cut, again, _) = play(&spec, &kills);
        prop_assert!(again.is_empty(), "passed steps ran again: {again:?}\n{}", markdown(&spec));
        let got = decisions(&cut);
        prop_assert_eq!(&got.0, &want.0, "step decisions differ\n{}", markdown(&spec));
        prop_assert_eq!(&got.1, &want.1, "undo blocks differ\n{}", markdown(&spec));
        prop_assert_eq!(got.2, want.2, "ends differ\n{}", markdown(&spec));
        prop_assert_eq!(&got.3, &want.3, "notes of a cut stdout differ\n{}", markdown(&spec));
    }
}
