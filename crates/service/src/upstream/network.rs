//! The network upstream: a purchase goes to a switch over [`suanpan_upstream::Link`] with
//! two-phase bookkeeping (see [`super`]). The request leaves only after its *authorizing*
//! row is committed with what its time-out reversal needs (the card number sealed, the
//! reversal's STAN), so a crash at any point leaves either nothing upstream, or a row whose
//! 0420 a start-up builds and queues ([`Network::resolve_at_start`]).

use std::collections::HashMap;
use std::sync::Mutex;
use suanpan_core::rules::{self, UpstreamFate};
use suanpan_core::{ResponseCode, Transaction, TxnStatus};
use suanpan_iso8583::switch::MTI_0220;
use suanpan_iso8583::{IsoMsg, Zpk};
use suanpan_store::command::{Authorized, Purchase, Refund, StandIn};
use suanpan_store::reply::{Authorize, ResolveAuthorizing, WithAdvice};
use suanpan_store::sql::SqlExt;
use suanpan_store::{
    AdviceDraft, AdviceFrame, Ask, AskExt, Booking, FollowUp, GoesUp, Store, StoreError, TxnReply,
    UpstreamRef, p,
};
use suanpan_upstream::msg::{self, Card};
use suanpan_upstream::{Link, LinkError, LinkState};

/// Merchant category code sent when the merchant has none on file (5999: miscellaneous
/// retail, the code acquirers give a merchant before its onboarding names one).
const MCC_UNKNOWN: &str = "5999";
/// Merchants whose name and MCC are kept in memory at most (field 43, 18).
const MERCHANTS_CACHED_MAX: usize = 10_000;

/// The network upstream of one host process.
pub struct Network {
    link: Link,
    /// `[[upstream.route]]`: BIN prefixes and their switch's link; longest prefix wins,
    /// none: `link` (the default route, `[upstream] addr`).
    routes: Vec<(Vec<String>, Link)>,
    zpk: Option<Zpk>,
    merchants: Mutex<HashMap<String, (String, String)>>,
}

/// What the terminal presented besides the command: the card as it goes up and the
/// terminal's local time and date (fields 12, 13).
pub struct Presented {
    /// The card, its PIN block already under the ZPK.
    pub card: Card,
    /// `hhmmss`.
    pub local_time: String,
    /// `MMDD`.
    pub local_date: String,
}

/// What a start-up found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Rows whose request may have left: reversal pending, their 0420 queued.
    pub reversals_queued: u64,
    /// Rows whose request never left: declined (91).
    pub never_sent: u64,
    /// Parked reversals of requests that were answered: dropped.
    pub dropped: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one command through the writer and waits for its commit, at most
/// [`suanpan_store::writer::ANSWER_WAIT_MAX`] (the command may still commit after it: the
/// host then sends no answer and the terminal reverses).
///
/// # Errors
/// The store's, or [`StoreError::TimedOut`] when no answer came in time.
pub async fn execute<A: Ask>(store: &dyn Store, cmd: A) -> Result<A::Reply, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store.ask_then(cmd, move |answer| {
        let _ = tx.send(answer);
    })?;
    match tokio::time::timeout(suanpan_store::writer::ANSWER_WAIT_MAX, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(StoreError::WriterGone),
        Err(_) => Err(StoreError::TimedOut("the writer's answer".into())),
    }
}

impl Network {
    /// The network upstream over a started link; `zpk` is the zone PIN key PIN blocks go
    /// up under (none: a PIN card cannot be sent).
    pub fn new(link: Link, zpk: Option<Zpk>) -> Network {
        Network {
            link,
            routes: Vec::new(),
            zpk,
            merchants: Mutex::new(HashMap::new()),
        }
    }

    /// With BIN routes (`[[upstream.route]]`): each a list of PAN prefixes and the started
    /// link of its switch (its own connections, sign-on, echo and queue order).
    #[must_use]
    pub fn with_routes(mut self, routes: Vec<(Vec<String>, Link)>) -> Network {
        self.routes = routes;
        self
    }

    /// The default route's link.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Every link: the default route's first, then each route's.
    pub fn links(&self) -> impl Iterator<Item = &Link> {
        std::iter::once(&self.link).chain(self.routes.iter().map(|(_, l)| l))
    }

    /// The link a card goes to: the route with the longest BIN prefix of `pan`, or the
    /// default route.
    pub fn link_for(&self, pan: &str) -> &Link {
        self.routes
            .iter()
            .filter_map(|(bins, link)| {
                let best = bins
                    .iter()
                    .filter(|b| pan.starts_with(b.as_str()))
                    .map(String::len)
                    .max()?;
                Some((best, link))
            })
            .max_by_key(|(len, _)| *len)
            .map_or(&self.link, |(_, link)| link)
    }

