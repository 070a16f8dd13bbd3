//! What the switch answers to each message (spec `iso8583-1987-switch.md`, "Messages" and
//! "Matching, time-outs, store-and-forward"). Each answer is stored with its effect in the
//! same ledger transaction, so a duplicate gets the very same bytes; the server commits the
//! messages that arrived together in one transaction ([`Processor::book_group`]).

use crate::ledger::{self, Book, LedgerError, LoadCards, Record};
use jiff::Timestamp;
use rusqlite::{Connection, Transaction};
use suanpan_core::Amount;
use suanpan_iso8583::switch::{
    self as wire, MTI_0100, MTI_0200, MTI_0220, MTI_0420, MTI_0421, MTI_0800, OriginalData,
};
use suanpan_iso8583::{IsoMsg, Mti, SWITCH, Zpk, crypto};
use suanpan_issuer::{AccountBook, EnteredPin, Issuer, IssuerOp, IssuerRequest, Simulator};

/// A completion may capture at most this percentage of its hold (spec: "above 115% of the
/// hold is answered 13").
pub const COMPLETION_PERCENT_MAX: i64 = 115;

/// Answer fields that echo the request (spec "Messages", answer columns).
const ECHO_0110: &[u8] = &[3, 4, 7, 11, 32, 37, 41, 42, 49];
const ECHO_0230: &[u8] = &[3, 4, 7, 11, 32, 37, 41, 42];
const ECHO_0810: &[u8] = &[7, 11, 70];

/// The message handler over the ledger connection.
pub struct Processor {
    conn: Connection,
    zpk: Option<Zpk>,
    load_cards: LoadCards,
}

/// A connection's state the handler reads and changes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Session {
    /// True after an 0800 sign-on (and before a sign-off).
    pub signed_on: bool,
}

impl Processor {
    /// A handler over an open ledger.
    pub fn new(conn: Connection, zpk: Option<Zpk>) -> Processor {
        Processor {
            conn,
            zpk,
            load_cards: LoadCards::default(),
        }
    }

    /// The ledger connection (totals, clearing).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Answers one request; `None` for a message that gets no answer (an answer MTI).
    ///
    /// # Errors
    /// Ledger failures; nothing was booked then.
    pub fn handle(
        &mut self,
        req: &IsoMsg,
        session: &mut Session,
        now: Timestamp,
    ) -> Result<Option<IsoMsg>, LedgerError> {
        match route(req, session) {
            Route::Answered(a) => Ok(a.map(|m| *m)),
            Route::Book => self.book_one(req, now).map(Some),
        }
    }

    /// Books `group` (each request with its time) in one ledger transaction and answers
    /// each in order, as if each had been booked alone in that order. When one of them
    /// fails, the transaction is rolled back whole and each is booked alone again, so one
    /// message's failure costs no other its booking.
    pub fn book_group(
        &mut self,
        group: &[(&IsoMsg, Timestamp)],
    ) -> Vec<Result<IsoMsg, LedgerError>> {
        match self.book_together(group) {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(e) if group.len() == 1 => vec![Err(e)],
            Err(_) => group
                .iter()
                .map(|(req, now)| self.book_one(req, *now))
                .collect(),
        }
    }

    fn book_together(
        &mut self,
        group: &[(&IsoMsg, Timestamp)],
    ) -> Result<Vec<IsoMsg>, LedgerError> {
        let result = self.book_together_in_tx(group);
        self.settle_load_cards(result.is_ok());
        result
    }

    fn book_together_in_tx(
        &mut self,
        group: &[(&IsoMsg, Timestamp)],
    ) -> Result<Vec<IsoMsg>, LedgerError> {
        let tx = self.conn.transaction()?;
        let cards = &mut self.load_cards;
        let answers = group
            .iter()
            .map(|(req, now)| book(&tx, self.zpk.as_ref(), cards, req, *now))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(answers)
    }

