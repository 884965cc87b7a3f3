//! `shakedown pcap` / `watch` renderers: one text line per connection (named `CAPTURE#N`)
//! and the summary at the end. A connection's JSON line is written by [`json_line`], byte
//! for byte the results' own serialization (which the schema and the tests read); the
//! summary's is the serialization.

use super::{Render, json, style};
use crate::commands::SCHEMA_VERSION;
use crate::commands::pcap::result::{push_addr, with_event_text};
use crate::commands::pcap::{CaptureTime, PcapConnection, PcapSummaryLine};
use crate::core::decimal::push_decimal;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

/// One line (with its newline): name, time, endpoints, SNI, outcome, version and suite,
/// history, where it diverged, the causes and the first cause's detail. Built in a `String`
/// with as few formatting calls as possible: a capture can have a line per connection.
pub fn text_line(out: &mut String, c: &PcapConnection<'_>) {
    out.push_str(c.capture);
    out.push('#');
    push_decimal(out, c.index, 1);
    out.push_str("  ");
    c.start.push_to(out);
    out.push_str("  ");
    push_addr(out, &c.client);
    out.push_str(" -> ");
    push_addr(out, &c.server);
    out.push_str("  sni ");
    out.push_str(c.sni.unwrap_or("-"));
    if c.transport == crate::core::flow::Transport::Quic {
        out.push_str("  quic");
    }
    if let Some(protocol) = c.starttls {
        out.push_str("  starttls ");
        out.push_str(protocol);
    }
    out.push_str("  ");
    out.push_str(c.outcome);
    if let Some(reason) = c.incomplete_reason {
        out.push_str(" (");
        out.push_str(reason.as_str());
        out.push(')');
    }
    if let Some(v) = c.version {
        out.push_str("  ");
        v.with_str(|name| out.push_str(name));
        out.push(' ');
        match c.cipher {
            Some(suite) => suite.with_str(|name| out.push_str(name)),
            None => out.push('-'),
        }
    }
    out.push_str("  history ");
    out.push_str(if c.history.is_empty() { "-" } else { c.history });
    if let Some(d) = &c.diverged {
        out.push_str("  ");
        out.push_str(d.by);
        out.push(' ');
        out.push_str(d.event);
        out.push_str(" after ");
        out.push_str(d.after);
    } else if let Some(a) = &c.alert {
        out.push_str("  ");
        out.push_str(a.from);
        out.push_str(" alert ");
        out.push_str(&a.description);
    }
    if let Some(ms) = c.time_to_verdict_ms {
        write!(out, " ({ms:.1} ms)").expect("writing to a String cannot fail");
    }
    if let Some(first) = c.diagnosis.items.first() {
        out.push_str("  => ");
        let colour = style::enabled();
        if colour {
            write!(out, "{}", style::BAD.render()).expect("writing to a String cannot fail");
        }
        for (i, d) in c.diagnosis.items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(d.cause.id());
        }
        if colour {
            write!(out, "{}", style::BAD.render_reset()).expect("writing to a String cannot fail");
        }
        out.push_str(": ");
        out.push_str(&first.detail);
    }
    out.push('\n');
}

