//! The holders of this process, kept between scenarios: building the
//! namespaces and the new root (a process exec'd, ~15 overlays) is done
//! once per worker, not once per scenario. A holder is taken for one
//! scenario at a time and put back when it has ended that scenario's
//! processes; one that says anything else is dropped, and the scenario gets
//! a new one. Idle holders end with this process ([`release`]).
//!
//! A holder's stage is an empty directory of the temporary directory on
//! the host (its tmpfs is mounted in the holder's namespace only). The
//! holder removes it when it ends, and so does the engine before it exits
//! ([`release`]): Ctrl-C reaches the holders too, and they end without a
//! word. The engine removes a stage only once its holder has exited:
//! removing the directory on the host detaches the holder's tmpfs from it,
//! and a holder still making places fresh would then write its new root
//! onto the host. A stage whose engine was killed with its holders is
//! removed by the next engine that starts one ([`super::sweep`]).

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;

use super::sweep::{PREFIX, sweep};
use super::{Spec, ready_wait};

/// Idle holders, each with the spec it was built for (the stage aside).
static POOL: Mutex<Vec<Holder>> = Mutex::new(Vec::new());

/// One `runbook __contain` process.
pub struct Holder {
    key: String,
    stage: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Holder {
    /// Start one for `spec` (its stage made here) and wait until it is built.
    pub fn start(spec: &Spec) -> Result<Holder, String> {
        let key = key(spec);
        sweep();
        let stage = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| format!("no directory for the namespace holder: {e}"))?
            .keep();
        let spec = Spec { stage: stage.clone(), ..spec.clone() };
        let json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        let mut child = match Command::new(&spec.exe)
            .arg("__contain")
            .arg(json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir(&stage);
                return Err(format!("cannot start {}: {e}", spec.exe.display()));
            }
        };
        let stdin = child.stdin.take();
        let out = child.stdout.take().ok_or("no pipe from the holder")?;
        // Read on a thread, so that a holder that hangs is given up on.
        let (tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::Builder::new().name("ns-holder-lines".into()).spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut h = Holder { key, stage, child: Some(child), stdin, lines };
        if let Err(e) = reader {
            // Dropped, the holder is ended and its stage removed.
            return Err(format!("no thread to read the namespace holder: {e}"));
        }
        h.expect("ready")?;
        Ok(h)
    }

    fn line(&self) -> Result<String, String> {
        match self.lines.recv_timeout(ready_wait()) {
            Ok(l) => match l.strip_prefix("error ") {
                Some(e) => Err(e.to_string()),
                None => Ok(l),
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err("the namespace holder did not answer in time".into())
            }
            Err(_) => Err("the namespace holder ended".into()),
        }
    }

    fn expect(&mut self, want: &str) -> Result<(), String> {
        match self.line()? {
            l if l == want => Ok(()),
            l => Err(format!("the namespace holder said `{l}`, not `{want}`")),
        }
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the namespace holder is closed")?;
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).map_err(|e| format!("the namespace holder: {e}"))
    }

    /// Start a scenario: the pid of its PID 1, once it is ready.
    fn run(&mut self, scratch: &Path) -> Result<u32, String> {
        let scratch = scratch.to_str().filter(|s| !s.contains('\n')).ok_or("the scratch path is not plain text")?;
        self.send(&format!("run {scratch}"))?;
        let (mut pid, mut ready) = (None, false);
        while pid.is_none() || !ready {
            let l = self.line()?;
            if let Some(p) = l.strip_prefix("pid ") {
                pid = p.trim().parse::<u32>().ok();
            } else if l == "ready" {
                ready = true;
            } else {
                return Err(format!("the namespace holder said `{l}`"));
            }
        }
        pid.ok_or_else(|| "no pid from the namespace holder".into())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // It ends when its stdin closes, after making fresh what its last
        // scenario wrote and its own clean-up: waited for aside ([`release`]
        // waits for that), and only then is its stage removed.
        self.stdin.take();
        let (child, stage) = (self.child.take(), std::mem::take(&mut self.stage));
        let ending = std::thread::Builder::new().name("ns-holder".into()).spawn(move || end(child, &stage));
        // No thread: the stage stays (the sweep of a later engine removes it).
        if let Ok(h) = ending {
            ENDING.lock().unwrap_or_else(|p| p.into_inner()).push(h);
        }
    }
}