    fn book_one(&mut self, req: &IsoMsg, now: Timestamp) -> Result<IsoMsg, LedgerError> {
        let result = self.book_one_in_tx(req, now);
        self.settle_load_cards(result.is_ok());
        result
    }

    fn book_one_in_tx(&mut self, req: &IsoMsg, now: Timestamp) -> Result<IsoMsg, LedgerError> {
        let tx = self.conn.transaction()?;
        let out = book(&tx, self.zpk.as_ref(), &mut self.load_cards, req, now)?;
        tx.commit()?;
        Ok(out)
    }

    /// The load cards the last transaction ensured are remembered when it committed.
    fn settle_load_cards(&mut self, committed: bool) {
        if committed {
            self.load_cards.committed();
        } else {
            self.load_cards.rolled_back();
        }
    }

    /// Whether the account of load card `pan` is known to be in the ledger (tests).
    pub fn load_card_known(&self, pan: &str) -> bool {
        self.load_cards.is_known(pan)
    }
}

/// What a request needs before the ledger sees it.
#[derive(Debug)]
pub enum Route {
    /// Answered from the connection's state alone (network management, not signed on, an
    /// answer MTI that gets none).
    Answered(Option<Box<IsoMsg>>),
    /// A financial or reversal request for the ledger ([`Processor::book_group`]).
    Book,
}

/// Routes `req` on the connection's `session` (which a sign-on or sign-off changes).
pub fn route(req: &IsoMsg, session: &mut Session) -> Route {
    let mti = req.mti();
    if !mti.is_request() {
        return Route::Answered(None);
    }
    if mti == MTI_0800 {
        return Route::Answered(Some(Box::new(network(req, session))));
    }
    if !session.signed_on {
        return Route::Answered(Some(Box::new(answer(req, ECHO_0110, "91"))));
    }
    Route::Book
}

/// The effect of one routed request inside the ledger transaction `tx`, and its answer.
fn book(
    tx: &Transaction<'_>,
    zpk: Option<&Zpk>,
    cards: &mut LoadCards,
    req: &IsoMsg,
    now: Timestamp,
) -> Result<IsoMsg, LedgerError> {
    let mti = req.mti();
    Ok(match mti {
        m if m == MTI_0100 || m == MTI_0200 => authorize(tx, zpk, cards, req, now)?,
        m if m == MTI_0220 => complete(tx, req)?,
        m if m == MTI_0420 || m == MTI_0421 => reverse(tx, req)?,
        _ => answer(req, ECHO_0110, "12"),
    })
}

/// An answer carrying the request's `echo` fields and 39.
fn answer(req: &IsoMsg, echo: &[u8], code: &str) -> IsoMsg {
    let mti = wire::answer_mti(req.mti());
    let mut a = IsoMsg::new(&SWITCH, mti);
    for &n in echo {
        // Fields were checked against the same profile on decode.
        let _ = a.copy_from(req, n);
    }
    let _ = a.set_str(39, code);
    a
}

fn network(req: &IsoMsg, session: &mut Session) -> IsoMsg {
    let code = match req.text(70) {
        Some(wire::NMC_SIGN_ON) => {
            session.signed_on = true;
            "00"
        }
        Some(wire::NMC_SIGN_OFF) => {
            session.signed_on = false;
            "00"
        }
        Some(wire::NMC_ECHO | wire::NMC_KEY_CHANGE) => "00",
        _ => "12",
    };
    answer(req, ECHO_0810, code)
}

/// The UTC date of field 7 (`MMDDhhmmss`): the year is the one of `now`, or the previous
/// one when the month lies ahead (a message sent on 31 December arriving on 1 January).
pub fn settlement_date(transmitted: &str, now: Timestamp) -> String {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let month: i8 = transmitted
        .get(..2)
        .and_then(|m| m.parse().ok())
        .unwrap_or(1);
    let day: i8 = transmitted
        .get(2..4)
        .and_then(|d| d.parse().ok())
        .unwrap_or(1);
    let year = if month > today.month() + 1 {
        today.year() - 1
    } else {
        today.year()
    };
    format!("{year:04}-{month:02}-{day:02}")
}

