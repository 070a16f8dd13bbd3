//! The switch's answers, message by message, on its own ledger (no network): the rules of
//! the spec page's "Messages" and "Matching, time-outs, store-and-forward".

use jiff::Timestamp;
use suanpan_iso8583::switch::{
    MTI_0100, MTI_0200, MTI_0220, MTI_0420, MTI_0421, MTI_0800, OriginalData,
};
use suanpan_iso8583::{IsoMsg, Mti, SWITCH};
use suanpan_switch::ledger;
use suanpan_switch::process::{Processor, Session, settlement_date};

const APPROVE: &str = "6222021234567890128";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct Fixture {
    _dir: tempfile::TempDir,
    p: Processor,
    s: Session,
    stan: u64,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = ok(tempfile::tempdir());
        let conn = ok(ledger::open(&dir.path().join(ledger::LEDGER_FILE)));
        Fixture {
            _dir: dir,
            p: Processor::new(conn, None),
            s: Session::default(),
            stan: 0,
        }
    }

    fn send(&mut self, m: &IsoMsg) -> IsoMsg {
        ok(self.p.handle(m, &mut self.s, Timestamp::now())).unwrap_or_else(|| panic!("no answer"))
    }

    fn sign_on(&mut self) {
        let a = self.send(&network("001", 1));
        assert_eq!(a.text(39), Some("00"));
    }

    fn msg(&mut self, mti: Mti, pc: &str, amount: u64) -> IsoMsg {
        self.stan += 1;
        let mut m = IsoMsg::new(&SWITCH, mti);
        for (n, v) in [
            (2, APPROVE),
            (3, pc),
            (7, "1206013015"),
            (14, "3012"),
            (32, "12345678"),
            (37, "000000000001"),
            (41, "TERM0001"),
            (42, "100000000000001"),
            (49, "156"),
        ] {
            ok(m.set_str(n, v));
        }
        ok(m.set_u64(4, amount));
        ok(m.set_u64(11, self.stan));
        m
    }

    fn balance(&self) -> (i64, i64) {
        ok(ledger::balance_of(self.p.conn(), APPROVE)).unwrap_or((-1, -1))
    }
}

fn network(code: &str, stan: u64) -> IsoMsg {
    let mut m = IsoMsg::new(&SWITCH, MTI_0800);
    ok(m.set_str(7, "1206013015"));
    ok(m.set_u64(11, stan));
    ok(m.set_str(70, code));
    m
}

fn advice_of(mti: Mti, original: &IsoMsg, stan: u64, reason: &str) -> IsoMsg {
    let mut r = IsoMsg::new(&SWITCH, mti);
    for n in [2, 3, 4, 32, 37, 41, 42, 49] {
        ok(r.copy_from(original, n));
    }
    ok(r.set_str(7, "1206013020"));
    ok(r.set_u64(11, stan));
    ok(r.set_str(39, reason));
    ok(r.set_str(90, &OriginalData::of(original).to_field()));
    r
}

// Goal: a financial message before sign-on is answered 91 and books nothing; after the
// sign-on the same message is approved; echo and key change are 00; an unknown 70 is 12.
#[test]
fn sign_on_first() {
    let mut f = Fixture::new();
    let before = f.balance();
    let m = f.msg(MTI_0200, "000000", 100);
    assert_eq!(f.send(&m).text(39), Some("91"));
    assert_eq!(f.balance(), before);
    f.sign_on();
    assert_eq!(f.send(&m).text(39), Some("00"));
    assert_eq!(f.send(&network("301", 2)).text(39), Some("00"));
    assert_eq!(f.send(&network("101", 3)).text(39), Some("00"));
    assert_eq!(f.send(&network("999", 4)).text(39), Some("12"));
    let answer = f.send(&network("002", 5));
    assert_eq!(answer.text(70), Some("002"));
    let after_sign_off = f.msg(MTI_0200, "000000", 100);
    assert_eq!(f.send(&after_sign_off).text(39), Some("91"));
}

