//! A [`ScanResult`] for people: a text report grouped by version in the manner of
//! testssl.sh and sslscan, with weak suites marked and the handshakes each part cost. The
//! JSON is the result's own serialization.

use super::{Render, style};
use crate::commands::scan::ScanResult;
use crate::commands::scan::post_quantum::PqPreference;
use crate::commands::scan::result::{PostQuantum, ShareTest};
use crate::commands::scan::vulns::{CHECKS, VulnCheck, VulnStatus};
use crate::core::wire::ProtocolVersion;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// ", server order" / ", client order" after a list whose order was checked.
fn order_note(order: Option<bool>) -> &'static str {
    match order {
        Some(true) => ", server order",
        Some(false) => ", client order",
        None => "",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The post-quantum lines: accepted PQ groups, the server's preference, and what each
/// PQ-client hello got (offered vs selected).
fn post_quantum(out: &mut dyn Write, pq: &PostQuantum) -> io::Result<()> {
    let preference = match pq.preference {
        PqPreference::None => "no PQ group accepted",
        PqPreference::PqOnly => "PQ groups only (a classical-only client cannot connect)",
        PqPreference::PqFirst => "the server prefers PQ",
        PqPreference::ClassicalFirst => "the server prefers a classical group",
        PqPreference::ClientOrder => "client order (PQ when the client lists it first)",
        PqPreference::Unknown => "order unknown",
    };
    writeln!(
        out,
        " Post-quantum TLSv1.3  hybrid {}; pure {}; {preference}  ({} handshake{})",
        list_or_none(&pq.hybrid),
        list_or_none(&pq.pure),
        pq.handshakes,
        plural(pq.handshakes)
    )?;
    let line = |out: &mut dyn Write, label: &str, t: &ShareTest| -> io::Result<()> {
        let answer = match (&t.selected, t.hello_retry_request, &t.problem) {
            (Some(g), true, _) => format!("HelloRetryRequest for {g}: one more round trip"),
            (Some(g), false, _) => format!("selected {g}"),
            (None, _, Some(p)) => format!("no group selected: {p}"),
            (None, _, None) => "no group selected".into(),
        };
        writeln!(
            out,
            "   {label:<28} offered {}, shares {} ({} bytes): {answer}",
            t.offered.join(", "),
            t.key_shares.join(" + "),
            t.hello_bytes
        )
    };
    if let Some(t) = &pq.both_shares {
        line(out, "both key shares", t)?;
    }
    if let Some(t) = &pq.classical_share {
        line(out, "classical key share only", t)?;
    }
    Ok(())
}

/// The `--vulns` section: one line per check, exposed ones marked.
fn vulnerabilities(out: &mut dyn Write, vulns: &BTreeMap<String, VulnCheck>) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, " Vulnerabilities")?;
    // Report order: the checks table's, not the map's alphabetical one.
    for def in CHECKS {
        let Some(v) = vulns.get(def.id) else {
            continue;
        };
        let (mark, status) = match v.status {
            VulnStatus::Vulnerable => ("!", style::paint(style::NOTE, "VULNERABLE").to_string()),
            VulnStatus::NotVulnerable => (" ", "not vulnerable".to_string()),
            VulnStatus::Unknown => ("?", "unknown".to_string()),
        };
        let cve = if v.cve.is_empty() {
            String::new()
        } else {
            format!(" [{}]", v.cve.join(", "))
        };
        let severity = serde_json::to_value(v.severity)
            .ok()
            .and_then(|s| s.as_str().map(String::from))
            .unwrap_or_default();
        writeln!(
            out,
            "   {mark} {:<21} {status} ({severity}{cve}, {} handshake{})",
            def.id,
            v.handshakes,
            plural(v.handshakes)
        )?;
        writeln!(out, "       {}", v.detail)?;
    }
    Ok(())
}