fn text(req: &IsoMsg, n: u8) -> String {
    req.text(n).unwrap_or_default().to_owned()
}

/// A record of `req` before its outcome is known.
fn record_of(req: &IsoMsg, now: Timestamp) -> Record {
    Record {
        mti: req.mti().to_string(),
        stan: text(req, 11),
        transmitted: text(req, 7),
        terminal: text(req, 41),
        acquirer: wire::pad_acquirer(req.text(32).unwrap_or_default()),
        merchant: text(req, 42).trim_end().to_owned(),
        rrn: text(req, 37),
        processing_code: text(req, 3),
        amount_fen: req.u64(4).map_or(0, |a| a as i64),
        settlement_date: settlement_date(req.text(7).unwrap_or_default(), now),
        ..Record::default()
    }
}

fn encode(a: &IsoMsg) -> Vec<u8> {
    let mut out = Vec::new();
    // Every answer is built from checked fields, far below the frame limit.
    let _ = a.encode(&mut out);
    out
}

fn replay(stored: &Record) -> IsoMsg {
    IsoMsg::decode(&SWITCH, stored.answer.get(2..).unwrap_or_default())
        .unwrap_or_else(|_| IsoMsg::new(&SWITCH, Mti::FINANCIAL_REQUEST))
}

fn duplicate(tx: &Transaction<'_>, req: &IsoMsg, mti: &str) -> Result<Option<IsoMsg>, LedgerError> {
    let found = ledger::find_duplicate(
        tx,
        mti,
        req.text(11).unwrap_or_default(),
        req.text(7).unwrap_or_default(),
        req.text(41).unwrap_or_default(),
    )?;
    Ok(found.as_ref().map(|r| {
        let mut a = replay(r);
        a.set_mti(wire::answer_mti(req.mti()));
        a
    }))
}

fn has_all(req: &IsoMsg, fields: &[u8]) -> bool {
    fields.iter().all(|&n| req.has(n))
}

/// The PAN of field 2, or of track 2 before the separator.
fn pan_of(req: &IsoMsg) -> Option<String> {
    if let Some(p) = req.text(2) {
        return Some(p.to_owned());
    }
    req.text(35)?.split('=').next().map(str::to_owned)
}

/// 0100 / 0200: pre-authorization, balance inquiry, purchase, refund.
fn authorize(
    tx: &Transaction<'_>,
    zpk: Option<&Zpk>,
    cards: &mut LoadCards,
    req: &IsoMsg,
    now: Timestamp,
) -> Result<IsoMsg, LedgerError> {
    if !has_all(req, &[3, 4, 7, 11, 41]) {
        return Ok(answer(req, ECHO_0110, "30"));
    }
    let mti = req.mti().to_string();
    if let Some(stored) = duplicate(tx, req, &mti)? {
        return Ok(stored);
    }
    let mut rec = record_of(req, now);
    let key = ledger::original_key(
        &rec.mti,
        &rec.stan,
        &rec.transmitted,
        &rec.acquirer,
        &rec.terminal,
    );
    let pc = rec.processing_code.as_str();
    let op = match (req.mti(), pc) {
        (m, wire::PC_PREAUTH) if m == MTI_0100 => Some(IssuerOp::Hold),
        (m, wire::PC_BALANCE) if m == MTI_0100 => Some(IssuerOp::Balance),
        (m, wire::PC_PURCHASE) if m == MTI_0200 => Some(IssuerOp::Debit),
        (m, wire::PC_REFUND) if m == MTI_0200 => Some(IssuerOp::Credit),
        _ => None,
    };
    let (code, available) = if ledger::reversed_first(tx, &key)? {
        // Spec: a reversal seen first is remembered so the late original is not approved.
        ("94".to_owned(), None)
    } else if let Some(op) = op {
        issue(tx, zpk, cards, req, &mut rec, op, now)?
    } else {
        ("12".to_owned(), None)
    };
    let mut a = answer(req, ECHO_0110, &code);
    if code == "00" {
        rec.auth_id = format!("{:06}", (rec_seq(tx)? % 1_000_000));
        let _ = a.set_str(38, &rec.auth_id);
        rec.status = "approved".into();
        if op == Some(IssuerOp::Hold) {
            rec.held_fen = rec.amount_fen;
        }
        if let Some(avail) = available.filter(|_| op == Some(IssuerOp::Balance)) {
            let _ = a.set_str(54, &wire::available_balance_field("156", avail));
        }
    } else {
        rec.status = "declined".into();
    }
    rec.response_code = code;
    rec.answer = encode(&a);
    ledger::insert(tx, &rec)?;
    Ok(a)
}

