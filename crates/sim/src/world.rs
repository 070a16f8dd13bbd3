//! The simulated world behind every terminal's [`Link`]: the network (drop, delay past the
//! time-out, duplicate, reorder, cut), the real host (`Host::handle`: frame in, frame out) on
//! the real SQLite store in a temporary directory, and the host's crashes (the store is closed
//! and opened again from its files; sessions and stored answers are lost, as in a restart).
//!
//! Everything happens on one thread, one frame at a time, in an order drawn from the seed, so
//! a seed replays exactly. Frames held by the network are delivered at a later step: a request
//! held past its terminal's time-out is typically overtaken by its own reversal.

use crate::rng::Rng;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use suanpan_core::clock::FixedClock;
use suanpan_host::{Host, Outcome};
use suanpan_iso8583::Message;
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore};
use suanpan_terminal::link::{Link, LinkError};

/// Fault probabilities, per mille of exchanges.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// The connection is cut before the frame leaves: nothing sent.
    pub cut: u64,
    /// The request is lost.
    pub drop_request: u64,
    /// The request is held by the network past the time-out and delivered a few steps later.
    pub hold_request: u64,
    /// The request is delivered now and a copy of it again later.
    pub duplicate: u64,
    /// The response is lost (or comes after the time-out).
    pub drop_response: u64,
    /// The host crashes before handling the request.
    pub crash_before: u64,
    /// The host crashes after handling (committing) the request, before the answer leaves.
    pub crash_after: u64,
}

impl Faults {
    /// The faults of a normal run.
    pub const STORM: Faults = Faults {
        cut: 20,
        drop_request: 40,
        hold_request: 60,
        duplicate: 60,
        drop_response: 60,
        crash_before: 5,
        crash_after: 5,
    };
    /// No fault at all (the final drain).
    pub const CALM: Faults = Faults {
        cut: 0,
        drop_request: 0,
        hold_request: 0,
        duplicate: 0,
        drop_response: 0,
        crash_before: 0,
        crash_after: 0,
    };
}

/// A frame the network holds, delivered to the host at `step`.
struct Held {
    step: u64,
    terminal: usize,
    frame: Vec<u8>,
}

/// The network, the host and the store.
pub struct World {
    /// The seed's generator.
    pub rng: Rng,
    /// The clock shared by the host's store and the terminals.
    pub clock: Arc<FixedClock>,
    /// The faults in force.
    pub faults: Faults,
    /// Exchanges so far.
    pub step: u64,
    /// What happened, one line per event.
    pub trace: Vec<String>,
    /// Host answers of `A0` (MAC error) or responses whose MAC did not verify, to requests a
    /// terminal was waiting for: a protocol-following terminal never earns either.
    pub key_faults: Vec<String>,
    /// Host crashes so far.
    pub crashes: u32,
    held: Vec<Held>,
    rt: tokio::runtime::Runtime,
    host: Option<Host>,
    store: Option<Arc<SqliteStore>>,
    dir: PathBuf,
    opts: OpenOptions,
    fp: Fingerprinter,
}

