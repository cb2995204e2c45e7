//! `runbook`: executable markdown runbooks.
//!
//! A runbook is a markdown file whose annotated fenced blocks are steps. The
//! library parses it ([`parse`]) into a [`model::Runbook`], orders the steps
//! into a DAG ([`plan`]), renders their templates with shell quoting
//! ([`template`]) and previews the result ([`preview`]). The binary in
//! `main.rs` is a thin shell over [`cli`].

/// `eprintln!` that never panics: a closed stderr (`runbook play 2>&1 | head
/// -1`) must not turn a finished play into a crash (exit 101). What is lost
/// is a message on a stream nobody reads any more. Control characters in
/// the message are shown as escapes ([`visible`]): it may name a value
/// from outside (an alert's label) that would otherwise drive the terminal.
#[macro_export]
macro_rules! errln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{}", $crate::visible::text(&format!($($arg)*)));
    }};
}

/// `println!` that never panics, for the same reason as [`errln!`]: stdout
/// may be a terminal that was closed under the play (EIO) or a closed pipe.
/// A failed write other than a closed pipe is kept ([`stdout`]) for the
/// exit code.
/// Control characters are shown as escapes, as [`errln!`] shows them.
#[macro_export]
macro_rules! outln {
    () => {{
        $crate::stdout::write("\n");
    }};
    ($($arg:tt)*) => {{
        $crate::stdout::write(&($crate::visible::text(&format!($($arg)*)) + "\n"));
    }};
}

pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod doc_blocks;
pub mod error;
pub mod expect;
pub mod import;
pub mod mdbook;
pub mod model;
pub mod observe;
pub mod parse;
pub mod plan;
pub mod preview;
pub mod prose;
pub mod quote;
pub mod redact;
pub mod rehearse;
pub mod render;
pub mod report;
pub mod run;
pub mod runner;
pub mod serve;
pub mod state_url;
pub mod stdout;
pub mod store;
pub mod template;
pub mod time;
pub mod vars;
pub mod visible;
