//! The terminal's local state file: operators (argon2id hashes), parameters, batch no. and
//! STAN, the journal of what this terminal booked, the pending reversal and the voids
//! withdrawn in their grace window. Written atomically (temp file, fsync, rename, fsync of
//! the directory) so a crash leaves either the old or the new file, never half of one.

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params as ArgonParams, Version};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use suanpan_core::auth::LoginState;
use suanpan_core::money::AmountOverflow;
use suanpan_core::settlement::{Totals, batch_totals};
use suanpan_core::{
    Amount, AuthCode, BatchNo, Currency, MaskedPan, MerchantId, OperatorNo, PaymentMethod,
    ResponseCode, Rrn, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// Format version of the file; a file of another version is refused, not guessed at.
pub const STATE_VERSION: u32 = 1;
/// The file's name inside `--state-dir`.
pub const STATE_FILE: &str = "terminal-state.json";
/// Journal rows kept; older settled rows are dropped first (a terminal's memory is small).
pub const JOURNAL_ROWS_MAX: usize = 2_000;
/// Withdrawn voids kept for the record.
pub const WITHDRAWN_ROWS_MAX: usize = 200;

/// Terminal parameters (set by the system administrator 99).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// The grace window of a void before it is sent (0: off). The default is 10.
    pub void_grace_seconds: u32,
    /// The terminal's amount limit per transaction (fen).
    pub amount_max_fen: i64,
    /// How long to wait for a response before it counts as lost (→ reversal).
    pub response_timeout_ms: u64,
    /// Reversal retries before it is escalated for manual handling.
    pub reversal_retries_max: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            void_grace_seconds: 10,
            amount_max_fen: 5_000_000,
            response_timeout_ms: 10_000,
            reversal_retries_max: 6,
        }
    }
}

/// One operator of this terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// `99`, `00`, `01`..`98`.
    pub no: String,
    /// argon2id PHC string.
    pub hash: String,
    /// Wrong passwords in a row.
    pub failures: u32,
    /// Locked until (RFC 3339), per the core's lockout rule.
    pub locked_until: Option<String>,
}

impl Operator {
    /// The core's view of its login standing.
    pub fn login_state(&self) -> LoginState {
        LoginState {
            failures: self.failures,
            locked_until: self.locked_until.as_deref().and_then(|t| t.parse().ok()),
        }
    }
    /// Stores a new login standing.
    pub fn set_login_state(&mut self, s: LoginState) {
        self.failures = s.failures;
        self.locked_until = s.locked_until.map(|t| t.to_string());
    }
}

/// One transaction as this terminal booked it (approved or declined).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTxn {
    /// The core's `TxnKind::as_str`: `sale`, `void`, `refund`, `balance`, `preauth`…
    pub kind: String,
    /// STAN = 凭证号.
    pub stan: u32,
    /// Batch no.
    pub batch: u32,
    /// Amount (fen).
    pub amount_fen: i64,
    /// Masked PAN.
    pub masked_pan: String,
    /// Field 22 digits 1-2.
    pub entry: String,
    /// 37.
    pub rrn: Option<String>,
    /// 38.
    pub auth_code: Option<String>,
    /// 39.
    pub code: String,
    /// When (RFC 3339).
    pub at: String,
    /// Operator no.
    pub operator: String,
    /// Supervisor who authorized (void, refund).
    pub supervisor: Option<String>,
    /// Training mode.
    pub training: bool,
    /// For a sale: voided since.
    pub voided: bool,
    /// Σ approved refunds of this sale made at this terminal (fen).
    pub refunded_fen: i64,
    /// Void: the original's STAN; refund: the original's STAN when known here.
    pub original_stan: Option<u32>,
    /// Refund: the original's RRN.
    pub original_rrn: Option<String>,
    /// Re-charge: the STAN of the voided sale it replaces.
    pub linked_stan: Option<u32>,
    /// Void reason.
    pub reason: Option<String>,
    /// Balance inquiry: the balance (fen).
    pub balance_fen: Option<i64>,
    /// Pre-authorization: completed since.
    #[serde(default)]
    pub completed: bool,
}

