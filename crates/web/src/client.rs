//! Which client a request comes from: the peer address, or — when the peer is one of the
//! `trusted_proxies` — the right-most `X-Forwarded-For` address that is not a trusted proxy
//! itself. Rate limits and the login audit are keyed on it. A client that is not a trusted
//! proxy cannot choose its key: its `X-Forwarded-For` is never read.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// The forwarded-for header a reverse proxy appends the address it saw to.
const FORWARDED_FOR: &str = "x-forwarded-for";
/// Addresses of one `X-Forwarded-For` chain looked at, at most (a bound on work per request).
const FORWARDED_HOPS_MAX: usize = 32;

/// One trusted network: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `IP` or `IP/PREFIX`, IPv4 or IPv6.
    fn parse(s: &str) -> Option<Net> {
        let s = s.trim();
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr = ip.parse::<IpAddr>().ok()?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| match a {
            IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
            IpAddr::V6(v) => u128::from(v),
        };
        let ip = ip.to_canonical();
        if ip.is_ipv4() != self.addr.is_ipv4() || self.prefix == 0 {
            return ip.is_ipv4() == self.addr.is_ipv4();
        }
        let mask = u128::MAX << (128 - u32::from(self.prefix));
        bits(ip) & mask == bits(self.addr) & mask
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Net>);

impl TrustedProxies {
    /// Parses the configured list; names the first entry that is not an IP or a CIDR.
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| Net::parse(s).ok_or_else(|| s.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request that arrived from `peer`: `peer` itself unless it is a
    /// trusted proxy; then the right-most forwarded address that is not a trusted proxy (a
    /// proxy appends what it saw, so everything left of it was written by the client and
    /// may be forged). An unreadable entry stops the walk at the last address believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let chain: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut hop = peer;
        for entry in chain.iter().rev().take(FORWARDED_HOPS_MAX) {
            let Some(ip) = parse_hop(entry) else {
                return hop;
            };
            hop = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        hop
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(FORWARDED_FOR, v.parse().expect("header"));
        }
        h
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("list")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    /// Goal: without trusted proxies the header is never read.
    #[test]
    fn no_proxies_means_the_peer() {
        let p = proxies(&[]);
        assert_eq!(
            p.client(ip("10.0.0.1"), &headers(&["1.2.3.4"])),
            ip("10.0.0.1")
        );
    }

    /// Goal: a trusted proxy's header gives the right-most untrusted address; what the client
    /// put left of it is ignored, and an untrusted peer's header is ignored entirely.
    #[test]
    fn right_most_untrusted_address() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.7"]);
        let h = headers(&["6.6.6.6, 203.0.113.5", "10.1.2.3"]);
        assert_eq!(p.client(ip("192.168.1.7"), &h), ip("203.0.113.5"));
        assert_eq!(p.client(ip("198.51.100.9"), &h), ip("198.51.100.9"));
        assert_eq!(
            p.client(ip("10.9.9.9"), &headers(&["203.0.113.5:4711"])),
            ip("203.0.113.5")
        );
        assert_eq!(
            p.client(ip("10.9.9.9"), &headers(&["junk, 10.0.0.2"])),
            ip("10.0.0.2"),
            "an unreadable entry stops at the last believed hop"
        );
        assert_eq!(p.client(ip("10.9.9.9"), &headers(&[])), ip("10.9.9.9"));
        assert_eq!(
            p.client(ip("::ffff:10.0.0.1"), &headers(&["2001:db8::1"])),
            ip("2001:db8::1")
        );
    }

    /// Goal: CIDRs of both families parse; nonsense is named.
    #[test]
    fn parses_cidrs() {
        let p = proxies(&["2001:db8::/32", "0.0.0.0/0"]);
        assert!(p.contains(ip("2001:db8:1::5")));
        assert!(p.contains(ip("8.8.8.8")));
        assert!(!p.contains(ip("2001:db9::1")));
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/x"] {
            assert_eq!(
                TrustedProxies::parse(&[bad.to_string()]),
                Err(bad.to_string())
            );
        }
    }
}
