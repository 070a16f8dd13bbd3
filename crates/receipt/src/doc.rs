//! A slip under construction: lines of one width and language, plus the formats every slip
//! shares (money, local time).

use crate::labels;
use crate::text;
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use suanpan_core::{Amount, Lang};

/// Lines of text for one slip, all at most `width` cells (each helper guarantees it).
pub struct Doc {
    width: usize,
    lang: Lang,
    lines: Vec<String>,
}

impl Doc {
    /// An empty slip.
    pub fn new(width: usize, lang: Lang) -> Doc {
        Doc {
            width,
            lang,
            lines: Vec::new(),
        }
    }

    /// The label for `key` in this slip's language.
    pub fn label<'a>(&self, key: &'a str) -> &'a str {
        labels::text(self.lang, key)
    }

    /// A label template for `key` filled with `args`.
    pub fn fill(&self, key: &str, args: &[&str]) -> String {
        labels::fill(self.lang, key, args)
    }

    /// Label `key` on the left, `value` on the right.
    pub fn field(&mut self, key: &str, value: &str) {
        let label = self.label(key);
        self.lines.push(text::line(label, value, self.width));
    }

    /// Like [`Doc::field`] but skipped when there is no value, for fields a transaction may
    /// lack (a declined sale has no authorization code).
    pub fn field_opt(&mut self, key: &str, value: Option<String>) {
        if let Some(value) = value {
            self.field(key, &value);
        }
    }

    /// Label `key` alone, as a heading.
    pub fn heading(&mut self, key: &str) {
        let label = self.label(key);
        self.lines.push(text::line(label, "", self.width));
    }

    /// Free text, wrapped, left-aligned.
    pub fn para(&mut self, text: &str) {
        self.lines.extend(text::wrap(text, self.width));
    }

    /// Label `key` centred.
    pub fn center(&mut self, key: &str) {
        let label = self.label(key);
        self.lines.push(text::center(label, self.width));
    }

    /// Label `key` as a marker meant to be seen.
    pub fn banner(&mut self, key: &str) {
        let label = self.label(key);
        self.lines.push(text::banner(label, self.width));
    }

    /// A full-width `-` rule.
    pub fn separator(&mut self) {
        self.lines.push(text::separator(self.width));
    }

    /// An empty line (room to sign).
    pub fn blank(&mut self) {
        self.lines.push(String::new());
    }

    /// The slip, one line per row, ending with a newline.
    pub fn finish(self) -> String {
        let mut out = self.lines.join("\n");
        out.push('\n');
        out
    }
}

/// `RMB 12.34`, or `RMB -12.34` when the slip gives money back (void, refund).
pub fn money(lang: Lang, amount: Amount, negative: bool) -> String {
    let sign = if negative && amount.is_positive() {
        "-"
    } else {
        ""
    };
    labels::fill(lang, "money", &[&format!("{sign}{}", amount.yuan())])
}

/// `2024-05-01 14:30:05` in Asia/Shanghai, the zone the cardholder and the merchant read in.
pub fn local_time(at: Timestamp) -> String {
    at.to_zoned(shanghai())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Asia/Shanghai from the system's tz database. Without one (a minimal container), UTC+8 is
/// exact: China has kept that offset without daylight saving since 1991, before any slip.
fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| TimeZone::fixed(Offset::constant(8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_signed_only_when_asked() {
        // Goal: voids and refunds print the minus; sales do not.
        assert_eq!(money(Lang::Zh, Amount::from_fen(1234), false), "RMB 12.34");
        assert_eq!(money(Lang::En, Amount::from_fen(1234), true), "RMB -12.34");
        assert_eq!(money(Lang::En, Amount::ZERO, true), "RMB 0.00", "no -0.00");
    }

    #[test]
    fn time_is_shanghai_local() {
        // Goal: 06:30 UTC is 14:30 on the slip.
        let at: Timestamp = "2024-05-01T06:30:05Z".parse().unwrap();
        assert_eq!(local_time(at), "2024-05-01 14:30:05");
    }
}
