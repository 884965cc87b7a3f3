//! The targets of a fleet scan: parsed from the lines people and pipelines write, kept
//! compact (a CIDR range is one entry however many addresses it holds), indexed in input
//! order, and split into deterministic shards so N machines can share one list without
//! talking to each other (as zmap's `--shard`).
//!
//! Line forms (comments start with `#`):
//! - `HOST`, `HOST:PORT`, `[V6]:PORT`, a bare IPv6 literal — a name or an address;
//! - `IP,NAME` or `IP:PORT,NAME` — dial IP, send NAME as the server name;
//! - `A.B.C.D/N`, `V6/N`, with `:PORT` (IPv4) or `[V6/N]:PORT` — every address in the range;
//! - zgrab2's CSV `IP, DOMAIN, TAG` (either of IP or DOMAIN may be empty) with an optional
//!   fourth `PORT` column — the tag is carried into the result.

use crate::io::net::Target;
use std::net::IpAddr;

/// Largest range one line may name (a /8 of IPv4, or a /104 of IPv6): bigger ranges are
/// refused rather than scanned by accident.
pub const MAX_RANGE: u64 = 1 << 24;

/// One target of the list, as scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    pub target: Target,
    /// zgrab2's TAG column, when the line had one.
    pub tag: Option<String>,
}

impl ScanTarget {
    /// What identifies this target in an output (`--resume`): the target as scanned and the
    /// address dialed, if one was given.
    pub fn key(&self) -> String {
        resume_key(&self.target.display(), self.target.connect)
    }

    /// The target as a line this module reads back (`--list-targets`).
    pub fn line(&self) -> String {
        let mut line = match self.target.connect {
            Some(ip) => format!(
                "{},{}",
                Target {
                    host: ip.to_string(),
                    port: self.target.port,
                    connect: None,
                    starttls: None,
                    preamble_host: None,
                }
                .display(),
                self.target.host
            ),
            None => self.target.display(),
        };
        if let Some(tag) = &self.tag {
            // zgrab2's form, so the tag survives: IP, DOMAIN, TAG, PORT.
            let ip = self.target.connect.map(|ip| ip.to_string());
            let (ip, domain) = match (ip, self.target.ip_literal()) {
                (Some(ip), _) => (ip, self.target.host.clone()),
                (None, Some(_)) => (self.target.host.clone(), String::new()),
                (None, None) => (String::new(), self.target.host.clone()),
            };
            line = format!("{ip}, {domain}, {tag}, {}", self.target.port);
        }
        line
    }
}

/// The `--resume` key of a result: its `target` and `connect` fields.
pub fn resume_key(target: &str, connect: Option<IpAddr>) -> String {
    match connect {
        Some(ip) => format!("{target} via {ip}"),
        None => target.to_string(),
    }
}

/// A line's targets: one, or a range of consecutive addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    One(ScanTarget),
    Range {
        first: u128,
        v6: bool,
        count: u64,
        port: u16,
    },
}

impl Entry {
    fn len(&self) -> u64 {
        match self {
            Entry::One(_) => 1,
            Entry::Range { count, .. } => *count,
        }
    }
}

/// Every target in input order; `get(i)` builds the `i`-th (ranges are never expanded in
/// memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetList {
    entries: Vec<Entry>,
    /// The index of each entry's first target.
    starts: Vec<u64>,
    len: u64,
}

impl TargetList {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the target(s) of one line (already stripped of comments, not empty).
    /// `default_port` applies where the line names none; `connect` (`--connect`) aims every
    /// name-only target at one address.
    pub fn push_line(
        &mut self,
        line: &str,
        default_port: u16,
        connect: Option<IpAddr>,
    ) -> Result<(), String> {
        let entry = parse_line(line.trim(), default_port, connect)?;
        self.starts.push(self.len);
        self.len = self
            .len
            .checked_add(entry.len())
            .ok_or("too many targets")?;
        self.entries.push(entry);
        Ok(())
    }

