//! `runbook __contain SPEC` (hidden, Linux): the process that makes and
//! holds the namespaces of one contained scenario.
//!
//! It runs before anything else in `main` (the namespaces must be made by
//! a single-threaded process): a user, mount and network namespace of its
//! own, a new root built in a tmpfs (an overlay over each top-level
//! directory of the host, writes landing in a throwaway upper layer; fresh
//! `/tmp`, `/var/tmp`, `/run`, `/dev/shm` and `$HOME`; a minimal `/dev`;
//! the host's `/proc` read-only; the scratch tree bound at its path; the
//! stubs written over the programs' absolute paths), then a PID namespace whose init is its child. The
//! engine's steps join these namespaces with `setns` (see
//! `runner::launch`). The init prints `ready`, then waits for its stdin to
//! close: when it exits (the engine dropped the container, or died), the
//! kernel ends every process left in the namespace, and the mounts vanish
//! with the last process that uses them.
//!
//! Protocol on stdout: `pid N` (the init's pid as the engine sees it),
//! `ready`, or `error WHY`.

use std::io::{Read, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use nix::libc;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{ForkResult, chdir, fork, pivot_root};

use super::Spec;

/// Entry point of `runbook __contain SPEC`; returns the exit code.
pub fn main(spec: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(spec) {
        Ok(s) => s,
        Err(e) => return say_error(&anyhow!("bad container spec: {e}")),
    };
    match build(&spec) {
        Ok(code) => code,
        Err(e) => say_error(&e),
    }
}

fn say_error(e: &anyhow::Error) -> i32 {
    let line = format!("{e:#}").replace('\n', " ");
    let _ = writeln!(std::io::stdout(), "error {line}");
    1
}

fn build(spec: &Spec) -> Result<i32> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(|e| anyhow!("namespaces refused (unshare: {e})"))?;
    // Who the engine is stays who it is: its own uid, nothing else mapped.
    let _ = std::fs::write("/proc/self/setgroups", "deny");
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")).context("uid_map")?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")).context("gid_map")?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .context("making / private")?;
    loopback_up().context("bringing up the loopback")?;

    let stage = spec.scratch.join("ctr");
    std::fs::create_dir_all(&stage)?;
    tmpfs(&stage)?;
    let new = stage.join("root");
    let layers = stage.join("layers");
    std::fs::create_dir_all(&new)?;
    std::fs::create_dir_all(&layers)?;
    tmpfs(&new)?;
    // Our own stage (below the scratch tree) does not count.
    let mounted: Vec<PathBuf> = mount_points().into_iter().filter(|m| !m.starts_with(&spec.scratch)).collect();
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
                layer(&host, &target, &layers.join(i.to_string()), !covers)?;
            }
        }
    }
    dev(&new.join("dev"))?;
    // The host's `/proc`, read-only: a step's shell is the engine's child,
    // outside the PID namespace (what it starts is inside), and reads its
    // script from `/dev/fd/N`, which a `/proc` of the new namespace would
    // not show it.
    bind(Path::new("/proc"), &new.join("proc"))?;
    read_only(&new.join("proc")).context("making /proc read-only")?;
    for d in ["tmp", "run", "var/tmp", "dev/shm"] {
        let p = new.join(d);
        if p.is_dir() {
            tmpfs(&p)?;
        }
    }
    let _ = mount(Some("sysfs"), &new.join("sys"), Some("sysfs"), MsFlags::MS_RDONLY | nosuid(), None::<&str>);
    let mut fresh: Vec<PathBuf> = ["/tmp", "/run", "/var/tmp", "/dev"].map(PathBuf::from).into();
    if let Some(home) = &spec.home {
        let p = inside(&new, home);
        if p.is_dir() {
            tmpfs(&p)?;
            fresh.push(home.clone());
        }
    }
    // What the steps need that a fresh directory hid: the repo (overlaid
    // again) and the shim binary (bound read-only).
    let hidden = |p: &Path| fresh.iter().any(|f| p.starts_with(f));
    if let Some(repo) = spec.repo.as_ref().filter(|r| hidden(r)) {
        let at = inside(&new, repo);
        std::fs::create_dir_all(&at)?;
        let covers = mounted.iter().any(|m| m != repo && m.starts_with(repo));
        layer(repo, &at, &layers.join("repo"), !covers)?;
    }
    if hidden(&spec.exe) {
        let at = inside(&new, &spec.exe);
        if let Some(p) = at.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::File::create(&at)?;
        mount(Some(&spec.exe), &at, None::<&str>, MsFlags::MS_BIND, None::<&str>).context("binding the shim")?;
        let _ = mount(
            None::<&str>,
            &at,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        );
    }
    let at = inside(&new, &spec.scratch);
    std::fs::create_dir_all(&at)?;
    // Not recursive: the stage below it stays out of sight.
    mount(Some(&spec.scratch), &at, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .context("binding the scratch tree")?;
    shadow(spec, &new);

    unshare(CloneFlags::CLONE_NEWPID).context("PID namespace refused")?;
    // SAFETY: this process is single-threaded (it runs before anything in `main`).
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => std::process::exit(match init(&new) {
            Ok(()) => 0,
            Err(e) => say_error(&e),
        }),
        ForkResult::Parent { child } => {
            let _ = writeln!(std::io::stdout(), "pid {child}");
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(0)
        }
    }
}

