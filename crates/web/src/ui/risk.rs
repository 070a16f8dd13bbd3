//! The risk settings' pages (issue 13): a merchant's limits and trading hours — the
//! merchant's admin tightens its own at `/risk/limits`, the acquirer's risk officers set
//! them at `/acquirer/merchants/{id}/risk` — in yuan, counts and `HH:MM`, never config keys;
//! the acquirer's blocklist (`/acquirer/blocklist`); and the daily compliance report
//! (`/acquirer/compliance`), green or red in words, with its JSON and CSV downloads. The
//! same functions as `/api/v1/risk/limits`, `/api/v1/acquirer/…`.

use super::{Base, CsrfForm, Done, FormIn, form_action, show};
use crate::auth::Caller;
use crate::catalog::tf;
use crate::compliance::{ReportItem, ReportView};
use crate::error::ApiError;
use crate::risk_settings::{BlockIn, BlockKind, BlockView, LimitsIn, RiskLimitsView};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use suanpan_core::backoffice::Permission;
use suanpan_core::{Amount, Lang};

csrf_forms!(LimitsForm, BlockForm);

/// The acquirer's risk pages, behind the tier's gate.
pub fn acquirer_routes(state: &AppState) -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/acquirer/merchants/{id}/risk",
            get(acquirer_limits_page)
                .post(acquirer_limits_save)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/blocklist",
            get(blocklist_page)
                .post(blocklist_add)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/blocklist/{id}/remove",
            post(blocklist_remove).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/compliance",
            get(compliance_page).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/compliance/{day}",
            get(compliance_day).route_layer(crate::gate(state)),
        )
}

#[derive(Template)]
#[template(path = "risk_limits.html")]
struct LimitsPage {
    base: Base,
    v: RiskLimitsView,
    /// Where the form posts; empty when the caller may only read.
    action: String,
    /// The form's current values.
    fields: Vec<FormField>,
    open_at: String,
    close_at: String,
    /// The acquirer sets; a merchant tightens.
    acquirer: bool,
}

/// One limit's input on the form.
struct FormField {
    field: String,
    label: String,
    /// As typed: yuan for an amount, a count, blank for no limit.
    value: String,
    money: bool,
}

/// The form's starting values (limits, opening, closing): the tier's own if set, else what
/// applies now.
fn form_fields(v: &RiskLimitsView, acquirer: bool) -> (Vec<FormField>, String, String) {
    let tier = if acquirer {
        v.acquirer.as_ref()
    } else {
        v.merchant.as_ref()
    };
    let shown = tier.unwrap_or(&v.effective);
    let fields = shown
        .limits
        .iter()
        .map(|l| {
            let money = l.field.ends_with("_fen");
            let typed = match (l.value, money) {
                (0, _) => String::new(),
                (f, true) => Amount::from_fen(f).yuan(),
                (n, false) => n.to_string(),
            };
            FormField {
                field: l.field.clone(),
                label: l.label.clone(),
                value: typed,
                money,
            }
        })
        .collect();
    (
        fields,
        shown.open_at.clone().unwrap_or_default(),
        shown.close_at.clone().unwrap_or_default(),
    )
}

fn limits_page(
    caller: &Caller,
    v: RiskLimitsView,
    acquirer: bool,
    can_set: bool,
    path: &str,
) -> LimitsPage {
    let (fields, open_at, close_at) = form_fields(&v, acquirer);
    let section = if acquirer { "merchants" } else { "alerts" };
    LimitsPage {
        base: Base::of(caller, section, "risk.limits_title", path),
        action: if can_set {
            path.to_owned()
        } else {
            String::new()
        },
        v,
        fields,
        open_at,
        close_at,
        acquirer,
    }
}

pub(super) async fn limits_page_own(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/alerts", async |caller| {
        caller.require(Permission::Review)?;
        let m = caller.merchant()?;
        let v = crate::risk_settings::limits_of(&state, caller.lang, m).await?;
        let can_set = caller.user.role.allows(Permission::ManageUsers);
        Ok(limits_page(caller, v, false, can_set, "/risk/limits"))
    })
    .await
}

/// The limits form as a page sends it: yuan, counts and `HH:MM`; blank is off.
#[derive(serde::Deserialize)]
pub(super) struct LimitsForm {
    csrf: String,
    #[serde(default)]
    single_amount_max_fen: String,
    #[serde(default)]
    card_count_max: String,
    #[serde(default)]
    card_amount_max_fen: String,
    #[serde(default)]
    terminal_count_max: String,
    #[serde(default)]
    terminal_amount_max_fen: String,
    #[serde(default)]
    merchant_count_max: String,
    #[serde(default)]
    merchant_amount_max_fen: String,
    #[serde(default)]
    open_at: String,
    #[serde(default)]
    close_at: String,
}

