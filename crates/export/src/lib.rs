//! The journal as a file for finance: CSV with a UTF-8 BOM (Excel opens it with Chinese
//! intact) or XLSX, both starting with a row that echoes the filter, so a file found later says
//! what it contains. One row stream ([`Export::rows`]) feeds both formats; the CLI's `export`
//! and the back-office's `/api/v1/export` share it.
#![deny(missing_docs)]

use anyhow::Context;
use std::io::Write;
use suanpan_core::i18n::tr;
use suanpan_core::{Lang, PaymentMethod, ResponseCode, Transaction, TxnKind, TxnStatus};
use suanpan_store::sql::SqlRow;
use suanpan_store::{Store, StoreError, TxnFilter, query};

/// Columns of a row.
pub const COLUMNS: usize = 18;

const HEADERS_ZH: [&str; COLUMNS] = [
    "编号",
    "时间",
    "类型",
    "状态",
    "金额(元)",
    "币种",
    "支付方式",
    "卡号",
    "钱包",
    "商户号",
    "终端号",
    "操作员",
    "批次号",
    "凭证号",
    "参考号",
    "授权码",
    "应答码",
    "原交易编号",
];
const HEADERS_EN: [&str; COLUMNS] = [
    "id",
    "time",
    "kind",
    "status",
    "amount_yuan",
    "currency",
    "method",
    "masked_pan",
    "wallet",
    "merchant_id",
    "terminal_id",
    "operator",
    "batch_no",
    "voucher_no",
    "rrn",
    "auth_code",
    "response_code",
    "original_id",
];
/// The amount column (yuan): XLSX writes it as a number.
const AMOUNT_COLUMN: usize = 4;

/// The most transactions one XLSX file holds: a worksheet has 1,048,576 rows and ours spends
/// two on the filter echo and the header row. CSV has no such limit.
pub const XLSX_DATA_ROWS_MAX: u64 = 1_048_576 - 2;

/// An XLSX export refused before a byte was written: more rows match than a worksheet holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XlsxTooLarge {
    /// The most rows an XLSX file holds ([`XLSX_DATA_ROWS_MAX`]).
    pub rows_max: u64,
}

impl std::fmt::Display for XlsxTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "more than {} transactions match: too many for one XLSX worksheet; export as CSV",
            self.rows_max
        )
    }
}

impl std::error::Error for XlsxTooLarge {}

/// The header row in `lang`.
pub fn headers(lang: Lang) -> &'static [&'static str; COLUMNS] {
    match lang {
        Lang::Zh => &HEADERS_ZH,
        Lang::En => &HEADERS_EN,
    }
}

/// How a file names kinds, statuses, methods and answers: in words for people (`消费`,
/// `已撤销`, `闪付`, `00 交易成功`) or as the stable codes for programs (`--raw`, `raw=true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Words in this language.
    Words(Lang),
    /// The codes (`sale`, `voided`, `contactless`, `00`).
    Raw,
}

/// Turns transactions into cells: the time in the merchant's zone; kinds, statuses, methods
/// and answers in words or as codes. Each code's word is looked up in the catalog once and
/// kept, and the row's cells are refilled in place: a million-row export would otherwise
/// search the catalog four times and allocate twenty strings a row (docs/BENCHMARKS.md).
pub struct Cells<'a> {
    zone: &'a jiff::tz::TimeZone,
    values: Values,
    /// `(group, code, cell)`: `("kind", "sale", "消费")`, `("rc", "00", "00 交易成功")`. A
    /// few dozen entries, searched by the codes' addresses (they are `'static` names).
    said: Vec<(&'static str, &'static str, String)>,
    /// The current row's cells.
    cells: [String; COLUMNS],
    /// A code read from a row before it is parsed ([`Cells::row_of`]).
    scratch: String,
}

