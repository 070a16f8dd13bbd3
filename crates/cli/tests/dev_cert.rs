//! `suanpan admin dev-cert` and `serve` with TLS: the certificate and key are written once
//! (never overwritten), `serve --tls-cert/--tls-key` announces an `https://` back-office that
//! speaks no plain HTTP, and half a TLS configuration is refused before anything listens.
//! The HTTPS login itself is `crates/web/tests/https.rs`.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

/// A server process that is killed when the test ends, also when it fails midway.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Goal: dev-cert writes a PEM certificate and a private key only its owner can read; a second
/// run refuses (exit 1, the path named) and leaves both files byte for byte.
#[test]
fn dev_cert_writes_once_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("tls");
    let (code, v) = run_json(
        suanpan(dir.path())
            .args(["admin", "dev-cert", "--out"])
            .arg(&out),
    );
    assert_eq!(code, 0, "{v}");
    let cert = out.join("backoffice-cert.pem");
    let key = out.join("backoffice-key.pem");
    assert_eq!(v["cert"], cert.to_string_lossy().as_ref());
    let cert_pem = std::fs::read(&cert).expect("cert");
    let key_pem = std::fs::read(&key).expect("key");
    assert!(cert_pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert!(key_pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
    }
    let again = run(suanpan(dir.path())
        .args(["admin", "dev-cert", "--out"])
        .arg(&out))
    .code(1);
    assert!(
        again.text().contains("已存在") && again.text().contains("backoffice-cert.pem"),
        "{again:?}"
    );
    assert_eq!(std::fs::read(&cert).expect("cert"), cert_pem);
    assert_eq!(std::fs::read(&key).expect("key"), key_pem);
}

/// Goal: `serve --tls-cert --tls-key` with a dev certificate announces an https:// back-office,
/// and a plain-HTTP request to that port gets no HTTP answer.
#[test]
fn serve_with_a_dev_cert_is_https_only() {
    let dir = tempfile::tempdir().expect("dir");
    let tls = tempfile::tempdir().expect("tls dir");
    run(suanpan(dir.path())
        .args(["admin", "dev-cert", "--out"])
        .arg(tls.path()))
    .ok();
    let mut c = std::process::Command::new(bin());
    c.env_remove("SUANPAN_LOG")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--json", "serve", "--demo", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(tls.path().join("backoffice-cert.pem"))
        .arg("--tls-key")
        .arg(tls.path().join("backoffice-key.pem"));
    let mut child = Server(
        c.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        text.push_str(&line);
        if line == "}" {
            break;
        }
    }
    let v: serde_json::Value = serde_json::from_str(&text).expect("announcement");
    let web = v["backoffice"].as_str().unwrap_or_default();
    let addr = web
        .strip_prefix("https://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("an https back-office: {web}"));
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let _ = s.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP answered: {}",
        String::from_utf8_lossy(&answer)
    );
}

/// Goal: half a TLS configuration is refused before anything listens — a flag without its
/// partner is a usage error (2); `tls_cert` without `tls_key` in the config file is exit 1
/// with both settings named.
#[test]
fn half_a_tls_configuration_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    run(suanpan(dir.path()).args(["serve", "--tls-cert", "/nonexistent/cert.pem"])).code(2);
    let cfg = dir.path().join("web.toml");
    std::fs::write(
        &cfg,
        "[web]\nhttp = \"127.0.0.1:0\"\ntls_cert = \"/nonexistent/cert.pem\"\n",
    )
    .expect("config");
    let out = run(suanpan(dir.path())
        .args(["serve", "--demo", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--config"])
        .arg(&cfg))
    .code(1);
    assert!(
        out.text().contains("tls_cert") && out.text().contains("tls_key"),
        "{out:?}"
    );
}