impl LocalTxn {
    /// The core's kind (`None` for a row this program did not write).
    pub fn txn_kind(&self) -> Option<TxnKind> {
        TxnKind::parse(&self.kind)
    }
    /// Approved by the host.
    pub fn approved(&self) -> bool {
        self.code == "00"
    }
    /// The core's transaction, for receipts and totals (ids are local, `stan` doubles as id).
    pub fn to_core(&self, terminal: &TerminalId, merchant: &MerchantId) -> Option<Transaction> {
        let kind = self.txn_kind()?;
        let status = if !self.approved() {
            TxnStatus::Declined
        } else if self.completed {
            TxnStatus::Completed
        } else if self.voided {
            TxnStatus::Voided
        } else if self.refunded_fen > 0 && self.refunded_fen >= self.amount_fen {
            TxnStatus::Refunded
        } else if self.refunded_fen > 0 {
            TxnStatus::PartiallyRefunded
        } else {
            TxnStatus::Approved
        };
        Some(Transaction {
            id: TxnId(i64::from(self.stan)),
            kind,
            status,
            amount: Amount::from_fen(self.amount_fen),
            currency: Currency::Cny,
            method: method_of(&self.entry),
            masked_pan: MaskedPan::from_stored(&self.masked_pan),
            card_fingerprint: None,
            wallet_id: None,
            merchant_id: merchant.clone(),
            terminal_id: terminal.clone(),
            operator: OperatorNo::parse(&self.operator).ok()?,
            supervisor: self
                .supervisor
                .as_deref()
                .and_then(|s| OperatorNo::parse(s).ok()),
            batch_no: BatchNo::new(self.batch).ok()?,
            voucher_no: VoucherNo::new(self.stan).ok()?,
            rrn: self.rrn.as_deref().and_then(|r| Rrn::parse(r).ok()),
            auth_code: self
                .auth_code
                .as_deref()
                .and_then(|a| AuthCode::parse(a).ok()),
            response_code: ResponseCode::parse(&self.code)
                .unwrap_or(ResponseCode::SystemMalfunction),
            original_id: self.original_stan.map(|s| TxnId(i64::from(s))),
            reason: self.reason.clone(),
            customer_consent: kind == TxnKind::Void,
            refunded: Amount::from_fen(self.refunded_fen),
            completed: Amount::ZERO,
            created_at: self.at.parse().unwrap_or(Timestamp::UNIX_EPOCH),
            settled: false,
            hidden: false,
            training: self.training,
            linked_id: self.linked_stan.map(|s| TxnId(i64::from(s))),
        })
    }
}

/// The payment method of an entry mode (field 22 digits 1-2).
pub fn method_of(entry: &str) -> PaymentMethod {
    match entry {
        "01" => PaymentMethod::Manual,
        "02" | "80" => PaymentMethod::Magstripe,
        "07" => PaymentMethod::Contactless,
        _ => PaymentMethod::Chip,
    }
}

/// A reversal waiting to be sent (冲正): everything the 0400 needs, no PAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReversal {
    /// 60.1 of the reversed request.
    pub type_code: u8,
    /// Its STAN.
    pub stan: u32,
    /// Its batch (60.2).
    pub batch: u32,
    /// Its amount (fen).
    pub amount_fen: u64,
    /// Field 22 digits 1-2.
    pub entry: String,
    /// 61 of the reversed request (voids, refunds, re-charges): batch, STAN.
    pub original: Option<(u32, u32)>,
    /// 37 of the reversed request's original, if it carried one.
    pub original_rrn: Option<String>,
    /// 39 of the 0400: `98` no response, `96` terminal fault (bad MAC).
    pub reason: String,
    /// Training mode.
    pub training: bool,
    /// Failed sends so far.
    pub attempts: u32,
    /// Not before (RFC 3339); back-off after a failure.
    pub next_at: Option<String>,
}

