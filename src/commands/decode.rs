//! `decode` and `hello`: TLS bytes decoded field by field, by the same session tracker
//! `probe` and `pcap` use (so `decode` shows exactly what they would see); and the hello
//! `probe` would send, without sending it.

use crate::commands::SchemaVersion;
use crate::commands::facts::{CertificateFacts, HelloFields, OfferedHello, VerdictFacts};
use crate::commands::probe::{self, HelloSource};
use crate::core::flow::{Direction, EndKind};
use crate::core::session::Tracker;
use crate::core::wire::hello::{CONTENT_HANDSHAKE, ClientHello};
use crate::core::wire::registry::handshake_types::types::CLIENT_HELLO as HANDSHAKE_CLIENT_HELLO;
use crate::io::net::Target;
use schemars::JsonSchema;
use serde::Serialize;

/// Every field the tracker found in the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DecodedHello {
    pub schema_version: SchemaVersion,
    /// What the bytes were read as: `records`, `sslv2_record`, `handshake_message`,
    /// `client_hello_body`, `server_hello_body` (the last resort: the bytes are none of the
    /// others) or `cut_record_header`.
    pub taken_as: &'static str,
    pub client_hello: Option<OfferedHello>,
    /// The certificates found, leaf first; one that does not parse is `{"error": …}`.
    pub certificates: Vec<DecodedCertificate>,
    #[serde(flatten)]
    pub verdict: VerdictFacts,
    /// Text only: the ClientHello's other fields (random, ids, lengths).
    #[serde(skip)]
    pub client_hello_fields: Option<HelloFields>,
}

/// A certificate of the decoded bytes, or why it does not parse.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DecodedCertificate {
    Parsed(CertificateFacts),
    Unparsed {
        /// Why, in our words.
        error: String,
        /// The parser's own text (JSON only).
        #[serde(skip_serializing_if = "Option::is_none")]
        library_detail: Option<String>,
    },
}

impl DecodedHello {
    /// The bytes were cut short, could not be decoded, or are not TLS.
    pub fn incomplete(&self) -> bool {
        self.verdict.decode_error.is_some()
            || self.verdict.truncated.is_some()
            || self.verdict.not_tls.is_some()
    }
}

/// Decodes records, a handshake message or a bare hello body.
pub fn decode(bytes: &[u8]) -> DecodedHello {
    let (records, dir, taken_as) = as_records(bytes);
    let mut tracker = Tracker::new();
    tracker.on_data(dir, &records, 0);
    // The paste is all there is: an end reports a record or message cut short.
    tracker.on_end(dir, EndKind::Fin, 0);
    let v = tracker.verdict();
    DecodedHello {
        schema_version: SchemaVersion,
        taken_as,
        client_hello: v.client_hello.as_ref().map(OfferedHello::of),
        certificates: v
            .certificates
            .iter()
            .map(|der| match crate::core::cert::parse_certificate(der) {
                Ok(c) => DecodedCertificate::Parsed(CertificateFacts::of(&c)),
                Err(e) => DecodedCertificate::Unparsed {
                    error: format!("the certificate {}", e.problem),
                    library_detail: e.library,
                },
            })
            .collect(),
        verdict: VerdictFacts::of(v),
        client_hello_fields: v.client_hello.as_ref().map(HelloFields::of),
    }
}

/// `hello`: the bytes `probe` would send, and optionally what they decode to.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HelloBytes {
    pub schema_version: SchemaVersion,
    /// The records, in hex.
    pub hex: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<DecodedHello>,
    /// The records themselves (for `--raw`).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Builds (or takes) the hello for `target`, decoding it when asked. An error when a
/// length does not fit its field.
pub fn hello(source: &HelloSource, target: &Target, decode_it: bool) -> Result<HelloBytes, String> {
    let (bytes, _) = probe::prepare(source, target)?;
    Ok(HelloBytes {
        schema_version: SchemaVersion,
        hex: hex::encode(&bytes),
        decoded: decode_it.then(|| decode(&bytes)),
        bytes,
    })
}

/// Wraps what was pasted into records, and says who sent it and what the bytes were taken
/// for, so the tracker can read it: records (TLS or SSLv2) pass as they are, and so does
/// the start of a record header cut short (the tracker then says it is cut); a handshake
/// message gets a record header; a bare ClientHello or ServerHello body gets both headers.
fn as_records(bytes: &[u8]) -> (Vec<u8>, Direction, &'static str) {
    let sender = |handshake_type: u8| {
        if handshake_type == HANDSHAKE_CLIENT_HELLO {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    };
    let record_start = !bytes.is_empty()
        && (20..=24).contains(&bytes[0])
        && bytes.get(1).is_none_or(|&major| major == 3);
    if record_start && bytes.len() < 5 {
        return (
            bytes.to_vec(),
            Direction::ServerToClient,
            "cut_record_header",
        );
    }
    if record_start {
        let first_type = if bytes[0] == CONTENT_HANDSHAKE {
            bytes.get(5).copied().unwrap_or(0)
        } else {
            0
        };
        return (bytes.to_vec(), sender(first_type), "records");
    }
    if bytes.len() >= 3 && bytes[0] & 0x80 != 0 {
        // SSLv2 record: 2-byte header, then the message type (1 CLIENT-HELLO, 4 SERVER-HELLO).
        return (bytes.to_vec(), sender(bytes[2]), "sslv2_record");
    }
    let handshake_len = bytes
        .get(1..4)
        .map(|l| u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize);
    let (message, taken_as) = if handshake_len == Some(bytes.len().saturating_sub(4)) {
        (bytes.to_vec(), "handshake_message")
    } else {
        let (typ, taken_as) = if ClientHello::decode_body(bytes, 0x0301).is_ok() {
            (HANDSHAKE_CLIENT_HELLO, "client_hello_body")
        } else {
            (2, "server_hello_body")
        };
        let mut m = vec![typ];
        m.extend_from_slice(&(bytes.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(bytes);
        (m, taken_as)
    };
    let mut out = Vec::with_capacity(message.len() + 5 * (message.len() / 16384 + 1));
    for part in message.chunks(16384) {
        out.extend_from_slice(&[CONTENT_HANDSHAKE, 3, 1]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    (out, sender(message[0]), taken_as)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_hello_decodes_with_its_fields() {
        let target = Target::parse("example.com", 443).unwrap();
        let built = hello(&HelloSource::Spec(Box::default()), &target, true).unwrap();
        let d = built.decoded.expect("decoded");
        assert!(!d.incomplete());
        let json = serde_json::to_string(&d).unwrap();
        let start = format!("{{\"schema_version\":{},", crate::commands::SCHEMA_VERSION);
        assert!(json.starts_with(&start), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["client_hello"]["sni"], "example.com");
        assert_eq!(v["history"], "C");
        assert!(v.get("client_hello_fields").is_none());
        assert!(d.client_hello_fields.is_some());
    }

    #[test]
    fn garbage_decodes_without_panic() {
        for bytes in [
            &b""[..],
            b"\x16",
            b"\x16\x03\x01\xff\xff",
            b"\x80\x01",
            b"GET / HTTP/1.1\r\n",
        ] {
            let _ = decode(bytes);
        }
    }
}
