//! Which connections a command reports: [`Filter`] (failed only, server name, host, port)
//! and [`Selection`] (the filter, all or failed, with fingerprints or not).

use super::ConnectionReport;
use std::net::IpAddr;

/// Which connections a command reports.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub failed_only: bool,
    pub sni: Option<String>,
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
}

impl Filter {
    /// True when the connection passes the SNI, host and port filters (not `failed_only`).
    pub fn matches_endpoints(&self, r: &ConnectionReport) -> bool {
        if let Some(ip) = self.host
            && r.client.ip() != ip
            && r.server.ip() != ip
        {
            return false;
        }
        if let Some(port) = self.port
            && r.client.port() != port
            && r.server.port() != port
        {
            return false;
        }
        match &self.sni {
            None => true,
            Some(want) => r.sni().is_some_and(|sni| sni_matches(want, sni)),
        }
    }

    pub fn selects(&self, r: &ConnectionReport) -> bool {
        self.matches_endpoints(r) && (!self.failed_only || r.failed())
    }
}

/// Case-insensitive, ignoring a trailing dot; `*.parent` matches names below `parent`.
/// Runs for every connection when `--sni` is given: compares in place, no copies.
fn sni_matches(pattern: &str, sni: &str) -> bool {
    let sni = sni.trim_end_matches('.');
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(parent) => {
            // Bytes, not str slices: a name need not be ASCII (nor cut at a char boundary).
            let (sni, parent) = (sni.as_bytes(), parent.as_bytes());
            sni.len() > parent.len() + 1
                && sni[sni.len() - parent.len() - 1] == b'.'
                && sni[sni.len() - parent.len()..].eq_ignore_ascii_case(parent)
        }
        None => sni.eq_ignore_ascii_case(pattern),
    }
}

/// Which connections are reported, and with what.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: Filter,
    /// Every selected connection, not only the failed ones.
    pub all: bool,
    /// Take the JA3/JA3S/JA4 fingerprints (the JSON report shows them; text does not, and
    /// hashing them for every connection is a good part of a large capture's cost).
    pub fingerprints: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_patterns() {
        assert!(sni_matches("Example.COM", "example.com."));
        assert!(!sni_matches("example.com", "www.example.com"));
        assert!(sni_matches("*.example.com", "WWW.example.com"));
        assert!(sni_matches("*.example.com.", "a.b.example.com"));
        assert!(!sni_matches("*.example.com", "example.com"));
        assert!(!sni_matches("*.example.com", "badexample.com"));
        assert!(!sni_matches("*.example.com", "é.xample.com"));
        assert!(sni_matches("*.example.com", "é.example.com"));
    }
}
