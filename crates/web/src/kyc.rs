//! KYC documents on merchant onboarding (商户进件资料, issue 14) over
//! `/api/v1/acquirer/merchants/{id}/documents`: upload (multipart `file` and `kind`; a JPEG,
//! PNG or PDF of at most [`KYC_DOCUMENT_BYTES_MAX`] = 10 MiB, its type proved by its magic
//! bytes, at most [`KYC_DOCUMENTS_PER_MERCHANT_MAX`] = 50 per merchant), list and download.
//! Acquirer users only: a merchant's own users get 404 (the gate), as everywhere under
//! `/api/v1/acquirer/`. The files are evidence files (`store::kyc`): content-addressed,
//! audited on upload and on every download.

use crate::acquirer::gate;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::evidence::{check_length_of, checked, not_multipart, read_form};
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use suanpan_core::backoffice::{
    KYC_DOCUMENT_BYTES_MAX, KYC_DOCUMENTS_PER_MERCHANT_MAX, KycDocumentKind, Permission,
};
use suanpan_core::{Lang, MerchantId};
use suanpan_store::kyc::{self, DocumentRow, NewDocument, Refused};

/// The types a KYC document may be (scans and photos; no video).
pub const KYC_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/merchants/{id}/documents",
            get(list_documents)
                .post(upload_document)
                .layer(DefaultBodyLimit::max(KYC_DOCUMENT_BYTES_MAX))
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}/documents/{doc}",
            get(download_document).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}/documents/{doc}/remove",
            post(remove_document).route_layer(crate::gate(state)),
        )
}

/// A KYC document as the acquirer lists it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    /// Id.
    pub id: i64,
    /// The merchant (商户号).
    pub merchant_id: String,
    /// `business_licence`, `legal_representative_id`, `settlement_account_proof`,
    /// `premises_photo`, `other`.
    pub kind: String,
    /// The kind in words.
    pub kind_text: String,
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Checked content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Uploaded name.
    pub filename: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: When,
    /// Where to fetch it (audited).
    pub url: String,
}

impl DocumentView {
    fn of(d: &DocumentRow, state: &AppState, lang: Lang) -> DocumentView {
        DocumentView {
            id: d.id,
            merchant_id: d.merchant_id.clone(),
            kind_text: crate::catalog::t(lang, &format!("kyc.kind.{}", d.kind)).to_owned(),
            kind: d.kind.clone(),
            sha256: d.sha256.clone(),
            content_type: d.content_type.clone(),
            size_bytes: d.size_bytes,
            filename: d.filename.clone(),
            uploaded_by: d.uploaded_by.clone(),
            uploaded_at: When::micros(state.store().policy(), d.uploaded_at),
            url: format!(
                "/api/v1/acquirer/merchants/{}/documents/{}",
                d.merchant_id, d.id
            ),
        }
    }
}

fn merchant_id(lang: Lang, id: &str) -> Result<MerchantId, ApiError> {
    MerchantId::parse(id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[]))
}

/// A merchant's documents (the merchant, or its creation waiting, must exist).
pub async fn documents(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Vec<DocumentView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let merchant = merchant_id(lang, id)?;
    let store = state.store().clone();
    let rows = blocking(lang, move || kyc::documents(&*store, &merchant)).await?;
    Ok(rows
        .iter()
        .map(|d| DocumentView::of(d, state, lang))
        .collect())
}

/// Checks and stores an uploaded document of `kind` for merchant `id`.
pub async fn store_document(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: Option<&str>,
    up: Option<crate::evidence::Upload>,
) -> Result<DocumentView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let merchant = merchant_id(lang, id)?;
    let kind_text = kind.unwrap_or("").trim();
    let kind = KycDocumentKind::parse(kind_text)
        .ok_or_else(|| ApiError::field(lang, "document_kind", kind_text))?;
    let up = checked(lang, up)?;
    if !KYC_TYPES.contains(&up.content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang,
            "kyc.type_unsupported",
            &[up.content_type],
        ));
    }
    let (store, user) = (state.store().clone(), caller.user.clone());
    let dir = state.evidence_dir().to_owned();
    let stored = blocking(lang, move || {
        let doc = NewDocument {
            merchant: &merchant,
            kind,
            content_type: &up.content_type,
            filename: &up.filename,
            bytes: &up.bytes,
        };
        kyc::put_document(&*store, &dir, &user, &doc)
    })
    .await?;
    match stored {
        Ok(d) => Ok(DocumentView::of(&d, state, lang)),
        Err(Refused::NoMerchant) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            lang,
            "merchant.not_found",
            &[],
        )),
        Err(Refused::TooMany) => Err(ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "kyc.too_many",
            &[KYC_DOCUMENTS_PER_MERCHANT_MAX.to_string()],
        )),
    }
}

/// Why a document is removed.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveDocumentIn {
    /// Why (required; audited).
    pub reason: String,
}

