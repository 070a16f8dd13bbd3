//! 终端 (issue 13, seed 002: 「立即通知收银员，暂停后续操作」): the merchant's own terminals
//! with their state — 收款中, paused by whom, when and why, or locked by the acquirer — and,
//! for a role with `pause_terminals` (supervisor, admin), a form to pause one with a reason
//! and a button to resume it: the same function as `/api/v1/terminals/{id}/pause|resume`.

use super::{Base, Done, FormIn, form_action, show};
use crate::auth::Caller;
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::When;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use suanpan_core::backoffice::Permission;

csrf_forms!(PauseForm);

/// One terminal's row.
struct Row {
    id: String,
    paused: bool,
    locked: bool,
    paused_by: String,
    paused_at: Option<When>,
    reason: String,
}

#[derive(Template)]
#[template(path = "terminals_own.html")]
struct TerminalsPage {
    base: Base,
    rows: Vec<Row>,
    can_pause: bool,
}

pub(super) async fn terminals_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let policy = state.store().policy();
        let rows = crate::pause::list(&state, caller)
            .await?
            .into_iter()
            .map(|s| Row {
                id: s.id,
                paused: s.paused,
                locked: s.locked,
                paused_by: s
                    .paused_by
                    .map(|a| crate::words::actor(caller.lang, &a))
                    .unwrap_or_default(),
                paused_at: s.paused_at.map(|us| When::micros(policy, us)),
                reason: s.reason.unwrap_or_default(),
            })
            .collect();
        Ok(TerminalsPage {
            rows,
            base: Base::of(caller, "terminals_own", "nav.terminals_own", "/terminals"),
            can_pause: caller.user.role.allows(Permission::PauseTerminals),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct PauseForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn terminal_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<PauseForm>,
) -> Response {
    form_action(caller, form, "/terminals", async |caller, f| {
        let lang = caller.lang;
        let pause = match action.as_str() {
            "pause" => true,
            "resume" => false,
            _ => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    lang,
                    "terminal.not_found",
                    &[],
                ));
            }
        };
        let v = crate::pause::change(&state, caller, &id, pause, f.reason).await?;
        let key = if v.paused {
            "pause.paused"
        } else {
            "pause.active"
        };
        Ok(Done::back(tf(
            lang,
            "msg.terminal_done",
            &[v.id, t(lang, key).to_owned()],
        )))
    })
    .await
}
