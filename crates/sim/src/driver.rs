//! One run: set up the store and the terminals, play `ops` operations drawn from the seed
//! under the storm of faults, drain and calm the network, settle, and check.

use crate::check::{self, Card};
use crate::world::{Faults, SimLink, World};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use suanpan_core::clock::FixedClock;
use suanpan_core::{MerchantId, TerminalId};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TMK_HEX};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore};
use suanpan_terminal::link::Link;
use suanpan_terminal::net::{Net, TxnRequest, TxnResult};
use suanpan_terminal::proto::{Card as WireCard, Kind, Original, Terminal};
use suanpan_terminal::state::{LocalTxn, TermState};

/// The card most operations use (approves, large balance).
pub const APPROVE_PAN: &str = "6222021234567890128";
/// The card that is declined for lack of funds once its small balance is used.
pub const SHORT_PAN: &str = "6228480012345678903";
/// Identical resends of a refund that got no answer: a refund has no reversal, so the
/// terminal asks again with the same STAN until it learns the outcome (the host's
/// idempotency key answers a resend of a booked refund with the stored answer).
pub const REFUND_RESENDS_MAX: u32 = 30;
/// A memory-backed file system, where there is one.
const SHM_DIR: &str = "/dev/shm";
/// Tries to clear a pending reversal in the calm drain.
const DRAIN_TRIES_MAX: u32 = 20;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Simulated terminals.
    pub terminals: usize,
    /// Operations (sales, voids, refunds, pre-auths, completions, settlements, idles).
    pub ops: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            terminals: 4,
            ops: 200,
        }
    }
}

/// What one run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Operations played.
    pub ops: u32,
    /// Violated invariants (empty: the run is exact).
    pub violations: Vec<String>,
    /// Every event of the run.
    pub trace: Vec<String>,
    /// Host crashes in the run.
    pub crashes: u32,
    /// Transactions the host booked (approved, not reversed).
    pub booked: usize,
}

struct Sim {
    world: Rc<RefCell<World>>,
    terms: Vec<(Net<SimLink>, TermState)>,
    /// A second wire per terminal, for the resends the driver makes itself.
    links: Vec<SimLink>,
    clock: Arc<FixedClock>,
}

/// Plays one seed.
pub fn run(seed: u64, opts: &Options) -> anyhow::Result<Outcome> {
    // The store's files live in memory when the machine has a tmpfs: a run commits a few
    // hundred times and its fsyncs would otherwise be most of its time. Crashes are simulated
    // above the file system, so nothing is lost by it.
    let dir = match std::path::Path::new(SHM_DIR).is_dir() {
        true => tempfile::tempdir_in(SHM_DIR)?,
        false => tempfile::tempdir()?,
    };
    let start: jiff::Timestamp = "2026-12-01T02:00:00Z".parse()?;
    let clock = Arc::new(FixedClock::new(start));
    let fp = Fingerprinter::new([7; 32]);
    let open = OpenOptions {
        clock: clock.clone(),
        ..suanpan_service::open_options()
    };
    let merchant = MerchantId::parse(DEMO_MERCHANT)?;
    let mut ids = Vec::new();
    {
        let store = SqliteStore::create(dir.path(), open.clone())?;
        store.seed_demo(&fp)?;
        for i in 0..opts.terminals {
            let id = TerminalId::parse(&format!("S{:07}", i + 1))?;
            store.add_terminal(&id, &merchant, Some(DEMO_TMK_HEX))?;
            ids.push(id);
        }
    }
    let world = Rc::new(RefCell::new(World::new(
        seed,
        dir.path().to_path_buf(),
        open,
        clock.clone(),
        fp.clone(),
    )?));
    let mut terms = Vec::new();
    let mut links = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        links.push(SimLink::new(world.clone(), i));
        let proto = Terminal::new(id.as_str(), DEMO_MERCHANT, DEMO_TMK_HEX)?;
        let net = Net::new(proto, SimLink::new(world.clone(), i), None, clock.clone());
        terms.push((net, TermState::new(id.as_str(), DEMO_MERCHANT, "sim")));
    }
    let mut sim = Sim {
        world,
        terms,
        links,
        clock,
    };
    for _ in 0..opts.ops {
        sim.op();
    }
    let settle_problems = sim.drain();
    let w = sim.world.borrow();
    let store = w.store();
    let journals: Vec<(&TerminalId, &TermState)> =
        ids.iter().zip(sim.terms.iter().map(|(_, s)| s)).collect();
    let cards = [Card::new(&fp, APPROVE_PAN)?, Card::new(&fp, SHORT_PAN)?];
    let mut found = check::all(&*store, &journals, &merchant, &cards)?;
    found.violations.extend(settle_problems);
    found.violations.extend(w.key_faults.iter().cloned());
    Ok(Outcome {
        seed,
        ops: opts.ops,
        violations: found.violations,
        trace: w.trace.clone(),
        crashes: w.crashes,
        booked: found.booked,
    })
}