    /// Wakes every link's queue sender (an advice was committed; its destination knows).
    fn queues_changed(&self) {
        for l in self.links() {
            l.queue_changed();
        }
    }

    /// The zone PIN key.
    pub fn zpk(&self) -> Option<&Zpk> {
        self.zpk.as_ref()
    }

    /// A purchase (a `Command::Purchase`) or a refund (`Command::Refund`, a 0200 with
    /// processing code `200000`) through the upstream: phase one, the request, phase two.
    /// What does not go up (see `goes_up`; a refund of a sale decided inline) is decided
    /// inline in phase one and answered as such.
    ///
    /// # Errors
    /// Store failures. Upstream failures are fates, not errors.
    pub async fn purchase<A: UpRequest>(
        &self,
        store: &dyn Store,
        cmd: A,
        presented: &Presented,
    ) -> Result<A::Reply, StoreError> {
        let mut request = cmd
            .skeleton()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if let Err(e) = self.link.prepare(&mut request) {
            // No STAN: nothing can go up; the sale is declined as not sent below.
            tracing::error!(error = %e, "upstream: cannot prepare a request");
        }
        // The card's route (`[[upstream.route]]`); STANs and field 7 come from the default
        // link's one allocator whatever the route, so they stay unique per terminal.
        let route = self.link_for(&presented.card.pan);
        let terminal = request.text(41).unwrap_or_default().to_owned();
        let up = UpstreamRef {
            destination: route.destination(),
            stan: request.text(11).unwrap_or_default().to_owned(),
            transmitted: request.text(7).unwrap_or_default().to_owned(),
            reversal: self.reversal_draft(&terminal, &presented.card.pan),
        };
        let up_has_reversal = up.reversal.is_some();
        let phase_one = Authorize {
            purchase: cmd,
            upstream: up,
        };
        let txn = match execute(store, phase_one).await?.booked() {
            Ok(t) if t.status == TxnStatus::Authorizing => t,
            // Decided inline (it does not go up): booked as it stands.
            Ok(t) => return Ok(A::decided(TxnReply::Booked(t))),
            Err(answered) => return Ok(answered),
        };
        let standby = request.clone();
        let (fate, auth) = if up_has_reversal {
            self.send(store, route, &txn, request, presented).await
        } else {
            (UpstreamFate::NotSent, None)
        };
        if fate == UpstreamFate::NotSent
            && route.state() != LinkState::Up
            && rules::decide_stand_in(
                txn.kind,
                txn.amount,
                self.link.stand_in_floor_fen(),
                presented.card.pin_block.is_some(),
            )
            && let Some(reply) = self
                .stand_in(store, route, &txn, standby, presented)
                .await?
        {
            route.queue_changed();
            return Ok(A::decided(reply));
        }
        let phase_two = Authorized {
            id: txn.id,
            fate,
            auth_code: auth,
        };
        let reply = execute(store, phase_two).await.map(A::decided);
        if fate == UpstreamFate::NoAnswer {
            route.queue_changed();
        }
        reply
    }

    /// What the time-out reversal of a request of `terminal` for card `pan` needs besides
    /// the row, given before phase one: the row keeps it (the card number sealed), so phase
    /// two or a start-up builds the 0420 without the request in hand. `None` (logged) when
    /// no STAN is left: the request then has no reversal and must not leave.
    fn reversal_draft(&self, terminal: &str, pan: &str) -> Option<AdviceDraft> {
        match self.link.stamp_for(terminal) {
            Ok((stan, transmitted)) => Some(AdviceDraft {
                pan: pan.to_owned(),
                reason: suanpan_upstream::REASON_TIME_OUT.to_owned(),
                stan,
                transmitted,
                acquirer_id: self.link.acquirer_id(),
            }),
            Err(e) => {
                tracing::error!(error = %e, "upstream: no STAN for a reversal; not sent");
                None
            }
        }
    }

    /// Stand-in (the link is down, `decide_stand_in` said yes): the sale approved with the
    /// host's authorization id and its 0220 advice queued, in one writer command. `None`
    /// when the advice cannot be built (the sale is then declined as not sent).
    async fn stand_in(
        &self,
        store: &dyn Store,
        route: &Link,
        txn: &Transaction,
        mut request: IsoMsg,
        presented: &Presented,
    ) -> Result<Option<TxnReply>, StoreError> {
        if !request.has(11) || !self.complete(store, txn, &mut request, presented) {
            return Ok(None);
        }
        let auth_code = stand_in_auth_code(txn.id);
        request.set_mti(MTI_0220);
        let mut frame = Vec::new();
        let built = request
            .set_str(38, &auth_code)
            .and_then(|m| m.encode(&mut frame));
        if let Err(e) = built {
            tracing::error!(error = %e, txn = %txn.id, "upstream: stand-in advice not built");
            return Ok(None);
        }
        let cmd = StandIn {
            id: txn.id,
            destination: route.destination(),
            frame: AdviceFrame(frame),
            auth_code,
        };
        tracing::warn!(txn = %txn.id, "upstream down: sale approved in stand-in; 0220 queued");
        execute(store, cmd).await.map(Some)
    }

