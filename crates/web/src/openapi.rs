//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations (utoipa), so
//! it cannot drift from the code, then completed here with what the extractors and checks
//! shared by every route enforce (`complete`): the security schemes and each operation's
//! security, the statuses every route can answer (401, 403, 400, 404, 413, 415, 503) with
//! the error schema, and the constraints of parameters and bodies the server checks —
//! enums taken from the core's own lists, lengths, ranges, patterns and examples.
//! Each completion names the parameter or property it constrains; a name that no longer
//! exists panics when the document is built (the test `openapi` builds it), so a renamed
//! field cannot leave a stale constraint behind.

use crate::state::AppState;
use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};
use suanpan_core::backoffice::{Channel, ChannelAction, RequestKind, RequestStatus, StaffRole};
use suanpan_core::case::{CaseKind, CaseStatus, LinkRole};
use suanpan_core::{PaymentMethod, TxnKind, TxnStatus};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Suanpan merchant back-office API", version = "1",
        description = "Errors are {code, message, hint} in the caller's language (Accept-Language zh-CN default, en). \
Amounts are integer fen plus a display string; input amounts are integer fen or a yuan string with at most two decimals, never a float. \
Unknown JSON fields are refused. Cookie sessions send X-CSRF-Token on unsafe calls; apps use Authorization: Bearer tokens."),
    paths(
        crate::auth::api_login, crate::auth::api_logout, crate::auth::api_me, crate::auth::api_password_change,
        crate::auth::api_token_create, crate::auth::api_token_list, crate::auth::api_token_revoke,
        crate::auth::api_totp_offer, crate::auth::api_totp_enrol,
        crate::api::list_txns, crate::api::txn_detail, crate::api::txn_receipt, crate::api::hide_txn,
        crate::api::pay, crate::api::export, crate::api::batches, crate::api::audit_list, crate::api::audit_verify,
        crate::review::create, crate::review::list, crate::review::one,
        crate::review::approve, crate::review::reject, crate::review::cancel, crate::review::undo,
        crate::channels::list, crate::channels::change,
        crate::evidence::upload, crate::evidence::download,
        crate::removals::request_removal, crate::removals::list_removals, crate::removals::approve_removal, crate::removals::reject_removal,
        crate::users::list, crate::users::create, crate::users::edit, crate::users::action, crate::users::operators, crate::users::create_operator,
        crate::cases::create_case, crate::cases::list_cases, crate::cases::get_case, crate::cases::link_case, crate::cases::note_case,
        crate::cases::submit_case, crate::cases::resolve_case, crate::cases::reject_case, crate::cases::upload_case_evidence, crate::cases::case_pack,
        crate::ops::list_backups, crate::ops::create_backup, crate::ops::verify_backup, crate::ops::restore_backup, crate::ops::purge,
        crate::alerts::list_alerts, crate::alerts::acknowledge_alert, crate::alerts::resolve_alert,
        crate::alerts::approve_alert, crate::alerts::reject_alert, crate::alerts::alert_counts,
        crate::risk_settings::own_limits, crate::risk_settings::set_own_limits,
        crate::risk_settings::merchant_limits, crate::risk_settings::set_merchant_limits,
        crate::risk_settings::list_blocklist, crate::risk_settings::add_block, crate::risk_settings::remove_block,
        crate::compliance::list_reports, crate::compliance::get_report, crate::compliance::report_csv,
        crate::webhooks::list, crate::webhooks::create, crate::webhooks::one, crate::webhooks::update, crate::webhooks::remove,
        crate::webhooks::deliveries, crate::webhooks::delivery, crate::webhooks::replay,
        crate::acquirer::list_merchants, crate::acquirer::create_merchant, crate::acquirer::get_merchant, crate::acquirer::edit_merchant,
        crate::acquirer::merchant_status, crate::acquirer::list_changes, crate::acquirer::approve_change, crate::acquirer::reject_change,
        crate::acquirer_activity::list_all_txns, crate::acquirer_activity::any_txn,
        crate::acquirer_activity::list_all_cases, crate::acquirer_activity::any_case,
        crate::acquirer_activity::any_evidence,
        crate::kyc::list_documents, crate::kyc::upload_document, crate::kyc::download_document, crate::kyc::remove_document,
        crate::acquirer_channels::list_platform_channels, crate::acquirer_channels::switch_platform_channel,
        crate::acquirer_channels::list_merchant_channels, crate::acquirer_channels::allow_merchant_channel,
        crate::terminals::list_terminals, crate::terminals::register_terminal, crate::terminals::get_terminal,
        crate::terminals::assign_terminal, crate::terminals::lock_terminal, crate::terminals::unlock_terminal,
        crate::pause::pause_terminal, crate::pause::resume_terminal,
        crate::tmk::key_state, crate::tmk::enter_component,
    ),
    components(schemas(crate::error::ApiError, crate::json::AmountIn, crate::alerts::AlertStatusIn)),
    tags((name = "session"), (name = "transactions"), (name = "payments"), (name = "review"), (name = "batches"), (name = "audit"), (name = "channels"), (name = "evidence"), (name = "users"), (name = "cases"), (name = "operations"), (name = "alerts"), (name = "risk"), (name = "webhooks"), (name = "acquirer"))
)]
pub struct ApiDoc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}

