//! A terminal master key (TMK) loaded in the acquirer's console under dual control (issue
//! 14, 密钥灌注): two key custodians — two different acquirer users who manage terminals —
//! each enter one component (32 hex digits) with its check value; the components are XORed
//! into the TMK, which is stored as `admin terminal set-tmk` stores it. No one person ever
//! holds the whole key, the server never shows a component or the key back (only check
//! values), and the audit trail names both custodians and the key's check value.
//!
//! The first component waits wrapped under the KEK (`store::terminal_keys`) for at most
//! [`COMPONENT_WAIT_MINUTES_MAX`]; later it counts as absent and the ceremony starts again.
//!
//! Blocking: adapters call this on a blocking thread.

use suanpan_core::TerminalId;
use suanpan_core::backoffice::{self, BackOfficeRefused};
use suanpan_iso8583::crypto::Tmk;
use suanpan_store::backoffice::StaffUser;
use suanpan_store::terminal_keys::{self, PendingComponent};
use suanpan_store::{Store, StoreError};
use zeroize::Zeroizing;

/// Hex digits of a component (a double-length key's).
pub const COMPONENT_HEX_DIGITS: usize = 32;
/// Hex digits of a check value as custodians read and type it.
pub const CHECK_VALUE_HEX_DIGITS: usize = 6;
/// How long a first component waits for the second, in minutes: a ceremony is one sitting.
pub const COMPONENT_WAIT_MINUTES_MAX: i64 = 60;

/// Why a component was not taken.
#[derive(Debug)]
pub enum KeyError {
    /// A rule of the core said no (the role; the same custodian twice).
    Refused(BackOfficeRefused),
    /// Not 32 hex digits.
    Component,
    /// The check value typed is not the component's: it was mistyped.
    CheckValue,
    /// The combined key is a weak DES key (or the two components were equal).
    Weak(String),
    /// No such terminal.
    NotFound,
    /// The first component went meanwhile (combined by someone else, or entered again).
    Changed,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> KeyError {
        match e {
            StoreError::WeakKey(why) => KeyError::Weak(why),
            e => KeyError::Store(e),
        }
    }
}

/// What a component did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entered {
    /// The first component is kept: a second custodian enters the other.
    Waiting {
        /// The component's check value, for the second custodian's record.
        check_value: String,
    },
    /// The TMK is loaded.
    Loaded {
        /// The TMK's check value: the terminal's key loader shows the same.
        check_value: String,
        /// Who entered the first component.
        first_by: String,
    },
}

/// A key's check value as custodians read it: the first 3 bytes of zeros encrypted under it
/// (3DES), upper-case hex.
pub fn check_value_of(key: &[u8; 16]) -> String {
    let kcv = Tmk::from_bytes(*key).check_value();
    hex::encode_upper(&kcv[..CHECK_VALUE_HEX_DIGITS / 2])
}

/// `b` with its lowest bit set so that it has an odd number of ones. DES ignores that bit;
/// two odd-parity components XOR into even parity, so the combined key is adjusted, as key
/// loaders and HSMs do (the check value does not change).
fn odd_parity(b: u8) -> u8 {
    let high = b & 0xFE;
    if high.count_ones().is_multiple_of(2) {
        high | 1
    } else {
        high
    }
}

fn parse_component(text: &str) -> Result<Zeroizing<[u8; 16]>, KeyError> {
    let text = text.trim();
    if text.len() != COMPONENT_HEX_DIGITS {
        return Err(KeyError::Component);
    }
    let mut out = Zeroizing::new([0u8; 16]);
    hex::decode_to_slice(text, &mut out[..]).map_err(|_| KeyError::Component)?;
    Ok(out)
}

/// The first component waiting for terminal `id`, unless it waited too long.
pub fn pending(store: &dyn Store, id: &TerminalId) -> Result<Option<PendingComponent>, KeyError> {
    let p = terminal_keys::pending_component(store, id)?;
    let oldest = store
        .now()
        .as_microsecond()
        .saturating_sub(COMPONENT_WAIT_MINUTES_MAX * 60 * 1_000_000);
    Ok(p.filter(|p| p.entered_at >= oldest))
}

/// A custodian's component of terminal `id`'s TMK, with the check value they read off
/// their sheet: kept as the first, or combined with the first into the TMK.
pub fn enter(
    store: &dyn Store,
    user: &StaffUser,
    id: &TerminalId,
    component: &str,
    typed_check_value: &str,
) -> Result<Entered, KeyError> {
    let part = parse_component(component)?;
    let kcv = check_value_of(&part);
    if !typed_check_value.trim().eq_ignore_ascii_case(&kcv) {
        return Err(KeyError::CheckValue);
    }
    let first = pending(store, id)?;
    backoffice::decide_tmk_component(user.role, first.as_ref().map(|p| p.entered_by.0), user.id)
        .map_err(KeyError::Refused)?;
    let Some(first) = first else {
        if !terminal_keys::put_component(store, user, id, &part[..], &kcv)? {
            return Err(KeyError::NotFound);
        }
        return Ok(Entered::Waiting { check_value: kcv });
    };
    let other = terminal_keys::component_clear(store, id)?.ok_or(KeyError::Changed)?;
    let mut tmk = Zeroizing::new([0u8; 16]);
    for (i, b) in tmk.iter_mut().enumerate() {
        *b = odd_parity(part[i] ^ other.expose().get(i).copied().unwrap_or(0));
    }
    let tmk_hex = Zeroizing::new(hex::encode_upper(&tmk[..]));
    let check_value = check_value_of(&tmk);
    let (first_id, first_name) = first.entered_by;
    if !terminal_keys::load_combined(
        store,
        user,
        id,
        &first_name,
        first_id,
        &tmk_hex,
        &check_value,
    )? {
        return Err(KeyError::Changed);
    }
    Ok(Entered::Loaded {
        check_value,
        first_by: first_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_is_the_known_one_for_a_test_key() {
        // Goal: custodians compare the check value with their sheets and the terminal's key
        // loader; it must be the standard KCV. 0123456789ABCDEFFEDCBA9876543210 is a
        // common test key whose 3DES KCV starts 08D7B4.
        let key: [u8; 16] = hex::decode("0123456789ABCDEFFEDCBA9876543210")
            .expect("hex")
            .try_into()
            .expect("16");
        assert_eq!(check_value_of(&key), "08D7B4");
    }

    #[test]
    fn the_combined_key_gets_odd_parity() {
        for b in 0..=255u8 {
            assert_eq!(odd_parity(b).count_ones() % 2, 1, "{b:#04x}");
            assert_eq!(odd_parity(b) & 0xFE, b & 0xFE, "only the parity bit moves");
        }
    }

    #[test]
    fn components_are_32_hex_digits() {
        assert!(parse_component("0123456789abcdef0123456789ABCDEF").is_ok());
        assert!(matches!(parse_component("0123"), Err(KeyError::Component)));
        assert!(matches!(
            parse_component(&"G".repeat(32)),
            Err(KeyError::Component)
        ));
    }
}
