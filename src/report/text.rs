//! Human-readable reports of `probe`, `decode` and `hello`: what was offered, what came back
//! and when, and why it failed. Everything shown is a field of the result.

use super::{Render, style};
use crate::commands::decode::{DecodedCertificate, DecodedHello, HelloBytes};
use crate::commands::facts::{
    CertificateFacts, HelloFields, OfferedHello, ServerHelloFacts, VerdictFacts,
};
use crate::commands::probe::ProbeReport;
use crate::core::assess::Diagnosis;
use std::io::{self, Write};

fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Render for ProbeReport {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "probe {}  address {}  sni {}",
            self.target,
            self.address.as_deref().unwrap_or("-"),
            self.sni.as_deref().unwrap_or("(none)")
        )?;
        if let Some(s) = &self.starttls {
            let offered = match s.offered {
                Some(true) => "offered, ",
                Some(false) => "not offered, ",
                None => "",
            };
            let accepted = if s.accepted { "accepted" } else { "no TLS" };
            let said = s
                .server_said
                .as_deref()
                .map(|said| format!(" (server said {said:?})"))
                .unwrap_or_default();
            writeln!(w, "  starttls  {}: {offered}{accepted}{said}", s.protocol)?;
        }
        // Without a connection (or past a failed preamble) nothing was sent: say what was
        // built.
        let not_sent = self.error.is_some() || self.starttls.as_ref().is_some_and(|s| !s.accepted);
        let sent = if not_sent { "built    " } else { "sent     " };
        let len = self.hello_bytes;
        match (&self.offered, &self.sent_sslv2) {
            (Some(h), _) => offered(w, h, sent, len)?,
            (None, Some((version, kinds))) => writeln!(
                w,
                "  {sent} SSLv2 ClientHello, {len} bytes: version {version}, {kinds} cipher kinds",
            )?,
            (None, None) => writeln!(w, "  {sent} {len} bytes (not a TLS ClientHello record)")?,
        }
        if self.error.is_some() {
            writeln!(w, "            (not sent: no connection)")?;
        } else if not_sent {
            writeln!(w, "            (not sent: no TLS after the preamble)")?;
            writeln!(w, "  outcome   {}", style::paint(style::BAD, &self.outcome))?;
        }
        if let Some(e) = &self.error {
            writeln!(
                w,
                "  outcome   {}: {e}",
                style::paint(style::BAD, "connect_failed")
            )?;
        }
        if let Some(q) = &self.quic {
            quic_facts(w, q)?;
        }
        if let Some(v) = &self.verdict {
            answer(w, v)?;
            retry_and_decryption(w, self, v)?;
            let t = &self.timings;
            writeln!(
                w,
                "  timings   connect {:.1} ms, first byte {}, verdict {:.1} ms",
                t.connect.as_secs_f64() * 1e3,
                t.first_byte
                    .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
                    .unwrap_or_else(|| "-".into()),
                t.verdict.as_secs_f64() * 1e3
            )?;
            let style = style::of_outcome(&self.outcome);
            writeln!(w, "  outcome   {}", style::paint(style, &self.outcome))?;
        }
        certificate_facts(w, &self.certificates)?;
        diagnoses(w, &self.diagnosis)?;
        w.flush()
    }
}

/// What the QUIC layer of a `probe --quic` showed.
fn quic_facts(w: &mut dyn Write, q: &crate::commands::probe::QuicProbeFacts) -> io::Result<()> {
    writeln!(
        w,
        "  quic      version {}: {} datagrams sent, {} received ({} Initial, {} Handshake packets read, {} dropped)",
        q.version,
        q.datagrams_sent,
        q.datagrams_received,
        q.initial_packets,
        q.handshake_packets,
        q.dropped_packets
    )?;
    if let Some(r) = &q.retry {
        let tag = if r.integrity_ok {
            "integrity tag verified, hello sent again with the token"
        } else {
            "integrity tag does NOT match: ignored"
        };
        writeln!(w, "            Retry: {}-byte token, {tag}", r.token_bytes)?;
    }
    if let Some(v) = &q.version_negotiation {
        writeln!(
            w,
            "            Version Negotiation: the server offers {}",
            list(v)
        )?;
    }
    if let Some(c) = &q.close {
        let alert = c
            .alert
            .as_deref()
            .map(|a| format!(" (TLS alert {a})"))
            .unwrap_or_default();
        let reason = if c.reason.is_empty() {
            String::new()
        } else {
            format!(": {:?}", c.reason)
        };
        writeln!(
            w,
            "            server CONNECTION_CLOSE {} 0x{:x}{alert}{reason}",
            c.error, c.code
        )?;
    }
    if let Some(p) = &q.problem {
        writeln!(w, "            {p}")?;
    }
    if !q.server_transport_parameters.is_empty() {
        let params: Vec<String> = q
            .server_transport_parameters
            .iter()
            .map(|p| match &p.name {
                Some(n) => format!("{n}={}", p.value),
                None => format!("0x{:x}={}", p.id, p.value),
            })
            .collect();
        writeln!(
            w,
            "            server transport parameters: {}",
            params.join(", ")
        )?;
    }
    Ok(())
}

