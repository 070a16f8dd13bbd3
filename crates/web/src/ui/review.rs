//! The review queue: void/refund requests and evidence removals, and their approve, reject,
//! cancel and undo forms.

use super::{Base, Done, FormIn, back_to, form_action, options, show, with_status};
use crate::api::ApiQuery;
use crate::auth::Caller;
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::review::{self, Action, RequestQuery};
use crate::state::AppState;
use crate::view::RequestView;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use suanpan_core::backoffice::{Permission, StaffRole};

csrf_forms!(CommentForm);

/// One row of the queue with what the viewer may do on it.
struct QueueRow {
    view: RequestView,
    can_review: bool,
    can_cancel: bool,
    can_undo: bool,
}

/// One evidence removal of the queue with whether the viewer may review it.
struct RemovalRow {
    view: crate::removals::RemovalView,
    can_review: bool,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    base: Base,
    tabs: Vec<(String, String)>,
    status: String,
    rows: Vec<QueueRow>,
    removals: Vec<RemovalRow>,
}

pub(super) async fn review_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<RequestQuery>, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let ApiQuery(q) = q.map_err(back_to("/review"))?;
        let status = q.status.clone().unwrap_or_default();
        let views = review::requests(&state, caller, &q).await?;
        // Evidence removals share the queue; their statuses are pending, approved, rejected.
        let removal_status = matches!(status.as_str(), "" | "pending" | "approved" | "rejected")
            .then_some(status.as_str());
        let removals = match removal_status {
            Some(st) => crate::removals::removals(&state, caller, Some(st)).await?,
            None => Vec::new(),
        };
        let me = caller.user.username.clone();
        let role = caller.user.role;
        let removals = removals
            .into_iter()
            .map(|v| RemovalRow {
                can_review: v.status == "pending"
                    && v.submitted_by != me
                    && role.allows(Permission::Review),
                view: v,
            })
            .collect();
        let rows = views
            .into_iter()
            .map(|v| QueueRow {
                can_review: v.status == "pending"
                    && v.submitted_by != me
                    && role.allows(Permission::Review),
                can_cancel: v.status == "pending"
                    && (v.submitted_by == me || role == StaffRole::Admin),
                can_undo: v.status == "approved" && v.reviewed_by.as_deref() == Some(me.as_str()),
                view: v,
            })
            .collect();
        let statuses = [
            "pending",
            "approved",
            "executed",
            "failed",
            "rejected",
            "cancelled",
            "undone",
        ];
        let tabs = options(
            lang,
            Some(t(lang, "rev.all").to_owned()),
            "status",
            statuses,
        );
        let path = with_status("/review", &status);
        Ok(ReviewPage {
            base: Base::of(caller, "review", "nav.review", &path),
            tabs,
            status,
            rows,
            removals,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct CommentForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

pub(super) async fn review_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<CommentForm>,
) -> Response {
    form_action(caller, form, "/review", async |caller, f| {
        let lang = caller.lang;
        let action = match action.as_str() {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "cancel" => Action::Cancel,
            "undo" => Action::Undo,
            other => return Err(ApiError::invalid(lang, format!("action {other:?}"))),
        };
        let q = review::act(&state, caller, id, action, &f.comment).await?;
        let text = tf(lang, "msg.reviewed", &[q.id.to_string(), q.status_text]);
        Ok(Done::next(text, format!("/txns/{}", q.transaction_id)))
    })
    .await
}

/// The review page's approve/reject forms for evidence removals.
pub(super) async fn removal_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<CommentForm>,
) -> Response {
    form_action(caller, form, "/review", async |caller, f| {
        let lang = caller.lang;
        let approve = match action.as_str() {
            "approve" => true,
            "reject" => false,
            other => return Err(ApiError::invalid(lang, format!("action {other:?}"))),
        };
        let r = crate::removals::review(&state, caller, id, approve, &f.comment).await?;
        let args = [r.id.to_string(), r.filename, r.status_text];
        let text = tf(lang, "msg.removal_reviewed", &args);
        Ok(Done::next(text, format!("/txns/{}", r.transaction_id)))
    })
    .await
}
