//! The `[upstream]` section of the host's configuration (issue 15's names): `addr` (one
//! address or a list, tried in order), `acquirer_id` (field 32), `upstream_timeout_ms`,
//! `upstream_echo_interval_ms`, `stand_in_floor_fen` (0, off: the default), and `zpk` (32 hex
//! digits; `SUANPAN_UPSTREAM_ZPK` wins), and `[[upstream.route]]` (`bins`, `addr`, `name`:
//! cards routed by BIN to other switches). The
//! host stores the ZPK wrapped like every other key; this type only carries it in.

use crate::LinkConfig;
use suanpan_iso8583::Zpk;

/// Environment variable that gives the zone PIN key.
pub const ZPK_ENV: &str = "SUANPAN_UPSTREAM_ZPK";

/// One address or several.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum Addrs {
    /// `addr = "127.0.0.1:8600"`.
    One(String),
    /// `addr = ["10.0.0.1:8600", "10.0.0.2:8600"]`.
    Many(Vec<String>),
}

/// `[upstream]` as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// Switch address(es).
    pub addr: Addrs,
    /// Field 32.
    pub acquirer_id: String,
    /// Time-out of one request.
    #[serde(default = "default_timeout_ms")]
    pub upstream_timeout_ms: u64,
    /// Idle time before an echo.
    #[serde(default = "default_echo_ms")]
    pub upstream_echo_interval_ms: u64,
    /// Zone PIN key, 32 hex digits (prefer the environment variable).
    #[serde(default)]
    pub zpk: Option<String>,
    /// Stand-in: while the upstream is down, a card sale at or under this many fen is
    /// approved by the host and advised to the switch (0220) when the link is back; `0`
    /// (the default) declines every sale with `91`.
    #[serde(default)]
    pub stand_in_floor_fen: u64,
    /// `[[upstream.route]]`: cards routed by BIN to other switches (longest prefix wins;
    /// a card no route names goes to `addr`).
    #[serde(default)]
    pub route: Vec<RouteSection>,
}

/// One `[[upstream.route]]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// PAN prefixes (BINs), 1 to 11 digits each.
    pub bins: Vec<String>,
    /// The switch's address(es), tried in order.
    pub addr: Addrs,
    /// The destination's name (its queue order); default `route:` and the first address.
    /// Keep it when an address changes, or advices queued for the old name stay unsent.
    #[serde(default)]
    pub name: Option<String>,
}

/// A route resolved: its BINs and its link's configuration.
#[derive(Debug, Clone)]
pub struct Route {
    /// PAN prefixes.
    pub bins: Vec<String>,
    /// The link to its switch.
    pub link: LinkConfig,
}

fn default_timeout_ms() -> u64 {
    5_000
}

fn default_echo_ms() -> u64 {
    30_000
}

/// Why the section is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// No address.
    #[error("[upstream] addr is empty")]
    NoAddr,
    /// Field 32 must be 1 to 11 digits.
    #[error("[upstream] acquirer_id must be 1 to 11 digits")]
    AcquirerId,
    /// A time must be at least 1 ms.
    #[error("[upstream] upstream_timeout_ms and upstream_echo_interval_ms must be positive")]
    Time,
    /// A route without BINs or addresses, a BIN not 1 to 11 digits, a BIN in two routes,
    /// or a name used twice.
    #[error("[[upstream.route]]: {0}")]
    Route(String),
    /// The ZPK is not 32 hex digits.
    #[error("[upstream] zpk (or SUANPAN_UPSTREAM_ZPK) must be 32 hex digits")]
    Zpk,
}

fn addrs_of(a: &Addrs) -> Result<Vec<String>, ConfigError> {
    let addrs = match a {
        Addrs::One(a) => vec![a.clone()],
        Addrs::Many(v) => v.clone(),
    };
    if addrs.is_empty() || addrs.iter().any(|a| a.trim().is_empty()) {
        return Err(ConfigError::NoAddr);
    }
    Ok(addrs)
}

