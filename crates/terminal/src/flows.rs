//! Key handlers of the screens that assemble a transaction (amount, card, PIN, voucher,
//! original, reason, supervisor, RRN, grace countdown) and of the result and preview.

use crate::machine::{
    AMOUNT_DIGITS_MAX, App, CardChoice, Draft, Effect, Flow, Key, OriginalView, Outcome,
    REASON_CHARS_MAX, Screen, VOID_REASONS, yuan,
};
use crate::state::WithdrawnVoid;
use suanpan_core::{Pan, TxnKind};

/// How a demo card can be read: entry mode (field 22) and catalog key.
pub const READ_MODES: [(&str, &str); 3] = [
    ("05", "read.chip"),
    ("02", "read.swipe"),
    ("07", "read.tap"),
];

/// Digits of a manually typed PAN.
const PAN_DIGITS_MAX: usize = 19;
/// Digits of a PIN.
const PIN_DIGITS_MAX: usize = 12;
/// Digits of an RRN.
const RRN_DIGITS: usize = 12;
/// Digits of an authorization code as this host issues them.
const AUTH_CODE_DIGITS: usize = 6;

pub(crate) fn push(s: &mut String, k: Key, max: usize) -> bool {
    match k {
        Key::Digit(d) if s.len() < max => {
            s.push(char::from(b'0' + d));
            true
        }
        Key::Back => {
            s.pop();
            true
        }
        _ => false,
    }
}

