//! The terminal's protocol engine against a scripted fake host (a `Link` that answers
//! in-process with real, MACed 8583 frames): reversal back-off and escalation, no financial
//! request while a reversal is pending, re-sign-in on 77, and the reversal on disk before
//! the request leaves.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use suanpan_core::clock::{Clock, FixedClock};
use suanpan_iso8583::{
    Field60, Header, Mak, Message, MessageBuilder, Mti, Pik, Status, Tmk, WorkingKeys, split_frame,
};
use suanpan_terminal::link::{Link, LinkError};
use suanpan_terminal::net::{Net, NotSent, TxnRequest, TxnResult};
use suanpan_terminal::proto::{Card, Kind, Terminal};
use suanpan_terminal::state::{PendingReversal, TermState};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

const TMK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PIK: &str = "11111111111111112222222222222222";
/// Single-length, as every MAK of the profile.
const MAK: &str = "3333333333333333";

/// How the fake host treats one kind of request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Approve,
    Silent,
    SignInAgain,
}

struct Fake {
    sale: Vec<Mode>,
    settle: Vec<Mode>,
    reversal: Mode,
    seen: Vec<u16>,
    /// Checked on every 0200: the state file as it is on disk at that moment.
    state_file: Option<PathBuf>,
    armed_on_disk: Vec<bool>,
}

#[derive(Clone)]
struct FakeLink(Rc<RefCell<Fake>>);

fn respond(msg: &Message<'_>, code: &str, mac: bool) -> Vec<u8> {
    let mut b = MessageBuilder::new(msg.tpdu().swapped(), Header::POS, msg.mti().response());
    ok(b.set_n_u64(11, ok(msg.u64(11))));
    ok(b.set_ans(39, code.as_bytes()));
    ok(b.set_ans(41, b"12345678"));
    ok(b.set_field60(&Field60::new(0, 1, 3)));
    if msg.mti() == Mti::NETWORK_REQUEST {
        let keys = ok(WorkingKeys::seal(
            &ok(Tmk::from_hex(TMK)),
            &ok(Pik::from_hex(PIK)),
            &ok(Mak::from_hex(MAK)),
        ));
        ok(b.set_working_keys(&keys));
    } else {
        ok(b.set_ans(37, b"000000000001"));
    }
    let mut out = Vec::new();
    if mac {
        ok(b.encode_with_mac(&ok(Mak::from_hex(MAK)), &mut out));
    } else {
        ok(b.encode(&mut out));
    }
    match split_frame(&out) {
        Ok(Status::Complete(f)) => f.body.to_vec(),
        _ => panic!("frame"),
    }
}

impl Link for FakeLink {
    fn exchange(&mut self, frame: &[u8], _: Duration) -> Result<Vec<u8>, LinkError> {
        let body = match split_frame(frame) {
            Ok(Status::Complete(f)) => f.body.to_vec(),
            _ => panic!("the terminal sent a broken frame"),
        };
        let msg = ok(Message::decode(&body));
        let mut f = self.0.borrow_mut();
        f.seen.push(msg.mti().value());
        let mode = match msg.mti().value() {
            800 | 820 => Mode::Approve,
            200 | 220 => {
                if let Some(p) = &f.state_file {
                    let s = ok(TermState::load(p));
                    let armed = s.is_some_and(|s| s.pending_reversal.is_some());
                    f.armed_on_disk.push(armed);
                }
                if f.sale.len() > 1 {
                    f.sale.remove(0)
                } else {
                    f.sale[0]
                }
            }
            400 => f.reversal,
            500 => f.settle.pop().unwrap_or(Mode::Approve),
            _ => Mode::Approve,
        };
        match mode {
            Mode::Silent => Err(LinkError::NoResponse),
            Mode::Approve => Ok(respond(&msg, "00", msg.mti().carries_mac())),
            Mode::SignInAgain => Ok(respond(&msg, "77", false)),
        }
    }
}

