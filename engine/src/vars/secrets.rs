//! A `secrets:` entry must name something the runbook reads: a variable it
//! declares, a `capture`, or a name its templates read (a value from the
//! env profile, `--set-file`, …). A misspelt entry (`secrets: [pgpw]` for
//! `pg_pw`) masks nothing, and the value it was meant for would be in clear
//! in every sink without a word: `check`, `plan` and `play` refuse it.

use std::collections::BTreeSet;

use crate::error::{Diagnostic, did_you_mean};
use crate::model::Runbook;
use crate::template::Templater;

/// An error for each `secrets` entry that names nothing the runbook reads.
pub fn unread_secrets(rb: &Runbook) -> Vec<Diagnostic> {
    if rb.secrets.is_empty() {
        return Vec::new();
    }
    let t = Templater::new(rb);
    let mut known: BTreeSet<String> = rb.vars.keys().cloned().collect();
    known.extend(rb.steps.iter().filter_map(|s| s.attrs.capture.clone()));
    for s in &rb.steps {
        known.extend(t.names_used(s));
    }
    rb.secrets
        .iter()
        .filter(|name| !known.contains(*name))
        .map(|name| {
            let hint = match did_you_mean(name, known.iter().map(String::as_str)) {
                Some(m) => format!("did you mean `{m}`? Name a variable or a capture of this runbook"),
                None => "name a variable or a capture of this runbook, or drop the entry".to_string(),
            };
            Diagnostic::error(
                "unknown-secret",
                format!("`secrets` names `{name}`, which this runbook neither declares, captures nor reads: it masks nothing"),
            )
            .at(&rb.path, entry_line(rb, name))
            .hint(hint)
        })
        .collect()
}

/// The front-matter line of the `secrets` entry `name` (or of the key).
fn entry_line(rb: &Runbook, name: &str) -> usize {
    let start = rb.front_matter_line.unwrap_or(1);
    std::fs::read_to_string(&rb.path).map_or(start, |text| line_in(&text, start, name))
}

/// [`entry_line`] in `text`, whose front matter opens at line `start`.
fn line_in(text: &str, start: usize, name: &str) -> usize {
    let lines: Vec<&str> = text.lines().skip(start).take_while(|l| l.trim_end() != "---").collect();
    let Some(key) = lines.iter().position(|l| l.trim_start().starts_with("secrets:")) else { return start };
    let word = |l: &str| l.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == name);
    let at = lines[key..].iter().position(|l| word(l)).map_or(key, |i| key + i);
    start + 1 + at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(md: &str) -> Vec<String> {
        let rb = crate::parse::parse_str(std::path::Path::new("s.md"), md, String::new()).unwrap();
        unread_secrets(&rb).into_iter().map(|d| d.hint.as_deref().unwrap_or("").to_string()).collect()
    }

    #[test]
    fn an_entry_nothing_reads_is_an_error_with_a_did_you_mean() {
        let md = "---\nvars:\n  pg_pw: ~\nsecrets:\n  - pgpw\n---\n```bash {#a}\necho {{ pg_pw }}\n```\n";
        assert_eq!(errors(md), ["did you mean `pg_pw`? Name a variable or a capture of this runbook"]);
        assert_eq!(line_in(md, 1, "pgpw"), 5);
        assert_eq!(line_in("---\nsecrets: [a, pgpw]\n---\n", 1, "pgpw"), 2);
        assert_eq!(line_in("---\nid: x\n---\n", 1, "pgpw"), 1);
    }

    #[test]
    fn declared_captured_or_read_names_are_fine() {
        let md = "---\nvars: {a: 1}\nsecrets: [a, tok, from_env]\n---\n```bash {#x capture=tok}\necho t\n```\n\n```bash {#y}\necho {{ from_env }} {{ tok }}\n```\n";
        assert!(errors(md).is_empty());
    }
}