/// The causes, each with its detail and fix.
pub fn diagnoses(w: &mut dyn Write, list: &[Diagnosis]) -> io::Result<()> {
    if !list.is_empty() {
        writeln!(w, "  diagnosis")?;
        for d in list {
            writeln!(w, "    {}: {}", style::paint(style::BAD, d.cause), d.detail)?;
            writeln!(w, "      fix: {}", d.fix())?;
        }
    }
    Ok(())
}

/// How a HelloRetryRequest was answered, and what our own keys let us read.
fn retry_and_decryption(w: &mut dyn Write, r: &ProbeReport, v: &VerdictFacts) -> io::Result<()> {
    if let Some(retry) = &r.hello_retry_request {
        match (&retry.second_client_hello, &retry.problem) {
            (Some(h), _) => writeln!(
                w,
                "  retry     second ClientHello sent: key shares {}{}",
                list(&h.key_shares),
                if retry.cookie { ", cookie echoed" } else { "" }
            )?,
            (None, p) => writeln!(
                w,
                "  retry     no second ClientHello: {}",
                p.as_deref().unwrap_or("-")
            )?,
        }
    }
    if let Some(d) = &v.decryption {
        let finished = match d.server_finished_verified {
            Some(true) => "server Finished verified",
            Some(false) => "server Finished does NOT match our keys",
            None => "server Finished not seen",
        };
        match (&d.problem, d.records) {
            (None, n) if n > 0 => writeln!(
                w,
                "  decrypted the handshake with our key share: {n} records, {finished}"
            )?,
            (p, n) => writeln!(
                w,
                "  decrypted {n} records, {finished}: {}",
                p.as_deref().unwrap_or("nothing to decrypt")
            )?,
        }
    }
    Ok(())
}

fn offered(w: &mut dyn Write, h: &OfferedHello, sent: &str, len: usize) -> io::Result<()> {
    let versions = match &h.supported_versions {
        Some(v) => format!("supported_versions {}", list(v)),
        None => format!("legacy_version {}", h.legacy_version),
    };
    writeln!(
        w,
        "  {sent} ClientHello, {len} bytes: record {}, {versions}",
        h.record_version
    )?;
    let shown = &h.ciphers[..h.ciphers.len().min(6)];
    writeln!(
        w,
        "            {} suites: {}",
        h.ciphers.len(),
        list(shown) + if h.ciphers.len() > 6 { ", …" } else { "" }
    )?;
    writeln!(
        w,
        "            groups {}; key shares {}",
        list(&h.groups),
        list(&h.key_shares)
    )?;
    writeln!(w, "            sigalgs {}", list(&h.sigalgs))?;
    writeln!(
        w,
        "            alpn {}; extensions {}",
        list(&h.alpn),
        list(&h.extensions)
    )?;
    Ok(())
}

fn server_hello_line(sh: &ServerHelloFacts) -> String {
    format!(
        "{} {} {}, group {}, alpn {}, extensions {}",
        if sh.hello_retry_request {
            "HelloRetryRequest"
        } else {
            "ServerHello"
        },
        sh.version,
        sh.cipher,
        sh.group.as_deref().unwrap_or("-"),
        sh.alpn.as_deref().unwrap_or("-"),
        list(&sh.extensions),
    )
}

fn answer(w: &mut dyn Write, v: &VerdictFacts) -> io::Result<()> {
    for sh in &v.received {
        writeln!(w, "  received  {}", server_hello_line(sh))?;
    }
    if let Some(a) = &v.alert {
        writeln!(
            w,
            "  alert     {} {} ({}) from the {}",
            a.level, a.description, a.code, a.from
        )?;
    }
    if let Some(t) = &v.not_tls {
        writeln!(w, "  not TLS   {t}")?;
    }
    if let Some(e) = &v.decode_error {
        writeln!(w, "  error     {e}")?;
    }
    writeln!(
        w,
        "  timeline  (history {})",
        if v.history.is_empty() {
            "-"
        } else {
            &v.history
        }
    )?;
    for e in &v.events {
        writeln!(w, "    {:>9.3} ms  {:<6} {}", e.at_ms, e.from, e.what)?;
    }
    Ok(())
}

