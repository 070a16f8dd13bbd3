//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations (utoipa), so
//! it cannot drift from the code.

use crate::state::AppState;
use axum::Json;
use axum::routing::get;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Suanpan merchant back-office API", version = "1",
        description = "Errors are {code, message, hint} in the caller's language (Accept-Language zh-CN default, en). \
Amounts are integer fen plus a display string; input amounts are integer fen or a yuan string with at most two decimals, never a float. \
Unknown JSON fields are refused. Cookie sessions send X-CSRF-Token on unsafe calls; apps use Authorization: Bearer tokens."),
    paths(
        crate::auth::api_login, crate::auth::api_logout, crate::auth::api_me,
        crate::auth::api_token_create, crate::auth::api_token_revoke,
        crate::auth::api_totp_offer, crate::auth::api_totp_enrol,
        crate::api::list_txns, crate::api::txn_detail, crate::api::txn_receipt, crate::api::hide_txn,
        crate::api::pay, crate::api::export, crate::api::batches, crate::api::audit_list, crate::api::audit_verify,
        crate::review::create, crate::review::list, crate::review::one,
        crate::review::approve, crate::review::reject, crate::review::cancel, crate::review::undo,
        crate::channels::list, crate::channels::change,
        crate::evidence::upload, crate::evidence::download,
        crate::removals::request_removal, crate::removals::list_removals, crate::removals::approve_removal, crate::removals::reject_removal,
        crate::users::list, crate::users::create, crate::users::edit, crate::users::action, crate::users::operators,
        crate::cases::create_case, crate::cases::list_cases, crate::cases::get_case, crate::cases::link_case, crate::cases::note_case,
        crate::cases::submit_case, crate::cases::resolve_case, crate::cases::reject_case, crate::cases::upload_case_evidence, crate::cases::case_pack,
        crate::ops::list_backups, crate::ops::create_backup, crate::ops::verify_backup, crate::ops::restore_backup, crate::ops::purge,
    ),
    components(schemas(crate::error::ApiError, crate::json::AmountIn)),
    tags((name = "session"), (name = "transactions"), (name = "payments"), (name = "review"), (name = "batches"), (name = "audit"), (name = "channels"), (name = "evidence"), (name = "users"), (name = "cases"), (name = "operations"))
)]
pub struct ApiDoc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
