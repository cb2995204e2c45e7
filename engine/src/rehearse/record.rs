//! `runbook play ID --env E --record-fixture NAME`: a real play whose calls
//! of the stubbed programs are recorded into `fixtures/<id>.toml` as
//! scenario NAME, so that it replays under `check` without the tools.
//!
//! Each program of `[rehearse] stub` gets a shim first on `PATH` (the
//! small `runbook-record-shim` binary under the program's name, or the
//! `runbook` binary where that is not installed) that runs
//! the real program found on the original `PATH`, passes its output
//! through as it comes, and logs the call: argv, stdout, stderr, exit. At
//! the end the calls become `[[scenario.stub]]`s (a call made again with
//! other answers a `sequence`), the play's outcome and step statuses the
//! `expect`. Secrets are masked: in a `cmd` a secret value becomes `*` (and
//! the scenario's vars give each secret a stand-in value), in outputs
//! `***`. The scenario is written with [`super::write`]: a second recording
//! replaces only that scenario.
//!
//! The answers of query steps (promql, logql, http) become
//! `[[scenario.query]]`s ([`super::record_queries`]), the answers given to
//! its questions the scenario's `answers`. Not recorded: repo scripts given
//! as paths (they are run from the repo as they are), and programs called
//! by absolute path.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::fixture::{Fixture, Response, escape_glob};
use super::sandbox::StubKind;
use super::write::{self, NewScenario, NewStub, Put};
use crate::config::Config;
use crate::model::Runbook;
use crate::runner::Outcome;

/// Directory of a recording; its presence marks a recording shim.
pub const RECORD_ENV: &str = "RUNBOOK_RECORD";
/// `PATH` without the recording shims: where the real programs are.
pub const REAL_PATH_ENV: &str = "RUNBOOK_RECORD_PATH";
const CALLS: &str = "calls.jsonl";
/// What stands for a secret variable in a recorded scenario's `vars`.
pub const STAND_IN: &str = "MASKED";

#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    step: Option<String>,
    cmd: String,
    stdout: String,
    stderr: String,
    exit: i32,
}

/// What the recorded play was given and came to.
pub struct Played<'a> {
    pub vars: &'a crate::vars::Resolved,
    /// `--set`: kept in the scenario's vars (secrets as [`STAND_IN`]).
    pub sets: &'a [(String, String)],
    pub outcome: &'a Outcome,
    /// The answers given to the play's questions (confirm, manual), per
    /// step: `yes`, `no` or `skip`.
    pub answers: Vec<(String, String)>,
}

pub struct Recording {
    dir: tempfile::TempDir,
    /// The shims: first on `PATH` of the play's steps.
    pub bin: PathBuf,
    /// Answers the query steps (the real servers) and keeps their answers.
    pub queries: Arc<super::record_queries::Recorder>,
}

