//! HTTP requests that change something: a method other than GET or HEAD,
//! or a body, as curl says it (`-X POST`, `-sXPOST`, `-d`, `-sSd x`, `-F`,
//! `-T`, `--json`; not `-G -d q=1`, a query), as wget says it
//! (`--post-data`, `--method`), and as HTTPie says it (`http DELETE URL`,
//! `http URL name=value`; not `Header:value` nor `q==1`). curl's `-Q` (FTP
//! commands) and `--mail-rcpt` (a mail sent) change something too.

use super::Call;
use super::opts::{Opt, Spec};

/// curl's options that take a value.
#[rustfmt::skip]
pub const CURL: Spec = Spec {
    short: "AbcCdDeEFHKmoPQrtTuUwxXyYz",
    attached: "",
    long: &[
        "--request", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--data-ascii", "--form",
        "--form-string", "--json", "--upload-file", "--output", "--header", "--user", "--config", "--cookie",
        "--cookie-jar", "--dump-header", "--max-time", "--connect-timeout", "--write-out", "--proxy", "--cacert",
        "--cert", "--key", "--resolve", "--retry", "--url", "--user-agent", "--referer", "--quote", "--mail-rcpt",
        "--mail-from", "--trace", "--trace-ascii", "--stderr", "--output-dir", "--libcurl", "--etag-save", "--hsts",
        "--alt-svc", "--unix-socket", "--interface", "--limit-rate", "--range", "--oauth2-bearer", "--retry-delay",
        "--retry-max-time", "--capath", "--ciphers", "--variable", "--url-query", "--aws-sigv4", "--request-target",
        "--connect-to", "--noproxy", "--proxy-user", "--max-filesize", "--time-cond",
    ],
    posix: false,
};

/// HTTPie's options that take a value.
#[rustfmt::skip]
const HTTPIE: Spec = Spec {
    short: "aAoPps",
    attached: "",
    long: &[
        "--auth", "--auth-type", "--output", "--session", "--session-read-only", "--verify", "--cert", "--cert-key",
        "--timeout", "--max-redirects", "--proxy", "--print", "--history-print", "--pretty", "--style",
        "--format-options", "--boundary", "--default-scheme", "--ssl", "--ciphers", "--response-charset",
        "--response-mime",
    ],
    posix: false,
};

fn safe_method(m: &str) -> bool {
    ["GET", "HEAD", "OPTIONS"].iter().any(|s| m.eq_ignore_ascii_case(s))
}

/// Does the call send a request that changes something?
pub fn writes(c: &Call) -> bool {
    match c.program.as_str() {
        "curl" => curl(c),
        "wget" => c.args.iter().any(|a| ["--post-", "--method", "--body-"].iter().any(|p| a.starts_with(p))),
        "http" | "https" => httpie(c),
        "curlie" => curl(c) || httpie(c),
        _ => false,
    }
}

fn curl(c: &Call) -> bool {
    let o = c.opts(&CURL);
    // `--data-raw`, `--form-string`, and the prefixes older curls take (`--upl`).
    let long = |l: &str, names: &[&str]| names.iter().any(|n| l.starts_with(n) || (l.len() >= 3 && n.starts_with(l)));
    let mut query_only = o.has('G', "get");
    let mut body = false;
    for opt in &o.opts {
        match *opt {
            Opt::Short('d', _) => body = true,
            Opt::Long(l, _) if long(l, &["data"]) => body = true,
            Opt::Short('F' | 'T', _) => (body, query_only) = (true, false),
            Opt::Long(l, _) if long(l, &["form", "json", "upload-file"]) => (body, query_only) = (true, false),
            _ => {}
        }
    }
    let method = o.values('X', "request").last().copied();
    (body && !query_only)
        || method.is_some_and(|m| !safe_method(m))
        || o.has('Q', "quote")
        || o.opts.iter().any(|x| matches!(x, Opt::Long(l, _) if long(l, &["mail-rcpt"])))
}

/// `http [METHOD] URL [ITEM…]`: a method, or an item that is a body field
/// (`name=value`, `name:=json`, `name@file`).
fn httpie(c: &Call) -> bool {
    let o = c.opts(&HTTPIE);
    if o.has('f', "form") || o.has('\0', "raw") || o.has('\0', "multipart") {
        return true;
    }
    let words: Vec<&str> = o.operands().collect();
    let method = words.first().filter(|m| words.len() > 1 && m.chars().all(|c| c.is_ascii_alphabetic()));
    if let Some(m) = method {
        return !safe_method(m);
    }
    words.iter().skip(1).any(|item| body_item(item))
}

/// An HTTPie request item that is a body field: its first separator is
/// `=` (not `==`, a query), `:=`, or `@`; `Header:value` is a header.
fn body_item(item: &str) -> bool {
    let Some(i) = item.find([':', '=', '@']) else { return false };
    let after = &item[i + 1..];
    match item.as_bytes()[i] {
        b':' => after.starts_with('='),
        b'=' => !after.starts_with('='),
        _ => true,
    }
}
