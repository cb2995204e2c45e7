//! Values in `http` requests. A value from outside (an alert's label,
//! `--set`, a capture) goes into a request as data, never as request: a
//! label `../admin` in a path, `x&admin=1` in a query string, a CR LF in a
//! header or `", "admin": true, "x": "` in a JSON body would otherwise send
//! another request than the one the runbook shows.
//!
//! The formatter writes each value as a mark ([`super::mark`]); [`place`]
//! reads the rendered request as `observe::http` parses it (`METHOD URL
//! [HTTP/x]`, headers, a blank line, the body) and puts each value in its
//! place:
//!
//! - the start of the URL: an absolute `http(s)://` base (no whitespace,
//!   control character, `?`, `#`, `\` or userinfo `@`), as it is, or empty
//!   (the line is then no request, and the step fails if it runs);
//! - the host or port: a host name or port;
//! - the path: percent-encoded as one segment (`/` too), never a whole
//!   `.` or `..` segment; the query string and fragment: percent-encoded as
//!   a component (`&`, `=`, `+`, `#` too);
//! - the method or version: a plain word; a header name: a token; a header
//!   value: as it is, without CR, LF or NUL;
//! - the body, by the `Content-Type` it is sent with (without one, JSON
//!   when it starts with `{` or `[`): JSON, inside a string JSON-escaped and
//!   outside one a number, `true`, `false` or `null`; a form
//!   (`application/x-www-form-urlencoded`), percent-encoded; anything else
//!   as it is.

use std::sync::LazyLock;

use super::mark::{Misplaced, OPEN, Piece, pieces};
use crate::quote::{json_inner, percent};

/// Each mark of `rendered` replaced by its value, placed for where it lands.
pub fn place(rendered: &str) -> Result<String, Misplaced> {
    if !rendered.contains(OPEN) {
        return Ok(rendered.to_string());
    }
    let lines: Vec<&str> = rendered.split('\n').collect();
    let blank = |l: &str| l.trim().is_empty();
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() && (blank(lines[i]) || lines[i].trim_start().starts_with('#')) {
        out.push(one_line(lines[i], i + 1)?);
        i += 1;
    }
    if i == lines.len() {
        return Ok(out.join("\n"));
    }
    out.push(request_line(lines[i], i + 1)?);
    i += 1;
    let mut content_type = None;
    while i < lines.len() && !blank(lines[i]) {
        let (line, name, value) = header(lines[i], i + 1)?;
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        }
        out.push(line);
        i += 1;
    }
    if i + 1 < lines.len() {
        out.push(lines[i].to_string());
        out.push(body(&lines[i + 1..].join("\n"), content_type.as_deref(), i + 2)?);
    } else if i < lines.len() {
        out.push(lines[i].to_string());
    }
    Ok(out.join("\n"))
}

/// A line before the request line (a comment): values as they are, on one line.
fn one_line(line: &str, n: usize) -> Result<String, Misplaced> {
    let mut out = String::with_capacity(line.len());
    for p in pieces(line) {
        match p {
            Piece::Char(c) => out.push(c),
            Piece::Value(v) if v.contains(['\r', '\n', '\0']) => {
                return Err(Misplaced { line: n, why: "a value in a comment holds a line break or NUL" });
            }
            Piece::Value(v) => out.push_str(&v),
        }
    }
    Ok(out)
}

/// Is `v` a plain word (a method, `HTTP/1.1`)?
fn plain(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
}

/// `METHOD URL [HTTP/x]` (or a lone URL), each word placed.
fn request_line(line: &str, n: usize) -> Result<String, Misplaced> {
    let words = line.split_whitespace().count();
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut k = 0;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        let is_url = if words == 1 { k == 0 } else { k == 1 };
        if is_url {
            out.push_str(&url(word, n)?);
        } else {
            for p in pieces(word) {
                match p {
                    Piece::Char(c) => out.push(c),
                    Piece::Value(v) if plain(&v) => out.push_str(&v),
                    Piece::Value(_) => {
                        return Err(Misplaced {
                            line: n,
                            why: "a value in the method or version of the request line is not a plain word",
                        });
                    }
                }
            }
        }
        rest = &rest[end..];
        k += 1;
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Scheme,
    Authority,
    Path,
    Query,
    Fragment,
}

