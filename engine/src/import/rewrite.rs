//! `<placeholder>` → `{{ var }}` in a shell body, never inside shell quotes
//! (SPEC §2.3: a value is shell-quoted as one word, which inside `"…"` or
//! `'…'` would become literal quote characters, and inside `"…"` a `$(…)`
//! in the value would still run).
//!
//! A placeholder that is a whole quoted string loses the quotes: `"<msg>"`
//! → `{{ msg }}`. Inside a longer `'…'` string, the string is closed before
//! the template and reopened after: `'deploy <x> now'` → `'deploy '{{ x }}'
//! now'`. Inside a longer `"…"` string, that form (`"deploy "{{ x }}" now"`)
//! renders right but reads as a quoting mistake (shellcheck's SC2140, which
//! `check` runs), so the placeholder becomes a shell variable, `"deploy
//! ${x} now"`, set by `x={{ x }}` on a line of its own before the command;
//! so it does in an expanding heredoc. A variable the body already uses
//! (`for pod in …`) is not overwritten: the new one is `pod_value`. In a
//! quoted heredoc (`<<'EOF'`), where nothing expands, a placeholder is left
//! as is and said so.

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
    // (line, shell variable) assignments made, one per command and variable.
    let mut assigned: Vec<(usize, String)> = Vec::new();
    let mut assign = |edits: &mut Vec<Edit>, line: usize, var: &str| -> String {
        let name = shell_name(body, var);
        let line = command_start(body, line);
        if !assigned.contains(&(line, name.clone())) {
            assigned.push((line, name.clone()));
            let at = line_start(body, line);
            let indent: String = body[at..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
            edits.push(Edit { range: at..at, text: format!("{indent}{name}={{{{ {var} }}}}\n") });
        }
        format!("${{{name}}}")
    };
    for p in found {
        let var = placeholders::var_name(&p.name);
        let tpl = format!("{{{{ {var} }}}}");
        match p.ctx {
            Ctx::Word => edits.push(Edit { range: p.range.clone(), text: tpl }),
            Ctx::Quoted(open, '"') if !(open + 1 == p.range.start && body[p.range.end..].starts_with('"')) => {
                let line = body[..open].matches('\n').count();
                let text = assign(&mut edits, line, &var);
                edits.push(Edit { range: p.range.clone(), text });
            }
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
                let text = assign(&mut edits, command_line, &var);
                edits.push(Edit { range: p.range.clone(), text });
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

/// The first line of the command that `line` is part of: a line after one
/// ending in `\`, `|`, `&&` or `||` continues it, and an assignment put
/// between them would break the command.
fn command_start(body: &str, line: usize) -> usize {
    let lines: Vec<&str> = body.lines().collect();
    let mut at = line.min(lines.len());
    while at > 0 {
        let prev = lines[at - 1].trim_end();
        let continues = !prev.trim_start().starts_with('#')
            && (prev.ends_with('\\') || prev.ends_with('|') || prev.ends_with("&&"));
        if !continues {
            break;
        }
        at -= 1;
    }
    at
}

/// The shell variable standing for template variable `var`: `var` itself,
/// unless the body already uses a shell variable of that name (`$pod`,
/// `pod=…`, `for pod in`, `read pod`); then `var_value` (or `var_value_2`…).
fn shell_name(body: &str, var: &str) -> String {
    let mut name = var.to_string();
    let mut n = 1;
    while uses_shell_var(body, &name) {
        name = if n == 1 { format!("{var}_value") } else { format!("{var}_value_{n}") };
        n += 1;
    }
    name
}

fn uses_shell_var(body: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let word_at =
        |i: usize| !body[..i].chars().next_back().is_some_and(ident) && !body[i + name.len()..].starts_with(ident);
    let expanded = ["$", "${"].iter().any(|sigil| {
        body.match_indices(&format!("{sigil}{name}")).any(|(i, m)| !body[i + m.len()..].starts_with(ident))
    });
    let assigned = body.match_indices(name).any(|(i, _)| word_at(i) && body[i + name.len()..].starts_with('='));
    // `for NAME in`, `read -r NAME …`, `local NAME`: the words of the
    // command after its keyword (to the end of the command).
    let declared = body.lines().any(|l| {
        let words: Vec<&str> = l.split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty()).collect();
        words.iter().enumerate().any(|(k, w)| match *w {
            "for" | "select" => words.get(k + 1) == Some(&name),
            "read" | "local" | "export" | "declare" | "typeset" | "readonly" | "mapfile" => {
                words[k + 1..].iter().take_while(|w| !w.contains(['|', '&', ')'])).any(|w| *w == name)
            }
            _ => false,
        })
    });
    expanded || assigned || declared
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
        assert_eq!(rewrite("echo \"deploy <x> now\"\n"), "x={{ x }}\necho \"deploy ${x} now\"\n");
        assert_eq!(rewrite("echo 'deploy <x> now'\n"), "echo 'deploy '{{ x }}' now'\n");
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
    fn a_shell_variable_goes_before_the_whole_command_and_overwrites_none() {
        assert_eq!(
            rewrite("kubectl annotate deploy web \\\n  msg=\"deploy <service> at <ticket>\"\n"),
            "service={{ service }}\nticket={{ ticket }}\nkubectl annotate deploy web \\\n  msg=\"deploy ${service} at ${ticket}\"\n"
        );
        assert_eq!(
            rewrite("for pod in a b; do\n  echo \"restarting <pod> after $pod\"\ndone\n"),
            "for pod in a b; do\n  pod_value={{ pod }}\n  echo \"restarting ${pod_value} after $pod\"\ndone\n"
        );
        assert_eq!(
            rewrite("read -r a b\necho \"<a> <b>.\"\n"),
            "read -r a b\na_value={{ a }}\nb_value={{ b }}\necho \"${a_value} ${b_value}.\"\n"
        );
        assert_eq!(
            rewrite("for x in a b; do echo \"<a>, $x\"; done\n"),
            "a={{ a }}\nfor x in a b; do echo \"${a}, $x\"; done\n"
        );
        assert_eq!(
            rewrite("kubectl get pods |\n  grep \"<pod> \" | wc -l\n"),
            "pod={{ pod }}\nkubectl get pods |\n  grep \"${pod} \" | wc -l\n"
        );
        // Two uses in one command, one assignment; a new command, a new one.
        assert_eq!(
            rewrite("echo \"<x>/<x>\"\necho \"at <x>\"\n"),
            "x={{ x }}\necho \"${x}/${x}\"\nx={{ x }}\necho \"at ${x}\"\n"
        );
    }

    #[test]
    fn synonyms_are_one_variable() {
        let (_, vars, _) = placeholders("kubectl get pods -n <ns>\nkubectl logs x -n <namespace>\n");
        assert_eq!(vars, [("ns".to_string(), "namespace".to_string())]);
    }
}
