//! Decryption, for a tracker given keys (a key log, or the owner's key pairs): the
//! [`CryptoState`] (transcript, secrets, record openers per direction), the secrets asked
//! for at the ServerHello, the Finished checks, the TLS 1.3 switch to application keys, and
//! decrypted records handed back to the record and handshake readers. Without keys only
//! `on_finished` runs here (it marks the side finished; there is no hash to check with).

use super::{EventText, MAX_TRANSCRIPT, Tracker, quic};
use crate::core::crypto::schedule::{self, TrafficSecrets, TranscriptHash};
use crate::core::crypto::{HandshakeInfo, HashAlg, RecordOpener};
use crate::core::flow::{Direction, Micros};
use crate::core::wire::record::ContentType;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::server::Alert;

/// Decryption state, used only with keys.
#[derive(Debug, Default)]
pub(super) struct CryptoState {
    /// Handshake messages in order (header + body), for transcript hashes.
    pub(super) transcript: Vec<u8>,
    transcript_overflow: bool,
    /// The transcript's hash kept running from the ServerHello on, once the hash is known
    /// (`None` before, and after a HelloRetryRequest replaced the transcript).
    pub(super) running: Option<TranscriptHash>,
    hash: Option<HashAlg>,
    /// Per direction: the opener in use.
    pub(super) openers: [Option<RecordOpener>; 2],
    /// TLS 1.2: openers installed at each side's ChangeCipherSpec. TLS 1.3: the client's
    /// application opener, installed after its Finished.
    pub(super) pending: [Option<RecordOpener>; 2],
    pub(super) tls13_handshake: Option<TrafficSecrets>,
    tls12_master: Option<Vec<u8>>,
    /// TLS 1.3: the server sent a record after the client's Finished.
    pub(super) server_spoke_after_client_finished: bool,
    /// QUIC in a capture: the Handshake packet number space read with the key log's
    /// handshake secrets (`quic::HandshakeSpace`).
    pub(super) quic_handshake: Option<Box<quic::HandshakeSpace>>,
}

impl Tracker {
    pub(super) fn append_transcript(&mut self, wire: &[u8]) {
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

    pub(super) fn decryption_problem(&mut self, what: String) {
        if let Some(d) = self.v.decryption.as_mut() {
            d.problem.get_or_insert(what);
        }
    }

    /// Asks the keys for this connection's secrets once the ServerHello is known,
    /// and prepares the record openers.
    pub(super) fn keys_at_server_hello(&mut self, sh_wire: &[u8], at: Micros) {
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
    pub(super) fn on_finished(
        &mut self,
        dir: Direction,
        verify_data: &[u8],
        wire: &[u8],
    ) -> EventText {
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
    pub(super) fn on_decrypted(
        &mut self,
        dir: Direction,
        content_type: u8,
        data: &[u8],
        at: Micros,
    ) {
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
}
