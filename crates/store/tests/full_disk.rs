//! A full disk (or a database at its size limit) fails the write with a clear error and loses
//! nothing: what was committed stays, what failed leaves no trace, and the store works again
//! once there is room.

use suanpan_core::{Amount, Lang, OperatorNo, Pan, PaymentMethod, TerminalId, TxnKind};
use suanpan_store::command::{Origin, Purchase};
use suanpan_store::{
    AskExt, Fingerprinter, Instrument, OpenOptions, PurchaseReply, SqliteStore, Store, StoreError,
    TxnFilter,
};

fn sale(fp: &Fingerprinter) -> Purchase {
    let pan = Pan::parse(suanpan_issuer::demo::CARDS[0].pan).expect("demo pan");
    Purchase {
        origin: Origin {
            terminal_id: TerminalId::parse("12345678").expect("tid"),
            operator: OperatorNo::parse("01").expect("op"),
            supervisor: None,
            voucher: None,
            batch: None,
            training: false,
            idempotency: None,
            terminal_info: None,
        },
        kind: TxnKind::Sale,
        amount: Amount::from_fen(100),
        instrument: Instrument::Card {
            masked_pan: pan.masked(),
            fingerprint: fp.of(&pan),
            expiry: None,
        },
        method: PaymentMethod::Chip,
        pin: None,
        linked_id: None,
        confirm_duplicate: false,
    }
}

fn all(store: &SqliteStore) -> usize {
    let f = TxnFilter {
        include_hidden: true,
        ..TxnFilter::default()
    };
    store.transactions(&f).expect("list").len()
}

#[test]
fn a_full_database_refuses_the_write_and_loses_nothing() {
    // Goal: sales past the size limit fail with DiskFull and its message; every sale answered
    // before is still there, the failed ones are not, and the books still balance.
    let dir = tempfile::tempdir().expect("tempdir");
    let fp = Fingerprinter::new([3; 32]);
    {
        let store =
            SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create");
        store.seed_demo(&fp).expect("seed");
    }
    let pages: u64 = rusqlite::Connection::open(dir.path().join("suanpan.db"))
        .and_then(|c| c.query_row("PRAGMA page_count", [], |r| r.get(0)))
        .expect("page count");
    // The same sale again and again until the disk is full: the duplicate-charge rule
    // (core::risk, tested on its own) is not what this test is about.
    let rules_off = || OpenOptions {
        policy: suanpan_core::Policy {
            risk: suanpan_core::risk::RiskParams::off(),
            ..suanpan_core::Policy::default()
        },
        ..suanpan_service::open_options()
    };
    let limited = OpenOptions {
        db_pages_max: Some(pages + 4),
        ..rules_off()
    };
    let store = SqliteStore::open(dir.path(), limited).expect("open limited");
    let mut approved = 0usize;
    let error = loop {
        match store.ask(sale(&fp)) {
            Ok(PurchaseReply::Booked(t)) => {
                assert!(t.response_code.is_approved());
                approved += 1;
                assert!(approved < 100_000, "the size limit never took effect");
            }
            Ok(other) => panic!("unexpected reply {other:?}"),
            Err(e) => break e,
        }
    };
    assert!(matches!(error, StoreError::DiskFull), "got {error:?}");
    assert_eq!(error.message(Lang::Zh), "磁盘已满，本次操作未保存");
    assert!(!error.remedy(Lang::En).is_empty());
    assert!(approved > 0, "some sales fit before the limit");
    assert_eq!(
        all(&store),
        approved,
        "exactly the answered sales are stored"
    );
    assert!(store.conservation().expect("conservation").holds());
    assert_eq!(store.verify_audit().expect("audit").first_broken, None);
    drop(store);

    // With room again, the store carries on where it stopped.
    let store = SqliteStore::open(dir.path(), rules_off()).expect("reopen");
    assert_eq!(all(&store), approved);
    assert!(matches!(store.ask(sale(&fp)), Ok(PurchaseReply::Booked(_))));
    assert_eq!(all(&store), approved + 1);
    assert!(store.conservation().expect("conservation").holds());
}
