//! `http.allow`: the source networks the HTTP receiver answers, as CIDRs.

use std::net::IpAddr;

/// One network, e.g. `10.0.0.0/8` or `fd00::/8`; a bare address is a /32
/// (IPv4) or /128 (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `ADDR[/PREFIX]`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| {
            format!("{s:?} is not an IP network (want ADDR/PREFIX, e.g. 10.0.0.0/8)")
        })?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix must be 0..={max}"))?,
        };
        Ok(Cidr { network, prefix })
    }

    /// Is `ip` inside? IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a
    /// dual-stack socket reports) count as their IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn masked(bits: u128, prefix: u8, width: u32) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = width - u32::from(prefix);
    (bits >> shift) << shift
}

/// Does `allow` let `ip` in? An empty list allows everyone.
pub fn allowed(allow: &[Cidr], ip: Option<IpAddr>) -> bool {
    allow.is_empty() || ip.is_some_and(|ip| allow.iter().any(|c| c.contains(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "v4-mapped");
        assert!(!net.contains(ip("fd00::1")));
        let host = Cidr::parse("127.0.0.1").unwrap();
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn bad_networks_are_refused_with_the_rule() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "nowhere",
            "::/129",
            "10.0.0.0/x",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_list_allows_everyone_and_a_list_only_its_networks() {
        assert!(allowed(&[], None));
        let lo = [Cidr::parse("127.0.0.0/8").unwrap()];
        assert!(allowed(&lo, Some(ip("127.0.0.1"))));
        assert!(!allowed(&lo, Some(ip("192.168.1.1"))));
        assert!(!allowed(&lo, None));
    }
}
