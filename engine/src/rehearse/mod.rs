//! Rehearsal (SPEC §5): a real play of a runbook, with real bash, against a
//! fixture scenario whose stubs answer in place of `kubectl`, `helm`, repo
//! scripts, ….
//!
//! It is the play's own scheduler ([`crate::runner::play`]) with a
//! [`SandboxDir`]: stub shims first on `PATH`, a scratch directory standing in
//! for the repo root, the state dir, `HOME` and `TMPDIR` inside it, and the
//! scenario's scripted answers. So captures, `when` and `expect` work on stub
//! output exactly as they would on the real thing. Afterwards the outcome is
//! compared with the scenario's expectations and golden transcript.

pub mod contain;
pub mod fixture;
mod leftovers;
pub mod play;
pub mod record;
pub mod record_queries;
pub mod sandbox;
pub mod scaffold;
pub mod scenario_vars;
pub mod shim;
pub mod todo;
pub mod transcript;
pub mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Runbook, Step};
use crate::plan::Dag;
use crate::run::event::Mode;
use crate::runner::{self, Answer, Answers, PlayEnv, PlayOptions, Question, Reporter, ResumeMode};
use fixture::{Ans, Fixture, Scenario};
use sandbox::SandboxDir;
use shim::{ShimStub, Table};
use transcript::TranscriptReporter;

/// How to rehearse.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rewrite golden transcripts instead of comparing them.
    pub bless: bool,
    /// `--jobs` of the rehearsed play.
    pub jobs: usize,
    /// `--env` over the scenario's env.
    pub env: Option<String>,
    /// `--set` over the scenario's vars.
    pub sets: Vec<(String, String)>,
    /// Variables from `--from-alert`: above the env profile, below the
    /// scenario's own vars (which keep its stubs' world consistent).
    pub alert: Vec<(String, String)>,
    /// `--read-only`, `--only`, `--from`, `--no-rollback` of `play --dry-run`:
    /// a rehearsal honours every filter a play does.
    pub mode: Mode,
    /// `play --dry-run --contained`: a scenario that cannot be contained is
    /// refused, not played.
    pub contained_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bless: false,
            jobs: runner::DEFAULT_JOBS,
            env: None,
            sets: Vec::new(),
            alert: Vec::new(),
            mode: Mode::default(),
            contained_only: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UnusedStub {
    pub cmd: String,
    pub line: usize,
}

/// What one scenario came to.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioRun {
    pub runbook: String,
    pub scenario: String,
    pub fixture: PathBuf,
    /// Line of the `[[scenario]]` in the fixture.
    pub line: usize,
    pub passed: bool,
    /// Cut short by a signal that stopped the whole check (`check` sets
    /// it): neither passed nor failed, its verdict unknown.
    pub interrupted: bool,
    /// The play's outcome (`passed`, `failed`, `refused`, `interrupted`),
    /// `None` when the play could not start.
    pub outcome: Option<String>,
    pub steps: IndexMap<String, String>,
    /// Each expectation that did not hold, in words.
    pub failures: Vec<String>,
    /// Unified diff against the golden transcript, on a mismatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub blessed: bool,
    pub unused_stubs: Vec<UnusedStub>,
    /// `[[scenario.query]]` entries no query step asked for (`cmd` is
    /// `kind match`).
    pub unused_queries: Vec<UnusedStub>,
    /// Information beside the failures of a failed scenario, never a
    /// failure itself: the stubs and query fixtures it never used
    /// ([`unused_notes`]). Empty when it passed (`check` then warns of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub duration_ms: u128,
    /// Whether the scenario ran in namespaces of its own ([`contain`]).
    pub contained: bool,
    /// Why it did not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_contained: Option<String>,
    /// Uncontained: programs installed here that steps called and the
    /// rehearsal did not run (not stubbed, not a local tool), with how to
    /// stub or allow each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Uncontained: the stand-in repo is not the whole project (it was
    /// capped), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<String>,
    #[serde(skip)]
    pub transcript: String,
}

