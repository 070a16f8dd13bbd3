//! One request frame in, one response frame out: decode, route by MTI / 60.1 / 60.3, check
//! session and MAC, run one store command, and build the response.
//!
//! **Architecture Invariant:** this is the only place that turns store replies and refusals
//! into 8583 response codes and 63.2 text. It decides no money rule: every transaction goes
//! to the store as one [`Command`]; the host only refuses what the wire itself tells it
//! (format, MAC, session, terminal).

use crate::Host;
use crate::session::{PinError, Session};
use std::sync::Arc;
use suanpan_core::refusal::{AccessRefused, ReversalRefused};
use suanpan_core::settlement::Totals;
use suanpan_core::{
    Amount, BatchNo, Lang, OperatorNo, Pan, PaymentMethod, Refusal, ResponseCode, TerminalId,
    Transaction, TxnId, TxnKind, VoucherNo,
};
use suanpan_iso8583::crypto::sign_in_mak_with;
use suanpan_iso8583::{
    Error as WireError, Field60, Format, HEADER_BYTES, HEADER_USED_BYTES, Header, KeyLayout,
    MacAlgorithm, Mak, Message, MessageBuilder, Mti, SettlementTotals, TPDU_BYTES, TPDU_ID, Tmk,
    Tpdu, WorkingKeys,
};
use suanpan_issuer::EnteredPin;
use suanpan_service::upstream::Upstream;
use suanpan_service::upstream::network::Presented;
use suanpan_store::command::{
    BalanceInquiry, Complete, Origin, OriginalRef, PreAuthVoid, Purchase, RecordRefusal, Refund,
    Reverse, Settle, Void,
};
use suanpan_store::{
    Ask, AskExt, BalanceReply, Fingerprinter, Instrument, PurchaseReply, Refused, ReversalReply,
    SettleReport, TxnReply,
};
use suanpan_upstream::msg::Card as UpCard;

/// Field 32 of responses: this host's acquiring institution id.
pub const ACQUIRER_ID: &str = "48020000";
/// What a sale's field 63 carries when the counter confirms a possible duplicate charge
/// (issue 13; docs/ISO8583.md "Duplicate charge").
pub const CONFIRM_DUPLICATE_63: &str = "DUP";

/// 63.2 may hold at most this many GBK bytes (63 is ans...163, 63.1 takes 3).
const FIELD63_TEXT_BYTES_MAX: usize = 160;
/// Largest count field 48 can carry (n3).
const FIELD48_COUNT_MAX: u32 = 999;
/// 60.3 of a sign-out.
const NET_SIGN_OUT: u16 = 2;
/// 60.3 of an echo test.
const NET_ECHO: u16 = 301;

/// What the connection does with a frame.
pub enum Outcome {
    /// Send these bytes (a whole frame, length prefix included).
    Reply {
        /// The frame.
        frame: Vec<u8>,
        /// The request's MTI, for metrics.
        mti: Mti,
        /// The response code sent.
        code: &'static str,
    },
    /// Nothing sensible can be answered: close the connection.
    Close,
}

/// Why a request could not be answered with a business response.
enum Fault {
    /// Missing or malformed field: answer 30.
    Format(&'static str),
    /// The store or the encoder failed: answer 96, keep the cause for the log.
    Internal(anyhow::Error),
}

impl From<WireError> for Fault {
    fn from(e: WireError) -> Fault {
        Fault::Internal(anyhow::anyhow!("encoding the response: {e}"))
    }
}

impl From<suanpan_store::StoreError> for Fault {
    fn from(e: suanpan_store::StoreError) -> Fault {
        Fault::Internal(anyhow::Error::new(e))
    }
}

/// A response being built: the builder, the code, and the key to MAC it with.
struct Answer {
    b: MessageBuilder,
    code: ResponseCode,
    mac: Option<Arc<Session>>,
}

impl Host {
    /// Handles one frame body (TPDU through the last field). Store commands are awaited,
    /// not blocked on: a connection in flight costs a future, not a thread.
    /// An identical retransmission of a non-financial request gets the stored answer
    /// (`replay`); financial ones are made idempotent by the store.
    pub async fn handle(&self, body: &[u8]) -> Outcome {
        let msg = match Message::decode(body) {
            Ok(m) => m,
            Err(e) => return self.undecodable(body, e),
        };
        let replayable = msg.mti().is_request() && !msg.mti().carries_mac();
        let Some(tid) = replayable.then(|| terminal_id(&msg).ok()).flatten() else {
            return self.answer(&msg).await;
        };
        let slot = self.replies.slot(&tid);
        let mut kept = slot.lock().await;
        if let Some(frame) = kept.find(body) {
            tracing::info!(terminal = %tid, mti = %msg.mti(), "retransmission; stored answer");
            let code = ResponseCode::Approved.code();
            return Outcome::Reply {
                frame,
                mti: msg.mti(),
                code,
            };
        }
        let out = self.answer(&msg).await;
        if let Outcome::Reply { frame, code, .. } = &out
            && *code == ResponseCode::Approved.code()
        {
            kept.remember(body, frame.clone());
        }
        out
    }

    async fn answer(&self, msg: &Message<'_>) -> Outcome {
        let mti = msg.mti();
        let answer = match self.route(msg).await {
            Ok(a) => a,
            Err(Fault::Format(what)) => {
                tracing::warn!(%mti, what, "format error");
                let mut b = echo_base(msg);
                self.finish_text(&mut b, ResponseCode::FormatError, None);
                Answer {
                    b,
                    code: ResponseCode::FormatError,
                    mac: None,
                }
            }
            Err(Fault::Internal(e))
                if matches!(
                    e.downcast_ref::<suanpan_store::StoreError>(),
                    Some(suanpan_store::StoreError::TimedOut(_))
                ) =>
            {
                // The command may still commit: no answer at all, so the terminal times out
                // and sends its reversal, which the writer runs after the command (one queue).
                // A 96 would make the terminal drop a sale the store may yet approve.
                tracing::error!(%mti, error = format!("{e:#}"), "the store did not answer in time; no answer sent");
                return Outcome::Close;
            }
            Err(Fault::Internal(e)) => {
                tracing::error!(%mti, error = format!("{e:#}"), "request failed; answered 96");
                let mut b = echo_base(msg);
                // A full disk says so (磁盘已满，本次操作未保存): nothing of the request was
                // saved, and the terminal's reversal finds nothing to undo.
                let text = match e.downcast_ref::<suanpan_store::StoreError>() {
                    Some(full @ suanpan_store::StoreError::DiskFull) => {
                        Some(full.message(Lang::Zh))
                    }
                    _ => None,
                };
                self.finish_text(&mut b, ResponseCode::SystemMalfunction, text.as_deref());
                Answer {
                    b,
                    code: ResponseCode::SystemMalfunction,
                    mac: None,
                }
            }
        };
        let code = answer.code.code();
        match encode(answer) {
            Ok(frame) => Outcome::Reply { frame, mti, code },
            Err(e) => {
                tracing::error!(%mti, error = %e, "response could not be encoded; closing");
                Outcome::Close
            }
        }
    }

