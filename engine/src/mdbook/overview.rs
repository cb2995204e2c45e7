//! What a runbook page says before and around its steps: the summary line
//! under the title (what the runbook does, how to play it, which env the
//! commands are for, with the env selector), and the machinery folded into a
//! `<details>` after the symptoms (variables, the full plan, rollbacks).

use std::collections::BTreeMap;

use super::html::{Page, code, dur, esc, links, step_link};
use super::views::NO_ENV;
use crate::config::{Config, ConfirmPolicy};

use crate::model::{Step, StepKind};
use crate::plan::EdgeKind;
use crate::template::BUILTINS;

impl Page<'_> {
    /// The summary under the title. `data-runbook-*` attributes carry what the
    /// page's script and `scripts/build-book` need: the envs of the page, the
    /// default, and the variables with a value in the default env.
    pub fn summary(&self) -> String {
        let rb = self.rb;
        let steps: Vec<&Step> = self.dag.order.iter().map(|&i| &rb.steps[i]).collect();
        let reads = steps.iter().filter(|s| s.attrs.read).count();
        // Checklists done by hand are neither diagnosis nor a fix the engine runs.
        let changes: Vec<&&Step> = steps.iter().filter(|s| !s.attrs.read && s.kind != StepKind::Manual).collect();
        let by_hand = steps.iter().filter(|s| !s.attrs.read && s.kind == StepKind::Manual).count();
        let conditional = changes.iter().filter(|s| s.attrs.when.is_some()).count();
        let all_ask = changes.iter().all(|s| s.attrs.confirm.is_some());
        let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
        let checks = plural(reads, "read-only check", "read-only checks");
        let n_changes = plural(changes.len(), "change", "changes");
        // How each change runs: "each only when its diagnosis matches and after asking".
        let mut how = Vec::new();
        if reads > 0 && !changes.is_empty() && conditional == changes.len() {
            how.push("only when its diagnosis matches");
        }
        if !changes.is_empty() && all_ask {
            how.push("after asking");
        }
        let how = match (how.is_empty(), changes.len()) {
            (true, _) => String::new(),
            (false, 1) => format!(", {}", how.join(" and ")),
            (false, _) => format!(", each {}", how.join(" and ")),
        };
        let mut what = if changes.is_empty() && by_hand == 0 {
            let gates = steps.iter().filter(|s| s.attrs.expect.is_some()).count();
            let cont = steps.iter().any(|s| s.attrs.on_fail == crate::model::OnFail::Continue);
            let mut w = format!("Read-only: {}, nothing here changes the system", plural(reads, "check", "checks"));
            if gates > 1 && cont {
                w.push_str(&format!(". The play runs all {gates} gates and fails if one of them does"));
            }
            w
        } else if changes.is_empty() {
            format!("{checks}, then {} done by hand", plural(by_hand, "checklist", "checklists"))
        } else if reads > 0 && conditional == changes.len() {
            format!("Diagnoses with {checks}, then fixes what they find: {n_changes}{how}")
        } else if reads > 0 {
            format!("{checks} and {n_changes} to the system{how}, in the order of the plan")
        } else {
            format!("{n_changes} to the system{how}, in the order of the plan")
        };
        if by_hand > 0 && !changes.is_empty() {
            what.push_str(&format!("; {} done by hand", plural(by_hand, "checklist", "checklists")));
        }
        let mut extra = Vec::new();
        if !rb.requires.is_empty() {
            extra.push(format!("needs {}", rb.requires.iter().map(|r| code(r)).collect::<Vec<_>>().join(", ")));
        }
        if let Some(t) = rb.timeout {
            extra.push(format!("time limit {}", dur(t)));
        }
        let extra = if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(", ")) };
        let play = self.per_env("span", "runbook-env", |v| {
            let sets: String = self.required(v).iter().map(|n| format!(" --set {n}=…")).collect();
            match v.env {
                Some(e) => code(&format!("runbook play {} --env {}{sets}", rb.id, e.name)),
                None => code(&format!("runbook play {}{sets}", rb.id)),
            }
        });
        let triage = if reads > 0 && !changes.is_empty() {
            format!("; triage only: add {}", code("--read-only"))
        } else {
            String::new()
        };

        let keys: Vec<&str> = self.views.iter().map(|v| v.key.as_str()).collect();
        let valued: Vec<&str> = self.views[0].valued().map(String::as_str).collect();
        let mut o = format!(
            "<div class=\"runbook-summary\" data-runbook-envs=\"{}\" data-runbook-default=\"{}\" data-runbook-valued=\"{}\">\n",
            esc(&keys.join(" ")),
            esc(&self.views[0].key),
            esc(&valued.join(" "))
        );
        o.push_str(&self.meta_line());
        o.push_str(&format!("<p>{what}{extra}. <strong>Play it:</strong> {play}{triage}.</p>\n"));
        o.push_str(&self.env_line());
        o.push_str("</div>\n");
        o
    }

    /// Who owns the runbook and its tags (front matter `owner`, `tags`), when
    /// it says: "Owner: platform · Tags: p2p, node". Empty without either.
    fn meta_line(&self) -> String {
        let parts: Vec<String> = [("owner", "Owner"), ("tags", "Tags")]
            .into_iter()
            .filter_map(|(key, label)| {
                let text = crate::model::meta_text(self.rb.meta.get(key).filter(|v| !v.is_null())?);
                (!text.trim().is_empty())
                    .then(|| format!("{label}: <span class=\"runbook-{key}\">{}</span>", esc(&text)))
            })
            .collect();
        if parts.is_empty() {
            return String::new();
        }
        format!("<p class=\"runbook-about\">{}</p>\n", parts.join(" <span class=\"runbook-sep\">·</span> "))
    }

    /// The variables a play needs given in an env: read by a step, with no
    /// value there, not captured, not secret (a secret is given another way:
    /// the variables table says how).
    fn required(&self, v: &super::views::View) -> Vec<String> {
        let rb = self.rb;
        let t = crate::template::Templater::new(rb);
        let mut names: Vec<String> = Vec::new();
        for s in &rb.steps {
            for n in t.names_used(s) {
                let unset = matches!(v.known(rb, &n), super::when::Known::Name);
                if unset && !BUILTINS.contains(&n.as_str()) && !rb.is_secret(&n) && !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names.sort();
        names
    }

    /// "Commands for: [devnet ▾]", and what the env changes about a play.
    fn env_line(&self) -> String {
        let first = &self.views[0];
        let mut o = String::from("<p class=\"runbook-envs\">");
        if self.views.len() > 1 {
            o.push_str(
                "Commands and values for <select class=\"runbook-env-select\" aria-label=\"environment\" hidden>",
            );
            for v in &self.views {
                o.push_str(&format!("<option value=\"{}\">{}</option>", esc(&v.key), esc(v.label())));
            }
            o.push_str("</select>");
            let is_default = first.env.is_some_and(|e| self.config.default_env.as_deref() == Some(e.name.as_str()));
            o.push_str(&format!(
                "<strong class=\"runbook-env-static\">{}</strong><span class=\"runbook-env-static\"> ({}the others: {})</span>",
                esc(first.label()),
                if is_default { "the default; " } else { "" },
                self.views[1..].iter().map(|v| esc(v.label())).collect::<Vec<_>>().join(", ")
            ));
        } else if first.key == NO_ENV {
            o.push_str("Commands and values with the runbook's defaults (no env)");
        } else {
            o.push_str(&format!("Commands and values for <strong>{}</strong>", esc(first.label())));
        }
        let policy = self.per_env("span", "runbook-env", |v| {
            let Some(e) = v.env else { return String::new() };
            let mut p = Vec::new();
            match e.confirm {
                ConfirmPolicy::Write => p.push("every change asks first".to_string()),
                ConfirmPolicy::All => p.push("every step asks first".to_string()),
                ConfirmPolicy::Marked => {}
            }
            if let Some(g) = &e.guard {
                p.push(format!("{} must match {} before the first change", code(&g.run), code(&g.expect)));
            }
            if p.is_empty() { String::new() } else { format!(": in {}, {}", esc(&e.name), p.join(", and ")) }
        });
        o.push_str(&policy);
        o.push('.');
        let refused: Vec<&String> =
            self.config.envs.keys().filter(|e| !self.rb.envs.is_empty() && !self.rb.envs.contains(e)).collect();
        if !refused.is_empty() {
            o.push_str(&format!(
                " Not for {}: this runbook allows only {}.",
                refused.iter().map(|e| esc(e)).collect::<Vec<_>>().join(", "),
                self.rb.envs.iter().map(|e| esc(e)).collect::<Vec<_>>().join(", ")
            ));
        }
        o.push_str("</p>\n");
        o
    }

    /// The variables, the full plan and the rollbacks, folded.
    pub fn machinery(&self) -> String {
        let rb = self.rb;
        let dag = self.dag;
        let n = dag.order.len();
        let mut o = format!(
            "<details class=\"runbook-machinery\">\n<summary>The plan ({}), variables{}</summary>\n",
            steps(n),
            if rb.steps.iter().any(|s| s.attrs.undo) { " and rollbacks" } else { "" }
        );
        let reads = dag.order.iter().filter(|&&i| rb.steps[i].attrs.read).count();
        o.push_str(&format!(
            "<p class=\"runbook-meta\"><strong>Runbook</strong> {} · {} ({reads} read-only, {} changing the system) · {}",
            code(&rb.id),
            steps(n),
            n - reads,
            if rb.envs.is_empty() {
                "any environment".to_string()
            } else {
                format!("environments: {}", rb.envs.iter().map(|e| code(e)).collect::<Vec<_>>().join(", "))
            }
        ));
        o.push_str(&format!(
            ". Rehearse it against its fixtures with {}.</p>\n",
            code(&format!("runbook play {} --dry-run", rb.id))
        ));
        o.push_str(&self.variables(self.config));
        o.push_str(&self.plan());
        o.push_str("</details>\n");
        o
    }

    fn variables(&self, config: &Config) -> String {
        let rb = self.rb;
        let t = crate::template::Templater::new(rb);
        let mut used: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for s in &rb.steps {
            for n in t.names_used(s) {
                if !BUILTINS.contains(&n.as_str()) {
                    used.entry(n).or_default().push(&s.id);
                }
            }
        }
        for k in rb.vars.keys() {
            used.entry(k.clone()).or_default();
        }
        if used.is_empty() {
            return String::new();
        }
        let mut o = String::from(
            "<p><strong>Variables</strong></p>\n<div class=\"table-wrapper\">\n<table class=\"runbook-vars\">\n",
        );
        o.push_str("<thead><tr><th>variable</th><th>value comes from</th><th>used by</th></tr></thead>\n<tbody>\n");
        for (name, used_by) in &used {
            let secret = rb.is_secret(name);
            let mut from = Vec::new();
            let envs: Vec<(String, String)> = config
                .envs
                .values()
                .filter_map(|e| e.vars.get(name).map(|v| (e.name.clone(), crate::vars::as_text(&rb.shown(name, v)))))
                .collect();
            let default = rb.vars.get(name).filter(|v| !v.is_null());
            if secret {
                // Where it comes from, never what it is.
                let mut at: Vec<String> = default.map(|_| "the front matter".to_string()).into_iter().collect();
                at.extend(envs.iter().map(|(e, _)| esc(e)));
                if !at.is_empty() {
                    from.push(format!("set in {} (secret, not shown)", at.join(", ")));
                }
            } else {
                if let Some(d) = default {
                    from.push(format!("default {}", code(&crate::vars::as_text(&rb.shown(name, d)))));
                }
                if !envs.is_empty() {
                    from.push(env_values(&envs));
                }
            }
            if let Some(c) = rb.steps.iter().find(|s| s.attrs.capture.as_deref() == Some(name)) {
                from.push(format!("captured by {}", step_link(&c.id)));
            }
            if from.is_empty() {
                let how = if secret {
                    format!(
                        "{} or {}",
                        code(&format!("--set-file {name}=FILE")),
                        code(&format!("RUNBOOK_VAR_{name}=…"))
                    )
                } else {
                    code(&format!("--set {name}=…"))
                };
                from.push(format!("required: {how}"));
            }
            let label = if secret { format!("{} (secret)", code(name)) } else { code(name) };
            o.push_str(&format!(
                "<tr><td>{label}</td><td>{}</td><td>{}</td></tr>\n",
                from.join("<br>"),
                links(used_by)
            ));
        }
        o.push_str("</tbody>\n</table>\n</div>\n");
        o
    }

    fn plan(&self) -> String {
        let (rb, dag) = (self.rb, self.dag);
        let mut o = String::from(
            "<p><strong>Plan</strong> (the order <code>runbook play</code> follows)</p>\n<ol class=\"runbook-plan\">\n",
        );
        for (k, &i) in dag.order.iter().enumerate() {
            let s = &rb.steps[i];
            let mut bits = vec![format!(
                "{} <span class=\"runbook-kind\">{} · {}</span>",
                step_link(&s.id),
                s.kind.name(),
                if s.attrs.read { "read-only" } else { "changes the system" }
            )];
            let needs: Vec<&str> = dag
                .deps(i)
                .iter()
                .filter(|e| e.kind == EdgeKind::Needs)
                .map(|e| rb.steps[e.from].id.as_str())
                .collect();
            if !needs.is_empty() {
                bits.push(format!("needs {}", links(&needs)));
            }
            let prev = k.checked_sub(1).map(|p| dag.order[p]);
            if let Some(e) = dag.deps(i).iter().find(|e| e.kind == EdgeKind::After)
                && Some(e.from) != prev
            {
                bits.push(format!("after {}", step_link(&rb.steps[e.from].id)));
            }
            if s.attrs.needs.as_ref().is_some_and(Vec::is_empty) {
                bits.push("no dependencies".into());
            }
            if s.attrs.when.is_some() {
                bits.push(self.when_per_env(s));
            }
            if s.attrs.confirm.is_some() {
                bits.push("asks first".into());
            }
            if let Some(r) = &s.attrs.rollback {
                bits.push(format!("undone by {}", step_link(r)));
            }
            if let Some(sec) = &s.section {
                bits.push(format!("<em>{}</em>", esc(sec)));
            }
            o.push_str(&format!("<li>{}</li>\n", bits.join(" — ")));
        }
        o.push_str("</ol>\n");
        let undos: Vec<&Step> = rb.steps.iter().filter(|s| s.attrs.undo).collect();
        if !undos.is_empty() {
            o.push_str("<p><strong>Rollbacks</strong> (run only when a play fails or is rolled back, newest first)</p>\n<ul class=\"runbook-rollbacks\">\n");
            for u in undos {
                let of: Vec<&str> = rb
                    .steps
                    .iter()
                    .filter(|o| o.attrs.rollback.as_deref() == Some(&u.id))
                    .map(|o| o.id.as_str())
                    .collect();
                let of = if of.is_empty() { "no step names it".to_string() } else { format!("undoes {}", links(&of)) };
                o.push_str(&format!("<li>{} — {of}</li>\n", step_link(&u.id)));
            }
            o.push_str("</ul>\n");
        }
        o
    }
}

/// "1 step", "3 steps".
fn steps(n: usize) -> String {
    if n == 1 { "1 step".into() } else { format!("{n} steps") }
}

/// `devnet: a<br>prod: b`, or `devnet, prod: a` when they agree.
fn env_values(envs: &[(String, String)]) -> String {
    let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
    for (e, v) in envs {
        match groups.iter_mut().find(|(_, gv)| *gv == v) {
            Some((names, _)) => names.push(e),
            None => groups.push((vec![e], v)),
        }
    }
    groups.iter().map(|(names, v)| format!("{}: {}", esc(&names.join(", ")), code(v))).collect::<Vec<_>>().join("<br>")
}
