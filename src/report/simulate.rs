//! `simulate` reports: a table with one line per client (what it would get from the server),
//! or one JSON object per client: `client` plus the probe fields.

use crate::commands::simulate::Simulated;
use crate::commands::simulate::profiles::{Profile, SniRule, decode_hello, version_range};
use crate::core::flow::Direction;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{alert_name, group_name, suite_name};
use crate::io::net::Target;
use serde_json::{Value, json};
use std::io::{self, Write};

/// What a client gets, in one line: `TLSv1.3  TLS_AES_256_GCM_SHA384  x25519`, or
/// `FAIL  alert protocol_version (server)  protocol_mismatch`.
pub fn summary(s: &Simulated) -> String {
    let r = &s.result;
    if let Some(why) = &s.client_refuses {
        return format!("FAIL  client refuses: {why}");
    }
    if let Some(v) = &r.verdict
        && r.server_went_on()
    {
        let sh = v.server_hello.as_ref().or(v.hello_retry_request.as_ref());
        let version = v
            .version
            .or(sh.map(|s| s.selected_version()))
            .map(|x| ProtocolVersion(x).to_string())
            .unwrap_or_else(|| "-".into());
        let cipher = v
            .cipher
            .or(sh.map(|s| s.cipher_suite))
            .map(suite_name)
            .unwrap_or_else(|| "-".into());
        let group = v
            .group
            .or(sh.and_then(|s| s.key_share_group()))
            .map(group_name);
        let mut s = format!("{version}  {cipher}");
        if let Some(g) = group {
            s.push_str(&format!("  {g}"));
        }
        if v.hello_retry_request.is_some() {
            s.push_str("  (after HelloRetryRequest)");
        }
        return s;
    }
    let mut s = format!("FAIL  {}", r.outcome());
    if let Some(a) = r.verdict.as_ref().and_then(|v| v.alert.as_ref()) {
        let from = match a.from {
            Direction::ServerToClient => "server",
            Direction::ClientToServer => "client",
        };
        s = format!("FAIL  alert {} ({from})", alert_name(a.alert.description));
    }
    let causes: Vec<&str> = r.diagnosis.iter().map(|d| d.cause.id()).collect();
    if !causes.is_empty() {
        s.push_str(&format!("  {}", causes.join(", ")));
    }
    s
}

pub fn results(
    w: &mut dyn Write,
    target: &Target,
    results: &[Simulated],
    json: bool,
) -> io::Result<()> {
    if json {
        for s in results {
            writeln!(w, "{}", object(s))?;
        }
        return Ok(());
    }
    let width = results
        .iter()
        .map(|s| s.profile.name.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let address = results
        .iter()
        .find_map(|s| s.result.peer)
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    writeln!(
        w,
        "simulate {}{address}: {} clients",
        target.display(),
        results.len()
    )?;
    writeln!(w, "  {:width$}  result", "client")?;
    for s in results {
        writeln!(w, "  {:width$}  {}", s.profile.name, summary(s))?;
    }
    let ok = results.iter().filter(|s| s.connects()).count();
    writeln!(
        w,
        "{ok} of {} clients would connect, {} would fail",
        results.len(),
        results.len() - ok
    )
}

/// The contract's object: `client`, then the probe fields.
pub fn object(s: &Simulated) -> Value {
    let mut o = super::json::probe(&s.result);
    o["client"] = json!(s.profile.name);
    o["connects"] = json!(s.connects());
    if let Some(why) = &s.client_refuses {
        o["client_refuses"] = json!(why);
    }
    if !s.profile.notes.is_empty() {
        o["client_notes"] = json!(s.profile.notes);
    }
    o
}

/// `simulate --list`: name, highest version offered, size, and where the profile came from.
pub fn list(w: &mut dyn Write, profiles: &[Profile], json: bool) -> io::Result<()> {
    for p in profiles {
        let hello = decode_hello(&p.hello);
        let (lo, hi) = version_range(p);
        let name = |v: Option<u16>| v.map(|v| ProtocolVersion(v).to_string());
        let offers = match (&hello, lo) {
            (None, _) => "SSLv2".to_string(),
            (Some(_), Some(lo)) if Some(lo) != hi => format!(
                "{}-{}",
                ProtocolVersion(lo),
                name(hi).unwrap_or_default().trim_start_matches("TLSv")
            ),
            (Some(_), _) => name(hi).unwrap_or_default(),
        };
        if json {
            writeln!(
                w,
                "{}",
                json!({
                    "client": p.name,
                    "lowest": name(lo),
                    "highest": name(hi),
                    "bytes": p.hello.len(),
                    "sni": match p.sni { SniRule::Replace => "replace", SniRule::Remove => "none", SniRule::Keep => "keep" },
                    "source": p.source,
                    "notes": p.notes,
                })
            )?;
        } else {
            writeln!(
                w,
                "{:32} {:14} {:5} bytes  {}",
                p.name,
                offers,
                p.hello.len(),
                if p.notes.is_empty() {
                    &p.source
                } else {
                    &p.notes
                }
            )?;
        }
    }
    Ok(())
}
