//! shellcheck over batches of pages: one file per page and dialect, one
//! process for the files whose findings are not cached, bounded in input
//! size and time (see the module above).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use wait_timeout::ChildExt;

use super::{MAX_BLOCK, MAX_LINE, SHELLCHECK_EXCLUDE, ShellBlock, shellcheck_timeout};
use crate::error::Diagnostic;

/// `shellcheck --version`'s text, when shellcheck runs.
static VERSION: LazyLock<Option<String>> = LazyLock::new(|| {
    let o = Command::new("shellcheck").arg("--version").stderr(Stdio::null()).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).into_owned())
});

pub fn shellcheck_available() -> bool {
    VERSION.is_some()
}

#[derive(serde::Deserialize)]
struct ScOut {
    comments: Vec<ScComment>,
}

#[derive(serde::Deserialize, serde::Serialize, Clone)]
struct ScComment {
    #[serde(default)]
    file: String,
    line: usize,
    level: String,
    code: u32,
    message: String,
}

/// shellcheck's findings by the file's text: shellcheck is a pure function
/// of its version, options and input, and costs ~5 ms of CPU per page, which
/// a CI that checks a few changed pages of hundreds need not pay again.
/// Entries are JSON files named by the sha256 of all that; one unused for
/// 30 days is removed when new ones are written.
pub(super) struct ScCache {
    pub(super) dir: PathBuf,
}

impl ScCache {
    fn key(&self, text: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [VERSION.as_deref().unwrap_or(""), SHELLCHECK_EXCLUDE, "json1 -S warning", text] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        self.dir.join(format!("{:x}.json", h.finalize()))
    }

    fn get(&self, text: &str) -> Option<Vec<ScComment>> {
        let path = self.key(text);
        let comments = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        // Used: keep it another 30 days.
        let _ = std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Some(comments)
    }

    fn put(&self, text: &str, comments: &[ScComment]) {
        // The state directory is the operator's alone (0700), whoever makes it.
        use std::os::unix::fs::DirBuilderExt;
        if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).is_err() {
            return;
        }
        let Ok(json) = serde_json::to_vec(comments) else { return };
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(&self.dir) else { return };
        if tmp.write_all(&json).is_ok() {
            let _ = tmp.persist(self.key(text));
        }
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let month = Duration::from_secs(30 * 24 * 3600);
        for e in entries.flatten() {
            let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|a| a > month));
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// One file given to shellcheck: a page's blocks of one dialect, and for
/// each of its lines (1-based; line 1 is the shebang) the block and page line.
struct ScFile<'a> {
    path: PathBuf,
    file: &'a Path,
    map: Vec<(usize, usize)>,
}