    /// The `i`-th target (`None` past the end).
    pub fn get(&self, i: u64) -> Option<ScanTarget> {
        if i >= self.len {
            return None;
        }
        let e = self.starts.partition_point(|&s| s <= i) - 1;
        Some(match &self.entries[e] {
            Entry::One(t) => t.clone(),
            Entry::Range {
                first, v6, port, ..
            } => {
                let n = first + u128::from(i - self.starts[e]);
                let ip: IpAddr = if *v6 {
                    std::net::Ipv6Addr::from(n).into()
                } else {
                    std::net::Ipv4Addr::from(n as u32).into()
                };
                ScanTarget {
                    target: Target {
                        host: ip.to_string(),
                        port: *port,
                        connect: None,
                        starttls: None,
                        preamble_host: None,
                    },
                    tag: None,
                }
            }
        })
    }
}

/// `--shard I/N`: the targets whose index is I modulo N (0 ≤ I < N). Deterministic, so N
/// machines given the same list and shards 0…N-1 scan every target exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The list indices of this shard, in order.
    pub fn indices(self, len: u64) -> impl Iterator<Item = u64> {
        (self.index..len).step_by(self.count as usize)
    }

    /// How many targets of a `len`-target list fall in this shard.
    pub fn len(self, len: u64) -> u64 {
        len.saturating_sub(self.index).div_ceil(self.count)
    }
}

fn parse_line(line: &str, default_port: u16, connect: Option<IpAddr>) -> Result<Entry, String> {
    if line.contains(',') {
        return parse_pair_or_csv(line, default_port);
    }
    if let Some(range) = parse_range(line, default_port)? {
        return Ok(range);
    }
    let mut target = Target::parse(line, default_port)?;
    target.connect = connect.or(target.connect);
    Ok(Entry::One(ScanTarget { target, tag: None }))
}

/// `IP,NAME`, `IP:PORT,NAME`, or zgrab2's `IP, DOMAIN, TAG[, PORT]`.
fn parse_pair_or_csv(line: &str, default_port: u16) -> Result<Entry, String> {
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    let (address, name, tag, port) = match cols[..] {
        [address, name] => (address, name, None, None),
        [address, name, tag] => (address, name, Some(tag), None),
        [address, name, tag, port] => (address, name, Some(tag), Some(port)),
        _ => {
            return Err(format!(
                "target {line:?}: expected IP,NAME or IP, DOMAIN, TAG[, PORT]"
            ));
        }
    };
    let port = match port.filter(|p| !p.is_empty()) {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("target {line:?}: bad port {p:?}"))?,
        ),
        None => None,
    };
    let tag = tag.filter(|t| !t.is_empty()).map(str::to_string);
    let dial = if address.is_empty() {
        None
    } else {
        Some(Target::parse(address, port.unwrap_or(default_port))?)
    };
    if let Some(d) = &dial
        && d.ip_literal().is_none()
    {
        return Err(format!(
            "target {line:?}: the first column must be an IP address, not {:?}",
            d.host
        ));
    }
    let port = port
        .or(dial.as_ref().map(|d| d.port))
        .unwrap_or(default_port);
    let target = match (dial, name) {
        (None, "") => return Err(format!("target {line:?}: neither an address nor a name")),
        (Some(d), "") => d,
        (dial, name) => {
            let mut t = Target::parse(name, port)?;
            if t.port != port && name.contains(':') && t.ip_literal().is_none() {
                return Err(format!(
                    "target {line:?}: give the port with the address, not the name"
                ));
            }
            t.port = port;
            t.connect = dial.and_then(|d| d.ip_literal());
            t
        }
    };
    Ok(Entry::One(ScanTarget { target, tag }))
}

