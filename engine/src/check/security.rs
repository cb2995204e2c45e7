//! Security smells in runbook blocks (SPEC §5), by line:
//!
//! - **pipe-to-shell** (error): `curl … | sh`, `wget -O- … | sudo bash`,
//!   `bash <(curl …)`, `sh -c "$(curl …)"`, `source <(curl …)`, `eval
//!   "$(curl …)"`, `curl … | python3 -`: code from the network runs
//!   unreviewed.
//! - **plain-http** (warning): `curl`/`wget` of an `http://` URL whose host is
//!   not local or cluster-internal. Local means `localhost`, `127.*`, `[::1]`,
//!   `0.0.0.0`; cluster-internal means a host ending in `.svc`, `.local`,
//!   `.internal`, `.cluster.local` or without a dot (a service name).
//!   Templated hosts (`{{ prometheus_url }}`) are not checked: their values
//!   live in runbook.toml.
//! - **credential** (error): a literal `password=…`/`--password …`,
//!   `Authorization: Bearer <literal>`, an AWS access key id (`AKIA…`), a
//!   private key header. Values that are variables (`$X`, `${X}`,
//!   `{{ x }}`, `<x>`) are fine.
//!
//! Comment lines of shell blocks are skipped; credentials are looked for in
//! every block, whatever its language.
//!
//! - **secret-on-command-line** (warning, [`command_lines`]): a docs or CI
//!   file of the project (`*.md`, `.github/workflows/*`, `.gitlab-ci.yml`,
//!   `.ci/`, `scripts/`, `Makefile`, `justfile`, `*.sh`) shows a `runbook`
//!   command passing a secret variable with `--set`: argv is visible to
//!   every user in `ps` (and kept in shell history) for the whole play.
//!   `RUNBOOK_VAR_<name>` or `--set-file` keep it out.

use std::sync::LazyLock;

use regex::Regex;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::lints::Block;
use crate::config::Config;
use crate::error::Diagnostic;

