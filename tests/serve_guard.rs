//! `runbook serve`'s guards over HTTP: the `Host` check of a listener
//! without a token (DNS rebinding), the token's cookie (its name, its
//! `SameSite`, several at once) and the `Authorization` scheme.
//!
//! Requests are written by hand on a TCP socket, so that `Host` is exactly
//! what the test says (or absent).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::serve::{Serve, only_run, play, project};

/// A response: its status, its head's lines (lowercased names) and its body
/// (empty for an event stream, which does not end).
struct Answer {
    status: u16,
    head: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.head.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// `GET path` on the server at `url` (`http://127.0.0.1:PORT`), with `Host:
/// host` when given (none at all otherwise) and the other headers given.
fn raw(url: &str, version: &str, path: &str, host: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(crate::common::browser::WAIT_LIMIT)).unwrap();
    let mut req = format!("GET {path} {version}\r\n");
    if let Some(h) = host {
        req.push_str(&format!("Host: {h}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{path}: {line:?}"));
    let mut head = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        head.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut body = String::new();
    let stream = head.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
    if !stream {
        r.read_to_string(&mut body).unwrap();
    }
    Answer { status, head, body }
}

fn get(url: &str, path: &str, host: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    raw(url, "HTTP/1.1", path, host, headers)
}

fn port(url: &str) -> &str {
    url.rsplit(':').next().unwrap()
}

/// Every kind of route: pages, parts, the runbooks, an asset, the API, a
/// log, both event streams, and one that does not exist.
fn routes(id: &str) -> Vec<String> {
    vec![
        "/".into(),
        format!("/runs/{id}"),
        format!("/runs/{id}/report.md"),
        "/parts/runs".into(),
        format!("/parts/runs/{id}"),
        "/runbooks".into(),
        "/runbooks/demo".into(),
        "/assets/serve.js".into(),
        "/api/runs".into(),
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/log/a"),
        format!("/api/runs/{id}/events"),
        "/api/events".into(),
        "/nope".into(),
    ]
}

#[test]
fn without_a_token_a_request_naming_another_host_is_refused_on_every_route() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let p = port(&s.url);
    for host in [format!("attacker.example:{p}"), "attacker.example".into(), format!("127.0.0.1.nip.io:{p}")] {
        for path in routes(&id) {
            let a = get(&s.url, &path, Some(&host), &[]);
            assert_eq!(a.status, 421, "{host} {path}");
            assert_eq!(
                a.body,
                format!(
                    "runbook serve: refused: the request names host `{host}`, not this machine's loopback \
                     (a page elsewhere may have pointed its name at 127.0.0.1)\n\
                     open http://127.0.0.1:{p}/ (the address runbook serve printed), \
                     or serve with a token (--token or RUNBOOK_SERVE_TOKEN) to be reached under another name\n"
                ),
                "{host} {path}"
            );
            assert_eq!(a.header("content-type"), ["text/plain; charset=utf-8"], "{path}");
            assert_eq!(a.header("x-content-type-options"), ["nosniff"], "{path}");
        }
    }
    // An absolute-form request names its host in the request line.
    let a = get(&s.url, &format!("http://attacker.example:{p}/api/runs"), Some(&format!("127.0.0.1:{p}")), &[]);
    assert_eq!(a.status, 421);
}

#[test]
fn without_a_token_loopback_names_and_a_request_without_host_are_served() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let p = port(&s.url);
    for host in [
        format!("127.0.0.1:{p}"),
        "127.0.0.1".into(),
        format!("127.0.0.2:{p}"),
        format!("localhost:{p}"),
        format!("LocalHost:{p}"),
        format!("view.localhost:{p}"),
        format!("[::1]:{p}"),
    ] {
        for path in routes(&id).into_iter().filter(|r| r != "/nope") {
            let a = get(&s.url, &path, Some(&host), &[]);
            assert_eq!(a.status, 200, "{host} {path}: {}", a.body);
        }
    }
    // A browser always sends `Host`: a request without it is no rebinding page.
    let a = raw(&s.url, "HTTP/1.0", "/api/runs", None, &[]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains(&id));
}

#[test]
fn with_a_token_the_token_guards_whatever_the_host() {
    let t = project();
    play(&t, 1);
    let s = Serve::start(t.path(), &["--token", "s3cr3t-tok"], &[]);
    let host = format!("runbook.example:{}", port(&s.url));
    assert_eq!(get(&s.url, "/api/runs", Some(&host), &[]).status, 401);
    assert_eq!(get(&s.url, "/api/runs", Some(&host), &[("Authorization", "Bearer s3cr3t-tok")]).status, 200);
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let t = project();
    play(&t, 1);
    let s = Serve::start(t.path(), &["--token", "s3cr3t-tok"], &[]);
    let host = s.url.strip_prefix("http://").unwrap().to_string();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} s3cr3t-tok");
        assert_eq!(get(&s.url, "/api/runs", Some(&host), &[("Authorization", &auth)]).status, 200, "{scheme}");
    }
    assert_eq!(get(&s.url, "/api/runs", Some(&host), &[("Authorization", "Basic s3cr3t-tok")]).status, 401);
}

