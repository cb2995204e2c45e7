//! `<placeholder>` → `{{ var }}` in a shell body, never inside shell quotes
//! (SPEC §2.3: a value is shell-quoted as one word, which inside `"…"` or
//! `'…'` would become literal quote characters, and inside `"…"` a `$(…)`
//! in the value would still run).
//!
//! The quoting is rewritten around the template instead: `"<msg>"` →
//! `{{ msg }}`, `"deploy <x> now"` → `"deploy "{{ x }}" now"`, the same for
//! `'…'`. In an expanding heredoc the placeholder becomes `${var}`, set by
//! `var={{ var }}` on a line of its own before the command; in a quoted
//! heredoc (`<<'EOF'`), where nothing expands, it is left as is and said so.

use crate::check::placeholders::{self, Ctx, Placeholder};

/// An edit of the body: replace `range` by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: std::ops::Range<usize>,
    pub text: String,
}

/// The edits turning every placeholder of `body` into a template, the
/// variables in order of appearance (placeholder name, variable), and the
/// placeholders left as they are (quoted heredocs).
pub fn placeholders(body: &str) -> (Vec<Edit>, Vec<(String, String)>, Vec<Placeholder>) {
    let found = placeholders::find(body);
    let mut edits = Vec::new();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut left = Vec::new();
    let mut assigned: Vec<(usize, String)> = Vec::new();
    for p in found {
        let var = placeholders::var_name(&p.name);
        let tpl = format!("{{{{ {var} }}}}");
        match p.ctx {
            Ctx::Word => edits.push(Edit { range: p.range.clone(), text: tpl }),
            Ctx::Quoted(open, q) => {
                // Close the string before the template and reopen it after,
                // unless the template starts or ends it.
                if open + 1 == p.range.start {
                    edits.push(Edit { range: open..open + 1, text: String::new() });
                } else {
                    edits.push(Edit { range: p.range.start..p.range.start, text: q.to_string() });
                }
                edits.push(Edit { range: p.range.clone(), text: tpl });
                if body[p.range.end..].starts_with(q) {
                    edits.push(Edit { range: p.range.end..p.range.end + 1, text: String::new() });
                } else {
                    edits.push(Edit { range: p.range.end..p.range.end, text: q.to_string() });
                }
            }
            Ctx::Heredoc { command_line, expands: true } => {
                edits.push(Edit { range: p.range.clone(), text: format!("${{{var}}}") });
                if !assigned.contains(&(command_line, var.clone())) {
                    assigned.push((command_line, var.clone()));
                    let at = line_start(body, command_line);
                    let indent: String = body[at..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
                    edits.push(Edit { range: at..at, text: format!("{indent}{var}={tpl}\n") });
                }
            }
            // `find` leaves comments out.
            Ctx::Comment => continue,
            Ctx::Heredoc { expands: false, .. } => {
                left.push(p);
                continue;
            }
        }
        if !vars.iter().any(|(_, v)| *v == var) {
            vars.push((p.name, var));
        }
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    (edits, vars, left)
}

fn line_start(body: &str, line: usize) -> usize {
    if line == 0 {
        return 0;
    }
    body.match_indices('\n').nth(line - 1).map_or(body.len(), |(i, _)| i + 1)
}

/// Apply sorted, non-overlapping edits.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    for e in edits {
        out.push_str(&text[last..e.range.start]);
        out.push_str(&e.text);
        last = e.range.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(body: &str) -> String {
        let (edits, _, _) = placeholders(body);
        apply(body, &edits)
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(rewrite("kubectl logs <pod> -n <ns>\n"), "kubectl logs {{ pod }} -n {{ namespace }}\n");
        assert_eq!(rewrite("git commit -m \"<change-description>\"\n"), "git commit -m {{ change_description }}\n");
        assert_eq!(rewrite("echo \"deploy <x> now\"\n"), "echo \"deploy \"{{ x }}\" now\"\n");
        assert_eq!(rewrite("echo '<a>-<b>'\n"), "echo {{ a }}'-'{{ b }}\n");
        assert_eq!(rewrite("kubectl get pdb <service>-pdb\n"), "kubectl get pdb {{ service }}-pdb\n");
        assert_eq!(rewrite("echo \"$(kubectl get <pod>)\"\n"), "echo \"$(kubectl get {{ pod }})\"\n");
        assert_eq!(rewrite("# <pod> stays\necho ok # <pod> too\n"), "# <pod> stays\necho ok # <pod> too\n");
    }

    #[test]
    fn heredocs() {
        assert_eq!(
            rewrite("  cat <<EOF | kubectl apply -f -\n  name: <name>\nEOF\necho <name>\n"),
            "  name={{ name }}\n  cat <<EOF | kubectl apply -f -\n  name: ${name}\nEOF\necho {{ name }}\n"
        );
        let body = "cat <<'EOF'\n<keep>\nEOF\n";
        let (edits, vars, left) = placeholders(body);
        assert!(edits.is_empty() && vars.is_empty());
        assert_eq!(left[0].name, "keep");
    }

    #[test]
    fn synonyms_are_one_variable() {
        let (_, vars, _) = placeholders("kubectl get pods -n <ns>\nkubectl logs x -n <namespace>\n");
        assert_eq!(vars, [("ns".to_string(), "namespace".to_string())]);
    }
}
