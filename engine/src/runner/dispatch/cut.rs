//! A template that reads a cut `steps.<id>.stdout` says so. The engine
//! keeps only the first [`KEEP_STDOUT`] bytes of a step's stdout; a later
//! step's `when: "'ready' in steps.x.stdout"` decided on that part would
//! otherwise be decided without a word. The step that reads it gets one
//! note, before its templates decide anything, naming the steps it reads
//! that were cut and the cap. The fold knows a cut from the step's end
//! (`stdout_cut`), so a resumed session says it as the uninterrupted one
//! does; a note already in the journal is not said again.

use crate::model::Runbook;
use crate::run::event::Note;
use crate::run::{Event, RunState};
use crate::runner::output::KEEP_STDOUT;

/// For each step, the steps whose `stdout` its templates read
/// (`steps.<id>.stdout`, `steps["<id>"].stdout`, `steps.<id>["stdout"]`):
/// in its body, `when`, `expect`, `cwd`, `confirm` or `escalate`. A template
/// that indexes `steps` with something else than a quoted id and reads a
/// `stdout` could read any step's.
pub(super) fn stdout_reads(rb: &Runbook) -> Vec<Vec<usize>> {
    rb.steps
        .iter()
        .map(|s| {
            let texts: Vec<&str> = std::iter::once(s.body.as_str())
                .chain(
                    [&s.attrs.when, &s.attrs.expect, &s.attrs.cwd, &s.attrs.confirm, &s.attrs.escalate]
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                )
                .filter(|t| t.contains("steps") && t.contains("stdout"))
                .collect();
            let any = texts.iter().any(|t| dynamic(t));
            (0..rb.steps.len())
                .filter(|&x| rb.steps[x].id != s.id)
                .filter(|&x| any || texts.iter().any(|t| reads(t, &rb.steps[x].id)))
                .collect()
        })
        .collect()
}

/// Does `text` read the stdout of step `id`?
fn reads(text: &str, id: &str) -> bool {
    let refs = [format!("steps.{id}"), format!("steps[\"{id}\"]"), format!("steps['{id}']")];
    refs.iter().any(|r| {
        text.match_indices(r.as_str()).any(|(p, _)| {
            let after = &text[p + r.len()..];
            let field = after.strip_prefix(".stdout").is_some_and(|rest| !rest.starts_with(is_word))
                || after.starts_with("[\"stdout\"]")
                || after.starts_with("['stdout']");
            let boundary = !text[..p].ends_with(|c: char| is_word(c) || c == '.');
            field && boundary
        })
    })
}

/// `steps[name]`: an index that is not a quoted id.
fn dynamic(text: &str) -> bool {
    text.match_indices("steps[").any(|(p, _)| !matches!(text.as_bytes().get(p + 6), Some(b'"') | Some(b'\'')))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The note step `reader` gets before its templates are rendered, when a
/// step whose stdout it reads (`reads`) ended with its stdout cut and the
/// journal does not say so yet.
pub(super) fn note(rb: &Runbook, st: &RunState, reader: usize, reads: &[usize]) -> Option<Event> {
    let cut: Vec<&str> = reads
        .iter()
        .map(|&x| rb.steps[x].id.as_str())
        .filter(|id| st.step(id).is_some_and(|p| p.status.is_some() && p.stdout_cut))
        .collect();
    if cut.is_empty() {
        return None;
    }
    let whose = match cut.len() {
        1 => format!("is cut: only the first {} of step `{}`'s stdout", cap(), cut[0]),
        _ => format!("are cut: only the first {} of each step's stdout", cap()),
    };
    let refs: Vec<String> = cut.iter().map(|id| format!("`steps.{id}.stdout`")).collect();
    let text = format!("reads {}, which {whose} is kept, and this step's templates see only that", refs.join(", "));
    let id = &rb.steps[reader].id;
    let said = st.notes.iter().any(|n| n.step.as_deref() == Some(id.as_str()) && n.text == text);
    (!said).then(|| Event::Note(Note { step: Some(id.clone()), text }))
}

/// [`KEEP_STDOUT`] as the notes say it.
pub fn cap() -> String {
    match KEEP_STDOUT {
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stdout_a_template_reads() {
        assert!(reads("'ready' in steps.x.stdout", "x"));
        assert!(reads("{{ steps[\"a.b\"].stdout }}", "a.b"));
        assert!(reads("steps.x['stdout']", "x"));
        assert!(!reads("steps.x.status == 'passed'", "x"));
        assert!(!reads("steps.xy.stdout", "x"));
        assert!(!reads("steps.x.stdout_len", "x"));
        assert!(!reads("other_steps.x.stdout", "x"));
        assert!(dynamic("steps[name].stdout"));
        assert!(!dynamic("steps['x'].stdout"));
    }

    #[test]
    fn the_cap_reads_as_a_size() {
        assert_eq!(cap(), "1 MiB");
    }
}