/// The document as served: utoipa's, completed. Built once.
pub fn document() -> Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        complete(&mut doc);
        doc
    })
    .clone()
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn complete(doc: &mut Value) {
    doc["components"]["securitySchemes"] = security_schemes();
    doc["components"]["responses"] = error_responses();
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    for path in &paths {
        for method in METHODS {
            // `get_mut`, not indexing: indexing would add a `null` operation.
            if let Some(op) = doc["paths"][path.as_str()].get_mut(method) {
                operation(path, method, op);
            }
        }
    }
    for (schema, property, patch) in body_constraints() {
        let target = doc
            .pointer_mut(&format!(
                "/components/schemas/{schema}/properties/{property}"
            ))
            .unwrap_or_else(|| panic!("openapi: no property {schema}.{property} to constrain"));
        merge(target, patch);
    }
    for (schema, example) in body_examples() {
        let target = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .unwrap_or_else(|| panic!("openapi: no schema {schema} for its example"));
        target["example"] = example;
    }
    multipart_uploads(doc);
    links(doc);
}

/// Where a created record's id leads (OpenAPI links, which Schemathesis's stateful phase
/// follows): `(source path, status, id pointer in its answer, [(target path, method)])`.
/// An operation: `(path, method)`.
type Op = (&'static str, &'static str);

const LINKS: &[(&str, &str, &str, &[Op])] = &[
    (
        "/api/v1/payments",
        "201",
        "/id",
        &[
            ("/api/v1/transactions/{id}", "get"),
            ("/api/v1/transactions/{id}/receipt", "get"),
            ("/api/v1/transactions/{id}/hide", "post"),
            ("/api/v1/transactions/{id}/evidence", "post"),
        ],
    ),
    (
        "/api/v1/requests",
        "201",
        "/id",
        &[
            ("/api/v1/requests/{id}", "get"),
            ("/api/v1/requests/{id}/approve", "post"),
            ("/api/v1/requests/{id}/reject", "post"),
            ("/api/v1/requests/{id}/cancel", "post"),
            ("/api/v1/requests/{id}/undo", "post"),
        ],
    ),
    (
        "/api/v1/cases",
        "201",
        "/case/id",
        &[
            ("/api/v1/cases/{id}", "get"),
            ("/api/v1/cases/{id}/links", "post"),
            ("/api/v1/cases/{id}/notes", "post"),
            ("/api/v1/cases/{id}/evidence", "post"),
            ("/api/v1/cases/{id}/submit", "post"),
            ("/api/v1/cases/{id}/pack", "get"),
        ],
    ),
    (
        "/api/v1/transactions/{id}/evidence",
        "201",
        "/id",
        &[
            ("/api/v1/evidence/{id}", "get"),
            ("/api/v1/evidence/{id}/removal", "post"),
        ],
    ),
    (
        "/api/v1/tokens",
        "201",
        "/id",
        &[("/api/v1/tokens/{id}", "delete")],
    ),
    (
        "/api/v1/users",
        "201",
        "/id",
        &[
            ("/api/v1/users/{id}", "patch"),
            ("/api/v1/users/{id}/{action}", "post"),
        ],
    ),
];

