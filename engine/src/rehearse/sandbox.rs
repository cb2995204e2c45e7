//! The scratch directory of one rehearsal: everything a rehearsed play
//! writes lands here, and it is removed afterwards (after a `kill -9` of
//! its engine, by the next rehearsal: [`super::leftovers`]).
//!
//! ```text
//! $WORK/bin/kubectl -> runbook     program stubs, first on PATH
//! $WORK/repo/ops/scripts/x.sh      path stubs; the repo root of the steps
//! $WORK/shim/stubs.json            the scenario's stubs, calls log, counters
//! $WORK/state/                     the play's state dir (journal, locks)
//! $WORK/home/  $WORK/tmp/          HOME and TMPDIR of the steps
//! ```
//!
//! A rehearsed step does not inherit the engine's environment (where
//! tokens and cloud credentials live): it gets `PATH`, the names of
//! [`PASSED_ENV`] (and `LC_*`, and those `[rehearse] env` lists) from the
//! engine's environment, the play's
//! `RUNBOOK_*` and [`SandboxDir::env`] (docs/containment.md).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::leftovers;
use super::shim::{self, Table};

pub struct SandboxDir {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub bin: PathBuf,
    pub work: PathBuf,
    pub shim: PathBuf,
    pub state: PathBuf,
    pub home: PathBuf,
    pub tmp: PathBuf,
    /// The real repo root the steps run in, when contained.
    pub repo: Option<PathBuf>,
    /// The play's run id (`RUNBOOK_RUN`, part of `RUNBOOK_RUN_DIR`), once
    /// known: it holds the time, so [`scrub`](Self::scrub) writes it `$RUN`.
    pub run: Option<String>,
}

/// What a `[rehearse] stub` entry names.
pub enum StubKind<'a> {
    /// `kubectl`: shadowed first on `PATH` (and, contained, in every bin directory).
    Program(&'a str),
    /// `/usr/local/bin/kubectl`: shadowed at that path, contained; first on
    /// `PATH` under its file name either way. Never written on the host.
    Absolute(&'a Path),
    /// `ops/scripts/x.sh`: relative to the repo root.
    Script(&'a Path),
    /// Empty, or with a `..` component: it could only point outside the
    /// scratch tree (the config is refused before; nothing is written).
    Invalid,
}

impl StubKind<'_> {
    pub fn of(s: &str) -> StubKind<'_> {
        let p = Path::new(s);
        if s.is_empty() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            StubKind::Invalid
        } else if p.is_absolute() {
            if p.file_name().is_some() { StubKind::Absolute(p) } else { StubKind::Invalid }
        } else if s.contains('/') {
            StubKind::Script(Path::new(s.trim_start_matches("./")))
        } else {
            StubKind::Program(s)
        }
    }
}

/// The shim of a path stub: `runbook __shim REL "$@"`.
pub fn script(exe: &Path, rel: &Path) -> String {
    format!("#!/bin/sh\nexec {} __shim {} \"$@\"\n", sh_quote(exe), sh_quote(rel))
}

/// The binary that answers as a shim: `RUNBOOK_SHIM_EXE` (tests of the
/// library, where the current exe is the test harness) or this binary.
pub fn shim_exe() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("RUNBOOK_SHIM_EXE") {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("cannot find the runbook binary for the rehearsal shims")
}

