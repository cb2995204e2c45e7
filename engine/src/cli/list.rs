//! `runbook list`: every runbook, one line each (or JSON).

use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Exit, Result};

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    title: &'a str,
    path: String,
    steps: usize,
    envs: &'a [String],
}

pub fn run(config: &Config, json: bool) -> Result<Exit> {
    let cat = Catalog::load(config)?;
    let items: Vec<Item> = cat
        .runbooks
        .iter()
        .map(|r| Item {
            id: &r.id,
            title: &r.title,
            path: r.path.display().to_string(),
            steps: r.steps.iter().filter(|s| !s.attrs.undo).count(),
            envs: &r.envs,
        })
        .collect();
    if json {
        super::out(&(serde_json::to_string_pretty(&items).map_err(anyhow::Error::from)? + "\n"));
    } else {
        let w = items.iter().map(|i| i.id.len()).max().unwrap_or(0);
        let mut s = String::new();
        for i in &items {
            s.push_str(&format!("{:w$}  {:>2} steps  {}\n", i.id, i.steps, i.title));
        }
        super::out(&s);
    }
    if cat.broken.is_empty() {
        return Ok(Exit::Success);
    }
    let mut diags = Vec::new();
    for (_, e) in cat.broken {
        match e {
            Error::Invalid(d) => diags.extend(d),
            other => return Err(other),
        }
    }
    Err(Error::Invalid(diags))
}
