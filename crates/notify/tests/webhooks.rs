//! Outgoing webhooks end to end (issue 13): the real use cases write the outbox, the worker
//! (`run_due`) posts to a tiny HTTP receiver on 127.0.0.1, under the store's test clock.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use common::{Harness, approved, rrn};
use jiff::{SignedDuration, Timestamp};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use suanpan_core::notify::{EventKind, RETRY_DELAYS_SECONDS};
use suanpan_notify::{NotifyConfig, run_due, verify};
use suanpan_store::Reply;
use suanpan_store::notify::{self as outbox, NewEndpoint};

/// One request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Got {
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// A receiver on 127.0.0.1 that answers each request with the next status of `script`
/// (the last one repeats) and records what it got.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/suanpan", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.to_vec()));
        let (g, s) = (got.clone(), script);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with("POST /hooks/suanpan HTTP/1.1"), "{line}");
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
                }
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let status = {
                    let mut s = s.lock().unwrap();
                    if s.len() > 1 { s.remove(0) } else { s[0] }
                };
                g.lock().unwrap().push(Got {
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                let _ = write!(conn, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn allow_private() -> NotifyConfig {
    NotifyConfig {
        allow_private: true,
        timeout_ms: 5_000,
        ..NotifyConfig::default()
    }
}

fn endpoint(h: &Harness, url: &str, events: &[EventKind]) -> (i64, String) {
    let merchant = common::merchant();
    let new = NewEndpoint {
        url,
        events,
        description: "test receiver",
    };
    let (row, secret) =
        outbox::create_endpoint(&*h.store, Some(&merchant), &new, "web:admin").unwrap();
    (row.id, secret)
}

fn advance_seconds(h: &Harness, s: i64) {
    let next = h.now().checked_add(SignedDuration::from_secs(s)).unwrap();
    h.clock.set(next);
}

fn assert_signed(g: &Got, secret: &str, now: Timestamp) {
    let ts: i64 = g.header("x-suanpan-timestamp").parse().unwrap();
    let sig = g.header("x-suanpan-signature");
    assert!(
        verify(secret.as_bytes(), ts, &g.body, sig, now.as_second(), 300),
        "signature of {} does not verify",
        g.body
    );
    let body: serde_json::Value = serde_json::from_str(&g.body).unwrap();
    assert_eq!(body["id"], g.header("x-suanpan-event-id"));
    assert_eq!(body["type"], g.header("x-suanpan-event"));
}

#[test]
fn each_event_arrives_once_per_delivery_with_a_valid_signature() {
    // Goal: a void, a refund and a settlement each reach a subscribed receiver exactly once,
    // signed with the endpoint's secret; a refused void and an unsubscribed endpoint get
    // nothing; a second pass of the worker sends nothing again.
    let h = Harness::new();
    let r = Receiver::start(&[204]);
    let (_, secret) = endpoint(
        &h,
        &r.url,
        &[
            EventKind::VoidExecuted,
            EventKind::RefundExecuted,
            EventKind::BatchSettled,
        ],
    );
    let only_cases = Receiver::start(&[204]);
    endpoint(&h, &only_cases.url, &[EventKind::CaseChanged]);

    let sale = approved(h.sale(1_000, "approve"));
    let void = approved(h.void(sale.voucher_no));
    let refused = h.void(sale.voucher_no); // Voided already: refused, no event.
    assert!(matches!(refused, Reply::Refused(_)), "{refused:?}");
    let other = approved(h.sale(2_500, "approve"));
    let refund = approved(h.refund(&rrn(&other), 1_000));
    h.settle(None);

    assert_eq!(run_due(&*h.store, &allow_private()).unwrap(), 3);
    assert_eq!(
        run_due(&*h.store, &allow_private()).unwrap(),
        0,
        "nothing is due twice"
    );
    let got = r.got();
    let kinds: Vec<&str> = got.iter().map(|g| g.header("x-suanpan-event")).collect();
    assert_eq!(kinds, ["void.executed", "refund.executed", "batch.settled"]);
    for g in &got {
        assert_signed(g, &secret, h.now());
    }
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|g| g.header("x-suanpan-event-id")).collect();
    assert_eq!(ids.len(), 3, "every event has its own id");
    let v: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(v["data"]["txn_id"], void.id.0);
    assert_eq!(v["data"]["amount_fen"], 1_000);
    assert_eq!(v["merchant_id"], common::merchant().as_str());
    let f: serde_json::Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(f["data"]["txn_id"], refund.id.0);
    let b: serde_json::Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(b["data"]["reconciliation"], "balanced");
    assert_eq!(b["data"]["debit_fen"], 2_500);
    assert!(
        only_cases.got().is_empty(),
        "not subscribed to these events"
    );
}

#[test]
fn a_failing_receiver_gets_the_retries_at_the_documented_back_off_then_a_replay() {
    // Goal: a receiver that answers 500 gets the first attempt and five retries at 1 min,
    // 5 min, 30 min, 2 h and 6 h (not a second earlier), then the delivery is failed and
    // nothing more is sent; a replay sends the same event again and it is delivered.
    let h = Harness::new();
    let r = Receiver::start(&[500, 500, 500, 500, 500, 500, 204]);
    let (endpoint_id, secret) = endpoint(&h, &r.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));
    let cfg = allow_private();
    let t0 = h.now();
    assert_eq!(run_due(&*h.store, &cfg).unwrap(), 1);
    for wait in RETRY_DELAYS_SECONDS {
        advance_seconds(&h, wait - 1);
        assert_eq!(
            run_due(&*h.store, &cfg).unwrap(),
            0,
            "retry before its time"
        );
        advance_seconds(&h, 1);
        assert_eq!(run_due(&*h.store, &cfg).unwrap(), 1, "retry after {wait} s");
    }
    advance_seconds(&h, 7 * 24 * 3600);
    assert_eq!(
        run_due(&*h.store, &cfg).unwrap(),
        0,
        "failed: no more retries"
    );
    assert_eq!(r.got().len(), 6);

    let merchant = common::merchant();
    let list = outbox::list_deliveries(&*h.store, Some(&merchant), endpoint_id, 50).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].status.as_str(), list[0].attempts), ("failed", 6));
    assert_eq!(list[0].last_code, Some(500));
    let (_, attempts) = outbox::delivery(&*h.store, Some(&merchant), list[0].id)
        .unwrap()
        .unwrap();
    let offsets: Vec<i64> = attempts
        .iter()
        .map(|a| (a.at - t0.as_microsecond()) / 1_000_000)
        .collect();
    assert_eq!(offsets, [0, 60, 360, 2_160, 9_360, 30_960]);
    assert!(attempts.iter().all(|a| a.status_code == Some(500)));
    assert!(attempts[0].error.contains("500"), "{}", attempts[0].error);

    // Another merchant cannot see or replay it.
    let stranger = suanpan_core::MerchantId::parse("999999999999999").unwrap();
    assert!(!outbox::replay(&*h.store, Some(&stranger), list[0].id, "web:x").unwrap());
    assert!(outbox::replay(&*h.store, Some(&merchant), list[0].id, "web:admin").unwrap());
    assert_eq!(run_due(&*h.store, &cfg).unwrap(), 1);
    let got = r.got();
    assert_eq!(got.len(), 7);
    assert_eq!(
        got[6].header("x-suanpan-event-id"),
        got[0].header("x-suanpan-event-id"),
        "a replay is the same event"
    );
    assert_signed(&got[6], &secret, h.now());
    let (d, attempts) = outbox::delivery(&*h.store, Some(&merchant), list[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(d.status, "delivered");
    assert!(attempts.last().unwrap().replay);
}

#[test]
fn an_internal_address_is_not_posted_to_unless_allowed() {
    // Goal: with `allow_private = false` the worker never connects to 127.0.0.1; the attempt
    // says why in words.
    let h = Harness::new();
    let r = Receiver::start(&[204]);
    endpoint(&h, &r.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));
    assert_eq!(run_due(&*h.store, &NotifyConfig::default()).unwrap(), 1);
    assert!(r.got().is_empty());
    let merchant = common::merchant();
    let eps = outbox::list_endpoints(&*h.store, Some(&merchant)).unwrap();
    let list = outbox::list_deliveries(&*h.store, Some(&merchant), eps[0].id, 10).unwrap();
    assert!(
        list[0].last_error.contains("not allowed"),
        "{}",
        list[0].last_error
    );
    assert_eq!(
        list[0].status, "pending",
        "it is retried (the config may change)"
    );
}

#[test]
fn unsubscribed_changes_write_no_outbox_rows() {
    // Goal: nobody listening means nothing is written (the hot path pays one SELECT).
    let h = Harness::new();
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));
    assert_eq!(run_due(&*h.store, &allow_private()).unwrap(), 0);
    assert!(outbox::delivery_counts(&*h.store).unwrap().is_empty());
}
