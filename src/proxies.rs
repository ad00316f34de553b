//! Load balancers Tidings trusts to say who the client is (`TIDINGS_TRUSTED_PROXIES`).
//!
//! Behind nginx every connection comes from nginx's address, so every per-address limit
//! (streams, sign-ups, guesses at passwords, requests without a token) would count the
//! balancer. A request whose peer is a trusted proxy is taken to come from the address
//! its `X-Forwarded-For` names: read from the right (the hop nearest to us), past every
//! address that is itself a trusted proxy, the first other one is the client. Anyone can
//! write `X-Forwarded-For`, so it is read only from trusted peers, and only the part the
//! trusted chain appended is believed: a client that sends `X-Forwarded-For: 1.2.3.4`
//! through nginx gets `1.2.3.4, <its own address>`, and its own address is what counts.
//!
//! A trusted proxy's connections are not held to `TIDINGS_MAX_CONNECTIONS_PER_IP` (they
//! carry many clients); the caps on streams and requests apply per client instead.
//!
//! Addresses and networks are parsed by the `ipnet` crate; a list that does not parse
//! stops the node at start with the entry it could not read.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The trusted proxies: addresses and networks (`10.0.0.5`, `10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// One entry of `TIDINGS_TRUSTED_PROXIES`: an address (a network of one) or a network.
pub fn parse_entry(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("{s:?} is neither an IP address nor a network such as 10.0.0.0/8 or fd00::/8")
    })
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client a request comes from: its peer, or — when the peer is trusted — the
    /// address `X-Forwarded-For` gives (see the module doc). The port stays the peer's.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if self.0.is_empty() || !self.trusts(peer.ip()) {
            return peer;
        }
        let mut client = peer.ip();
        // Several headers count as one list, in order; walk it from the right.
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.rsplit(','));
        for entry in hops {
            match parse_hop(entry) {
                Some(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // Not an address: whatever stands left of it was not written by a
                // trusted hop; the last hop read stays the client.
                None => break,
            }
        }
        SocketAddr::new(client, peer.port())
    }
}

/// An IPv4 address mapped into IPv6 (a dual-stack listener's peers) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop of `X-Forwarded-For`: an address, maybe with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write them.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    s.parse::<SocketAddr>().ok().map(|a| canonical(a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| parse_entry(s).unwrap()).collect())
    }

    fn with_xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = proxies(&["10.0.0.1"]);
        let got = t.client(peer("203.0.113.9"), &with_xff(&["198.51.100.1"]));
        assert_eq!(got.ip(), "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_peer_names_the_client_and_a_forged_prefix_is_ignored() {
        let t = proxies(&["10.0.0.0/8"]);
        // The client wrote 1.2.3.4 itself; nginx appended the address it saw.
        let got = t.client(peer("10.0.0.1"), &with_xff(&["1.2.3.4, 198.51.100.7"]));
        assert_eq!(got.ip(), "198.51.100.7".parse::<IpAddr>().unwrap());
        // Two trusted hops, headers split over two lines.
        let got = t.client(
            peer("10.0.0.1"),
            &with_xff(&["1.2.3.4, 198.51.100.7", "10.0.0.2"]),
        );
        assert_eq!(got.ip(), "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_hop_read() {
        let t = proxies(&["127.0.0.1"]);
        let got = t.client(peer("127.0.0.1"), &with_xff(&["nonsense, 127.0.0.1"]));
        assert_eq!(got.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        let got = t.client(peer("127.0.0.1"), &HeaderMap::new());
        assert_eq!(got.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        let got = t.client(peer("127.0.0.1"), &with_xff(&["[2001:db8::1]:443"]));
        assert_eq!(got.ip(), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        assert!(parse_entry("10.1.2.3").is_ok());
        assert!(parse_entry(" fd00::/8 ").is_ok());
        assert!(parse_entry("10.0.0.0/33").is_err());
        assert!(parse_entry("nginx.internal").is_err());
        let t = proxies(&["127.0.0.1"]);
        assert!(t.trusts("::ffff:127.0.0.1".parse().unwrap()));
    }
}
