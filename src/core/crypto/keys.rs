//! The keys a tracker decrypts with, handed to it as values by its owner: a key log (what a
//! client wrote down; `pcap --keylog`, a pcapng's secrets block) at construction, or a
//! probe's own key pairs, completing the (EC)DHE exchange itself; a probe adds the key pair
//! of its second hello after a HelloRetryRequest with `Tracker::add_key_share`. No shared
//! state: the tracker owns its [`Keys`].

use super::ecdh::{self, KeyShareSecret};
use super::keylog::{KeyLog, Label};
use super::schedule::{self, HashAlg, TrafficSecrets};
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::server::ServerHello;
use std::sync::Arc;

/// What the keys may need to know about the handshake so far.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeInfo<'a> {
    pub client_random: &'a [u8; 32],
    pub server_hello: &'a ServerHello,
    pub hash: HashAlg,
    /// TLS 1.3: the transcript hash up to the ServerHello (handshake secrets) or up to
    /// the server's Finished (application secrets).
    pub transcript_hash: &'a [u8],
}

/// Where a connection's secrets come from.
#[derive(Debug, Clone)]
pub enum Keys {
    /// A key log, shared by every connection of a capture (it is never changed).
    Log(Arc<KeyLog>),
    /// The key pairs behind the key shares we sent (boxed: a tracker stays small).
    Shares(Box<OwnShares>),
}

/// The private halves of the key shares a probe sent: with the server's key share they
/// give the TLS 1.3 handshake secrets (no PSK).
#[derive(Debug, Clone, Default)]
pub struct OwnShares {
    pub shares: Vec<KeyShareSecret>,
    /// The handshake secret, kept to derive the application secrets later.
    handshake_secret: Option<Vec<u8>>,
}

impl Keys {
    /// Whether these keys can open a TLS 1.2 connection: a key log can (its master
    /// secrets); our own key shares cannot (they serve the TLS 1.3 key exchange only).
    pub fn decrypt_tls12(&self) -> bool {
        matches!(self, Keys::Log(_))
    }

    pub fn shares(shares: Vec<KeyShareSecret>) -> Self {
        Keys::Shares(Box::new(OwnShares {
            shares,
            handshake_secret: None,
        }))
    }

    /// Adds the key pair of a second ClientHello (after a HelloRetryRequest). A key log
    /// has no use for it.
    pub fn add_share(&mut self, share: KeyShareSecret) {
        if let Keys::Shares(own) = self {
            own.shares.push(share);
        }
    }

    /// TLS 1.3 handshake traffic secrets.
    pub fn tls13_handshake(&mut self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        match self {
            Keys::Log(log) => Some(TrafficSecrets {
                client: log
                    .get(Label::ClientHandshakeTraffic, info.client_random)?
                    .to_vec(),
                server: log
                    .get(Label::ServerHandshakeTraffic, info.client_random)?
                    .to_vec(),
            }),
            Keys::Shares(own) => {
                let server_share = info.server_hello.ext(ext::KEY_SHARE)?;
                let shared = shared_secret(&own.shares, server_share)?;
                let (hs, secrets) =
                    schedule::tls13_handshake_secrets(info.hash, &shared, info.transcript_hash);
                own.handshake_secret = Some(hs);
                Some(secrets)
            }
        }
    }

    /// TLS 1.3 first application traffic secrets.
    pub fn tls13_application(&self, info: &HandshakeInfo<'_>) -> Option<TrafficSecrets> {
        match self {
            Keys::Log(log) => Some(TrafficSecrets {
                client: log.get(Label::ClientTraffic0, info.client_random)?.to_vec(),
                server: log.get(Label::ServerTraffic0, info.client_random)?.to_vec(),
            }),
            Keys::Shares(own) => Some(schedule::tls13_application_secrets(
                info.hash,
                own.handshake_secret.as_ref()?,
                info.transcript_hash,
            )),
        }
    }

    /// TLS ≤ 1.2 master secret (only a key log has one: we make no TLS 1.2 key exchange).
    pub fn tls12_master(&self, client_random: &[u8; 32]) -> Option<Vec<u8>> {
        match self {
            Keys::Log(log) => log
                .get(Label::ClientRandom, client_random)
                .map(<[u8]>::to_vec),
            Keys::Shares(_) => None,
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