    /// A frame that does not decode: answer 30 when TPDU, header and MTI can be read (so the
    /// reply can be addressed), else close.
    fn undecodable(&self, body: &[u8], e: WireError) -> Outcome {
        let Some((tpdu, mti)) = peek_addressing(body) else {
            tracing::warn!(error = %e, "undecodable frame without a readable header; closing");
            return Outcome::Close;
        };
        tracing::warn!(%mti, error = %e, "undecodable frame; answered 30");
        let mut b = MessageBuilder::new(tpdu.swapped(), Header::POS, mti.response());
        self.finish_text(&mut b, ResponseCode::FormatError, None);
        let answer = Answer {
            b,
            code: ResponseCode::FormatError,
            mac: None,
        };
        match encode(answer) {
            Ok(frame) => Outcome::Reply {
                frame,
                mti,
                code: ResponseCode::FormatError.code(),
            },
            Err(_) => Outcome::Close,
        }
    }

    async fn route(&self, msg: &Message<'_>) -> Result<Answer, Fault> {
        let tid = terminal_id(msg)?;
        match msg.mti() {
            Mti::NETWORK_REQUEST => self.sign_in(msg, &tid).await,
            Mti::NETWORK_ADVICE_REQUEST => match field60(msg)?.network_code {
                NET_SIGN_OUT => self.sign_out(msg, &tid).await,
                NET_ECHO => self.echo(msg, &tid).await,
                _ => Ok(self.refuse_code(msg, ResponseCode::NotSupported, None)),
            },
            Mti::SETTLEMENT_REQUEST => self.settle(msg, &tid).await,
            Mti::BATCH_UPLOAD_REQUEST => self.batch_upload(msg, &tid).await,
            m if m.carries_mac() && m.is_request() => self.financial(msg, &tid).await,
            _ => Ok(self.refuse_code(msg, ResponseCode::NotSupported, None)),
        }
    }

    // ----- network management -------------------------------------------------------------

    /// A sign-in (0800). It must carry field 64 under the terminal's sign-in key, derived
    /// from its TMK ([`Tmk::sign_in_mak`]): without that proof nothing changes — the live
    /// session, if any, goes on — and the attempt is audited.
    async fn sign_in(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        let term = match self.store.terminal(tid)? {
            Ok(t) => t,
            Err(r) => return Ok(self.refuse(msg, &r, None)),
        };
        if let Ok(m) = msg.text(42)
            && m.trim() != term.merchant_id.as_str()
        {
            return Ok(self.refuse(msg, &AccessRefused::UnknownMerchant, None));
        }
        let f60 = field60(msg)?;
        // 001 and 003 are issued; 004 (a track-data key) is refused on purpose: Suanpan does
        // not accept encrypted tracks (docs/ISO8583.md, "Sign-in 004").
        let layout = match KeyLayout::from_network_code(f60.network_code) {
            Some(l @ (KeyLayout::Single | KeyLayout::Double)) => l,
            _ => {
                let r = AccessRefused::KeyLayoutUnsupported {
                    network_code: f60.network_code,
                };
                return Ok(self.refuse(msg, &r, None));
            }
        };
        let operator = msg
            .operator()
            .ok()
            .and_then(|o| OperatorNo::parse(o.trim()).ok())
            .ok_or(Fault::Format("63 operator"))?;
        if self
            .store
            .operator_secret(&term.merchant_id, operator)?
            .is_none()
        {
            return Ok(self.refuse(msg, &AccessRefused::UnknownOperator, None));
        }
        let algorithm = self
            .store
            .terminal_mac(tid)?
            .as_deref()
            .and_then(MacAlgorithm::parse)
            .ok_or_else(|| {
                Fault::Internal(anyhow::anyhow!("terminal {tid}: unknown MAC algorithm"))
            })?;
        let Some(proof) = self.sign_in_key(tid, algorithm)? else {
            return Ok(self.no_tmk(msg, tid));
        };
        if let Some(refused) = self.check_mac(msg, tid, &proof, None).await? {
            return Ok(refused);
        }
        if algorithm == MacAlgorithm::X919 && layout == KeyLayout::Single {
            // The 24 bytes of `001` have no room for the double-length MAK X9.19 needs.
            let r = AccessRefused::KeyLayoutUnsupported {
                network_code: f60.network_code,
            };
            return Ok(self.refuse(msg, &r, None));
        }
        let Some((session, keys)) =
            self.working_keys(tid, operator, term.batch_no, layout, algorithm)?
        else {
            return Ok(self.no_tmk(msg, tid));
        };
        // The acquirer's terminal list shows the last sign-in and what the header said.
        let header = msg.header();
        let seen = suanpan_store::fleet::SignIn {
            at: self.store.now().as_microsecond(),
            operator,
            software_version: header.software_version,
            terminal_status: header.terminal_status,
        };
        suanpan_store::fleet::record_sign_in(&*self.store, tid, &seen)?;
        self.sessions.insert(tid.clone(), session);
        tracing::info!(terminal = %tid, operator = %operator, batch = %term.batch_no, ?layout, mac = algorithm.as_str(), "signed in");
        let mut b = echo_base(msg);
        self.host_fields(&mut b)?;
        b.set_field60(&Field60::new(
            0,
            term.batch_no.value(),
            layout.network_code(),
        ))?;
        b.set_working_keys(&keys)?;
        self.finish_text(&mut b, ResponseCode::Approved, None);
        Ok(Answer {
            b,
            code: ResponseCode::Approved,
            mac: None,
        })
    }

    fn no_tmk(&self, msg: &Message<'_>, tid: &TerminalId) -> Answer {
        tracing::warn!(terminal = %tid, "sign-in refused: no terminal master key loaded");
        let text = "终端主密钥未装载";
        self.refuse_code(msg, ResponseCode::TerminalNotRegistered, Some(text))
    }

    /// The key a sign-in's field 64 is checked with ([`Tmk::sign_in_mak`]), derived under
    /// the terminal's master key: in the token when the key provider is an HSM, else from the
    /// TMK unwrapped for this one computation. `None` when no TMK is loaded.
    fn sign_in_key(&self, tid: &TerminalId, algorithm: MacAlgorithm) -> Result<Option<Mak>, Fault> {
        let keys = self.store.keys().clone();
        if let Some(hsm) = keys.hsm() {
            let identity = format!("tmk:{tid}");
            if !hsm.has_tmk(&identity)? {
                return Ok(None);
            }
            let mak = sign_in_mak_with(tid.as_str(), algorithm, |block| {
                *block = *hsm.tmk_encrypt(&identity, block)?;
                Ok::<(), suanpan_store::StoreError>(())
            })?;
            return Ok(Some(mak));
        }
        Ok(self
            .store
            .terminal_tmk(tid)?
            .and_then(|h| Tmk::from_hex(&h).ok())
            .map(|tmk| tmk.sign_in_mak(tid.as_str(), algorithm)))
    }

