//! What a QUIC connection shows beyond its handshake messages, in the tracker's terms. The
//! messages themselves arrive as TLS handshake records through [`Tracker::on_data`] (the
//! capture frames the CRYPTO stream so), which is why SNI, ALPN, JA4, version, suite and
//! group come from the same code as for TCP. Here: Handshake packets stand for the server's
//! encrypted flight, the client's first 1-RTT packet for its Finished (it has the
//! application keys only after the server's Finished), a CONNECTION_CLOSE with a crypto
//! error (0x0100 + alert, RFC 9001 §4.8) for that TLS alert; Retry and Version Negotiation
//! are timeline events.
//!
//! With a key log (a capture read with `--keylog`), the Handshake packets themselves are
//! decrypted here ([`HandshakeSpace`]): Handshake packet keys from the log's TLS 1.3
//! handshake traffic secrets (the same derivation as `probe --quic`,
//! [`qcrypto::handshake_keys`]), header protection removed, CRYPTO frames reassembled per
//! direction and read as decrypted handshake messages (certificates, CertificateVerify,
//! both Finished, verified), a CONNECTION_CLOSE inside them read as above.

use super::{EventText, Tracker};
use crate::core::crypto::quic::{self as qcrypto, HandshakeKeys};
use crate::core::crypto::schedule::TrafficSecrets;
use crate::core::flow::{Direction, Micros};
use crate::core::wire::quic::{self, CryptoStream, Frame, LongKind, PacketType, QuicSignal};
use crate::core::wire::server::Alert;

/// Reason phrases are shown up to this many characters.
const MAX_REASON: usize = 100;
/// Handshake CRYPTO bytes read per direction: a server flight with a long chain is tens of
/// kilobytes.
const MAX_HANDSHAKE_CRYPTO: usize = 256 * 1024;
/// Handshake packets held per connection while their keys are not known yet (they came
/// before the ServerHello they depend on, reordered in the capture).
const MAX_EARLY_HANDSHAKE: usize = 16;
/// Handshake packets read per connection (retransmissions included); the rest are counted
/// only.
const MAX_HANDSHAKE_PACKETS: usize = 1000;

/// The Handshake packet number space of a QUIC connection read with a key log.
#[derive(Debug)]
pub(super) struct HandshakeSpace {
    /// `None` until the ServerHello gave the suite and the key log the secrets.
    keys: Option<HandshakeKeys>,
    /// The keys cannot be had (no secrets for this client random, a suite without packet
    /// protection here): packets are only counted.
    unavailable: bool,
    largest: [Option<u64>; 2],
    streams: [CryptoStream; 2],
    early: Vec<(Direction, Vec<u8>, Micros)>,
    packets: usize,
}

impl HandshakeSpace {
    fn new() -> HandshakeSpace {
        HandshakeSpace {
            keys: None,
            unavailable: false,
            largest: [None; 2],
            streams: [
                CryptoStream::new(MAX_HANDSHAKE_CRYPTO),
                CryptoStream::new(MAX_HANDSHAKE_CRYPTO),
            ],
            early: Vec::new(),
            packets: 0,
        }
    }
}

impl Tracker {
    /// Handshake messages a QUIC endpoint read from the CRYPTO frames of Handshake packets
    /// it decrypted itself (with QUIC packet keys, not TLS records): they take part in the
    /// verdict as messages decrypted from TLS 1.3 records do, Finished checks included.
    pub fn on_quic_handshake_messages(&mut self, dir: Direction, data: &[u8], at: Micros) {
        let i = dir.index();
        if data.is_empty() || self.sides[i].ended || self.sides[i].stopped() {
            return;
        }
        if dir == Direction::ServerToClient {
            self.v.server_bytes = self.v.server_bytes.saturating_add(data.len());
        }
        if let Some(d) = self.v.decryption.as_mut() {
            d.records += 1;
        }
        self.on_handshake_payload(dir, data, at, false);
        self.check_decided(at);
    }

    /// The negotiated TLS 1.3 suite and the handshake traffic secrets, once the ServerHello
    /// was read by a tracker with our key shares: what a QUIC client derives its Handshake
    /// packet keys from (RFC 9001 §5.1).
    pub fn tls13_handshake_secrets(&self) -> Option<(u16, &TrafficSecrets)> {
        let suite = self.v.cipher?;
        self.crypto.tls13_handshake.as_ref().map(|s| (suite, s))
    }

    /// A protected Handshake packet from a capture: decrypted when the key log has this
    /// connection's handshake secrets, its CRYPTO frames read as handshake messages.
    fn read_quic_handshake(&mut self, dir: Direction, packet: &[u8], at: Micros) {
        if self.keys.is_none() {
            return;
        }
        let suite = self.v.cipher.filter(|_| self.tls13());
        let server_hello_seen = self.v.server_hello.is_some();
        let space = self
            .crypto
            .quic_handshake
            .get_or_insert_with(|| Box::new(HandshakeSpace::new()));
        if space.unavailable || space.packets >= MAX_HANDSHAKE_PACKETS {
            return;
        }
        let Ok(Some((header, _))) = quic::parse_long(packet) else {
            return;
        };
        if space.keys.is_none() {
            let secrets = self.crypto.tls13_handshake.as_ref().zip(suite);
            match secrets {
                Some((secrets, suite)) => {
                    match qcrypto::handshake_keys(header.version, suite, secrets) {
                        Some(k) => space.keys = Some(k),
                        None => {
                            space.unavailable = true;
                            self.decryption_problem(format!(
                                "no QUIC packet protection for suite 0x{suite:04x} here: the \
                                 Handshake packets are not read"
                            ));
                            return;
                        }
                    }
                }
                // No ServerHello yet: held until it comes.
                None if !server_hello_seen => {
                    if space.early.len() < MAX_EARLY_HANDSHAKE {
                        space.early.push((dir, packet.to_vec(), at));
                    }
                    return;
                }
                // A ServerHello without secrets for it (the key log said why already).
                None => {
                    space.unavailable = true;
                    space.early.clear();
                    return;
                }
            }
        }
        let early = std::mem::take(&mut space.early);
        for (d, p, t) in early {
            self.open_quic_handshake(d, &p, t);
        }
        self.open_quic_handshake(dir, packet, at);
    }