/// A void the cashier withdrew in its grace window: never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnVoid {
    /// The sale it would have voided.
    pub original_stan: u32,
    /// Amount (fen).
    pub amount_fen: i64,
    /// Who withdrew it.
    pub operator: String,
    /// When (RFC 3339).
    pub at: String,
    /// Seconds that were left.
    pub seconds_left: u32,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// 41.
    pub terminal_id: String,
    /// 42.
    pub merchant_id: String,
    /// Printed on slips.
    pub merchant_name: String,
    /// Parameters.
    pub params: Params,
    /// Operators.
    pub operators: Vec<Operator>,
    /// Batch no. as the host last said.
    pub batch: u32,
    /// Last STAN used.
    pub stan: u32,
    /// What this terminal booked (bounded by [`JOURNAL_ROWS_MAX`]).
    pub journal: Vec<LocalTxn>,
    /// The reversal to send before anything else.
    pub pending_reversal: Option<PendingReversal>,
    /// Voids withdrawn in the grace window.
    pub withdrawn_voids: Vec<WithdrawnVoid>,
    /// The printer is out of paper (simulated).
    pub paper_out: bool,
    /// The last settlement slip, for reprint.
    pub last_settlement_slip: Option<String>,
}

impl TermState {
    /// A fresh terminal without operators.
    pub fn new(terminal_id: &str, merchant_id: &str, merchant_name: &str) -> TermState {
        TermState {
            version: STATE_VERSION,
            terminal_id: terminal_id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            merchant_name: merchant_name.to_owned(),
            params: Params::default(),
            operators: Vec::new(),
            batch: 1,
            stan: 0,
            journal: Vec::new(),
            pending_reversal: None,
            withdrawn_voids: Vec::new(),
            paper_out: false,
            last_settlement_slip: None,
        }
    }

    /// The file inside a state directory.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Reads the file; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// When it cannot be read, does not parse, or has another version (nothing is changed).
    pub fn load(path: &Path) -> anyhow::Result<Option<TermState>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let s: TermState = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a terminal state file", path.display()))?;
        if s.version != STATE_VERSION {
            bail!(
                "{}: state file version {} (this program reads {STATE_VERSION})",
                path.display(),
                s.version
            );
        }
        Ok(Some(s))
    }

    /// Writes the file atomically: temp file, fsync, rename, fsync of the directory.
    ///
    /// # Errors
    /// On IO errors; the previous file is then left as it was.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self)?;
        {
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Makes the rename itself durable; not every platform can fsync a directory.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Adds or replaces an operator's password.
    ///
    /// # Errors
    /// When hashing fails.
    pub fn set_password(&mut self, no: &str, password: &str) -> anyhow::Result<()> {
        let hash = hash_password(password)?;
        match self.operators.iter_mut().find(|o| o.no == no) {
            Some(o) => {
                o.hash = hash;
                o.set_login_state(LoginState::default());
            }
            None => self.operators.push(Operator {
                no: no.to_owned(),
                hash,
                failures: 0,
                locked_until: None,
            }),
        }
        self.operators.sort_by(|a, b| a.no.cmp(&b.no));
        Ok(())
    }

    /// The operator with that number.
    pub fn operator(&self, no: &str) -> Option<&Operator> {
        self.operators.iter().find(|o| o.no == no)
    }

    /// Takes the next STAN (000001..999999, wraps).
    pub fn next_stan(&mut self) -> u32 {
        self.stan = if self.stan >= 999_999 {
            1
        } else {
            self.stan + 1
        };
        self.stan
    }

    /// Books a row, dropping the oldest rows of closed batches beyond the bound.
    pub fn book(&mut self, t: LocalTxn) {
        self.journal.push(t);
        while self.journal.len() > JOURNAL_ROWS_MAX {
            let Some(i) = self.journal.iter().position(|r| r.batch != self.batch) else {
                break;
            };
            self.journal.remove(i);
        }
    }

    /// The current batch's rows (live and training), newest first.
    pub fn batch_rows(&self) -> Vec<&LocalTxn> {
        let mut rows: Vec<&LocalTxn> = self
            .journal
            .iter()
            .filter(|t| t.batch == self.batch)
            .collect();
        rows.reverse();
        rows
    }

    /// The row with that STAN in the current batch (newest first; STANs wrap).
    pub fn find(&self, stan: u32) -> Option<&LocalTxn> {
        self.batch_rows().into_iter().find(|t| t.stan == stan)
    }

    /// Mutable row with that STAN in the current batch.
    pub fn find_mut(&mut self, stan: u32) -> Option<&mut LocalTxn> {
        let batch = self.batch;
        self.journal
            .iter_mut()
            .rev()
            .find(|t| t.batch == batch && t.stan == stan)
    }

    /// The last approved row of `kind` in the current batch that can still be voided.
    pub fn last_voidable(&self, kind: TxnKind, training: bool) -> Option<&LocalTxn> {
        self.batch_rows().into_iter().find(|t| {
            t.kind == kind.as_str()
                && t.approved()
                && !t.voided
                && !t.completed
                && t.refunded_fen == 0
                && t.training == training
        })
    }

    /// The last approved sale or completion of the current batch with money left to refund.
    pub fn last_refundable(&self, training: bool) -> Option<&LocalTxn> {
        self.batch_rows().into_iter().find(|t| {
            matches!(t.kind.as_str(), "sale" | "completion")
                && t.approved()
                && !t.voided
                && t.refunded_fen < t.amount_fen
                && t.training == training
        })
    }

    /// The terminal's own totals of the current batch (field 48), training excluded, by the
    /// core's rule.
    ///
    /// # Errors
    /// A sum past its range (the core's checked totals).
    pub fn totals(&self) -> Result<Totals, AmountOverflow> {
        let (tid, mid) = match (
            TerminalId::parse(&self.terminal_id),
            MerchantId::parse(&self.merchant_id),
        ) {
            (Ok(t), Ok(m)) => (t, m),
            _ => return Ok(Totals::default()),
        };
        let txns: Vec<Transaction> = self
            .journal
            .iter()
            .filter(|t| t.batch == self.batch)
            .filter_map(|t| t.to_core(&tid, &mid))
            .collect();
        batch_totals(&txns)
    }

    /// Records a void withdrawn in its grace window.
    pub fn withdraw(&mut self, w: WithdrawnVoid) {
        self.withdrawn_voids.push(w);
        if self.withdrawn_voids.len() > WITHDRAWN_ROWS_MAX {
            self.withdrawn_voids.remove(0);
        }
    }
}

