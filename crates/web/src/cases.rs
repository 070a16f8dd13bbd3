//! Cases (撤错 / 调账, issue 5 part 3): open from a transaction, list, detail with links,
//! notes, evidence and timeline, link more transactions, add notes and evidence, submit to
//! the acquirer, record its answer (resolve / reject), and download the evidence pack (a zip
//! for the bank: `case.json`, `transactions.csv`, `receipts/<id>.txt`, `audit.json`,
//! `evidence/<sha256>.<ext>`, and `SHA256SUMS` over all of them).
//!
//! The use cases — facts, `suanpan_core::case`, writes and audited refusals — are
//! `suanpan_service::cases`; this module parses, renders and writes the pack.

use crate::api::{ApiQuery, Id, Reach};
use crate::auth::{Caller, blocking, blocking_as};
use crate::error::ApiError;
use crate::evidence::{EvidenceView, Upload};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::{TimelineItem, TxnView, When};
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use suanpan_core::backoffice::Permission;
use suanpan_core::case::{CaseAction, CaseKind, CaseStatus, LinkRole};
use suanpan_core::{Lang, Transaction, TxnId};
use suanpan_service::cases::{self, CaseError, CaseRecord};
use suanpan_store::case::{CaseFilter, CaseRow, Cases};
use suanpan_store::evidence::EvidenceRow;

/// Cases one listing shows.
const CASES_LISTED_MAX: u32 = 200;
/// Bytes one chunk of the pack's download holds.
const PACK_CHUNK_BYTES: usize = 64 * 1024;

pub fn routes(evidence_bytes_max: usize) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/cases", post(create_case).get(list_cases))
        .route("/api/v1/cases/{id}", get(get_case))
        .route("/api/v1/cases/{id}/links", post(link_case))
        .route("/api/v1/cases/{id}/notes", post(note_case))
        .route("/api/v1/cases/{id}/submit", post(submit_case))
        .route("/api/v1/cases/{id}/resolve", post(resolve_case))
        .route("/api/v1/cases/{id}/reject", post(reject_case))
        .route(
            "/api/v1/cases/{id}/evidence",
            post(upload_case_evidence).layer(DefaultBodyLimit::max(evidence_bytes_max)),
        )
        .route("/api/v1/cases/{id}/pack", get(case_pack))
        .route(
            "/cases/{id}/evidence",
            post(crate::ui::case_evidence).layer(DefaultBodyLimit::max(evidence_bytes_max)),
        )
}

/// A case as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// Id.
    pub id: i64,
    /// `mistaken_void` (撤错) or `adjustment` (调账).
    pub kind: String,
    /// The kind in the caller's language.
    pub kind_text: String,
    /// `open`, `submitted`, `resolved`, `rejected`.
    pub status: String,
    /// The status in the caller's language.
    pub status_text: String,
    /// The transaction it was opened from.
    pub transaction_id: i64,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened_at: When,
    /// Last change.
    pub changed_at: When,
    /// The acquirer's answer, once resolved or rejected.
    pub answer: String,
    /// Resolved or rejected.
    pub closed: bool,
    /// The merchant (商户号) whose case it is.
    pub merchant_id: String,
}

impl CaseView {
    /// From a stored case.
    pub fn of(c: &CaseRow, policy: &suanpan_core::Policy, lang: Lang) -> CaseView {
        CaseView {
            id: c.id,
            kind_text: crate::catalog::t(lang, &format!("case.kind.{}", c.kind)).to_owned(),
            kind: c.kind.clone(),
            status_text: crate::catalog::t(lang, &format!("case.status.{}", c.status)).to_owned(),
            closed: c.status().is_ok_and(CaseStatus::is_closed),
            status: c.status.clone(),
            transaction_id: c.txn_id,
            opened_by: c.opened_by.clone(),
            opened_at: When::micros(policy, c.opened_at),
            changed_at: When::micros(policy, c.changed_at),
            answer: c.answer.clone(),
            merchant_id: c.merchant_id.clone(),
        }
    }
}

/// A linked transaction.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseLinkView {
    /// `origin`, `voided_sale`, `void`, `recharge`, `related`.
    pub role: String,
    /// The role in the caller's language.
    pub role_text: String,
    /// Who linked it.
    pub linked_by: String,
    /// When.
    pub linked_at: When,
    /// The transaction (absent if it was purged).
    pub transaction: Option<TxnView>,
    /// Its id.
    pub transaction_id: i64,
}

