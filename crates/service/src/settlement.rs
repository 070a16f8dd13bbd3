//! Settlement (结算) of a terminal's open batch, and the cutoff that settles every batch whose
//! business day has passed.

use crate::ctx::Ctx;
use suanpan_core::refusal::SettleRefused;
use suanpan_core::settlement::{self, Totals};
use suanpan_core::{Lang, Refusal, TerminalId};
use suanpan_store::reply::{DueChunk, PassedBatch, SettleAllDue};
use suanpan_store::repo::terminals;
use suanpan_store::{AskExt, SettleReport, Store, StoreError};

/// Settles a terminal's open batch against the terminal's totals, if it sent any, and opens
/// the next batch.
pub(crate) fn settle(
    ctx: &mut Ctx<'_, '_>,
    terminal: &TerminalId,
    actor: &str,
    theirs: Option<Totals>,
) -> Result<SettleReport, StoreError> {
    settle_unless_refused(ctx, terminal, actor, theirs)?
        .map_err(|r| StoreError::Invalid(r.message(Lang::En)))
}

/// [`settle`], with a refusal (the terminal's access, a batch past the range of its totals)
/// told apart from a failure. A refusal comes before anything is written.
fn settle_unless_refused(
    ctx: &mut Ctx<'_, '_>,
    terminal: &TerminalId,
    actor: &str,
    theirs: Option<Totals>,
) -> Result<Result<SettleReport, Box<dyn Refusal>>, StoreError> {
    // Settlement changes the terminal's batch: write the group's cached state first and
    // reload terminals afterwards.
    ctx.tx.write_back()?;
    let conn = ctx.tx.conn;
    let now = ctx.tx.now;
    let row = terminals::find(conn, terminal, true)?;
    if let Err(r) =
        suanpan_core::rules::decide_terminal_access(row.as_ref().map(|t| t.access.clone()))
    {
        return Ok(Err(Box::new(r)));
    }
    let term = row
        .ok_or_else(|| StoreError::Invalid(format!("unknown terminal {terminal}")))?
        .state()?;
    let lines = suanpan_store::query::batch_lines_in(conn, term.id.as_str(), term.batch_id)?;
    // Checked sums: a batch past the range of its totals is refused, never settled wrapped.
    let Ok(s) = settlement::settle(&lines, theirs) else {
        return Ok(Err(Box::new(SettleRefused::Untotallable {
            terminal: terminal.to_string(),
            batch_no: term.batch_no.to_string(),
        })));
    };
    terminals::close_batch(conn, &term, actor, now, &s, theirs)?;
    // A settled sale can no longer be voided: the card numbers its 0420 would have needed
    // are forgotten (PCI DSS 3.2.1: kept no longer than a business need).
    suanpan_store::repo::upstream::forget_batch_pans(conn, term.id.as_str(), term.batch_id)?;
    let next = term.batch_no.next();
    terminals::open_batch(conn, terminal, next, now)?;
    let target = format!("terminal:{terminal}/batch:{}", term.batch_no);
    ctx.tx
        .audit(actor, "settle", &target, "", s.reconciliation.as_str());
    let report = SettleReport {
        terminal_id: terminal.clone(),
        batch_no: term.batch_no,
        next_batch_no: next,
        settled_at: now,
        settlement: s,
        terminal_totals: theirs,
    };
    crate::events::batch_settled(ctx.tx, &term.merchant_id, &report, actor)?;
    Ok(Ok(report))
}

/// Batches one `SettleAllDue` command settles at most. The command runs in the writer like
/// a sale, and every sale behind it waits for it: a full batch of 500 costs the writer 2–5 ms
/// plus its commit's page writes (BENCHMARKS "s24"), so a cutoff of thousands of terminals in
/// one command held every sale for minutes (long enough for the network upstream's requests
/// to time out). In chunks of this many, a sale waits for one chunk at most; [`settle_due`]
/// sends them one by one (DECISIONS "s24-cutoff").
pub const CUTOFF_BATCHES_PER_COMMAND: usize = 8;

/// Settles the enabled terminals' batches that are due at the cutoff (`Policy::batch_is_due`),
/// at most [`CUTOFF_BATCHES_PER_COMMAND`] of them, in terminal order after `cmd.after`
/// (the last terminal of the chunk before; [`settle_due`] passes it). Every node's scheduler
/// sends this at the cutoff; one of them settles each chunk: the lock is held to the commit,
/// and a node that comes later finds those batches already reopened (not due).
pub(crate) fn settle_all_due(
    ctx: &mut Ctx<'_, '_>,
    cmd: &SettleAllDue,
) -> Result<DueChunk, StoreError> {
    if !terminals::try_cutoff_lock(ctx.tx.conn)? {
        return Ok(DueChunk::default());
    }
    // The rule (`Policy::batch_is_due`) as the bound the store searches by.
    let due = terminals::due_batches(
        ctx.tx.conn,
        ctx.tx.policy.batches_due_before(ctx.tx.now),
        cmd.after.as_ref(),
        CUTOFF_BATCHES_PER_COMMAND,
    )?;
    let mut chunk = DueChunk {
        full: due.len() == CUTOFF_BATCHES_PER_COMMAND,
        last: due.last().cloned(),
        ..DueChunk::default()
    };
    for id in due {
        // A batch the cutoff may not settle stays open and is passed over, audited: one
        // suspended merchant must not keep the rest of the fleet from its settlement.
        match settle_unless_refused(ctx, &id, "system", None)? {
            Ok(report) => chunk.settled.push(report),
            Err(r) => {
                let outcome = format!("refused:{}", r.key());
                ctx.tx
                    .audit("system", "settle", &format!("terminal:{id}"), "", &outcome);
                chunk.passed.push(PassedBatch {
                    terminal_id: id,
                    refusal: r.key(),
                });
            }
        }
    }
    Ok(chunk)
}

/// What a cutoff did: the batches it settled, those it may not settle, and the error that
/// stopped it if one did (the chunks before it are settled and stay so; the next cutoff run
/// settles the rest).
#[derive(Debug)]
pub struct Cutoff {
    /// Every batch settled, in order.
    pub reports: Vec<SettleReport>,
    /// Every due batch left open, with why.
    pub passed: Vec<PassedBatch>,
    /// Why it stopped early.
    pub error: Option<StoreError>,
}

/// Settles every batch due at the cutoff, one `SettleAllDue` command per chunk of
/// [`CUTOFF_BATCHES_PER_COMMAND`], so that sales go through the writer between the chunks.
/// Each chunk starts after the last terminal the chunk before read, and the cutoff ends
/// with a chunk that read fewer (nothing more is due, or another node holds the cutoff).
/// Each chunk reopens the batches it settles for the next business day, so a batch is never
/// settled twice and the loop ends after at most one command per chunk of enabled
/// terminals, plus one.
pub fn settle_due(store: &dyn Store) -> Cutoff {
    let mut reports = Vec::new();
    let mut passed = Vec::new();
    let mut after = None;
    let error = loop {
        match store.ask(SettleAllDue { after }) {
            Ok(chunk) => {
                reports.extend(chunk.settled);
                passed.extend(chunk.passed);
                after = chunk.last;
                if !chunk.full {
                    break None;
                }
            }
            Err(e) => break Some(e),
        }
    };
    Cutoff {
        reports,
        passed,
        error,
    }
}