impl<'a> Cells<'a> {
    /// Cells in `zone`, with `values` in words or codes.
    pub fn new(zone: &'a jiff::tz::TimeZone, values: Values) -> Cells<'a> {
        Cells {
            zone,
            values,
            said: Vec::new(),
            cells: Default::default(),
            scratch: String::new(),
        }
    }

    /// One transaction's cells (valid until the next call).
    pub fn row(&mut self, t: &Transaction) -> &[String; COLUMNS] {
        for c in &mut self.cells {
            c.clear();
        }
        let said = [
            (2, "kind", t.kind.as_str()),
            (3, "tstatus", t.status.as_str()),
            (6, "method", t.method.as_str()),
            (16, "rc", t.response_code.code()),
        ];
        for (i, group, code) in said {
            self.cells[i].push_str(say(&mut self.said, self.values, group, code));
        }
        let c = &mut self.cells;
        digits(&mut c[0], t.id.0.unsigned_abs(), 1);
        local_time(&mut c[1], &self.zone.to_datetime(t.created_at));
        push_yuan(&mut c[4], t.amount.fen());
        c[5].push_str(t.currency.code());
        if let Some(m) = &t.masked_pan {
            c[7].push_str(m.as_str());
        }
        if let Some(w) = &t.wallet_id {
            c[8].push_str(w);
        }
        c[9].push_str(t.merchant_id.as_str());
        c[10].push_str(t.terminal_id.as_str());
        digits(&mut c[11], u64::from(t.operator.value()), 2);
        digits(&mut c[12], u64::from(t.batch_no.value()), 6);
        digits(&mut c[13], u64::from(t.voucher_no.value()), 6);
        if let Some(r) = &t.rrn {
            c[14].push_str(r.as_str());
        }
        if let Some(a) = &t.auth_code {
            c[15].push_str(a.as_str());
        }
        if let Some(o) = t.original_id {
            digits(&mut c[17], o.0.unsigned_abs(), 1);
        }
        &self.cells
    }
}

/// What an export reads of each journal row, in the order [`Cells::row_of`] reads it: the
/// 17 columns its cells show, not the whole transaction.
const EXPORT_ROW: query::Columns = query::Columns {
    list: "id, created_at, kind, status, amount_fen, method, masked_pan, wallet_id, \
           merchant_id, terminal_id, operator, batch_no, voucher_no, rrn, auth_code, \
           response_code, original_id",
    created_at: 1,
};

impl Cells<'_> {
    /// One journal row's cells (valid until the next call), read straight from the row
    /// selected with [`EXPORT_ROW`]: the same cells as [`Cells::row`] of its transaction,
    /// without building one. Kinds, statuses, methods and answers are checked as
    /// [`Cells::row`]'s transaction would have checked them; identifiers and numbers are
    /// written as stored (the types that wrote them checked them). Returns the amount in fen too
    /// (XLSX writes it as a number).
    pub fn row_of(&mut self, r: &dyn SqlRow) -> Result<(&[String; COLUMNS], i64), StoreError> {
        for c in &mut self.cells {
            c.clear();
        }
        let bad =
            |what: &str, value: &str| StoreError::Sqlite(format!("corrupt row: {what}={value}"));
        // The four codes, each read into the scratch string and parsed to its `'static` name.
        let mut code = std::mem::take(&mut self.scratch);
        let t = code_at(r, 2, &mut code)?;
        let kind = TxnKind::parse(t).ok_or_else(|| bad("kind", t))?.as_str();
        let t = code_at(r, 3, &mut code)?;
        let status = TxnStatus::parse(t)
            .ok_or_else(|| bad("status", t))?
            .as_str();
        let t = code_at(r, 5, &mut code)?;
        let method = PaymentMethod::parse(t)
            .ok_or_else(|| bad("method", t))?
            .as_str();
        let t = code_at(r, 15, &mut code)?;
        let rc = ResponseCode::parse(t)
            .ok_or_else(|| bad("response_code", t))?
            .code();
        self.scratch = code;
        for (i, group, code) in [
            (2, "kind", kind),
            (3, "tstatus", status),
            (6, "method", method),
            (16, "rc", rc),
        ] {
            self.cells[i].push_str(say(&mut self.said, self.values, group, code));
        }
        let fen = r.i64(4)?;
        let c = &mut self.cells;
        digits(&mut c[0], r.i64(0)?.unsigned_abs(), 1);
        // As the store reads a time (a value out of range is the epoch).
        let at =
            jiff::Timestamp::from_microsecond(r.i64(1)?).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        local_time(&mut c[1], &self.zone.to_datetime(at));
        push_yuan(&mut c[4], fen);
        c[5].push_str(suanpan_core::Currency::Cny.code());
        for (cell, column) in [
            (7, 6),
            (8, 7),
            (9, 8),
            (10, 9),
            (11, 10),
            (14, 13),
            (15, 14),
        ] {
            r.push_text(column, &mut c[cell])?;
        }
        digits(&mut c[12], u64::from(r.u32(11)?), 6);
        digits(&mut c[13], u64::from(r.u32(12)?), 6);
        if let Some(o) = r.opt_i64(16)? {
            digits(&mut c[17], o.unsigned_abs(), 1);
        }
        Ok((&self.cells, fen))
    }
}

/// Column `i` of `r` read into `scratch` (a code about to be parsed to its `'static` name).
fn code_at<'s>(r: &dyn SqlRow, i: usize, scratch: &'s mut String) -> Result<&'s str, StoreError> {
    scratch.clear();
    r.push_text(i, scratch)?;
    Ok(scratch)
}

