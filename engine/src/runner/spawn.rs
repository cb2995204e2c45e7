//! Starting a step's interpreter (see [`super::launch`] for how), and
//! waiting for it without a signal handler.
//!
//! Why not `std::process::Command` (or tokio's, which wraps it): every spawn
//! with a changed environment rebuilds the whole environment — a snapshot of
//! `environ` into a map, then one C string per variable — and a step always
//! changes it (`RUNBOOK_STEP`). With short steps that copy was a measurable
//! part of the engine's cost per step (scripts/bench seq), so the environment
//! is built here once per process and only the few per-step variables are
//! added to the pointer array.
//!
//! What the child gets is what `Command` gave it: the signal mask emptied and
//! signal dispositions back to their default (so an ignored `SIGPIPE` or
//! `SIGINT` of the engine is not inherited), optionally its own process
//! group, stdio redirected, the working directory changed. The exit is
//! awaited on a pidfd (Linux ≥ 5.3) registered with the runtime; where there
//! is none, a blocking thread waits for it.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::OnceLock;

use nix::libc;

use super::launch::{Launch, launch};

/// What the child's standard streams are.
pub enum Stdio {
    /// The engine's own (interactive steps: the terminal).
    Inherit,
    /// stdin from `/dev/null`, stdout and stderr into pipes read by the engine.
    Piped,
}

pub struct Command<'a> {
    pub program: &'a Path,
    pub args: &'a [&'a OsStr],
    pub cwd: &'a Path,
    /// Set on top of the engine's environment (overriding it), or the whole
    /// environment when `inherit_env` is false.
    pub env: &'a [(&'a str, &'a OsStr)],
    /// Start from the engine's environment ([`base_env`]).
    pub inherit_env: bool,
    pub stdio: Stdio,
    /// Put the child in a new process group of its own.
    pub new_group: bool,
    /// A close-on-exec descriptor the child (only) inherits.
    pub inherit: Option<RawFd>,
    /// Namespaces the child enters before its `execve` (see [`Launch::enter`]).
    pub enter: &'a [RawFd],
    /// Called with the child's pid before its `execve` (see [`Launch::gate`]).
    pub gate: Option<&'a dyn Fn(libc::pid_t)>,
}

/// A spawned child. Dropping it without waiting leaves its reaping to a
/// background thread, so no zombie stays behind.
pub struct Child {
    pid: libc::pid_t,
    status: Option<ExitStatus>,
    #[cfg(target_os = "linux")]
    pidfd: Option<tokio::io::unix::AsyncFd<OwnedFd>>,
    /// Without a pidfd: the blocking thread that waits for the child. Kept
    /// here, so that a `wait` given up halfway (a `select!`, a timeout) and
    /// taken up again awaits the same thread, which may have reaped the
    /// child already.
    waiter: Option<tokio::task::JoinHandle<io::Result<ExitStatus>>>,
    /// Read ends of the output pipes, non-blocking and not yet registered
    /// with the runtime (the caller decides when to start reading).
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument"))
}

/// `KEY=value` as a C string.
fn env_entry(k: &[u8], v: &[u8]) -> io::Result<CString> {
    let mut kv = Vec::with_capacity(k.len() + v.len() + 1);
    kv.extend_from_slice(k);
    kv.push(b'=');
    kv.extend_from_slice(v);
    cstr(&kv)
}

/// The engine's environment as C strings, built once: the engine never
/// changes its own environment while it runs. Without `RUNBOOK_VAR_*`:
/// those give the runbook's variables, which steps get through their
/// templates, and may be secrets no step reads (docs/decisions.md).
fn base_env() -> &'static [CString] {
    static BASE: OnceLock<Vec<CString>> = OnceLock::new();
    BASE.get_or_init(|| {
        std::env::vars_os()
            .filter(|(k, _)| !k.as_bytes().starts_with(crate::vars::ENV_PREFIX.as_bytes()))
            .filter_map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes()).ok())
            .collect()
    })
}

