//! The test builder: a temporary project (runbook.toml, runbooks, fixtures)
//! in, the `runbook` binary run on it, exit code and output checked.
//!
//! ```ignore
//! Test::new()
//!     .runbook("a", "```bash {#x}\necho hi\n```\n")
//!     .args(["plan", "a"])
//!     .status(0)
//!     .stdout_has("echo hi")
//!     .run();
//! ```

#![allow(dead_code)]

pub mod browser;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const CONFIG: &str = r#"
default_env = "devnet"

[env.devnet]
namespace = "animica-devnet"

[env.prod]
namespace = "animica"
confirm = "write"
guard = { run = "kubectl config current-context", expect = "^prod-" }

[rehearse]
stub = ["kubectl", "helm", "curl"]
"#;

pub struct Test {
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    status: Option<i32>,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    stdout_exact: Option<String>,
    stderr_exact: Option<String>,
    cwd: Option<PathBuf>,
}

/// Remove the common leading indentation, so inline markdown can be indented.
pub fn unindent(s: &str) -> String {
    let s = s.strip_prefix('\n').unwrap_or(s);
    let indent = s.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out: String =
        s.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("runbook").to_path_buf()
}

impl Test {
    /// A project with the default config and an empty runbooks directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
        std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
        std::fs::write(dir.path().join("runbook.toml"), CONFIG).unwrap();
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            status: Some(0),
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            stdout_exact: None,
            stderr_exact: None,
            cwd: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(self, toml: &str) -> Self {
        self.file("runbook.toml", toml)
    }

    /// `runbooks/<name>.md`, unindented.
    pub fn runbook(self, name: &str, md: &str) -> Self {
        let md = unindent(md);
        self.file(&format!("runbooks/{name}.md"), &md)
    }

    /// `fixtures/<name>.toml`, unindented.
    pub fn fixture(self, name: &str, toml: &str) -> Self {
        let t = unindent(toml);
        self.file(&format!("fixtures/{name}.toml"), &t)
    }

    /// Any file, verbatim.
    pub fn file(self, rel: &str, content: &str) -> Self {
        self.bytes(rel, content.as_bytes())
    }

    pub fn bytes(self, rel: &str, content: &[u8]) -> Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn stdin(mut self, s: &str) -> Self {
        self.stdin = Some(s.as_bytes().to_vec());
        self
    }

    pub fn cwd(mut self, rel: &str) -> Self {
        self.cwd = Some(self.dir.path().join(rel));
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    /// Don't check the exit code.
    pub fn any_status(mut self) -> Self {
        self.status = None;
        self
    }

    /// Exactly this on stdout, unindented (`""`: nothing at all).
    pub fn stdout(mut self, s: &str) -> Self {
        self.stdout_exact = Some(if s.is_empty() { String::new() } else { unindent(s) });
        self
    }

    /// Exactly this on stderr (as written: not unindented).
    pub fn stderr(mut self, s: &str) -> Self {
        self.stderr_exact = Some(s.into());
        self
    }

    pub fn stdout_has(mut self, s: &str) -> Self {
        self.stdout_has.push(s.into());
        self
    }

    pub fn stdout_lacks(mut self, s: &str) -> Self {
        self.stdout_lacks.push(s.into());
        self
    }

    pub fn stderr_has(mut self, s: &str) -> Self {
        self.stderr_has.push(s.into());
        self
    }

    pub fn stderr_lacks(mut self, s: &str) -> Self {
        self.stderr_lacks.push(s.into());
        self
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.args(&self.args)
            .current_dir(self.cwd.as_deref().unwrap_or(self.dir.path()))
            .env_remove("RUNBOOK_CONFIG")
            .env("NO_COLOR", "1")
            .env("RUNBOOK_LOG", "warn");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Run and check; returns the output and the project (kept alive).
    pub fn run(self) -> Finished {
        let mut c = self.command();
        c.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn runbook");
        if let Some(input) = &self.stdin {
            use std::io::Write;
            let mut si = child.stdin.take().unwrap();
            si.write_all(input).unwrap();
        }
        let output = child.wait_with_output().expect("wait runbook");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let ctx = || {
            format!(
                "\n--- args: {:?}\n--- status: {:?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
                self.args,
                output.status.code()
            )
        };
        if let Some(code) = self.status {
            assert_eq!(output.status.code(), Some(code), "unexpected exit code{}", ctx());
        }
        if let Some(exact) = &self.stdout_exact {
            assert_eq!(&stdout, exact, "stdout differs{}", ctx());
        }
        if let Some(exact) = &self.stderr_exact {
            assert_eq!(&stderr, exact, "stderr differs{}", ctx());
        }
        for s in &self.stdout_has {
            assert!(stdout.contains(s.as_str()), "stdout lacks {s:?}{}", ctx());
        }
        for s in &self.stdout_lacks {
            assert!(!stdout.contains(s.as_str()), "stdout has {s:?}{}", ctx());
        }
        for s in &self.stderr_has {
            assert!(stderr.contains(s.as_str()), "stderr lacks {s:?}{}", ctx());
        }
        for s in &self.stderr_lacks {
            assert!(!stderr.contains(s.as_str()), "stderr has {s:?}{}", ctx());
        }
        Finished { test: self, output, stdout, stderr }
    }
}

pub struct Finished {
    pub test: Test,
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn path(&self) -> &Path {
        self.test.dir.path()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}
