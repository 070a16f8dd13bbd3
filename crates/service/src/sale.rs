//! Sale, pre-authorization and balance inquiry, by card or QR wallet: the terminal gate, the
//! payment channel, the purchase's own rules (`decide_purchase`), then the issuer.

use crate::ctx::{Ask, Ctx, Gate, actor_of, ask_issuer, book, gate, refuse};
use suanpan_core::backoffice::{Channel, decide_channel_open};
use suanpan_core::refusal::AccessRefused;
use suanpan_core::rules::{self, PurchaseAsk, PurchaseRequest};
use suanpan_core::{Amount, MerchantId, PaymentMethod, TxnId, TxnKind, TxnStatus};
use suanpan_issuer::{EnteredPin, IssuerOp};
use suanpan_store::command::{Instrument, Origin};
use suanpan_store::repo::txns::{InstrumentCols, NewTxn};
use suanpan_store::repo::{channels, terminals};
use suanpan_store::{PurchaseReply, Refused, StoreError, UpstreamRef};

/// A purchase's facts besides its origin.
pub struct Purchase<'a> {
    /// `Sale`, `PreAuth` or `BalanceInquiry`.
    pub kind: TxnKind,
    /// How much (zero for a balance inquiry).
    pub amount: Amount,
    /// Card or wallet.
    pub instrument: &'a Instrument,
    /// How presented.
    pub method: PaymentMethod,
    /// The PIN entered, if any.
    pub pin: Option<&'a EnteredPin>,
    /// A linked transaction (re-charge after a mistaken void).
    pub linked_id: Option<TxnId>,
    /// The counter confirmed a possible duplicate charge (issue 13).
    pub confirm_duplicate: bool,
}

/// Books a sale, pre-authorization or balance inquiry as the issuer answers it; with `up`
/// (phase one through the network upstream), a card sale is booked *authorizing* instead.
pub(crate) fn purchase(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    p: &Purchase<'_>,
    up: Option<&UpstreamRef>,
) -> Result<PurchaseReply, StoreError> {
    let kind = p.kind;
    let term = match gate(ctx, origin, kind.as_str())? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    if let Some(refused) = channel_gate(ctx, &actor, kind.as_str(), p.method, &term.merchant_id)? {
        return Ok(refused);
    }
    let req = PurchaseRequest {
        kind,
        amount: p.amount,
        method: p.method,
        wallet: matches!(p.instrument, Instrument::Wallet { .. }),
        training: origin.training,
    };
    let ask = match rules::decide_purchase(&req) {
        Ok(a) => a,
        Err(r) => {
            let target = match r {
                AccessRefused::BadAmount { .. } => "amount",
                _ => "instrument",
            };
            return refuse(ctx, &actor, kind.as_str(), target, r);
        }
    };
    if let Some(refused) = crate::risk::assess(ctx, origin, &term, p)? {
        return Ok(refused);
    }
    if let Some(up) = up.filter(|_| crate::upstream::goes_up(kind, p.instrument, origin)) {
        return crate::upstream::book_authorizing(ctx, origin, &term, p, up)
            .map(PurchaseReply::Booked);
    }
    let cols = InstrumentCols::of(p.instrument);
    let account = cols.account_id().unwrap_or_default().to_owned();
    let expiry = match p.instrument {
        Instrument::Card { expiry, .. } => expiry.as_deref(),
        Instrument::Wallet { .. } => None,
    };
    let op = match ask {
        PurchaseAsk::Balance => IssuerOp::Balance,
        PurchaseAsk::Hold => IssuerOp::Hold,
        PurchaseAsk::Debit => IssuerOp::Debit,
    };
    let asked = Ask {
        account: &account,
        op,
        amount: p.amount,
        pin: p.pin,
        expiry,
    };
    let Some(resp) = ask_issuer(ctx, &asked)? else {
        let r = AccessRefused::UnknownInstrument;
        return refuse(ctx, &actor, kind.as_str(), "instrument", r);
    };
    let voucher = terminals::take_voucher(ctx.tx, &term, origin.voucher, origin.training);
    let approved = resp.code.is_approved();
    let hold_expires_at =
        (kind == TxnKind::PreAuth && approved).then(|| ctx.tx.policy.hold_expires_at(ctx.tx.now));
    let txn = book(
        ctx,
        NewTxn {
            kind,
            status: if approved {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount: p.amount,
            method: p.method,
            instrument: cols,
            origin,
            term: &term,
            voucher,
            code: resp.code,
            original_id: None,
            reason: None,
            consent: false,
            linked_id: p.linked_id,
            hold_expires_at,
        },
    )?;
    if kind == TxnKind::BalanceInquiry && approved {
        return Ok(PurchaseReply::Balance {
            txn,
            available: Amount::from_fen(resp.available_fen),
        });
    }
    Ok(PurchaseReply::Booked(txn))
}

/// A payment channel switched off in the back-office refuses new money through it (12): sales,
/// pre-auths, balance inquiries and completions, from terminals, the CLI and the API alike;
/// the platform's switch and the merchant's own (issue 14) must both be on.
pub(crate) fn channel_gate<T: From<Refused>>(
    ctx: &mut Ctx<'_, '_>,
    actor: &str,
    action: &str,
    method: PaymentMethod,
    merchant: &MerchantId,
) -> Result<Option<T>, StoreError> {
    let channel = Channel::of_method(method);
    let open = channels::is_open(ctx.tx, channel, merchant)?;
    match decide_channel_open(channel, open) {
        Ok(()) => Ok(None),
        Err(r) => {
            let target = format!("channel:{}", channel.as_str());
            refuse(ctx, actor, action, &target, r).map(Some)
        }
    }
}