/// A number for the next authorization id.
fn rec_seq(tx: &Transaction<'_>) -> Result<i64, LedgerError> {
    Ok(tx
        .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM messages")?
        .query_row([], |r| r.get(0))?)
}

/// Asks the issuer simulator; returns field 39 and the available balance.
fn issue(
    tx: &Transaction<'_>,
    zpk: Option<&Zpk>,
    cards: &mut LoadCards,
    req: &IsoMsg,
    rec: &mut Record,
    op: IssuerOp,
    now: Timestamp,
) -> Result<(String, Option<i64>), LedgerError> {
    let Some(pan) = pan_of(req) else {
        return Ok(("30".into(), None));
    };
    cards.ensure(tx, &pan)?;
    let account = ledger::account_id(&pan);
    let pin = entered_pin(zpk, req, &pan);
    let expiry = req.text(14);
    let request = IssuerRequest {
        account_id: &account,
        op,
        amount: Amount::from_fen(rec.amount_fen),
        pin: pin.as_ref(),
        expiry,
        now,
    };
    let Some(resp) = Simulator.authorize(&mut Book(tx), &request)? else {
        return Ok(("14".into(), None));
    };
    rec.account_id = Some(account);
    Ok((resp.code.code().to_owned(), Some(resp.available_fen)))
}

/// The PIN of field 52, decrypted under the ZPK; `None` when absent or undecipherable
/// (the simulator then answers 55 for a card that has a PIN).
fn entered_pin(zpk: Option<&Zpk>, req: &IsoMsg, pan: &str) -> Option<EnteredPin> {
    let block: &[u8; 8] = req.get(52)?.try_into().ok()?;
    let pin = crypto::decrypt_pin(&zpk?.pin_key(), block, pan).ok()?;
    Some(EnteredPin::clear(pin.expose_secret()))
}

/// 0220: a pre-authorization completion naming its pre-authorization in field 90, or (no
/// 90, processing code `000000`) a stand-in advice.
fn complete(tx: &Transaction<'_>, req: &IsoMsg) -> Result<IsoMsg, LedgerError> {
    if !req.has(90) && req.text(3) == Some(wire::PC_PURCHASE) {
        return stand_in_advice(tx, req);
    }
    if !has_all(req, &[3, 4, 7, 11, 41, 90]) {
        return Ok(answer(req, ECHO_0230, "30"));
    }
    if let Some(stored) = duplicate(tx, req, "0220")? {
        return Ok(stored);
    }
    let now = Timestamp::now();
    let mut rec = record_of(req, now);
    let Ok(od) = OriginalData::parse(req.text(90).unwrap_or_default()) else {
        return Ok(answer(req, ECHO_0230, "30"));
    };
    let key = ledger::original_key(
        &od.mti.to_string(),
        &od.stan,
        &od.transmitted,
        &od.acquirer,
        &rec.terminal,
    );
    rec.original_key = Some(key.clone());
    rec.original_mti = Some(od.mti.to_string());
    let original = ledger::find_original(tx, &key)?;
    let code = match original {
        Some(mut pre) if pre.status == "approved" && pre.processing_code == wire::PC_PREAUTH => {
            capture(tx, &mut pre, &mut rec)?
        }
        _ => "25".to_owned(),
    };
    advice_answered(tx, req, rec, code)
}

