//! The client side of a QUIC handshake, sans-IO: datagrams in, datagrams out, and a
//! [`Tracker`] fed with what they carry. It sends a ClientHello in Initial packets (CRYPTO
//! frames, each datagram padded to 1,200 bytes), follows a Retry (integrity tag checked,
//! the hello sent again with the token to the new connection ID) and reads a Version
//! Negotiation; it reads the server's Initial packets (the ServerHello) and, once the
//! tracker has derived the handshake traffic secrets from our own key share, its Handshake
//! packets, with QUIC packet keys from those secrets (RFC 9001 §5.1). It acknowledges what
//! it reads (so a server held back by its anti-amplification limit goes on) and ends with a
//! CONNECTION_CLOSE. Bounded: packets and CRYPTO bytes are capped, one Retry is followed.
//!
//! Randomness (connection IDs) and time come in as values from the caller.

use super::Tracker;
use crate::core::crypto::quic::{self as qcrypto, InitialKeys, PacketKeys};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::quic::{
    self, CryptoStream, Frame, LongKind, PacketType, QuicSignal, put_ack_frame,
    put_connection_close, put_crypto_frame,
};
use std::collections::BTreeSet;

/// The smallest UDP payload a client's Initial datagram may have (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;
/// CRYPTO bytes read per packet number space: a handshake flight with a long chain is
/// tens of kilobytes.
const MAX_CRYPTO_BYTES: usize = 256 * 1024;
/// Server packets read (any kind) before the connection is given up as endless.
pub const MAX_SERVER_PACKETS: usize = 1000;
/// Handshake packets held while their keys are not known yet (arrived before the
/// ServerHello they depend on).
const MAX_EARLY_HANDSHAKE: usize = 16;
/// Packet numbers remembered per space for ACK frames.
const MAX_ACKED: usize = 256;

/// What the caller chose for the connection.
#[derive(Debug, Clone)]
pub struct QuicClientConfig {
    /// The version of our Initial packets (v1, v2, or any other to ask for a Version
    /// Negotiation: its packets are protected as v1's).
    pub version: u32,
    /// Our first Destination Connection ID (at least 8 bytes, random).
    pub dcid: Vec<u8>,
    /// Our Source Connection ID (the transport parameters' initial_source_connection_id).
    pub scid: Vec<u8>,
    /// The ClientHello handshake message(s), as they go into CRYPTO frames.
    pub hello: Vec<u8>,
    /// Largest CRYPTO frame data (the hello's `--fragment`); `None`: as much as fits.
    pub crypto_frame_max: Option<usize>,
}

/// A Retry the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySeen {
    pub token_len: usize,
    /// The integrity tag matched (RFC 9001 §5.8); a Retry whose tag does not is ignored.
    pub integrity_ok: bool,
}

/// A CONNECTION_CLOSE frame, whoever sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseSeen {
    pub from: Direction,
    /// 0x1d: an application's close (not allowed in Initial/Handshake packets, but sent).
    pub application: bool,
    pub code: u64,
    pub frame_type: Option<u64>,
    pub reason: String,
}

