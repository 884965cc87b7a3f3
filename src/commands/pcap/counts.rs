//! Handshake counts by server, SNI, client version, outcome and cause: one table for
//! `pcap --summary` (a capture's counts, "why are handshakes failing on this box") and for
//! `watch --metrics` (the `shakedown_handshakes_total` counters). Both feed it the same
//! connection reports the per-connection lines come from, so the three agree.
//!
//! Label cardinality is bounded, because every distinct label set is a series Prometheus
//! stores forever: the first `max_labels` distinct SNIs, and likewise servers, keep their
//! own label; later ones are counted as `other`. Versions are the six names shakedown knows
//! (else `other`), outcomes and causes come from fixed tables, and past [`MAX_SERIES`]
//! distinct rows new servers and SNIs are folded into `other` as well. A name, once given a
//! label, keeps it: every series only ever grows, as a Prometheus counter must (a ranking by
//! count would move handshakes between series as traffic changes, and `rate()` would read
//! the drops as counter resets).

use super::ConnectionReport;
use crate::commands::SchemaVersion;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::sslv2::Sslv2ClientHello;
use crate::io::capture::CaptureStats;
use std::collections::{HashMap, HashSet};

/// The label value of every server, SNI or version beyond the bound.
pub const OTHER: &str = "other";

/// Distinct SNIs (and distinct servers) given their own label unless told otherwise.
pub const DEFAULT_MAX_LABELS: usize = 50;

/// Distinct rows kept before new servers and SNIs are folded into `other` whatever the
/// label limits (versions × outcomes × causes still multiply them).
pub const MAX_SERIES: usize = 10_000;

/// One row's labels. `sni` is empty when the client sent none (Prometheus reads an empty
/// label as an absent one); `cause` is the connection's first (most specific) diagnosis, or
/// `none`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    cause: &'static str,
    server: String,
    sni: String,
    version: &'static str,
    outcome: &'static str,
}

/// Handshakes counted by [`Key`], with the label bounds.
#[derive(Debug, Clone)]
pub struct HandshakeCounts {
    max_labels: usize,
    servers: HashSet<String>,
    snis: HashSet<String>,
    rows: HashMap<Key, u64>,
    handshakes: u64,
}

impl Default for HandshakeCounts {
    fn default() -> Self {
        HandshakeCounts::new(DEFAULT_MAX_LABELS)
    }
}

/// The client's highest offered version, by name (`other` for anything else, `""` when the
/// capture holds no hello from the client).
fn client_version(r: &ConnectionReport) -> &'static str {
    let v = &r.verdict;
    let id = match (&v.client_hello, &v.sslv2_client_hello) {
        (Some(h), _) => h.highest_version(),
        (None, Some(record)) => Sslv2ClientHello::decode(record)
            .map(|h| h.version)
            .unwrap_or(ProtocolVersion::SSLV2.0),
        (None, None) => return "",
    };
    ProtocolVersion(id).name().unwrap_or(OTHER)
}

impl HandshakeCounts {
    /// An empty table giving at most `max_labels` SNIs and as many servers their own label.
    pub fn new(max_labels: usize) -> Self {
        HandshakeCounts {
            max_labels,
            servers: HashSet::new(),
            snis: HashSet::new(),
            rows: HashMap::new(),
            handshakes: 0,
        }
    }

    /// `value` if it has, or can still get, its own label in `seen`; else `other`.
    fn labelled(seen: &mut HashSet<String>, limit: usize, room: bool, value: String) -> String {
        if seen.contains(&value) {
            value
        } else if room && seen.len() < limit {
            seen.insert(value.clone());
            value
        } else {
            OTHER.to_string()
        }
    }

    /// Counts one finished handshake.
    pub fn add(&mut self, r: &ConnectionReport) {
        self.handshakes += 1;
        let room = self.rows.len() < MAX_SERIES;
        let sni = match r.sni() {
            Some(name) => Self::labelled(&mut self.snis, self.max_labels, room, name.into()),
            None => String::new(),
        };
        let server = Self::labelled(
            &mut self.servers,
            self.max_labels,
            room,
            r.server.to_string(),
        );
        let key = Key {
            cause: r.diagnosis.first().map_or("none", |d| d.cause.id()),
            server,
            sni,
            version: client_version(r),
            outcome: r.outcome(),
        };
        *self.rows.entry(key).or_default() += 1;
    }

    /// Handshakes counted.
    pub fn handshakes(&self) -> u64 {
        self.handshakes
    }