/// Appends to `envp` the engine's environment without the variables `env`
/// overrides. The steps of a play all override the same names, so the
/// filtered list is kept for the last set of names, not rebuilt per step.
fn base_without(env: &[(&str, &OsStr)], envp: &mut Vec<*mut libc::c_char>) {
    /// The names, and the entries of [`base_env`] left (as addresses: they
    /// point into a `static`).
    static LAST: std::sync::Mutex<Option<(Vec<String>, Vec<usize>)>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let same = last
        .as_ref()
        .is_some_and(|(names, _)| names.len() == env.len() && names.iter().zip(env).all(|(n, (k, _))| n == k));
    if !same {
        let overridden = |kv: &CString| {
            let b = kv.as_bytes();
            env.iter().any(|(k, _)| b.len() > k.len() && b.starts_with(k.as_bytes()) && b[k.len()] == b'=')
        };
        let left = base_env().iter().filter(|kv| !overridden(kv)).map(|kv| kv.as_ptr() as usize).collect();
        *last = Some((env.iter().map(|(k, _)| k.to_string()).collect(), left));
    }
    if let Some((_, left)) = last.as_ref() {
        envp.extend(left.iter().map(|&p| p as *mut libc::c_char));
    }
}

/// `/dev/null` for the steps' stdin, opened once per process (close-on-exec,
/// so only the `dup2` in the child hands it on).
fn dev_null() -> io::Result<RawFd> {
    static NULL: OnceLock<std::fs::File> = OnceLock::new();
    if let Some(f) = NULL.get() {
        return Ok(f.as_raw_fd());
    }
    let f = std::fs::File::open("/dev/null")?;
    Ok(NULL.get_or_init(|| f).as_raw_fd())
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by no one else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn spawn(cmd: &Command) -> io::Result<Child> {
    let program = cstr(cmd.program.as_os_str().as_bytes())?;
    let mut argv_c = vec![program.clone()];
    for a in cmd.args {
        argv_c.push(cstr(a.as_bytes())?);
    }
    let cwd = cstr(cmd.cwd.as_os_str().as_bytes())?;
    let extra: Vec<CString> =
        cmd.env.iter().map(|(k, v)| env_entry(k.as_bytes(), v.as_bytes())).collect::<io::Result<_>>()?;
    let mut envp: Vec<*mut libc::c_char> = Vec::with_capacity(base_env().len() + extra.len() + 1);
    if cmd.inherit_env {
        base_without(cmd.env, &mut envp);
    }
    envp.extend(extra.iter().map(|kv| kv.as_ptr() as *mut _));
    envp.push(std::ptr::null_mut());
    let mut argv: Vec<*mut libc::c_char> = argv_c.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv.push(std::ptr::null_mut());

    // The write ends are kept open until the child has them (then dropped).
    let pipes = match cmd.stdio {
        Stdio::Piped => Some(Pipes::new()?),
        Stdio::Inherit => None,
    };
    let stdio = match &pipes {
        Some(p) => Some([dev_null()?, p.out_w.as_raw_fd(), p.err_w.as_raw_fd()]),
        None => None,
    };
    let launched = launch(&Launch {
        program: &program,
        argv: &argv,
        envp: &envp,
        cwd: &cwd,
        stdio,
        new_group: cmd.new_group,
        inherit: cmd.inherit,
        enter: cmd.enter,
        pause_ms: super::fault::value("spawn-pause").unwrap_or(0),
        gate: cmd.gate,
    })?;
    let pid = launched.pid;
    let mut child = Child {
        pid,
        status: None,
        #[cfg(target_os = "linux")]
        pidfd: pidfd(pid, launched.pidfd),
        waiter: None,
        stdout: None,
        stderr: None,
    };
    if let Some(p) = pipes {
        child.stdout = Some(p.out_r);
        child.stderr = Some(p.err_r);
    }
    Ok(child)
}

/// A step's output pipes: read ends non-blocking for the engine, write ends
/// for the child's stdout and stderr. All close-on-exec.
struct Pipes {
    out_r: OwnedFd,
    err_r: OwnedFd,
    out_w: OwnedFd,
    err_w: OwnedFd,
}

impl Pipes {
    fn new() -> io::Result<Pipes> {
        let (out_r, out_w) = pipe_cloexec()?;
        let (err_r, err_w) = pipe_cloexec()?;
        Ok(Pipes { out_r: nonblocking(out_r)?, err_r: nonblocking(err_r)?, out_w, err_w })
    }
}

/// The read end of a new pipe, made non-blocking. Its only other status
/// flag would be `O_RDONLY`, which `F_SETFL` leaves alone: no `F_GETFL`.
fn nonblocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// A pidfd for `pid` (the clone's, else one from `pidfd_open`) registered
/// with the runtime; `None` on kernels without pidfds (Linux < 5.3: a
/// blocking thread waits then).
#[cfg(target_os = "linux")]
fn pidfd(pid: libc::pid_t, made: Option<OwnedFd>) -> Option<tokio::io::unix::AsyncFd<OwnedFd>> {
    let fd = match made {
        Some(fd) => fd,
        None => {
            // SAFETY: a plain system call; the descriptor it returns is ours.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
            if fd < 0 {
                return None;
            }
            // SAFETY: just created, owned by no one else.
            unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
        }
    };
    // SAFETY: an OwnedFd stays valid as long as the AsyncFd owns it, and
    // is closed only when the AsyncFd (and its registration) is dropped.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
}

/// `Some(status)` once the child has exited (and is reaped), without blocking.
fn try_reap(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    let mut st: libc::c_int = 0;
    // SAFETY: waitpid on our own child.
    match unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } {
        0 => Ok(None),
        p if p == pid => Ok(Some(ExitStatus::from_raw(st))),
        _ => Err(io::Error::last_os_error()),
    }
}

