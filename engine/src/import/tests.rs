//! What must hold for every page `import` converts: generated pages made of
//! lists, quotes, tilde fences, CRLF line ends, wiki front matter and
//! placeholders in every quoting context.

use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;
use crate::check::{lints, page, placeholders};
use crate::parse::Page;

const COMMANDS: [&str; 19] = [
    "kubectl get pods -n <ns> -o wide",
    "kubectl logs <pod-name> -n <namespace> --tail=100",
    "kubectl logs -f deploy/<deploy> -n <ns>",
    "kubectl exec -it <pod> -- sh",
    "kubectl delete pdb <service>-pdb",
    "helm rollback <release> <REV> -n <ns>",
    "git commit -m \"<change-description>\"",
    "echo \"deploying <service> now\" '<ticket>'",
    "docker inspect -f '{{.State.Status}}' <container>",
    "redis-cli -h <host> FLUSHALL",
    "curl -fsS https://<host>/healthz | jq .",
    "# replace <pod> first",
    "ready=$(kubectl get deploy <deploy> -o jsonpath='{.status.readyReplicas}')",
    "cat <<EOF | kubectl apply -f -\nname: <name>\nEOF",
    "sudo systemctl status <unit>",
    "watch kubectl get pods -n <ns>",
    "watch -n 5 \"ssh <node> df -h /var/lib/docker\"",
    "kubectl annotate deploy web \\\n  msg=\"deploy <service> at <ticket>\"",
    "for pod in a b; do echo \"restarting <pod> after $pod\"; done",
];

const PROSE: [&str; 5] = [
    "Some prose with a <placeholder> and `code`.",
    "## Diagnosis",
    "### 2.1 Head not advancing",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "> A quote: run `kubectl get pods`.",
];

fn page(next: &mut impl FnMut(usize) -> usize) -> String {
    let mut md = String::new();
    if next(3) == 0 {
        md.push_str("---\ntitle: Wiki page\ntags: [ops, redis]\nowner: sre\n---\n");
    }
    md.push_str("# Generated page\n\n");
    for _ in 0..1 + next(6) {
        let lang = ["bash", "sh", "shell", "text", "", "bash"][next(6)];
        let fence = ["```", "~~~", "````"][next(3)];
        let body: Vec<&str> = (0..1 + next(3)).map(|_| COMMANDS[next(COMMANDS.len())]).collect();
        let body = body.join("\n");
        match next(4) {
            0 => {
                // In a list item.
                md.push_str("1. Do this:\n\n");
                md.push_str(&format!("   {fence}{lang}\n"));
                for l in body.lines() {
                    md.push_str(&format!("   {l}\n"));
                }
                md.push_str(&format!("   {fence}\n\n"));
            }
            1 => {
                md.push_str(&format!("> {fence}{lang}\n"));
                for l in body.lines() {
                    md.push_str(&format!("> {l}\n"));
                }
                md.push_str(&format!("> {fence}\n\n"));
            }
            _ => md.push_str(&format!("{fence}{lang}\n{body}\n{fence}\n\n")),
        }
        md.push_str(PROSE[next(PROSE.len())]);
        md.push_str("\n\n");
    }
    if next(3) == 0 { md.replace('\n', "\r\n") } else { md }
}

/// The text of a page outside its code blocks and front matter.
fn prose(md: &str) -> Vec<String> {
    let split = frontmatter::split(md);
    let body = &md[if split.yaml.is_some() { split.body_start } else { 0 }..];
    let mut out = Vec::new();
    let mut in_code = false;
    for ev in Parser::new_ext(body, Options::empty()) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(t) | Event::Code(t) if !in_code => out.push(t.to_string()),
            _ => {}
        }
    }
    out
}

fn shell_blocks(md: &str) -> usize {
    let rb = match parse::parse_page(Path::new("p.md"), md, String::new()).unwrap() {
        Page::Runbook(r) | Page::Plain(r) => r,
    };
    rb.doc_blocks.iter().filter(|d| matches!(d.lang.as_str(), "bash" | "sh" | "shell")).count()
}

