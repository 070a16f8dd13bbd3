//! 批结算: batch totals (8583 field 48) and reconciliation against the terminal's totals.

use crate::kind::{PaymentMethod, TxnKind, TxnStatus};
use crate::money::{Amount, AmountOverflow};
use crate::txn::Transaction;

/// Debit and credit totals of a batch, as field 48 carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Σ approved sales and completions not voided or reversed (fen).
    pub debit_fen: i64,
    /// Their count.
    pub debit_count: u32,
    /// Σ approved refunds (fen).
    pub credit_fen: i64,
    /// Their count.
    pub credit_count: u32,
}

impl Totals {
    /// Debit amount.
    pub fn debit(&self) -> Amount {
        Amount::from_fen(self.debit_fen)
    }
    /// Credit amount.
    pub fn credit(&self) -> Amount {
        Amount::from_fen(self.credit_fen)
    }
    /// Net = debit − credit (saturating: both are sums of amounts, never negative, so it
    /// cannot leave the range; totals read off the wire are digits).
    pub fn net(&self) -> Amount {
        Amount::from_fen(self.debit_fen.saturating_sub(self.credit_fen))
    }

    /// Counts `t` in, checked: a sum or a count that would leave its range is an error, never
    /// a wrapped total on a settlement slip.
    fn add(&mut self, t: &BatchLine) -> Result<(), AmountOverflow> {
        if !t.counts_in_totals() {
            return Ok(());
        }
        let (fen, count) = if t.kind.is_debit() {
            (&mut self.debit_fen, &mut self.debit_count)
        } else if t.kind == TxnKind::Refund {
            (&mut self.credit_fen, &mut self.credit_count)
        } else {
            return Ok(());
        };
        *fen = fen.checked_add(t.amount.fen()).ok_or(AmountOverflow)?;
        *count = count.checked_add(1).ok_or(AmountOverflow)?;
        Ok(())
    }
}

/// What settlement reads of one transaction of the batch: the store loads only these columns
/// to settle a batch (decoding 500 whole rows was 2 of a settlement's 4–5 ms in the writer,
/// s24-lines); a [`Transaction`] gives its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLine {
    /// Its kind.
    pub kind: TxnKind,
    /// Its status now.
    pub status: TxnStatus,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Its amount.
    pub amount: Amount,
    /// A training transaction (never counted).
    pub training: bool,
}

impl BatchLine {
    /// The line of a transaction.
    pub fn of(t: &Transaction) -> BatchLine {
        BatchLine {
            kind: t.kind,
            status: t.status,
            method: t.method,
            amount: t.amount,
            training: t.training,
        }
    }

    /// True when it counts in settlement totals (approved money movement, not training).
    pub fn counts_in_totals(&self) -> bool {
        if self.training {
            return false;
        }
        match self.kind {
            TxnKind::Sale | TxnKind::Completion => matches!(
                self.status,
                TxnStatus::Approved | TxnStatus::PartiallyRefunded | TxnStatus::Refunded
            ),
            TxnKind::Refund => self.status == TxnStatus::Approved,
            _ => false,
        }
    }
}

/// Anything settlement can total: a whole [`Transaction`] (the terminal's journal, a batch
/// status) or only its [`BatchLine`] (the store's settlement).
pub trait AsBatchLine {
    /// Its line.
    fn batch_line(&self) -> BatchLine;
}

impl AsBatchLine for BatchLine {
    fn batch_line(&self) -> BatchLine {
        *self
    }
}

impl AsBatchLine for Transaction {
    fn batch_line(&self) -> BatchLine {
        BatchLine::of(self)
    }
}

/// Totals of one payment method within a batch (the settlement slip's breakdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodTotals {
    /// The method.
    pub method: PaymentMethod,
    /// Its totals.
    pub totals: Totals,
}

/// 对账结果.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciliation {
    /// 对账平: the terminal's totals equal the host's (or the caller gave none).
    Balanced,
    /// 对账不平: they differ; the terminal does a batch upload.
    Unbalanced,
}

impl Reconciliation {
    /// Field 48's reconciliation code digit.
    pub fn code(self) -> char {
        match self {
            Reconciliation::Balanced => '1',
            Reconciliation::Unbalanced => '2',
        }
    }
    /// The code name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reconciliation::Balanced => "balanced",
            Reconciliation::Unbalanced => "unbalanced",
        }
    }
}

/// One difference between the host's and the terminal's totals, named (not "data mismatch").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `debit_count`, `debit_amount`, `credit_count` or `credit_amount`.
    pub field: &'static str,
    /// The host's value (fen or count).
    pub host: i64,
    /// The terminal's value.
    pub terminal: i64,
}

/// A computed settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The host's totals.
    pub totals: Totals,
    /// Per payment method, only methods that occur.
    pub by_method: Vec<MethodTotals>,
    /// The verdict.
    pub reconciliation: Reconciliation,
    /// What differs, empty when balanced.
    pub differences: Vec<Difference>,
}

/// Computes the batch's totals from its transactions.
///
/// # Errors
/// A sum or a count past its range.
pub fn batch_totals<T: AsBatchLine>(txns: &[T]) -> Result<Totals, AmountOverflow> {
    let mut totals = Totals::default();
    for t in txns {
        totals.add(&t.batch_line())?;
    }
    Ok(totals)
}

/// Settles a batch: totals, per-method breakdown, and the comparison with the terminal's own
/// totals when it sent them.
///
/// # Errors
/// A sum or a count past its range.
pub fn settle<T: AsBatchLine>(
    txns: &[T],
    terminal: Option<Totals>,
) -> Result<Settlement, AmountOverflow> {
    let lines: Vec<BatchLine> = txns.iter().map(AsBatchLine::batch_line).collect();
    let totals = batch_totals(&lines)?;
    let mut by_method: Vec<MethodTotals> = Vec::new();
    for method in PaymentMethod::ALL {
        let mut m = Totals::default();
        for t in lines.iter().filter(|t| t.method == method) {
            m.add(t)?;
        }
        if m != Totals::default() {
            by_method.push(MethodTotals { method, totals: m });
        }
    }
    let differences = terminal
        .map(|theirs| differences(&totals, &theirs))
        .unwrap_or_default();
    let reconciliation = if differences.is_empty() {
        Reconciliation::Balanced
    } else {
        Reconciliation::Unbalanced
    };
    Ok(Settlement {
        totals,
        by_method,
        reconciliation,
        differences,
    })
}

/// What differs between the host's and the terminal's totals, field by field (empty: balanced).
pub fn differences(host: &Totals, terminal: &Totals) -> Vec<Difference> {
    let pairs = [
        (
            "debit_count",
            i64::from(host.debit_count),
            i64::from(terminal.debit_count),
        ),
        ("debit_amount", host.debit_fen, terminal.debit_fen),
        (
            "credit_count",
            i64::from(host.credit_count),
            i64::from(terminal.credit_count),
        ),
        ("credit_amount", host.credit_fen, terminal.credit_fen),
    ];
    pairs
        .into_iter()
        .filter(|(_, h, t)| h != t)
        .map(|(field, host, terminal)| Difference {
            field,
            host,
            terminal,
        })
        .collect()
}