/// The cookie `?token=` sets on the instance at `url`.
fn set_cookie(url: &str, token: &str) -> String {
    let host = url.strip_prefix("http://").unwrap();
    let a = get(url, &format!("/runs?token={token}"), Some(host), &[]);
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location"), ["/runs"]);
    let c = a.header("set-cookie");
    assert_eq!(c.len(), 1, "{c:?}");
    c[0].to_string()
}

#[test]
fn the_cookie_is_lax_and_named_after_its_instance_and_any_of_its_values_may_match() {
    let t = project();
    play(&t, 1);
    let one = Serve::start(t.path(), &["--token", "token-of-one"], &[]);
    let two = Serve::start(t.path(), &["--token", "token-of-two"], &[]);
    let (p1, p2) = (port(&one.url).to_string(), port(&two.url).to_string());
    assert_eq!(
        set_cookie(&one.url, "token-of-one"),
        format!("runbook_serve_{p1}=token-of-one; Path=/; HttpOnly; SameSite=Lax")
    );
    assert_eq!(
        set_cookie(&two.url, "token-of-two"),
        format!("runbook_serve_{p2}=token-of-two; Path=/; HttpOnly; SameSite=Lax")
    );
    // A browser sends both instances' cookies to each (cookies know no port).
    let both = format!("runbook_serve_{p1}=token-of-one; runbook_serve_{p2}=token-of-two");
    let reversed = format!("runbook_serve_{p2}=token-of-two; runbook_serve_{p1}=token-of-one");
    for s in [&one, &two] {
        let host = s.url.strip_prefix("http://").unwrap();
        for cookie in [&both, &reversed] {
            assert_eq!(get(&s.url, "/api/runs", Some(host), &[("Cookie", cookie)]).status, 200, "{} {cookie}", s.url);
        }
    }
    // One instance's cookie does not open the other.
    let host2 = two.url.strip_prefix("http://").unwrap();
    let of_one = format!("runbook_serve_{p2}=token-of-one");
    assert_eq!(get(&two.url, "/api/runs", Some(host2), &[("Cookie", &of_one)]).status, 401);
    // A stale cookie of the same name before (or after) the right one.
    let host1 = one.url.strip_prefix("http://").unwrap();
    for cookie in [
        format!("runbook_serve_{p1}=stale-token; runbook_serve_{p1}=token-of-one"),
        format!("runbook_serve_{p1}=token-of-one; runbook_serve_{p1}=stale-token"),
    ] {
        assert_eq!(get(&one.url, "/api/runs", Some(host1), &[("Cookie", &cookie)]).status, 200, "{cookie}");
    }
    let stale = format!("runbook_serve_{p1}=stale-token");
    assert_eq!(get(&one.url, "/api/runs", Some(host1), &[("Cookie", &stale)]).status, 401);
}

#[test]
fn raw_html_in_a_runbook_cannot_redirect_or_run() {
    let t = crate::common::Test::new().runbook(
        "evil",
        r#"
        # Evil

        <meta http-equiv="refresh" content="0;url=https://evil.example/">

        Read <a href="javascript:alert(1)">this</a>, [that](javascript:alert(2)) and [the doc](https://example.com/doc).

        <img src="/x" onerror="alert(3)">

        - one
        - `two`

        ```bash {#a read}
        echo hi
        ```
        "#,
    );
    let s = Serve::start(t.path(), &[], &[]);
    let host = s.url.strip_prefix("http://").unwrap();
    let page = get(&s.url, "/runbooks/evil", Some(host), &[]);
    assert_eq!(page.status, 200);
    let at = page.body.find("<article").unwrap();
    let b = &page.body[at..page.body.find("</article>").unwrap()];
    for bad in ["<meta", "evil.example", "javascript:", "onerror"] {
        assert!(!b.contains(bad), "{bad} in:\n{b}");
    }
    assert!(
        b.contains(
            "<p>Read <a rel=\"noopener noreferrer\">this</a>, <a rel=\"noopener noreferrer\">that</a> and \
             <a href=\"https://example.com/doc\" rel=\"noopener noreferrer\">the doc</a>.</p>\n\
             <img src=\"/x\">\n<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>\n"
        ),
        "{b}"
    );
    // The wiki's own markup stays: the step's header and its command.
    assert!(b.contains("<div class=\"runbook-step\" id=\"step-a\">"), "{b}");
    assert!(b.contains("<pre class=\"runbook-code\"><code class=\"language-bash\">echo hi</code></pre>"), "{b}");
}
