//! The merchant's guide to the back-office (issue 18), served at `/help`: the same Markdown
//! files as in the repository (`docs/guide/backoffice.zh-CN.md` and `.en.md`), compiled in and
//! turned into HTML once. Each page's 帮助 link leads to its own section (`/help#find`…,
//! see `help_anchor`); the screenshots the guide shows are served beside it.
//!
//! The guide is our own text, so its HTML (section headings with their ids) is trusted; no
//! user input reaches this page.

use super::{Base, render};
use crate::auth::Caller;
use crate::error::{ApiError, lang_of_headers};
use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;
use suanpan_core::Lang;

const GUIDE_ZH: &str = include_str!("../../../../docs/guide/backoffice.zh-CN.md");
const GUIDE_EN: &str = include_str!("../../../../docs/guide/backoffice.en.md");

/// Where the guide's Markdown points at its pictures, and where the back-office serves them.
const SHOTS_IN_DOCS: &str = "../screenshots/";
const SHOTS_SERVED: &str = "/help/screenshots/";

macro_rules! shots {
    ($($name:literal),* $(,)?) => {
        /// The screenshots the guides show, by file name.
        const SHOTS: &[(&str, &[u8])] = &[$(
            (concat!($name, ".png"), include_bytes!(concat!("../../../../docs/screenshots/", $name, ".png"))),
        )*];
    };
}

shots!(
    "login",
    "dashboard",
    "transactions-filtered",
    "transaction",
    "review",
    "transaction-actions-admin",
    "transaction-evidence",
    "case",
    "channels-admin",
    "operations",
    "batches",
    "phone-menu",
    "phone-login",
    "phone-dashboard",
    "phone-transactions",
    "phone-transaction",
    "phone-review",
    "phone-case",
    "phone-channels",
    "phone-ops",
);

static HTML_ZH: LazyLock<String> = LazyLock::new(|| to_html(GUIDE_ZH));
static HTML_EN: LazyLock<String> = LazyLock::new(|| to_html(GUIDE_EN));

/// Where each guide names the other one in the repository, and the served switch to it.
const OTHER_GUIDE: &[(&str, &str)] = &[
    ("href=\"backoffice.en.md\"", "href=\"/lang/en?back=/help\""),
    (
        "href=\"backoffice.zh-CN.md\"",
        "href=\"/lang/zh?back=/help\"",
    ),
];

/// The guide's Markdown as HTML, its pictures pointing at the served copies and its link to
/// the other language at the back-office's language switch.
fn to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
    let mut out = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut out, parser);
    let mut out = out.replace(SHOTS_IN_DOCS, SHOTS_SERVED);
    for (in_docs, served) in OTHER_GUIDE {
        out = out.replace(in_docs, served);
    }
    out
}

pub(super) fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new()
        .route("/help", get(help_page))
        .route("/help/screenshots/{name}", get(screenshot))
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    base: Base,
    guide: &'static str,
}

/// The guide, in the caller's language; also before login (how to log in is in it).
async fn help_page(caller: Result<Caller, ApiError>, headers: HeaderMap) -> Response {
    let caller = caller.ok();
    let lang = caller
        .as_ref()
        .map(|c| c.lang)
        .unwrap_or_else(|| lang_of_headers(&headers));
    let guide = match lang {
        Lang::Zh => HTML_ZH.as_str(),
        Lang::En => HTML_EN.as_str(),
    };
    render(
        StatusCode::OK,
        HelpPage {
            base: Base::new(lang, caller.as_ref(), "", "help.title", "/help"),
            guide,
        },
    )
}

async fn screenshot(Path(name): Path<String>) -> Response {
    let Some((_, png)) = SHOTS.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = (*png).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every picture either guide shows is served, and every section a page's 帮助
    /// link names exists in both languages.
    #[test]
    fn guides_pictures_are_served_and_sections_exist() {
        for (lang, html) in [("zh", to_html(GUIDE_ZH)), ("en", to_html(GUIDE_EN))] {
            for piece in html.split(SHOTS_SERVED).skip(1) {
                let name = piece.split('"').next().unwrap_or_default();
                assert!(
                    SHOTS.iter().any(|(n, _)| *n == name),
                    "{lang}: {name} is shown but not served"
                );
            }
            for key in [
                "login.title",
                "nav.dashboard",
                "nav.transactions",
                "txn.detail",
                "nav.review",
                "nav.cases",
                "nav.batches",
                "nav.channels",
                "nav.terminals_own",
                "nav.users",
                "nav.audit",
                "nav.ops",
            ] {
                let anchor = super::super::help_anchor(key);
                assert!(
                    html.contains(&format!("id=\"{anchor}\"")),
                    "{lang}: no section #{anchor} for {key}"
                );
            }
            // The repository's file names lead nowhere on the server: each guide's link to
            // the other language goes through the language switch.
            assert!(!html.contains(".md\""), "{lang}: a link to a Markdown file");
            assert!(
                html.contains("href=\"/lang/"),
                "{lang}: no link to the other language"
            );
        }
    }
}
