//! Starting a child process: `clone(CLONE_VM | CLONE_VFORK)` on Linux,
//! `posix_spawn(3)` elsewhere. [`super::spawn`] prepares what the child gets
//! (argv, environment, descriptors) and waits for it; this module only starts
//! it.
//!
//! Why not glibc's `posix_spawn` on Linux: it does the same vfork-style
//! clone, but maps a fresh stack for the child every time and unmaps it
//! afterwards. In a process with other threads (the engine has its log writer
//! and journal syncer) that unmapping flushes the TLB of the other CPUs by
//! interrupt, and with the stack's page faults it was about a tenth of the
//! engine's own time per step with short steps (scripts/bench seq). Here the
//! stack is mapped once, with a guard page, and reused under a lock (the
//! parent is suspended until the child has called `execve`, so one stack is
//! enough per spawn in flight).
//!
//! What the child does before `execve` is what `posix_spawn` with
//! `SETSIGDEF`, `SETSIGMASK`, `SETPGROUP`, `dup2` and `addchdir_np` did:
//! signals 1–31 back to their default disposition (an ignored `SIGPIPE`
//! would be inherited; a handler would run on the parent's memory), and the
//! real-time ones the engine ignores (an `execve` resets handled ones), its
//! own process group if asked, stdio redirected, the one descriptor it is to
//! inherit made inheritable, the working directory changed, an empty signal
//! mask. Unlike glibc's `posix_spawn`, it leaves no signal ignored at all,
//! glibc's internal 32 and 33 included. All signals are blocked
//! in the parent around the clone, so that no handler runs in the child,
//! which shares the parent's memory until `execve`. Only system calls are
//! made in the child: no allocation, no lock, nothing that can panic.
//!
//! **The gate** ([`Launch::gate`]): a step's process must be in the journal
//! (its process group, `spawned`) before it runs anything, so that a resume
//! after a `kill -9` of the engine finds it even if it reset its environment.
//! With a gate, the child, once set up (its process group made), stops
//! before its `execve` and waits on a pipe, while the parent, not suspended
//! this time (no `CLONE_VFORK`), calls the gate with the child's pid (the
//! engine records it), then writes one byte: the child goes on to `execve`.
//! If the engine dies first, the pipe's write end closes with it (the child
//! closed its own copy), the child reads the end of the pipe and exits
//! without `execve`: nothing of the step ran. The parent then waits for the
//! `execve` as `CLONE_VFORK` would have: `CLONE_CHILD_CLEARTID` makes the
//! kernel clear a word and wake its futex when the child lets go of the
//! shared memory (`execve` or exit). The child's system calls and the
//! parent's never run at once but for the gate's `read`, which sets no
//! `errno` (the child shares the parent thread's, as with `CLONE_VFORK`):
//! the parent waits, signals blocked, while the child sets up, and calls the
//! gate only once the child waits. Without the clone (`posix_spawn`) there
//! is no gate: [`launch`] refuses ([`ungated`]), and the caller feeds the
//! body through a pipe after the record instead. Most steps' processes are
//! not gated but started waiting for their body on a pipe, before the
//! step's start is durable (`runner::step::ready`): the gate holds the
//! engine's thread, so it cannot last across a wait for the store.

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

use nix::libc;

