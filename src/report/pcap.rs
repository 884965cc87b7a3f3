//! `shakedown pcap` / `watch` renderers: one text line per connection (named `CAPTURE#N`)
//! and the summary at the end. The JSON is the results' own serialization.

use super::{Render, style};
use crate::commands::pcap::result::push_addr;
use crate::commands::pcap::{PcapConnection, PcapSummaryLine};
use crate::core::decimal::push_decimal;
use std::fmt::Write as _;
use std::io::{self, Write};

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

thread_local! {
    /// The line being written, reused: a capture can have a line per connection.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl Render for PcapConnection<'_> {
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
        assert_eq!(timestamp(5_000), "1970-01-01T00:00:00.005Z");
    }
}
