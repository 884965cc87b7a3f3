//! Decoding of handshake messages and alerts, mostly what a server sends back.
//!
//! Every decoder reads through the bounded [`Reader`] and insists that length-delimited
//! structures are consumed exactly, so trailing or missing bytes are an error, not a guess.
//! tls-parser is not used underneath: its pitfalls (RFC 8446 HelloRetryRequest parsed as a
//! ServerHello, unknown handshake types failing a whole record, the TLS 1.3 Certificate form)
//! are exactly what this module has to get right; the tests use tls-parser as an independent
//! check instead. Ids stay raw (`u16`/`u8`); names come from the registry when displayed.

use super::codec::{DecodeError, Reader};
use super::hello::{ClientHello, Extension};
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::handshake_types::{handshake_type_name, types as t};
use crate::core::wire::registry::{DhPrime, named_prime};

/// The `random` of an RFC 8446 HelloRetryRequest: SHA-256("HelloRetryRequest").
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// TLS 1.3 on the wire; messages decoded "in a TLS 1.3 context" take their RFC 8446 form.
const TLS13: u16 = super::ProtocolVersion::TLS13.0;
const TLS12: u16 = super::ProtocolVersion::TLS12.0;

fn decode_extensions(r: &mut Reader<'_>, what: &str) -> Result<Vec<Extension>, DecodeError> {
    let mut er = r.sub_u16(what)?;
    let mut exts = Vec::new();
    while !er.is_empty() {
        let typ = er.u16("extension type")?;
        let data = er.sub_u16("extension data")?.rest().to_vec();
        exts.push(Extension { typ, data });
    }
    Ok(exts)
}

fn u16_list(mut r: Reader<'_>, what: &str) -> Result<Vec<u16>, DecodeError> {
    if !r.remaining().is_multiple_of(2) {
        return Err(DecodeError::new(r.offset(), format!("{what}: odd length")));
    }
    let mut v = Vec::with_capacity(r.remaining() / 2);
    while !r.is_empty() {
        v.push(r.u16(what)?);
    }
    Ok(v)
}

/// A ServerHello, or (same wire form, see [`ServerHello::is_hello_retry_request`]) an RFC 8446
/// HelloRetryRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    pub compression: u8,
    /// Empty both when the block is absent (SSLv3 style) and when it is empty.
    pub extensions: Vec<Extension>,
}

