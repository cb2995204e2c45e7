//! The lints of any markdown page, runbook or plain (SPEC §5): placeholders
//! left from a plain runbook, incident hazards, front-matter keys that look
//! misspelt. The shell checks (syntax, shellcheck) are in `bash.rs`.
//!
//! Severity: in a step, a placeholder and the hazards that break a play
//! (never-ending, needs-terminal, write-in-read) are errors and a prompting
//! `sudo` is a warning; in the blocks of a plain page, which a human copies
//! and which `runbook import` would make steps, all are warnings (its shell
//! syntax and shellcheck errors stay errors: `bash.rs`). The
//! unannotated blocks of a runbook are documentation by its author's choice
//! (a `kubectl logs -f` to run in a second terminal): hazards are not
//! reported there, placeholders are (they are wrong even when copied).

use super::hazards::{self, Hazard};
use super::lints::{self, Block};
use super::placeholders;
use crate::error::{Diagnostic, Severity};
use crate::model::{Attrs, Runbook};
use crate::parse::frontmatter;

/// `kubectl logs <pod> -n <ns>`: a placeholder for a human, a redirection
/// (or a syntax error) for bash.
pub fn placeholders(rb: &Runbook) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for b in lints::blocks(rb) {
        if b.dialect().is_none() {
            continue;
        }
        let body = super::bash::neutralize(b.body);
        let mut seen_lines = std::collections::BTreeSet::new();
        for p in placeholders::find(&body) {
            if !seen_lines.insert((p.line, p.name.clone())) {
                continue;
            }
            let var = placeholders::var_name(&p.name);
            let how = match p.ctx {
                placeholders::Ctx::Word => "bash reads it as a redirection".to_string(),
                _ => format!("the command gets the literal text `<{}>`", p.name),
            };
            let msg = format!("`<{}>` placeholder in {}: {how}", p.name, b.what());
            let d = if b.step.is_some() {
                Diagnostic::error("placeholder", msg)
                    .hint(format!("use a variable: `{{{{ {var} }}}}`, defined in front matter `vars` or captured"))
            } else {
                Diagnostic::warning("placeholder", msg).hint(format!(
                    "make it a step with `{{{{ {var} }}}}` (`runbook import` does), or mark the block as text (```text)"
                ))
            };
            out.push(d.at(&rb.path, b.body_line + p.line));
        }
    }
    out
}

/// Incident hazards of every step, and of every block of a plain page.
pub fn hazards(rb: &Runbook, plain: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for b in lints::blocks(rb) {
        if b.dialect().is_none() {
            continue;
        }
        let attrs = b.step.and_then(|id| rb.step(id)).map(|s| &s.attrs);
        if attrs.is_none() && !plain {
            continue;
        }
        out.extend(block_hazards(&rb.path, &b, attrs));
    }
    out
}

