//! A scrape's probes, and the handshakes a capture saw, in the Prometheus text exposition format (version 0.0.4). Metric names
//! follow Prometheus conventions (`_seconds`, `_info`, `_total`, base units); one series per
//! address for the exporter, one per row of the handshake counts for `watch --metrics`.

use crate::commands::exporter::Scrape;
use crate::commands::pcap::CaptureCounts;
use crate::commands::pcap::counts::HandshakeCountsResult;
use std::fmt::Write;

/// Label values escaped as the format asks: backslash, double quote and newline.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `# HELP` and `# TYPE` once per metric, then its samples.
struct Metrics {
    out: String,
}

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.out, "{name} {value}");
            } else {
                let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
            }
        }
    }

    /// A counter of one unlabelled sample.
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help, &[(String::new(), value as f64)]);
    }
}

/// The body of a `/probe` answer.
pub fn scrape_metrics(s: &Scrape) -> String {
    let mut m = Metrics { out: String::new() };
    let addr = |a: &std::net::IpAddr| format!("address=\"{}\"", label(&a.to_string()));
    let mut success = Vec::new();
    let mut outcome = Vec::new();
    let mut diagnosis = Vec::new();
    let mut version = Vec::new();
    let mut not_after = Vec::new();
    let mut expiring = Vec::new();
    let mut duration = Vec::new();
    for (a, p) in &s.probes {
        let ok = p.server_went_on()
            && p.diagnosis
                .iter()
                .all(|d| d.cause.id() == "certificate_expires_soon");
        success.push((addr(a), f64::from(u8::from(ok))));
        outcome.push((format!("{},outcome=\"{}\"", addr(a), p.outcome()), 1.0));
        for d in &p.diagnosis {
            diagnosis.push((format!("{},cause=\"{}\"", addr(a), d.cause.id()), 1.0));
        }
        if let Some(v) = &p.verdict
            && let (Some(ver), Some(cipher)) = (v.version, v.cipher)
        {
            version.push((
                format!(
                    "{},version=\"{}\",cipher=\"{}\"",
                    addr(a),
                    crate::core::wire::ProtocolVersion(ver),
                    label(&crate::core::wire::registry::suite_name(cipher))
                ),
                1.0,
            ));
        }
        for (i, c) in p.certificates.iter().enumerate() {
            not_after.push((
                format!(
                    "{},position=\"{i}\",subject=\"{}\",issuer=\"{}\",sha256=\"{}\"",
                    addr(a),
                    label(&c.subject),
                    label(&c.issuer),
                    c.sha256
                ),
                c.not_after as f64,
            ));
        }
        if let Some(leaf) = p.certificates.first() {
            for days in &s.warn_days {
                let soon = leaf.not_after - s.now_unix <= i64::from(*days) * 86_400;
                expiring.push((
                    format!("{},days=\"{days}\"", addr(a)),
                    f64::from(u8::from(soon)),
                ));
            }
        }
        let t = &p.timings;
        duration.push((
            format!("{},phase=\"connect\"", addr(a)),
            t.connect.as_secs_f64(),
        ));
        if let Some(first) = t.first_byte {
            duration.push((
                format!("{},phase=\"first_byte\"", addr(a)),
                first.as_secs_f64(),
            ));
        }
        duration.push((
            format!("{},phase=\"handshake\"", addr(a)),
            t.verdict.as_secs_f64(),
        ));
    }
    m.family(
        "shakedown_probe_success",
        "gauge",
        "1 when the server went on with the handshake and nothing but a near expiry was found.",
        &success,
    );
    m.family(
        "shakedown_handshake_outcome",
        "gauge",
        "1 for the outcome of the probe of this address.",
        &outcome,
    );
    m.family(
        "shakedown_diagnosis",
        "gauge",
        "1 for each cause found (ids as in the JSON diagnosis).",
        &diagnosis,
    );
    m.family(
        "shakedown_tls_version_info",
        "gauge",
        "The version and suite the server selected.",
        &version,
    );
    m.family(
        "shakedown_certificate_not_after_seconds",
        "gauge",
        "Expiry (Unix seconds) of each certificate the server sent, leaf at position 0.",
        &not_after,
    );
    m.family(
        "shakedown_certificate_expiring",
        "gauge",
        "1 when the leaf expires within the given number of days.",
        &expiring,
    );
    m.family(
        "shakedown_probe_duration_seconds",
        "gauge",
        "Time of each phase: connect, first byte of the answer, handshake verdict.",
        &duration,
    );
    m.family(
        "shakedown_probe_addresses",
        "gauge",
        "How many addresses the target resolved to and were probed.",
        &[(String::new(), s.probes.len() as f64)],
    );
    if let Some(e) = &s.resolve_error {
        m.family(
            "shakedown_probe_resolve_error",
            "gauge",
            "1 when the target name did not resolve.",
            &[(format!("error=\"{}\"", label(e)), 1.0)],
        );
    }
    m.out
}

/// The exporter's own counters (`/metrics`).
pub fn exporter_metrics(scrapes: u64, refused: u64, busy: u64) -> String {
    let mut m = Metrics { out: String::new() };
    m.counter(
        "shakedown_exporter_scrapes_total",
        "Probe scrapes answered.",
        scrapes,
    );
    m.counter(
        "shakedown_exporter_refused_total",
        "Scrapes refused: bad query, unknown module, or a target not on the allow-list.",
        refused,
    );
    m.counter(
        "shakedown_exporter_busy_total",
        "Scrapes answered 503: the target already had --max-per-target scrapes in flight.",
        busy,
    );
    m.out
}

/// The handshakes seen (`watch --metrics`' `/metrics`, `pcap --summary=prometheus`): one
/// `shakedown_handshakes_total` series per row of the counts, and the capture's counters.
pub fn handshake_metrics(counts: &HandshakeCountsResult, capture: &CaptureCounts) -> String {
    let mut m = Metrics { out: String::new() };
    let rows: Vec<(String, f64)> = counts
        .rows
        .iter()
        .map(|r| {
            (
                format!(
                    "server=\"{}\",sni=\"{}\",version=\"{}\",outcome=\"{}\",cause=\"{}\"",
                    label(&r.server),
                    label(&r.sni),
                    r.version,
                    r.outcome,
                    r.cause
                ),
                r.count as f64,
            )
        })
        .collect();
    m.family(
        "shakedown_handshakes_total",
        "counter",
        "TLS handshakes seen, by server, SNI, client version, outcome and first cause.",
        &rows,
    );
    m.counter(
        "shakedown_capture_packets_total",
        "Packets read.",
        capture.packets,
    );
    m.counter(
        "shakedown_capture_flows_total",
        "Flows seen (TCP, and QUIC connections), TLS or not.",
        capture.flows,
    );
    m.counter(
        "shakedown_capture_non_tls_flows_total",
        "TCP flows on which no TLS was seen.",
        capture.non_tls_flows,
    );
    m.counter(
        "shakedown_capture_evicted_flows_total",
        "Flows ended early because the flow table was full (--max-flows, --memcap).",
        capture.evicted_flows,
    );
    m.counter(
        "shakedown_capture_expired_flows_total",
        "Flows ended after the idle timeout.",
        capture.expired_flows,
    );
    m.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("CN=a \"b\"\\c\nd"), "CN=a \\\"b\\\"\\\\c\\nd");
    }
}