/// `fen` as yuan with two decimals (`253.42`, `-0.05`): what [`suanpan_core::Amount::yuan`]
/// writes, appended without a new string.
fn push_yuan(out: &mut String, fen: i64) {
    if fen < 0 {
        out.push('-');
    }
    let abs = fen.unsigned_abs();
    digits(out, abs / 100, 1);
    out.push('.');
    digits(out, abs % 100, 2);
}

/// `group` + `code` as a cell says it: the catalog's word (`kind.sale` → `消费`), an answer
/// code with its words (`00 交易成功`), or the code itself when raw; looked up once, then
/// kept in `said`.
fn say<'s>(
    said: &'s mut Vec<(&'static str, &'static str, String)>,
    values: Values,
    group: &'static str,
    code: &'static str,
) -> &'s str {
    let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
    let at = match said
        .iter()
        .position(|(g, c, _)| same(g, group) && same(c, code))
    {
        Some(i) => i,
        None => {
            let cell = match values {
                Values::Raw => code.to_owned(),
                Values::Words(lang) if group == "rc" => {
                    format!("{code} {}", tr(lang, &format!("rc.{code}"), &[]))
                }
                Values::Words(lang) => tr(lang, &format!("{group}.{code}"), &[]),
            };
            said.push((group, code, cell));
            said.len() - 1
        }
    };
    &said[at].2
}

/// `YYYY-MM-DD HH:MM:SS`, what `strftime("%Y-%m-%d %H:%M:%S")` writes, without parsing a
/// format a million times.
fn local_time(out: &mut String, at: &jiff::civil::DateTime) {
    digits(out, at.year().unsigned_abs().into(), 4);
    for (sep, n) in [
        ('-', at.month()),
        ('-', at.day()),
        (' ', at.hour()),
        (':', at.minute()),
        (':', at.second()),
    ] {
        out.push(sep);
        digits(out, n.unsigned_abs().into(), 2);
    }
}

/// `n` in decimal, zero-padded to `width`, appended to `out`: what `{:0width$}` writes for a
/// non-negative number, without the formatting machinery (a million rows × eight numbers).
fn digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = at.min(buf.len().saturating_sub(width));
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// The filters as `name=value` pairs joined by spaces (`all` when none), for the file's first
/// row. Callers pass the filter as the user gave it, so the echo is what they typed.
pub fn describe(pairs: &[(&str, Option<String>)], include_hidden: bool) -> String {
    let mut parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if include_hidden {
        parts.push("include_hidden".into());
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}

/// Starts a CSV file: BOM, filter row, header row.
fn csv_start<W: Write>(
    mut out: W,
    headers: &[&str; COLUMNS],
    filter_text: &str,
) -> anyhow::Result<csv::Writer<W>> {
    out.write_all(b"\xEF\xBB\xBF").context("writing BOM")?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    w.write_record(["# filter", filter_text])
        .context("writing CSV")?;
    w.write_record(headers).context("writing CSV")?;
    Ok(w)
}

/// Flushes a CSV file and hands its writer back.
fn csv_finish<W: Write>(w: csv::Writer<W>) -> anyhow::Result<W> {
    let mut inner = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing CSV: {e}"))?;
    inner.flush().context("flushing CSV")?;
    Ok(inner)
}

/// The same CSV as [`Export::write_csv`] for transactions the caller already holds (a
/// case's linked transactions in its evidence pack); `filter_text` says which they are.
pub fn write_csv_of<W: Write>(
    out: W,
    headers: &[&str; COLUMNS],
    filter_text: &str,
    txns: &[Transaction],
    zone: &jiff::tz::TimeZone,
    values: Values,
) -> anyhow::Result<W> {
    let mut w = csv_start(out, headers, filter_text)?;
    let mut cells = Cells::new(zone, values);
    for t in txns {
        w.write_record(cells.row(t)).context("writing CSV")?;
    }
    csv_finish(w)
}

/// What both formats write: the filtered rows, their headers and the filter's description.
pub struct Export<'a> {
    /// The journal.
    pub store: &'a dyn Store,
    /// Which rows: every match, whatever its page size says.
    pub filter: &'a TxnFilter,
    /// The merchant's zone, for the time column.
    pub zone: &'a jiff::tz::TimeZone,
    /// The header row.
    pub headers: &'a [&'a str; COLUMNS],
    /// Words or codes in the cells.
    pub values: Values,
    /// The filter echo (see [`describe`]).
    pub filter_text: &'a str,
}

