//! The acquirer's console pages (机构后台, issue 14): the home (merchants by status, changes
//! waiting for review, terminals), merchant onboarding (list, create, details, edit, status)
//! and the review of merchant changes. They call the same functions as
//! `/api/v1/acquirer/…` (`crate::acquirer`), so a merchant's user gets the same 404 here.

use super::{Base, Done, FormIn, form_action, show};
use crate::acquirer::{self, MerchantChangeView, MerchantView};
use crate::auth::{Caller, blocking};
use crate::catalog::tf;
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use suanpan_core::backoffice::Permission;

csrf_forms!(MerchantForm, StatusForm, ReviewForm);

#[derive(Template)]
#[template(path = "acquirer.html")]
struct HomePage {
    base: Base,
    /// (status in words, count, status code).
    by_status: Vec<(String, usize, &'static str)>,
    pending: usize,
    terminals: usize,
}

pub(super) async fn home(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        let merchants = acquirer::merchants(&state, caller).await?;
        let pending = acquirer::changes(&state, caller, "pending").await?.len();
        let store = state.store().clone();
        let terminals = blocking(caller.lang, move || {
            suanpan_store::admin::terminals(&*store)
        })
        .await?
        .len();
        let by_status = suanpan_store::admin::MERCHANT_STATUSES
            .into_iter()
            .map(|s| {
                let n = merchants.iter().filter(|m| m.status == s).count();
                let key = format!("merchant.status.{s}");
                (crate::catalog::t(caller.lang, &key).to_owned(), n, s)
            })
            .collect();
        Ok(HomePage {
            base: Base::of(caller, "acquirer", "nav.acquirer", "/acquirer"),
            by_status,
            pending,
            terminals,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "acquirer_merchants.html")]
struct MerchantsPage {
    base: Base,
    rows: Vec<MerchantView>,
    can_manage: bool,
}

pub(super) async fn merchants_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        Ok(MerchantsPage {
            rows: acquirer::merchants(&state, caller).await?,
            base: Base::of(caller, "merchants", "nav.merchants", "/acquirer/merchants"),
            can_manage: caller.user.role.allows(Permission::ManageMerchants),
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "acquirer_merchant.html")]
struct MerchantPage {
    base: Base,
    m: MerchantView,
    changes: Vec<MerchantChangeView>,
    documents: Vec<crate::kyc::DocumentView>,
    /// The kinds of KYC document, for the upload form: (code, words).
    kinds: Vec<(String, String)>,
    channels: Vec<crate::channels::ChannelView>,
    can_manage: bool,
    can_channels: bool,
}

pub(super) async fn merchant_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    show(caller, "/acquirer/merchants", async |caller| {
        let m = acquirer::merchant(&state, caller, &id).await?;
        let changes = acquirer::changes(&state, caller, "")
            .await?
            .into_iter()
            .filter(|c| c.merchant_id == m.id)
            .collect();
        let path = format!("/acquirer/merchants/{}", m.id);
        let documents = crate::kyc::documents(&state, caller, &m.id).await?;
        let channels = crate::acquirer_channels::merchant_channels(&state, caller, &m.id).await?;
        let kinds = suanpan_core::backoffice::KycDocumentKind::ALL
            .iter()
            .map(|k| k.as_str());
        Ok(MerchantPage {
            base: Base::of(caller, "merchants", "nav.merchant", &path),
            m,
            changes,
            documents,
            kinds: super::options(caller.lang, None, "kyc.kind", kinds),
            channels,
            can_manage: caller.user.role.allows(Permission::ManageMerchants),
            can_channels: caller.user.role.allows(Permission::ManagePlatformChannels),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct MerchantForm {
    csrf: String,
    #[serde(default)]
    id: String,
    name: String,
    #[serde(default)]
    short_name: String,
    #[serde(default)]
    mcc: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    settlement_account: String,
}

fn submitted(caller: &Caller, c: &MerchantChangeView) -> Done {
    Done::next(
        tf(
            caller.lang,
            "msg.merchant_change_submitted",
            &[c.kind_text.clone(), c.merchant_id.clone()],
        ),
        "/acquirer/merchant-changes".to_owned(),
    )
}

pub(super) async fn merchant_create(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<MerchantForm>,
) -> Response {
    form_action(caller, form, "/acquirer/merchants", async |caller, f| {
        let m = acquirer::MerchantIn {
            id: f.id,
            name: f.name,
            short_name: Some(f.short_name),
            mcc: Some(f.mcc),
            address: f.address,
            contact: f.contact,
            settlement_account: f.settlement_account,
        };
        let c = acquirer::create(&state, caller, m).await?;
        Ok(submitted(caller, &c))
    })
    .await
}

pub(super) async fn merchant_edit(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    form: FormIn<MerchantForm>,
) -> Response {
    let back = format!("/acquirer/merchants/{id}");
    form_action(caller, form, &back, async |caller, f| {
        let account = Some(f.settlement_account).filter(|a| !a.trim().is_empty());
        let m = acquirer::MerchantEditIn {
            name: f.name,
            short_name: Some(f.short_name),
            mcc: Some(f.mcc),
            address: f.address,
            contact: f.contact,
            settlement_account: account,
        };
        let c = acquirer::edit(&state, caller, &id, m).await?;
        Ok(submitted(caller, &c))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct StatusForm {
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn merchant_status(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    form: FormIn<StatusForm>,
) -> Response {
    let back = format!("/acquirer/merchants/{id}");
    form_action(caller, form, &back, async |caller, f| {
        let s = acquirer::MerchantStatusIn {
            status: f.status,
            reason: f.reason,
        };
        let c = acquirer::status(&state, caller, &id, s).await?;
        Ok(submitted(caller, &c))
    })
    .await
}

#[derive(Template)]
#[template(path = "acquirer_changes.html")]
struct ChangesPage {
    base: Base,
    pending: Vec<MerchantChangeView>,
    done: Vec<MerchantChangeView>,
    me: String,
    can_manage: bool,
}

pub(super) async fn changes_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        let (pending, done) = acquirer::changes(&state, caller, "")
            .await?
            .into_iter()
            .partition(|c| c.status == "pending");
        Ok(ChangesPage {
            base: Base::of(
                caller,
                "merchant_changes",
                "nav.merchant_changes",
                "/acquirer/merchant-changes",
            ),
            pending,
            done,
            me: caller.user.username.clone(),
            can_manage: caller.user.role.allows(Permission::ManageMerchants),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ReviewForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

pub(super) async fn change_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<ReviewForm>,
) -> Response {
    form_action(
        caller,
        form,
        "/acquirer/merchant-changes",
        async |caller, f| {
            let approve = match action.as_str() {
                "approve" => true,
                "reject" => false,
                other => return Err(ApiError::field(caller.lang, "status", other)),
            };
            let c = acquirer::review(&state, caller, id, approve, f.comment).await?;
            let key = if approve {
                "msg.merchant_change_approved"
            } else {
                "msg.merchant_change_rejected"
            };
            // A rejected onboarding made no merchant: back to the list of changes then.
            let next = if approve {
                format!("/acquirer/merchants/{}", c.merchant_id)
            } else {
                "/acquirer/merchant-changes".to_owned()
            };
            Ok(Done::next(
                tf(
                    caller.lang,
                    key,
                    &[c.kind_text.clone(), c.merchant_id.clone()],
                ),
                next,
            ))
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "acquirer_terminals.html")]
struct TerminalsPage {
    base: Base,
    rows: Vec<crate::terminals::TerminalView>,
    can_manage: bool,
}

pub(super) async fn terminals_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        Ok(TerminalsPage {
            rows: crate::terminals::terminals(&state, caller).await?,
            base: Base::of(caller, "terminals", "nav.terminals", "/acquirer/terminals"),
            can_manage: caller.user.role.allows(Permission::ManageTerminals),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct TerminalForm {
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    merchant: String,
    #[serde(default)]
    reason: String,
}

csrf_forms!(TerminalForm);

pub(super) async fn terminal_register(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<TerminalForm>,
) -> Response {
    form_action(caller, form, "/acquirer/terminals", async |caller, f| {
        let what = crate::terminals::TerminalAct::Register(f.merchant);
        let t = crate::terminals::act(&state, caller, &f.id, what).await?;
        Ok(Done::back(tf(
            caller.lang,
            "msg.terminal_done",
            &[t.id, t.status_text],
        )))
    })
    .await
}

pub(super) async fn terminal_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<TerminalForm>,
) -> Response {
    form_action(caller, form, "/acquirer/terminals", async |caller, f| {
        let what = match action.as_str() {
            "assign" => crate::terminals::TerminalAct::Assign(f.merchant),
            "lock" => crate::terminals::TerminalAct::Lock(true, f.reason),
            "unlock" => crate::terminals::TerminalAct::Lock(false, f.reason),
            other => return Err(ApiError::field(caller.lang, "status", other)),
        };
        let t = crate::terminals::act(&state, caller, &id, what).await?;
        Ok(Done::back(tf(
            caller.lang,
            "msg.terminal_done",
            &[t.id, t.status_text],
        )))
    })
    .await
}

#[derive(Template)]
#[template(path = "acquirer_channels.html")]
struct ChannelsPage {
    base: Base,
    rows: Vec<crate::acquirer_channels::PlatformChannelView>,
    can_manage: bool,
}

/// 渠道开关: the platform's outage switch of each channel.
pub(super) async fn channels_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        Ok(ChannelsPage {
            rows: crate::acquirer_channels::platform_channels(&state, caller).await?,
            base: Base::of(caller, "acq_channels", "nav.channels", "/acquirer/channels"),
            can_manage: caller.user.role.allows(Permission::ManagePlatformChannels),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ReasonForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

csrf_forms!(ReasonForm);

/// The platform's switch turned from the channels page.
pub(super) async fn channel_switch(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<ReasonForm>,
) -> Response {
    form_action(caller, form, "/acquirer/channels", async |caller, f| {
        let c = crate::acquirer_channels::switch(&state, caller, &id, &action, f.reason).await?;
        let key = if c.enabled {
            "msg.platform_channel_on"
        } else {
            "msg.platform_channel_off"
        };
        Ok(Done::back(tf(caller.lang, key, &[c.name])))
    })
    .await
}

/// A channel allowed or withdrawn for one merchant from its page.
pub(super) async fn merchant_channel(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, channel, action)): Path<(String, String, String)>,
    form: FormIn<ReasonForm>,
) -> Response {
    let back = format!("/acquirer/merchants/{id}");
    form_action(caller, form, &back, async |caller, f| {
        let c = crate::acquirer_channels::allow(&state, caller, &id, &channel, &action, f.reason)
            .await?;
        let key = if c.allowed {
            "msg.merchant_channel_allowed"
        } else {
            "msg.merchant_channel_withdrawn"
        };
        Ok(Done::back(tf(caller.lang, key, &[c.name, id.clone()])))
    })
    .await
}

/// A KYC document uploaded from the merchant's page (multipart `kind`, `file`, `csrf`),
/// with the API's checks (`kyc::store_document`).
pub(super) async fn document_upload(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    use suanpan_core::backoffice::KYC_DOCUMENT_BYTES_MAX;
    let caller = match super::page_caller(caller) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (lang, back) = (caller.lang, format!("/acquirer/merchants/{id}"));
    let stored = async {
        crate::evidence::check_length_of(&headers, lang, KYC_DOCUMENT_BYTES_MAX)?;
        let mp = mp.map_err(|_| crate::evidence::not_multipart(lang))?;
        let (up, texts) =
            crate::evidence::read_form(lang, KYC_DOCUMENT_BYTES_MAX, mp, &["kind", "csrf"]).await?;
        let text = |name: &str| {
            texts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        caller.check_form_csrf(text("csrf").unwrap_or(""))?;
        crate::kyc::store_document(&state, &caller, &id, text("kind"), up).await
    }
    .await;
    match stored {
        Ok(d) => super::message(
            Some(&caller),
            lang,
            true,
            tf(lang, "msg.kyc_uploaded", &[d.kind_text, d.filename]),
            String::new(),
            &back,
        ),
        Err(e) => super::error_page(Some(&caller), e, &back),
    }
}

/// A KYC document removed from the merchant's page (while its onboarding waits).
pub(super) async fn document_remove(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, doc)): Path<(String, String)>,
    form: FormIn<ReasonForm>,
) -> Response {
    let back = format!("/acquirer/merchants/{id}");
    form_action(caller, form, &back, async |caller, f| {
        let d = crate::kyc::remove(&state, caller, &id, &doc, f.reason).await?;
        Ok(Done::back(tf(
            caller.lang,
            "msg.kyc_removed",
            &[d.kind_text, d.filename],
        )))
    })
    .await
}

#[derive(Template)]
#[template(path = "acquirer_keys.html")]
struct KeysPage {
    base: Base,
    k: crate::tmk::KeyStateView,
    can_manage: bool,
}

/// 密钥灌注: a terminal's master key under dual control — where it stands, and the form a
/// custodian enters one component on.
pub(super) async fn keys_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    show(caller, "/acquirer/terminals", async |caller| {
        let k = crate::tmk::state_of(&state, caller, &id).await?;
        let path = format!("/acquirer/terminals/{}/keys", k.terminal_id);
        Ok(KeysPage {
            base: Base::of(caller, "terminals", "tmk.title", &path),
            k,
            can_manage: caller.user.role.allows(Permission::ManageTerminals),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ComponentForm {
    csrf: String,
    #[serde(default)]
    component: String,
    #[serde(default)]
    check_value: String,
}

csrf_forms!(ComponentForm);

/// One custodian's component entered on the keys page.
pub(super) async fn keys_enter(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    form: FormIn<ComponentForm>,
) -> Response {
    let back = format!("/acquirer/terminals/{id}/keys");
    form_action(caller, form, &back, async |caller, f| {
        let input = crate::tmk::ComponentIn {
            component: f.component,
            check_value: f.check_value,
        };
        let v = crate::tmk::enter(&state, caller, &id, input).await?;
        let text = match &v.first_by {
            None => tf(
                caller.lang,
                "msg.tmk_waiting",
                &[id.clone(), v.check_value.clone()],
            ),
            Some(first) => tf(
                caller.lang,
                "msg.tmk_loaded",
                &[id.clone(), v.check_value.clone(), first.clone()],
            ),
        };
        Ok(Done::back(text))
    })
    .await
}
