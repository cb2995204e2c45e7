//! What a scenario may change in the root the holder keeps for a worker,
//! and how each place is made fresh again for the next scenario.
//!
//! A place is a mount of the contained root a step can write: an overlay
//! over a host directory (its upper layer), a fresh tmpfs (`/tmp`, `/run`,
//! `$HOME`, …), or what is built once (the root tmpfs itself, `/dev`).
//! After each scenario every place is compared with its print (each entry's
//! path, inode, mode, size and times) taken when it was made: a place that
//! differs is unmounted and made again, empty, with every place below it;
//! a change to what is built once cannot be undone, and the holder gives
//! up (the engine starts a new one). Reading changes nothing here, so a
//! scenario that only reads costs no mount at all.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::build;

/// How a place is made.
pub enum Kind {
    /// A host directory: an overlay with its upper layer in `dir/<gen>`, or
    /// (`overlay` false: the kernel refused one) bound read-only.
    Layer { host: PathBuf, dir: PathBuf, generation: u32, overlay: bool },
    /// A fresh tmpfs.
    Fresh,
    /// The shim binary, bound read-only over a file.
    Exe(PathBuf),
    /// Built once (the root tmpfs, `/dev`): a change taints the holder.
    Fixed,
}

pub struct Place {
    /// Where it is mounted, as the holder sees it (below the new root).
    pub at: PathBuf,
    pub kind: Kind,
    print: Vec<Entry>,
}

/// One file of a place: relative path, inode, mode, size, mtime, ctime
/// (device nodes: no times, a terminal's change with every use).
type Entry = (PathBuf, u64, u32, u64, i64, i64, i64, i64);

impl Place {
    pub fn new(at: PathBuf, kind: Kind) -> Place {
        Place { at, kind, print: Vec::new() }
    }

    /// Mount it (`gone`: nothing is mounted there now, its parent having
    /// been made again or this being the first time).
    pub fn make(&mut self, gone: bool) -> Result<()> {
        if matches!(self.kind, Kind::Fixed) {
            return Err(anyhow!("{} was changed", self.at.display()));
        }
        if !gone {
            umount2(&self.at, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
                .map_err(|e| anyhow!("unmounting {}: {e}", self.at.display()))?;
        }
        match &mut self.kind {
            Kind::Layer { host, dir, generation, overlay } => {
                let old = dir.join(generation.to_string());
                *generation += 1;
                std::fs::create_dir_all(&self.at)?;
                *overlay = build::layer(host, &self.at, &dir.join(generation.to_string()), *overlay)?;
                let _ = std::fs::remove_dir_all(old);
            }
            Kind::Fresh => {
                std::fs::create_dir_all(&self.at)?;
                build::tmpfs(&self.at)?;
            }
            Kind::Exe(exe) => {
                if let Some(p) = self.at.parent() {
                    std::fs::create_dir_all(p)?;
                }
                std::fs::File::create(&self.at)?;
                mount(Some(exe.as_path()), &self.at, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .map_err(|e| anyhow!("binding the shim: {e}"))?;
                let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                let _ = mount(None::<&str>, &self.at, None::<&str>, flags, None::<&str>);
            }
            Kind::Fixed => {}
        }
        Ok(())
    }

    /// What is in it now.
    fn take_print(&self) -> Vec<Entry> {
        match &self.kind {
            Kind::Layer { dir, generation, overlay: true, .. } => {
                print(&dir.join(generation.to_string()).join("u"), false)
            }
            Kind::Layer { .. } | Kind::Exe(_) => Vec::new(),
            Kind::Fresh | Kind::Fixed => print(&self.at, true),
        }
    }

    /// Remember what is in it as its fresh state.
    pub fn settle(&mut self) {
        self.print = self.take_print();
    }
}

/// Make every place the last scenario changed fresh again (`places` in the
/// order they were built: a place below another comes after it). `Err`:
/// something built once was changed.
pub fn reset(places: &mut [Place], settle: impl FnOnce()) -> Result<usize> {
    let mut remade: Vec<PathBuf> = Vec::new();
    for p in places.iter_mut() {
        let below = remade.iter().any(|r| p.at.starts_with(r));
        if below || p.take_print() != p.print {
            p.make(below)?;
            remade.push(p.at.clone());
        }
    }
    if !remade.is_empty() {
        settle();
        places.iter_mut().for_each(Place::settle);
    }
    Ok(remade.len())
}

/// The entries below `root` (not `root` itself: making and removing the
/// scratch tree's mount point changes its times), sorted; `one_fs`: not
/// into the mounts below it (places of their own, or the host's `/proc`).
fn print(root: &Path, one_fs: bool) -> Vec<Entry> {
    let dev = std::fs::metadata(root).map_or(0, |m| m.dev());
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .same_file_system(one_fs)
        .sort_by_file_name()
        .into_iter()
        .map(|e| match e {
            Ok(e) => {
                let rel = e.path().strip_prefix(root).unwrap_or(e.path()).to_path_buf();
                match e.metadata() {
                    // A mount point: the place mounted there is compared on its own.
                    Ok(m) if one_fs && m.is_dir() && m.dev() != dev => (rel, 0, 0, 0, 0, 0, 0, 0),
                    Ok(m) if m.file_type().is_file() || m.is_dir() || m.is_symlink() => {
                        (rel, m.ino(), m.mode(), m.size(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
                    }
                    Ok(m) => (rel, m.ino(), m.mode(), 0, 0, 0, 0, 0),
                    Err(_) => (rel, 0, 0, 0, 0, 0, 0, 0),
                }
            }
            // Unreadable: never equal to a fresh place's print.
            Err(_) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                (PathBuf::from("\0"), 0, 0, 0, 0, 0, 0, now.as_nanos() as i64)
            }
        })
        .collect()
}

/// The network namespace as the holder made it: its interfaces, their
/// addresses and routes (no counters), and whether `lo` is up.
pub fn network() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let devs: Vec<String> =
        read("/proc/self/net/dev").lines().skip(2).filter_map(|l| l.split(':').next()).map(str::to_string).collect();
    format!(
        "{devs:?}\n{}\n{}\n{}\n{:?}",
        read("/proc/self/net/if_inet6"),
        read("/proc/self/net/fib_trie"),
        read("/proc/self/net/route"),
        build::loopback_flags()
    )
}
