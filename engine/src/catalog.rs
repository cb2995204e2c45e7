//! Finding runbooks: walk the runbooks directory, parse every candidate in
//! parallel, and resolve an `ID` argument (exact id, unique prefix, or path).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::model::Runbook;
use crate::parse::{self, Page};

/// Every runbook under the configured directory, and the files that look like
/// runbooks but do not parse.
pub struct Catalog {
    pub runbooks: Vec<Runbook>,
    /// The other markdown pages (no step): parsed by [`Catalog::load_all`],
    /// only counted by [`Catalog::load`].
    pub pages: Vec<Runbook>,
    pub plain_pages: usize,
    pub broken: Vec<(PathBuf, Error)>,
}

/// Markdown files under `dir`, sorted.
pub fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// From this many files on, they are parsed in parallel.
const PARALLEL_FROM: usize = 64;

impl Catalog {
    pub fn load(config: &Config) -> Result<Catalog> {
        if !config.runbooks.is_dir() {
            // Outside any project, say that first: it is the usual cause.
            let hint = match &config.file {
                Some(_) => "create it, or set `runbooks = \"…\"` in runbook.toml".to_string(),
                None => format!(
                    "no {} in {} or any directory above it: run runbook inside a project, make one here with `runbook init`, or pass --config FILE",
                    crate::config::FILE_NAME,
                    config.root.display()
                ),
            };
            return Err(Error::invalid(
                Diagnostic::error(
                    "no-runbooks",
                    format!("runbooks directory not found: {}", config.runbooks.display()),
                )
                .hint(hint),
            ));
        }
        Ok(Catalog::from_files(&markdown_files(&config.runbooks), &config.root))
    }

    /// [`Catalog::load`], with the plain pages parsed too (`list --all`).
    pub fn load_all(config: &Config) -> Result<Catalog> {
        let mut cat = Catalog::load(config)?;
        if cat.plain_pages > 0 {
            cat = Catalog::parse_files(&markdown_files(&config.runbooks), &config.root, true);
        }
        Ok(cat)
    }

    /// Parse files (in parallel when there are many); plain pages (no step)
    /// are only counted.
    pub fn from_files(files: &[PathBuf], root: &Path) -> Catalog {
        Catalog::parse_files(files, root, false)
    }

