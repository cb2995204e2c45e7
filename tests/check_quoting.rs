//! `check` reads bash quoting as bash does: a here-string (`<<<`) or a
//! shift (`$(( 1 << 2 ))`) opens no heredoc, and a quoted `<none>` in a
//! pattern is the text kubectl prints, not a placeholder.

use crate::common::*;

const NO_FIXTURE: &str = "runbooks/h.md:1: warning[no-fixture]: runbook `h` has no fixture: it is never rehearsed
  hint: start one with `runbook fixture new h`, or add fixtures/h.toml with a [[scenario]] (SPEC §5)
";

#[test]
fn here_strings_and_shifts_are_not_heredocs() {
    for line in ["grep -c foo <<< \"$HOME\"", "echo $(( 1 << 2 ))", "echo \"x $(cat <<< {{ ns }})\""] {
        let md = format!(
            "---\nvars: {{ns: x}}\n---\n# H\n\n```bash {{#a read}}\n{line}\nkubectl get pods -n {{{{ ns }}}}\n```\n"
        );
        Test::new()
            .runbook("h", &md)
            .args(["check"])
            .stdout(&format!("{NO_FIXTURE}\nok: 1 runbook, 0 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n"))
            .run();
    }
    // A heredoc after a here-string on the same line is still one.
    let md = "---\nvars: {ns: x}\n---\n# H\n\n```bash {#a read}\ncat <<< x; cat <<EOF\n{{ ns }}\nEOF\n```\n";
    Test::new()
        .runbook("h", md)
        .args(["check"])
        .status(1)
        .stdout_has("runbooks/h.md:8: error[template-in-quotes]: `{{ }}` inside a heredoc in step `a`")
        .stdout_has("hint: set a shell variable before the heredoc (`ns={{ ns }}`) and write `$ns` in it")
        .run();
}

#[test]
fn a_quoted_none_in_a_pattern_is_text() {
    let md = "---\nvars: {ns: x}\n---\n# H\n\n```bash {#a read}\n\
              kubectl get pods -n {{ ns }} -o wide | grep -v '<none>'\n\
              kubectl get pods -n {{ ns }} | awk '$4 != \"<none>\"' | grep -v \"<none>\"\n```\n";
    Test::new()
        .runbook("h", md)
        .args(["check"])
        .stdout(&format!("{NO_FIXTURE}\nok: 1 runbook, 0 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n"))
        .run();
}

#[test]
fn an_unquoted_placeholder_is_a_redirection_a_quoted_one_literal_text() {
    let md = "# H\n\n```bash {#a}\nkubectl get pods | grep -v <none>\ngit commit -m \"<msg>\"\n```\n";
    Test::new()
        .runbook("h", md)
        .args(["check"])
        .status(1)
        .stdout(&format!(
            "{NO_FIXTURE}\
             runbooks/h.md:4: error[placeholder]: `<none>` placeholder in step `a`: bash reads it as a redirection\n  \
             hint: use a variable: `{{{{ none }}}}`, defined in front matter `vars` or captured\n\
             runbooks/h.md:5: error[placeholder]: `<msg>` placeholder in step `a`: the command gets the literal text `<msg>`\n  \
             hint: use a variable: `{{{{ msg }}}}`, defined in front matter `vars` or captured\n\n\
             FAILED: 1 runbook, 2 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n"
        ))
        .run();
}

#[test]
fn import_keeps_a_quoted_none_in_a_pattern() {
    let f = Test::new()
        .file(
            "page.md",
            "# Page\n\n```bash\nkubectl get pods -n <ns> | grep -v \"<none>\" | awk '$4 != \"<none>\"'\n```\n",
        )
        .args(["import", "page.md", "-o", "runbooks/page.md"])
        .run();
    assert_eq!(
        std::fs::read_to_string(f.path().join("runbooks/page.md")).unwrap(),
        "---\nid: page\ntitle: Page\nvars:\n  namespace: ~\n---\n# Page\n\n```bash {#page read}\n\
         kubectl get pods -n {{ namespace }} | grep -v \"<none>\" | awk '$4 != \"<none>\"'\n```\n"
    );
}