    /// A new session and its field 62, made under the terminal's master key: by the HSM
    /// when the key provider is one (the TMK is a token object), else in memory from the
    /// TMK unwrapped for this one computation. `None` when no TMK is loaded.
    fn working_keys(
        &self,
        tid: &TerminalId,
        operator: OperatorNo,
        batch: suanpan_core::BatchNo,
        layout: KeyLayout,
        mac: MacAlgorithm,
    ) -> Result<Option<(Session, WorkingKeys)>, Fault> {
        let now = self.store.now();
        let keys = self.store.keys().clone();
        if let Some(hsm) = keys.hsm() {
            let identity = format!("tmk:{tid}");
            if !hsm.has_tmk(&identity)? {
                return Ok(None);
            }
            return Ok(Some(Session::in_hsm(
                hsm, &identity, operator, batch, layout, mac, now,
            )?));
        }
        let Some(tmk) = self
            .store
            .terminal_tmk(tid)?
            .and_then(|h| Tmk::from_hex(&h).ok())
        else {
            return Ok(None);
        };
        Session::sealed(&tmk, operator, batch, layout, mac, now)
            .map(Some)
            .map_err(|e| Fault::Internal(anyhow::anyhow!("sealing the working keys: {e}")))
    }

    async fn sign_out(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        let session = match self.authenticated(msg, tid).await? {
            Ok(s) => s,
            Err(a) => return Ok(a),
        };
        self.sessions.remove_if_same(tid, &session);
        tracing::info!(terminal = %tid, "signed out");
        Ok(self.approved(msg, session))
    }

    async fn echo(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        match self.authenticated(msg, tid).await? {
            Ok(s) => Ok(self.approved(msg, s)),
            Err(a) => Ok(a),
        }
    }

    fn approved(&self, msg: &Message<'_>, session: Arc<Session>) -> Answer {
        let mut b = echo_base(msg);
        let _ = self.host_fields(&mut b);
        self.finish_text(&mut b, ResponseCode::Approved, None);
        Answer {
            b,
            code: ResponseCode::Approved,
            mac: Some(session),
        }
    }

    /// The session of a management request (0320, 0500, 0820) whose field 64 verifies
    /// under the session MAK, or the answer to give: 77 without a session, 30 without field
    /// 64, A0 for a wrong MAC (both audited). Nothing else happens for a refused request.
    async fn authenticated(
        &self,
        msg: &Message<'_>,
        tid: &TerminalId,
    ) -> Result<Result<Arc<Session>, Answer>, Fault> {
        let session = match self.session_or_answer(msg, tid)? {
            Ok(s) => s,
            Err(a) => return Ok(Err(a)),
        };
        match self
            .check_mac(msg, tid, &session.mak, Some(&session))
            .await?
        {
            Some(refused) => Ok(Err(refused)),
            None => Ok(Ok(session)),
        }
    }

    /// `None` when field 64 is the MAC of the request under `mak`; else the refusal, for a
    /// management request or sign-in after an audit entry (`8583.<mti>.refused`,
    /// `refused:mac_missing` or `refused:mac_invalid`).
    /// A missing field 64 is a missing mandatory field (30) on management requests and a
    /// MAC error (A0) on financial ones, as the spec's MAC rule has always said.
    async fn check_mac(
        &self,
        msg: &Message<'_>,
        tid: &TerminalId,
        mak: &Mak,
        session: Option<&Arc<Session>>,
    ) -> Result<Option<Answer>, Fault> {
        if msg.verify_mac(mak) {
            return Ok(None);
        }
        let missing = !msg.has(suanpan_iso8583::MAC_FIELD);
        let (code, key) = match (missing, msg.mti().carries_mac()) {
            (true, false) => (ResponseCode::FormatError, "mac_missing"),
            (true, true) => (ResponseCode::MacError, "mac_missing"),
            (false, _) => (ResponseCode::MacError, "mac_invalid"),
        };
        tracing::warn!(terminal = %tid, mti = %msg.mti(), key, "MAC check failed; nothing executed");
        metrics::counter!("suanpan_8583_mac_refused_total", "mti" => msg.mti().to_string())
            .increment(1);
        // Management requests and sign-ins are audited; a financial request with a bad MAC
        // only counts in the metric, as before (line noise must not grow the audit chain).
        if !msg.mti().carries_mac() {
            self.ask(RecordRefusal {
                actor: tid.to_string(),
                action: format!("8583.{}", msg.mti()),
                target: format!("terminal:{tid}"),
                key: key.to_owned(),
            })
            .await?;
        }
        let mut b = echo_base(msg);
        self.finish_text(&mut b, code, None);
        Ok(Some(Answer {
            b,
            code,
            mac: session.cloned(),
        }))
    }

    /// The session of a terminal, or the answer to give without one: 77 for a registered
    /// terminal, its access refusal (97, 03) otherwise.
    fn session_or_answer(
        &self,
        msg: &Message<'_>,
        tid: &TerminalId,
    ) -> Result<Result<Arc<Session>, Answer>, Fault> {
        if let Some(s) = self.sessions.get(tid) {
            let max_hours = self.store.policy().working_key_max_hours;
            if !s.expired(self.store.now(), max_hours) {
                return Ok(Ok(s));
            }
            // Keys change on a schedule, not only when the terminal chooses to sign in.
            self.sessions.remove_if_same(tid, &s);
            tracing::info!(terminal = %tid, max_hours, "working keys past working_key_max_hours; sign in again");
            let text = "工作密钥已到期，请重新签到";
            return Ok(Err(self.refuse_code(
                msg,
                ResponseCode::SignInAgain,
                Some(text),
            )));
        }
        Ok(Err(match self.store.terminal(tid)? {
            Ok(_) => self.refuse(msg, &AccessRefused::BatchMismatch, None),
            Err(r) => self.refuse(msg, &r, None),
        }))
    }

    // ----- settlement and batch upload ----------------------------------------------------

    async fn settle(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        let session = match self.authenticated(msg, tid).await? {
            Ok(s) => s,
            Err(a) => return Ok(a),
        };
        let term = match self.store.terminal(tid)? {
            Ok(t) => t,
            Err(r) => return Ok(self.refuse(msg, &r, Some(session.clone()))),
        };
        let f60 = field60(msg)?;
        let theirs = msg
            .settlement_totals()
            .map_err(|_| Fault::Format("48 settlement totals"))?;
        let theirs = core_totals(&theirs).ok_or(Fault::Format("48 settlement totals"))?;
        if f60.batch != term.batch_no.value() {
            // A retransmitted settlement (or one after the cutoff job) of a batch that is
            // already settled gets that batch's stored totals, reconciled again.
            return match self.settled_batch(tid, f60.batch)? {
                Some(host) => self.settle_answer(msg, &session, host, Some(theirs)),
                None => Ok(self.refuse(msg, &AccessRefused::BatchMismatch, Some(session.clone()))),
            };
        }
        let cmd = Settle {
            terminal_id: tid.clone(),
            actor: format!("{tid}/{}", session.operator),
            terminal_totals: Some(theirs),
        };
        let report = self.ask(cmd).await?;
        session.set_batch(report.next_batch_no);
        log_settlement(&report);
        self.settle_answer(msg, &session, report.settlement.totals, Some(theirs))
    }