impl Sim {
    fn world(&self) -> std::cell::RefMut<'_, World> {
        self.world.borrow_mut()
    }

    fn draw(&self, n: u64) -> u64 {
        self.world().rng.below(n)
    }

    /// One operation of one terminal, drawn from the seed.
    fn op(&mut self) {
        let t = self.draw(self.terms.len() as u64) as usize;
        let roll = self.draw(100);
        let amount = 1 + self.draw(5_000);
        let pan = if self.draw(10) == 0 {
            SHORT_PAN
        } else {
            APPROVE_PAN
        };
        let card = WireCard::new(pan, "3012");
        let state = &self.terms[t].1;
        let req = match roll {
            0..45 => Some((Kind::Sale, amount, None)),
            45..55 => last_of(state, &["sale"]).map(|o| (Kind::Void, o.amount_fen as u64, Some(o))),
            55..63 => refundable(state).map(|o| {
                let left = (o.amount_fen - o.refunded_fen).max(1) as u64;
                (Kind::Refund, 1 + amount % left, Some(o))
            }),
            63..73 => Some((Kind::PreAuth, amount, None)),
            73..80 => last_of(state, &["preauth"])
                .map(|o| (Kind::Completion, o.amount_fen as u64, Some(o))),
            80..84 => last_of(state, &["preauth"])
                .map(|o| (Kind::PreAuthVoid, o.amount_fen as u64, Some(o))),
            84..89 => {
                self.settle(t);
                None
            }
            _ => {
                self.idle(t);
                None
            }
        };
        if let Some((kind, amount, original)) = req {
            self.txn(t, kind, card, amount, original);
        }
    }

    fn idle(&mut self, t: usize) {
        self.world().advance(2_000);
        let (net, state) = &mut self.terms[t];
        let _ = net.flush_reversal(state, false);
    }

    fn settle(&mut self, t: usize) {
        let (net, state) = &mut self.terms[t];
        let _ = net.settle(state, "01");
    }

    fn txn(
        &mut self,
        t: usize,
        kind: Kind,
        card: WireCard,
        amount: u64,
        original: Option<LocalTxn>,
    ) {
        let req = TxnRequest {
            kind,
            card,
            amount,
            original: original.as_ref().map(|o| Original {
                rrn: o.rrn.clone(),
                auth_code: o.auth_code.clone(),
                batch: o.batch,
                stan: o.stan,
            }),
            training: false,
            confirm_duplicate: false,
        };
        let (net, state) = &mut self.terms[t];
        let (stan, mut result) = net.financial(state, &req);
        // The batch the request went with: a 77 on the way made `financial` sign in again
        // (which may bring a new batch) and send it once more.
        let batch = state.batch;
        if kind == Kind::Refund && matches!(result, TxnResult::NoAnswer { .. }) {
            result = match self.resend(t, stan, batch, &req) {
                Some(r) => TxnResult::Answered(r),
                None => result,
            };
        }
        let now = self.clock_now();
        let (_, state) = &mut self.terms[t];
        if let TxnResult::Answered(r) = result
            && r.code == "00"
            && r.mac_ok != Some(false)
        {
            book(state, stan, kind, amount, original.as_ref(), &r, now);
        }
    }

    /// Resends a request that got no answer, identical (same STAN, batch and fields), until
    /// an answer comes: what a terminal does for a refund, which has no reversal. A 77 (the
    /// host restarted) is followed by a sign-in and the same request again, never a new STAN:
    /// the first one may have been booked.
    fn resend(
        &mut self,
        t: usize,
        stan: u32,
        batch: u32,
        req: &TxnRequest,
    ) -> Option<suanpan_terminal::proto::Response> {
        for _ in 0..REFUND_RESENDS_MAX {
            let (net, state) = &mut self.terms[t];
            if !net.proto.signed_in() && net.sign_in(state, "01").is_err() {
                continue;
            }
            net.proto.stan = if stan <= 1 { 999_999 } else { stan - 1 };
            net.proto.batch = batch;
            let built = net
                .proto
                .request(req.kind, &req.card, req.amount, req.original.as_ref());
            let Ok((_, frame)) = built else { return None };
            let answer = self.links[t].exchange(&frame, std::time::Duration::from_secs(10));
            let (net, _) = &mut self.terms[t];
            let Ok(r) = answer.map(|body| net.proto.parse(&body)) else {
                continue;
            };
            match r {
                Ok(r) if r.code == "77" => net.proto.forget_keys(),
                Ok(r) if r.mac_ok != Some(false) && r.stan == Some(stan) => return Some(r),
                _ => {}
            }
        }
        None
    }

    fn clock_now(&self) -> jiff::Timestamp {
        use suanpan_core::clock::Clock;
        self.clock.now()
    }

    /// The end of the run: calm network, every reversal through, everything the network
    /// held delivered, then every terminal signs in and settles. Returns settlement problems.
    fn drain(&mut self) -> Vec<String> {
        self.world().faults = Faults::CALM;
        self.world().note("--- drain: no more faults ---".into());
        self.flush_all();
        self.world().release_all();
        self.flush_all();
        let mut problems = Vec::new();
        for t in 0..self.terms.len() {
            let (net, state) = &mut self.terms[t];
            net.proto.forget_keys();
            if let Err(e) = net.sign_in(state, "01") {
                problems.push(format!("T{t}: sign-in in the calm drain failed: {e:?}"));
                continue;
            }
            match net.settle(state, "01") {
                Ok(r) if r.code == "00" => {
                    let verdict = r.host.map(|h| h.domestic.reconciliation);
                    if verdict != Some(1) {
                        problems.push(format!(
                            "T{t}: settlement not balanced (对账不平): terminal {:?}, host {:?} — {}",
                            r.ours.domestic, r.host.map(|h| h.domestic), r.text
                        ));
                    }
                }
                Ok(r) => problems.push(format!("T{t}: settlement answered {} {}", r.code, r.text)),
                Err(e) => problems.push(format!("T{t}: settlement not sent: {e:?}")),
            }
        }
        problems
    }

    fn flush_all(&mut self) {
        for t in 0..self.terms.len() {
            for _ in 0..DRAIN_TRIES_MAX {
                let (net, state) = &mut self.terms[t];
                if matches!(net.flush_reversal(state, true), Ok(true)) {
                    break;
                }
            }
        }
    }
}

