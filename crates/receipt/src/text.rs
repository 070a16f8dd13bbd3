//! Column arithmetic for a thermal printer: display width, wrapping, label/value lines.
//!
//! Widths are measured with the East Asian *ambiguous* characters counted as two cells
//! (`width_cjk`), because the GB fonts of Chinese thermal printers print them full-width
//! (`—`, `·`, `×`…). Counting them as one would let a line overflow and wrap on paper.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The printed width of `text` in cells: CJK and ambiguous characters count two.
pub fn display_width(text: &str) -> usize {
    text.width_cjk()
}

fn char_width(ch: char) -> usize {
    ch.width_cjk().unwrap_or(0)
}

/// A full-width separator of `-`.
pub fn separator(width: usize) -> String {
    "-".repeat(width)
}

/// `label` on the left and `value` right-aligned on one line of `width` cells. When both do
/// not fit (with at least one space between), the label stands alone and the value wraps
/// onto the following lines, each right-aligned, so no line exceeds `width`. Lines are joined
/// by `\n`, without a trailing newline.
pub fn line(label: &str, value: &str, width: usize) -> String {
    let (lw, vw) = (display_width(label), display_width(value));
    if value.is_empty() {
        return wrap(label, width).join("\n");
    }
    if label.is_empty() && vw <= width {
        return right(value, width);
    }
    if lw + 1 + vw <= width {
        return format!("{label}{}{value}", " ".repeat(width - lw - vw));
    }
    let mut out = if label.is_empty() {
        Vec::new()
    } else {
        wrap(label, width)
    };
    out.extend(wrap(value, width).iter().map(|part| right(part, width)));
    out.join("\n")
}

/// `text` right-aligned in `width` cells (one line that already fits).
fn right(text: &str, width: usize) -> String {
    let pad = width.saturating_sub(display_width(text));
    format!("{}{text}", " ".repeat(pad))
}

/// `text` wrapped and each line centred, without trailing spaces.
pub fn center(text: &str, width: usize) -> String {
    let lines: Vec<String> = wrap(text, width)
        .into_iter()
        .map(|part| {
            let pad = width.saturating_sub(display_width(&part)) / 2;
            format!("{}{part}", " ".repeat(pad))
        })
        .collect();
    lines.join("\n")
}

/// A marker meant to be seen (reprint, training, declined): framed by `***` when that fits,
/// plain and centred otherwise.
pub fn banner(text: &str, width: usize) -> String {
    let framed = format!("*** {text} ***");
    if display_width(&framed) <= width {
        center(&framed, width)
    } else {
        center(text, width)
    }
}

/// A piece of text that may not be split unless it is wider than a whole line.
struct Token {
    text: String,
    space_before: bool,
}

/// Splits into ASCII words and single wide characters: a Chinese line may break between any
/// two characters, an English one only at spaces.
fn tokens(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut word = String::new();
    let mut space_before = false;
    for ch in text.chars() {
        if ch.is_whitespace() {
            flush(&mut out, &mut word, &mut space_before);
            space_before = true;
        } else if char_width(ch) >= 2 {
            flush(&mut out, &mut word, &mut space_before);
            out.push(Token {
                text: ch.to_string(),
                space_before,
            });
            space_before = false;
        } else {
            word.push(ch);
        }
    }
    flush(&mut out, &mut word, &mut space_before);
    out
}

fn flush(out: &mut Vec<Token>, word: &mut String, space_before: &mut bool) {
    if !word.is_empty() {
        out.push(Token {
            text: std::mem::take(word),
            space_before: *space_before,
        });
        *space_before = false;
    }
}

/// Greedy wrap of `text` into lines of at most `width` cells; a token wider than a line is
/// cut between characters. Always returns at least one (possibly empty) line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for token in tokens(text) {
        let gap = usize::from(token.space_before && !current.is_empty());
        if display_width(&current) + gap + display_width(&token.text) <= width {
            if gap == 1 {
                current.push(' ');
            }
            current.push_str(&token.text);
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        current = hard_split(&token.text, width, &mut lines);
    }
    lines.push(current);
    lines
}