    /// Completes a prepared request with `txn`'s facts and the card; false (logged) when
    /// the profile does not take them.
    fn complete(
        &self,
        store: &dyn Store,
        txn: &Transaction,
        request: &mut IsoMsg,
        presented: &Presented,
    ) -> bool {
        let (name, mcc) = self.merchant(store, txn.merchant_id.as_str());
        let rrn = txn.rrn.as_ref().map(|r| r.as_str().to_owned());
        let facts = msg::Purchase {
            amount_fen: u64::try_from(txn.amount.fen()).unwrap_or(0),
            terminal_id: txn.terminal_id.as_str(),
            merchant_id: txn.merchant_id.as_str(),
            rrn: rrn.as_deref().unwrap_or_default(),
            local_time: &presented.local_time,
            local_date: &presented.local_date,
            mcc: &mcc,
            acceptor: &name,
        };
        if let Err(e) = msg::complete_purchase(request, &facts, &presented.card) {
            tracing::error!(error = %e, txn = %txn.id, "upstream: request not encodable");
            return false;
        }
        true
    }

    /// Completes and sends the request of `txn`; its fate.
    async fn send(
        &self,
        store: &dyn Store,
        route: &Link,
        txn: &Transaction,
        mut request: IsoMsg,
        presented: &Presented,
    ) -> (UpstreamFate, Option<String>) {
        if !request.has(11) || route.state() != LinkState::Up {
            return (UpstreamFate::NotSent, None);
        }
        if !self.complete(store, txn, &mut request, presented) {
            return (UpstreamFate::NotSent, None);
        }
        // Its reversal is durable before it leaves: phase one kept what the 0420 needs
        // with the row, so a crash while it is in flight leaves a row a start-up reverses.
        match route.send_only(request).await {
            Ok(ex) => {
                let (code, auth) = msg::outcome(&ex.answer);
                // A code this host does not know is a decline it cannot explain: 05.
                let code = code
                    .and_then(ResponseCode::parse)
                    .unwrap_or(ResponseCode::DoNotHonour);
                (UpstreamFate::Answered(code), auth.map(str::to_owned))
            }
            Err(LinkError::NotSent | LinkError::Codec(_) | LinkError::Stan(_)) => {
                (UpstreamFate::NotSent, None)
            }
            // No answer: the outcome is unknown; phase two queues the 0420.
            Err(e) => {
                tracing::warn!(error = %e, txn = %txn.id, "upstream: no answer; reversal pending");
                (UpstreamFate::NoAnswer, None)
            }
        }
    }

    /// A follow-up of a sale (`cmd`: a void, reason `17`, or a terminal reversal, `68`)
    /// through the writer, with the sale's reversal advice queued in the same transaction
    /// when the network upstream decided the sale; `pan` is the card the terminal presented
    /// again (field 2 is required, and the store keeps no PAN). Without a PAN, or without a
    /// STAN for the advice, the follow-up runs alone and the gap is logged.
    ///
    /// # Errors
    /// Store failures.
    pub async fn follow_up<A: FollowUp>(
        &self,
        store: &dyn Store,
        cmd: A,
        terminal_id: &str,
        pan: Option<&str>,
        reason: &str,
    ) -> Result<A::Reply, StoreError> {
        let draft = match (pan, self.link.stamp_for(terminal_id)) {
            (Some(pan), Ok((stan, transmitted))) => Some(AdviceDraft {
                pan: pan.to_owned(),
                reason: reason.to_owned(),
                stan,
                transmitted,
                acquirer_id: self.link.acquirer_id(),
            }),
            (None, _) => {
                tracing::error!(
                    terminal = terminal_id,
                    "a follow-up without field 2: no 0420 can be sent for it"
                );
                None
            }
            (_, Err(e)) => {
                tracing::error!(error = %e, "a follow-up without a STAN for its 0420");
                None
            }
        };
        let Some(advice) = draft else {
            return execute(store, cmd).await;
        };
        let cmd = WithAdvice { inner: cmd, advice };
        let reply = execute(store, cmd).await;
        self.queues_changed();
        reply
    }