/// Is `v` a whole URL base: `http(s)://authority[/path]`, nothing that ends
/// the URL, starts its query or fragment, or moves its host?
fn base(v: &str) -> Option<Part> {
    let rest = v.strip_prefix("http://").or_else(|| v.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let bad = |c: char| !c.is_ascii_graphic() || "?#\\\"<>^`{|}".contains(c);
    if authority.is_empty() || authority.contains('@') || v.contains(bad) {
        return None;
    }
    Some(if rest.contains('/') { Part::Path } else { Part::Authority })
}

/// Is `v` a host name, an IP address or a port (`[::1]` too)?
fn host(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
}

/// Is this path segment a dot segment (`.`, `..`, `%2e.`: a server climbs
/// for those)?
fn dots(segment: &str) -> bool {
    matches!(segment.to_ascii_lowercase().replace("%2e", ".").as_str(), "." | "..")
}

/// The URL word of the request line, each value placed for its part.
fn url(word: &str, n: usize) -> Result<String, Misplaced> {
    let refuse = |why| Err(Misplaced { line: n, why });
    let mut out = String::with_capacity(word.len());
    let mut part = Part::Scheme;
    // The path segment being written, and whether a value is in it.
    let mut segment = String::new();
    let mut valued = false;
    for (k, p) in pieces(word).into_iter().enumerate() {
        match p {
            // Empty, the URL is not one (the step fails if it runs): a step
            // skipped by `when="base != ''"` still renders.
            Piece::Value(v) if k == 0 && v.is_empty() => part = Part::Path,
            Piece::Value(v) if k == 0 => match base(&v) {
                Some(p) => {
                    part = p;
                    out.push_str(&v);
                }
                None => {
                    return refuse(
                        "a value at the start of the URL is not a whole http:// or https:// base (host, optional port and path; no space, `?`, `#`, `\\` or `@`)",
                    );
                }
            },
            Piece::Value(_) if part == Part::Scheme => return refuse("a value inside the URL's scheme"),
            Piece::Value(v) if part == Part::Authority => {
                if !host(&v) {
                    return refuse(
                        "a value in the URL's host or port is not a host name or port (letters, digits, `- . _ : [ ]`)",
                    );
                }
                out.push_str(&v);
            }
            Piece::Value(v) => {
                let v = percent(&v);
                if part == Part::Path {
                    segment.push_str(&v);
                    valued = true;
                }
                out.push_str(&v);
            }
            Piece::Char(c) => {
                if part == Part::Path && "/?#".contains(c) {
                    if valued && dots(&segment) {
                        return refuse("a value makes a `.` or `..` segment of the URL's path");
                    }
                    segment.clear();
                    valued = false;
                } else if part == Part::Path {
                    segment.push(c);
                }
                out.push(c);
                part = match (part, c) {
                    (Part::Scheme, '/') if out.ends_with("://") => Part::Authority,
                    (Part::Authority, '/') => Part::Path,
                    (Part::Authority | Part::Path, '?') => Part::Query,
                    (Part::Authority | Part::Path | Part::Query, '#') => Part::Fragment,
                    _ => part,
                };
            }
        }
    }
    if valued && dots(&segment) {
        return refuse("a value makes a `.` or `..` segment of the URL's path");
    }
    Ok(out)
}

/// A header line, placed: the line, the header's name and its value.
fn header(line: &str, n: usize) -> Result<(String, String, String), Misplaced> {
    let mut out = String::with_capacity(line.len());
    let mut colon = None;
    for p in pieces(line) {
        match p {
            Piece::Char(':') if colon.is_none() => {
                colon = Some(out.len());
                out.push(':');
            }
            Piece::Char(c) => out.push(c),
            Piece::Value(v) if colon.is_none() => {
                let token = |c: char| c.is_ascii_alphanumeric() || "-_!#$%&'*+.^`|~".contains(c);
                if v.is_empty() || !v.chars().all(token) {
                    return Err(Misplaced {
                        line: n,
                        why: "a value in a header's name is not a token (letters, digits, `-`)",
                    });
                }
                out.push_str(&v);
            }
            Piece::Value(v) if v.contains(['\r', '\n', '\0']) => {
                return Err(Misplaced {
                    line: n,
                    why: "a value in a header holds a CR, LF or NUL (it would add headers to the request)",
                });
            }
            Piece::Value(v) => out.push_str(&v),
        }
    }
    let (name, value) = match colon {
        Some(at) => (out[..at].trim().to_string(), out[at + 1..].trim().to_string()),
        None => (String::new(), String::new()),
    };
    Ok((out, name, value))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Form,
    Other,
}

/// The body's kind, by the `Content-Type` it is sent with.
fn kind(content_type: Option<&str>, body: &str) -> Kind {
    let Some(ct) = content_type else {
        let t = body.trim_start();
        return if t.starts_with('{') || t.starts_with('[') { Kind::Json } else { Kind::Other };
    };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.ends_with("/json") || media.ends_with("+json") {
        Kind::Json
    } else if media == "application/x-www-form-urlencoded" {
        Kind::Form
    } else {
        Kind::Other
    }
}

/// A JSON number, `true`, `false` or `null`.
static JSON_SCALAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)$").expect("valid regex")
});

