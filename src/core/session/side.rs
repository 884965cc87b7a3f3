//! One direction of a connection: how far its bytes are read (preamble, framing, stopped),
//! its record layer (deframer) and handshake joiner, and its record protection.

use super::SNIFF_BYTES;
use crate::core::wire::record::{Deframer, HandshakeJoiner};

/// How far one direction's bytes are read. A direction starts in `Preamble` (a proxy
/// preamble may come first), takes its framing from its first byte after it, and stops for
/// good on non-TLS bytes, a framing error, a gap or a complete SSLv2 record.
#[derive(Debug)]
pub(super) enum Reading {
    /// Bytes of a possible proxy preamble (HTTP CONNECT, SOCKS) while it is told apart.
    Preamble(Vec<u8>),
    /// A connection picked up mid-stream: bytes are skipped until a TLS record starts
    /// (see `Tracker::picked_up_mid_stream`). `held`: the bytes from the first candidate
    /// record on; `skipped`: bytes dropped before them.
    Resync {
        held: Vec<u8>,
        skipped: usize,
    },
    /// The preamble is settled; the next byte decides the framing.
    Undetermined,
    Tls,
    /// A 2-byte SSLv2 record header (high bit set).
    Sslv2,
    /// Nothing more of this direction is decoded; `not_tls`: its bytes were not TLS, and
    /// later first bytes extend the description.
    Stopped {
        not_tls: bool,
    },
}

/// Whether a direction's records are readable: the state of its record protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protection {
    Cleartext,
    /// TLS 1.3: everything after the ServerHello (CCS aside).
    Encrypted,
    /// TLS ≤ 1.2: after this direction's ChangeCipherSpec.
    AfterCcs,
}

/// Per-direction decoding state.
#[derive(Debug)]
pub(super) struct Side {
    pub(super) reading: Reading,
    pub(super) deframer: Deframer,
    pub(super) joiner: HandshakeJoiner,
    /// First bytes, kept to describe a peer that does not speak TLS.
    pub(super) first_bytes: FirstBytes,
    /// The SSLv2 record being collected (at most 2 + 32767 bytes).
    pub(super) sslv2: Vec<u8>,
    pub(super) protection: Protection,
    /// This direction's Finished was seen (TLS ≤ 1.2 without keys: an encrypted handshake
    /// record after its CCS).
    pub(super) finished: bool,
    pub(super) records: usize,
    pub(super) encrypted_records: usize,
    pub(super) ended: bool,
    /// Version of the record that carried the latest handshake fragment.
    pub(super) record_version: u16,
    /// Picked up mid-stream, no record was found in the search window.
    pub(super) resync_gave_up: bool,
}

impl Side {
    pub(super) fn new() -> Self {
        Side {
            reading: Reading::Preamble(Vec::new()),
            deframer: Deframer::new(),
            joiner: HandshakeJoiner::new(),
            first_bytes: FirstBytes::default(),
            sslv2: Vec::new(),
            protection: Protection::Cleartext,
            finished: false,
            records: 0,
            encrypted_records: 0,
            ended: false,
            record_version: 0,
            resync_gave_up: false,
        }
    }

    /// Nothing more of this direction is decoded (not TLS, framing error, gap, SSLv2).
    pub(super) fn stopped(&self) -> bool {
        matches!(self.reading, Reading::Stopped { .. })
    }

    pub(super) fn stop(&mut self) {
        if !self.stopped() {
            self.reading = Reading::Stopped { not_tls: false };
        }
    }

    /// Records of this direction are opaque (after its CCS, or after a TLS 1.3 ServerHello).
    pub(super) fn encrypted(&self) -> bool {
        self.protection != Protection::Cleartext
    }
}

/// A direction's first [`SNIFF_BYTES`] bytes, held in place: every connection keeps them
/// (two allocations a connection, when they were a `Vec`), few ever need them.
#[derive(Debug, Clone)]
pub(super) struct FirstBytes {
    bytes: [u8; SNIFF_BYTES],
    len: usize,
}

impl Default for FirstBytes {
    fn default() -> Self {
        FirstBytes {
            bytes: [0; SNIFF_BYTES],
            len: 0,
        }
    }
}

impl FirstBytes {
    /// Appends what fits of `data`.
    pub(super) fn extend_from_slice(&mut self, data: &[u8]) {
        let n = (SNIFF_BYTES - self.len).min(data.len());
        self.bytes[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
    }
}

impl std::ops::Deref for FirstBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}
