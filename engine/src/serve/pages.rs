//! The HTML pages, rendered by minijinja from the templates beside this file
//! (autoescaped: whatever a step printed stays text).
//!
//! A live page is its server-rendered part (`/parts/…`) in a frame; the
//! page's script follows the run's (or the list's) event stream and fetches
//! the part again when something changed, so the server's fold and report
//! stay the only logic, and the page reads right with scripts off. Step
//! output is appended from the stream's `output` messages in between.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};

use super::api::{failed, known_run, not_found_msg};
use super::hub::Hub;
use super::view::{self, RunView};
use super::{App, ids};
use crate::report::RunRow;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("runs_part.html", include_str!("templates/runs_part.html")),
    ("run.html", include_str!("templates/run.html")),
    ("run_part.html", include_str!("templates/run_part.html")),
    ("runbooks.html", include_str!("templates/runbooks.html")),
    ("runbook.html", include_str!("templates/runbook.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Times as the report writes them (`runbook report` and the run page
        // tell one story, in one format).
        env.add_filter("utc", |t: String| crate::report::utc(&t));
        env.add_filter("clock", |t: String| crate::report::clock(&t));
        for (name, src) in TEMPLATES {
            env.add_template(name, src).expect("the embedded templates parse");
        }
        env
    })
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("template {name}: {e}\n")).into_response(),
    }
}

/// Running runs first, then the others, newest first; not a run still being
/// created (the local store's `.new-…` directory, listed by `runs` meanwhile).
fn ordered(mut rows: Vec<RunRow>) -> Vec<RunRow> {
    rows.retain(|r| !r.run.starts_with('.'));
    rows.reverse();
    rows.sort_by_key(|r| r.status != "running");
    rows
}

async fn rows(app: &Arc<App>) -> Result<Vec<RunRow>, Response> {
    app.store(|s| crate::report::list(s)).await.map(ordered).map_err(failed)
}

fn row_views(rows: &[RunRow]) -> Vec<minijinja::Value> {
    rows.iter()
        .map(|r| {
            context! {
                row => minijinja::value::Serde(r),
                started => if r.started.is_empty() { String::new() } else { crate::report::utc(&r.started) },
                duration => view::span(&r.started, r.ended.as_deref(), r.status == "running"),
                // `runs`'s MODE column; none for a run that cannot be read.
                mode => if r.runbook.is_empty() { String::new() } else { r.mode_said() },
            }
        })
        .collect()
}

pub async fn runs(State(app): State<Arc<App>>) -> Response {
    match rows(&app).await {
        Ok(rows) => render("runs.html", context! { rows => row_views(&rows), store => app.store.name() }),
        Err(r) => r,
    }
}

pub async fn runs_part(State(app): State<Arc<App>>) -> Response {
    match rows(&app).await {
        Ok(rows) => render("runs_part.html", context! { rows => row_views(&rows) }),
        Err(r) => r,
    }
}

async fn run_view(app: &Arc<App>, id: &str) -> Result<RunView, Response> {
    known_run(app, id).await?;
    let id = id.to_string();
    let config = app.config.clone();
    app.store(move |s| view::build(s, &config, &id)).await.map_err(failed)
}

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match run_view(&app, &id).await {
        Ok(v) => render("run.html", context! { r => minijinja::value::Serde(&v) }),
        Err(r) => r,
    }
}

/// A run's part. Every browser following a run fetches it again at each
/// change: while the run is followed, it is rendered once per feed (the
/// poller's read that brought the change) and shared.
pub async fn run_part(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let generation = if ids::valid(&id) { Hub::generation(&app, &id) } else { None };
    if let Some(html) = generation.and_then(|g| Hub::part(&app, &id, g)) {
        return Html(html.to_string()).into_response();
    }
    let v = match run_view(&app, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match env().get_template("run_part.html").and_then(|t| t.render(context! { r => minijinja::value::Serde(&v) })) {
        Ok(html) => {
            if let Some(g) = generation {
                Hub::keep_part(&app, &id, g, html.as_str().into());
            }
            Html(html).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("template run_part.html: {e}\n")).into_response(),
    }
}

/// The incident timeline as `runbook report` prints it.
pub async fn report_md(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match run_view(&app, &id).await {
        Ok(v) => ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], v.markdown).into_response(),
        Err(r) => r,
    }
}

/// The catalog's runbooks (their id, title and path).
pub async fn runbooks(State(app): State<Arc<App>>) -> Response {
    let config = app.config.clone();
    let list = tokio::task::spawn_blocking(move || crate::catalog::Catalog::load(&config)).await;
    match list {
        Ok(Ok(cat)) => {
            let items: Vec<_> = cat
                .runbooks
                .iter()
                .map(|rb| context! { id => rb.id.clone(), title => rb.title.clone(), path => rb.path.display().to_string() })
                .collect();
            render("runbooks.html", context! { runbooks => items })
        }
        Ok(Err(e)) => failed(e),
        Err(e) => failed(crate::error::Error::Other(e.into())),
    }
}

/// A runbook as the wiki renders it: every env's values, the env selector.
pub async fn runbook(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if !ids::valid(&id) {
        return (StatusCode::BAD_REQUEST, "invalid runbook id\n").into_response();
    }
    let config = app.config.clone();
    let page = tokio::task::spawn_blocking(move || view::runbook_html(&config, &id)).await;
    match page {
        Ok(Ok(Some((id, title, html)))) => render("runbook.html", context! { id, title, html }),
        Ok(Ok(None)) => not_found_msg("no such runbook"),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(crate::error::Error::Other(e.into())),
    }
}
