//! `runbook plan ID`: the order, the dependencies and the rendered commands.
//! With `--read-only`, `--only` or `--from`, the steps the play's filters
//! leave out are shown skipped, for the play's reason (the same code decides).

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::plan::Dag;
use crate::preview;
use crate::run::event::Mode;
use crate::vars;

pub fn run(
    config: &Config,
    id: &str,
    env: Option<&str>,
    alert: &[(String, String)],
    given: &[vars::Given],
    mode: &Mode,
    json: bool,
) -> Result<Exit> {
    let profile = config.env(env)?;
    let rb = Catalog::find(config, id)?;
    crate::preview::check_env_chosen(&rb, config, env)?;
    let dag = Dag::build(&rb)?;
    crate::runner::check_selectors(&rb, &dag, mode)?;
    super::front_matter_warnings(config, &rb);
    let (sets, unread) = vars::sort_given(&rb, given);
    for w in unread {
        crate::errln!("{w}");
    }
    let resolved = vars::resolve(&rb, profile, alert, &sets);
    let out_of_order = preview::read_out_of_order(&rb, &dag, &resolved);
    if !out_of_order.is_empty() {
        return Err(crate::error::Error::Invalid(out_of_order));
    }
    let mut p = preview::build(&rb, &dag, &resolved, profile, true)?;
    for s in &mut p.steps {
        if let Some(i) = rb.step_index(&s.id)
            && let Some(why) = crate::runner::left_out(&rb, &dag, mode, i)
        {
            s.will_run = Some(false);
            s.skip = Some(why);
        }
    }
    for w in &p.warnings {
        crate::errln!("{w}");
    }
    if json {
        super::out(&(serde_json::to_string_pretty(&p).map_err(anyhow::Error::from)? + "\n"));
        return Ok(Exit::Success);
    }
    let mut o = String::new();
    o.push_str(&format!("{} — {}  ({})\n", p.runbook, p.title, p.path));
    o.push_str(&format!("env: {}\n", p.env.as_deref().unwrap_or("(none)")));
    if *mode != Mode::default() {
        o.push_str(&format!("mode: {}\n", mode.words().join(" ")));
    }
    // What the env itself adds to a play: who is asked, and what is checked.
    if let Some(e) = profile {
        match e.confirm {
            crate::config::ConfirmPolicy::Write => {
                o.push_str("asks: before every step not marked `read` (env confirm = \"write\")\n")
            }
            crate::config::ConfirmPolicy::All => o.push_str("asks: before every step (env confirm = \"all\")\n"),
            crate::config::ConfirmPolicy::Marked => {}
        }
        if let Some(g) = &e.guard {
            o.push_str(&format!(
                "guard: `{}` must print a match of /{}/ before the first write step\n",
                g.run, g.expect
            ));
        }
    }
    if !p.vars.is_empty() {
        let v: Vec<String> = p.vars.iter().map(|v| format!("{}={}", v.name, crate::visible::line(&v.value))).collect();
        o.push_str(&format!("vars: {}\n", v.join(" ")));
    }
    o.push('\n');
    let by_id: std::collections::HashMap<&str, &crate::model::Step> =
        rb.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    for s in &p.steps {
        let step = by_id[s.id.as_str()];
        // Each on one line: a newline in a value cannot forge a line.
        let line = |t: &Option<String>| t.as_deref().map(|t| crate::visible::line(t).into_owned());
        let (confirm, expect, cwd, escalate) = (line(&s.confirm), line(&s.expect), line(&s.cwd), line(&s.escalate));
        let texts = crate::render::Texts {
            confirm: confirm.as_deref(),
            expect: expect.as_deref(),
            cwd: cwd.as_deref(),
            escalate: escalate.as_deref(),
        };
        let mut head = format!("{:>2}. {}  [{}]", s.n, s.id, crate::render::plan_tags(step, &texts).join(", "));
        match s.will_run {
            Some(false) if !s.attrs.undo => {
                head.push_str(&format!("  — skipped: {}", s.skip.as_deref().unwrap_or("`when` is false")))
            }
            None if s.when.is_some() => head.push_str("  — `when` decided at run time"),
            None => head.push_str("  — runs if what it needs runs (decided at run time)"),
            _ => {}
        }
        o.push_str(&head);
        o.push_str(&format!("  ({}:{})\n", p.path, s.line));
        if let Some(a) = &s.after
            && s.needs.is_empty()
        {
            o.push_str(&format!("    after {a}\n"));
        }
        let prefix = if step.kind == crate::model::StepKind::Manual { "    " } else { "    $ " };
        for l in s.command.trim_end().lines() {
            o.push_str(prefix);
            o.push_str(l);
            o.push('\n');
        }
    }
    if p.levels.iter().any(|l| l.len() > 1) {
        o.push_str("\nparallel levels:\n");
        for (i, l) in p.levels.iter().enumerate() {
            o.push_str(&format!("  {i}: {}\n", l.join(", ")));
        }
    }
    super::out(&crate::visible::text(&o));
    Ok(Exit::Success)
}
