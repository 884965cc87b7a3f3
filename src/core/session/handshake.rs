//! Handshake messages, joined per direction from records (cleartext or decrypted) or from
//! QUIC CRYPTO frames, and alerts: what each message (ClientHello, ServerHello,
//! HelloRetryRequest, Certificate, ServerKeyExchange, Finished, …) and each alert does to
//! the phase and the verdict. The key schedule they call into is in `keys.rs`.

use super::phase::{Decision, Phase};
use super::side::Protection;
use super::{AlertSeen, EventText, Outcome, Stall, TLS13, Tracker};
use crate::core::crypto::HashAlg;
use crate::core::flow::{Direction, Micros};
use crate::core::wire::ClientHello;
use crate::core::wire::record::RawHandshake;
use crate::core::wire::registry::alerts::codes as alert_code;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::handshake_types::UNKNOWN_HISTORY;
use crate::core::wire::registry::handshake_types::types as handshake;
use crate::core::wire::registry::{
    alert_name, handshake_type, handshake_type_name, history_letter,
};
use crate::core::wire::server::{
    Alert, Certificate, HandshakeMessage, ServerHello, ServerKeyExchange, decode_handshake,
};

impl Tracker {
    /// The messages in one handshake record's payload (and those it completes). Cleartext
    /// stops at a TLS 1.3 ServerHello: what follows it is ciphertext.
    pub(super) fn on_handshake_payload(
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

    pub(super) fn on_alert(&mut self, dir: Direction, alert: Alert, at: Micros, encrypted: bool) {
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
}
