//! Issue 14 on the wire: a merchant the acquirer suspended has its terminals refused with
//! 03 (invalid merchant) and a clear 63 text, books nothing, and sells again once activated.

use std::sync::Arc;
use suanpan_host::ServerConfig;
use suanpan_host::client::{Card, Connection, Kind, Terminal};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::{Fingerprinter, SqliteStore};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Goal: suspend → 03 with 商户未开通或已暂停交易, nothing booked; activate → 00 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_merchants_terminal_is_refused_with_03() {
    let dir = ok(tempfile::tempdir());
    let store = ok(SqliteStore::create(
        dir.path(),
        suanpan_service::open_options(),
    ));
    let fp = Fingerprinter::new(Fingerprinter::random_key());
    ok(store.seed_demo(&fp));
    let store = Arc::new(store);
    let cfg = ServerConfig {
        iso8583_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        scheduler_interval_ms: 3_600_000,
        ..ServerConfig::default()
    };
    let running = ok(suanpan_host::start(store.clone(), fp, cfg).await);
    let mut t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = ok(Connection::connect(running.iso8583_addr).await);
    let frame = ok(t.sign_in());
    assert_eq!(ok(t.accept_sign_in(&ok(c.call(&frame).await))).code, "00");
    let card = Card::new("6222021234567890128", "3012");
    let (_, frame) = ok(t.request(Kind::Sale, &card, 1_000, None));
    assert_eq!(ok(t.parse(&ok(c.call(&frame).await))).code, "00");
    let count = || -> i64 {
        ok(store.read(|c| c.query_row("SELECT COUNT(*) FROM txns", [], |r| r.get(0))))
    };
    let booked = count();

    let merchant = ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT));
    let done = ok(suanpan_store::admin::set_merchant_status(
        &*store,
        "admin",
        &merchant,
        "suspended",
        "风险核查",
    ));
    assert_eq!(done, Some(true));
    let (_, frame) = ok(t.request(Kind::Sale, &card, 1_000, None));
    let r = ok(t.parse(&ok(c.call(&frame).await)));
    assert_eq!(r.code, "03", "{r:?}");
    assert!(r.text.contains("暂停"), "a clear 63 text: {:?}", r.text);
    assert_eq!(count(), booked, "nothing booked");

    let done = ok(suanpan_store::admin::set_merchant_status(
        &*store,
        "admin",
        &merchant,
        "active",
        "核查完毕",
    ));
    assert_eq!(done, Some(true));
    let (_, frame) = ok(t.request(Kind::Sale, &card, 1_001, None)); // not the same amount: no possible duplicate (issue 13)
    assert_eq!(ok(t.parse(&ok(c.call(&frame).await))).code, "00");
}
