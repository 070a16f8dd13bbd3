//! A merchant's supervisor or admin pauses and resumes one of the merchant's own terminals
//! (issue 13, seed 002: 「立即通知收银员，暂停后续操作」): while paused, the 8583 host refuses
//! the terminal's new money with 58 (`core::rules::decide_terminal_pause`). This use case asks
//! `core::backoffice::decide_terminal_pause_change` (who may, and that a pause says why), then
//! writes the pause and its audit entry through `store::fleet::write_pause`. The web API and
//! the terminals page both call [`change`].
//!
//! Blocking: adapters call it on a blocking thread.

use suanpan_core::backoffice::{self, BackOfficeRefused, StaffRole};
use suanpan_core::{MerchantId, Refusal, TerminalId};
use suanpan_store::fleet::{self, PauseState};
use suanpan_store::{Store, StoreError};

/// Why a terminal was not paused or resumed.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    /// The core said no (the role may not, or a pause without a reason).
    #[error("refused: {}", .0.key())]
    Refused(BackOfficeRefused),
    /// No such terminal at the caller's merchant (another merchant's is answered so too).
    #[error("terminal not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who pauses: the caller's role, the merchant it acts for, and its audit name.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    /// The acting user's role.
    pub role: StaffRole,
    /// The merchant whose terminal it must be.
    pub merchant: &'a MerchantId,
    /// The audit entry's actor (`web:NAME`).
    pub actor: &'a str,
}

/// Pauses (`pause`) or resumes terminal `id` of `by.merchant`, with `reason` (trimmed and
/// audited), as the core allows.
pub fn change(
    store: &dyn Store,
    by: By<'_>,
    id: &TerminalId,
    pause: bool,
    reason: &str,
) -> Result<PauseState, PauseError> {
    backoffice::decide_terminal_pause_change(by.role, pause, reason)
        .map_err(PauseError::Refused)?;
    fleet::write_pause(store, by.merchant, id, by.actor, pause, reason.trim())?
        .ok_or(PauseError::NotFound)
}

/// The merchant's terminals with their pause (the terminals page).
pub fn states(store: &dyn Store, merchant: &MerchantId) -> Result<Vec<PauseState>, StoreError> {
    fleet::pause_states(store, merchant)
}