static PIPE_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:curl|wget)\b[^|]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:ba|z|da|k)?sh\b").expect("regex")
});
/// The other ways a download becomes a script: a shell reading it through
/// `<(…)` or `-c "$(…)"`, `source`/`.`/`eval` of it, or an interpreter
/// reading it from the pipe as its program (`| python3 -`; not `| python3
/// -m json.tool`, which only reads data).
static RUN_DOWNLOAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:(?:ba|z|da|k)?sh|source)\s+<\(\s*(?:curl|wget)\b",
        r"|(?:^|[;&|(]\s*|\s)\.\s+<\(\s*(?:curl|wget)\b",
        r#"|\b(?:(?:ba|z|da|k)?sh\s+-c|eval)\s+["']?\$\(\s*(?:curl|wget)\b"#,
        r"|\b(?:curl|wget)\b[^|]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:python[0-9.]*|perl|ruby|node)(?:\s+-)?\s*(?:$|[;&|)])",
    ))
    .expect("regex")
});
static DOWNLOAD_HTTP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\b(?:curl|wget)\b.*?\bhttp://([^\s/'"):?#]+)"#).expect("regex"));
/// `--password X`, and `NAME=X` where NAME ends with a credential word
/// (`DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`; not `TOKEN_FILE`), the value
/// quoted or not.
static PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:--(?:password|passwd|token|api-key)[\s=]+|(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)=)["']?([^\s'"&;]+)"#,
    )
    .expect("regex")
});
/// `mysql -pSECRET` (the password glued to `-p`; `-p` alone prompts).
static MYSQL_P: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\b(?:mysql|mysqldump|mysqladmin)\b[^|;&]*?\s-p["']?([^\s'"&;|]+)"#).expect("regex"));
/// `curl -u user:SECRET` / `--user user:SECRET`.
static CURL_USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bcurl\b[^|;&]*?\s(?:-u|--user)[\s=]*["']?[^\s:'"]*:([^\s'"&;|]+)"#).expect("regex")
});
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)authorization:\s*(?:bearer|basic)\s+([^\s'"]+)"#).expect("regex"));
static AWS_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b").expect("regex"));
static PRIVATE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----").expect("regex"));

/// Is a host local or cluster-internal?
pub fn internal_host(host: &str) -> bool {
    let h = host.split(':').next().unwrap_or(host).trim_start_matches('[').to_lowercase();
    h == "localhost"
        || h.starts_with("127.")
        || h == "0.0.0.0"
        || h == "::1"
        || h.starts_with(':')
        || !h.contains('.')
        || [".svc", ".local", ".internal", ".cluster.local", ".localhost"].iter().any(|s| h.ends_with(s))
        || h.contains("{{")
}

/// A credential value that is really a reference to one.
fn is_reference(v: &str) -> bool {
    v.starts_with('$')
        || v.starts_with("{{")
        || v.starts_with('<')
        || v.starts_with('*')
        || v.starts_with('-')
        || v.contains("RB_VALUE")
        || v.len() < 4
}

pub fn lint(file: &std::path::Path, blocks: &[Block]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for b in blocks {
        let shell = b.dialect().is_some();
        for (i, l) in b.body.lines().enumerate() {
            let line = b.body_line + i;
            let code = l.trim_start();
            if shell && code.starts_with('#') {
                continue;
            }
            if shell && (PIPE_SHELL.is_match(l) || RUN_DOWNLOAD.is_match(l)) {
                out.push(
                    Diagnostic::error("pipe-to-shell", format!("{} pipes a download into a shell", b.what()))
                        .at(file, line)
                        .hint("download to a file, verify its checksum or signature, then run it"),
                );
            }
            if shell
                && let Some(c) = DOWNLOAD_HTTP.captures(l)
                && !internal_host(&c[1])
            {
                out.push(
                    Diagnostic::warning(
                        "plain-http",
                        format!("{} downloads over plain HTTP from `{}`", b.what(), &c[1]),
                    )
                    .at(file, line)
                    .hint("use https://, or a cluster-internal address"),
                );
            }
            let credential = [&*PASSWORD, &*MYSQL_P, &*CURL_USER]
                .iter()
                .find_map(|re| re.captures(l).filter(|c| !is_reference(&c[1])))
                .map(|_| "a literal password or token")
                .or_else(|| {
                    BEARER.captures(l).filter(|c| !is_reference(&c[1])).map(|_| "a literal Authorization header")
                })
                .or_else(|| AWS_KEY.is_match(l).then_some("an AWS access key id"))
                .or_else(|| PRIVATE_KEY.is_match(l).then_some("a private key"));
            if let Some(what) = credential {
                out.push(
                    Diagnostic::error("credential", format!("{} contains {what}", b.what()))
                        .at(file, line)
                        .hint("read it from a secret variable (front matter `secrets`) or a file, never the runbook"),
                );
            }
        }
    }
    out
}

/// `--set NAME=` (or `--set=NAME=`), NAME captured.
static SET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"--set(?:\s+|=)["']?([A-Za-z_][A-Za-z0-9_]*)="#).expect("regex"));
/// A command line of ours: `runbook …` or `cargo run … -- …`.
static OURS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\brunbook\b|\bcargo\s+run\b").expect("regex"));

/// The largest docs or CI file read.
const MAX_FILE: u64 = 1 << 20;

/// Is this (project-relative) file a docs or CI file?
fn docs_or_ci(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
    let under = |d: &str| rel.starts_with(d);
    matches!(ext, "md" | "markdown" | "sh" | "bash")
        || (under(".github/workflows") && matches!(ext, "yml" | "yaml"))
        || under(".ci")
        || under("scripts")
        || matches!(name, ".gitlab-ci.yml" | "Makefile" | "makefile" | "justfile" | "Justfile")
}

/// Every `runbook … --set SECRET=…` in the project's docs and CI files.
/// `secrets`: the names runbooks list under `secrets` (names that say
/// secret, password, token, key or credential are secret anyway).
pub fn command_lines(config: &Config, secrets: &BTreeSet<String>) -> Vec<Diagnostic> {
    let root = &config.root;
    let skip: Vec<PathBuf> = [config.state.clone(), root.join("target"), root.join("node_modules")].into();
    let walk = walkdir::WalkDir::new(root).max_depth(8).into_iter().filter_entry(|e| {
        let hidden = e.depth() > 0
            && e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with('.') && n != ".github" && n != ".ci" && n != ".gitlab-ci.yml");
        !hidden && !skip.iter().any(|s| e.path() == s)
    });
    let mut out = Vec::new();
    for e in walk.filter_map(|e| e.ok()) {
        let Ok(rel) = e.path().strip_prefix(root) else { continue };
        if !e.file_type().is_file() || !docs_or_ci(rel) || e.metadata().map_or(true, |m| m.len() > MAX_FILE) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        out.extend(scan(rel, &text, secrets));
    }
    out
}

/// Add [`command_lines`] findings to a whole-project check's report, each
/// under its file (a runbook's own entry when the file is a runbook).
pub fn report_command_lines(config: &Config, report: &mut super::Report) {
    let listed: BTreeSet<String> = report
        .runbooks
        .iter()
        .filter(|r| r.id.is_some())
        .filter_map(|r| crate::parse::parse_file(&config.root.join(&r.path)).ok())
        .flat_map(|rb| rb.secrets)
        .collect();
    for d in command_lines(config, &listed) {
        let file = d.file.clone().unwrap_or_default();
        report.summary.warnings += 1;
        match report.runbooks.iter_mut().find(|r| r.path == file) {
            Some(r) => r.findings.push(d),
            None => report.runbooks.push(super::RunbookReport {
                id: None,
                path: file,
                findings: vec![d],
                scenarios: Vec::new(),
            }),
        }
    }
}

/// The findings of one file's text.
fn scan(file: &Path, text: &str, secrets: &BTreeSet<String>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        // A logical line: continued with a trailing backslash.
        let first = i;
        let mut logical = String::from(lines[i]);
        while logical.ends_with('\\') && i + 1 < lines.len() {
            logical.pop();
            i += 1;
            logical.push(' ');
            logical.push_str(lines[i]);
        }
        i += 1;
        if !OURS.is_match(&logical) {
            continue;
        }
        for c in SET.captures_iter(&logical) {
            let name = &c[1];
            if !(secrets.contains(name) || crate::redact::is_secret_name(name)) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "secret-on-command-line",
                    format!("`--set {name}=…` puts a secret on the command line, where `ps` shows it to every user of the machine for the whole play"),
                )
                .at(file, first + 1)
                .hint(format!("export RUNBOOK_VAR_{name}=… (from a secret store), or pass --set-file {name}=PATH")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(body: &str) -> Vec<&'static str> {
        let b = Block { line: 1, body_line: 2, lang: "bash", body, step: Some("x") };
        lint(std::path::Path::new("f.md"), &[b]).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn smells() {
        assert_eq!(codes("curl -fsSL https://get.x.io | sh\n"), ["pipe-to-shell"]);
        assert_eq!(codes("wget -qO- https://x.io/i.sh | sudo -E bash -s\n"), ["pipe-to-shell"]);
        assert_eq!(codes("curl -fsS http://example.com/x.tgz -o x.tgz\n"), ["plain-http"]);
        assert!(codes("curl -fsS http://localhost:8545/healthz\ncurl http://prom.obs.svc:9090/x\n").is_empty());
        assert!(codes("curl {{ url }}/x | jq .\ncurl http://node-rpc:8545\n").is_empty());
        assert_eq!(codes("mysql --password hunter22 db\n"), ["credential"]);
        assert_eq!(codes("export DB_PASSWORD=hunter22\n"), ["credential"]);
        assert!(
            codes("kubectl create secret generic x --from-file=k\necho rotate the password stored in vault\n")
                .is_empty()
        );
        assert_eq!(codes("curl -H 'Authorization: Bearer eyJhbGciOi' x\n"), ["credential"]);
        assert!(codes("curl -H \"Authorization: Bearer $TOKEN\" x\npsql password={{ pw }}\n").is_empty());
        assert_eq!(codes("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"), ["credential"]);
        assert_eq!(codes("-----BEGIN RSA PRIVATE KEY-----\n"), ["credential"]);
        assert!(codes("# curl x | sh\n").is_empty());
    }

    #[test]
    fn every_way_a_download_runs_as_a_script() {
        for body in [
            "bash <(curl -fsSL https://get.x.io)\n",
            "sh -c \"$(curl -fsSL https://get.x.io)\"\n",
            "curl -fsSL https://get.x.io | python3 -\n",
            "curl -fsSL https://get.x.io | sudo python3\n",
            "source <(curl -fsSL https://get.x.io)\n",
            ". <(wget -qO- https://get.x.io)\n",
            "eval \"$(curl -fsSL https://get.x.io)\"\n",
        ] {
            assert_eq!(codes(body), ["pipe-to-shell"], "{body}");
        }
        for body in [
            "curl -fsS https://api.x.io/v1 | python3 -m json.tool\n",
            "curl -fsS https://api.x.io/v1 | jq .\n",
            "diff <(curl -fsS https://a.io/x) local.txt\n",
            "echo \"$(curl -fsS https://a.io/version)\"\n",
        ] {
            assert!(codes(body).is_empty(), "{body}");
        }
    }

    #[test]
    fn credentials_in_the_forms_review_found_unflagged() {
        for body in [
            "export DB_PASSWORD=\"S3cretPw\"\n",
            "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG\n",
            "mysql -uroot -pS3cretPw db\n",
            "curl -u admin:S3cretPw https://x.example\n",
            "curl --user 'admin:S3cretPw' https://x.example\n",
        ] {
            assert_eq!(codes(body), ["credential"], "{body}");
        }
        for body in [
            "export TOKEN_FILE=/etc/token\n",
            "export DB_PASSWORD=\"$PW\"\n",
            "mysql -uroot -p db\nmysql -P3306 -h db\n",
            "curl -u \"$USER:$PASS\" https://x.example\n",
            "curl -u admin: https://x.example\n",
            "kubectl get secret db-password -o name\n",
        ] {
            assert!(codes(body).is_empty(), "{body}: {:?}", codes(body));
        }
    }

    #[test]
    fn secrets_given_with_set_on_our_command_lines() {
        let secrets: BTreeSet<String> = ["dbpass".to_string()].into();
        let lines = |text: &str| -> Vec<usize> {
            scan(Path::new("README.md"), text, &secrets).into_iter().filter_map(|d| d.line).collect()
        };
        let text = "runbook play 4.2 --set rev=41\n\
                    runbook play 4.2 --set db_password=$DB_PASSWORD\n\
                    cargo run -- play x --set=api_token=x\n\
                    runbook plan x \\\n  --env prod \\\n  --set 'dbpass=abc'\n\
                    helm upgrade x --set db_password=abc\n\
                    runbook play x --set-file db_password=/run/secrets/db\n";
        assert_eq!(lines(text), [2, 3, 4]);
    }
}
