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

use crate::core::crypto::ecdh::KeyShareSecret;
use crate::core::crypto::schedule::{self, TrafficSecrets, TranscriptHash};
use crate::core::crypto::{HandshakeInfo, HashAlg, KeyLog, Keys, RecordOpener};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::proxy::{self, Proxy};
use crate::core::wire::record::{
    ContentType, FramingError, RECORD_HEADER_LEN, RawHandshake, Record,
};
use crate::core::wire::registry::alerts::codes as alert_code;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::handshake_types::UNKNOWN_HISTORY;
use crate::core::wire::registry::handshake_types::types as handshake;
use crate::core::wire::registry::{
    alert_name, handshake_type, handshake_type_name, history_letter, sslv2_cipher_name,
};
use crate::core::wire::server::{
    Alert, Certificate, HandshakeMessage, ServerHello, ServerKeyExchange, decode_handshake,
    printable_preview, sniff_not_tls,
};
use crate::core::wire::sslv2::Sslv2ServerHello;
use crate::core::wire::{ClientHello, ProtocolVersion};
use std::borrow::Cow;
use std::sync::Arc;

mod attacks;
mod events;
mod phase;
mod quic;
pub mod quic_client;
mod side;
mod verdict;

pub use attacks::Attack;
pub use events::{Event, EventText};
pub use verdict::{
    AlertSeen, Decryption, Diverged, Outcome, Stall, StallLimit, StreamEnd, Verdict,
};

use phase::{Decision, Phase, Tls13Inference};
use side::{Protection, Reading, Side};

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

/// Decryption state, used only with keys.
#[derive(Debug, Default)]
struct CryptoState {
    /// Handshake messages in order (header + body), for transcript hashes.
    transcript: Vec<u8>,
    transcript_overflow: bool,
    /// The transcript's hash kept running from the ServerHello on, once the hash is known
    /// (`None` before, and after a HelloRetryRequest replaced the transcript).
    running: Option<TranscriptHash>,
    hash: Option<HashAlg>,
    /// Per direction: the opener in use.
    openers: [Option<RecordOpener>; 2],
    /// TLS 1.2: openers installed at each side's ChangeCipherSpec. TLS 1.3: the client's
    /// application opener, installed after its Finished.
    pending: [Option<RecordOpener>; 2],
    tls13_handshake: Option<TrafficSecrets>,
    tls12_master: Option<Vec<u8>>,
    /// TLS 1.3: the server sent a record after the client's Finished.
    server_spoke_after_client_finished: bool,
    /// QUIC in a capture: the Handshake packet number space read with the key log's
    /// handshake secrets (`quic::HandshakeSpace`).
    quic_handshake: Option<Box<quic::HandshakeSpace>>,
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

