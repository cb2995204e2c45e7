//! Real servers for the observability tests, all on 127.0.0.1:
//! [`HttpServer`], a tiny HTTP/1.1 server answering from a closure (health
//! probes, a fake Loki, the metrics target), and [`Prometheus`], Debian's
//! `prometheus` started on a free port with its own scrape config, scraping
//! a target whose values the test controls.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Req {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `(status, content type, body)`.
pub type Reply = (u16, &'static str, String);
type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

/// A one-thread HTTP server on 127.0.0.1:<free port>; stops on drop.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<Mutex<Vec<Req>>>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, reqs2, handler): (_, _, Handler) = (stop.clone(), requests.clone(), Arc::new(handler));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, r) = (handler.clone(), reqs2.clone());
                std::thread::spawn(move || serve(conn, &h, &r));
            }
        });
        HttpServer { port, stop, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, handler: &Handler, log: &Mutex<Vec<Req>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let req = Req { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() };
    let (status, ct, text) = handler(&req);
    log.lock().unwrap().push(req);
    if status == 0 {
        // Status 0: hang (a server that never answers), until the client gives up.
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let mut w = conn;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(text.as_bytes());
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Is `prometheus` installed? Under CI it must be (the test fails); locally
/// a missing binary skips the test with a notice.
pub fn prometheus_bin() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("prometheus")).find(|p| p.is_file()));
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`prometheus` is not on PATH: CI must install Debian's `prometheus` package");
        }
        eprintln!("notice: `prometheus` is not on PATH (apt-get install prometheus): skipping this test");
    }
    found
}

/// A real Prometheus scraping a target served by the test. Killed on drop.
pub struct Prometheus {
    child: Child,
    pub url: String,
    pub target: HttpServer,
    /// How many times the target was scraped.
    pub scrapes: Arc<AtomicU64>,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Start Prometheus with a target whose `/metrics` is `metrics(n)` at
    /// the n-th scrape (from 0), and wait until it is ready and has scraped
    /// at least `min_scrapes` times. `None` when prometheus is not installed.
    pub fn start(metrics: impl Fn(u64) -> String + Send + Sync + 'static, min_scrapes: u64) -> Option<Prometheus> {
        let bin = prometheus_bin()?;
        let scrapes = Arc::new(AtomicU64::new(0));
        let counter = scrapes.clone();
        let target = HttpServer::start(move |r| {
            if r.path() != "/metrics" {
                return (404, "text/plain", "not found".into());
            }
            let n = counter.fetch_add(1, Ordering::SeqCst);
            (200, "text/plain; version=0.0.4", metrics(n))
        });
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: animica\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            target.port
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus { child, url: format!("http://127.0.0.1:{port}"), target, scrapes, dir };
        p.wait_ready(min_scrapes);
        Some(p)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, min_scrapes: u64) {
        let until = Instant::now() + Duration::from_secs(30);
        let q = format!("count_over_time(up{{job=\"animica\"}}[5m]) >= {min_scrapes}");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}) before it was ready:\n{}", self.log());
            }
            let ready = runbook::observe::prom::query(&self.url, &q, None, Duration::from_secs(2))
                .map(|r| !r.series.is_empty())
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                Instant::now() < until,
                "prometheus not ready with {min_scrapes} scrapes after 30s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
