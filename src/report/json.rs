//! JSON objects per the contract in DESIGN.md (one object per line). Names there are fixed;
//! extra fields are additions, never renamings.

use crate::cert::CertInfo;
use crate::datetime::rfc3339;
use crate::diagnose::Diagnosis;
use crate::fingerprint::{self, Ja3};
use crate::probe::ProbeResult;
use crate::session::{AlertSeen, Decryption, Verdict};
use crate::wire::ProtocolVersion;
use crate::wire::hello::ClientHello;
use crate::wire::registry::{
    alert_level_name, alert_name, extension_name, group_name, sigalg_name, suite_name,
};
use crate::wire::server::ServerHello;
use serde_json::{Value, json};

pub fn probe(r: &ProbeResult) -> Value {
    let mut o = json!({
        "target": r.target.display(),
        "sni": r.sni,
        "outcome": r.outcome(),
        "address": r.peer.map(|p| p.to_string()),
        "offered": r.hello.as_ref().map(client_hello),
        "sent_bytes": r.sent.len(),
        "timings_ms": {
            "connect": ms(r.timings.connect),
            "first_byte": r.timings.first_byte.map(ms),
            "verdict": ms(r.timings.verdict),
        },
        "certificates": r.certificates.iter().map(certificate).collect::<Vec<_>>(),
        "diagnosis": r.diagnosis.iter().map(diagnosis).collect::<Vec<_>>(),
    });
    if let Some(e) = &r.connect_error {
        o["error"] = json!(e.reason);
    }
    if let Some(v) = &r.verdict {
        add_verdict(&mut o, v);
    }
    if let Some(retry) = &r.retry {
        o["hello_retry_request"] = json!({
            "group": retry.group.map(group_name),
            "cookie": retry.cookie,
            "second_client_hello": retry.second_hello.as_ref().map(client_hello),
            "problem": retry.problem,
        });
    }
    o
}

/// What a verdict adds to any report object: the server's hello, alert, history and
/// timeline, where it diverged, and what could not be read or decrypted.
pub fn add_verdict(o: &mut Value, v: &Verdict) {
    if let Some(sh) = v.server_hello.as_ref().or(v.hello_retry_request.as_ref()) {
        o["server_hello"] = server_hello(sh);
        // TLS 1.2 names its group in ServerKeyExchange, not in the ServerHello.
        if let (Value::Null, Some(g)) = (&o["server_hello"]["group"], v.group) {
            o["server_hello"]["group"] = json!(group_name(g));
        }
        // TLS 1.3 names the selected protocol in EncryptedExtensions.
        if let (Value::Null, Some(p)) = (&o["server_hello"]["alpn"], v.alpn()) {
            o["server_hello"]["alpn"] = json!(String::from_utf8_lossy(&p));
        }
    }
    if let Some(a) = &v.alert {
        o["alert"] = alert(a);
    }
    o["history"] = json!(v.history);
    o["events"] = json!(
        v.events
            .iter()
            .map(|e| json!({"at_ms": e.at as f64 / 1000.0, "from": e.dir.peer(), "what": e.what}))
            .collect::<Vec<_>>()
    );
    if let Some(d) = &v.diverged {
        o["diverged"] = json!({"by": d.by.peer(), "after": d.after, "event": d.event});
    }
    if let Some(t) = &v.not_tls {
        o["not_tls"] = json!(t);
    }
    if let Some(e) = &v.error {
        o["decode_error"] = json!(e);
    }
    if let Some(t) = &v.truncated {
        o["truncated"] = json!(t);
    }
    if let Some(d) = &v.decryption {
        o["decryption"] = decryption(d);
    }
}

/// What keys (a key log, or a probe's own key shares) decrypted.
pub fn decryption(d: &Decryption) -> Value {
    json!({
        "records": d.records,
        "server_finished_verified": d.server_finished_verified,
        "client_finished_verified": d.client_finished_verified,
        "problem": d.problem,
    })
}

pub fn server_hello(sh: &ServerHello) -> Value {
    json!({
        "version": ProtocolVersion(sh.selected_version()).to_string(),
        "cipher": suite_name(sh.cipher_suite),
        "cipher_id": format!("0x{:04x}", sh.cipher_suite),
        "group": sh.key_share_group().map(group_name),
        "alpn": sh.alpn().map(|p| String::from_utf8_lossy(&p).into_owned()),
        "extensions": sh.extension_types().into_iter().map(extension_name).collect::<Vec<_>>(),
        "hello_retry_request": sh.is_hello_retry_request(),
    })
}

pub fn client_hello(h: &ClientHello) -> Value {
    client_hello_with(h, &fingerprint::ja3(h), &fingerprint::ja4(h))
}

/// [`client_hello`] with its fingerprints already taken (a pcap report also shows them at
/// the top level, and they are worth hashing only once).
pub fn client_hello_with(h: &ClientHello, ja3: &Ja3, ja4: &str) -> Value {
    json!({
        "ja3": ja3.md5,
        "ja3_string": ja3.string,
        "ja4": ja4,
        "record_version": ProtocolVersion(h.record_version).to_string(),
        "legacy_version": ProtocolVersion(h.legacy_version).to_string(),
        "supported_versions": h.supported_versions().map(|v| v.into_iter().map(|v| ProtocolVersion(v).to_string()).collect::<Vec<_>>()),
        "ciphers": h.cipher_suites.iter().map(|s| suite_name(*s)).collect::<Vec<_>>(),
        "sni": h.sni(),
        "groups": h.supported_groups().into_iter().map(group_name).collect::<Vec<_>>(),
        "key_shares": h.key_shares().into_iter().map(|(g, _)| group_name(g)).collect::<Vec<_>>(),
        "sigalgs": h.signature_algorithms().into_iter().map(sigalg_name).collect::<Vec<_>>(),
        "alpn": h.alpn().iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>(),
        "extensions": h.extension_types().into_iter().map(extension_name).collect::<Vec<_>>(),
    })
}

pub fn alert(a: &AlertSeen) -> Value {
    json!({
        "from": a.from.peer(),
        "level": alert_level_name(a.alert.level),
        "description": alert_name(a.alert.description),
        "code": a.alert.description,
    })
}

pub fn certificate(c: &CertInfo) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "san": c.san,
        "sha256": c.sha256,
        "key": c.key,
        "signature_algorithm": c.signature_algorithm,
    })
}

pub fn diagnosis(d: &Diagnosis) -> Value {
    json!({"cause": d.cause, "detail": d.detail, "fix": d.fix})
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// `decode`: every field the tracker found in the bytes.
pub fn decoded(v: &Verdict) -> Value {
    let mut o = json!({
        "client_hello": v.client_hello.as_ref().map(client_hello),
        "certificates": v
            .certificates
            .iter()
            .map(|der| match crate::cert::parse_certificate(der) {
                Ok(c) => certificate(&c),
                Err(e) => json!({"error": e}),
            })
            .collect::<Vec<_>>(),
    });
    add_verdict(&mut o, v);
    o
}