    fn settle_answer(
        &self,
        msg: &Message<'_>,
        session: &Arc<Session>,
        host: Totals,
        theirs: Option<Totals>,
    ) -> Result<Answer, Fault> {
        let balanced = theirs.is_none_or(|t| t == host);
        let code = if balanced { 1 } else { 2 };
        // Field 48 counts are n3: a batch of more than 999 items is reported as 999 (the
        // reconciliation above compared the full counts).
        let count = |n: u32| u16::try_from(n.min(FIELD48_COUNT_MAX)).unwrap_or(0);
        let group = suanpan_iso8583::Totals {
            debit_amount: u64::try_from(host.debit_fen).unwrap_or(0),
            debit_count: count(host.debit_count),
            credit_amount: u64::try_from(host.credit_fen).unwrap_or(0),
            credit_count: count(host.credit_count),
            reconciliation: code,
        };
        let foreign = suanpan_iso8583::Totals {
            reconciliation: code,
            ..Default::default()
        };
        let mut b = echo_base(msg);
        self.host_fields(&mut b)?;
        b.set_settlement_totals(&SettlementTotals {
            domestic: group,
            foreign,
        })?;
        let text = if balanced {
            "对账平"
        } else {
            "对账不平"
        };
        self.finish_text(&mut b, ResponseCode::Approved, Some(text));
        Ok(Answer {
            b,
            code: ResponseCode::Approved,
            mac: Some(session.clone()),
        })
    }

    /// The stored totals of a terminal's settled batch.
    fn settled_batch(&self, tid: &TerminalId, batch: u32) -> Result<Option<Totals>, Fault> {
        Ok(self.store.settled_totals(tid, batch)?)
    }

    async fn batch_upload(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        let session = match self.authenticated(msg, tid).await? {
            Ok(s) => s,
            Err(a) => return Ok(a),
        };
        // The host keeps its own journal, so uploaded items are acknowledged, not applied.
        tracing::info!(terminal = %tid, "batch upload item acknowledged");
        Ok(self.approved(msg, session))
    }

    // ----- financial messages -------------------------------------------------------------

    async fn financial(&self, msg: &Message<'_>, tid: &TerminalId) -> Result<Answer, Fault> {
        let session = match self.session_or_answer(msg, tid)? {
            Ok(s) => s,
            Err(a) => return Ok(a),
        };
        if let Some(refused) = self
            .check_mac(msg, tid, &session.mak, Some(&session))
            .await?
        {
            return Ok(refused);
        }
        let f60 = field60(msg)?;
        let stan = msg.u64(11).map_err(|_| Fault::Format("11 STAN"))?;
        let voucher = u32::try_from(stan)
            .ok()
            .and_then(|s| VoucherNo::new(s).ok())
            .ok_or(Fault::Format("11 STAN"))?;
        let batch = BatchNo::new(f60.batch).map_err(|_| Fault::Format("60.2 batch"))?;
        // The card, parsed and fingerprinted once: the request hash, the command and (network
        // upstream) the message to the switch all use it (s18-speed: it was done three
        // times, the fingerprint's HMAC twice).
        let card = Card::of(msg, &self.fingerprinter);
        let origin = Origin {
            terminal_id: tid.clone(),
            operator: session.operator,
            supervisor: None,
            voucher: Some(voucher),
            batch: Some(batch),
            // Training mode (培训模式) rides in the header's terminal status digit
            // (docs/ISO8583.md): the store books it apart, moves no money, never settles it.
            training: msg.header().terminal_status == Header::TRAINING,
            idempotency: Some((
                format!("8583:{tid}:{batch}:{voucher}:{}", msg.mti()),
                request_hash(self, msg, card.fingerprint())?,
            )),
            // Field 59 (terminal serial, location) is evidence: stored as received. It is
            // inside the MAC block, so also inside the request hash above.
            terminal_info: msg.text(59).ok().map(str::to_owned),
        };
        if msg.mti() == Mti::REVERSAL_REQUEST {
            return self.reversal(msg, &session, origin).await;
        }
        let Some(kind) = TypeCode::of(msg.mti(), f60.type_code) else {
            // A 60.1 this profile does not route for this MTI (e.g. offline sale).
            return Ok(self.refuse_code_mac(msg, ResponseCode::NotSupported, &session));
        };
        let cmd = match self.command(msg, &session, kind, origin, &card)? {
            Ok(c) => c,
            Err(answer) => return Ok(answer),
        };
        let pan = msg.pan();
        let net = match &self.upstream {
            Upstream::Network(net) => Some(net),
            Upstream::Inline => None,
        };
        let heard = match (cmd, net) {
            // A refund goes up when its sale did (a 0200 with processing code 200000);
            // of a sale decided inline it is decided inline, in phase one.
            (Request::Purchase(c), Some(net)) if kind == TypeCode::Sale => {
                match self.presented(msg, &session, net.zpk(), &card)? {
                    Ok(p) => net.purchase(&*self.store, c, &p).await?.into(),
                    Err(answer) => return Ok(answer),
                }
            }
            (Request::Refund(c), Some(net)) => {
                match self.presented(msg, &session, net.zpk(), &card)? {
                    Ok(p) => net.purchase(&*self.store, c, &p).await?.into(),
                    Err(answer) => return Ok(answer),
                }
            }
            (Request::Void(c), Some(net)) if kind == TypeCode::Void => {
                let void = suanpan_upstream::REASON_VOID;
                net.follow_up(&*self.store, c, tid.as_str(), pan.as_deref(), void)
                    .await?
                    .into()
            }
            (Request::Purchase(c), _) => self.ask(c).await?.into(),
            // A balance inquiry stays with the inline issuer, network upstream or not.
            (Request::Balance(c), _) => self.ask(c).await?.into(),
            (Request::Void(c), _) => self.ask(c).await?.into(),
            (Request::Refund(c), _) => self.ask(c).await?.into(),
            (Request::PreAuthVoid(c), _) => self.ask(c).await?.into(),
            (Request::Complete(c), _) => self.ask(c).await?.into(),
        };
        Ok(self.txn_answer(msg, &session, heard, pan.as_deref()))
    }

