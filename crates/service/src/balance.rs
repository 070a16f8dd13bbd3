//! Balance inquiry (余额查询), by card or QR wallet: the terminal gate, the payment channel,
//! the inquiry's own rule (`decide_balance_inquiry`), the risk rules, then the issuer, asked
//! only for the balance. No money moves; the inquiry is booked, approved or declined, so
//! that its receipt, the journal and the risk rules (declines in a row) see it.
//!
//! It never goes to the network upstream: the inline issuer answers it also when an
//! `[upstream]` is configured (docs/ISO8583.md).

use crate::ctx::{Ctx, Gate, actor_of, gate, refuse};
use crate::risk::Asked;
use crate::sale::{Issue, channel_gate, issue};
use suanpan_core::rules;
use suanpan_core::{Amount, Transaction, TxnKind};
use suanpan_issuer::IssuerOp;
use suanpan_store::command::{BalanceInquiry, Instrument};
use suanpan_store::repo::accounts;
use suanpan_store::repo::txns::InstrumentCols;
use suanpan_store::{BalanceReply, StoreError};

/// The kind every inquiry is booked and audited as.
const KIND: TxnKind = TxnKind::BalanceInquiry;

/// Books a balance inquiry as the issuer answers it: the balance when approved.
pub(crate) fn balance_inquiry(
    ctx: &mut Ctx<'_, '_>,
    b: &BalanceInquiry,
) -> Result<BalanceReply, StoreError> {
    let origin = &b.origin;
    let term = match gate(ctx, origin, KIND.as_str())? {
        Gate::Open(t) => t,
        Gate::Answered(BalanceReply::Replayed { txn, .. }) => return replayed(ctx, txn),
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    if let Some(refused) = channel_gate(ctx, &actor, KIND.as_str(), b.method, &term.merchant_id)? {
        return Ok(refused);
    }
    let wallet = matches!(b.instrument, Instrument::Wallet { .. });
    if let Err(r) = rules::decide_balance_inquiry(b.method, wallet) {
        return refuse(ctx, &actor, KIND.as_str(), "instrument", r);
    }
    let asked = Asked {
        kind: KIND,
        amount: Amount::ZERO,
        instrument: &b.instrument,
        pin_entered: b.pin.is_some(),
        confirm_duplicate: false,
    };
    if let Some(refused) = crate::risk::assess(ctx, origin, &term, &asked)? {
        return Ok(refused);
    }
    let i = Issue {
        kind: KIND,
        amount: Amount::ZERO,
        instrument: &b.instrument,
        method: b.method,
        pin: b.pin.as_ref(),
        op: IssuerOp::Balance,
        linked_id: None,
    };
    Ok(match issue(ctx, origin, &term, &i)? {
        Ok((txn, available)) if txn.response_code.is_approved() => {
            BalanceReply::Balance { txn, available }
        }
        Ok((txn, _)) => BalanceReply::Declined(txn),
        Err(refused) => refused,
    })
}

/// An identical retry's stored inquiry, with the account's available balance as it is now
/// when the inquiry was approved. A declined one shows none: the PIN block is not part of
/// the request hash, so a retry with any PIN would read the balance.
fn replayed(ctx: &mut Ctx<'_, '_>, txn: Transaction) -> Result<BalanceReply, StoreError> {
    let available = if txn.response_code.is_approved() {
        let cols = InstrumentCols::from_txn(&txn);
        match cols.account_id() {
            Some(id) => {
                accounts::load(ctx.tx, id)?.map(|a| Amount::from_fen(a.balance_fen - a.held_fen))
            }
            None => None,
        }
    } else {
        None
    };
    Ok(BalanceReply::Replayed { txn, available })
}