fn setup(sale: Vec<Mode>, reversal: Mode) -> (Net<FakeLink>, FakeLink, Arc<FixedClock>, TermState) {
    let fake = FakeLink(Rc::new(RefCell::new(Fake {
        sale,
        settle: Vec::new(),
        reversal,
        seen: Vec::new(),
        state_file: None,
        armed_on_disk: Vec::new(),
    })));
    let clock = Arc::new(FixedClock::new(ok("2026-11-25T06:00:00Z".parse())));
    let proto = ok(Terminal::new("12345678", "898310048990001", TMK));
    let net = Net::new(proto, fake.clone(), None, clock.clone());
    let state = TermState::new("12345678", "898310048990001", "Demo");
    (net, fake, clock, state)
}

fn sale() -> TxnRequest {
    TxnRequest {
        kind: Kind::Sale,
        card: Card::new("6222021234567890128", "3012"),
        amount: 1_000,
        original: None,
        training: false,
        confirm_duplicate: false,
    }
}

fn pending() -> PendingReversal {
    PendingReversal {
        type_code: 22,
        stan: 7,
        batch: 1,
        amount_fen: 1_000,
        entry: "05".into(),
        original: None,
        original_rrn: None,
        reason: "98".into(),
        training: false,
        attempts: 0,
        next_at: None,
    }
}

#[test]
fn reversal_backs_off_then_escalates_and_blocks_sales_throughout() {
    // Goal: a reversal that is not answered is retried after 1, 2, 4, 8, 16 s; after the
    // 6th failure it is escalated (no more automatic tries); no sale is ever sent meanwhile.
    let (mut net, fake, clock, mut state) = setup(vec![Mode::Approve], Mode::Silent);
    state.pending_reversal = Some(pending());
    let t0: jiff::Timestamp = clock.now();
    let mut at = t0;
    for (attempt, wait_s) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32)] {
        let (_, r) = net.financial(&mut state, &sale());
        let escalated = attempt >= 6;
        assert!(
            matches!(r, TxnResult::NotSent(NotSent::ReversalPending { escalated: e }) if e == escalated),
            "attempt {attempt}: {r:?}"
        );
        let p = state
            .pending_reversal
            .clone()
            .unwrap_or_else(|| panic!("kept"));
        assert_eq!(p.attempts, attempt);
        let next: jiff::Timestamp = ok(p.next_at.unwrap_or_default().parse());
        assert_eq!(
            next,
            ok(at.checked_add(jiff::SignedDuration::from_secs(wait_s)))
        );
        // Before the back-off runs out nothing goes out.
        let sent = fake.0.borrow().seen.len();
        let (_, r) = net.financial(&mut state, &sale());
        assert!(matches!(
            r,
            TxnResult::NotSent(NotSent::ReversalPending { .. })
        ));
        assert_eq!(fake.0.borrow().seen.len(), sent, "not due: nothing sent");
        at = next;
        clock.set(at);
    }
    let sent = fake.0.borrow().seen.len();
    clock.set(ok(at.checked_add(jiff::SignedDuration::from_secs(3_600))));
    let (_, r) = net.financial(&mut state, &sale());
    assert!(matches!(
        r,
        TxnResult::NotSent(NotSent::ReversalPending { escalated: true })
    ));
    assert_eq!(
        fake.0.borrow().seen.len(),
        sent,
        "escalated: no automatic retry"
    );
    assert!(
        !fake.0.borrow().seen.contains(&200),
        "no sale while the reversal is pending"
    );

    // The cashier's explicit retry (管理-4) still sends it; answered, it is gone.
    fake.0.borrow_mut().reversal = Mode::Approve;
    assert!(matches!(net.flush_reversal(&mut state, true), Ok(true)));
    assert!(state.pending_reversal.is_none());
    let (_, r) = net.financial(&mut state, &sale());
    assert!(
        matches!(r, TxnResult::Answered(ref a) if a.code == "00"),
        "{r:?}"
    );
}