/// One connection's JSON object (without a newline), exactly as `serde_json::to_writer`
/// writes the [`PcapConnection`]: the same keys in the same order, the same optional keys
/// left out, the same number and string forms (see [`json`]). Serde's per-field work (a
/// call and an escape scan for every key) was most of a large capture's `--json` report;
/// here keys are constant bytes and each string is scanned once. The parts many
/// connections share come written already (certificates, hellos, diagnoses, event texts)
/// and are copied; the rare ones (decryption) go through serde.
pub fn json_line(out: &mut Vec<u8>, w: &mut JsonLineState, c: &PcapConnection<'_>) {
    out.extend_from_slice(b"{\"schema_version\":");
    json::u64(out, SCHEMA_VERSION.into());
    if let Some(a) = &c.alert {
        out.extend_from_slice(b",\"alert\":{\"code\":");
        json::u64(out, a.code.into());
        out.extend_from_slice(b",\"description\":");
        json::str(out, &a.description);
        out.extend_from_slice(b",\"from\":");
        json::ascii(out, a.from.as_bytes());
        out.extend_from_slice(b",\"level\":");
        json::ascii(out, a.level.as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b",\"capture\":");
    let capture_plain = json::plain(c.capture);
    if capture_plain {
        json::ascii(out, c.capture.as_bytes());
    } else {
        json::str(out, c.capture);
    }
    out.extend_from_slice(b",\"certificates\":");
    json::raw(out, c.certificates.json());
    out.extend_from_slice(b",\"cipher\":");
    match &c.cipher {
        Some(n) => n.with_str(|name| json::str(out, name)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"cipher_id\":");
    match &c.cipher_id {
        Some(id) => id.with_str(|hex| json::ascii(out, hex.as_bytes())),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"client\":");
    address(out, &mut w.scratch, &c.client);
    out.extend_from_slice(b",\"connection\":");
    if capture_plain && std::ptr::eq(c.connection.capture, c.capture) {
        out.push(b'"');
        out.extend_from_slice(c.capture.as_bytes());
        out.push(b'#');
        json::u64(out, c.connection.index);
        out.push(b'"');
    } else {
        let scratch = &mut w.scratch;
        scratch.clear();
        scratch.push_str(c.connection.capture);
        scratch.push('#');
        push_decimal(scratch, c.connection.index, 1);
        json::str(out, scratch);
    }
    if let Some(e) = c.decode_error {
        out.extend_from_slice(b",\"decode_error\":");
        json::str(out, e);
    }
    if let Some(d) = &c.decryption {
        out.extend_from_slice(b",\"decryption\":");
        json::serialized(out, d);
    }
    out.extend_from_slice(b",\"diagnosis\":");
    match c.diagnosis.json {
        Some(j) => json::raw(out, j),
        None => json::serialized(out, c.diagnosis.items),
    }
    if let Some(d) = &c.diverged {
        out.extend_from_slice(b",\"diverged\":{\"after\":");
        json::str(out, d.after);
        out.extend_from_slice(b",\"by\":");
        json::ascii(out, d.by.as_bytes());
        out.extend_from_slice(b",\"event\":");
        json::str(out, d.event);
        out.push(b'}');
    }
    out.extend_from_slice(b",\"events\":[");
    for (i, (e, text)) in c.events.with_texts().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"at_ms\":");
        w.millis.write(out, e.at);
        out.extend_from_slice(b",\"from\":");
        json::ascii(out, e.dir.peer().as_bytes());
        out.extend_from_slice(b",\"what\":");
        match text {
            Some(j) => json::raw(out, j),
            None => with_event_text(&e.what, |t| json::str(out, t)),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"failed\":");
    json::bool(out, c.failed);
    out.extend_from_slice(b",\"from_syn\":");
    json::bool(out, c.from_syn);
    out.extend_from_slice(b",\"history\":");
    json::str(out, c.history);
    if let Some(r) = c.incomplete_reason {
        out.extend_from_slice(b",\"incomplete_reason\":");
        json::ascii(out, r.as_str().as_bytes());
    }
    out.extend_from_slice(b",\"index\":");
    json::u64(out, c.index);
    for (key, text) in [
        (&b",\"ja3\":"[..], &c.ja3),
        (b",\"ja3_string\":", &c.ja3_string),
        (b",\"ja3s\":", &c.ja3s),
        (b",\"ja3s_string\":", &c.ja3s_string),
        (b",\"ja4\":", &c.ja4),
    ] {
        out.extend_from_slice(key);
        match text {
            Some(t) => match t.json {
                Some(j) => json::raw(out, j),
                None => json::str(out, t.text),
            },
            None => out.extend_from_slice(b"null"),
        }
    }
    if let Some(n) = c.not_tls {
        out.extend_from_slice(b",\"not_tls\":");
        json::str(out, n);
    }
    if let Some(h) = &c.not_tls_hex {
        out.extend_from_slice(b",\"not_tls_hex\":");
        json::str(out, h);
    }
    out.extend_from_slice(b",\"offered\":");
    match &c.offered {
        Some(o) => json::raw(out, o.json()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"outcome\":");
    json::ascii(out, c.outcome.as_bytes());
    out.extend_from_slice(b",\"server\":");
    address(out, &mut w.scratch, &c.server);
    if let Some(h) = &c.server_hello {
        out.extend_from_slice(b",\"server_hello\":");
        json::raw(out, h.json());
    }
    out.extend_from_slice(b",\"sni\":");
    json::opt_str(out, c.sni);
    out.extend_from_slice(b",\"start\":");
    w.time(out, c.start);
    if let Some(p) = c.starttls {
        out.extend_from_slice(b",\"starttls\":");
        json::str(out, p);
    }
    out.extend_from_slice(b",\"time_to_verdict_ms\":");
    match c.time_to_verdict_ms {
        Some(ms) => json::millis(out, ms),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"transport\":");
    json::ascii(out, c.transport.as_str().as_bytes());
    if let Some(t) = c.truncated {
        out.extend_from_slice(b",\"truncated\":");
        json::str(out, t);
    }
    out.extend_from_slice(b",\"version\":");
    match &c.version {
        Some(v) => v.with_str(|name| json::str(out, name)),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// What [`json_line`] keeps from line to line: a scratch text, and the last capture time's
/// second as written (connections that start in the same second share it; putting a date
/// into words costs several hundred instructions).
#[derive(Default)]
pub struct JsonLineState {
    scratch: String,
    /// The second of `second_text`, plus one (0: none yet).
    second: u64,
    /// That second's time as [`CaptureTime::push_to`] writes it, with `.000Z`.
    second_text: String,
    /// The timeline's times.
    millis: json::Millis,
}

impl JsonLineState {
    /// Writes `at` as [`CaptureTime`] serializes, as a JSON string.
    fn time(&mut self, out: &mut Vec<u8>, at: CaptureTime) {
        let second = at.0 / 1_000_000;
        if self.second != second.wrapping_add(1) {
            self.second_text.clear();
            CaptureTime(second * 1_000_000).push_to(&mut self.second_text);
            self.second = second.wrapping_add(1);
        }
        // `push_to` ends with the milliseconds' three digits and `Z`.
        let head = &self.second_text.as_bytes()[..self.second_text.len().saturating_sub(4)];
        let ms = (at.0 % 1_000_000 / 1000) as u16;
        out.push(b'"');
        out.extend_from_slice(head);
        out.extend_from_slice(&[
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
            b'"',
        ]);
    }
}

/// An address as its `Display` writes it, as a JSON string (ASCII: digits, dots, colons,
/// brackets, hex). IPv4, every connection's, number by number.
fn address(out: &mut Vec<u8>, scratch: &mut String, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.ip().octets();
            out.push(b'"');
            json::u64(out, a0.into());
            out.push(b'.');
            json::u64(out, a1.into());
            out.push(b'.');
            json::u64(out, a2.into());
            out.push(b'.');
            json::u64(out, a3.into());
            out.push(b':');
            json::u64(out, a.port().into());
            out.push(b'"');
        }
        SocketAddr::V6(_) => {
            scratch.clear();
            push_addr(scratch, addr);
            json::str(out, scratch);
        }
    }
}

thread_local! {
    /// The line being written, reused: a capture can have a line per connection.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    /// The JSON line being written, and the writer's state; reused.
    static JSON_LINE: std::cell::RefCell<(Vec<u8>, JsonLineState)> =
        std::cell::RefCell::new(Default::default());
}

impl Render for PcapConnection<'_> {
    fn render_json(&self, out: &mut dyn Write) -> Option<io::Result<()>> {
        let mut write = |(line, state): &mut (Vec<u8>, JsonLineState)| {
            line.clear();
            json_line(line, state, self);
            line.push(b'\n');
            out.write_all(line)
        };
        Some(JSON_LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => write(&mut bufs),
            Err(_) => write(&mut Default::default()),
        }))
    }

    fn render_text(&self, out: &mut dyn Write) -> io::Result<()> {
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                text_line(&mut line, self);
                out.write_all(line.as_bytes())
            }
            Err(_) => {
                let mut line = String::new();
                text_line(&mut line, self);
                out.write_all(line.as_bytes())
            }
        })
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

