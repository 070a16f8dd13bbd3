//! 风险预警 in the write path (issue 13): loads the facts the risk rules read, asks
//! [`suanpan_core::risk::assess`] once per purchase before the issuer is asked, audits every
//! finding with its rule and inputs, and raises its alert. Every interface (8583, REST, CLI,
//! terminal emulator) books through [`crate::sale`], so a rule here is enforced for all.
//!
//! A refusal or a hold books nothing and asks no issuer: no rule moves money.

use crate::ctx::{Ctx, actor_of, refuse};
use jiff::{SignedDuration, Timestamp};
use suanpan_core::risk::{self, Action, Decision, Facts, Finding, Limits, Schedule};
use suanpan_core::{Amount, TxnKind};
use suanpan_store::command::{Instrument, Origin};
use suanpan_store::repo::risk::{self as repo, NewAlert, RatioScope, Scope};
use suanpan_store::repo::terminals::TerminalState;
use suanpan_store::{Refused, StoreError};

/// What the risk rules are asked about: a sale, a pre-authorization or a balance inquiry.
pub(crate) struct Asked<'a> {
    /// `Sale`, `PreAuth` or `BalanceInquiry`.
    pub kind: TxnKind,
    /// How much (zero for a balance inquiry).
    pub amount: Amount,
    /// Card or wallet.
    pub instrument: &'a Instrument,
    /// A PIN was entered.
    pub pin_entered: bool,
    /// The counter confirmed a possible duplicate charge (issue 13).
    pub confirm_duplicate: bool,
}

/// Asks the risk rules about a purchase at an open terminal. `Some(reply)`: refused or
/// held, answered, nothing booked; `None`: go on (its alerts are raised already).
pub(crate) fn assess<T: From<Refused>>(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    term: &TerminalState,
    p: &Asked<'_>,
) -> Result<Option<T>, StoreError> {
    // Training moves no money and teaches the counter; the rules watch live payments.
    if origin.training {
        return Ok(None);
    }
    let params = ctx.tx.policy.risk.clone();
    let card = match p.instrument {
        Instrument::Card {
            masked_pan,
            fingerprint,
            ..
        } => Some((masked_pan, fingerprint.as_str())),
        Instrument::Wallet { .. } => None,
    };
    let (facts, review) = load(ctx, &params, term, p, card.map(|(m, f)| (m.as_str(), f)))?;
    let a = risk::assess(&params, &facts);
    if a.decision == Decision::Allow {
        return Ok(None);
    }
    if let Some(id) = review
        && matches!(a.decision, Decision::Alert)
    {
        repo::use_review(ctx.tx.conn, id)?;
    }
    let actor = actor_of(origin);
    for f in &a.findings {
        raise(ctx, &actor, term, p, card.map(|(m, fp)| (m.last4(), fp)), f)?;
    }
    let kind = p.kind.as_str();
    let target = format!("terminal:{}", term.id);
    match a.decision {
        Decision::Refuse(r) | Decision::Hold(r) => refuse(ctx, &actor, kind, &target, r).map(Some),
        Decision::Allow | Decision::Alert => Ok(None),
    }
}

/// The rules' facts, and an approved over-limit review of this card and amount (its alert
/// id) when there is one.
fn load(
    ctx: &mut Ctx<'_, '_>,
    params: &risk::RiskParams,
    term: &TerminalState,
    p: &Asked<'_>,
    card: Option<(&str, &str)>,
) -> Result<(Facts, Option<i64>), StoreError> {
    let now = ctx.tx.now;
    let conn = ctx.tx.conn;
    let ago = |minutes: u32| {
        now.checked_sub(SignedDuration::from_mins(i64::from(minutes)))
            .unwrap_or(Timestamp::MIN)
    };
    // Limits are read once per merchant in a group, the blocklist once per group while it
    // is empty (`repo::risk::*_in_group`): a group of a thousand sales asks once.
    let (acquirer, own) = repo::merchant_limits_in_group(ctx.tx, &term.merchant_id)?;
    let base = acquirer
        .as_ref()
        .map_or_else(|| params.limits.clone(), |a| a.limits.clone());
    let limits: Limits = match &own {
        Some(o) => base.tightened(&o.limits),
        None => base,
    };
    // The merchant's own hours win over the acquirer's; either may set them.
    let schedule: Option<Schedule> = own
        .as_ref()
        .and_then(|o| o.schedule)
        .or(acquirer.as_ref().and_then(|a| a.schedule));
    let velocity_since = ago(params.velocity_window_minutes);
    let pays = matches!(p.kind, TxnKind::Sale | TxnKind::PreAuth);
    let terminal_window =
        if pays && (limits.terminal_count_max > 0 || limits.terminal_amount_max_fen > 0) {
            Some(repo::window(
                conn,
                Scope::Terminal(term.id.as_str()),
                velocity_since,
            )?)
        } else {
            None
        };
    let merchant_window =
        if pays && (limits.merchant_count_max > 0 || limits.merchant_amount_max_fen > 0) {
            Some(repo::window(
                conn,
                Scope::Merchant(&term.merchant_id),
                velocity_since,
            )?)
        } else {
            None
        };
    let (card_events, blocklisted, review) = match card {
        Some((masked, fp)) => {
            // No rule reading the card's history is on: it is not loaded.
            let events = if params.reads_card_events(&limits) {
                let since = ago(params.card_lookback_minutes(&limits));
                suanpan_store::repo::prefetch::card_events(ctx.tx, fp, since)?
            } else {
                Vec::new()
            };
            let bin = masked.get(..6).unwrap_or_default();
            let blocked = repo::blocklisted_in_group(ctx.tx, fp, bin)?;
            let over =
                limits.single_amount_max_fen > 0 && p.amount.fen() > limits.single_amount_max_fen;
            let review = if over {
                let since = ago(params.review_retry_minutes);
                repo::approved_review(ctx.tx.conn, &term.merchant_id, fp, p.amount, since)?
            } else {
                None
            };
            (events, blocked, review)
        }
        None => (Vec::new(), false, None),
    };
    let zone = ctx.tx.policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    let facts = Facts {
        now,
        local_time: now.to_zoned(zone).time(),
        kind: p.kind,
        amount: p.amount,
        by_card: card.is_some(),
        card_events,
        terminal_window,
        merchant_window,
        limits,
        schedule,
        blocklisted,
        duplicate_confirmed: p.confirm_duplicate,
        review_approved: review.is_some(),
        pin_entered: p.pin_entered,
    };
    Ok((facts, review))
}

