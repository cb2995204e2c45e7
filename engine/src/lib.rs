//! `runbook`: executable markdown runbooks.
//!
//! A runbook is a markdown file whose annotated fenced blocks are steps. The
//! library parses it ([`parse`]) into a [`model::Runbook`], orders the steps
//! into a DAG ([`plan`]), renders their templates with shell quoting
//! ([`template`]) and previews the result ([`preview`]). The binary in
//! `main.rs` is a thin shell over [`cli`].

pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod mdbook;
pub mod model;
pub mod observe;
pub mod parse;
pub mod plan;
pub mod preview;
pub mod redact;
pub mod rehearse;
pub mod render;
pub mod report;
pub mod runner;
pub mod template;
pub mod vars;