impl LimitsForm {
    /// The API's input: yuan to fen, blank to off; a wrong value names its limit in words.
    fn to_input(&self, lang: Lang) -> Result<LimitsIn, ApiError> {
        let yuan = |field: &str, text: &str| -> Result<i64, ApiError> {
            match text.trim() {
                "" | "0" => Ok(0),
                t => Amount::from_yuan_str(t).map(Amount::fen).map_err(|_| {
                    ApiError::field(
                        lang,
                        "risk_limit",
                        &format!("{}: {t}", suanpan_core::risk::limit_label(lang, field)),
                    )
                }),
            }
        };
        let count = |field: &str, text: &str| -> Result<u32, ApiError> {
            match text.trim() {
                "" => Ok(0),
                t => t.parse().map_err(|_| {
                    ApiError::field(
                        lang,
                        "risk_limit",
                        &format!("{}: {t}", suanpan_core::risk::limit_label(lang, field)),
                    )
                }),
            }
        };
        let hour = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
        Ok(LimitsIn {
            single_amount_max_fen: yuan("single_amount_max_fen", &self.single_amount_max_fen)?,
            card_count_max: count("card_count_max", &self.card_count_max)?,
            card_amount_max_fen: yuan("card_amount_max_fen", &self.card_amount_max_fen)?,
            terminal_count_max: count("terminal_count_max", &self.terminal_count_max)?,
            terminal_amount_max_fen: yuan(
                "terminal_amount_max_fen",
                &self.terminal_amount_max_fen,
            )?,
            merchant_count_max: count("merchant_count_max", &self.merchant_count_max)?,
            merchant_amount_max_fen: yuan(
                "merchant_amount_max_fen",
                &self.merchant_amount_max_fen,
            )?,
            open_at: hour(&self.open_at),
            close_at: hour(&self.close_at),
        })
    }
}

pub(super) async fn limits_save_own(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<LimitsForm>,
) -> Response {
    form_action(caller, form, "/risk/limits", async |caller, f| {
        caller.require(Permission::ManageUsers)?;
        let m = caller.merchant()?;
        let input = f.to_input(caller.lang)?;
        crate::risk_settings::set_limits(&state, caller, m, "merchant", &input).await?;
        Ok(Done::back(tf(caller.lang, "msg.risk_limits_saved", &[])))
    })
    .await
}

pub(super) async fn acquirer_limits_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    show(caller, "/acquirer/merchants", async |caller| {
        let m = crate::risk_settings::known_merchant(&state, caller, &id).await?;
        let v = crate::risk_settings::limits_of(&state, caller.lang, m).await?;
        let can_set = caller.user.role.allows(Permission::ManageMerchants);
        let path = format!("/acquirer/merchants/{id}/risk");
        Ok(limits_page(caller, v, true, can_set, &path))
    })
    .await
}

pub(super) async fn acquirer_limits_save(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    form: FormIn<LimitsForm>,
) -> Response {
    let back = format!("/acquirer/merchants/{id}/risk");
    form_action(caller, form, &back, async |caller, f| {
        crate::acquirer::gate(caller, Permission::ManageMerchants)?;
        let m = crate::risk_settings::known_merchant(&state, caller, &id).await?;
        let input = f.to_input(caller.lang)?;
        crate::risk_settings::set_limits(&state, caller, m, "acquirer", &input).await?;
        Ok(Done::back(tf(caller.lang, "msg.risk_limits_saved", &[])))
    })
    .await
}

#[derive(Template)]
#[template(path = "blocklist.html")]
struct BlocklistPage {
    base: Base,
    rows: Vec<BlockView>,
    can_set: bool,
}

pub(super) async fn blocklist_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        let rows = crate::risk_settings::blocklist(&state, caller).await?;
        Ok(BlocklistPage {
            rows,
            can_set: caller.user.role.allows(Permission::ManageMerchants),
            base: Base::of(caller, "blocklist", "nav.blocklist", "/acquirer/blocklist"),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct BlockForm {
    csrf: String,
    #[serde(default)]
    bin: String,
    #[serde(default)]
    transaction_id: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn blocklist_add(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<BlockForm>,
) -> Response {
    form_action(caller, form, "/acquirer/blocklist", async |caller, f| {
        let lang = caller.lang;
        let txn = f.transaction_id.trim();
        let input = if txn.is_empty() {
            BlockIn {
                kind: BlockKind::Bin,
                bin: Some(f.bin.trim().to_owned()),
                transaction_id: None,
                reason: f.reason,
            }
        } else {
            BlockIn {
                kind: BlockKind::Card,
                bin: None,
                transaction_id: Some(crate::api::parse_id(lang, txn)?),
                reason: f.reason,
            }
        };
        crate::risk_settings::block(&state, caller, input).await?;
        Ok(Done::back(tf(lang, "msg.blocked", &[])))
    })
    .await
}

pub(super) async fn blocklist_remove(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/acquirer/blocklist", async |caller, _| {
        let id = crate::api::parse_id(caller.lang, &id)?;
        crate::risk_settings::unblock(&state, caller, id).await?;
        Ok(Done::back(tf(caller.lang, "msg.unblocked", &[])))
    })
    .await
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    base: Base,
    reports: Vec<ReportItem>,
    /// The report shown: the newest, or the day asked for.
    shown: Option<ReportView>,
}

async fn compliance(
    state: &AppState,
    caller: &Caller,
    day: Option<&str>,
) -> Result<CompliancePage, ApiError> {
    let reports = crate::compliance::reports(state, caller).await?;
    let day = day
        .map(str::to_owned)
        .or_else(|| reports.first().map(|r| r.day.clone()));
    let shown = match day {
        Some(d) => Some(crate::compliance::report(state, caller, &d).await?),
        None => None,
    };
    let path = shown
        .as_ref()
        .map_or("/acquirer/compliance".to_owned(), |r| {
            format!("/acquirer/compliance/{}", r.day)
        });
    Ok(CompliancePage {
        reports,
        shown,
        base: Base::of(caller, "compliance", "nav.compliance", &path),
    })
}

pub(super) async fn compliance_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        Ok(compliance(&state, caller, None).await?)
    })
    .await
}

pub(super) async fn compliance_day(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(day): Path<String>,
) -> Response {
    show(caller, "/acquirer/compliance", async |caller| {
        Ok(compliance(&state, caller, Some(&day)).await?)
    })
    .await
}
