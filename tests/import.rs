//! `runbook import`: a plain page becomes an executable runbook that passes
//! `check` (but for its missing fixture), prose byte for byte, idempotent;
//! and how often its read/write decisions agree with the hand-made Animica
//! corpus (docs/import.md).

use std::path::{Path, PathBuf};

use runbook::check::hazards::{self, Call};
use runbook::parse::{self, Page};

use crate::common::*;

/// A wiki page as teams write them: wiki front matter, list items, a quote,
/// a tilde fence, placeholders bare, quoted and with a suffix, CRLF.
const PAGE: &str = "---\r\ntitle: Redis failover\r\ntags: [redis, database]\r\nowner: team-sre\r\n---\r\n# Redis failover\r\n\r\nWhen the primary is gone:\r\n\r\n1. Look at the pods:\r\n   ```bash\r\n   kubectl get pods -n <ns> -o wide\r\n   ```\r\n2. Follow its log:\r\n   ```bash\r\n   kubectl logs -f <pod> -n <namespace>\r\n   ```\r\n\r\n> Only when the replica is healthy:\r\n>\r\n> ~~~shell\r\n> kubectl delete pdb <service>-pdb -n <ns>\r\n> git commit -m \"<change-description>\"\r\n> ~~~\r\n\r\n```bash\r\nkubectl exec -it <pod> -n <ns> -- redis-cli INFO replication\r\n```\r\n";

const EXPECTED: &str = "---\r\ntitle: Redis failover\r\ntags: [redis, database]\r\nowner: team-sre\r\nvars:\r\n  namespace: ~\r\n  pod: ~\r\n  service: ~\r\n  change_description: ~\r\n---\r\n# Redis failover\r\n\r\nWhen the primary is gone:\r\n\r\n1. Look at the pods:\r\n   ```bash {#look-at-the-pods read}\r\n   kubectl get pods -n {{ namespace }} -o wide\r\n   ```\r\n2. Follow its log:\r\n   ```bash {#follow-its-log read timeout=5m on-fail=continue}\r\n   kubectl logs -f {{ pod }} -n {{ namespace }}\r\n   ```\r\n\r\n> Only when the replica is healthy:\r\n>\r\n> ~~~bash {#kubectl-delete-pdb confirm}\r\n> kubectl delete pdb {{ service }}-pdb -n {{ namespace }}\r\n> git commit -m {{ change_description }}\r\n> ~~~\r\n\r\n```bash {#kubectl-exec confirm interactive}\r\nkubectl exec -it {{ pod }} -n {{ namespace }} -- redis-cli INFO replication\r\n```\r\n";

#[test]
fn a_wiki_page_becomes_a_runbook_byte_for_byte() {
    let f = Test::new()
        .bytes("wiki/redis-failover.md", PAGE.as_bytes())
        .args(["import", "wiki/redis-failover.md"])
        .stderr_has("import: wiki/redis-failover.md -> stdout")
        .stderr_has("#follow-its-log {read timeout=5m on-fail=continue}: diagnosis only; kubectl logs -f never ends")
        .stderr_has("#kubectl-delete-pdb {confirm}: `kubectl` changes the system")
        .stderr_has("namespace (from <ns>, <namespace>)")
        .run();
    assert_eq!(f.stdout, EXPECTED);
    // It runs through check with nothing but its missing fixture to say.
    let f =
        Test::new().bytes("runbooks/redis-failover.md", f.stdout.as_bytes()).args(["check", "--format", "json"]).run();
    let j = f.json();
    let codes: Vec<&str> =
        j["runbooks"][0]["findings"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["no-fixture"], "{}", f.stdout);
    assert_eq!(j["summary"]["runbooks"], 1);
}

#[test]
fn importing_a_runbook_again_changes_nothing() {
    let once = Test::new().bytes("p.md", PAGE.as_bytes()).args(["import", "p.md"]).run().stdout;
    let twice = Test::new()
        .bytes("p.md", once.as_bytes())
        .args(["import", "p.md"])
        .stderr_has("nothing to import")
        .run()
        .stdout;
    assert_eq!(twice, once);
}

