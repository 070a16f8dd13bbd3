//! `export`: the day's (or any filter's) transactions for finance, as CSV with a UTF-8 BOM
//! (Excel opens it with Chinese intact) or XLSX. Streams rows; a progress bar on a terminal.

use crate::app::{App, Fail};
use crate::args::{ExportArgs, ExportFormat};
use crate::cmd_txn::filter;
use crate::output;
use anyhow::Context;
use serde_json::json;
use suanpan_export::Export;
use suanpan_store::query;

/// Rows above which a progress bar is worth showing.
const PROGRESS_ROWS_MIN: u64 = 5_000;

/// The filters as the user gave them, for the file's first row.
fn describe(f: &crate::args::FilterArgs) -> String {
    let pairs = [
        ("from", f.from.clone()),
        ("to", f.to.clone()),
        ("min", f.min.clone()),
        ("max", f.max.clone()),
        ("kind", f.kind.clone()),
        ("status", f.status.clone()),
        ("method", f.method.clone()),
        ("voucher", f.voucher.clone()),
        ("rrn", f.rrn.clone()),
        ("operator", f.operator.clone()),
        ("terminal", f.terminal.clone()),
        ("last4", f.last4.clone()),
        ("wallet", f.wallet.clone()),
    ];
    suanpan_export::describe(&pairs, f.include_hidden)
}

pub fn run(app: &App, a: ExportArgs) -> Result<(), Fail> {
    let store = app.open_store()?;
    let f = filter(app, &a.filter)?;
    let zone = store.policy().zone().map_err(|e| Fail::Other(e.into()))?;
    let total = suanpan_store::read(&*store, |c| query::count_in(c, &f))?;
    let bar = (app.interactive() && total >= PROGRESS_ROWS_MIN)
        .then(|| indicatif::ProgressBar::new(total));
    let headers = suanpan_export::headers(app.lang);
    let filter_text = describe(&a.filter);
    // Written to a temporary name and renamed when complete: a failed export leaves no
    // half-file that looks finished.
    let partial = a.output.with_extension("partial");
    let job = Export {
        store: &*store,
        filter: &f,
        zone: &zone,
        headers,
        filter_text: &filter_text,
        values: if a.raw {
            suanpan_export::Values::Raw
        } else {
            suanpan_export::Values::Words(app.lang)
        },
    };
    let written = match a.format {
        ExportFormat::Csv => write_csv(&job, &partial, bar.as_ref()),
        ExportFormat::Xlsx => write_xlsx(&job, &partial, bar.as_ref()),
    };
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            // Nothing that looks like a finished export is left behind.
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
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

fn write_csv(job: &Export<'_>, path: &std::path::Path, bar: Bar<'_>) -> Result<u64, Fail> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let (n, out) = job.write_csv(std::io::BufWriter::new(file), |_| tick(bar))?;
    out.get_ref().sync_all().context("syncing CSV")?;
    Ok(n)
}

fn write_xlsx(job: &Export<'_>, path: &std::path::Path, bar: Bar<'_>) -> Result<u64, Fail> {
    let (mut book, n) = job.xlsx(|_| tick(bar)).map_err(|e| match e
        .downcast_ref::<suanpan_export::XlsxTooLarge>()
    {
        Some(too) => Fail::Message {
            key: "error.xlsx_too_large",
            args: vec![too.rows_max.to_string()],
        },
        None => Fail::Other(e),
    })?;
    book.save(path).map_err(|e| anyhow::anyhow!("xlsx: {e}"))?;
    Ok(n)
}

type Bar<'a> = Option<&'a indicatif::ProgressBar>;

fn tick(bar: Bar<'_>) {
    if let Some(b) = bar {
        b.inc(1);
    }
}
