//! A plan preview: every step rendered with the resolved variables, without
//! running anything. `plan` prints it; `check` and the mdBook preprocessor
//! reuse it. Captured values and step results do not exist yet, so they
//! appear as placeholders and `when` conditions that read them are "decided
//! at run time".

use serde::Serialize;

use crate::config::EnvProfile;
use crate::error::{Diagnostic, Error, Result};
use crate::model::{Runbook, Step};
use crate::plan::{Dag, EdgeKind};
use crate::template::{Capture, Context, StepState, Templater, quotes};
use crate::vars::{Origin, Resolved};

#[derive(Debug, Serialize)]
pub struct Preview {
    pub runbook: String,
    pub title: String,
    pub path: String,
    pub env: Option<String>,
    pub vars: Vec<VarView>,
    pub steps: Vec<StepView>,
    /// Steps grouped by parallel level (ids).
    pub levels: Vec<Vec<String>>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
pub struct VarView {
    pub name: String,
    pub value: String,
    pub origin: Origin,
    pub secret: bool,
}

#[derive(Debug, Serialize)]
pub struct StepView {
    pub n: usize,
    pub id: String,
    pub line: usize,
    pub kind: &'static str,
    pub read: bool,
    pub level: usize,
    pub needs: Vec<String>,
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// `true`/`false` when decidable now, `null` when decided at run time.
    pub will_run: Option<bool>,
    /// Why it will not run, when `will_run` is false: its `when`, or a step it
    /// `needs` that will not run (the play skips it then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// `expect`, `cwd` and `escalate`, rendered as the play renders them
    /// (in this env, secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate: Option<String>,
    /// The `confirm` text, rendered (captures as placeholders), secrets masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<std::sync::Arc<str>>,
    pub attrs: crate::model::Attrs,
}

/// The template context at plan time (`plan`, `check`, the mdBook pages,
/// and the check `play` makes before it runs anything): variables, and
/// placeholders for what only the play knows — every capture
/// (`<current_rev from get-rev>`) and every step's `status`, `exit` and
/// `stdout` (`<stdout of pods>`). A `when` that reads them is decided at
/// run time.
pub fn plan_context(rb: &Runbook, vars: &Resolved, env: Option<&EnvProfile>) -> Context {
    let mut ctx = Context { vars: vars.vars.clone(), env: env.map(|e| e.name.clone()), ..Context::default() };
    for s in &rb.steps {
        ctx.steps.insert(s.id.clone(), StepState::placeholder());
        if let Some(c) = &s.attrs.capture {
            ctx.captures.insert(c.clone(), Capture::Placeholder { step: s.id.clone() });
        }
    }
    ctx
}

/// A runbook whose front matter `envs` excludes the chosen env is refused
/// (plan and play alike).
pub fn check_env_allowed(rb: &Runbook, env: Option<&EnvProfile>) -> Result<()> {
    if let Some(p) = env
        && !rb.envs.is_empty()
        && !rb.envs.contains(&p.name)
    {
        return Err(Error::invalid(
            Diagnostic::error("env-not-allowed", format!("runbook `{}` is not for env `{}`", rb.id, p.name))
                .at(&rb.path, rb.front_matter_line.unwrap_or(1))
                .hint(format!("its front matter allows: {}", rb.envs.join(", "))),
        ));
    }
    Ok(())
}

/// No env chosen (no `--env`, no `default_env`): the play is `local`, with
/// no profile, so with none of an env's guard, confirm policy or variables.
/// A runbook whose front matter `envs` does not list `local` is refused
/// then (plan and play alike); `--env local` plays it deliberately.
pub fn check_env_chosen(rb: &Runbook, config: &crate::config::Config, chosen: Option<&str>) -> Result<()> {
    let local = crate::config::LOCAL_ENV;
    if chosen.or(config.default_env.as_deref()).is_some() || rb.envs.is_empty() || rb.envs.iter().any(|e| e == local) {
        return Ok(());
    }
    let hint = format!(
        "its front matter allows: {}; no env was chosen (`--env`, or `default_env` in runbook.toml), so the play \
         would be `{local}`, with no profile: choose one with `--env {}` (or `--env {local}` to play it so)",
        rb.envs.join(", "),
        rb.envs[0]
    );
    Err(Error::invalid(
        Diagnostic::error("env-not-allowed", format!("runbook `{}` is not for env `{local}`", rb.id))
            .at(&rb.path, rb.front_matter_line.unwrap_or(1))
            .hint(hint),
    ))
}

/// The plan of a play. `show_unset`: a required variable without a value
/// (`~` in front matter, not given) is shown as `<name>` with a warning, as
/// the wiki shows it (a play asks for it), rather than refused.
pub fn build(rb: &Runbook, dag: &Dag, vars: &Resolved, env: Option<&EnvProfile>, show_unset: bool) -> Result<Preview> {
    check_env_allowed(rb, env)?;
    let t = Templater::new(rb);
    let mut ctx = plan_context(rb, vars, env);
    let red = secret_redactor(rb, vars);
    let mut errors = crate::vars::unread_secrets(rb);
    let mut warnings = Vec::new();
    if show_unset {
        for (k, _) in vars.vars.iter().filter(|(_, v)| v.is_null()) {
            ctx.captures.insert(k.clone(), Capture::Unset);
            let how = crate::template::how_to_give(k, rb.is_secret(k));
            warnings.push(
                Diagnostic::warning("unset-variable", format!("variable `{k}` has no value: shown as <{k}>"))
                    .at(&rb.path, crate::vars::declared_at(rb, k))
                    .hint(format!("a play asks for it on a terminal; or pass {how}")),
            );
        }
    }
    // What a play refuses (`preflight`), `plan` shows with the plan.
    let unmatched = crate::vars::unmatched(rb, vars, &ctx).into_iter();
    warnings.extend(unmatched.map(|d| Diagnostic { severity: crate::error::Severity::Warning, ..d }));
    let mut steps = Vec::new();
    // `will_run` of each step shown so far, by step index.
    let mut shown: Vec<Option<Option<bool>>> = vec![None; rb.steps.len()];
    let undo_steps = rb.steps.iter().enumerate().filter(|(_, s)| s.attrs.undo).map(|(i, _)| (i, 0usize));
    let order: Vec<(usize, usize)> =
        dag.order.iter().copied().zip(dag.level.iter().copied()).chain(undo_steps).collect();
    for (n, &(i, level)) in order.iter().enumerate() {
        let s = &rb.steps[i];
        warnings.extend(quote_warnings(rb, s));
        let unknown = t.unknown_step_ref_errors(s);
        if !unknown.is_empty() {
            errors.extend(unknown);
            continue;
        }
        // A `when` that needs a name not defined: the step does not run, and
        // its templates, which may read that name, are shown as written.
        let guarded = t.unmet_guard(s, &ctx).is_some();
        let command = match guarded {
            true => s.body.clone(),
            false => match t.body(s, &ctx) {
                Ok(c) => c,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            },
        };
        let will_run = match t.when(s, &ctx) {
            Ok(w) => w,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        // As a play renders them (masked); a `cwd` trimmed as the play
        // trims it.
        let mut texts =
            [("expect", &s.attrs.expect), ("cwd", &s.attrs.cwd), ("escalate", &s.attrs.escalate)].map(|(a, v)| match v
                .as_ref()
                .filter(|_| !guarded)
                .map(|v| t.attr(s, a, v, &ctx))
            {
                None => None,
                Some(Ok(r)) => Some(red.redact(&r).into_owned()),
                Some(Err(d)) => {
                    errors.push(d);
                    None
                }
            });
        if let Some(c) = &mut texts[1] {
            *c = c.trim().to_string();
        }
        let [expect, cwd, escalate] = texts;
        if !guarded {
            errors.extend(expect_regex(rb, s, &t, &ctx));
        }
        let confirm = match if guarded { Ok(None) } else { t.confirm(s, &ctx) } {
            Ok(c) => c.map(|c| red.redact(&c).into_owned()),
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let need_ix: Vec<usize> = dag.deps(i).iter().filter(|e| e.kind == EdgeKind::Needs).map(|e| e.from).collect();
        let needs: Vec<String> = need_ix.iter().map(|&j| rb.steps[j].id.clone()).collect();
        // A step whose `needs` will not run is skipped too; one whose `needs`
        // is decided at run time is decided then as well.
        let mut skip = (will_run == Some(false)).then(|| "`when` is false".to_string());
        let mut will_run = will_run;
        for &j in &need_ix {
            match shown[j] {
                Some(Some(false)) if skip.is_none() => {
                    skip = Some(format!("needs `{}`, which is skipped", rb.steps[j].id));
                    will_run = Some(false);
                }
                Some(None) if will_run == Some(true) => will_run = None,
                _ => {}
            }
        }
        let will_run = if s.attrs.undo { Some(false) } else { will_run };
        shown[i] = Some(will_run);
        let after = dag.deps(i).iter().find(|e| e.kind == EdgeKind::After).map(|e| rb.steps[e.from].id.clone());
        steps.push(StepView {
            n: n + 1,
            id: s.id.clone(),
            line: s.line,
            kind: s.kind.name(),
            read: s.attrs.read,
            level,
            needs,
            after,
            when: s.attrs.when.clone(),
            will_run,
            skip: if s.attrs.undo { None } else { skip },
            confirm,
            expect,
            cwd,
            escalate,
            command: red.redact(&command).into_owned(),
            rollback: s.attrs.rollback.clone(),
            section: s.section.clone(),
            attrs: s.attrs.clone(),
        });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let levels = dag.levels().into_iter().map(|g| g.into_iter().map(|i| rb.steps[i].id.clone()).collect()).collect();
    let vars_view = vars
        .vars
        .iter()
        .map(|(k, v)| {
            let secret = rb.is_secret(k);
            // No value is shown as the commands show it, secret or not.
            let value = if v.is_null() { format!("<{k}>") } else { crate::vars::as_text(&rb.shown(k, v)) };
            VarView { name: k.clone(), value, origin: vars.origin[k], secret }
        })
        .collect();
    Ok(Preview {
        runbook: rb.id.clone(),
        title: rb.title.clone(),
        path: rb.path.display().to_string(),
        env: env.map(|e| e.name.clone()),
        vars: vars_view,
        steps,
        levels,
        warnings,
    })
}

/// `{{ }}` inside shell quotes, or inside a Python string literal: a
/// warning at plan time, an error in `check`.
pub fn quote_warnings(rb: &Runbook, s: &Step) -> Vec<Diagnostic> {
    // A `{{` inside `{% raw %}` is literal text (a Go template `'{{.Status}}'`).
    let unraw = quotes::without_raw(&s.body);
    let body = unraw.as_deref().unwrap_or(&s.body);
    let (found, why, hint) = if s.kind == crate::model::StepKind::Python {
        (
            quotes::find_python(body),
            "the value is a string literal of its own there",
            "`{{ ns }}` is already a Python string: write `\"hello \" + {{ ns }}`, or bind it first (`ns = {{ ns }}`) and use an f-string",
        )
    } else if s.is_shell() {
        let mut found = quotes::find(body);
        // One warning per line and kind of quote: `"{{ a }} {{ b }}"` is one mistake.
        found.dedup_by(|b, a| a.line == b.line && a.quote == b.quote);
        (
            found,
            "quoting cannot protect the value there",
            "move it outside the quotes: `echo prepare {{ ns }}` or `echo \"prepare \"{{ ns }}`",
        )
    } else {
        return Vec::new();
    };
    found
        .into_iter()
        .map(|q| {
            Diagnostic::warning(
                "template-in-quotes",
                format!("`{{{{ }}}}` inside {} in step `{}`: {why}", q.quote, s.id),
            )
            .at(&rb.path, s.body_line + q.line)
            .hint(if q.quote == "a heredoc" {
                "set a shell variable before the heredoc (`ns={{ ns }}`) and write `$ns` in it"
            } else {
                hint
            })
        })
        .collect()
}

/// A shell or Python step's `expect`, rendered, must be a regex
/// ([`crate::expect`]): what the step would fail on after earlier steps
/// ran is refused before the first. A query step's `expect` has its own
/// grammar, a template error is reported by the rendering itself.
pub fn expect_regex(rb: &Runbook, s: &Step, t: &Templater, ctx: &Context) -> Option<Diagnostic> {
    let x = s.attrs.expect.as_deref().filter(|_| s.kind.query().is_none())?;
    let src = t.attr(s, "expect", x, ctx).ok()?;
    let e = crate::expect::compile(&src).err()?;
    // A secret value rendered into it is not shown.
    let red = crate::redact::Redactor::new(Templater::new(rb).secret_values(ctx));
    Some(
        Diagnostic::error("expect-regex", format!("step `{}`: {}", s.id, red.redact(&e.message(&src))))
            .at(&rb.path, s.line)
            .hint(e.hint),
    )
}

/// Mask secret variable values in text.
pub fn redact_vars(rb: &Runbook, vars: &Resolved, text: &str) -> String {
    secret_redactor(rb, vars).redact(text).into_owned()
}

pub fn secret_redactor(rb: &Runbook, vars: &Resolved) -> crate::redact::Redactor {
    crate::redact::Redactor::new(crate::template::secret_values(rb, &vars.vars))
}

/// Every template of the runbook renders with these variables (captures and
/// step results are placeholders): what a play checks before its first step,
/// so nothing runs when a later step could not.
pub fn preflight(rb: &Runbook, vars: &Resolved, env: Option<&EnvProfile>) -> Result<()> {
    let t = Templater::new(rb);
    let ctx = plan_context(rb, vars, env);
    let mut errors = crate::vars::unread_secrets(rb);
    errors.extend(read_out_of_order(rb, &Dag::build(rb)?, vars));
    for s in &rb.steps {
        let unknown = t.unknown_step_ref_errors(s);
        if !unknown.is_empty() {
            errors.extend(unknown);
            continue;
        }
        // Its `when` is false: it does not run in this play.
        if t.unmet_guard(s, &ctx).is_some() {
            continue;
        }
        if let Err(d) = t.body(s, &ctx) {
            errors.push(d);
        }
        for (a, v) in [
            ("expect", &s.attrs.expect),
            ("cwd", &s.attrs.cwd),
            ("confirm", &s.attrs.confirm),
            ("escalate", &s.attrs.escalate),
        ] {
            if let Some(v) = v
                && let Err(d) = t.attr(s, a, v, &ctx)
            {
                errors.push(d);
            }
        }
        if let Err(d) = t.when(s, &ctx) {
            errors.push(d);
        }
        errors.extend(expect_regex(rb, s, &t, &ctx));
    }
    if errors.is_empty() {
        errors = crate::vars::unmatched(rb, vars, &ctx);
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

/// Each step that reads a capture of a step it does not come after in the
/// DAG, where no variable of that name has a value: in a play it would
/// render before the capture exists or after it, as the branches race.
/// Refused by `plan` and before a play's first step, as `check` refuses it.
pub fn captures_out_of_order(rb: &Runbook, dag: &Dag, vars: &Resolved) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    let mut captured: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (j, c) in rb.steps.iter().enumerate() {
        if let Some(name) = &c.attrs.capture {
            captured.entry(name.as_str()).or_default().push(j);
        }
    }
    let mut out = Vec::new();
    if captured.is_empty() {
        return out;
    }
    for (i, s) in rb.steps.iter().enumerate() {
        for name in t.names_used(s) {
            if rb.vars.contains_key(&name) || vars.vars.contains_key(&name) {
                continue;
            }
            let Some(captured_by) = captured.get(name.as_str()) else { continue };
            let first = captured_by[0];
            if captured_by.iter().any(|&j| dag.ran_before(i, s.attrs.undo, j)) {
                continue;
            }
            let src = t.first_use(s, &name).unwrap_or(crate::template::Source::Body);
            let line = t.line_of_name(s, src, &name).unwrap_or(s.line);
            out.push(capture_order(s, &rb.steps[first], &name).at(&rb.path, line));
        }
    }
    out
}

/// Step `s` reads `name`, captured by step `c`, which it does not depend on.
pub fn capture_order(s: &Step, c: &Step, name: &str) -> Diagnostic {
    Diagnostic::error(
        "capture-order",
        format!("step `{}` uses `{name}`, captured by step `{}`, which it does not depend on", s.id, c.id),
    )
    .hint(format!("add `needs={}` to step `{}` so the capture exists when it runs", c.id, s.id))
}

/// Each `steps.<id>` a step reads of a step that does not run before it in
/// the DAG (a later step, a parallel branch, itself): in a play the value
/// would be empty, or depend on which branch is faster, and a `when`
/// reading it would decide from nothing. Refused by `plan`, `check` and
/// before a play's first step.
pub fn steps_read_out_of_order(rb: &Runbook, dag: &Dag) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    let mut out = Vec::new();
    for (i, s) in rb.steps.iter().enumerate() {
        for (id, attr) in t.known_step_refs(s) {
            let Some(j) = rb.step_index(&id) else { continue };
            if dag.ran_before(i, s.attrs.undo, j) {
                continue;
            }
            let place = attr.map_or("its body".to_string(), |a| format!("`{a}`"));
            let d = if j == i {
                Diagnostic::error(
                    "step-ref-order",
                    format!("step `{id}` reads its own `steps.{id}` in {place}: its status and output are known only once it has ended"),
                )
                .hint(format!("read them in a later step with `needs={id}`"))
            } else {
                Diagnostic::error(
                    "step-ref-order",
                    format!(
                        "step `{}` reads `steps.{id}` in {place}, but step `{id}` does not run before it: the value would be empty or depend on which branch is faster",
                        s.id
                    ),
                )
                .hint(format!("add `needs={id}` to step `{}` so `{id}` has ended when it runs", s.id))
            };
            out.push(d.at(&rb.path, s.line));
        }
    }
    out
}

/// What `plan` and a play refuse about the order of what steps read: a
/// capture or a step's state read before it exists.
pub fn read_out_of_order(rb: &Runbook, dag: &Dag, vars: &Resolved) -> Vec<Diagnostic> {
    let mut out = steps_read_out_of_order(rb, dag);
    out.extend(captures_out_of_order(rb, dag, vars));
    out
}
