//! Which `{{ … }}` of a page are Go templates (`kubectl -o go-template`,
//! `docker inspect -f`, Helm), for `import` to keep literal, and which are
//! the page's own variables (`{{ namespace }}`), for it to declare.

use std::ops::Range;

/// Go template keywords and functions that only Go writes first in an action.
const GO: [&str; 12] =
    ["range", "with", "if", "else", "end", "printf", "index", "len", "json", "template", "define", "block"];

/// Words that are Go in a block with Go templates, and could be a page's
/// own variable (or Jinja) elsewhere.
const GO_IN_CONTEXT: [&str; 22] = [
    "nil",
    "true",
    "false",
    "not",
    "and",
    "or",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "print",
    "println",
    "html",
    "js",
    "urlquery",
    "call",
    "slice",
    "break",
    "continue",
    "base64decode",
];

/// Every `{{ … }}` of `body`: its range (braces included) and whether it is
/// a Go template action. In a block where one action is plainly Go, the
/// others that are no plain variable (`{{"\n"}}`, `{{ true }}`) are Go too.
pub fn actions(body: &str) -> Vec<(Range<usize>, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(k) = body[at..].find("{{") {
        let start = at + k;
        let Some(e) = body[start + 2..].find("}}") else { break };
        let end = start + 2 + e + 2;
        out.push((start..end, plainly_go(&body[start + 2..end - 2])));
        at = end;
    }
    if out.iter().any(|(_, go)| *go) {
        for (r, go) in &mut out {
            *go = *go || !variable(&body[r.start + 2..r.end - 2]);
        }
    }
    out
}

/// An action only Go writes: a field or variable (`.State.Status`, `$x`), a
/// keyword or Go function first (`range .items`, `printf "%s" .x`), a
/// literal (`"\n"`, `` `x` ``, `'c'`, `3`), a comment (`/* … */`), or a
/// function given Go arguments (`toYaml .spec`, `base64decode .data.x`).
fn plainly_go(inner: &str) -> bool {
    let t = trimmed(inner);
    let Some(first) = t.chars().next() else { return false };
    if matches!(first, '.' | '$' | '"' | '`' | '\'') || first.is_ascii_digit() || t.starts_with("/*") {
        return true;
    }
    if GO.iter().any(|k| t.strip_prefix(k).is_some_and(|r| r.is_empty() || r.starts_with([' ', '.', '(']))) {
        return true;
    }
    let word_end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(t.len());
    word_end > 0 && t[word_end..].starts_with(' ') && t[word_end..].trim_start().starts_with(['.', '$', '"', '`'])
}

/// A page's own variable: a name, perhaps a path and filters
/// (`namespace`, `steps.pods.stdout | trim`), not a Go word.
fn variable(inner: &str) -> bool {
    let t = trimmed(inner);
    let name_end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(t.len());
    let name = &t[..name_end];
    let rest = t[name_end..].trim_start();
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !GO_IN_CONTEXT.contains(&name)
        && (rest.is_empty() || rest.starts_with('|'))
}

/// The inside of an action without Go's trim markers (`{{- x -}}`).
fn trimmed(inner: &str) -> &str {
    inner.trim().trim_start_matches('-').trim_end_matches('-').trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(body: &str) -> Vec<bool> {
        actions(body).into_iter().map(|(_, g)| g).collect()
    }

    #[test]
    fn every_action_of_a_go_template_is_go() {
        let body = r#"kubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}'"#;
        assert_eq!(go(body), [true, true, true, true]);
        assert_eq!(go(r#"-f '{{ printf "%s" .x }}{{- "\n" -}}{{ toYaml .spec }}{{ 3 }}{{/* c */}}'"#), [true; 5]);
        assert_eq!(go("-f '{{if .a}}{{ true }}{{ else }}{{ nil }}{{ end }}'"), [true; 5]);
    }

    #[test]
    fn the_pages_own_variables_are_not() {
        assert_eq!(go("kubectl get pods -n {{ namespace }} -o '{{.status.phase}}'"), [false, true]);
        assert_eq!(go("echo {{ steps.pods.stdout | trim }} {{ true }}"), [false, false]);
        assert_eq!(go("echo {{ \"\\n\" }}"), [true]);
    }
}