impl UpstreamSection {
    /// The routes besides the default (`default`: the default route's link, from
    /// [`UpstreamSection::resolve`], whose settings each route's link shares).
    ///
    /// # Errors
    /// [`ConfigError::Route`] naming the fault.
    pub fn routes(&self, default: &LinkConfig) -> Result<Vec<Route>, ConfigError> {
        let mut seen_bins = std::collections::HashSet::new();
        let mut seen_names = std::collections::HashSet::from([default.destination()]);
        let mut out = Vec::new();
        for (i, r) in self.route.iter().enumerate() {
            let n = i + 1;
            let addrs = addrs_of(&r.addr)
                .map_err(|_| ConfigError::Route(format!("route {n} has no addr")))?;
            if r.bins.is_empty() {
                return Err(ConfigError::Route(format!("route {n} has no bins")));
            }
            for b in &r.bins {
                if b.is_empty() || b.len() > 11 || !b.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(ConfigError::Route(format!(
                        "route {n}: bin {b:?} is not 1 to 11 digits"
                    )));
                }
                if !seen_bins.insert(b.clone()) {
                    return Err(ConfigError::Route(format!("bin {b} is in two routes")));
                }
            }
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| format!("route:{}", addrs[0]));
            if !seen_names.insert(name.clone()) {
                return Err(ConfigError::Route(format!("name {name:?} is used twice")));
            }
            let mut link = default.clone();
            link.name = name;
            link.addrs = addrs;
            out.push(Route {
                bins: r.bins.clone(),
                link,
            });
        }
        Ok(out)
    }

    /// The link's configuration and the ZPK (`env_zpk`, the environment's value, wins over
    /// the file's).
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad key.
    pub fn resolve(&self, env_zpk: Option<&str>) -> Result<(LinkConfig, Option<Zpk>), ConfigError> {
        let addrs = addrs_of(&self.addr)?;
        let id = &self.acquirer_id;
        if id.is_empty() || id.len() > 11 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::AcquirerId);
        }
        if self.upstream_timeout_ms == 0 || self.upstream_echo_interval_ms == 0 {
            return Err(ConfigError::Time);
        }
        let zpk = match env_zpk.or(self.zpk.as_deref()) {
            Some(hex) => Some(Zpk::from_hex(hex).map_err(|_| ConfigError::Zpk)?),
            None => None,
        };
        let mut c = LinkConfig::new(addrs, id);
        c.upstream_timeout_ms = self.upstream_timeout_ms;
        c.upstream_echo_interval_ms = self.upstream_echo_interval_ms;
        c.stand_in_floor_fen = self.stand_in_floor_fen;
        Ok((c, zpk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the issue's key names parse, one address or a list, and bad values are named.
    #[test]
    fn section_parses_and_checks() {
        let text = r#"
            addr = ["127.0.0.1:8600", "127.0.0.1:8601"]
            acquirer_id = "12345678"
            upstream_timeout_ms = 800
            zpk = "0123456789ABCDEFFEDCBA9876543210"
        "#;
        let s: UpstreamSection = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let (c, zpk) = s.resolve(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.addrs.len(), 2);
        assert_eq!(c.upstream_timeout_ms, 800);
        assert_eq!(c.upstream_echo_interval_ms, 30_000);
        assert_eq!(c.stand_in_floor_fen, 0, "stand-in is off by default");
        assert!(zpk.is_some());
        assert_eq!(s.resolve(Some("zz")).err(), Some(ConfigError::Zpk));
        let one: UpstreamSection =
            toml::from_str("addr = \"h:1\"\nacquirer_id = \"1234567890123\"")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.resolve(None).err(), Some(ConfigError::AcquirerId));
        assert!(
            toml::from_str::<UpstreamSection>("addr = \"h:1\"\nacquirer_id = \"1\"\nx = 1")
                .is_err()
        );
    }

    // Goal: `[[upstream.route]]` parses inside `[upstream]`; each route gets its own link
    // named after its first address (or its `name`) with the section's other settings; a
    // BIN in two routes, a BIN not digits and a route without BINs are named.
    #[test]
    fn routes_parse_and_check() {
        #[derive(serde::Deserialize)]
        struct File {
            upstream: UpstreamSection,
        }
        let text = r#"
            [upstream]
            addr = "127.0.0.1:8600"
            acquirer_id = "12345678"
            upstream_timeout_ms = 700
            [[upstream.route]]
            bins = ["622588", "6225"]
            addr = ["127.0.0.1:8700", "127.0.0.1:8701"]
            [[upstream.route]]
            bins = ["4"]
            addr = "127.0.0.1:8800"
            name = "visa"
        "#;
        let f: File = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let (c, _) = f.upstream.resolve(None).unwrap_or_else(|e| panic!("{e}"));
        let routes = f.upstream.routes(&c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].link.name, "route:127.0.0.1:8700");
        assert_eq!(routes[0].link.addrs.len(), 2);
        assert_eq!(routes[0].link.upstream_timeout_ms, 700);
        assert_eq!(routes[1].link.name, "visa");
        assert_eq!(routes[1].bins, vec!["4".to_owned()]);
        let mut twice = f.upstream.clone();
        twice.route[1].bins.push("6225".into());
        assert!(matches!(twice.routes(&c), Err(ConfigError::Route(m)) if m.contains("two routes")));
        let mut letters = f.upstream.clone();
        letters.route[0].bins = vec!["62x".into()];
        assert!(matches!(letters.routes(&c), Err(ConfigError::Route(_))));
        let mut none = f.upstream.clone();
        none.route[0].bins.clear();
        assert!(matches!(none.routes(&c), Err(ConfigError::Route(m)) if m.contains("no bins")));
    }
}
