//! The session tracker: one per connection, sans-IO.
//!
//! It is fed `(direction, bytes, time)` chunks and end-of-stream signals, decodes records and
//! handshake messages as they complete, and keeps the [`Verdict`]. `probe` feeds it what it
//! sent and received; `capture` feeds it reassembled TCP payload. "Where did this handshake
//! diverge" is therefore computed by this one piece of code, live and offline.
//!
//! Layers, bottom up: each direction's [`side::Side`] (how far its bytes are read, its
//! record deframer and handshake joiner, its record protection); the connection's
//! [`phase::Phase`] (what the server's answers negotiated); the messages moving both; the
//! [`Event`]s and the [`Verdict`] they leave. Keys are inputs: a key log or our key pairs
//! at construction, a later key pair through [`Tracker::add_key_share`].
//!
//! Files. This one: the [`Tracker`] and its public API (construction and keys,
//! `on_data` and `on_end`, the accessors), the bounds, the re-exports. The tracker's work
//! goes on in further `impl Tracker` blocks, one file per concern, in the order bytes meet
//! them:
//!
//! - `preamble.rs`: a proxy preamble (HTTP CONNECT, SOCKS) before a direction's TLS;
//! - `resync.rs`: a connection picked up mid-stream: the search for its first whole record;
//! - `sslv2.rs`: SSLv2-framed hellos;
//! - `records.rs`: the TLS record layer per direction: records by content type,
//!   ChangeCipherSpec, framing errors and non-TLS peers, the no-progress budget,
//!   truncation at the end;
//! - `handshake.rs`: handshake messages and alerts, and what each does to the verdict;
//! - `keys.rs`: decryption with keys: transcript, secrets, record openers, Finished checks;
//! - `opaque.rs`: what records that cannot be opened still tell (TLS 1.3 inference);
//! - `outcome.rs`: writing the verdict: events, history letters, divergence, the outcome
//!   and how settled it is;
//! - `quic.rs`: what a QUIC connection shows beyond its handshake messages;
//!   `quic_client.rs`: `probe --quic`'s client connection around a tracker.
//!
//! Types only: `side.rs`, `phase.rs`, `events.rs`, `verdict.rs`, `attacks.rs` (known
//! attacks the records show). Unit tests: `tests.rs`.

use crate::core::crypto::ecdh::KeyShareSecret;
use crate::core::crypto::{KeyLog, Keys};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::proxy::Proxy;
use crate::core::wire::record::FramingError;
use crate::core::wire::{ClientHello, ProtocolVersion};
use std::sync::Arc;

mod attacks;
mod events;
mod handshake;
mod keys;
mod opaque;
mod outcome;
mod phase;
mod preamble;
mod quic;
pub mod quic_client;
mod records;
mod resync;
mod side;
mod sslv2;
mod verdict;

pub use attacks::Attack;
pub use events::{Event, EventText};
pub use verdict::{
    AlertSeen, Decryption, Diverged, Outcome, Stall, StallLimit, StreamEnd, Verdict,
};

use keys::CryptoState;
use phase::{Decision, Phase, Tls13Inference};
use side::{Reading, Side};
use sslv2::sslv2_plausible;

/// Events kept per connection; an endless stream of small records must not grow memory.
const MAX_EVENTS: usize = 256;
/// Room made for events at the first one.
const EVENTS_AT_FIRST: usize = 8;
/// Same bound as Zeek's `max_ssl_history_length`.
const MAX_HISTORY: usize = 100;
/// Initial bytes of each direction kept to describe a peer that does not speak TLS.
const SNIFF_BYTES: usize = 128;
/// Payload of a TLS 1.3 encrypted record holding only an alert: 2 bytes of alert, 1 byte of
/// inner content type, 16 bytes of AEAD tag (no padding, as common stacks send it).
const TLS13_ALERT_RECORD_LEN: usize = 19;
const TLS13: u16 = ProtocolVersion::TLS13.0;
/// Handshake bytes kept for transcript hashes when decrypting; a longer handshake is not
/// verified (its Finished cannot be checked, keys derived later are not asked for).
const MAX_TRANSCRIPT: usize = 1 << 20;
/// Server records without handshake progress (no handshake message of a type the server had
/// not sent before) after which the connection ends as `no_progress`. A real server's
/// flight is a handful of records; 1,000 covers a chain cut into 1-byte fragments of a
/// few hundred bytes, and bounds a server that talks endlessly (empty records, CCS, warning
/// alerts, HelloRequests, application data before its ServerHello).
pub const NO_PROGRESS_RECORDS: usize = 1000;
/// Server bytes (records with their headers) without handshake progress after which the
/// connection ends as `no_progress`: the largest handshake message read (1 MiB, the
/// joiner's limit) fits in it.
pub const NO_PROGRESS_BYTES: usize = 1 << 20;

