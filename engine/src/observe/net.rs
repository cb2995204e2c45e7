//! The one place that talks HTTP, so that every query step has the same
//! timeouts, size limit and error wording ("cannot reach …", "no answer from
//! … within 5s") whatever API it calls.

use std::time::Duration;

use ureq::Agent;

/// What a server answered, before any API-specific parsing.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub reason: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// At most this much of a response body is read (a query result larger than
/// this is not something a runbook gate should look at).
pub const BODY_LIMIT: u64 = 16 * 1024 * 1024;

fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("runbook/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Send a request. `what` names the server in messages ("Prometheus at
/// http://…"). Errors are one line, for the step's failure reason.
pub fn send(
    what: &str,
    method: &str,
    url: &str,
    query: &[(&str, &str)],
    headers: &[(String, String)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<Reply, String> {
    let url = with_query(url, query);
    let agent = agent(timeout);
    let res = match body {
        Some(text) if !text.is_empty() => {
            let rb = match method {
                "POST" => agent.post(&url),
                "PUT" => agent.put(&url),
                "PATCH" => agent.patch(&url),
                "DELETE" => agent.delete(&url).force_send_body(),
                "OPTIONS" => agent.options(&url).force_send_body(),
                other => return Err(format!("{what}: a {other} request cannot carry a body")),
            };
            let mut rb = rb;
            for (k, v) in headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            rb.send(text)
        }
        _ => {
            let mut b = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                b = b.header(k.as_str(), v.as_str());
            }
            let req = b.body(()).map_err(|e| format!("{what}: invalid request: {e}"))?;
            agent.run(req)
        }
    };
    let mut res = res.map_err(|e| describe(what, &e, timeout))?;
    let status = res.status();
    let header = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let content_type = header("content-type");
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = res
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .lossy_utf8(true)
        .read_to_string()
        .map_err(|e| describe(what, &e, timeout))?;
    Ok(Reply {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        content_type,
        headers,
        body,
    })
}

/// `url?k=v&…`, percent-encoded.
pub fn with_query(url: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.join("&"))
}

/// Percent-encode everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn describe(what: &str, e: &ureq::Error, timeout: Duration) -> String {
    let t = humantime::format_duration(timeout);
    match e {
        ureq::Error::Timeout(_) => format!("no answer from {what} within {t} (the step's timeout)"),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("cannot reach {what}: connection refused"),
            std::io::ErrorKind::TimedOut => format!("no answer from {what} within {t} (the step's timeout)"),
            _ => format!("cannot reach {what}: {io}"),
        },
        ureq::Error::HostNotFound => format!("cannot reach {what}: host not found (DNS)"),
        ureq::Error::ConnectionFailed => format!("cannot reach {what}: connection failed"),
        ureq::Error::BodyExceedsLimit(n) => format!("{what} answered more than {n} bytes: refine the query"),
        other => format!("{what}: {other}"),
    }
}

/// A short, one-line excerpt of a body for error messages.
pub fn excerpt(body: &str) -> String {
    let one: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 160 { format!("{}…", one.chars().take(160).collect::<String>()) } else { one }
}

/// Does this answer look like an HTML page (a login page, a proxy's error)?
pub fn is_html(r: &Reply) -> bool {
    r.content_type.contains("html") || r.body.trim_start().starts_with('<')
}
