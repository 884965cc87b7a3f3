//! Human-readable reports: what was offered, what came back and when, and why it failed.

use crate::commands::probe::ProbeResult;
use crate::core::assess::Diagnosis;
use crate::core::cert::CertInfo;
use crate::core::datetime::rfc3339;
use crate::core::fingerprint;
use crate::core::session::Verdict;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::{
    alert_level_name, alert_name, extension_name, group_name, sigalg_name, suite_name,
};
use crate::core::wire::server::ServerHello;
use crate::core::wire::sslv2::Sslv2ClientHello;
use std::io::{self, Write};

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

pub fn probe(w: &mut dyn Write, r: &ProbeResult) -> io::Result<()> {
    let addr = r.peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    writeln!(
        w,
        "probe {}  address {}  sni {}",
        r.target.display(),
        addr,
        r.sni.as_deref().unwrap_or("(none)")
    )?;
    match (&r.hello, Sslv2ClientHello::decode(&r.sent)) {
        (Some(h), _) => offered(w, h, r.sent.len())?,
        (None, Ok(h)) => writeln!(
            w,
            "  sent      SSLv2 ClientHello, {} bytes: version {}, {} cipher kinds",
            r.sent.len(),
            ProtocolVersion(h.version),
            h.cipher_specs.len()
        )?,
        (None, Err(_)) => writeln!(
            w,
            "  sent      {} bytes (not a TLS ClientHello record)",
            r.sent.len()
        )?,
    }
    if let Some(e) = &r.connect_error {
        writeln!(w, "  outcome   connect_failed: {}", e.reason)?;
    }
    if let Some(v) = &r.verdict {
        answer(w, v)?;
        retry_and_decryption(w, r, v)?;
        let t = &r.timings;
        writeln!(
            w,
            "  timings   connect {:.1} ms, first byte {}, verdict {:.1} ms",
            t.connect.as_secs_f64() * 1e3,
            t.first_byte
                .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "-".into()),
            t.verdict.as_secs_f64() * 1e3
        )?;
        writeln!(w, "  outcome   {}", r.outcome())?;
    }
    certificates(w, &r.certificates)?;
    diagnoses(w, &r.diagnosis)
}

/// The causes, each with its detail and fix.
pub fn diagnoses(w: &mut dyn Write, list: &[Diagnosis]) -> io::Result<()> {
    if !list.is_empty() {
        writeln!(w, "  diagnosis")?;
        for d in list {
            writeln!(w, "    {}: {}", d.cause, d.detail)?;
            writeln!(w, "      fix: {}", d.fix)?;
        }
    }
    Ok(())
}