    fn parse_files(files: &[PathBuf], root: &Path, keep_pages: bool) -> Catalog {
        let abs_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        // A symlink to a page already listed (`alias.md -> a.md`) is that
        // page: named by where it leads, it would be a second runbook `a`.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<PathBuf> = files
            .iter()
            .filter(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| (*f).clone())))
            .cloned()
            .collect();
        let files = &unique[..];
        // `None`: a plain page, known as one without parsing it.
        let one = |f: &PathBuf| -> std::result::Result<Option<Page>, (PathBuf, Error)> {
            let bytes = std::fs::read(f).map_err(|e| (f.clone(), Error::Other(e.into())))?;
            if !keep_pages
                && let Ok(text) = std::str::from_utf8(&bytes)
                && !parse::looks_like_runbook(text)
            {
                return Ok(None);
            }
            let shown = relative_to(f, &abs_root);
            parse::parse_page_bytes(&shown, &bytes).map(Some).map_err(|e| (f.clone(), e))
        };
        // A runbook parses in tens of microseconds; starting a thread pool
        // costs more than parsing a project's few, and its idle threads spin
        // for a while on the CPUs the play's first steps need.
        let results: Vec<std::result::Result<Option<Page>, (PathBuf, Error)>> = if files.len() < PARALLEL_FROM {
            files.iter().map(one).collect()
        } else {
            files.par_iter().map(one).collect()
        };
        let mut runbooks = Vec::new();
        let mut pages = Vec::new();
        let mut plain_pages = 0;
        let mut broken = Vec::new();
        for r in results {
            match r {
                Ok(Some(Page::Runbook(rb))) => runbooks.push(rb),
                Ok(Some(Page::Plain(p))) => {
                    plain_pages += 1;
                    pages.push(p);
                }
                Ok(None) => plain_pages += 1,
                Err(e) => broken.push(e),
            }
        }
        for (dup, d) in duplicate_ids(&runbooks) {
            broken.push((dup.clone(), Error::invalid(d)));
            runbooks.retain(|r| r.path != dup);
        }
        runbooks.sort_by(|a, b| a.id.cmp(&b.id));
        Catalog { runbooks, pages, plain_pages, broken }
    }

    /// Resolve an id argument: a path to a `.md` file, an exact id, or a
    /// unique prefix.
    pub fn find(config: &Config, arg: &str) -> Result<Runbook> {
        let as_path = Path::new(arg);
        if arg.ends_with(".md") || arg.contains('/') {
            if !as_path.is_file() {
                return Err(Error::usage(
                    format!("no such runbook file: {arg}"),
                    "give a runbook id or an existing .md path",
                ));
            }
            let shown = display_path(as_path, &std::env::current_dir().unwrap_or_default());
            return parse::parse_bytes(&shown, &std::fs::read(as_path).map_err(anyhow::Error::from)?);
        }
        let cat = Catalog::load(config)?;
        // Two files with one id: playing either would be a guess.
        let duplicate = |id: &str| {
            cat.broken.iter().find_map(|(_, e)| match e {
                Error::Invalid(ds)
                    if ds.iter().any(|d| d.code == "duplicate-runbook" && d.subject.as_deref() == Some(id)) =>
                {
                    Some(Error::Invalid(ds.clone()))
                }
                _ => None,
            })
        };
        if let Some(rb) = cat.runbooks.iter().find(|r| r.id == arg) {
            return match duplicate(arg) {
                Some(e) => Err(e),
                None => Ok(rb.clone()),
            };
        }
        // A broken file whose stem is the id: show its errors, not "not found".
        for (f, e) in &cat.broken {
            if f.file_stem().is_some_and(|s| s == arg) {
                return Err(match e {
                    Error::Invalid(d) => Error::Invalid(d.clone()),
                    other => Error::Other(anyhow::anyhow!("{other}")),
                });
            }
        }
        let matches: Vec<&Runbook> = cat.runbooks.iter().filter(|r| r.id.starts_with(arg)).collect();
        match matches.as_slice() {
            [one] => match duplicate(&one.id) {
                Some(e) => Err(e),
                None => Ok((*one).clone()),
            },
            [] => {
                let ids: Vec<&str> = cat.runbooks.iter().map(|r| r.id.as_str()).collect();
                let hint = match did_you_mean(arg, ids.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`? `runbook list` shows every runbook"),
                    None => "`runbook list` shows every runbook".to_string(),
                };
                Err(Error::invalid(
                    Diagnostic::error(
                        "unknown-runbook",
                        format!("no runbook `{arg}` in {}", config.runbooks.display()),
                    )
                    .hint(hint),
                ))
            }
            many => {
                let ids: Vec<&str> = many.iter().map(|r| r.id.as_str()).collect();
                Err(Error::invalid(
                    Diagnostic::error(
                        "ambiguous-runbook",
                        format!("`{arg}` matches {} runbooks: {}", ids.len(), ids.join(", ")),
                    )
                    .hint("type more of the id"),
                ))
            }
        }
    }
}

/// Runbooks that share an id: the first by path keeps it, and each other
/// one is an error at its id's line, naming the first. `list`, `check` and
/// every command that takes an ID read it here.
pub fn duplicate_ids<'a>(runbooks: impl IntoIterator<Item = &'a Runbook>) -> Vec<(PathBuf, Diagnostic)> {
    let mut sorted: Vec<&Runbook> = runbooks.into_iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.path.cmp(&b.path)));
    sorted
        .windows(2)
        .scan(None::<&Runbook>, |first, pair| {
            if pair[0].id != pair[1].id {
                *first = None;
                return Some(None);
            }
            let first = *first.get_or_insert(pair[0]);
            let dup = pair[1];
            let d = Diagnostic::error(
                "duplicate-runbook",
                format!("runbook id `{}` is also used by {}", dup.id, first.path.display()),
            )
            .at(&dup.path, dup.front_matter_line.map_or(1, |_| 2))
            .hint("give one of them another `id:` in front matter, or rename the file")
            .about(&dup.id);
            Some(Some((dup.path.clone(), d)))
        })
        .flatten()
        .collect()
}

/// A path relative to `root` when it is inside it (for messages and JSON).
pub fn display_path(p: &Path, root: &Path) -> PathBuf {
    let abs_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    relative_to(p, &abs_root)
}

fn relative_to(p: &Path, abs_root: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    match abs.strip_prefix(abs_root) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => p.to_path_buf(),
    }
}
