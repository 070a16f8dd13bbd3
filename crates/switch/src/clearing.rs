//! The daily clearing file (spec `iso8583-1987-switch.md`, "Clearing file"): one UTF-8 CSV
//! per settlement date, `clearing/clearing-YYYY-MM-DD.csv` in the data directory.
//!
//! Rows: every approved 0200 (purchase, refund) and 0220 (completion), with `status`
//! `approved`, or `reversed` once fully reversed (its amount stays the original's); and
//! every reversal advice of such an original (or of one the switch never saw), `mti` 0420,
//! the original's processing code, `amount_fen` what it actually undid, `response_code` its
//! reason (68, 17, 22), `status` `approved`. Pre-authorizations, their reversals and balance
//! inquiries move no money and are not listed. So the day's net (what the switch owes the
//! acquirer) is Σ signed originals − Σ signed reversals, with refunds (`200000`) negative.

use crate::ledger::{self, LedgerError, Record};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The header row, exactly as the spec names the columns.
pub const HEADER: [&str; 14] = [
    "settlement_date",
    "mti",
    "processing_code",
    "stan",
    "transmission_datetime",
    "acquirer_id",
    "terminal_id",
    "merchant_id",
    "rrn",
    "auth_id",
    "amount_fen",
    "currency",
    "response_code",
    "status",
];

/// Sub-directory of the data directory that holds the files.
pub const CLEARING_DIR: &str = "clearing";

/// Why a clearing file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ClearingError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Writing the file failed.
    #[error("clearing file: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("clearing file: {0}")]
    Csv(#[from] csv::Error),
}

/// The path of the file of `date` under `data_dir`.
pub fn path_of(data_dir: &Path, date: &str) -> PathBuf {
    data_dir
        .join(CLEARING_DIR)
        .join(format!("clearing-{date}.csv"))
}

fn listed(r: &Record) -> bool {
    match r.mti.as_str() {
        "0200" | "0220" => {
            r.response_code == "00" && matches!(r.status.as_str(), "approved" | "reversed")
        }
        "0420" => matches!(r.original_mti.as_deref(), None | Some("0200" | "0220")),
        _ => false,
    }
}

/// The rows of `date`.
///
/// # Errors
/// Ledger failures.
pub fn rows(conn: &Connection, date: &str) -> Result<Vec<Record>, LedgerError> {
    Ok(ledger::records_of(conn, date)?
        .into_iter()
        .filter(listed)
        .collect())
}

/// The signed net of rows: what the switch owes the acquirers for them.
pub fn net_fen(rows: &[Record]) -> i64 {
    rows.iter()
        .map(|r| {
            let sign = if r.processing_code == "200000" { -1 } else { 1 };
            let sign = if r.mti == "0420" { -sign } else { sign };
            sign * r.amount_fen
        })
        .sum()
}

/// Writes the file of `date` (replacing it atomically) and returns its path.
///
/// # Errors
/// Ledger, file and CSV failures.
pub fn write(conn: &Connection, data_dir: &Path, date: &str) -> Result<PathBuf, ClearingError> {
    let path = path_of(data_dir, date);
    std::fs::create_dir_all(data_dir.join(CLEARING_DIR))?;
    let tmp = path.with_extension("csv.tmp");
    {
        let mut w = csv::Writer::from_path(&tmp)?;
        w.write_record(HEADER)?;
        for r in rows(conn, date)? {
            let amount = r.amount_fen.to_string();
            w.write_record([
                r.settlement_date.as_str(),
                r.mti.as_str(),
                r.processing_code.as_str(),
                r.stan.as_str(),
                r.transmitted.as_str(),
                r.acquirer.as_str(),
                r.terminal.trim_end(),
                r.merchant.as_str(),
                r.rrn.as_str(),
                r.auth_id.as_str(),
                amount.as_str(),
                "156",
                r.response_code.as_str(),
                if r.mti == "0420" {
                    "approved"
                } else {
                    r.status.as_str()
                },
            ])?;
        }
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
