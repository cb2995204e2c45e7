//! Shell syntax (`bash -n`, `sh -n`) and `shellcheck` of every shell block,
//! steps and documentation alike, batched: a few processes per batch of
//! pages, not one per block ([`syntax_batch`], [`shellcheck`]).
//!
//! Templates and placeholders are neutralised first, line for line, so that
//! the shell's line numbers map straight back to the page: `{{ … }}` becomes
//! one word (`RB_VALUE`, as after shell quoting), `{% … %}` and `{## … ##}`
//! (template comments: `{#` is bash's `${#x}`) vanish (keeping their newlines, so both branches of an `if` are
//! checked), `<pod>` becomes `RB_PLACEHOLDER` (the placeholder lint reports
//! it; a syntax error on its line is still found).
//!
//! shellcheck runs over the blocks that passed the syntax check (a block
//! that does not parse would derail the ones after it), one file per page
//! and dialect, many files per process, with `-S warning` and these
//! exclusions, which misfire on runbook steps:
//!
//! - SC2034 (assigned but unused) and SC2154 (used but not assigned):
//!   variables come from templates, the runner's environment and other steps.
//! - SC1090/SC1091 (cannot follow `source`): the sourced files are not here.
//! - SC2164 (`cd` without `|| exit`): steps run under `bash -e`.
//!
//! shellcheck is bounded: a block with a line over [`MAX_LINE`] bytes or a
//! body over [`MAX_BLOCK`] is not given to it (a 400 KB line took it over a
//! minute and 660 MB), and a process is killed after [`SHELLCHECK_TIMEOUT`];
//! both are reported as warnings. Each finding is reported once per line.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use wait_timeout::ChildExt;

use super::lints::Block;
use crate::error::Diagnostic;

pub const SHELLCHECK_EXCLUDE: &str = "SC2034,SC2154,SC1090,SC1091,SC2164";

/// The word a `{{ … }}` stands for in syntax checks.
pub const VALUE_WORD: &str = "RB_VALUE";

/// shellcheck is not given a block with a longer line…
pub const MAX_LINE: usize = 4 * 1024;
/// …or a longer body.
pub const MAX_BLOCK: usize = 64 * 1024;
/// A shellcheck process is killed after this long.
pub const SHELLCHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Replace template syntax, keeping every newline where it was.
pub fn neutralize(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        let next = ["{{", "{%", "{##"].iter().filter_map(|t| rest.find(t).map(|i| (i, *t))).min();
        let Some((i, open)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "##}",
        };
        let after = &rest[i + open.len()..];
        let Some(end) = after.find(close) else {
            // Unclosed tag: the template check reports it; leave the text.
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &after[..end];
        if open == "{{" {
            out.push_str(VALUE_WORD);
        }
        out.extend(std::iter::repeat_n('\n', inner.matches('\n').count()));
        rest = &after[end + close.len()..];
    }
}

/// What the shell tools are given for a body: templates and placeholders neutralised.
pub fn prepare(body: &str) -> String {
    super::placeholders::neutralize(&neutralize(body))
}

static SYNTAX_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^/dev/stdin: (?:line )?(\d+): (.*)$").expect("syntax regex"));

/// A shell that runs nothing from its environment (`BASH_ENV`, `ENV`).
fn shell(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_remove("BASH_ENV").env_remove("ENV").stdin(Stdio::null());
    c
}

