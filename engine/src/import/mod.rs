//! `runbook import FILE`: a plain markdown runbook → an executable one
//! (SPEC §4). The mechanical part of a conversion, with every decision said:
//!
//! - every unannotated `bash`/`sh`/`shell` block becomes a step (also in
//!   list items and quotes, `~~~` fences, CRLF pages); its id comes from the
//!   list item or heading that names it, else from its command, unique;
//! - `<placeholder>`s become `{{ var }}` (`rewrite.rs`: never inside shell
//!   quotes), declared in front matter `vars` without a default (`~`: asked
//!   at play time, or set by an env profile), names normalised and synonyms
//!   merged (`<ns>`, `<namespace>` → `namespace`);
//! - the hazard table of `check` decides the attributes: a block of
//!   diagnosis commands only is `read`; anything else asks first
//!   (`confirm`); a never-ending command gets `timeout=5m`, and in a
//!   diagnosis block `on-fail=continue` (a block that changes the system
//!   and times out stops the play);
//!   a terminal-needing one or `sudo` gets `interactive`;
//! - Go templates of the page (`{{.State.Status}}`) are kept literal with
//!   `{% raw %}`; the page's own `{{ var }}`s are declared like placeholders;
//! - everything else stays byte for byte: prose, fences, indentation, line
//!   ends. Existing steps are left alone, so importing an executable page
//!   changes nothing.

mod gotemplate;
mod prompts;
pub mod rewrite;
pub mod scan;

use std::path::Path;

use crate::check::bash;
use crate::check::hazards::{self, Effect, Hazard};
use crate::check::missing::{self, Unchecked};
use crate::error::{Diagnostic, Error, Result};
use crate::parse::{self, frontmatter};
use prompts::Prompts;

/// The converted page and what was decided.
#[derive(Debug)]
pub struct Imported {
    pub text: String,
    /// One line per decision, for stderr.
    pub notes: Vec<String>,
    /// Blocks made steps.
    pub steps: usize,
    /// Blocks whose syntax was not checked: their shell is not on PATH
    /// (told as `check` tells it: [`crate::check::missing`]).
    pub unchecked: Unchecked,
}

/// How long a never-ending command may run as a step.
pub const NEVER_ENDING_TIMEOUT: &str = "5m";

/// A step's attributes and why.
struct Decision {
    attrs: Vec<String>,
    why: Vec<String>,
}

/// The attributes of a block; `broken`: what `bash -n` says of it, if it
/// does not parse (then its words cannot be trusted, and it is no `read`).
fn decide(body: &str, broken: Option<&(usize, String)>) -> Decision {
    let calls = hazards::calls(&bash::prepare(body));
    let mut why = Vec::new();
    let mut write = None;
    let mut unknown = broken.map(|(n, m)| format!("its shell syntax is broken (line {n}: {m}): fix it before playing"));
    for c in &calls {
        match hazards::effect(c) {
            Effect::Read => {}
            Effect::Write(p) => write = write.or(Some(format!("`{}` changes the system ({p})", c.program))),
            Effect::Unknown(p) => unknown = unknown.or(Some(format!("`{p}` is not known to only read"))),
        }
    }
    let rules: Vec<&hazards::Rule> = calls.iter().flat_map(hazards::hazards).collect();
    let has = |h: Hazard| rules.iter().find(|r| r.hazard == h);
    let mut attrs = Vec::new();
    let changes = write.or(unknown);
    let reads_only = changes.is_none();
    match changes {
        None => {
            attrs.push("read".to_string());
            why.push("diagnosis only".to_string());
        }
        Some(w) => {
            attrs.push("confirm".to_string());
            why.push(w);
        }
    }
    if let Some(r) = has(Hazard::NeedsTerminal).or(has(Hazard::Sudo)) {
        attrs.push("interactive".to_string());
        why.push(format!("{} needs a terminal", r.pattern));
    }
    if let Some(r) = has(Hazard::NeverEnding) {
        attrs.push(format!("timeout={NEVER_ENDING_TIMEOUT}"));
        // Stopping a diagnosis at its timeout is its end; a block that
        // changes the system and fails (or is stopped) stops the play.
        if reads_only {
            attrs.push("on-fail=continue".to_string());
            why.push(format!("{} never ends: stopped after {NEVER_ENDING_TIMEOUT}", r.pattern));
        } else {
            why.push(format!("{} never ends: stopped after {NEVER_ENDING_TIMEOUT}, which fails the step", r.pattern));
        }
    }
    Decision { attrs, why }
}