impl CloseSeen {
    /// The error's name: a TLS alert (crypto error 0x100+N), a transport error of
    /// RFC 9000 §20.1, or `application_error`.
    pub fn kind(&self) -> CloseKind {
        if self.application {
            CloseKind::Application
        } else if let Some(alert) = quic::crypto_error_alert(self.code) {
            CloseKind::Crypto(alert)
        } else {
            CloseKind::Transport(quic::transport_error_name(self.code))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    Application,
    /// A TLS alert, by its code.
    Crypto(u8),
    /// A transport error, named when RFC 9000 names it.
    Transport(Option<&'static str>),
}

/// What the QUIC layer of the connection showed, besides the TLS handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuicFacts {
    pub version: u32,
    /// The versions a Version Negotiation packet offered.
    pub version_negotiation: Option<Vec<u32>>,
    pub retry: Option<RetrySeen>,
    /// The server's CONNECTION_CLOSE.
    pub server_close: Option<CloseSeen>,
    pub datagrams_sent: usize,
    pub datagrams_received: usize,
    pub initial_packets: usize,
    pub handshake_packets: usize,
    /// Packets that did not parse or decrypt (dropped, as RFC 9000 says).
    pub dropped_packets: usize,
    /// Why the Handshake packets could not be read, when they could not.
    pub problem: Option<String>,
}

/// One packet number space's receive state.
#[derive(Debug)]
struct Space {
    next_pn: u64,
    largest: Option<u64>,
    received: BTreeSet<u64>,
    ack_pending: bool,
    stream: CryptoStream,
}

impl Space {
    fn new() -> Space {
        Space {
            next_pn: 0,
            largest: None,
            received: BTreeSet::new(),
            ack_pending: false,
            stream: CryptoStream::new(MAX_CRYPTO_BYTES),
        }
    }

    fn received(&mut self, pn: u64, ack_eliciting: bool) {
        self.largest = Some(self.largest.map_or(pn, |l| l.max(pn)));
        self.received.insert(pn);
        while self.received.len() > MAX_ACKED {
            self.received.pop_first();
        }
        self.ack_pending |= ack_eliciting;
    }
}

const INITIAL: usize = 0;
const HANDSHAKE: usize = 1;

/// The client connection.
#[derive(Debug)]
pub struct QuicClient {
    cfg: QuicClientConfig,
    tracker: Tracker,
    facts: QuicFacts,
    /// The Destination Connection ID we send to now (the server's after its first packet).
    dcid: Vec<u8>,
    token: Vec<u8>,
    initial: InitialKeys,
    /// Handshake packet keys: ours (to send ACK/close) and the server's.
    handshake: Option<(PacketKeys, PacketKeys)>,
    spaces: [Space; 2],
    /// The server's first Initial was read: its Source Connection ID is our DCID now.
    server_seen: bool,
    early_handshake: Vec<Vec<u8>>,
    server_packets: usize,
    closed: bool,
    /// With [`QuicClient::tap`]: the TLS bytes the tracker was fed, by direction, for a
    /// reader of TLS records (the scanner): the hello's records, the server's Initial
    /// CRYPTO stream as records, a crypto error close as an alert record.
    tls_out: Option<Vec<(Direction, Vec<u8>)>>,
}

/// Initial keys for `version`; other versions (asking for a Version Negotiation) are
/// protected as v1's.
fn initial_keys_for(version: u32, dcid: &[u8]) -> InitialKeys {
    qcrypto::initial_keys(version, dcid)
        .or_else(|| qcrypto::initial_keys(quic::VERSION_1, dcid))
        .expect("v1 has Initial keys")
}

impl QuicClient {
    /// A client for `cfg`, feeding `tracker` (made with our key shares, so that it derives
    /// the handshake secrets at the ServerHello).
    pub fn new(cfg: QuicClientConfig, tracker: Tracker) -> QuicClient {
        let initial = initial_keys_for(cfg.version, &cfg.dcid);
        QuicClient {
            dcid: cfg.dcid.clone(),
            facts: QuicFacts {
                version: cfg.version,
                ..QuicFacts::default()
            },
            cfg,
            tracker,
            token: Vec::new(),
            initial,
            handshake: None,
            spaces: [Space::new(), Space::new()],
            server_seen: false,
            early_handshake: Vec::new(),
            server_packets: 0,
            closed: false,
            tls_out: None,
        }
    }

    /// Keeps the TLS bytes fed to the tracker for [`QuicClient::take_tls`].
    pub fn tap(mut self) -> QuicClient {
        self.tls_out = Some(Vec::new());
        self
    }

    /// The TLS bytes fed to the tracker since the last call (with [`QuicClient::tap`]).
    pub fn take_tls(&mut self) -> Vec<(Direction, Vec<u8>)> {
        self.tls_out
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn tapped(&mut self, dir: Direction, bytes: &[u8]) {
        if let Some(out) = self.tls_out.as_mut() {
            out.push((dir, bytes.to_vec()));
        }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub fn facts(&self) -> &QuicFacts {
        &self.facts
    }

    pub fn into_parts(self) -> (Tracker, QuicFacts) {
        (self.tracker, self.facts)
    }

    /// The first flight: the ClientHello in Initial packets, one datagram each. The
    /// tracker sees the hello as the client's handshake record(s).
    pub fn start(&mut self, at: Micros) -> Vec<Vec<u8>> {
        let mut records = Vec::new();
        quic::as_handshake_records(&self.cfg.hello, &mut records);
        self.tracker
            .on_data(Direction::ClientToServer, &records, at);
        self.tapped(Direction::ClientToServer, &records);
        let out = self.hello_datagrams();
        self.facts.datagrams_sent += out.len();
        out
    }

    /// The version our packets carry: Initial packets of an unknown version are still
    /// written in v1's layout.
    fn packet_version(&self) -> u32 {
        if quic::is_known_version(self.cfg.version) {
            self.cfg.version
        } else {
            quic::VERSION_1
        }
    }

    fn seal(&mut self, space: usize, frames: &[u8]) -> Vec<u8> {
        let pn = self.spaces[space].next_pn;
        self.spaces[space].next_pn += 1;
        let (keys, kind, token) = match (space, &self.handshake) {
            (HANDSHAKE, Some((ours, _))) => (ours, PacketType::Handshake, &[][..]),
            _ => (&self.initial.client, PacketType::Initial, &self.token[..]),
        };
        let mut packet = qcrypto::protect_long(
            self.packet_version(),
            kind,
            keys,
            &self.dcid,
            &self.cfg.scid,
            token,
            pn,
            frames,
        );
        if kind == PacketType::Initial && self.cfg.version != packet_version_of(&packet) {
            // An unknown version (asking for Version Negotiation): the version field says
            // it, the rest stays v1's layout (the server reads no further).
            packet[1..5].copy_from_slice(&self.cfg.version.to_be_bytes());
        }
        packet
    }

    /// An Initial packet with `frames`, padded so that with `rest` (coalesced after it)
    /// the datagram has at least 1,200 bytes.
    fn padded_initial(&mut self, frames: &[u8], rest: usize) -> Vec<u8> {
        let mut frames = frames.to_vec();
        let packet = self.seal_probe_len(&frames);
        if packet + rest < MIN_INITIAL_DATAGRAM {
            frames.resize(frames.len() + MIN_INITIAL_DATAGRAM - packet - rest, 0);
        }
        self.seal(INITIAL, &frames)
    }

    /// The length an Initial packet with `frames` would have (nothing is sent).
    fn seal_probe_len(&self, frames: &[u8]) -> usize {
        let header = 1 + 4 + 1 + self.dcid.len() + 1 + self.cfg.scid.len();
        let token = varint_len(self.token.len() as u64) + self.token.len();
        let payload = frames.len().max(4) + 2 + 16;
        header + token + varint_len(payload as u64) + payload
    }

    /// Bytes of an Initial packet of ours besides its frames, when it is full: header,
    /// token, a 2-byte length, a 2-byte packet number and the AEAD tag.
    fn initial_overhead(&self) -> usize {
        let token = varint_len(self.token.len() as u64) + self.token.len();
        1 + 4 + 1 + self.dcid.len() + 1 + self.cfg.scid.len() + token + 2 + 2 + 16
    }

    /// The hello in CRYPTO frames, as many as fill a 1,200-byte datagram each (frames no
    /// larger than `crypto_frame_max`: several share a packet when they are small).
    fn hello_datagrams(&mut self) -> Vec<Vec<u8>> {
        let hello = std::mem::take(&mut self.cfg.hello);
        let out = self.crypto_datagrams(&hello, 0, Vec::new());
        self.cfg.hello = hello;
        out
    }

    /// `bytes` of the Initial CRYPTO stream from stream offset `base`, in padded Initial
    /// datagrams; `lead` (e.g. an ACK frame) goes first in the first packet.
    fn crypto_datagrams(&mut self, bytes: &[u8], base: u64, lead: Vec<u8>) -> Vec<Vec<u8>> {
        // A frame's header is at most 7 bytes (type, a 4-byte offset, a 2-byte length).
        let budget = MIN_INITIAL_DATAGRAM
            .saturating_sub(self.initial_overhead())
            .max(64);
        let chunk = self.cfg.crypto_frame_max.unwrap_or(budget).max(1);
        let mut out = Vec::new();
        let mut offset = 0usize;
        let mut lead = Some(lead);
        while offset < bytes.len() {
            let mut frames = lead.take().unwrap_or_default();
            while offset < bytes.len() && frames.len() + 8 <= budget {
                let n = chunk
                    .min(bytes.len() - offset)
                    .min(budget - frames.len() - 7);
                put_crypto_frame(
                    &mut frames,
                    base + offset as u64,
                    &bytes[offset..offset + n],
                );
                offset += n;
            }
            out.push(self.padded_initial(&frames, 0));
        }
        out
    }

    /// The tracker, to give it the key pair of a second hello's share.
    pub fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// A second ClientHello (its handshake message), answering a HelloRetryRequest: the
    /// Initial CRYPTO stream goes on after the first hello's bytes (RFC 9001 §4.1.4; the
    /// Initial keys stay those of our first Destination Connection ID), with the ACK of the
    /// server's Initial packets in front. The tracker sees it as the client's next record.
    pub fn hello_again(&mut self, hello: &[u8], at: Micros) -> Vec<Vec<u8>> {
        let mut records = Vec::new();
        quic::as_handshake_records(hello, &mut records);
        self.tracker
            .on_data(Direction::ClientToServer, &records, at);
        self.tapped(Direction::ClientToServer, &records);
        let mut lead = Vec::new();
        if self.spaces[INITIAL].ack_pending {
            put_ack_frame(&mut lead, &self.spaces[INITIAL].received);
            self.spaces[INITIAL].ack_pending = false;
        }
        let base = self.cfg.hello.len() as u64;
        let out = self.crypto_datagrams(hello, base, lead);
        self.facts.datagrams_sent += out.len();
        out
    }

    /// The client still reads: the tracker has no verdict and the server neither closed
    /// nor refused our version.
    pub fn wants_more(&self) -> bool {
        !self.closed
            && !self.tracker.decided()
            && self.facts.server_close.is_none()
            && self.facts.version_negotiation.is_none()
            && self.server_packets < MAX_SERVER_PACKETS
    }

    /// One datagram from the server; returns the datagrams to send in answer (ACKs, or the
    /// hello again after a Retry).
    pub fn on_datagram(&mut self, datagram: &[u8], at: Micros) -> Vec<Vec<u8>> {
        self.facts.datagrams_received += 1;
        let mut rest = datagram;
        let mut out = Vec::new();
        while !rest.is_empty() && self.server_packets < MAX_SERVER_PACKETS {
            self.server_packets += 1;
            let (len, answer) = self.on_packet(rest, at);
            out.extend(answer);
            match len {
                Some(n) if n > 0 && n <= rest.len() => rest = &rest[n..],
                _ => break,
            }
        }
        if self.handshake.is_some() && !self.early_handshake.is_empty() {
            for packet in std::mem::take(&mut self.early_handshake) {
                let _ = self.on_packet(&packet, at);
            }
        }
        if out.is_empty() && self.wants_more() {
            out.extend(self.acks());
        }
        self.facts.datagrams_sent += out.len();
        out
    }

    /// One packet at the start of `bytes`: its length (`None`: the rest of the datagram is
    /// not read) and any datagram to send at once.
    fn on_packet(&mut self, bytes: &[u8], at: Micros) -> (Option<usize>, Vec<Vec<u8>>) {
        let from = Direction::ServerToClient;
        let (header, len) = match quic::parse_long(bytes) {
            Ok(Some(h)) => h,
            // A short header (1-RTT: the server's first application packets after its
            // Finished): a probe has no application keys, and a short header ends the
            // datagram.
            Ok(None) => return (None, Vec::new()),
            Err(_) => {
                self.facts.dropped_packets += 1;
                return (None, Vec::new());
            }
        };
        match header.kind {
            LongKind::VersionNegotiation { ref versions } => {
                // Only before any other packet, and only when it names our connection.
                if self.server_seen || header.dcid != self.cfg.scid {
                    self.facts.dropped_packets += 1;
                } else if self.facts.version_negotiation.is_none() {
                    self.tracker
                        .on_quic(from, &QuicSignal::VersionNegotiation { versions }, at);
                    self.facts.version_negotiation = Some(versions.clone());
                }
                (Some(len), Vec::new())
            }
            LongKind::Retry { token } => {
                if self.server_seen || self.facts.retry.is_some() || token.is_empty() {
                    self.facts.dropped_packets += 1;
                    return (Some(len), Vec::new());
                }
                let integrity_ok =
                    qcrypto::retry_integrity_ok(header.version, &self.cfg.dcid, &bytes[..len]);
                self.facts.retry = Some(RetrySeen {
                    token_len: token.len(),
                    integrity_ok,
                });
                if !integrity_ok {
                    self.facts.dropped_packets += 1;
                    return (Some(len), Vec::new());
                }
                self.tracker.on_quic(from, &QuicSignal::Retry, at);
                // RFC 9000 §17.2.5.2: the hello again, to the Retry's connection ID, with
                // its token and keys from that ID; packet numbers go on.
                self.dcid = header.scid.to_vec();
                self.token = token.to_vec();
                self.initial = initial_keys_for(self.cfg.version, &self.dcid);
                (Some(len), self.hello_datagrams())
            }
            LongKind::Protected { packet_type, .. } => {
                let space = match packet_type {
                    PacketType::Initial => INITIAL,
                    PacketType::Handshake => HANDSHAKE,
                    _ => {
                        self.facts.dropped_packets += 1;
                        return (Some(len), Vec::new());
                    }
                };
                let keys = match space {
                    INITIAL => &self.initial.server,
                    _ => match &self.handshake {
                        Some((_, theirs)) => theirs,
                        None => {
                            if self.early_handshake.len() < MAX_EARLY_HANDSHAKE {
                                self.early_handshake.push(bytes[..len].to_vec());
                            } else {
                                self.facts.dropped_packets += 1;
                            }
                            return (Some(len), Vec::new());
                        }
                    },
                };
                let opened = match qcrypto::open_long(&header, keys, self.spaces[space].largest) {
                    Ok(o) => o,
                    Err(_) => {
                        self.facts.dropped_packets += 1;
                        return (Some(len), Vec::new());
                    }
                };
                if !self.server_seen {
                    self.server_seen = true;
                    self.dcid = header.scid.to_vec();
                }
                match space {
                    INITIAL => self.facts.initial_packets += 1,
                    _ => {
                        self.facts.handshake_packets += 1;
                        self.tracker.on_quic(
                            from,
                            &QuicSignal::Handshake { len, packet: None },
                            at,
                        );
                    }
                }
                self.on_frames(space, opened.packet_number, &opened.payload, at);
                (Some(len), Vec::new())
            }
        }
    }

    fn on_frames(&mut self, space: usize, pn: u64, payload: &[u8], at: Micros) {
        let from = Direction::ServerToClient;
        let mut ack_eliciting = false;
        let mut delivered = Vec::new();
        for frame in quic::frames(payload) {
            let Ok(frame) = frame else {
                // RFC 9000 says a frame we cannot read ends the connection; the tracker
                // still judges what came before it.
                self.facts.dropped_packets += 1;
                break;
            };
            match frame {
                Frame::Padding | Frame::Ack => {}
                Frame::Ping => ack_eliciting = true,
                Frame::Crypto { offset, data } => {
                    ack_eliciting = true;
                    self.spaces[space]
                        .stream
                        .add(offset, data, &mut |b: &[u8]| delivered.extend_from_slice(b));
                }
                Frame::ConnectionClose {
                    application,
                    code,
                    frame_type,
                    reason,
                } => {
                    self.deliver(space, &mut delivered, at);
                    self.tracker.on_quic(
                        from,
                        &QuicSignal::Close {
                            application,
                            code,
                            frame_type,
                            reason,
                        },
                        at,
                    );
                    if let Some(alert) = quic::crypto_error_alert(code).filter(|_| !application) {
                        self.tapped(from, &alert_record(alert));
                    }
                    self.facts.server_close.get_or_insert(CloseSeen {
                        from,
                        application,
                        code,
                        frame_type,
                        reason: String::from_utf8_lossy(reason).chars().take(200).collect(),
                    });
                }
            }
        }
        self.spaces[space].received(pn, ack_eliciting);
        self.deliver(space, &mut delivered, at);
    }

    /// Hands in-order CRYPTO bytes to the tracker: the Initial space's as handshake
    /// records (cleartext, as from TCP), the Handshake space's as decrypted messages.
    fn deliver(&mut self, space: usize, bytes: &mut Vec<u8>, at: Micros) {
        if bytes.is_empty() {
            return;
        }
        let from = Direction::ServerToClient;
        if space == INITIAL {
            let mut records = Vec::new();
            quic::as_handshake_records(bytes, &mut records);
            self.tracker.on_data(from, &records, at);
            self.tapped(from, &records);
            self.install_handshake_keys();
        } else {
            self.tracker.on_quic_handshake_messages(from, bytes, at);
        }
        bytes.clear();
    }

    /// Once the tracker knows the handshake traffic secrets (after the ServerHello), the
    /// Handshake packet keys follow from them.
    fn install_handshake_keys(&mut self) {
        if self.handshake.is_some() || self.facts.problem.is_some() {
            return;
        }
        let Some((suite, secrets)) = self.tracker.tls13_handshake_secrets() else {
            return;
        };
        let version = self.packet_version();
        match qcrypto::handshake_keys(version, suite, secrets) {
            Some(k) => self.handshake = Some((k.client, k.server)),
            None => {
                self.facts.problem = Some(format!(
                    "no QUIC packet protection for suite 0x{suite:04x} here: the Handshake \
                     packets are not read"
                ))
            }
        }
    }

    /// ACK frames for what the server sent since the last ones: a Handshake packet when
    /// its keys are known, else an Initial datagram padded to 1,200 bytes.
    fn acks(&mut self) -> Vec<Vec<u8>> {
        let mut handshake_packet = None;
        if self.spaces[HANDSHAKE].ack_pending && self.handshake.is_some() {
            let mut f = Vec::new();
            put_ack_frame(&mut f, &self.spaces[HANDSHAKE].received);
            self.spaces[HANDSHAKE].ack_pending = false;
            handshake_packet = Some(self.seal(HANDSHAKE, &f));
        }
        let mut datagram = Vec::new();
        if self.spaces[INITIAL].ack_pending {
            let mut f = Vec::new();
            put_ack_frame(&mut f, &self.spaces[INITIAL].received);
            self.spaces[INITIAL].ack_pending = false;
            let rest = handshake_packet.as_ref().map_or(0, Vec::len);
            datagram = self.padded_initial(&f, rest);
        }
        if let Some(p) = handshake_packet {
            datagram.extend_from_slice(&p);
        }
        if datagram.is_empty() {
            Vec::new()
        } else {
            vec![datagram]
        }
    }

    /// Our CONNECTION_CLOSE (NO_ERROR: the probe has what it came for), in every space
    /// the server may still read: an Initial packet (padded) and, with its keys, a
    /// Handshake packet in the same datagram.
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        let mut f = Vec::new();
        put_connection_close(&mut f, 0, b"shakedown probe done");
        let handshake_packet = self.handshake.is_some().then(|| self.seal(HANDSHAKE, &f));
        let rest = handshake_packet.as_ref().map_or(0, Vec::len);
        let mut datagram = self.padded_initial(&f, rest);
        if let Some(p) = handshake_packet {
            datagram.extend_from_slice(&p);
        }
        self.facts.datagrams_sent += 1;
        vec![datagram]
    }

    /// The exchange ended without a verdict: nothing more within the deadline, or the
    /// reader's cap.
    pub fn on_end(&mut self, kind: EndKind, at: Micros) {
        self.tracker.on_end(Direction::ServerToClient, kind, at);
    }
}

/// A transport parameter set to a value (`Some`) or left out (`None`).
pub type ParamChange = (u64, Option<Vec<u8>>);

/// Our transport parameters: a browser-like default set (RFC 9000 §18.2), the
/// initial_source_connection_id every client must send first, then the caller's changes.
pub fn transport_parameters(scid: &[u8], changes: &[ParamChange]) -> Vec<(u64, Vec<u8>)> {
    let int = |v: u64| {
        let mut b = Vec::new();
        quic::put_varint(&mut b, v);
        b
    };
    let mut params: Vec<(u64, Vec<u8>)> = vec![
        (0x0f, scid.to_vec()),  // initial_source_connection_id
        (0x01, int(30_000)),    // max_idle_timeout (ms)
        (0x03, int(1_472)),     // max_udp_payload_size
        (0x04, int(1_048_576)), // initial_max_data
        (0x05, int(262_144)),   // initial_max_stream_data_bidi_local
        (0x06, int(262_144)),   // initial_max_stream_data_bidi_remote
        (0x07, int(262_144)),   // initial_max_stream_data_uni
        (0x08, int(100)),       // initial_max_streams_bidi
        (0x09, int(100)),       // initial_max_streams_uni
    ];
    for (id, value) in changes {
        match value {
            Some(v) => match params.iter_mut().find(|p| p.0 == *id) {
                Some(p) => p.1 = v.clone(),
                None => params.push((*id, v.clone())),
            },
            None => params.retain(|p| p.0 != *id),
        }
    }
    params
}

/// The handshake messages inside TLS records (what goes into CRYPTO frames); bytes that do
/// not frame as records are taken as handshake messages already.
pub fn handshake_bytes(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    while rest.len() >= 5 && rest[0] == 0x16 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        let Some(payload) = rest.get(5..5 + len) else {
            break;
        };
        out.extend_from_slice(payload);
        rest = &rest[5 + len..];
    }
    if rest.is_empty() { out } else { wire.to_vec() }
}

/// A ClientHello (in TLS records, as built for TCP) as a QUIC client sends it: with the
/// quic_transport_parameters extension carrying `params` added when it has none, and ALPN
/// `h3` instead of one without it (QUIC servers refuse a hello without their protocol), and
/// an empty legacy session ID. `None` when the
/// bytes are not a ClientHello (they are then sent as they are).
pub fn with_transport_parameters(records: &[u8], params: &[(u64, Vec<u8>)]) -> Option<Vec<u8>> {
    use crate::core::wire::registry::extensions::types::{ALPN, QUIC_TRANSPORT_PARAMETERS};
    let msg = handshake_bytes(records);
    let mut hello = crate::core::wire::hello::ClientHello::decode_message(&msg, 0x0301).ok()?;
    // RFC 9001 §8.4: no middlebox-compatibility session ID over QUIC.
    hello.session_id.clear();
    let exts = hello.extensions.get_or_insert_with(Vec::new);
    let h3 = vec![0, 3, 2, b'h', b'3'];
    match exts.iter_mut().find(|e| e.typ == ALPN) {
        // A TCP hello's h2/http1.1: over QUIC the protocol is HTTP/3.
        Some(e) if !e.data.windows(3).any(|w| w == [2, b'h', b'3']) => e.data = h3,
        Some(_) => {}
        None => exts.push(crate::core::wire::Extension {
            typ: ALPN,
            data: h3,
        }),
    }
    if !exts.iter().any(|e| e.typ == QUIC_TRANSPORT_PARAMETERS) {
        exts.push(crate::core::wire::Extension {
            typ: QUIC_TRANSPORT_PARAMETERS,
            data: quic::encode_transport_parameters(params),
        });
    }
    Some(handshake_bytes(&hello.to_records(None).ok()?))
}

/// A TLS alert record (fatal): how a crypto error close reaches a reader of TLS records.
fn alert_record(description: u8) -> Vec<u8> {
    vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]
}

fn packet_version_of(packet: &[u8]) -> u32 {
    packet
        .get(1..5)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn varint_len(v: u64) -> usize {
    match v {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::crypto::hello;
    use crate::core::session::Outcome;
    use crate::core::wire::build::HelloSpec;

    const DCID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const SCID: [u8; 8] = [9, 9, 9, 9, 9, 9, 9, 9];

    fn client() -> QuicClient {
        let built =
            hello::build(&HelloSpec::default(), Some("localhost"), &mut |b| b.fill(7)).unwrap();
        let cfg = QuicClientConfig {
            version: quic::VERSION_1,
            dcid: DCID.to_vec(),
            scid: SCID.to_vec(),
            // One record: its payload is the ClientHello message.
            hello: built.wire[5..].to_vec(),
            crypto_frame_max: None,
        };
        QuicClient::new(cfg, Tracker::with_key_shares(built.secrets))
    }

    /// The CRYPTO stream of Initial datagrams, opened with the keys of `dcid`.
    fn crypto_of(datagrams: &[Vec<u8>], dcid: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let keys = qcrypto::initial_keys(quic::VERSION_1, dcid).unwrap();
        let mut stream = CryptoStream::new(1 << 16);
        let mut out = Vec::new();
        let mut tokens = Vec::new();
        for d in datagrams {
            assert!(d.len() >= MIN_INITIAL_DATAGRAM, "{} bytes", d.len());
            let (h, _) = quic::parse_long(d).unwrap().unwrap();
            let LongKind::Protected { token, .. } = h.kind else {
                panic!("not an Initial")
            };
            tokens.push(token.to_vec());
            assert_eq!(h.dcid, dcid);
            let opened = qcrypto::open_long(&h, &keys.client, None).unwrap();
            for f in quic::frames(&opened.payload) {
                if let Frame::Crypto { offset, data } = f.unwrap() {
                    stream.add(offset, data, &mut |b: &[u8]| out.extend_from_slice(b));
                }
            }
        }
        (out, tokens)
    }

    fn retry_packet(odcid: &[u8], new_scid: &[u8], token: &[u8]) -> Vec<u8> {
        let mut p = vec![0xf0];
        p.extend(quic::VERSION_1.to_be_bytes());
        p.push(SCID.len() as u8);
        p.extend(SCID);
        p.push(new_scid.len() as u8);
        p.extend(new_scid);
        p.extend(token);
        let tag = qcrypto::retry_integrity_tag(quic::VERSION_1, odcid, &p);
        p.extend(tag);
        p
    }

    #[test]
    fn the_hello_goes_out_in_padded_initial_datagrams() {
        let mut c = client();
        let hello = c.cfg.hello.clone();
        let out = c.start(0);
        assert_eq!(out.len(), 1);
        assert_eq!(crypto_of(&out, &DCID).0, hello);
        assert!(c.tracker().verdict().client_hello.is_some());
        // Split in small frames over several datagrams, still one stream.
        let mut c = client();
        c.cfg.hello = [hello.clone(), vec![0; 2000]].concat();
        c.cfg.crypto_frame_max = Some(100);
        let out = c.hello_datagrams();
        assert_eq!(out.len(), 3);
        assert_eq!(crypto_of(&out, &DCID).0, c.cfg.hello);
    }

    #[test]
    fn a_retry_with_a_good_tag_is_followed_once_and_a_bad_one_ignored() {
        let mut c = client();
        c.start(0);
        let mut bad = retry_packet(&DCID, b"newcid01", b"tok");
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(c.on_datagram(&bad, 1).is_empty());
        assert_eq!(
            c.facts().retry,
            Some(RetrySeen {
                token_len: 3,
                integrity_ok: false
            })
        );
        let mut c = client();
        c.start(0);
        let again = c.on_datagram(&retry_packet(&DCID, b"newcid01", b"tok"), 1);
        let (stream, tokens) = crypto_of(&again, b"newcid01");
        assert_eq!(stream, c.cfg.hello);
        assert_eq!(tokens, vec![b"tok".to_vec()]);
        assert!(c.facts().retry.as_ref().unwrap().integrity_ok);
        // A second Retry is not followed.
        assert!(
            c.on_datagram(&retry_packet(b"newcid01", b"newcid02", b"t2"), 2)
                .is_empty()
        );
        assert_eq!(c.dcid, b"newcid01");
        assert!(c.wants_more());
    }

    #[test]
    fn version_negotiation_only_for_our_connection() {
        let vn = |dcid: &[u8]| {
            let mut p = vec![0x80, 0, 0, 0, 0, dcid.len() as u8];
            p.extend(dcid);
            p.push(0);
            p.extend(quic::VERSION_2.to_be_bytes());
            p
        };
        let mut c = client();
        c.start(0);
        c.on_datagram(&vn(b"someone else"), 1);
        assert!(c.facts().version_negotiation.is_none());
        assert_eq!(c.facts().dropped_packets, 1);
        c.on_datagram(&vn(&SCID), 2);
        assert_eq!(c.facts().version_negotiation, Some(vec![quic::VERSION_2]));
        assert!(!c.wants_more());
    }

    /// A server Initial with a CONNECTION_CLOSE carrying crypto error 0x128 (alert 40) is
    /// the alert handshake_failure; our answer is a padded close.
    #[test]
    fn a_crypto_error_close_is_the_alert() {
        let mut c = client();
        c.start(0);
        let keys = qcrypto::initial_keys(quic::VERSION_1, &DCID).unwrap();
        let mut frames = Vec::new();
        put_connection_close(&mut frames, 0x128, b"no");
        let packet = qcrypto::protect_long(
            quic::VERSION_1,
            PacketType::Initial,
            &keys.server,
            &SCID,
            b"server01",
            &[],
            0,
            &frames,
        );
        c.on_datagram(&packet, 5);
        assert!(!c.wants_more());
        let v = c.tracker().verdict();
        assert_eq!(v.outcome, Outcome::Alert);
        assert_eq!(v.alert.unwrap().alert.description, 40);
        let close = c.close();
        assert_eq!(close.len(), 1);
        assert!(close[0].len() >= MIN_INITIAL_DATAGRAM);
        // Sent to the server's connection ID now.
        let (h, _) = quic::parse_long(&close[0]).unwrap().unwrap();
        assert_eq!(h.dcid, b"server01");
        assert!(c.close().is_empty());
    }

    /// Whatever the server sends, the client neither panics nor reads without end: after
    /// MAX_SERVER_PACKETS packets it wants no more.
    #[test]
    fn hostile_datagrams_are_bounded() {
        let mut next = crate::core::wire::xorshift64(0x9e37_79b9_7f4a_7c15);
        let mut c = client();
        c.start(0);
        let mut answered = 0usize;
        for i in 0..3000u64 {
            let len = (next() % 1400) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(f) = d.first_mut() {
                *f |= 0x80;
            }
            if d.len() > 6 && i % 2 == 0 {
                d[1..5].copy_from_slice(&quic::VERSION_1.to_be_bytes());
            }
            if !c.wants_more() {
                break;
            }
            answered += c.on_datagram(&d, i).len();
        }
        assert!(!c.wants_more());
        assert_eq!(answered, 0, "nothing decrypts: nothing to acknowledge");
        assert!(c.server_packets <= MAX_SERVER_PACKETS);
    }
}
