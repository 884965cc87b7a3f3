//! Where a tracker's keys come from. The [`crate::core::session::Tracker`] stays sans-IO: it asks
//! a [`KeySource`] for secrets when the handshake reaches the point that needs them. A key
//! log answers from what a client wrote down; a probe answers from its own ephemeral key
//! shares ([`EphemeralKeys`]), completing the (EC)DHE exchange itself.

use super::ecdh;
use super::keylog::{KeyLog, Label};
use super::schedule::{self, HashAlg, TrafficSecrets};
use crate::core::wire::build::KeyShareSecret;
use crate::core::wire::server::ServerHello;
use std::sync::Mutex;

/// What a key source may need to know about the handshake so far.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeInfo<'a> {
    pub client_random: &'a [u8; 32],
    pub server_hello: &'a ServerHello,
    pub hash: HashAlg,
    /// TLS 1.3: the transcript hash up to the ServerHello (handshake secrets) or up to
    /// the server's Finished (application secrets).
    pub transcript_hash: &'a [u8],
}

pub trait KeySource: std::fmt::Debug + Send + Sync {
    /// TLS 1.3 handshake traffic secrets.
    fn tls13_handshake(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets>;
    /// TLS 1.3 first application traffic secrets.
    fn tls13_application(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets>;
    /// TLS ≤ 1.2 master secret.
    fn tls12_master(&self, client_random: &[u8; 32]) -> Option<Vec<u8>>;
}

impl KeySource for KeyLog {
    fn tls13_handshake(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        Some(TrafficSecrets {
            client: self
                .get(Label::ClientHandshakeTraffic, info.client_random)?
                .to_vec(),
            server: self
                .get(Label::ServerHandshakeTraffic, info.client_random)?
                .to_vec(),
        })
    }

    fn tls13_application(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        Some(TrafficSecrets {
            client: self
                .get(Label::ClientTraffic0, info.client_random)?
                .to_vec(),
            server: self
                .get(Label::ServerTraffic0, info.client_random)?
                .to_vec(),
        })
    }

    fn tls12_master(&self, client_random: &[u8; 32]) -> Option<Vec<u8>> {
        self.get(Label::ClientRandom, client_random)
            .map(<[u8]>::to_vec)
    }
}

/// The private halves of the key shares a probe sent: with the server's key share they
/// give the TLS 1.3 handshake secrets (no PSK).
#[derive(Default)]
pub struct EphemeralKeys {
    /// Grows after a HelloRetryRequest, while the tracker already holds the source.
    shares: Mutex<Vec<KeyShareSecret>>,
    /// The handshake secret, kept to derive the application secrets later.
    handshake_secret: Mutex<Option<Vec<u8>>>,
}

impl std::fmt::Debug for EphemeralKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.shares.lock().map(|s| s.len()).unwrap_or(0);
        write!(f, "EphemeralKeys({n} shares)")
    }
}

impl EphemeralKeys {
    pub fn new(shares: Vec<KeyShareSecret>) -> Self {
        EphemeralKeys {
            shares: Mutex::new(shares),
            handshake_secret: Mutex::new(None),
        }
    }

    /// Adds the share of a second ClientHello (after a HelloRetryRequest).
    pub fn add(&self, share: KeyShareSecret) {
        if let Ok(mut shares) = self.shares.lock() {
            shares.push(share);
        }
    }
}

/// The (EC)DHE shared secret of one of our shares and the server's key_share extension
/// data (group, length, key_exchange).
pub fn shared_secret(shares: &[KeyShareSecret], key_share_ext: &[u8]) -> Option<Vec<u8>> {
    let [g0, g1, l0, l1, public @ ..] = key_share_ext else {
        return None;
    };
    let group = u16::from_be_bytes([*g0, *g1]);
    if public.len() != u16::from_be_bytes([*l0, *l1]) as usize {
        return None;
    }
    let ours = shares.iter().find(|s| s.group == group)?;
    ecdh::shared_secret(ours, public)
}

impl KeySource for EphemeralKeys {
    fn tls13_handshake(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        let ext = info.server_hello.ext(0x0033)?;
        let shared = shared_secret(&self.shares.lock().ok()?, ext)?;
        let (hs, secrets) =
            schedule::tls13_handshake_secrets(info.hash, &shared, info.transcript_hash);
        if let Ok(mut slot) = self.handshake_secret.lock() {
            *slot = Some(hs);
        }
        Some(secrets)
    }

    fn tls13_application(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        let slot = self.handshake_secret.lock().ok()?;
        let hs = slot.as_ref()?;
        Some(schedule::tls13_application_secrets(
            info.hash,
            hs,
            info.transcript_hash,
        ))
    }

    fn tls12_master(&self, _client_random: &[u8; 32]) -> Option<Vec<u8>> {
        None
    }
}
