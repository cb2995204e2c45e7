//! `runbook serve` stops on SIGTERM and on Ctrl-C (SIGINT), exit 0, even
//! while a store read blocks: a journal that never ends (a FIFO no one
//! writes to), or a shared store whose database stopped answering (a proxy
//! the test freezes in front of `RUNBOOK_TEST_PG_URL`'s server).
//!
//! The signal is sent once the read is known to be in flight (the FIFO
//! opened by serve, the frozen proxy holding serve's query); the exit is
//! waited for with a bound that only guards against a hang.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::*;
use crate::serve::{get_ok, only_run, play, project, until};

/// Long enough for any exit that does not hang.
const HANG: Duration = Duration::from_secs(30);

/// `runbook serve` in `project`, its stderr in a file; killed on drop.
struct Started {
    child: Child,
    url: String,
    stderr: tempfile::NamedTempFile,
}

impl Started {
    fn new(project: &Path, env: &[(&str, &str)]) -> Started {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(project)
            .env_remove("RUNBOOK_CONFIG")
            .env_remove("RUNBOOK_SERVE_TOKEN")
            .env_remove("RUNBOOK_STATE")
            .env("RUNBOOK_SERVE_POLL_MS", "10")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .expect("spawn runbook serve");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("runbook serve: ").unwrap_or_else(|| panic!("no URL in {line:?}"));
        Started { url: url.trim_end_matches('/').to_string(), child, stderr }
    }

    /// Send `sig`, then the exit status and what serve printed meanwhile.
    fn stop(&mut self, sig: Signal) -> (Option<i32>, String, String) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(t0.elapsed() < HANG, "serve did not stop on {sig} within {HANG:?}");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        (status.code(), out, std::fs::read_to_string(self.stderr.path()).unwrap())
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on a thread of its own, its answer read to the end (an event
/// stream: until serve stops).
fn get_in_background(url: String) {
    std::thread::spawn(move || {
        if let Ok(r) = ureq::get(&url).call() {
            let _ = std::io::copy(&mut r.into_body().into_reader(), &mut std::io::sink());
        }
    });
}

/// What serve says on stderr as it starts, and nothing after (no panic, no
/// half line).
fn said_only_its_start(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("serving ") && lines[0].ends_with(" (read-only); Ctrl-C stops"), "{stderr}");
}

#[test]
fn a_signal_stops_serve_while_a_read_of_the_local_store_blocks() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let t = project();
        play(&t, 1);
        let run = only_run(&t);
        // The run's journal becomes a FIFO: reading it waits for a writer's bytes.
        let journal = t.path().join(".runbook/runs").join(&run).join("journal.jsonl");
        std::fs::remove_file(&journal).unwrap();
        nix::unistd::mkfifo(&journal, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let mut s = Started::new(t.path(), &[]);
        get_ok(&format!("{}/runbooks", s.url));
        get_in_background(format!("{}/api/runs/{run}", s.url));
        // Opening it to write succeeds once serve has it open to read; the
        // test then writes nothing, and serve's read waits.
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(&journal)
                .ok()
        };
        let _writer = until("serve to open the journal", open);
        let (code, out, err) = s.stop(sig);
        assert_eq!(code, Some(0), "{sig}: {err}");
        assert_eq!(out, "", "{sig}: only the address line, before");
        said_only_its_start(&err);
    }
}

/// A TCP proxy to `upstream` that, once frozen, passes nothing on (both
/// ways) and connects no new client: a database that stopped answering.
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
    /// Bytes from clients held back since the freeze.
    held: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (frozen, held) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (f, h) = (frozen.clone(), held.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Some(server) = (!f.load(Ordering::SeqCst)).then(|| TcpStream::connect(&upstream).ok()).flatten()
                else {
                    pump(client, None, f.clone(), h.clone());
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(client, Some(server), f.clone(), h.clone());
                pump(s2, Some(c2), f.clone(), Arc::new(AtomicU64::new(0)));
            }
        });
        Proxy { port, frozen, held }
    }
}

/// Copy `from` to `to` on a thread until frozen; then hold (count and drop)
/// what comes.
fn pump(mut from: TcpStream, mut to: Option<TcpStream>, frozen: Arc<AtomicBool>, held: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            match to.as_mut().filter(|_| !frozen.load(Ordering::SeqCst)) {
                Some(to) => {
                    if to.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                None => {
                    held.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
        }
    });
}

#[test]
fn a_signal_stops_serve_while_the_shared_store_does_not_answer() {
    let Some(server) = crate::postgres::server() else { return };
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let db = crate::postgres::Db::new(&server, "serve_stop");
        let address = db.url.rsplit_once('@').and_then(|(_, r)| r.split_once('/')).unwrap().0.to_string();
        let t = project();
        let play = t.command().args(["play", "demo", "--yes"]).env("RUNBOOK_STATE", &db.url).output().unwrap();
        assert_eq!(play.status.code(), Some(1), "{}", String::from_utf8_lossy(&play.stderr));
        let proxy = Proxy::start(address.clone());
        let url = db.url.replace(&address, &format!("127.0.0.1:{}", proxy.port));
        // Only the signal may end the wait: no limit of the store's ends it first.
        let mut s = Started::new(t.path(), &[("RUNBOOK_STATE", &url), ("RUNBOOK_PG_WAIT", "3600")]);
        let runs: serde_json::Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
        let run = runs[0]["run"].as_str().unwrap().to_string();
        // An event stream follows the run: its poller reads the store again and again.
        get_in_background(format!("{}/api/runs/{run}/events", s.url));
        proxy.frozen.store(true, Ordering::SeqCst);
        until("serve to ask the frozen database", || (proxy.held.load(Ordering::SeqCst) > 0).then_some(()));
        let (code, out, err) = s.stop(sig);
        assert_eq!(code, Some(0), "{sig}: {err}");
        assert_eq!(out, "", "{sig}: only the address line, before");
        said_only_its_start(&err);
    }
}
