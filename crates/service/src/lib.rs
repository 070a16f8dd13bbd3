//! Suanpan's application layer: the use cases of the write path. Each is *load facts →
//! `suanpan_core::rules::decide_*` → effects*, in its own module:
//!
//! | module | commands |
//! |---|---|
//! | [`sale`] | sale, pre-authorization (card or QR wallet) |
//! | [`balance`] | balance inquiry (card or QR wallet) |
//! | [`preauth`] | completion, pre-auth void |
//! | [`void`] | sale void, completion void |
//! | [`refund`] | refund |
//! | [`reversal`] | reversal (also of a request that never arrived) |
//! | [`settlement`] | settlement of one batch, the cutoff of every due batch |
//! | [`holds`] | the release of pre-authorization holds past their days |
//! | [`records`] | hide, purge |
//! | [`operators`] | login outcomes, passwords, refusals decided at the edge, reprints |
//! | `risk` | the risk rules asked before the issuer (issue 13): facts, alerts, audit |
//! | [`cases`] | the back-office's cases (撤错 / 调账): open, link, note, submit/resolve/reject, evidence, the record and its pack's facts |
//! | [`removals`] | evidence removal requests: submit after retention, review by someone else |
//! | [`ops`] | backups on request (one at a time, an interval), verification, the refused restore, the purge of the CLI and the back-office |
//! | [`review`] | the back-office's void/refund requests: submission, review, cancel, undo, the executor and stale recovery |
//! | [`channels`] | a merchant's channels (enable, disable, remove, re-add) and the acquirer's (platform switch, a merchant's allowance) |
//! | [`users`] | back-office users (create, edit, disable/enable, password and TOTP reset) and counter operators |
//! | [`pause`] | a merchant's supervisor pauses and resumes its own terminal |
//!
//! The store's single writer runs them inside its group transaction through the
//! [`suanpan_store::Apply`] hook that [`UseCases`] implements, so decisions for one original
//! are serialized and a group of commands still costs one commit. A store gets its hook at
//! open: [`open_options`] gives the store's options with the use cases over the inline issuer
//! simulator.
//!
//! **Architecture Invariant:** the use cases are the only code that changes money state; the
//! store's repositories ([`suanpan_store::repo`]) only read and write what a use case asks.
//! No use case speaks HTTP or 8583: refusals come back as core's typed variants, and each
//! adapter maps them once to its wire form.
#![deny(missing_docs)]

pub mod balance;
pub mod cases;
pub mod channels;
mod ctx;
mod events;
pub mod holds;
pub mod onboarding;
pub mod operators;
pub mod ops;
pub mod pause;
pub mod preauth;
pub mod records;
pub mod refund;
pub mod removals;
pub mod reversal;
pub mod review;
pub mod review_up;
mod risk;
pub mod sale;
pub mod settlement;
pub mod terminal_keys;
pub mod upstream;
pub mod users;
pub mod void;

use ctx::Ctx;
use std::sync::Arc;
use suanpan_issuer::{Issuer, Simulator};
use suanpan_store::command::{
    Authorized, Complete, Hide, PreAuthVoid, Purchase, Purge, RecordLogin, RecordRefusal,
    RecordReprint, Refund, Reverse, SetPassword, Settle, StandIn, Void,
};
use suanpan_store::repo::Tx;
use suanpan_store::{
    Apply, Command, OpenOptions, Reply, ReversalReply, StoreError, TxnReply, UpstreamRef,
};

/// The use cases over one issuer (the inline simulator, or another implementation).
pub struct UseCases {
    issuer: Arc<dyn Issuer + Send + Sync>,
}

impl UseCases {
    /// The use cases over `issuer`.
    pub fn new(issuer: Arc<dyn Issuer + Send + Sync>) -> UseCases {
        UseCases { issuer }
    }

    /// The use cases over the inline issuer simulator (its accounts in the store, decided in
    /// the writer's transaction: one commit per group).
    pub fn inline() -> UseCases {
        UseCases::new(Arc::new(Simulator))
    }
}

impl Apply for UseCases {
    fn apply(&self, tx: &mut Tx<'_>, cmd: &Command) -> Result<Reply, StoreError> {
        let mut ctx = Ctx {
            tx,
            issuer: self.issuer.as_ref(),
            advice_follows: false,
        };
        apply(&mut ctx, cmd)
    }
}

/// The store's default options with the use cases over the inline issuer simulator: what
/// every caller that opens a store to change it starts from
/// (`OpenOptions { policy, ..open_options() }`).
pub fn open_options() -> OpenOptions {
    OpenOptions {
        apply: Arc::new(UseCases::inline()),
        ..OpenOptions::default()
    }
}

/// Routes one command to its use case.
fn apply(ctx: &mut Ctx<'_, '_>, cmd: &Command) -> Result<Reply, StoreError> {
    apply_up(ctx, cmd, None)
}