/// A note.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseNoteView {
    /// Id.
    pub id: i64,
    /// The text.
    pub body: String,
    /// Who wrote it.
    pub written_by: String,
    /// When.
    pub written_at: When,
}

/// A case with everything about it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    /// The case.
    pub case: CaseView,
    /// Linked transactions, in the order they were linked.
    pub links: Vec<CaseLinkView>,
    /// Notes, oldest first (the opening note first).
    pub notes: Vec<CaseNoteView>,
    /// Evidence attached to the case.
    pub evidence: Vec<EvidenceView>,
    /// The case's audit entries, oldest first.
    pub timeline: Vec<TimelineItem>,
}

/// A new case.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseIn {
    /// The transaction it is opened from (for a mistaken void: the voided sale, its void or
    /// the re-charge; the others are linked automatically).
    pub transaction_id: i64,
    /// `mistaken_void` or `adjustment`.
    pub kind: String,
    /// What happened (required).
    pub note: String,
}

/// A transaction to link.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// The transaction.
    pub transaction_id: i64,
    /// `origin`, `voided_sale`, `void`, `recharge` or `related` (default).
    #[serde(default)]
    pub role: Option<String>,
}

/// A note, or the note of a status change (required to resolve or reject: the acquirer's
/// answer).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// The text.
    #[serde(default)]
    pub note: String,
}

/// Listing filter.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Only this status (`open`, `submitted`, `resolved`, `rejected`).
    pub status: Option<String>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// A case use case's failures as HTTP answers: a refusal by `error::refusal_status` (role
/// 403, the case's state 409, the input 422), a case or transaction not found 404, a race 409.
fn case_error(lang: Lang, e: CaseError) -> ApiError {
    match e {
        CaseError::Refused(r) => ApiError::refused(lang, &r),
        CaseError::NotFound => ApiError::new(StatusCode::NOT_FOUND, lang, "case.not_found", &[]),
        CaseError::TxnNotFound => ApiError::new(StatusCode::NOT_FOUND, lang, "txn.not_found", &[]),
        CaseError::Changed => ApiError::new(StatusCode::CONFLICT, lang, "case.changed", &[]),
        CaseError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs a case use case on the blocking pool (it waits on the store).
async fn service<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, CaseError> + Send + 'static,
) -> Result<T, ApiError> {
    blocking_as(lang, f, |e| case_error(lang, e)).await
}

/// Everything stored about a case within `reach` (404 outside it), on the blocking pool.
async fn load_all(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reach: Reach,
) -> Result<CaseRecord, ApiError> {
    let merchant = match reach {
        Reach::OwnMerchant => Some(caller.merchant()?),
        Reach::AllMerchants => None,
    };
    let store = state.store().clone();
    service(caller.lang, move || {
        cases::record(&*store, merchant.as_ref(), id)
    })
    .await
}

/// The detail for the API and the UI.
pub async fn detail(state: &AppState, caller: &Caller, id: i64) -> Result<CaseDetail, ApiError> {
    caller.require(Permission::ViewCases)?;
    detail_of(state, caller, id, Reach::OwnMerchant).await
}

/// The detail of a case within `reach`; each caller checks its own permission first (the
/// merchant's `ViewCases`, the acquirer's `ViewAllMerchants`).
pub(crate) async fn detail_of(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reach: Reach,
) -> Result<CaseDetail, ApiError> {
    let l = load_all(state, caller, id, reach).await?;
    let store = state.store().clone();
    let audit = service(caller.lang, move || cases::timeline(&*store, id)).await?;
    Ok(view(state, caller.lang, &l, &audit))
}

fn view(
    state: &AppState,
    lang: Lang,
    l: &CaseRecord,
    audit: &[suanpan_store::audit::AuditEntry],
) -> CaseDetail {
    let policy = state.store().policy();
    let links = l
        .links
        .iter()
        .map(|k| CaseLinkView {
            role_text: crate::catalog::t(lang, &format!("case.role.{}", k.role)).to_owned(),
            role: k.role.clone(),
            linked_by: k.linked_by.clone(),
            linked_at: When::micros(policy, k.linked_at),
            transaction: l
                .txns
                .iter()
                .find(|t| t.id.0 == k.txn_id)
                .map(|t| TxnView::of(t, policy, lang)),
            transaction_id: k.txn_id,
        })
        .collect();
    CaseDetail {
        case: CaseView::of(&l.case, policy, lang),
        links,
        notes: l
            .notes
            .iter()
            .map(|n| CaseNoteView {
                id: n.id,
                body: n.body.clone(),
                written_by: n.written_by.clone(),
                written_at: When::micros(policy, n.written_at),
            })
            .collect(),
        evidence: l
            .evidence
            .iter()
            .map(|e| EvidenceView::of(e, policy))
            .collect(),
        timeline: audit
            .iter()
            .map(|e| TimelineItem::of(e, policy, lang))
            .collect(),
    }
}

/// Opens a case from a transaction; a mistaken-void case links the voided sale, its void and
/// its re-charges at once.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    input: CaseIn,
) -> Result<CaseDetail, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageCases)?;
    let kind = CaseKind::parse(&input.kind)
        .ok_or_else(|| ApiError::field(lang, "case_kind", &input.kind))?;
    let o = cases::Open {
        txn: TxnId(input.transaction_id),
        kind,
        note: input.note,
    };
    let (store, user) = (state.store().clone(), caller.user.clone());
    let id = service(lang, move || cases::open(&*store, &user, &o)).await?;
    detail(state, caller, id).await
}