    /// Reads a proxy preamble at the start of a direction. Returns the bytes to read as
    /// TLS once it is known whether (and where) a preamble ends; `None` while undecided.
    fn skip_preamble<'d>(
        &mut self,
        dir: Direction,
        data: &'d [u8],
        at: Micros,
    ) -> Option<Cow<'d, [u8]>> {
        let held =
            match std::mem::replace(&mut self.sides[dir.index()].reading, Reading::Undetermined) {
                Reading::Preamble(held) => held,
                // Only called while a preamble is read.
                other => {
                    self.sides[dir.index()].reading = other;
                    Vec::new()
                }
            };
        // Nothing held (every direction's first bytes): scan them where they are; a capture
        // has thousands of first flights to read.
        let buf: Cow<'d, [u8]> = if held.is_empty() {
            Cow::Borrowed(data)
        } else {
            let mut held = held;
            held.extend_from_slice(data);
            Cow::Owned(held)
        };
        let scan = match (dir, self.proxy) {
            (Direction::ClientToServer, _) => {
                let (proxy, scan) = proxy::scan_client(&buf);
                // The server may answer a first message (SOCKS5 method choice) before the
                // client's preamble is complete: it must be read as the same protocol.
                self.proxy = if scan == proxy::Scan::NotProxy {
                    None
                } else {
                    proxy
                };
                scan
            }
            (Direction::ServerToClient, Some(p)) => proxy::scan_server(p, &buf),
            (Direction::ServerToClient, None) => proxy::Scan::NotProxy,
        };
        match scan {
            proxy::Scan::NeedMore if buf.len() < proxy::MAX_PREAMBLE => {
                self.sides[dir.index()].reading = Reading::Preamble(buf.into_owned());
                None
            }
            proxy::Scan::Done { len, what } => {
                self.event(at, dir, what);
                let rest = match buf {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[len..]),
                    Cow::Owned(mut b) => Cow::Owned(b.split_off(len)),
                };
                (!rest.is_empty()).then_some(rest)
            }
            _ => Some(buf),
        }
    }

    /// Looks for the first whole record of a direction picked up mid-stream; returns the
    /// bytes to read from it on (the reading is then settled), `None` while still looking
    /// or after giving up. `last`: the direction ended, nothing more will come.
    #[cold]
    #[inline(never)]
    fn resync(&mut self, dir: Direction, data: &[u8], last: bool, at: Micros) -> Option<Vec<u8>> {
        let i = dir.index();
        let Reading::Resync {
            mut held,
            mut skipped,
        } = std::mem::replace(&mut self.sides[i].reading, Reading::Undetermined)
        else {
            return None;
        };
        held.extend_from_slice(data);
        // The first bytes start a record (or an SSLv2 hello): read them as if from the
        // start, as before any of this.
        if skipped == 0 && !last {
            match starts_like_tls(dir, &held) {
                None => {
                    self.sides[i].reading = Reading::Resync { held, skipped };
                    return None;
                }
                Some(true) => return Some(held),
                Some(false) => {}
            }
        }
        let mut at_pos = 0;
        let found = loop {
            if skipped + at_pos > RESYNC_WINDOW {
                break None;
            }
            match record_chain_at(&held[at_pos..], last) {
                Sync::Yes => break Some(at_pos),
                Sync::NeedMore if !last => {
                    held.drain(..at_pos);
                    skipped += at_pos;
                    self.sides[i].reading = Reading::Resync { held, skipped };
                    return None;
                }
                Sync::No | Sync::NeedMore => {
                    if at_pos >= held.len() {
                        break None;
                    }
                    at_pos += 1;
                }
            }
        };
        let Some(start) = found else {
            self.sides[i].stop();
            self.sides[i].resync_gave_up = true;
            let seen = skipped + held.len();
            let what = format!(
                "picked up mid-stream: no TLS record found in {} bytes",
                seen.min(RESYNC_WINDOW)
            );
            self.event(at, dir, what);
            return None;
        };
        let what = format!(
            "picked up mid-stream: {} bytes before the first whole record skipped",
            skipped + start
        );
        self.event(at, dir, what);
        held.drain(..start);
        Some(held)
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

    fn deframe(&mut self, dir: Direction, mut data: &[u8], at: Micros) {
        let i = dir.index();
        // Out of `self` while its records (which may borrow it) are read.
        let mut deframer = std::mem::take(&mut self.sides[i].deframer);
        while let Some(r) = deframer.next(&mut data) {
            match r {
                Ok(rec) => self.on_record(dir, rec, at),
                Err(e) => {
                    self.on_framing_error(dir, e, at);
                    break;
                }
            }
            if self.sides[i].stopped() {
                break;
            }
        }
        self.sides[i].deframer = deframer;
    }

    fn on_framing_error(&mut self, dir: Direction, e: FramingError, at: Micros) {
        let i = dir.index();
        self.sides[i].stop();
        if matches!(e, FramingError::NotTls(_)) && self.sides[i].records == 0 {
            self.sides[i].reading = Reading::Stopped { not_tls: true };
            self.describe_not_tls(dir);
            let what = format!("not TLS: {}", self.v.not_tls.clone().unwrap_or_default());
            self.event(at, dir, what);
            self.diverge(dir, "not TLS".into());
            self.conclude(Outcome::NotTls, at);
        } else {
            self.fail(dir, at, e.to_string());
        }
    }

    /// Describes what a non-TLS peer sent, from the bytes seen so far.
    fn describe_not_tls(&mut self, dir: Direction) {
        let side = &self.sides[dir.index()];
        let what = sniff_not_tls(&side.first_bytes).unwrap_or_else(|| {
            format!(
                "unrecognised bytes \"{}\"",
                printable_preview(&side.first_bytes, 80)
            )
        });
        self.v.not_tls = Some(format!("{} sent {what}", dir.peer()));
        self.v.not_tls_bytes = Some(side.first_bytes.to_vec());
    }

    fn fail(&mut self, dir: Direction, at: Micros, what: String) {
        let msg = format!("{}: {what}", dir.peer());
        self.event(at, dir, format!("error: {what}"));
        if self.v.error.is_none() {
            self.v.error = Some(msg);
            self.v.error_by = Some(dir);
        }
        if !self.v.established {
            self.conclude(Outcome::Incomplete, at);
        }
    }

    /// Minimal SSLv2 handling: the record is collected and its message type read; the full
    /// decoder lives in `wire::sslv2`.
    fn sslv2(&mut self, dir: Direction, data: &[u8], at: Micros) {
        let side = &mut self.sides[dir.index()];
        // The header is 2 bytes: high bit set, 15 bits of length.
        let n = 2usize.saturating_sub(side.sslv2.len()).min(data.len());
        side.sslv2.extend_from_slice(&data[..n]);
        let data = &data[n..];
        let [h0, h1, ..] = side.sslv2[..] else {
            return;
        };
        let want = (((h0 & 0x7f) as usize) << 8 | h1 as usize) + 2;
        let n = want.saturating_sub(side.sslv2.len()).min(data.len());
        side.sslv2.extend_from_slice(&data[..n]);
        let rest = &data[n..];
        if side.sslv2.len() < want {
            return;
        }
        side.stop();
        let record = std::mem::take(&mut side.sslv2);
        if record.len() < 3 {
            self.fail(dir, at, "empty SSLv2 record".into());
            return;
        }
        let (len, msg_type) = (record.len(), record[2]);
        match (dir, msg_type) {
            (Direction::ClientToServer, 1) => {
                self.event(at, dir, format!("SSLv2 ClientHello ({len} bytes)"));
                self.letter(dir, 'c');
                self.last_step = Some("SSLv2 ClientHello");
                self.v.sslv2_client_hello = Some(record);
                self.client_hellos += 1;
                // A server of SSLv3 or later answers in TLS records, and so does the client
                // from then on (ClientKeyExchange, ChangeCipherSpec, Finished): the hello is
                // the only SSLv2-framed record of the connection. A client answered in
                // SSLv2 goes on in SSLv2 (CLIENT-MASTER-KEY): the next first byte decides.
                self.sides[dir.index()].reading = Reading::Undetermined;
                if !rest.is_empty() {
                    self.on_data(dir, rest, at);
                }
            }
            (Direction::ServerToClient, 4) => {
                let decoded = Sslv2ServerHello::decode(&record);
                let version = match &decoded {
                    Ok(h) => Some(h.version),
                    // SERVER-HELLO: type, session_id_hit, certificate_type, server_version.
                    Err(_) => record.get(5..7).map(|v| u16::from_be_bytes([v[0], v[1]])),
                };
                let what = match &decoded {
                    Ok(h) => format!(
                        "SSLv2 ServerHello ({} cipher kinds: {}; certificate {} bytes)",
                        h.cipher_specs.len(),
                        h.cipher_specs
                            .iter()
                            .map(|c| sslv2_cipher_name(*c))
                            .collect::<Vec<_>>()
                            .join(", "),
                        h.certificate.len()
                    ),
                    Err(e) => format!("SSLv2 ServerHello (undecodable: {e})"),
                };
                if let Ok(h) = decoded {
                    if !h.certificate.is_empty() {
                        self.v.certificates = vec![h.certificate.clone()];
                    }
                    self.v.sslv2_server_hello = Some(h);
                }
                self.event(at, dir, what);
                self.letter(dir, 's');
                self.last_step = Some("SSLv2 ServerHello");
                self.v.version = version;
                self.progress(Outcome::ServerHello);
                self.decide(at);
            }
            (Direction::ClientToServer, _) if self.v.sslv2_client_hello.is_some() => {
                // The SSLv2 handshake goes on (CLIENT-MASTER-KEY, then encrypted records):
                // the server's SERVER-HELLO decided what there is to tell.
                self.event(at, dir, format!("SSLv2 client message ({len} bytes)"));
            }
            _ => {
                let what = format!("SSLv2 message type {msg_type}");
                self.fail(dir, at, what);
            }
        }
    }

    fn on_record(&mut self, dir: Direction, rec: Record, at: Micros) {
        let i = dir.index();
        self.sides[i].records += 1;
        let len = rec.payload.len();
        let ct = rec.header.content_type;
        if dir == Direction::ServerToClient {
            self.v.server_records += 1;
            // Only what can be read is judged: opaque records (no keys) may be a long
            // flight or application data the tracker cannot see into. And only after a
            // ClientHello: a capture that picks a connection up mid-stream sees application
            // data of a session whose handshake it never saw.
            let readable = !self.sides[i].encrypted() || self.crypto.openers[i].is_some();
            if readable && self.client_hellos > 0 && !self.v.established && !self.concluded() {
                let stall = &mut self.v.stall;
                stall.records += 1;
                stall.bytes = stall.bytes.saturating_add(RECORD_HEADER_LEN + len);
                let kind = match ct {
                    ContentType::Handshake => 0,
                    ContentType::Alert => 1,
                    ContentType::ChangeCipherSpec => 2,
                    ContentType::ApplicationData => 3,
                    _ => 4,
                };
                stall.by_kind[kind] += 1;
                self.read_record(dir, rec, at);
                self.check_progress_budget(at);
                return;
            }
        }
        self.read_record(dir, rec, at);
    }

    /// The server has used up its budget of records or bytes without progress: the
    /// connection ends as `no_progress`, and nothing more of the server is read.
    fn check_progress_budget(&mut self, at: Micros) {
        let stall = &self.v.stall;
        let limit = if stall.records >= NO_PROGRESS_RECORDS {
            StallLimit::Records
        } else if stall.bytes >= NO_PROGRESS_BYTES {
            StallLimit::Bytes
        } else {
            return;
        };
        if !self.v.established && !self.concluded() {
            self.no_progress(limit, at);
        }
    }

    fn no_progress(&mut self, limit: StallLimit, at: Micros) {
        let dir = Direction::ServerToClient;
        let stall = &mut self.v.stall;
        stall.ended_by = Some(limit);
        let what = format!(
            "no progress: {} records ({} bytes) without a new handshake message",
            stall.records, stall.bytes
        );
        self.event(at, dir, what);
        self.diverge(dir, "no progress".into());
        self.conclude(Outcome::NoProgress, at);
        self.sides[dir.index()].stop();
    }

    fn read_record(&mut self, dir: Direction, rec: Record, at: Micros) {
        let i = dir.index();
        let len = rec.payload.len();
        let ct = rec.header.content_type;
        self.watch
            .record(dir, ct, rec.payload, at, &mut self.v.attacks);
        if ct == ContentType::ChangeCipherSpec {
            self.on_ccs(dir, at);
            return;
        }
        // TLS 1.3 ciphertext always has the outer type application_data: an alert record
        // there is plaintext (a peer that could not derive keys).
        if self.sides[i].encrypted() && (!self.tls13() || ct == ContentType::ApplicationData) {
            if let Some(opener) = self.crypto.openers[i].as_mut() {
                match opener.open(ct.to_u8(), rec.header.version, rec.payload) {
                    Ok(opened) => {
                        self.on_decrypted(dir, opened.content_type, &opened.data, at);
                        return;
                    }
                    Err(e) => {
                        self.crypto.openers[i] = None;
                        self.crypto.pending[i] = None;
                        let what = format!("{} record not decrypted: {e}", dir.peer());
                        self.decryption_problem(what.clone());
                        self.event(at, dir, what);
                    }
                }
            }
            self.on_encrypted(dir, ct, len, at);
            return;
        }
        match ct {
            ContentType::Handshake => {
                // Not when the owner gave its hello: it has the bytes.
                if dir == Direction::ClientToServer
                    && self.client_hellos == 0
                    && self.own_hello.is_none()
                {
                    rec.write_wire(&mut self.client_hello_wire);
                }
                self.sides[i].record_version = rec.header.version;
                self.on_handshake_payload(dir, rec.payload, at, true);
            }
            ContentType::Alert => match Alert::decode(rec.payload) {
                Ok(alert) => self.on_alert(dir, alert, at, false),
                Err(e) => self.fail(dir, at, format!("alert record: {e}")),
            },
            ContentType::ApplicationData => {
                self.record_event(at, dir, "application data", len);
            }
            ContentType::Heartbeat => {
                self.letter(dir, 'b');
                self.record_event(at, dir, "heartbeat", len);
                self.watch
                    .heartbeat(dir, rec.payload, at, &mut self.v.attacks);
            }
            ContentType::ChangeCipherSpec | ContentType::Unknown(_) => {
                self.letter(dir, 'q');
                let t = ct.to_u8();
                self.event(at, dir, format!("record of unknown type {t} ({len} bytes)"));
            }
        }
    }

    /// The messages in one handshake record's payload (and those it completes). Cleartext
    /// stops at a TLS 1.3 ServerHello: what follows it is ciphertext.
    fn on_handshake_payload(
        &mut self,
        dir: Direction,
        mut payload: &[u8],
        at: Micros,
        cleartext: bool,
    ) {
        let i = dir.index();
        let mut joiner = std::mem::take(&mut self.sides[i].joiner);
        while let Some(m) = joiner.next(&mut payload) {
            match m {
                Ok(raw) => self.on_message(dir, raw, at),
                Err(e) => {
                    self.sides[i].stop();
                    self.fail(dir, at, e.to_string());
                    break;
                }
            }
            if cleartext && self.sides[i].encrypted() {
                joiner.hold(payload);
                break;
            }
        }
        self.sides[i].joiner = joiner;
    }

    fn on_ccs(&mut self, dir: Direction, at: Micros) {
        let i = dir.index();
        self.letter(dir, 'i');
        // Before any ServerHello (after a HelloRetryRequest, or a client's early CCS) and in
        // TLS 1.3 the CCS is the RFC 8446 middlebox-compatibility no-op.
        if self.tls13() || self.v.server_hello.is_none() {
            self.event(at, dir, "ChangeCipherSpec (middlebox compatibility)");
        } else {
            self.event(at, dir, "ChangeCipherSpec");
            // Before any key exchange, in a handshake the server did not resume (its own
            // CCS would have come first): CVE-2014-0224's early CCS.
            let server_ccs = self.sides[Direction::ServerToClient.index()].encrypted();
            if dir == Direction::ClientToServer && !self.client_key_exchange && !server_ccs {
                let after = self.last_step.unwrap_or("ServerHello");
                let flight_done = self.server_hello_done;
                self.watch
                    .early_ccs(dir, after, flight_done, at, &mut self.v.attacks);
            }
            self.sides[i].protection = Protection::AfterCcs;
            self.crypto.openers[i] = self.crypto.pending[i].take();
        }
    }

    fn on_encrypted(&mut self, dir: Direction, ct: ContentType, len: usize, at: Micros) {
        let i = dir.index();
        self.sides[i].encrypted_records += 1;
        match dir {
            Direction::ClientToServer => self.v.client_encrypted_records += 1,
            Direction::ServerToClient => self.v.server_encrypted_records += 1,
        }
        if self.tls13() {
            self.record_event(at, dir, "encrypted record", len);
            self.tls13_encrypted(dir, len, at);
            return;
        }
        match ct {
            ContentType::Handshake => {
                self.record_event(at, dir, "encrypted handshake record", len);
                if !self.sides[i].finished && !self.watch.sent_early_ccs(dir) {
                    self.sides[i].finished = true;
                    self.last_step = Some("Finished");
                }
                if self.sides.iter().all(|s| s.finished) && !self.concluded() {
                    self.establish(at);
                }
            }
            ContentType::Alert => {
                self.record_event(at, dir, "encrypted alert", len);
                if !self.v.established {
                    self.diverge(dir, "encrypted alert".into());
                }
            }
            ContentType::ApplicationData => {
                self.record_event(at, dir, "application data", len);
            }
            _ => self.record_event(at, dir, "encrypted record", len),
        }
    }

    fn tls13_encrypted(&mut self, dir: Direction, len: usize, at: Micros) {
        let alert_sized = len == TLS13_ALERT_RECORD_LEN;
        let client_records = self.sides[0].encrypted_records;
        match dir {
            Direction::ServerToClient if client_records == 0 => {
                self.t13.server_flight_records += 1;
                self.last_step = Some("server's encrypted handshake");
            }
            Direction::ServerToClient => {
                self.t13.server_after_client += 1;
                if self.t13.server_after_client == 1 {
                    self.t13.server_first_after_client_alert_sized =
                        alert_sized && !self.t13.client_closing;
                }
            }
            Direction::ClientToServer if client_records == 1 => {
                if alert_sized {
                    self.t13.client_alert_pending = true;
                } else {
                    self.last_step = Some("client's encrypted handshake");
                    self.establish_tls13(at);
                }
            }
            Direction::ClientToServer => {
                if self.t13.client_alert_pending {
                    // More records followed: the first one was not a final alert.
                    self.t13.client_alert_pending = false;
                    self.establish_tls13(at);
                }
                if alert_sized {
                    self.t13.client_closing = true;
                }
            }
        }
    }

    fn establish_tls13(&mut self, at: Micros) {
        if self.t13.server_flight_records > 0 && !self.concluded() {
            self.establish(at);
        }
    }

    fn infer_tls13_alert_on_end(&mut self, dir: Direction, at: Micros) {
        match dir {
            Direction::ClientToServer if self.t13.client_alert_pending => {
                self.t13.client_alert_pending = false;
                self.event(
                    at,
                    dir,
                    "probably an encrypted alert (inferred: the client's first encrypted record \
                     is alert-sized and the client closed; did it reject the server's \
                     certificate?)",
                );
                self.diverge(dir, "encrypted alert (inferred)".into());
            }
            Direction::ClientToServer => self.t13.client_closing = true,
            Direction::ServerToClient
                if self.v.established
                    && self.t13.server_after_client == 1
                    && self.t13.server_first_after_client_alert_sized =>
            {
                self.v.established = false;
                self.v.outcome = Outcome::ServerHello;
                self.event(
                    at,
                    dir,
                    "probably an encrypted alert (inferred: the server answered the client's \
                     flight with one alert-sized record and closed; a client certificate \
                     required or rejected?)",
                );
                self.last_step = Some("client's encrypted handshake");
                self.diverge(dir, "encrypted alert (inferred)".into());
            }
            Direction::ServerToClient => {}
        }
    }

    fn on_alert(&mut self, dir: Direction, alert: Alert, at: Micros, encrypted: bool) {
        self.letter(dir, 'l');
        // TLS 1.3: the client is done after its Finished, the server is not; a fatal alert
        // the server sends before anything else means it refused the client's flight.
        if encrypted
            && self.tls13()
            && self.v.established
            && dir == Direction::ServerToClient
            && alert.is_fatal()
            && !self.crypto.server_spoke_after_client_finished
        {
            self.v.established = false;
        }
        self.event(at, dir, EventText::Alert { alert, encrypted });
        let seen = AlertSeen {
            from: dir,
            alert,
            at,
            encrypted,
        };
        // A warning other than close_notify (e.g. unrecognized_name) lets the handshake go
        // on; fatal alerts and close_notify before the end of the handshake stop it.
        let stops = alert.is_fatal() || alert.description == alert_code::CLOSE_NOTIFY;
        if self.v.established {
            self.v.alert.get_or_insert(seen);
        } else if stops {
            if self.v.alert.is_none_or(|a| !a.alert.is_fatal()) {
                self.v.alert = Some(seen);
            }
            self.diverge(dir, format!("alert {}", alert_name(alert.description)));
            self.conclude(Outcome::Alert, at);
            if alert.is_fatal() {
                // The handshake is over on this side: what may follow is not TLS (vsftpd
                // writes "500 OOPS: …" in plaintext behind its alert) and not an error.
                self.sides[dir.index()].stop();
            }
        } else {
            self.v.alert.get_or_insert(seen);
        }
    }

    fn on_message(&mut self, dir: Direction, raw: RawHandshake, at: Micros) {
        let version = self.v.version.unwrap_or(0);
        let own = if dir == Direction::ClientToServer && raw.typ == handshake::CLIENT_HELLO {
            self.own_hello.take()
        } else {
            None
        };
        let decoded = match own {
            Some(ch) => {
                debug_assert!(
                    matches!(
                        decode_handshake(raw.typ, raw.body, version),
                        Ok(HandshakeMessage::ClientHello(d))
                            if d == ClientHello { record_version: 0, ..ch.clone() }
                    ),
                    "the bytes sent do not decode to the hello they were built from"
                );
                Ok(HandshakeMessage::ClientHello(ch))
            }
            None => decode_handshake(raw.typ, raw.body, version),
        };
        let msg = match decoded {
            Ok(m) => m,
            Err(e) => {
                let name = handshake_type_name(raw.typ).unwrap_or("Unknown");
                self.letter(dir, history_letter(raw.typ));
                self.last_step = Some(name);
                if raw.typ == handshake::SERVER_HELLO && dir == Direction::ServerToClient {
                    self.server_hello_read_before_error(raw.body, at);
                }
                self.fail(dir, at, format!("{name}: {e}"));
                self.decide(at);
                return;
            }
        };
        // One look-up in the handshake-type table for the letter and the name (a HelloRetryRequest
        // arrives as type 2: the decoded message knows what it is).
        let (letter, step) =
            handshake_type(msg.typ()).map_or((UNKNOWN_HISTORY, "Unknown"), |t| (t.history, t.name));
        // The message as it enters the transcript hash: header and body.
        let wire = if self.keys.is_some() {
            let mut w = vec![raw.typ];
            w.extend_from_slice(&(raw.body.len() as u32).to_be_bytes()[1..]);
            w.extend_from_slice(raw.body);
            w
        } else {
            Vec::new()
        };
        self.letter(dir, letter);
        self.last_step = Some(step);
        if dir == Direction::ClientToServer && raw.typ == handshake::CLIENT_KEY_EXCHANGE {
            self.client_key_exchange = true;
        }
        if dir == Direction::ServerToClient {
            let typ = msg.typ();
            let (word, bit) = (usize::from(typ / 64), 1u64 << (typ % 64));
            if self.server_types_seen[word] & bit == 0 {
                self.server_types_seen[word] |= bit;
                self.v.stall = Stall::default();
            }
        }
        let what = match msg {
            HandshakeMessage::ClientHello(ch) => self.on_client_hello(dir, ch),
            HandshakeMessage::ServerHello(sh) => self.on_server_hello(sh, &wire, at),
            HandshakeMessage::HelloRetryRequest(hrr) => self.on_hello_retry_request(hrr, at),
            HandshakeMessage::Certificate(c) => self.on_certificate(dir, c),
            HandshakeMessage::ServerKeyExchange(ske) => {
                let what = match &ske {
                    ServerKeyExchange::Ecdhe { group, .. } => {
                        self.v.group = Some(*group);
                        EventText::EcdheKeyExchange { group: *group }
                    }
                    ServerKeyExchange::Dhe { prime_bits, .. } => EventText::DheKeyExchange {
                        prime_bits: *prime_bits,
                    },
                    ServerKeyExchange::Opaque { len } => EventText::OpaqueKeyExchange { len: *len },
                };
                self.v.server_key_exchange = Some(ske);
                what
            }
            HandshakeMessage::CertificateRequest(req) => {
                self.v.certificate_request = Some(req);
                step.into()
            }
            HandshakeMessage::ServerHelloDone => {
                if dir == Direction::ServerToClient {
                    self.server_hello_done = true;
                }
                step.into()
            }
            HandshakeMessage::Finished { verify_data } => {
                let what = self.on_finished(dir, &verify_data, &wire);
                if self.sides.iter().all(|s| s.finished) && !self.concluded() {
                    self.establish(at);
                }
                what
            }
            HandshakeMessage::EncryptedExtensions(exts) => {
                if dir == Direction::ServerToClient && self.v.encrypted_extensions.is_none() {
                    self.v.encrypted_extensions = Some(exts);
                }
                step.into()
            }
            HandshakeMessage::Unknown { typ, len } => EventText::UnknownMessage { typ, len },
            HandshakeMessage::CertificateVerify {
                scheme: Some(scheme),
                ..
            } => {
                if dir == Direction::ServerToClient {
                    self.v.server_signature_scheme.get_or_insert(scheme);
                }
                EventText::CertificateVerify { scheme }
            }
            _ => step.into(),
        };
        self.event(at, dir, what);
        // Past the ServerHello's handshake secrets, only the Finished checks and the
        // application secrets read the transcript.
        let transcript_wanted = !(self.first_flight_only && self.crypto.tls13_handshake.is_some());
        if self.keys.is_some() && !self.sides.iter().all(|s| s.finished) && transcript_wanted {
            self.append_transcript(&wire);
        }
    }

    /// A ServerHello that did not decode whole: what was read before the error (the version,
    /// the suite, the extensions before a malformed one) is reported, then the error.
    #[cold]
    #[inline(never)]
    fn server_hello_read_before_error(&mut self, body: &[u8], at: Micros) {
        let Err((Some(sh), _)) = ServerHello::decode_partial(body) else {
            return;
        };
        let version = sh.selected_version();
        self.v.version = Some(version);
        self.v.cipher = Some(sh.cipher_suite);
        if let Some(g) = sh.key_share_group() {
            self.v.group = Some(g);
        }
        let what = EventText::ServerHello {
            version,
            suite: sh.cipher_suite,
        };
        self.event(at, Direction::ServerToClient, what);
    }

    /// A ClientHello: the first is kept; one answering a HelloRetryRequest reopens the
    /// decision.
    fn on_client_hello(&mut self, dir: Direction, mut ch: ClientHello) -> EventText {
        ch.record_version = self.sides[dir.index()].record_version;
        self.client_hellos += 1;
        let what = EventText::ClientHello {
            again: self.client_hellos > 1,
            suites: ch.cipher_suites.len(),
            extensions: ch.extensions().len(),
        };
        if self.client_hellos == 1 {
            self.v.client_hello = Some(ch);
            // None when the owner gave its hello (no bytes were kept).
            self.v.client_hello_wire = (!self.client_hello_wire.is_empty())
                .then(|| std::mem::take(&mut self.client_hello_wire));
        } else if self.v.hello_retry_request.is_some()
            && self.v.server_hello.is_none()
            && !self.concluded()
        {
            // The client answered the HelloRetryRequest: the handshake goes on, and
            // a live probe reads on until the second round is decided.
            self.decision = Decision::Open;
            self.v.decided_at = None;
        }
        what
    }

    /// A ServerHello: the negotiated version moves the phase (and, for TLS 1.3, turns both
    /// directions encrypted); with keys, the handshake secrets are asked for.
    fn on_server_hello(&mut self, sh: ServerHello, wire: &[u8], at: Micros) -> EventText {
        let version = sh.selected_version();
        self.v.version = Some(version);
        self.v.cipher = Some(sh.cipher_suite);
        if let Some(g) = sh.key_share_group() {
            self.v.group = Some(g);
        }
        self.phase = match self.phase {
            // TLS 1.3 stays selected once a HelloRetryRequest selected it.
            Phase::Tls13 { flight_read } => Phase::Tls13 { flight_read },
            Phase::RetryRequested => Phase::Tls13 { flight_read: false },
            _ if version >= TLS13 => Phase::Tls13 { flight_read: false },
            _ => Phase::Tls12,
        };
        if version >= TLS13 {
            // Everything after the ServerHello is encrypted, both ways (CCS aside).
            for s in &mut self.sides {
                if s.protection == Protection::Cleartext {
                    s.protection = Protection::Encrypted;
                }
            }
        }
        let what = EventText::ServerHello {
            version,
            suite: sh.cipher_suite,
        };
        self.v.server_hello = Some(sh);
        self.progress(Outcome::ServerHello);
        if self.keys.is_some() {
            self.keys_at_server_hello(wire, at);
        }
        what
    }

    /// A HelloRetryRequest: TLS 1.3 is selected, the first round is decided, and with keys
    /// the transcript restarts from ClientHello1's hash.
    fn on_hello_retry_request(&mut self, hrr: ServerHello, at: Micros) -> EventText {
        self.v.version = Some(hrr.selected_version());
        self.v.cipher = Some(hrr.cipher_suite);
        self.phase = match self.phase {
            Phase::AwaitingServerHello => Phase::RetryRequested,
            Phase::Tls12 => Phase::Tls13 { flight_read: false },
            other => other,
        };
        let group = hrr.key_share_group();
        if self.keys.is_some() {
            // RFC 8446 §4.4.1: ClientHello1 enters the transcript as its hash.
            let hash = HashAlg::for_suite(hrr.cipher_suite);
            let digest = hash.hash(&self.crypto.transcript);
            let mut t = vec![handshake::MESSAGE_HASH, 0, 0, digest.len() as u8];
            t.extend_from_slice(&digest);
            self.crypto.transcript = t;
            self.crypto.running = None;
        }
        self.v.hello_retry_request = Some(hrr);
        self.progress(Outcome::HelloRetryRequest);
        self.decide(at);
        EventText::HelloRetryRequest { group }
    }

    /// A Certificate: the server's first chain is kept, with its leaf's TLS 1.3 extensions.
    fn on_certificate(&mut self, dir: Direction, c: Certificate) -> EventText {
        // TLS 1.3 per-entry extensions of the leaf: stapled OCSP and SCTs.
        let leaf_has = |typ| {
            c.entry_extensions
                .first()
                .is_some_and(|leaf| leaf.iter().any(|e| e.typ == typ))
        };
        let what = EventText::Certificate {
            certs: c.chain.len(),
            ocsp: leaf_has(ext::STATUS_REQUEST),
            scts: leaf_has(ext::SCT),
        };
        if dir == Direction::ServerToClient && self.v.certificates.is_empty() {
            if let Some(leaf) = c.entry_extensions.first() {
                self.v.leaf_ocsp_stapled = Some(leaf.iter().any(|e| e.typ == ext::STATUS_REQUEST));
            }
            self.v.certificates = c.chain;
        }
        what
    }

    fn append_transcript(&mut self, wire: &[u8]) {
        let c = &mut self.crypto;
        if c.transcript.len() + wire.len() > MAX_TRANSCRIPT {
            c.transcript_overflow = true;
        }
        if !c.transcript_overflow {
            c.transcript.extend_from_slice(wire);
            if let Some(running) = c.running.as_mut() {
                running.update(wire);
            }
        }
    }

    /// The transcript hash including `also` (a message not yet appended).
    fn transcript_hash(&self, hash: HashAlg, also: &[u8]) -> Option<Vec<u8>> {
        if self.crypto.transcript_overflow {
            return None;
        }
        Some(match &self.crypto.running {
            Some(running) if running.alg() == hash => running.hash_with(also),
            _ => TranscriptHash::over(hash, &self.crypto.transcript).hash_with(also),
        })
    }

    fn decryption_problem(&mut self, what: String) {
        if let Some(d) = self.v.decryption.as_mut() {
            d.problem.get_or_insert(what);
        }
    }

    /// Asks the keys for this connection's secrets once the ServerHello is known,
    /// and prepares the record openers.
    fn keys_at_server_hello(&mut self, sh_wire: &[u8], at: Micros) {
        let (Some(_), Some(ch), Some(sh)) = (
            self.keys.as_ref(),
            self.v.client_hello.as_ref(),
            self.v.server_hello.as_ref(),
        ) else {
            return;
        };
        let suite_id = sh.cipher_suite;
        let hash = HashAlg::for_suite(suite_id);
        self.crypto.hash = Some(hash);
        let client_random = ch.random;
        let tls13 = self.tls13();
        // Keys that cannot open TLS 1.2 (a probe's own shares) and a TLS 1.2 answer: nothing
        // to decrypt with, and nothing went wrong (no decryption to report).
        if !tls13 && self.keys.as_ref().is_some_and(|k| !k.decrypt_tls12()) {
            self.v.decryption = None;
            return;
        }
        if !self.crypto.transcript_overflow {
            self.crypto.running = Some(TranscriptHash::over(hash, &self.crypto.transcript));
        }
        let th = if tls13 {
            let Some(th) = self.transcript_hash(hash, sh_wire) else {
                self.decryption_problem("handshake too long to hash".into());
                return;
            };
            th
        } else {
            Vec::new()
        };
        let (Some(keys), Some(sh)) = (self.keys.as_mut(), self.v.server_hello.as_ref()) else {
            return;
        };
        let problem = if tls13 {
            let info = HandshakeInfo {
                client_random: &client_random,
                server_hello: sh,
                hash,
                transcript_hash: &th,
            };
            match keys.tls13_handshake(&info) {
                None => Some(format!(
                    "no TLS 1.3 handshake secrets for client random {}",
                    hex::encode(client_random)
                )),
                Some(secrets) => match (
                    RecordOpener::tls13(suite_id, &secrets.client),
                    RecordOpener::tls13(suite_id, &secrets.server),
                ) {
                    (Ok(c), Ok(s)) => {
                        self.crypto.openers = [Some(c), Some(s)];
                        self.crypto.tls13_handshake = Some(secrets);
                        None
                    }
                    (Err(e), _) | (_, Err(e)) => Some(e.to_string()),
                },
            }
        } else {
            let etm = sh.ext(ext::ENCRYPT_THEN_MAC).is_some();
            match keys.tls12_master(&client_random) {
                None => Some(format!(
                    "no master secret (CLIENT_RANDOM) for client random {}",
                    hex::encode(client_random)
                )),
                Some(master) => {
                    match RecordOpener::tls12_pair(
                        suite_id,
                        &master,
                        &client_random,
                        &sh.random,
                        etm,
                    ) {
                        Ok((c, s)) => {
                            self.crypto.pending = [Some(c), Some(s)];
                            self.crypto.tls12_master = Some(master);
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
        };
        if let Some(p) = problem {
            self.event(
                at,
                Direction::ServerToClient,
                format!("cannot decrypt: {p}"),
            );
            self.decryption_problem(p);
        }
    }

    /// Checks a Finished against the keys, and in TLS 1.3 moves that direction to its
    /// application keys. Returns the event text.
    fn on_finished(&mut self, dir: Direction, verify_data: &[u8], wire: &[u8]) -> EventText {
        let i = dir.index();
        self.sides[i].finished = true;
        let Some(hash) = self.crypto.hash else {
            return "Finished".into();
        };
        let tls13 = self.tls13();
        if tls13 && self.first_flight_only {
            // Nothing opens what the server sends next (as when the application secrets
            // are unknown).
            if dir == Direction::ServerToClient {
                self.crypto.openers[1] = None;
            }
            return "Finished".into();
        }
        let expected = if tls13 {
            let secret = self.crypto.tls13_handshake.as_ref().map(|s| match dir {
                Direction::ClientToServer => s.client.clone(),
                Direction::ServerToClient => s.server.clone(),
            });
            secret
                .zip(self.transcript_hash(hash, &[]))
                .map(|(secret, th)| schedule::tls13_finished(hash, &secret, &th))
        } else {
            let label = match dir {
                Direction::ClientToServer => "client finished",
                Direction::ServerToClient => "server finished",
            };
            self.crypto
                .tls12_master
                .clone()
                .zip(self.transcript_hash(hash, &[]))
                .map(|(m, th)| hash.prf(&m, label, &th, 12))
        };
        if tls13 {
            self.tls13_application_keys(dir, wire, hash);
        }
        let Some(expected) = expected else {
            return "Finished".into();
        };
        let ok = expected == verify_data;
        if let Some(d) = self.v.decryption.as_mut() {
            match dir {
                Direction::ClientToServer => d.client_finished_verified = Some(ok),
                Direction::ServerToClient => d.server_finished_verified = Some(ok),
            }
        }
        if ok {
            "Finished (verified)".into()
        } else {
            "Finished (verify_data does not match the keys)".into()
        }
    }

    /// TLS 1.3: after the server's Finished the application secrets are known; each
    /// direction switches to them after its own Finished.
    fn tls13_application_keys(&mut self, dir: Direction, wire: &[u8], hash: HashAlg) {
        let suite_id = self.v.cipher.unwrap_or(0);
        match dir {
            Direction::ServerToClient => {
                let secrets = match (
                    self.keys.as_ref(),
                    self.v.client_hello.as_ref(),
                    self.v.server_hello.as_ref(),
                    self.transcript_hash(hash, wire),
                ) {
                    (Some(keys), Some(ch), Some(sh), Some(th)) => {
                        keys.tls13_application(&HandshakeInfo {
                            client_random: &ch.random,
                            server_hello: sh,
                            hash,
                            transcript_hash: &th,
                        })
                    }
                    _ => None,
                };
                let openers = secrets.map(|s| {
                    (
                        RecordOpener::tls13(suite_id, &s.client).ok(),
                        RecordOpener::tls13(suite_id, &s.server).ok(),
                    )
                });
                let (c, s) = openers.unwrap_or((None, None));
                self.crypto.pending[0] = c;
                self.crypto.openers[1] = s;
            }
            Direction::ClientToServer => {
                self.crypto.openers[0] = self.crypto.pending[0].take();
            }
        }
    }

    /// A record opened with keys: its real content goes where cleartext would.
    fn on_decrypted(&mut self, dir: Direction, content_type: u8, data: &[u8], at: Micros) {
        if let Some(d) = self.v.decryption.as_mut() {
            d.records += 1;
        }
        let client_finished = self.sides[0].finished;
        match ContentType::from_u8(content_type) {
            ContentType::Handshake => self.on_handshake_payload(dir, data, at, false),
            ContentType::Alert => match Alert::decode(data) {
                Ok(alert) => self.on_alert(dir, alert, at, true),
                Err(e) => self.fail(dir, at, format!("decrypted alert: {e}")),
            },
            ContentType::ApplicationData => {
                let n = data.len();
                self.event(at, dir, format!("application data ({n} bytes, decrypted)"));
            }
            ContentType::Heartbeat => {
                self.letter(dir, 'b');
                let n = data.len();
                self.event(at, dir, format!("heartbeat ({n} bytes, decrypted)"));
                self.watch.heartbeat(dir, data, at, &mut self.v.attacks);
            }
            other => {
                self.letter(dir, 'q');
                let t = other.to_u8();
                self.event(at, dir, format!("decrypted record of type {t}"));
            }
        }
        if dir == Direction::ServerToClient && client_finished {
            self.crypto.server_spoke_after_client_finished = true;
        }
    }

    fn report_truncation(&mut self, dir: Direction, at: Micros) {
        let side = &self.sides[dir.index()];
        if side.stopped() {
            return;
        }
        let mut notes = Vec::new();
        if let Some((typ, len)) = side.joiner.pending() {
            let name = handshake_type_name(typ).unwrap_or("handshake message");
            let have = side.joiner.buffered() - 4;
            notes.push(format!("truncated {name}: {have} of {len} bytes"));
        } else if side.joiner.buffered() > 0 {
            notes.push("truncated handshake message header".to_string());
        }
        if let Some(h) = side.deframer.pending_header() {
            let have = side.deframer.buffered() - RECORD_HEADER_LEN;
            // A plaintext handshake record that starts a message names it.
            let starts = side.deframer.partial().get(RECORD_HEADER_LEN).copied();
            let inside = match (h.content_type, starts) {
                (ContentType::Handshake, Some(t))
                    if !side.encrypted() && side.joiner.buffered() == 0 =>
                {
                    handshake_type_name(t).map(|n| format!(", in {n}"))
                }
                _ => None,
            };
            notes.push(format!(
                "truncated record: {have} of {} bytes{}",
                h.length,
                inside.unwrap_or_default()
            ));
        } else if side.deframer.buffered() > 0 {
            notes.push("truncated record header".to_string());
        } else if !side.sslv2.is_empty() {
            notes.push("truncated SSLv2 record".to_string());
        }
        if let Some(first) = notes.first() {
            self.v
                .truncated
                .get_or_insert_with(|| format!("{}: {first}", dir.peer()));
        }
        for n in notes {
            self.event(at, dir, n);
        }
    }

    fn establish(&mut self, at: Micros) {
        if !self.v.established {
            self.v.established = true;
            self.event(at, Direction::ClientToServer, "handshake established");
            self.progress(Outcome::Established);
        }
    }

    /// Sets a provisional outcome (the handshake is still going).
    fn progress(&mut self, o: Outcome) {
        if !self.concluded() {
            self.v.outcome = o;
        }
    }

    /// The outcome can no longer change (alert, end, not TLS, error).
    fn concluded(&self) -> bool {
        self.decision == Decision::Concluded
    }

    /// Sets the final outcome, unless one was already set; a concluded connection is
    /// decided (at `at`, unless it was before).
    fn conclude(&mut self, o: Outcome, at: Micros) {
        if !self.concluded() {
            self.v.outcome = o;
            self.decide(at);
            self.decision = Decision::Concluded;
        }
    }

    fn diverge(&mut self, by: Direction, event: String) {
        if self.v.diverged.is_none() {
            self.v.diverged = Some(Diverged {
                by,
                after: self.last_step.unwrap_or("nothing").into(),
                event,
            });
        }
    }

    fn decide(&mut self, at: Micros) {
        if self.decision == Decision::Open {
            self.decision = Decision::Decided;
            self.v.decided_at = Some(at);
        }
    }

    fn check_decided(&mut self, at: Micros) {
        let server_ccs_tls12 = !self.tls13() && self.sides[1].protection == Protection::AfterCcs;
        // Decrypting TLS 1.3: the server's flight ends with its Finished.
        let tls13_flight_done = if self.crypto.openers[1].is_some() {
            self.sides[1].finished
        } else {
            matches!(self.phase, Phase::Tls13 { flight_read: true })
        };
        if self.v.established
            || self.v.error.is_some()
            || self.server_hello_done
            || server_ccs_tls12
            || tls13_flight_done
        {
            self.decide(at);
        }
    }

    /// TLS 1.3 was selected (by a HelloRetryRequest or a ServerHello).
    fn tls13(&self) -> bool {
        matches!(self.phase, Phase::RetryRequested | Phase::Tls13 { .. })
    }

    fn letter(&mut self, dir: Direction, c: char) {
        if self.v.history.len() < MAX_HISTORY {
            self.v.history.push(match dir {
                Direction::ClientToServer => c.to_ascii_uppercase(),
                Direction::ServerToClient => c.to_ascii_lowercase(),
            });
        }
    }

    /// A record summed up by its kind and size.
    fn record_event(&mut self, at: Micros, dir: Direction, kind: &'static str, len: usize) {
        self.event(at, dir, EventText::Record { kind, len });
    }

    fn event(&mut self, at: Micros, dir: Direction, what: impl Into<EventText>) {
        let what = what.into();
        if self.v.events.capacity() == 0 {
            // Room for a whole first flight at once (hello, its answer's messages, the
            // end): grown from 4, a handshake's events took two allocations.
            self.v.events.reserve_exact(EVENTS_AT_FIRST);
        }
        if self.v.events.len() < MAX_EVENTS - 1 {
            self.v.events.push(Event { at, dir, what });
        } else {
            self.events_dropped += 1;
            let what = format!("… {} more events not kept", self.events_dropped).into();
            let last = Event { at, dir, what };
            if self.v.events.len() < MAX_EVENTS {
                self.v.events.push(last);
            } else if let Some(e) = self.v.events.last_mut() {
                *e = last;
            }
        }
    }
}

/// Whether the first bytes of a direction picked up mid-stream start a record the usual
/// reader takes (a TLS record header with major version 3, or an SSLv2 hello of the
/// direction's role); `None` while too few bytes are in to tell.
fn starts_like_tls(dir: Direction, b: &[u8]) -> Option<bool> {
    let first = *b.first()?;
    if first & 0x80 != 0 {
        return (b.len() >= 3).then(|| sslv2_plausible(dir, b));
    }
    if !(20..=63).contains(&first) {
        return Some(false);
    }
    Some(*b.get(1)? == 3)
}

/// What the bytes at a candidate position show.
enum Sync {
    /// A record starts here.
    Yes,
    No,
    /// Not enough bytes yet to tell.
    NeedMore,
}

/// Whether a TLS record header of a known type, version 3.0–3.4, and a length the record
/// layer allows starts `b`; the whole record's length if so.
fn strict_header(b: &[u8]) -> Option<Option<usize>> {
    let Some(h) = b.get(..RECORD_HEADER_LEN) else {
        return Some(None);
    };
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    let ok = (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && len <= crate::core::wire::record::MAX_RECORD_PAYLOAD;
    ok.then_some(Some(RECORD_HEADER_LEN + len))
}

/// Whether a record starts at the front of `b`: a header followed, after its record, by
/// another header; or, when the direction ended (`last`), a non-empty record of a
/// handshake, alert or ChangeCipherSpec that ends exactly where the bytes end.
fn record_chain_at(b: &[u8], last: bool) -> Sync {
    let end = match strict_header(b) {
        None => return Sync::No,
        Some(None) => return Sync::NeedMore,
        Some(Some(end)) if end == RECORD_HEADER_LEN => return Sync::No,
        Some(Some(end)) => end,
    };
    match strict_header(b.get(end..).unwrap_or_default()) {
        Some(Some(_)) => Sync::Yes,
        None => Sync::No,
        Some(None) if b.len() > end => Sync::NeedMore,
        Some(None) if b.len() == end && last => {
            let fits = match (b[0], end - RECORD_HEADER_LEN) {
                (21, 2) => matches!(b[5], 1 | 2),
                (20, 1) => b[5] == 1,
                (22, _) => true,
                _ => false,
            };
            if fits { Sync::Yes } else { Sync::No }
        }
        Some(None) => Sync::NeedMore,
    }
}

/// Whether the first bytes of an SSLv2-framed direction carry the message a peer in that
/// role sends first: CLIENT-HELLO (1) from a client, SERVER-HELLO (4) or ERROR (0) from a
/// server. Fewer than three bytes cannot tell yet.
fn sslv2_plausible(dir: Direction, first: &[u8]) -> bool {
    match (dir, first.get(2)) {
        (_, None) => true,
        (Direction::ClientToServer, Some(t)) => *t == 1,
        (Direction::ServerToClient, Some(t)) => matches!(t, 0 | 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crypto::tls12::{handshake_message as handshake, record};
    use crate::core::wire::Extension;
    use Direction::{ClientToServer as C, ServerToClient as S};

    fn client_hello() -> Vec<u8> {
        ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [1; 32],
            session_id: vec![],
            cipher_suites: vec![0x1301, 0xc02f],
            compression_methods: vec![0],
            extensions: Some(vec![Extension {
                typ: 43,
                data: vec![4, 3, 4, 3, 3],
            }]),
        }
        .to_records(None)
        .unwrap()
    }

    fn server_hello(version: u16) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[2; 32]);
        b.push(0);
        let suite: u16 = if version == 0x0304 { 0x1301 } else { 0xc02f };
        b.extend_from_slice(&suite.to_be_bytes());
        b.push(0);
        let mut exts = vec![0, 43, 0, 2];
        exts.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        record(22, &handshake(2, &b))
    }

    fn tracker_after_hello() -> Tracker {
        let mut t = Tracker::new();
        t.on_data(C, &client_hello(), 0);
        t
    }

    #[test]
    fn empty_data_changes_nothing() {
        let mut t = Tracker::new();
        t.on_data(C, &[], 5);
        t.on_data(S, &[], 6);
        assert!(!t.decided());
        assert_eq!(t.verdict(), &Verdict::default());
    }

    #[test]
    fn http_answer_is_not_tls() {
        let mut t = tracker_after_hello();
        t.on_data(S, b"HTTP/1.1 400 Bad", 10);
        assert!(t.decided());
        t.on_data(S, b" Request\r\n\r\n", 11);
        t.on_end(S, EndKind::Fin, 12);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::NotTls);
        assert_eq!(
            v.not_tls.as_deref(),
            Some("server sent HTTP response: \"HTTP/1.1 400 Bad Request\\r\\n\\r\\n\"")
        );
        assert_eq!(v.decided_at, Some(10));
    }

    #[test]
    fn garbage_is_not_tls_with_a_preview() {
        let mut t = Tracker::new();
        t.on_data(S, &[0x00, 0x01, b'x', 0xff], 1);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::NotTls);
        assert_eq!(
            v.not_tls.as_deref(),
            Some("server sent unrecognised bytes \"\\x00\\x01x\\xff\"")
        );
    }

    #[test]
    fn huge_lengths_are_errors() {
        let mut t = tracker_after_hello();
        t.on_data(S, &[22, 3, 3, 0xff, 0xff], 1);
        assert!(t.decided());
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::Incomplete);
        assert_eq!(
            v.error.as_deref(),
            Some("server: record header announces 65535 bytes, max 18432")
        );
        // A handshake message announcing 2^24-1 bytes.
        let mut t = tracker_after_hello();
        t.on_data(S, &record(22, &[11, 0xff, 0xff, 0xff]), 1);
        assert_eq!(
            t.verdict().error.as_deref(),
            Some("server: handshake message announces 16777215 bytes, max 1048576")
        );
        // Nothing more is buffered from that side.
        t.on_data(S, &vec![0; 100_000], 2);
        assert_eq!(t.sides[1].deframer.buffered(), 0);
    }

    #[test]
    fn endless_small_records_stay_bounded() {
        let mut t = tracker_after_hello();
        t.on_data(S, &server_hello(0x0303), 1);
        let tiny = record(23, &[0]).repeat(50_000);
        t.on_data(S, &tiny, 2);
        let v = t.verdict();
        assert_eq!(v.events.len(), MAX_EVENTS);
        assert!(
            v.events
                .last()
                .unwrap()
                .what
                .to_string()
                .contains("more events not kept")
        );
        // 1-byte handshake fragments of one big message: bounded by the message cap, and
        // stopped at the record budget without progress.
        let mut t = tracker_after_hello();
        let mut frags = record(22, &[11, 0x0f, 0xff, 0xff]);
        frags.extend(record(22, &[0]).repeat(20_000));
        t.on_data(S, &frags, 1);
        assert_eq!(t.sides[1].joiner.buffered(), 4 + NO_PROGRESS_RECORDS - 1);
        assert_eq!(t.verdict().outcome, Outcome::NoProgress);
        assert!(t.decided());
    }

    #[test]
    fn truncated_server_hello_then_fin() {
        let mut t = tracker_after_hello();
        let mut partial = record(22, &handshake(2, &[3, 3, 0, 0]));
        partial[3..5].copy_from_slice(&4u16.to_be_bytes());
        partial[5..9].copy_from_slice(&[2, 0, 0, 100]);
        t.on_data(S, &partial[..9], 1);
        t.on_end(S, EndKind::Fin, 2);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::Closed);
        assert!(
            v.events
                .iter()
                .any(|e| e.what.to_string() == "truncated ServerHello: 0 of 100 bytes"),
            "{:?}",
            v.events
        );
        let d = v.diverged.as_ref().unwrap();
        assert_eq!(
            (d.by, d.after.as_str(), d.event.as_str()),
            (S, "ClientHello", "close")
        );
    }

    #[test]
    fn ends_before_an_answer() {
        for (kind, outcome) in [
            (EndKind::Rst, Outcome::Reset),
            (EndKind::Fin, Outcome::Closed),
            (EndKind::Timeout, Outcome::Timeout),
            (EndKind::Gap, Outcome::Incomplete),
        ] {
            let mut t = tracker_after_hello();
            t.on_end(S, kind, 9);
            // A second end does not overwrite the first.
            t.on_end(C, EndKind::Fin, 10);
            let v = t.verdict();
            assert_eq!(v.outcome, outcome, "{kind:?}");
            assert_eq!(v.end.unwrap().kind, kind);
            assert_eq!(v.diverged.as_ref().unwrap().by, S);
            assert_eq!(v.diverged.as_ref().unwrap().event, kind.as_str());
            assert!(t.decided());
        }
    }

    #[test]
    fn warning_alert_does_not_stop_the_handshake() {
        let mut t = tracker_after_hello();
        let mut flight = record(21, &[1, 112]);
        flight.extend(server_hello(0x0303));
        t.on_data(S, &flight, 1);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::ServerHello);
        assert_eq!(v.alert.unwrap().alert.description, 112);
        assert_eq!(v.history, "Cls");
    }

    #[test]
    fn encrypted_records_after_ccs_are_not_alerts() {
        let mut t = tracker_after_hello();
        let mut flight = server_hello(0x0303);
        flight.extend(record(22, &handshake(14, &[])));
        t.on_data(S, &flight, 1);
        assert!(t.decided());
        let mut c = record(22, &handshake(16, &[0; 33]));
        c.extend(record(20, &[1]));
        // Ciphertext whose first bytes look like a fatal alert.
        c.extend(record(22, &[2, 40, 9, 9, 9, 9]));
        c.extend(record(21, &[2, 40, 7, 7]));
        t.on_data(C, &c, 2);
        let v = t.verdict();
        assert!(v.alert.is_none());
        assert_eq!(v.client_encrypted_records, 2);
        assert_eq!(v.history, "CsnGI");
        // The client sent an (encrypted) alert instead of waiting: it diverged.
        assert_eq!(v.diverged.as_ref().unwrap().event, "encrypted alert");
    }

    #[test]
    fn tls13_client_alert_is_inferred_from_size_and_close() {
        let mut t = tracker_after_hello();
        let mut flight = server_hello(0x0304);
        flight.extend(record(20, &[1]));
        flight.extend(record(23, &[0; 40]));
        flight.extend(record(23, &[0; 900]));
        t.on_data(S, &flight, 1);
        assert!(t.decided());
        assert_eq!(t.verdict().outcome, Outcome::ServerHello);
        let mut c = record(20, &[1]);
        c.extend(record(23, &[0; TLS13_ALERT_RECORD_LEN]));
        t.on_data(C, &c, 2);
        t.on_end(C, EndKind::Fin, 3);
        let v = t.verdict();
        assert!(!v.established);
        assert_eq!(v.outcome, Outcome::Closed);
        let d = v.diverged.as_ref().unwrap();
        assert_eq!(d.by, C);
        assert_eq!(d.event, "encrypted alert (inferred)");
        assert_eq!(d.after, "server's encrypted handshake");
        assert!(v.events.iter().any(|e| {
            e.what
                .to_string()
                .starts_with("probably an encrypted alert")
        }));
    }

    #[test]
    fn tls13_plaintext_alert_after_server_hello_is_read() {
        let mut t = tracker_after_hello();
        t.on_data(S, &server_hello(0x0304), 1);
        t.on_data(C, &record(21, &[2, 47]), 2);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::Alert);
        assert_eq!(v.alert.unwrap().from, C);
        assert_eq!(v.diverged.as_ref().unwrap().after, "ServerHello");
    }

    #[test]
    fn plaintext_behind_a_fatal_alert_is_not_read() {
        // vsftpd after AUTH TLS: protocol_version, then "500 OOPS: …" in one read.
        let mut t = tracker_after_hello();
        let mut answer = record(21, &[2, 70]);
        answer
            .extend_from_slice(b"500 OOPS: error:0A000102:SSL routines::unsupported protocol\r\n");
        t.on_data(S, &answer, 1);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::Alert);
        assert_eq!(v.error, None);
        assert_eq!(v.not_tls, None);
    }

    #[test]
    fn sslv2_hellos_are_detected() {
        // SSLv2 CLIENT-HELLO: version 3.1, 3 bytes of cipher specs, 16-byte challenge.
        let mut body = vec![1, 3, 1, 0, 3, 0, 0, 0, 16, 1, 0, 0x80];
        body.extend_from_slice(&[7; 16]);
        let mut rec = vec![0x80, body.len() as u8];
        rec.extend_from_slice(&body);
        let mut t = Tracker::new();
        for b in &rec {
            t.on_data(C, &[*b], 0);
        }
        assert_eq!(t.verdict().sslv2_client_hello.as_deref(), Some(&rec[..]));
        assert_eq!(t.verdict().history, "C");
        // SSLv2 SERVER-HELLO: type 4, hit 0, cert type 1, version 0x0002, ...
        let sh = [0x80, 0x0b, 4, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0];
        t.on_data(S, &sh, 1);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::ServerHello);
        assert_eq!(v.version, Some(0x0002));
        assert_eq!(v.history, "Cs");
        assert!(t.decided());
    }

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let base = [client_hello(), server_hello(0x0303), server_hello(0x0304)].concat();
        for seed in 0..300u64 {
            let mut t = Tracker::new();
            // Valid framing with corrupted contents: flip a few bytes of real messages.
            let mut bytes = base.clone();
            let flips = noise(seed, 8);
            for pair in flips.chunks(2) {
                let i = pair[0] as usize * 7 % bytes.len();
                bytes[i] ^= pair[1] | 1;
            }
            let cut = bytes.len() / 3;
            t.on_data(C, &bytes[..cut], 1);
            t.on_data(S, &bytes[cut..], 2);
            // And plain noise behind a plausible header.
            let mut rec = vec![22, 3, 3, 1, 0];
            rec.extend(noise(seed + 1000, 256));
            t.on_data(S, &rec, 3);
            t.on_end(S, EndKind::Fin, 4);
            assert!(t.decided());
        }
    }

    /// Each endless kind of record ends as `no_progress` at the record budget, and nothing
    /// more of the server is read after it.
    #[test]
    fn endless_records_without_progress_end_as_no_progress() {
        let floods: [(&str, Vec<u8>); 5] = [
            ("empty handshake", record(22, &[])),
            ("ccs", record(20, &[1])),
            ("warning alert", record(21, &[1, 112])),
            ("hello request", record(22, &handshake(0, &[]))),
            ("1-byte application data", record(23, &[0])),
        ];
        for (name, rec) in floods {
            let mut t = tracker_after_hello();
            for i in 0..NO_PROGRESS_RECORDS + 50 {
                t.on_data(S, &rec, 1 + i as Micros);
            }
            let v = t.verdict();
            assert_eq!(v.outcome, Outcome::NoProgress, "{name}: {v:?}");
            assert!(t.decided(), "{name}");
            // A first HelloRequest is a new message (progress); the rest are not.
            assert_eq!(v.stall.records, NO_PROGRESS_RECORDS, "{name}");
            assert!(v.server_records <= NO_PROGRESS_RECORDS + 1, "{name}");
            assert_eq!(v.stall.ended_by, Some(StallLimit::Records), "{name}");
            assert_eq!(v.diverged.as_ref().unwrap().event, "no progress", "{name}");
        }
    }

    #[test]
    fn a_large_message_in_small_records_is_progress_not_a_stall() {
        let mut t = tracker_after_hello();
        t.on_data(S, &server_hello(0x0303), 1);
        // A 600-byte message of an unknown type in 1-byte fragments.
        let msg = handshake(99, &[7; 596]);
        for (i, b) in msg.iter().enumerate() {
            t.on_data(S, &record(22, &[*b]), 2 + i as Micros);
        }
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::ServerHello, "{v:?}");
        assert_eq!(v.stall.records, 0);
    }

    #[test]
    fn a_read_cap_during_a_stall_is_no_progress() {
        let mut t = tracker_after_hello();
        for i in 0..10 {
            t.on_data(S, &record(23, &[0; 1000]), 1 + i);
        }
        t.on_end(S, EndKind::ByteCap, 20);
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::NoProgress);
        assert_eq!(v.stall.ended_by, Some(StallLimit::ReadCap));
        assert_eq!(v.stall.records, 10);
    }

    #[test]
    fn a_connection_picked_up_mid_stream_is_not_judged() {
        let mut t = Tracker::new();
        for i in 0..NO_PROGRESS_RECORDS + 10 {
            t.on_data(S, &record(23, &[0; 40]), i as Micros);
        }
        assert_ne!(t.verdict().outcome, Outcome::NoProgress);
        assert_eq!(t.verdict().stall.records, 0);
    }

    #[test]
    fn opaque_records_after_the_handshake_are_not_judged() {
        let mut t = tracker_after_hello();
        t.on_data(S, &server_hello(0x0304), 1);
        for i in 0..NO_PROGRESS_RECORDS + 10 {
            t.on_data(S, &record(23, &[0; 40]), 2 + i as Micros);
        }
        assert_ne!(t.verdict().outcome, Outcome::NoProgress);
    }

    /// A direction picked up mid-stream finds its first whole record whatever the noise
    /// before it and however the bytes are cut into deliveries; a direction of noise alone
    /// gives up within the window and reads nothing.
    #[test]
    fn mid_stream_resync_is_independent_of_chunking() {
        let flight = [server_hello(0x0303), record(22, &handshake(14, &[]))].concat();
        for noise_len in [1usize, 4, 5, 6, 300, 5000] {
            // Noise that cannot start a record at its first byte.
            let mut prefix = noise(noise_len as u64, noise_len);
            prefix[0] = 0xff;
            let bytes = [prefix, flight.clone(), alert_bytes()].concat();
            for chunk in [1usize, 2, 3, 7, 100, 1 << 16] {
                let mut t = Tracker::new();
                t.picked_up_mid_stream();
                for (i, c) in bytes.chunks(chunk).enumerate() {
                    t.on_data(S, c, i as Micros);
                }
                t.on_end(S, EndKind::Fin, 1 << 20);
                let v = t.verdict();
                assert_eq!(v.history, "snl", "{noise_len} {chunk}: {:?}", v.events);
                assert_eq!(v.outcome, Outcome::Alert, "{noise_len} {chunk}");
                let skipped = format!(
                    "picked up mid-stream: {noise_len} bytes before the first whole record skipped"
                );
                assert!(
                    v.events.iter().any(|e| e.what.to_string() == skipped),
                    "{noise_len} {chunk}: {:?}",
                    v.events
                );
            }
        }
        for seed in 0..50 {
            let mut t = Tracker::new();
            t.picked_up_mid_stream();
            let bytes = noise(seed, 2 * RESYNC_WINDOW);
            for c in bytes.chunks(1000) {
                t.on_data(S, c, 1);
            }
            let v = t.verdict();
            assert!(v.server_hello.is_none() && v.history.is_empty(), "{seed}");
            assert!(t.mid_stream_unreadable(), "{seed}: {:?}", v.events);
        }
    }

    fn alert_bytes() -> Vec<u8> {
        record(21, &[2, 40])
    }
}
