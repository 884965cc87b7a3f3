//! The ClientHello model: every field settable, including to values that are wrong on
//! purpose. Extensions are kept as raw `(type, bytes)` pairs in wire order, so a hello can
//! carry anything, in any order, and decoding then re-encoding gives the same bytes.
//! Typed views (`sni()`, `groups()`, …) read the raw extensions on demand.

/// One extension as it stands on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    pub typ: u16,
    pub data: Vec<u8>,
}

/// A TLS ClientHello (not SSLv2-format; see [`super::sslv2`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Version in the record header(s) carrying the hello; not part of the handshake message.
    pub record_version: u16,
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    /// `None`: no extensions block at all (as SSLv3 clients send); `Some(vec![])`: an empty one.
    pub extensions: Option<Vec<Extension>>,
}
