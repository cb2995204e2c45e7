//! The answers `runbook fixture new` writes for the author to replace
//! (`TODO`), and finding the ones still left in a scenario. A scenario that
//! holds one passes while verifying nothing (a capture of `TODO` even flows
//! into later commands), so a rehearsal fails it: `check` exits 1 and
//! `play --dry-run` too.
//!
//! Only the exact answers the scaffold writes count, not the word: a stub
//! whose stdout is `TODO` (with or without its newline), an http `body` of
//! `TODO`, logql `lines = ["TODO"]`, and a promql `value = "0"   # TODO`
//! (whitespace aside; the comment is what marks that one, `"0"` alone is a
//! real answer). `stdout = "TODO: drain the node first\n"` is an answer.

use std::path::Path;

/// The stub output and http body the scaffold writes.
pub const TEXT: &str = "TODO";
/// The answer of a scaffolded http query.
pub const HTTP: &str = "status = 200\nbody = \"TODO\"";
/// The answer of a scaffolded logql query.
pub const LOGQL: &str = "lines = [\"TODO\"]";
/// The answer of a scaffolded promql query (a value must be a number).
pub const PROMQL: &str = "value = \"0\"   # TODO";

/// One answer of a scenario still as scaffolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    /// Line of its `[[scenario.stub]]` or `[[scenario.query]]`.
    pub line: usize,
    /// `stub `kubectl get pods`` or `promql query `up``.
    pub what: String,
}

/// Whether a stub's stdout or an http body is the scaffold's placeholder.
pub fn is_text(s: &str) -> bool {
    s.strip_suffix('\n').unwrap_or(s) == TEXT
}

/// Whether the table whose header is on line `header` (1-based) of `text`
/// still has the scaffold's promql answer.
pub fn has_promql_value(text: &str, header: usize) -> bool {
    let want = PROMQL.split_whitespace().collect::<Vec<_>>();
    text.lines()
        .skip(header)
        .take_while(|l| !l.trim_start().starts_with('['))
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == want)
}

/// The failure of a scenario that still holds `todos`, naming each, or
/// `None` when it holds none.
pub fn failure(fixture: &Path, runbook: &str, scenario: &str, env: Option<&str>, todos: &[Todo]) -> Option<String> {
    if todos.is_empty() {
        return None;
    }
    let mut f = format!("scenario `{scenario}` still holds the scaffold's TODO answers, so it verifies nothing:");
    for t in todos {
        f.push_str(&format!("\n{}:{}: {} answers TODO", fixture.display(), t.line, t.what));
    }
    let env = env.map(|e| format!(" --env {e}")).unwrap_or_default();
    f.push_str(&format!(
        "\nhint: replace each with what the real program prints (and its exit code), \
         or record them with `runbook play {runbook}{env} --record-fixture {scenario}`"
    ));
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_scaffolds_own_answers_count() {
        assert!(is_text("TODO") && is_text("TODO\n"));
        assert!(!is_text("TODO: what it prints\n") && !is_text("todo\n") && !is_text("") && !is_text("TODO\n\n"));
        let t = "[[scenario.query]]\nkind = \"promql\"\nmatch = \"up\"\nvalue  =  \"0\" # TODO\n";
        assert!(has_promql_value(t, 1));
        let real = "[[scenario.query]]\nkind = \"promql\"\nmatch = \"up\"\nvalue = \"0\"   # TODO: check with SRE\n";
        assert!(!has_promql_value(real, 1));
        // Another table's answer is not this one's.
        let next = "[[scenario.query]]\nmatch = \"a\"\nvalue = \"1\"\n[[scenario.query]]\nvalue = \"0\"   # TODO\n";
        assert!(!has_promql_value(next, 1) && has_promql_value(next, 4));
    }
}
