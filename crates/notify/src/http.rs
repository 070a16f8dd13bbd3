//! A small blocking HTTP/1.1 client for webhook deliveries: one POST per connection
//! (`Connection: close`), bounded in time (`timeout_ms` for connecting, writing and reading)
//! and in the answer read (`ANSWER_BYTES_MAX`: only the status line matters), and it connects
//! only to an address `suanpan_core::notify::address_allowed` accepts — checked on the
//! resolved addresses, so a name that resolves to an internal address is refused too.
//!
//!
//! `https://` URLs are reached with rustls (ring): the receiver's chain must lead to a root of
//! the Mozilla set compiled in (`webpki-roots`) or to a CA of `[notify] ca_file`, and its
//! certificate must name the URL's host (a name, or an IP address for a literal address).
//! The SSRF rule is applied to the resolved address before the TLS handshake, exactly as for
//! plain HTTP; TLS only adds who the receiver is, never where it may be.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use suanpan_core::notify::address_allowed;

/// Bytes of the receiver's answer read at most.
pub const ANSWER_BYTES_MAX: usize = 8 * 1024;

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://`: TLS, the receiver's certificate checked.
    pub tls: bool,
    /// Host as written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: String,
    /// Port (80, or 443 for https, by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Why a URL or a delivery failed, in words for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not `http://host[:port]/path`.
    BadUrl(&'static str),
    /// The host resolved to no allowed address.
    NotAllowed(String),
    /// Name resolution, connecting, writing or reading failed.
    Io(String),
    /// The answer did not start with an HTTP status line.
    BadAnswer,
    /// The TLS settings are unusable (`[notify] ca_file`), or the handshake failed (a
    /// certificate no trusted CA signed, or one that does not name the host).
    Tls(String),
}

impl std::error::Error for HttpError {}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadUrl(why) => write!(f, "the URL is not usable: {why}"),
            HttpError::NotAllowed(a) => write!(
                f,
                "address {a} is not allowed (internal network; [notify] allow_private)"
            ),
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::BadAnswer => write!(f, "the receiver did not answer with HTTP"),
            HttpError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

/// Parses `http[s]://host[:port][/path]`; no user info, no fragment.
pub fn parse_url(url: &str) -> Result<Target, HttpError> {
    let (tls, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (
            false,
            url.strip_prefix("http://")
                .ok_or(HttpError::BadUrl("it must start with http:// or https://"))?,
        ),
    };
    if rest.contains('#') || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(HttpError::BadUrl("no fragment or spaces"));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.contains('@') {
        return Err(HttpError::BadUrl("no user name or password in the URL"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(HttpError::BadUrl("unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(HttpError::BadUrl("text after ]")),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| HttpError::BadUrl("bad port"))?,
        None if tls => 443,
        None => 80,
    };
    if host.is_empty() || port == 0 {
        return Err(HttpError::BadUrl("no host"));
    }
    Ok(Target {
        tls,
        host: host.to_owned(),
        port,
        path,
    })
}

/// Checks a URL as an endpoint is saved: it parses, and a literal address is allowed (a
/// name is checked again on every delivery, after resolution).
pub fn check_url(url: &str, allow_private: bool) -> Result<Target, HttpError> {
    let t = parse_url(url)?;
    if let Ok(ip) = t.host.parse::<IpAddr>()
        && !address_allowed(ip, allow_private)
    {
        return Err(HttpError::NotAllowed(ip.to_string()));
    }
    if !allow_private && t.host.eq_ignore_ascii_case("localhost") {
        return Err(HttpError::NotAllowed(t.host));
    }
    Ok(t)
}

/// The TLS client settings of https deliveries: the Mozilla roots (`webpki-roots`) and the
/// CA certificates of `ca_file` (PEM), if given; TLS 1.2 and 1.3 with ring.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca_file {
        let bad = |why: String| HttpError::Tls(format!("[notify] ca_file {}: {why}", ca.display()));
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How a POST is made: time-out, the SSRF rule's switch, and the TLS settings (built by
/// [`tls_config`] when the first https URL needs them).
pub struct PostOptions<'a> {
    /// Time-out of connecting, sending and waiting for the answer, each.
    pub timeout: Duration,
    /// `[notify] allow_private`.
    pub allow_private: bool,
    /// `[notify] ca_file`.
    pub ca_file: Option<&'a Path>,
}

/// A byte stream to the receiver: plain TCP or TLS over it.
trait Wire: Read + Write {}
impl<T: Read + Write> Wire for T {}

/// POSTs `body` with `headers` to `url`; returns the HTTP status.
pub fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &str,
    opts: &PostOptions<'_>,
) -> Result<u16, HttpError> {
    let t = parse_url(url)?;
    let timeout = opts.timeout;
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| HttpError::Io(format!("cannot resolve {}: {e}", t.host)))?
        .collect();
    // The rule is applied to the address connected to, after resolution, also for https.
    let Some(addr) = addrs
        .iter()
        .find(|a| address_allowed(a.ip(), opts.allow_private))
    else {
        let first = addrs.first().map_or(t.host.clone(), |a| a.ip().to_string());
        return Err(HttpError::NotAllowed(first));
    };
    let tls = if t.tls {
        let name = ServerName::try_from(t.host.clone())
            .map_err(|_| HttpError::BadUrl("the host is not a name a certificate can hold"))?;
        Some((tls_config(opts.ca_file)?, name))
    } else {
        None
    };
    let io = |what: &str, e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ) {
            HttpError::Io(format!(
                "{what}: timed out after {} ms",
                timeout.as_millis()
            ))
        } else if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            HttpError::Tls(e.to_string())
        } else {
            HttpError::Io(format!("{what}: {e}"))
        }
    };
    let s = TcpStream::connect_timeout(addr, timeout).map_err(|e| io("connecting", e))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| io("connecting", e))?;
    let mut wire: Box<dyn Wire> = match tls {
        Some((config, name)) => {
            let conn = rustls::ClientConnection::new(config, name)
                .map_err(|e| HttpError::Tls(e.to_string()))?;
            Box::new(rustls::StreamOwned::new(conn, s))
        }
        None => Box::new(s),
    };
    let host = if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: Suanpan-Webhook/1\r\n",
        t.path,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    wire.write_all(req.as_bytes())
        .and_then(|()| wire.flush())
        .map_err(|e| io("sending", e))?;
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < ANSWER_BYTES_MAX {
        let n = wire
            .read(&mut buf)
            .map_err(|e| io("waiting for the answer", e))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    status_of(&answer)
}

