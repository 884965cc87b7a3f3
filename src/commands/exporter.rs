//! `shakedown exporter`: probes for Prometheus in blackbox_exporter's multi-target pattern.
//! A scrape of `/probe?target=HOST:PORT&module=NAME` probes every address the name resolves
//! to, once each, and returns typed results; `report::prometheus` writes them as metrics.
//!
//! What a scrape may ask for is bounded here: targets must match the allow-list (an
//! exporter that probes anything is an open relay), the query string is parsed without
//! trusting it, the probe's timeout stays below the scraper's, and a target has at most
//! `--max-per-target` scrapes in flight (one stalling backend cannot hold every worker).

use crate::commands::ConnectConfig;
use crate::commands::probe::{self, HelloSource, ProbeResult};
use crate::io::net::Target;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Longest query string read.
pub const MAX_QUERY: usize = 4096;
/// Most addresses probed for one name.
pub const MAX_ADDRESSES: usize = 16;

/// One way to probe (`module=NAME`): the hello and how to connect.
#[derive(Debug, Clone)]
pub struct Module {
    pub hello: HelloSource,
    pub connecting: ConnectConfig,
    /// Days before expiry at which `shakedown_certificate_expiring` turns 1, largest first.
    pub warn_days: Vec<u32>,
    /// `--at` was given: certificates are judged as of that moment, not the scrape's.
    pub at_fixed: bool,
}

/// What may be probed: host name patterns (`db.example.com`, `*.example.com`) and address
/// ranges (`10.0.0.0/8`, `::1/128`), or everything (`any`).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    any: bool,
    names: Vec<String>,
    ranges: Vec<(IpAddr, u32)>,
}

impl AllowList {
    pub fn parse(patterns: &[String]) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for p in patterns {
            if p == "any" {
                list.any = true;
            } else if let Some((addr, bits)) = p.split_once('/') {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("--allow {p:?}: {addr:?} is not an IP address"))?;
                let width = if addr.is_ipv4() { 32 } else { 128 };
                let bits: u32 =
                    bits.parse().ok().filter(|&b| b <= width).ok_or_else(|| {
                        format!("--allow {p:?}: prefix length must be 0 to {width}")
                    })?;
                list.ranges.push((addr, bits));
            } else if let Ok(addr) = p.parse::<IpAddr>() {
                list.ranges
                    .push((addr, if addr.is_ipv4() { 32 } else { 128 }));
            } else {
                list.names.push(p.to_ascii_lowercase());
            }
        }
        Ok(list)
    }

    /// `host` (as asked for) and the address it resolved to are both allowed: a name must
    /// match a name pattern or resolve into an allowed range.
    pub fn allows(&self, host: &str, addr: IpAddr) -> bool {
        if self.any {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let named = self.names.iter().any(|p| match p.strip_prefix("*.") {
            Some(parent) => host.len() > parent.len() + 1 && host.ends_with(&format!(".{parent}")),
            None => *p == host,
        });
        named
            || self
                .ranges
                .iter()
                .any(|&(net, bits)| in_range(addr, net, bits))
    }
}

fn in_range(addr: IpAddr, net: IpAddr, bits: u32) -> bool {
    let (a, n, width) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let host_bits = width - bits;
    if host_bits >= 128 {
        return true;
    }
    a >> host_bits == n >> host_bits
}

/// Why a scrape got no probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the query is not one we take.
    BadRequest(String),
    /// 403: the target is not on the allow-list.
    NotAllowed(String),
    /// 503: the target already has `--max-per-target` scrapes in flight.
    Busy(String),
}

/// Scrapes in flight per target (the `target=` value, host name lower-cased), at most
/// `max` each; the workers bound all scrapes together.
#[derive(Debug)]
pub struct InFlight {
    max: usize,
    counts: Mutex<HashMap<String, usize>>,
}

/// A scrape's place in [`InFlight`], given back when dropped.
#[derive(Debug)]
pub struct InFlightSlot<'a> {
    set: &'a InFlight,
    key: String,
}

impl InFlight {
    pub fn new(max: usize) -> InFlight {
        InFlight {
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more scrape of `target`, or [`Refusal::Busy`] when it has `max`.
    pub fn enter(&self, target: &str) -> Result<InFlightSlot<'_>, Refusal> {
        let key = target.trim().to_ascii_lowercase();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return Err(Refusal::Busy(format!(
                "{target}: {} scrapes already in flight (--max-per-target)",
                self.max
            )));
        }
        *n += 1;
        Ok(InFlightSlot { set: self, key })
    }
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        let mut counts = self.set.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// A scrape's probes: one per address, in resolver order.
#[derive(Debug)]
pub struct Scrape {
    pub target: String,
    pub module: String,
    pub probes: Vec<(IpAddr, ProbeResult)>,
    /// Name resolution failed: no address to probe.
    pub resolve_error: Option<String>,
    pub warn_days: Vec<u32>,
    /// The clock the certificates were judged by (Unix seconds).
    pub now_unix: i64,
}

/// The `target` and `module` of a query string (percent-decoded; unknown keys ignored).
pub fn parse_query(query: &str) -> Result<(String, String), Refusal> {
    if query.len() > MAX_QUERY {
        return Err(Refusal::BadRequest("query string too long".into()));
    }
    let mut fields = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        fields.insert(percent_decode(k)?, percent_decode(v)?);
    }
    let target = fields
        .remove("target")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::BadRequest("missing target= (HOST:PORT)".into()))?;
    let module = fields.remove("module").unwrap_or_else(|| "default".into());
    Ok((target, module))
}

