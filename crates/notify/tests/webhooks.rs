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
use suanpan_store::TxnReply;
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
        Receiver::start_tls(script, None)
    }

    /// [`Receiver::start`] behind TLS with `tls` (an `https://` URL) when given.
    fn start_tls(script: &[u16], tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!(
            "{scheme}://{}/hooks/suanpan",
            listener.local_addr().unwrap()
        );
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.to_vec()));
        let (g, s) = (got.clone(), script);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let Some(config) = tls.clone() else {
                    serve_one(conn, &g, &s);
                    continue;
                };
                let Ok(server) = rustls::ServerConnection::new(config) else {
                    continue;
                };
                // A refused handshake shows as a read error: nothing is recorded.
                serve_one(rustls::StreamOwned::new(server, conn), &g, &s);
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// Reads one POST from `stream`, records it, answers with the script's next status.
fn serve_one<S: Read + Write>(stream: S, got: &Mutex<Vec<Got>>, script: &Mutex<Vec<u16>>) {
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
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
        let mut s = script.lock().unwrap();
        if s.len() > 1 { s.remove(0) } else { s[0] }
    };
    got.lock().unwrap().push(Got {
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    let conn = reader.get_mut();
    let _ = write!(conn, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
    let _ = conn.flush();
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
    assert!(matches!(refused, TxnReply::Refused(_)), "{refused:?}");
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

#[test]
fn a_poll_with_nothing_due_does_not_wait_for_the_write_lock() {
    // Goal (issue 15, s18-speed): the worker polls every second on every node; a poll that
    // finds nothing due reads and ends, and never queues behind a writer for the write lock.
    let h = Harness::new();
    let (due, waited) =
        common::while_write_locked(&*h.store, || run_due(&*h.store, &allow_private()));
    assert_eq!(due.expect("poll"), 0);
    assert!(!waited, "the idle poll waited for the write lock");
}

#[test]
fn a_kek_rotation_rewraps_the_secret_and_deliveries_stay_signed_with_it() {
    // Goal (issue 13: webhook secrets under `keys rotate-kek`): the rotation re-wraps every
    // endpoint's secret under the new KEK; a store opened under the new KEK signs the next
    // delivery with the same secret the receiver was shown at creation, and the retired KEK
    // no longer opens the stored value.
    use suanpan_store::keys::{KeyProvider, MemoryKek};
    let h = Harness::new();
    let r = Receiver::start(&[204]);
    let (id, secret) = endpoint(&h, &r.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));

    let wrapped = || {
        suanpan_store::read(&*h.store, |c| {
            use suanpan_store::sql::SqlExt;
            c.one(
                "SELECT secret FROM webhook_endpoints WHERE id = ?1",
                suanpan_store::p![id],
                |r| r.text(0),
            )
        })
        .unwrap()
    };
    let before = wrapped();
    // `keys rotate-kek` runs on a store with the back-office's tables (staff TOTP secrets).
    use suanpan_store::backoffice::Backoffice;
    h.store.ensure_backoffice_schema().unwrap();
    let old = h.store.keys().clone();
    let new = MemoryKek::new([0x5A; 32]);
    let n = suanpan_store::terminal_keys::rewrap_all(&*h.store, &[&*old], &new).unwrap();
    assert!(n >= 1, "{n}");
    let after = wrapped();
    assert_ne!(after, before, "re-wrapped");
    let who = outbox::secret_identity(id);
    assert!(
        old.unwrap(&who, &after).is_err(),
        "the retired KEK opens it no more"
    );
    assert_eq!(
        new.unwrap(&who, &after).unwrap().expose(),
        secret.as_bytes()
    );

    let mut opts = common::options(h.store.policy().clone(), h.clock.clone());
    opts.keys = Arc::new(new);
    let rotated = suanpan_store::SqliteStore::open(&h.dir, opts).unwrap();
    assert_eq!(run_due(&rotated, &allow_private()).unwrap(), 1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_signed(&got[0], &secret, h.now());
}

/// A test CA (its PEM written to `dir/ca.pem`) and a server certificate under it for
/// `names`; returns the CA file and the receiver's TLS settings.
fn test_ca(
    dir: &std::path::Path,
    names: &[&str],
) -> (std::path::PathBuf, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "suanpan webhook test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let leaf = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let config = server_config(leaf.der().to_vec(), leaf_key.serialize_der());
    (ca_file, config)
}

fn server_config(cert: Vec<u8>, key: Vec<u8>) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
    Arc::new(config)
}

/// The last error in the delivery log of `endpoint`'s newest delivery.
fn last_error(h: &Harness, endpoint: i64) -> String {
    let rows = outbox::list_deliveries(&*h.store, Some(&common::merchant()), endpoint, 10).unwrap();
    rows[0].last_error.clone()
}

#[test]
fn an_https_receiver_under_the_configured_ca_gets_the_signed_event() {
    // Goal (issue 13: webhooks over HTTPS): a receiver whose certificate a CA of
    // `[notify] ca_file` signed, naming the URL's host (127.0.0.1), gets the event once over
    // TLS with a valid signature; without the CA file the same receiver is refused (its CA is
    // none of the Mozilla roots), and the SSRF rule still applies to an https URL.
    let h = Harness::new();
    let tmp = tempfile::tempdir().unwrap();
    let (ca_file, tls) = test_ca(tmp.path(), &["127.0.0.1"]);
    let r = Receiver::start_tls(&[204], Some(tls));
    let (id, secret) = endpoint(&h, &r.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));

    assert_eq!(run_due(&*h.store, &allow_private()).unwrap(), 1);
    assert!(
        r.got().is_empty(),
        "no CA file: refused before any byte of the request"
    );
    let e = last_error(&h, id);
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");

    let mut cfg = allow_private();
    cfg.ca_file = Some(ca_file.clone());
    advance_seconds(&h, RETRY_DELAYS_SECONDS[0]);
    assert_eq!(run_due(&*h.store, &cfg).unwrap(), 1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_signed(&got[0], &secret, h.now());

    let strict = NotifyConfig {
        ca_file: Some(ca_file),
        ..NotifyConfig::default()
    };
    let e = suanpan_notify::http::post(
        &r.url,
        &[],
        "{}",
        &suanpan_notify::http::PostOptions {
            timeout: std::time::Duration::from_secs(5),
            allow_private: strict.allow_private,
            ca_file: strict.ca_file.as_deref(),
        },
    );
    assert!(
        matches!(e, Err(suanpan_notify::http::HttpError::NotAllowed(_))),
        "{e:?}"
    );
}

#[test]
fn a_self_signed_or_misnamed_certificate_is_refused() {
    // Goal: hostname and chain verification are on: a self-signed certificate (even one
    // naming 127.0.0.1) and a certificate of the trusted CA that names another host are
    // refused, and the receivers get nothing.
    let h = Harness::new();
    let tmp = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let own = server_config(made.cert.der().to_vec(), made.signing_key.serialize_der());
    let self_signed = Receiver::start_tls(&[204], Some(own));
    let (ca_file, misnamed_tls) = test_ca(tmp.path(), &["hooks.example.com"]);
    let misnamed = Receiver::start_tls(&[204], Some(misnamed_tls));
    let (a, _) = endpoint(&h, &self_signed.url, &[EventKind::VoidExecuted]);
    let (b, _) = endpoint(&h, &misnamed.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));

    let mut cfg = allow_private();
    cfg.ca_file = Some(ca_file);
    assert_eq!(run_due(&*h.store, &cfg).unwrap(), 2);
    assert!(self_signed.got().is_empty() && misnamed.got().is_empty());
    let e = last_error(&h, a);
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");
    let e = last_error(&h, b);
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");
}

#[test]
fn a_case_change_reaches_a_subscribed_receiver_signed() {
    // Goal (issue 13: webhooks for "case changes" too): a supervisor opening a case on a
    // sale sends one signed `case.changed` naming the case and its transaction to an
    // endpoint subscribed to it, and nothing to an endpoint that is not.
    use suanpan_core::backoffice::StaffRole;
    use suanpan_core::case::CaseKind;
    use suanpan_store::backoffice::Backoffice;
    use suanpan_store::case::{Cases, NewCase};
    let h = Harness::new();
    let r = Receiver::start(&[204]);
    let (_, secret) = endpoint(&h, &r.url, &[EventKind::CaseChanged]);
    let voids_only = Receiver::start(&[204]);
    endpoint(&h, &voids_only.url, &[EventKind::VoidExecuted]);
    let sale = approved(h.sale(1_000, "approve"));
    h.store.seed_backoffice_demo().unwrap();
    let sup = h
        .store
        .staff_list(&common::merchant())
        .unwrap()
        .into_iter()
        .find(|u| u.role == StaffRole::Supervisor)
        .expect("a supervisor");
    let case = h
        .store
        .open_case(
            &sup,
            &NewCase {
                kind: CaseKind::Adjustment,
                txn: sale.id,
                note: "少结算一笔".into(),
                links: Vec::new(),
            },
        )
        .unwrap();
    assert_eq!(run_due(&*h.store, &allow_private()).unwrap(), 1);
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-suanpan-event"), "case.changed");
    assert_signed(&got[0], &secret, h.now());
    let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["data"]["case_id"], case);
    assert_eq!(body["data"]["txn_id"], sale.id.0);
    assert!(voids_only.got().is_empty(), "not subscribed to cases");
}
