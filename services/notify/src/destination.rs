//! Where a webhook may be sent: only to public `https://` addresses, so a directory entry
//! cannot turn notify into a probe of the networks it runs in (cloud metadata at
//! 169.254.169.254, cluster services, the host's own ports).
//!
//! The rule is applied twice: to the URL when a directory file is imported and before each
//! delivery ([`check_url`]: scheme, IP literals, internal names), and to every address a name
//! resolves to when connecting ([`PublicOnly`], the HTTP client's resolver), so a name that
//! resolved to a public address at import and to an internal one later (DNS rebinding) is still
//! refused. Exceptions are explicit operator settings in [`WebhookConfig`]: named internal
//! hosts (`allowed_internal_hosts`), and loopback over plain `http://` for development and tests
//! (`allow_loopback`, off by default).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};
use url::Host;

use crate::config::WebhookConfig;

/// Name suffixes that only mean something inside a network: Kubernetes services, mDNS, the
/// reserved internal and home names.
const INTERNAL_SUFFIXES: [&str; 7] = [
    ".svc",
    ".cluster.local",
    ".local",
    ".localhost",
    ".internal",
    ".home.arpa",
    ".localdomain",
];

/// Why a webhook URL is not accepted, in words safe to show to the directory's operator.
pub type Refusal = String;

/// `url` parsed, if `config` lets webhooks go there.
pub fn check_url(url: &str, config: &WebhookConfig) -> Result<Url, Refusal> {
    let parsed = Url::parse(url).map_err(|error| format!("bad URL ({error})"))?;
    let host = parsed
        .host()
        .ok_or_else(|| "bad URL (no host)".to_string())?;
    let allowed_by_name = config.allows_internal_host(&host.to_string());
    let loopback = match &host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback && config.allow_loopback => {}
        "http" => {
            return Err("needs https:// (plain http:// only to loopback in development)".into());
        }
        _ => return Err("bad URL (needs https://)".into()),
    }
    if allowed_by_name || (loopback && config.allow_loopback) {
        return Ok(parsed);
    }
    let internal = match &host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            loopback
                || !name.contains('.')
                || INTERNAL_SUFFIXES
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
        }
        Host::Ipv4(ip) => !is_public(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => !is_public(IpAddr::V6(*ip)),
    };
    if internal {
        return Err(format!(
            "{host} is not a public address (an operator may allow it in webhook.allowed_internal_hosts)"
        ));
    }
    Ok(parsed)
}

/// Whether `ip` is globally routable: not loopback, private, link-local, unique-local, shared
/// (CGNAT), documentation, benchmarking, multicast, reserved or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, RFC 6890.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, RFC 2544.
        || (a == 198 && (18..20).contains(&b))
        // Reserved, RFC 1112.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Addresses that carry an IPv4 address are as public as that address: mapped
    // (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, high, low] = segments;
        return is_public_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // Documentation, RFC 3849.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // 6to4 (RFC 3056) embeds any IPv4 address, internal ones too.
        || segments[0] == 0x2002
        // Discard-only, RFC 6666.
        || segments[..4] == [0x100, 0, 0, 0])
}

/// The HTTP client's resolver: the system's answer, without the addresses webhooks may not
/// reach (see the module documentation).
#[derive(Clone)]
pub struct PublicOnly {
    config: Arc<WebhookConfig>,
    inner: Arc<dyn Resolve>,
}

impl PublicOnly {
    /// Filters what `inner` resolves with `config`'s exceptions.
    pub fn new(config: Arc<WebhookConfig>, inner: Arc<dyn Resolve>) -> Self {
        Self { config, inner }
    }

    /// Filters the operating system's resolver.
    pub fn system(config: Arc<WebhookConfig>) -> Self {
        Self::new(config, Arc::new(SystemResolver))
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let (config, inner) = (self.config.clone(), self.inner.clone());
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved = inner.resolve(name).await?;
            if config.allows_internal_host(&host) {
                return Ok(resolved);
            }
            let kept: Vec<SocketAddr> = resolved
                .filter(|address| {
                    is_public(address.ip()) || (config.allow_loopback && address.ip().is_loopback())
                })
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> WebhookConfig {
        WebhookConfig::default()
    }

    #[test]
    fn only_public_https_urls_pass_by_default() {
        assert!(check_url("https://hooks.example.org/tandem", &strict()).is_ok());
        assert!(check_url("https://93.184.215.14/hook", &strict()).is_ok());
        assert!(check_url("https://[2606:4700::1111]/hook", &strict()).is_ok());
        for refused in [
            "http://hooks.example.org/tandem",
            "ftp://hooks.example.org/tandem",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://127.0.0.1:8080/hook",
            "https://[::1]/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hook",
            "https://0.0.0.0/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[64:ff9b::a00:1]/hook",
            "https://notify-iom.tandem.svc/hook",
            "https://nats.tandem.svc.cluster.local/hook",
            "https://printer.local/hook",
            "https://metadata.google.internal/hook",
            "https://intranet/hook",
            "https://intranet./hook",
        ] {
            assert!(check_url(refused, &strict()).is_err(), "{refused} passed");
        }
    }

    #[test]
    fn operators_allow_named_internal_hosts_and_loopback_explicitly() {
        let config = WebhookConfig {
            allowed_internal_hosts: vec!["receiver.tandem.svc".into(), "10.1.2.3".into()],
            ..WebhookConfig::default()
        };
        assert!(check_url("https://receiver.tandem.svc/hook", &config).is_ok());
        assert!(check_url("https://Receiver.Tandem.svc./hook", &config).is_ok());
        assert!(check_url("https://10.1.2.3/hook", &config).is_ok());
        assert!(check_url("https://other.tandem.svc/hook", &config).is_err());
        assert!(check_url("http://receiver.tandem.svc/hook", &config).is_err());
        assert!(check_url("http://127.0.0.1:8080/hook", &config).is_err());

        let development = WebhookConfig {
            allow_loopback: true,
            ..WebhookConfig::default()
        };
        assert!(check_url("http://127.0.0.1:8080/hook", &development).is_ok());
        assert!(check_url("http://localhost:8080/hook", &development).is_ok());
        assert!(check_url("http://[::1]:8080/hook", &development).is_ok());
        assert!(check_url("http://10.1.2.3/hook", &development).is_err());
        assert!(check_url("http://hooks.example.org/hook", &development).is_err());
    }
}
