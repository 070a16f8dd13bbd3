//! Each test opens with its goal.

use super::*;
use std::collections::HashMap;

#[derive(Default)]
struct MemBook(HashMap<String, Account>);

impl AccountBook for MemBook {
    fn load_account(&mut self, id: &str) -> Result<Option<Account>, IssuerError> {
        Ok(self.0.get(id).cloned())
    }
    fn save_account(&mut self, account: &Account) -> Result<(), IssuerError> {
        self.0.insert(account.id.clone(), account.clone());
        Ok(())
    }
}

fn fp(pan: &Pan) -> String {
    format!("fp-{}", pan.expose_digits())
}

fn demo_book() -> MemBook {
    MemBook(
        demo::accounts(&fp)
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect(),
    )
}

use suanpan_core::Pan;

fn now() -> Timestamp {
    "2026-11-25T02:00:00Z".parse().unwrap()
}

fn ask(book: &mut MemBook, pan: &str, op: IssuerOp, fen: i64, pin: Option<&str>) -> ResponseCode {
    let id = fp(&Pan::parse(pan).unwrap());
    let pin = pin.map(EnteredPin::clear);
    let req = IssuerRequest {
        account_id: &id,
        op,
        amount: Amount::from_fen(fen),
        pin: pin.as_ref(),
        expiry: None,
        now: now(),
    };
    Simulator
        .authorize(book, &req)
        .unwrap()
        .expect("known account")
        .code
}

fn card(outcome: &str) -> &'static str {
    demo::CARDS
        .iter()
        .find(|c| c.outcome == outcome)
        .unwrap()
        .pan
}

#[test]
fn every_demo_card_produces_its_outcome() {
    // Goal: the seeded cards give cashiers each decline code of the spec.
    let mut b = demo_book();
    assert_eq!(
        ask(&mut b, card("approve"), IssuerOp::Debit, 100, None),
        ResponseCode::Approved
    );
    assert_eq!(
        ask(
            &mut b,
            card("approve_with_pin"),
            IssuerOp::Debit,
            100,
            Some("123456")
        ),
        ResponseCode::Approved
    );
    assert_eq!(
        ask(
            &mut b,
            card("insufficient_funds"),
            IssuerOp::Debit,
            100_000,
            None
        ),
        ResponseCode::InsufficientFunds
    );
    assert_eq!(
        ask(&mut b, card("expired"), IssuerOp::Debit, 100, None),
        ResponseCode::ExpiredCard
    );
    assert_eq!(
        ask(&mut b, card("lost"), IssuerOp::Debit, 100, None),
        ResponseCode::LostCard
    );
    assert_eq!(
        ask(&mut b, card("stolen"), IssuerOp::Debit, 100, None),
        ResponseCode::StolenCard
    );
}

#[test]
fn wrong_pins_give_55_then_75() {
    // Goal: a PIN card refuses a wrong or missing PIN, and locks after three wrong ones.
    let mut b = demo_book();
    let pan = card("approve_with_pin");
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Debit, 100, None),
        ResponseCode::IncorrectPin
    );
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Debit, 100, Some("000000")),
        ResponseCode::IncorrectPin
    );
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Debit, 100, Some("111111")),
        ResponseCode::IncorrectPin
    );
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Debit, 100, Some("123456")),
        ResponseCode::PinTriesExceeded
    );
}

#[test]
fn holds_reduce_what_is_available_and_captures_take_money() {
    // Goal: a pre-auth hold blocks funds; a completion releases the hold and takes the amount.
    let mut b = demo_book();
    let pan = card("insufficient_funds"); // 1,000 fen
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Hold, 800, None),
        ResponseCode::Approved
    );
    assert_eq!(
        ask(&mut b, pan, IssuerOp::Debit, 300, None),
        ResponseCode::InsufficientFunds
    );
    let capture = IssuerOp::Capture {
        held: Amount::from_fen(800),
    };
    assert_eq!(ask(&mut b, pan, capture, 900, None), ResponseCode::Approved);
    let id = fp(&Pan::parse(pan).unwrap());
    assert_eq!(b.0[&id].balance_fen, 100);
    assert_eq!(b.0[&id].held_fen, 0);
}

#[test]
fn unknown_account_is_none() {
    // Goal: an unknown card is reported as such, not as a decline.
    let mut b = demo_book();
    let req = IssuerRequest {
        account_id: "nope",
        op: IssuerOp::Debit,
        amount: Amount::from_fen(1),
        pin: None,
        expiry: None,
        now: now(),
    };
    assert!(Simulator.authorize(&mut b, &req).unwrap().is_none());
}

#[test]
fn demo_pans_are_valid() {
    // Goal: every demo PAN passes Luhn, so `txn sale --card` accepts it.
    for c in demo::CARDS {
        assert!(Pan::parse(c.pan).is_ok(), "{}", c.pan);
    }
}

proptest::proptest! {
    #[test]
    fn money_is_conserved(ops in proptest::collection::vec((0u8..4, 1i64..50_000), 1..60)) {
        // Goal: Σ balances + Σ net approved = Σ initial balances, whatever happens.
        let mut b = demo_book();
        let initial: i64 = b.0.values().map(|a| a.balance_fen).sum();
        let pan = card("approve");
        let mut net = 0i64;
        for (op, fen) in ops {
            let op = match op { 0 => IssuerOp::Debit, 1 => IssuerOp::Credit, 2 => IssuerOp::Hold, _ => IssuerOp::Balance };
            if ask(&mut b, pan, op, fen, None) == ResponseCode::Approved {
                match op { IssuerOp::Debit => net += fen, IssuerOp::Credit => net -= fen, _ => {} }
            }
        }
        let now_total: i64 = b.0.values().map(|a| a.balance_fen).sum();
        proptest::prop_assert_eq!(now_total + net, initial);
    }
}

#[test]
fn verification_value_checks_like_the_clear_pin() {
    // Goal: a PIN turned into its verification value by the key provider (the PKCS#11 path)
    // is accepted or refused exactly as the clear PIN would be, and never prints.
    let mut b = demo_book();
    let pan = card("approve_with_pin");
    let id = fp(&Pan::parse(pan).unwrap());
    let ask_with = |b: &mut MemBook, pin: EnteredPin| {
        let req = IssuerRequest {
            account_id: &id,
            op: IssuerOp::Debit,
            amount: Amount::from_fen(100),
            pin: Some(&pin),
            expiry: None,
            now: now(),
        };
        Simulator.authorize(b, &req).unwrap().unwrap().code
    };
    let wrong = EnteredPin::Verification(zeroize::Zeroizing::new(pin_hash(&id, "654321")));
    assert_eq!(ask_with(&mut b, wrong), ResponseCode::IncorrectPin);
    let right = EnteredPin::Verification(zeroize::Zeroizing::new(pin_hash(&id, "123456")));
    assert_eq!(format!("{right:?}"), "EnteredPin(..)");
    assert_eq!(ask_with(&mut b, right), ResponseCode::Approved);
}
