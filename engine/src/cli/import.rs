//! `runbook import FILE [-o OUT]`: a plain markdown runbook → an executable
//! one, on stdout (or into OUT), with what was decided on stderr.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Diagnostic, Error, Exit, Result};

pub fn run(file: &Path, output: Option<&Path>) -> Result<Exit> {
    let unreadable = |e: std::io::Error| {
        Error::invalid(
            Diagnostic::error("io", format!("cannot read {}: {e}", file.display()))
                .hint("give the path of a markdown page: runbook import runbooks/page.md"),
        )
    };
    // The runbook's bound, before reading it all: what import writes must parse.
    let mut bytes = Vec::new();
    let f = std::fs::File::open(file).map_err(unreadable)?;
    std::io::Read::read_to_end(&mut std::io::Read::take(f, crate::parse::MAX_FILE as u64 + 1), &mut bytes)
        .map_err(unreadable)?;
    let text = crate::parse::utf8(file, &bytes)?;
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
    if let Some(o) = out {
        let dir = o.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::usage(
                format!("cannot write {}: the directory {} does not exist", o.display(), dir.display()),
                format!("create it first (`mkdir -p {}`), or give a path in an existing directory", dir.display()),
            ));
        }
    }
    let imported = crate::import::import(file, text)?;
    let to = out.map_or("stdout".to_string(), |o| o.display().to_string());
    crate::errln!("import: {} -> {to}", file.display());
    for n in &imported.notes {
        crate::errln!("  {n}");
    }
    for notice in imported.unchecked.notices("import") {
        crate::errln!("{notice}");
    }
    match out {
        None => super::out(&imported.text),
        Some(o) => {
            let dir = o.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            // A page converted in place keeps its mode; a new one gets a
            // file's usual mode (0666 less the umask), as the wiki build and
            // the team read it.
            let mode = match std::fs::metadata(o) {
                Ok(m) => m.permissions(),
                Err(_) => std::fs::Permissions::from_mode(0o666 & !umask()),
            };
            let unwritable = |e: std::io::Error| {
                Error::invalid(
                    Diagnostic::error("io", format!("cannot write {}: {e}", o.display()))
                        .hint("give a path where this user can write a file; nothing was written"),
                )
            };
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(unwritable)?;
            std::io::Write::write_all(&mut tmp, imported.text.as_bytes()).map_err(unwritable)?;
            tmp.as_file().set_permissions(mode).map_err(unwritable)?;
            tmp.persist(o).map_err(|e| unwritable(e.error))?;
        }
    }
    // What the steps of one page share that steps cannot: a shell variable
    // one block sets and another reads.
    let written = out.unwrap_or(file);
    if let Ok(rb) = crate::parse::parse_str(written, &imported.text, String::new()) {
        for d in crate::check::shell_state::lint(&rb) {
            crate::errln!("{d}");
        }
    }
    if imported.steps > 0 {
        crate::errln!(
            "  next: `runbook check` it, then record a fixture for it (`runbook fixture new ID` or `runbook play ID --record-fixture NAME`)"
        );
    }
    Ok(Exit::Success)
}

/// This process's umask (read by setting it, then set back).
fn umask() -> u32 {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