impl Render for ScanResult {
    /// Versions with their suites, groups, signature schemes, behaviour, certificates.
    fn render_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = self;
        writeln!(
            out,
            "Scan of {}{}: {} handshake{} ({} retr{}) in {} ms",
            r.target,
            match (
                &r.address,
                r.target.starts_with(r.address.as_deref().unwrap_or("-"))
            ) {
                (Some(a), false) => format!(" at {a}"),
                _ => String::new(),
            },
            r.handshakes,
            plural(r.handshakes),
            r.retries,
            if r.retries == 1 { "y" } else { "ies" },
            r.elapsed_ms
        )?;
        if let Some(e) = &r.error {
            writeln!(out, "  ! {e}")?;
        }
        if r.gave_up {
            writeln!(
                out,
                "  ! gave up: what it did not ask is unknown; the lists below may be partial"
            )?;
        }
        writeln!(out)?;
        for v in &r.versions {
            let name = &v.name;
            if let Some(by) = &v.refused_with {
                writeln!(
                    out,
                    " {name:<8} not offered  (0 handshakes: the {by} hello got protocol_version)",
                )?;
                continue;
            }
            if v.supported != Some(true) {
                let (state, why) = match (v.supported, &v.incomplete) {
                    (None, Some(why)) => ("unknown    ", format!(": {why}")),
                    _ => ("not offered", String::new()),
                };
                writeln!(
                    out,
                    " {name:<8} {state}  ({} handshake{}{why})",
                    v.handshakes,
                    plural(v.handshakes)
                )?;
                continue;
            }
            let order = match v.server_order {
                Some(true) => "server order",
                Some(false) => "client order",
                None => "order n/a",
            };
            let n = v.ciphers.len();
            writeln!(
                out,
                " {name:<8} offered      {n} suite{}, {order}{}  ({} handshake{})",
                plural(n),
                if v.bundled {
                    ", offered in bundles"
                } else {
                    ""
                },
                v.handshakes,
                plural(v.handshakes)
            )?;
            if v.version == ProtocolVersion::SSLV2 {
                // Cipher kinds: no OpenSSL names, no weakness marks.
                for (id, name) in v.cipher_ids.iter().zip(&v.ciphers) {
                    writeln!(out, "     {id}  {name}")?;
                }
                continue;
            }
            for ((id, name), openssl) in v.cipher_ids.iter().zip(&v.ciphers).zip(&v.openssl) {
                let mark = match v.weak.get(name) {
                    Some(weak) => format!(
                        "  {}: {}",
                        style::paint(style::NOTE, "WEAK"),
                        weak.join(", ")
                    ),
                    None => String::new(),
                };
                writeln!(out, "     {id}  {name:<48} {openssl:<32}{mark}")?;
            }
            if let Some(bits) = v.dh_prime_bits {
                let named = match v.dh_group.as_ref().and_then(|g| g.defined_in.as_ref()) {
                    Some(name) => format!(" ({name}, a common prime)"),
                    None => String::new(),
                };
                writeln!(out, "     DHE key exchange: {bits}-bit prime{named}")?;
            }
            if let Some(why) = &v.incomplete {
                writeln!(out, "     incomplete (more suites may be offered): {why}")?;
            }
        }
        writeln!(out)?;
        for g in &r.group_scans {
            let shared = if g.shared > 0 {
                format!(" + {} shared with the signature schemes", g.shared)
            } else {
                String::new()
            };
            writeln!(
                out,
                " Groups {:<8} {}{}  ({} handshake{}{shared})",
                g.version,
                list_or_none(&g.groups),
                order_note(g.server_order),
                g.handshakes,
                plural(g.handshakes)
            )?;
        }
        if let Some(s) = &r.sigalg_scan {
            writeln!(
                out,
                " Signature schemes {}: {}{}  ({} handshake{})",
                s.version,
                list_or_none(&s.schemes),
                order_note(s.server_order),
                s.handshakes,
                plural(s.handshakes)
            )?;
        }
        if let Some(pq) = &r.post_quantum {
            post_quantum(out, pq)?;
        }
        if !r.probes.is_empty() {
            writeln!(out)?;
            writeln!(out, " Behaviour")?;
            for p in &r.probes {
                writeln!(
                    out,
                    "   {} {:<44} {}  ({} handshake{})",
                    if p.concern { "!" } else { " " },
                    p.name,
                    p.result,
                    p.handshakes,
                    plural(p.handshakes)
                )?;
            }
        }
        if let Some(vulns) = &r.vulnerabilities {
            vulnerabilities(out, vulns)?;
        }
        if !r.certificates.is_empty() {
            writeln!(out)?;
            super::text::certificate_facts(out, &r.certificates)?;
        }
        // Certificate findings, and why the scan broke off when it did.
        super::text::diagnoses(out, &r.diagnosis)?;
        writeln!(out)
    }
}
