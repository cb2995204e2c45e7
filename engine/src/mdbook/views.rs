//! One runbook rendered for every environment of `runbook.toml`.
//!
//! A responder copies commands from the wiki, so the page shows them with the
//! values they run with: the default env in the HTML, the others in hidden
//! twins that the page's script switches to. Rendering is the plan's
//! (`preview::plan_context`, `Templater`), with one difference: what has no
//! value yet stays a *marked* placeholder, not text. Captures, step results,
//! variables the env does not set, and secrets are rendered as sentinels
//! (plain alphanumeric words, so quoting leaves them alone), which are then
//! cut out of the text as [`Seg::Ph`]: the page styles them, and a secret's
//! value never enters the context at all, so it cannot reach any view.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::when::Known;
use crate::config::{Config, EnvProfile};
use crate::model::{DocBlock, Runbook, Step, StepKind, Value};
use crate::preview::plan_context;
use crate::template::{BUILTINS, Capture, Context, StepState, Templater};
use crate::vars::{self, Resolved};

/// The `data-runbook-env` key of the view without an env (no `default_env`).
pub const NO_ENV: &str = "(none)";

/// What a placeholder stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ph {
    /// No value in this env (nor a front-matter default).
    Unset {
        name: String,
    },
    Secret {
        name: String,
    },
    Captured {
        name: String,
        step: String,
    },
    StepField {
        step: String,
        field: &'static str,
    },
}

impl Ph {
    /// The text shown (and copied): `<image_tag>`, as `plan` shows captures.
    pub fn text(&self) -> String {
        match self {
            Ph::Unset { name } => format!("<{name}>"),
            Ph::Secret { name } => format!("<{name}: secret>"),
            Ph::Captured { name, step } => format!("<{name} from {step}>"),
            Ph::StepField { step, field } => format!("<{field} of {step}>"),
        }
    }

    /// The explanation on hover.
    pub fn title(&self, env: &str) -> String {
        match self {
            Ph::Unset { name } if env == NO_ENV => format!("no value: play it with --set {name}=…"),
            Ph::Unset { name } => format!("no value in {env}: play it with --set {name}=…"),
            Ph::Secret { .. } => "a secret: never shown in the wiki".into(),
            Ph::Captured { step, .. } => format!("captured by step {step} during the play"),
            Ph::StepField { step, .. } => format!("known once step {step} has run"),
        }
    }
}

/// Rendered text: literal runs and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Text(String),
    Ph(Ph),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub segs: Vec<Seg>,
    /// It could not be rendered (a filter on a placeholder): shown as written.
    pub as_written: bool,
}

impl Rendered {
    /// The text as shown, placeholders included (`<name>`).
    pub fn plain(&self) -> String {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Text(t) => t.clone(),
                Seg::Ph(p) => p.text(),
            })
            .collect()
    }

    pub fn has_placeholders(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Ph(_)))
    }
}

/// The runbook as one environment sees it.
pub struct View<'c> {
    pub env: Option<&'c EnvProfile>,
    /// Its `data-runbook-env` key: the env's name, or [`NO_ENV`].
    pub key: String,
    /// Values (secrets left out).
    pub resolved: Resolved,
    body_ctx: Context,
    when_ctx: Context,
    sentinels: Vec<(String, Ph)>,
    /// Names read by the runbook that have no value here, secrets included,
    /// and those with a secret part.
    unknown: BTreeSet<String>,
    salt: usize,
}

static SENTINEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"Zrbph([0-9]+)x([0-9]+)Z").expect("a valid regex"));

/// The views of a runbook, the default env first: `default_env`, then every
/// other env the runbook allows, by name. Without envs in runbook.toml, one
/// view without an env (the front matter's defaults).
pub fn views<'c>(rb: &Runbook, config: &'c Config) -> Vec<View<'c>> {
    let allowed = |e: &&EnvProfile| rb.envs.is_empty() || rb.envs.contains(&e.name);
    let default = config.default_env.as_deref().and_then(|d| config.envs.get(d)).filter(allowed);
    let mut envs: Vec<Option<&EnvProfile>> = default.into_iter().map(Some).collect();
    envs.extend(config.envs.values().filter(allowed).filter(|e| default.is_none_or(|d| d.name != e.name)).map(Some));
    if envs.is_empty() {
        envs.push(None);
    }
    let used = names_used(rb);
    let salt = salt(rb);
    envs.into_iter().map(|env| View::new(rb, env, &used, salt)).collect()
}