impl Export<'_> {
    /// Streams every matching row to `each` (row index, amount in fen, cells); the first error
    /// stops the stream. Returns the number of rows.
    pub fn rows(
        &self,
        mut each: impl FnMut(u64, i64, &[String; COLUMNS]) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut n = 0u64;
        let mut failed = None;
        let mut cells = Cells::new(self.zone, self.values);
        let streamed = suanpan_store::read(self.store, |c| {
            query::stream_rows_in(c, self.filter, &EXPORT_ROW, &mut |r| {
                let (row, fen) = cells.row_of(r)?;
                if let Err(e) = each(n, fen, row) {
                    failed = Some(e);
                    // Any error stops the listing; the real cause is kept in `failed`.
                    return Err(StoreError::Invalid("export stopped".into()));
                }
                n += 1;
                Ok(())
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        streamed?;
        Ok(n)
    }

    /// How many rows match (exactly up to `limit`; see [`query::count_up_to_in`]).
    pub fn count_up_to(&self, limit: u64) -> anyhow::Result<query::MatchCount> {
        Ok(suanpan_store::read(self.store, |c| {
            query::count_up_to_in(c, self.filter, limit)
        })?)
    }

    /// Writes CSV (BOM, filter row, header row, rows) to `out`; `each_row` runs after each
    /// row (progress bars, flushing a stream). Returns the number of rows.
    pub fn write_csv<W: Write>(
        &self,
        out: W,
        mut each_row: impl FnMut(u64),
    ) -> anyhow::Result<(u64, W)> {
        let mut w = csv_start(out, self.headers, self.filter_text)?;
        let n = self.rows(|i, _, cells| {
            w.write_record(cells).context("writing CSV")?;
            each_row(i);
            Ok(())
        })?;
        Ok((n, csv_finish(w)?))
    }

    /// Builds the XLSX workbook (filter row, header row, rows; the amount as a number so
    /// finance can sum it). Returns the workbook and the number of rows. Refuses with
    /// [`XlsxTooLarge`] before writing when more rows match than a worksheet holds, and stops
    /// with the same error should rows arrive meanwhile: a cut-off workbook is never built.
    /// The worksheet keeps constant memory (rows go to a temporary file as they are written).
    pub fn xlsx(
        &self,
        mut each_row: impl FnMut(u64),
    ) -> anyhow::Result<(rust_xlsxwriter::Workbook, u64)> {
        let too_large = XlsxTooLarge {
            rows_max: XLSX_DATA_ROWS_MAX,
        };
        if !self.count_up_to(XLSX_DATA_ROWS_MAX)?.exact {
            return Err(too_large.into());
        }
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory();
        let x = |e: rust_xlsxwriter::XlsxError| anyhow::anyhow!("xlsx: {e}");
        sheet.write_string(0, 0, "filter").map_err(x)?;
        sheet.write_string(0, 1, self.filter_text).map_err(x)?;
        for (i, h) in self.headers.iter().enumerate() {
            sheet.write_string(1, i as u16, *h).map_err(x)?;
        }
        let n = self.rows(|n, fen, cells| {
            if n >= XLSX_DATA_ROWS_MAX {
                return Err(too_large.into());
            }
            let line = n as u32 + 2;
            for (i, v) in cells.iter().enumerate() {
                if i == AMOUNT_COLUMN {
                    // fen → yuan at the very edge; exact for every amount a sale can have.
                    sheet
                        .write_number(line, i as u16, fen as f64 / 100.0)
                        .map_err(x)?;
                } else {
                    sheet.write_string(line, i as u16, v).map_err(x)?;
                }
            }
            each_row(n);
            Ok(())
        })?;
        Ok((book, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_echoes_given_filters_only() {
        let pairs = [("min", Some("10.00".to_owned())), ("kind", None)];
        assert_eq!(describe(&pairs, false), "min=10.00");
        assert_eq!(describe(&pairs, true), "min=10.00 include_hidden");
        assert_eq!(describe(&[("kind", None)], false), "all");
    }

    #[test]
    fn digits_write_what_the_formatter_writes() {
        for (n, width) in [
            (0u64, 1),
            (7, 2),
            (42, 6),
            (123_456, 6),
            (1_234_567, 6),
            (u64::MAX, 1),
        ] {
            let mut s = String::from("x");
            digits(&mut s, n, width);
            assert_eq!(s, format!("x{n:0width$}"));
        }
        let at: jiff::civil::DateTime = "2026-01-02 03:04:05".parse().unwrap();
        let mut s = String::new();
        local_time(&mut s, &at);
        assert_eq!(s, at.strftime("%Y-%m-%d %H:%M:%S").to_string());
    }

    #[test]
    fn both_header_rows_have_every_column() {
        assert_eq!(headers(Lang::Zh).len(), headers(Lang::En).len());
        assert_eq!(headers(Lang::En)[AMOUNT_COLUMN], "amount_yuan");
    }
}