/// Holders closed and not yet waited for.
static ENDING: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Wait for a holder whose stdin is closed to exit, then remove its stage
/// (the holder's own removal may have done it). One that has not exited in
/// [`ready_wait`] is killed: its namespace, and its mount of the stage, end
/// with it. The stage is removed only when the holder is gone: never while
/// it may still write below it.
fn end(child: Option<Child>, stage: &Path) {
    use wait_timeout::ChildExt as _;
    if let Some(mut child) = child {
        if !matches!(child.wait_timeout(ready_wait()), Ok(Some(_))) {
            let _ = child.kill();
        }
        if child.wait().is_err() {
            return;
        }
    }
    let _ = std::fs::remove_dir(stage);
}

/// End the idle holders and remove their stages: when this process is done
/// with rehearsals (it exits next). Returns once every holder this process
/// closed has exited and its stage is gone.
pub fn release() {
    let idle = std::mem::take(&mut *POOL.lock().unwrap_or_else(|p| p.into_inner()));
    drop(idle);
    let ending = std::mem::take(&mut *ENDING.lock().unwrap_or_else(|p| p.into_inner()));
    for h in ending {
        let _ = h.join();
    }
}

/// A holder taken for one scenario, and the namespaces its steps join.
pub struct Held {
    holder: Option<Holder>,
    fds: Vec<OwnedFd>,
}

impl Held {
    pub fn start(spec: &Spec, scratch: &Path) -> Result<Held, String> {
        let key = key(spec);
        let idle = {
            let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
            pool.iter().position(|h| h.key == key).map(|i| pool.swap_remove(i))
        };
        // One from the pool may have given up since (a scenario changed
        // what cannot be made fresh): then a new one.
        let (mut holder, pid) = match idle.map(|mut h| h.run(scratch).map(|pid| (h, pid))) {
            Some(Ok(got)) => got,
            _ => {
                let mut h = Holder::start(spec)?;
                let pid = h.run(scratch)?;
                (h, pid)
            }
        };
        let mut fds = Vec::new();
        // The user namespace first: it grants what joining the others needs.
        for ns in ["user", "mnt", "net", "pid"] {
            match std::fs::File::open(format!("/proc/{pid}/ns/{ns}")) {
                Ok(f) => fds.push(f.into()),
                Err(e) => {
                    let _ = holder.send("end");
                    return Err(format!("ns/{ns}: {e}"));
                }
            }
        }
        Ok(Held { holder: Some(holder), fds })
    }

    pub fn fds(&self) -> Vec<RawFd> {
        self.fds.iter().map(|f| f.as_raw_fd()).collect()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut h) = self.holder.take() {
            // Its PID 1 ends, and with it every process left in the
            // namespace, before `ended`.
            if h.send("end").and_then(|()| h.expect("ended")).is_ok() {
                POOL.lock().unwrap_or_else(|p| p.into_inner()).push(h);
            }
        }
        // Closing the last reference to the scenario's copy of the mount
        // namespace unmounts its tree, which waits for an RCU grace period:
        // done aside.
        let fds = std::mem::take(&mut self.fds);
        let _ = std::thread::Builder::new().name("ns-close".into()).spawn(move || drop(fds));
    }
}

/// What makes two holders interchangeable: the spec without its stage.
fn key(spec: &Spec) -> String {
    serde_json::to_string(&Spec { stage: Default::default(), ..spec.clone() }).unwrap_or_default()
}