/// Bytes of a direction picked up mid-stream searched for the first whole TLS record; a
/// direction with none in them is not read (`Reading::Resync`).
pub const RESYNC_WINDOW: usize = 32 * 1024;

/// The session tracker for one connection (sans-IO): feed it bytes and ends, read the
/// [`Verdict`].
#[derive(Debug)]
pub struct Tracker {
    v: Verdict,
    sides: [Side; 2],
    /// The proxy protocol the client's preamble spoke, if it had one.
    proxy: Option<Proxy>,
    decision: Decision,
    phase: Phase,
    last_step: Option<&'static str>,
    /// The server sent ServerHelloDone: its TLS ≤ 1.2 flight is complete.
    server_hello_done: bool,
    t13: Tls13Inference,
    client_hello_wire: Vec<u8>,
    client_hellos: usize,
    /// Handshake message types the server has sent (a bit per type): a type not seen
    /// before is progress.
    server_types_seen: [u64; 4],
    events_dropped: usize,
    keys: Option<Keys>,
    crypto: CryptoState,
    /// Picked up mid-stream ([`Tracker::picked_up_mid_stream`]).
    mid_stream: bool,
    /// Known attacks the records show (heartbeats, an early ChangeCipherSpec).
    watch: attacks::Watch,
    /// The client sent its ClientKeyExchange: a ChangeCipherSpec after it is on time.
    client_key_exchange: bool,
    /// The ClientHello the owner built and sends ([`Tracker::expect_own_hello`]), until the
    /// client's first ClientHello message takes its place.
    own_hello: Option<ClientHello>,
    /// [`Tracker::first_flight_only`]: the server's TLS 1.3 Finished is not checked and no
    /// application keys are made.
    first_flight_only: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            v: Verdict::default(),
            sides: [Side::new(), Side::new()],
            proxy: None,
            decision: Decision::Open,
            phase: Phase::AwaitingServerHello,
            last_step: None,
            server_hello_done: false,
            t13: Tls13Inference::default(),
            client_hello_wire: Vec::new(),
            client_hellos: 0,
            server_types_seen: [0; 4],
            events_dropped: 0,
            keys: None,
            crypto: CryptoState::default(),
            mid_stream: false,
            watch: attacks::Watch::default(),
            client_key_exchange: false,
            own_hello: None,
            first_flight_only: false,
        }
    }

    /// A tracker that decrypts what it can with secrets from `keys`: encrypted handshake
    /// messages and alerts then take part in the verdict like cleartext ones.
    pub fn with_keys(keys: Keys) -> Self {
        let mut t = Tracker::new();
        t.decrypt_with(keys);
        t
    }

    /// [`Tracker::with_keys`] for a tracker already made, before it is fed: its owner can
    /// make it where it stays (a tracker is a few kilobytes, and a scan makes one a hello).
    pub fn decrypt_with(&mut self, keys: Keys) {
        self.keys = Some(keys);
        self.v.decryption = Some(Decryption::default());
    }

    /// A tracker that decrypts with the secrets of a key log (shared by the connections of
    /// a capture).
    pub fn with_key_log(log: Arc<KeyLog>) -> Self {
        Self::with_keys(Keys::Log(log))
    }

    /// A tracker that completes the TLS 1.3 key exchange with the key pairs behind the
    /// key shares its owner sent.
    pub fn with_key_shares(shares: Vec<KeyShareSecret>) -> Self {
        Self::with_keys(Keys::shares(shares))
    }

    /// The key pair of a key share sent later (a second ClientHello, after a
    /// HelloRetryRequest): the owner hands it over before feeding the server's answer.
    /// Ignored by a tracker without keys or with a key log.
    pub fn add_key_share(&mut self, share: KeyShareSecret) {
        if let Some(keys) = self.keys.as_mut() {
            keys.add_share(share);
        }
    }

    /// The ClientHello its owner built and is about to send on this connection (a scan's
    /// hello): the client's first ClientHello message is taken to be it instead of being
    /// decoded again. Decoding the bytes just encoded from it cost a scan about a dozen
    /// allocations a handshake. The bytes fed must encode it with true lengths; they still
    /// go through the record layer, the joiner, the transcript and the timeline as any
    /// other (debug builds check that they decode to it), but are not kept as the
    /// verdict's `client_hello_wire` (the owner has them).
    pub fn expect_own_hello(&mut self, hello: ClientHello) {
        self.own_hello = Some(hello);
    }

    /// Only what the server's first flight shows is wanted (a scan's hello, answered
    /// up to the server's Finished and then closed): a decrypted TLS 1.3 flight is read
    /// with the handshake keys as usual, but the server's Finished is not checked
    /// (`server_finished_verified` stays `None`) and no application keys are made (records
    /// after it stay sealed). So the transcript is not kept or hashed past the ServerHello:
    /// hashing the certificate chain into it, the Finished check and the application
    /// secrets were a tenth of a scan's instructions (docs/benchmarks.md#scan-nodelay).
    pub fn first_flight_only(&mut self) {
        self.first_flight_only = true;
    }

    /// The hello given to [`Tracker::expect_own_hello`], back to its owner (to send it
    /// again): still unread, or read as the connection's first ClientHello (then taken out
    /// of the verdict).
    pub fn reclaim_own_hello(&mut self) -> Option<ClientHello> {
        self.own_hello.take().or_else(|| self.v.client_hello.take())
    }

    /// The hello given to [`Tracker::expect_own_hello`] if no ClientHello took its place.
    pub fn unread_own_hello(&mut self) -> Option<ClientHello> {
        self.own_hello.take()
    }

    pub fn verdict(&self) -> &Verdict {
        &self.v
    }

    /// The verdict, without a copy, when the tracker is done. Inlined: called, it took
    /// the whole tracker (kilobytes) by value, a copy at every scan handshake.
    #[inline]
    pub fn into_verdict(self) -> Verdict {
        self.v
    }

    /// Keys are in use (or ready for a ChangeCipherSpec) in at least one direction.
    pub fn decrypting(&self) -> bool {
        self.crypto
            .openers
            .iter()
            .chain(&self.crypto.pending)
            .any(Option::is_some)
    }

    /// A live probe may stop reading: the server's flight is complete (ServerHelloDone; a
    /// TLS 1.3 ServerHello and the encrypted records delivered with it; a
    /// HelloRetryRequest), or an alert, an end, non-TLS bytes or an error decided it.
    pub fn decided(&self) -> bool {
        self.decision != Decision::Open
    }

    /// The connection was picked up mid-stream (a capture without its first packets): each
    /// direction's bytes may start inside a record. A direction whose first bytes start a
    /// record is read as usual; otherwise bytes are skipped up to the first record whose
    /// header is followed by another record header (or, at the direction's end, ends
    /// exactly there), searched for in the first [`RESYNC_WINDOW`] bytes. Random bytes
    /// pass that test about once in 10^13 positions, so they give no verdict.
    pub fn picked_up_mid_stream(&mut self) {
        self.mid_stream = true;
        for side in &mut self.sides {
            side.reading = Reading::Resync {
                held: Vec::new(),
                skipped: 0,
            };
        }
    }

    /// Picked up mid-stream, and no TLS in sight: a direction gave up the search for a
    /// record, and the other stopped too or has sent nothing yet. Its bytes are not
    /// needed any more (a bulk transfer seen from its middle).
    pub fn mid_stream_unreadable(&self) -> bool {
        if !self.mid_stream {
            return false;
        }
        let quiet = |s: &Side| match &s.reading {
            Reading::Stopped { .. } => true,
            Reading::Resync { held, skipped } => held.is_empty() && *skipped == 0,
            _ => false,
        };
        self.sides.iter().any(|s| s.resync_gave_up)
            && self.sides.iter().all(quiet)
            && self.v.client_hello.is_none()
            && self.v.server_hello.is_none()
    }

    pub fn on_data(&mut self, dir: Direction, data: &[u8], at: Micros) {
        if data.is_empty() {
            return;
        }
        self.v.first_at.get_or_insert(at);
        let i = dir.index();
        if self.sides[i].ended {
            return;
        }
        if matches!(self.sides[i].reading, Reading::Resync { .. }) {
            if let Some(rest) = self.resync(dir, data, false, at) {
                self.on_data(dir, &rest, at);
            }
            return;
        }
        if matches!(self.sides[i].reading, Reading::Preamble(_)) {
            if let Some(rest) = self.skip_preamble(dir, data, at) {
                self.on_data(dir, &rest, at);
            }
            return;
        }
        // Counted once the preamble is told apart: held bytes come back through here.
        if dir == Direction::ServerToClient {
            self.v.server_bytes = self.v.server_bytes.saturating_add(data.len());
        }
        let side = &mut self.sides[i];
        let sniffed_more = side.first_bytes.len() < SNIFF_BYTES;
        if sniffed_more {
            let n = (SNIFF_BYTES - side.first_bytes.len()).min(data.len());
            side.first_bytes.extend_from_slice(&data[..n]);
        }
        if matches!(side.reading, Reading::Undetermined) {
            side.reading = if data[0] & 0x80 != 0 {
                Reading::Sslv2
            } else {
                Reading::Tls
            };
        }
        match side.reading {
            Reading::Stopped { not_tls } => {
                // The description grows with the first bytes, and only with them.
                if not_tls && sniffed_more {
                    self.describe_not_tls(dir);
                }
            }
            Reading::Sslv2 if !sslv2_plausible(dir, &side.first_bytes) => {
                // A high first bit alone is weak evidence: random bytes have it half the time.
                let first = side.first_bytes[0];
                self.on_framing_error(dir, FramingError::NotTls(first), at);
            }
            Reading::Sslv2 => self.sslv2(dir, data, at),
            _ => {
                self.deframe(dir, data, at);
                if dir == Direction::ServerToClient
                    && self.sides[i].deframer.buffered() == 0
                    && let Phase::Tls13 { flight_read } = &mut self.phase
                {
                    *flight_read = true;
                }
            }
        }
        self.check_decided(at);
    }

    pub fn on_end(&mut self, dir: Direction, kind: EndKind, at: Micros) {
        let i = dir.index();
        if matches!(self.sides[i].reading, Reading::Resync { .. })
            && let Some(rest) = self.resync(dir, &[], true, at)
        {
            self.on_data(dir, &rest, at);
        }
        // Bytes held while telling a preamble from TLS are read as they are.
        if let Reading::Preamble(held) = &mut self.sides[i].reading {
            let held = std::mem::take(held);
            self.sides[i].reading = Reading::Undetermined;
            if !held.is_empty() {
                self.on_data(dir, &held, at);
            }
        }
        if self.sides[i].ended {
            return;
        }
        self.sides[i].ended = true;
        self.event(at, dir, EventText::End(kind));
        self.v.end.get_or_insert(StreamEnd { dir, kind, at });
        self.report_truncation(dir, at);
        if kind == EndKind::Gap {
            self.sides[i].stop();
        }
        if self.tls13() {
            self.infer_tls13_alert_on_end(dir, at);
        }
        if !self.v.established {
            // The reader stopped at its cap while the server talked without progress: that
            // is what happened, not an undecodable stream.
            let stalled = kind == EndKind::ByteCap
                && dir == Direction::ServerToClient
                && !self.decided()
                && self.v.stall.records > 0;
            if stalled {
                self.no_progress(StallLimit::ReadCap, at);
            }
            let outcome = match kind {
                EndKind::Fin => Some(Outcome::Closed),
                EndKind::Rst => Some(Outcome::Reset),
                EndKind::Gap => Some(Outcome::Incomplete),
                EndKind::Timeout if !self.decided() => Some(Outcome::Timeout),
                EndKind::ByteCap if !self.decided() => Some(Outcome::Incomplete),
                EndKind::Timeout | EndKind::ByteCap => None,
            };
            if let Some(o) = outcome {
                if kind != EndKind::ByteCap {
                    self.diverge(dir, kind.as_str().to_string());
                }
                self.conclude(o, at);
            }
        }
        self.check_decided(at);
    }
}

#[cfg(test)]
mod tests;