/// Opens a case (撤错 `mistaken_void` or 调账 `adjustment`) from a transaction.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = CaseIn,
    responses((status = 201, body = CaseDetail), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create_case(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<CaseIn>,
) -> Result<(StatusCode, Json<CaseDetail>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(open(&state, &caller, body.value).await?),
    ))
}

/// Cases for the API and the UI, newest first.
pub async fn cases(
    state: &AppState,
    caller: &Caller,
    q: &CaseQuery,
) -> Result<Vec<CaseView>, ApiError> {
    caller.require(Permission::ViewCases)?;
    let lang = caller.lang;
    let f = CaseFilter {
        merchant: Some(caller.merchant()?),
        status: crate::api::status_filter(lang, q.status.as_deref(), CaseStatus::parse)?,
        before_id: None,
        limit: CASES_LISTED_MAX,
    };
    Ok(listing(state, lang, f, false).await?.items)
}

/// A page of cases with its count, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CasePage {
    /// Newest first.
    pub items: Vec<CaseView>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
    /// How many cases match (all pages). Counting stops past 10,000: `total` is then a
    /// lower bound and `total_exact` false.
    pub total: u64,
    /// False when more than `total` cases match.
    pub total_exact: bool,
    /// The count in words, in the caller's language ("共 12 条").
    pub total_text: String,
}

/// One page of the cases `f` selects (the merchant's listing and the acquirer's share it;
/// each caller scopes `f` and checks its own permission first); counted when `count`.
pub(crate) async fn listing(
    state: &AppState,
    lang: Lang,
    f: CaseFilter,
    count: bool,
) -> Result<CasePage, ApiError> {
    let store = state.store().clone();
    let limit = f.limit as usize;
    let (rows, total) = blocking(lang, move || {
        let rows = store.cases(&f)?;
        let total = if count {
            Some(store.cases_count(&f, suanpan_store::query::COUNT_EXACT_MAX)?)
        } else {
            None
        };
        Ok((rows, total))
    })
    .await?;
    let policy = state.store().policy();
    let total = total.unwrap_or(suanpan_store::query::MatchCount {
        count: rows.len() as u64,
        exact: true,
    });
    Ok(CasePage {
        next_cursor: (rows.len() == limit)
            .then(|| rows.last().map(|c| c.id))
            .flatten(),
        items: rows.iter().map(|c| CaseView::of(c, policy, lang)).collect(),
        total: total.count,
        total_exact: total.exact,
        total_text: crate::catalog::tf(
            lang,
            if total.exact {
                "txn.total"
            } else {
                "txn.total_more"
            },
            &[crate::ui::txns::group_digits(total.count)],
        ),
    })
}

/// Lists cases, newest first.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    responses((status = 200, body = Vec<CaseView>), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_cases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<Vec<CaseView>>, ApiError> {
    Ok(Json(cases(&state, &caller, &q).await?))
}

/// One case with its links, notes, evidence and timeline.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = CaseDetail), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<CaseDetail>, ApiError> {
    Ok(Json(detail(&state, &caller, id).await?))
}