/// `A.B.C.D/N[:PORT]`, `V6/N`, `[V6/N]:PORT`; `None` when the line is not a range.
fn parse_range(line: &str, default_port: u16) -> Result<Option<Entry>, String> {
    if !line.contains('/') {
        return Ok(None);
    }
    let (cidr, port) = if let Some(rest) = line.strip_prefix('[') {
        let (cidr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("target {line:?}: missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(line, p)?,
            None if after.is_empty() => default_port,
            None => return Err(format!("target {line:?}: expected ':PORT' after ']'")),
        };
        (cidr, port)
    } else if line.contains("::") || line.matches(':').count() > 1 {
        (line, default_port)
    } else {
        match line.split_once(':') {
            Some((cidr, p)) => (cidr, parse_port(line, p)?),
            None => (line, default_port),
        }
    };
    let (addr, bits) = cidr
        .split_once('/')
        .ok_or_else(|| format!("target {line:?}: expected ADDRESS/BITS"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("target {line:?}: {addr:?} is not an IP address"))?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let bits: u32 = bits
        .parse()
        .ok()
        .filter(|&b| b <= width)
        .ok_or_else(|| format!("target {line:?}: prefix length must be 0 to {width}"))?;
    let host_bits = width - bits;
    if host_bits > MAX_RANGE.trailing_zeros() {
        return Err(format!(
            "target {line:?}: a /{bits} holds more than {MAX_RANGE} addresses; split it"
        ));
    }
    let n = match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let first = n & !((1u128 << host_bits) - 1);
    Ok(Some(Entry::Range {
        first,
        v6: addr.is_ipv6(),
        count: 1u64 << host_bits,
        port,
    }))
}

fn parse_port(line: &str, p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("target {line:?}: bad port {p:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(lines: &[&str]) -> TargetList {
        let mut l = TargetList::default();
        for line in lines {
            l.push_line(line, 443, None).unwrap();
        }
        l
    }

    fn shown(l: &TargetList) -> Vec<String> {
        (0..l.len()).map(|i| l.get(i).unwrap().line()).collect()
    }

    #[test]
    fn every_line_form() {
        let l = list(&[
            "a.test",
            "b.test:8443",
            "[::1]:9443",
            "192.0.2.1,shop.test",
            "192.0.2.2:8443,api.test",
            "192.0.2.3, web.test, blue",
            "192.0.2.4, , green, 993",
            ", only.test, red",
            "10.1.2.3/30",
            "10.9.0.0/31:8443",
            "[2001:db8::/127]:25",
        ]);
        assert_eq!(
            shown(&l),
            [
                "a.test:443",
                "b.test:8443",
                "[::1]:9443",
                "192.0.2.1:443,shop.test",
                "192.0.2.2:8443,api.test",
                "192.0.2.3, web.test, blue, 443",
                "192.0.2.4, , green, 993",
                ", only.test, red, 443",
                "10.1.2.0:443",
                "10.1.2.1:443",
                "10.1.2.2:443",
                "10.1.2.3:443",
                "10.9.0.0:8443",
                "10.9.0.1:8443",
                "[2001:db8::]:25",
                "[2001:db8::1]:25",
            ]
        );
        let pair = l.get(3).unwrap();
        assert_eq!(pair.target.host, "shop.test");
        assert_eq!(pair.target.connect, "192.0.2.1".parse().ok());
        assert_eq!(pair.key(), "shop.test:443 via 192.0.2.1");
        assert_eq!(l.get(5).unwrap().tag.as_deref(), Some("blue"));
        assert_eq!(l.get(16), None);
    }

    #[test]
    fn listed_lines_read_back_the_same() {
        let l = list(&[
            "192.0.2.3, web.test, blue",
            "192.0.2.2:8443,api.test",
            ", only.test, red, 8443",
            "[::1]:9443",
        ]);
        let again = list(&shown(&l).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(shown(&again), shown(&l));
        assert_eq!((0..4).map(|i| l.get(i)).collect::<Vec<_>>(), {
            (0..4).map(|i| again.get(i)).collect::<Vec<_>>()
        });
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, want) in [
            ("a.test,b.test", "must be an IP address"),
            ("1.2.3.4,a.test:80", "port with the address"),
            ("1,2,3,4,5", "expected IP,NAME"),
            (",", "neither"),
            ("10.0.0.0/33", "prefix length"),
            ("10.0.0.0/7", "split it"),
            ("2001:db8::/64", "split it"),
            ("10.0.0.0/24:0", "bad port"),
            ("1.2.3.4, x.test, t, 99999", "bad port"),
            ("nothost/24", "not an IP address"),
        ] {
            let err = TargetList::default()
                .push_line(line, 443, None)
                .unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn shards_split_the_list_exactly_once() {
        let l = list(&["10.0.0.0/28", "a.test", "b.test", "10.1.0.0/30"]);
        assert_eq!(l.len(), 22);
        for n in 1..=7 {
            let mut seen: Vec<u64> = (0..n)
                .flat_map(|i| Shard { index: i, count: n }.indices(l.len()))
                .collect();
            let sizes: u64 = (0..n)
                .map(|i| Shard { index: i, count: n }.len(l.len()))
                .sum();
            assert_eq!(sizes, 22);
            seen.sort();
            assert_eq!(seen, (0..22).collect::<Vec<_>>(), "{n} shards");
        }
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