/// Cuts an over-long token into full lines pushed to `lines`; returns the unfinished rest.
fn hard_split(token: &str, width: usize, lines: &mut Vec<String>) -> String {
    let mut rest = String::new();
    for ch in token.chars() {
        if display_width(&rest) + char_width(ch) > width && !rest.is_empty() {
            lines.push(std::mem::take(&mut rest));
        }
        rest.push(ch);
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(text: &str) -> Vec<usize> {
        text.lines().map(display_width).collect()
    }

    #[test]
    fn cjk_counts_two_cells_and_ascii_one() {
        // Goal: the measure every alignment rests on.
        assert_eq!(display_width("商户名称"), 8);
        assert_eq!(display_width("RMB 12.34"), 9);
        assert_eq!(display_width("Suanpan 算盘"), 12);
        assert_eq!(
            display_width("—"),
            2,
            "ambiguous width prints full-width on GB fonts"
        );
    }

    #[test]
    fn label_left_value_right_on_one_line() {
        // Goal: mixed CJK/ASCII lines fill the width exactly.
        let got = line("金额", "RMB 12.34", 32);
        assert_eq!(got, format!("金额{}RMB 12.34", " ".repeat(32 - 4 - 9)));
        assert_eq!(display_width(&got), 32);
        let got = line("商户名称", "算盘便利店", 32);
        assert_eq!(
            got,
            format!("商户名称{}算盘便利店", " ".repeat(32 - 8 - 10))
        );
        assert_eq!(line("AMOUNT", "RMB 1.00", 20), "AMOUNT      RMB 1.00");
    }

    #[test]
    fn exact_fit_keeps_one_space() {
        // Goal: label and value never touch; 1 cell of gap is the minimum.
        assert_eq!(line("卡号", "1234567890", 15), "卡号 1234567890");
        assert_eq!(line("卡号", "12345678901", 15), "卡号\n    12345678901");
    }

    #[test]
    fn long_value_wraps_right_aligned() {
        // Goal: a value too long for the label line moves below it, right-aligned, wrapped.
        let got = line("商户名称", "算盘便利店上海南京东路旗舰店第一分店", 32);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[0], "商户名称");
        assert!(
            lines[1..]
                .iter()
                .all(|l| display_width(l) == 32 || l.starts_with(' '))
        );
        assert!(widths(&got).iter().all(|w| *w <= 32));
        assert_eq!(
            lines.concat().replace(' ', "").replace("商户名称", ""),
            "算盘便利店上海南京东路旗舰店第一分店"
        );
    }

    #[test]
    fn english_wraps_at_spaces() {
        // Goal: English words are not cut unless one word is wider than the line.
        let got = wrap(
            "I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES",
            32,
        );
        assert_eq!(
            got,
            [
                "I ACKNOWLEDGE SATISFACTORY",
                "RECEIPT OF RELATIVE",
                "GOODS/SERVICES"
            ]
        );
        let got = wrap("ABCDEFGHIJ", 4);
        assert_eq!(got, ["ABCD", "EFGH", "IJ"]);
    }

    #[test]
    fn wide_char_never_straddles_the_edge() {
        // Goal: an odd cell left at the end of a line cannot take a 2-cell character.
        let got = wrap("a算盘算盘", 4);
        assert_eq!(got, ["a算", "盘算", "盘"]);
        assert!(
            line("x", "算盘算盘算", 5)
                .lines()
                .all(|l| display_width(l) <= 5)
        );
    }

    #[test]
    fn centred_and_framed_markers() {
        // Goal: markers centre without trailing spaces and drop the frame when too wide.
        assert_eq!(center("POS签购单", 15), "   POS签购单");
        assert_eq!(banner("重打印 REPRINT", 32), "     *** 重打印 REPRINT ***");
        assert_eq!(
            banner("培训 TRAINING — 非正式交易", 32),
            "  培训 TRAINING — 非正式交易"
        );
        assert_eq!(separator(4), "----");
    }
}