#[test]
fn answer_77_signs_in_again_and_resends_once() {
    // Goal: 77 (the host lost our session) is handled without the cashier: sign in, send
    // again with a new STAN, and nothing is left to reverse.
    let (mut net, fake, _, mut state) =
        setup(vec![Mode::SignInAgain, Mode::Approve], Mode::Approve);
    let (stan, r) = net.financial(&mut state, &sale());
    assert!(
        matches!(r, TxnResult::Answered(ref a) if a.code == "00"),
        "{r:?}"
    );
    assert_eq!(fake.0.borrow().seen, [800, 200, 800, 200]);
    assert_eq!(stan, state.stan);
    assert!(state.pending_reversal.is_none());
}

#[test]
fn the_reversal_is_on_disk_before_the_request_leaves() {
    // Goal: a crash between sending and hearing back leaves a reversal to send at the next
    // start: the state file holds it when the host receives the sale; a lost answer keeps
    // it, with reason 98.
    let dir = ok(tempfile::tempdir());
    let path = TermState::path_in(dir.path());
    let (_, fake, clock, mut state) = setup(vec![Mode::Silent], Mode::Silent);
    fake.0.borrow_mut().state_file = Some(path.clone());
    let proto = ok(Terminal::new("12345678", "898310048990001", TMK));
    let mut net = Net::new(proto, fake.clone(), Some(path.clone()), clock);
    let (stan, r) = net.financial(&mut state, &sale());
    assert!(matches!(r, TxnResult::NoAnswer { reversed: false, ref reason } if reason == "98"));
    assert_eq!(fake.0.borrow().armed_on_disk, [true]);
    let on_disk = ok(TermState::load(&path)).and_then(|s| s.pending_reversal);
    assert_eq!(
        on_disk.map(|p| (p.stan, p.reason)),
        Some((stan, "98".to_owned()))
    );
}

#[test]
fn settlement_answered_77_signs_in_again_then_settles_and_signs_out() {
    // Goal: a settlement refused with 77 (host restarted) is sent again after a new
    // sign-in; then the terminal signs out and moves to the next batch.
    let (mut net, fake, _, mut state) = setup(vec![Mode::Approve], Mode::Approve);
    // Popped from the end: first 77, then approved.
    fake.0.borrow_mut().settle = vec![Mode::Approve, Mode::SignInAgain];
    let r = ok(net.settle(&mut state, "01").map_err(|e| format!("{e:?}")));
    assert_eq!(r.code, "00");
    assert!(r.signed_out);
    assert_eq!(fake.0.borrow().seen, [800, 500, 800, 500, 820]);
    assert_eq!(state.batch, 2);
}

#[test]
fn a_refund_without_answer_is_unknown_and_leaves_no_reversal() {
    // Goal: refunds are not reversible (spec): no answer means unknown, nothing is queued,
    // and the next sale is not blocked.
    let (mut net, fake, _, mut state) = setup(vec![Mode::Silent, Mode::Approve], Mode::Approve);
    let refund = TxnRequest {
        kind: Kind::Refund,
        original: Some(suanpan_terminal::proto::Original {
            rrn: Some("000000000001".into()),
            auth_code: None,
            batch: 1,
            stan: 1,
        }),
        ..sale()
    };
    let (_, r) = net.financial(&mut state, &refund);
    // The fake answers 0220 like 0200 (mode list), so the refund meets `Silent`.
    assert!(
        matches!(
            r,
            TxnResult::NoAnswer {
                reversed: false,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(state.pending_reversal.is_none());
    assert!(!fake.0.borrow().seen.contains(&400), "no reversal sent");
    let (_, r) = net.financial(&mut state, &sale());
    assert!(
        matches!(r, TxnResult::Answered(ref a) if a.code == "00"),
        "{r:?}"
    );
}
