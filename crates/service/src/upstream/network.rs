//! The network upstream: a purchase goes to a switch over [`suanpan_upstream::Link`] with
//! two-phase bookkeeping (see [`super`]). The request leaves only after its *authorizing*
//! row is committed and its time-out reversal is parked durably beside the link's queue, so
//! a crash at any point leaves either nothing upstream, or a row and a 0420 that a start-up
//! finds ([`Network::resolve_at_start`]).

use std::collections::HashMap;
use std::sync::Mutex;
use suanpan_core::rules::UpstreamFate;
use suanpan_core::{ResponseCode, Transaction, TxnId, TxnStatus};
use suanpan_iso8583::{IsoMsg, Zpk};
use suanpan_store::sql::SqlExt;
use suanpan_store::{Command, Reply, Store, StoreError, UpstreamRef, p};
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
pub async fn execute(store: &dyn Store, cmd: Command) -> Result<Reply, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store.submit_boxed(
        cmd,
        Box::new(move |answer| {
            let _ = tx.send(answer);
        }),
    )?;
    match tokio::time::timeout(suanpan_store::writer::ANSWER_WAIT_MAX, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(StoreError::WriterGone),
        Err(_) => Err(StoreError::TimedOut("the writer's answer".into())),
    }
}

fn reference(id: TxnId) -> String {
    format!("txn:{id}")
}

impl Network {
    /// The network upstream over a started link; `zpk` is the zone PIN key PIN blocks go
    /// up under (none: a PIN card cannot be sent).
    pub fn new(link: Link, zpk: Option<Zpk>) -> Network {
        Network {
            link,
            zpk,
            merchants: Mutex::new(HashMap::new()),
        }
    }

    /// The link.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The zone PIN key.
    pub fn zpk(&self) -> Option<&Zpk> {
        self.zpk.as_ref()
    }

    /// A purchase (a `Command::Purchase`) through the upstream: phase one, the request,
    /// phase two. What does not go up (see `goes_up`) is decided inline in phase one and
    /// answered as such.
    ///
    /// # Errors
    /// Store failures. Upstream failures are fates, not errors.
    pub async fn purchase(
        &self,
        store: &dyn Store,
        cmd: Command,
        presented: &Presented,
    ) -> Result<Reply, StoreError> {
        let Command::Purchase { origin, .. } = &cmd else {
            return Err(StoreError::Invalid("not a purchase".into()));
        };
        let mut request = msg::purchase_skeleton(origin.terminal_id.as_str())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if let Err(e) = self.link.prepare(&mut request) {
            // No STAN: nothing can go up; the sale is declined as not sent below.
            tracing::error!(error = %e, "upstream: cannot prepare a request");
        }
        let up = UpstreamRef {
            destination: self.link.destination(),
            stan: request.text(11).unwrap_or_default().to_owned(),
            transmitted: request.text(7).unwrap_or_default().to_owned(),
        };
        let phase_one = Command::Authorize {
            purchase: Box::new(cmd),
            upstream: up,
        };
        let reply = execute(store, phase_one).await?;
        let txn = match reply {
            Reply::Txn(t) if t.status == TxnStatus::Authorizing => t,
            other => return Ok(other),
        };
        let (fate, auth) = self.send(store, &txn, request, presented).await;
        let phase_two = Command::Authorized {
            id: txn.id,
            fate,
            auth_code: auth,
        };
        execute(store, phase_two).await
    }

    /// Completes, parks the reversal of, and sends the request of `txn`; its fate.
    async fn send(
        &self,
        store: &dyn Store,
        txn: &Transaction,
        mut request: IsoMsg,
        presented: &Presented,
    ) -> (UpstreamFate, Option<String>) {
        if !request.has(11) || self.link.state() != LinkState::Up {
            return (UpstreamFate::NotSent, None);
        }
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
        if let Err(e) = msg::complete_purchase(&mut request, &facts, &presented.card) {
            tracing::error!(error = %e, txn = %txn.id, "upstream: request not encodable");
            return (UpstreamFate::NotSent, None);
        }
        let reference = reference(txn.id);
        // The reversal is durable before the request leaves: a crash while it is in flight
        // leaves a 0420 for the start-up to queue.
        if let Err(e) = self.link.park_reversal(&request, &reference) {
            tracing::error!(error = %e, txn = %txn.id, "upstream: reversal not parked; not sent");
            return (UpstreamFate::NotSent, None);
        }
        match self.link.send_prepared(request, &reference).await {
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
            // No answer, or the queue failed while moving the reversal: the outcome is
            // unknown either way (the parked 0420 is still there for the start-up).
            Err(e) => {
                tracing::warn!(error = %e, txn = %txn.id, "upstream: no answer; reversal pending");
                (UpstreamFate::NoAnswer, None)
            }
        }
    }