// Goal: a repeated 0200 (same 11, 7, 41) gets the stored answer and is charged once; a
// repeated 0420 and its 0421 get the same 0430 and undo once.
#[test]
fn duplicates_get_the_stored_answer() {
    let mut f = Fixture::new();
    f.sign_on();
    let (start, _) = f.balance();
    let m = f.msg(MTI_0200, "000000", 250);
    let first = f.send(&m);
    let again = f.send(&m);
    assert_eq!(first, again);
    assert_eq!(f.balance().0, start - 250);
    let r = advice_of(MTI_0420, &m, 900, "68");
    let ack = f.send(&r);
    assert_eq!(ack.mti().value(), 430);
    assert_eq!(ack.text(39), Some("00"));
    let mut repeat = r.clone();
    repeat.set_mti(MTI_0421);
    assert_eq!(f.send(&repeat), ack);
    assert_eq!(f.balance().0, start);
}

// Goal: a reversal of an original never seen is acknowledged 00 and remembered: the
// original arriving later is answered 94 and charges nothing.
#[test]
fn reversal_first_then_original_gets_94() {
    let mut f = Fixture::new();
    f.sign_on();
    let (start, _) = f.balance();
    let original = f.msg(MTI_0200, "000000", 400);
    let r = advice_of(MTI_0420, &original, 901, "68");
    assert_eq!(f.send(&r).text(39), Some("00"));
    assert_eq!(f.send(&original).text(39), Some("94"));
    assert_eq!(f.balance().0, start);
}

// Goal: a completion may capture up to 115% of its hold (13 above), names its
// pre-authorization in 90 (25 when it names none), and releases the hold.
#[test]
fn completion_limits() {
    let mut f = Fixture::new();
    f.sign_on();
    let (start, _) = f.balance();
    let pre = f.msg(MTI_0100, "030000", 10_000);
    assert_eq!(f.send(&pre).text(39), Some("00"));
    assert_eq!(f.balance(), (start, 10_000));
    let mut over = f.msg(MTI_0220, "000000", 11_501);
    ok(over.set_str(90, &OriginalData::of(&pre).to_field()));
    ok(over.set_str(38, "000001"));
    assert_eq!(f.send(&over).text(39), Some("13"));
    let mut nowhere = f.msg(MTI_0220, "000000", 100);
    ok(nowhere.set_str(90, "010099999912060130150001234567800000000000"));
    assert_eq!(f.send(&nowhere).text(39), Some("25"));
    let mut at = f.msg(MTI_0220, "000000", 11_500);
    ok(at.set_str(90, &OriginalData::of(&pre).to_field()));
    let answer = f.send(&at);
    assert_eq!(answer.text(39), Some("00"));
    assert_eq!(answer.mti().value(), 230);
    assert_eq!(f.balance(), (start - 11_500, 0));
    // Reversing the completion gives the money back and puts the hold back.
    assert_eq!(
        f.send(&advice_of(MTI_0420, &at, 902, "68")).text(39),
        Some("00")
    );
    assert_eq!(f.balance(), (start, 10_000));
}

// Goal: a refund (200000) credits, a balance inquiry answers 54, a void (0420, 39 = 17)
// of a purchase gives the money back.
#[test]
fn refund_inquiry_and_void() {
    let mut f = Fixture::new();
    f.sign_on();
    let (start, _) = f.balance();
    let sale = f.msg(MTI_0200, "000000", 900);
    assert_eq!(f.send(&sale).text(39), Some("00"));
    let refund = f.msg(MTI_0200, "200000", 300);
    assert_eq!(f.send(&refund).text(39), Some("00"));
    assert_eq!(f.balance().0, start - 600);
    let inquiry = f.msg(MTI_0100, "310000", 0);
    let a = f.send(&inquiry);
    assert_eq!(
        a.text(54),
        Some(format!("1002156C{:012}", start - 600).as_str())
    );
    assert_eq!(
        f.send(&advice_of(MTI_0420, &sale, 903, "17")).text(39),
        Some("00")
    );
    assert_eq!(f.balance().0, start + 300);
    let t = ok(ledger::totals(f.p.conn()));
    assert_eq!(t.net_debited_fen, -300);
}

