//! Key schedules: TLS 1.3 (RFC 8446 §7.1, HKDF-Expand-Label, Derive-Secret, Finished) and
//! the TLS 1.2 PRF (RFC 5246 §5) with its key block. HKDF is written on top of HMAC
//! (RFC 5869): it is a few lines and never fails for the lengths TLS asks for.

use crate::core::wire::registry::suite;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};
use std::sync::OnceLock;

/// The hash of a suite's PRF / HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    /// The PRF hash of a TLS 1.2 AEAD/SHA-2 suite or the HKDF hash of a TLS 1.3 suite:
    /// SHA-384 for suites named `…_SHA384`, else SHA-256 (the TLS 1.2 default PRF).
    pub fn for_suite(id: u16) -> HashAlg {
        match suite(id) {
            Some(s) if s.iana.ends_with("_SHA384") => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
        }
    }

    /// HMAC over the concatenation of `parts`.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => hmac_of::<Hmac<Sha256>>(key, parts),
            HashAlg::Sha384 => hmac_of::<Hmac<Sha384>>(key, parts),
        }
    }

    /// HKDF-Extract (RFC 5869 §2.2).
    pub fn hkdf_extract(self, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
        self.hmac(salt, &[ikm])
    }

    /// HKDF-Expand (RFC 5869 §2.3); `len` is at most 255 hash lengths in TLS.
    pub fn hkdf_expand(self, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
        self.prk(prk).hkdf_expand(info, len)
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1).
    pub fn expand_label(self, secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
        self.prk(secret).expand_label(label, context, len)
    }

    /// `secret` keyed for several expansions (see [`Prk`]).
    pub fn prk(self, secret: &[u8]) -> Prk {
        // HMAC takes keys of any length: these cannot fail.
        match self {
            HashAlg::Sha256 => Prk::Sha256(
                <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
                    .unwrap_or_else(|_| unreachable!()),
            ),
            HashAlg::Sha384 => Prk::Sha384(
                <Hmac<Sha384> as KeyInit>::new_from_slice(secret)
                    .unwrap_or_else(|_| unreachable!()),
            ),
        }
    }

    /// Derive-Secret with an already hashed transcript.
    pub fn derive_secret(self, secret: &[u8], label: &str, transcript_hash: &[u8]) -> Vec<u8> {
        self.expand_label(secret, label, transcript_hash, self.output_len())
    }

    /// TLS 1.2 P_hash / PRF (RFC 5246 §5).
    pub fn prf(self, secret: &[u8], label: &str, seed: &[u8], len: usize) -> Vec<u8> {
        let label_seed = [label.as_bytes(), seed].concat();
        let mut out = Vec::with_capacity(len);
        let mut a = self.hmac(secret, &[&label_seed]);
        while out.len() < len {
            out.extend_from_slice(&self.hmac(secret, &[&a, &label_seed]));
            a = self.hmac(secret, &[&a]);
        }
        out.truncate(len);
        out
    }
}

/// A secret keyed into HMAC once, for the HKDF-Expand-Labels made from it (a traffic
/// secret's key and iv, the handshake secret's two traffic secrets): keying hashes two
/// blocks, which each expansion from the same secret did again
/// (docs/benchmarks.md#scan-user-4).
#[derive(Clone)]
pub enum Prk {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

impl std::fmt::Debug for Prk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs and panics.
        f.write_str("Prk(..)")
    }
}

impl Prk {
    /// HMAC keyed with the secret over the concatenation of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> Vec<u8> {
            let mut m = keyed.clone();
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Prk::Sha256(m) => run(m, parts),
            Prk::Sha384(m) => run(m, parts),
        }
    }

    /// HKDF-Expand (RFC 5869 §2.3); `len` is at most 255 hash lengths in TLS.
    pub fn hkdf_expand(&self, info: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut t: Vec<u8> = Vec::new();
        let mut counter = 1u8;
        while out.len() < len {
            t = self.mac(&[&t, info, &[counter]]);
            out.extend_from_slice(&t);
            counter = counter.wrapping_add(1);
        }
        out.truncate(len);
        out
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1).
    pub fn expand_label(&self, label: &str, context: &[u8], len: usize) -> Vec<u8> {
        const PREFIX: &[u8] = b"tls13 ";
        let full_len = PREFIX.len() + label.len();
        let mut info = Vec::with_capacity(4 + full_len + context.len());
        info.extend_from_slice(&(len as u16).to_be_bytes());
        info.push(full_len as u8);
        info.extend_from_slice(PREFIX);
        info.extend_from_slice(label.as_bytes());
        info.push(context.len() as u8);
        info.extend_from_slice(context);
        self.hkdf_expand(&info, len)
    }
}

/// A transcript hash kept running: messages are added as they come, and the hash so far is
/// read without hashing the whole transcript again (a TLS 1.3 handshake reads it three
/// times, the certificate chain each time; docs/benchmarks.md#scan-user-4).
#[derive(Debug, Clone)]
pub enum TranscriptHash {
    Sha256(Sha256),
    Sha384(Sha384),
}

impl TranscriptHash {
    /// The running hash of `hash` over `transcript` so far.
    pub fn over(hash: HashAlg, transcript: &[u8]) -> TranscriptHash {
        let mut running = match hash {
            HashAlg::Sha256 => TranscriptHash::Sha256(Sha256::new()),
            HashAlg::Sha384 => TranscriptHash::Sha384(Sha384::new()),
        };
        running.update(transcript);
        running
    }