fn block_hazards(file: &std::path::Path, b: &Block, attrs: Option<&Attrs>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for call in hazards::calls(&super::bash::prepare(b.body)) {
        // `$ kubectl get pods`, copied from a terminal: the step would run `$`.
        if attrs.is_some() && call.program == "$" {
            let msg = format!(
                "{} runs `{}`: the `$ ` is the prompt of the terminal it was copied from, and would run as a command named `$`",
                b.what(),
                source_line(b.body, call.line)
            );
            out.push(
                Diagnostic::error("shell-prompt", msg)
                    .at(file, b.body_line + call.line)
                    .hint("remove the `$ ` before the command; what the command printed goes in a block of its own"),
            );
            continue;
        }
        for rule in hazards::hazards(&call) {
            let fires = match (rule.hazard, attrs) {
                (Hazard::NeverEnding, Some(a)) => a.timeout.is_none(),
                (Hazard::NeedsTerminal | Hazard::Sudo, Some(a)) => !a.interactive,
                (Hazard::ChangesSystem, Some(a)) => a.read,
                (Hazard::ChangesSystem, None) => false,
                (_, None) => true,
            };
            if !fires {
                continue;
            }
            let cmd = source_line(b.body, call.line);
            let what = b.what();
            let (msg, hint) = match (rule.hazard, attrs.is_some()) {
                (Hazard::NeverEnding, true) => (
                    format!("{what} runs `{cmd}`, which never ends ({}), and has no `timeout`", rule.pattern),
                    rule.hint,
                ),
                (Hazard::NeverEnding, false) => (
                    format!("{what} runs `{cmd}`, which never ends ({}): as a step it needs `timeout=`", rule.pattern),
                    rule.hint,
                ),
                (Hazard::NeedsTerminal, true) => (
                    format!("{what} runs `{cmd}`, which needs a terminal ({}), but is not `interactive`", rule.pattern),
                    rule.hint,
                ),
                (Hazard::NeedsTerminal, false) => (
                    format!(
                        "{what} runs `{cmd}`, which needs a terminal ({}): as a step it needs `interactive`",
                        rule.pattern
                    ),
                    rule.hint,
                ),
                (Hazard::ChangesSystem, _) => (
                    format!("{what} is marked `read` but runs `{cmd}`, which changes the system ({})", rule.pattern),
                    rule.hint,
                ),
                (Hazard::Sudo, true) => (
                    format!("{what} runs `{cmd}` under `sudo`, which may ask for a password, but is not `interactive`"),
                    rule.hint,
                ),
                (Hazard::Sudo, false) => (
                    format!(
                        "{what} runs `{cmd}` under `sudo`, which may ask for a password: as a step it needs `interactive`"
                    ),
                    rule.hint,
                ),
            };
            let line = b.body_line + call.line;
            let error = attrs.is_some() && rule.hazard != Hazard::Sudo;
            let d = if error {
                Diagnostic::error(rule.hazard.code(), msg)
            } else {
                Diagnostic::warning(rule.hazard.code(), msg)
            };
            let d = d.at(file, line).hint(hint);
            if !out.iter().any(|o| o.line == d.line && o.code == d.code) {
                out.push(d);
            }
        }
    }
    out
}

/// A body line as written, for a message: trimmed, cut at 60 characters.
fn source_line(body: &str, line: usize) -> String {
    let l = body.lines().nth(line).unwrap_or("").trim();
    match l.char_indices().nth(60) {
        Some((i, _)) => format!("{} …", l[..i].trim_end()),
        None => l.trim_end_matches(['\\', ' ']).to_string(),
    }
}

/// Front-matter keys that look like a misspelt runbook key (`var:`): kept
/// as metadata, so the runbook silently lacks what they meant.
pub fn front_matter_keys(rb: &Runbook, text: &str) -> Vec<Diagnostic> {
    frontmatter::key_warnings(rb, text)
}