    /// The card of a sale as it goes to the network upstream: PAN, expiry, entry mode and
    /// the PIN block re-encrypted from the terminal's PIN key under the ZPK.
    fn presented(
        &self,
        msg: &Message<'_>,
        session: &Arc<Session>,
        zpk: Option<&suanpan_iso8583::Zpk>,
        card: &Card,
    ) -> Result<Result<Presented, Answer>, Fault> {
        let pan = match card.pan() {
            Ok(p) => p,
            Err(r) => return Ok(Err(self.refuse(msg, r, Some(session.clone())))),
        };
        let pin_block = match msg.bytes(52).ok().map(<&[u8; 8]>::try_from) {
            None => None,
            Some(Err(_)) => {
                return Ok(Err(self.refuse_code_mac(
                    msg,
                    ResponseCode::IncorrectPin,
                    session,
                )));
            }
            Some(Ok(block)) => {
                let Some(zpk) = zpk else {
                    // A PIN cannot go up without the zone PIN key: a configuration fault.
                    tracing::error!("a PIN sale, and [upstream] has no zpk");
                    return Ok(Err(self.refuse_code_mac(
                        msg,
                        ResponseCode::SystemMalfunction,
                        session,
                    )));
                };
                match session.pik.to_zpk(block, pan, zpk) {
                    Ok(b) => Some(b),
                    Err(PinError::Block(_)) => {
                        return Ok(Err(self.refuse_code_mac(
                            msg,
                            ResponseCode::IncorrectPin,
                            session,
                        )));
                    }
                    Err(PinError::Hsm(e)) => return Err(e.into()),
                }
            }
        };
        let zone = self
            .store
            .policy()
            .zone()
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let (local_time, local_date) =
            suanpan_upstream::local_time_and_date(zone.to_datetime(self.store.now()));
        Ok(Ok(Presented {
            card: UpCard {
                pan: pan.expose_digits().to_owned(),
                expiry: msg.digits(14).ok(),
                entry_mode: msg.digits(22).unwrap_or_else(|_| "000".to_owned()),
                pin_block,
            },
            local_time,
            local_date,
        }))
    }

    /// Builds the store command of a financial request, or an answer without one (PIN).
    fn command(
        &self,
        msg: &Message<'_>,
        session: &Arc<Session>,
        kind: TypeCode,
        mut origin: Origin,
        card: &Card,
    ) -> Result<Result<Request, Answer>, Fault> {
        let amount = || -> Result<Amount, Fault> {
            let fen = msg.u64(4).map_err(|_| Fault::Format("4 amount"))?;
            i64::try_from(fen)
                .map(Amount::from_fen)
                .map_err(|_| Fault::Format("4 amount"))
        };
        let opt_amount = || msg.has(4).then(amount).transpose();
        if kind.needs_supervisor() {
            // The terminal authorized the supervisor (00) password locally, as UnionPay
            // terminals do; the host records the supervisor on the transaction.
            origin.supervisor = Some(OperatorNo::SUPERVISOR);
        }
        let cmd = match kind {
            TypeCode::Balance | TypeCode::Sale | TypeCode::PreAuth => {
                let (pan, fingerprint) = match &card.0 {
                    Ok((p, f)) => (p, f.clone()),
                    Err(r) => return Ok(Err(self.refuse(msg, r, Some(session.clone())))),
                };
                let pin = match pin(msg, session, pan, &fingerprint) {
                    Ok(p) => p,
                    Err(PinError::Block(_)) => {
                        return Ok(Err(self.refuse_code_mac(
                            msg,
                            ResponseCode::IncorrectPin,
                            session,
                        )));
                    }
                    Err(PinError::Hsm(e)) => return Err(e.into()),
                };
                let instrument = Instrument::Card {
                    masked_pan: pan.masked(),
                    fingerprint,
                    expiry: msg.digits(14).ok(),
                };
                if kind == TypeCode::Balance {
                    return Ok(Ok(Request::Balance(BalanceInquiry {
                        origin,
                        instrument,
                        method: method(msg),
                        pin,
                    })));
                }
                let txn_kind = if kind == TypeCode::Sale {
                    TxnKind::Sale
                } else {
                    TxnKind::PreAuth
                };
                let amount = amount()?;
                let linked_id = match self.linked_sale(msg, kind, &origin)? {
                    Ok(link) => link,
                    Err(r) => return Ok(Err(self.refuse(msg, &r, Some(session.clone())))),
                };
                Request::Purchase(Purchase {
                    origin,
                    kind: txn_kind,
                    amount,
                    instrument,
                    method: method(msg),
                    pin,
                    linked_id,
                    // The counter confirmed a possible duplicate charge (issue 13): the
                    // retry's field 63 reads `DUP` (docs/ISO8583.md).
                    confirm_duplicate: msg.text(63).is_ok_and(|t| t.trim() == CONFIRM_DUPLICATE_63),
                })
            }
            TypeCode::Void | TypeCode::CompletionVoid => Request::Void(Void {
                origin,
                kind: if kind == TypeCode::Void {
                    TxnKind::Void
                } else {
                    TxnKind::CompletionVoid
                },
                original: by_rrn_or_voucher(msg)?,
                amount: opt_amount()?,
                reason: "终端撤销 terminal void".to_owned(),
                // The cardholder is at the counter for a terminal void.
                customer_consent: true,
                card_fingerprint: card.fingerprint().map(str::to_owned),
            }),
            TypeCode::Refund => Request::Refund(Refund {
                origin,
                original: by_rrn(msg)?,
                amount: amount()?,
                reason: "终端退货 terminal refund".to_owned(),
            }),
            TypeCode::PreAuthVoid => Request::PreAuthVoid(PreAuthVoid {
                origin,
                original: by_auth_code(msg)?,
                amount: opt_amount()?,
                reason: "终端预授权撤销 terminal pre-auth void".to_owned(),
            }),
            TypeCode::Completion => Request::Complete(Complete {
                origin,
                original: by_auth_code(msg)?,
                amount: amount()?,
            }),
        };
        Ok(Ok(cmd))
    }

