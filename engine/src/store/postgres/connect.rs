//! From a `postgres://` state to connections: the URL (with `sslmode` and
//! `sslrootcert` as libpq reads them), the password (the URL, else
//! `PGPASSWORD`, else `~/.pgpass`), TLS through rustls, and the pool.
//!
//! Messages name the database as `postgres://user@host:port/db`: never
//! with its password.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Diagnostic, Error, Result};

/// How long connecting may take before the database counts as unreachable
/// (`RUNBOOK_PG_CONNECT_TIMEOUT`, seconds).
fn connect_timeout() -> Duration {
    crate::store::postgres::env_duration("RUNBOOK_PG_CONNECT_TIMEOUT", Duration::from_secs(5))
}

/// A connection of ours, to drive.
pub type Connection = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

/// A parsed state URL: what to connect to and how.
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    /// `postgres://user@host:port/db`, for messages.
    pub display: String,
    /// `host:port`, for the unreachable message.
    pub address: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let bad = |what: String| {
            Error::invalid(Diagnostic::error("state-url", format!("state: {what}")).hint(
                "state = \"postgres://USER@HOST:5432/DB?sslmode=require\" (password from PGPASSWORD or ~/.pgpass)",
            ))
        };
        // The user part (between `//` and the last `@`) holds none of
        // `@ / ? #` raw: the client would end the password at the first one
        // and take the rest for the host (which messages show) or a query.
        let after = url.split_once("://").map_or(url, |(_, r)| r);
        if let Some(at) = after.rfind('@') {
            let head = &after[..at];
            // `?password=a@b`: an `@` in a parameter's value.
            if head.find('?').is_some_and(|q| head[q..].contains('=')) {
                return Err(bad(format!(
                    "{}: a raw `@` in the parameters (percent-encode it: %40)",
                    crate::state_url::redact(url)
                )));
            }
            let mut raw: Vec<char> = Vec::new();
            for c in head.chars().filter(|c| "@/?#".contains(*c)) {
                if !raw.contains(&c) {
                    raw.push(c);
                }
            }
            if !raw.is_empty() {
                let code = |c: &char| match c {
                    '@' => "%40",
                    '/' => "%2F",
                    '?' => "%3F",
                    _ => "%23",
                };
                let chars: Vec<String> = raw.iter().map(|c| format!("`{c}`")).collect();
                let codes: Vec<&str> = raw.iter().map(code).collect();
                return Err(bad(format!(
                    "{}: a raw {} in the user or password (percent-encode {}: {})",
                    crate::state_url::redact(url),
                    chars.join(" and "),
                    if raw.len() == 1 { "it" } else { "them" },
                    codes.join(", ")
                )));
            }
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut sslmode = None;
        let mut rootcert = None;
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("sslmode", v)) => sslmode = Some(v.to_string()),
                Some(("sslrootcert", v)) => rootcert = Some(PathBuf::from(v)),
                _ => rest.push(kv),
            }
        }
        let cleaned = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
        let mut config = tokio_postgres::Config::from_str(&cleaned)
            .map_err(|e| bad(format!("not a PostgreSQL URL ({}): {e}", crate::state_url::redact(url))))?;
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER").unwrap_or_else(|_| crate::store::operator::account());
            config.user(user);
        }
        if config.get_dbname().is_none() {
            let db = config.get_user().unwrap_or_default().to_string();
            config.dbname(db);
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        if config.get_password().is_none()
            && let Some(pw) = password(&host, port, config.get_dbname().unwrap_or(""), config.get_user().unwrap_or(""))
        {
            config.password(pw);
        }
        config.connect_timeout(connect_timeout());
        // A peer gone without a word (a network that drops packets) breaks
        // the connection within about half a minute, not TCP's fifteen.
        config.keepalives(true).keepalives_idle(Duration::from_secs(10)).keepalives_interval(Duration::from_secs(5));
        config.keepalives_retries(3).tcp_user_timeout(Duration::from_secs(30));
        config.application_name("runbook");
        let (mode, verify) = match sslmode.as_deref().unwrap_or("prefer") {
            "disable" => (SslMode::Disable, false),
            "allow" | "prefer" => (SslMode::Prefer, false),
            "require" => (SslMode::Require, false),
            "verify-ca" | "verify-full" => (SslMode::Require, true),
            other => {
                return Err(bad(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        };
        config.ssl_mode(mode);
        let tls = tls(verify, rootcert.as_deref()).map_err(|e| bad(format!("TLS: {e}")))?;
        let display = format!(
            "postgres://{}@{host}:{port}/{}",
            config.get_user().unwrap_or(""),
            config.get_dbname().unwrap_or("")
        );
        Ok(Target { config, tls, display, address: format!("{host}:{port}") })
    }

    /// The store cannot be reached: exit 2, naming host and port.
    pub fn unreachable(&self, e: &dyn std::fmt::Display) -> Error {
        Error::invalid(
            Diagnostic::error("state-unreachable", format!("cannot reach the state database at {}: {e}", self.address))
                .hint(
                    "check that PostgreSQL runs there and accepts this machine, and the host and port of the state URL",
                ),
        )
    }

    /// One connection (the engine's, the step logs'), driven on the current
    /// runtime. The whole of it (TCP, TLS, the server's startup and
    /// authentication) within `RUNBOOK_PG_CONNECT_TIMEOUT`: a server that
    /// accepts and never answers is unreachable too.
    pub async fn connect(&self) -> std::result::Result<(tokio_postgres::Client, Connection), tokio_postgres::Error> {
        let limit = connect_timeout();
        match tokio::time::timeout(limit, self.config.connect(self.tls.clone())).await {
            Ok(c) => c,
            // The client's own "timeout waiting for server", as a pool's.
            Err(_) => Err(tokio_postgres::Error::__private_api_timeout()),
        }
    }

    pub fn pool(&self) -> Result<deadpool_postgres::Pool> {
        let mgr = deadpool_postgres::Manager::from_config(
            self.config.clone(),
            self.tls.clone(),
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        deadpool_postgres::Pool::builder(mgr)
            .max_size(8)
            .wait_timeout(Some(connect_timeout()))
            .create_timeout(Some(connect_timeout()))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Other(anyhow::anyhow!("cannot set up the connection pool: {e}")))
    }
}

/// A pool could not give a connection.
pub fn unreachable(t: &Target, e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => connect_error(t, &e),
        other => t.unreachable(&other),
    }
}

/// Why connecting failed: exit 2 naming host and port when the server
/// cannot be reached, else what the server said (never the password).
pub fn connect_error(t: &Target, e: &tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        // The server answered: not a reachability problem (auth, no such database…).
        Some(db) => Error::invalid(
            Diagnostic::error("state-database", format!("state database {}: {}", t.display, db.message()))
                .hint("check the user, database and password of the state URL (a password: in it, PGPASSWORD or ~/.pgpass)"),
        ),
        None if chain(e).contains("password missing") => {
            let hint = match pgpass_file().filter(|(_, private)| !private) {
                Some((f, _)) => format!("{} exists, but others can read it, so it is ignored: chmod 0600 it", f.display()),
                None => "give it in PGPASSWORD or ~/.pgpass (host:port:db:user:password, chmod 0600)".into(),
            };
            Error::invalid(
                Diagnostic::error("state-database", format!("state database {} asks for a password", t.display))
                    .hint(hint),
            )
        }
        None if chain(e).contains("server does not support TLS") => Error::invalid(
            Diagnostic::error(
                "state-database",
                format!("the state database at {} does not offer TLS, which the state URL's sslmode requires", t.address),
            )
            .hint("turn on ssl in the server's postgresql.conf, or give sslmode=prefer (encrypted when offered) in the state URL"),
        ),
        None => t.unreachable(&chain(e)),
    }
}