#[test]
fn output_file_and_in_place() {
    let f = Test::new()
        .file("p.md", "# P\n\n```bash\nkubectl get pods\n```\n")
        .args(["import", "p.md", "-o", "runbooks/p.md"])
        .run();
    assert_eq!(f.stdout, "");
    let dir = f.path().to_path_buf();
    let written = std::fs::read_to_string(dir.join("runbooks/p.md")).unwrap();
    assert!(written.starts_with("---\nid: p\ntitle: P\n---\n# P\n"), "{written}");
    assert!(written.contains("```bash {#p read}"), "{written}");
    // Another existing file is never overwritten; the input itself may be.
    Test::new()
        .file("p.md", "# P\n\n```bash\nls\n```\n")
        .file("q.md", "keep me\n")
        .args(["import", "p.md", "-o", "q.md"])
        .status(2)
        .stderr_has("q.md exists")
        .run();
    let f = Test::new().file("p.md", "# P\n\n```bash\nls\n```\n").args(["import", "p.md", "-o", "p.md"]).run();
    assert!(std::fs::read_to_string(f.path().join("p.md")).unwrap().contains("{#p read}"));
}

#[test]
fn bad_input_is_exit_2_with_its_line() {
    Test::new()
        .file("p.md", "# P\n\n1. x\n   ```bash\n   ls\n\ntext\n")
        .args(["import", "p.md"])
        .status(2)
        .stderr_has("p.md:4: error: code block is not closed")
        .run();
    Test::new().args(["import", "nope.md"]).status(2).stderr_has("cannot read nope.md").run();
    Test::new().bytes("p.md", b"# P\n\xff\n").args(["import", "p.md"]).status(2).stderr_has("p.md:2").run();
}

#[test]
fn other_tools_attribute_sets_are_left_as_they_are() {
    let page = "# P\n\n```bash {1,3}\nkubectl get pods\n```\n\n```js {2-3} title=\"app.js\"\nx();\n```\n\n```bash\nkubectl get nodes\n```\n";
    let f = Test::new()
        .file("p.md", page)
        .args(["import", "p.md"])
        .status(0)
        .stderr_has("line 3: left as documentation: `{1,3}` is another tool's attribute set")
        .run();
    let expected = page
        .replace("# P", "---\nid: p\ntitle: P\n---\n# P")
        .replace("```bash\nkubectl", "```bash {#kubectl-get-nodes read}\nkubectl");
    assert_eq!(f.stdout, expected);
    // The imported runbook passes check but for its missing fixture.
    Test::new()
        .file("runbooks/p.md", &expected)
        .args(["check"])
        .status(0)
        .stdout_has("1 runbook, 0 errors, 1 warning")
        .run();
}

/// A block written as a terminal session: prompted commands only become a
/// step without their prompts (`$` would run as a command); prompts with
/// what the commands printed stay documentation, said. A block that names
/// no language but starts with a command is said too: it cannot be a step
/// until it says `bash`.
#[test]
fn terminal_sessions_and_blocks_without_a_language() {
    let page = "# P\n\n```bash\n$ kubectl get pods -n prod\nNAME    READY\nweb-1   1/1\n```\n\n```bash\n$ kubectl rollout restart deploy/web \\\n    -n prod\n  $ kubectl get nodes\n```\n\n```\nkubectl get nodes\n```\n\n```\nNAME    READY\n```\n";
    let f = Test::new()
        .file("p.md", page)
        .args(["import", "p.md"])
        .status(0)
        .stderr_has("line 3: left as documentation: a terminal session (`$ ` prompts and what the commands printed): put its commands in a block of their own, without the prompts, to make them a step\n")
        .stderr_has("line 9: the prompts (`$ `) before its commands removed\n")
        .stderr_has("line 9: #kubectl-rollout-restart {confirm}: `kubectl` changes the system")
        .stderr_has("line 15: left as documentation: the block names no language, though `kubectl` is a command: write ```bash to make it a step, then import again\n")
        .stderr_lacks("line 19")
        .run();
    let expected = page.replace("# P", "---\nid: p\ntitle: P\n---\n# P").replace(
        "```bash\n$ kubectl rollout restart deploy/web \\\n    -n prod\n  $ kubectl get nodes",
        "```bash {#kubectl-rollout-restart confirm}\nkubectl rollout restart deploy/web \\\n    -n prod\n  kubectl get nodes",
    );
    assert_eq!(f.stdout, expected);
}

