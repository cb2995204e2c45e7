//! Python syntax of every `python` step, as `bash -n` is for shell steps:
//! one `python3` process per batch of pages compiles each body (never runs
//! it), templates neutralised line for line (`{{ … }}` becomes the string
//! literal `"RB_VALUE"`, as a value renders in a Python body; `{% … %}`
//! vanish), so that its line numbers map straight back to the page.
//! Without `python3` on PATH nothing is checked, and the steps are counted
//! for the notice `check` gives once ([`super::missing`]).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::lints::Block;
use super::missing::{self, Unchecked};
use crate::error::Diagnostic;

/// Compiles each body of the JSON list on stdin; prints `[k, line, msg]`
/// for each that does not compile.
const COMPILE: &str = r#"import json, sys
for k, src in enumerate(json.load(sys.stdin)):
    try:
        compile(src, "<step>", "exec", dont_inherit=True)
    except SyntaxError as e:
        print(json.dumps([k, e.lineno or 1, e.msg]))
    except Exception as e:
        print(json.dumps([k, 1, str(e)]))
"#;

/// Is this block a `python` step?
pub fn is_python_step(b: &Block) -> bool {
    b.step.is_some() && matches!(b.lang, "python" | "python3")
}

/// Syntax findings of the `python` steps among `blocks` (each with its page);
/// without `python3`, the steps are counted in `unchecked`.
pub fn check(blocks: &[(&Path, Block)], unchecked: &mut Unchecked) -> Vec<Diagnostic> {
    let steps: Vec<&(&Path, Block)> = blocks.iter().filter(|(_, b)| is_python_step(b)).collect();
    if steps.is_empty() {
        return Vec::new();
    }
    if !missing::on_path("python3") {
        unchecked.add("python3", steps.len());
        return Vec::new();
    }
    let bodies: Vec<String> = steps.iter().map(|(_, b)| super::bash::neutralize_as(b.body, "\"RB_VALUE\"")).collect();
    let Ok(input) = serde_json::to_vec(&bodies) else { return Vec::new() };
    let child = Command::new("python3")
        .args(["-I", "-c", COMPILE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return Vec::new() };
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(&input);
    }
    let Ok(out) = child.wait_with_output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<(usize, usize, String)>(l).ok())
        .filter_map(|(k, n, msg)| {
            let (file, b) = steps.get(k)?;
            let lines = b.body.lines().count().max(1);
            Some(
                Diagnostic::error("python-syntax", format!("python syntax error in {}: {msg}", b.what()))
                    .at(file, b.body_line + n.clamp(1, lines) - 1)
                    .hint("`python3` cannot compile this line; check quotes, brackets, colons and indentation"),
            )
        })
        .collect()
}