/// `PGPASSFILE`, else `~/.pgpass`, if it exists: its path, and whether only
/// its owner may read it (libpq, and [`password`], ignore it otherwise).
fn pgpass_file() -> Option<(PathBuf, bool)> {
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let meta = std::fs::metadata(&file).ok()?;
    let private = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 == 0;
    Some((file, private))
}

/// An error with its causes: `error connecting to server: Connection refused`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// `PGPASSWORD`, else the first matching line of `PGPASSFILE` or `~/.pgpass`
/// (ignored, as libpq does, when others may read it).
fn password(host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    if let Ok(p) = std::env::var("PGPASSWORD") {
        return Some(p);
    }
    let (file, private) = pgpass_file()?;
    if !private {
        tracing::warn!("{} is readable by others: ignored (chmod 0600 it)", file.display());
        return None;
    }
    pgpass(&std::fs::read_to_string(&file).ok()?, host, port, db, user)
}

/// The password of the first `host:port:db:user:password` line that matches
/// (`*` matches anything; `\:` and `\\` are escapes).
pub fn pgpass(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()) {
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let host_ok = fields[0] == "*"
            || fields[0] == host
            || (fields[0] == "localhost" && (host.starts_with('/') || host == "127.0.0.1"));
        let ok = |f: &str, v: &str| f == "*" || f == v;
        if host_ok && ok(&fields[1], &port) && ok(&fields[2], db) && ok(&fields[3], user) {
            return Some(fields[4].clone());
        }
    }
    None
}

fn tls(verify: bool, rootcert: Option<&std::path::Path>) -> std::result::Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if verify {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = rootcert {
            let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: CertificateDer<'static> = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                roots.add(cert).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(Encrypted(provider))).with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

/// `sslmode=require` (and `prefer`): encrypted, the certificate not checked
/// (libpq's meaning; `verify-full` checks it).
#[derive(Debug)]
struct Encrypted(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Encrypted {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:*:no\nlocalhost:5432:db:al\\:ice:s\\:ecret\n*:*:*:bob:pw\n";
        assert_eq!(pgpass(text, "localhost", 5432, "db", "al:ice").as_deref(), Some("s:ecret"));
        assert_eq!(pgpass(text, "127.0.0.1", 5432, "db", "al:ice").as_deref(), Some("s:ecret"));
        assert_eq!(pgpass(text, "h", 1, "x", "bob").as_deref(), Some("pw"));
        assert_eq!(pgpass(text, "h", 1, "x", "carol"), None);
    }

    #[test]
    fn a_target_names_the_database_without_its_password() {
        let t = Target::parse("postgres://u:hunter2@db.example:6543/runs?sslmode=require").unwrap();
        assert_eq!(t.display, "postgres://u@db.example:6543/runs");
        assert_eq!(t.address, "db.example:6543");
        assert!(Target::parse("postgres://u@h/db?sslmode=bogus").is_err());
        for (url, raw) in [
            ("postgres://u:p@ss@h/db", "`@`"),
            ("postgres://u:pa?ss@h/db", "`?`"),
            ("postgres://u:ha#sh?q@h/db", "`#` and `?`"),
            ("postgres://u:a/b@h/db", "`/`"),
            ("postgres://h/db?password=a@b", "`@`"),
        ] {
            let e = Target::parse(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(&format!("a raw {raw}")) && e.contains("percent-encode"), "{url}: {e}");
            assert!(!e.contains("ss@") && !e.contains("sh?q") && !e.contains("a/b"), "{url}: {e}");
        }
        let t = Target::parse("postgres://u:p%40ss@h/db").unwrap();
        assert_eq!(t.config.get_password(), Some(&b"p@ss"[..]));
    }
}
