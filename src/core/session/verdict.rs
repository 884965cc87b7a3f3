//! What the tracker concludes about one connection: the [`Verdict`] and its parts.

use super::attacks::Attack;
use super::events::Event;
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::ClientHello;
use crate::core::wire::hello::Extension;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::server::{
    Alert, CertificateRequest, ServerHello, ServerKeyExchange, selected_alpn,
};
use crate::core::wire::sslv2::Sslv2ServerHello;

/// The outcome of a connection, in the contract's snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with a ServerHello and nothing went wrong before we stopped.
    ServerHello,
    HelloRetryRequest,
    /// Both sides finished the handshake (seen in captures).
    Established,
    Alert,
    Closed,
    Reset,
    Timeout,
    /// The stream stopped being decodable (gap, truncation) before the handshake was decided.
    Incomplete,
    NotTls,
    /// The server kept sending records without handshake progress (no handshake message it
    /// had not sent before) until a budget ran out: see `NO_PROGRESS_RECORDS` and
    /// `NO_PROGRESS_BYTES` in the tracker.
    NoProgress,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ServerHello => "server_hello",
            Outcome::HelloRetryRequest => "hello_retry_request",
            Outcome::Established => "established",
            Outcome::Alert => "alert",
            Outcome::Closed => "closed",
            Outcome::Reset => "reset",
            Outcome::Timeout => "timeout",
            Outcome::Incomplete => "incomplete",
            Outcome::NotTls => "not_tls",
            Outcome::NoProgress => "no_progress",
        }
    }
}

/// The server's records since its last handshake progress (its last handshake message of
/// a type it had not sent before, or the start), while the handshake was readable
/// (cleartext, or decrypted with keys) and not yet established.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stall {
    pub records: usize,
    /// Their bytes, record headers included.
    pub bytes: usize,
    /// Of those records, by content type: see [`Stall::KINDS`].
    pub by_kind: [usize; 5],
    /// What ended the connection as `no_progress`, if it did.
    pub ended_by: Option<StallLimit>,
}

impl Stall {
    /// The content types `by_kind` counts, in its order.
    pub const KINDS: [&'static str; 5] = [
        "handshake",
        "alert",
        "change_cipher_spec",
        "application_data",
        "other",
    ];
}

/// The budget that ended a connection as `no_progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallLimit {
    /// `NO_PROGRESS_RECORDS` records without progress.
    Records,
    /// `NO_PROGRESS_BYTES` bytes without progress.
    Bytes,
    /// The reader's own byte cap (a probe's `max_bytes`) came first.
    ReadCap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSeen {
    pub from: Direction,
    pub alert: Alert,
    pub at: Micros,
    /// The alert was read from an encrypted record (only possible with keys; see `session`
    /// docs): without them encrypted alerts are counted, not decoded.
    pub encrypted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    pub dir: Direction,
    pub kind: EndKind,
    pub at: Micros,
}

/// Who stopped the handshake, after which message, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diverged {
    pub by: Direction,
    /// The last handshake step seen from either side ("ClientHello", "Certificate", …).
    pub after: String,
    /// "alert handshake_failure", "close", "reset", "timeout", "gap", "encrypted alert (inferred)", ….
    pub event: String,
}

/// What decryption (with [`Keys`]) achieved on this connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decryption {
    /// Records opened with keys, both directions.
    pub records: usize,
    /// The server's Finished carried the verify_data the keys predict: the keys are right.
    pub server_finished_verified: Option<bool>,
    pub client_finished_verified: Option<bool>,
    /// Why (part of) the connection could not be decrypted.
    pub problem: Option<String>,
}