impl Child {
    pub fn id(&self) -> Option<u32> {
        if self.status.is_some() { None } else { Some(self.pid as u32) }
    }

    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.pidfd {
            loop {
                let mut ready = fd.readable().await?;
                if let Some(s) = try_reap(self.pid)? {
                    self.status = Some(s);
                    return Ok(s);
                }
                ready.clear_ready();
            }
        }
        let pid = self.pid;
        let waiter = self.waiter.get_or_insert_with(|| {
            tokio::task::spawn_blocking(move || {
                let mut st: libc::c_int = 0;
                loop {
                    // SAFETY: waitpid on our own child.
                    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
                    if r == pid {
                        return Ok(ExitStatus::from_raw(st));
                    }
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            })
        });
        let s = waiter.await.map_err(io::Error::other);
        self.waiter = None;
        let s = s??;
        self.status = Some(s);
        Ok(s)
    }

    /// SIGKILL the child (not its group), unless it was reaped already.
    pub fn start_kill(&mut self) -> io::Result<()> {
        // A finished waiter thread has reaped it (not seen by `wait` yet).
        if self.status.is_some() || self.waiter.as_ref().is_some_and(|w| w.is_finished()) {
            return Ok(());
        }
        // SAFETY: signalling our own child, which is not reaped yet (so the
        // pid cannot have been reused).
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // A waiter thread reaps it whenever it ends.
        if self.status.is_some() || self.waiter.is_some() || matches!(try_reap(self.pid), Ok(Some(_)) | Err(_)) {
            return;
        }
        let pid = self.pid;
        // Still running: reap it whenever it ends.
        let _ = std::thread::Builder::new().name("reaper".into()).spawn(move || {
            let mut st = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::unix::pipe;

    /// `sh -c SCRIPT` in `/`, output piped.
    fn sh(script: &str, env: &[(&str, &OsStr)], new_group: bool) -> Child {
        let args = [OsStr::new("-c"), OsStr::new(script)];
        spawn(&Command {
            program: Path::new("/bin/sh"),
            args: &args,
            cwd: Path::new("/"),
            env,
            inherit_env: true,
            stdio: Stdio::Piped,
            new_group,
            inherit: None,
            enter: &[],
            gate: None,
        })
        .unwrap()
    }

    async fn run(script: &str, env: &[(&str, &OsStr)], new_group: bool) -> (ExitStatus, String, u32) {
        let mut c = sh(script, env, new_group);
        let pid = c.id().unwrap();
        let mut out = String::new();
        let rx = pipe::Receiver::from_owned_fd_unchecked(c.stdout.take().unwrap()).unwrap();
        tokio::io::BufReader::new(rx).read_to_string(&mut out).await.unwrap();
        (c.wait().await.unwrap(), out, pid)
    }

    #[tokio::test]
    async fn environment_cwd_stdin_and_exit_status() {
        let env = [("RUNBOOK_TEST_X", OsStr::new("a b")), ("HOME", OsStr::new("/nowhere"))];
        let (st, out, _) = run(r#"echo "$RUNBOOK_TEST_X|$HOME|$(pwd)|$(cat)"; exit 3"#, &env, false).await;
        assert_eq!(out, "a b|/nowhere|/|\n");
        assert_eq!(st.code(), Some(3));
    }

    #[tokio::test]
    async fn each_set_of_overridden_names_filters_the_environment_anew() {
        let home = std::env::var("HOME").unwrap_or_default();
        let over = [("HOME", OsStr::new("/nowhere"))];
        let count = "echo \"$HOME\" $(env | grep -c '^HOME=')";
        assert_eq!(run(count, &over, false).await.1, "/nowhere 1\n");
        assert_eq!(run(count, &[], false).await.1, format!("{home} {}\n", usize::from(!home.is_empty())));
        assert_eq!(run(count, &over, false).await.1, "/nowhere 1\n");
    }

    #[tokio::test]
    async fn signals_are_reset_and_group_is_new() {
        // The test binary ignores SIGPIPE (Rust does): the child must not;
        // nor may it inherit a blocked signal (all are blocked around the
        // clone). glibc's posix_spawn would leave its internal signals 32
        // and 33 ignored; the Linux launcher leaves none.
        let script = "grep -E 'Sig(Ign|Blk)' /proc/self/status; cut -d' ' -f5 /proc/$$/stat";
        let (_, out, pid) = run(script, &[], true).await;
        let mut lines = out.lines();
        let blk = lines.next().and_then(|l| l.strip_prefix("SigBlk:\t")).unwrap();
        assert_eq!(u64::from_str_radix(blk, 16).unwrap(), 0, "blocked signals: {blk}");
        let ign = lines.next().and_then(|l| l.strip_prefix("SigIgn:\t")).unwrap();
        let checked = if cfg!(target_os = "linux") { u64::MAX } else { 0x7fff_ffff };
        assert_eq!(u64::from_str_radix(ign, 16).unwrap() & checked, 0, "ignored signals: {ign}");
        assert_eq!(lines.next(), Some(pid.to_string().as_str()), "own process group");
    }

    #[tokio::test]
    async fn a_program_or_directory_that_cannot_be_used_is_an_error() {
        let missing = Path::new("/nonexistent/runbook-test");
        let spawn_in = |program: &Path, cwd: &Path| {
            spawn(&Command {
                program,
                args: &[],
                cwd,
                env: &[],
                inherit_env: true,
                stdio: Stdio::Piped,
                new_group: true,
                inherit: None,
                enter: &[],
                gate: None,
            })
        };
        let e = spawn_in(missing, Path::new("/")).err().expect("no such program");
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        let e = spawn_in(Path::new("/bin/sh"), missing).err().expect("no such directory");
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        let e = spawn_in(Path::new("/dev/null"), Path::new("/")).err().expect("not executable");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    }

    #[tokio::test]
    async fn killed_child_reports_the_signal() {
        let mut c = sh("sleep 30", &[], true);
        c.start_kill().unwrap();
        assert_eq!(c.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        assert_eq!(c.id(), None);
    }

    #[tokio::test]
    async fn a_wait_given_up_halfway_can_be_taken_up_again() {
        for pidfd in [true, false] {
            // The child ends only once the test opens its gate: the wait
            // given up cannot have seen it end, however slow the machine.
            let dir = tempfile::tempdir().unwrap();
            let gate = dir.path().join("gate");
            let script = format!("while [ ! -e '{}' ]; do sleep 0.01; done; exit 4", gate.display());
            let mut c = sh(&script, &[], true);
            if !pidfd {
                // As on kernels without pidfd_open: a blocking thread waits.
                c.pidfd = None;
            }
            let early = tokio::time::timeout(std::time::Duration::from_millis(20), c.wait()).await;
            assert!(early.is_err(), "pidfd {pidfd}: returned before the child ended");
            std::fs::write(&gate, "").unwrap();
            // Long enough, most times, for the given-up wait's thread to
            // have reaped the child; the wait taken up gets its code anyway.
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            assert_eq!(c.wait().await.unwrap().code(), Some(4), "pidfd {pidfd}");
        }
    }
}
