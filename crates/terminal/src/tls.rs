//! TLS on the 8583 link, the terminal's side: a rustls client trusting the CA (or the
//! self-signed certificate) in one PEM file, with the *ring* provider as the back-office
//! uses. The emulator, the host's test client and `bench load` all connect through it.

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;

/// Largest CA file read: a PEM bundle of a few certificates is a few KiB.
const CA_BYTES_MAX: u64 = 1024 * 1024;

/// A client configuration trusting exactly the certificates of the PEM file `ca`.
///
/// # Errors
/// When the file cannot be read, holds no certificate, or a certificate is not usable as
/// a trust anchor; the message names the file.
pub fn client_config(ca: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let named = || format!("CA 证书文件 {} / the CA file", ca.display());
    let len = std::fs::metadata(ca).with_context(named)?.len();
    if len > CA_BYTES_MAX {
        bail!("{}: 过大 / too large ({len} bytes)", named());
    }
    let pem = std::fs::read(ca).with_context(named)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| format!("{}: 不是有效的 PEM / not valid PEM", named()))?;
        roots
            .add(cert)
            .with_context(|| format!("{}: 证书不可用 / unusable certificate", named()))?;
    }
    if roots.is_empty() {
        bail!("{}: 没有证书 / no CERTIFICATE block", named());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS 协议版本 / TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The name the host's certificate must carry: the host part of `HOST:PORT` (a DNS name or
/// an IP address, `[::1]` brackets removed).
///
/// # Errors
/// When the host part is neither.
pub fn server_name(addr: &str) -> anyhow::Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .with_context(|| format!("{addr}: 不是有效的主机名 / not a valid host name for TLS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the certificate name comes from the address, IPv6 brackets and port removed.
    #[test]
    fn server_names() {
        let name = |a: &str| server_name(a).map(|n| n.to_str().into_owned()).ok();
        assert_eq!(name("127.0.0.1:5800").as_deref(), Some("127.0.0.1"));
        assert_eq!(name("[::1]:5800").as_deref(), Some("::1"));
        assert_eq!(
            name("pos.example.cn:5800").as_deref(),
            Some("pos.example.cn")
        );
        assert!(name("bad name:1").is_none());
    }
}