/// `bash -n` (or `sh -n`) of one script: the 1-based line in it and the message.
pub fn syntax(dialect: &str, script: &str) -> Option<(usize, String)> {
    let mut child = shell(dialect)
        .args(["-n", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(script.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if out.status.success() {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    // bash repeats the offending line as a second message: keep the first.
    let first =
        err.lines().find_map(|l| SYNTAX_LINE.captures(l).map(|c| (c[1].parse().unwrap_or(1), c[2].to_string())));
    let lines = script.lines().count().max(1);
    first.map(|(n, m)| (n.clamp(1, lines), m)).or_else(|| Some((1, err.trim().to_string())))
}

/// Does this bash print what it parsed without running it (`--pretty-print`, bash ≥ 5.2)?
fn pretty_print_available() -> bool {
    static AVAILABLE: LazyLock<bool> = LazyLock::new(|| {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return false };
        let f = dir.path().join("probe.sh");
        if std::fs::write(&f, ": RB_SENTINEL_0  ;\n").is_err() {
            return false;
        }
        shell("bash").arg("--pretty-print").arg(&f).stderr(Stdio::null()).output().is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).lines().any(|l| l == ": RB_SENTINEL_0")
        })
    });
    *AVAILABLE
}

/// The syntax check of many scripts of one dialect: for each, `None` or
/// the line (1-based, in the script) and message `bash -n` / `sh -n` gives
/// for it alone.
///
/// bash: one `bash --pretty-print` over all scripts, each followed by a
/// sentinel command `: RB_SENTINEL_k  ;`. bash prints what it parsed
/// without running it; a sentinel printed back as `: RB_SENTINEL_k` (its
/// own line, normalised) was parsed as a command of its own, so the script
/// before it opened nothing it did not close (a quote left open would have
/// swallowed the sentinel as text, an `if` would have indented it, a `|`
/// would have joined it). The first script whose sentinel is missing is
/// checked alone with `bash -n`, and the batch goes on after it.
///
/// sh: one `sh` process that, for each script, runs `( eval "set -n
/// <script>" )`: `set -n` makes the subshell read the script without
/// running it, and a syntax error ends only that subshell. A first probe
/// `( eval "set -n
/// exit 7" )` must not exit 7, else nothing is checked this way.
pub fn syntax_batch(dialect: &str, scripts: &[&str], dir: &Path) -> Vec<Option<(usize, String)>> {
    match dialect {
        "bash" if pretty_print_available() => bash_batch(scripts, dir),
        "sh" => sh_batch(scripts, dir).unwrap_or_else(|| scripts.iter().map(|s| syntax("sh", s)).collect()),
        _ => scripts.iter().map(|s| syntax(dialect, s)).collect(),
    }
}

fn bash_batch(scripts: &[&str], dir: &Path) -> Vec<Option<(usize, String)>> {
    let mut out: Vec<Option<(usize, String)>> = vec![None; scripts.len()];
    let file = dir.join("syntax.bash");
    let mut start = 0;
    while start < scripts.len() {
        let mut text = String::new();
        for (k, s) in scripts.iter().enumerate().skip(start) {
            text.push_str(s);
            if !s.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(": RB_SENTINEL_{k}  ;\n"));
        }
        let parsed = std::fs::write(&file, &text)
            .ok()
            .and_then(|_| shell("bash").arg("--pretty-print").arg(&file).stderr(Stdio::null()).output().ok());
        let Some(o) = parsed else {
            // No bash to ask: one `bash -n` each (which says so).
            for k in start..scripts.len() {
                out[k] = syntax("bash", scripts[k]);
            }
            break;
        };
        let printed: BTreeSet<usize> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(": RB_SENTINEL_").and_then(|n| n.parse().ok()))
            .collect();
        match (start..scripts.len()).find(|k| !printed.contains(k)) {
            None if o.status.success() => break,
            None => {
                // Every sentinel parsed, yet bash complained: check each alone.
                for k in start..scripts.len() {
                    out[k] = syntax("bash", scripts[k]);
                }
                break;
            }
            Some(k) => {
                out[k] = syntax("bash", scripts[k]);
                start = k + 1;
            }
        }
    }
    out
}

static EVAL_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^.*?: (\d+): eval: (.*)$").expect("eval regex"));

