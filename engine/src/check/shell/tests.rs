//! The tokenizer on the shapes of runbook blocks, and on anything.

use super::*;

fn words(body: &str) -> Vec<String> {
    commands(body).into_iter().map(|c| format!("{}:{}", c.line, c.words.join(" "))).collect()
}

#[test]
fn splits_at_operators_and_lines() {
    assert_eq!(
        words("kubectl get pods -n x | grep -c Running && echo ok; date\nhelm status r &\n"),
        ["0:kubectl get pods -n x", "0:grep -c Running", "0:echo ok", "0:date", "1:helm status r"]
    );
}

#[test]
fn quotes_comments_and_continuations() {
    assert_eq!(
        words("# kubectl delete pod x\necho 'a | b' \"c; $x\" d\\ e # rm -rf /\nkubectl logs \\\n  -f pod\n"),
        ["1:echo a | b c; $x d e", "2:kubectl logs -f pod"]
    );
}

#[test]
fn substitutions_are_commands() {
    assert_eq!(
        words("ready=$(kubectl get deploy x -o jsonpath='{.a}')\necho \"${ready:-0}\" `date`\ndiff <(a) <(b)\n"),
        ["0:kubectl get deploy x -o jsonpath={.a}", "1:date", "1:echo ${ready:-0} $(…)", "2:a", "2:b", "2:diff"]
    );
}

#[test]
fn redirections_and_heredocs() {
    assert_eq!(
        words("cat <<'EOF' > /tmp/x 2>&1\nkubectl delete pod x\nEOF\nredis-cli FLUSHALL <<< x\n"),
        ["0:cat", "3:redis-cli FLUSHALL"]
    );
    assert_eq!(words("cat <<-END\n\tnot a command\n\tEND\necho done\n"), ["0:cat", "3:echo done"]);
}

#[test]
fn redirections_keep_the_files_they_write() {
    let writes = |body: &str| -> Vec<(String, Vec<String>)> {
        commands(body).into_iter().map(|c| (c.words.join(" "), c.writes)).collect()
    };
    let one = |w: &str, f: &[&str]| (w.to_string(), f.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(writes("kubectl get pods > pods.txt 2>&1\n"), [one("kubectl get pods", &["pods.txt"])]);
    assert_eq!(
        writes("echo x >> \"$log\" 2> /tmp/e <> f >&2 >&- < in 3<&0 >| g\n"),
        [one("echo x", &["$log", "/tmp/e", "f", "g"])]
    );
    assert_eq!(writes("> /var/log/big.log\n"), [one("", &["/var/log/big.log"])]);
    assert_eq!(
        writes("cat <<EOF > /etc/x\nhi\nEOF\ndiff <(a) >(b)\n"),
        [one("cat", &["/etc/x"]), one("a", &[]), one("b", &[]), one("diff", &[])]
    );
    assert_eq!(writes("[[ $a > $b ]] && echo \"a > b\"\n"), [one("[[ $a $b ]]", &[]), one("echo a > b", &[])]);
}

#[test]
fn compound_commands() {
    assert_eq!(
        words("if kubectl get ns x; then\n  kubectl delete ns x\nfi\nfor p in a b; do echo $p; done\n"),
        ["0:kubectl get ns x", "1:kubectl delete ns x", "3:echo $p"]
    );
    assert_eq!(
        words("case $1 in\n  start) systemctl start x ;;\n  stop|halt) systemctl stop x ;;\nesac\necho after\n"),
        ["1:systemctl start x", "2:systemctl stop x", "4:echo after"]
    );
    assert_eq!(
        words("[[ -n $a && $b < 3 ]] || exit 1\nf() { echo hi; }\n"),
        ["0:[[ -n $a $b 3 ]]", "0:exit 1", "1:echo hi"]
    );
    assert_eq!(
        words("X=1 Y=2 kubectl get pods\nA=(1 2)\n(( n > 2 )) && kubectl scale x\n"),
        ["0:kubectl get pods", "2:(( n 2 ))", "2:kubectl scale x"]
    );
}

#[test]
fn never_panics() {
    let pieces =
        ["$(", "`", "'", "\"", "\\", "<<", "EOF", "\n", "case", "in", ")", "((", "[[", "${", "$'", "|", "x", " "];
    let mut next = crate::parse::picker(0x1234_5678_9abc_def1);
    for _ in 0..3000 {
        let s: String = (0..next(20)).map(|_| pieces[next(pieces.len())]).collect();
        commands(&s);
    }
    commands(&"$(".repeat(10_000));
}