#[test]
fn every_generated_page_imports_to_a_clean_idempotent_runbook() {
    let mut next = crate::parse::picker(0x0dd0_c0ff_ee15_900d);
    let config = crate::config::Config::defaults(Path::new("."));
    for round in 0..150 {
        let md = page(&mut next);
        let path = Path::new("runbooks/generated-page.md");
        let imported = import(path, &md).unwrap_or_else(|e| panic!("round {round}: {e}\n{md}"));
        let out = &imported.text;
        assert_eq!(imported.steps, shell_blocks(&md), "round {round}:\n{md}");
        // Prose byte for byte (here: as markdown reads it), line ends included.
        assert_eq!(prose(&md), prose(out), "round {round}:\n{out}");
        assert_eq!(md.contains("\r\n"), out.contains("\r\n"));
        // Importing again changes nothing.
        assert_eq!(&import(path, out).unwrap().text, out, "round {round}: not idempotent");
        let page = parse::parse_page(path, out, String::new()).unwrap_or_else(|e| panic!("round {round}: {e}\n{out}"));
        let Page::Runbook(rb) = page else {
            assert_eq!(imported.steps, 0);
            continue;
        };
        assert_eq!(rb.steps.len(), imported.steps);
        // What check would say of the steps: nothing.
        let dag = crate::plan::Dag::build(&rb).unwrap();
        let mut findings = lints::quotes(&rb);
        findings.extend(lints::templates(&rb));
        findings.extend(lints::unknown_step_refs(&rb));
        findings.extend(lints::undefined_vars(&rb, Some(&dag), &config, &Default::default()));
        findings.extend(page::hazards(&rb, false));
        assert!(findings.is_empty(), "round {round}: {findings:#?}\n{out}");
        for s in &rb.steps {
            let left = placeholders::find(&s.body);
            assert!(left.is_empty(), "round {round}: {left:?} left in\n{}", s.body);
            // Never `"A"{{ b }}"C"`: shellcheck's SC2140 in `check`.
            for (at, _) in s.body.match_indices("{{") {
                let end = s.body[at..].find("}}").map_or(s.body.len(), |e| at + e + 2);
                let between = s.body[..at].ends_with('"') && s.body[end..].starts_with('"');
                assert!(!between, "round {round}: a template between double quotes in\n{}", s.body);
            }
        }
    }
}

#[test]
fn decisions() {
    let md = "# T\n\n## Look\n\n```bash\nkubectl get pods -n <ns>\nkubectl describe pod <pod> | grep -i events\n```\n\n## Fix\n\n```bash\nkubectl delete pod <pod> -n <ns>\n```\n\n```bash\nkubectl logs -f <pod>\n```\n\n```bash\nkubectl exec -it <pod> -- sh\n```\n\n```bash\nops/scripts/smoke.sh\n```\n\n```bash\nkubectl scale deploy/web --replicas=0\nkubectl get pods -w\n```\n";
    let out = import(Path::new("t.md"), md).unwrap().text;
    for want in [
        "```bash {#look read}",
        "```bash {#fix confirm}",
        "```bash {#kubectl-logs read timeout=5m on-fail=continue}",
        "```bash {#kubectl-exec confirm interactive}",
        "```bash {#smoke-sh confirm}",
        "```bash {#kubectl-scale confirm timeout=5m}",
        "vars:\n  namespace: ~\n  pod: ~\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
}

#[test]
fn yaml_strings_read_back() {
    for s in ["Redis failover", "2.1 Head: not advancing", "yes", "a # b", "\"quoted\"", "x\\y", "0x10", ""] {
        let y = yaml_str(s);
        let fm = frontmatter::parse(&format!("title: {y}\n")).unwrap();
        assert_eq!(fm.title.as_deref(), Some(s), "{y}");
    }
}

#[test]
fn jinja_of_the_page_stays_literal() {
    let body = "docker inspect -f '{{.State.Status}}' x -n {{ namespace }}\n";
    assert_eq!(
        rewrite::apply(body, &raw_edits(body)),
        "docker inspect -f '{% raw %}{{.State.Status}}{% endraw %}' x -n {{ namespace }}\n"
    );
    assert_eq!(template_names(body), ["namespace"]);
}
