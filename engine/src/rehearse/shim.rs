//! The shim side of a rehearsal: the `runbook` binary answering in place of
//! `kubectl`, `helm`, a repo script, ….
//!
//! A program stub is a symlink named after the program pointing at the
//! `runbook` binary, first on `PATH`; a path stub is a two-line `sh` script
//! running `runbook __shim NAME "$@"`. Either way exactly one `runbook`
//! process answers each call: it reads the scenario's stubs (written once per
//! scenario by the sandbox), picks the first stub whose glob matches the
//! argv, advances that stub's call counter under a file lock (steps may run
//! in parallel), logs the call, prints the canned output and exits with the
//! canned code.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fixture::Response;

/// Directory of the shim state; its presence marks a shim invocation.
pub const STATE_ENV: &str = "RUNBOOK_SHIM_STATE";
/// Step id of the calling step, set by the runner.
pub const STEP_ENV: &str = "RUNBOOK_STEP";
/// `file:line` of the calling step, set by the runner.
pub const LOCATION_ENV: &str = "RUNBOOK_STEP_LOCATION";

pub const TABLE_FILE: &str = "stubs.json";
pub const CALLS_FILE: &str = "calls.jsonl";
const COUNTERS_FILE: &str = "counters.json";
const LOCK_FILE: &str = "lock";

/// Exit code of a call that no stub answers in a contained rehearsal: it is
/// answered empty, so that the rehearsal goes on and names every missing
/// stub in one run (the scenario fails all the same; what later steps do
/// with the empty answer vanishes with the scenario).
pub const NO_FIXTURE_EXIT: i32 = 0;
/// Exit code of a call that no stub answers in an uncontained rehearsal
/// ([`Table::strict`]): the step fails, so that no later step acts on an
/// invented answer where its writes stay (`rm -rf cache/{{ old }}` with
/// `old` empty).
pub const NO_FIXTURE_STRICT_EXIT: i32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimStub {
    pub cmd: String,
    pub regex: String,
    pub responses: Vec<Response>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Table {
    pub stubs: Vec<ShimStub>,
    /// `file:line` of each step, for "no fixture for" messages.
    #[serde(default)]
    pub locations: std::collections::BTreeMap<String, String>,
    /// A call no stub answers fails ([`NO_FIXTURE_STRICT_EXIT`]) instead of
    /// being answered empty: the rehearsal is not contained.
    #[serde(default)]
    pub strict: bool,
}

/// One recorded call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Call {
    pub seq: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub cmd: String,
    /// Index of the matching stub, `None` for "no fixture".
    pub stub: Option<usize>,
    pub exit: i32,
}

/// Called first thing by `main`: when the binary runs under a stub name
/// (`kubectl` → runbook) inside a rehearsal, answer and return the exit code.
pub fn intercept() -> Option<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next()?;
    let name = Path::new(&argv0).file_name()?.to_string_lossy().into_owned();
    // Outside a rehearsal, a shim of `play --record-fixture` (see `record`).
    let recording = std::env::var_os(STATE_ENV).is_none();
    if name == "runbook" || (recording && std::env::var_os(super::record::RECORD_ENV).is_none()) {
        return None;
    }
    let exe = std::env::current_exe().ok();
    if exe.as_deref().and_then(Path::file_name).is_some_and(|f| f.to_string_lossy() == name) {
        return None;
    }
    if recording {
        let rest: Vec<std::ffi::OsString> = args.collect();
        return Some(super::record::pass_through(&name, &rest));
    }
    let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    Some(run(&name, &rest))
}

/// Answer one call of `name args…`; returns the exit code.
pub fn run(name: &str, args: &[String]) -> i32 {
    let Some(state) = std::env::var_os(STATE_ENV).map(PathBuf::from) else {
        crate::errln!("runbook __shim: {STATE_ENV} is not set: the shim only answers inside a rehearsal");
        return 2;
    };
    drain_stdin();
    let mut cmd = name.to_string();
    for a in args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    match answer(&state, &cmd) {
        Ok((Some(r), _, _)) => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(r.stdout.as_bytes());
            let _ = o.flush();
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(r.stderr.as_bytes());
            r.exit
        }
        Ok((None, _, table)) => {
            let step = std::env::var(STEP_ENV);
            let loc = std::env::var(LOCATION_ENV)
                .ok()
                .or_else(|| step.as_ref().ok().and_then(|s| table.locations.get(s).cloned()))
                .ok_or(());
            let at = match (step, loc) {
                (Ok(s), Ok(l)) => format!(" (step `{s}` at {l})"),
                (Ok(s), Err(_)) => format!(" (step `{s}`)"),
                (Err(_), Ok(l)) => format!(" ({l})"),
                _ => String::new(),
            };
            // One line, whatever the argv holds: it may be a step's last output.
            if table.strict {
                crate::errln!(
                    "no fixture for: {}{at}; the step fails (an uncontained rehearsal never acts on an invented answer)",
                    cmd.escape_debug()
                );
                return NO_FIXTURE_STRICT_EXIT;
            }
            crate::errln!("no fixture for: {}{at}; answered empty (the scenario fails)", cmd.escape_debug());
            NO_FIXTURE_EXIT
        }
        Err(e) => {
            crate::errln!("runbook shim: {e:#}");
            127
        }
    }
}

