//! TLS handshake message types (RFC 8446 §4, RFC 5246 §7.4, RFC 6066, RFC 8879): the wire
//! id, the name RFCs write, and the letter Zeek's `ssl_history` uses for it.

use super::Entry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeType {
    pub id: u8,
    /// As RFCs write it: `ServerHelloDone`.
    pub name: &'static str,
    /// Zeek's `ssl_history` letter (lowercase; uppercase when the client sent it).
    pub history: char,
}

impl Entry for HandshakeType {
    fn id(&self) -> u16 {
        u16::from(self.id)
    }
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Handshake types that code branches on; their names are in [`HANDSHAKE_TYPES`].
pub mod types {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    /// Not sent on the wire in final TLS 1.3 (a HelloRetryRequest is a ServerHello with a
    /// special random); the id names the message in this table and in Zeek's history.
    pub const HELLO_RETRY_REQUEST: u8 = 6;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const CERTIFICATE_STATUS: u8 = 22;
    pub const KEY_UPDATE: u8 = 24;
    /// RFC 8446 §4.4.1: ClientHello1 replaced by its hash in the transcript.
    pub const MESSAGE_HASH: u8 = 254;
}

/// Zeek's letter for a type it does not know.
pub const UNKNOWN_HISTORY: char = 'z';

const fn h(id: u8, name: &'static str, history: char) -> HandshakeType {
    HandshakeType { id, name, history }
}

/// Sorted by id. CompressedCertificate has no Zeek letter and takes the unknown one.
#[rustfmt::skip]
pub static HANDSHAKE_TYPES: &[HandshakeType] = &[
    h(0, "HelloRequest", 'h'),
    h(1, "ClientHello", 'c'),
    h(2, "ServerHello", 's'),
    h(3, "HelloVerifyRequest", 'v'),
    h(4, "NewSessionTicket", 't'),
    h(5, "EndOfEarlyData", 'e'),
    h(6, "HelloRetryRequest", 'j'),
    h(8, "EncryptedExtensions", 'o'),
    h(11, "Certificate", 'x'),
    h(12, "ServerKeyExchange", 'k'),
    h(13, "CertificateRequest", 'r'),
    h(14, "ServerHelloDone", 'n'),
    h(15, "CertificateVerify", 'y'),
    h(16, "ClientKeyExchange", 'g'),
    h(20, "Finished", 'f'),
    h(21, "CertificateURL", 'w'),
    h(22, "CertificateStatus", 'u'),
    h(23, "SupplementalData", 'a'),
    h(24, "KeyUpdate", 'p'),
    h(25, "CompressedCertificate", UNKNOWN_HISTORY),
    h(254, "MessageHash", 'm'),
];

/// The row for `id`, if the type is assigned.
pub fn handshake_type(id: u8) -> Option<&'static HandshakeType> {
    // Looked up for every handshake message of every connection: the table is sorted by id
    // (the test checks it), so a binary search.
    HANDSHAKE_TYPES
        .binary_search_by_key(&id, |t| t.id)
        .ok()
        .map(|i| &HANDSHAKE_TYPES[i])
}

/// The name of a handshake message type as RFCs write it, if assigned.
pub fn handshake_type_name(id: u8) -> Option<&'static str> {
    handshake_type(id).map(|t| t.name)
}

/// Zeek's `ssl_history` letter for a handshake message type (before case by direction).
pub fn history_letter(id: u8) -> char {
    handshake_type(id).map_or(UNKNOWN_HISTORY, |t| t.history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_named_constants_agree() {
        assert!(HANDSHAKE_TYPES.windows(2).all(|w| w[0].id < w[1].id));
        crate::core::wire::registry::tests::check_table(HANDSHAKE_TYPES, "handshake types");
        for t in HANDSHAKE_TYPES {
            assert_eq!(handshake_type(t.id), Some(t));
        }
        assert_eq!(
            handshake_type_name(types::SERVER_HELLO_DONE),
            Some("ServerHelloDone")
        );
        assert_eq!(
            handshake_type_name(types::HELLO_RETRY_REQUEST),
            Some("HelloRetryRequest")
        );
        assert_eq!(history_letter(types::CERTIFICATE), 'x');
        assert_eq!(history_letter(7), UNKNOWN_HISTORY);
        assert_eq!(handshake_type_name(7), None);
    }
}