/// The body (from 1-based line `first` of the request), placed by its kind.
fn body(marked: &str, content_type: Option<&str>, first: usize) -> Result<String, Misplaced> {
    let kind = kind(content_type, marked);
    let mut out = String::with_capacity(marked.len());
    let mut line = first;
    let mut in_string = false;
    let mut escaped = false;
    for p in pieces(marked) {
        match p {
            Piece::Char(c) => {
                out.push(c);
                line += usize::from(c == '\n');
                if kind == Kind::Json {
                    (in_string, escaped) = match (in_string, escaped, c) {
                        (true, false, '\\') => (true, true),
                        (true, false, '"') => (false, false),
                        (false, _, '"') => (true, false),
                        (s, _, _) => (s, false),
                    };
                }
            }
            Piece::Value(v) => match kind {
                Kind::Json if escaped => {
                    return Err(Misplaced { line, why: "a value right after a backslash in a JSON string" });
                }
                Kind::Json if in_string => out.push_str(&json_inner(&v)),
                Kind::Json if JSON_SCALAR.is_match(&v) => out.push_str(&v),
                Kind::Json => {
                    return Err(Misplaced {
                        line,
                        why: "a value outside a JSON string is not a number, true, false or null",
                    });
                }
                Kind::Form => out.push_str(&percent(&v)),
                Kind::Other => out.push_str(&v),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::mark::mark;
    use super::*;

    fn r(template: &str, values: &[&str]) -> Result<String, Misplaced> {
        let mut s = template.to_string();
        for v in values {
            s = s.replacen("{}", &mark(v), 1);
        }
        place(&s)
    }

    fn why(template: &str, values: &[&str]) -> (usize, &'static str) {
        let m = r(template, values).unwrap_err();
        (m.line, m.why)
    }

    #[test]
    fn a_base_url_at_the_start_goes_in_as_it_is() {
        assert_eq!(r("GET {}/healthz", &["http://localhost:8545"]).unwrap(), "GET http://localhost:8545/healthz");
        assert_eq!(r("GET {}/", &["https://h.svc/prefix/"]).unwrap(), "GET https://h.svc/prefix//");
        assert_eq!(r("{}/x", &["http://h"]).unwrap(), "http://h/x");
        assert_eq!(r("GET {}/pods/{}", &["", "a/b"]).unwrap(), "GET /pods/a%2Fb", "empty: no URL, values still placed");
        for bad in [
            "localhost:8545",
            "http://",
            "http://a b",
            "http://h/?x=1",
            "http://h#f",
            "http://evil@h",
            "http:\\\\h",
            "ftp://h",
        ] {
            assert_eq!(why("GET {}/healthz", &[bad]).0, 1, "{bad:?}");
        }
    }

    #[test]
    fn a_value_in_the_path_is_one_segment() {
        assert_eq!(r("GET http://h/api/{}/x", &["../admin"]).unwrap(), "GET http://h/api/..%2Fadmin/x");
        assert_eq!(r("GET {}/pods/{}", &["http://h", "a b?c#d"]).unwrap(), "GET http://h/pods/a%20b%3Fc%23d");
        assert_eq!(r("GET http://h/{}", &["é"]).unwrap(), "GET http://h/%C3%A9");
        assert_eq!(r("GET http://h/v{}/x", &[".."]).unwrap(), "GET http://h/v../x", "not a whole segment");
        for v in [".", ".."] {
            assert!(r("GET http://h/a/{}/b", &[v]).is_err());
            assert!(r("GET http://h/a/{}", &[v]).is_err());
            assert!(r("GET http://h/a/{}?q", &[v]).is_err());
        }
        assert!(r("GET http://h/a/{}{}/b", &[".", "."]).is_err());
        assert!(r("GET http://h/a/%2e{}/b", &["."]).is_err());
    }

    #[test]
    fn a_value_in_the_query_or_fragment_is_one_component() {
        assert_eq!(
            r("GET http://h/x?pod={}&n=1#{}", &["a&admin=1#", "b c+"]).unwrap(),
            "GET http://h/x?pod=a%26admin%3D1%23&n=1#b%20c%2B"
        );
        assert_eq!(r("GET {}?q={}", &["http://h", ".."]).unwrap(), "GET http://h?q=..");
    }

    #[test]
    fn a_value_in_the_host_or_scheme() {
        assert_eq!(r("GET http://{}:{}/x", &["node-1.svc", "8545"]).unwrap(), "GET http://node-1.svc:8545/x");
        assert!(r("GET http://{}/x", &["evil.com/"]).is_err());
        assert!(r("GET http://{}/x", &["u@evil.com"]).is_err());
        assert!(r("GET http{}://h/x", &["s"]).is_err());
    }

    #[test]
    fn the_method_and_version_are_plain_words() {
        assert_eq!(r("{} http://h/ HTTP/{}", &["POST", "1.1"]).unwrap(), "POST http://h/ HTTP/1.1");
        assert_eq!(why("# probe\n{} http://h/", &["GET http://evil/ HTTP/1.1\n"]).0, 2);
    }

    #[test]
    fn a_header_value_holds_no_line_break_and_a_name_is_a_token() {
        assert_eq!(
            r("GET http://h/\nAuthorization: Bearer {}\n", &["t0k:en=="]).unwrap(),
            "GET http://h/\nAuthorization: Bearer t0k:en==\n"
        );
        for bad in ["t\r\nX-Admin: 1", "t\nx", "t\0"] {
            assert_eq!(why("GET http://h/\nAuthorization: Bearer {}", &[bad]).0, 2);
        }
        assert_eq!(r("GET http://h/\nX-{}: 1", &["Trace"]).unwrap(), "GET http://h/\nX-Trace: 1");
        assert!(r("GET http://h/\n{}", &["X-Admin: 1"]).is_err());
        assert!(r("GET http://h/\n{}: 1", &[""]).is_err());
    }

    #[test]
    fn a_json_body_takes_values_as_json() {
        let t = "POST http://h/\nContent-Type: application/json\n\n{\"a\": \"{}\", \"n\": {}}";
        assert_eq!(
            r(t, &["x\", \"admin\": true, \"y\": \"\\", "3"]).unwrap(),
            "POST http://h/\nContent-Type: application/json\n\n{\"a\": \"x\\\", \\\"admin\\\": true, \\\"y\\\": \\\"\\\\\", \"n\": 3}"
        );
        assert_eq!(
            why(t, &["x", "1, \"admin\": true"]),
            (4, "a value outside a JSON string is not a number, true, false or null")
        );
        for ok in ["-1.5e3", "true", "null", "0"] {
            assert!(r(t, &["x", ok]).is_ok(), "{ok}");
        }
        // Without a Content-Type, a body in braces is JSON; an escaped quote does not end the string.
        assert_eq!(
            r("POST http://h/\n\n{\"a\": \"\\\"{}\"}", &["\""]).unwrap(),
            "POST http://h/\n\n{\"a\": \"\\\"\\\"\"}"
        );
        assert!(r("POST http://h/\n\n{\"a\": \"\\{}\"}", &["\""]).is_err());
        let vnd = "POST http://h/\nContent-Type: application/vnd.api+json; charset=utf-8\n\n[{}]";
        assert!(r(vnd, &["1]"]).is_err());
    }

    #[test]
    fn a_form_body_is_percent_encoded_and_another_body_verbatim() {
        let form = "POST http://h/\nContent-Type: application/x-www-form-urlencoded\n\na={}&b=1";
        assert_eq!(
            r(form, &["x&b=2"]).unwrap(),
            "POST http://h/\nContent-Type: application/x-www-form-urlencoded\n\na=x%26b%3D2&b=1"
        );
        let text = "POST http://h/\nContent-Type: text/plain\n\n{}";
        assert_eq!(r(text, &["a\"\nb"]).unwrap(), "POST http://h/\nContent-Type: text/plain\n\na\"\nb");
    }

    /// Percent-decoding, as a server reads a path segment or query value.
    fn decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn every_value_reads_back_as_itself(v in any::<String>()) {
            let placed = r("POST http://h/a/{}/b?q={}&n=1\nContent-Type: application/json\n\n{\"v\": \"{}\"}", &[&v, &v, &v]);
            if v == "." || v == ".." {
                prop_assert!(placed.is_err());
                return Ok(());
            }
            let placed = placed.unwrap();
            let (head, json) = placed.split_once("\n\n").unwrap();
            let url = head.lines().next().unwrap().split(' ').nth(1).unwrap();
            let path = url.split('?').next().unwrap();
            let segment = path.strip_prefix("http://h/a/").unwrap().strip_suffix("/b").unwrap();
            prop_assert!(!segment.contains('/'));
            prop_assert_eq!(decode(segment), v.as_bytes());
            let query = url.split_once('?').unwrap().1;
            let (q, rest) = query.strip_prefix("q=").unwrap().split_once('&').unwrap();
            prop_assert_eq!(rest, "n=1");
            prop_assert_eq!(decode(q), v.as_bytes());
            let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
            prop_assert_eq!(parsed["v"].as_str().unwrap(), v.as_str());
        }
    }
}
