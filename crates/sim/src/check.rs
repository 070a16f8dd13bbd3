//! The invariants checked after a run: every terminal's journal equals the host's journal,
//! transaction by transaction; the issuer's accounts equal what the journals say; money is
//! conserved; the audit chain is intact.

use std::collections::BTreeMap;
use suanpan_core::{Amount, MerchantId, Pan, TerminalId, Transaction, TxnKind, TxnStatus};
use suanpan_store::{Fingerprinter, Store, TxnFilter};
use suanpan_terminal::state::TermState;

/// A card whose account is checked against the journals.
pub struct Card {
    pan: &'static str,
    fingerprint: String,
    initial_fen: i64,
}

impl Card {
    /// The demo card `pan` (its initial balance from the demo issuer).
    pub fn new(fp: &Fingerprinter, pan: &'static str) -> anyhow::Result<Card> {
        let initial_fen = suanpan_issuer_initial(pan)?;
        Ok(Card {
            pan,
            fingerprint: fp.of(&Pan::parse(pan)?),
            initial_fen,
        })
    }
}

fn suanpan_issuer_initial(pan: &str) -> anyhow::Result<i64> {
    suanpan_issuer::demo::CARDS
        .iter()
        .find(|c| c.pan == pan)
        .map(|c| c.balance_fen)
        .ok_or_else(|| anyhow::anyhow!("{pan} is not a demo card"))
}

/// What the check found.
pub struct Found {
    /// Broken invariants, one sentence each.
    pub violations: Vec<String>,
    /// Transactions in effect on the host (approved, not reversed).
    pub booked: usize,
}

/// (batch, voucher no.) → (kind, amount, status, refunded) of a transaction in effect.
type Book = BTreeMap<(u32, u32), (TxnKind, Amount, TxnStatus, Amount)>;

/// Runs every check.
pub fn all(
    store: &dyn Store,
    journals: &[(&TerminalId, &TermState)],
    merchant: &MerchantId,
    cards: &[Card],
) -> anyhow::Result<Found> {
    let mut violations = Vec::new();
    let host = host_txns(store)?;
    let mut booked = 0;
    let mut terminal_txns = Vec::new();
    for (id, state) in journals {
        let ours: Vec<Transaction> = state
            .journal
            .iter()
            .filter_map(|t| t.to_core(id, merchant))
            .collect();
        let theirs: Vec<&Transaction> = host.iter().filter(|t| &t.terminal_id == *id).collect();
        let a = book_of(ours.iter());
        let b = book_of(theirs.iter().copied());
        booked += b.len();
        compare(id, &a, &b, &mut violations);
        terminal_txns.extend(ours);
    }
    for card in cards {
        ledger(store, card, &terminal_txns, &host, &mut violations)?;
    }
    let c = store.conservation()?;
    if !c.holds() {
        violations.push(format!("money not conserved: {c:?}"));
    }
    let v = store.verify_audit()?;
    if let Some(seq) = v.first_broken {
        violations.push(format!("audit chain broken at {seq}: {:?}", v.problem));
    }
    Ok(Found { violations, booked })
}

fn host_txns(store: &dyn Store) -> anyhow::Result<Vec<Transaction>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = store.transactions(&TxnFilter {
            include_hidden: true,
            before_id: before,
            ..TxnFilter::default()
        })?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.0);
        out.extend(page);
    }
    Ok(out)
}

/// The transactions in effect: approved and not reversed (a reversed one never happened, a
/// declined one moved nothing). Reversal rows are the host's bookkeeping of the former.
fn book_of<'a>(txns: impl Iterator<Item = &'a Transaction>) -> Book {
    txns.filter(|t| {
        t.kind != TxnKind::Reversal
            && t.response_code.is_approved()
            && !matches!(t.status, TxnStatus::Reversed | TxnStatus::Declined)
            && !t.training
    })
    .map(|t| {
        (
            (t.batch_no.value(), t.voucher_no.value()),
            (t.kind, t.amount, t.status, t.refunded),
        )
    })
    .collect()
}

fn compare(id: &TerminalId, ours: &Book, host: &Book, out: &mut Vec<String>) {
    for (key, h) in host {
        match ours.get(key) {
            None => out.push(format!(
                "{id} batch {:06} voucher {:06}: the host booked {:?} {} fen ({:?}) that the terminal does not know (charged without a receipt)",
                key.0, key.1, h.0, h.1.fen(), h.2
            )),
            Some(o) if o != h => out.push(format!(
                "{id} batch {:06} voucher {:06}: terminal has {:?} {} fen {:?} (refunded {}), host has {:?} {} fen {:?} (refunded {})",
                key.0, key.1, o.0, o.1.fen(), o.2, o.3.fen(), h.0, h.1.fen(), h.2, h.3.fen()
            )),
            Some(_) => {}
        }
    }
    for (key, o) in ours {
        if !host.contains_key(key) {
            out.push(format!(
                "{id} batch {:06} voucher {:06}: the terminal holds an approved {:?} {} fen the host does not have",
                key.0, key.1, o.0, o.1.fen()
            ));
        }
    }
}

/// The card's account at the issuer equals what the terminals' journals say happened to it:
/// balance = initial − sales − completions + refunds (voided ones count nothing), held = the
/// open pre-authorizations.
fn ledger(
    store: &dyn Store,
    card: &Card,
    terminal_txns: &[Transaction],
    host: &[Transaction],
    out: &mut Vec<String>,
) -> anyhow::Result<()> {
    // The terminal journals keep no PAN: a row belongs to the card the host says.
    let rrns: std::collections::HashSet<&str> = host
        .iter()
        .filter(|t| t.card_fingerprint.as_deref() == Some(card.fingerprint.as_str()))
        .filter_map(|t| t.rrn.as_ref().map(|r| r.as_str()))
        .collect();
    let mut balance = card.initial_fen;
    let mut held = 0i64;
    for t in terminal_txns {
        let mine = t.rrn.as_ref().is_some_and(|r| rrns.contains(r.as_str()));
        if !mine || !t.response_code.is_approved() {
            continue;
        }
        let live = !matches!(t.status, TxnStatus::Voided);
        match t.kind {
            TxnKind::Sale | TxnKind::Completion if live => balance -= t.amount.fen(),
            TxnKind::Refund => balance += t.amount.fen(),
            TxnKind::PreAuth if t.status == TxnStatus::Approved => held += t.amount.fen(),
            _ => {}
        }
    }
    let Some(account) = store.account(&card.fingerprint)? else {
        out.push(format!("{}: no issuer account", card.pan));
        return Ok(());
    };
    if (account.balance_fen, account.held_fen) != (balance, held) {
        out.push(format!(
            "issuer account of {}: balance {} held {}, the terminals' journals say balance {balance} held {held}",
            card.pan, account.balance_fen, account.held_fen
        ));
    }
    Ok(())
}
