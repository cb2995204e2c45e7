//! An undefined variable in a project that has envs, none of them chosen
//! (no `--env`, no `default_env`): the play runs in the implicit env
//! `local`, whose variables are none. The likelier fix is an env, not
//! `--set`: the hint says which envs set the variable.

use crate::config::Config;
use crate::error::{Diagnostic, Error};

/// `e` with its undefined-variable hints naming the envs, when none was chosen.
pub fn add(config: &Config, chosen: Option<&str>, e: Error) -> Error {
    if chosen.is_some() || config.default_env.is_some() || config.envs.is_empty() {
        return e;
    }
    let Error::Invalid(ds) = e else { return e };
    Error::Invalid(ds.into_iter().map(|d| with_envs(config, d)).collect())
}

fn with_envs(config: &Config, d: Diagnostic) -> Diagnostic {
    let Some(name) = d.subject.clone().filter(|_| d.code == "undefined-variable") else { return d };
    let name = &*name;
    let setting: Vec<&str> =
        config.envs.iter().filter(|(_, p)| p.vars.contains_key(name)).map(|(n, _)| n.as_str()).collect();
    let known: Vec<&str> = config.envs.keys().map(String::as_str).collect();
    let extra = match setting.as_slice() {
        [] => format!("no env was chosen (this project's: {})", known.join(", ")),
        [one] => format!("env `{one}` sets `{name}`: play with `--env {one}` (no env was chosen)"),
        many => format!("envs {} set `{name}`: choose one with `--env` (no env was chosen)", many.join(", ")),
    };
    let hint = match &d.hint {
        Some(h) => format!("{extra}; or {h}"),
        None => extra,
    };
    Diagnostic { hint: Some(hint.into_boxed_str()), ..d }
}
