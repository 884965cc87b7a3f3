//! A handshake's facts by name, as results carry them: what a ClientHello offered (with its
//! JA3/JA4), what the server answered, its alert, its certificates, and what the tracker
//! concluded. Every command that shows a hello or a verdict builds these (once, here), so
//! the renderers only lay them out.
//!
//! JSON field names are the contract's; fields left out of JSON (`#[serde(skip)]`) are what
//! only the text report shows.

use crate::core::cert::CertInfo;
use crate::core::datetime::rfc3339;
use crate::core::fingerprint;
use crate::core::session::{AlertSeen, Decryption, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::{
    alert_level_name, alert_name, extension_name, group_name, sigalg_name, suite_name,
};
use crate::core::wire::server::ServerHello;
use schemars::JsonSchema;
use serde::Serialize;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` in hex when their printable form (UTF-8, invalid sequences replaced) does not
/// give them back exactly or shows control characters; `None` when the text is the bytes.
/// Peers may send anything in fields meant for text (ALPN, SNI, banners): JSON keeps it.
pub fn hex_unless_printable(bytes: &[u8]) -> Option<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => None,
        _ => Some(hex::encode(bytes)),
    }
}

/// Each ALPN name in hex when one of them is not printable (see [`hex_unless_printable`]).
pub fn alpn_hex(names: &[Vec<u8>]) -> Option<Vec<String>> {
    names
        .iter()
        .any(|p| hex_unless_printable(p).is_some())
        .then(|| names.iter().map(hex::encode).collect())
}

fn version_name(v: u16) -> String {
    ProtocolVersion(v).to_string()
}

/// What a ClientHello offered, by name, with its fingerprints.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OfferedHello {
    pub alpn: Vec<String>,
    /// The ALPN names in hex, as sent, when one of them is not printable UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_hex: Option<Vec<String>>,
    pub ciphers: Vec<String>,
    pub extensions: Vec<String>,
    pub groups: Vec<String>,
    /// JA3: MD5 of `ja3_string`.
    pub ja3: String,
    pub ja3_string: String,
    pub ja4: String,
    /// The groups the hello carries a key share for.
    pub key_shares: Vec<String>,
    pub legacy_version: String,
    pub record_version: String,
    pub sigalgs: Vec<String>,
    pub sni: Option<String>,
    /// The server name in hex, as sent, when it is not printable UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_hex: Option<String>,
    /// The supported_versions extension's list (`None`: no such extension).
    pub supported_versions: Option<Vec<String>>,
}

impl OfferedHello {
    /// A hello sent over TCP.
    pub fn of(h: &ClientHello) -> OfferedHello {
        Self::over(h, crate::core::flow::Transport::Tcp)
    }

    /// A hello sent over `transport` (its JA4's first letter).
    pub fn over(h: &ClientHello, transport: crate::core::flow::Transport) -> OfferedHello {
        let ja3 = fingerprint::ja3(h);
        let alpn = h.alpn();
        OfferedHello {
            alpn: alpn.iter().map(|p| text(p)).collect(),
            alpn_hex: alpn_hex(&alpn),
            ciphers: h.cipher_suites.iter().map(|s| suite_name(*s)).collect(),
            extensions: h
                .extension_types()
                .into_iter()
                .map(extension_name)
                .collect(),
            groups: h.supported_groups().into_iter().map(group_name).collect(),
            ja3: ja3.md5,
            ja3_string: ja3.string,
            ja4: fingerprint::ja4_over(h, transport),
            key_shares: h
                .key_shares()
                .into_iter()
                .map(|(g, _)| group_name(g))
                .collect(),
            legacy_version: version_name(h.legacy_version),
            record_version: version_name(h.record_version),
            sigalgs: h
                .signature_algorithms()
                .into_iter()
                .map(sigalg_name)
                .collect(),
            sni: h.sni(),
            sni_hex: h.sni_bytes().and_then(hex_unless_printable),
            supported_versions: h
                .supported_versions()
                .map(|v| v.into_iter().map(version_name).collect()),
        }
    }
}

/// The fields of a ClientHello `decode` lists besides [`OfferedHello`]'s (text only).
#[derive(Debug, Clone, PartialEq)]
pub struct HelloFields {
    /// The random, in hex.
    pub random: String,
    /// The session id in hex (`None`: empty).
    pub session_id: Option<String>,
    /// Each suite's id (`0x1301`) and name.
    pub suites: Vec<(String, String)>,
    pub compression: Vec<String>,
    /// Each extension's type, name and length; `None`: no extensions block.
    pub extensions: Option<Vec<(u16, String, usize)>>,
    /// Each key share's group and length: `x25519 (32 bytes)`.
    pub key_shares: Vec<String>,
}

impl HelloFields {
    pub fn of(h: &ClientHello) -> HelloFields {
        HelloFields {
            random: hex::encode(h.random),
            session_id: (!h.session_id.is_empty()).then(|| hex::encode(&h.session_id)),
            suites: h
                .cipher_suites
                .iter()
                .map(|s| (format!("0x{s:04x}"), suite_name(*s)))
                .collect(),
            compression: h
                .compression_methods
                .iter()
                .map(|c| c.to_string())
                .collect(),
            extensions: h.extensions.as_ref().map(|exts| {
                exts.iter()
                    .map(|e| (e.typ, extension_name(e.typ), e.data.len()))
                    .collect()
            }),
            key_shares: h
                .key_shares()
                .into_iter()
                .map(|(g, k)| format!("{} ({} bytes)", group_name(g), k.len()))
                .collect(),
        }
    }
}

/// A ServerHello (or HelloRetryRequest) by name.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ServerHelloFacts {
    /// The protocol the connection selected (TLS 1.3: from EncryptedExtensions).
    pub alpn: Option<String>,
    /// The selected ALPN name in hex, as sent, when it is not printable UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_hex: Option<String>,
    pub cipher: String,
    /// The suite's id, `0xHHHH`.
    pub cipher_id: String,
    pub extensions: Vec<String>,
    /// The key exchange group (TLS 1.2: from ServerKeyExchange).
    pub group: Option<String>,
    pub hello_retry_request: bool,
    pub version: String,
}

impl ServerHelloFacts {
    /// The message's own fields only.
    pub fn of(sh: &ServerHello) -> ServerHelloFacts {
        let alpn = sh.alpn();
        ServerHelloFacts {
            alpn: alpn.as_deref().map(text),
            alpn_hex: alpn.as_deref().and_then(hex_unless_printable),
            cipher: suite_name(sh.cipher_suite),
            cipher_id: format!("0x{:04x}", sh.cipher_suite),
            extensions: sh
                .extension_types()
                .into_iter()
                .map(extension_name)
                .collect(),
            group: sh.key_share_group().map(group_name),
            hello_retry_request: sh.is_hello_retry_request(),
            version: version_name(sh.selected_version()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AlertFacts {
    pub code: u8,
    pub description: String,
    /// `client` or `server`.
    pub from: &'static str,
    pub level: &'static str,
}

impl AlertFacts {
    pub fn of(a: &AlertSeen) -> AlertFacts {
        AlertFacts {
            code: a.alert.description,
            description: alert_name(a.alert.description).into_owned(),
            from: a.from.peer(),
            level: alert_level_name(a.alert.level),
        }
    }
}

/// A certificate's facts, as sent (leaf first).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CertificateFacts {
    pub issuer: String,
    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    /// RFC 3339.
    pub not_after: String,
    pub not_before: String,
    pub san: Vec<String>,
    /// SHA-256 of the DER, lower-case hex.
    pub sha256: String,
    pub signature_algorithm: String,
    pub subject: String,
}

impl CertificateFacts {
    pub fn of(c: &CertInfo) -> CertificateFacts {
        CertificateFacts {
            issuer: c.issuer.clone(),
            key: c.key.clone(),
            not_after: rfc3339(c.not_after),
            not_before: rfc3339(c.not_before),
            san: c.san.clone(),
            sha256: c.sha256.clone(),
            signature_algorithm: c.signature_algorithm.clone(),
            subject: c.subject.clone(),
        }
    }
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EventFacts {
    /// Milliseconds from the first byte.
    pub at_ms: f64,
    pub from: &'static str,
    pub what: String,
}

/// Where the handshake left the expected path.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DivergedFacts {
    pub after: String,
    pub by: &'static str,
    pub event: String,
}

/// What keys (a key log, or a probe's own key shares) decrypted.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DecryptionFacts {
    pub client_finished_verified: Option<bool>,
    pub problem: Option<String>,
    pub records: usize,
    pub server_finished_verified: Option<bool>,
}

impl DecryptionFacts {
    pub fn of(d: &Decryption) -> DecryptionFacts {
        DecryptionFacts {
            client_finished_verified: d.client_finished_verified,
            problem: d.problem.clone(),
            records: d.records,
            server_finished_verified: d.server_finished_verified,
        }
    }
}

/// What the tracker concluded: the server's hello, alert, history and timeline, where it
/// diverged, and what could not be read or decrypted.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct VerdictFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<DivergedFacts>,
    pub events: Vec<EventFacts>,
    /// Zeek `ssl_history` letters: uppercase client, lowercase server.
    pub history: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tls: Option<String>,
    /// The first bytes the non-TLS peer sent, in hex, when they are not printable UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tls_hex: Option<String>,
    /// The ServerHello (else the HelloRetryRequest), with the group and ALPN the connection
    /// selected where the message itself does not name them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<ServerHelloFacts>,
    /// Records read from the server (bounded: see `no_progress` in docs/probe.md).
    pub server_records: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// The text report's `received` lines: the HelloRetryRequest as sent, then the
    /// ServerHello with the selected group and ALPN.
    #[serde(skip)]
    pub received: Vec<ServerHelloFacts>,
}

impl VerdictFacts {
    pub fn of(v: &Verdict) -> VerdictFacts {
        let alpn_bytes = v.alpn();
        let alpn = alpn_bytes.as_deref().map(text);
        let alpn_hex = alpn_bytes.as_deref().and_then(hex_unless_printable);
        let with_selection = |sh: &ServerHello| {
            let mut o = ServerHelloFacts::of(sh);
            // TLS 1.2 names its group in ServerKeyExchange, not in the ServerHello.
            if o.group.is_none() {
                o.group = v.group.map(group_name);
            }
            o
        };
        let server_hello = v
            .server_hello
            .as_ref()
            .or(v.hello_retry_request.as_ref())
            .map(|sh| {
                let mut o = with_selection(sh);
                if o.alpn.is_none() {
                    o.alpn = alpn.clone();
                    o.alpn_hex = alpn_hex.clone();
                }
                o
            });
        let mut received = Vec::new();
        if let Some(hrr) = &v.hello_retry_request {
            received.push(ServerHelloFacts {
                alpn: None,
                alpn_hex: None,
                ..ServerHelloFacts::of(hrr)
            });
        }
        if let Some(sh) = &v.server_hello {
            received.push(ServerHelloFacts {
                alpn: alpn.clone(),
                alpn_hex: alpn_hex.clone(),
                ..with_selection(sh)
            });
        }
        VerdictFacts {
            alert: v.alert.as_ref().map(AlertFacts::of),
            decode_error: v.error.clone(),
            decryption: v.decryption.as_ref().map(DecryptionFacts::of),
            diverged: v.diverged.as_ref().map(|d| DivergedFacts {
                after: d.after.clone(),
                by: d.by.peer(),
                event: d.event.clone(),
            }),
            events: v
                .events
                .iter()
                .map(|e| EventFacts {
                    at_ms: e.at as f64 / 1000.0,
                    from: e.dir.peer(),
                    what: e.what.to_string(),
                })
                .collect(),
            history: v.history.clone(),
            not_tls: v.not_tls.clone(),
            not_tls_hex: v.not_tls_bytes.as_deref().and_then(hex_unless_printable),
            server_hello,
            server_records: v.server_records,
            truncated: v.truncated.clone(),
            received,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_only_where_text_loses_bytes() {
        assert_eq!(hex_unless_printable(b"h2"), None);
        assert_eq!(hex_unless_printable("é.example".as_bytes()), None);
        assert_eq!(hex_unless_printable(b"\xba\xad").as_deref(), Some("baad"));
        assert_eq!(hex_unless_printable(b"a\r\n").as_deref(), Some("610d0a"));
        assert_eq!(alpn_hex(&[b"h2".to_vec(), b"http/1.1".to_vec()]), None);
        assert_eq!(
            alpn_hex(&[b"h2".to_vec(), b"\xff".to_vec()]),
            Some(vec!["6832".to_string(), "ff".to_string()])
        );
    }
}
