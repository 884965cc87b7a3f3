//! Whether a certificate is valid for a host name or IP address ([`matches_host`]), by
//! the rules of RFC 6125 as OpenSSL's `-verify_hostname` applies them.

use super::CertInfo;
use std::net::IpAddr;

fn normalize_dns(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// RFC 6125 matching of one reference host name against one dNSName: case-insensitive,
/// a wildcard only as the whole left-most label, standing for exactly one label, and not
/// directly under a top-level name (`*.com`).
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    // `host` is normalized already (lower case); the pattern is compared as if it were.
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    if suffix.contains('*') || !suffix.contains('.') {
        return false;
    }
    match host.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
        None => false,
    }
}

/// Whether the leaf is valid for `host`: IP hosts against iPAddress SANs only; names
/// against dNSName SANs, or against the CN when there is no dNSName at all.
pub fn matches_host(leaf: &CertInfo, host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return leaf.ip_addresses.contains(&ip);
    }
    let host = normalize_dns(bare);
    if leaf.dns_names.is_empty() {
        return leaf
            .common_name
            .as_deref()
            .is_some_and(|cn| dns_name_matches(cn, &host));
    }
    leaf.dns_names.iter().any(|n| dns_name_matches(n, &host))
}
