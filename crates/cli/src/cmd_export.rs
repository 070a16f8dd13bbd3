//! `export`: the day's (or any filter's) transactions for finance, as CSV with a UTF-8 BOM
//! (Excel opens it with Chinese intact) or XLSX. Streams rows; a progress bar on a terminal.

use crate::app::{App, Fail};
use crate::args::{ExportArgs, ExportFormat};
use crate::cmd_txn::filter;
use crate::output;
use anyhow::Context;
use serde_json::json;
use std::io::Write;
use suanpan_core::{Lang, Transaction};
use suanpan_store::query;

/// Rows above which a progress bar is worth showing.
const PROGRESS_ROWS_MIN: u64 = 5_000;

const HEADERS_ZH: [&str; 18] = [
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
const HEADERS_EN: [&str; 18] = [
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

fn row(t: &Transaction, zone: &jiff::tz::TimeZone) -> [String; 18] {
    [
        t.id.0.to_string(),
        t.created_at
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        t.kind.as_str().into(),
        t.status.as_str().into(),
        t.amount.yuan(),
        t.currency.code().into(),
        t.method.as_str().into(),
        t.masked_pan
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        t.wallet_id.clone().unwrap_or_default(),
        t.merchant_id.to_string(),
        t.terminal_id.to_string(),
        t.operator.to_string(),
        t.batch_no.to_string(),
        t.voucher_no.to_string(),
        t.rrn.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        t.auth_code
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        t.response_code.code().into(),
        t.original_id.map(|i| i.0.to_string()).unwrap_or_default(),
    ]
}

/// The filters as `name=value` pairs, for the file's first row.
fn describe(f: &crate::args::FilterArgs) -> String {
    let pairs = [
        ("from", &f.from),
        ("to", &f.to),
        ("min", &f.min),
        ("max", &f.max),
        ("kind", &f.kind),
        ("status", &f.status),
        ("method", &f.method),
        ("voucher", &f.voucher),
        ("rrn", &f.rrn),
        ("operator", &f.operator),
        ("terminal", &f.terminal),
    ];
    let mut parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if f.include_hidden {
        parts.push("include_hidden".into());
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}

pub fn run(app: &App, a: ExportArgs) -> Result<(), Fail> {
    let store = app.open_store()?;
    let mut f = filter(app, &a.filter)?;
    f.limit = Some(u32::MAX); // The store caps this at its listing maximum.
    let zone = store.policy().zone().map_err(|e| Fail::Other(e.into()))?;
    let total = suanpan_store::read(&*store, |c| query::count_in(c, &f))?;
    let bar = (app.interactive() && total >= PROGRESS_ROWS_MIN)
        .then(|| indicatif::ProgressBar::new(total));
    let headers = if app.lang == Lang::Zh {
        HEADERS_ZH
    } else {
        HEADERS_EN
    };
    let filter_text = describe(&a.filter);
    // Written to a temporary name and renamed when complete: a failed export leaves no
    // half-file that looks finished.
    let partial = a.output.with_extension("partial");
    let job = Export {
        store: &*store,
        filter: &f,
        zone: &zone,
        headers: &headers,
        filter_text: &filter_text,
        bar: bar.as_ref(),
    };
    let written = match a.format {
        ExportFormat::Csv => write_csv(&job, &partial)?,
        ExportFormat::Xlsx => write_xlsx(&job, &partial)?,
    };
    std::fs::rename(&partial, &a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if app.json {
        output::print_json(&json!({"ok": true, "rows": written, "file": a.output}));
    } else {
        println!("{written} → {}", a.output.display());
    }
    Ok(())
}

/// What both formats write: the filtered rows, their headers and the filter's description.
struct Export<'a> {
    store: &'a dyn suanpan_store::Store,
    filter: &'a suanpan_store::TxnFilter,
    zone: &'a jiff::tz::TimeZone,
    headers: &'a [&'a str; 18],
    filter_text: &'a str,
    bar: Option<&'a indicatif::ProgressBar>,
}

impl Export<'_> {
    /// Streams the rows to `each` (row index, transaction, cells), advancing the progress bar;
    /// the first error stops the stream. Returns the number of rows.
    fn rows(
        &self,
        mut each: impl FnMut(u64, &Transaction, [String; 18]) -> anyhow::Result<()>,
    ) -> Result<u64, Fail> {
        let mut n = 0u64;
        let mut failed = None;
        let streamed = suanpan_store::read(self.store, |c| {
            query::for_each_in(c, self.filter, &mut |t| {
                if let Err(e) = each(n, &t, row(&t, self.zone)) {
                    failed = Some(e);
                    // Any error stops the listing; the real cause is kept in `failed`.
                    return Err(suanpan_store::StoreError::Invalid("export stopped".into()));
                }
                n += 1;
                if let Some(b) = self.bar {
                    b.inc(1);
                }
                Ok(())
            })
        });
        if let Some(e) = failed {
            return Err(Fail::Other(e));
        }
        streamed?;
        Ok(n)
    }
}

fn write_csv(job: &Export<'_>, path: &std::path::Path) -> Result<u64, Fail> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"\xEF\xBB\xBF").context("writing BOM")?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    w.write_record(["# filter", job.filter_text])
        .context("writing CSV")?;
    w.write_record(job.headers).context("writing CSV")?;
    let n = job.rows(|_, _, cells| w.write_record(cells).context("writing CSV"))?;
    let mut inner = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing CSV: {e}"))?;
    inner.flush().context("flushing CSV")?;
    inner.get_ref().sync_all().context("syncing CSV")?;
    Ok(n)
}

fn write_xlsx(job: &Export<'_>, path: &std::path::Path) -> Result<u64, Fail> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let x = |e: rust_xlsxwriter::XlsxError| anyhow::anyhow!("xlsx: {e}");
    sheet.write_string(0, 0, "filter").map_err(x)?;
    sheet.write_string(0, 1, job.filter_text).map_err(x)?;
    for (i, h) in job.headers.iter().enumerate() {
        sheet.write_string(1, i as u16, *h).map_err(x)?;
    }
    let n = job.rows(|n, t, cells| {
        let line = n as u32 + 2;
        for (i, v) in cells.iter().enumerate() {
            if i == 4 {
                // Amount as a number so finance can sum it; fen → yuan exactly.
                sheet
                    .write_number(line, i as u16, t.amount.fen() as f64 / 100.0)
                    .map_err(x)?;
            } else {
                sheet.write_string(line, i as u16, v).map_err(x)?;
            }
        }
        Ok(())
    })?;
    book.save(path).map_err(x)?;
    Ok(n)
}
