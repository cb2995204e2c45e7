//! `runbook __contain SPEC` (hidden, Linux): the process that makes and
//! holds the namespaces of contained scenarios, one scenario after the
//! other (one holder per worker of a `check`).
//!
//! It runs before anything else in `main` (the namespaces must be made by
//! a single-threaded process): a user, mount and network namespace of its
//! own, and a new root built in a tmpfs ([`super::build`]): an overlay over
//! each top-level directory of the host, writes landing in a throwaway
//! upper layer; fresh `/tmp`, `/var/tmp`, `/run`, `/dev/shm` and `$HOME`
//! (but what steps need of it: [`build::home_shown`], the repo); a
//! minimal `/dev`; the host's `/proc` read-only; the stubs written over the
//! programs' absolute paths. Then, per scenario:
//!
//! - `run SCRATCH`: the scratch tree is bound at its path, and a child is
//!   cloned into a new PID namespace and a copy of the mount namespace,
//!   where it `pivot_root`s into the new root (the host's tree is not in
//!   that copy at all), says `ready` and waits. The engine's steps join its
//!   namespaces with `setns` (see `runner::launch`).
//! - `end`: the child (PID 1 of the scenario) is ended, and the kernel ends
//!   every process left in its namespace before the wait for it returns;
//!   `ended`. Then each place the scenario wrote is made fresh again
//!   ([`super::places`]) before the next command is read.
//!
//! Stdin closing (the engine is done, or died) ends it all. Protocol on
//! stdout: `ready` (built), `pid N` (the scenario's PID 1 as the engine
//! sees it), `ready`, `ended`, or `error WHY` (after which it exits).

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use nix::libc;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{chdir, pivot_root};

use super::Spec;
use super::build::{self, bind, dev, inside, mount_points, read_only, shadow, tmpfs};
use super::places::{self, Kind, Place};

/// Entry point of `runbook __contain SPEC`; returns the exit code.
pub fn main(spec: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(spec) {
        Ok(s) => s,
        Err(e) => return say_error(&anyhow!("bad container spec: {e}")),
    };
    let code = match build(&spec) {
        Ok((new, mut places)) => match serve(&spec, &new, &mut places) {
            Ok(()) => 0,
            Err(e) => say_error(&e),
        },
        Err(e) => say_error(&e),
    };
    let _ = umount2(&spec.stage, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&spec.stage);
    code
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn say_error(e: &anyhow::Error) -> i32 {
    say(&format!("error {}", format!("{e:#}").replace('\n', " ")));
    1
}

/// The namespaces and the new root; its places in the order they were made.
fn build(spec: &Spec) -> Result<(PathBuf, Vec<Place>)> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(|e| anyhow!("namespaces refused (unshare: {e})"))?;
    // Who the engine is stays who it is: its own uid, nothing else mapped.
    let _ = std::fs::write("/proc/self/setgroups", "deny");
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")).context("uid_map")?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")).context("gid_map")?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .context("making / private")?;
    // The holder's root is the host's: a step (all capabilities in this user
    // namespace) must not reach it through `/proc/<holder>/root` or its
    // namespaces. Not dumpable, it can be looked into only with
    // CAP_SYS_PTRACE over the host, which no step has.
    // SAFETY: a prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(anyhow!("cannot make the holder undumpable: {}", std::io::Error::last_os_error()));
    }
    build::loopback_up().context("bringing up the loopback")?;

    let stage = &spec.stage;
    std::fs::create_dir_all(stage)?;
    tmpfs(stage)?;
    let new = stage.join("root");
    let layers = stage.join("layers");
    std::fs::create_dir_all(&new)?;
    std::fs::create_dir_all(&layers)?;
    tmpfs(&new)?;
    let mut places = vec![Place::new(new.clone(), Kind::Fixed)];
    // Our own stage does not count.
    let mounted: Vec<PathBuf> = mount_points().into_iter().filter(|m| !m.starts_with(stage)).collect();
    for (i, e) in std::fs::read_dir("/")?.filter_map(|e| e.ok()).enumerate() {
        let name = e.file_name();
        let host = Path::new("/").join(&name);
        let target = new.join(&name);
        let ft = e.file_type()?;
        if ft.is_symlink() {
            symlink(std::fs::read_link(&host)?, &target)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&target)?;
            let special = matches!(name.to_str(), Some("proc" | "sys" | "dev" | "tmp" | "run"));
            if !special {
                // The kernel refuses an overlay that would uncover a mount below.
                let covers = mounted.iter().any(|m| m != &host && m.starts_with(&host));
                let kind = Kind::Layer { host, dir: layers.join(i.to_string()), generation: 0, overlay: !covers };
                places.push(Place::new(target, kind));
            }
        }
    }
    dev(&new.join("dev"))?;
    places.push(Place::new(new.join("dev"), Kind::Fixed));
    // The host's `/proc`, read-only: a step's shell is the engine's child,
    // outside the PID namespace (what it starts is inside), and reads its
    // script from `/dev/fd/N`, which a `/proc` of the new namespace would
    // not show it.
    bind(Path::new("/proc"), &new.join("proc"))?;
    read_only(&new.join("proc")).context("making /proc read-only")?;
    let _ = mount(Some("sysfs"), &new.join("sys"), Some("sysfs"), MsFlags::MS_RDONLY | build::nosuid(), None::<&str>);
    for d in ["tmp", "run", "var/tmp", "dev/shm"] {
        if new.join(d).is_dir() {
            places.push(Place::new(new.join(d), Kind::Fresh));
        }
    }
    let mut fresh: Vec<PathBuf> = ["/tmp", "/run", "/var/tmp", "/dev"].map(PathBuf::from).into();
    // Checked on the host: below a top-level directory (`/home/alice`), the
    // home appears in the new root only once that directory's overlay is
    // made, in the loop below.
    if let Some(home) = &spec.home
        && home.is_dir()
    {
        places.push(Place::new(inside(&new, home), Kind::Fresh));
        fresh.push(home.clone());
        let dirs: Vec<PathBuf> = spec.dirs.iter().chain(&spec.shown).cloned().collect();
        for (i, host) in build::home_shown(home, &dirs, spec.repo.as_deref()).into_iter().enumerate() {
            let covers = mounted.iter().any(|m| m != &host && m.starts_with(&host));
            let dir = layers.join(format!("home{i}"));
            places.push(Place::new(inside(&new, &host), Kind::Layer { host, dir, generation: 0, overlay: !covers }));
        }
    }
    // What the steps need that a fresh directory hid: the repo (overlaid
    // again) and the shim binary (bound read-only).
    let hidden = |p: &Path| fresh.iter().any(|f| p.starts_with(f));
    if let Some(repo) = spec.repo.as_ref().filter(|r| hidden(r)) {
        let covers = mounted.iter().any(|m| m != repo && m.starts_with(repo));
        let kind = Kind::Layer { host: repo.clone(), dir: layers.join("repo"), generation: 0, overlay: !covers };
        places.push(Place::new(inside(&new, repo), kind));
    }
    if hidden(&spec.exe) {
        places.push(Place::new(inside(&new, &spec.exe), Kind::Exe(spec.exe.clone())));
    }
    for p in places.iter_mut().filter(|p| !matches!(p.kind, Kind::Fixed)) {
        p.make(true)?;
    }
    shadow(spec, &new);
    places.iter_mut().for_each(Place::settle);
    Ok((new, places))
}

