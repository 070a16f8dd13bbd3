//! Sale and pre-authorization, by card or QR wallet: the terminal gate, the payment channel,
//! the purchase's own rules (`decide_purchase`), the risk rules, then the issuer. A balance
//! inquiry is its own use case ([`crate::balance`]) and shares the channel gate and the
//! issuer step ([`issue`]) with these.

use crate::ctx::{Ask, Ctx, Gate, actor_of, ask_issuer, book, gate, refuse};
use crate::risk::Asked;
use suanpan_core::backoffice::{Channel, decide_channel_open};
use suanpan_core::refusal::AccessRefused;
use suanpan_core::rules::{self, PurchaseAsk, PurchaseRequest};
use suanpan_core::{Amount, MerchantId, PaymentMethod, Transaction, TxnId, TxnKind, TxnStatus};
use suanpan_issuer::{EnteredPin, IssuerOp};
use suanpan_store::command::{Instrument, Origin};
use suanpan_store::repo::terminals::TerminalState;
use suanpan_store::repo::txns::{InstrumentCols, NewTxn};
use suanpan_store::repo::{channels, terminals};
use suanpan_store::{PurchaseReply, Refused, StoreError, UpstreamRef};

/// A purchase's facts besides its origin.
pub struct Purchase<'a> {
    /// `Sale` or `PreAuth`.
    pub kind: TxnKind,
    /// How much.
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

/// Books a sale or pre-authorization as the issuer answers it; with `up` (phase one through
/// the network upstream), a card sale is booked *authorizing* instead.
pub(crate) fn purchase(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    p: &Purchase<'_>,
    up: Option<&UpstreamRef>,
) -> Result<PurchaseReply, StoreError> {
    let kind = p.kind;
    if !matches!(kind, TxnKind::Sale | TxnKind::PreAuth) {
        // A balance inquiry is `Command::BalanceInquiry`; anything else is no purchase.
        return Err(StoreError::Invalid(format!(
            "a purchase of kind {}",
            kind.as_str()
        )));
    }
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
    let asked = Asked {
        kind,
        amount: p.amount,
        instrument: p.instrument,
        pin_entered: p.pin.is_some(),
        confirm_duplicate: p.confirm_duplicate,
    };
    if let Some(refused) = crate::risk::assess(ctx, origin, &term, &asked)? {
        return Ok(refused);
    }
    if let Some(up) = up.filter(|_| crate::upstream::goes_up(kind, p.instrument, origin)) {
        return crate::upstream::book_authorizing(ctx, origin, &term, p, up)
            .map(PurchaseReply::Booked);
    }
    let i = Issue {
        kind,
        amount: p.amount,
        instrument: p.instrument,
        method: p.method,
        pin: p.pin,
        op: match ask {
            PurchaseAsk::Balance => IssuerOp::Balance,
            PurchaseAsk::Hold => IssuerOp::Hold,
            PurchaseAsk::Debit => IssuerOp::Debit,
        },
        linked_id: p.linked_id,
    };
    match issue(ctx, origin, &term, &i)? {
        Ok((txn, _)) => Ok(PurchaseReply::Booked(txn)),
        Err(refused) => Ok(refused),
    }
}

/// What the issuer is asked about a sale, a pre-authorization or a balance inquiry the rules
/// let through, and what its booking carries.
pub(crate) struct Issue<'a> {
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
    /// What the issuer does.
    pub op: IssuerOp,
    /// A linked transaction (re-charge after a mistaken void).
    pub linked_id: Option<TxnId>,
}

/// Asks the issuer and books its answer, approved or declined, under the next voucher no.:
/// the transaction and the available balance the issuer reported. An account the issuer
/// does not know is refused (nothing booked).
pub(crate) fn issue<T: From<Refused>>(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    term: &TerminalState,
    i: &Issue<'_>,
) -> Result<Result<(Transaction, Amount), T>, StoreError> {
    let cols = InstrumentCols::of(i.instrument);
    let account = cols.account_id().unwrap_or_default().to_owned();
    let expiry = match i.instrument {
        Instrument::Card { expiry, .. } => expiry.as_deref(),
        Instrument::Wallet { .. } => None,
    };
    let asked = Ask {
        account: &account,
        op: i.op,
        amount: i.amount,
        pin: i.pin,
        expiry,
    };
    let Some(resp) = ask_issuer(ctx, &asked)? else {
        let (actor, r) = (actor_of(origin), AccessRefused::UnknownInstrument);
        return refuse(ctx, &actor, i.kind.as_str(), "instrument", r).map(Err);
    };
    let voucher = terminals::take_voucher(ctx.tx, term, origin.voucher, origin.training);
    let approved = resp.code.is_approved();
    let hold_expires_at =
        (i.kind == TxnKind::PreAuth && approved).then(|| ctx.tx.policy.hold_expires_at(ctx.tx.now));
    let txn = book(
        ctx,
        NewTxn {
            kind: i.kind,
            status: if approved {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount: i.amount,
            method: i.method,
            instrument: cols,
            origin,
            term,
            voucher,
            code: resp.code,
            original_id: None,
            reason: None,
            consent: false,
            linked_id: i.linked_id,
            hold_expires_at,
        },
    )?;
    Ok(Ok((txn, Amount::from_fen(resp.available_fen))))
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
