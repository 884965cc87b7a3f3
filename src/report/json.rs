//! JSON views of verdicts, hellos and certificates that the `pcap`/`watch` and `scan`
//! renderers still build themselves (transitional: `probe`, `decode`, `simulate`, `replay`
//! and `diff` results carry [`crate::commands::facts`] instead).

use crate::core::assess::Diagnosis;
use crate::core::cert::CertInfo;
use crate::core::datetime::rfc3339;
use crate::core::fingerprint::Ja3;
use crate::core::session::{AlertSeen, Decryption, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::{
    alert_level_name, alert_name, extension_name, group_name, sigalg_name, suite_name,
};
use crate::core::wire::server::ServerHello;
use serde::Serialize;

// The objects below are structs with their fields in alphabetical order: written straight
// (as `pcap --json` writes one per connection, without building a `Value` tree) they come
// out exactly as the `Value` maps they also convert to, whose keys serde_json keeps sorted.

/// What a verdict adds to any report object: the server's hello, alert, history and
/// timeline, where it diverged, and what could not be read or decrypted.
#[derive(Serialize)]
pub struct VerdictJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<DivergedJson<'a>>,
    pub events: Vec<EventJson>,
    pub history: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tls: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<ServerHelloJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<&'a str>,
}

#[derive(Serialize)]
pub struct EventJson {
    at_ms: f64,
    from: &'static str,
    what: String,
}

#[derive(Serialize)]
pub struct DivergedJson<'a> {
    after: &'a str,
    by: &'static str,
    event: &'a str,
}

pub fn verdict(v: &Verdict) -> VerdictJson<'_> {
    let server_hello = v
        .server_hello
        .as_ref()
        .or(v.hello_retry_request.as_ref())
        .map(|sh| {
            let mut o = server_hello(sh);
            // TLS 1.2 names its group in ServerKeyExchange, not in the ServerHello.
            if o.group.is_none() {
                o.group = v.group.map(group_name);
            }
            // TLS 1.3 names the selected protocol in EncryptedExtensions.
            if o.alpn.is_none() {
                o.alpn = v.alpn().map(|p| String::from_utf8_lossy(&p).into_owned());
            }
            o
        });
    VerdictJson {
        alert: v.alert.as_ref().map(alert),
        decode_error: v.error.as_deref(),
        decryption: v.decryption.as_ref().map(decryption),
        diverged: v.diverged.as_ref().map(|d| DivergedJson {
            after: &d.after,
            by: d.by.peer(),
            event: &d.event,
        }),
        events: v
            .events
            .iter()
            .map(|e| EventJson {
                at_ms: e.at as f64 / 1000.0,
                from: e.dir.peer(),
                what: e.what.to_string(),
            })
            .collect(),
        history: &v.history,
        not_tls: v.not_tls.as_deref(),
        server_hello,
        truncated: v.truncated.as_deref(),
    }
}

/// What keys (a key log, or a probe's own key shares) decrypted.
#[derive(Serialize)]
pub struct DecryptionJson<'a> {
    client_finished_verified: Option<bool>,
    problem: Option<&'a str>,
    records: usize,
    server_finished_verified: Option<bool>,
}

pub fn decryption(d: &Decryption) -> DecryptionJson<'_> {
    DecryptionJson {
        client_finished_verified: d.client_finished_verified,
        problem: d.problem.as_deref(),
        records: d.records,
        server_finished_verified: d.server_finished_verified,
    }
}

#[derive(Serialize)]
pub struct ServerHelloJson {
    alpn: Option<String>,
    cipher: String,
    cipher_id: String,
    extensions: Vec<String>,
    group: Option<String>,
    hello_retry_request: bool,
    version: String,
}

pub fn server_hello(sh: &ServerHello) -> ServerHelloJson {
    ServerHelloJson {
        alpn: sh.alpn().map(|p| String::from_utf8_lossy(&p).into_owned()),
        cipher: suite_name(sh.cipher_suite),
        cipher_id: format!("0x{:04x}", sh.cipher_suite),
        extensions: sh
            .extension_types()
            .into_iter()
            .map(extension_name)
            .collect(),
        group: sh.key_share_group().map(group_name),
        hello_retry_request: sh.is_hello_retry_request(),
        version: ProtocolVersion(sh.selected_version()).to_string(),
    }
}

#[derive(Serialize)]
pub struct ClientHelloJson {
    alpn: Vec<String>,
    ciphers: Vec<String>,
    extensions: Vec<String>,
    groups: Vec<String>,
    ja3: String,
    ja3_string: String,
    ja4: String,
    key_shares: Vec<String>,
    legacy_version: String,
    record_version: String,
    sigalgs: Vec<String>,
    sni: Option<String>,
    supported_versions: Option<Vec<String>>,
}

/// A ClientHello by name, with its fingerprints already taken (a pcap report also shows them at
/// the top level, and they are worth hashing only once).
pub fn client_hello_with(h: &ClientHello, ja3: &Ja3, ja4: &str) -> ClientHelloJson {
    ClientHelloJson {
        alpn: h
            .alpn()
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        ciphers: h.cipher_suites.iter().map(|s| suite_name(*s)).collect(),
        extensions: h
            .extension_types()
            .into_iter()
            .map(extension_name)
            .collect(),
        groups: h.supported_groups().into_iter().map(group_name).collect(),
        ja3: ja3.md5.clone(),
        ja3_string: ja3.string.clone(),
        ja4: ja4.to_owned(),
        key_shares: h
            .key_shares()
            .into_iter()
            .map(|(g, _)| group_name(g))
            .collect(),
        legacy_version: ProtocolVersion(h.legacy_version).to_string(),
        record_version: ProtocolVersion(h.record_version).to_string(),
        sigalgs: h
            .signature_algorithms()
            .into_iter()
            .map(sigalg_name)
            .collect(),
        sni: h.sni(),
        supported_versions: h.supported_versions().map(|v| {
            v.into_iter()
                .map(|v| ProtocolVersion(v).to_string())
                .collect()
        }),
    }
}

#[derive(Serialize)]
pub struct AlertJson {
    code: u8,
    description: String,
    from: &'static str,
    level: &'static str,
}

pub fn alert(a: &AlertSeen) -> AlertJson {
    AlertJson {
        code: a.alert.description,
        description: alert_name(a.alert.description).into_owned(),
        from: a.from.peer(),
        level: alert_level_name(a.alert.level),
    }
}

#[derive(Serialize)]
pub struct CertificateJson<'a> {
    issuer: &'a str,
    key: &'a str,
    not_after: String,
    not_before: String,
    san: &'a [String],
    sha256: &'a str,
    signature_algorithm: &'a str,
    subject: &'a str,
}

pub fn certificate(c: &CertInfo) -> CertificateJson<'_> {
    CertificateJson {
        issuer: &c.issuer,
        key: &c.key,
        not_after: rfc3339(c.not_after),
        not_before: rfc3339(c.not_before),
        san: &c.san,
        sha256: &c.sha256,
        signature_algorithm: &c.signature_algorithm,
        subject: &c.subject,
    }
}

#[derive(Serialize)]
pub struct DiagnosisJson<'a> {
    cause: &'static str,
    detail: &'a str,
    fix: &'static str,
}

pub fn diagnosis(d: &Diagnosis) -> DiagnosisJson<'_> {
    DiagnosisJson {
        cause: d.cause.id(),
        detail: &d.detail,
        fix: d.fix,
    }
}