fn percent_decode(s: &str) -> Result<String, Refusal> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Refusal::BadRequest(format!("bad %-escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Refusal::BadRequest("query is not UTF-8".into()))
}

/// Runs a scrape: the module's probe of every allowed address of `target`, each within
/// `budget` (the scraper's timeout, shared out).
pub fn scrape(
    target: &str,
    module_name: &str,
    modules: &BTreeMap<String, Module>,
    allow: &AllowList,
    budget: Option<Duration>,
) -> Result<Scrape, Refusal> {
    let module = modules
        .get(module_name)
        .ok_or_else(|| Refusal::BadRequest(format!("unknown module {module_name:?}")))?;
    let base = module
        .connecting
        .target(target)
        .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let mut scrape = Scrape {
        target: base.display(),
        module: module_name.to_string(),
        probes: Vec::new(),
        resolve_error: None,
        warn_days: module.warn_days.clone(),
        now_unix: module.connecting.check_time,
    };
    // The same resolution as probe's: every address, narrowed by the module's -4, -6,
    // --one-address and --resolve.
    let resolved = module
        .connecting
        .addresses
        .per_address(&base)
        .map_err(Refusal::BadRequest)?;
    let addresses: Vec<IpAddr> = resolved
        .iter()
        .filter_map(|t| t.connect)
        .take(MAX_ADDRESSES)
        .collect();
    if addresses.is_empty() {
        // per_address leaves a name the resolver does not know unpinned.
        if !allow.allows(&base.host, IpAddr::from([0, 0, 0, 0])) {
            return Err(Refusal::NotAllowed(format!("{} is not allowed", base.host)));
        }
        scrape.resolve_error = Some(match base.resolve() {
            Err(e) => e.to_string(),
            Ok(_) => format!("{} resolves to no address", base.host),
        });
        return Ok(scrape);
    }
    if let Some(denied) = addresses.iter().find(|a| !allow.allows(&base.host, **a)) {
        return Err(Refusal::NotAllowed(format!(
            "{} ({denied}) is not allowed",
            base.host
        )));
    }
    let mut connecting = module.connecting.clone();
    if let Some(budget) = budget {
        // Every address in turn within the scraper's time, a little kept for the answer.
        let per =
            budget.saturating_sub(Duration::from_millis(500)) / (addresses.len().max(1) as u32);
        let per = per.max(Duration::from_millis(100));
        connecting.limits.connect_timeout = connecting.limits.connect_timeout.min(per);
        connecting.limits.read_timeout = connecting.limits.read_timeout.min(per);
    }
    for addr in addresses {
        let target = Target {
            connect: Some(addr),
            ..base.clone()
        };
        let cfg = connecting.probe(target, module.hello.clone());
        scrape.probes.push((addr, probe::run(&cfg)));
    }
    Ok(scrape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_names_and_ranges() {
        let allow = AllowList::parse(&[
            "*.example.com".into(),
            "127.0.0.0/8".into(),
            "db.test".into(),
        ])
        .unwrap();
        let lo: IpAddr = "127.0.0.2".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(allow.allows("anything", lo));
        assert!(allow.allows("www.example.com", other));
        assert!(allow.allows("DB.test.", other));
        assert!(!allow.allows("example.com", other));
        assert!(!allow.allows("evil.test", other));
        assert!(!allow.allows("x", "::1".parse().unwrap()));
        assert!(
            AllowList::parse(&["any".into()])
                .unwrap()
                .allows("x", other)
        );
        assert!(AllowList::parse(&["10.0.0.0/40".into()]).is_err());
    }

    #[test]
    fn in_flight_is_bounded_per_target_and_given_back() {
        let set = InFlight::new(2);
        let a1 = set.enter("a.test:443").unwrap();
        let _a2 = set.enter("A.test:443").unwrap();
        assert!(matches!(set.enter("a.test:443"), Err(Refusal::Busy(_))));
        let _b = set.enter("b.test:443").unwrap();
        drop(a1);
        let _a3 = set.enter("a.test:443").unwrap();
        assert!(matches!(set.enter("a.test:443"), Err(Refusal::Busy(_))));
    }

    #[test]
    fn hostile_query_strings_are_refused_not_trusted() {
        assert_eq!(
            parse_query("target=a.test%3A8443&module=m").unwrap(),
            ("a.test:8443".into(), "m".into())
        );
        assert_eq!(parse_query("target=x").unwrap().1, "default");
        for bad in [
            "",
            "module=x",
            "target=%zz",
            "target=%f",
            "target=%ff%fe",
            "target=",
        ] {
            assert!(
                matches!(parse_query(bad), Err(Refusal::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(parse_query(&"a".repeat(MAX_QUERY + 1)).is_err());
        // Arbitrary bytes never panic.
        for n in 0..2000u32 {
            let q: String = (0..(n % 40))
                .map(|i| char::from_u32(((n * 31 + i * 7) % 128) + 1).unwrap_or('x'))
                .collect();
            let _ = parse_query(&q);
        }
    }
}
