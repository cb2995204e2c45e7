//! One fenced block → a step or a documentation block: the info string's
//! language and `{…}` attributes, and every way they can be wrong.

use std::path::Path;

use super::attrs;
use crate::error::Diagnostic;
use crate::model::{Attrs, DocBlock, Step, StepKind};

/// Does a fence's info string carry runbook's attributes: a `{…}` set
/// that is not another tool's ([`attrs::foreign`])?
pub(super) fn has_attrs(info: &str) -> bool {
    match info.find('{') {
        Some(i) => !foreign_attrs(&info[i..]),
        None => false,
    }
}

/// Is the attribute set `rest` starts with (text after its `}` aside)
/// another tool's?
fn foreign_attrs(rest: &str) -> bool {
    closing_brace(rest).and_then(|end| attrs::tokenize(&rest[1..end]).ok()).is_some_and(|raw| attrs::foreign(&raw))
}

/// Byte index of the `}` closing the attribute set that `s` starts with,
/// skipping braces inside quoted values.
fn closing_brace(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
pub(super) fn classify(
    path: &Path,
    info: &str,
    line: usize,
    body: String,
    unclosed: bool,
    section: Option<std::sync::Arc<str>>,
    steps: &mut Vec<Step>,
    docs: &mut Vec<DocBlock>,
    errors: &mut Vec<Diagnostic>,
) {
    let info = info.trim();
    let (lang, rest) = match info.find(|c: char| c.is_whitespace() || c == '{') {
        Some(i) => (&info[..i], info[i..].trim_start()),
        None => (info, ""),
    };
    let at = |d: Diagnostic| d.at(path, line);
    if !rest.starts_with('{') || foreign_attrs(rest) {
        docs.push(DocBlock { line, body_line: line + 1, lang: lang.to_string(), body, unclosed });
        return;
    }
    if lang.is_empty() {
        errors.push(at(Diagnostic::error("unknown-language", "step has no language")
            .hint(format!("put the language first: ```bash {rest}; step languages: {}", StepKind::LANGS.join(", ")))));
        return;
    }
    if info[lang.len()..].starts_with('{') {
        errors.push(at(Diagnostic::error(
            "attr-syntax",
            format!("no space between the language and the attributes in ```{info}"),
        )
        .hint(format!("write ```{lang} {rest}: without the space GitHub and rustdoc misread the block"))));
        return;
    }
    let Some(inner) = rest.strip_prefix('{').and_then(|r| r.trim_end().strip_suffix('}')) else {
        let (message, hint) = match closing_brace(rest) {
            Some(end) => (
                format!("text after the attributes in ```{info}"),
                format!("put everything inside the braces, or drop `{}`", rest[end + 1..].trim()),
            ),
            None => (
                format!("attributes not closed by `}}` in ```{info}"),
                "close the attribute set: ```bash {#id read}".to_string(),
            ),
        };
        errors.push(at(Diagnostic::error("attr-syntax", message).hint(hint)));
        return;
    };
    if unclosed {
        errors.push(at(Diagnostic::error("unclosed-fence", "code block is not closed")
            .hint("close the step with a fence line (```) of the same length as the opening")));
        return;
    }
    let raw = match attrs::tokenize(inner) {
        Ok(r) => r,
        Err(e) => {
            errors.push(at(Diagnostic::error("attr-syntax", e.message).hint(e.hint)));
            return;
        }
    };
    let unknown = attrs::unknown(&raw);
    if !unknown.is_empty() {
        errors.extend(unknown.into_iter().map(|e| at(Diagnostic::error("unknown-attribute", e.message).hint(e.hint))));
        return;
    }
    let (id, attrs): (Option<String>, Attrs) = match attrs::build(raw) {
        Ok(x) => x,
        Err(e) => {
            let code = if e.message.starts_with("unknown attribute") { "unknown-attribute" } else { "attr-value" };
            errors.push(at(Diagnostic::error(code, e.message).hint(e.hint)));
            return;
        }
    };
    let Some(kind) = StepKind::from_lang(lang) else {
        errors.push(at(Diagnostic::error("unknown-language", format!("unknown step language `{lang}`")).hint(
            format!("step languages: {}; drop the `{{…}}` to keep it as documentation", StepKind::LANGS.join(", ")),
        )));
        return;
    };
    let Some(id) = id else {
        errors.push(at(Diagnostic::error("missing-id", "step has no id")
            .hint(format!("add an id first in the attributes: ```{lang} {{#my-step {inner}}}"))));
        return;
    };
    if !attrs::valid_id(&id) {
        errors.push(at(Diagnostic::error("invalid-id", format!("invalid step id `{id}`"))
            .hint("ids are lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit")));
        return;
    }
    if attrs.interactive && kind == StepKind::Manual {
        errors.push(at(Diagnostic::error("attr-value", "a `manual` step cannot be `interactive`")
            .hint("drop `interactive`: manual steps already wait for the operator")));
        return;
    }
    if let Some((attr, hint)) = attrs::misplaced(kind, &attrs) {
        errors.push(at(Diagnostic::error("attr-value", {
            let reads = matches!(attr, "capture" | "expect");
            let what = if reads && attrs.interactive && kind != StepKind::Manual {
                "an `interactive`".to_string()
            } else {
                format!("a `{lang}`")
            };
            format!("`{attr}` does not apply to {what} step")
        })
        .hint(hint)));
        return;
    }
    // An interpreter cannot run a script with a NUL byte (bash: "cannot
    // execute binary file", exit 126), and a shown command would hide it.
    if let Some(n) = body.split('\n').position(|l| l.contains('\0')) {
        errors.push(
            Diagnostic::error("nul-byte", format!("step `{id}` has a NUL byte in its body: no interpreter can run it"))
                .at(path, line + 1 + n)
                .hint("remove it (an editor may show it as ^@); write `\\0` where the command means one, as `printf '\\0'` does"),
        );
        return;
    }
    steps.push(Step { id, line, body_line: line + 1, lang: lang.to_string(), kind, attrs, body, section });
}
