//! Trusted proxies (`BERTH_TRUSTED_PROXIES`): the peers allowed to say, in
//! `X-Forwarded-For`, whom they forward for. The sign-in limiters count failures per client
//! address; behind a proxy every request would otherwise share the proxy's address (one
//! client's failures would lock out everyone), while trusting the header from anyone would let
//! a client pick a fresh address for every guess.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// An address range: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    address: IpAddr,
    prefix: u8,
}

impl Range {
    fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("'{text}' is not an IP address or CIDR range"))?;
        let address = address.to_canonical();
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}' has a prefix length outside 0..={max}"))?,
        };
        Ok(Self { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

impl TrustedProxies {
    /// Parses a list of IP addresses and CIDR ranges, separated by commas or spaces
    /// (`10.0.0.0/8, 127.0.0.1, ::1`); an empty list trusts no proxy.
    ///
    /// # Errors
    /// A message naming the entry that is neither an address nor a range.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Range::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client's address: the TCP peer, unless the peer is a trusted proxy; then the
    /// right-most address of the `X-Forwarded-For` values (in header order) that is not a
    /// trusted proxy. Entries left of that one were written by the client and are ignored;
    /// an entry that is not an address stops the walk at the last trusted hop.
    #[must_use]
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&ranges.join(", "))
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn addresses_and_ranges_parse_and_anything_else_is_refused() {
        let proxies =
            TrustedProxies::parse("10.0.0.0/8, 127.0.0.1 ::1,fd00::/8").unwrap_or_default();
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("::ffff:127.0.0.1")), "v4-mapped");
        assert!(proxies.contains(ip("::1")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!(!proxies.contains(ip("127.0.0.2")));
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
        assert!(TrustedProxies::parse("0.0.0.0/0").is_ok_and(|p| p.contains(ip("8.8.8.8"))));
        for bad in ["localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x", "10.0.0"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_the_right_most_untrusted_hop_wins() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap_or_default();
        let xff = |v: &'static [&'static str]| v.iter().copied();
        // An untrusted peer's header is ignored.
        assert_eq!(
            proxies.client(ip("8.8.8.8"), xff(&["1.2.3.4"])),
            ip("8.8.8.8")
        );
        // A trusted peer: the client is the right-most address not a proxy; what the client
        // wrote to the left (spoofed) is ignored.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), xff(&["6.6.6.6, 1.2.3.4", "10.0.0.5"])),
            ip("1.2.3.4")
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), xff(&["1.2.3.4:5678"])),
            ip("1.2.3.4")
        );
        assert_eq!(proxies.client(ip("127.0.0.1"), xff(&[])), ip("127.0.0.1"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), xff(&["garbage, 10.0.0.7"])),
            ip("10.0.0.7"),
            "a bad entry stops at the last trusted hop"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), xff(&["10.0.0.9"])),
            ip("10.0.0.9"),
            "all trusted: the left-most hop"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), xff(&["1.2.3.4"])),
            ip("127.0.0.1"),
            "no proxy trusted by default"
        );
    }
}
