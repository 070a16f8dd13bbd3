//! The one table from failures to HTTP: `{code, message, hint}` in the caller's language.
//! Rule refusals keep the core's key and texts; the web's own errors use this crate's catalog.

use crate::catalog::tf;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use suanpan_core::{Lang, Refusal};
use suanpan_store::StoreError;

/// An error answer. `code` is stable (a catalog key); `message` and `hint` are for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    #[schema(ignore)]
    pub status: StatusCode,
    /// Stable code, e.g. `auth.csrf`, `void.settled`.
    pub code: String,
    /// What happened, in the caller's language.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl ApiError {
    /// An error from this crate's catalog (`key.msg`, `key.fix`).
    pub fn new(status: StatusCode, lang: Lang, key: &str, args: &[String]) -> ApiError {
        ApiError {
            status,
            code: key.to_owned(),
            message: tf(lang, &format!("{key}.msg"), args),
            hint: tf(lang, &format!("{key}.fix"), args),
        }
    }

    /// A rule's refusal (nothing changed but the audit trail).
    fn refusal(status: StatusCode, lang: Lang, r: &dyn Refusal) -> ApiError {
        ApiError {
            status,
            code: r.key().to_owned(),
            message: r.message(lang),
            hint: r.remedy(lang),
        }
    }

    /// A rule's refusal with its status from [`refusal_status`], the one table.
    pub fn refused(lang: Lang, r: &dyn Refusal) -> ApiError {
        ApiError::refusal(refusal_status(r.key()), lang, r)
    }

    /// A storage failure: logged with its cause, shown opaque.
    pub fn store(lang: Lang, e: StoreError) -> ApiError {
        match e {
            StoreError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, lang, "store.busy", &[])
            }
            StoreError::TimedOut(what) => {
                tracing::error!("back-office store wait ran out: {what}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    lang,
                    "store.timed_out",
                    &[],
                )
            }
            StoreError::Invalid(what) => {
                ApiError::new(StatusCode::BAD_REQUEST, lang, "input.invalid", &[what])
            }
            e => {
                tracing::error!("back-office storage error: {e}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, "store.error", &[])
            }
        }
    }

    /// Bad input with a description.
    /// A value the server does not accept, named in words: `field` is a catalog key under
    /// `field.` ("日期（YYYY-MM-DD）"), `value` what was sent (empty: nothing was).
    pub fn field(lang: Lang, field: &str, value: &str) -> ApiError {
        let name = crate::catalog::t(lang, &format!("field.{field}")).to_owned();
        let sent = if value.is_empty() {
            crate::catalog::t(lang, "input.nothing").to_owned()
        } else {
            value.to_owned()
        };
        let args = [name, sent];
        // The code stays `input.invalid` (what clients match); the words say which field.
        ApiError {
            code: "input.invalid".to_owned(),
            ..ApiError::new(StatusCode::BAD_REQUEST, lang, "input.bad_value", &args)
        }
    }

    /// The same error as 422: each value is well-formed (the schema holds), but their
    /// combination is refused — a field required by another field's value (a refund's
    /// amount, a completion's original, card or wallet, the `password` action's password).
    /// 400 stays for a value that breaks its own documented constraint.
    pub fn combination(self) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..self
        }
    }

    pub fn invalid(lang: Lang, what: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            lang,
            "input.invalid",
            &[what.into()],
        )
    }
}

/// The one table from refusals (by the core's key) to HTTP statuses: the caller's role may
/// not (403); the thing acted on is no longer in the state the action needs — reviewed,
/// removed, closed, already so (409); every other rule's refusal of a well-formed request
/// (422).
pub fn refusal_status(key: &str) -> StatusCode {
    match key {
        "backoffice.not_permitted" | "case.not_permitted" => StatusCode::FORBIDDEN,
        "risk.alert_not_found" => StatusCode::NOT_FOUND,
        "backoffice.not_pending"
        | "backoffice.not_approved"
        | "backoffice.grace_over"
        | "backoffice.channel_unsettled"
        | "backoffice.channel_removed"
        | "backoffice.channel_not_removed"
        | "backoffice.evidence_removed"
        | "backoffice.removal_pending"
        | "backoffice.user_already"
        | "backoffice.last_admin"
        | "backoffice.kyc_document_kept"
        | "case.closed"
        | "case.not_open"
        | "case.not_submitted"
        | "case.already_linked"
        | "risk.alert_resolved"
        | "risk.alert_not_open"
        | "risk.no_review_pending" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

/// The caller's language: `?lang=`, else the `lang` cookie (the UI's switch), else the first
/// `Accept-Language` tag; zh-CN by default.
pub fn lang_of(parts: &Parts) -> Lang {
    if let Some(q) = parts.uri.query() {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("lang=")
                && let Some(l) = Lang::parse(v)
            {
                return l;
            }
        }
    }
    lang_of_headers(&parts.headers)
}

/// The language from the cookie or `Accept-Language`.
pub fn lang_of_headers(headers: &HeaderMap) -> Lang {
    if let Some(l) = crate::auth::cookie(headers, "lang").and_then(|v| Lang::parse(&v)) {
        return l;
    }
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split([',', ';']).next())
        .and_then(|tag| Lang::parse(tag.trim()))
        .unwrap_or_default()
}

/// Any path nobody serves.
pub async fn not_found(headers: HeaderMap) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        lang_of_headers(&headers),
        "route.not_found",
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table_names_only_real_refusals() {
        // Goal: a key the table lists is a refusal the core has (a typo would silently
        // answer 422), and the three classes come out as documented.
        let listed = [
            ("backoffice.not_permitted", 403),
            ("case.not_permitted", 403),
            ("backoffice.not_pending", 409),
            ("backoffice.not_approved", 409),
            ("backoffice.grace_over", 409),
            ("backoffice.channel_unsettled", 409),
            ("backoffice.channel_removed", 409),
            ("backoffice.channel_not_removed", 409),
            ("backoffice.evidence_removed", 409),
            ("backoffice.removal_pending", 409),
            ("backoffice.kyc_document_kept", 409),
            ("backoffice.user_already", 409),
            ("backoffice.last_admin", 409),
            ("case.closed", 409),
            ("case.not_open", 409),
            ("case.not_submitted", 409),
            ("case.already_linked", 409),
            ("void.operator_limit", 422),
            ("backoffice.reason_required", 422),
        ];
        for (key, status) in listed {
            assert_eq!(refusal_status(key).as_u16(), status, "{key}");
            assert!(
                suanpan_core::refusal::message_of_key(Lang::En, key).is_some(),
                "{key} is not a refusal of the core"
            );
        }
    }
}
