//! The back-office over TLS (issue 5: "TLS via rustls when a cert/key is configured"): a
//! server started with a `dev-cert` certificate answers a login over HTTPS to a client that
//! trusts exactly that certificate, marks every cookie `Secure`, and speaks no plain HTTP.

mod common;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;
use suanpan_core::Policy;
use suanpan_web::{WebConfig, tls};

/// A back-office serving HTTPS with a fresh dev certificate, and a client config trusting it.
fn spawn_tls() -> (TestApp, Arc<rustls::ClientConfig>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let made = tls::dev_cert(&tls::DEV_CERT_NAMES).expect("dev cert");
    let cert = dir.path().join(tls::DEV_CERT_FILE);
    let key = dir.path().join(tls::DEV_KEY_FILE);
    std::fs::write(&cert, &made.cert_pem).expect("write cert");
    std::fs::write(&key, &made.key_pem).expect("write key");
    let app = spawn_cfg(Policy::default(), |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    });
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(made.cert_pem.as_bytes()).expect("cert DER"))
        .expect("trust the dev cert");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    (app, Arc::new(client), dir)
}

/// One HTTPS request to `localhost` (the name the dev certificate is for).
fn https(
    app: &TestApp,
    client: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, std::io::Error> {
    let name = ServerName::try_from("localhost").expect("name");
    let conn =
        rustls::ClientConnection::new(client.clone(), name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(app.addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let host = format!("localhost:{}", app.addr.port());
    s.write_all(&request_bytes(&host, method, path, headers, body))?;
    let mut buf = Vec::new();
    // The server may close without close_notify after `Connection: close`; what arrived counts.
    if let Err(e) = s.read_to_end(&mut buf)
        && buf.is_empty()
    {
        return Err(e);
    }
    parse_response(&buf).ok_or_else(|| std::io::Error::other("no HTTP answer"))
}

/// Logs `finance` in over HTTPS through the API.
fn login_finance(
    app: &TestApp,
    client: &Arc<rustls::ClientConfig>,
) -> Result<Resp, std::io::Error> {
    https(
        app,
        client,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "application/json")],
        Some(br#"{"username":"finance","password":"finance-demo"}"#),
    )
}

/// Goal: a login over HTTPS with a dev certificate works end to end — the session cookie is
/// `Secure` (and HttpOnly), the session then answers who is logged in, the login page's CSRF
/// cookie is `Secure` too, and a plain-HTTP request to the TLS port gets no HTTP answer.
#[test]
fn https_login_against_a_dev_cert_server() {
    let (app, client, _dir) = spawn_tls();
    let login = login_finance(&app, &client).expect("HTTPS login");
    assert_eq!(login.status, 200, "{}", login.text());
    let set = login
        .header("set-cookie")
        .expect("session cookie")
        .to_owned();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    let cookie = set.split(';').next().expect("pair").to_owned();
    let me = https(
        &app,
        &client,
        "GET",
        "/api/v1/session",
        &[("Cookie", &cookie)],
        None,
    )
    .expect("HTTPS session");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["username"], "finance", "{}", me.text());
    let page = https(&app, &client, "GET", "/login", &[], None).expect("login page");
    assert!(page.text().contains("id=\"login-form\""));
    let csrf_cookie = page.header("set-cookie").unwrap_or("");
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    let plain = app.try_raw(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        plain.is_none_or(|r| r.status != 200),
        "plain HTTP must not be served on the TLS port"
    );
}

/// Goal: a client that does not trust the certificate (another dev cert) is refused at the
/// handshake: nothing is logged in.
#[test]
fn https_refuses_an_untrusting_client() {
    let (app, _trusting, _dir) = spawn_tls();
    let (_other, stranger, _dir2) = spawn_tls();
    let before = app.state();
    let r = login_finance(&app, &stranger);
    assert!(r.is_err(), "the handshake fails: {r:?}");
    assert_eq!(app.state(), before);
}

/// Goal: a configuration with a certificate but no key is refused at start, with a message
/// that names both settings, instead of serving in clear text.
#[test]
fn a_certificate_without_a_key_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let made = tls::dev_cert(&tls::DEV_CERT_NAMES).expect("dev cert");
    let cert = dir.path().join("c.pem");
    std::fs::write(&cert, made.cert_pem).expect("write");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = spawn_app();
    let r = rt.block_on(suanpan_web::start(
        app.store.clone(),
        suanpan_store::Fingerprinter::new(PAN_KEY),
        WebConfig {
            http: "127.0.0.1:0".into(),
            tls_cert: Some(cert),
            ..WebConfig::default()
        },
        dir.path(),
        axum::Router::new(),
    ));
    let Err(e) = r else {
        panic!("started without a key")
    };
    let msg = format!("{e:#}");
    assert!(msg.contains("tls_cert") && msg.contains("tls_key"), "{msg}");
}