impl SandboxDir {
    /// Create the sandbox with a shim for each entry of `[rehearse] stub`,
    /// named for this engine: the first rehearsal of a process removes
    /// those of killed engines ([`leftovers`]).
    pub fn create(stubs: &[String], table: &Table) -> anyhow::Result<SandboxDir> {
        leftovers::sweep();
        let dir = tempfile::Builder::new().prefix(&leftovers::prefix()).tempdir()?;
        // Canonical, so that the `$WORK` replacement also catches resolved paths (macOS /private/var).
        let root = std::fs::canonicalize(dir.path())?;
        let sb = SandboxDir {
            bin: root.join("bin"),
            work: root.join("repo"),
            shim: root.join("shim"),
            state: root.join("state"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            run: None,
            repo: None,
            root,
            _dir: dir,
        };
        for d in [&sb.bin, &sb.work, &sb.shim, &sb.state, &sb.home, &sb.tmp] {
            std::fs::create_dir_all(d)?;
        }
        let exe = shim_exe()?;
        for s in stubs {
            let program = match StubKind::of(s) {
                StubKind::Script(rel) => {
                    let target = sb.work.join(rel);
                    if let Some(p) = target.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                    std::fs::write(&target, script(&exe, rel))?;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
                    continue;
                }
                StubKind::Invalid => continue,
                StubKind::Program(p) => p.to_string(),
                StubKind::Absolute(p) => p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            let link = sb.bin.join(&program);
            if link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(&exe, &link).with_context(|| format!("cannot create the shim for `{s}`"))?;
        }
        shim::write_table(&sb.shim, table)?;
        Ok(sb)
    }

    /// The environment of every rehearsed step but `PATH` and the play's
    /// `RUNBOOK_*` (the runner adds those): the engine's [`PASSED_ENV`]
    /// variables and those of `[rehearse] env` (`also`), and the sandbox's own.
    pub fn env(&self, also: &[String]) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        let mut env = passed(std::env::vars_os(), also);
        env.extend([
            (shim::STATE_ENV.into(), s(&self.shim)),
            ("HOME".into(), s(&self.home)),
            ("TMPDIR".into(), s(&self.tmp)),
            ("RUNBOOK_REHEARSAL".into(), "1".into()),
            // A real kubectl reached by an absolute path still finds no cluster.
            ("KUBECONFIG".into(), s(&self.home.join(".kube-rehearsal"))),
        ]);
        env
    }

    /// The `PATH` of an uncontained rehearsal's steps: the shim directory
    /// alone, with links to the step interpreters ([`INTERPRETERS`]), the
    /// local tools ([`LOCAL_TOOLS`]) and those of `[rehearse] local`
    /// (`also`), each as found on the engine's `PATH` (a stub of the same
    /// name wins). Anything else is `command not found`: `ssh`, `aws`,
    /// `terraform` never run for real where nothing contains them.
    pub fn confine(&self, also: &[String]) -> anyhow::Result<String> {
        let engine = std::env::var_os("PATH").unwrap_or_default();
        let names = INTERPRETERS.iter().chain(LOCAL_TOOLS).copied().chain(also.iter().map(String::as_str));
        for name in names {
            let link = self.bin.join(name);
            if link.symlink_metadata().is_ok() {
                continue;
            }
            let Some(found) = which(name, &engine) else { continue };
            std::os::unix::fs::symlink(&found, &link)
                .with_context(|| format!("cannot link the local tool `{name}` into the rehearsal"))?;
        }
        Ok(self.bin.display().to_string())
    }

    /// Uncontained: fill the stand-in repo (`$WORK/repo`) with a copy of the
    /// project's files, so that `cwd=ops` and `cat settings.conf` decide as
    /// they do contained (where the steps see the real repo). In a git
    /// checkout, the files git knows of (tracked, and untracked but not
    /// ignored); elsewhere every file under `root` but `.git`, `.runbook`
    /// and the state dir (`skip`). Path stubs written already stay; links
    /// are kept when relative, left out when absolute (they would lead out
    /// of the copy). At most [`STAND_IN_CAP`] bytes and [`STAND_IN_FILES`]
    /// files: beyond that a file is left out, and the note returned says
    /// how many.
    pub fn stand_in(&self, root: &Path, skip: &[PathBuf]) -> anyhow::Result<Option<String>> {
        let files = match git_files(root) {
            Some(f) => f,
            None => {
                let mut out = Vec::new();
                walk(root, Path::new(""), skip, &mut out);
                out
            }
        };
        let (mut bytes, mut copied, mut left) = (0u64, 0usize, 0usize);
        for rel in files {
            let (src, dst) = (root.join(&rel), self.work.join(&rel));
            if skip.iter().any(|s| src.starts_with(s)) || dst.symlink_metadata().is_ok() {
                continue;
            }
            let Ok(meta) = src.symlink_metadata() else { continue };
            if meta.is_dir() {
                continue;
            }
            if copied >= STAND_IN_FILES || bytes + meta.len() > STAND_IN_CAP {
                left += 1;
                continue;
            }
            if let Some(p) = dst.parent() {
                std::fs::create_dir_all(p)?;
            }
            if meta.file_type().is_symlink() {
                match std::fs::read_link(&src) {
                    Ok(to) if to.is_relative() => std::os::unix::fs::symlink(&to, &dst)?,
                    _ => continue,
                }
            } else if meta.is_file() {
                std::fs::copy(&src, &dst)
                    .with_context(|| format!("cannot copy {} into the stand-in repo", src.display()))?;
                bytes += meta.len();
            } else {
                continue;
            }
            copied += 1;
        }
        Ok((left > 0).then(|| {
            format!(
                "the stand-in repo holds {copied} files ({} MiB) of the project: {left} more were left out \
                 (at most {} MiB and {STAND_IN_FILES} files are copied where the rehearsal is not contained)",
                bytes >> 20,
                STAND_IN_CAP >> 20
            )
        }))
    }

    pub fn calls(&self) -> Vec<shim::Call> {
        shim::read_calls(&self.shim)
    }

    /// Replace the sandbox path with `$WORK`, the repo root the steps run in
    /// (the real one when contained, its stand-in otherwise) with `$REPO`,
    /// and the run id with `$RUN`: transcripts are the same from one
    /// rehearsal to the next, contained or not, here or in CI.
    pub fn scrub(&self, text: &str) -> String {
        let mut t = match self.run.as_deref().filter(|r| !r.is_empty()) {
            Some(run) => text.replace(run, "$RUN"),
            None => text.to_string(),
        };
        t = t.replace(&self.work.display().to_string(), "$REPO");
        if let Some(r) = self.repo.as_ref().filter(|r| r.components().count() > 2) {
            t = t.replace(&r.display().to_string(), "$REPO");
        }
        t.replace(&self.root.display().to_string(), "$WORK")
    }
}

/// The step interpreters, on an uncontained rehearsal's `PATH` (a script
/// the step runs with `#!/usr/bin/env bash` finds them).
pub const INTERPRETERS: &[&str] = &["bash", "sh", "python3"];

/// Local tools an uncontained rehearsal's steps find on `PATH` (beside the
/// stubs and [`INTERPRETERS`]): they read and write local files and text,
/// and reach no other machine, account or cluster. What they write outside
/// the scratch tree stays, as the banner says. Not here: anything with a
/// network side (`ssh`, `git`, `openssl`, `nc`, `wget`), cloud and cluster
/// tools, `sudo`, process signalling (`kill`, `pkill`; bash's own `kill` is
/// a builtin), service managers. `[rehearse] local` adds names
/// (docs/containment.md).
pub const LOCAL_TOOLS: &[&str] = &[
    // coreutils
    "[",
    "base32",
    "base64",
    "basename",
    "cat",
    "chmod",
    "cksum",
    "comm",
    "cp",
    "csplit",
    "cut",
    "date",
    "dd",
    "df",
    "dirname",
    "du",
    "echo",
    "env",
    "expand",
    "expr",
    "factor",
    "false",
    "fmt",
    "fold",
    "head",
    "id",
    "install",
    "join",
    "link",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mkfifo",
    "mktemp",
    "mv",
    "nl",
    "nproc",
    "numfmt",
    "od",
    "paste",
    "pr",
    "printenv",
    "printf",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "seq",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "shuf",
    "sleep",
    "sort",
    "split",
    "stat",
    "stdbuf",
    "sum",
    "tac",
    "tail",
    "tee",
    "test",
    "timeout",
    "touch",
    "tr",
    "true",
    "truncate",
    "tsort",
    "tty",
    "uname",
    "unexpand",
    "uniq",
    "unlink",
    "wc",
    "whoami",
    "yes",
    "nice",
    "nohup",
    // text and files
    "grep",
    "egrep",
    "fgrep",
    "sed",
    "awk",
    "gawk",
    "mawk",
    "jq",
    "yq",
    "xargs",
    "find",
    "diff",
    "cmp",
    "column",
    "rev",
    "bc",
    "dc",
    "iconv",
    "envsubst",
    "hexdump",
    "xxd",
    "file",
    "which",
    "getopt",
    "tput",
    "hostname",
    "gzip",
    "gunzip",
    "zcat",
    "tar",
    "xz",
    "unxz",
    "bzip2",
    "bunzip2",
    "ps",
    "flock",
];

/// The variables of the engine's environment a rehearsed step sees, with
/// every `LC_*`: the locale, the terminal, the time zone and who runs it.
/// Anything else (`AWS_SECRET_ACCESS_KEY`, `VAULT_TOKEN`, `RUNBOOK_VAR_*`)
/// stays out: a rehearsal must not read the real world.
pub const PASSED_ENV: &[&str] = &["LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL"];

/// The entries of `engine` (an environment) a rehearsed step sees, sorted:
/// [`PASSED_ENV`], `LC_*`, and the names of `[rehearse] env` (`also`).
fn passed(engine: impl IntoIterator<Item = (OsString, OsString)>, also: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = engine
        .into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| PASSED_ENV.contains(&k.as_str()) || k.starts_with("LC_") || also.contains(k))
        .collect();
    out.sort();
    out
}

