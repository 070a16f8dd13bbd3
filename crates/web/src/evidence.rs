//! Evidence (交易视频, photos, PDFs) on a transaction: multipart upload with a size limit,
//! the declared type checked against the file's magic bytes, stored content-addressed by
//! SHA-256; played back with HTTP Range (video seeking). Evidence is kept for its retention
//! period; after it, removal is a request someone else reviews (`core::backoffice::
//! decide_evidence_removal`, `decide_removal_review`). Removed evidence stays listed as a
//! tombstone and answers 410 Gone.

use crate::api::{Id, load_txn};
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use suanpan_core::backoffice::Permission;
use suanpan_core::{Lang, TxnId};
use suanpan_store::evidence::Evidence;
use suanpan_store::evidence::EvidenceRow;

/// The types accepted, each with the magic bytes that prove it.
const ACCEPTED: &[&str] = &[
    "video/mp4",
    "video/webm",
    "image/jpeg",
    "image/png",
    "application/pdf",
];
/// Characters of a file name kept.
const FILENAME_CHARS_MAX: usize = 120;

pub fn routes(evidence_bytes_max: usize) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/transactions/{id}/evidence",
            post(upload).layer(DefaultBodyLimit::max(evidence_bytes_max)),
        )
        .route("/api/v1/evidence/{id}", get(download))
        .route(
            "/txns/{id}/evidence",
            post(crate::ui::txn_evidence).layer(DefaultBodyLimit::max(evidence_bytes_max)),
        )
}

/// What the bytes are, by their first bytes (never by what the client claims).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some("video/mp4")
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("video/webm")
    } else {
        None
    }
}

/// An evidence file as the API lists it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EvidenceView {
    /// Id (`GET /api/v1/evidence/{id}` plays it).
    pub id: i64,
    /// The transaction.
    pub transaction_id: i64,
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Checked content type.
    pub content_type: String,
    /// Size.
    pub size_bytes: i64,
    /// Uploaded name.
    pub filename: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: When,
    /// Where to fetch it.
    pub url: String,
    /// Removed after its retention by a reviewed request (the file is gone; this is the
    /// record of it).
    pub removed: bool,
    /// When it was removed.
    pub removed_at: Option<When>,
    /// Why it was removed.
    pub removal_reason: Option<String>,
    /// A removal is waiting for review.
    pub removal_pending: bool,
}

impl EvidenceView {
    /// From a row.
    pub fn of(e: &EvidenceRow, policy: &suanpan_core::Policy) -> EvidenceView {
        EvidenceView {
            id: e.id,
            transaction_id: e.txn_id,
            sha256: e.sha256.clone(),
            content_type: e.content_type.clone(),
            size_bytes: e.size_bytes,
            filename: e.filename.clone(),
            uploaded_by: e.uploaded_by.clone(),
            uploaded_at: When::micros(policy, e.uploaded_at),
            url: format!("/api/v1/evidence/{}", e.id),
            removed: e.removed_at.is_some(),
            removed_at: e.removed_at.map(|t| When::micros(policy, t)),
            removal_reason: e.removal_reason.clone(),
            removal_pending: e.removal_pending,
        }
    }
}

/// A transaction's evidence (for the detail).
pub async fn list(state: &AppState, lang: Lang, txn: i64) -> Result<Vec<EvidenceView>, ApiError> {
    let store = state.store().clone();
    let rows = blocking(lang, move || store.evidence_of(TxnId(txn))).await?;
    Ok(rows
        .iter()
        .map(|e| EvidenceView::of(e, state.store().policy()))
        .collect())
}

fn clean_name(name: Option<&str>) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(FILENAME_CHARS_MAX)
        .collect();
    if kept.trim().is_empty() {
        "evidence".into()
    } else {
        kept
    }
}

/// One uploaded file, read from a multipart body.
pub struct Upload {
    /// Declared type.
    pub content_type: String,
    /// Cleaned file name.
    pub filename: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A multipart body that could not be read: too large (the limit in units), or malformed.
fn multipart_error(
    lang: Lang,
    limit: usize,
    e: axum::extract::multipart::MultipartError,
) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let size = crate::words::bytes(limit);
        return ApiError::new(e.status(), lang, "evidence.too_large", &[size]);
    }
    not_multipart(lang)
}