fn links(doc: &mut Value) {
    let escape = |p: &str| p.replace('~', "~0").replace('/', "~1");
    for (source, status, pointer, targets) in LINKS {
        let mut links = serde_json::Map::new();
        for (path, method) in *targets {
            let op_id = doc
                .pointer(&format!("/paths/{}/{method}/operationId", escape(path)))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("openapi: no operation {method} {path} to link"))
                .to_owned();
            links.insert(
                op_id.clone(),
                json!({
                    "operationId": op_id,
                    "parameters": {"id": format!("$response.body#{pointer}")},
                    "description": format!("{method} {path} of the record just created"),
                }),
            );
        }
        let answer = doc
            .pointer_mut(&format!(
                "/paths/{}/post/responses/{status}",
                escape(source)
            ))
            .unwrap_or_else(|| panic!("openapi: no {status} of post {source} to link from"));
        answer["links"] = Value::Object(links);
    }
}

/// Cookie session (with the CSRF header on unsafe calls) or an API token.
fn security_schemes() -> Value {
    json!({
        "session": {
            "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
            "description": "Set by POST /api/v1/session (HttpOnly, SameSite=Strict; Secure under TLS)."
        },
        "csrf": {
            "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
            "description": "The session's csrf_token (from the login answer), required with the cookie on POST, PATCH and DELETE."
        },
        "bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "sp_ followed by 64 hex digits",
            "description": "An API token from POST /api/v1/tokens; no CSRF header needed."
        }
    })
}

/// The error answers every route shares, each with the error schema and an example.
fn error_responses() -> Value {
    let one = |description: &str, code: &str, message: &str, hint: &str| {
        json!({
            "description": description,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ApiError"},
                "example": {"code": code, "message": message, "hint": hint}
            }}
        })
    };
    json!({
        "BadRequest": one(
            "Malformed input: a parameter, path id or body value the server does not accept (code input.invalid, json.*), named in the caller's language.",
            "input.invalid", "每页条数（1–500）无效：0", "请按括号中的说明更正后重试"),
        "Unauthorized": one(
            "Not logged in, session expired, unknown or revoked token, or the user is disabled (auth.required, auth.session_expired, auth.bad_token, auth.user_disabled).",
            "auth.required", "请先登录", "登录后重试"),
        "Forbidden": one(
            "The role may not do this (auth.forbidden), the CSRF header is missing or wrong on a cookie session (auth.csrf), or an admin must enrol TOTP first (auth.totp_enrol_required).",
            "auth.forbidden", "当前角色（cashier）无权执行此操作", "请联系管理员"),
        "NotFound": one(
            "No such record of the caller's merchant (or hidden from this role).",
            "txn.not_found", "找不到该交易", "检查交易编号"),
        "PayloadTooLarge": one(
            "The body is larger than body_bytes_max (evidence uploads: evidence_bytes_max), said in units.",
            "input.too_large", "请求内容超过 64 KiB", "缩小后重试"),
        "UnsupportedMediaType": one(
            "The body is not of the documented content type (application/json, or multipart/form-data for uploads).",
            "json.content_type", "请求须为 JSON（Content-Type: application/json）", "按 /api/v1/openapi.json 的格式提交"),
        "ServiceUnavailable": one(
            "The store is busy; nothing was changed. Retry shortly.",
            "store.busy", "系统繁忙", "稍后重试"),
    })
}

fn is_unsafe(method: &str) -> bool {
    method != "get"
}