/// Links a transaction of the merchant to a case.
pub async fn add_link(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: LinkIn,
) -> Result<CaseDetail, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageCases)?;
    let role = match input.role.as_deref().filter(|r| !r.is_empty()) {
        None => LinkRole::Related,
        Some(r) => LinkRole::parse(r).ok_or_else(|| ApiError::field(lang, "link_role", r))?,
    };
    let txn = TxnId(input.transaction_id);
    let (store, user) = (state.store().clone(), caller.user.clone());
    service(lang, move || cases::link(&*store, &user, id, txn, role)).await?;
    detail(state, caller, id).await
}

/// Links a transaction (of the same merchant, once) to a case that is not closed.
#[utoipa::path(post, path = "/api/v1/cases/{id}/links", tag = "cases", params(("id" = i64, Path)), request_body = LinkIn,
    responses((status = 200, body = CaseDetail), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn link_case(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<LinkIn>,
) -> Result<Json<CaseDetail>, ApiError> {
    Ok(Json(add_link(&state, &caller, id, body.value).await?))
}

/// Adds a note to a case (also to a closed one).
pub async fn add_note(
    state: &AppState,
    caller: &Caller,
    id: i64,
    text: &str,
) -> Result<CaseDetail, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageCases)?;
    let (store, user, text) = (state.store().clone(), caller.user.clone(), text.to_owned());
    service(lang, move || cases::note(&*store, &user, id, &text)).await?;
    detail(state, caller, id).await
}

/// Adds a note.
#[utoipa::path(post, path = "/api/v1/cases/{id}/notes", tag = "cases", params(("id" = i64, Path)), request_body = NoteIn,
    responses((status = 201, body = CaseDetail), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn note_case(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<NoteIn>,
) -> Result<(StatusCode, Json<CaseDetail>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(add_note(&state, &caller, id, &body.value.note).await?),
    ))
}

/// Applies a status change as the core decides it.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: CaseAction,
    text: &str,
) -> Result<CaseDetail, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageCases)?;
    let (store, user, text) = (state.store().clone(), caller.user.clone(), text.to_owned());
    service(lang, move || cases::act(&*store, &user, id, action, &text)).await?;
    detail(state, caller, id).await
}

macro_rules! case_handler {
    ($name:ident, $action:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "cases", params(("id" = i64, Path)), request_body = NoteIn,
            responses((status = 200, body = CaseDetail), (status = 403, body = ApiError), (status = 404, body = ApiError),
                (status = 409, body = ApiError), (status = 422, body = ApiError)))]
        pub async fn $name(State(state): State<AppState>, caller: Caller, Id(id): Id, body: ApiJson<NoteIn>) -> Result<Json<CaseDetail>, ApiError> {
            Ok(Json(act(&state, &caller, id, $action, &body.value.note).await?))
        }
    };
}

case_handler!(
    submit_case,
    CaseAction::Submit,
    "/api/v1/cases/{id}/submit",
    "Submits an open case to the acquirer (note optional)."
);
case_handler!(
    resolve_case,
    CaseAction::Resolve,
    "/api/v1/cases/{id}/resolve",
    "Records the acquirer's agreement on a submitted case (note required: its answer); closes it."
);
case_handler!(
    reject_case,
    CaseAction::Reject,
    "/api/v1/cases/{id}/reject",
    "Records the acquirer's refusal of a submitted case (note required: its answer); closes it."
);

/// Checks and attaches an upload to a case that is not closed.
pub async fn store_upload(
    state: &AppState,
    caller: &Caller,
    id: i64,
    up: Option<Upload>,
) -> Result<EvidenceView, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageCases)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let c = service(lang, move || cases::may_attach(&*store, &user, id)).await?;
    let up = crate::evidence::checked(lang, up)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let dir = state.evidence_dir().to_owned();
    let row = service(lang, move || {
        let u = cases::Upload {
            bytes: &up.bytes,
            content_type: &up.content_type,
            filename: &up.filename,
        };
        cases::attach(&*store, &user, &dir, &c, &u)
    })
    .await?;
    Ok(EvidenceView::of(&row, state.store().policy()))
}

/// Uploads evidence to a case (multipart field `file`; the same types and checks as a
/// transaction's evidence). Stored on the case's transaction and attached to the case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence", tag = "cases", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "field `file`"),
    responses((status = 201, body = EvidenceView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 413, body = ApiError), (status = 415, body = ApiError)))]