/// Every lint a plain page gets besides the shell checks.
pub fn lint_plain(rb: &Runbook, text: &str) -> Vec<Diagnostic> {
    let mut out = placeholders(rb);
    out.extend(hazards(rb, true));
    out.extend(lints::unclosed_docs(rb));
    out.extend(front_matter_keys(rb, text));
    out.extend(super::security::lint(&rb.path, &lints::blocks(rb)));
    // Documentation is never run: nothing in it is an error but syntax.
    for d in &mut out {
        if d.code != "unclosed-fence" && d.code != "credential" {
            d.severity = Severity::Warning;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Page, parse_page};

    fn codes(md: &str) -> Vec<(usize, &'static str, Severity)> {
        let page = parse_page(std::path::Path::new("t.md"), md, String::new()).unwrap();
        let mut d = match &page {
            Page::Runbook(rb) => {
                let mut d = placeholders(rb);
                d.extend(hazards(rb, false));
                d
            }
            Page::Plain(rb) => lint_plain(rb, md),
        };
        d.sort_by_key(|d| (d.line, d.code));
        d.into_iter().map(|d| (d.line.unwrap_or(0), d.code, d.severity)).collect()
    }

    /// Each rule fires on its command and not on its safe twin, in a step.
    #[test]
    fn each_hazard_fires_and_its_safe_twin_does_not() {
        use Severity::*;
        type Case<'a> = (&'a str, &'a str, Option<(&'a str, Severity)>);
        let cases: &[Case] = &[
            ("kubectl logs -f deploy/x", "read", Some(("never-ending", Error))),
            ("kubectl logs --tail=100 deploy/x", "read", None),
            ("kubectl logs -f deploy/x", "read timeout=5m", None),
            ("timeout 60 kubectl logs -f deploy/x", "read", None),
            ("kubectl get pods -w", "read", Some(("never-ending", Error))),
            ("kubectl get pods -o wide", "read", None),
            ("watch kubectl get pods", "read", Some(("never-ending", Error))),
            ("tail -f /var/log/syslog", "read", Some(("never-ending", Error))),
            ("tail -n 100 /var/log/syslog", "read", None),
            ("kubectl port-forward svc/x 8545:8545", "read", Some(("never-ending", Error))),
            ("kubectl exec -it pod -- sh", "", Some(("needs-terminal", Error))),
            ("kubectl exec pod -- cat /etc/hosts", "", None),
            ("kubectl exec -it pod -- sh", "interactive", None),
            ("kubectl edit cm x", "", Some(("needs-terminal", Error))),
            ("kubectl patch cm x -p '{}'", "", None),
            ("kubectl delete pod x", "read", Some(("write-in-read", Error))),
            ("kubectl get pod x", "read", None),
            ("kubectl delete pod x", "confirm", None),
            ("kubectl scale deploy/x --replicas=3", "read", Some(("write-in-read", Error))),
            ("redis-cli -n 0 FLUSHALL", "read", Some(("write-in-read", Error))),
            ("redis-cli -n 0 info", "read", None),
            ("kubectl apply -f x.yaml --dry-run=client", "read", None),
            ("echo \"kubectl delete pod x\"", "read", None),
            ("sudo systemctl status x", "read", Some(("sudo-prompt", Warning))),
            ("sudo -n systemctl status x", "read", None),
            ("curl -X POST http://x/api", "read", Some(("write-in-read", Error))),
            ("curl -fsS http://x/api", "read", None),
        ];
        for (cmd, attrs, want) in cases {
            let md = format!("# T\n\n```bash {{#s {attrs}}}\n{cmd}\n```\n");
            let got: Vec<_> = codes(&md).into_iter().map(|(_, c, s)| (c, s)).collect();
            let want: Vec<_> = want.iter().map(|(c, s)| (*c, *s)).collect();
            assert_eq!(got, want, "{cmd} with {{{attrs}}}");
        }
    }

    #[test]
    fn plain_pages_get_warnings_runbook_docs_none() {
        let plain = "# T\n\n- follow:\n  ```bash\n  kubectl logs -f <pod> -n <ns>\n  ```\n";
        assert_eq!(
            codes(plain),
            [
                (5, "never-ending", Severity::Warning),
                (5, "placeholder", Severity::Warning),
                (5, "placeholder", Severity::Warning)
            ]
        );
        let runbook = "# T\n\n```bash\nkubectl logs -f x\n```\n\n```bash {#a read}\necho\n```\n";
        assert!(codes(runbook).is_empty());
    }

    #[test]
    fn near_miss_keys_are_warnings_at_their_line() {
        let md = "---\ntags: [a]\nvar:\n  x: 1\n---\n# T\n\n```bash {#a read}\necho\n```\n";
        assert_eq!(codes(md), []);
        let Page::Runbook(rb) = parse_page(std::path::Path::new("t.md"), md, String::new()).unwrap() else { panic!() };
        let d = front_matter_keys(&rb, md);
        assert_eq!(
            (d.len(), d[0].line, d[0].hint.as_deref().unwrap_or("").starts_with("did you mean `vars`?")),
            (1, Some(3), true)
        );
    }
}