#[test]
fn every_action_of_a_go_template_stays_literal() {
    let cmd = r#"kubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}'"#;
    let cmd2 = r#"docker inspect -f '{{- printf "%s" .Name -}} {{ "up" }}' web"#;
    let page = format!("# P\n\n```bash\n{cmd}\n{cmd2}\n```\n");
    let f = Test::new().file("p.md", &page).args(["import", "p.md"]).status(0).run();
    assert!(f.stdout.contains(r#"{% raw %}{{"\n"}}{% endraw %}{% raw %}{{end}}{% endraw %}"#), "{}", f.stdout);
    Test::new().file("runbooks/p.md", &f.stdout).args(["check"]).status(0).stdout_has("1 runbook, 0 errors").run();
    let plan = Test::new()
        .file("runbooks/p.md", &f.stdout)
        .args(["plan", "p"])
        .status(0)
        .stderr_lacks("inside single quotes")
        .run();
    assert!(plan.stdout.contains(&format!("{cmd}\n")), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("{cmd2}\n")), "{}", plan.stdout);
}

/// The runbook written is a file like the team's others: a page converted in
/// place keeps its mode, a new one gets 0666 less the umask (never 0600, which
/// the wiki build of another user could not read).
#[test]
fn the_file_written_keeps_the_mode_of_the_page_or_gets_the_usual_one() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let t = Test::new().file("p.md", "# P\n\n```bash\nls\n```\n");
    std::fs::set_permissions(t.path().join("p.md"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let f = t.args(["import", "p.md", "-o", "p.md"]).run();
    assert_eq!(mode(&f.path().join("p.md")), 0o640);
    let f = Test::new().file("p.md", "# P\n\n```bash\nls\n```\n").args(["import", "p.md", "-o", "runbooks/p.md"]).run();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask =
        status.lines().find_map(|l| l.strip_prefix("Umask:")).map(|u| u32::from_str_radix(u.trim(), 8).unwrap());
    assert_eq!(mode(&f.path().join("runbooks/p.md")), 0o666 & !umask.unwrap_or(0o022));
}

/// A page past the runbook's bound is refused before it is read whole: what
/// import writes would not parse.
#[test]
fn a_page_past_16_mib_is_refused() {
    let big = format!("# Big\n\n{}", "text\n".repeat((16 << 20) / 5 + 1));
    let f = Test::new()
        .file("big.md", &big)
        .args(["import", "big.md", "-o", "runbooks/big.md"])
        .status(2)
        .stderr_has("big.md:1: error: larger than 16 MiB: a runbook is at most 16 MiB")
        .run();
    assert!(!f.path().join("runbooks/big.md").exists());
}

#[test]
fn a_broken_block_is_never_read() {
    Test::new()
        .file("p.md", "# P\n\n```bash\nkubectl get deploy web -o wide\" <deployment>\nkubectl delete pod x\n```\n")
        .args(["import", "p.md"])
        .stdout_has("```bash {#p confirm}")
        .stderr_has("its shell syntax is broken")
        .run();
}

/// Without bash, the bash blocks' syntax is not checked (so a broken block
/// is judged by its words): said once on stderr, as `check` says it, and
/// the import goes on; with bash, nothing is said.
#[test]
fn a_missing_bash_is_one_notice_as_check_gives_it() {
    let page = "# P\n\n```bash\nkubectl get pods\n```\n\n```bash\nkubectl get deploy web -o wide\" <deployment>\n```\n\n```sh\nls\n```\n";
    let bare = crate::check::path_of(&["sh"]);
    let f = Test::new()
        .file("p.md", page)
        .env("PATH", bare.path().to_str().unwrap())
        .args(["import", "p.md"])
        .status(0)
        .stdout_has("```bash {#p read}")
        .run();
    let notices: Vec<&str> = f.stderr.lines().skip_while(|l| !l.starts_with("notice:")).take(2).collect();
    assert_eq!(
        notices,
        [
            "notice: bash is not on PATH: the syntax of 2 bash blocks was not checked",
            "  hint: install bash to have import parse the bash blocks (`bash -n`: nothing runs)",
        ],
        "{}",
        f.stderr
    );
    assert_eq!(f.stderr.matches("notice:").count(), 1, "{}", f.stderr);
    Test::new().file("p.md", page).args(["import", "p.md"]).status(0).stderr_lacks("notice:").run();
}

/// A page a new user imported: commands run over `ssh`, `journalctl
/// --vacuum-size`, and a `watch` of a remote `df`. What ssh and watch run
/// is what is judged: the writes ask first, the `df` reads.
const NODE_PAGE: &str = "# Node disk full\n\n```bash\nssh <node> \"sudo docker image prune -af\"\n```\n\n```bash\nssh n1 sudo journalctl --vacuum-size=500M\n```\n\n```bash\nssh n1 sudo rm -rf /tmp/x\n```\n\n```bash\nssh n1 reboot\n```\n\n```bash\nssh n1 \"kubectl delete pod x\"\n```\n\n```bash\njournalctl --vacuum-size=500M\n```\n\n```bash\nwatch -n 5 \"ssh <node> df -h /var/lib/docker\"\n```\n";

#[test]
fn ssh_and_watch_are_judged_by_what_they_run() {
    let f = Test::new()
        .file("n.md", NODE_PAGE)
        .args(["import", "n.md"])
        .stderr_has("line 3: #node-disk-full {confirm interactive}: `docker` changes the system (docker rm/stop/run/compose up/…); sudo needs a terminal")
        .stderr_has("line 7: #ssh-n1-sudo {confirm interactive}: `journalctl` changes the system (journalctl --vacuum-*/--rotate/--flush/…)")
        .stderr_has("line 15: #ssh-n1-reboot {confirm}: `reboot` changes the system (rm/mv/kill/reboot/…)")
        .stderr_has("line 27: #watch-5 {read timeout=5m on-fail=continue}: diagnosis only; watch never ends")
        .run();
    let fences: Vec<&str> = f.stdout.lines().filter(|l| l.starts_with("```bash")).collect();
    assert_eq!(
        fences,
        [
            "```bash {#node-disk-full confirm interactive}",
            "```bash {#ssh-n1-sudo confirm interactive}",
            "```bash {#ssh-n1-sudo-2 confirm interactive}",
            "```bash {#ssh-n1-reboot confirm}",
            "```bash {#ssh-n1-kubectl-delete-pod confirm}",
            "```bash {#journalctl confirm}",
            "```bash {#watch-5 read timeout=5m on-fail=continue}",
        ],
        "{}",
        f.stdout
    );
    // And check finds no hazard in what it wrote.
    let f = Test::new().bytes("runbooks/n.md", f.stdout.as_bytes()).args(["check", "--format", "json"]).run();
    let j = f.json();
    let hazards: Vec<&str> = j["runbooks"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .filter(|c| ["write-in-read", "never-ending", "needs-terminal", "sudo-prompt"].contains(c))
        .collect();
    assert_eq!(hazards, Vec::<&str>::new(), "{}", f.stdout);
}

/// Placeholders in every quoting: the page, what import makes of it, and
/// what it prints played with values a shell would mangle if they were
/// spliced in unquoted.
const QUOTED_PAGE: &str = "# Quotes\n\n```bash\necho \"deploying <service> now\" '<ticket>'\nsh -c \"echo <node> is up\"\nfor pod in a b; do echo \"restarting <pod> after $pod\"; done\necho \"<msg>\" \"<a>-<b>\" 'x <a> y'\n```\n";

const QUOTED_IMPORTED: &str = "```bash {#quotes read}\nservice={{ service }}\necho \"deploying ${service} now\" {{ ticket }}\nnode={{ node }}\nsh -c \"echo ${node} is up\"\npod_value={{ pod }}\nfor pod in a b; do echo \"restarting ${pod_value} after $pod\"; done\na={{ a }}\nb={{ b }}\necho {{ msg }} \"${a}-${b}\" 'x '{{ a }}' y'\n```\n";

#[test]
fn a_placeholder_in_a_double_quoted_string_becomes_a_shell_variable() {
    let imported = Test::new().file("q.md", QUOTED_PAGE).args(["import", "q.md"]).run().stdout;
    assert!(imported.ends_with(QUOTED_IMPORTED), "{imported}");
    // No template sits between double quotes (`"A"{{ b }}"C"`): shellcheck,
    // which check runs when it is installed, has nothing to say either.
    let f = Test::new().file("runbooks/q.md", &imported).args(["check", "--format", "json"]).run();
    let j = f.json();
    let codes: Vec<&str> =
        j["runbooks"][0]["findings"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["no-fixture"], "{}", f.stdout);
    // Rendered, each value is one word, as the page meant it.
    let vars = ["service=web $(touch pwned)", "ticket=T'1", "node=n1", "pod=p 1", "msg=a  b", "a=x\"y", "b=z"];
    let f = Test::new()
        .file("runbooks/q.md", &imported)
        .args(["play", "q"])
        .args(vars.iter().flat_map(|v| ["--set", v]))
        .stdout_has(concat!(
            "[quotes] deploying web $(touch pwned) now T'1\n",
            "[quotes] n1 is up\n",
            "[quotes] restarting p 1 after a\n",
            "[quotes] restarting p 1 after b\n",
            "[quotes] a  b x\"y-z x x\"y y\n",
        ))
        .run();
    assert!(!f.path().join("pwned").exists());
}

// ---- How often import decides as the hand-made corpus does ----

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A command's key: the program and its first two words that are not
/// flags, values and environment names blurred (`kubectl logs
/// statefulset/animica-node`).
fn key(c: &Call) -> String {
    let blur = |w: &str| {
        if w.contains("RB_") || w == "animica-devnet" || w == "animica" { "*".to_string() } else { w.to_string() }
    };
    let mut k = vec![c.program.clone()];
    let words: Vec<&str> = match c.program.as_str() {
        "kubectl" | "helm" | "docker" => (0..2).filter_map(|i| c.sub(i)).collect(),
        _ => c.positional(&[]).into_iter().take(2).collect(),
    };
    k.extend(words.into_iter().map(blur));
    if c.args.iter().any(|a| a.starts_with("--dry-run")) {
        k.push("--dry-run".into());
    }
    k.join(" ")
}

fn calls(body: &str) -> Vec<Call> {
    hazards::calls(&runbook::check::bash::prepare(body))
}

/// Every shell step of the hand-made corpus: (runbook#step, body, read).
fn corpus() -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for f in runbook::catalog::markdown_files(&root().join("runbooks")) {
        let text = std::fs::read_to_string(&f).unwrap();
        let Ok(Page::Runbook(rb)) = parse::parse_page(&f, &text, String::new()) else { continue };
        for s in rb.steps.iter().filter(|s| s.is_shell() && !s.attrs.undo) {
            out.push((format!("{}#{}", rb.id, s.id), s.body.clone(), s.attrs.read));
        }
    }
    out
}

/// The import's step decisions of a page, in order: (line, body, read).
fn imported_steps(name: &str, md: &str) -> Vec<(usize, String, bool)> {
    let out = runbook::import::import(Path::new(name), md).unwrap_or_else(|e| panic!("{e}"));
    let Page::Runbook(rb) = parse::parse_page(Path::new(name), &out.text, String::new()).unwrap() else {
        panic!("no step in\n{}", out.text)
    };
    rb.steps.iter().map(|s| (s.line, s.body.clone(), s.attrs.read)).collect()
}

/// The seed (`../shared/seed/animica-ops-runbooks.md`, copied in
/// tests/data) imported with its one broken fence closed: each block's
/// read/write decision against the corpus steps running the same commands.
/// The figures are those of docs/import.md.
#[test]
fn seed_blocks_decided_as_the_hand_made_corpus() {
    let seed = std::fs::read_to_string(root().join("tests/data/animica-ops-runbooks.md")).unwrap();
    // As it is, its fence at line 63 is never closed: import refuses it.
    Test::new()
        .file("seed.md", &seed)
        .args(["import", "seed.md"])
        .status(2)
        .stderr_has("seed.md:63: error: code block is not closed")
        .run();
    let mut lines: Vec<&str> = seed.lines().collect();
    lines.insert(65, "   ```");
    let fixed = lines.join("\n") + "\n";
    assert_eq!(agreement(&fixed), (5, 5), "update docs/import.md");
    // Its other commands lost their fences (copied from a rendered page):
    // each paragraph made only of commands gets them back.
    assert_eq!(agreement(&refence(&fixed)), (21, 23), "update docs/import.md");
}

/// Paragraphs whose every line is a shell command or a comment, fenced.
fn refence(md: &str) -> String {
    const STARTS: [&str; 8] = ["kubectl ", "helm ", "docker ", "python ", "python3 ", "bash ", "( cd ", "# "];
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut in_fence = false;
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        let code =
            para.iter().all(|l| STARTS.iter().any(|s| l.starts_with(s))) && para.iter().any(|l| !l.starts_with('#'));
        if code && !para.is_empty() {
            out.push_str("```bash\n");
        }
        for l in para.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
        if code {
            out.push_str("```\n");
        }
    };
    for l in md.lines() {
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if l.trim().is_empty() || in_fence || l.trim_start().starts_with("```") {
            flush(&mut para, &mut out);
            out.push_str(l);
            out.push('\n');
        } else {
            para.push(l);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// How many of a page's imported blocks get the read/write decision of the
/// corpus steps that run the same commands: (same, compared).
fn agreement(md: &str) -> (usize, usize) {
    let corpus: Vec<(String, String, bool)> = corpus()
        .into_iter()
        .flat_map(|(step, body, read)| calls(&body).into_iter().map(move |c| (key(&c), step.clone(), read)))
        .collect();
    let (mut same, mut compared) = (0, 0);
    let mut table = String::new();
    for (line, body, read) in imported_steps("seed.md", md) {
        let matched: Vec<&(String, String, bool)> =
            calls(&body).iter().flat_map(|c| corpus.iter().filter(move |(k, ..)| *k == key(c))).collect();
        if matched.is_empty() {
            table.push_str(&format!("line {line}: no corpus step runs it\n"));
            continue;
        }
        let corpus_read = matched.iter().all(|(_, _, r)| *r);
        assert!(!read || corpus_read, "line {line}: import made read what the corpus writes with:\n{body}");
        compared += 1;
        same += usize::from(corpus_read == read);
        let steps: Vec<&str> = matched.iter().map(|(_, s, _)| s.as_str()).collect();
        table.push_str(&format!("line {line}: import read={read}, corpus read={corpus_read} ({})\n", steps.join(", ")));
    }
    eprintln!("{table}seed: {same} of {compared} blocks decided as the corpus");
    (same, compared)
}

/// Every shell step of the hand-made corpus, its attributes and templates
/// taken away (`{{ ns }}` back to `<ns>`), imported again: how many get the
/// read/write decision its author gave it.
#[test]
fn corpus_steps_stripped_and_imported_again() {
    let steps = corpus();
    let mut page = String::from("# Every step\n\n");
    for (_, body, _) in &steps {
        let plain = regex_lite_untemplate(body);
        page.push_str(&format!("```bash\n{plain}```\n\n"));
    }
    let got = imported_steps("all.md", &page);
    assert_eq!(got.len(), steps.len());
    let mut differ = Vec::new();
    for ((name, body, want), (_, _, read)) in steps.iter().zip(&got) {
        // A difference may only ever be the safe one: asking first.
        assert!(!read || *want, "{name}: import made read a step its author made a write:\n{body}");
        if want != read {
            differ.push(format!("{name}: corpus read={want}, import read={read}"));
        }
    }
    let same = steps.len() - differ.len();
    eprintln!("{}\ncorpus: {same} of {} steps decided as their author did", differ.join("\n"), steps.len());
    assert_eq!((same, steps.len()), (94, 102), "update docs/import.md:\n{}", differ.join("\n"));
}

/// `{{ name }}` → `<name>`, as the page was before it was executable.
fn regex_lite_untemplate(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(e) = rest[i..].find("}}") else { break };
        let inner = rest[i + 2..i + e].trim();
        if inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(&format!("<{inner}>"));
        } else {
            out.push_str(&rest[i..i + e + 2]);
        }
        rest = &rest[i + e + 2..];
    }
    out.push_str(rest);
    out
}

/// `-o` into a directory that does not exist is refused before anything is
/// converted (exit 2, what to do), not after the notes of a conversion that
/// then writes nothing.
#[test]
fn import_into_a_directory_that_does_not_exist_is_refused_first() {
    Test::new()
        .bytes("page.md", b"# P\n\n```bash\nkubectl get pods -n <NS>\n```\n")
        .args(["import", "page.md", "-o", "book/page.md"])
        .status(2)
        .stderr(
            "error: cannot write book/page.md: the directory book does not exist\n  \
             hint: create it first (`mkdir -p book`), or give a path in an existing directory\n",
        )
        .run();
}

/// A page's setup block (`export PGHOST=…`) and the blocks that read it
/// become steps of their own shells: `import` and `check` both say so.
#[test]
fn a_variable_one_block_sets_and_another_reads_is_reported() {
    let page = "# Lag\n\n```bash\nexport PGHOST=<PRIMARY_HOST>\n```\n\n## Check\n\n```bash\npsql -h $PGHOST -c 'select 1'\n```\n";
    let warning = "runbooks/lag.md:16: warning: step `check` reads `$PGHOST`, which only step `lag` sets: each step runs \
                   in a shell of its own, so it is unset here (and `set -u` stops the step)\n";
    let f = Test::new()
        .bytes("wiki/lag.md", page.as_bytes())
        .args(["import", "wiki/lag.md", "-o", "runbooks/lag.md"])
        .stderr_has(warning)
        .run();
    let imported = std::fs::read_to_string(f.path().join("runbooks/lag.md")).unwrap();
    assert_eq!(imported.lines().nth(15), Some("psql -h $PGHOST -c 'select 1'"), "{imported}");
    Test::new()
        .bytes("runbooks/lag.md", imported.as_bytes())
        .args(["check", "runbooks/lag.md"])
        .stdout_has(&warning.replace("warning:", "warning[shell-state]:"))
        .run();
}

/// A `console` block whose every line is a `$ ` command becomes a step (the
/// prompts dropped, the fence `bash`); one that shows what the commands
/// printed stays documentation, and the notes say why.
#[test]
fn a_console_session_of_commands_becomes_a_step() {
    let page =
        "# P\n\n```console\n$ kubectl get pods -n <NS>\n```\n\n```console\n$ kubectl get pods\nNAME READY\n```\n";
    let f = Test::new()
        .bytes("p.md", page.as_bytes())
        .args(["import", "p.md"])
        .stderr_has("line 3: the prompts (`$ `) before its commands removed\n")
        .stderr_has("line 7: left as documentation: a terminal session")
        .run();
    assert!(f.stdout.contains("```bash {#p read}\nkubectl get pods -n {{ namespace }}\n```\n"), "{}", f.stdout);
    assert!(f.stdout.ends_with("```console\n$ kubectl get pods\nNAME READY\n```\n"), "{}", f.stdout);
}