impl ServerHello {
    pub fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_partial(body).map_err(|(_, e)| e)
    }

    /// [`Self::decode_body`], and on an error what was read before it: the fields up to
    /// the compression method, and the extensions that decoded whole before the one that
    /// did not (a malformed extension list keeps the version and suite that came first).
    ///
    /// TLS 1.3 drafts up to 22 (`server_version` `0x7f00`–`0x7f16`, and Facebook's `0xfb..`
    /// of those drafts) have no session_id and no compression_method: the version, the
    /// random, the suite, the extensions.
    pub fn decode_partial(body: &[u8]) -> Result<Self, (Option<Self>, DecodeError)> {
        let mut r = Reader::new(body);
        let head = |r: &mut Reader<'_>| -> Result<_, DecodeError> {
            let legacy_version = r.u16("server_version")?;
            let mut random = [0u8; 32];
            random.copy_from_slice(r.take(32, "random")?);
            let early_draft = super::ProtocolVersion(legacy_version)
                .draft()
                .is_some_and(|(n, _)| n <= 22);
            if early_draft {
                return Ok((
                    legacy_version,
                    random,
                    Vec::new(),
                    r.u16("cipher_suite")?,
                    0,
                ));
            }
            let session_id = r.sub_u8("session_id")?.rest().to_vec();
            let suite = r.u16("cipher_suite")?;
            Ok((
                legacy_version,
                random,
                session_id,
                suite,
                r.u8("compression_method")?,
            ))
        };
        let (legacy_version, random, session_id, cipher_suite, compression) =
            head(&mut r).map_err(|e| (None, e))?;
        let mut hello = ServerHello {
            legacy_version,
            random,
            session_id,
            cipher_suite,
            compression,
            extensions: Vec::new(),
        };
        let rest = |r: &mut Reader<'_>, exts: &mut Vec<Extension>| -> Result<(), DecodeError> {
            if !r.is_empty() {
                let mut er = r.sub_u16("extensions")?;
                // Room for what servers send (nginx: 5 to 7): grown from 4, most answers
                // took a second allocation.
                exts.reserve(8);
                while !er.is_empty() {
                    let typ = er.u16("extension type")?;
                    let data = er.sub_u16("extension data")?.rest().to_vec();
                    exts.push(Extension { typ, data });
                }
            }
            r.expect_end("server_hello")
        };
        match rest(&mut r, &mut hello.extensions) {
            Ok(()) => Ok(hello),
            Err(e) => Err((Some(hello), e)),
        }
    }

    /// Data of the first extension of this type.
    pub fn ext(&self, typ: u16) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|e| e.typ == typ)
            .map(|e| e.data.as_slice())
    }

    pub fn extension_types(&self) -> Vec<u16> {
        self.extensions.iter().map(|e| e.typ).collect()
    }

    /// The version the server chose: supported_versions if present (and well formed), else
    /// legacy_version.
    pub fn selected_version(&self) -> u16 {
        match self.ext(ext::SUPPORTED_VERSIONS) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => self.legacy_version,
        }
    }

    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }

    /// The key_share group: in a ServerHello the group of the server's share, in a
    /// HelloRetryRequest the group the server asks for (the extension holds only that).
    pub fn key_share_group(&self) -> Option<u16> {
        match self.ext(ext::KEY_SHARE)? {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// The protocol the server selected with ALPN (one name in a one-element list).
    pub fn alpn(&self) -> Option<Vec<u8>> {
        selected_alpn(self.ext(ext::ALPN)?)
    }
}

/// The protocol a server's ALPN extension data selects (one name in a one-element list),
/// in a ServerHello (up to TLS 1.2) or in EncryptedExtensions (TLS 1.3).
pub fn selected_alpn(data: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(data);
    let mut list = r.sub_u16("alpn").ok()?;
    Some(list.sub_u8("protocol").ok()?.rest().to_vec())
}

/// An alert: level 1 warning, 2 fatal; description ids in the alert registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl Alert {
    /// Decodes a plaintext alert record payload, which is exactly two bytes.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let level = r.u8("alert level")?;
        let description = r.u8("alert description")?;
        r.expect_end("alert")?;
        Ok(Alert { level, description })
    }

    pub fn is_fatal(self) -> bool {
        self.level == 2
    }

    pub fn level_name(self) -> &'static str {
        crate::core::wire::registry::alert_level_name(self.level)
    }
}

/// ServerKeyExchange, recognised by structure: the key exchange algorithm is implied by the
/// cipher suite, but a form that parses exactly is unambiguous in practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKeyExchange {
    /// ECDHE with a named curve (curve_type 3).
    Ecdhe {
        group: u16,
        point_len: usize,
        /// TLS 1.2 only: the signature scheme; earlier versions imply it.
        signature_scheme: Option<u16>,
        signature_len: usize,
    },
    Dhe {
        prime_bits: usize,
        /// The prime as sent (big-endian), named when asked
        /// ([`ServerKeyExchange::dh_named_prime`]): matching it costs a SHA-256 of it, and a
        /// scan names one prime a target of the several DHE answers it reads
        /// (docs/benchmarks.md#scan-nodelay).
        prime: Vec<u8>,
        generator_len: usize,
        public_len: usize,
        signature_scheme: Option<u16>,
        signature_len: usize,
    },
    /// Anything else (PSK hints, explicit curves, SRP, a form we could not parse).
    Opaque { len: usize },
}

impl ServerKeyExchange {
    /// The prime's size of a finite-field DHE exchange (what clients and Logjam checks judge).
    pub fn dh_prime_bits(&self) -> Option<usize> {
        match self {
            ServerKeyExchange::Dhe { prime_bits, .. } => Some(*prime_bits),
            _ => None,
        }
    }

