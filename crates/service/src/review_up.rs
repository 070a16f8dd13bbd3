//! The back-office's refund of a sale the network upstream decided (s17-refund): an
//! approved request's execution sends the 0200 with processing code `200000` and the
//! refund's amount, two-phase exactly as the terminal's refund
//! ([`crate::upstream::network::Network::purchase`]: the *authorizing* row and the amount
//! reserved on the sale in one writer command, the request outside any store transaction,
//! its fate in a second command, a time-out reversed by a queued 0420 with 39 = 68, and the
//! start-up resolution of a row left authorizing). The card number is the one the sale's row
//! keeps sealed for its refund window.
//!
//! The executor reaches the upstream through the [`Upstream`] of its own process (`serve`
//! with `--upstream` hands the host's to the back-office). It runs on a blocking thread and
//! blocks on the two-phase future through the runtime's handle: the writer is never held
//! while the request is on the wire, and each wait is bounded — each writer command by
//! `suanpan_store::writer::ANSWER_WAIT_MAX`, the switch's answer by `upstream_timeout_ms`.
//! Without a link that is up, or without the card number, nothing is booked and the request
//! fails with a catalog key the back-office shows in words.

use crate::review::{Outcome, RequestError};
use crate::upstream::Upstream;
use crate::upstream::network::Presented;
use suanpan_core::refusal::RefundRefused;
use suanpan_core::{Refusal, ResponseCode, TxnId, TxnStatus};
use suanpan_store::command::OriginalRef;
use suanpan_store::command::Refund;
use suanpan_store::repo::upstream as repo;
use suanpan_store::{Store, StoreError, TxnReply};
use suanpan_upstream::LinkState;
use suanpan_upstream::msg::Card;

/// POS entry mode (field 22) of a refund sent from the back-office: the card number keyed
/// (`01`: taken from the sale's row, no card read) and no PIN entry capability (`2`).
const ENTRY_MODE_BACK_OFFICE: &str = "012";

/// The catalog key of a refund reversed for want of an answer (nothing refunded).
pub const KEY_NO_ANSWER: &str = "refund.upstream_no_answer";

/// The original a request's refund names (a request names it by id).
fn refund_original(cmd: &Refund) -> Option<TxnId> {
    match cmd.original {
        OriginalRef::Id(id) => Some(id),
        _ => None,
    }
}

/// Whether `cmd` (a request's refund) is of a sale the network upstream decided.
pub(crate) fn goes_up(store: &dyn Store, cmd: &Refund) -> Result<bool, StoreError> {
    let Some(id) = refund_original(cmd) else {
        return Ok(false);
    };
    suanpan_store::read(store, |c| Ok(repo::find(c, id)?.is_some()))
}

/// Sends the refund `cmd` of a sale the network upstream decided through `upstream`, and
/// says how the request ends. Blocks the calling (blocking) thread until phase two is
/// committed or a bounded wait ends.
pub(crate) fn refund_up(
    store: &dyn Store,
    upstream: &Upstream,
    cmd: Refund,
) -> Result<Outcome, RequestError> {
    let down = RefundRefused::UpstreamDown.key();
    let Upstream::Network(net) = upstream else {
        tracing::warn!("a back-office refund must go upstream; this process has no link to it");
        return Ok(Outcome::failed(down));
    };
    let Some(id) = refund_original(&cmd) else {
        return Err(StoreError::Invalid("not a refund".into()).into());
    };
    let Some(pan) = kept_pan(store, id)? else {
        return Ok(Outcome::failed(RefundRefused::ThroughUpstream.key()));
    };
    if net.link_for(&pan).state() != LinkState::Up {
        return Ok(Outcome::failed(down));
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::error!("the review executor runs outside a runtime: no refund can go up");
        return Ok(Outcome::failed(down));
    };
    let presented = presented(store, pan);
    let reply = runtime.block_on(net.purchase(store, cmd, &presented))?;
    Ok(outcome(reply))
}

/// The sale's card number as its row keeps it, opened; `None` once forgotten.
fn kept_pan(store: &dyn Store, id: TxnId) -> Result<Option<String>, StoreError> {
    let keys = store.keys().clone();
    let sealed = suanpan_store::read(store, |c| repo::kept_pan(c, &*keys, id))?;
    sealed
        .map(|s| {
            String::from_utf8(s.expose().to_vec()).map_err(|_| {
                StoreError::Invalid(format!("txn {id}: the sealed card number is not text"))
            })
        })
        .transpose()
}

/// The card as it goes up (no expiry, no PIN: a credit needs neither), and the local time
/// and date (fields 12, 13) in the merchant's zone by the store's clock.
fn presented(store: &dyn Store, pan: String) -> Presented {
    let zone = store.policy().zone().unwrap_or(jiff::tz::TimeZone::UTC);
    let (local_time, local_date) =
        suanpan_upstream::local_time_and_date(zone.to_datetime(store.now()));
    Presented {
        card: Card {
            pan,
            expiry: None,
            entry_mode: ENTRY_MODE_BACK_OFFICE.to_owned(),
            pin_block: None,
        },
        local_time,
        local_date,
    }
}

/// How a refund that went up ends the request: executed when approved; failed with words
/// when the link could not take it (91, not sent) or no answer came (reversed upstream), as
/// for any decline otherwise.
fn outcome(reply: TxnReply) -> Outcome {
    let failed_with = |id, key: &str| Outcome {
        txn: Some(id),
        ..Outcome::failed(key)
    };
    match &reply {
        TxnReply::Booked(t) if t.status == TxnStatus::ReversalPending => {
            failed_with(t.id, KEY_NO_ANSWER)
        }
        TxnReply::Booked(t)
            if t.status == TxnStatus::Declined
                && t.response_code == ResponseCode::IssuerUnavailable =>
        {
            failed_with(t.id, RefundRefused::UpstreamDown.key())
        }
        _ => Outcome::of(reply),
    }
}