impl App {
    pub(crate) fn amount_key(
        &mut self,
        k: Key,
        draft: Draft,
        mut digits: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut digits, k, AMOUNT_DIGITS_MAX) {
            // A leading zero adds nothing on a POS keypad.
            if digits == "0" {
                digits.clear();
            }
            self.screen = Screen::Amount {
                draft,
                digits,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Enter => {
                let fen: i64 = digits.parse().unwrap_or(0);
                let error = if fen <= 0 {
                    Some(self.t("amount.zero"))
                } else if fen > self.state.params.amount_max_fen {
                    Some(self.tf("amount.over", &[yuan(self.state.params.amount_max_fen)]))
                } else {
                    None
                };
                if error.is_some() {
                    self.screen = Screen::Amount {
                        draft,
                        digits,
                        error,
                    };
                    return Vec::new();
                }
                let mut d = draft;
                d.amount = Some(fen);
                self.advance(d)
            }
            _ => {
                self.screen = Screen::Amount {
                    draft,
                    digits,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn card_key(
        &mut self,
        k: Key,
        draft: Draft,
        manual: Option<String>,
        error: Option<String>,
    ) -> Vec<Effect> {
        let stay = |app: &mut App, draft, manual, error| {
            app.screen = Screen::Card {
                draft,
                manual,
                error,
            };
            Vec::new()
        };
        if let Some(mut pan) = manual {
            if push(&mut pan, k, PAN_DIGITS_MAX) {
                return stay(self, draft, Some(pan), None);
            }
            return match k {
                Key::Cancel => stay(self, draft, None, None),
                Key::Enter => match Pan::parse(&pan) {
                    Ok(_) => {
                        let mut d = draft;
                        d.card = Some(CardChoice {
                            pan,
                            expiry: String::new(),
                            note: String::new(),
                            entry: "01",
                        });
                        self.advance(d)
                    }
                    Err(_) => {
                        let e = self.t("card.bad_pan");
                        stay(self, draft, Some(pan), Some(e))
                    }
                },
                _ => stay(self, draft, Some(pan), error),
            };
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Up | Key::Down => {
                // How the demo card is read: chip, swipe or tap (field 22).
                let n = READ_MODES.len();
                self.read_mode = match k {
                    Key::Up => (self.read_mode + n - 1) % n,
                    _ => (self.read_mode + 1) % n,
                };
                stay(self, draft, None, error)
            }
            Key::Digit(0) => stay(self, draft, Some(String::new()), None),
            Key::Digit(d) => match self.cards.get(usize::from(d) - 1).cloned() {
                Some(mut c) => {
                    c.entry = READ_MODES[self.read_mode % READ_MODES.len()].0;
                    let mut d = draft;
                    d.card = Some(c);
                    self.advance(d)
                }
                None => {
                    let e = self.t("card.no_such");
                    stay(self, draft, None, Some(e))
                }
            },
            _ => stay(self, draft, None, error),
        }
    }

    pub(crate) fn pin_key(&mut self, k: Key, draft: Draft, mut pin: String) -> Vec<Effect> {
        if push(&mut pin, k, PIN_DIGITS_MAX) {
            self.screen = Screen::Pin { draft, pin };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Enter => {
                let mut d = draft;
                d.pin = Some(pin);
                self.advance(d)
            }
            _ => {
                self.screen = Screen::Pin { draft, pin };
                Vec::new()
            }
        }
    }

    pub(crate) fn voucher_key(
        &mut self,
        k: Key,
        draft: Draft,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        let want = draft.flow.voids().unwrap_or(TxnKind::Sale).as_str();
        let voidable: Vec<u32> = self
            .state
            .batch_rows()
            .into_iter()
            .filter(|t| t.kind == want && t.approved() && !t.voided && t.training == self.training)
            .map(|t| t.stan)
            .collect();
        if push(&mut input, k, 6) {
            self.screen = Screen::Voucher {
                draft,
                input,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Up | Key::Down if !voidable.is_empty() => {
                // Pick from the current batch: ↑ newer, ↓ older.
                let now: u32 = input.parse().unwrap_or(0);
                let i = voidable.iter().position(|s| *s == now);
                let j = match (k, i) {
                    (Key::Down, Some(i)) => (i + 1) % voidable.len(),
                    (Key::Up, Some(i)) => (i + voidable.len() - 1) % voidable.len(),
                    _ => 0,
                };
                self.screen = Screen::Voucher {
                    draft,
                    input: format!("{:06}", voidable[j]),
                    error: None,
                };
                Vec::new()
            }
            Key::Enter => {
                let stan: u32 = input.parse().unwrap_or(0);
                let found = self
                    .state
                    .find(stan)
                    .filter(|t| t.training == self.training);
                let problem = match found {
                    None => Some("void.unknown"),
                    Some(t) if t.kind != want => Some("void.not_sale"),
                    Some(t) if !t.approved() => Some("void.declined"),
                    Some(t) if t.voided => Some("void.already"),
                    Some(t) if t.refunded_fen > 0 => Some("void.refunded"),
                    Some(_) => None,
                };
                match (problem, found) {
                    (None, Some(t)) => {
                        let mut d = draft;
                        d.original = Some(OriginalView::of(t));
                        self.advance(d)
                    }
                    (p, _) => {
                        let e = self.t(p.unwrap_or("void.unknown"));
                        self.screen = Screen::Voucher {
                            draft,
                            input,
                            error: Some(e),
                        };
                        Vec::new()
                    }
                }
            }
            _ => {
                self.screen = Screen::Voucher {
                    draft,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn original_key(&mut self, k: Key, draft: Draft) -> Vec<Effect> {
        match k {
            Key::Enter => {
                let mut d = draft;
                d.consent = true;
                self.advance(d)
            }
            Key::Cancel => self.menu(Some(self.t("void.no_consent"))),
            _ => {
                self.screen = Screen::Original { draft };
                Vec::new()
            }
        }
    }

    pub(crate) fn reason_key(
        &mut self,
        k: Key,
        draft: Draft,
        cursor: usize,
        other: Option<String>,
    ) -> Vec<Effect> {
        let n = VOID_REASONS.len() + 1;
        if let Some(mut text) = other {
            match k {
                Key::Char(c) if text.chars().count() < REASON_CHARS_MAX => text.push(c),
                Key::Digit(d) if text.chars().count() < REASON_CHARS_MAX => {
                    text.push(char::from(b'0' + d))
                }
                Key::Back => {
                    text.pop();
                }
                Key::Cancel => {
                    self.screen = Screen::Reason {
                        draft,
                        cursor,
                        other: None,
                    };
                    return Vec::new();
                }
                Key::Enter if !text.trim().is_empty() => {
                    let mut d = draft;
                    d.reason = Some(text.trim().to_owned());
                    return self.advance(d);
                }
                _ => {}
            }
            self.screen = Screen::Reason {
                draft,
                cursor,
                other: Some(text),
            };
            return Vec::new();
        }
        let pick = match k {
            Key::Digit(d) if (1..=n).contains(&usize::from(d)) => Some(usize::from(d) - 1),
            Key::Enter => Some(cursor),
            Key::Cancel => return self.menu(None),
            _ => None,
        };
        let cursor = match k {
            Key::Up => (cursor + n - 1) % n,
            Key::Down => (cursor + 1) % n,
            _ => cursor,
        };
        match pick {
            Some(i) if i < VOID_REASONS.len() => {
                let mut d = draft;
                // The reason is recorded in both languages, whoever reads it later.
                d.reason = Some(format!(
                    "{} {}",
                    crate::text::t(suanpan_core::Lang::Zh, VOID_REASONS[i]),
                    crate::text::t(suanpan_core::Lang::En, VOID_REASONS[i])
                ));
                self.advance(d)
            }
            Some(_) => {
                self.screen = Screen::Reason {
                    draft,
                    cursor: n - 1,
                    other: Some(String::new()),
                };
                Vec::new()
            }
            None => {
                self.screen = Screen::Reason {
                    draft,
                    cursor,
                    other: None,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn supervisor_key(
        &mut self,
        k: Key,
        draft: Draft,
        mut pw: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut pw, k, 12) {
            self.screen = Screen::Supervisor {
                draft,
                pw,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Enter => match self.check_password("00", &pw) {
                Ok(()) => {
                    let mut d = draft;
                    d.supervisor_ok = true;
                    let mut fx = vec![Effect::Save];
                    fx.extend(self.advance(d));
                    fx
                }
                Err(msg) => {
                    self.screen = Screen::Supervisor {
                        draft,
                        pw: String::new(),
                        error: Some(msg),
                    };
                    vec![Effect::Save]
                }
            },
            _ => {
                self.screen = Screen::Supervisor { draft, pw, error };
                Vec::new()
            }
        }
    }

    pub(crate) fn rrn_key(
        &mut self,
        k: Key,
        draft: Draft,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut input, k, RRN_DIGITS) {
            self.screen = Screen::Rrn {
                draft,
                input,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Enter if input.len() == RRN_DIGITS => {
                let mut d = draft;
                // Known here: show what remains refundable; else the host decides alone.
                d.original = self
                    .state
                    .journal
                    .iter()
                    .rev()
                    .find(|t| t.rrn.as_deref() == Some(input.as_str()))
                    .map(OriginalView::of);
                d.rrn = Some(input);
                self.advance(d)
            }
            Key::Enter => {
                let e = self.t("refund.rrn_len");
                self.screen = Screen::Rrn {
                    draft,
                    input,
                    error: Some(e),
                };
                Vec::new()
            }
            _ => {
                self.screen = Screen::Rrn {
                    draft,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn auth_code_key(
        &mut self,
        k: Key,
        draft: Draft,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut input, k, AUTH_CODE_DIGITS) {
            self.screen = Screen::AuthCode {
                draft,
                input,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.menu(None),
            Key::Enter if input.len() == AUTH_CODE_DIGITS => {
                let mut d = draft;
                let known = self
                    .state
                    .journal
                    .iter()
                    .rev()
                    .find(|t| t.kind == "preauth" && t.auth_code.as_deref() == Some(&input));
                if let Some(t) = known {
                    d.original = Some(OriginalView::of(t));
                    if d.flow == Flow::PreAuthVoid {
                        // A pre-auth void releases the whole hold: its amount is known here.
                        d.amount = Some(t.amount_fen);
                    }
                }
                d.auth_code = Some(input);
                self.advance(d)
            }
            Key::Enter => {
                let e = self.t("auth.len");
                self.screen = Screen::AuthCode {
                    draft,
                    input,
                    error: Some(e),
                };
                Vec::new()
            }
            _ => {
                self.screen = Screen::AuthCode {
                    draft,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn grace_key(&mut self, k: Key, draft: Draft, left: u32) -> Vec<Effect> {
        match k {
            Key::Cancel => {
                // Withdrawn in the grace window: never sent, recorded locally.
                let o = draft.original.clone();
                self.state.withdraw(WithdrawnVoid {
                    original_stan: o.as_ref().map_or(0, |o| o.stan),
                    amount_fen: o.as_ref().map_or(0, |o| o.amount_fen),
                    operator: self.operator.clone().unwrap_or_default(),
                    at: self.now.to_string(),
                    seconds_left: left,
                });
                let _ = self.menu(Some(self.t("void.withdrawn")));
                vec![Effect::Save]
            }
            Key::Tick if left <= 1 => {
                let mut d = draft;
                d.grace_done = true;
                self.advance(d)
            }
            Key::Tick => {
                self.screen = Screen::Grace {
                    draft,
                    left: left - 1,
                };
                Vec::new()
            }
            _ => {
                self.screen = Screen::Grace { draft, left };
                Vec::new()
            }
        }
    }

    pub(crate) fn result_key(
        &mut self,
        k: Key,
        outcome: Outcome,
        recharge: Option<Draft>,
    ) -> Vec<Effect> {
        match (k, recharge) {
            (Key::Enter, Some(d)) if d.confirm_duplicate => self.advance(d),
            (Key::Digit(1), Some(d)) if !d.confirm_duplicate => self.advance(d),
            (Key::Enter, _) if self.last_print.is_some() => {
                let text = self
                    .last_print
                    .as_ref()
                    .map(|p| p.text.clone())
                    .unwrap_or_default();
                self.screen = Screen::Receipt { text, scroll: 0 };
                Vec::new()
            }
            (Key::Enter | Key::Cancel, _) => self.menu(None),
            (_, recharge) => {
                self.screen = Screen::Result { outcome, recharge };
                Vec::new()
            }
        }
    }

    pub(crate) fn receipt_key(&mut self, k: Key, text: String, scroll: usize) -> Vec<Effect> {
        let lines = text.lines().count();
        let scroll = match k {
            Key::Down => (scroll + 1).min(lines.saturating_sub(1)),
            Key::Up => scroll.saturating_sub(1),
            Key::Enter | Key::Cancel => return self.menu(None),
            _ => scroll,
        };
        self.screen = Screen::Receipt { text, scroll };
        Vec::new()
    }
}

/// The re-charge a committed void offers: same amount, linked to the voided sale.
pub(crate) fn recharge_of(original: &OriginalView) -> Draft {
    let mut d = Draft::new(Flow::Recharge);
    d.amount = Some(original.amount_fen);
    d.original = Some(original.clone());
    d
}