/// How a HelloRetryRequest was answered, and what our own keys let us read.
fn retry_and_decryption(w: &mut dyn Write, r: &ProbeResult, v: &Verdict) -> io::Result<()> {
    if let Some(retry) = &r.retry {
        match (&retry.second_hello, &retry.problem) {
            (Some(h), _) => writeln!(
                w,
                "  retry     second ClientHello sent: key shares {}{}",
                list(h.key_shares().into_iter().map(|(g, _)| group_name(g))),
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
            Some(true) => "server Finished verified".to_string(),
            Some(false) => "server Finished does NOT match our keys".to_string(),
            None => "server Finished not seen".to_string(),
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

pub fn offered(w: &mut dyn Write, h: &ClientHello, len: usize) -> io::Result<()> {
    let versions = match h.supported_versions() {
        Some(v) => format!(
            "supported_versions {}",
            list(v.into_iter().map(|v| ProtocolVersion(v).to_string()))
        ),
        None => format!("legacy_version {}", ProtocolVersion(h.legacy_version)),
    };
    writeln!(
        w,
        "  sent      ClientHello, {len} bytes: record {}, {versions}",
        ProtocolVersion(h.record_version)
    )?;
    writeln!(
        w,
        "            {} suites: {}",
        h.cipher_suites.len(),
        list(h.cipher_suites.iter().take(6).map(|s| suite_name(*s)))
            + if h.cipher_suites.len() > 6 {
                ", …"
            } else {
                ""
            }
    )?;
    writeln!(
        w,
        "            groups {}; key shares {}",
        list(h.supported_groups().into_iter().map(group_name)),
        list(h.key_shares().into_iter().map(|(g, _)| group_name(g)))
    )?;
    writeln!(
        w,
        "            sigalgs {}",
        list(h.signature_algorithms().into_iter().map(sigalg_name))
    )?;
    writeln!(
        w,
        "            alpn {}; extensions {}",
        list(
            h.alpn()
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        ),
        list(h.extension_types().into_iter().map(extension_name))
    )?;
    Ok(())
}

/// `alpn` is the protocol the connection selected (in TLS 1.3 from EncryptedExtensions, see
/// [`Verdict::alpn`]).
pub fn server_hello_line(sh: &ServerHello, group: Option<u16>, alpn: Option<&[u8]>) -> String {
    format!(
        "{} {} {}, group {}, alpn {}, extensions {}",
        if sh.is_hello_retry_request() {
            "HelloRetryRequest"
        } else {
            "ServerHello"
        },
        ProtocolVersion(sh.selected_version()),
        suite_name(sh.cipher_suite),
        sh.key_share_group()
            .or(group)
            .map(group_name)
            .unwrap_or_else(|| "-".into()),
        alpn.map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_else(|| "-".into()),
        list(sh.extension_types().into_iter().map(extension_name)),
    )
}

fn answer(w: &mut dyn Write, v: &Verdict) -> io::Result<()> {
    if let Some(sh) = v.hello_retry_request.as_ref() {
        writeln!(w, "  received  {}", server_hello_line(sh, None, None))?;
    }
    if let Some(sh) = v.server_hello.as_ref() {
        writeln!(
            w,
            "  received  {}",
            server_hello_line(sh, v.group, v.alpn().as_deref())
        )?;
    }
    if let Some(a) = &v.alert {
        writeln!(
            w,
            "  alert     {} {} ({}) from the {}",
            alert_level_name(a.alert.level),
            alert_name(a.alert.description),
            a.alert.description,
            a.from.peer()
        )?;
    }
    if let Some(t) = &v.not_tls {
        writeln!(w, "  not TLS   {t}")?;
    }
    if let Some(e) = &v.error {
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
        writeln!(
            w,
            "    {:>9.3} ms  {:<6} {}",
            e.at as f64 / 1000.0,
            e.dir.peer(),
            e.what
        )?;
    }
    Ok(())
}

pub fn certificates(w: &mut dyn Write, certs: &[CertInfo]) -> io::Result<()> {
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
            rfc3339(c.not_before),
            rfc3339(c.not_after),
            c.key,
            c.signature_algorithm
        )?;
        if !c.san.is_empty() {
            writeln!(w, "       san {}", c.san.join(", "))?;
        }
        writeln!(w, "       sha256 {}", c.sha256)?;
    }
    Ok(())
}

/// `decode`: every field the tracker found in the bytes.
pub fn decoded(w: &mut dyn Write, v: &Verdict) -> io::Result<()> {
    if let Some(h) = &v.client_hello {
        writeln!(w, "ClientHello")?;
        writeln!(
            w,
            "  record_version   {}",
            ProtocolVersion(h.record_version)
        )?;
        writeln!(
            w,
            "  legacy_version   {}",
            ProtocolVersion(h.legacy_version)
        )?;
        writeln!(w, "  random           {}", hex::encode(h.random))?;
        writeln!(
            w,
            "  session_id       {}",
            if h.session_id.is_empty() {
                "-".into()
            } else {
                hex::encode(&h.session_id)
            }
        )?;
        writeln!(w, "  cipher_suites    ({})", h.cipher_suites.len())?;
        for s in &h.cipher_suites {
            writeln!(w, "    0x{s:04x} {}", suite_name(*s))?;
        }
        writeln!(
            w,
            "  compression      {}",
            list(h.compression_methods.iter().map(|c| c.to_string()))
        )?;
        match &h.extensions {
            None => writeln!(w, "  extensions       (no extensions block)")?,
            Some(exts) => {
                writeln!(w, "  extensions       ({})", exts.len())?;
                for e in exts {
                    writeln!(
                        w,
                        "    {:<5} {:<28} {} bytes",
                        e.typ,
                        extension_name(e.typ),
                        e.data.len()
                    )?;
                }
            }
        }
        writeln!(
            w,
            "  sni              {}",
            h.sni().unwrap_or_else(|| "-".into())
        )?;
        if let Some(v) = h.supported_versions() {
            writeln!(
                w,
                "  versions         {}",
                list(v.into_iter().map(|v| ProtocolVersion(v).to_string()))
            )?;
        }
        writeln!(
            w,
            "  groups           {}",
            list(h.supported_groups().into_iter().map(group_name))
        )?;
        writeln!(
            w,
            "  key_shares       {}",
            list(h.key_shares().into_iter().map(|(g, k)| format!(
                "{} ({} bytes)",
                group_name(g),
                k.len()
            )))
        )?;
        writeln!(
            w,
            "  sigalgs          {}",
            list(h.signature_algorithms().into_iter().map(sigalg_name))
        )?;
        writeln!(
            w,
            "  alpn             {}",
            list(
                h.alpn()
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            )
        )?;
        let ja3 = fingerprint::ja3(h);
        writeln!(w, "  ja3              {} ({})", ja3.md5, ja3.string)?;
        writeln!(w, "  ja4              {}", fingerprint::ja4(h))?;
    }
    answer(w, v)?;
    let certs: Vec<CertInfo> = v
        .certificates
        .iter()
        .filter_map(|der| crate::core::cert::parse_certificate(der).ok())
        .collect();
    certificates(w, &certs)
}
