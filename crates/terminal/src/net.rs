//! The terminal's 8583 conversations with the host: sign-in/out, one financial request with
//! its reversal discipline, settlement with batch upload. Every step that must survive a
//! crash (STAN taken, reversal armed or cleared) is saved before the frame leaves.
//!
//! Reversal rules (spec "Reversal", DESIGN.md): a reversible request arms a reversal record
//! before it is sent; a valid answer disarms it; no answer (time-out, closed connection, a
//! response whose MAC does not verify) leaves it armed. An armed reversal is sent before any
//! other financial request, with exponential back-off, and while it is pending no financial
//! request is sent at all. After `reversal_retries_max` failures it is escalated: no more
//! automatic tries, the screen says to call the acquirer.

use crate::link::{Link, LinkError};
use crate::proto::{Card, Kind, Original, Response, ReversalRecord, Terminal};
use crate::state::{PendingReversal, TermState};
use jiff::{SignedDuration, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use suanpan_core::clock::Clock;
use suanpan_iso8583::{Header, SettlementTotals, Totals as WireTotals};

/// The first back-off step; each failure doubles it.
pub const REVERSAL_BACKOFF_FIRST_MS: i64 = 1_000;
/// The longest back-off step.
pub const REVERSAL_BACKOFF_MAX_MS: i64 = 60_000;
/// STANs skipped after `94` (used by an earlier life of this terminal) before giving up.
pub const USED_STAN_SKIPS_MAX: u32 = 50;

/// A financial request as the screens assemble it.
#[derive(Debug, Clone)]
pub struct TxnRequest {
    /// What.
    pub kind: Kind,
    /// The card (with PIN if typed).
    pub card: Card,
    /// Fen (0 for balance).
    pub amount: u64,
    /// Original (void, refund) or the voided sale a re-charge is linked to (61).
    pub original: Option<Original>,
    /// Training mode.
    pub training: bool,
    /// The cashier confirmed a sale the host refused as a possible duplicate charge (94,
    /// 疑似重复，确认后重试): field 63 carries `DUP` and the host lets it through.
    pub confirm_duplicate: bool,
}

/// Whether an answer is the risk rules' possible-duplicate refusal (94 with its 63 text),
/// which the cashier confirms, rather than the host's used-STAN 94, which the terminal
/// skips by itself.
pub fn is_possible_duplicate(r: &Response) -> bool {
    use suanpan_core::Refusal;
    let refusal = suanpan_core::risk::RiskRefused::PossibleDuplicate;
    r.code == "94"
        && [suanpan_core::Lang::Zh, suanpan_core::Lang::En]
            .iter()
            .any(|l| r.text.trim() == refusal.message(*l))
}

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    /// The host could not be reached; nothing was charged.
    Unreachable(String),
    /// A reversal is still pending (冲正中); `escalated` after too many failures.
    ReversalPending {
        /// No more automatic retries.
        escalated: bool,
    },
    /// Sign-in was refused (code, text) or failed.
    SignIn(String, String),
    /// A fault building the request (never a host answer).
    Fault(String),
}

/// How a financial request ended.
#[derive(Debug, Clone)]
pub enum TxnResult {
    /// The host answered (approved or not); the MAC verified when it carried one.
    Answered(Response),
    /// Sent, but no valid answer: the outcome is unknown and a reversal was stored;
    /// `reversed` when it has already gone through.
    NoAnswer {
        /// The reversal was acknowledged.
        reversed: bool,
        /// `98` no response, `96` MAC error.
        reason: String,
    },
    /// Not sent.
    NotSent(NotSent),
}

/// What a settlement did.
#[derive(Debug, Clone)]
pub struct SettleResult {
    /// 39 of the 0510 (empty when none came).
    pub code: String,
    /// 63.2.
    pub text: String,
    /// The host's totals (48) and its verdict.
    pub host: Option<SettlementTotals>,
    /// The terminal's totals sent.
    pub ours: SettlementTotals,
    /// Items uploaded (0320) because it did not balance.
    pub uploaded: usize,
    /// Signed out afterwards.
    pub signed_out: bool,
}

/// The terminal's protocol engine over a [`Link`].
pub struct Net<L: Link> {
    /// Keys, batch and framing.
    pub proto: Terminal,
    link: L,
    path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
}