/// Everything the tracker concluded about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Zeek `ssl_history` letters: uppercase client, lowercase server.
    pub history: String,
    pub events: Vec<Event>,
    /// The first ClientHello (a second one after a HelloRetryRequest is only an event).
    pub client_hello: Option<ClientHello>,
    /// The records that carried the first ClientHello, byte for byte, for replay.
    pub client_hello_wire: Option<Vec<u8>>,
    /// An SSLv2-format client hello record, raw (header included), for the SSLv2 decoder.
    pub sslv2_client_hello: Option<Vec<u8>>,
    /// The SSLv2 SERVER-HELLO, when the server answered in SSLv2.
    pub sslv2_server_hello: Option<Sslv2ServerHello>,
    pub server_hello: Option<ServerHello>,
    pub hello_retry_request: Option<ServerHello>,
    /// The server's chain as sent (leaf first), from a plaintext Certificate message.
    pub certificates: Vec<Vec<u8>>,
    pub server_key_exchange: Option<ServerKeyExchange>,
    pub certificate_request: Option<CertificateRequest>,
    /// TLS 1.3: the server's EncryptedExtensions (selected ALPN and the like), once
    /// decrypted.
    pub encrypted_extensions: Option<Vec<Extension>>,
    /// TLS 1.3: whether the leaf entry of the server's Certificate carried a stapled OCSP
    /// response (status_request); `None` until a TLS 1.3 server Certificate was read.
    pub leaf_ocsp_stapled: Option<bool>,
    /// The signature scheme of the server's CertificateVerify: TLS 1.3, once decrypted
    /// (a TLS 1.2 server signs its ServerKeyExchange instead).
    pub server_signature_scheme: Option<u16>,
    /// The first alert that decided the connection (or the first alert at all).
    pub alert: Option<AlertSeen>,
    /// The first direction to end.
    pub end: Option<StreamEnd>,
    pub diverged: Option<Diverged>,
    /// What the peer sent instead of TLS, with a printable preview.
    pub not_tls: Option<String>,
    /// The first bytes that peer sent, as sent (what `not_tls` previews).
    pub not_tls_bytes: Option<Vec<u8>>,
    /// A framing or decoding error, and the direction it was in.
    pub error: Option<String>,
    pub error_by: Option<Direction>,
    /// The stream ended inside a record or handshake message (which, and how far).
    pub truncated: Option<String>,
    /// The version the server selected (SSLv2: 0x0002).
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    /// Key exchange group: key_share (TLS 1.3) or ServerKeyExchange (ECDHE).
    pub group: Option<u16>,
    pub established: bool,
    pub client_encrypted_records: usize,
    pub server_encrypted_records: usize,
    /// Every record read from the server, and every byte it sent (records or not).
    pub server_records: usize,
    pub server_bytes: usize,
    /// The server's records since its last handshake progress.
    pub stall: Stall,
    pub first_at: Option<Micros>,
    pub decided_at: Option<Micros>,
    /// Set when the tracker had keys.
    pub decryption: Option<Decryption>,
    /// Known attacks the records show: an over-long heartbeat request and its over-read
    /// answer (Heartbleed), an early ChangeCipherSpec and a server that took it.
    pub attacks: Vec<Attack>,
}

impl Verdict {
    /// The protocol the server selected with ALPN: from EncryptedExtensions in TLS 1.3
    /// (when decrypted), else from the ServerHello.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        let from_ee = self.encrypted_extensions.as_ref().and_then(|exts| {
            let e = exts.iter().find(|e| e.typ == ext::ALPN)?;
            selected_alpn(&e.data)
        });
        from_ee.or_else(|| self.server_hello.as_ref()?.alpn())
    }
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            outcome: Outcome::Incomplete,
            history: String::new(),
            // A handshake logs about eight events: one allocation instead of three.
            events: Vec::with_capacity(8),
            client_hello: None,
            client_hello_wire: None,
            sslv2_client_hello: None,
            sslv2_server_hello: None,
            truncated: None,
            server_hello: None,
            hello_retry_request: None,
            certificates: Vec::new(),
            server_key_exchange: None,
            certificate_request: None,
            encrypted_extensions: None,
            leaf_ocsp_stapled: None,
            server_signature_scheme: None,
            alert: None,
            end: None,
            diverged: None,
            not_tls: None,
            not_tls_bytes: None,
            error: None,
            error_by: None,
            version: None,
            cipher: None,
            group: None,
            established: false,
            client_encrypted_records: 0,
            server_encrypted_records: 0,
            server_records: 0,
            server_bytes: 0,
            stall: Stall::default(),
            first_at: None,
            decided_at: None,
            decryption: None,
            attacks: Vec::new(),
        }
    }
}