fn sh_batch(scripts: &[&str], dir: &Path) -> Option<Vec<Option<(usize, String)>>> {
    let mut text = String::from("RB_N='set -n\n'\n( eval \"${RB_N}exit 7\" )\n[ $? = 7 ] && exit 99\n");
    for (k, s) in scripts.iter().enumerate() {
        text.push_str(&format!("echo '@@RB {k}' >&2\nB='{}'\n( eval \"$RB_N$B\" )\n", s.replace('\'', "'\\''")));
    }
    let file = dir.join("syntax.sh");
    std::fs::write(&file, &text).ok()?;
    let o = shell("sh").arg(&file).current_dir(dir).stdout(Stdio::null()).output().ok()?;
    if o.status.code() == Some(99) {
        return None;
    }
    let mut out: Vec<Option<(usize, String)>> = vec![None; scripts.len()];
    let mut current: Option<usize> = None;
    for l in String::from_utf8_lossy(&o.stderr).lines() {
        if let Some(k) = l.strip_prefix("@@RB ").and_then(|k| k.parse::<usize>().ok()) {
            current = Some(k).filter(|k| *k < scripts.len());
            continue;
        }
        if let (Some(k), Some(c)) = (current, EVAL_LINE.captures(l))
            && out[k].is_none()
        {
            // The eval's first line is `set -n`.
            let n: usize = c[1].parse::<usize>().unwrap_or(2).saturating_sub(1);
            let lines = scripts[k].lines().count().max(1);
            out[k] = Some((n.clamp(1, lines), c[2].to_string()));
        }
    }
    Some(out)
}

/// A shell block of some page, prepared for the shell tools.
pub struct ShellBlock<'a> {
    pub file: &'a Path,
    pub block: Block<'a>,
    pub dialect: &'static str,
    pub script: String,
}

impl<'a> ShellBlock<'a> {
    pub fn new(file: &'a Path, block: Block<'a>) -> Option<Self> {
        let dialect = block.dialect()?;
        let script = prepare(block.body);
        Some(ShellBlock { file, block, dialect, script })
    }
}

/// Syntax and (when installed) shellcheck findings of a batch of blocks.
/// `cache`: where shellcheck's findings are kept by content (none: always run it).
pub fn check(blocks: &[ShellBlock], shellcheck_on: bool, cache: Option<&Path>) -> Vec<Diagnostic> {
    let Ok(dir) = tempfile::tempdir() else {
        return vec![
            Diagnostic::warning("shell-check", "cannot create a temporary directory: shell syntax not checked")
                .hint("check that $TMPDIR is writable"),
        ];
    };
    let mut out = Vec::new();
    let mut parses = vec![false; blocks.len()];
    for dialect in ["bash", "sh"] {
        let idx: Vec<usize> = (0..blocks.len()).filter(|&k| blocks[k].dialect == dialect).collect();
        if idx.is_empty() {
            continue;
        }
        let scripts: Vec<&str> = idx.iter().map(|&k| blocks[k].script.as_str()).collect();
        for (&k, r) in idx.iter().zip(syntax_batch(dialect, &scripts, dir.path())) {
            let b = &blocks[k];
            match r {
                None => parses[k] = true,
                Some((n, msg)) => out.push(
                    Diagnostic::error("shell-syntax", format!("{dialect} syntax error in {}: {msg}", b.block.what()))
                        .at(b.file, b.block.body_line + n - 1)
                        .hint(format!(
                            "`{dialect} -n` rejects this line; check quotes, brackets and `fi`/`done`/`esac`"
                        )),
                ),
            }
        }
    }
    if shellcheck_on && shellcheck_available() {
        let cache = cache.map(|d| ScCache { dir: d.to_path_buf() });
        out.extend(shellcheck(blocks, &parses, dir.path(), cache.as_ref()));
    }
    out
}

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
struct ScCache {
    dir: PathBuf,
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
        if std::fs::create_dir_all(&self.dir).is_err() {
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
fn shellcheck(blocks: &[ShellBlock], parses: &[bool], dir: &Path, cache: Option<&ScCache>) -> Vec<Diagnostic> {
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
                            format!("shellcheck did not finish in {} s: not checked", SHELLCHECK_TIMEOUT.as_secs()),
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
            let d =
                if c.level == "error" { Diagnostic::error("shellcheck", msg) } else { Diagnostic::warning("shellcheck", msg) };
            out.push(d.at(f.file, line).hint(format!("see https://www.shellcheck.net/wiki/SC{}", c.code)));
        }
    }
    out
}