/// What to start: C strings and null-terminated pointer arrays, built by the
/// caller and alive for the call.
pub struct Launch<'a> {
    pub program: &'a CStr,
    pub argv: &'a [*mut libc::c_char],
    pub envp: &'a [*mut libc::c_char],
    pub cwd: &'a CStr,
    /// The child's stdin, stdout and stderr; `None`: the engine's own.
    /// Each is above 2: Rust's runtime opens `/dev/null` on a standard
    /// descriptor closed at start, so whatever the engine opens later is
    /// above 2, and no `dup2` in the child overwrites a source of a later one.
    pub stdio: Option<[RawFd; 3]>,
    /// Put the child in a new process group of its own.
    pub new_group: bool,
    /// A close-on-exec descriptor the child inherits (the flag is cleared
    /// on the child's copy only), at the same number.
    pub inherit: Option<RawFd>,
    /// Namespace descriptors (`/proc/PID/ns/*`, the user namespace first)
    /// the child joins with `setns` before it changes directory: a contained
    /// rehearsal's steps, which also enter the Landlock domain that scopes
    /// their signals ([`super::scope`]). Only the clone below can:
    /// `posix_spawn` refuses.
    pub enter: &'a [RawFd],
    /// Milliseconds the child waits before its `execve`: a fault injected
    /// by the tests (`RUNBOOK_FAULT=spawn-pause:MS`, debug builds only), to
    /// hold open the window in which it shares the engine's descriptors.
    pub pause_ms: u32,
    /// Called with the child's pid once it is set up (in its process group)
    /// and before its `execve`, which waits until the call returned (see
    /// the module's doc). It must not start a process. `None`: no gate.
    pub gate: Option<&'a dyn Fn(libc::pid_t)>,
}

/// A started child.
pub struct Launched {
    pub pid: libc::pid_t,
    /// A pidfd for it, made by the clone itself (Linux ≥ 5.2).
    #[cfg(target_os = "linux")]
    pub pidfd: Option<std::os::fd::OwnedFd>,
}

/// Starts the child: on Linux with the clone below, falling back to
/// `posix_spawn` where the kernel or a seccomp filter refuses that clone
/// (the flags `posix_spawn` uses are the same but for `CLONE_PIDFD`).
/// With a gate, where the clone is refused (or elsewhere than Linux), the
/// error is [`ungated`] and nothing was started.
#[cfg(target_os = "linux")]
pub fn launch(l: &Launch) -> io::Result<Launched> {
    match linux::launch(l)? {
        Some(launched) => Ok(launched),
        None if l.gate.is_some() => Err(io::Error::new(io::ErrorKind::Unsupported, Ungated)),
        None => posix::launch(l),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn launch(l: &Launch) -> io::Result<Launched> {
    if l.gate.is_some() {
        return Err(io::Error::new(io::ErrorKind::Unsupported, Ungated));
    }
    posix::launch(l)
}

/// A gate was asked for where there can be none (see [`launch`]).
#[derive(Debug)]
struct Ungated;

impl std::fmt::Display for Ungated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a process cannot be held before its execve here (no clone)")
    }
}

impl std::error::Error for Ungated {}