    async fn reversal(
        &self,
        msg: &Message<'_>,
        session: &Arc<Session>,
        mut origin: Origin,
    ) -> Result<Answer, Fault> {
        // Reversals are idempotent by rule, not by key: a retry finds the original reversed.
        origin.idempotency = None;
        let voucher = origin.voucher.take().ok_or(Fault::Format("11 STAN"))?;
        let reason = msg
            .text(39)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "98".to_owned());
        let term = match self.store.terminal(&origin.terminal_id)? {
            Ok(t) => t,
            Err(r) => return Ok(self.refuse(msg, &r, Some(session.clone()))),
        };
        if origin.batch != Some(term.batch_no) {
            // The batch of the reversed transaction is no longer open: if that transaction
            // exists it was settled (spec: answered 12, nothing changes).
            let batch = origin.batch.map(BatchNo::value).unwrap_or(0);
            if self.exists_in_batch(&origin.terminal_id, batch, voucher)? {
                let r = ReversalRefused::Settled;
                self.ask(RecordRefusal {
                    actor: format!("{}/{}", origin.terminal_id, origin.operator),
                    action: "reversal".into(),
                    target: format!(
                        "terminal:{}/batch:{batch:06}/voucher:{voucher}",
                        origin.terminal_id
                    ),
                    key: r.key().into(),
                })
                .await?;
                return Ok(self.refuse(msg, &r, Some(session.clone())));
            }
            if batch < term.batch_no.value() {
                // A closed batch without that voucher: the request never arrived, and now
                // cannot take effect (the store refuses every request of a closed batch), so
                // the reversal is done. Answering 77 here kept a terminal whose settlement
                // answer was lost retrying its reversal for ever (found by `suanpan sim`,
                // seed 1).
                tracing::info!(terminal = %origin.terminal_id, batch, %voucher, "reversal of a request of a closed batch that never arrived");
                return Ok(self.txn_answer(msg, session, Heard::NothingToReverse, None));
            }
            return Ok(self.refuse(msg, &AccessRefused::BatchMismatch, Some(session.clone())));
        }
        let amount = msg
            .u64(4)
            .ok()
            .and_then(|f| i64::try_from(f).ok())
            .map(Amount::from_fen);
        let pan = msg.pan();
        let tid = origin.terminal_id.clone();
        let cmd = Reverse {
            origin,
            voucher,
            amount,
            reason,
        };
        // A terminal reversal of a sale the network upstream decided: its 0420 (39 = 68,
        // the terminal got no answer) is queued in the reversal's own transaction.
        let reply = match &self.upstream {
            Upstream::Network(net) => {
                let timed_out = suanpan_upstream::REASON_TIME_OUT;
                net.follow_up(&*self.store, cmd, tid.as_str(), pan.as_deref(), timed_out)
                    .await?
            }
            Upstream::Inline => self.ask(cmd).await?,
        };
        Ok(self.txn_answer(msg, session, reply.into(), pan.as_deref()))
    }

    /// The voided sale a re-charge (重新收款) names in field 61 (61.1 batch, 61.2 STAN) of
    /// a sale; `Ok(None)` when the sale names none. See docs/ISO8583.md.
    fn linked_sale(
        &self,
        msg: &Message<'_>,
        kind: TypeCode,
        origin: &Origin,
    ) -> Result<Result<Option<TxnId>, AccessRefused>, Fault> {
        if kind != TypeCode::Sale || !msg.has(61) {
            return Ok(Ok(None));
        }
        let f61 = msg.field61().map_err(|_| Fault::Format("61"))?;
        let voucher = VoucherNo::new(f61.stan).map_err(|_| Fault::Format("61.2"))?;
        let id =
            self.store
                .sale_by_voucher(&origin.terminal_id, f61.batch, voucher, origin.training)?;
        Ok(id.map(Some).ok_or(AccessRefused::LinkedNotFound))
    }

    fn exists_in_batch(&self, tid: &TerminalId, batch: u32, v: VoucherNo) -> Result<bool, Fault> {
        Ok(self.store.voucher_in_batch(tid, batch, v)?)
    }

    /// Turns a store reply to a financial request into its response.
    fn txn_answer(
        &self,
        msg: &Message<'_>,
        session: &Arc<Session>,
        heard: Heard,
        pan: Option<&str>,
    ) -> Answer {
        let mac = Some(session.clone());
        let (txn, balance) = match heard {
            Heard::Txn(t, balance) => (t, balance),
            Heard::NothingToReverse => {
                let mut b = echo_base(msg);
                let _ = self.host_fields(&mut b);
                self.finish_text(&mut b, ResponseCode::Approved, None);
                return Answer {
                    b,
                    code: ResponseCode::Approved,
                    mac,
                };
            }
            Heard::Refused(r) => return self.refuse(msg, r.as_ref(), mac),
        };
        let code = txn.response_code;
        let mut b = echo_base(msg);
        if let Err(e) = self.txn_fields(&mut b, &txn, balance, pan) {
            tracing::error!(error = %e, "response fields");
        }
        self.finish_text(&mut b, code, None);
        log_txn(msg, &txn, code);
        Answer { b, code, mac }
    }

    fn txn_fields(
        &self,
        b: &mut MessageBuilder,
        t: &Transaction,
        balance: Option<Amount>,
        pan: Option<&str>,
    ) -> Result<(), WireError> {
        self.host_fields(b)?;
        if let Some(pan) = pan {
            b.set_n(2, pan)?;
        }
        if t.kind != TxnKind::BalanceInquiry {
            b.set_n_u64(4, u64::try_from(t.amount.fen()).unwrap_or(0))?;
        }
        if let Some(rrn) = &t.rrn {
            b.set_ans(37, rrn.as_str().as_bytes())?;
        }
        if let Some(auth) = &t.auth_code {
            b.set_ans(38, auth.as_str().as_bytes())?;
        }
        if let Some(available) = balance {
            b.set_ans(54, balance_field(available).as_bytes())?;
        }
        Ok(())
    }

    // ----- response helpers ---------------------------------------------------------------

    /// Runs one command through the store's writer and awaits its commit.
    async fn ask<A: Ask>(&self, cmd: A) -> Result<A::Reply, Fault> {
        let started = std::time::Instant::now();
        metrics::gauge!("suanpan_store_commands_in_flight").increment(1.0);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.store.ask_then(cmd, move |answer| {
            // The receiver is gone only if the connection task was dropped; the commit
            // stands.
            let _ = tx.send(answer);
        });
        let r = match sent {
            Ok(()) => {
                match tokio::time::timeout(suanpan_store::writer::ANSWER_WAIT_MAX, rx).await {
                    Ok(answer) => answer.unwrap_or(Err(suanpan_store::StoreError::WriterGone)),
                    Err(_) => {
                        metrics::counter!("suanpan_store_answer_timeouts_total").increment(1);
                        Err(suanpan_store::StoreError::TimedOut(
                            "the writer's answer".into(),
                        ))
                    }
                }
            }
            Err(e) => Err(e),
        };
        metrics::gauge!("suanpan_store_commands_in_flight").decrement(1.0);
        metrics::histogram!("suanpan_store_execute_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(r?)
    }

    /// Response fields the host fills in: local time and date, settlement date, acquirer.
    fn host_fields(&self, b: &mut MessageBuilder) -> Result<(), WireError> {
        let now = self.store.now();
        let policy = self.store.policy();
        let zone = policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
        let local = now.to_zoned(zone);
        b.set_n(12, &local.strftime("%H%M%S").to_string())?;
        b.set_n(13, &local.strftime("%m%d").to_string())?;
        b.set_n(15, &policy.business_day(now).strftime("%m%d").to_string())?;
        b.set_n(32, ACQUIRER_ID)?;
        Ok(())
    }

    /// Sets 39 and 63 (63.1 `CUP`, 63.2 the text in GBK); 77 also asks for a new sign-in in
    /// the header's processing requirement.
    fn finish_text(&self, b: &mut MessageBuilder, code: ResponseCode, text: Option<&str>) {
        let _ = b.set_ans(39, code.code().as_bytes());
        let text = text.map_or_else(|| code.text(Lang::Zh), str::to_owned);
        let _ = b.set_ans(63, &field63(&text));
        if code == ResponseCode::SignInAgain {
            b.set_header(Header::POS.with_processing_requirement(Header::SIGN_IN_AGAIN));
        }
    }

    fn refuse(&self, msg: &Message<'_>, r: &dyn Refusal, mac: Option<Arc<Session>>) -> Answer {
        let code = crate::codes::response_code(r);
        tracing::info!(mti = %msg.mti(), code = code.code(), refusal = r.key(), "refused");
        let mut b = echo_base(msg);
        let _ = self.host_fields(&mut b);
        self.finish_text(&mut b, code, Some(&r.message(Lang::Zh)));
        Answer { b, code, mac }
    }

    fn refuse_code(&self, msg: &Message<'_>, code: ResponseCode, text: Option<&str>) -> Answer {
        let mut b = echo_base(msg);
        let _ = self.host_fields(&mut b);
        self.finish_text(&mut b, code, text);
        Answer { b, code, mac: None }
    }

    fn refuse_code_mac(
        &self,
        msg: &Message<'_>,
        code: ResponseCode,
        session: &Arc<Session>,
    ) -> Answer {
        let mut a = self.refuse_code(msg, code, None);
        a.mac = Some(session.clone());
        a
    }
}

/// The transaction types of the spec's message table, by MTI and 60.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeCode {
    Balance,
    PreAuth,
    PreAuthVoid,
    Completion,
    CompletionVoid,
    Sale,
    Void,
    Refund,
}

