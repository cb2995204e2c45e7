//! Runs that never came to be: [`super::LocalStore`] creates a run as
//! `runs/.new-PID-N` (PID: the engine's) holding its first event, then
//! renames it into place. An engine killed in between leaves the directory,
//! never listed and, until `runs --prune` sweeps it, never removed.
//!
//! Nothing of value is in one: a step starts only once its `step-start` is
//! written to the renamed run, so the directory holds the `run-start` event
//! at most. A directory is swept only when that is what it holds (one line,
//! a `run-start` or a line cut short, and no other file), it is this user's
//! and not a link, and no engine can still rename it: its pid is free or
//! held by a process started after the directory was last written
//! ([`machine::gone_since`]), and it was untouched for [`QUIET`] (an
//! engine of another pid namespace sharing the state directory renames
//! its own within the instant). Anything else is left as it is.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::journal;
use crate::run::{Entry, Event};
use crate::store::machine;

/// How long a creation must have been untouched before it is swept.
pub const QUIET: Duration = Duration::from_secs(3600);

/// Remove what killed engines left in `runs`: the names removed, sorted.
pub fn sweep(runs: &Path) -> Vec<String> {
    sweep_in(runs, QUIET)
}

fn sweep_in(runs: &Path, quiet: Duration) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runs) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| stale(&runs.join(name), name, quiet) && std::fs::remove_dir_all(runs.join(name)).is_ok())
        .collect();
    out.sort();
    out
}

/// Is `dir` (named `name`) the creation of a run by an engine that is gone,
/// untouched for `quiet`, holding nothing but that run's first event?
fn stale(dir: &Path, name: &str, quiet: Duration) -> bool {
    let Some(pid) = name.strip_prefix(".new-").and_then(|r| r.split_once('-')).and_then(|(p, _)| p.parse().ok()) else {
        return false;
    };
    let Ok(m) = std::fs::symlink_metadata(dir) else { return false };
    let Ok(written) = m.modified() else { return false };
    let untouched = written.elapsed().is_ok_and(|a| a >= quiet);
    m.is_dir()
        && m.uid() == nix::unistd::geteuid().as_raw()
        && untouched
        && machine::gone_since(pid, written)
        && empty(dir)
}

/// Does `dir` hold no more than a run's first event?
fn empty(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    for e in entries {
        let Ok(e) = e else { return false };
        if e.file_name() != journal::FILE || !e.file_type().is_ok_and(|t| t.is_file()) {
            return false;
        }
    }
    let text = match std::fs::read_to_string(dir.join(journal::FILE)) {
        Ok(t) => t,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    let mut lines = text.lines();
    let first_only = lines.next().is_none_or(|l| match serde_json::from_str::<Entry>(l) {
        Ok(Entry { event: Event::RunStart(_), .. }) => true,
        Ok(_) => false,
        // Cut short by the kill.
        Err(_) => !text.ends_with('\n'),
    });
    first_only && lines.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn start() -> String {
        let run = crate::run::event::RunStart::example("20261130T034244Z-a-local", "a");
        serde_json::to_string(&Entry { seq: 1, at: String::new(), event: Event::RunStart(run) }).unwrap() + "\n"
    }

    /// `runs/NAME` holding `files`, last written `ago`.
    fn made(runs: &Path, name: &str, files: &[(&str, &str)], ago: Duration) {
        let dir = runs.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        std::fs::File::open(&dir).unwrap().set_modified(SystemTime::now() - ago).unwrap();
    }

    #[test]
    fn a_creation_left_by_a_gone_engine_is_swept_and_anything_else_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        let (start, note) = (start(), "{\"seq\":2,\"event\":\"note\",\"text\":\"x\"}\n".to_string());
        let both = start.clone() + &note;
        let (dead, me) = (dead_pid(), std::process::id());
        let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let j = journal::FILE;
        type Files<'a> = Vec<(&'a str, &'a str)>;
        let cases: Vec<(String, Files, bool)> = vec![
            (format!(".new-{dead}-1"), vec![(j, &start)], true),
            (format!(".new-{dead}-2"), vec![], true),
            (format!(".new-{dead}-3"), vec![(j, &start[..20])], true),
            // More than a run's first event: not a leftover of `create`.
            (format!(".new-{dead}-4"), vec![(j, &both)], false),
            (format!(".new-{dead}-5"), vec![(j, &start), ("s1.log", "x")], false),
            (format!(".new-{dead}-6"), vec![(j, &note)], false),
            // Its engine runs.
            (format!(".new-{me}-1"), vec![(j, &start)], false),
            (format!(".new-{}-1", sleeper.id()), vec![(j, &start)], false),
            // Not the name of a creation.
            (format!(".new-{dead}"), vec![(j, &start)], false),
            (".new-0-1".into(), vec![(j, &start)], false),
            (format!("new-{dead}-1"), vec![(j, &start)], false),
        ];
        for (name, files, _) in &cases {
            made(runs, name, files, Duration::ZERO);
        }
        // A link named as a leftover, to a directory that is one: the link
        // is not followed.
        let target = tempfile::tempdir().unwrap();
        made(target.path(), "t", &[(j, &start)], Duration::ZERO);
        std::os::unix::fs::symlink(target.path().join("t"), runs.join(format!(".new-{dead}-8"))).unwrap();
        let swept = sweep_in(runs, Duration::ZERO);
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        let mut gone: Vec<String> = cases.iter().filter(|c| c.2).map(|c| c.0.clone()).collect();
        gone.sort();
        assert_eq!(swept, gone);
        for (name, _, swept) in &cases {
            assert_eq!(runs.join(name).exists(), !swept, "{name}");
        }
        assert!(runs.join(format!(".new-{dead}-8")).symlink_metadata().is_ok() && target.path().join("t").exists());
    }

    /// An engine of another pid namespace sharing the state directory
    /// renames its creation within the instant: one just written stays.
    #[test]
    fn a_creation_is_swept_only_once_untouched_for_a_while() {
        let tmp = tempfile::tempdir().unwrap();
        let name = format!(".new-{}-1", dead_pid());
        made(tmp.path(), &name, &[(journal::FILE, &start())], QUIET / 2);
        assert!(sweep(tmp.path()).is_empty());
        made(tmp.path(), &name, &[(journal::FILE, &start())], QUIET);
        assert_eq!(sweep(tmp.path()), [name]);
    }

    #[test]
    fn a_creation_whose_pid_was_taken_by_a_later_process_is_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let name = format!(".new-{me}-1");
        let started = machine::started_at(me).unwrap();
        // Last written a while before this process started.
        let written = started - QUIET - Duration::from_secs(60);
        std::fs::create_dir(tmp.path().join(&name)).unwrap();
        std::fs::File::open(tmp.path().join(&name)).unwrap().set_modified(written).unwrap();
        assert_eq!(sweep(tmp.path()), [name]);
    }
}