/// Is `e` the refusal of a gate (nothing was started)?
pub fn ungated(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<Ungated>())
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

    /// The gated child's word ([`Args::word`]): set up yet?
    const STARTING: u32 = 1;
    /// Set up, waiting at the gate. The kernel sets 0 at its `execve` or exit.
    const READY: u32 = 2;

    /// The child's stack: far more than the few calls it makes need.
    const STACK: usize = 64 * 1024;

    /// Top of the mapped stack (0: not mapped yet). The lock is held for
    /// the whole clone: the child runs on this stack until it has exec'd.
    static STACK_TOP: Mutex<usize> = Mutex::new(0);

    /// What the child reads; `err` is what it writes back (shared memory).
    struct Args<'a> {
        l: &'a Launch<'a>,
        /// Bit `n - 1` set: real-time signal `n` is to be reset.
        ignored_rt: u64,
        /// The Landlock ruleset a child that joins namespaces enters; -1: none.
        scope: libc::c_int,
        err: AtomicI32,
        /// With a gate: the pipe's read and write ends.
        gate: Option<(RawFd, RawFd)>,
        /// With a gate: [`STARTING`], [`READY`], then 0 (the kernel:
        /// `CLONE_CHILD_CLEARTID`).
        word: AtomicU32,
    }

    /// The real-time signals to reset in every child: 32 and 33 (glibc's
    /// own, which it does not let us look up, and which glibc-based
    /// launchers such as `posix_spawn` leave ignored in what they start —
    /// the engine itself, say), and those of 34–64 the engine was started
    /// with ignored. Looked up once: the engine never changes them.
    fn ignored_rt() -> u64 {
        static MASK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *MASK.get_or_init(|| {
            let mut mask = (1u64 << 31) | (1 << 32);
            for sig in 34..=64 {
                // SAFETY: a query into a zeroed struct of the right type.
                let ignored = unsafe {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
                };
                if ignored {
                    mask |= 1 << (sig - 1);
                }
            }
            mask
        })
    }

    fn map_stack() -> io::Result<usize> {
        let page = 4096;
        // SAFETY: a fresh anonymous mapping, never unmapped (one per process).
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                STACK + page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            // The guard page: an overflow faults instead of writing over
            // whatever lies below.
            if libc::mprotect(base, page, libc::PROT_NONE) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(base as usize + STACK + page)
        }
    }

    /// `None`: the clone itself was refused (`EINVAL`, `EPERM`, `ENOSYS`).
    pub fn launch(l: &Launch) -> io::Result<Option<Launched>> {
        debug_assert!(l.stdio.is_none_or(|fds| fds.iter().all(|&fd| fd > 2)));
        let gate = match l.gate {
            Some(_) => Some(pipe()?),
            None => None,
        };
        let scope = if l.enter.is_empty() { -1 } else { crate::runner::scope::fd().unwrap_or(-1) };
        let args = Args {
            l,
            ignored_rt: ignored_rt(),
            scope,
            err: AtomicI32::new(0),
            gate: gate.as_ref().map(|(r, w)| (r.as_raw_fd(), w.as_raw_fd())),
            word: AtomicU32::new(STARTING),
        };
        let flags = match gate {
            // Not suspended: the parent records the child before its execve.
            Some(_) => libc::CLONE_VM | libc::CLONE_CHILD_CLEARTID | libc::CLONE_PIDFD | libc::SIGCHLD,
            None => libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
        };
        // Written by the kernel (CLONE_PIDFD, Linux ≥ 5.2; ignored before).
        let mut pidfd: libc::c_int = -1;
        let mut top = STACK_TOP.lock().unwrap_or_else(|e| e.into_inner());
        if *top == 0 {
            *top = map_stack()?;
        }
        let mut panicked = None;
        // SAFETY: `child` only makes system calls on data that outlives the
        // clone (the parent is suspended until the child exec'd or exited:
        // CLONE_VFORK, or with a gate the waits on `word` below); all signals
        // are blocked so no handler runs in the child (nor, with a gate, in
        // the parent while the child runs); the stack is ours alone while the
        // lock is held.
        let (pid, clone_err) = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                child,
                *top as *mut libc::c_void,
                flags,
                &args as *const Args as *mut libc::c_void,
                &mut pidfd as *mut libc::c_int,
                std::ptr::null_mut::<libc::c_void>(),
                args.word.as_ptr(),
            );
            let e = if pid < 0 { io::Error::last_os_error() } else { io::Error::from_raw_os_error(0) };
            if pid > 0
                && let (Some((_, w)), Some(call)) = (&gate, l.gate)
            {
                wait_while(&args.word, STARTING);
                if args.word.load(Ordering::Acquire) == READY {
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(pid))) {
                        Ok(()) => {
                            libc::write(w.as_raw_fd(), b"g".as_ptr().cast(), 1);
                        }
                        // The pipe closes below: the child exits unexec'd.
                        Err(p) => panicked = Some(p),
                    }
                }
            }
            drop(gate);
            if pid > 0 && l.gate.is_some() {
                wait_while(&args.word, READY);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            (pid, e)
        };
        drop(top);
        if pid < 0 {
            return match clone_err.raw_os_error() {
                Some(libc::EINVAL | libc::EPERM | libc::ENOSYS) => Ok(None),
                _ => Err(clone_err),
            };
        }
        // SAFETY: a descriptor the kernel just made for us, or none.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
        let e = args.err.load(Ordering::Acquire);
        if e != 0 || panicked.is_some() {
            let mut st = 0;
            // SAFETY: reaping our own child, which has exited (or is
            // exiting: it read the end of the gate's pipe).
            unsafe { libc::waitpid(pid, &mut st, 0) };
            if let Some(p) = panicked {
                std::panic::resume_unwind(p);
            }
            return Err(io::Error::from_raw_os_error(e));
        }
        Ok(Some(Launched { pid, pidfd }))
    }

    /// The gate: a close-on-exec pipe (read end, write end).
    fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both were just created and are owned by no one else.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    }

    /// Wait until `word` is no longer `value`. A futex shared between
    /// processes (no `FUTEX_PRIVATE_FLAG`): the kernel's wake-up for
    /// `CLONE_CHILD_CLEARTID` is one.
    fn wait_while(word: &AtomicU32, value: u32) {
        while word.load(Ordering::Acquire) == value {
            // SAFETY: a futex wait on a word that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    libc::FUTEX_WAIT as libc::c_long,
                    value as libc::c_long,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
    }

    fn errno() -> i32 {
        io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)
    }

    /// Records why the child could not exec and ends it.
    fn fail(a: &Args) -> ! {
        a.err.store(errno(), Ordering::Release);
        // SAFETY: `_exit` runs no atexit handler and touches no shared state.
        unsafe { libc::_exit(127) }
    }

    extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the parent's `Args`, alive and unchanged while the
        // parent is suspended; only system calls follow.
        unsafe {
            let a = &*(arg as *const Args);
            let l = a.l;
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::sigaction(sig, &dfl, std::ptr::null_mut());
                }
            }
            // Real-time signals: only those the engine ignores (an `execve`
            // resets handled ones). glibc's wrapper refuses 32 and 33, its
            // own: the raw call with an all-zero action (SIG_DFL, no flags,
            // whatever the architecture's layout) sets them.
            let zero = [0u64; 4];
            let mut ignored = a.ignored_rt;
            while ignored != 0 {
                let sig = ignored.trailing_zeros() as libc::c_long + 1;
                ignored &= ignored - 1;
                libc::syscall(libc::SYS_rt_sigaction, sig, zero.as_ptr(), std::ptr::null_mut::<u64>(), 8usize);
            }
            if l.new_group && libc::setpgid(0, 0) != 0 {
                fail(a);
            }
            if let Some(fds) = l.stdio {
                for (target, fd) in (0..).zip(fds) {
                    if libc::dup2(fd, target) < 0 {
                        fail(a);
                    }
                }
            }
            if let Some(fd) = l.inherit
                && libc::fcntl(fd, libc::F_SETFD, 0) != 0
            {
                fail(a);
            }
            for &fd in l.enter {
                if libc::setns(fd, 0) != 0 {
                    fail(a);
                }
            }
            // In the scenario's user namespace the child has CAP_SYS_ADMIN,
            // which Landlock asks for instead of `no_new_privs` (that would
            // break a rehearsed `sudo`).
            if a.scope >= 0 && libc::syscall(libc::SYS_landlock_restrict_self, a.scope, 0u32) != 0 {
                fail(a);
            }
            if libc::chdir(l.cwd.as_ptr()) != 0 {
                fail(a);
            }
            if let Some((r, w)) = a.gate {
                // Only the engine holds the write end now: if it dies, the
                // read below sees the end of the pipe. Raw calls: no errno
                // is set on these paths, and no cancellation state touched
                // (the parent's thread runs meanwhile).
                libc::syscall(libc::SYS_close, w as libc::c_long);
                a.word.store(READY, Ordering::Release);
                libc::syscall(libc::SYS_futex, a.word.as_ptr(), libc::FUTEX_WAKE as libc::c_long, 1 as libc::c_long);
                let mut go = 0u8;
                if libc::syscall(libc::SYS_read, r as libc::c_long, &mut go as *mut u8, 1 as libc::c_long) != 1 {
                    libc::_exit(127);
                }
            }
            if l.pause_ms > 0 {
                let ts = libc::timespec {
                    tv_sec: (l.pause_ms / 1000) as libc::time_t,
                    tv_nsec: (l.pause_ms % 1000) as libc::c_long * 1_000_000,
                };
                libc::nanosleep(&ts, std::ptr::null_mut());
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::execve(l.program.as_ptr(), l.argv.as_ptr() as *const _, l.envp.as_ptr() as *const _);
            fail(a)
        }
    }
}

