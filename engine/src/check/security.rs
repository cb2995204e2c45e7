//! Security smells in runbook blocks (SPEC §5), by line:
//!
//! - **pipe-to-shell** (error): `curl … | sh`, `wget -O- … | sudo bash`: code
//!   from the network runs unreviewed.
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

use std::sync::LazyLock;

use regex::Regex;

use super::lints::Block;
use crate::error::Diagnostic;

static PIPE_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:curl|wget)\b[^|]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:ba|z|da|k)?sh\b").expect("regex")
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
            if shell && PIPE_SHELL.is_match(l) {
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
}