    /// The well-known prime of a finite-field DHE exchange, if it is one (RFC 2409, 3526,
    /// 5114, 7919).
    pub fn dh_named_prime(&self) -> Option<&'static DhPrime> {
        match self {
            ServerKeyExchange::Dhe { prime, .. } => named_prime(prime),
            _ => None,
        }
    }

    /// Decodes with `version` the negotiated version (signature schemes appear from TLS 1.2).
    pub fn decode(body: &[u8], version: u16) -> Self {
        Self::ecdhe(body, version)
            .or_else(|_| Self::dhe(body, version))
            .unwrap_or(ServerKeyExchange::Opaque { len: body.len() })
    }

    fn signature(r: &mut Reader<'_>, version: u16) -> Result<(Option<u16>, usize), DecodeError> {
        let scheme = if version >= TLS12 {
            Some(r.u16("signature scheme")?)
        } else {
            None
        };
        let len = r.sub_u16("signature")?.remaining();
        r.expect_end("server_key_exchange")?;
        Ok((scheme, len))
    }

    fn ecdhe(body: &[u8], version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.u8("curve_type")? != 3 {
            return Err(DecodeError::new(0, "not a named curve"));
        }
        let group = r.u16("named_curve")?;
        let point_len = r.sub_u8("public point")?.remaining();
        let (signature_scheme, signature_len) = Self::signature(&mut r, version)?;
        Ok(ServerKeyExchange::Ecdhe {
            group,
            point_len,
            signature_scheme,
            signature_len,
        })
    }

    fn dhe(body: &[u8], version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let prime = r.sub_u16("dh_p")?.rest();
        let generator_len = r.sub_u16("dh_g")?.remaining();
        let public_len = r.sub_u16("dh_Ys")?.remaining();
        let (signature_scheme, signature_len) = Self::signature(&mut r, version)?;
        let prime_bits = match prime.iter().position(|b| *b != 0) {
            Some(i) => (prime.len() - i) * 8 - prime[i].leading_zeros() as usize,
            None => 0,
        };
        Ok(ServerKeyExchange::Dhe {
            prime_bits,
            prime: prime.to_vec(),
            generator_len,
            public_len,
            signature_scheme,
            signature_len,
        })
    }
}

/// CertificateRequest in either form. TLS ≤ 1.2 fills `certificate_types`,
/// `signature_algorithms` (TLS 1.2) and `ca_names` from the message; TLS 1.3 has `context`
/// and `extensions`, and the two views are read from signature_algorithms and
/// certificate_authorities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateRequest {
    pub context: Option<Vec<u8>>,
    pub certificate_types: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    /// Distinguished names (DER) of acceptable CAs.
    pub ca_names: Vec<Vec<u8>>,
    pub extensions: Vec<Extension>,
}

fn ca_name_list(mut r: Reader<'_>) -> Result<Vec<Vec<u8>>, DecodeError> {
    let mut names = Vec::new();
    while !r.is_empty() {
        names.push(r.sub_u16("distinguished name")?.rest().to_vec());
    }
    Ok(names)
}

impl CertificateRequest {
    pub fn decode(body: &[u8], version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut req = CertificateRequest::default();
        if version >= TLS13 {
            req.context = Some(r.sub_u8("certificate_request_context")?.rest().to_vec());
            req.extensions = decode_extensions(&mut r, "extensions")?;
            for e in &req.extensions {
                let mut er = Reader::new(&e.data);
                match e.typ {
                    ext::SIGNATURE_ALGORITHMS => {
                        req.signature_algorithms =
                            u16_list(er.sub_u16("signature_algorithms")?, "signature scheme")?
                    }
                    ext::CERTIFICATE_AUTHORITIES => {
                        req.ca_names = ca_name_list(er.sub_u16("certificate_authorities")?)?
                    }
                    _ => {}
                }
            }
        } else {
            req.certificate_types = r.sub_u8("certificate_types")?.rest().to_vec();
            if version >= TLS12 {
                req.signature_algorithms =
                    u16_list(r.sub_u16("signature_algorithms")?, "signature scheme")?;
            }
            req.ca_names = ca_name_list(r.sub_u16("certificate_authorities")?)?;
        }
        r.expect_end("certificate_request")?;
        Ok(req)
    }
}

