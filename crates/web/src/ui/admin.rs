//! Administration pages: the audit trail, the payment channels and the back-office users.

use super::{Base, Done, FormIn, back_to, form_action, show};
use crate::api::{self, AuditQuery};
use crate::auth::Caller;
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use suanpan_core::backoffice::{Permission, StaffRole};

csrf_forms!(ChannelForm, UserForm, UserActionForm);

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    base: Base,
    rows: Vec<crate::view::AuditView>,
    verdict: Option<String>,
    verdict_ok: bool,
}

#[derive(serde::Deserialize)]
pub(super) struct AuditPageQuery {
    verify: Option<bool>,
}

pub(super) async fn audit(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    axum::extract::Query(q): axum::extract::Query<AuditPageQuery>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let rows = api::audit_entries(&state, caller, &AuditQuery::default()).await?;
        let (mut verdict, mut verdict_ok) = (None, false);
        if q.verify == Some(true) {
            let v = api::verify(&state, caller)
                .await
                .map_err(back_to("/audit"))?;
            if v.intact {
                verdict = Some(tf(lang, "audit.ok", &[v.entries.to_string()]));
                verdict_ok = true;
            } else if let Some(at) = v.first_broken {
                verdict = Some(tf(
                    lang,
                    "audit.broken",
                    &[at.to_string(), v.problem.unwrap_or_default()],
                ));
            } else {
                // Broken at an entry of another merchant: the verdict, not where.
                verdict = Some(t(lang, "audit.broken_elsewhere").to_owned());
            }
        }
        Ok(AuditPage {
            base: Base::of(caller, "audit", "nav.audit", "/audit"),
            rows,
            verdict,
            verdict_ok,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    base: Base,
    rows: Vec<crate::channels::ChannelView>,
    can_manage: bool,
}

pub(super) async fn channels_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(ChannelsPage {
            rows: crate::channels::channels(&state, caller).await?,
            base: Base::of(caller, "channels", "nav.channels", "/channels"),
            can_manage: caller.user.role.allows(Permission::ManageChannels),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ChannelForm {
    csrf: String,
    password: String,
    reason: String,
}

pub(super) async fn channel_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<ChannelForm>,
) -> Response {
    form_action(caller, form, "/channels", async |caller, f| {
        let lang = caller.lang;
        let action = crate::channels::parse_action(lang, &action)?;
        let input = crate::channels::ChannelIn {
            password: f.password,
            reason: f.reason,
        };
        let c = crate::channels::set(&state, caller, &id, action, input).await?;
        let key = match (c.removed, c.enabled) {
            (true, _) => "ch.removed",
            (false, true) => "ch.enabled",
            (false, false) => "ch.disabled",
        };
        let state_text = t(lang, key).to_owned();
        Ok(Done::back(tf(lang, "msg.channel", &[c.name, state_text])))
    })
    .await
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    base: Base,
    rows: Vec<crate::users::ManagedUser>,
    roles: Vec<&'static str>,
    me: i64,
}

pub(super) async fn users_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(UsersPage {
            rows: crate::users::users(&state, caller).await?,
            base: Base::of(caller, "users", "nav.users", "/users"),
            roles: StaffRole::MERCHANT.iter().map(|r| r.as_str()).collect(),
            me: caller.user.id,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct UserForm {
    csrf: String,
    username: String,
    name: String,
    role: String,
    #[serde(default)]
    operator_no: String,
    password: String,
}

pub(super) async fn users_add(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<UserForm>,
) -> Response {
    form_action(caller, form, "/users", async |caller, f| {
        let input = crate::users::UserIn {
            username: f.username,
            name: f.name,
            role: f.role,
            operator_no: Some(f.operator_no),
            password: f.password,
        };
        let u = crate::users::add(&state, caller, input).await?;
        let args = [u.user.username, u.user.role];
        Ok(Done::back(tf(caller.lang, "msg.user_added", &args)))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct UserActionForm {
    csrf: String,
    name: Option<String>,
    role: Option<String>,
    operator_no: Option<String>,
    password: Option<String>,
}

/// The users page's per-user forms: `edit` (name, role, operator no.), `disable`, `enable`,
/// `password`, `totp-reset`; each asks before it is sent and answers with a clear message.
pub(super) async fn user_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<UserActionForm>,
) -> Response {
    form_action(caller, form, "/users", async |caller, f| {
        let lang = caller.lang;
        let change = if action == "edit" {
            crate::users::Change::Edit(crate::users::UserEditIn {
                name: f.name,
                role: f.role,
                operator_no: Some(f.operator_no.unwrap_or_default()),
            })
        } else {
            let input = crate::users::UserActionIn {
                password: f.password.filter(|_| action == "password"),
            };
            crate::users::Change::parse(lang, &action, input)?
        };
        let u = crate::users::change(&state, caller, id, change).await?;
        let done = t(lang, &format!("user.done.{action}")).to_owned();
        Ok(Done::back(tf(
            lang,
            "msg.user_changed",
            &[u.user.username, done],
        )))
    })
    .await
}
