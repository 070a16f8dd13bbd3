//! Records: hide (删除交易记录, admin only, with a reason) and purge past retention.

use crate::ctx::{Ctx, refuse};
use jiff::Timestamp;
use suanpan_core::refusal::HideRefused;
use suanpan_core::rules;
use suanpan_core::{MerchantId, OperatorNo, TxnId};
use suanpan_store::repo::{counters, txns};
use suanpan_store::{Counted, StoreError};

/// Hides one of the merchant's records.
pub(crate) fn hide(
    ctx: &mut Ctx<'_, '_>,
    merchant: &MerchantId,
    actor: OperatorNo,
    id: TxnId,
    reason: &str,
) -> Result<Counted, StoreError> {
    let who = format!("{merchant}/{actor}");
    let target = format!("txn:{id}");
    let found = txns::by_id(ctx.tx.conn, id)?.filter(|t| &t.merchant_id == merchant);
    let Some(t) = found else {
        return refuse(ctx, &who, "hide", &target, HideRefused::NotFound);
    };
    if let Err(r) = rules::decide_hide(&t, actor, reason) {
        return refuse(ctx, &who, "hide", &target, r);
    }
    txns::hide(ctx.tx.conn, id, reason, actor, ctx.tx.now)?;
    ctx.tx.audit(&who, "hide", &target, reason, "ok");
    Ok(Counted::Done(1))
}

/// A purge's facts.
pub struct PurgeFacts<'a> {
    /// Who the audit trail names.
    pub who: &'a str,
    /// The merchant whose records go.
    pub merchant: &'a MerchantId,
    /// The acting operator (the admin).
    pub actor: OperatorNo,
    /// Records created before this moment.
    pub before: Timestamp,
    /// The backup taken just before (its name).
    pub backup: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// Purges the merchant's records past retention (the caller backed up first).
pub(crate) fn purge(ctx: &mut Ctx<'_, '_>, p: &PurgeFacts<'_>) -> Result<Counted, StoreError> {
    let target = format!("before:{}", p.before);
    if let Err(r) = rules::decide_purge(p.actor, p.before, ctx.tx.policy, ctx.tx.now) {
        return refuse(ctx, p.who, "purge", &target, r);
    }
    let (n, net) = txns::purge(ctx.tx.conn, p.merchant, p.before)?;
    counters::add_purged_net(ctx.tx.conn, net)?;
    let why = if p.reason.trim().is_empty() {
        format!("backup:{}", p.backup)
    } else {
        format!("{} · backup:{}", p.reason.trim(), p.backup)
    };
    ctx.tx
        .audit(p.who, "purge", &target, &why, &format!("ok:{n}"));
    Ok(Counted::Done(n))
}
