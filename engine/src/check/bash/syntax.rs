//! Shell syntax of many blocks in a few processes (see the module above):
//! `bash --pretty-print` with sentinels, `sh` with `eval` under `set -n`,
//! and one `bash -n` / `sh -n` for a block alone.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::LazyLock;

use regex::Regex;

use super::shell;

static SYNTAX_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^/dev/stdin: (?:line )?(\d+): (.*)$").expect("syntax regex"));

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
/// sh: one `sh` process that, for each script, runs `( eval "set -n`
/// `<script>" )`: `set -n` makes the subshell read the script without
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