fn argon2() -> Argon2<'static> {
    // Small parameters: a POS verifies on a slow CPU at the counter; still argon2id.
    let params = ArgonParams::new(4_096, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id and a random salt.
///
/// # Errors
/// When hashing fails.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::thread_rng());
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Checks a password against a PHC string.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn save_then_load_is_the_same_and_leaves_no_temp_file() {
        // Goal: the file survives a restart unchanged, and the atomic write cleans up.
        let dir = ok(tempfile::tempdir());
        let path = TermState::path_in(dir.path());
        let mut s = TermState::new("12345678", "898310048990001", "Demo");
        ok(s.set_password("01", "0000"));
        s.next_stan();
        s.pending_reversal = Some(PendingReversal {
            type_code: 22,
            stan: 1,
            batch: 1,
            amount_fen: 100,
            entry: "05".into(),
            original: None,
            original_rrn: None,
            reason: "98".into(),
            training: false,
            attempts: 0,
            next_at: None,
        });
        ok(s.save(&path));
        let back = ok(TermState::load(&path));
        assert_eq!(back.as_ref(), Some(&s));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_broken_or_foreign_file_is_refused_and_left_alone() {
        // Goal: bad input (a truncated file, another version) is a clear error, nothing lost.
        let dir = ok(tempfile::tempdir());
        let path = TermState::path_in(dir.path());
        ok(std::fs::write(&path, "{\"version\": 1, \"terminal"));
        let e = TermState::load(&path).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("not a terminal state file"));
        assert_eq!(
            ok(std::fs::read_to_string(&path)),
            "{\"version\": 1, \"terminal"
        );
        let mut s = TermState::new("12345678", "898310048990001", "Demo");
        s.version = 99;
        ok(std::fs::write(&path, ok(serde_json::to_string(&s))));
        let e = TermState::load(&path).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("version 99"));
    }

    #[test]
    fn passwords_are_argon2id_and_verify() {
        // Goal: only a hash is kept, and only the right password matches it.
        let mut s = TermState::new("12345678", "898310048990001", "Demo");
        ok(s.set_password("00", "123456"));
        let h = &s.operators[0].hash;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(h, "123456"));
        assert!(!verify_password(h, "123457"));
        assert!(!verify_password("not a hash", "123456"));
    }

    #[test]
    fn stan_wraps_after_999999() {
        // Goal: the voucher no. stays in n6.
        let mut s = TermState::new("12345678", "898310048990001", "Demo");
        s.stan = 999_999;
        assert_eq!(s.next_stan(), 1);
    }
}