/// Match, count and log one call; the response if a stub matched.
pub fn answer(state: &Path, cmd: &str) -> anyhow::Result<(Option<Response>, Call, Table)> {
    let table: Table = serde_json::from_slice(&std::fs::read(state.join(TABLE_FILE))?)?;
    let mut found = None;
    for (i, s) in table.stubs.iter().enumerate() {
        if regex::bytes::Regex::new(&s.regex)?.is_match(cmd.as_bytes()) {
            found = Some(i);
            break;
        }
    }
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(state.join(LOCK_FILE))?;
    lock.lock()?;
    let counters_path = state.join(COUNTERS_FILE);
    let mut counters: Vec<usize> = match std::fs::read(&counters_path) {
        Ok(b) if !b.is_empty() => serde_json::from_slice(&b)?,
        _ => Vec::new(),
    };
    counters.resize(table.stubs.len(), 0);
    let response = found.map(|i| {
        let n = counters[i];
        counters[i] += 1;
        let rs = &table.stubs[i].responses;
        rs[n.min(rs.len().saturating_sub(1))].clone()
    });
    std::fs::write(&counters_path, serde_json::to_vec(&counters)?)?;
    let calls_path = state.join(CALLS_FILE);
    let seq = std::fs::read(&calls_path).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0);
    let call = Call {
        seq,
        step: std::env::var(STEP_ENV).ok(),
        cmd: cmd.to_string(),
        stub: found,
        exit: response.as_ref().map_or(if table.strict { NO_FIXTURE_STRICT_EXIT } else { NO_FIXTURE_EXIT }, |r| r.exit),
    };
    let mut log = OpenOptions::new().create(true).append(true).open(&calls_path)?;
    log.write_all(format!("{}\n", serde_json::to_string(&call)?).as_bytes())?;
    lock.unlock()?;
    Ok((response, call, table))
}

/// Every call of a scenario, in order.
pub fn read_calls(state: &Path) -> Vec<Call> {
    let Ok(text) = std::fs::read_to_string(state.join(CALLS_FILE)) else { return Vec::new() };
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// `echo x | kubectl apply -f -`: read what the step pipes in, so that the
/// writer does not die of SIGPIPE (and fail the step under `pipefail`)
/// because the stub answered before reading. Bounded, since an inherited
/// pipe may never close.
fn drain_stdin() {
    use std::os::unix::fs::FileTypeExt;
    let is_pipe = File::open("/dev/stdin")
        .and_then(|f| f.metadata())
        .map(|m| m.file_type().is_fifo() || m.file_type().is_file())
        .unwrap_or(false);
    if !is_pipe {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let drain = std::thread::Builder::new().spawn(move || {
        let mut sink = [0u8; 8192];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    // Without a thread, nothing is read: as a stub that does not drain.
    if drain.is_ok() {
        let _ = rx.recv_timeout(std::time::Duration::from_secs(2));
    }
}

/// Write the scenario's stubs for the shims.
pub fn write_table(state: &Path, table: &Table) -> std::io::Result<()> {
    std::fs::create_dir_all(state)?;
    std::fs::write(state.join(TABLE_FILE), serde_json::to_vec(table)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearse::fixture::compile_glob;

    #[test]
    fn sequence_and_first_match() {
        let dir = tempfile::tempdir().unwrap();
        let stub = |cmd: &str, rs: Vec<Response>| ShimStub {
            cmd: cmd.into(),
            regex: compile_glob(cmd).unwrap(),
            responses: rs,
        };
        let r = |o: &str, e: i32| Response { stdout: o.into(), stderr: String::new(), exit: e };
        write_table(
            dir.path(),
            &Table {
                stubs: vec![stub("curl *", vec![r("", 7), r("ok", 0)]), stub("curl x", vec![r("never", 0)])],
                ..Table::default()
            },
        )
        .unwrap();
        let a = |c: &str| answer(dir.path(), c).unwrap().0;
        assert_eq!(a("curl x").unwrap().exit, 7);
        assert_eq!(a("curl x").unwrap().stdout, "ok");
        assert_eq!(a("curl y").unwrap().stdout, "ok");
        assert!(a("kubectl get pods").is_none());
        let calls = read_calls(dir.path());
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[3].stub, None);
        assert_eq!(calls[3].exit, NO_FIXTURE_EXIT);
        assert_eq!(calls[2].seq, 2);
    }
}
