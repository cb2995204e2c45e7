//! Building the root of a contained scenario (Linux): the mounts the
//! holder ([`super::holder`]) makes once per worker and remakes, one by one,
//! when a scenario changed them ([`super::places`]).
//!
//! The real home directory is hidden under a fresh tmpfs (`~/.ssh`,
//! `~/.aws`, `~/.kube` and the like must not be readable), and only what
//! the steps need of it is overlaid back ([`home_shown`]; the repo, when it
//! lies below it, by the holder).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use nix::libc;
use nix::mount::{MsFlags, mount};

use super::Spec;

pub fn nosuid() -> MsFlags {
    MsFlags::MS_NOSUID
}

/// `path` (absolute) under the new root.
pub fn inside(new: &Path, path: &Path) -> PathBuf {
    new.join(path.strip_prefix("/").unwrap_or(path))
}

pub fn tmpfs(at: &Path) -> Result<()> {
    mount(Some("tmpfs"), at, Some("tmpfs"), nosuid() | MsFlags::MS_NODEV, Some("mode=0755"))
        .with_context(|| format!("tmpfs on {}", at.display()))
}

pub fn bind(from: &Path, to: &Path) -> Result<()> {
    mount(Some(from), to, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .with_context(|| format!("binding {}", from.display()))
}

/// A host directory in the new root: an overlay whose upper layer is in the
/// stage tmpfs, or, where the kernel refuses one (a directory with mounts
/// below it, which an overlay would uncover), the directory bound read-only.
pub fn layer(host: &Path, target: &Path, dir: &Path, overlay: bool) -> Result<bool> {
    let (upper, work) = (dir.join("u"), dir.join("w"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let plain = |p: &Path| p.to_str().filter(|s| !s.contains([',', ':', '\\'])).map(str::to_string);
    if let (true, Some(l), Some(u), Some(w)) = (overlay, plain(host), plain(&upper), plain(&work)) {
        let opts = format!("lowerdir={l},upperdir={u},workdir={w}");
        if mount(Some("overlay"), target, Some("overlay"), nosuid(), Some(opts.as_str())).is_ok() {
            return Ok(true);
        }
    }
    bind(host, target)?;
    read_only(target).with_context(|| format!("{} cannot be overlaid nor made read-only", host.display()))?;
    Ok(false)
}

/// The mount points of this namespace (`/proc/self/mountinfo`, field 5;
/// spaces and the like come octal-escaped, which only makes such a path
/// miss here, and the overlay then be tried and refused).
pub fn mount_points() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().filter_map(|l| l.split(' ').nth(4)).map(PathBuf::from).collect()
}

/// `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` (Linux ≥ 5.12).
pub fn read_only(at: &Path) -> Result<()> {
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
pub fn dev(at: &Path) -> Result<()> {
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
/// A stub already in place is left as it is (nothing written).
pub fn shadow(spec: &Spec, new: &Path) {
    let put = |path: &Path, done: &dyn Fn(&Path) -> bool, f: &dyn Fn(&Path) -> std::io::Result<()>| {
        let t = inside(new, path);
        if done(&t) {
            return;
        }
        if let Some(p) = t.parent() {
            let _ = std::fs::create_dir_all(p);
        }
        let _ = std::fs::remove_file(&t);
        let _ = f(&t);
    };
    let linked = |t: &Path| std::fs::read_link(t).is_ok_and(|l| l == spec.exe);
    for dir in &spec.dirs {
        if !inside(new, dir).is_dir() {
            continue;
        }
        for p in &spec.programs {
            put(&dir.join(p), &linked, &|t| symlink(&spec.exe, t));
        }
    }
    for p in &spec.absolute {
        put(p, &linked, &|t| symlink(&spec.exe, t));
    }
    for (path, script) in &spec.scripts {
        let written = |t: &Path| {
            std::fs::symlink_metadata(t).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o777 == 0o755)
                && std::fs::read_to_string(t).is_ok_and(|s| &s == script)
        };
        put(path, &written, &|t| {
            std::fs::write(t, script)?;
            std::fs::set_permissions(t, std::fs::Permissions::from_mode(0o755))
        });
    }
}

/// Directories of the home where version managers keep interpreters and
/// the programs they run (`~/.pyenv/shims/python3` runs
/// `~/.pyenv/libexec/pyenv`), and no credentials.
pub const TOOL_ROOTS: &[&str] =
    &[".pyenv", ".rbenv", ".nodenv", ".goenv", ".jenv", ".plenv", ".asdf", ".nvm", ".volta", ".rustup", ".sdkman"];

/// What of the hidden `home` stays visible (overlaid: readable, writes
/// vanish), outermost first: each directory of `dirs` (`PATH`'s and the
/// usual ones, resolved) below it, and each of [`TOOL_ROOTS`] that is a
/// directory there; none inside another, inside `repo` (overlaid on its
/// own) or equal to the home.
pub fn home_shown(home: &Path, dirs: &[PathBuf], repo: Option<&Path>) -> Vec<PathBuf> {
    let roots = TOOL_ROOTS.iter().map(|r| home.join(r)).filter(|r| r.symlink_metadata().is_ok_and(|m| m.is_dir()));
    let mut all: Vec<PathBuf> =
        dirs.iter().filter(|d| d.starts_with(home) && d.as_path() != home).cloned().chain(roots).collect();
    all.retain(|d| repo.is_none_or(|r| !d.starts_with(r)));
    all.sort_by_key(|d| d.components().count());
    let mut out: Vec<PathBuf> = Vec::new();
    for d in all {
        if !out.iter().any(|o| d.starts_with(o)) {
            out.push(d);
        }
    }
    out
}

/// `ip link set lo up`, by ioctl.
pub fn loopback_up() -> Result<()> {
    let flags = loopback(None)?;
    loopback(Some(flags | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short))?;
    Ok(())
}

/// The flags of `lo` (`None`: not known).
pub fn loopback_flags() -> Option<libc::c_short> {
    loopback(None).ok()
}

/// Reads the flags of `lo`, or sets them.
fn loopback(set: Option<libc::c_short>) -> Result<libc::c_short> {
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
        let mut r = IfReq { name: [0; 16], flags: set.unwrap_or(0), _pad: [0; 22] };
        r.name[..2].copy_from_slice(b"lo");
        let ok = match set {
            None => libc::ioctl(fd, SIOCGIFFLAGS, &mut r) == 0,
            Some(_) => libc::ioctl(fd, SIOCSIFFLAGS, &r) == 0,
        };
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if !ok {
            return Err(e.into());
        }
        Ok(r.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_shows_its_path_directories_and_tool_roots_only() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        for d in [".pyenv/shims", ".cargo/bin", "proj/bin", ".ssh"] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        let dirs = [".pyenv/shims", ".cargo/bin", "proj/bin", ""].map(|d| h.join(d)).to_vec();
        let dirs: Vec<PathBuf> = dirs.into_iter().chain([PathBuf::from("/usr/bin")]).collect();
        // Outermost first; the home itself, the repo's own directories and
        // what lies outside the home are not shown.
        assert_eq!(home_shown(h, &dirs, Some(&h.join("proj"))), [h.join(".pyenv"), h.join(".cargo/bin")]);
        assert_eq!(home_shown(h, &dirs, None), [h.join(".pyenv"), h.join(".cargo/bin"), h.join("proj/bin")]);
    }
}
