//! Payment channels (支付渠道) of both tiers. A merchant's admin enables, disables, removes
//! and re-adds its own channels ([`change`]): the admin's password re-entered (checked by the
//! adapter, which rate limits it like a login), a reason, and never a channel with unsettled
//! transactions disabled or removed (`core::backoffice::decide_channel_change`, asked here on
//! the facts read first, then again by the store inside its transaction with the count taken
//! under the channel's row lock). The acquirer switches a channel off for the whole platform
//! ([`switch_platform`], an outage) and allows or withdraws it for one merchant ([`allow`]),
//! each with a reason (`core::backoffice::decide_acquirer_channel`). New transactions through
//! a channel that is not open are refused with 12 by `service::sale::channel_gate`.
//!
//! Blocking: adapters call these on a blocking thread.

use suanpan_core::backoffice::{self, BackOfficeRefused, Channel, ChannelAction, ChannelChange};
use suanpan_core::{MerchantId, Refusal};
use suanpan_store::backoffice::{Backoffice, ChannelRow, StaffUser};
use suanpan_store::{Store, StoreError, admin};

/// Why a channel was not changed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A rule of the core said no (audited as `refused:KEY` for a merchant's own change).
    #[error("refused: {}", .0.key())]
    Refused(BackOfficeRefused),
    /// No such channel.
    #[error("channel not found")]
    NotFound,
    /// No such merchant (the acquirer's allowance).
    #[error("merchant not found")]
    MerchantNotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One merchant's channel with what its page shows beside it.
#[derive(Debug, Clone)]
pub struct ChannelState {
    /// The row: the merchant's choice, the acquirer's allowance, the platform's switch.
    pub row: ChannelRow,
    /// The payment methods that go through it.
    pub methods: Vec<&'static str>,
    /// Its transactions not settled yet (a channel with any cannot be disabled).
    pub unsettled: u64,
}

/// The payment methods of `channel`, as the store counts them.
fn method_names(channel: Channel) -> Vec<&'static str> {
    channel.methods().iter().map(|m| m.as_str()).collect()
}

/// Every channel of `merchant`, with its methods and unsettled count (its users' page and
/// the acquirer's page of the merchant).
pub fn of_merchant(
    store: &dyn Store,
    merchant: &MerchantId,
) -> Result<Vec<ChannelState>, StoreError> {
    let mut out = Vec::new();
    for row in store.channels(merchant)? {
        let methods = Channel::parse(&row.id)
            .map(method_names)
            .unwrap_or_default();
        let unsettled = store.unsettled_count(merchant, &methods)?;
        out.push(ChannelState {
            row,
            methods,
            unsettled,
        });
    }
    Ok(out)
}

/// A merchant admin's change of one of its channels.
#[derive(Debug, Clone)]
pub struct Change {
    /// Which channel.
    pub channel: Channel,
    /// Enable, disable, remove or re-add.
    pub action: ChannelAction,
    /// Why (trimmed here; audited).
    pub reason: String,
    /// The adapter checked the acting user's re-entered password.
    pub password_ok: bool,
}

/// Changes channel `c.channel` of `merchant` as `user` (its admin) asks, as the core decides
/// on the facts read now and again under the channel's row lock; a refusal is audited.
pub fn change(
    store: &dyn Store,
    user: &StaffUser,
    merchant: &MerchantId,
    c: &Change,
) -> Result<(), ChannelError> {
    let names = method_names(c.channel);
    let removed = store
        .channels(merchant)?
        .iter()
        .any(|r| r.id == c.channel.as_str() && r.removed);
    let unsettled = store.unsettled_count(merchant, &names)?;
    let reason = c.reason.trim();
    let decide = |unsettled: u64, removed: bool| {
        backoffice::decide_channel_change(&ChannelChange {
            role: user.role,
            action: c.action,
            reason,
            password_ok: c.password_ok,
            unsettled,
            removed,
        })
    };
    if let Err(r) = decide(unsettled, removed) {
        return Err(refuse(store, user, c, r)?);
    }
    // Decided again inside the store's transaction, with the count and the removed flag
    // taken under the channel's row lock: a sale booked since the first look is counted.
    match store.change_channel(user, c.channel.as_str(), c.action, reason, &names, &decide)? {
        Ok(true) => Ok(()),
        Ok(false) => Err(ChannelError::NotFound),
        Err(r) => Err(refuse(store, user, c, r)?),
    }
}

/// Audits a refused change as `channel.ACTION` on `channel:ID`, and gives the refusal back.
fn refuse(
    store: &dyn Store,
    user: &StaffUser,
    c: &Change,
    r: BackOfficeRefused,
) -> Result<ChannelError, StoreError> {
    store.record_staff_event(
        &user.username,
        &format!("channel.{}", c.action.as_str()),
        &format!("channel:{}", c.channel.as_str()),
        &format!("refused:{}", r.key()),
    )?;
    Ok(ChannelError::Refused(r))
}

/// The platform's switches of every channel (the acquirer's 渠道开关).
pub fn platform(store: &dyn Store) -> Result<Vec<ChannelRow>, StoreError> {
    store.platform_channels()
}

/// Switches `channel` on (`enabled`) or off for the whole platform, as an acquirer user who
/// manages platform channels, with a reason (audited by the store).
pub fn switch_platform(
    store: &dyn Store,
    user: &StaffUser,
    channel: Channel,
    enabled: bool,
    reason: &str,
) -> Result<(), ChannelError> {
    let reason = reason.trim();
    backoffice::decide_acquirer_channel(user.role, reason).map_err(ChannelError::Refused)?;
    if store.set_platform_channel(user, channel.as_str(), enabled, reason)? {
        Ok(())
    } else {
        Err(ChannelError::NotFound)
    }
}

/// Whether `merchant` exists (the acquirer's pages of one merchant answer 404 otherwise).
pub fn merchant_exists(store: &dyn Store, merchant: &MerchantId) -> Result<bool, StoreError> {
    Ok(admin::merchant(store, merchant)?.is_some())
}

/// Allows (`allowed`) or withdraws `channel` for `merchant`, as an acquirer user who manages
/// platform channels, with a reason (audited by the store). Withdrawn, the merchant's new
/// transactions through it are refused whatever the merchant chose.
pub fn allow(
    store: &dyn Store,
    user: &StaffUser,
    merchant: &MerchantId,
    channel: Channel,
    allowed: bool,
    reason: &str,
) -> Result<(), ChannelError> {
    if !merchant_exists(store, merchant)? {
        return Err(ChannelError::MerchantNotFound);
    }
    let reason = reason.trim();
    backoffice::decide_acquirer_channel(user.role, reason).map_err(ChannelError::Refused)?;
    if store.set_merchant_channel_allowed(user, merchant, channel.as_str(), allowed, reason)? {
        Ok(())
    } else {
        Err(ChannelError::NotFound)
    }
}
