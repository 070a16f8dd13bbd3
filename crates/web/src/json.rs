//! Strict JSON input: the right content type, a bounded body, no unknown fields (each input
//! type has `deny_unknown_fields`), and amounts that are integer fen or a yuan string with at
//! most two decimals — never a float. Every rejection is a `{code, message, hint}` 4xx.

use crate::error::{ApiError, lang_of};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::{self, DeserializeOwned, Visitor};
use suanpan_core::{Amount, AmountError};

/// A JSON body parsed strictly. (No hash of the raw bytes is kept: a body may hold a card
/// number; idempotency hashes are keyed and built from chosen fields, `api::payment_hash`.)
pub struct ApiJson<T> {
    /// The parsed value.
    pub value: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let lang = lang_of(&parts);
        let json = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                lang,
                "json.content_type",
                &[],
            ));
        }
        let req = Request::from_parts(parts, body);
        let limit = state.cfg().body_bytes_max;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // The limit in units people read, not axum's English sentence.
            let (status, key) = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                (StatusCode::PAYLOAD_TOO_LARGE, "input.too_large")
            } else {
                (StatusCode::BAD_REQUEST, "input.unreadable")
            };
            ApiError::new(status, lang, key, &[crate::words::bytes(limit)])
        })?;
        let value = parse(&bytes).map_err(|(key, detail)| {
            let e = ApiError::new(StatusCode::BAD_REQUEST, lang, key, &[detail]);
            // A missing field has its own words but keeps the code clients match.
            match key {
                "json.missing_field" => ApiError {
                    code: "json.invalid".to_owned(),
                    ..e
                },
                _ => e,
            }
        })?;
        Ok(ApiJson { value })
    }
}

/// Parses and classifies a failure as (catalog key, detail). The detail is never serde's
/// English: where the body went wrong (`line:column`), the unknown or missing field's name,
/// or the amount as sent.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (&'static str, String)> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let field = || text.split('`').nth(1).unwrap_or("").to_owned();
        let key = match e.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => "json.malformed",
            serde_json::error::Category::Data if text.starts_with(AMOUNT_FLOAT) => {
                "json.amount_float"
            }
            serde_json::error::Category::Data if text.starts_with(AMOUNT_DECIMALS) => {
                "json.amount_decimals"
            }
            serde_json::error::Category::Data if text.starts_with(AMOUNT_INVALID) => {
                "json.amount_invalid"
            }
            serde_json::error::Category::Data if text.starts_with("unknown field") => {
                "json.unknown_field"
            }
            serde_json::error::Category::Data if text.starts_with("missing field") => {
                "json.missing_field"
            }
            serde_json::error::Category::Data => "json.invalid",
        };
        let detail = match key {
            "json.unknown_field" | "json.missing_field" => field(),
            "json.amount_invalid" => text
                .strip_prefix(AMOUNT_INVALID)
                .and_then(|t| t.strip_prefix(':'))
                .and_then(|t| t.rsplit_once(" at line").map(|(v, _)| v).or(Some(t)))
                .unwrap_or("")
                .to_owned(),
            _ => format!("{}:{}", e.line(), e.column()),
        };
        (key, detail)
    })
}

const AMOUNT_FLOAT: &str = "amount_float";
const AMOUNT_DECIMALS: &str = "amount_decimals";
const AMOUNT_INVALID: &str = "amount_invalid";

/// An amount as the API accepts it: integer fen (`8800`) or a yuan string with at most two
/// decimals (`"88.00"`). A JSON float (`88.5`, `8800.0`) is refused: fen are counted, not
/// measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmountIn(pub Amount);

impl<'de> serde::Deserialize<'de> for AmountIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AmountIn, D::Error> {
        d.deserialize_any(AmountVisitor)
    }
}

struct AmountVisitor;

/// The error of an amount, with the amount as sent (the detail a person can correct).
fn amount_error<E: de::Error>(e: AmountError, sent: &str) -> E {
    match e {
        AmountError::TooManyDecimals => E::custom(AMOUNT_DECIMALS),
        _ => E::custom(format!("{AMOUNT_INVALID}:{sent}")),
    }
}

impl Visitor<'_> for AmountVisitor {
    type Value = AmountIn;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("integer fen or a yuan string with at most two decimals")
    }
    fn visit_u64<E: de::Error>(self, fen: u64) -> Result<AmountIn, E> {
        // The same limits as typed amounts: through the one parser.
        let yuan = format!("{}.{:02}", fen / 100, fen % 100);
        Amount::from_yuan_str(&yuan)
            .map(AmountIn)
            .map_err(|e| amount_error(e, &fen.to_string()))
    }
    fn visit_i64<E: de::Error>(self, fen: i64) -> Result<AmountIn, E> {
        match u64::try_from(fen) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("{AMOUNT_INVALID}:{fen}"))),
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<AmountIn, E> {
        Err(E::custom(AMOUNT_FLOAT))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<AmountIn, E> {
        // Exactly the documented pattern: no spaces around the digits (a person's typing
        // is trimmed by the forms, not by a program's JSON).
        if v.trim() != v {
            return Err(amount_error(AmountError::InvalidCharacter, v));
        }
        Amount::from_yuan_str(v)
            .map(AmountIn)
            .map_err(|e| amount_error(e, v))
    }
}

impl utoipa::PartialSchema for AmountIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(Amount::MAX_FEN))
                    .description(Some("integer fen, e.g. 8800 = ¥88.00")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(crate::openapi::YUAN_PATTERN))
                    .description(Some("yuan with at most two decimals, e.g. \"88.00\"")),
            )
            .description(Some(
                "Amount: integer fen or a yuan string; floats are refused",
            ))
            .into()
    }
}

impl utoipa::ToSchema for AmountIn {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        amount: AmountIn,
    }

    fn key(text: &str) -> &'static str {
        parse::<Body>(text.as_bytes())
            .map(|_| "ok")
            .unwrap_or_else(|(k, _)| k)
    }

    #[test]
    fn amounts_are_fen_or_two_decimal_yuan_never_floats() {
        let ok: Body = parse(br#"{"amount": 8800}"#).unwrap();
        assert_eq!(ok.amount.0.fen(), 8800);
        let ok: Body = parse(br#"{"amount": "88.00"}"#).unwrap();
        assert_eq!(ok.amount.0.fen(), 8800);
        assert_eq!(key(r#"{"amount": 88.5}"#), "json.amount_float");
        assert_eq!(key(r#"{"amount": 8800.0}"#), "json.amount_float");
        assert_eq!(key(r#"{"amount": 1e3}"#), "json.amount_float");
        assert_eq!(key(r#"{"amount": "88.001"}"#), "json.amount_decimals");
        assert_eq!(key(r#"{"amount": -5}"#), "json.amount_invalid");
        assert_eq!(key(r#"{"amount": "abc"}"#), "json.amount_invalid");
        assert_eq!(key(r#"{"amount": 1, "x": 2}"#), "json.unknown_field");
        assert_eq!(key(r#"{"amount": 1"#), "json.malformed");
        assert_eq!(key(r#"{"amount": true}"#), "json.invalid");
        assert_eq!(key(r#"{}"#), "json.missing_field");
        let detail = |t: &str| {
            parse::<Body>(t.as_bytes())
                .map(|_| String::new())
                .unwrap_err()
                .1
        };
        assert_eq!(
            detail(r#"{"amount": "abc"}"#),
            "abc",
            "the amount as sent, no serde English"
        );
        assert_eq!(detail(r#"{"amount": 1"#), "1:12");
        assert_eq!(detail(r#"{}"#), "amount");
    }
}