    fn open_quic_handshake(&mut self, dir: Direction, packet: &[u8], at: Micros) {
        let i = dir.index();
        let Some(space) = self.crypto.quic_handshake.as_mut() else {
            return;
        };
        let (Some(keys), Ok(Some((header, _)))) = (space.keys.as_ref(), quic::parse_long(packet))
        else {
            return;
        };
        if !matches!(
            header.kind,
            LongKind::Protected {
                packet_type: PacketType::Handshake,
                ..
            }
        ) {
            return;
        }
        space.packets += 1;
        let keys = match dir {
            Direction::ClientToServer => &keys.client,
            Direction::ServerToClient => &keys.server,
        };
        let Ok(opened) = qcrypto::open_long(&header, keys, space.largest[i]) else {
            self.event(
                at,
                dir,
                "QUIC Handshake packet does not decrypt with the key log's keys",
            );
            return;
        };
        space.largest[i] =
            Some(space.largest[i].map_or(opened.packet_number, |l| l.max(opened.packet_number)));
        let mut delivered = Vec::new();
        for frame in quic::frames(&opened.payload) {
            let Ok(frame) = frame else { break };
            match frame {
                Frame::Crypto { offset, data } => {
                    if let Some(space) = self.crypto.quic_handshake.as_mut() {
                        space.streams[i]
                            .add(offset, data, &mut |b: &[u8]| delivered.extend_from_slice(b));
                    }
                }
                Frame::ConnectionClose {
                    application,
                    code,
                    frame_type,
                    reason,
                } => {
                    self.on_quic_handshake_messages(dir, &std::mem::take(&mut delivered), at);
                    let close = QuicSignal::Close {
                        application,
                        code,
                        frame_type,
                        reason,
                    };
                    self.on_quic(dir, &close, at);
                }
                Frame::Padding | Frame::Ping | Frame::Ack => {}
            }
        }
        self.on_quic_handshake_messages(dir, &delivered, at);
    }

    pub fn on_quic(&mut self, dir: Direction, signal: &QuicSignal<'_>, at: Micros) {
        match *signal {
            QuicSignal::Handshake { len, packet } => {
                self.event(
                    at,
                    dir,
                    EventText::Record {
                        kind: "QUIC Handshake packet",
                        len,
                    },
                );
                match dir {
                    Direction::ClientToServer => self.v.client_encrypted_records += 1,
                    Direction::ServerToClient => {
                        self.v.server_encrypted_records += 1;
                        if self.tls13() && !self.v.established {
                            self.t13.server_flight_records += 1;
                            self.last_step = Some("server's encrypted handshake");
                        }
                    }
                }
                if let Some(packet) = packet {
                    self.read_quic_handshake(dir, packet, at);
                }
            }
            QuicSignal::OneRtt => {
                self.event(at, dir, "first 1-RTT packet");
                if dir == Direction::ClientToServer && self.tls13() {
                    self.last_step = Some("client's encrypted handshake");
                    self.establish_tls13(at);
                    if self.v.established {
                        // As for TCP, the verdict's time is when the handshake was done.
                        self.decide(at);
                    }
                }
            }
            QuicSignal::Retry => self.event(at, dir, "QUIC Retry (the client must echo a token)"),
            QuicSignal::VersionNegotiation { versions } => {
                let list: Vec<String> = versions.iter().map(|v| format!("0x{v:08x}")).collect();
                self.event(
                    at,
                    dir,
                    format!("QUIC Version Negotiation: {}", list.join(", ")),
                );
                if !self.v.established {
                    self.diverge(dir, "QUIC Version Negotiation".into());
                }
            }
            QuicSignal::Close {
                application,
                code,
                frame_type: _,
                reason,
            } => {
                let reason: String = String::from_utf8_lossy(reason)
                    .chars()
                    .take(MAX_REASON)
                    .collect();
                let name = if application {
                    "application error".to_owned()
                } else if let Some(alert) = quic::crypto_error_alert(code) {
                    format!("crypto error (TLS alert {alert})")
                } else {
                    quic::transport_error_name(code)
                        .unwrap_or("unknown error")
                        .to_owned()
                };
                let mut text = format!("QUIC CONNECTION_CLOSE {name} (0x{code:x})");
                if !reason.is_empty() {
                    text.push_str(&format!(": {reason:?}"));
                }
                self.event(at, dir, text);
                match quic::crypto_error_alert(code).filter(|_| !application) {
                    Some(description) => {
                        let alert = Alert {
                            level: 2,
                            description,
                        };
                        self.on_alert(dir, alert, at, false);
                    }
                    None if !self.v.established && (application || code != 0) => {
                        self.diverge(dir, format!("QUIC CONNECTION_CLOSE {name}"));
                    }
                    None => {}
                }
            }
        }
    }
}
