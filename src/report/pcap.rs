//! `shakedown pcap` / `watch` renderers: one text line or one JSON object per connection
//! (named `CAPTURE#N`), and the summary at the end.

use super::json::{
    AlertJson, CertificateJson, ClientHelloJson, DecryptionJson, DiagnosisJson, DivergedJson,
    EventJson, ServerHelloJson, VerdictJson, certificate, client_hello_with, diagnosis, verdict,
};
use crate::commands::pcap::{ConnectionReport, Summary};
use crate::core::datetime::push_rfc3339;
use crate::core::decimal::push_decimal;
use crate::core::flow::Micros;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::suites::suite;
use crate::core::wire::registry::{Entry, alert_name, suite_name};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

/// Server names listed in the text summary.
const TOP_NAMES: usize = 10;

/// Capture time as RFC 3339 with milliseconds.
fn push_timestamp(out: &mut String, at: Micros) {
    push_rfc3339(out, (at / 1_000_000) as i64);
    // The milliseconds go before rfc3339's final `Z`.
    out.pop();
    out.push('.');
    push_decimal(out, at % 1_000_000 / 1000, 3);
    out.push('Z');
}

/// An address as `Display` writes it; IPv4 digit by digit (every reported line has two).
fn push_addr(out: &mut String, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            for (i, octet) in a.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, octet.into(), 1);
            }
            out.push(':');
            push_decimal(out, a.port().into(), 1);
        }
        SocketAddr::V6(a) => write!(out, "{a}").expect("writing to a String cannot fail"),
    }
}

fn timestamp(at: Micros) -> String {
    let mut out = String::with_capacity(24);
    push_timestamp(&mut out, at);
    out
}

fn version(r: &ConnectionReport) -> Option<String> {
    r.verdict.version.map(|v| ProtocolVersion(v).to_string())
}

fn cipher(r: &ConnectionReport) -> Option<String> {
    r.verdict.cipher.map(suite_name)
}

fn ms(us: Micros) -> f64 {
    us as f64 / 1000.0
}

/// One line (with its newline): name, time, endpoints, SNI, outcome, version and suite,
/// history, where it diverged, the causes and the first cause's detail. Built in a `String`
/// with as few formatting calls as possible: a capture can have a line per connection.
pub fn text_line(out: &mut String, capture: &str, r: &ConnectionReport) {
    out.push_str(capture);
    out.push('#');
    push_decimal(out, r.index, 1);
    out.push_str("  ");
    push_timestamp(out, r.start);
    out.push_str("  ");
    push_addr(out, &r.client);
    out.push_str(" -> ");
    push_addr(out, &r.server);
    out.push_str("  sni ");
    out.push_str(r.sni().unwrap_or("-"));
    out.push_str("  ");
    out.push_str(r.outcome());
    if let Some(v) = r.verdict.version {
        out.push_str("  ");
        match ProtocolVersion(v).name() {
            Some(name) => out.push_str(name),
            None => write!(out, "{}", ProtocolVersion(v)).expect("String"),
        }
        out.push(' ');
        match r.verdict.cipher {
            Some(id) => match suite(id) {
                Some(row) => out.push_str(row.name()),
                None => out.push_str(&suite_name(id)),
            },
            None => out.push('-'),
        }
    }
    out.push_str("  history ");
    out.push_str(if r.verdict.history.is_empty() {
        "-"
    } else {
        &r.verdict.history
    });
    if let Some(d) = &r.verdict.diverged {
        out.push_str("  ");
        out.push_str(d.by.peer());
        out.push(' ');
        out.push_str(&d.event);
        out.push_str(" after ");
        out.push_str(&d.after);
    } else if let Some(a) = &r.verdict.alert {
        out.push_str("  ");
        out.push_str(a.from.peer());
        out.push_str(" alert ");
        out.push_str(&alert_name(a.alert.description));
    }
    if let Some(t) = r.time_to_verdict() {
        write!(out, " ({:.1} ms)", ms(t)).expect("writing to a String cannot fail");
    }
    if let Some(first) = r.diagnosis.first() {
        out.push_str("  => ");
        for (i, d) in r.diagnosis.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(d.cause.id());
        }
        out.push_str(": ");
        out.push_str(&first.detail);
    }
    out.push('\n');
}

/// The contract's pcap object, plus what else the report knows (offered hello, timings,
/// certificates, JA fingerprints' strings). The fields are in alphabetical order, as in
/// every object of [`super::json`].
#[derive(Serialize)]
pub struct ConnectionJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<AlertJson>,
    capture: &'a str,
    certificates: Vec<CertificateJson<'a>>,
    cipher: Option<String>,
    cipher_id: Option<String>,
    client: String,
    connection: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    decode_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decryption: Option<DecryptionJson<'a>>,
    diagnosis: Vec<DiagnosisJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diverged: Option<DivergedJson<'a>>,
    events: Vec<EventJson>,
    failed: bool,
    from_syn: bool,
    history: &'a str,
    index: u64,
    ja3: Option<String>,
    ja3_string: Option<String>,
    ja3s: Option<String>,
    ja3s_string: Option<String>,
    ja4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_tls: Option<&'a str>,
    offered: Option<ClientHelloJson>,
    outcome: &'static str,
    server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_hello: Option<ServerHelloJson>,
    sni: Option<&'a str>,
    start: String,
    time_to_verdict_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<&'a str>,
    version: Option<String>,
}