/// PID 1 of the scenario: the switch to the new root, then wait.
fn init(new: &Path) -> Result<()> {
    chdir(new)?;
    pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    chdir("/")?;
    // Orphans (a `setsid` daemon whose parent ended) are reaped by the kernel.
    // SAFETY: setting a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let _ = writeln!(std::io::stdout(), "ready");
    let _ = std::io::stdout().flush();
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

fn nosuid() -> MsFlags {
    MsFlags::MS_NOSUID
}

/// `path` (absolute) under the new root.
fn inside(new: &Path, path: &Path) -> PathBuf {
    new.join(path.strip_prefix("/").unwrap_or(path))
}

fn tmpfs(at: &Path) -> Result<()> {
    mount(Some("tmpfs"), at, Some("tmpfs"), nosuid() | MsFlags::MS_NODEV, Some("mode=0755"))
        .with_context(|| format!("tmpfs on {}", at.display()))
}

fn bind(from: &Path, to: &Path) -> Result<()> {
    mount(Some(from), to, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .with_context(|| format!("binding {}", from.display()))
}

/// A host directory in the new root: an overlay whose upper layer is in the
/// stage tmpfs, or, where the kernel refuses one (a directory with mounts
/// below it, which an overlay would uncover), the directory bound read-only.
fn layer(host: &Path, target: &Path, dir: &Path, overlay: bool) -> Result<()> {
    let (upper, work) = (dir.join("u"), dir.join("w"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let plain = |p: &Path| p.to_str().filter(|s| !s.contains([',', ':', '\\'])).map(str::to_string);
    if let (true, Some(l), Some(u), Some(w)) = (overlay, plain(host), plain(&upper), plain(&work)) {
        let opts = format!("lowerdir={l},upperdir={u},workdir={w}");
        if mount(Some("overlay"), target, Some("overlay"), nosuid(), Some(opts.as_str())).is_ok() {
            return Ok(());
        }
    }
    bind(host, target)?;
    read_only(target).with_context(|| format!("{} cannot be overlaid nor made read-only", host.display()))
}

/// The mount points of this namespace (`/proc/self/mountinfo`, field 5;
/// spaces and the like come octal-escaped, which only makes such a path
/// miss here, and the overlay then be tried and refused).
fn mount_points() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().filter_map(|l| l.split(' ').nth(4)).map(PathBuf::from).collect()
}

/// `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` (Linux ≥ 5.12).
fn read_only(at: &Path) -> Result<()> {
    #[repr(C)]
    struct MountAttr {
        set: u64,
        clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let c = std::ffi::CString::new(at.as_os_str().as_encoded_bytes())?;
    let attr = MountAttr { set: MOUNT_ATTR_RDONLY, clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: a path and a struct of the kernel's layout, both alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// A `/dev` with the harmless devices only (no disk a step could write).
fn dev(at: &Path) -> Result<()> {
    tmpfs(at)?;
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        let t = at.join(d);
        std::fs::File::create(&t)?;
        let _ = mount(Some(&Path::new("/dev").join(d)), &t, None::<&str>, MsFlags::MS_BIND, None::<&str>);
    }
    for (l, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        symlink(to, at.join(l))?;
    }
    std::fs::create_dir(at.join("shm"))?;
    std::fs::create_dir(at.join("pts"))?;
    let _ = mount(
        Some("devpts"),
        &at.join("pts"),
        Some("devpts"),
        nosuid() | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    );
    Ok(())
}

/// The stubs over the real programs: every stubbed program at its name in
/// every directory a program is looked up in, absolute stub entries at
/// their path, path stubs over the repo's scripts. Best effort: a
/// directory that is read-only keeps its program (still without a network).
fn shadow(spec: &Spec, new: &Path) {
    let put = |path: &Path, f: &dyn Fn(&Path) -> std::io::Result<()>| {
        let t = inside(new, path);
        if let Some(p) = t.parent() {
            let _ = std::fs::create_dir_all(p);
        }
        let _ = std::fs::remove_file(&t);
        let _ = f(&t);
    };
    for dir in &spec.dirs {
        if !inside(new, dir).is_dir() {
            continue;
        }
        for p in &spec.programs {
            put(&dir.join(p), &|t| symlink(&spec.exe, t));
        }
    }
    for p in &spec.absolute {
        put(p, &|t| symlink(&spec.exe, t));
    }
    for (path, script) in &spec.scripts {
        put(path, &|t| {
            std::fs::write(t, script)?;
            std::fs::set_permissions(t, std::fs::Permissions::from_mode(0o755))
        });
    }
}

/// `ip link set lo up`, by ioctl.
fn loopback_up() -> Result<()> {
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
    const SIOCSIFFLAGS: libc::c_ulong = 0x8914;
    // SAFETY: a socket we close, and an ifreq of the kernel's layout.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let mut r = IfReq { name: [0; 16], flags: 0, _pad: [0; 22] };
        r.name[..2].copy_from_slice(b"lo");
        let ok = libc::ioctl(fd, SIOCGIFFLAGS, &mut r) == 0 && {
            r.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, SIOCSIFFLAGS, &r) == 0
        };
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if !ok {
            return Err(e.into());
        }
    }
    Ok(())
}