/// Security, shared responses and parameter constraints of one operation.
fn operation(path: &str, method: &str, op: &mut Value) {
    let public = path == "/api/v1/session" && method == "post";
    let session_only = path == "/api/v1/totp";
    op["security"] = match (public, session_only, is_unsafe(method)) {
        (true, _, _) => json!([]),
        (false, true, false) => json!([{"session": []}]),
        (false, true, true) => json!([{"session": [], "csrf": []}]),
        (false, false, false) => json!([{"session": []}, {"bearer": []}]),
        (false, false, true) => json!([{"session": [], "csrf": []}, {"bearer": []}]),
    };
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |place: &str| params.iter().any(|p| p["in"] == place);
    let body = op.pointer("/requestBody/content").cloned();
    let mut shared: Vec<(&str, &str)> = vec![("503", "ServiceUnavailable")];
    if !public {
        shared.extend([("401", "Unauthorized"), ("403", "Forbidden")]);
    }
    if has("query") || has("path") || has("header") || body.is_some() {
        shared.push(("400", "BadRequest"));
    }
    if has("path") {
        shared.push(("404", "NotFound"));
    }
    if body.is_some() {
        shared.extend([("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    let responses = op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .expect("responses");
    for (status, name) in shared {
        // The route's own description of a status (e.g. 409's causes) is kept; only an
        // undocumented status gets the shared one.
        match responses.get_mut(status) {
            Some(own) if own.get("content").is_some() => {}
            Some(own) => {
                own["content"] = error_responses()[name]["content"].clone();
            }
            None => {
                responses.insert(
                    status.to_owned(),
                    json!({"$ref": format!("#/components/responses/{name}")}),
                );
            }
        }
    }
    if let Some(list) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in list {
            let name = p["name"].as_str().unwrap_or("").to_owned();
            let place = p["in"].as_str().unwrap_or("").to_owned();
            if let Some(patch) = parameter_constraint(path, &place, &name) {
                merge(&mut p["schema"], patch.schema);
                if let Some(ex) = patch.example {
                    p["example"] = ex;
                }
            }
        }
    }
}

/// What a parameter accepts.
struct ParamPatch {
    schema: Value,
    example: Option<Value>,
}

fn patch(schema: Value, example: Value) -> Option<ParamPatch> {
    Some(ParamPatch {
        schema,
        example: Some(example),
    })
}

/// `["", a, b, …]`: a filter's values, empty meaning "all".
fn filter_enum<'a>(names: impl IntoIterator<Item = &'a str>) -> Value {
    let mut all = vec![String::new()];
    all.extend(names.into_iter().map(str::to_owned));
    json!({"type": "string", "enum": all})
}

/// A yuan amount as the server parses it (`Amount::from_yuan_str`): digits with at most two
/// decimals, not zero, at most 9,999,999,999.99 (8583 field 4's 12 digits of fen).
pub const YUAN_PATTERN: &str = r"^(?=.*[1-9])(0{0,2}[0-9]{0,10}(\.[0-9]{0,2})?|\.[0-9]{1,2})$";

fn id_schema() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
}

/// The constraints the extractors and handlers enforce on parameters, by name.
fn parameter_constraint(path: &str, place: &str, name: &str) -> Option<ParamPatch> {
    let date_or_blank = json!({"type": "string", "anyOf": [
        {"format": "date"}, {"pattern": r"^\s*$"}]});
    let yuan_or_blank = json!({"type": "string", "anyOf": [
        {"pattern": YUAN_PATTERN}, {"pattern": r"^\s*$"}]});
    let txn_listing = path == "/api/v1/transactions"
        || path == "/api/v1/export"
        || path == "/api/v1/acquirer/transactions";
    match (place, name) {
        ("path", "id") if path.starts_with("/api/v1/acquirer/channels/") => patch(
            json!({"enum": Channel::ALL.map(|c| c.as_str())}),
            json!("wechat"),
        ),
        ("path", "channel") => patch(
            json!({"enum": Channel::ALL.map(|c| c.as_str())}),
            json!("wechat"),
        ),
        ("path", "action") if path.starts_with("/api/v1/acquirer/channels/") => patch(
            json!({"enum": crate::acquirer_channels::PLATFORM_ACTIONS}),
            json!("disable"),
        ),
        ("path", "action") if path.starts_with("/api/v1/acquirer/merchants/") => patch(
            json!({"enum": crate::acquirer_channels::MERCHANT_ACTIONS}),
            json!("withdraw"),
        ),
        ("path", "id") if path.starts_with("/api/v1/channels/") => patch(
            json!({"enum": Channel::ALL.map(|c| c.as_str())}),
            json!("alipay"),
        ),
        ("path", "id") if path.starts_with("/api/v1/acquirer/merchants/") => patch(
            json!({"type": "string", "pattern": crate::acquirer::MERCHANT_ID_PATTERN}),
            json!("898310048990001"),
        ),
        ("path", "id") if path.starts_with("/api/v1/acquirer/terminals/") => patch(
            json!({"type": "string", "pattern": crate::terminals::TERMINAL_ID_PATTERN}),
            json!("12345678"),
        ),
        ("path", "id") => patch(id_schema(), json!(1)),
        ("path", "doc") => patch(id_schema(), json!(1)),
        ("path", "action") if path.starts_with("/api/v1/channels/") => patch(
            json!({"enum": CHANNEL_ACTIONS.map(|a| a.as_str())}),
            json!("disable"),
        ),
        ("path", "action") if path.starts_with("/api/v1/users/") => {
            patch(json!({"enum": USER_ACTIONS}), json!("disable"))
        }
        ("query", "limit") if txn_listing || path == "/api/v1/acquirer/cases" => patch(
            json!({"minimum": 1, "maximum": crate::api::PAGE_ROWS_MAX}),
            json!(50),
        ),
        ("query", "limit") => patch(
            json!({"minimum": 1, "maximum": crate::api::AUDIT_ROWS_MAX}),
            json!(100),
        ),
        ("query", "offset") => patch(json!({"minimum": 0, "maximum": u32::MAX}), json!(0)),
        ("query", "cursor") | ("query", "transaction_id") => patch(id_schema(), json!(9)),
        ("query", "from") | ("query", "to") => patch(date_or_blank, json!("2026-11-25")),
        ("query", "min") | ("query", "max") => patch(yuan_or_blank, json!("88.00")),
        ("query", "kind") if txn_listing => patch(
            filter_enum(TxnKind::ALL.iter().map(|k| k.as_str())),
            json!("sale"),
        ),
        ("query", "status") if txn_listing => patch(
            filter_enum(TxnStatus::ALL.iter().map(|s| s.as_str())),
            json!("approved"),
        ),
        ("query", "status") if path == "/api/v1/cases" || path == "/api/v1/acquirer/cases" => {
            patch(
                filter_enum(CaseStatus::ALL.iter().map(|s| s.as_str())),
                json!("open"),
            )
        }
        ("query", "status") if path == "/api/v1/acquirer/merchant-changes" => patch(
            filter_enum(crate::acquirer::CHANGE_STATUSES.iter().map(|s| s.as_str())),
            json!("pending"),
        ),
        ("query", "status") if path == "/api/v1/alerts" => patch(
            filter_enum(crate::alerts::AlertStatusIn::ALL.iter().map(|s| s.as_str())),
            json!("open"),
        ),
        // `MerchantId::parse`: 15 letters or digits (8583 field 42), or blank for all.
        ("query", "merchant") if path.starts_with("/api/v1/acquirer/") => patch(
            json!({"type": "string", "anyOf": [
                {"pattern": "^[0-9A-Za-z]{15}$"}, {"pattern": r"^\s*$"}]}),
            json!("898310048990001"),
        ),
        ("query", "days") => patch(
            json!({"type": "integer", "minimum": 1, "maximum": suanpan_store::risk_admin::ALERT_DAYS_MAX}),
            json!(14),
        ),
        ("query", "rule") if path == "/api/v1/alerts" => patch(
            filter_enum(suanpan_core::risk::Rule::ALL.iter().map(|r| r.as_str())),
            json!("duplicate"),
        ),
        ("query", "severity") if path == "/api/v1/alerts" => patch(
            filter_enum(crate::alerts::SeverityIn::ALL.iter().map(|s| s.as_str())),
            json!("high"),
        ),
        ("query", "status") if path == "/api/v1/evidence-removals" => patch(
            filter_enum(REMOVAL_STATUSES.iter().map(|s| s.as_str())),
            json!("pending"),
        ),
        ("query", "status") => patch(
            filter_enum(REQUEST_STATUSES.iter().map(|s| s.as_str())),
            json!("pending"),
        ),
        ("query", "method") => patch(
            filter_enum(PaymentMethod::ALL.iter().map(|m| m.as_str())),
            json!("qr_alipay"),
        ),
        ("query", "voucher") => patch(
            json!({"type": "string", "anyOf": [
                {"pattern": "^(?=.*[1-9])[0-9]{1,6}$"}, {"pattern": r"^\s*$"}]}),
            json!("000001"),
        ),
        ("query", "last4") => patch(
            json!({"type": "string", "anyOf": [
                {"pattern": "^[0-9]{4}$"}, {"pattern": r"^\s*$"}]}),
            json!("0016"),
        ),
        ("query", "wallet") => patch(json!({"type": "string"}), json!("alipay-demo-001")),
        ("query", "format") => patch(json!({"enum": ["csv", "xlsx"]}), json!("csv")),
        ("query", "copy") => patch(
            json!({"enum": ["merchant", "cardholder"]}),
            json!("merchant"),
        ),
        ("query", "width") => patch(json!({"enum": [32, 48]}), json!(32)),
        ("header", "Idempotency-Key") => patch(
            json!({"type": "string", "pattern": "^[!-~]{1,128}$"}),
            json!("order-42"),
        ),
        _ => None,
    }
}

/// Every request status (`RequestStatus::parse` accepts exactly these).
const REQUEST_STATUSES: [RequestStatus; 8] = [
    RequestStatus::Pending,
    RequestStatus::Approved,
    RequestStatus::Executing,
    RequestStatus::Executed,
    RequestStatus::Failed,
    RequestStatus::Rejected,
    RequestStatus::Cancelled,
    RequestStatus::Undone,
];
/// The statuses an evidence removal request can have.
const REMOVAL_STATUSES: [RequestStatus; 3] = [
    RequestStatus::Pending,
    RequestStatus::Approved,
    RequestStatus::Rejected,
];
/// Every channel action (`ChannelAction::parse` accepts exactly these).
const CHANNEL_ACTIONS: [ChannelAction; 4] = [
    ChannelAction::Enable,
    ChannelAction::Disable,
    ChannelAction::Remove,
    ChannelAction::Restore,
];

/// Every action of `POST /api/v1/users/{id}/{action}` (`users::Change::parse`).
const USER_ACTIONS: [&str; 4] = ["disable", "enable", "password", "totp-reset"];

/// The constraints the handlers enforce on body properties: `(schema, property, patch)`.
fn body_constraints() -> Vec<(&'static str, &'static str, Value)> {
    let text = |max: usize| json!({"minLength": 1, "maxLength": max, "pattern": r"\S"});
    // Counted in characters by the core (`decide_new_user`, 422 below it).
    let password = json!({"minLength": suanpan_core::backoffice::STAFF_PASSWORD_CHARS_MIN});
    vec![
        (
            "PaymentIn",
            "method",
            json!({"enum": PaymentMethod::ALL.map(|m| m.as_str())}),
        ),
        ("PaymentIn", "original_id", id_schema()),
        ("CardIn", "pan", json!({"pattern": "^ *([0-9] *){13,19}$"})),
        (
            "RequestIn",
            "kind",
            json!({"enum": [RequestKind::Void.as_str(), RequestKind::Refund.as_str()]}),
        ),
        (
            "CaseIn",
            "kind",
            json!({"enum": CaseKind::ALL.map(|k| k.as_str())}),
        ),
        ("CaseIn", "transaction_id", id_schema()),
        (
            "CaseIn",
            "note",
            text(suanpan_core::case::CASE_NOTE_CHARS_MAX),
        ),
        ("LinkIn", "transaction_id", id_schema()),
        (
            "LinkIn",
            "role",
            json!({"enum": LinkRole::ALL.map(|r| r.as_str())}),
        ),
        (
            "UserIn",
            "username",
            json!({"pattern": crate::users::USERNAME_PATTERN}),
        ),
        (
            "UserIn",
            "role",
            json!({"enum": StaffRole::MERCHANT.map(|r| r.as_str())}),
        ),
        (
            "UserEditIn",
            "role",
            json!({"enum": StaffRole::MERCHANT.map(|r| r.as_str())}),
        ),
        ("OperatorIn", "no", json!({"pattern": "^[0-9]{2}$"})),
        (
            "OperatorIn",
            "role",
            json!({"enum": ["cashier", "supervisor", "admin"]}),
        ),
        (
            "OperatorIn",
            "password",
            json!({"pattern": "^[0-9]{4,12}$"}),
        ),
        ("OperatorIn", "name", text(64)),
        (
            "MerchantIn",
            "id",
            json!({"pattern": crate::acquirer::MERCHANT_ID_PATTERN}),
        ),
        (
            "MerchantIn",
            "name",
            text(crate::acquirer::MERCHANT_TEXT_CHARS_MAX),
        ),
        (
            "MerchantEditIn",
            "name",
            text(crate::acquirer::MERCHANT_TEXT_CHARS_MAX),
        ),
        (
            "MerchantIn",
            "short_name",
            json!({"maxLength": crate::acquirer::SHORT_NAME_CHARS_MAX}),
        ),
        (
            "MerchantEditIn",
            "short_name",
            json!({"maxLength": crate::acquirer::SHORT_NAME_CHARS_MAX}),
        ),
        (
            "MerchantIn",
            "mcc",
            json!({"anyOf": [{"pattern": crate::acquirer::MCC_PATTERN}, {"pattern": r"^\s*$"}]}),
        ),
        (
            "MerchantEditIn",
            "mcc",
            json!({"anyOf": [{"pattern": crate::acquirer::MCC_PATTERN}, {"pattern": r"^\s*$"}]}),
        ),
        (
            "MerchantIn",
            "address",
            json!({"maxLength": crate::acquirer::MERCHANT_TEXT_CHARS_MAX}),
        ),
        (
            "MerchantEditIn",
            "address",
            json!({"maxLength": crate::acquirer::MERCHANT_TEXT_CHARS_MAX}),
        ),
        (
            "MerchantIn",
            "contact",
            json!({"maxLength": crate::acquirer::MERCHANT_TEXT_CHARS_MAX}),
        ),
        (
            "MerchantEditIn",
            "contact",
            json!({"maxLength": crate::acquirer::MERCHANT_TEXT_CHARS_MAX}),
        ),
        (
            "MerchantIn",
            "settlement_account",
            json!({"pattern": crate::acquirer::ACCOUNT_PATTERN}),
        ),
        (
            "MerchantEditIn",
            "settlement_account",
            json!({"pattern": crate::acquirer::ACCOUNT_PATTERN}),
        ),
        (
            "TerminalIn",
            "id",
            json!({"pattern": crate::terminals::TERMINAL_ID_PATTERN}),
        ),
        (
            "TerminalIn",
            "merchant",
            json!({"pattern": crate::acquirer::MERCHANT_ID_PATTERN}),
        ),
        (
            "AssignIn",
            "merchant",
            json!({"pattern": crate::acquirer::MERCHANT_ID_PATTERN}),
        ),
        (
            "MerchantStatusIn",
            "status",
            json!({"enum": ["active", "suspended", "closed"]}),
        ),
        ("TokenIn", "name", text(64)),
        ("UserIn", "password", password.clone()),
        ("UserActionIn", "password", password),
        ("UserIn", "name", text(64)),
        ("UserIn", "operator_no", json!({"pattern": "^([0-9]{2})?$"})),
        ("UserEditIn", "name", text(64)),
        (
            "UserEditIn",
            "operator_no",
            json!({"pattern": "^([0-9]{2})?$"}),
        ),
        ("PurgeIn", "before", json!({"format": "date"})),
        ("PurgeIn", "merchant", json!({"pattern": "^[0-9]{15}$"})),
    ]
}

/// An example of each request body, as the README's calls send them.
fn body_examples() -> Vec<(&'static str, Value)> {
    vec![
        (
            "LoginIn",
            json!({"username": "cashier", "password": "cashier-demo"}),
        ),
        ("TokenIn", json!({"name": "POS app"})),
        ("TotpIn", json!({"code": "123456"})),
        (
            "PaymentIn",
            json!({"kind": "sale", "amount": "88.00", "wallet": {"id": "alipay-demo-001"}}),
        ),
        (
            "RequestIn",
            json!({"kind": "void", "transaction_id": 4, "reason": "顾客取消", "customer_consent": true}),
        ),
        ("ReviewIn", json!({"comment": "核对无误"})),
        ("HideIn", json!({"reason": "测试数据"})),
        (
            "CaseIn",
            json!({"transaction_id": 5, "kind": "mistaken_void", "note": "收银员撤销错了交易"}),
        ),
        ("LinkIn", json!({"transaction_id": 7, "role": "recharge"})),
        ("NoteIn", json!({"note": "已致电收单机构"})),
        (
            "ChannelIn",
            json!({"password": "admin-demo", "reason": "渠道维护"}),
        ),
        ("RemovalIn", json!({"reason": "超过保存期限"})),
        ("AcquirerChannelIn", json!({"reason": "上游渠道故障"})),
        (
            "PurgeIn",
            json!({"password": "platform-demo", "reason": "超过保存期限", "before": "2020-01-01", "merchant": "898310048990001"}),
        ),
        (
            "UserIn",
            json!({"username": "cashier2", "password": "cashier2-pass", "role": "cashier", "name": "收银员 李四", "operator_no": "02"}),
        ),
        ("UserEditIn", json!({"name": "收银员 李四"})),
        ("UserActionIn", json!({})),
    ]
}

/// Evidence uploads: one `file` part, its bytes of the type the name says.
fn multipart_uploads(doc: &mut Value) {
    for path in [
        "/api/v1/transactions/{id}/evidence",
        "/api/v1/cases/{id}/evidence",
    ] {
        let pointer = format!(
            "/paths/{}/post/requestBody/content/multipart~1form-data",
            path.replace('/', "~1")
        );
        let content = doc
            .pointer_mut(&pointer)
            .unwrap_or_else(|| panic!("openapi: {path} has no multipart body"));
        content["schema"] = json!({
            "type": "object",
            "required": ["file"],
            "additionalProperties": false,
            "properties": {
                "csrf": {"type": "string", "description": "The session's CSRF token (HTML forms; API callers send the X-CSRF-Token header)."},
                "file": {
                    "type": "string", "format": "binary", "minLength": 1,
                    "description": "MP4/WebM video, JPEG/PNG photo or PDF, at most evidence_bytes_max (50 MiB by default); the bytes must be what the type says."
                }
            }
        });
        content["encoding"] = json!({"file": {"contentType":
            "video/mp4, video/webm, image/jpeg, image/png, application/pdf"}});
        let body = doc
            .pointer_mut(&format!(
                "/paths/{}/post/requestBody",
                path.replace('/', "~1")
            ))
            .expect("the upload's body");
        body["required"] = json!(true);
    }
    // KYC documents: `kind` and one `file` part, a scan or photo.
    let path = "/api/v1/acquirer/merchants/{id}/documents";
    let content = doc
        .pointer_mut(&format!(
            "/paths/{}/post/requestBody/content/multipart~1form-data",
            path.replace('/', "~1")
        ))
        .expect("the KYC upload's body");
    content["schema"] = json!({
        "type": "object",
        "required": ["kind", "file"],
        "additionalProperties": false,
        "properties": {
            "kind": {"type": "string", "enum": suanpan_core::backoffice::KycDocumentKind::ALL.map(|k| k.as_str())},
            "file": {
                "type": "string", "format": "binary", "minLength": 1,
                "description": "JPEG/PNG photo or PDF, at most 10 MiB; the bytes must be what the type says."
            }
        }
    });
    content["encoding"] = json!({"file": {"contentType": crate::kyc::KYC_TYPES.join(", ")}});
    doc.pointer_mut(&format!(
        "/paths/{}/post/requestBody",
        path.replace('/', "~1")
    ))
    .expect("the KYC upload's body")["required"] = json!(true);
    // The export answers CSV or, with format=xlsx, a workbook.
    let export = doc
        .pointer_mut("/paths/~1api~1v1~1export/get/responses/200/content")
        .expect("the export's 200");
    export[crate::api::XLSX_TYPE] = json!({"schema": {"type": "string", "format": "binary"}});
}

/// Adds `patch`'s keys to `target` (objects merged one level deep).
fn merge(target: &mut Value, patch: Value) {
    let Value::Object(add) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in add {
        target[k.as_str()] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the statuses written out here are exactly those the parsers accept, so the
    /// document's enums say what the server does.
    #[test]
    fn the_written_out_lists_are_what_the_parsers_accept() {
        for s in REQUEST_STATUSES {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        for a in CHANNEL_ACTIONS {
            assert_eq!(ChannelAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(RequestStatus::parse("nothing"), None);
        for action in USER_ACTIONS {
            let input = crate::users::UserActionIn {
                password: (action == "password").then(|| "a-new-password".to_owned()),
            };
            assert!(crate::users::Change::parse(suanpan_core::Lang::En, action, input).is_ok());
        }
        let none = crate::users::UserActionIn { password: None };
        assert!(crate::users::Change::parse(suanpan_core::Lang::En, "x", none).is_err());
    }
}