impl<L: Link> Net<L> {
    /// An engine; `path` is the state file saved at every durable step (`None`: tests).
    pub fn new(proto: Terminal, link: L, path: Option<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Net {
            proto,
            link,
            path,
            clock,
        }
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn save(&self, state: &TermState) -> Result<(), NotSent> {
        match &self.path {
            Some(p) => state
                .save(p)
                .map_err(|e| NotSent::Fault(format!("saving the terminal state: {e:#}"))),
            None => Ok(()),
        }
    }

    fn timeout(state: &TermState) -> Duration {
        Duration::from_millis(state.params.response_timeout_ms)
    }

    /// 0800 with the operator in 63; opens the working keys, takes the host's batch.
    pub fn sign_in(&mut self, state: &mut TermState, operator: &str) -> Result<(), NotSent> {
        self.proto.operator = operator.to_owned();
        self.proto.stan = state.stan;
        self.proto.batch = state.batch;
        let frame = self
            .proto
            .sign_in()
            .map_err(|e| NotSent::Fault(format!("{e:#}")))?;
        state.stan = self.proto.stan;
        self.save(state)?;
        let body = self
            .link
            .exchange(&frame, Self::timeout(state))
            .map_err(|e| NotSent::Unreachable(e.to_string()))?;
        let r = self
            .proto
            .accept_sign_in(&body)
            .map_err(|e| NotSent::SignIn("96".into(), format!("{e:#}")))?;
        if r.code != "00" {
            return Err(NotSent::SignIn(r.code, r.text));
        }
        state.batch = self.proto.batch;
        self.save(state)
    }

    /// 0820 sign-out; forgets the keys either way.
    pub fn sign_out(&mut self, state: &mut TermState) -> bool {
        self.proto.stan = state.stan;
        let sent = self.proto.sign_out().ok().map(|frame| {
            state.stan = self.proto.stan;
            self.link.exchange(&frame, Self::timeout(state)).is_ok()
        });
        self.proto.forget_keys();
        let _ = self.save(state);
        sent.unwrap_or(false)
    }

    /// Sends the pending reversal if it is due. `Ok(true)`: nothing pending any more.
    pub fn flush_reversal(&mut self, state: &mut TermState, force: bool) -> Result<bool, NotSent> {
        let Some(rev) = state.pending_reversal.clone() else {
            return Ok(true);
        };
        let escalated = rev.attempts >= state.params.reversal_retries_max;
        let due = rev
            .next_at
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .is_none_or(|t| t <= self.now());
        if !force && (escalated || !due) {
            return Ok(false);
        }
        if !self.proto.signed_in() {
            self.sign_in(state, &self.proto.operator.clone())?;
        }
        let frame = self.reversal_frame(&rev)?;
        let answer = self.link.exchange(&frame, Self::timeout(state));
        let done = match answer.map(|b| self.proto.parse(&b)) {
            Ok(Ok(r)) if r.code == "77" || r.processing_requirement == Header::SIGN_IN_AGAIN => {
                // Nothing happened on the host; sign in and let the next try send it.
                self.proto.forget_keys();
                false
            }
            // 00: reversed (or never arrived). 12: the original was voided, refunded or
            // settled since: nothing left to reverse by this means. Both end the reversal.
            Ok(Ok(r)) => r.code == "00" || r.code == "12" || r.code == "25",
            _ => false,
        };
        if done {
            state.pending_reversal = None;
        } else if let Some(p) = state.pending_reversal.as_mut() {
            p.attempts += 1;
            p.next_at = Some(self.backoff_until(p.attempts).to_string());
        }
        self.save(state)?;
        Ok(done)
    }

    fn backoff_until(&self, attempts: u32) -> Timestamp {
        let shift = attempts.saturating_sub(1).min(16);
        let ms = (REVERSAL_BACKOFF_FIRST_MS << shift).min(REVERSAL_BACKOFF_MAX_MS);
        self.now()
            .checked_add(SignedDuration::from_millis(ms))
            .unwrap_or(Timestamp::MAX)
    }

    fn reversal_frame(&mut self, rev: &PendingReversal) -> Result<Vec<u8>, NotSent> {
        let record = ReversalRecord {
            type_code: rev.type_code,
            stan: rev.stan,
            batch: rev.batch,
            amount: rev.amount_fen,
            entry: &rev.entry,
            original: rev.original,
            original_rrn: rev.original_rrn.as_deref(),
            reason: &rev.reason,
        };
        // The header's training digit must match the reversed request's.
        let live = self.proto.training;
        self.proto.training = rev.training;
        let frame = self.proto.reversal_record(&record);
        self.proto.training = live;
        frame.map_err(|e| NotSent::Fault(format!("{e:#}")))
    }

    /// One financial request, with the reversal discipline and automatic re-sign-in on 77.
    pub fn financial(&mut self, state: &mut TermState, req: &TxnRequest) -> (u32, TxnResult) {
        match self.flush_reversal(state, false) {
            Ok(true) => {}
            Ok(false) => {
                let escalated = state
                    .pending_reversal
                    .as_ref()
                    .is_some_and(|p| p.attempts >= state.params.reversal_retries_max);
                return (
                    0,
                    TxnResult::NotSent(NotSent::ReversalPending { escalated }),
                );
            }
            Err(e) => return (0, TxnResult::NotSent(e)),
        }
        if !self.proto.signed_in()
            && let Err(e) = self.sign_in(state, &self.proto.operator.clone())
        {
            return (0, TxnResult::NotSent(e));
        }
        let (stan, first) = self.send_once(state, req);
        let (stan, result) = match first {
            TxnResult::Answered(r)
                if r.code == "77" || r.processing_requirement == Header::SIGN_IN_AGAIN =>
            {
                // 77: the host lost our session or batch. Sign in again and resend once.
                self.proto.forget_keys();
                if let Err(e) = self.sign_in(state, &self.proto.operator.clone()) {
                    return (stan, TxnResult::NotSent(e));
                }
                self.send_once(state, req)
            }
            other => (stan, other),
        };
        self.skip_used_stans(state, req, stan, result)
    }

    /// 94 means the host already holds this batch + STAN for another request (the terminal's
    /// state file was replaced, so its STAN started over). Nothing was booked: the request
    /// goes again under the next STAN, at most [`USED_STAN_SKIPS_MAX`] times.
    fn skip_used_stans(
        &mut self,
        state: &mut TermState,
        req: &TxnRequest,
        mut stan: u32,
        mut result: TxnResult,
    ) -> (u32, TxnResult) {
        for _ in 0..USED_STAN_SKIPS_MAX {
            match &result {
                TxnResult::Answered(r) if r.code == "94" && !is_possible_duplicate(r) => {}
                _ => break,
            }
            (stan, result) = self.send_once(state, req);
        }
        (stan, result)
    }

    fn send_once(&mut self, state: &mut TermState, req: &TxnRequest) -> (u32, TxnResult) {
        self.proto.stan = state.stan;
        self.proto.batch = state.batch;
        self.proto.training = req.training;
        self.proto.confirm_duplicate = req.confirm_duplicate;
        let built = self
            .proto
            .request(req.kind, &req.card, req.amount, req.original.as_ref());
        let (stan, frame) = match built {
            Ok(x) => x,
            Err(e) => return (0, TxnResult::NotSent(NotSent::Fault(format!("{e:#}")))),
        };
        state.stan = stan;
        if req.kind.reversible() {
            state.pending_reversal = Some(PendingReversal {
                type_code: req.kind.type_code(),
                stan,
                batch: state.batch,
                amount_fen: if req.kind == Kind::Balance {
                    0
                } else {
                    req.amount
                },
                entry: req.card.entry.to_owned(),
                original: req.original.as_ref().map(|o| (o.batch, o.stan)),
                original_rrn: req
                    .original
                    .as_ref()
                    .filter(|_| matches!(req.kind, Kind::Void | Kind::CompletionVoid))
                    .and_then(|o| o.rrn.clone()),
                reason: "98".into(),
                training: req.training,
                attempts: 0,
                next_at: None,
            });
        }
        // The STAN and the armed reversal are on disk before the request leaves: a crash
        // now is reversed at the next start.
        if let Err(e) = self.save(state) {
            state.pending_reversal = None;
            return (stan, TxnResult::NotSent(e));
        }
        let answer = self.link.exchange(&frame, Self::timeout(state));
        let reason = match answer {
            Err(LinkError::Unreachable(why)) => {
                state.pending_reversal = None;
                let _ = self.save(state);
                return (stan, TxnResult::NotSent(NotSent::Unreachable(why)));
            }
            Err(LinkError::NoResponse) => "98",
            Ok(body) => match self.proto.parse(&body) {
                Ok(r) if r.mac_ok != Some(false) && r.stan == Some(stan) => {
                    state.pending_reversal = None;
                    let _ = self.save(state);
                    return (stan, TxnResult::Answered(r));
                }
                Ok(r) if r.code == "77" || r.code == "A0" => {
                    // Refused before anything was booked; the host MACs these too, but a
                    // session it lost cannot have a valid MAC: nothing to reverse.
                    state.pending_reversal = None;
                    let _ = self.save(state);
                    return (stan, TxnResult::Answered(r));
                }
                // A response whose MAC does not verify (or of another STAN) is no response.
                _ => "96",
            },
        };
        if let Some(p) = state.pending_reversal.as_mut() {
            p.reason = reason.to_owned();
        }
        let _ = self.save(state);
        // Only a reversible request has a reversal to send (a refund or a balance inquiry
        // has none: its outcome stays unknown until someone looks it up).
        let reversed =
            req.kind.reversible() && matches!(self.flush_reversal(state, true), Ok(true));
        (
            stan,
            TxnResult::NoAnswer {
                reversed,
                reason: reason.to_owned(),
            },
        )
    }

    /// 0500 with the terminal's totals; batch upload (0320) when the host says unbalanced;
    /// then 0820 sign-out.
    pub fn settle(
        &mut self,
        state: &mut TermState,
        operator: &str,
    ) -> Result<SettleResult, NotSent> {
        if !self.flush_reversal(state, true)? {
            return Err(NotSent::ReversalPending { escalated: false });
        }
        if !self.proto.signed_in() {
            self.sign_in(state, operator)?;
        }
        let t = state.totals().map_err(|e| NotSent::Fault(e.to_string()))?;
        let ours = SettlementTotals {
            domestic: WireTotals {
                debit_amount: u64::try_from(t.debit_fen).unwrap_or(0),
                debit_count: u16::try_from(t.debit_count.min(999)).unwrap_or(999),
                credit_amount: u64::try_from(t.credit_fen).unwrap_or(0),
                credit_count: u16::try_from(t.credit_count.min(999)).unwrap_or(999),
                reconciliation: 0,
            },
            foreign: WireTotals {
                debit_amount: 0,
                debit_count: 0,
                credit_amount: 0,
                credit_count: 0,
                reconciliation: 0,
            },
        };
        let mut r = self.send_settlement(state, operator, &ours)?;
        if r.code == "77" {
            // The host lost our session (restart): sign in again and settle once more.
            self.proto.forget_keys();
            self.sign_in(state, operator)?;
            r = self.send_settlement(state, operator, &ours)?;
        }
        let mut result = SettleResult {
            code: r.code.clone(),
            text: r.text.clone(),
            host: r.totals,
            ours,
            uploaded: 0,
            signed_out: false,
        };
        if r.code != "00" {
            return Ok(result);
        }
        if r.totals.is_some_and(|h| h.domestic.reconciliation == 2) {
            result.uploaded = self.batch_upload(state);
        }
        // The host opened the next batch; the next sign-in brings its number.
        state.batch = state.batch % 999_999 + 1;
        result.signed_out = self.sign_out(state);
        Ok(result)
    }

    fn send_settlement(
        &mut self,
        state: &mut TermState,
        operator: &str,
        ours: &SettlementTotals,
    ) -> Result<Response, NotSent> {
        self.proto.stan = state.stan;
        self.proto.batch = state.batch;
        self.proto.training = false;
        self.proto.operator = operator.to_owned();
        let frame = self
            .proto
            .settlement(ours)
            .map_err(|e| NotSent::Fault(format!("{e:#}")))?;
        state.stan = self.proto.stan;
        self.save(state)?;
        let body = self
            .link
            .exchange(&frame, Self::timeout(state))
            .map_err(|e| NotSent::Unreachable(e.to_string()))?;
        self.proto
            .parse(&body)
            .map_err(|e| NotSent::Fault(format!("{e:#}")))
    }

    fn batch_upload(&mut self, state: &mut TermState) -> usize {
        let items = state
            .batch_rows()
            .iter()
            .filter(|t| !t.training && t.approved())
            .count();
        let mut sent = 0;
        for i in 0..items.max(1) {
            self.proto.stan = state.stan;
            let Ok(frame) = self.proto.batch_upload(i + 1 == items.max(1)) else {
                break;
            };
            state.stan = self.proto.stan;
            if self.link.exchange(&frame, Self::timeout(state)).is_err() {
                break;
            }
            sent += 1;
        }
        let _ = self.save(state);
        sent
    }
}
