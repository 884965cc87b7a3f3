//! `shakedown pcap` / `watch` renderers: one text line or one JSON object per connection
//! (named `CAPTURE#N`), and the summary at the end.

use super::json::{add_verdict, certificate, client_hello_with, diagnosis};
use crate::datetime::rfc3339;
use crate::pcap::{ConnectionReport, Summary};
use crate::session::Micros;
use crate::wire::ProtocolVersion;
use crate::wire::registry::{alert_name, suite_name};
use serde_json::{Value, json};
use std::io::{self, Write};

/// Server names listed in the text summary.
const TOP_NAMES: usize = 10;

/// Capture time as RFC 3339 with milliseconds.
fn timestamp(at: Micros) -> String {
    let secs = rfc3339((at / 1_000_000) as i64);
    let millis = at % 1_000_000 / 1000;
    match secs.strip_suffix('Z') {
        Some(s) => format!("{s}.{millis:03}Z"),
        None => secs,
    }
}

fn ms(us: Micros) -> f64 {
    us as f64 / 1000.0
}

fn version(r: &ConnectionReport) -> Option<String> {
    r.verdict.version.map(|v| ProtocolVersion(v).to_string())
}

fn cipher(r: &ConnectionReport) -> Option<String> {
    r.verdict.cipher.map(suite_name)
}

/// One line: name, time, endpoints, SNI, outcome, version and suite, history, where it
/// diverged, the causes and the first cause's detail.
pub fn text_line(w: &mut dyn Write, capture: &str, r: &ConnectionReport) -> io::Result<()> {
    let dash = || "-".to_string();
    write!(
        w,
        "{capture}#{}  {}  {} -> {}  sni {}  {}",
        r.index,
        timestamp(r.start),
        r.client,
        r.server,
        r.sni().unwrap_or_else(dash),
        r.outcome(),
    )?;
    if let Some(v) = version(r) {
        write!(w, "  {v} {}", cipher(r).unwrap_or_else(dash))?;
    }
    let history = if r.verdict.history.is_empty() {
        "-"
    } else {
        &r.verdict.history
    };
    write!(w, "  history {history}")?;
    if let Some(d) = &r.verdict.diverged {
        write!(w, "  {} {} after {}", d.by.peer(), d.event, d.after)?;
    } else if let Some(a) = &r.verdict.alert {
        write!(
            w,
            "  {} alert {}",
            a.from.peer(),
            alert_name(a.alert.description)
        )?;
    }
    if let Some(t) = r.time_to_verdict() {
        write!(w, " ({:.1} ms)", ms(t))?;
    }
    if let Some(first) = r.diagnosis.first() {
        let causes: Vec<&str> = r.diagnosis.iter().map(|d| d.cause).collect();
        write!(w, "  => {}: {}", causes.join(", "), first.detail)?;
    }
    writeln!(w)
}

/// The contract's pcap object, plus what else the report knows (offered hello, timings,
/// certificates, JA fingerprints' strings).
pub fn json(capture: &str, r: &ConnectionReport) -> Value {
    let v = &r.verdict;
    let (ja3, ja4, ja3s) = (r.ja3(), r.ja4(), r.ja3s());
    let offered = match (&v.client_hello, &ja3, &ja4) {
        (Some(h), Some(ja3), Some(ja4)) => Some(client_hello_with(h, ja3, ja4)),
        _ => None,
    };
    let mut o = json!({
        "capture": capture,
        "connection": format!("{capture}#{}", r.index),
        "index": r.index,
        "client": r.client.to_string(),
        "server": r.server.to_string(),
        "start": timestamp(r.start),
        "from_syn": r.from_syn,
        "time_to_verdict_ms": r.time_to_verdict().map(ms),
        "sni": r.sni(),
        "offered": offered,
        "ja3": ja3.as_ref().map(|j| &j.md5),
        "ja3_string": ja3.as_ref().map(|j| &j.string),
        "ja3s": ja3s.as_ref().map(|j| &j.md5),
        "ja3s_string": ja3s.as_ref().map(|j| &j.string),
        "ja4": ja4,
        "outcome": r.outcome(),
        "failed": r.failed(),
        "version": version(r),
        "cipher": cipher(r),
        "cipher_id": v.cipher.map(|c| format!("0x{c:04x}")),
        "history": v.history,
        "certificates": r.certificates.iter().map(certificate).collect::<Vec<_>>(),
        "diagnosis": r.diagnosis.iter().map(diagnosis).collect::<Vec<_>>(),
    });
    add_verdict(&mut o, v);
    o
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
    writeln!(
        w,
        "summary: {} TLS connections, {} failed ({} capture{}, {packets} packets, {non_tls} TCP flows without TLS)",
        s.connections,
        s.failed,
        s.inputs.len(),
        if s.inputs.len() == 1 { "" } else { "s" },
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