/// Removes document `doc` of merchant `id` while its onboarding waits (DECISIONS: no
/// second reviewer, never after activation).
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    id: &str,
    doc: &str,
    reason: String,
) -> Result<DocumentView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, lang, "kyc.not_found", &[]);
    let merchant = merchant_id(lang, id)?;
    let doc: i64 = doc.parse().map_err(|_| not_found())?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let dir = state.evidence_dir().to_owned();
    let done = blocking(lang, move || {
        kyc::remove_document(&*store, &dir, &user, &merchant, doc, &reason)
    })
    .await?;
    match done {
        Ok(d) => Ok(DocumentView::of(&d, state, lang)),
        Err(kyc::NotRemoved::NotFound) => Err(not_found()),
        Err(kyc::NotRemoved::Refused(r)) => Err(ApiError::refused(lang, &r)),
    }
}

/// Removes a KYC document uploaded by mistake, while the merchant's onboarding waits (its
/// creation pending, or the merchant not yet activated); afterwards documents are kept (409).
/// A reason is required; the removal is audited with the document's SHA-256.
#[utoipa::path(post, path = "/api/v1/acquirer/merchants/{id}/documents/{doc}/remove", tag = "acquirer", operation_id = "remove_merchant_document",
    params(("id" = String, Path, description = "商户号 (15 digits)"), ("doc" = i64, Path, description = "the document's id")),
    request_body = RemoveDocumentIn,
    responses((status = 200, body = DocumentView, description = "the document removed"), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the merchant was activated: its documents are kept"),
        (status = 422, body = ApiError, description = "no reason")))]
pub async fn remove_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
    body: crate::json::ApiJson<RemoveDocumentIn>,
) -> Result<Json<DocumentView>, ApiError> {
    Ok(Json(
        remove(&state, &caller, &id, &doc, body.value.reason).await?,
    ))
}

/// A merchant's KYC documents, oldest first.
#[utoipa::path(get, path = "/api/v1/acquirer/merchants/{id}/documents", tag = "acquirer", operation_id = "list_merchant_documents",
    params(("id" = String, Path, description = "商户号 (15 digits)")),
    responses((status = 200, body = Vec<DocumentView>), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "a merchant's user: the acquirer's routes do not exist for them")))]
pub async fn list_documents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<DocumentView>>, ApiError> {
    Ok(Json(documents(&state, &caller, &id).await?))
}

/// Uploads a KYC document for a merchant, or for one whose creation waits for review
/// (multipart fields `kind` and `file`; JPEG, PNG or PDF, at most 10 MiB, checked by magic
/// bytes; at most 50 per merchant). Audited.
#[utoipa::path(post, path = "/api/v1/acquirer/merchants/{id}/documents", tag = "acquirer", operation_id = "upload_merchant_document",
    params(("id" = String, Path, description = "商户号 (15 digits)")),
    request_body(content_type = "multipart/form-data", description = "fields `kind` and `file`"),
    responses((status = 201, body = DocumentView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the merchant holds 50 documents already"),
        (status = 413, body = ApiError), (status = 415, body = ApiError)))]
pub async fn upload_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    let lang = caller.lang;
    check_length_of(&headers, lang, KYC_DOCUMENT_BYTES_MAX)?;
    gate(&caller, Permission::ManageMerchants)?;
    let mp = mp.map_err(|_| not_multipart(lang))?;
    let (up, texts) = read_form(lang, KYC_DOCUMENT_BYTES_MAX, mp, &["kind"]).await?;
    let kind = texts
        .iter()
        .find(|(n, _)| n == "kind")
        .map(|(_, v)| v.as_str());
    let doc = store_document(&state, &caller, &id, kind, up).await?;
    Ok((StatusCode::CREATED, Json(doc)))
}

/// One KYC document's bytes, as an attachment; the download is audited.
#[utoipa::path(get, path = "/api/v1/acquirer/merchants/{id}/documents/{doc}", tag = "acquirer", operation_id = "download_merchant_document",
    params(("id" = String, Path, description = "商户号 (15 digits)"), ("doc" = i64, Path, description = "the document's id")),
    responses((status = 200, description = "the file"), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn download_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    gate(&caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, lang, "kyc.not_found", &[]);
    let merchant = merchant_id(lang, &id)?;
    let doc: i64 = doc.parse().map_err(|_| not_found())?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let dir = state.evidence_dir().to_owned();
    let found = blocking(lang, move || {
        let Some(row) = kyc::document(&*store, &merchant, doc)? else {
            return Ok(None);
        };
        let path = suanpan_store::evidence::evidence_path(&dir, &row.sha256)?;
        let bytes = std::fs::read(path)
            .map_err(|e| suanpan_store::StoreError::Sqlite(format!("document file: {e}")))?;
        kyc::record_download(&*store, &user, &row)?;
        Ok(Some((row, bytes)))
    })
    .await?;
    let (row, bytes) = found.ok_or_else(not_found)?;
    let mut r = (StatusCode::OK, Body::from(bytes)).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let name = format!(
        "attachment; filename=\"kyc-{}-{}.{}\"",
        row.merchant_id,
        row.id,
        crate::evidence::extension(&row.content_type)
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
