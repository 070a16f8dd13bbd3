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
    can_manage: bool,
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
        Ok(MerchantPage {
            base: Base::of(caller, "merchants", "nav.merchant", &path),
            m,
            changes,
            documents,
            can_manage: caller.user.role.allows(Permission::ManageMerchants),
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
