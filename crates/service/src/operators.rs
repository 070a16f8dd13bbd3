//! Operators at the counter: login outcomes (lockout after repeated failures), password
//! changes, and two audit-only records (a refusal decided at the edge, a receipt reprint).

use crate::ctx::{Ctx, refuse};
use suanpan_core::auth::LoginState;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::rules;
use suanpan_core::{MerchantId, OperatorNo, Policy, Role, TxnId};
use suanpan_store::repo::operators;
use suanpan_store::{Counted, StoreError};

/// Records a login attempt's outcome: the failure count and lock (`LoginState`), and an
/// audit entry for every failure and lockout.
pub(crate) fn record_login(
    ctx: &mut Ctx<'_, '_>,
    merchant: &MerchantId,
    op: OperatorNo,
    ok: bool,
    purpose: &str,
) -> Result<Counted, StoreError> {
    let who = format!("{merchant}/{op}");
    let target = format!("operator:{merchant}/{op}");
    let Some(state) = operators::login_state(ctx.tx.conn, merchant, op)? else {
        return refuse(ctx, &who, purpose, &target, AccessRefused::UnknownOperator);
    };
    let (policy, now) = (ctx.tx.policy, ctx.tx.now);
    let next = if ok {
        LoginState::default()
    } else {
        state.after_failure(policy, now)
    };
    if next != state {
        operators::save_login_state(ctx.tx.conn, merchant, op, &next)?;
    }
    if ok {
        // Successful sign-ins are not chained one by one: only failures and lockouts matter
        // to an auditor, and the counter path stays fast.
        return Ok(Counted::Done(0));
    }
    let r = match next.locked(now) {
        Some(until) => AccessRefused::LockedOut {
            until: local_time(policy, until),
        },
        None if op.role() == Role::Supervisor && purpose == "supervisor" => {
            AccessRefused::SupervisorWrongPassword {
                remaining: next.remaining(policy),
            }
        }
        None => AccessRefused::WrongPassword {
            remaining: next.remaining(policy),
        },
    };
    refuse(ctx, &who, purpose, &target, r)
}

/// A moment in the merchant's zone, `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(policy: &Policy, at: jiff::Timestamp) -> String {
    let zone = policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Sets an operator's password (hashed by the caller) as `decide_password_change` allows.
pub(crate) fn set_password(
    ctx: &mut Ctx<'_, '_>,
    merchant: &MerchantId,
    actor: OperatorNo,
    op: OperatorNo,
    hash: &str,
) -> Result<Counted, StoreError> {
    let who = format!("{merchant}/{actor}");
    let target = format!("operator:{merchant}/{op}");
    if let Err(r) = rules::decide_password_change(actor, op) {
        return refuse(ctx, &who, "password.change", &target, r);
    }
    let n = operators::set_password(ctx.tx.conn, merchant, op, hash, ctx.tx.now)?;
    ctx.tx.audit(&who, "password.change", &target, "", "ok");
    Ok(Counted::Done(n))
}

/// Audits a refusal decided outside the writer (a locked-out login at the edge).
pub(crate) fn record_refusal(
    ctx: &mut Ctx<'_, '_>,
    actor: &str,
    action: &str,
    target: &str,
    key: &str,
) -> u64 {
    let outcome = format!("refused:{key}");
    ctx.tx
        .audit(actor, &format!("{action}.refused"), target, "", &outcome);
    0
}

/// Audits a receipt reprint (any receipt may be reprinted, and every reprint is audited).
pub(crate) fn record_reprint(ctx: &mut Ctx<'_, '_>, actor: &str, id: TxnId) -> u64 {
    ctx.tx
        .audit(actor, "receipt.reprint", &format!("txn:{id}"), "", "ok");
    1
}
