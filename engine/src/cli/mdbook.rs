//! `runbook mdbook`: the mdBook 0.5 preprocessor protocol around
//! [`crate::mdbook`].
//!
//! mdBook first asks `runbook mdbook supports RENDERER` (a non-zero exit would
//! silently skip the preprocessor, so the answer is always yes: only markdown
//! is rewritten), then runs `runbook mdbook` with `[context, book]` as JSON on
//! stdin and reads the book back as JSON on stdout. Errors go to stderr with a
//! non-zero exit, which fails `mdbook build`.

use std::io::Write;
use std::path::{Path, PathBuf};

use mdbook_preprocessor::PreprocessorContext;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Exit, Result};

pub fn supports(_renderer: &str) -> Result<Exit> {
    Ok(Exit::Success)
}

pub fn run(explicit_config: Option<&Path>) -> Result<Exit> {
    let (ctx, book) = mdbook_preprocessor::parse_input(std::io::stdin().lock()).map_err(|e| {
        Error::invalid(
            Diagnostic::error("mdbook", format!("cannot read mdBook's input: {e:#}"))
                .hint("`runbook mdbook` is run by mdBook (book.toml [preprocessor.runbook]), not by hand"),
        )
    })?;
    warn_on_version(&ctx);
    let config = Config::discover(explicit_config, &ctx.root)?;
    let book = crate::mdbook::render_book(book, &source_dir(&ctx, &config), &config)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &book).map_err(anyhow::Error::from)?;
    out.flush().map_err(anyhow::Error::from)?;
    Ok(Exit::Success)
}

/// The book's source directory as diagnostics show it: relative to the
/// repository root (where runbook.toml is) when inside it.
fn source_dir(ctx: &PreprocessorContext, config: &Config) -> PathBuf {
    let src = ctx.root.join(&ctx.config.book.src);
    crate::catalog::display_path(&src, &config.root)
}

fn warn_on_version(ctx: &PreprocessorContext) {
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if minor(&ctx.mdbook_version) != minor(mdbook_preprocessor::MDBOOK_VERSION) {
        crate::errln!(
            "warning: runbook's preprocessor was built for mdBook {}, called by mdBook {}",
            mdbook_preprocessor::MDBOOK_VERSION,
            ctx.mdbook_version
        );
    }
}