/// The newest approved, untouched row of these kinds in the open batch.
fn last_of(state: &TermState, kinds: &[&str]) -> Option<LocalTxn> {
    state
        .batch_rows()
        .into_iter()
        .find(|t| {
            kinds.contains(&t.kind.as_str())
                && t.approved()
                && !t.voided
                && !t.completed
                && t.refunded_fen == 0
        })
        .cloned()
}

fn refundable(state: &TermState) -> Option<LocalTxn> {
    state.last_refundable(false).cloned()
}

/// Books an approved answer in the terminal's journal the way the emulator's screens do
/// (`terminal::replies`): the row, and its effect on the original.
fn book(
    state: &mut TermState,
    stan: u32,
    kind: Kind,
    amount: u64,
    original: Option<&LocalTxn>,
    r: &suanpan_terminal::proto::Response,
    now: jiff::Timestamp,
) {
    let core_kind = match kind {
        Kind::Sale => "sale",
        Kind::Void => "void",
        Kind::Refund => "refund",
        Kind::PreAuth => "preauth",
        Kind::Completion => "completion",
        Kind::PreAuthVoid => "preauth_void",
        Kind::CompletionVoid => "completion_void",
        Kind::Balance => "balance",
    };
    let row = LocalTxn {
        kind: core_kind.to_owned(),
        stan,
        batch: r.batch.unwrap_or(state.batch),
        amount_fen: i64::try_from(amount).unwrap_or(0),
        masked_pan: String::new(),
        entry: "05".into(),
        rrn: r.rrn.as_ref().map(|s| s.trim().to_owned()),
        auth_code: r.auth_code.as_ref().map(|s| s.trim().to_owned()),
        code: r.code.clone(),
        at: now.to_string(),
        operator: "01".into(),
        supervisor: matches!(kind, Kind::Void | Kind::Refund | Kind::PreAuthVoid)
            .then(|| "00".to_owned()),
        training: false,
        voided: false,
        refunded_fen: 0,
        original_stan: original.map(|o| o.stan),
        original_rrn: original.and_then(|o| o.rrn.clone()),
        linked_stan: None,
        reason: None,
        balance_fen: None,
        completed: false,
    };
    state.book(row);
    let Some(o) = original else { return };
    let Some(orig) = state
        .journal
        .iter_mut()
        .rev()
        .find(|t| t.batch == o.batch && t.stan == o.stan && t.kind == o.kind)
    else {
        return;
    };
    match kind {
        Kind::Void | Kind::PreAuthVoid => orig.voided = true,
        Kind::Completion => orig.completed = true,
        Kind::Refund => orig.refunded_fen += i64::try_from(amount).unwrap_or(0),
        _ => {}
    }
}