/// The scenarios, one after the other, until stdin closes.
fn serve(spec: &Spec, new: &Path, places: &mut [Place]) -> Result<()> {
    let net = places::network();
    say("ready");
    let mut lines = std::io::stdin().lock().lines();
    // What the engine said while the fault `contain-late-reset` held the reset back.
    let mut early: Option<String> = None;
    while let Some(line) = early.take().or_else(|| lines.next().and_then(Result::ok)) {
        let Some(scratch) = line.strip_prefix("run ") else { continue };
        let scratch = PathBuf::from(scratch);
        let made = bind_scratch(new, &scratch)?;
        let (init, hold) = spawn_init(new)?;
        say(&format!("pid {init}"));
        // Until `end`, or until the engine is gone.
        while let Some(Ok(l)) = lines.next() {
            if l == "end" {
                break;
            }
        }
        drop(hold);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init), None);
        let at = inside(new, &scratch);
        umount2(&at, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW).context("unbinding the scratch tree")?;
        if let Some(m) = made {
            std::fs::remove_dir_all(m)?;
        }
        say("ended");
        if crate::runner::fault::value("contain-late-reset").is_some() {
            early = lines.next().and_then(Result::ok);
        }
        places::reset(places, || shadow(spec, new))?;
        if places::network() != net {
            return Err(anyhow!("a scenario changed the network namespace"));
        }
    }
    Ok(())
}

/// The scratch tree at its path (not recursive: nothing below it is
/// mounted); the directory made for it, if one was.
fn bind_scratch(new: &Path, scratch: &Path) -> Result<Option<PathBuf>> {
    let at = inside(new, scratch);
    let made = at.ancestors().filter(|a| !a.exists()).last().map(Path::to_path_buf);
    std::fs::create_dir_all(&at)?;
    mount(Some(scratch), &at, None::<&str>, MsFlags::MS_BIND, None::<&str>).context("binding the scratch tree")?;
    Ok(made)
}

/// PID 1 of a scenario, in a copy of the mount namespace: its pid, and the
/// pipe whose closing ends it.
fn spawn_init(new: &Path) -> Result<(i32, OwnedFd)> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let flags = (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: a fork-like clone (no new stack, no shared memory) of a
    // single-threaded process.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(anyhow!("PID namespace refused: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(tx);
        let code = match init(new, &rx) {
            Ok(()) => 0,
            Err(e) => say_error(&e),
        };
        // SAFETY: ending the child without running the holder's exit path.
        unsafe { libc::_exit(code) };
    }
    drop(rx);
    Ok((pid as i32, tx))
}

/// The switch to the new root, then wait for the pipe to close.
fn init(new: &Path, hold: &OwnedFd) -> Result<()> {
    chdir(new)?;
    pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    chdir("/")?;
    // Only the new root is left: the engine may open this process's
    // namespaces (and so may a step, harmlessly).
    // SAFETY: a prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    // Orphans (a `setsid` daemon whose parent ended) are reaped by the kernel.
    // SAFETY: setting a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    say("ready");
    let mut sink = [0u8; 64];
    loop {
        // SAFETY: reading into a buffer of ours from a descriptor we own.
        let n = unsafe { libc::read(hold.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len()) };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted) {
            break;
        }
    }
    Ok(())
}
