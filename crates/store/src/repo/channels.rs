//! Payment channels as the write path reads them.

use super::Tx;
use crate::error::StoreError;
use crate::p;
use crate::sql::{Dialect, Sql, SqlExt};
use suanpan_core::MerchantId;
use suanpan_core::backoffice::Channel;

/// The back-office step from which channels are kept per merchant (`merchant_channels`,
/// issue 14).
const PER_MERCHANT_FROM: i64 = 6;
/// The back-office step from which the acquirer allows channels per merchant
/// (`merchant_channels.allowed`, issue 14).
const ALLOWED_FROM: i64 = 8;

/// Whether a payment channel accepts new transactions of a merchant. A store whose
/// back-office tables were never created has no channel switched off (its schema version is
/// looked up once per group); before back-office step 6 channels were not kept per merchant;
/// a channel the table does not know is closed.
pub fn is_open(
    tx: &mut Tx<'_>,
    channel: Channel,
    merchant: &MerchantId,
) -> Result<bool, StoreError> {
    let version = match tx.cache.backoffice {
        Some(known) => known,
        None => {
            let found = tx
                .conn
                .row(
                    "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
                    p![],
                    |r| r.text(0),
                )?
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            tx.cache.backoffice = Some(found);
            found
        }
    };
    if version == 0 {
        return Ok(true);
    }
    let per_merchant = (version >= PER_MERCHANT_FROM).then_some(merchant);
    let allowed = if version >= ALLOWED_FROM {
        "COALESCE(m.allowed, 1)"
    } else {
        "1"
    };
    // Once per channel and merchant in a group: a channel (or a merchant's allowance) is
    // switched in its own transaction, never inside a group (and on PostgreSQL the first
    // read's share lock is held to the group's commit).
    let key = (channel.as_str(), per_merchant.cloned());
    if let Some(open) = tx.cache.channels.get(&key) {
        return Ok(*open);
    }
    let open = channel_open(tx.conn, channel, per_merchant, allowed)?;
    tx.cache.channels.insert(key, open);
    Ok(open)
}

/// The platform's switch, the acquirer's allowance for the merchant (`allowed`: its SQL) and
/// the merchant's own choice (no row: nothing changed) must all be on. On PostgreSQL the platform's row is read `FOR SHARE`: a change of any merchant's
/// channel locks it first, so it waits for the purchases in flight.
fn channel_open(
    c: &dyn Sql,
    channel: Channel,
    merchant: Option<&MerchantId>,
    allowed: &str,
) -> Result<bool, StoreError> {
    let share = match c.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR SHARE OF c",
    };
    let Some(merchant) = merchant else {
        return Ok(c
            .row(
                &format!("SELECT enabled FROM channels c WHERE id = ?1{share}"),
                p![channel.as_str()],
                |r| r.flag(0),
            )?
            .unwrap_or(false));
    };
    Ok(c.row(
        &format!(
            "SELECT c.enabled, COALESCE(m.enabled, 1), {allowed} FROM channels c
             LEFT JOIN merchant_channels m ON m.channel_id = c.id AND m.merchant_id = ?2
             WHERE c.id = ?1{share}"
        ),
        p![channel.as_str(), merchant.as_str()],
        |r| Ok(r.flag(0)? && r.flag(1)? && r.flag(2)?),
    )?
    .unwrap_or(false))
}