/// Most bytes [`SandboxDir::stand_in`] copies.
pub const STAND_IN_CAP: u64 = 32 << 20;
/// Most files [`SandboxDir::stand_in`] copies.
pub const STAND_IN_FILES: usize = 10_000;

/// The files git knows of below `root` (relative to it), when `root` is in
/// a git checkout and git runs.
fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| PathBuf::from(std::ffi::OsStr::from_bytes(f)))
            .collect(),
    )
}

/// Every file and link below `dir` (relative to `root`), without `.git`,
/// `.runbook` and `skip`.
fn walk(root: &Path, rel: &Path, skip: &[PathBuf], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let r = rel.join(&name);
        if (rel.as_os_str().is_empty() && (name == ".git" || name == ".runbook")) || skip.contains(&root.join(&r)) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(root, &r, skip, out),
            Ok(_) => out.push(r),
            Err(_) => {}
        }
    }
}

/// The first executable file `name` on `path`.
pub fn which(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rehearsed_step_sees_the_allow_listed_variables_only() {
        let engine = [
            ("LANG", "C.UTF-8"),
            ("LC_TIME", "en_GB.UTF-8"),
            ("TERM", "xterm"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("RUNBOOK_VAR_token", "y"),
            ("HOME", "/root"),
            ("PATH", "/usr/bin"),
            ("XLC_ALL", "z"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let names: Vec<String> = passed(engine.clone(), &[]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["LANG", "LC_TIME", "TERM"]);
        let names: Vec<String> = passed(engine, &["XLC_ALL".into()]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["LANG", "LC_TIME", "TERM", "XLC_ALL"]);
    }
}
