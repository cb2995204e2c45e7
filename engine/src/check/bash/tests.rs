//! The shell checks agree with one shell per block, and never run a block.

use super::syntax::*;
use super::*;

#[test]
fn neutralize_keeps_lines() {
    assert_eq!(neutralize("a {{ x }} b\n{% if y %}\nc\n{% endif %}\n"), "a RB_VALUE b\n\nc\n\n");
    assert_eq!(neutralize("{{\n x\n}}\nz"), "RB_VALUE\n\n\nz");
    assert_eq!(neutralize("echo {{ x"), "echo {{ x");
    assert_eq!(neutralize("echo ${#a[@]} {## note\n##}x"), "echo ${#a[@]} \nx");
    assert_eq!(neutralize("{{% x }} {# y {##z##}"), "RB_VALUE {# y ");
    assert_eq!(neutralize("a {% if %} {{ x"), "a  {{ x");
}

#[test]
fn neutralize_is_one_pass() {
    // Linear in the line: a million tags take what a copy of the line
    // takes (a search for each kind of tag from every tag on would not).
    let line = "{{ x }} ".repeat(1_000_000);
    assert_eq!(neutralize(&line).matches(VALUE_WORD).count(), 1_000_000);
}

#[test]
fn bash_syntax_lines() {
    assert_eq!(syntax("bash", "echo a\necho (\n").map(|x| x.0), Some(2));
    assert_eq!(syntax("bash", "echo a\nif true; then\n  echo b\n").map(|x| x.0), Some(3));
    assert!(syntax("bash", "echo ok | grep o\n").is_none());
    assert_eq!(syntax("sh", "echo a\necho (\n").map(|x| x.0), Some(2));
}

/// Scripts that are fine alone, broken alone, or fine together but not
/// alone (a quote or a pipe left open): the batch must say of each
/// exactly what the shell says of it alone.
const PIECES: [&str; 22] = [
    "echo ok\n",
    "kubectl get pods -n x | grep -c Running || true\n",
    "echo \"unterminated\n",
    "x\"\n",
    "if true; then\n  echo b\n",
    "fi\n",
    "echo (\n",
    "for x in; do\n",
    "done\n",
    "kubectl logs x |\n",
    "cat <<EOF\nbody\nEOF\n",
    "cat <<EOF\nno end\n",
    "echo 'single\n",
    "a=$(echo x\n",
    ")\n",
    "case $x in a) echo ;; esac\n",
    "{\n",
    "}\n",
    "echo a \\\n",
    "[[ -n $a ]] && echo\n",
    "f() { echo; }\n",
    ": RB_SENTINEL_0  ;\n",
];

#[test]
fn batches_agree_with_one_shell_per_script() {
    let dir = tempfile::tempdir().unwrap();
    let mut next = crate::parse::picker(0x51ab_c0de_0bad_f00d);
    // Scripts broken alone that parse together, then random ones.
    let pairs: [&[&str]; 6] = [
        &["echo ok\n", "if true; then\n", "fi\n", "echo ok\n"],
        &["{\n", "}\n"],
        &["echo \"a\n", "b\"\n"],
        &["echo a |\n", "cat\n"],
        &["cat <<EOF\n", "x\nEOF\n"],
        &["a=$(echo x\n", ")\n"],
    ];
    for dialect in ["bash", "sh"] {
        for round in 0..60 {
            let scripts: Vec<String> = match pairs.get(round) {
                Some(p) => p.iter().map(|s| s.to_string()).collect(),
                None => (0..1 + next(8))
                    .map(|_| (0..1 + next(3)).map(|_| PIECES[next(PIECES.len())]).collect::<String>())
                    .collect(),
            };
            let refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
            let batch = syntax_batch(dialect, &refs, dir.path());
            for (s, got) in refs.iter().zip(batch) {
                let alone = syntax(dialect, s);
                assert_eq!(got.map(|g| g.0), alone.map(|a| a.0), "{dialect} round {round}: {s:?} among {refs:#?}");
            }
        }
    }
}

#[test]
fn nothing_in_a_checked_block_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let body = format!("touch {m}\n}}\ntouch {m}\n$(touch {m})\necho \"\n", m = marker.display());
    for dialect in ["bash", "sh"] {
        let refs = [body.as_str(), "echo \"\nx\"\ntouch ran\n"];
        syntax_batch(dialect, &refs, dir.path());
        assert!(!marker.exists() && !dir.path().join("ran").exists(), "{dialect} ran a block");
    }
}

#[test]
fn a_bare_list_variable_is_several_words() {
    let lists: std::collections::BTreeSet<String> = ["hosts".to_string()].into();
    assert_eq!(
        neutralize_lists(
            "for h in {{ hosts }} {{hosts}}; do :; done; {{ hosts | join(',') }} {{ x }}",
            VALUE_WORD,
            &lists
        ),
        "for h in RB_VALUE RB_VALUE RB_VALUE RB_VALUE; do :; done; RB_VALUE RB_VALUE"
    );
}