pub async fn upload_case_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<EvidenceView>), ApiError> {
    crate::evidence::check_length(&state, &headers, caller.lang)?;
    caller.require(Permission::ManageCases)?;
    let mp = mp.map_err(|_| crate::evidence::not_multipart(caller.lang))?;
    let limit = state.cfg().evidence_bytes_max;
    let (up, _) = crate::evidence::read_upload(caller.lang, limit, mp).await?;
    Ok((
        StatusCode::CREATED,
        Json(store_upload(&state, &caller, id, up).await?),
    ))
}

/// Writes a zip entry while hashing its bytes, and remembers the line for `SHA256SUMS`.
struct PackWriter<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    sums: String,
    /// Every entry's modification time: when the pack was made, in the merchant's zone (zip
    /// keeps civil time without a zone).
    made: zip::DateTime,
}

fn zip_error(e: zip::result::ZipError) -> suanpan_store::StoreError {
    suanpan_store::StoreError::Sqlite(format!("evidence pack: {e}"))
}

fn io_error(e: std::io::Error) -> suanpan_store::StoreError {
    suanpan_store::StoreError::Sqlite(format!("evidence pack: {e}"))
}

impl<W: Write + Seek> PackWriter<W> {
    fn start(&mut self, name: &str) -> Result<(), suanpan_store::StoreError> {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(self.made);
        self.zip.start_file(name, opts).map_err(zip_error)
    }

    /// One file from bytes in memory (the small ones).
    fn bytes(&mut self, name: &str, data: &[u8]) -> Result<(), suanpan_store::StoreError> {
        self.start(name)?;
        self.zip.write_all(data).map_err(io_error)?;
        self.sums
            .push_str(&format!("{}  {name}\n", hex::encode(Sha256::digest(data))));
        Ok(())
    }

    /// One file copied from `src` in chunks, hashed on the way (evidence: never whole in
    /// memory). Returns the SHA-256 of what was written.
    fn copy(
        &mut self,
        name: &str,
        src: &mut impl Read,
    ) -> Result<String, suanpan_store::StoreError> {
        self.start(name)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; PACK_CHUNK_BYTES];
        loop {
            let n = src.read(&mut buf).map_err(io_error)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            self.zip.write_all(&buf[..n]).map_err(io_error)?;
        }
        let sha = hex::encode(h.finalize());
        self.sums.push_str(&format!("{sha}  {name}\n"));
        Ok(sha)
    }
}

/// What goes into a pack, gathered before it is written.
struct PackInput {
    case_json: Vec<u8>,
    audit_json: Vec<u8>,
    txns: Vec<Transaction>,
    receipts: Vec<(i64, String)>,
    evidence: Vec<EvidenceRow>,
    csv_filter: String,
    lang: Lang,
    zone: jiff::tz::TimeZone,
    dir: std::path::PathBuf,
    /// When the pack is made (the store's clock).
    made: jiff::Timestamp,
}

