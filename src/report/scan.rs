//! Renders a [`ScanReport`]: one JSON object per target, or a text report grouped by
//! version in the manner of testssl.sh and sslscan, with weak suites marked and the
//! handshakes each part cost.

use crate::commands::scan::{ScanReport, VersionScan};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{
    KeyExchange, group_name, sigalg_name, sslv2_cipher_name, suite, suite_name,
};
use serde_json::{Map, Value, json};
use std::io::{self, Write};

fn version_name(v: ProtocolVersion) -> String {
    v.name()
        .map_or_else(|| format!("0x{:04x}", v.0), str::to_string)
}

/// A DH prime below this many bits is marked weak (Logjam; the bar testssl.sh and
/// Mozilla's guidelines set).
const WEAK_DH_PRIME_BITS: usize = 2048;

/// Why a suite is weak in `v` (empty when it is not): the registry's reasons, and a small
/// DH prime for the finite-field DHE suites.
fn weaknesses(id: u16, v: &VersionScan) -> Vec<String> {
    let Some(s) = suite(id) else {
        return Vec::new();
    };
    let mut reasons: Vec<String> = s
        .weaknesses(v.version.0)
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(bits) = v.dh_prime_bits.filter(|b| *b < WEAK_DH_PRIME_BITS)
        && matches!(s.kx, KeyExchange::Dhe | KeyExchange::DhePsk)
    {
        reasons.push(format!("DH prime of {bits} bits"));
    }
    reasons
}

fn cipher_names(v: &VersionScan) -> Vec<String> {
    if v.version == ProtocolVersion::SSLV2 {
        v.sslv2_ciphers
            .iter()
            .map(|k| sslv2_cipher_name(*k))
            .collect()
    } else {
        v.ciphers.iter().map(|id| suite_name(*id)).collect()
    }
}

/// The scan as one JSON object (the contract's fields, then the itemized cost).
pub fn json(r: &ScanReport) -> Value {
    let mut versions = Map::new();
    for v in &r.versions {
        let mut weak = Map::new();
        for id in &v.ciphers {
            let w = weaknesses(*id, v);
            if !w.is_empty() {
                weak.insert(suite_name(*id), json!(w));
            }
        }
        let ids: Vec<String> = if v.version == ProtocolVersion::SSLV2 {
            v.sslv2_ciphers
                .iter()
                .map(|k| format!("0x{k:06x}"))
                .collect()
        } else {
            v.ciphers.iter().map(|id| format!("0x{id:04x}")).collect()
        };
        versions.insert(
            version_name(v.version),
            json!({
                "supported": v.supported,
                "ciphers": cipher_names(v),
                "cipher_ids": ids,
                "server_order": v.server_order,
                "weak": weak,
                "offered": v.offered,
                "bundled": v.bundled,
                "refused_with": v.refused_with.map(version_name),
                "dh_prime_bits": v.dh_prime_bits,
                "handshakes": v.handshakes,
            }),
        );
    }
    let mut groups = Map::new();
    let mut group_order = Map::new();
    for g in &r.groups {
        let names: Vec<String> = g.groups.iter().map(|id| group_name(*id)).collect();
        groups.insert(version_name(g.version), json!(names));
        group_order.insert(version_name(g.version), json!(g.server_order));
    }
    let preferred_group = r
        .groups
        .first()
        .and_then(|g| g.groups.first())
        .map(|id| group_name(*id));
    let sigalgs: Vec<String> = r
        .sigalgs
        .iter()
        .flat_map(|s| s.schemes.iter().map(|id| sigalg_name(*id)))
        .collect();
    let probes: Vec<Value> = r
        .probes
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "result": p.result,
                "concern": p.concern,
                "handshakes": p.handshakes,
            })
        })
        .collect();
    json!({
        "target": r.target,
        "error": r.error,
        "versions": versions,
        "groups": groups,
        "groups_server_order": group_order,
        "preferred_group": preferred_group,
        "sigalgs": sigalgs,
        "sigalgs_server_order": r.sigalgs.as_ref().and_then(|s| s.server_order),
        "probes": probes,
        "cost": {
            "versions": r.versions.iter().map(|v| v.handshakes).sum::<usize>(),
            "groups": r.groups.iter().map(|g| g.handshakes).sum::<usize>(),
            "sigalgs": r.sigalgs.as_ref().map_or(0, |s| s.handshakes),
            "probes": r.probes.iter().map(|p| p.handshakes).sum::<usize>(),
        },
        "handshakes": r.handshakes,
        "retries": r.retries,
        "elapsed_ms": r.elapsed_ms,
        "certificates": r.certificates.iter().map(super::json::certificate).collect::<Vec<_>>(),
        "diagnosis": r.diagnosis.iter().map(super::json::diagnosis).collect::<Vec<_>>(),
    })
}

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

/// The scan for people: versions with their suites, groups, signature schemes, behaviour.
pub fn text(out: &mut dyn Write, r: &ScanReport) -> io::Result<()> {
    writeln!(
        out,
        "Scan of {}: {} handshake{} ({} retr{}) in {} ms",
        r.target,
        r.handshakes,
        plural(r.handshakes),
        r.retries,
        if r.retries == 1 { "y" } else { "ies" },
        r.elapsed_ms
    )?;
    if let Some(e) = &r.error {
        writeln!(out, "  ! {e}")?;
    }
    writeln!(out)?;
    for v in &r.versions {
        let name = version_name(v.version);
        if let Some(by) = v.refused_with {
            writeln!(
                out,
                " {name:<8} not offered  (0 handshakes: the {} hello got protocol_version)",
                version_name(by)
            )?;
            continue;
        }
        if !v.supported {
            writeln!(
                out,
                " {name:<8} not offered  ({} handshake{})",
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
        let n = cipher_names(v).len();
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
            for k in &v.sslv2_ciphers {
                writeln!(out, "     0x{k:06x}  {}", sslv2_cipher_name(*k))?;
            }
            continue;
        }
        for id in &v.ciphers {
            let openssl = suite(*id).and_then(|s| s.openssl).unwrap_or("");
            let weak = weaknesses(*id, v);
            let mark = if weak.is_empty() {
                String::new()
            } else {
                format!("  WEAK: {}", weak.join(", "))
            };
            writeln!(
                out,
                "     0x{id:04x}  {:<48} {openssl:<32}{mark}",
                suite_name(*id)
            )?;
        }
        if let Some(bits) = v.dh_prime_bits {
            writeln!(out, "     DHE key exchange: {bits}-bit prime")?;
        }
    }
    writeln!(out)?;
    for g in &r.groups {
        let names: Vec<String> = g.groups.iter().map(|id| group_name(*id)).collect();
        let shared = if g.shared > 0 {
            format!(" + {} shared with the signature schemes", g.shared)
        } else {
            String::new()
        };
        writeln!(
            out,
            " Groups {:<8} {}{}  ({} handshake{}{shared})",
            version_name(g.version),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
            order_note(g.server_order),
            g.handshakes,
            plural(g.handshakes)
        )?;
    }
    if let Some(s) = &r.sigalgs {
        let names: Vec<String> = s.schemes.iter().map(|id| sigalg_name(*id)).collect();
        writeln!(
            out,
            " Signature schemes {}: {}{}  ({} handshake{})",
            version_name(s.version),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
            order_note(s.server_order),
            s.handshakes,
            plural(s.handshakes)
        )?;
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
    if !r.certificates.is_empty() {
        writeln!(out)?;
        super::text::certificates(out, &r.certificates)?;
        super::text::diagnoses(out, &r.diagnosis)?;
    }
    writeln!(out)
}