impl Recording {
    pub fn start(config: &Config) -> anyhow::Result<Recording> {
        let dir = tempfile::Builder::new().prefix("runbook-record-").tempdir()?;
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin)?;
        let exe = shim_exe()?;
        for s in &config.stubs {
            let name = match StubKind::of(s) {
                StubKind::Program(p) => p.to_string(),
                StubKind::Absolute(p) => p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                _ => continue,
            };
            let link = bin.join(&name);
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(&exe, &link).with_context(|| format!("cannot shim `{name}`"))?;
            }
        }
        let queries = Arc::new(super::record_queries::Recorder::new(Arc::new(crate::observe::Live)));
        Ok(Recording { dir, bin, queries })
    }

    /// Extra environment of the play's steps.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        vec![(RECORD_ENV.into(), self.dir.path().display().to_string()), (REAL_PATH_ENV.into(), path)]
    }

    /// Write what was recorded as scenario `name` of the runbook's fixture.
    pub fn finish(
        self,
        config: &Config,
        rb: &Runbook,
        name: &str,
        env: Option<&str>,
        played: Played,
    ) -> anyhow::Result<(PathBuf, Put, usize)> {
        let Played { vars, sets, outcome, answers } = played;
        let text = std::fs::read_to_string(self.dir.path().join(CALLS)).unwrap_or_default();
        let calls: Vec<Recorded> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let mut secrets: Vec<String> =
            crate::template::secret_values(rb, &vars.vars).into_iter().filter(|v| !v.is_empty()).collect();
        // What a secret capture caught is the output of its step's calls.
        let capturing = |id: &str| rb.step(id).and_then(|s| s.attrs.capture.as_ref()).is_some_and(|c| rb.is_secret(c));
        for c in calls.iter().filter(|c| c.step.as_deref().is_some_and(capturing)) {
            secrets.extend([c.stdout.trim().to_string()].into_iter().filter(|v| !v.is_empty()));
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let red = crate::redact::Redactor::new(secrets.clone());
        let mut sc = NewScenario {
            name: name.to_string(),
            env: env.map(str::to_string),
            comment: Some(format!("Recorded from a real play by `runbook play {} --record-fixture {name}`.", rb.id)),
            outcome: outcome.status.name().to_string(),
            answers: Some("yes".into()),
            ..NewScenario::default()
        };
        // Only what was not `yes` needs saying (a step asked twice: its last answer).
        let mut given: Vec<(String, String)> = Vec::new();
        for (step, reply) in answers {
            given.retain(|(s, _)| s != &step);
            given.push((step, reply));
        }
        if given.iter().any(|(_, r)| r != "yes") {
            sc.answer_steps = given.into_iter().filter(|(_, r)| r != "yes").collect();
        }
        sc.vars = scenario_vars(rb, sets, vars);
        for c in &calls {
            let cmd = glob_masking(&c.cmd, &secrets);
            let r = Response {
                stdout: red.redact(&c.stdout).into_owned(),
                stderr: red.redact(&c.stderr).into_owned(),
                exit: c.exit,
            };
            match sc.stubs.iter_mut().find(|s| s.cmd == cmd) {
                Some(s) => s.sequence.push(r),
                None => sc.stubs.push(NewStub {
                    cmd,
                    note: c.step.as_ref().map(|s| format!("step `{s}`")),
                    sequence: vec![r],
                    ..NewStub::default()
                }),
            }
        }
        for s in &mut sc.stubs {
            if s.sequence.iter().all(|r| *r == s.sequence[0]) {
                let r = s.sequence.swap_remove(0);
                s.sequence.clear();
                (s.stdout, s.stderr, s.exit) = (r.stdout, r.stderr, r.exit);
            }
        }
        sc.queries = self.queries.tables(&red, &secrets);
        sc.steps = outcome
            .steps
            .iter()
            .filter(|(id, _)| rb.step(id).is_some_and(|s| !s.attrs.undo))
            .filter_map(|(id, r)| {
                let n = r.status.name();
                matches!(n, "passed" | "failed" | "skipped").then(|| (id.clone(), n.to_string()))
            })
            .collect();
        let path = Fixture::path_for(config, &rb.id);
        let put = write::put(&path, &sc, true)?.expect("replace never refuses");
        Ok((path, put, calls.len()))
    }
}

/// A written scenario's `vars`: the `--set` values, each secret one (and
/// every other secret variable with a value) as [`STAND_IN`], so that a
/// fixture, committed to git, never holds a secret.
pub fn scenario_vars(rb: &Runbook, sets: &[(String, String)], vars: &crate::vars::Resolved) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in sets {
        let v = match vars.vars.get(k) {
            _ if rb.is_secret(k) => STAND_IN.to_string(),
            // A secret part of a list or map: that part stands in.
            Some(value) if rb.holds_secret(k, value) => {
                crate::vars::as_text(&crate::redact::replace_secret_parts(k, value, false, &mut |_| {
                    crate::model::Value::String(STAND_IN.into())
                }))
            }
            _ => v.clone(),
        };
        out.push((k.clone(), v));
    }
    for (k, _) in vars.vars.iter().filter(|(k, _)| rb.is_secret(k)) {
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.clone(), STAND_IN.into()));
        }
    }
    out
}

