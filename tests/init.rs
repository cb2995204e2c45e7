//! `runbook init`: a project that `check` passes from the first minute, and
//! no existing file ever overwritten.

use crate::common::*;

/// An empty directory (the builder's project, emptied).
fn empty() -> Test {
    let t = Test::new();
    for f in ["runbook.toml", "runbooks", "fixtures"] {
        let p = t.path().join(f);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    t
}

#[test]
fn init_then_check_passes() {
    let f = empty()
        .args(["init"])
        .stdout_has("created  runbook.toml")
        .stdout_has("created  .github/workflows/runbook.yml")
        .run();
    let dir = f.path().to_path_buf();
    assert!(!f.stdout.contains(" book.toml"), "{}", f.stdout);
    let wf = std::fs::read_to_string(dir.join(".github/workflows/runbook.yml")).unwrap();
    assert!(wf.contains("runbook check --format github"), "{wf}");
    let toml = std::fs::read_to_string(dir.join("runbook.toml")).unwrap();
    assert!(toml.lines().filter(|l| l.starts_with('#')).count() >= 5, "a commented runbook.toml:\n{toml}");
    let check = std::process::Command::new(bin()).arg("check").current_dir(&dir).output().unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{out}");
    assert!(out.contains("1 runbook, 0 errors, 0 warnings; 2 scenarios rehearsed, 0 failed"), "{out}");
}

#[test]
fn init_wiki_adds_the_book() {
    let f = empty()
        .args(["init", "--wiki"])
        .stdout_has("created  book.toml")
        .stdout_has("created  runbooks/SUMMARY.md")
        .run();
    let dir = f.path().to_path_buf();
    let book = std::fs::read_to_string(dir.join("book.toml")).unwrap();
    assert!(book.contains("src = \"runbooks\"") && book.contains("[preprocessor.runbook]"), "{book}");
    assert!(f.stdout.contains("created  wiki/runbook.css\n") && f.stdout.contains("created  wiki/runbook.js\n"));
    let check = std::process::Command::new(bin()).arg("check").current_dir(&dir).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    if !mdbook_available() {
        return;
    }
    // The book builds as written, and its runbook pages load the selector.
    let built = std::process::Command::new("mdbook")
        .arg("build")
        .current_dir(&dir)
        .env("MDBOOK_PREPROCESSOR__RUNBOOK__COMMAND", format!("{} mdbook", bin().display()))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let page = std::fs::read_to_string(dir.join("book/example.html")).unwrap();
    // mdBook 0.5 names its copies by their hash: wiki/runbook-HASH.js.
    assert!(page.contains("src=\"wiki/runbook-") && page.contains("href=\"wiki/runbook-"), "the page loads them");
}

fn mdbook_available() -> bool {
    let ok = std::process::Command::new("mdbook").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("notice: mdbook is not on PATH, skipping the book build (CI installs it)");
    }
    ok
}

#[test]
fn existing_files_are_kept() {
    let f = empty()
        .file("runbook.toml", "# mine\n")
        .file("runbooks/example.md", "mine\n")
        .args(["init"])
        .stdout_has("kept     runbook.toml (exists)")
        .stdout_has("skipped  runbooks/example.md, fixtures/example.toml")
        .run();
    let dir = f.path().to_path_buf();
    assert_eq!(std::fs::read_to_string(dir.join("runbook.toml")).unwrap(), "# mine\n");
    assert_eq!(std::fs::read_to_string(dir.join("runbooks/example.md")).unwrap(), "mine\n");
    assert!(!dir.join("fixtures/example.toml").exists(), "no fixture for a page init did not write");
    // A second run writes nothing.
    let again = std::process::Command::new(bin()).arg("init").current_dir(&dir).output().unwrap();
    assert!(!String::from_utf8_lossy(&again.stdout).contains("created"));
}

#[test]
fn init_in_an_existing_project_keeps_its_check_green_and_its_wiki_lists_its_pages() {
    // Its own env (another namespace), its own runbooks directory.
    let config = "runbooks = \"docs/rb\"\ndefault_env = \"dev\"\n\n[env.dev]\nnamespace = \"dev-ns\"\n";
    let page = "# Restart [web]\n\n```bash {#a}\necho hi\n```\n";
    let f = empty().file("runbook.toml", config).file("docs/rb/restart.md", page).args(["init", "--wiki"]).run();
    assert_eq!(
        f.stdout,
        "kept     runbook.toml (exists)
skipped  runbooks/example.md, fixtures/example.toml (written for init's own runbook.toml; this project has its own)
created  .github/workflows/runbook.yml
created  .gitignore
created  book.toml
created  docs/rb/SUMMARY.md
created  wiki/runbook.css
created  wiki/runbook.js

next:
  runbook check                          lint and rehearse (what CI runs)
  runbook import PAGE.md -o runbooks/PAGE.md   convert a plain markdown runbook
"
    );
    let dir = f.path().to_path_buf();
    let book = std::fs::read_to_string(dir.join("book.toml")).unwrap();
    assert!(book.contains("src = \"docs/rb\""), "{book}");
    let summary = std::fs::read_to_string(dir.join("docs/rb/SUMMARY.md")).unwrap();
    assert_eq!(summary, "# Summary\n\n- [Restart web](restart.md)\n");
    let check = std::process::Command::new(bin()).arg("check").current_dir(&dir).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
}

#[test]
fn init_adds_the_state_directory_to_an_existing_gitignore() {
    for (before, after) in [
        ("target/\n", "target/\n.runbook/\n"),
        ("target/\n*.log", "target/\n*.log\n.runbook/\n"),
        ("target/\r\n", "target/\r\n.runbook/\r\n"),
        ("", ".runbook/\n"),
    ] {
        let f = empty()
            .file(".gitignore", before)
            .args(["init"])
            .stdout_has("updated  .gitignore (added .runbook/: run journals and logs stay out of git)")
            .run();
        assert_eq!(std::fs::read_to_string(f.path().join(".gitignore")).unwrap(), after, "{before:?}");
    }
    for kept in ["target/\n.runbook/\n", "/.runbook\n", "  .runbook/  \r\n"] {
        let f = empty()
            .file(".gitignore", kept)
            .args(["init"])
            .stdout_has("kept     .gitignore (ignores .runbook/ already)")
            .run();
        assert_eq!(std::fs::read_to_string(f.path().join(".gitignore")).unwrap(), kept);
    }
}