/// An id for a command block: the program and its first words (`kubectl-get-pods`).
fn command_label(body: &str) -> Option<String> {
    let calls = hazards::calls(&bash::prepare(body));
    let c = calls.first()?;
    let mut words = vec![c.program.clone()];
    words.extend(
        c.args
            .iter()
            .take_while(|a| *a != "--")
            .filter(|a| !a.starts_with('-') && !a.contains(['/', '=', '$', '.', ':']) && !a.starts_with("RB_"))
            .take(2)
            .cloned(),
    );
    scan::slug(&words.join(" "))
}

/// The program a block without a language starts with, if it is a command
/// (one the hazard table knows, or one on PATH) rather than output or text.
fn command_of(body: &str) -> Option<String> {
    let calls = hazards::calls(&bash::prepare(body));
    let c = calls.first()?;
    let known = !matches!(hazards::effect(c), Effect::Unknown(_));
    (known || missing::on_path(&c.program)).then(|| c.program.clone())
}

/// A YAML scalar that reads back as `s` (plain when it can be).
fn yaml_str(s: &str) -> String {
    let plain = frontmatter::parse(&format!("title: {s}\n")).ok().and_then(|f| f.title);
    if plain.as_deref() == Some(s) && !s.contains('#') {
        return s.to_string();
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Go templates of a body (`kubectl -o go-template='{{.x}}'`), as edits
/// wrapping each in `{% raw %}`: they are not ours to render.
fn raw_edits(body: &str) -> Vec<rewrite::Edit> {
    let mut out = Vec::new();
    for (r, _) in gotemplate::actions(body).into_iter().filter(|(_, go)| *go) {
        out.push(rewrite::Edit { range: r.start..r.start, text: "{% raw %}".into() });
        out.push(rewrite::Edit { range: r.end..r.end, text: "{% endraw %}".into() });
    }
    out
}

/// The variables the page's own templates use (`{{ namespace }}` in a
/// block that was documentation).
fn template_names(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (r, go) in gotemplate::actions(body) {
        if go {
            continue;
        }
        let inner = &body[r.start + 2..r.end - 2];
        let name: String = inner.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && !crate::template::BUILTINS.contains(&name.as_str())
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// The fence languages of a terminal session (`$ ` before each command):
/// its commands become a step when no line is what they printed.
const SESSION: &[&str] = &["console", "shell-session", "terminal"];

pub fn import(path: &Path, text: &str) -> Result<Imported> {
    let page = parse::parse_page(path, text, String::new())?;
    let rb = page.runbook();
    if let Some(d) = rb.doc_blocks.iter().find(|d| d.unclosed) {
        return Err(Error::invalid(
            Diagnostic::error("unclosed-fence", "code block is not closed: the rest of its container is code")
                .at(path, d.line)
                .hint("close it with a fence line (```) where its commands end, then import again"),
        ));
    }
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let split = frontmatter::split(&text[bom..]);
    let body_start = bom + if split.yaml.is_some() { split.body_start } else { 0 };
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let (blocks, h1) = scan::scan(text, body_start);
    // Each block's prompts (`$ `), and its commands without them.
    let prompted: Vec<Prompts> = blocks.iter().map(|b| prompts::prompts(&b.body)).collect();
    let commands: Vec<String> = blocks
        .iter()
        .zip(&prompted)
        .map(|(b, p)| match p {
            Prompts::Commands(at) => prompts::strip(&b.body, at),
            _ => b.body.clone(),
        })
        .collect();
    let convert = |k: usize| -> Option<&'static str> {
        let b = &blocks[k];
        let info = &text[b.info.clone()];
        let lang = info.split(|c: char| c.is_whitespace() || c == '{').next().unwrap_or("");
        match lang {
            _ if info.contains('{') || !b.verbatim || prompted[k] == Prompts::WithOutput => None,
            "bash" | "shell" => Some("bash"),
            "sh" => Some("sh"),
            // A terminal session's commands, when every line is one.
            _ if SESSION.contains(&lang) && matches!(prompted[k], Prompts::Commands(_)) => Some("bash"),
            _ => None,
        }
    };
    // Shell syntax of the blocks to convert, a process per dialect.
    let mut broken: Vec<Option<(usize, String)>> = vec![None; blocks.len()];
    let mut unchecked = Unchecked::default();
    if let Ok(dir) = tempfile::tempdir() {
        for dialect in ["bash", "sh"] {
            let idx: Vec<usize> = (0..blocks.len()).filter(|&k| convert(k) == Some(dialect)).collect();
            if !idx.is_empty() && !missing::on_path(dialect) {
                unchecked.add(dialect, idx.len());
                continue;
            }
            let scripts: Vec<String> = idx.iter().map(|&k| bash::prepare(&commands[k])).collect();
            let refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
            for (k, r) in idx.into_iter().zip(bash::syntax_batch(dialect, &refs, dir.path())) {
                broken[k] = r;
            }
        }
    }

    let mut ids: Vec<String> = rb.steps.iter().map(|s| s.id.clone()).collect();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut page_edits: Vec<rewrite::Edit> = Vec::new();
    let mut notes = Vec::new();
    let mut steps = 0;
    for (k, b) in blocks.iter().enumerate() {
        let info = &text[b.info.clone()];
        let lang = info.split(|c: char| c.is_whitespace() || c == '{').next().unwrap_or("");
        if !b.verbatim && matches!(lang, "bash" | "sh" | "shell") && !info.contains('{') {
            notes
                .push(format!("line {}: left as documentation: its text could not be mapped back to the page", b.line));
        }
        if matches!(lang, "bash" | "sh" | "shell") && info.contains('{') && !rb.steps.iter().any(|s| s.line == b.line) {
            notes.push(format!(
                "line {}: left as documentation: `{}` is another tool's attribute set (line highlighting, a title)",
                b.line,
                info[info.find('{').unwrap_or(0)..].trim()
            ));
        }
        let shell =
            (matches!(lang, "bash" | "sh" | "shell") || SESSION.contains(&lang)) && b.verbatim && !info.contains('{');
        if shell && prompted[k] == Prompts::WithOutput {
            notes.push(format!(
                "line {}: left as documentation: a terminal session (`$ ` prompts and what the commands printed): put its commands in a block of their own, without the prompts, to make them a step",
                b.line
            ));
        }
        if lang.is_empty()
            && b.verbatim
            && let Some(program) = command_of(&commands[k])
        {
            notes.push(format!(
                "line {}: left as documentation: the block names no language, though `{program}` is a command: write ```bash to make it a step, then import again",
                b.line
            ));
        }
        if convert(k).is_none() {
            continue;
        }
        let (mut edits, mut found, left) = rewrite::placeholders(&b.body);
        if let Prompts::Commands(at) = &prompted[k] {
            edits.extend(at.iter().map(|r| rewrite::Edit { range: r.clone(), text: String::new() }));
            notes.push(format!("line {}: the prompts (`$ `) before its commands removed", b.line));
        }
        edits.extend(raw_edits(&b.body));
        edits.sort_by_key(|e| (e.range.start, e.range.end));
        found.extend(template_names(&b.body).into_iter().map(|n| (format!("{{{{ {n} }}}}"), n)));
        for (name, var) in found {
            let shown = if name.starts_with('{') { name } else { format!("<{name}>") };
            match vars.iter_mut().find(|(v, _)| *v == var) {
                Some((_, names)) if !names.split(", ").any(|n| n == shown) => names.push_str(&format!(", {shown}")),
                Some(_) => {}
                None => vars.push((var, shown)),
            }
        }
        for p in left {
            notes.push(format!(
                "line {}: `<{}>` is in a quoted heredoc (<<'EOF'), where nothing expands: left as is, fill it in by hand",
                b.line + 1 + p.line,
                p.name
            ));
        }
        let decision = decide(&commands[k], broken[k].as_ref());
        let label = b
            .item
            .as_deref()
            .and_then(scan::slug)
            .or_else(|| b.heading.as_deref().filter(|_| !b.heading_taken).and_then(scan::slug))
            .or_else(|| command_label(&commands[k]))
            .unwrap_or_else(|| "step".to_string());
        let mut id = label.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{label}-{n}");
            n += 1;
        }
        ids.push(id.clone());
        // The fence: `shell` (or a session's) is no step language, `bash` is.
        let lang_end = b.info.start + lang.len();
        if lang == "shell" || SESSION.contains(&lang) {
            page_edits.push(rewrite::Edit { range: b.info.start..lang_end, text: "bash".into() });
        }
        let attrs =
            std::iter::once(format!("#{id}")).chain(decision.attrs.iter().cloned()).collect::<Vec<_>>().join(" ");
        page_edits.push(rewrite::Edit { range: b.info.end..b.info.end, text: format!(" {{{attrs}}}") });
        for e in edits {
            // An edit ends with its line's text; an insertion at a line's
            // start goes after the container prefix of that line.
            let line_start = e.range.start == 0 || b.body.as_bytes()[e.range.start - 1] == b'\n';
            let start = b.page_offset(e.range.start, e.range.start < e.range.end || line_start);
            let end = if e.range.start == e.range.end { start } else { b.page_offset(e.range.end, false) };
            let (Some(start), Some(end)) = (start, end) else { continue };
            let mut t = e.text;
            if let Some(line) = t.strip_suffix('\n') {
                // A new line before a body line: that line's container prefix after it.
                let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                t = format!("{line}{eol}{}", &text[line_start..start]);
            }
            page_edits.push(rewrite::Edit { range: start..end, text: t });
        }
        notes.push(format!("line {}: #{id} {{{}}}: {}", b.line, decision.attrs.join(" "), decision.why.join("; ")));
        steps += 1;
    }
    // Variables the page already declares stay as they are.
    vars.retain(|(v, _)| !rb.vars.contains_key(v));
    if steps == 0 {
        notes.push("no unannotated shell block: nothing to import".to_string());
    }
    page_edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = rewrite::apply(text, &page_edits);

    // Front matter.
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("runbook");
    let id = if parse::valid_runbook_id(stem) {
        stem.to_string()
    } else {
        scan::slug(stem).unwrap_or_else(|| "runbook".into())
    };
    let var_lines: String = vars.iter().map(|(v, _)| format!("  {v}: ~{eol}")).collect();
    if !vars.is_empty() {
        let list: Vec<String> = vars.iter().map(|(v, from)| format!("{v} (from {from})")).collect();
        notes.push(format!("variables, without a default: {}", list.join(", ")));
    }
    match split.yaml {
        None if steps > 0 => {
            let mut fm = format!("---{eol}id: {id}{eol}");
            if let Some(t) = &h1 {
                fm.push_str(&format!("title: {}{eol}", yaml_str(t)));
            }
            if !var_lines.is_empty() {
                fm.push_str(&format!("vars:{eol}{var_lines}"));
            }
            fm.push_str(&format!("---{eol}"));
            out.insert_str(bom, &fm);
            notes.insert(
                0,
                format!("front matter: id `{id}` (file name){}", if h1.is_some() { ", title (H1)" } else { "" }),
            );
        }
        None => {}
        Some(yaml) => {
            let yaml_start = bom + text[bom..].find('\n').map_or(0, |n| n + 1);
            let yaml_end = yaml_start + yaml.len();
            // The id defaults to the file name: written only when that is no id.
            let mut head = String::new();
            if steps > 0 && id != stem && frontmatter::key_line(yaml, "id").is_none() {
                head.push_str(&format!("id: {id}{eol}"));
            }
            let mut tail = String::new();
            if !var_lines.is_empty() {
                match vars_block_end(yaml) {
                    Some(VarsAt::Missing) => tail = format!("vars:{eol}{var_lines}"),
                    Some(VarsAt::BlockEnd(at)) => {
                        let at = yaml_start + at;
                        out = format!("{}{var_lines}{}", &out[..at], &out[at..]);
                    }
                    None => notes.push(format!(
                        "front matter `vars` is not a block of `name: value` lines: add {} yourself",
                        vars.iter().map(|(v, _)| format!("`{v}: ~`")).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
            // Edits of the YAML come before the body's in the text: apply tail first.
            let tail_at = yaml_end;
            if !tail.is_empty() {
                let sep = if yaml.is_empty() || yaml.ends_with('\n') { "" } else { eol };
                out.insert_str(tail_at, &format!("{sep}{tail}"));
            }
            if !head.is_empty() {
                out.insert_str(yaml_start, &head);
                notes.insert(0, format!("front matter: kept, with id `{id}` (file name)"));
            }
        }
    }
    Ok(Imported { text: out, notes, steps, unchecked })
}

enum VarsAt {
    Missing,
    /// The offset (in the YAML) after the last line of a block `vars:` mapping.
    BlockEnd(usize),
}

/// Where new variables go in existing front matter; `None` when `vars` is
/// written in a form this does not edit (a flow mapping).
fn vars_block_end(yaml: &str) -> Option<VarsAt> {
    let mut offset = 0;
    let mut found = None;
    for l in yaml.split_inclusive('\n') {
        let t = l.trim_end();
        match found {
            None if t.starts_with("vars:") => {
                if !t["vars:".len()..].trim().is_empty() && !t["vars:".len()..].trim().starts_with('#') {
                    return None;
                }
                found = Some(offset + l.len());
            }
            Some(_) if t.starts_with(' ') => found = Some(offset + l.len()),
            Some(_) if t.is_empty() || t.starts_with('#') => {}
            Some(end) => return Some(VarsAt::BlockEnd(end)),
            None => {}
        }
        offset += l.len();
    }
    Some(found.map_or(VarsAt::Missing, VarsAt::BlockEnd))
}

#[cfg(test)]
mod tests;