/// shellcheck over the blocks that parse: one file per page and dialect,
/// one process for all of them.
pub(super) fn shellcheck(
    blocks: &[ShellBlock],
    parses: &[bool],
    dir: &Path,
    cache: Option<&ScCache>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut files: Vec<ScFile> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        if !parses[k] {
            continue;
        }
        let longest = b.script.lines().map(str::len).max().unwrap_or(0);
        if longest > MAX_LINE || b.script.len() > MAX_BLOCK {
            out.push(
                Diagnostic::warning(
                    "shellcheck-skipped",
                    format!(
                        "{} is too large for shellcheck ({} KB, longest line {} KB): not checked",
                        b.block.what(),
                        b.script.len().div_ceil(1024),
                        longest.div_ceil(1024)
                    ),
                )
                .at(b.file, b.block.line)
                .hint(format!(
                    "shellcheck is given blocks under {} KB with lines under {} KB; move generated data out of the page",
                    MAX_BLOCK / 1024,
                    MAX_LINE / 1024
                )),
            );
            continue;
        }
        let slot = files.iter().position(|f| f.file == b.file && f.path.extension().is_some_and(|e| e == b.dialect));
        let slot = slot.unwrap_or_else(|| {
            files.push(ScFile {
                path: dir.join(format!("{}.{}", files.len(), b.dialect)),
                file: b.file,
                map: vec![(0, 0)],
            });
            texts.push(format!("#!/usr/bin/env {}\n", b.dialect));
            files.len() - 1
        });
        for (i, l) in b.script.lines().enumerate() {
            texts[slot].push_str(l);
            texts[slot].push('\n');
            files[slot].map.push((k, b.block.body_line + i));
        }
    }
    if files.is_empty() {
        return out;
    }
    // Findings per file: from the cache, or from the one shellcheck run.
    let mut found: Vec<Option<Vec<ScComment>>> = texts.iter().map(|t| cache.and_then(|c| c.get(t))).collect();
    let missing: Vec<usize> = (0..files.len()).filter(|&i| found[i].is_none()).collect();
    if !missing.is_empty() {
        match run_shellcheck(&files, &texts, &missing, dir) {
            Ok(comments) => {
                for (&i, c) in missing.iter().zip(comments) {
                    if let Some(cache) = cache {
                        cache.put(&texts[i], &c);
                    }
                    found[i] = Some(c);
                }
                if let Some(cache) = cache {
                    cache.prune();
                }
            }
            Err(true) => {
                let pages: BTreeSet<&Path> = missing.iter().map(|&i| files[i].file).collect();
                for p in pages {
                    out.push(
                        Diagnostic::warning(
                            "shellcheck-timeout",
                            format!(
                                "shellcheck did not finish in {}: not checked",
                                humantime::format_duration(shellcheck_timeout())
                            ),
                        )
                        .in_file(p)
                        .hint("look for a very long or generated block in the page"),
                    );
                }
            }
            Err(false) => {}
        }
    }
    let mut seen = BTreeSet::new();
    for (f, comments) in files.iter().zip(found) {
        for c in comments.unwrap_or_default() {
            // Line 1 is the shebang.
            let Some(&(k, line)) = f.map.get(c.line.saturating_sub(1)).filter(|_| c.line >= 2) else { continue };
            if !seen.insert((f.file, line, c.code)) {
                continue;
            }
            let msg = format!("shellcheck SC{} in {}: {}", c.code, blocks[k].block.what(), c.message);
            let d = if c.level == "error" {
                Diagnostic::error("shellcheck", msg)
            } else {
                Diagnostic::warning("shellcheck", msg)
            };
            out.push(d.at(f.file, line).hint(format!("see https://www.shellcheck.net/wiki/SC{}", c.code)));
        }
    }
    out
}

/// One shellcheck process over the files `which`: each file's comments, or
/// `Err(true)` when it timed out (`Err(false)`: it could not run).
fn run_shellcheck(
    files: &[ScFile],
    texts: &[String],
    which: &[usize],
    dir: &Path,
) -> Result<Vec<Vec<ScComment>>, bool> {
    for &i in which {
        std::fs::write(&files[i].path, &texts[i]).map_err(|_| false)?;
    }
    let report = dir.join("shellcheck.json");
    let report_file = std::fs::File::create(&report).map_err(|_| false)?;
    let mut child = Command::new("shellcheck")
        .args(["-f", "json1", "-S", "warning", "-e", SHELLCHECK_EXCLUDE])
        .args(which.iter().map(|&i| &files[i].path))
        .stdin(Stdio::null())
        .stdout(report_file)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|_| false)?;
    match child.wait_timeout(shellcheck_timeout()) {
        Ok(Some(_)) => {}
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(true);
        }
    }
    let bytes = std::fs::read(&report).map_err(|_| false)?;
    let parsed = serde_json::from_slice::<ScOut>(&bytes).map_err(|_| false)?;
    let mut out: Vec<Vec<ScComment>> = vec![Vec::new(); which.len()];
    for mut c in parsed.comments {
        if let Some(k) = which.iter().position(|&i| files[i].path.as_os_str() == c.file.as_str()) {
            c.file.clear();
            out[k].push(c);
        }
    }
    Ok(out)
}