/// The refusal of a body that is no multipart form (axum's English reason stays in the log).
pub fn not_multipart(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, lang, "input.not_multipart", &[])
}

/// Reads the multipart fields: `file` (required) and, from forms, `csrf`.
pub async fn read_upload(
    lang: Lang,
    limit: usize,
    mp: Multipart,
) -> Result<(Option<Upload>, Option<String>), ApiError> {
    let (upload, mut texts) = read_form(lang, limit, mp, &["csrf"]).await?;
    Ok((upload, texts.pop().map(|(_, v)| v)))
}

/// Reads the multipart fields: `file` and the text fields named in `texts` (the last value
/// of each, in the order met); any other field is refused, as in JSON bodies.
pub async fn read_form(
    lang: Lang,
    limit: usize,
    mut mp: Multipart,
    texts: &[&str],
) -> Result<(Option<Upload>, Vec<(String, String)>), ApiError> {
    let (mut upload, mut found) = (None, Vec::<(String, String)>::new());
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| multipart_error(lang, limit, e))?
    {
        match field.name() {
            Some("file") => {
                let content_type = field.content_type().unwrap_or("").to_ascii_lowercase();
                let filename = clean_name(field.file_name());
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| multipart_error(lang, limit, e))?
                    .to_vec();
                upload = Some(Upload {
                    content_type,
                    filename,
                    bytes,
                });
            }
            Some(name) if texts.contains(&name) => {
                let name = name.to_owned();
                let value = field
                    .text()
                    .await
                    .map_err(|e| multipart_error(lang, limit, e))?;
                found.retain(|(n, _)| *n != name);
                found.push((name, value));
            }
            // Unknown fields are refused, as in JSON bodies: a misspelt `file` is said, not
            // silently dropped.
            other => {
                let name = other.unwrap_or("").to_owned();
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    lang,
                    "json.unknown_field",
                    &[name],
                ));
            }
        }
    }
    Ok((upload, found))
}

/// Refuses an upload whose announced length is over the limit before reading any of it (a
/// client announcing 2 GB is answered at once; the body limit catches one that lies).
pub fn check_length(state: &AppState, headers: &HeaderMap, lang: Lang) -> Result<(), ApiError> {
    check_length_of(headers, lang, state.cfg().evidence_bytes_max)
}

/// Refuses a body whose announced length is over `max` bytes (the limit said in units).
pub fn check_length_of(headers: &HeaderMap, lang: Lang, max: usize) -> Result<(), ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(n) if n > u64::try_from(max).unwrap_or(u64::MAX) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            lang,
            "evidence.too_large",
            &[crate::words::bytes(max)],
        )),
        _ => Ok(()),
    }
}

/// The upload, when there is one, of an accepted type, and its bytes prove that type (magic
/// bytes); otherwise the refusal (400 / 415). Transactions and cases share this check.
pub fn checked(lang: Lang, up: Option<Upload>) -> Result<Upload, ApiError> {
    let Some(up) = up.filter(|u| !u.bytes.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            lang,
            "evidence.missing",
            &[],
        ));
    };
    if !ACCEPTED.contains(&up.content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang,
            "evidence.type_unsupported",
            &[up.content_type],
        ));
    }
    let found = sniff(&up.bytes).unwrap_or(crate::catalog::t(lang, "evidence.type_unknown"));
    if found != up.content_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang,
            "evidence.type_mismatch",
            &[up.content_type, found.into()],
        ));
    }
    Ok(up)
}

/// The file name extension of an accepted type (the evidence pack names files with it).
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// Checks and stores an upload on a transaction.
pub async fn store_upload(
    state: &AppState,
    caller: &Caller,
    txn: i64,
    up: Option<Upload>,
) -> Result<EvidenceView, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::RequestVoidRefund)?;
    let t = load_txn(state, caller, txn).await?;
    let up = checked(lang, up)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let dir = state.evidence_dir().to_owned();
    let row = blocking(lang, move || {
        store.put_evidence(&dir, &user, t.id, &up.content_type, &up.filename, &up.bytes)
    })
    .await?;
    Ok(EvidenceView::of(&row, state.store().policy()))
}