/// A chain, leaf first (probe and scan).
pub fn certificate_facts(w: &mut dyn Write, certs: &[CertificateFacts]) -> io::Result<()> {
    if certs.is_empty() {
        return Ok(());
    }
    writeln!(w, "  certificates (as sent, leaf first)")?;
    for (i, c) in certs.iter().enumerate() {
        writeln!(w, "    #{i} {}", c.subject)?;
        writeln!(w, "       issuer {}", c.issuer)?;
        writeln!(
            w,
            "       valid {} → {}; {}; {}",
            c.not_before, c.not_after, c.key, c.signature_algorithm
        )?;
        if !c.san.is_empty() {
            writeln!(w, "       san {}", c.san.join(", "))?;
        }
        writeln!(w, "       sha256 {}", c.sha256)?;
    }
    Ok(())
}

fn client_hello_fields(w: &mut dyn Write, h: &OfferedHello, f: &HelloFields) -> io::Result<()> {
    writeln!(w, "ClientHello")?;
    writeln!(w, "  record_version   {}", h.record_version)?;
    writeln!(w, "  legacy_version   {}", h.legacy_version)?;
    writeln!(w, "  random           {}", f.random)?;
    writeln!(
        w,
        "  session_id       {}",
        f.session_id.as_deref().unwrap_or("-")
    )?;
    writeln!(w, "  cipher_suites    ({})", f.suites.len())?;
    for (id, name) in &f.suites {
        writeln!(w, "    {id} {name}")?;
    }
    writeln!(w, "  compression      {}", list(&f.compression))?;
    match &f.extensions {
        None => writeln!(w, "  extensions       (no extensions block)")?,
        Some(exts) => {
            writeln!(w, "  extensions       ({})", exts.len())?;
            for (typ, name, len) in exts {
                writeln!(w, "    {typ:<5} {name:<28} {len} bytes")?;
            }
        }
    }
    writeln!(w, "  sni              {}", h.sni.as_deref().unwrap_or("-"))?;
    if let Some(v) = &h.supported_versions {
        writeln!(w, "  versions         {}", list(v))?;
    }
    writeln!(w, "  groups           {}", list(&h.groups))?;
    writeln!(w, "  key_shares       {}", list(&f.key_shares))?;
    writeln!(w, "  sigalgs          {}", list(&h.sigalgs))?;
    writeln!(w, "  alpn             {}", list(&h.alpn))?;
    writeln!(w, "  ja3              {} ({})", h.ja3, h.ja3_string)?;
    writeln!(w, "  ja4              {}", h.ja4)?;
    Ok(())
}

impl Render for DecodedHello {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let taken_as = match self.taken_as {
            "records" => "TLS records",
            "sslv2_record" => "an SSLv2 record",
            "handshake_message" => "a handshake message",
            "client_hello_body" => "a ClientHello body",
            "server_hello_body" => {
                "a ServerHello body (not a record, an SSLv2 record, a handshake message or a ClientHello)"
            }
            "cut_record_header" => "a TLS record header, cut short",
            other => other,
        };
        writeln!(w, "read as {taken_as}")?;
        if let (Some(h), Some(f)) = (&self.client_hello, &self.client_hello_fields) {
            client_hello_fields(w, h, f)?;
        }
        answer(w, &self.verdict)?;
        let parsed: Vec<CertificateFacts> = self
            .certificates
            .iter()
            .filter_map(|c| match c {
                DecodedCertificate::Parsed(c) => Some(c.clone()),
                DecodedCertificate::Unparsed { .. } => None,
            })
            .collect();
        certificate_facts(w, &parsed)
    }
}

impl Render for HelloBytes {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "{}", self.hex)?;
        match &self.decoded {
            Some(d) => d.render_text(w),
            None => Ok(()),
        }
    }
}

impl Render for crate::commands::addresses::AddressSummary {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "summary {}: {} addresses ({}), {} failed",
            self.target,
            self.addresses.len(),
            self.addresses.join(", "),
            self.failed.len()
        )?;
        for line in self.lines() {
            writeln!(w, "  {line}")?;
        }
        Ok(())
    }
}
