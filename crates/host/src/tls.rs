//! TLS on the 8583 listener (issue 11): the rustls server configuration from
//! `iso8583_tls_cert` / `iso8583_tls_key` (PEM), with the *ring* provider.
//!
//! One port serves both when TLS is configured and not required: the first byte of a
//! connection tells them apart. A TLS connection opens with a handshake record, `0x16`; a
//! plain 8583 frame opens with the high byte of its 2-byte length, which is at most `0x20`
//! (`FRAME_BYTES_MAX` is 8192) and would be `0x16` only for a frame of 5632 bytes or more,
//! longer than any message of this profile (see docs/DECISIONS.md). With
//! `iso8583_tls_required = true` a connection that does not open with `0x16` is closed.

use crate::ServerConfig;
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// The first byte of a TLS connection (a handshake record).
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;
/// Largest certificate or key file read.
const PEM_BYTES_MAX: u64 = 1024 * 1024;

/// The acceptor for the configured certificate and key; `None` without TLS.
///
/// # Errors
/// Half a configuration (a certificate without its key or the other way round),
/// `iso8583_tls_required` without a certificate, or a file that is missing, not PEM, or a
/// key that does not match its certificate — every message names the file.
pub fn acceptor(cfg: &ServerConfig) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let (cert, key) = match (&cfg.iso8583_tls_cert, &cfg.iso8583_tls_key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) if cfg.iso8583_tls_required => bail!(
            "iso8583_tls_required = true 需要 iso8583_tls_cert 与 iso8583_tls_key / needs a certificate and key"
        ),
        (None, None) => return Ok(None),
        _ => bail!(
            "iso8583_tls_cert 与 iso8583_tls_key 须同时设置 / set both the 8583 TLS certificate and key"
        ),
    };
    let certs = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("8583 TLS 证书 {cert}: 不是有效的 PEM / not valid PEM"))?;
    if certs.is_empty() {
        bail!("8583 TLS 证书 {cert}: 没有证书 / no CERTIFICATE block");
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .with_context(|| format!("8583 TLS 私钥 {key}: 不是有效的 PEM 私钥 / not a PEM key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS 协议版本 / TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .with_context(|| {
            format!("8583 TLS 证书与私钥不匹配 / certificate and key do not match ({cert}, {key})")
        })?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

fn read(path: &str) -> anyhow::Result<Vec<u8>> {
    let named = || format!("8583 TLS 文件 {path} / reading the TLS file");
    let len = std::fs::metadata(path).with_context(named)?.len();
    if len > PEM_BYTES_MAX {
        bail!("{path}: 过大 / too large ({len} bytes)");
    }
    std::fs::read(path).with_context(named)
}