/// One shellcheck process over the files `which`: each file's comments, or
/// `Err(true)` when it timed out (`Err(false)`: it could not run).
fn run_shellcheck(files: &[ScFile], texts: &[String], which: &[usize], dir: &Path) -> Result<Vec<Vec<ScComment>>, bool> {
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
    match child.wait_timeout(SHELLCHECK_TIMEOUT) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralize_keeps_lines() {
        assert_eq!(neutralize("a {{ x }} b\n{% if y %}\nc\n{% endif %}\n"), "a RB_VALUE b\n\nc\n\n");
        assert_eq!(neutralize("{{\n x\n}}\nz"), "RB_VALUE\n\n\nz");
        assert_eq!(neutralize("echo {{ x"), "echo {{ x");
        assert_eq!(neutralize("echo ${#a[@]} {## note\n##}x"), "echo ${#a[@]} \nx");
    }

    #[test]
    fn bash_syntax_lines() {
        assert_eq!(syntax("bash", "echo a\necho (\n").map(|x| x.0), Some(2));
        assert_eq!(syntax("bash", "echo a\nif true; then\n  echo b\n").map(|x| x.0), Some(3));
        assert!(syntax("bash", "echo ok | grep o\n").is_none());
        assert_eq!(syntax("sh", "echo a\necho (\n").map(|x| x.0), Some(2));
    }

    /// Scripts that are fine alone, broken alone, or fine together but not
    /// alone (a quote or a pipe left open): the batch must say of each
    /// exactly what the shell says of it alone.
    const PIECES: [&str; 22] = [
        "echo ok\n",
        "kubectl get pods -n x | grep -c Running || true\n",
        "echo \"unterminated\n",
        "x\"\n",
        "if true; then\n  echo b\n",
        "fi\n",
        "echo (\n",
        "for x in; do\n",
        "done\n",
        "kubectl logs x |\n",
        "cat <<EOF\nbody\nEOF\n",
        "cat <<EOF\nno end\n",
        "echo 'single\n",
        "a=$(echo x\n",
        ")\n",
        "case $x in a) echo ;; esac\n",
        "{\n",
        "}\n",
        "echo a \\\n",
        "[[ -n $a ]] && echo\n",
        "f() { echo; }\n",
        ": RB_SENTINEL_0  ;\n",
    ];

    #[test]
    fn batches_agree_with_one_shell_per_script() {
        let dir = tempfile::tempdir().unwrap();
        let mut next = crate::parse::picker(0x51ab_c0de_0bad_f00d);
        for dialect in ["bash", "sh"] {
            for round in 0..40 {
                let scripts: Vec<String> = (0..1 + next(8))
                    .map(|_| (0..1 + next(3)).map(|_| PIECES[next(PIECES.len())]).collect::<String>())
                    .collect();
                let refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
                let batch = syntax_batch(dialect, &refs, dir.path());
                for (s, got) in refs.iter().zip(batch) {
                    let alone = syntax(dialect, s);
                    assert_eq!(got.map(|g| g.0), alone.map(|a| a.0), "{dialect} round {round}: {s:?} among {refs:#?}");
                }
            }
        }
    }

    #[test]
    fn nothing_in_a_checked_block_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let body = format!("touch {m}\n}}\ntouch {m}\n$(touch {m})\necho \"\n", m = marker.display());
        for dialect in ["bash", "sh"] {
            let refs = [body.as_str(), "echo \"\nx\"\ntouch ran\n"];
            syntax_batch(dialect, &refs, dir.path());
            assert!(!marker.exists() && !dir.path().join("ran").exists(), "{dialect} ran a block");
        }
    }
}
