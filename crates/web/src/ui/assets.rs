//! The back-office's own static files: stylesheet, script and icon, compiled in.
//!
//! Pages link them as `/static/NAME?v=HASH`, HASH being the first hex digits of the file's
//! SHA-256: a browser keeps such a file for a year without asking again
//! (`Cache-Control: public, max-age=31536000, immutable`), and a new build's pages name a
//! new HASH, so nobody runs yesterday's script against today's page. A request without the
//! current HASH (an old page, a hand-typed address) gets the file with `no-cache`.

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::LazyLock;

/// How long a versioned file may be kept: a year, the longest caches honour.
const CACHE_VERSIONED: &str = "public, max-age=31536000, immutable";
/// An unversioned request: keep it, but ask each time whether it changed.
const CACHE_UNVERSIONED: &str = "no-cache";
/// Hex digits of the SHA-256 in a file's version: enough to tell builds apart.
const VERSION_HEX_LEN: usize = 12;

/// A static file: name, content type, bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "favicon.ico",
        content_type: "image/x-icon",
        body: include_bytes!("../../static/favicon.ico"),
    },
];

/// Each file's version (its hash prefix), computed once.
static VERSIONS: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let hash = hex::encode(Sha256::digest(a.body));
            (a.name, hash[..VERSION_HEX_LEN].to_owned())
        })
        .collect()
});

/// The versioned address of the static file `name` (one of [`ASSETS`]).
pub(super) fn href(name: &str) -> String {
    match VERSIONS.get(name) {
        Some(v) => format!("/static/{name}?v={v}"),
        None => format!("/static/{name}"),
    }
}

pub(super) fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new()
        .route("/static/{name}", get(static_file))
        .route("/favicon.ico", get(favicon))
}

#[derive(serde::Deserialize)]
struct VersionQuery {
    v: Option<String>,
}

async fn static_file(Path(name): Path<String>, Query(q): Query<VersionQuery>) -> Response {
    serve(&name, q.v.as_deref())
}

/// Browsers ask for `/favicon.ico` by themselves; pages link the versioned one.
async fn favicon(Query(q): Query<VersionQuery>) -> Response {
    serve("favicon.ico", q.v.as_deref())
}

fn serve(name: &str, version: Option<&str>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let current = VERSIONS.get(name).map(String::as_str);
    let cache = if version.is_some() && version == current {
        CACHE_VERSIONED
    } else {
        CACHE_UNVERSIONED
    };
    let mut r = asset.body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