/// Audits a finding with its rule and inputs and raises its alert (a held purchase's alert
/// waits for a reviewer).
fn raise(
    ctx: &mut Ctx<'_, '_>,
    actor: &str,
    term: &TerminalState,
    p: &Asked<'_>,
    card: Option<(&str, &str)>,
    f: &Finding,
) -> Result<(), StoreError> {
    let (action, review) = match &f.action {
        Action::Refuse(_) => ("refused", None),
        Action::Hold(_) => ("held", Some("pending")),
        Action::Alert => ("alerted", None),
    };
    let alert = NewAlert {
        merchant_id: &term.merchant_id,
        terminal_id: Some(term.id.as_str()),
        rule: f.rule.as_str(),
        severity: f.severity.as_str(),
        action,
        card_last4: card.map(|(l, _)| l),
        card_fp: card.map(|(_, fp)| fp),
        amount: Some(p.amount),
        txn_ids: &f.evidence,
        inputs: &f.inputs,
        review,
        at: ctx.tx.now,
    };
    let id = repo::insert_alert(ctx.tx.conn, &alert)?;
    ctx.tx.audit(
        actor,
        &format!("risk.{}", f.rule.as_str()),
        &format!("alert:{id}"),
        &f.inputs,
        action,
    );
    Ok(())
}

/// After a void or a refund: the voids and refunds against the sales of the business day,
/// of the operator who did it and of the terminal (`core::risk::void_ratio`) — an alert,
/// never a refusal (seed 002: a void that goes wrong is for a person to look at). Each
/// operator and each terminal raises it once a business day, when it first passes the
/// ratio: later voids of the same day add nothing new for the supervisor to look at.
pub(crate) fn after_void_or_refund(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    term: &TerminalState,
    done: &suanpan_core::Transaction,
) -> Result<(), StoreError> {
    if origin.training {
        return Ok(());
    }
    let params = ctx.tx.policy.risk.clone();
    if params.void_ratio_percent_max == 0 {
        // The rule is off: the day is not counted.
        return Ok(());
    }
    let since = ctx.tx.policy.business_day_start(ctx.tx.now);
    let operator = origin.operator.to_string();
    for scope in [
        RatioScope::Operator(&operator),
        RatioScope::Terminal(term.id.as_str()),
    ] {
        let (sales, voids) = repo::void_ratio_counts(ctx.tx.conn, &term.merchant_id, scope, since)?;
        let Some(mut f) = risk::void_ratio(&params, sales, voids) else {
            continue;
        };
        let who = match scope {
            RatioScope::Operator(o) => format!("operator={o}"),
            RatioScope::Terminal(t) => format!("terminal={t}"),
        };
        if repo::void_ratio_alerted(ctx.tx.conn, &term.merchant_id, &who, since)? {
            continue;
        }
        f.evidence = vec![done.id];
        f.inputs = format!("{who} {}", f.inputs);
        let alert = NewAlert {
            merchant_id: &term.merchant_id,
            terminal_id: Some(term.id.as_str()),
            rule: f.rule.as_str(),
            severity: f.severity.as_str(),
            action: "alerted",
            card_last4: done.masked_pan.as_ref().map(|m| m.last4()),
            card_fp: None,
            amount: Some(done.amount),
            txn_ids: &f.evidence,
            inputs: &f.inputs,
            review: None,
            at: ctx.tx.now,
        };
        let id = repo::insert_alert(ctx.tx.conn, &alert)?;
        let actor = actor_of(origin);
        ctx.tx.audit(
            &actor,
            "risk.void_ratio",
            &format!("alert:{id}"),
            &f.inputs,
            "alerted",
        );
    }
    Ok(())
}