/// Where a failed step is in its runbook and the last line it printed
/// (`kubctl: command not found`): what the author needs to fix it.
fn step_detail(rb: &Runbook, id: &str, r: &runner::StepResult, sb: &SandboxDir) -> String {
    let mut d = String::new();
    if let Some(s) = rb.step(id) {
        d.push_str(&format!(" at {}:{}", rb.path.display(), s.line));
    }
    if let Some(last) = r.tail.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        // bash names the script it reads, `/dev/fd/N`: noise here.
        let last = match last.strip_prefix("/dev/fd/").and_then(|r| r.split_once(": ")) {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => last,
        };
        d.push_str(&format!("; last output: {}", sb.scrub(last)));
    }
    d
}

/// A step that failed for a program this machine does not have and the
/// rehearsal does not stub (`redis-cli: command not found`): how to stub
/// it. `[rehearse] stub` replaces the default list, so the hint gives the
/// whole list to write.
fn not_stubbed(r: &runner::StepResult, config: &Config, contained: bool) -> String {
    let Some((cmd, _)) = runner::command_not_found(&r.tail).filter(|_| r.exit == Some(127)) else {
        return String::new();
    };
    let program = cmd.rsplit('/').next().unwrap_or(&cmd).to_string();
    if !contained && withheld(&program) {
        return format!("\n  hint: {}", withheld_hint(&program));
    }
    if config.stubs.iter().any(|s| s == &cmd || s == &program) {
        return String::new();
    }
    let list: Vec<String> = config.stubs.iter().chain([&program]).map(|s| format!("\"{s}\"")).collect();
    format!(
        "\n  hint: `{program}` is not installed here and the rehearsal does not stub it: in runbook.toml, \
         `[rehearse] stub = [{}]`, then answer its calls in the fixture ([[scenario.stub]] cmd = \"{program} …\")",
        list.join(", ")
    )
}

/// Is `program` one an uncontained rehearsal kept off its steps' `PATH`
/// (found on the engine's, so it exists here)?
fn withheld(program: &str) -> bool {
    !program.contains('/') && sandbox::which(program, &std::env::var_os("PATH").unwrap_or_default()).is_some()
}

fn withheld_hint(program: &str) -> String {
    format!(
        "`{program}` is installed here but was not run: an uncontained rehearsal runs only the stubs, the step \
         interpreters and local tools (docs/containment.md). Answer its calls in the fixture \
         ([[scenario.stub]] cmd = \"{program} …\", which shims it), or, if it only reads and writes local files, \
         allow it in runbook.toml: `[rehearse] local = [\"{program}\"]`"
    )
}

/// The programs an uncontained rehearsal kept off `PATH` that its steps
/// called (`aws: command not found` in what a step printed last), each with
/// the first step that did: said after the scenario even when the step
/// went on (`aws … || true`).
fn withheld_calls(outcome: &runner::Outcome) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (id, r) in &outcome.steps {
        for line in r.tail.lines() {
            let Some((cmd, _)) = runner::command_not_found(line) else { continue };
            let program = cmd.rsplit('/').next().unwrap_or(&cmd).to_string();
            if withheld(&program) && seen.insert(program.clone()) {
                out.push(format!("step `{id}`: {}", withheld_hint(&program)));
            }
        }
    }
    out
}

fn answer(a: Ans) -> Answer {
    match a {
        Ans::Yes => Answer::Yes,
        Ans::No => Answer::No,
        Ans::Skip => Answer::Skip,
    }
}

/// Rehearse one scenario. `reporters` see the play as a real play would
/// (the human output of `play --dry-run`); the transcript is collected on
/// the side. `Err` only for input errors (an env that does not exist, …).
pub fn run_scenario(
    rb: &Runbook,
    dag: &Dag,
    config: &Config,
    fx: &Fixture,
    sc: &Scenario,
    opts: &Options,
    reporters: Vec<Box<dyn Reporter>>,
) -> Result<ScenarioRun> {
    run_scenario_with(rb, dag, config, fx, sc, opts, reporters, &|_| {})
}