/// Routes one command; `up` is how a purchase goes to the network upstream (phase one).
/// Each use case gives its command's typed reply; the writer carries it as a [`Reply`].
fn apply_up(
    ctx: &mut Ctx<'_, '_>,
    cmd: &Command,
    up: Option<&UpstreamRef>,
) -> Result<Reply, StoreError> {
    match cmd {
        Command::Purchase(Purchase {
            origin,
            kind,
            amount,
            instrument,
            method,
            pin,
            linked_id,
            confirm_duplicate,
        }) => {
            let p = sale::Purchase {
                confirm_duplicate: *confirm_duplicate,
                kind: *kind,
                amount: *amount,
                instrument,
                method: *method,
                pin: pin.as_ref(),
                linked_id: *linked_id,
            };
            sale::purchase(ctx, origin, &p, up).map(Reply::from)
        }
        Command::BalanceInquiry(b) => balance::balance_inquiry(ctx, b).map(Reply::from),
        Command::Void(Void {
            origin,
            kind,
            original,
            amount,
            reason,
            customer_consent,
            card_fingerprint,
        }) => {
            let facts = void::VoidFacts {
                kind: *kind,
                amount: *amount,
                reason,
                consent: *customer_consent,
                card: card_fingerprint.as_deref(),
            };
            void::void(ctx, origin, original, &facts).map(Reply::from)
        }
        Command::Refund(Refund {
            origin,
            original,
            amount,
            reason,
        }) => refund::refund(ctx, origin, original, *amount, reason, None).map(Reply::from),
        Command::Complete(Complete {
            origin,
            original,
            amount,
        }) => preauth::complete(ctx, origin, original, *amount).map(Reply::from),
        Command::PreAuthVoid(PreAuthVoid {
            origin,
            original,
            amount,
            reason,
        }) => preauth::preauth_void(ctx, origin, original, *amount, reason).map(Reply::from),
        Command::Reverse(Reverse {
            origin,
            voucher,
            amount,
            reason,
        }) => reversal::reverse(ctx, origin, *voucher, *amount, reason).map(Reply::from),
        Command::Settle(Settle {
            terminal_id,
            actor,
            terminal_totals,
        }) => settlement::settle(ctx, terminal_id, actor, *terminal_totals).map(Reply::from),
        Command::SettleAllDue(c) => settlement::settle_all_due(ctx, c).map(Reply::from),
        Command::ExpireHolds => holds::expire_holds(ctx).map(Reply::from),
        Command::ForgetExpiredPans => upstream::forget_expired_pans(ctx).map(Reply::from),
        Command::Hide(Hide {
            merchant_id,
            actor,
            id,
            reason,
        }) => records::hide(ctx, merchant_id, *actor, *id, reason).map(Reply::from),
        Command::Purge(Purge {
            merchant_id,
            actor,
            before,
            backup,
            reason,
            audit_as,
        }) => {
            let who = audit_as
                .clone()
                .unwrap_or_else(|| format!("{merchant_id}/{actor}"));
            let p = records::PurgeFacts {
                who: &who,
                merchant: merchant_id,
                actor: *actor,
                before: *before,
                backup,
                reason,
            };
            records::purge(ctx, &p).map(Reply::from)
        }
        Command::RecordLogin(RecordLogin {
            merchant_id,
            operator,
            ok,
            purpose,
        }) => operators::record_login(ctx, merchant_id, *operator, *ok, purpose).map(Reply::from),
        Command::RecordRefusal(RecordRefusal {
            actor,
            action,
            target,
            key,
        }) => Ok(operators::record_refusal(ctx, actor, action, target, key).into()),
        Command::SetPassword(SetPassword {
            merchant_id,
            actor,
            operator,
            password_hash,
        }) => operators::set_password(ctx, merchant_id, *actor, *operator, password_hash)
            .map(Reply::from),
        Command::RecordReprint(RecordReprint { actor, id }) => {
            Ok(operators::record_reprint(ctx, actor, *id).into())
        }
        Command::Authorize { purchase, upstream } => match purchase.as_ref() {
            Command::Purchase(Purchase { .. }) => apply_up(ctx, purchase, Some(upstream)),
            Command::Refund(Refund {
                origin,
                original,
                amount,
                reason,
            }) => refund::refund(ctx, origin, original, *amount, reason, Some(upstream))
                .map(Reply::from),
            _ => Err(StoreError::Invalid(
                "only a purchase or a refund goes to the upstream".into(),
            )),
        },
        Command::Authorized(Authorized {
            id,
            fate,
            auth_code,
        }) => upstream::authorized(ctx, *id, *fate, auth_code.as_deref()).map(Reply::from),
        Command::ResolveAuthorizing => upstream::resolve_authorizing(ctx).map(Reply::from),
        Command::StandIn(StandIn {
            id,
            destination,
            frame,
            auth_code,
        }) => upstream::stand_in(ctx, *id, destination, &frame.0, auth_code).map(Reply::from),
        Command::WithAdvice { inner, advice } => {
            ctx.advice_follows = true;
            let reply = apply(ctx, inner);
            ctx.advice_follows = false;
            let reply = reply?;
            // Only a booked follow-up queues its sale's advice: a refusal, a replay or
            // nothing to reverse changed nothing upstream.
            if let Reply::Txn(TxnReply::Booked(t)) | Reply::Reversal(ReversalReply::Reversed(t)) =
                &reply
            {
                upstream::queue_advice(ctx, t, advice)?;
            }
            Ok(reply)
        }
    }
}

/// The transaction `id` as a back-office `user` may see it: of the user's merchant, and
/// hidden rows only for roles that see them (issue 14: another merchant's is "not found",
/// exactly as one that does not exist).
pub(crate) fn visible_txn(
    store: &dyn suanpan_store::Store,
    user: &suanpan_store::backoffice::StaffUser,
    id: suanpan_core::TxnId,
) -> Result<Option<suanpan_core::Transaction>, StoreError> {
    use suanpan_core::backoffice::Permission;
    Ok(store
        .transaction(id)?
        .filter(|t| user.merchant_id.as_ref() == Some(&t.merchant_id))
        .filter(|t| !t.hidden || user.role.allows(Permission::ViewHidden)))
}
