//! TLS to PostgreSQL (issue 11, finding 7): `sslmode` and `sslrootcert` in the database URL
//! are honoured. Against the test server: `disable` is plain, `require` is encrypted (or, on
//! a server without TLS, refused with a message that says so), `prefer` connects either way.
//! `verify-ca` / `verify-full` run against a TLS front made here (a certificate from a CA
//! generated for the test, in front of the same server): the right CA and name connect; a
//! wrong name is refused by `verify-full` only, a wrong CA by both.

mod common;

use common::test_database_url;
use std::io::Write;
use std::sync::Arc;
use suanpan_store::StoreError;
use suanpan_store::pg::probe;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_mode(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

/// Whether the test server offers TLS (`SHOW ssl`), asked over a plain connection.
fn server_offers_tls(url: &str) -> bool {
    let plain = with_mode(url, "sslmode=disable");
    assert!(
        !probe(&plain).expect("a plain connection"),
        "disable is plain"
    );
    // `prefer` takes TLS exactly when the server offers it.
    probe(&with_mode(url, "sslmode=prefer")).expect("prefer connects")
}

#[test]
fn disable_prefer_and_require_against_the_test_server() {
    let Some(url) = test_database_url() else {
        return;
    };
    let offers = server_offers_tls(&url);
    match probe(&with_mode(&url, "sslmode=require")) {
        Ok(encrypted) => {
            assert!(offers, "require connected to a server without TLS");
            assert!(encrypted, "require must encrypt");
        }
        Err(StoreError::Invalid(why)) => {
            assert!(!offers, "require failed on a TLS server: {why}");
            assert!(
                why.contains("sslmode=require") && why.contains("does not offer TLS"),
                "{why}"
            );
        }
        Err(other) => panic!("unexpected: {other}"),
    }
    // verify-full without a CA file is a configuration error, said before connecting.
    match probe(&with_mode(&url, "sslmode=verify-full")) {
        Err(StoreError::Invalid(why)) => assert!(why.contains("sslrootcert"), "{why}"),
        other => panic!("expected a missing sslrootcert named, got {other:?}"),
    }
}

/// A CA and a server certificate for `names`, as PEM files in `dir`; returns (CA file,
/// server certificate DER, server key DER).
fn pki(dir: &std::path::Path, tag: &str, names: &[&str]) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("suanpan test CA {tag}"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let leaf = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file = dir.join(format!("ca-{tag}.pem"));
    std::fs::File::create(&ca_file)
        .unwrap()
        .write_all(ca.pem().as_bytes())
        .unwrap();
    (ca_file, leaf.der().to_vec(), leaf_key.serialize_der())
}

/// A TLS front on 127.0.0.1 for the PostgreSQL server at `upstream`: answers the client's
/// SSLRequest with `S`, does the TLS handshake with `cert`, then relays the plain bytes.
/// Returns its port; it runs until the test process ends.
fn tls_front(upstream: String, cert: Vec<u8>, key: Vec<u8>) -> u16 {
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
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 8];
                    if client.read_exact(&mut request).await.is_err()
                        || request != [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
                    {
                        return;
                    }
                    if client.write_all(b"S").await.is_err() {
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
    });
    port
}

/// The test URL's `host:port` and the URL with its host and port replaced by `host`:`port`.
fn redirect(url: &str, host: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (user, rest) = rest.split_once('@').unwrap_or(("", rest));
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    (hostport, format!("{scheme}://{at}{host}:{port}/{path}"))
}

#[test]
fn verify_ca_and_verify_full_check_the_chain_and_the_name() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki(dir.path(), "right", &["localhost"]);
    let (other_ca, _, _) = pki(dir.path(), "other", &["localhost"]);
    let (upstream, _) = redirect(&url, "x", 0);
    let port = tls_front(upstream.clone(), cert, key);
    let (_, by_name) = redirect(&url, "localhost", port);
    let (_, by_ip) = redirect(&url, "127.0.0.1", port);
    let root = |u: &str, mode: &str, ca: &std::path::Path| {
        with_mode(u, &format!("sslmode={mode}&sslrootcert={}", ca.display()))
    };

    // The right CA and the name the certificate holds: connected through TLS.
    probe(&root(&by_name, "verify-full", &ca)).expect("verify-full with the right CA and name");
    probe(&root(&by_name, "verify-ca", &ca)).expect("verify-ca");
    // The address is not a name in the certificate: verify-full refuses, verify-ca does not.
    match probe(&root(&by_ip, "verify-full", &ca)) {
        Err(StoreError::Invalid(why)) => {
            assert!(
                why.contains("sslmode=verify-full") && why.contains("certificate"),
                "{why}"
            )
        }
        other => panic!("expected the name refused, got {other:?}"),
    }
    probe(&root(&by_ip, "verify-ca", &ca)).expect("verify-ca does not check the name");
    // Another CA: both refuse; require with a root certificate checks the chain as libpq does.
    for mode in ["verify-full", "verify-ca", "require"] {
        match probe(&root(&by_name, mode, &other_ca)) {
            Err(StoreError::Invalid(why)) => assert!(why.contains("certificate"), "{mode}: {why}"),
            other => panic!("{mode}: expected an unknown CA refused, got {other:?}"),
        }
    }
    // require without a root certificate encrypts without checking (libpq's behaviour).
    probe(&with_mode(&by_ip, "sslmode=require")).expect("require, unverified");
}