impl Render for PcapSummaryLine {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let s = &self.summary;
        let packets = s.packets();
        let non_tls = s.non_tls_flows();
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
        if !s.incomplete_by_reason.is_empty() {
            writeln!(
                w,
                "  incomplete by reason: {}",
                counts(s.incomplete_by_reason.iter().map(|(k, n)| (*k, *n)))
            )?;
        }
        let (evicted, expired) = s.inputs.iter().fold((0, 0), |(e, x), i| {
            (e + i.evicted_flows, x + i.expired_flows)
        });
        if evicted > 0 {
            writeln!(
                w,
                "  flow table full: {evicted} flow{} ended early (--max-flows, --memcap)",
                plural(evicted)
            )?;
        }
        if expired > 0 {
            writeln!(
                w,
                "  idle: {expired} flow{} ended after --flow-timeout",
                plural(expired)
            )?;
        }
        writeln!(w, "  failures by cause: {}", counts(s.causes_by_count()))?;
        let mut names = counts(
            s.most_failing_names
                .iter()
                .map(|n| (n.sni.as_str(), n.failures)),
        );
        if s.failures_other_names > 0 {
            names.push_str(&format!(", other names {}", s.failures_other_names));
        }
        writeln!(w, "  most failing server names: {names}")?;
        for i in &s.inputs {
            if let Some(e) = &i.error {
                writeln!(w, "  {}: read stopped: {e}", i.capture)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::pcap::CaptureTime;
    use std::net::SocketAddr;

    fn timestamp(at: u64) -> String {
        let mut out = String::new();
        CaptureTime(at).push_to(&mut out);
        out
    }

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
        // The JSON writer's times, reusing the second's text or not.
        let mut state = JsonLineState::default();
        for at in [
            0,
            999,
            1_700_000_000_123_456,
            1_700_000_000_999_999,
            1_700_000_001_000_000,
            1_700_000_000_000_001,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            u64::MAX,
            5_000,
        ] {
            let mut out = Vec::new();
            state.time(&mut out, CaptureTime(at));
            let want = serde_json::to_string(&CaptureTime(at)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{at}");
        }
        assert_eq!(timestamp(5_000), "1970-01-01T00:00:00.005Z");
    }
}
