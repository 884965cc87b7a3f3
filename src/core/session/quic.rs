//! What a QUIC connection shows beyond its handshake messages, in the tracker's terms. The
//! messages themselves arrive as TLS handshake records through [`Tracker::on_data`] (the
//! capture frames the CRYPTO stream so), which is why SNI, ALPN, JA4, version, suite and
//! group come from the same code as for TCP. Here: Handshake packets stand for the server's
//! encrypted flight, the client's first 1-RTT packet for its Finished (it has the
//! application keys only after the server's Finished), a CONNECTION_CLOSE with a crypto
//! error (0x0100 + alert, RFC 9001 §4.8) for that TLS alert; Retry and Version Negotiation
//! are timeline events.

use super::{EventText, Tracker};
use crate::core::crypto::schedule::TrafficSecrets;
use crate::core::flow::{Direction, Micros};
use crate::core::wire::quic::{self, QuicSignal};
use crate::core::wire::server::Alert;

/// Reason phrases are shown up to this many characters.
const MAX_REASON: usize = 100;

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

    pub fn on_quic(&mut self, dir: Direction, signal: &QuicSignal<'_>, at: Micros) {
        match *signal {
            QuicSignal::Handshake { len } => {
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