/// 0220 without field 90, processing code `000000`: a purchase the acquirer approved in
/// stand-in while this switch was down (docs/ISO8583.md, "Stand-in"), with the acquirer's
/// authorization id in 38. It is an advice: recorded and the card debited without checks
/// (the acquirer already gave the goods), answered `00`; a repeat (same 11, 7, 41) gets the
/// stored 0230 and debits nothing more.
fn stand_in_advice(tx: &Transaction<'_>, req: &IsoMsg) -> Result<IsoMsg, LedgerError> {
    if !has_all(req, &[3, 4, 7, 11, 41]) {
        return Ok(answer(req, ECHO_0230, "30"));
    }
    if let Some(stored) = duplicate(tx, req, "0220")? {
        return Ok(stored);
    }
    let mut rec = record_of(req, Timestamp::now());
    rec.auth_id = req.text(38).unwrap_or_default().trim().to_owned();
    let code = match pan_of(req) {
        None => "30".to_owned(),
        Some(pan) => {
            ledger::ensure_load_card(tx, &pan)?;
            let account = ledger::account_id(&pan);
            let code = force(tx, &account, IssuerOp::ForceDebit, rec.amount_fen)?;
            if code == "00" {
                rec.account_id = Some(account);
            }
            code
        }
    };
    advice_answered(tx, req, rec, code)
}

/// Books a 0220 with its outcome `code` and answers it (0230).
fn advice_answered(
    tx: &Transaction<'_>,
    req: &IsoMsg,
    mut rec: Record,
    code: String,
) -> Result<IsoMsg, LedgerError> {
    let a = answer(req, ECHO_0230, &code);
    rec.status = if code == "00" { "approved" } else { "declined" }.into();
    rec.response_code = code;
    rec.answer = encode(&a);
    ledger::insert(tx, &rec)?;
    Ok(a)
}

fn capture(
    tx: &Transaction<'_>,
    pre: &mut Record,
    rec: &mut Record,
) -> Result<String, LedgerError> {
    let held = pre.held_fen;
    let limit = held
        .checked_mul(COMPLETION_PERCENT_MAX)
        .ok_or(LedgerError::Invariant("hold overflow"))?;
    let asked = rec
        .amount_fen
        .checked_mul(100)
        .ok_or(LedgerError::Invariant("amount overflow"))?;
    if asked > limit {
        return Ok("13".into());
    }
    let Some(account) = pre.account_id.clone() else {
        return Ok("25".into());
    };
    // A completion is an advice: the card was checked at the pre-authorization, so the
    // hold is released and the amount taken without card checks, refused only for funds.
    force(tx, &account, IssuerOp::Release, held)?;
    let available = AccountBook::load_account(&mut Book(tx), &account)?
        .map_or(0, |a| a.balance_fen - a.held_fen);
    if rec.amount_fen > available {
        force(tx, &account, IssuerOp::ForceHold, held)?;
        return Ok("51".into());
    }
    force(tx, &account, IssuerOp::ForceDebit, rec.amount_fen)?;
    rec.account_id = Some(account);
    rec.held_fen = held;
    pre.status = "completed".into();
    pre.held_fen = 0;
    ledger::update_original(tx, pre)?;
    Ok("00".into())
}

/// Runs one forced issuer operation (release, credit, force debit, force hold: never
/// declined) on `account`.
fn force(
    tx: &Transaction<'_>,
    account: &str,
    op: IssuerOp,
    amount: i64,
) -> Result<String, LedgerError> {
    let request = IssuerRequest {
        account_id: account,
        op,
        amount: Amount::from_fen(amount),
        pin: None,
        expiry: None,
        now: Timestamp::now(),
    };
    let resp = Simulator.authorize(&mut Book(tx), &request)?;
    Ok(resp.map_or("25".into(), |r| r.code.code().to_owned()))
}

