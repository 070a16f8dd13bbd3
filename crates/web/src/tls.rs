//! TLS for the back-office (issue 5: "TLS via rustls when a cert/key is configured"): loading
//! a PEM certificate chain and private key into a rustls server configuration, and the
//! self-signed development certificate that `suanpan admin dev-cert` writes.
//!
//! The crypto provider is *ring*, chosen explicitly rather than rustls' process default, so
//! the build needs no CMake or NASM (aws-lc-rs would) and nothing depends on which other
//! crate installed a default provider first.

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Names a development certificate is valid for: the loopback names a browser on the same
/// machine uses.
pub const DEV_CERT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// File name of the certificate `dev-cert` writes.
pub const DEV_CERT_FILE: &str = "backoffice-cert.pem";
/// File name of the private key `dev-cert` writes.
pub const DEV_KEY_FILE: &str = "backoffice-key.pem";
/// Largest certificate or key file read; a PEM chain of a few certificates is a few KiB.
const PEM_BYTES_MAX: u64 = 1024 * 1024;

/// A self-signed certificate and its private key, both PEM.
pub struct DevCert {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`); keep it private.
    pub key_pem: String,
}

/// Makes a self-signed certificate for `names` (DNS names or IP addresses). Browsers warn
/// about it: it is for trying the back-office over HTTPS, not for production.
pub fn dev_cert(names: &[&str]) -> anyhow::Result<DevCert> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names)
        .context("生成自签名证书失败 / generating the self-signed certificate")?;
    Ok(DevCert {
        cert_pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
    })
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("读取{what} {} 失败 / reading the {what}", path.display()))?
        .len();
    if len > PEM_BYTES_MAX {
        bail!(
            "{what} {} 过大（{len} 字节，上限 {PEM_BYTES_MAX}）/ the file is too large",
            path.display()
        );
    }
    std::fs::read(path)
        .with_context(|| format!("读取{what} {} 失败 / reading the {what}", path.display()))
}

/// The rustls configuration of the back-office from a PEM certificate chain and a PEM private
/// key (PKCS#8, PKCS#1 or SEC1). Every failure names the file and what is wrong with it.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let cert_bytes = read_pem(cert, "TLS 证书 certificate")?;
    let certs = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "TLS 证书 {} 不是有效的 PEM / the certificate is not valid PEM",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        bail!(
            "TLS 证书 {} 中没有证书 / no CERTIFICATE block in the file",
            cert.display()
        );
    }
    let key_bytes = read_pem(key, "TLS 私钥 private key")?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_bytes).with_context(|| {
        format!(
            "TLS 私钥 {} 不是有效的 PEM 私钥 / the private key is not a valid PEM key",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS 协议版本 / TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .with_context(|| {
            format!(
                "TLS 证书与私钥不匹配或不受支持（{} / {}）/ certificate and key do not match or are unsupported",
                cert.display(),
                key.display()
            )
        })?;
    // The back-office speaks HTTP/1.1 only (axum's http1 feature).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a fresh dev certificate loads into a server configuration; a key that is not the
    /// certificate's, an empty file and garbage are refused with the file named.
    #[test]
    fn dev_cert_loads_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let a = dev_cert(&DEV_CERT_NAMES).expect("cert a");
        let b = dev_cert(&DEV_CERT_NAMES).expect("cert b");
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let other_key = dir.path().join("o.pem");
        let empty = dir.path().join("e.pem");
        std::fs::write(&cert, &a.cert_pem).expect("write");
        std::fs::write(&key, &a.key_pem).expect("write");
        std::fs::write(&other_key, &b.key_pem).expect("write");
        std::fs::write(&empty, "").expect("write");
        assert!(server_config(&cert, &key).is_ok());
        let mismatch = format!(
            "{:#}",
            server_config(&cert, &other_key).expect_err("mismatch")
        );
        assert!(mismatch.contains("不匹配"), "{mismatch}");
        let none = format!("{:#}", server_config(&empty, &key).expect_err("empty"));
        assert!(none.contains("e.pem"), "{none}");
        let swapped = format!("{:#}", server_config(&key, &cert).expect_err("swapped"));
        assert!(swapped.contains("k.pem"), "{swapped}");
        let missing = dir.path().join("missing.pem");
        let gone = format!("{:#}", server_config(&missing, &key).expect_err("missing"));
        assert!(gone.contains("missing.pem"), "{gone}");
    }
}