    /// Queues the reversal advice (0420, reason `reason`: `17` void) of `original` when the
    /// network upstream decided it; `pan` is the card the terminal presented again (field 2
    /// is required, and the store keeps no PAN). Durable when it returns.
    ///
    /// A known gap: the follow-up is booked before this runs, in its own commit; a crash
    /// between the two loses the advice (the SAF moves into the main store later).
    ///
    /// # Errors
    /// Store and queue failures.
    pub fn reverse_upstream(
        &self,
        store: &dyn Store,
        original: &Transaction,
        pan: &str,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut up = None;
        store.with_reader(&mut |c| {
            up = suanpan_store::repo::upstream::find(c, original.id)?;
            Ok(())
        })?;
        let Some(up) = up else {
            return Ok(None);
        };
        let e = |e: suanpan_iso8583::Error| StoreError::Invalid(format!("reversal advice: {e}"));
        let mut m = msg::purchase_skeleton(original.terminal_id.as_str()).map_err(e)?;
        m.set_str(2, pan).map_err(e)?;
        m.set_u64(4, u64::try_from(original.amount.fen()).unwrap_or(0))
            .map_err(e)?;
        m.set_str(7, &up.transmitted).map_err(e)?;
        m.set_str(11, &up.stan).map_err(e)?;
        m.set_str(32, &self.link.acquirer_id()).map_err(e)?;
        if let Some(rrn) = &original.rrn {
            m.set_str(37, rrn.as_str()).map_err(e)?;
        }
        m.set_str(42, original.merchant_id.as_str()).map_err(e)?;
        m.set_str(49, "156").map_err(e)?;
        let id = self
            .link
            .queue_reversal(&m, reason, None)
            .map_err(|e| StoreError::Sqlite(format!("upstream queue: {e}")))?;
        tracing::info!(txn = %original.id, reason, queued = id, "upstream: reversal advice queued");
        Ok(Some(id))
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
    /// *authorizing*: one whose reversal was parked may have left — reversal pending, its
    /// 0420 queued; one with none parked never left — declined (91). Parked reversals of
    /// answered requests are dropped.
    ///
    /// # Errors
    /// Store and queue failures (then `serve` must not start).
    pub async fn resolve_at_start(&self, store: &dyn Store) -> Result<Resolved, StoreError> {
        let qerr = |e: LinkError| StoreError::Sqlite(format!("upstream queue: {e}"));
        let mut out = Resolved::default();
        for reference in self.link.parked().map_err(qerr)? {
            let id = reference
                .strip_prefix("txn:")
                .and_then(|n| n.parse().ok())
                .map(TxnId);
            let status = match id {
                Some(id) => {
                    let cmd = Command::Authorized {
                        id,
                        fate: UpstreamFate::NoAnswer,
                        auth_code: None,
                    };
                    match execute(store, cmd).await {
                        Ok(Reply::Txn(t)) => Some(t.status),
                        Ok(_) | Err(StoreError::Invalid(_)) => None,
                        Err(e) => return Err(e),
                    }
                }
                None => None,
            };
            if status == Some(TxnStatus::ReversalPending) {
                self.link.activate_parked(&reference).map_err(qerr)?;
                out.reversals_queued += 1;
            } else {
                self.link.discard_parked(&reference).map_err(qerr)?;
                out.dropped += 1;
            }
        }
        if let Reply::Done(n) = execute(store, Command::ResolveAuthorizing).await? {
            out.never_sent = n;
        }
        tracing::info!(?out, "upstream: authorizing transactions resolved at start");
        Ok(out)
    }
}