impl TypeCode {
    fn of(mti: Mti, type_code: u8) -> Option<TypeCode> {
        let t = match (mti.value(), type_code) {
            (200, 1) => TypeCode::Balance,
            (100, 10) => TypeCode::PreAuth,
            (100, 11) => TypeCode::PreAuthVoid,
            (200, 20) => TypeCode::Completion,
            (200, 21) => TypeCode::CompletionVoid,
            (200, 22) => TypeCode::Sale,
            (200, 23) => TypeCode::Void,
            (220, 25) => TypeCode::Refund,
            _ => return None,
        };
        Some(t)
    }

    fn needs_supervisor(self) -> bool {
        matches!(
            self,
            TypeCode::Void | TypeCode::CompletionVoid | TypeCode::Refund | TypeCode::PreAuthVoid
        )
    }
}

fn terminal_id(msg: &Message<'_>) -> Result<TerminalId, Fault> {
    msg.text(41)
        .ok()
        .and_then(|t| TerminalId::parse(t.trim()).ok())
        .ok_or(Fault::Format("41 terminal id"))
}

fn field60(msg: &Message<'_>) -> Result<Field60, Fault> {
    msg.field60().map_err(|_| Fault::Format("60"))
}

/// Fields that carry card data (PAN, expiry, tracks, PIN block, IC data) or the session's
/// MAC: left out of the idempotency hash.
const NOT_HASHED: [u8; 8] = [2, 14, 35, 36, 45, 52, 55, 64];

/// The idempotency hash of a financial request ([`suanpan_store::Store::request_hash`]):
/// every other field with its number, and the card's keyed fingerprint for its number, so
/// that another card under the same STAN is still "other content" (94).
fn request_hash(host: &Host, msg: &Message<'_>, card: Option<&str>) -> Result<String, Fault> {
    let card = card.unwrap_or_default().as_bytes().to_vec();
    let mut parts: Vec<Vec<u8>> = vec![msg.mti().to_string().into_bytes(), card];
    parts.extend(
        msg.fields()
            .filter(|f| !NOT_HASHED.contains(&f.number()))
            .map(|f| [&[f.number()][..], f.bytes()].concat()),
    );
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(host.store.request_hash(&refs)?)
}

/// The card of a financial request, parsed once, with its keyed fingerprint; or why field 2
/// holds none.
struct Card(Result<(Pan, String), AccessRefused>);

impl Card {
    fn of(msg: &Message<'_>, fingerprinter: &Fingerprinter) -> Card {
        Card(card(msg).map(|p| {
            let f = fingerprinter.of(&p);
            (p, f)
        }))
    }

    fn pan(&self) -> Result<&Pan, &AccessRefused> {
        self.0.as_ref().map(|(p, _)| p)
    }

    fn fingerprint(&self) -> Option<&str> {
        self.0.as_ref().ok().map(|(_, f)| f.as_str())
    }
}

fn card(msg: &Message<'_>) -> Result<Pan, AccessRefused> {
    let digits = msg.pan().ok_or(AccessRefused::BadCard {
        problem: suanpan_core::PanError::Format,
    })?;
    Pan::parse(&digits).map_err(|problem| AccessRefused::BadCard { problem })
}

/// The PIN of field 52 as the issuer is handed it ([`crate::session::PinKey::entered_pin`]); `Ok(None)`
/// without a PIN block, `Err` when the block does not decrypt to a format 0 block for this
/// card (wrong PIK or PAN) or the HSM fails.
fn pin(
    msg: &Message<'_>,
    session: &Session,
    pan: &Pan,
    account: &str,
) -> Result<Option<EnteredPin>, PinError> {
    let Ok(block) = msg.bytes(52) else {
        return Ok(None);
    };
    let block: &[u8; 8] = block
        .try_into()
        .map_err(|_| PinError::Block(suanpan_iso8583::CryptoError::BadPinBlock))?;
    match session.pik.entered_pin(block, pan, account) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            tracing::warn!(pan = %pan.masked(), error = %e, "PIN block does not decrypt");
            Err(e)
        }
    }
}

fn method(msg: &Message<'_>) -> PaymentMethod {
    let mode = msg.digits(22).unwrap_or_default();
    match mode.get(..2) {
        Some("01") => PaymentMethod::Manual,
        Some("02") | Some("80") => PaymentMethod::Magstripe,
        Some("07") => PaymentMethod::Contactless,
        _ => PaymentMethod::Chip,
    }
}

fn by_rrn(msg: &Message<'_>) -> Result<OriginalRef, Fault> {
    msg.text(37)
        .map(|r| OriginalRef::Rrn(r.trim().to_owned()))
        .map_err(|_| Fault::Format("37 original RRN"))
}

fn by_rrn_or_voucher(msg: &Message<'_>) -> Result<OriginalRef, Fault> {
    if let Ok(r) = by_rrn(msg) {
        return Ok(r);
    }
    let f61 = msg.field61().map_err(|_| Fault::Format("37 or 61"))?;
    VoucherNo::new(f61.stan)
        .map(OriginalRef::Voucher)
        .map_err(|_| Fault::Format("61.2"))
}

fn by_auth_code(msg: &Message<'_>) -> Result<OriginalRef, Fault> {
    msg.text(38)
        .map(|a| OriginalRef::AuthCode(a.trim().to_owned()))
        .map_err(|_| Fault::Format("38 original auth code"))
}

