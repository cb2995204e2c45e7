//! The CSS and JavaScript of the pages, embedded in the binary: the view
//! must work on an isolated ops network, so nothing comes from a CDN. The
//! runbook pages reuse the wiki's own script and styles (docs/wiki/).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const ASSETS: &[(&str, &str, &str)] = &[
    ("serve.css", "text/css; charset=utf-8", include_str!("assets/serve.css")),
    ("serve.js", "text/javascript; charset=utf-8", include_str!("assets/serve.js")),
    ("runbook.css", "text/css; charset=utf-8", include_str!("../../../docs/wiki/runbook.css")),
    ("runbook.js", "text/javascript; charset=utf-8", include_str!("../../../docs/wiki/runbook.js")),
];

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => {
            ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "max-age=300")], *body).into_response()
        }
        None => super::api::not_found_msg("no such asset"),
    }
}