/// A Certificate message: the chain as sent (leaf first), DER each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// TLS 1.3 only: certificate_request_context.
    pub context: Option<Vec<u8>>,
    pub chain: Vec<Vec<u8>>,
    /// TLS 1.3 only: per-entry extensions (OCSP, SCT), parallel to `chain`.
    pub entry_extensions: Vec<Vec<Extension>>,
}

impl Certificate {
    pub fn decode(body: &[u8], version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let tls13 = version >= TLS13;
        let context = if tls13 {
            Some(r.sub_u8("certificate_request_context")?.rest().to_vec())
        } else {
            None
        };
        let mut list = r.sub_u24("certificate_list")?;
        let mut chain = Vec::new();
        let mut entry_extensions = Vec::new();
        while !list.is_empty() {
            chain.push(list.sub_u24("cert_data")?.rest().to_vec());
            if tls13 {
                entry_extensions.push(decode_extensions(&mut list, "entry extensions")?);
            }
        }
        r.expect_end("certificate")?;
        Ok(Certificate {
            context,
            chain,
            entry_extensions,
        })
    }
}

/// A decoded handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMessage {
    HelloRequest,
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    HelloRetryRequest(ServerHello),
    NewSessionTicket {
        lifetime: u32,
        ticket_len: usize,
    },
    EndOfEarlyData,
    EncryptedExtensions(Vec<Extension>),
    Certificate(Certificate),
    ServerKeyExchange(ServerKeyExchange),
    CertificateRequest(CertificateRequest),
    ServerHelloDone,
    CertificateVerify {
        /// TLS 1.2 and 1.3 only.
        scheme: Option<u16>,
        signature_len: usize,
    },
    ClientKeyExchange {
        len: usize,
    },
    Finished {
        verify_data: Vec<u8>,
    },
    CertificateStatus {
        status_type: u8,
        len: usize,
    },
    KeyUpdate {
        update_requested: u8,
    },
    Unknown {
        typ: u8,
        len: usize,
    },
}

impl HandshakeMessage {
    /// The handshake type this message is in [`HANDSHAKE_TYPES`](super::registry::HANDSHAKE_TYPES):
    /// its wire type, except a HelloRetryRequest (a ServerHello on the wire), which has its
    /// own row.
    pub fn typ(&self) -> u8 {
        match self {
            HandshakeMessage::HelloRetryRequest(_) => t::HELLO_RETRY_REQUEST,
            HandshakeMessage::Unknown { typ, .. } => *typ,
            HandshakeMessage::HelloRequest => t::HELLO_REQUEST,
            HandshakeMessage::ClientHello(_) => t::CLIENT_HELLO,
            HandshakeMessage::ServerHello(_) => t::SERVER_HELLO,
            HandshakeMessage::NewSessionTicket { .. } => t::NEW_SESSION_TICKET,
            HandshakeMessage::EndOfEarlyData => t::END_OF_EARLY_DATA,
            HandshakeMessage::EncryptedExtensions(_) => t::ENCRYPTED_EXTENSIONS,
            HandshakeMessage::Certificate(_) => t::CERTIFICATE,
            HandshakeMessage::ServerKeyExchange(_) => t::SERVER_KEY_EXCHANGE,
            HandshakeMessage::CertificateRequest(_) => t::CERTIFICATE_REQUEST,
            HandshakeMessage::ServerHelloDone => t::SERVER_HELLO_DONE,
            HandshakeMessage::CertificateVerify { .. } => t::CERTIFICATE_VERIFY,
            HandshakeMessage::ClientKeyExchange { .. } => t::CLIENT_KEY_EXCHANGE,
            HandshakeMessage::Finished { .. } => t::FINISHED,
            HandshakeMessage::CertificateStatus { .. } => t::CERTIFICATE_STATUS,
            HandshakeMessage::KeyUpdate { .. } => t::KEY_UPDATE,
        }
    }