impl World {
    /// A world over a store already created in `dir`.
    pub fn new(
        seed: u64,
        dir: PathBuf,
        opts: OpenOptions,
        clock: Arc<FixedClock>,
        fp: Fingerprinter,
    ) -> anyhow::Result<World> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut w = World {
            rng: Rng::new(seed),
            clock,
            faults: Faults::STORM,
            step: 0,
            trace: Vec::new(),
            key_faults: Vec::new(),
            crashes: 0,
            held: Vec::new(),
            rt,
            host: None,
            store: None,
            dir,
            opts,
            fp,
        };
        w.start_host()?;
        Ok(w)
    }

    fn start_host(&mut self) -> anyhow::Result<()> {
        let store = Arc::new(SqliteStore::open(&self.dir, self.opts.clone())?);
        self.host = Some(Host::new(store.clone(), self.fp.clone()));
        self.store = Some(store);
        Ok(())
    }

    /// The store as it is now.
    pub fn store(&self) -> Arc<SqliteStore> {
        self.store
            .clone()
            .expect("the host is running between steps")
    }

    /// The host process dies and starts again on its files. The connections die with it, so
    /// the frames the network still held towards the old process are lost.
    pub fn crash(&mut self) {
        self.crashes += 1;
        self.host = None;
        self.store = None;
        let lost = self.held.len();
        self.held.clear();
        self.note(format!(
            "HOST CRASH #{} ({lost} held frames lost with the connections); restart from the files",
            self.crashes
        ));
        if let Err(e) = self.start_host() {
            panic!("the store does not open after a crash: {e:#}");
        }
    }

    /// Time passes (ms).
    pub fn advance(&mut self, ms: i64) {
        let now = self.clock_now();
        let next = now
            .checked_add(jiff::SignedDuration::from_millis(ms))
            .unwrap_or(now);
        self.clock.set(next);
    }

    fn clock_now(&self) -> jiff::Timestamp {
        use suanpan_core::clock::Clock;
        self.clock.now()
    }

    /// Adds a trace line.
    pub fn note(&mut self, line: String) {
        self.trace.push(format!("{:>5} {line}", self.step));
    }

    fn handle(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let host = self.host.as_ref()?;
        let body = frame.get(2..)?;
        match self.rt.block_on(host.handle(body)) {
            Outcome::Reply { frame, .. } => frame.get(2..).map(<[u8]>::to_vec),
            Outcome::Close => None,
        }
    }

    /// Delivers the held frames whose step has come (their answers reach nobody).
    fn release_due(&mut self) {
        let step = self.step;
        let (due, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.step <= step);
        self.held = keep;
        for h in due {
            self.deliver_late(h);
        }
    }

    fn deliver_late(&mut self, h: Held) {
        let answer = self.handle(&h.frame);
        let line = format!(
            "T{} {} arrives late; host answers {} (nobody waits for it)",
            h.terminal,
            describe(&h.frame),
            answer.as_deref().map_or("nothing".into(), describe)
        );
        self.note(line);
    }

    /// Delivers everything the network still holds (the end of the run).
    pub fn release_all(&mut self) {
        let held = std::mem::take(&mut self.held);
        for h in held {
            self.deliver_late(h);
        }
    }

    /// One exchange of terminal `t`: the network decides the frame's fate.
    fn exchange(&mut self, t: usize, frame: &[u8]) -> Result<Vec<u8>, LinkError> {
        self.step += 1;
        self.advance(300);
        self.release_due();
        let what = describe(frame);
        let f = self.faults;
        if self.rng.chance(f.cut) {
            self.note(format!("T{t} {what}: connection cut, not sent"));
            return Err(LinkError::Unreachable("simulated cut".into()));
        }
        if self.rng.chance(f.drop_request) {
            self.note(format!("T{t} {what}: request lost"));
            return Err(LinkError::NoResponse);
        }
        if self.rng.chance(f.hold_request) && is_financial(frame) {
            let at = self.step + 1 + self.rng.below(6);
            self.note(format!("T{t} {what}: held by the network until step {at}"));
            self.held.push(Held {
                step: at,
                terminal: t,
                frame: frame.to_vec(),
            });
            return Err(LinkError::NoResponse);
        }
        if self.rng.chance(f.duplicate) {
            let at = self.step + 1 + self.rng.below(6);
            self.note(format!("T{t} {what}: duplicated, copy at step {at}"));
            self.held.push(Held {
                step: at,
                terminal: t,
                frame: frame.to_vec(),
            });
        }
        if self.rng.chance(f.crash_before) {
            self.note(format!("T{t} {what}: host crashes before reading it"));
            self.crash();
            return Err(LinkError::NoResponse);
        }
        let Some(answer) = self.handle(frame) else {
            self.note(format!("T{t} {what}: host closes the connection"));
            return Err(LinkError::NoResponse);
        };
        let said = describe(&answer);
        if self.rng.chance(f.crash_after) {
            self.note(format!(
                "T{t} {what}: host answers {said} and crashes before it leaves"
            ));
            self.crash();
            return Err(LinkError::NoResponse);
        }
        if self.rng.chance(f.drop_response) {
            self.note(format!("T{t} {what}: host answers {said}; answer lost"));
            return Err(LinkError::NoResponse);
        }
        self.note(format!("T{t} {what}: host answers {said}"));
        if said.ends_with("code A0") {
            // The terminal MACs with the keys of its last sign-in: A0 means the host replaced
            // them behind its back (a second run of a sign-in).
            let line = format!("step {}: T{t} {what} answered A0", self.step);
            self.key_faults.push(line);
        }
        Ok(answer)
    }
}

/// A terminal's wire into the world.
pub struct SimLink {
    world: Rc<RefCell<World>>,
    terminal: usize,
}

impl SimLink {
    /// Terminal `terminal`'s link.
    pub fn new(world: Rc<RefCell<World>>, terminal: usize) -> SimLink {
        SimLink { world, terminal }
    }
}

impl Link for SimLink {
    fn exchange(&mut self, frame: &[u8], _timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.world.borrow_mut().exchange(self.terminal, frame)
    }
}

fn is_financial(frame: &[u8]) -> bool {
    frame
        .get(2..)
        .and_then(|b| Message::decode(b).ok())
        .is_some_and(|m| m.mti().carries_mac())
}

/// A frame in one line: MTI, 60.1, STAN, amount, 39.
pub fn describe(frame: &[u8]) -> String {
    let body = if frame.len() > 2 && frame[0] != 0x60 {
        &frame[2..]
    } else {
        frame
    };
    let Ok(m) = Message::decode(body) else {
        return "an undecodable frame".into();
    };
    let mut s = format!("{}", m.mti());
    if let Ok(f) = m.field60() {
        s.push_str(&format!("/{:02}", f.type_code));
    }
    if let Ok(stan) = m.u64(11) {
        s.push_str(&format!(" STAN {stan:06}"));
    }
    if let Ok(a) = m.u64(4) {
        s.push_str(&format!(" {a} fen"));
    }
    if let Ok(c) = m.text(39) {
        s.push_str(&format!(" code {c}"));
    }
    s
}