/// `cmd` as an exact glob, each secret value in it a `*`.
fn glob_masking(cmd: &str, secrets: &[String]) -> String {
    let mut t = cmd.replace('\u{0}', "");
    for s in secrets {
        t = t.replace(s.as_str(), "\u{0}");
    }
    t.split('\u{0}').map(escape_glob).collect::<Vec<_>>().join("*")
}

/// The recording shim: `runbook-record-shim` next to the engine's binary
/// (quick to start: it runs once per call), else the engine's binary itself.
fn shim_exe() -> anyhow::Result<PathBuf> {
    let exe = super::sandbox::shim_exe()?;
    let small = exe.with_file_name("runbook-record-shim");
    Ok(if small.is_file() { small } else { exe })
}

/// The shim side: run the real `name`, pass its output through, log the
/// call. Returns the exit code.
pub fn pass_through(name: &str, args: &[std::ffi::OsString]) -> i32 {
    let real_path = std::env::var_os(REAL_PATH_ENV).unwrap_or_default();
    let Some(dir) = std::env::var_os(RECORD_ENV).map(PathBuf::from) else { return 127 };
    let found = std::env::split_paths(&real_path).map(|d| d.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    let Some(prog) = found else {
        crate::errln!("{name}: command not found");
        log(&dir, name, args, "", &format!("{name}: command not found\n"), 127);
        return 127;
    };
    let child = std::process::Command::new(&prog)
        .arg0(name)
        .args(args)
        .env("PATH", &real_path)
        .env_remove(RECORD_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            crate::errln!("{name}: {e}");
            return 126;
        }
    };
    let out = child.stdout.take().map(|s| tee(s, std::io::stdout()));
    let err = child.stderr.take().map(|s| tee(s, std::io::stderr()));
    let status = child.wait();
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    let code = match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
        Err(_) => 127,
    };
    log(&dir, name, args, &stdout, &stderr, code);
    code
}

use std::os::unix::process::CommandExt as _;

/// Copy `from` to `to` as it comes; the whole text at the end.
fn tee<R: Read + Send + 'static, W: Write + Send + 'static>(mut from: R, mut to: W) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = to.write_all(&buf[..n]);
            let _ = to.flush();
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    })
}

fn log(dir: &Path, name: &str, args: &[std::ffi::OsString], stdout: &str, stderr: &str, exit: i32) {
    let mut cmd = name.to_string();
    for a in args {
        cmd.push(' ');
        cmd.push_str(&a.to_string_lossy());
    }
    let r = Recorded {
        step: std::env::var(super::shim::STEP_ENV).ok(),
        cmd,
        stdout: stdout.into(),
        stderr: stderr.into(),
        exit,
    };
    let Ok(line) = serde_json::to_string(&r) else { return };
    let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(CALLS)) else { return };
    // Steps run in parallel: one call's line at a time.
    let _ = f.lock();
    let _ = f.write_all(format!("{line}\n").as_bytes());
    let _ = f.unlock();
}

/// The answers given in run `run` to the questions a scenario's `answers`
/// scripts (confirm, manual), in the order given: (step, `yes`|`no`|`skip`).
pub fn answers_given(store: &dyn crate::store::Store, run: &str) -> Vec<(String, String)> {
    use crate::run::event::{Event, Question, Reply};
    let entries = store.events(run).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Answer(a) if matches!(a.question, Question::Confirm | Question::Manual) => {
                let reply = match a.reply {
                    Reply::Yes => "yes",
                    Reply::No => "no",
                    Reply::Skip => "skip",
                    _ => return None,
                };
                Some((a.step?, reply.to_string()))
            }
            _ => None,
        })
        .collect()
}
