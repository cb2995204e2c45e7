//! Errors and diagnostics.
//!
//! Every problem a user can cause (a malformed runbook, a bad flag, a refused
//! confirmation) travels as an [`Error`] that knows its exit code (SPEC §4) and
//! carries [`Diagnostic`]s with `file:line`, what is wrong and how to fix it.
//! `main.rs` only prints them and maps them to the process exit status.

use std::fmt;
use std::path::{Path, PathBuf};

/// Process exit codes of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Invalid = 2,
    Refused = 3,
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One located message: `file:line: error: message` plus a one-line hint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// A stable machine name for the kind of finding (`unknown-attribute`, …).
    pub code: &'static str,
    pub message: String,
    /// (Boxed: a diagnostic is an error value, kept small.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Box<str>>,
    /// What the finding is about, for a caller that adds to the hint (the
    /// variable of an `undefined-variable`); not part of the output.
    #[serde(skip)]
    pub subject: Option<Box<str>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            line: None,
            code,
            message: message.into(),
            hint: None,
            subject: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    pub fn at(mut self, file: impl AsRef<Path>, line: usize) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self.line = Some(line);
        self
    }

    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into().into_boxed_str());
        self
    }

    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into().into_boxed_str());
        self
    }

    /// `file:line` (or just the file, or nothing).
    pub fn location(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => Some(format!("{}:{l}", f.display())),
            (Some(f), None) => Some(f.display().to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{loc}: ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// An error that ends a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid input: usage, runbook, fixture or config (exit 2).
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
    /// Refused: lock held, confirmation declined, guard mismatch (exit 3).
    #[error("{0}")]
    Refused(String),
    /// A step failed or `check` found a problem (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Already told on the terminal (a play's closing screen, a rehearsal's
    /// verdict): only the exit code is left to give.
    #[error("")]
    Reported(Exit),
    /// Interrupted by a signal (exit 130); the run is resumable.
    #[error("{0}")]
    Interrupted(String),
    /// Something outside the user's input went wrong (I/O on the state dir, …).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

fn join(d: &[Diagnostic]) -> String {
    d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Invalid(_) => Exit::Invalid,
            Error::Refused(_) => Exit::Refused,
            Error::Failed(_) | Error::Other(_) => Exit::Failure,
            Error::Interrupted(_) => Exit::Interrupted,
            Error::Reported(e) => *e,
        }
    }

    /// A single invalid-input diagnostic.
    pub fn invalid(d: Diagnostic) -> Self {
        Error::Invalid(vec![d])
    }

    /// A usage error without a location.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::invalid(Diagnostic::error("usage", message).hint(hint))
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::invalid(d)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest candidate to `name` by edit distance, for "did you mean".
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) || c.starts_with(name) || name.starts_with(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