// Goal: field 7 (no year) is dated in the year of now, or the previous year across New Year.
#[test]
fn settlement_dates() {
    let new_year: Timestamp = ok("2027-01-01T00:00:05Z".parse());
    assert_eq!(settlement_date("1231235959", new_year), "2026-12-31");
    assert_eq!(settlement_date("0101000001", new_year), "2027-01-01");
}

// Goal: two terminals of one acquirer send the same STAN in the same second (STANs are per
// sender); a 0420 names its original by field 90 *and* its field 41, so it reverses that
// terminal's sale and leaves the other's charged (found by the host's fault test, issue 15).
#[test]
fn equal_stans_of_two_terminals_reverse_the_right_sale() {
    let mut f = Fixture::new();
    f.sign_on();
    let (start, _) = f.balance();
    let a = f.msg(MTI_0200, "000000", 100);
    let mut b = a.clone();
    ok(b.set_str(41, "TERM0002"));
    ok(b.set_u64(4, 30));
    assert_eq!(f.send(&a).text(39), Some("00"));
    assert_eq!(f.send(&b).text(39), Some("00"));
    assert_eq!(f.balance().0, start - 130);
    // Terminal 2's sale is reversed (the earlier row, terminal 1's, must not be).
    assert_eq!(
        f.send(&advice_of(MTI_0420, &b, 902, "68")).text(39),
        Some("00")
    );
    assert_eq!(f.balance().0, start - 100, "terminal 1's sale stands");
}

// Goal (issue 15, s18-speed): a group booked in one ledger transaction answers each message
// as booking them one by one in the same order does: a sale, its duplicate (the stored
// answer, charged once), its reversal and a second sale, byte for byte and to the fen.
#[test]
fn a_group_books_as_its_messages_one_by_one() {
    let mut alone = Fixture::new();
    let mut grouped = Fixture::new();
    alone.sign_on();
    grouped.sign_on();
    let sale = alone.msg(MTI_0200, "000000", 250);
    let reversal = advice_of(MTI_0420, &sale, 900, "68");
    let second = alone.msg(MTI_0200, "000000", 400);
    let msgs = [&sale, &sale, &reversal, &second];
    let one_by_one: Vec<IsoMsg> = msgs.iter().map(|m| alone.send(m)).collect();
    let now = Timestamp::now();
    let group: Vec<(&IsoMsg, Timestamp)> = msgs.iter().map(|m| (*m, now)).collect();
    let together: Vec<IsoMsg> = grouped.p.book_group(&group).into_iter().map(ok).collect();
    assert_eq!(together, one_by_one);
    assert_eq!(
        one_by_one[0], one_by_one[1],
        "the duplicate got the stored answer"
    );
    assert_eq!(grouped.balance(), alone.balance());
}

// Goal: a load card's account is inserted by its first purchase and remembered only once
// that purchase committed; its next purchases skip the insert and book the same way.
#[test]
fn a_load_card_is_remembered_after_its_commit() {
    let mut f = Fixture::new();
    f.sign_on();
    let pan = suanpan_issuer::demo::load_card_pan(7);
    let purchase = |f: &mut Fixture| {
        let mut m = f.msg(MTI_0200, "000000", 100);
        ok(m.set_str(2, &pan));
        f.send(&m)
    };
    assert!(!f.p.load_card_known(&pan));
    let first = purchase(&mut f);
    assert_eq!(first.text(39), Some("00"));
    assert!(f.p.load_card_known(&pan), "known after its commit");
    let second = purchase(&mut f);
    assert_eq!(second.text(39), Some("00"));
    let (balance, _) = ok(ledger::balance_of(f.p.conn(), &pan)).unwrap_or((-1, -1));
    let (opening, _) = ok(ledger::balance_of(
        f.p.conn(),
        &suanpan_issuer::demo::load_card_pan(8),
    ))
    .unwrap_or((-1, -1));
    assert_eq!(
        opening, -1,
        "another load card has no account until it is used"
    );
    assert!(balance >= 0, "the load card's account exists");
}