    /// The table as a result: rows by count, most first (ties by cause, server, SNI,
    /// version, outcome).
    pub fn result(&self) -> HandshakeCountsLine {
        let mut rows: Vec<(&Key, u64)> = self.rows.iter().map(|(k, n)| (k, *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        HandshakeCountsLine {
            schema_version: SchemaVersion,
            handshake_counts: HandshakeCountsResult {
                handshakes: self.handshakes,
                max_labels: self.max_labels,
                rows: rows
                    .into_iter()
                    .map(|(k, count)| HandshakeCount {
                        cause: k.cause,
                        count,
                        outcome: k.outcome,
                        server: k.server.clone(),
                        sni: k.sni.clone(),
                        version: k.version,
                    })
                    .collect(),
            },
        }
    }
}

/// `pcap --summary`'s table: `{"handshake_counts": {...}}`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct HandshakeCountsLine {
    pub schema_version: SchemaVersion,
    pub handshake_counts: HandshakeCountsResult,
}

/// Handshakes by cause × server × SNI × client version × outcome.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct HandshakeCountsResult {
    /// TLS handshakes counted (the sum of the rows' counts).
    pub handshakes: u64,
    /// Distinct SNIs, and distinct servers, given their own label (the first seen); the
    /// rest are counted as `other` (`--max-labels`).
    pub max_labels: usize,
    /// Most first.
    pub rows: Vec<HandshakeCount>,
}

/// One combination of labels and its count.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct HandshakeCount {
    /// The first (most specific) cause diagnosed, as in the connection's `diagnosis`;
    /// `none` when nothing was found.
    pub cause: &'static str,
    pub count: u64,
    /// The connection's `outcome`.
    pub outcome: &'static str,
    /// IP:port, or `other` beyond the label bound.
    pub server: String,
    /// The server name the client asked for, `other` beyond the label bound; empty when
    /// the client sent none.
    pub sni: String,
    /// The client's highest offered version (supported_versions, else the hello's
    /// version): SSLv2 … TLSv1.3, `other` for any other value, empty when the capture has
    /// no hello from the client.
    pub version: &'static str,
}

/// The capture's own counters, shown beside the handshakes in the Prometheus text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounts {
    pub packets: u64,
    pub flows: u64,
    /// Flows ended early because the flow table was full.
    pub evicted_flows: u64,
    /// Flows ended by the idle timeout.
    pub expired_flows: u64,
    pub non_tls_flows: u64,
}

impl CaptureCounts {
    /// A reader's counters and the analyzer's count of flows without TLS.
    pub fn new(stats: &CaptureStats, non_tls_flows: u64) -> Self {
        CaptureCounts {
            packets: stats.packets,
            flows: stats.flows,
            evicted_flows: stats.evicted_flows,
            expired_flows: stats.expired_flows,
            non_tls_flows,
        }
    }

    /// The totals over a summary's inputs.
    pub fn of_summary(s: &super::PcapSummary) -> Self {
        s.inputs
            .iter()
            .fold(CaptureCounts::default(), |c, i| CaptureCounts {
                packets: c.packets + i.packets,
                flows: c.flows + i.flows,
                evicted_flows: c.evicted_flows + i.evicted_flows,
                expired_flows: c.expired_flows + i.expired_flows,
                non_tls_flows: c.non_tls_flows + i.non_tls_flows,
            })
    }
}

/// What `watch --metrics` serves, shared between the capture loop (which writes) and the
/// HTTP workers (which read).
#[derive(Debug, Clone, Default)]
pub struct WatchMetrics {
    pub handshakes: HandshakeCounts,
    pub capture: CaptureCounts,
}

impl WatchMetrics {
    pub fn new(max_labels: usize) -> Self {
        WatchMetrics {
            handshakes: HandshakeCounts::new(max_labels),
            capture: CaptureCounts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::capture::ReadOptions;

    /// The one connection of a bundled capture.
    fn report(name: &str) -> ConnectionReport {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name);
        let mut out = Vec::new();
        let file = std::fs::File::open(path).unwrap();
        super::super::analyze(
            file,
            &ReadOptions::default(),
            Default::default(),
            &mut |r| out.push(r),
        );
        out.pop().unwrap()
    }

    #[test]
    fn names_beyond_the_bound_are_other_and_labels_stay() {
        let mut r = report("cert_expired.pcap");
        let mut counts = HandshakeCounts::new(2);
        for name in ["a.test", "b.test", "c.test", "a.test", "d.test", "b.test"] {
            r.sni = Some(name.into());
            counts.add(&r);
        }
        let rows: Vec<(String, u64)> = counts
            .result()
            .handshake_counts
            .rows
            .into_iter()
            .map(|row| (row.sni, row.count))
            .collect();
        assert_eq!(
            rows,
            [
                ("a.test".into(), 2),
                ("b.test".into(), 2),
                ("other".into(), 2)
            ]
        );
        assert_eq!(counts.handshakes(), 6);
    }

    #[test]
    fn series_are_bounded_whatever_the_label_limit() {
        let mut r = report("cert_expired.pcap");
        let mut counts = HandshakeCounts::new(100_000);
        for i in 0..(MAX_SERIES as u32 + 500) {
            r.server = std::net::SocketAddr::from((std::net::Ipv4Addr::from(i), 443));
            counts.add(&r);
        }
        let result = counts.result().handshake_counts;
        assert_eq!(result.rows.len(), MAX_SERIES + 1);
        assert_eq!(result.rows[0].server, OTHER);
        assert_eq!(result.rows[0].count, 500);
        assert_eq!(result.handshakes, MAX_SERIES as u64 + 500);
    }
}
