//! `runbook import FILE [-o OUT]`: a plain markdown runbook → an executable
//! one, on stdout (or into OUT), with what was decided on stderr.

use std::path::Path;

use crate::error::{Diagnostic, Error, Exit, Result};

pub fn run(file: &Path, output: Option<&Path>) -> Result<Exit> {
    let bytes = std::fs::read(file).map_err(|e| {
        Error::invalid(
            Diagnostic::error("io", format!("cannot read {}: {e}", file.display()))
                .hint("give the path of a markdown page: runbook import runbooks/page.md"),
        )
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        Error::invalid(
            Diagnostic::error("not-utf8", format!("not valid UTF-8 (byte {})", e.valid_up_to()))
                .at(file, line)
                .hint("save the file as UTF-8"),
        )
    })?;
    let out = output.filter(|o| o.as_os_str() != "-");
    if let Some(o) = out
        && o.exists()
        && !same_file(o, file)
    {
        return Err(Error::usage(
            format!("{} exists: import never overwrites another file", o.display()),
            "give a new path, or the input itself (-o FILE) to convert it in place",
        ));
    }
    let imported = crate::import::import(file, text)?;
    let to = out.map_or("stdout".to_string(), |o| o.display().to_string());
    crate::errln!("import: {} -> {to}", file.display());
    for n in &imported.notes {
        crate::errln!("  {n}");
    }
    match out {
        None => super::out(&imported.text),
        Some(o) => {
            let dir = o.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(anyhow::Error::from)?;
            std::io::Write::write_all(&mut tmp, imported.text.as_bytes()).map_err(anyhow::Error::from)?;
            tmp.persist(o).map_err(|e| anyhow::Error::from(e.error))?;
        }
    }
    if imported.steps > 0 {
        crate::errln!(
            "  next: `runbook check` it, then record a fixture for it (`runbook fixture new ID` or `runbook play ID --record-fixture NAME`)"
        );
    }
    Ok(Exit::Success)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