/// [`run_scenario`], calling `starting` once the scenario's mode is known
/// and before any step runs: with why it is not contained, if it is not
/// (`play --dry-run` prints its banner there, so that it tells the truth).
#[allow(clippy::too_many_arguments)]
pub fn run_scenario_with(
    rb: &Runbook,
    dag: &Dag,
    config: &Config,
    fx: &Fixture,
    sc: &Scenario,
    opts: &Options,
    mut reporters: Vec<Box<dyn Reporter>>,
    starting: &dyn Fn(Option<&str>),
) -> Result<ScenarioRun> {
    let started = Instant::now();
    let env_name = opts.env.as_deref().or(sc.env.as_ref().map(|(e, _)| e.as_str()));
    let profile = config.env(env_name)?.cloned();
    let table = Table {
        stubs: sc
            .stubs
            .iter()
            .map(|s| ShimStub { cmd: s.cmd.clone(), regex: s.regex.clone(), responses: s.responses.clone() })
            .collect(),
        locations: rb.steps.iter().map(|s| (s.id.clone(), format!("{}:{}", rb.path.display(), s.line))).collect(),
        strict: false,
    };
    let shimmed = sc.shimmed(&config.stubs);
    let mut sb = SandboxDir::create(&shimmed, &table).map_err(Error::Other)?;
    let container = match crate::runner::fault::at("contain-setup", &sc.name) {
        true => Err("injected fault: contain-setup".to_string()),
        false => contain::for_scenario(&sb, config, &shimmed),
    };
    let mut stand_in = None;
    let (root, enter) = match &container {
        Ok(c) => {
            sb.repo = Some(c.1.clone());
            (c.1.clone(), c.0.fds())
        }
        Err(_) => {
            // Uncontained, what a step does with an invented answer stays.
            shim::write_table(&sb.shim, &Table { strict: true, ..table.clone() }).map_err(anyhow::Error::from)?;
            let state = std::fs::canonicalize(&config.state).unwrap_or_else(|_| config.state.clone());
            let root = std::fs::canonicalize(&config.root).unwrap_or_else(|_| config.root.clone());
            stand_in = sb.stand_in(&root, &[state]).map_err(Error::Other)?;
            (sb.work.clone(), Vec::new())
        }
    };
    let mut env = sb.env(&config.rehearse_env);
    if container.is_err() {
        env.push(("PATH".into(), sb.confine(&config.rehearse_local).map_err(Error::Other)?));
    }
    if let (Err(why), true) = (&container, opts.contained_only) {
        return Err(Error::Refused(format!(
            "scenario `{}` cannot be rehearsed contained here ({why}), and --contained was given",
            sc.name
        )));
    }
    starting(container.as_ref().err().map(String::as_str));
    let sets: Vec<(String, String)> = sc.vars.iter().chain(&opts.sets).cloned().collect();
    let vars = crate::vars::resolve(rb, profile.as_ref(), &opts.alert, &sets);
    // A value a play would refuse (`vars::unmatched`) rehearses nothing real.
    let refused = crate::vars::unmatched(rb, &vars, &crate::preview::plan_context(rb, &vars, profile.as_ref()));
    let answers = sc.answers.clone();
    let scripted = move |step: &Step, q: Question| match q {
        // The env guard runs (against the stubs) unless the scenario says otherwise.
        Question::Guard => Answer::Yes,
        _ => answer(answers.for_step(&step.id)),
    };
    let queries: Arc<Vec<_>> = Arc::new(sc.queries.iter().map(|q| q.fresh()).collect());
    let mut secrets: Vec<String> = crate::template::secret_values(rb, &vars.vars);
    let mut play = PlayOptions::new(vars);
    play.env = profile.clone();
    play.answers = Answers::Scripted(Arc::new(scripted));
    play.resume = ResumeMode::Fresh;
    play.mode = Mode { jobs: opts.jobs.max(1), ..opts.mode.clone() };
    let place = PlayEnv {
        store: Box::new(crate::store::LocalStore::new(sb.state.clone())),
        root,
        path_prefix: Some(sb.bin.clone()),
        step_env: env,
        inherit_env: false,
        enter,
        clock: false,
        queries: Arc::new(crate::observe::Fixtures(queries.clone())),
        durable: false,
        waits: false,
        one_at_a_time: true,
        ask_missing: false,
        engine_log: false,
        recorded: false,
    };
    let staged = stage(rb);
    let rb = &staged;
    let tr = TranscriptReporter { shim_dir: Some(sb.shim.clone()), ..TranscriptReporter::default() };
    reporters.push(Box::new(tr.clone()));
    let result = match refused.is_empty() {
        true => runner::play(rb, dag, config, &place, play, reporters),
        false => Err(Error::Invalid(Vec::new())),
    };
    if let Ok(o) = &result {
        sb.run = Some(o.run_id.clone());
    }
    // Every process the scenario left is ended before its calls are read.
    let not_contained = container.err();
    let mut calls = sb.calls();
    let mut run = ScenarioRun {
        runbook: rb.id.clone(),
        scenario: sc.name.clone(),
        fixture: fx.path.clone(),
        line: sc.line,
        passed: false,
        interrupted: false,
        outcome: None,
        steps: IndexMap::new(),
        failures: Vec::new(),
        diff: None,
        blessed: false,
        unused_stubs: Vec::new(),
        unused_queries: Vec::new(),
        notes: Vec::new(),
        duration_ms: 0,
        contained: not_contained.is_none(),
        not_contained,
        withheld: Vec::new(),
        stand_in,
        transcript: String::new(),
    };
    run.failures.extend(todo::failure(&fx.path, &rb.id, &sc.name, env_name, &sc.todos));
    run.failures.extend(refused.iter().map(|d| {
        format!("{}:{}: scenario `{}` gives a value a play refuses: {d}", fx.path.display(), sc.line, sc.name)
    }));
    let outcome = match result {
        Ok(o) => o,
        Err(Error::Invalid(d)) if refused.is_empty() => return Err(Error::Invalid(d)),
        Err(Error::Invalid(_)) => {
            run.outcome = Some("refused".to_string());
            run.duration_ms = started.elapsed().as_millis();
            return Ok(run);
        }
        Err(e) => {
            let status = match &e {
                Error::Refused(_) => "refused",
                Error::Interrupted(_) => "interrupted",
                _ => "error",
            };
            run.outcome = Some(status.to_string());
            let want = sc.expect.outcome.map_or("passed", outcome_name);
            if want != status {
                run.failures.push(format!("the play did not start: {}", sb.scrub(&e.to_string())));
            }
            run.passed = run.failures.is_empty();
            run.duration_ms = started.elapsed().as_millis();
            return Ok(run);
        }
    };
    let env_shown = profile.as_ref().map_or(crate::config::LOCAL_ENV, |p| p.name.as_str());
    // A stub's argv is printed as the step rendered it: its secrets (the
    // variables', and what secret captures caught) are masked like in every
    // other sink, in the transcript, the golden, the diff and the failures.
    // A secret capture's value is what the stubs its step called answered.
    let capturing = |id: &str| rb.step(id).and_then(|s| s.attrs.capture.as_ref()).is_some_and(|c| rb.is_secret(c));
    for c in calls.iter().filter(|c| c.step.as_deref().is_some_and(capturing)) {
        for r in c.stub.and_then(|i| sc.stubs.get(i)).map_or(&[][..], |s| &s.responses[..]) {
            if !r.stdout.trim().is_empty() {
                secrets.push(r.stdout.trim().to_string());
            }
        }
    }
    let red = crate::redact::Redactor::new(secrets);
    for c in &mut calls {
        c.cmd = red.redact(&c.cmd).into_owned();
    }
    run.transcript =
        red.redact(&sb.scrub(&tr.render(rb, &sc.name, env_shown, &outcome, &calls, run.contained))).into_owned();
    if !run.contained {
        run.withheld = withheld_calls(&outcome);
    }
    run.outcome = Some(outcome.status.name().to_string());
    run.steps = outcome.steps.iter().map(|(k, v)| (k.clone(), v.status.name().to_string())).collect();
    let want = sc.expect.outcome.map_or("passed", outcome_name);
    if outcome.status.name() != want {
        let mut f = format!("expected outcome {want}, got {}", outcome.status.name());
        let failed = outcome.steps.iter().find(|(_, r)| r.status == runner::StepStatus::Failed);
        if let Some(m) = outcome.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            f.push_str(&format!(" ({})", sb.scrub(m)));
        } else if let Some((id, r)) = failed {
            // Name the step that decided it.
            f.push_str(&format!("; step `{id}` failed"));
            if let Some(reason) = &r.reason {
                f.push_str(&format!(": {}", sb.scrub(reason)));
            }
        }
        // Where that step is, and what it said last.
        if let Some((id, r)) = failed {
            f.push_str(&step_detail(rb, id, r, &sb));
            f.push_str(&not_stubbed(r, config, run.contained));
        }
        run.failures.push(f);
    }
    for (id, status, line) in &sc.expect.steps {
        let got = outcome.steps.get(id).map_or("not-run", |r| r.status.name());
        if got != status.name() {
            let why = outcome
                .steps
                .get(id)
                .and_then(|r| r.reason.clone())
                .filter(|r| !r.trim().is_empty())
                .map(|r| format!(" ({})", sb.scrub(&r)));
            let detail = match outcome.steps.get(id) {
                Some(r) if r.status == runner::StepStatus::Failed => step_detail(rb, id, r, &sb),
                _ => String::new(),
            };
            run.failures.push(format!(
                "step `{id}`: expected {}, got {got}{} [{}:{line}]{detail}",
                status.name(),
                why.unwrap_or_default(),
                fx.path.display()
            ));
        }
    }
    // Every call no stub answered (answered empty when contained, so the
    // play went on; failing its step when not): one failure each, with the
    // entry to paste.
    let mut named = std::collections::BTreeSet::new();
    for c in calls.iter().filter(|c| c.stub.is_none() && named.insert(c.cmd.clone())) {
        let at = c
            .step
            .as_deref()
            .and_then(|s| rb.step(s))
            .map(|s| format!(" (step `{}`, {}:{})", s.id, rb.path.display(), s.line));
        run.failures.push(format!(
            "no fixture for: {}{}; {}. Add to scenario `{}` of {}:\n{}",
            sb.scrub(&c.cmd.escape_debug().to_string()),
            at.unwrap_or_default(),
            if run.contained { "answered empty" } else { "the call failed (not contained: no invented answer)" },
            sc.name,
            fx.path.display(),
            fixture::stub_entry(&sb.scrub(&c.cmd))
        ));
    }
    if let Some((name, _)) = &sc.expect.transcript {
        let golden = fx.file.parent().map(|p| p.join(name)).unwrap_or_else(|| PathBuf::from(name));
        if opts.bless {
            std::fs::write(&golden, &run.transcript)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", golden.display()))?;
            run.blessed = true;
        } else {
            match std::fs::read_to_string(&golden) {
                Ok(want) if want == run.transcript => {}
                Ok(want) => {
                    run.failures.push(format!("transcript differs from {}", golden.display()));
                    run.diff = Some(
                        similar::TextDiff::from_lines(&want, &run.transcript)
                            .unified_diff()
                            .context_radius(3)
                            .header(&golden.display().to_string(), "rehearsal")
                            .to_string(),
                    );
                }
                Err(_) => run.failures.push(format!(
                    "golden transcript {} is missing: write it with `runbook check --bless`",
                    golden.display()
                )),
            }
        }
    }
    let used: std::collections::BTreeSet<usize> = calls.iter().filter_map(|c| c.stub).collect();
    run.unused_stubs = sc
        .stubs
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, s)| UnusedStub { cmd: s.cmd.clone(), line: s.line })
        .collect();
    run.unused_queries = queries
        .iter()
        .filter(|q| !q.used())
        .map(|q| UnusedStub { cmd: format!("{} {}", q.kind.name(), q.pattern), line: q.line })
        .collect();
    for f in &mut run.failures {
        *f = red.redact(f).into_owned();
    }
    run.passed = run.failures.is_empty();
    if !run.passed {
        let not_reached: Vec<&str> = outcome
            .steps
            .iter()
            .filter(|(id, r)| {
                matches!(r.status, runner::StepStatus::NotRun | runner::StepStatus::Interrupted)
                    && rb.step(id).is_some_and(|s| !s.attrs.undo)
            })
            .map(|(id, _)| id.as_str())
            .collect();
        run.notes = unused_notes(&run, &not_reached).iter().map(|n| red.redact(n).into_owned()).collect();
    }
    run.duration_ms = started.elapsed().as_millis();
    Ok(run)
}

