//! The one table from refusals to 8583 response codes (field 39). The core names a refusal
//! by its catalog key and nothing more; which code a terminal sees is the host's business
//! (spec "Response codes Suanpan uses"). Every refusal not listed is `12` (invalid
//! transaction), as the spec answers a request that a rule refuses.

use suanpan_core::{Refusal, ResponseCode};

/// The 8583 code that answers refusal `r`.
pub fn response_code(r: &dyn Refusal) -> ResponseCode {
    code_of_key(r.key())
}

/// The 8583 code of a refusal's catalog key.
pub fn code_of_key(key: &str) -> ResponseCode {
    match key {
        "access.unknown_terminal" | "access.terminal_disabled" => {
            ResponseCode::TerminalNotRegistered
        }
        "access.unknown_merchant" | "access.merchant_not_active" => ResponseCode::InvalidMerchant,
        // Issue 13: paused by the merchant's supervisor (58, not permitted on this terminal).
        "access.terminal_paused" => ResponseCode::NotPermittedOnTerminal,
        "access.locked_out" | "void.operator_limit" | "risk.card_blocked" | "risk.velocity" => {
            ResponseCode::ExceedsFrequencyLimit
        }
        // Issue 13: 61 over the single-payment limit (declined or held for review), 94 a
        // possible duplicate charge (the counter confirms and retries), 05 a blocklisted card.
        "risk.over_limit" | "risk.held_for_review" => ResponseCode::ExceedsAmountLimit,
        // `declines_action = "require_pin"`: 55 makes the terminal ask for the PIN; the 63
        // text says the card failed repeatedly and needs its PIN.
        "risk.pin_required" => ResponseCode::IncorrectPin,
        "risk.possible_duplicate" => ResponseCode::Duplicate,
        "risk.blocklisted" => ResponseCode::DoNotHonour,
        "access.bad_card" | "access.unknown_instrument" => ResponseCode::InvalidCardNumber,
        "access.bad_amount"
        | "refund.exceeds_remaining"
        | "refund.amount_not_positive"
        | "completion.over_limit"
        | "completion.amount_not_positive" => ResponseCode::InvalidAmount,
        "access.duplicate" => ResponseCode::Duplicate,
        "access.method_mismatch" => ResponseCode::FormatError,
        "access.batch_mismatch" => ResponseCode::SignInAgain,
        "access.linked_not_found"
        | "void.not_found"
        | "refund.not_found"
        | "completion.not_found"
        | "preauth_void.not_found"
        | "hide.not_found" => ResponseCode::OriginalNotFound,
        "access.key_layout_unsupported" => ResponseCode::NotSupported,
        "void.amount_mismatch" | "preauth_void.amount_mismatch" => {
            ResponseCode::OriginalAmountIncorrect
        }
        "refund.review_required" => ResponseCode::ExceedsAmountLimit,
        _ => ResponseCode::InvalidTransaction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_wire_codes() {
        // Goal: the codes terminals saw when the core carried them stay the same, and every
        // key the table names is a refusal the core has (a typo would silently answer 12).
        let cases = [
            ("access.unknown_terminal", "97"),
            ("access.terminal_disabled", "97"),
            ("access.terminal_paused", "58"),
            ("access.unknown_merchant", "03"),
            ("access.merchant_not_active", "03"),
            ("access.locked_out", "65"),
            ("void.operator_limit", "65"),
            ("access.bad_card", "14"),
            ("access.unknown_instrument", "14"),
            ("access.bad_amount", "13"),
            ("refund.exceeds_remaining", "13"),
            ("refund.amount_not_positive", "13"),
            ("completion.over_limit", "13"),
            ("completion.amount_not_positive", "13"),
            ("access.duplicate", "94"),
            ("access.method_mismatch", "30"),
            ("access.batch_mismatch", "77"),
            ("access.linked_not_found", "25"),
            ("void.not_found", "25"),
            ("refund.not_found", "25"),
            ("completion.not_found", "25"),
            ("preauth_void.not_found", "25"),
            ("hide.not_found", "25"),
            ("access.key_layout_unsupported", "40"),
            ("void.amount_mismatch", "64"),
            ("preauth_void.amount_mismatch", "64"),
            ("refund.review_required", "61"),
            ("void.already_voided", "12"),
            ("void.settled", "12"),
            ("reversal.settled", "12"),
            ("backoffice.channel_disabled", "12"),
            ("risk.card_blocked", "65"),
            ("risk.pin_required", "55"),
            ("risk.velocity", "65"),
            ("risk.over_limit", "61"),
            ("risk.held_for_review", "61"),
            ("risk.possible_duplicate", "94"),
            ("risk.blocklisted", "05"),
            ("risk.off_hours", "12"),
        ];
        for (key, code) in cases {
            assert_eq!(code_of_key(key).code(), code, "{key}");
            if code != "12" {
                // Malformed card and amount refusals have a remedy of their own and finer
                // messages (`pan.*`, `amount.*`).
                let fix = format!("{key}.fix");
                let known =
                    suanpan_core::i18n::has_key(&fix) || suanpan_core::risk::CATALOG.has(&fix);
                assert!(known, "{key} is not a refusal of the core");
            }
        }
    }
}
