//! Where requests to addresses that users (or payloads they can sign) give may go: webhook
//! deliveries, media URLs. A host is resolved and every private, loopback, link-local, CGNAT,
//! unique-local, site-local, multicast, unspecified, benchmarking, documentation (TEST-NET),
//! discard-only or IPv4-mapped/compatible address is refused unless an
//! allowed network contains it — except link-local (cloud metadata), refused always. The HTTP
//! client resolves through [`VettedResolver`], so the connection goes to the address that was
//! checked: a DNS answer that changes between check and connect (rebinding) changes nothing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A network, like `127.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s.split_once('/').ok_or_else(|| format!("{s:?} is not a CIDR like 10.0.0.0/8"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("{a:?} is not an IP address"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("{p:?} is not a prefix length"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("prefix /{prefix} is too long"));
        }
        Ok(Self { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Why an address is not public, if it is not.
pub fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Some(v4_kind(v4).map_or("IPv4-mapped", |_| "IPv4-mapped private"));
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("unique-local")
            } else if s[0] & 0xffc0 == 0xfec0 {
                // Deprecated site-local (RFC 3879): still routed inside some networks.
                Some("site-local")
            } else if s[..4] == [0x100, 0, 0, 0] {
                Some("discard-only")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[..6] == [0, 0, 0, 0, 0, 0] {
                Some("IPv4-compatible")
            } else if s[0] == 0x2002 || (s[0] == 0x2001 && s[1] == 0) || s[0] == 0x64 && s[1] == 0xff9b {
                // 6to4, Teredo and NAT64 embed an IPv4 address we cannot vet.
                Some("IPv4-embedding")
            } else {
                None
            }
        }
    }
}

fn v4_kind(v4: Ipv4Addr) -> Option<&'static str> {
    let o = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("CGNAT")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        // 198.18.0.0/15: benchmarking networks, often internal lab or appliance ranges.
        Some("benchmarking")
    } else if matches!((o[0], o[1], o[2]), (192, 0, 2) | (198, 51, 100) | (203, 0, 113)) {
        Some("documentation (TEST-NET)")
    } else if v4.is_broadcast() || o[0] == 0 || o[0] >= 240 || (o[0] == 192 && o[1] == 0 && o[2] == 0) {
        Some("reserved")
    } else {
        None
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local()) || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The rules: which non-public networks are allowed.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow: Vec<Cidr>,
    /// Only the allowed networks, public addresses refused too (`WEBHOOK_ONLY_ALLOWED_CIDRS`):
    /// for fuzzing and sandboxes, where no delivery may leave the machine.
    pub only_allowed: bool,
}

impl Policy {
    /// `Err(reason)` when deliveries must not go to `ip`; the reason names `ip`, so it is only
    /// for addresses the caller wrote themselves.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        self.refusal(ip).map_err(|kind| format!("{ip} is a {kind} address"))
    }

    /// `Err(kind of address)` when deliveries must not go to `ip`.
    pub fn refusal(&self, ip: IpAddr) -> Result<(), &'static str> {
        if is_link_local(ip) {
            return Err("link-local (metadata services live there)");
        }
        let allowed = self.allow.iter().any(|c| c.contains(ip));
        if self.only_allowed && !allowed {
            return Err("outside the allowed networks");
        }
        match private_kind(ip) {
            None => Ok(()),
            Some(_) if self.allow.iter().any(|c| c.contains(ip)) => Ok(()),
            Some(kind) => Err(kind),
        }
    }

    /// Validates a URL for a new endpoint: http(s), a host, no credentials, and every address the
    /// host resolves to allowed.
    pub async fn check_url(&self, raw: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(raw).map_err(|_| "is not a valid URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".to_owned());
        }
        if raw.len() > 2000 {
            return Err("must be at most 2000 characters".to_owned());
        }
        let host = url.host_str().ok_or_else(|| "must have a host".to_owned())?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<IpAddr> = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| format!("host {host} does not resolve"))?
                .map(|a| a.ip())
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("host {host} does not resolve"));
        }
        for ip in addrs {
            // The reason names the kind of address, never the address a name resolved to: the
            // answer must not turn the API into a resolver of internal names.
            if let Err(kind) = self.refusal(ip) {
                return Err(format!("must not point to a {kind} address"));
            }
        }
        Ok(url)
    }
}

/// Resolves for the HTTP client, keeping only allowed addresses.
pub struct VettedResolver {
    pub policy: Arc<Policy>,
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.check(a.ip()).is_ok()).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no address deliveries may reach").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// An IP literal in a URL is not resolved by the client: check it before sending.
pub fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &Policy, ip: &str) -> bool {
        p.check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let p = Policy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2002:7f00:1::",
            "64:ff9b::a00:1",
            "198.18.0.1",
            "198.19.255.254",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "fec0::1",
            "feff::1",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
        ] {
            assert!(refused(&p, ip), "{ip} should be refused");
        }
        // Neighbours of the refused ranges stay reachable.
        for ip in [
            "93.184.216.34",
            "2606:4700:4700::1111",
            "8.8.8.8",
            "198.20.0.1",
            "198.17.255.255",
            "192.0.3.1",
            "100:0:0:1::1",
        ] {
            assert!(!refused(&p, ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn only_allowed_networks_refuses_public_addresses() {
        let p = Policy { allow: vec!["127.0.0.0/8".parse().unwrap()], only_allowed: true };
        assert!(p.refusal("93.184.216.34".parse().unwrap()).is_err());
        assert!(p.refusal("127.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn an_allow_list_opens_networks_but_never_link_local() {
        let p = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap(), "169.254.0.0/16".parse().unwrap()],
            only_allowed: false,
        };
        assert!(!refused(&p, "127.0.0.1"));
        assert!(refused(&p, "10.0.0.1"));
        assert!(refused(&p, "169.254.169.254"));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }

    #[tokio::test]
    async fn urls_are_checked_at_creation() {
        let p = Policy::default();
        for bad in [
            "ftp://example.com/x",
            "http://user:pw@example.com/",
            "not a url",
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://localhost/",
        ] {
            assert!(p.check_url(bad).await.is_err(), "{bad}");
        }
        // The reason never shows the address a name resolved to.
        let reason = p.check_url("http://localhost/").await.unwrap_err();
        assert!(!reason.contains("127.0.0.1") && !reason.contains("::1"), "{reason}");
        assert!(reason.contains("loopback"), "{reason}");
        let local = Policy { allow: vec!["127.0.0.0/8".parse().unwrap()], only_allowed: false };
        assert!(local.check_url("http://127.0.0.1:8080/hook").await.is_ok());
    }
}
