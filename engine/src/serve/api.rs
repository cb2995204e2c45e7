//! The JSON API: `/api/runs` (the rows of `runs --json`), `/api/runs/<id>`
//! (the run's state, the fold every view uses, with the status `runs`
//! shows), `/api/runs/<id>/log/<step>` (a step's output as the store logged
//! it, already masked). A run id is checked for its shape, then against the
//! store's list, before anything is read.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{App, hub, ids};
use crate::run::RunState;

/// A JSON body.
pub fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn not_found_msg(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("not found: {what}\n")).into_response()
}

pub async fn not_found() -> Response {
    not_found_msg("no such page")
}

/// A store error: the message (it never holds a secret: the store's names
/// have no password).
pub fn failed(e: crate::error::Error) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
}

/// `Ok` when `id` is a run of the store; else the response to send.
pub async fn known_run(app: &Arc<App>, id: &str) -> Result<(), Response> {
    if !ids::valid(id) {
        return Err((StatusCode::BAD_REQUEST, "invalid run id\n").into_response());
    }
    let runs = app.store(|s| s.runs()).await.map_err(failed)?;
    if runs.iter().any(|r| r == id) { Ok(()) } else { Err(not_found_msg("no such run")) }
}

pub async fn runs(State(app): State<Arc<App>>) -> Response {
    match app.store(|s| hub::rows_json(s)).await {
        Ok(j) => json(j),
        Err(e) => failed(e),
    }
}

/// The state of a run, and its status.
pub async fn state(app: &Arc<App>, id: &str) -> Result<(RunState, Vec<crate::run::Entry>), Response> {
    known_run(app, id).await?;
    let id = id.to_string();
    let events = app.store(move |s| s.events(&id)).await.map_err(failed)?;
    Ok((RunState::from_entries(&events), events))
}

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let st = match state(&app, &id).await {
        Ok((st, _)) => st,
        Err(r) => return r,
    };
    let status = {
        let (id, st) = (id.clone(), st.clone());
        app.store(move |s| crate::report::status_in(s, &id, &st)).await.map_err(failed)
    };
    let status = match status {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut v = serde_json::to_value(&st).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("status".into(), status.into());
    }
    json(v.to_string())
}

pub async fn log(State(app): State<Arc<App>>, Path((id, step)): Path<(String, String)>) -> Response {
    if let Err(r) = known_run(&app, &id).await {
        return r;
    }
    if !ids::valid(&step) {
        return (StatusCode::BAD_REQUEST, "invalid step id\n").into_response();
    }
    // Each run of the step labelled: a resume re-runs what its killed
    // engine was running, into the same log.
    let read = move |s: &dyn crate::store::Store| -> crate::error::Result<Option<Vec<u8>>> {
        let Some(log) = s.log(&id, &step)? else { return Ok(None) };
        let events = s.events(&id)?;
        let live = crate::report::status_in(s, &id, &crate::run::RunState::from_entries(&events))? == "running";
        Ok(Some(crate::run::attempts::labelled(&events, &step, &log, live)))
    };
    match app.store(read).await {
        Ok(Some(bytes)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response(),
        Ok(None) => not_found_msg("no log for this step"),
        Err(e) => failed(e),
    }
}