mod posix {
    use super::*;

    fn check(rc: libc::c_int) -> io::Result<()> {
        if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc)) }
    }

    /// Owns the attribute objects so every path frees them.
    struct Attrs {
        fa: libc::posix_spawn_file_actions_t,
        attr: libc::posix_spawnattr_t,
    }

    impl Attrs {
        fn new() -> io::Result<Box<Attrs>> {
            // SAFETY: zeroed storage is what the init functions expect to
            // fill; both are destroyed in Drop only after a successful init.
            unsafe {
                let mut a: Box<Attrs> = Box::new(std::mem::zeroed());
                check(libc::posix_spawn_file_actions_init(&mut a.fa))?;
                if let Err(e) = check(libc::posix_spawnattr_init(&mut a.attr)) {
                    libc::posix_spawn_file_actions_destroy(&mut a.fa);
                    // Not dropped: Drop would destroy `fa` again and an
                    // uninitialised `attr`. Leaks one small box, on ENOMEM only.
                    std::mem::forget(a);
                    return Err(e);
                }
                Ok(a)
            }
        }
    }

    impl Drop for Attrs {
        fn drop(&mut self) {
            // SAFETY: both were initialised in `Attrs::new`.
            unsafe {
                libc::posix_spawn_file_actions_destroy(&mut self.fa);
                libc::posix_spawnattr_destroy(&mut self.attr);
            }
        }
    }

    pub fn launch(l: &Launch) -> io::Result<Launched> {
        if !l.enter.is_empty() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "cannot enter namespaces with posix_spawn"));
        }
        let mut a = Attrs::new()?;
        // SAFETY: every pointer handed to libc below (C strings, arrays, the
        // attribute objects) outlives the posix_spawn call that reads them.
        unsafe {
            if let Some(fds) = l.stdio {
                for (target, fd) in (0..).zip(fds) {
                    check(libc::posix_spawn_file_actions_adddup2(&mut a.fa, fd, target))?;
                }
            }
            check(libc::posix_spawn_file_actions_addchdir_np(&mut a.fa, l.cwd.as_ptr()))?;
            let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            if l.new_group {
                flags |= libc::POSIX_SPAWN_SETPGROUP;
                check(libc::posix_spawnattr_setpgroup(&mut a.attr, 0))?;
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            check(libc::posix_spawnattr_setsigmask(&mut a.attr, &set))?;
            libc::sigfillset(&mut set);
            check(libc::posix_spawnattr_setsigdefault(&mut a.attr, &set))?;
            check(libc::posix_spawnattr_setflags(&mut a.attr, flags as _))?;
            // Inheritable only for the spawn: whoever spawns next (a step in
            // parallel) must not get it.
            if let Some(fd) = l.inherit
                && libc::fcntl(fd, libc::F_SETFD, 0) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut pid: libc::pid_t = 0;
            let rc = libc::posix_spawn(&mut pid, l.program.as_ptr(), &a.fa, &a.attr, l.argv.as_ptr(), l.envp.as_ptr());
            if let Some(fd) = l.inherit {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
            check(rc)?;
            Ok(Launched {
                pid,
                #[cfg(target_os = "linux")]
                pidfd: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    /// Runs `sh -c SCRIPT` in `/tmp` with `launcher`, stdout into a pipe, one
    /// close-on-exec file to inherit, `gate`; returns what it printed.
    fn run(launcher: fn(&Launch) -> io::Result<i32>, gate: Option<&dyn Fn(libc::pid_t)>) -> String {
        let (mut r, w) = std::io::pipe().unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let inherited = tempfile::tempfile().unwrap(); // close-on-exec, like every engine descriptor
        let fd = inherited.as_raw_fd();
        let script = format!(
            "cd -P . && pwd; [ -e /proc/self/fd/{fd} ] && echo inherited; grep SigIgn /proc/self/status; cut -d' ' -f5 /proc/$$/stat; echo $$"
        );
        let c = |s: &str| CString::new(s).unwrap();
        let (prog, dash_c, body, cwd) = (c("/bin/sh"), c("-c"), c(&script), c("/tmp"));
        let argv = [prog.as_ptr() as *mut _, dash_c.as_ptr() as *mut _, body.as_ptr() as *mut _, std::ptr::null_mut()];
        let path = c("PATH=/usr/bin:/bin");
        let envp = [path.as_ptr() as *mut _, std::ptr::null_mut()];
        let stdio = Some([null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]);
        let l = Launch {
            program: &prog,
            argv: &argv,
            envp: &envp,
            cwd: &cwd,
            stdio,
            new_group: true,
            inherit: Some(fd),
            enter: &[],
            pause_ms: 0,
            gate,
        };
        let pid = launcher(&l).unwrap();
        drop(w);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        let mut st = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        out
    }

    fn check(out: &str) {
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.first().copied(),
            std::fs::canonicalize("/tmp").ok().as_deref().and_then(|p| p.to_str()),
            "{out}"
        );
        assert_eq!(lines.get(1).copied(), Some("inherited"), "{out}");
        let ign = lines.get(2).and_then(|l| l.strip_prefix("SigIgn:\t")).unwrap_or("?");
        assert_eq!(u64::from_str_radix(ign, 16).map(|m| m & 0x7fff_ffff), Ok(0), "{out}");
        assert_eq!(lines.get(3), lines.get(4), "own process group: {out}");
    }

    #[test]
    fn posix_spawn_does_what_the_clone_does() {
        // The fallback where the clone is refused, and the launcher elsewhere.
        check(&run(|l| posix::launch(l).map(|x| x.pid), None));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_clone_does_it() {
        check(&run(|l| linux::launch(l).map(|x| x.expect("clone refused").pid), None));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_gated_child_is_set_up_and_waits_before_its_execve_until_the_gate_returns() {
        let seen = std::cell::RefCell::new(Vec::new());
        let gate = |pid: libc::pid_t| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let pgrp: libc::pid_t =
                stat.rsplit_once(')').unwrap().1.split_whitespace().nth(2).unwrap().parse().unwrap();
            // Still this test's program: no `execve` yet.
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
            seen.borrow_mut().push((pid, pgrp, exe));
        };
        let out = run(|l| linux::launch(l).map(|x| x.expect("clone refused").pid), Some(&gate));
        check(&out);
        let seen = seen.into_inner();
        let [(pid, pgrp, exe)] = seen.as_slice() else { panic!("the gate was called {} times", seen.len()) };
        assert_eq!(pgrp, pid, "its own process group before the gate");
        assert_eq!(Some(exe), std::env::current_exe().ok().as_ref(), "it waited at the gate");
        assert_eq!(out.lines().last(), Some(pid.to_string().as_str()), "the child that was gated is the one that ran");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_gate_that_panics_leaves_a_child_that_ran_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran");
        let c = |s: &str| CString::new(s).unwrap();
        let (prog, dash_c, body, cwd) = (c("/bin/sh"), c("-c"), c(&format!("touch {}", ran.display())), c("/"));
        let argv = [prog.as_ptr() as *mut _, dash_c.as_ptr() as *mut _, body.as_ptr() as *mut _, std::ptr::null_mut()];
        let envp = [std::ptr::null_mut()];
        let gate = |_: libc::pid_t| panic!("cannot record");
        let l = Launch {
            program: &prog,
            argv: &argv,
            envp: &envp,
            cwd: &cwd,
            stdio: None,
            new_group: true,
            inherit: None,
            enter: &[],
            pause_ms: 0,
            gate: Some(&gate),
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| linux::launch(&l).map(|x| x.map(|x| x.pid))));
        assert!(r.is_err(), "the panic goes on");
        // `launch` reaped the child before letting the panic go on: had it
        // run `sh`, the file would be there.
        assert!(!ran.exists(), "the child ran its program");
    }
}