/// The stubs and query fixtures a failed scenario never used, as
/// information. A stub whose glob misses its call leaves that call
/// unanswered and itself unused: shown together, the two point at the glob.
/// A step the play did not reach (it stopped at a failure) may be the one
/// that calls them: said so, rather than leaving them out.
fn unused_notes(run: &ScenarioRun, not_reached: &[&str]) -> Vec<String> {
    let fixture = run.fixture.display();
    let mut notes: Vec<String> = run
        .unused_stubs
        .iter()
        .map(|u| format!("stub `{}` is never called ({fixture}:{})", u.cmd, u.line))
        .chain(
            run.unused_queries
                .iter()
                .map(|u| format!("query fixture `{}` is never asked for ({fixture}:{})", u.cmd, u.line)),
        )
        .collect();
    if !notes.is_empty() && !not_reached.is_empty() {
        let steps: Vec<String> = not_reached.iter().map(|s| format!("`{s}`")).collect();
        notes.push(format!("the play did not reach step {}, which may call them", steps.join(", ")));
    }
    notes
}

/// The runbook as a rehearsal plays it: no terminal is attached (there is
/// none in CI, and the stubs answer `kubectl edit` or `exec -it` alike), so
/// `interactive` steps run captured. Nobody waits either: `retry` delays
/// are skipped and counted on the rehearsed clock (`PlayEnv::waits`).
fn stage(rb: &Runbook) -> Runbook {
    let mut rb = rb.clone();
    for s in &mut rb.steps {
        s.attrs.interactive = false;
    }
    rb
}

fn outcome_name(o: fixture::ExpectOutcome) -> &'static str {
    match o {
        fixture::ExpectOutcome::Passed => "passed",
        fixture::ExpectOutcome::Failed => "failed",
        fixture::ExpectOutcome::Refused => "refused",
        fixture::ExpectOutcome::Interrupted => "interrupted",
    }
}

/// Load a runbook's fixture and check it against the runbook and config.
pub fn load_fixture(rb: &Runbook, config: &Config) -> Result<Option<Fixture>> {
    let path = Fixture::path_for(config, &rb.id);
    if !path.is_file() {
        return Ok(None);
    }
    let shown = crate::catalog::display_path(&path, &config.root);
    let text = std::fs::read_to_string(&path).map_err(anyhow::Error::from)?;
    let mut fx = fixture::parse(&shown, &text)?;
    fx.file = path;
    let errs = fx.validate(rb, config);
    if !errs.is_empty() {
        return Err(Error::Invalid(errs));
    }
    Ok(Some(fx))
}

/// Elapsed time, for the human summary.
pub fn secs(ms: u128) -> String {
    crate::runner::time::short(Duration::from_millis(ms as u64))
}