    pub fn alg(&self) -> HashAlg {
        match self {
            TranscriptHash::Sha256(_) => HashAlg::Sha256,
            TranscriptHash::Sha384(_) => HashAlg::Sha384,
        }
    }

    pub fn update(&mut self, message: &[u8]) {
        match self {
            TranscriptHash::Sha256(h) => h.update(message),
            TranscriptHash::Sha384(h) => h.update(message),
        }
    }

    /// The hash of the transcript so far followed by `also` (a message not yet added).
    pub fn hash_with(&self, also: &[u8]) -> Vec<u8> {
        let mut h = self.clone();
        h.update(also);
        match h {
            TranscriptHash::Sha256(h) => h.finalize().to_vec(),
            TranscriptHash::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

/// The TLS 1.3 handshake traffic secrets, client's and server's.
#[derive(Clone, PartialEq, Eq)]
pub struct TrafficSecrets {
    pub client: Vec<u8>,
    pub server: Vec<u8>,
}

impl std::fmt::Debug for TrafficSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs and panics.
        f.write_str("TrafficSecrets(..)")
    }
}

/// The handshake secret and the two handshake traffic secrets from an (EC)DHE shared
/// secret, without PSK (RFC 8446 §7.1). `transcript_hash` covers ClientHello…ServerHello.
pub fn tls13_handshake_secrets(
    hash: HashAlg,
    shared_secret: &[u8],
    transcript_hash: &[u8],
) -> (Vec<u8>, TrafficSecrets) {
    let handshake = hash.hkdf_extract(derived_without_psk(hash), shared_secret);
    let prk = hash.prk(&handshake);
    let len = hash.output_len();
    let secrets = TrafficSecrets {
        client: prk.expand_label("c hs traffic", transcript_hash, len),
        server: prk.expand_label("s hs traffic", transcript_hash, len),
    };
    (handshake, secrets)
}

/// Derive-Secret(HKDF-Extract(0, 0), "derived", ""): the salt of the handshake secret when
/// no PSK is used, the same for every handshake with this hash. Made once per run: two
/// HMACs and a hash that every decrypted answer made again (docs/benchmarks.md#scan-user-4).
fn derived_without_psk(hash: HashAlg) -> &'static [u8] {
    static MADE: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    once_per_hash(&MADE, hash, || {
        let zeros = vec![0u8; hash.output_len()];
        let early = hash.hkdf_extract(&zeros, &zeros);
        hash.derive_secret(&early, "derived", empty_hash(hash))
    })
}

/// The hash of no bytes (Derive-Secret's context for "derived"), made once per run.
fn empty_hash(hash: HashAlg) -> &'static [u8] {
    static MADE: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    once_per_hash(&MADE, hash, || hash.hash(&[]))
}

/// A value that depends only on the hash, made the first time it is asked for: `made`
/// holds SHA-256's, then SHA-384's.
fn once_per_hash(
    made: &'static [OnceLock<Vec<u8>>; 2],
    hash: HashAlg,
    make: impl FnOnce() -> Vec<u8>,
) -> &'static [u8] {
    let cell = match hash {
        HashAlg::Sha256 => &made[0],
        HashAlg::Sha384 => &made[1],
    };
    cell.get_or_init(make)
}

/// The application traffic secrets from the handshake secret; `transcript_hash` covers
/// ClientHello…server Finished.
pub fn tls13_application_secrets(
    hash: HashAlg,
    handshake_secret: &[u8],
    transcript_hash: &[u8],
) -> TrafficSecrets {
    let zeros = vec![0u8; hash.output_len()];
    let derived = hash.derive_secret(handshake_secret, "derived", empty_hash(hash));
    let master = hash.hkdf_extract(&derived, &zeros);
    let prk = hash.prk(&master);
    let len = hash.output_len();
    TrafficSecrets {
        client: prk.expand_label("c ap traffic", transcript_hash, len),
        server: prk.expand_label("s ap traffic", transcript_hash, len),
    }
}

/// The verify_data a TLS 1.3 Finished must carry (RFC 8446 §4.4.4).
pub fn tls13_finished(hash: HashAlg, traffic_secret: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
    let key = hash.expand_label(traffic_secret, "finished", &[], hash.output_len());
    hash.hmac(&key, &[transcript_hash])
}

/// HMAC with `M` over the concatenation of `parts`.
pub(super) fn hmac_of<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake) values.
    #[test]
    fn rfc8448_handshake_secrets() {
        let shared = h("8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d
                        35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d");
        let ch_sh = h("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8");
        let (hs, s) = tls13_handshake_secrets(HashAlg::Sha256, &shared, &ch_sh);
        assert_eq!(
            hs,
            h("1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01
               04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac")
        );
        assert_eq!(
            s.client,
            h("b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f
               3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21")
        );
        assert_eq!(
            s.server,
            h("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
               e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38")
        );
        let key = HashAlg::Sha256.expand_label(&s.server, "key", &[], 16);
        assert_eq!(key, h("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        let iv = HashAlg::Sha256.expand_label(&s.server, "iv", &[], 12);
        assert_eq!(iv, h("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// RFC 4231 test case 2 and a TLS 1.2 PRF vector (the widely circulated
    /// SHA-256 PRF test from the IETF TLS list).
    #[test]
    fn hmac_and_prf() {
        let mac = HashAlg::Sha256.hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac,
            h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        let out = HashAlg::Sha256.prf(
            &h("9bbe436ba940f017b17652849a71db35"),
            "test label",
            &h("a0ba9f936cda311827a6f796ffd5198c"),
            16,
        );
        assert_eq!(out, h("e3f229ba727be17b8d122620557cd453"));
    }
}