/// Every name the runbook's templates read, steps and documentation blocks.
fn names_used(rb: &Runbook) -> BTreeSet<String> {
    let t = Templater::new(rb);
    let mut used: BTreeSet<String> =
        rb.steps.iter().flat_map(|s| t.names_used(s).into_iter().filter(|n| !t.calls_global(s, n))).collect();
    for d in &rb.doc_blocks {
        used.extend(crate::template::undeclared(&d.body));
    }
    used.retain(|n| !BUILTINS.contains(&n.as_str()));
    used
}

/// A number for the sentinels that no template text of the runbook contains.
fn salt(rb: &Runbook) -> usize {
    let texts: Vec<&str> =
        rb.steps.iter().map(|s| s.body.as_str()).chain(rb.doc_blocks.iter().map(|d| d.body.as_str())).collect();
    (0..).find(|n| !texts.iter().any(|t| t.contains(&format!("x{n}Z")))).unwrap_or(0)
}

impl<'c> View<'c> {
    fn new(rb: &Runbook, env: Option<&'c EnvProfile>, used: &BTreeSet<String>, salt: usize) -> View<'c> {
        let mut resolved = vars::resolve(rb, env, &[], &[]);
        let captured: Vec<(&str, &str)> =
            rb.steps.iter().filter_map(|s| s.attrs.capture.as_deref().map(|c| (c, s.id.as_str()))).collect();
        // A secret's value is dropped here, before any rendering.
        let secret: BTreeSet<String> = resolved.vars.keys().filter(|k| rb.is_secret(k)).cloned().collect();
        for k in &secret {
            resolved.vars.remove(k);
            resolved.origin.remove(k);
        }
        let nulls: Vec<String> = resolved.vars.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect();
        for k in &nulls {
            resolved.vars.remove(k);
            resolved.origin.remove(k);
        }
        let mut sentinels: Vec<(String, Ph)> = Vec::new();
        let mut sentinel = |ph: Ph| {
            let s = format!("Zrbph{}x{salt}Z", sentinels.len());
            sentinels.push((s.clone(), ph));
            s
        };
        let mut unknown = BTreeSet::new();
        // A secret part of a list or map (`registry.password`) is a
        // placeholder, as a secret variable is.
        for (k, v) in resolved.vars.iter_mut() {
            if rb.holds_secret(k, v) {
                let by = &mut |path: &str| Value::String(sentinel(Ph::Secret { name: path.to_string() }));
                *v = crate::redact::replace_secret_parts(k, v, false, by);
                unknown.insert(k.clone());
            }
        }
        let when_ctx = plan_context(rb, &resolved, env);
        let mut body_ctx = when_ctx.clone();
        for name in used {
            if resolved.vars.contains_key(name) || captured.iter().any(|(c, _)| c == name) {
                continue;
            }
            let ph =
                if rb.is_secret(name) { Ph::Secret { name: name.clone() } } else { Ph::Unset { name: name.clone() } };
            unknown.insert(name.clone());
            body_ctx.vars.insert(name.clone(), Value::String(sentinel(ph)));
        }
        for (name, step) in &captured {
            let s = sentinel(Ph::Captured { name: name.to_string(), step: step.to_string() });
            body_ctx.captures.insert(name.to_string(), Capture::Value(s));
        }
        for s in &rb.steps {
            let status = sentinel(Ph::StepField { step: s.id.clone(), field: "status" });
            let stdout = sentinel(Ph::StepField { step: s.id.clone(), field: "stdout" });
            body_ctx.steps.insert(s.id.clone(), StepState::new(&status, None, stdout));
        }
        let key = env.map(|e| e.name.clone()).unwrap_or_else(|| NO_ENV.to_string());
        View { env, key, resolved, body_ctx, when_ctx, sentinels, unknown, salt }
    }

    /// The env's name for people ("devnet", "no env").
    pub fn label(&self) -> &str {
        self.env.map(|e| e.name.as_str()).unwrap_or("no env")
    }

    /// A step's body as it runs in this env.
    pub fn body(&self, rb: &Runbook, step: &Step) -> Rendered {
        match Templater::new(rb).body(step, &self.body_ctx) {
            Ok(text) => self.cut(&text, step.kind == StepKind::Python),
            Err(_) => Rendered { segs: vec![Seg::Text(step.body.clone())], as_written: true },
        }
    }

    /// A documentation block with templates, rendered as a step of its
    /// language would be (shell words quoted; text verbatim).
    pub fn doc(&self, rb: &Runbook, d: &DocBlock) -> Rendered {
        self.body(rb, &crate::doc_blocks::as_step(d))
    }

    /// An attribute (`expect`, `cwd`) as it reads in this env.
    pub fn attr(&self, rb: &Runbook, step: &Step, name: &'static str, text: &str) -> Rendered {
        match Templater::new(rb).attr(step, name, text, &self.body_ctx) {
            Ok(t) => self.cut(&t, false),
            Err(_) => Rendered { segs: vec![Seg::Text(text.to_string())], as_written: true },
        }
    }

    /// Does the step's `when` hold here: `Some(false)` skipped, `None`
    /// decided during the play (it reads a capture, a step's result, or a
    /// variable without a value here).
    pub fn when(&self, rb: &Runbook, step: &Step) -> Option<bool> {
        let w = step.attrs.when.as_deref()?;
        let mut ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        if super::when::env_rules_out(w, &ids, self.env.map(|e| e.name.as_str()).unwrap_or_default()) {
            return Some(false);
        }
        let names = crate::template::undeclared_expr(&crate::template::rewrite_step_refs(w, &ids));
        if names.iter().any(|n| self.unknown.contains(n)) {
            return None;
        }
        Templater::new(rb).when(step, &self.when_ctx).ok().flatten()
    }

    /// What a name is here, for conditions in words.
    pub fn known(&self, rb: &Runbook, name: &str) -> Known {
        if let Some(s) = rb.steps.iter().find(|s| s.attrs.capture.as_deref() == Some(name)) {
            return Known::Captured { step: s.id.clone() };
        }
        match self.resolved.vars.get(name) {
            Some(v) if !rb.holds_secret(name, v) => Known::Value(vars::as_text(v)),
            _ => Known::Name,
        }
    }

    /// The variables with a value here (front matter or env), secrets excluded.
    pub fn valued(&self) -> impl Iterator<Item = &String> {
        self.resolved.vars.keys()
    }

    /// Sentinels out, placeholders in. In a Python body a value is a string
    /// literal: the quotes around a sentinel belong to it.
    fn cut(&self, text: &str, python: bool) -> Rendered {
        let mut segs = Vec::new();
        let mut last = 0;
        for m in SENTINEL.captures_iter(text) {
            let whole = m.get(0).expect("a match");
            let (mut start, mut end) = (whole.start(), whole.end());
            if python && text[..start].ends_with('"') && text[end..].starts_with('"') {
                start -= 1;
                end += 1;
            }
            if m[2].parse::<usize>().ok() != Some(self.salt) {
                continue;
            }
            let Some((_, ph)) = m[1].parse::<usize>().ok().and_then(|i| self.sentinels.get(i)) else { continue };
            if start > last {
                segs.push(Seg::Text(text[last..start].to_string()));
            }
            segs.push(Seg::Ph(ph.clone()));
            last = end;
        }
        if last < text.len() {
            segs.push(Seg::Text(text[last..].to_string()));
        }
        Rendered { segs, as_written: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TOML: &str = "default_env = \"devnet\"\n[env.devnet]\nnamespace = \"animica-devnet\"\napi_token = \"s3cr3t-devnet\"\n[env.prod]\nnamespace = \"animica\"\n";

    fn setup(md: &str) -> (Runbook, Config) {
        let rb = crate::parse::parse_str(Path::new("runbooks/t.md"), md, String::new()).unwrap();
        (rb, Config::from_str(Path::new("runbook.toml"), TOML).unwrap())
    }

    #[test]
    fn default_env_first_then_the_others() {
        let (rb, config) = setup("```bash {#a}\necho {{ namespace }}\n```\n");
        let v = views(&rb, &config);
        let keys: Vec<&str> = v.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["devnet", "prod"]);
        assert_eq!(v[0].body(&rb, &rb.steps[0]).plain(), "echo animica-devnet\n");
        assert_eq!(v[1].body(&rb, &rb.steps[0]).plain(), "echo animica\n");
    }

    #[test]
    fn envs_of_the_front_matter_limit_the_views() {
        let (rb, config) = setup("---\nenvs: [prod]\n---\n```bash {#a}\necho {{ namespace }}\n```\n");
        let keys: Vec<String> = views(&rb, &config).into_iter().map(|v| v.key).collect();
        assert_eq!(keys, ["prod"]);
    }

    #[test]
    fn placeholders_are_marked() {
        let md = "---\nvars:\n  rev: ~\n---\n```bash {#a capture=cur}\necho {{ rev }} '{{ namespace }}'\n```\n```python {#b}\nprint({{ cur }}, {{ steps.a.stdout }})\n```\n";
        let (rb, config) = setup(md);
        let v = views(&rb, &config);
        let a = v[0].body(&rb, &rb.steps[0]);
        assert_eq!(a.plain(), "echo <rev> 'animica-devnet'\n");
        assert!(matches!(&a.segs[1], Seg::Ph(Ph::Unset { name }) if name == "rev"), "{a:?}");
        let b = v[0].body(&rb, &rb.steps[1]);
        assert_eq!(b.plain(), "print(<cur from a>, <stdout of a>)\n");
    }

    #[test]
    fn secrets_never_render() {
        let md = "---\nvars:\n  db_password: hunter2\n---\n```bash {#a}\nlogin {{ db_password }} {{ api_token }} {{ api_token | upper }}\n```\n";
        let (rb, config) = setup(md);
        for v in views(&rb, &config) {
            let r = v.body(&rb, &rb.steps[0]);
            let text = format!("{r:?}");
            assert!(!text.contains("hunter2") && !text.to_lowercase().contains("s3cr3t"), "{text}");
        }
    }

    #[test]
    fn a_filter_on_a_placeholder_shows_the_template() {
        let (rb, config) = setup("---\nvars:\n  n: ~\n---\n```bash {#a}\necho {{ n + 1 }}\n```\n");
        let r = views(&rb, &config)[0].body(&rb, &rb.steps[0]);
        assert!(r.as_written && r.plain() == "echo {{ n + 1 }}\n", "{r:?}");
    }

    proptest::proptest! {
        /// Whatever the values, the wiki's command is the one the plan renders
        /// (the sentinels never cut into real text), and a secret's value is
        /// in no view.
        #[test]
        fn rendering_matches_the_plan_and_hides_secrets(
            value in "[ -~]{0,24}",
            secret in "[a-zA-Z0-9]{6,16}",
            python in proptest::bool::ANY,
        ) {
            let lang = if python { "python" } else { "bash" };
            let yaml = |v: &str| serde_json::to_string(v).unwrap();
            let md = format!(
                "---\nvars:\n  v: {}\n  db_password: {}\n---\n```{lang} {{#a}}\necho {{{{ v }}}} {{{{ db_password }}}} {{{{ namespace }}}}\n```\n",
                yaml(&value),
                yaml(&secret)
            );
            let (rb, config) = setup(&md);
            for view in views(&rb, &config) {
                let r = view.body(&rb, &rb.steps[0]);
                proptest::prop_assert!(!r.as_written);
                let mut resolved = crate::vars::resolve(&rb, view.env, &[], &[]);
                resolved.vars.remove("db_password");
                let mut ctx = plan_context(&rb, &resolved, view.env);
                ctx.vars.insert("db_password".into(), Value::String("<db_password: secret>".into()));
                let expected = Templater::new(&rb).body(&rb.steps[0], &ctx).unwrap();
                // The plan quotes the stand-in like a value; the wiki marks it instead.
                let stand_in = "<db_password: secret>";
                let quoted: Vec<String> =
                    crate::quote::shell_word(stand_in).into_iter().chain([crate::quote::python_str(stand_in)]).collect();
                let expected = quoted.iter().fold(expected, |e, q| e.replace(q, "<db_password: secret>"));
                proptest::prop_assert_eq!(r.plain(), expected);
                let shown = format!("{:?}", r);
                proptest::prop_assert!(!shown.contains(&secret));
            }
        }
    }

    #[test]
    fn when_is_decided_per_env() {
        let md = "---\nvars:\n  x: ~\n---\n```bash {#a when=\"env == 'devnet'\"}\n:\n```\n```bash {#b when=\"x == '1'\"}\n:\n```\n";
        let (rb, config) = setup(md);
        let v = views(&rb, &config);
        assert_eq!(v[0].when(&rb, &rb.steps[0]), Some(true));
        assert_eq!(v[1].when(&rb, &rb.steps[0]), Some(false));
        assert_eq!(v[0].when(&rb, &rb.steps[1]), None);
    }
}