/// Field 48 of a request as the core's totals (domestic and foreign together).
fn core_totals(t: &SettlementTotals) -> Option<Totals> {
    let sum = |a: u64, b: u64| i64::try_from(a.checked_add(b)?).ok();
    Some(Totals {
        debit_fen: sum(t.domestic.debit_amount, t.foreign.debit_amount)?,
        debit_count: u32::from(t.domestic.debit_count) + u32::from(t.foreign.debit_count),
        credit_fen: sum(t.domestic.credit_amount, t.foreign.credit_amount)?,
        credit_count: u32::from(t.domestic.credit_count) + u32::from(t.foreign.credit_count),
    })
}

/// Field 54: account type `10`, amount type `02` (available), currency `156`, sign, n12.
fn balance_field(available: Amount) -> String {
    let sign = if available.fen() < 0 { 'D' } else { 'C' };
    format!("1002156{sign}{:012}", available.fen().unsigned_abs())
}

/// 63 of a response: `CUP` then the text in GBK, cut at a character to fit the field;
/// characters GBK cannot hold are left out.
fn field63(text: &str) -> Vec<u8> {
    let mut out = b"CUP".to_vec();
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(ch.encode_utf8(&mut buf));
        if unmappable {
            continue;
        }
        if out.len() - 3 + gbk.len() > FIELD63_TEXT_BYTES_MAX {
            break;
        }
        out.extend_from_slice(&gbk);
    }
    out
}

/// A response skeleton: swapped TPDU, response MTI, and the request fields a terminal
/// expects back (3, 4, 11, 14, 22, 25, 41, 42, 49, 60, 61). Field 60 is echoed as the
/// encoder writes it (11 or 13 digits) whatever length it came in (8 to 32).
fn echo_base(msg: &Message<'_>) -> MessageBuilder {
    let mut b = MessageBuilder::new(msg.tpdu().swapped(), Header::POS, msg.mti().response());
    if let Ok(f60) = msg.field60() {
        let _ = b.set_field60(&f60);
    }
    for n in [3u8, 4, 11, 14, 22, 25, 41, 42, 49, 61] {
        let Some(f) = msg.field(n) else { continue };
        let _ = match f.spec().format {
            Format::N => f.digits().and_then(|d| b.set_n(n, &d).map(|_| ())),
            Format::An | Format::Ans => b.set_ans(n, f.bytes()).map(|_| ()),
            Format::Z | Format::B => Ok(()),
        };
    }
    b
}

fn encode(a: Answer) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(256);
    let mti = a.b.mti();
    match (&a.mac, mti.carries_mac() || mti.carries_management_mac()) {
        (Some(s), true) => a.b.encode_with_mac(&s.mak, &mut out)?,
        _ => a.b.encode(&mut out)?,
    }
    Ok(out)
}

/// TPDU and MTI of a frame that did not decode, if they at least are readable.
fn peek_addressing(body: &[u8]) -> Option<(Tpdu, Mti)> {
    let tpdu = body.get(..TPDU_BYTES)?;
    if tpdu[0] != TPDU_ID {
        return None;
    }
    // The header's reserved bytes carry vendor values in real traffic: only the first three
    // must be BCD, as in the decoder.
    let header = body.get(TPDU_BYTES..TPDU_BYTES + HEADER_USED_BYTES)?;
    let is_bcd = |b: &u8| (b >> 4) < 10 && (b & 0x0F) < 10;
    if !header.iter().all(is_bcd) {
        return None;
    }
    let mti_at = TPDU_BYTES + HEADER_BYTES;
    let m = body.get(mti_at..mti_at + 2)?;
    if !m.iter().all(is_bcd) {
        return None;
    }
    let value = u16::from((m[0] >> 4) * 10 + (m[0] & 0x0F)) * 100
        + u16::from((m[1] >> 4) * 10 + (m[1] & 0x0F));
    let tpdu = Tpdu {
        destination: u16::from_be_bytes([tpdu[1], tpdu[2]]),
        source: u16::from_be_bytes([tpdu[3], tpdu[4]]),
    };
    Some((tpdu, Mti::new(value)?))
}

fn log_txn(msg: &Message<'_>, t: &Transaction, code: ResponseCode) {
    tracing::info!(
        terminal = %t.terminal_id,
        mti = %msg.mti(),
        kind = t.kind.as_str(),
        voucher = %t.voucher_no,
        pan = t.masked_pan.as_ref().map(|p| p.as_str()).unwrap_or(""),
        amount_fen = t.amount.fen(),
        code = code.code(),
        "transaction"
    );
}

/// A financial request of a terminal, as the store takes it.
enum Request {
    Purchase(Purchase),
    Balance(BalanceInquiry),
    Void(Void),
    Refund(Refund),
    PreAuthVoid(PreAuthVoid),
    Complete(Complete),
}

/// A financial request's typed reply as the terminal hears it: the one table from each
/// command's reply to the response. Made once per request and matched at once, so the
/// transaction is kept inline rather than boxed (one allocation a sale fewer).
#[allow(clippy::large_enum_variant)]
enum Heard {
    /// Booked, or an identical retry's stored transaction; and the available balance of an
    /// approved inquiry (field 54).
    Txn(Transaction, Option<Amount>),
    /// A reversal with nothing to undo: approved.
    NothingToReverse,
    /// A rule said no.
    Refused(Refused),
}

impl From<PurchaseReply> for Heard {
    fn from(r: PurchaseReply) -> Heard {
        match r {
            PurchaseReply::Booked(t) | PurchaseReply::Replayed(t) => Heard::Txn(t, None),
            PurchaseReply::Refused(r) => Heard::Refused(r),
        }
    }
}

impl From<BalanceReply> for Heard {
    fn from(r: BalanceReply) -> Heard {
        match r {
            BalanceReply::Balance { txn, available } => Heard::Txn(txn, Some(available)),
            BalanceReply::Declined(t) => Heard::Txn(t, None),
            BalanceReply::Replayed { txn, available } => Heard::Txn(txn, available),
            BalanceReply::Refused(r) => Heard::Refused(r),
        }
    }
}

impl From<TxnReply> for Heard {
    fn from(r: TxnReply) -> Heard {
        match r {
            TxnReply::Booked(t) | TxnReply::Replayed(t) => Heard::Txn(t, None),
            TxnReply::Refused(r) => Heard::Refused(r),
        }
    }
}

impl From<ReversalReply> for Heard {
    fn from(r: ReversalReply) -> Heard {
        match r {
            ReversalReply::Reversed(t) | ReversalReply::Replayed(t) => Heard::Txn(t, None),
            ReversalReply::NothingToReverse => Heard::NothingToReverse,
            ReversalReply::Refused(r) => Heard::Refused(r),
        }
    }
}

fn log_settlement(r: &SettleReport) {
    tracing::info!(
        terminal = %r.terminal_id,
        batch = %r.batch_no,
        next_batch = %r.next_batch_no,
        reconciliation = r.settlement.reconciliation.as_str(),
        "batch settled"
    );
}
