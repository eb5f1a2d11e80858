//! The client's address, for the limits that count per client (docs/architecture.md,
//! "Hostile traffic").
//!
//! A proxy in front appends the address it received the request from to
//! `X-Forwarded-For`, so the header reads, left to right, from the farthest hop to the
//! nearest. Everything left of the first proxy we run was written by the client and
//! proves nothing. So the client is the rightmost address that is not one of our
//! proxies, taken only as far as a chain of trusted proxies reaches: a peer that is not
//! trusted is the client itself, whatever it claims.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// The proxies trusted by default: the loopback addresses, where `reel web` runs in
/// front of a local API in split mode.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1/128";

/// The address ranges whose `X-Forwarded-For` is believed. Cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

/// A `--trusted-proxies` entry that is neither an address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR range (such as 10.0.0.0/8 or fd00::/8)")]
pub struct BadProxyRange(String);

impl FromStr for TrustedProxies {
    type Err = BadProxyRange;

    /// A comma-separated list of CIDR ranges or single addresses; empty trusts none.
    fn from_str(list: &str) -> Result<Self, BadProxyRange> {
        let mut ranges = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let range = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| BadProxyRange(entry.to_owned()))?;
            ranges.push(range.trunc());
        }
        Ok(Self(ranges.into()))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedProxies({self})")
    }
}

impl Default for TrustedProxies {
    fn default() -> Self {
        DEFAULT_TRUSTED_PROXIES.parse().expect("the default parses")
    }
}

impl TrustedProxies {
    /// Trusts no proxy: the peer is always the client.
    pub fn none() -> Self {
        Self(Arc::new([]))
    }

    /// Whether `ip` is one of our proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|range| range.contains(&ip))
    }

    /// The client's address, for a request that came from `peer` with `headers`: the
    /// peer itself unless it is trusted; otherwise, walking `X-Forwarded-For` from the
    /// right, the first address that is not trusted. A chain of trusted hops only ends
    /// at its leftmost address; an entry that is not an address stops the walk at the
    /// last good one.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let mut hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        while let Some(hop) = hops.pop() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`), which some proxies add.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The key a per-client limit counts under: an IPv4 address itself, an IPv6 address
/// its /64, which one subscriber usually holds whole.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The client's address as [`TrustedProxies::client_addr`] finds it, for any router
/// whose state yields its trusted proxies. Without `ConnectInfo` (a router served
/// without peer addresses) the peer counts as 0.0.0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let trusted = TrustedProxies::from_ref(state);
        Ok(Self(trusted.client_addr(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            trusted.client_addr(ip("198.51.100.1"), &h),
            ip("198.51.100.1")
        );
        assert_eq!(
            TrustedProxies::none().client_addr(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.0.2.5".parse().unwrap();
        // The client forged the first entry; our two proxies appended the rest.
        let h = xff(&["1.1.1.1, 203.0.113.7", "192.0.2.5"]);
        assert_eq!(trusted.client_addr(ip("10.1.2.3"), &h), ip("203.0.113.7"));
        // Without the header, a trusted peer is all we know.
        assert_eq!(
            trusted.client_addr(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        // Only trusted hops: the leftmost is as far as anyone can tell.
        let h = xff(&["10.9.9.9, 192.0.2.5"]);
        assert_eq!(trusted.client_addr(ip("10.1.2.3"), &h), ip("10.9.9.9"));
        // Garbage stops the walk at the last address that parsed.
        let h = xff(&["203.0.113.7, junk, 10.2.2.2"]);
        assert_eq!(trusted.client_addr(ip("10.1.2.3"), &h), ip("10.2.2.2"));
        // Ports, brackets and IPv4-mapped IPv6 are understood.
        let h = xff(&["[2001:db8::1]:4711", "198.51.100.9:80"]);
        assert_eq!(trusted.client_addr(ip("10.1.2.3"), &h), ip("198.51.100.9"));
        let h = xff(&["::ffff:203.0.113.8"]);
        assert_eq!(
            trusted.client_addr(ip("::ffff:10.1.2.3"), &h),
            ip("203.0.113.8")
        );
    }

    #[test]
    fn the_list_parses_ranges_and_addresses_and_refuses_the_rest() {
        let t: TrustedProxies = " 10.1.2.3/8 ,fd00::1, 192.0.2.1".parse().unwrap();
        assert_eq!(t.to_string(), "10.0.0.0/8,fd00::1/128,192.0.2.1/32");
        assert!(t.contains(ip("10.200.0.1")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::none()
        );
        assert_eq!(
            "10.0.0.0/33".parse::<TrustedProxies>().unwrap_err(),
            BadProxyRange("10.0.0.0/33".into())
        );
        assert!("example.com".parse::<TrustedProxies>().is_err());
        let default = TrustedProxies::default();
        assert!(default.contains(ip("127.0.0.1")) && default.contains(ip("::1")));
        assert!(!default.contains(ip("192.168.1.1")));
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
    }
}