    /// The merchant's name (field 43) and category code (18), cached.
    fn merchant(&self, store: &dyn Store, id: &str) -> (String, String) {
        if let Some(m) = lock(&self.merchants).get(id) {
            return m.clone();
        }
        let mut found = None;
        let read = store.with_reader(&mut |c| {
            found = c.row(
                "SELECT name, mcc FROM merchants WHERE id = ?1",
                p![id],
                |r| Ok((r.text(0)?, r.opt_text(1)?)),
            )?;
            Ok(())
        });
        if let Err(e) = read {
            tracing::warn!(error = %e, "upstream: merchant not read; sent without its name");
        }
        let (name, mcc) = found.unwrap_or_default();
        let mcc = mcc
            .filter(|m| m.len() == 4 && m.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| MCC_UNKNOWN.to_owned());
        // Field 43 is ASCII: a Chinese name goes as the merchant id.
        let name = if name.is_ascii() && !name.is_empty() {
            name.chars().take(22).collect()
        } else {
            id.to_owned()
        };
        let mut cache = lock(&self.merchants);
        if cache.len() < MERCHANTS_CACHED_MAX {
            cache.insert(id.to_owned(), (name.clone(), mcc.clone()));
        }
        (name, mcc)
    }

    /// Resolves, before terminals are served, every transaction a previous run left
    /// *authorizing*: one that may have left (its reversal can be built from its row, or an
    /// older build parked it) — reversal pending, its 0420 queued; an older build's with
    /// none parked never left — declined (91). An older build's parked reversals of
    /// answered requests are dropped. One writer command does it all.
    ///
    /// # Errors
    /// Store failures (then `serve` must not start).
    pub async fn resolve_at_start(&self, store: &dyn Store) -> Result<Resolved, StoreError> {
        let mut out = Resolved::default();
        store.with_reader(&mut |c| {
            out = Resolved::default();
            let ids = suanpan_store::repo::upstream::authorizing(c)?;
            let parked = suanpan_store::repo::upstream::parked(c)?;
            for id in &ids {
                if super::may_have_left(c, *id)? {
                    out.reversals_queued += 1;
                } else {
                    out.never_sent += 1;
                }
            }
            let of_authorizing = ids
                .iter()
                .filter(|id| parked.contains(&super::reference(**id)))
                .count();
            out.dropped = (parked.len() - of_authorizing) as u64;
            Ok(())
        })?;
        execute(store, ResolveAuthorizing).await?;
        self.queues_changed();
        tracing::info!(?out, "upstream: authorizing transactions resolved at start");
        Ok(out)
    }
}

/// A request that goes up as a 0200: a purchase, or a refund (processing code `200000`).
pub trait UpRequest: GoesUp {
    /// The request's skeleton for its terminal.
    ///
    /// # Errors
    /// The profile's.
    fn skeleton(&self) -> Result<IsoMsg, suanpan_iso8583::Error>;
}

impl UpRequest for Purchase {
    fn skeleton(&self) -> Result<IsoMsg, suanpan_iso8583::Error> {
        msg::purchase_skeleton(self.origin.terminal_id.as_str())
    }
}

impl UpRequest for Refund {
    fn skeleton(&self) -> Result<IsoMsg, suanpan_iso8583::Error> {
        msg::refund_skeleton(self.origin.terminal_id.as_str())
    }
}

/// The authorization id (field 38) the host gives a sale it approves in stand-in: `S` and
/// the transaction id's last five digits, so the switch's and the acquirer's people can
/// tell it from an issuer's at a glance.
pub fn stand_in_auth_code(id: suanpan_core::TxnId) -> String {
    format!("S{:05}", id.0.rem_euclid(100_000))
}

/// The 0420 frame that reverses `original` (a sale the network upstream decided, gone up as
/// `up`; `stood_in`: as the host's 0220 advice) for the reason and with the STAN of `draft`.
pub fn advice_frame(
    original: &Transaction,
    up: &UpstreamRef,
    draft: &AdviceDraft,
    stood_in: bool,
) -> Result<Vec<u8>, suanpan_iso8583::Error> {
    // A refund's reversal names its processing code (`200000`), as its 0200 did.
    let mut m = if original.kind == suanpan_core::TxnKind::Refund {
        msg::refund_skeleton(original.terminal_id.as_str())?
    } else {
        msg::purchase_skeleton(original.terminal_id.as_str())?
    };
    m.set_str(2, &draft.pan)?;
    m.set_u64(4, u64::try_from(original.amount.fen()).unwrap_or(0))?;
    m.set_str(7, &up.transmitted)?;
    m.set_str(11, &up.stan)?;
    m.set_str(32, &draft.acquirer_id)?;
    if let Some(rrn) = &original.rrn {
        m.set_str(37, rrn.as_str())?;
    }
    m.set_str(42, original.merchant_id.as_str())?;
    m.set_str(49, "156")?;
    if stood_in {
        // Field 90 names what the switch booked: the 0220, same STAN and field 7.
        m.set_mti(MTI_0220);
    }
    suanpan_upstream::reversal_advice(&m, &draft.reason, None, (&draft.stan, &draft.transmitted))
}