    /// The message's name as RFCs write it (`Unknown` for unassigned types).
    pub fn name(&self) -> &'static str {
        handshake_type_name(self.typ()).unwrap_or("Unknown")
    }
}

fn empty(body: &[u8], what: &str, msg: HandshakeMessage) -> Result<HandshakeMessage, DecodeError> {
    Reader::new(body).expect_end(what)?;
    Ok(msg)
}

/// Decodes one handshake message body of type `typ`. `version` is the negotiated version as
/// far as known (0 before a ServerHello): it selects the TLS 1.3 forms of Certificate,
/// CertificateRequest and NewSessionTicket, and signature schemes in TLS 1.2.
/// `record_version` of a ClientHello is not known here and is set to 0.
pub fn decode_handshake(
    typ: u8,
    body: &[u8],
    version: u16,
) -> Result<HandshakeMessage, DecodeError> {
    Ok(match typ {
        t::HELLO_REQUEST => empty(body, "hello_request", HandshakeMessage::HelloRequest)?,
        t::CLIENT_HELLO => HandshakeMessage::ClientHello(ClientHello::decode_body(body, 0)?),
        t::SERVER_HELLO => {
            let sh = ServerHello::decode_body(body)?;
            if sh.is_hello_retry_request() {
                HandshakeMessage::HelloRetryRequest(sh)
            } else {
                HandshakeMessage::ServerHello(sh)
            }
        }
        t::NEW_SESSION_TICKET => {
            let mut r = Reader::new(body);
            let lifetime = r.u32("ticket_lifetime")?;
            if version >= TLS13 {
                r.u32("ticket_age_add")?;
                r.sub_u8("ticket_nonce")?;
            }
            let ticket_len = r.sub_u16("ticket")?.remaining();
            if version >= TLS13 {
                decode_extensions(&mut r, "extensions")?;
            }
            r.expect_end("new_session_ticket")?;
            HandshakeMessage::NewSessionTicket {
                lifetime,
                ticket_len,
            }
        }
        t::END_OF_EARLY_DATA => empty(body, "end_of_early_data", HandshakeMessage::EndOfEarlyData)?,
        t::ENCRYPTED_EXTENSIONS => {
            let mut r = Reader::new(body);
            let exts = decode_extensions(&mut r, "extensions")?;
            r.expect_end("encrypted_extensions")?;
            HandshakeMessage::EncryptedExtensions(exts)
        }
        t::CERTIFICATE => HandshakeMessage::Certificate(Certificate::decode(body, version)?),
        t::SERVER_KEY_EXCHANGE => {
            HandshakeMessage::ServerKeyExchange(ServerKeyExchange::decode(body, version))
        }
        t::CERTIFICATE_REQUEST => {
            HandshakeMessage::CertificateRequest(CertificateRequest::decode(body, version)?)
        }
        t::SERVER_HELLO_DONE => {
            empty(body, "server_hello_done", HandshakeMessage::ServerHelloDone)?
        }
        t::CERTIFICATE_VERIFY => {
            let mut r = Reader::new(body);
            let scheme = if version >= TLS12 {
                Some(r.u16("signature scheme")?)
            } else {
                None
            };
            let signature_len = r.sub_u16("signature")?.remaining();
            r.expect_end("certificate_verify")?;
            HandshakeMessage::CertificateVerify {
                scheme,
                signature_len,
            }
        }
        t::CLIENT_KEY_EXCHANGE => HandshakeMessage::ClientKeyExchange { len: body.len() },
        t::FINISHED => HandshakeMessage::Finished {
            verify_data: body.to_vec(),
        },
        t::CERTIFICATE_STATUS => {
            let mut r = Reader::new(body);
            let status_type = r.u8("status_type")?;
            let len = r.sub_u24("response")?.remaining();
            r.expect_end("certificate_status")?;
            HandshakeMessage::CertificateStatus { status_type, len }
        }
        t::KEY_UPDATE => {
            let mut r = Reader::new(body);
            let update_requested = r.u8("request_update")?;
            r.expect_end("key_update")?;
            HandshakeMessage::KeyUpdate { update_requested }
        }
        _ => HandshakeMessage::Unknown {
            typ,
            len: body.len(),
        },
    })
}