/// A civil time as a zip entry's time (zip counts from 1980 to 2107, in 2-second steps; a
/// time outside falls back to zip's own default).
fn zip_time(t: jiff::civil::DateTime) -> zip::DateTime {
    let field = |v: i8| u8::try_from(v).unwrap_or(0);
    u16::try_from(t.year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                field(t.month()),
                field(t.day()),
                field(t.hour()),
                field(t.minute()),
                field(t.second()),
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Writes the zip into an anonymous temporary file and returns it rewound, with the SHA-256
/// of its `SHA256SUMS`.
fn write_pack(p: &PackInput) -> Result<(std::fs::File, String), suanpan_store::StoreError> {
    let file = tempfile::tempfile().map_err(io_error)?;
    let mut w = PackWriter {
        zip: zip::ZipWriter::new(file),
        sums: String::new(),
        made: zip_time(p.made.to_zoned(p.zone.clone()).datetime()),
    };
    w.bytes("case.json", &p.case_json)?;
    let csv = suanpan_export::write_csv_of(
        Vec::new(),
        suanpan_export::headers(p.lang),
        &p.csv_filter,
        &p.txns,
        &p.zone,
        suanpan_export::Values::Words(p.lang),
    )
    .map_err(|e| suanpan_store::StoreError::Sqlite(format!("evidence pack: {e:#}")))?;
    w.bytes("transactions.csv", &csv)?;
    for (id, text) in &p.receipts {
        w.bytes(&format!("receipts/{id}.txt"), text.as_bytes())?;
    }
    w.bytes("audit.json", &p.audit_json)?;
    let mut seen = std::collections::HashSet::new();
    for e in &p.evidence {
        if !seen.insert(e.sha256.clone()) {
            continue;
        }
        let path = suanpan_store::evidence::evidence_path(&p.dir, &e.sha256)?;
        let mut f = std::fs::File::open(path).map_err(io_error)?;
        let name = format!(
            "evidence/{}.{}",
            e.sha256,
            crate::evidence::extension(&e.content_type)
        );
        let sha = w.copy(&name, &mut f)?;
        if sha != e.sha256 {
            // The file on disk is not what was uploaded: never hand the bank a pack that
            // says otherwise.
            return Err(suanpan_store::StoreError::Sqlite(format!(
                "evidence {} changed on disk (sha256 {sha})",
                e.id
            )));
        }
    }
    let sums = std::mem::take(&mut w.sums);
    w.start("SHA256SUMS")?;
    w.zip.write_all(sums.as_bytes()).map_err(io_error)?;
    let mut file = w.zip.finish().map_err(zip_error)?;
    file.rewind().map_err(io_error)?;
    Ok((file, hex::encode(Sha256::digest(sums.as_bytes()))))
}

async fn gather(state: &AppState, caller: &Caller, id: i64) -> Result<PackInput, ApiError> {
    let lang = caller.lang;
    let l = load_all(state, caller, id, Reach::OwnMerchant).await?;
    let store = state.store().clone();
    let layout = suanpan_receipt::Layout {
        width: suanpan_receipt::Width::W32,
        lang,
        copy: suanpan_receipt::Copy::Merchant,
        reprint: false,
    };
    let record = l.clone();
    let (facts, receipts) = service(lang, move || {
        let facts = cases::pack_facts(&*store, &record)?;
        let mut receipts = Vec::with_capacity(record.txns.len());
        for t in &record.txns {
            receipts.push((t.id.0, crate::api::receipt_of(&*store, t, &layout)?));
        }
        Ok((facts, receipts))
    })
    .await?;
    let (audit, evidence) = (facts.audit, facts.evidence);
    let detail = view(state, lang, &l, &[]);
    let policy = state.store().policy();
    let audit_views: Vec<_> = audit
        .iter()
        .map(|e| crate::view::AuditView::of(e, policy, lang))
        .collect();
    let zone = policy
        .zone()
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    Ok(PackInput {
        case_json: pretty(lang, &detail)?,
        audit_json: pretty(lang, &audit_views)?,
        csv_filter: format!("case={id}"),
        txns: l.txns,
        receipts,
        evidence,
        lang,
        zone,
        dir: state.evidence_dir().to_owned(),
        made: state.store().now(),
    })
}

/// A pack document as pretty JSON.
fn pretty<T: serde::Serialize>(lang: Lang, v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(v).map_err(|e| ApiError::invalid(lang, e.to_string()))
}

/// The evidence pack for the bank: a zip with `case.json` (case, links, notes, evidence
/// list), `transactions.csv` (the linked transactions, as the export writes them),
/// `receipts/<id>.txt`, `audit.json` (the case's and its transactions' audit entries with
/// their chain hashes), `evidence/<sha256>.<ext>`, and `SHA256SUMS` over every other file.
/// The download is audited.
#[utoipa::path(get, path = "/api/v1/cases/{id}/pack", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/zip", description = "the evidence pack"),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn case_pack(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewCases)?;
    let lang = caller.lang;
    let input = gather(&state, &caller, id).await?;
    let (file, digest) = blocking(lang, move || write_pack(&input)).await?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    service(lang, move || {
        cases::record_pack(&*store, &user, id, &digest)
    })
    .await?;
    let size = file.metadata().map(|m| m.len()).ok();
    let body = file_body(tokio::fs::File::from_std(file));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Some(n) = size {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"suanpan-case-{id}.zip\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// A file as a response body, read in chunks (the temporary file is removed when dropped).
fn file_body(file: tokio::fs::File) -> Body {
    use tokio::io::AsyncReadExt;
    // Fused: a body layer (compression) may poll once more after the end, which an
    // `unfold` stream must never see.
    Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        Some(file),
        |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; PACK_CHUNK_BYTES];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((
                        Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)),
                        Some(file),
                    ))
                }
                Err(e) => Some((Err(e), None)),
            }
        },
    )))
}
