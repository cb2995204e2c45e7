//! `http` steps: a request written like a `.http` file, for health probes
//! (they replace `ops/scripts/wait_for.sh` loops with `retry`/`delay`).
//!
//! ```text
//! # comments before the request line
//! POST https://rpc.example/ HTTP/1.1      ← METHOD URL [HTTP/x]
//! Content-Type: application/json          ← optional headers
//!                                         ← a blank line
//! {"jsonrpc":"2.0","method":"chain_head"} ← optional body
//! ```

use std::time::Duration;

use super::expect::Data;
use super::net;

pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// At most this much of a response body goes to the step's output.
pub const SHOWN_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A problem in a request, at a 0-based line of the step body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub line: usize,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub body: String,
}

fn bad(line: usize, message: impl Into<String>, hint: impl Into<String>) -> RequestError {
    RequestError { line, message: message.into(), hint: hint.into() }
}

/// Parse a (rendered) step body.
pub fn parse(body: &str) -> Result<Request, RequestError> {
    let lines: Vec<&str> = body.lines().collect();
    let mut i = 0;
    while i < lines.len() && (lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#')) {
        i += 1;
    }
    let Some(first) = lines.get(i) else {
        return Err(bad(0, "empty http step: no request line", "write `GET https://host/path` as the first line"));
    };
    let parts: Vec<&str> = first.split_whitespace().collect();
    let (method, url) = match parts.as_slice() {
        [m, u] => (*m, *u),
        [m, u, v] if v.starts_with("HTTP/") => (*m, *u),
        [u] if u.contains("://") => ("GET", *u),
        _ => {
            return Err(bad(
                i,
                format!("`{}` is not a request line", first.trim()),
                "write `METHOD URL`, e.g. `GET https://host/healthz`",
            ));
        }
    };
    if !METHODS.contains(&method) {
        let hint = match METHODS.iter().find(|m| m.eq_ignore_ascii_case(method)) {
            Some(m) => format!("write it in capitals: `{m}`"),
            None => format!("methods: {}", METHODS.join(", ")),
        };
        return Err(bad(i, format!("unknown HTTP method `{method}`"), hint));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len() {
        return Err(bad(
            i,
            format!("`{url}` is not an http:// or https:// URL"),
            "write the full URL: `GET https://host:port/path`",
        ));
    }
    if url.parse::<ureq::http::Uri>().is_err() {
        return Err(bad(i, format!("`{url}` is not a valid URL"), "percent-encode spaces and special characters"));
    }
    let mut headers = Vec::new();
    i += 1;
    while i < lines.len() && !lines[i].trim().is_empty() {
        let l = lines[i];
        let Some((k, v)) = l.split_once(':') else {
            return Err(bad(
                i,
                format!("`{}` is not a header", l.trim()),
                "headers are `Name: value`; leave a blank line before the body",
            ));
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || "-_!#$%&'*+.^`|~".contains(c)) {
            return Err(bad(
                i,
                format!("`{k}` is not a header name"),
                "headers are `Name: value`; leave a blank line before the body",
            ));
        }
        headers.push((k.to_string(), v.trim().to_string()));
        i += 1;
    }
    let body = if i < lines.len() { Some(lines[i + 1..].join("\n").trim_end().to_string()) } else { None };
    let body = body.filter(|b| !b.is_empty());
    if body.is_some() && matches!(method, "GET" | "HEAD") {
        return Err(bad(
            i + 1,
            format!("a {method} request with a body"),
            "use POST/PUT for a body, or remove the lines after the blank line",
        ));
    }
    Ok(Request { method: method.to_string(), url: url.to_string(), headers, body })
}

/// Send the request. Any HTTP status is an answer (`expect` judges it);
/// only a transport failure is an error.
pub fn send(r: &Request, timeout: Duration) -> Result<Response, String> {
    let what = format!("{} {}", r.method, r.url);
    let reply = net::send(&what, &r.method, &r.url, &[], &r.headers, r.body.as_deref(), timeout)?;
    Ok(Response { status: reply.status, reason: reply.reason, body: reply.body })
}

impl Response {
    /// The step's output: the status line and the (bounded) body.
    pub fn render(&self) -> String {
        let mut out = format!("HTTP {} {}\n", self.status, self.reason);
        let mut body = self.body.as_str();
        let mut cut = false;
        if body.len() > SHOWN_BYTES {
            let mut end = SHOWN_BYTES;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body = &body[..end];
            cut = true;
        }
        out.push_str(body);
        if !body.is_empty() && !body.ends_with('\n') {
            out.push('\n');
        }
        if cut {
            out.push_str(&format!("… ({} bytes in all; the first {SHOWN_BYTES} shown)\n", self.body.len()));
        }
        out
    }

    pub fn data(&self) -> Data {
        Data { rows: Vec::new(), status: Some(self.status), body: Some(self.body.clone()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_forms() {
        let r = parse("# probe\nPOST http://x:1/rpc HTTP/1.1\nContent-Type: application/json\n\n{\"a\":1}\n").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
        assert_eq!(r.body.as_deref(), Some("{\"a\":1}"));
        let r = parse("GET http://x/healthz\n").unwrap();
        assert_eq!((r.method.as_str(), r.body), ("GET", None));
    }

    #[test]
    fn request_errors_have_lines() {
        assert_eq!(parse("\nget http://x/").unwrap_err().hint, "write it in capitals: `GET`");
        assert_eq!(parse("GET x/").unwrap_err().line, 0);
        assert_eq!(parse("GET http://x/\nnot a header\n").unwrap_err().line, 1);
        assert!(parse("GET http://x/\n\nbody").unwrap_err().message.contains("with a body"));
        assert!(parse("  \n").unwrap_err().message.contains("empty"));
    }
}