/// Escapes bytes for display: printable ASCII as is, `\r` `\n` `\t` as such, others `\xHH`;
/// at most `max` output characters, with `…` when cut.
pub fn printable_preview(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut piece = String::with_capacity(4);
    for &b in bytes {
        piece.clear();
        match b {
            b'\r' => piece.push_str("\\r"),
            b'\n' => piece.push_str("\\n"),
            b'\t' => piece.push_str("\\t"),
            b'\\' => piece.push_str("\\\\"),
            0x20..=0x7e => piece.push(char::from(b)),
            // Writing to a String cannot fail.
            _ => _ = write!(piece, "\\x{b:02x}"),
        }
        if out.len() + piece.len() > max {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Recognises a well-known plaintext protocol in the first bytes a peer sent (a server that
/// speaks HTTP, SSH, SMTP… where TLS was expected). Returns a description with a printable
/// preview, or `None` when nothing known matched.
pub fn sniff_not_tls(first_bytes: &[u8]) -> Option<String> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"HTTP/", "HTTP response"),
        (b"GET ", "HTTP request"),
        (b"POST ", "HTTP request"),
        (b"HEAD ", "HTTP request"),
        (b"PUT ", "HTTP request"),
        (b"OPTIONS ", "HTTP request"),
        (b"CONNECT ", "HTTP request"),
        (b"PRI * HTTP/2", "HTTP/2 preface"),
        (b"SSH-", "SSH banner"),
        (b"220 ", "SMTP/FTP greeting"),
        (b"220-", "SMTP/FTP greeting"),
        (b"* OK", "IMAP greeting"),
        (b"* PREAUTH", "IMAP greeting"),
        (b"+OK", "POP3 greeting"),
        (b"-ERR", "POP3 error"),
        (b"RFB ", "VNC banner"),
        (b"<!DOCTYPE", "HTML"),
        (b"<html", "HTML"),
        (b"<HTML", "HTML"),
        (b"AMQP", "AMQP header"),
        (b"-NOAUTH", "Redis error"),
        (b"-DENIED", "Redis error"),
    ];
    let (_, what) = SIGNATURES
        .iter()
        .find(|(prefix, _)| first_bytes.starts_with(prefix))?;
    Some(format!(
        "{what}: \"{}\"",
        printable_preview(first_bytes, 80)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut v = typ.to_be_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn server_hello_body(random: [u8; 32], exts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&random);
        b.push(32);
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&[0x13, 0x01, 0x00]);
        let all: Vec<u8> = exts.concat();
        b.extend_from_slice(&(all.len() as u16).to_be_bytes());
        b.extend_from_slice(&all);
        b
    }

    #[test]
    fn tls13_server_hello_views() {
        let body = server_hello_body(
            [1; 32],
            &[
                ext(43, &[0x03, 0x04]),
                ext(51, &[0x00, 0x1d, 0x00, 0x02, 0xaa, 0xbb]),
                ext(16, &[0x00, 0x03, 0x02, b'h', b'2']),
            ],
        );
        let sh = ServerHello::decode_body(&body).unwrap();
        assert_eq!(sh.legacy_version, 0x0303);
        assert_eq!(sh.selected_version(), 0x0304);
        assert_eq!(sh.cipher_suite, 0x1301);
        assert_eq!(sh.key_share_group(), Some(0x001d));
        assert_eq!(sh.alpn(), Some(b"h2".to_vec()));
        assert_eq!(sh.extension_types(), vec![43, 51, 16]);
        assert!(!sh.is_hello_retry_request());
        assert!(matches!(
            decode_handshake(2, &body, 0).unwrap(),
            HandshakeMessage::ServerHello(_)
        ));
    }

    #[test]
    fn hello_retry_request_is_recognised_by_its_random() {
        let body = server_hello_body(
            HELLO_RETRY_REQUEST_RANDOM,
            &[ext(43, &[0x03, 0x04]), ext(51, &[0x00, 0x17])],
        );
        let msg = decode_handshake(2, &body, 0).unwrap();
        let HandshakeMessage::HelloRetryRequest(hrr) = msg else {
            panic!("expected HRR, got {msg:?}");
        };
        assert_eq!(hrr.key_share_group(), Some(0x0017));
        // tls-parser, independently, takes the same bytes for an ordinary ServerHello with
        // the same fields: the HRR distinction is ours to make.
        let (rest, tp) = tls_parser::parse_tls_handshake_server_hello(&body).unwrap();
        assert!(rest.is_empty());
        assert_eq!(tp.random, &HELLO_RETRY_REQUEST_RANDOM);
        assert_eq!(tp.cipher.0, hrr.cipher_suite);
    }

    #[test]
    fn server_hello_without_extensions_and_with_trailing_bytes() {
        let mut body = vec![0x03, 0x00];
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 0x00, 0x0a, 0]);
        let sh = ServerHello::decode_body(&body).unwrap();
        assert!(sh.extensions.is_empty());
        assert_eq!(sh.selected_version(), 0x0300);
        body.extend_from_slice(&[0, 0, 0xff]);
        assert!(ServerHello::decode_body(&body).is_err());
        // Truncated anywhere: an error, never a panic.
        for n in 0..body.len() - 3 {
            assert!(ServerHello::decode_body(&body[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn alerts() {
        assert_eq!(
            Alert::decode(&[2, 40]).unwrap(),
            Alert {
                level: 2,
                description: 40
            }
        );
        assert!(Alert::decode(&[2]).is_err());
        assert!(Alert::decode(&[2, 40, 0]).is_err());
    }

    #[test]
    fn server_key_exchange_forms() {
        // ECDHE x25519, TLS 1.2 with rsa_pss_rsae_sha256 and a 4-byte signature.
        let mut ecdhe = vec![3, 0x00, 0x1d, 32];
        ecdhe.extend_from_slice(&[5; 32]);
        ecdhe.extend_from_slice(&[0x08, 0x04, 0, 4, 1, 2, 3, 4]);
        assert_eq!(
            ServerKeyExchange::decode(&ecdhe, 0x0303),
            ServerKeyExchange::Ecdhe {
                group: 0x1d,
                point_len: 32,
                signature_scheme: Some(0x0804),
                signature_len: 4
            }
        );
        // The same bytes read as TLS 1.0 leave trailing bytes: neither form fits.
        assert_eq!(
            ServerKeyExchange::decode(&ecdhe, 0x0301),
            ServerKeyExchange::Opaque { len: ecdhe.len() }
        );
        // DHE with a 1024-bit prime (top byte 0x80), TLS 1.1 (no scheme).
        let mut dhe = vec![0, 128, 0x80];
        dhe.extend_from_slice(&[0xff; 127]);
        dhe.extend_from_slice(&[0, 1, 2, 0, 2, 9, 9, 0, 1, 0xee]);
        assert_eq!(
            ServerKeyExchange::decode(&dhe, 0x0302),
            ServerKeyExchange::Dhe {
                prime_bits: 1024,
                prime: dhe[2..130].to_vec(),
                generator_len: 1,
                public_len: 2,
                signature_scheme: None,
                signature_len: 1
            }
        );
        assert_eq!(
            ServerKeyExchange::decode(&dhe, 0x0302).dh_named_prime(),
            None
        );
    }

    #[test]
    fn certificate_request_both_forms() {
        // TLS 1.2: types rsa_sign+ecdsa_sign, two schemes, one CA name "AB".
        let body = [
            2, 1, 64, 0, 4, 0x08, 0x04, 0x04, 0x03, 0, 4, 0, 2, b'A', b'B',
        ];
        let req = CertificateRequest::decode(&body, 0x0303).unwrap();
        assert_eq!(req.certificate_types, vec![1, 64]);
        assert_eq!(req.signature_algorithms, vec![0x0804, 0x0403]);
        assert_eq!(req.ca_names, vec![b"AB".to_vec()]);
        // TLS 1.3: empty context, signature_algorithms extension.
        let e = ext(13, &[0, 2, 0x08, 0x07]);
        let mut body13 = vec![0];
        body13.extend_from_slice(&(e.len() as u16).to_be_bytes());
        body13.extend_from_slice(&e);
        let req = CertificateRequest::decode(&body13, 0x0304).unwrap();
        assert_eq!(req.context, Some(vec![]));
        assert_eq!(req.signature_algorithms, vec![0x0807]);
    }

    #[test]
    fn certificate_both_forms() {
        let tls12 = [0, 0, 10, 0, 0, 2, 0xaa, 0xbb, 0, 0, 2, 0xcc, 0xdd];
        let c = Certificate::decode(&tls12, 0x0303).unwrap();
        assert_eq!(c.chain, vec![vec![0xaa, 0xbb], vec![0xcc, 0xdd]]);
        let tls13 = [0, 0, 0, 7, 0, 0, 2, 0xaa, 0xbb, 0, 0];
        let c = Certificate::decode(&tls13, 0x0304).unwrap();
        assert_eq!(c.context, Some(vec![]));
        assert_eq!(c.chain, vec![vec![0xaa, 0xbb]]);
        assert_eq!(c.entry_extensions, vec![vec![]]);
        // A certificate longer than the list: error.
        assert!(Certificate::decode(&[0, 0, 4, 0, 0, 9, 1], 0x0303).is_err());
    }

    #[test]
    fn unknown_and_empty_messages() {
        assert_eq!(
            decode_handshake(99, &[1, 2, 3], 0x0303).unwrap(),
            HandshakeMessage::Unknown { typ: 99, len: 3 }
        );
        assert_eq!(
            decode_handshake(14, &[], 0x0303).unwrap(),
            HandshakeMessage::ServerHelloDone
        );
        assert!(decode_handshake(14, &[0], 0x0303).is_err());
        let t13 = [0, 0, 0, 60, 1, 2, 3, 4, 1, 9, 0, 2, 7, 7, 0, 0];
        assert_eq!(
            decode_handshake(4, &t13, 0x0304).unwrap(),
            HandshakeMessage::NewSessionTicket {
                lifetime: 60,
                ticket_len: 2
            }
        );
    }

    #[test]
    fn sniffing_plaintext_protocols() {
        let s =
            sniff_not_tls(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n\x00\x01").unwrap();
        assert_eq!(
            s,
            "HTTP response: \"HTTP/1.1 400 Bad Request\\r\\nServer: nginx\\r\\n\\r\\n\\x00\\x01\""
        );
        assert!(
            sniff_not_tls(b"SSH-2.0-OpenSSH_9.6\r\n")
                .unwrap()
                .starts_with("SSH banner")
        );
        assert!(
            sniff_not_tls(b"220 mail.example ESMTP\r\n")
                .unwrap()
                .starts_with("SMTP/FTP")
        );
        assert!(
            sniff_not_tls(b"* OK IMAP4rev1\r\n")
                .unwrap()
                .starts_with("IMAP")
        );
        assert!(sniff_not_tls(b"+OK POP3\r\n").unwrap().starts_with("POP3"));
        assert_eq!(sniff_not_tls(&[0x16, 3, 3, 0, 2]), None);
        let long = sniff_not_tls(&[b"HTTP/1.1 200 OK ".as_slice(), &[0xff; 200]].concat()).unwrap();
        assert!(long.chars().count() < 110, "{long}");
        assert!(long.contains('…'));
    }

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(
            printable_preview(b"ab\r\n\t\\\x00\xff~", 100),
            "ab\\r\\n\\t\\\\\\x00\\xff~"
        );
        // An escape is never cut in half.
        assert_eq!(printable_preview(b"abc\x01", 5), "abc…");
        assert_eq!(printable_preview(b"abc\x01", 7), "abc\\x01");
    }
}