/// Uploads evidence to a transaction (multipart field `file`; video/mp4, video/webm,
/// image/jpeg, image/png or application/pdf, checked by magic bytes).
#[utoipa::path(post, path = "/api/v1/transactions/{id}/evidence", tag = "evidence", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "field `file`"),
    responses((status = 201, body = EvidenceView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 413, body = ApiError), (status = 415, body = ApiError)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<EvidenceView>), ApiError> {
    check_length(&state, &headers, caller.lang)?;
    caller.require(Permission::RequestVoidRefund)?;
    let mp = mp.map_err(|_| not_multipart(caller.lang))?;
    let limit = state.cfg().evidence_bytes_max;
    let (up, _) = read_upload(caller.lang, limit, mp).await?;
    Ok((
        StatusCode::CREATED,
        Json(store_upload(&state, &caller, id, up).await?),
    ))
}

/// A byte range of `size` bytes: `None` for the whole file, `Err` when unsatisfiable.
fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // Several ranges: the whole file is a valid answer.
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(s), Some(e)) => (s, e.min(size.saturating_sub(1))),
        (Some(s), None) if b.is_empty() => (s, size.saturating_sub(1)),
        (None, Some(n)) if a.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if size == 0 || start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// The file, inline, with `Range` support (206 / 416).
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "the file"), (status = 206, description = "the requested range"),
        (status = 404, body = ApiError), (status = 410, body = ApiError, description = "removed after its retention"),
        (status = 416, description = "range not satisfiable")))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let row = blocking(lang, move || store.evidence(&merchant, id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "evidence.not_found", &[]))?;
    // Evidence of a hidden record is hidden with it.
    load_txn(&state, &caller, row.txn_id).await?;
    serve(&state, lang, row, &headers).await
}

/// An evidence file's bytes as `GET /api/v1/evidence/{id}` and the acquirer's route answer
/// them: 410 once removed, `Range` honoured (206 / 416).
pub async fn serve(
    state: &AppState,
    lang: Lang,
    row: EvidenceRow,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(at) = row.removed_at {
        let when = When::micros(state.store().policy(), at).local;
        return Err(ApiError::new(
            StatusCode::GONE,
            lang,
            "evidence.removed",
            &[when, row.removal_reason.clone().unwrap_or_default()],
        ));
    }
    let size = u64::try_from(row.size_bytes).unwrap_or(0);
    let want = range(headers, size);
    let Ok(want) = want else {
        let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(r);
    };
    let (start, end) = want.unwrap_or((0, size.saturating_sub(1)));
    let dir = state.evidence_dir().to_owned();
    let sha = row.sha256.clone();
    let bytes = blocking(lang, move || {
        use std::io::{Read, Seek, SeekFrom};
        let path = suanpan_store::evidence::evidence_path(&dir, &sha)?;
        let io =
            |e: std::io::Error| suanpan_store::StoreError::Sqlite(format!("evidence file: {e}"));
        let mut f = std::fs::File::open(path).map_err(io)?;
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut buf = vec![0u8; usize::try_from(end - start + 1).unwrap_or(0)];
        f.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    })
    .await?;
    let status = if want.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut r = (status, Body::from(bytes)).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    if want.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_type() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42...."), Some("video/mp4"));
        assert_eq!(sniff(b"\x1A\x45\xDF\xA3...."), Some("video/webm"));
        assert_eq!(
            sniff(b"MZ\x90\0"),
            None,
            "an executable is nothing we accept"
        );
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
            m
        };
        assert_eq!(range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(range(&h("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(range(&h("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(range(&h("bytes=-4"), 10), Ok(Some((6, 9))));
        assert_eq!(range(&h("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(range(&h("bytes=10-12"), 10), Err(()));
        assert_eq!(range(&h("bytes=4-2"), 10), Err(()));
        assert_eq!(range(&h("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(range(&h("items=0-1"), 10), Ok(None));
    }

    #[test]
    fn file_names_lose_paths_and_controls() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\video\\柜台.mp4")), "柜台.mp4");
        assert_eq!(clean_name(Some("a\u{0}b")), "ab");
        assert_eq!(clean_name(None), "evidence");
    }
}