pub fn json<'a>(capture: &'a str, r: &'a ConnectionReport) -> ConnectionJson<'a> {
    let v = &r.verdict;
    let (ja3, ja4, ja3s) = (r.ja3(), r.ja4(), r.ja3s());
    let offered = match (&v.client_hello, &ja3, &ja4) {
        (Some(h), Some(ja3), Some(ja4)) => Some(client_hello_with(h, ja3, ja4)),
        _ => None,
    };
    let VerdictJson {
        alert,
        decode_error,
        decryption,
        diverged,
        events,
        history,
        not_tls,
        server_hello,
        truncated,
    } = verdict(v);
    let (ja3, ja3_string) = ja3.map(|j| (j.md5, j.string)).unzip();
    let (ja3s, ja3s_string) = ja3s.map(|j| (j.md5, j.string)).unzip();
    ConnectionJson {
        alert,
        capture,
        certificates: r.certificates.iter().map(certificate).collect(),
        cipher: cipher(r),
        cipher_id: v.cipher.map(|c| format!("0x{c:04x}")),
        client: r.client.to_string(),
        connection: format!("{capture}#{}", r.index),
        decode_error,
        decryption,
        diagnosis: r.diagnosis.iter().map(diagnosis).collect(),
        diverged,
        events,
        failed: r.failed(),
        from_syn: r.from_syn,
        history,
        index: r.index,
        ja3,
        ja3_string,
        ja3s,
        ja3s_string,
        ja4,
        not_tls,
        offered,
        outcome: r.outcome(),
        server: r.server.to_string(),
        server_hello,
        sni: r.sni(),
        start: timestamp(r.start),
        time_to_verdict_ms: r.time_to_verdict().map(ms),
        truncated,
        version: version(r),
    }
}

fn counts<'a>(items: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    let v: Vec<String> = items.into_iter().map(|(k, n)| format!("{k} {n}")).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

pub fn text_summary(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let packets: u64 = s.inputs.iter().map(|i| i.stats.capture.packets).sum();
    let non_tls: u64 = s.inputs.iter().map(|i| i.stats.non_tls_flows).sum();
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let captures = s.inputs.len() as u64;
    writeln!(
        w,
        "summary: {} TLS connection{}, {} failed ({captures} capture{}, {packets} packet{}, \
         {non_tls} TCP flow{} without TLS)",
        s.connections,
        plural(s.connections),
        s.failed,
        plural(captures),
        plural(packets),
        plural(non_tls),
    )?;
    writeln!(
        w,
        "  by outcome: {}",
        counts(s.by_outcome.iter().map(|(k, n)| (*k, *n)))
    )?;
    let mut causes: Vec<(&str, u64)> = s.by_cause.iter().map(|(k, n)| (*k, *n)).collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    writeln!(w, "  failures by cause: {}", counts(causes))?;
    let mut names = counts(s.top_failing_names(TOP_NAMES));
    if s.failures_other_names > 0 {
        names.push_str(&format!(", other names {}", s.failures_other_names));
    }
    writeln!(w, "  most failing server names: {names}")?;
    for i in &s.inputs {
        if let Some(e) = &i.error {
            writeln!(w, "  {}: read stopped: {e}", i.name)?;
        }
    }
    Ok(())
}

/// The last line of `--json`: `{"summary": {...}}`, so per-connection lines stay as the
/// contract has them.
pub fn json_summary(s: &Summary) -> Value {
    json!({"summary": {
        "connections": s.connections,
        "failed": s.failed,
        "by_outcome": s.by_outcome,
        "failures_by_cause": s.by_cause,
        "most_failing_names": s.top_failing_names(TOP_NAMES).into_iter().map(|(n, c)| json!({"sni": n, "failures": c})).collect::<Vec<_>>(),
        "inputs": s.inputs.iter().map(|i| json!({
            "capture": i.name,
            "packets": i.stats.capture.packets,
            "bytes": i.stats.capture.bytes,
            "flows": i.stats.capture.flows,
            "non_tls_flows": i.stats.non_tls_flows,
            "gaps": i.stats.capture.gaps,
            "truncated_packets": i.stats.capture.truncated_packets,
            "error": i.error,
        })).collect::<Vec<_>>(),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::pcap::{AnalyzeOptions, analyze};
    use crate::core::crypto::KeyLog;
    use crate::io::capture::ReadOptions;

    #[test]
    fn hand_written_numbers_and_addresses_match_display() {
        for addr in [
            "0.0.0.0:0",
            "10.0.0.1:443",
            "255.255.255.255:65535",
            "192.168.100.9:8080",
            "[::1]:443",
            "[2001:db8::17]:1",
            "[::ffff:10.0.0.1]:80",
        ] {
            let a: SocketAddr = addr.parse().unwrap();
            let mut out = String::new();
            push_addr(&mut out, &a);
            assert_eq!(out, a.to_string());
        }
        assert_eq!(timestamp(1_700_000_000_123_456), "2023-11-14T22:13:20.123Z");
        assert_eq!(timestamp(5_000), "1970-01-01T00:00:00.005Z");
    }
    use std::sync::Arc;

    /// The objects are written straight from their structs: their fields must be in the
    /// order of the `Value` maps (sorted keys) the other reports build from the same structs.
    #[test]
    fn connection_objects_are_written_with_sorted_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut objects = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                continue;
            }
            // With keys where the capture has them, so decryption fields are covered.
            let keylog = std::fs::read_to_string(path.with_extension("keys"))
                .ok()
                .map(|text| Arc::new(KeyLog::parse(&text).0));
            let opts = AnalyzeOptions {
                keylog,
                ..AnalyzeOptions::default()
            };
            let file = std::fs::File::open(&path).unwrap();
            analyze(file, &ReadOptions::default(), opts, &mut |r| {
                let o = json("c", &r);
                let direct = serde_json::to_string(&o).unwrap();
                let sorted = serde_json::to_value(&o).unwrap().to_string();
                assert_eq!(direct, sorted, "{}", path.display());
                objects += 1;
            });
        }
        assert!(
            objects > 20,
            "only {objects} connections in {}",
            dir.display()
        );
    }
}