/// The status of an answer's first line (`HTTP/1.1 204 No Content`).
fn status_of(answer: &[u8]) -> Result<u16, HttpError> {
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| HttpError::BadAnswer)?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            code.parse::<u16>().map_err(|_| HttpError::BadAnswer)
        }
        _ => Err(HttpError::BadAnswer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_refuse_what_they_must() {
        // Goal: the endpoint URL is parsed strictly, and internal addresses are refused
        // unless allowed.
        let t = parse_url("http://example.com:8081/hook?a=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("example.com", 8081, "/hook?a=1")
        );
        let t = parse_url("http://[2001:db8::1]/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("2001:db8::1", 80));
        assert_eq!(parse_url("http://h?q").unwrap().path, "/?q");
        for bad in [
            "ftp://x",
            "http://",
            "http://u:p@h/",
            "http://h:99999/",
            "http://h/ x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let t = parse_url("https://hooks.example.com/x").unwrap();
        assert_eq!((t.tls, t.port), (true, 443));
        assert_eq!(parse_url("http://h/").unwrap().port, 80);
        assert!(matches!(
            check_url("http://169.254.169.254/latest/meta-data", false),
            Err(HttpError::NotAllowed(_))
        ));
        assert!(check_url("http://localhost:1/", false).is_err());
        assert!(check_url("http://127.0.0.1:1/", true).is_ok());
    }

    #[test]
    fn a_name_resolving_inside_is_refused_on_delivery() {
        let opts = PostOptions {
            timeout: Duration::from_millis(200),
            allow_private: false,
            ca_file: None,
        };
        for url in ["http://localhost:9/", "https://localhost:9/"] {
            let e = post(url, &[], "{}", &opts);
            assert!(matches!(e, Err(HttpError::NotAllowed(_))), "{url}: {e:?}");
        }
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(status_of(b"HTTP/1.1 204 No Content\r\n"), Ok(204));
        assert_eq!(status_of(b"HTTP/1.0 500\r\n"), Ok(500));
        assert_eq!(status_of(b"SSH-2.0\r\n"), Err(HttpError::BadAnswer));
    }
}