/// 0420 / 0421: a reversal advice. Always acknowledged (`00`) once recorded.
fn reverse(tx: &Transaction<'_>, req: &IsoMsg) -> Result<IsoMsg, LedgerError> {
    if !has_all(req, &[7, 11, 41, 90]) {
        return Ok(answer(req, ECHO_0230, "30"));
    }
    // A 0421 is the 0420 again: same key, same answer.
    if let Some(stored) = duplicate(tx, req, "0420")? {
        return Ok(stored);
    }
    let Ok(od) = OriginalData::parse(req.text(90).unwrap_or_default()) else {
        return Ok(answer(req, ECHO_0230, "30"));
    };
    let now = Timestamp::now();
    let mut rec = record_of(req, now);
    rec.mti = "0420".into();
    rec.response_code = req.text(39).unwrap_or("68").to_owned();
    rec.status = "approved".into();
    let key = ledger::original_key(
        &od.mti.to_string(),
        &od.stan,
        &od.transmitted,
        &od.acquirer,
        &rec.terminal,
    );
    rec.original_key = Some(key.clone());
    rec.amount_fen = 0;
    if let Some(mut orig) = ledger::find_original(tx, &key)? {
        rec.original_mti = Some(orig.mti.clone());
        rec.processing_code = orig.processing_code.clone();
        rec.account_id = orig.account_id.clone();
        let actual = req.text(95).and_then(|t| t.get(..12)?.parse::<i64>().ok());
        rec.amount_fen = undo(tx, &mut orig, actual)?;
    }
    let a = answer(req, ECHO_0230, "00");
    rec.answer = encode(&a);
    ledger::insert(tx, &rec)?;
    Ok(a)
}

/// Undoes what `orig` did, down to `actual` (field 95) or fully; returns the fen undone
/// (holds released count 0: no money had moved).
fn undo(tx: &Transaction<'_>, orig: &mut Record, actual: Option<i64>) -> Result<i64, LedgerError> {
    let Some(account) = orig.account_id.clone() else {
        return Ok(0);
    };
    if orig.status != "approved" {
        // Declined, already reversed or completed: nothing left to undo here.
        return Ok(0);
    }
    let remaining = orig.amount_fen - orig.reversed_fen;
    let target = actual.unwrap_or(0).clamp(0, orig.amount_fen);
    let undo = (remaining - target).max(0);
    let pc = orig.processing_code.as_str();
    let (op, money) = match (orig.mti.as_str(), pc) {
        ("0100", wire::PC_PREAUTH) => (Some(IssuerOp::Release), false),
        ("0100", _) => (None, false),
        ("0200", wire::PC_REFUND) => (Some(IssuerOp::ForceDebit), true),
        ("0200" | "0220", _) => (Some(IssuerOp::Credit), true),
        _ => (None, false),
    };
    if orig.mti == "0100" {
        if let Some(op) = op {
            force(tx, &account, op, orig.held_fen)?;
        }
        orig.held_fen = 0;
        orig.status = "reversed".into();
        orig.reversed_fen = orig.amount_fen;
        ledger::update_original(tx, orig)?;
        return Ok(0);
    }
    if let Some(op) = op.filter(|_| undo > 0) {
        force(tx, &account, op, undo)?;
    }
    if orig.mti == "0220" && undo == remaining {
        restore_hold(tx, orig, &account)?;
    }
    orig.reversed_fen += undo;
    if orig.reversed_fen == orig.amount_fen {
        orig.status = "reversed".into();
    }
    ledger::update_original(tx, orig)?;
    Ok(if money { undo } else { 0 })
}

/// A reversed completion puts its pre-authorization's hold back.
fn restore_hold(
    tx: &Transaction<'_>,
    completion: &Record,
    account: &str,
) -> Result<(), LedgerError> {
    let Some(key) = completion.original_key.as_deref() else {
        return Ok(());
    };
    if let Some(mut pre) = ledger::find_original(tx, key)? {
        force(tx, account, IssuerOp::ForceHold, completion.held_fen)?;
        pre.status = "approved".into();
        pre.held_fen = completion.held_fen;
        ledger::update_original(tx, &pre)?;
    }
    Ok(())
}
