//! QUIC packet protection (RFC 9001 §5, RFC 9369 §3.3 for v2): the Initial secrets every
//! observer can derive from the client's first Destination Connection ID, header protection
//! (AES-128 ECB mask over a sample of the ciphertext) and AES-128-GCM payload protection.
//! HKDF-Expand-Label (RFC 8446 §7.1) as in [`HashAlg::expand_label`], with HMAC keyed
//! once per secret and cloned for each label, and the Initial salts' HMAC states computed
//! once: a capture reader derives Initial keys for every new connection. For SHA-256 (the
//! Initial keys, and the SHA-256 suites) HMAC runs on the compression function directly
//! ([`HmacSha256`]).

use super::schedule::TrafficSecrets;
use crate::core::wire::quic::{self, LongHeader, LongKind, PacketType, QuicError};
use aes::cipher::BlockCipherEncrypt;
use aes::{Aes128, Aes256};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Nonce, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha2::block_api::compress256;
use sha2::{Digest, Sha256, Sha384};
use std::sync::LazyLock;

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// The labels a version derives packet keys with (RFC 9001 §5.1, RFC 9369 §3.3.2).
fn labels(version: u32) -> (&'static str, &'static str, &'static str) {
    if version == quic::VERSION_2 {
        ("quicv2 key", "quicv2 iv", "quicv2 hp")
    } else {
        ("quic key", "quic iv", "quic hp")
    }
}

/// HKDF-Expand-Label's info (RFC 8446 §7.1) for `label`, an empty context and an output of
/// `len` bytes, followed by HKDF-Expand's first block counter: the HMAC message of T(1),
/// written into `buf`.
fn label_info<'b>(label: &str, len: usize, buf: &'b mut [u8; 2 + 1 + 255 + 2]) -> &'b [u8] {
    const PREFIX: &[u8] = b"tls13 ";
    let full = PREFIX.len() + label.len();
    buf[..2].copy_from_slice(&(len as u16).to_be_bytes());
    buf[2] = full as u8;
    buf[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    buf[3 + PREFIX.len()..3 + full].copy_from_slice(label.as_bytes());
    // An empty context, then HKDF-Expand's block counter.
    buf[3 + full..5 + full].copy_from_slice(&[0, 1]);
    &buf[..5 + full]
}

/// The last (and only) block SHA-256 compresses for the inner hash of HKDF-Expand-Label's
/// T(1) after the HMAC key's block (RFC 8446 §7.1, empty context): the label's info, the
/// block counter and SHA-256's padding (FIPS 180-4 §5.1.1) for 64 + info bytes. It depends
/// only on the label and the output length, so every label a capture reader expands for
/// each connection is built once, at compile time.
const fn label_block(label: &[u8], len: u8) -> [u8; 64] {
    const PREFIX: &[u8] = b"tls13 ";
    let mut b = [0u8; 64];
    b[1] = len;
    b[2] = (PREFIX.len() + label.len()) as u8;
    let mut i = 0;
    while i < PREFIX.len() {
        b[3 + i] = PREFIX[i];
        i += 1;
    }
    let mut j = 0;
    while j < label.len() {
        b[3 + PREFIX.len() + j] = label[j];
        j += 1;
    }
    // An empty context, the counter 1, then the padding's 0x80.
    let info = 3 + PREFIX.len() + label.len() + 1;
    assert!(info + 1 + 1 + 8 <= 64, "one block");
    b[info] = 1;
    b[info + 1] = 0x80;
    let bits = ((64 + info + 1) * 8) as u64;
    let be = bits.to_be_bytes();
    let mut k = 0;
    while k < 8 {
        b[56 + k] = be[k];
        k += 1;
    }
    b
}

/// The label blocks of one version's packet keys: "quic key" (or "quicv2 key") for a key of
/// one length, "quic iv", "quic hp" for a header protection key of the same length.
struct KeyLabels {
    key: [u8; 64],
    iv: [u8; 64],
    hp: [u8; 64],
}

impl KeyLabels {
    const fn new(v2: bool, key_len: u8) -> KeyLabels {
        let (k, iv, hp): (&[u8], &[u8], &[u8]) = if v2 {
            (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
        } else {
            (b"quic key", b"quic iv", b"quic hp")
        };
        KeyLabels {
            key: label_block(k, key_len),
            iv: label_block(iv, 12),
            hp: label_block(hp, key_len),
        }
    }

    /// The blocks of `version` (v2's labels for QUIC v2, v1's for every other) for keys of
    /// `key_len` bytes (16 or 32).
    fn of(version: u32, key_len: usize) -> &'static KeyLabels {
        const V1_16: KeyLabels = KeyLabels::new(false, 16);
        const V1_32: KeyLabels = KeyLabels::new(false, 32);
        const V2_16: KeyLabels = KeyLabels::new(true, 16);
        const V2_32: KeyLabels = KeyLabels::new(true, 32);
        match (version == quic::VERSION_2, key_len == 16) {
            (false, true) => &V1_16,
            (false, false) => &V1_32,
            (true, true) => &V2_16,
            (true, false) => &V2_32,
        }
    }
}

/// "client in" and "server in" (RFC 9001 §5.2; the same labels in v2), 32 bytes each.
const CLIENT_IN: [u8; 64] = label_block(b"client in", 32);
const SERVER_IN: [u8; 64] = label_block(b"server in", 32);

/// HKDF-Expand-Label (RFC 8446 §7.1) filling `out`, at most one hash long (one HMAC
/// block: T(1)), from `keyed`, an HMAC already keyed with the secret. Into a buffer of the
/// caller's, not a new vector: a capture reader derives keys for every new connection.
fn expand_short<M: Mac + Clone>(keyed: &M, label: &str, out: &mut [u8]) {
    let mut m = keyed.clone();
    m.update(label_info(label, out.len(), &mut [0; 260]));
    let t = m.finalize().into_bytes();
    out.copy_from_slice(&t[..out.len()]);
}

/// The longest packet or header protection key (AES-256, ChaCha20).
const MAX_KEY: usize = 32;

/// A packet key of `key_len` bytes (its first `key_len` bytes), the IV and the header
/// protection key (as long) from a traffic secret, by `expand` (HKDF-Expand-Label with an
/// HMAC keyed with the secret once for the three labels).
fn key_material(
    expand: impl Fn(&str, &mut [u8]),
    (key_label, iv_label, hp_label): (&str, &str, &str),
    key_len: usize,
) -> Option<([u8; MAX_KEY], [u8; 12], [u8; MAX_KEY])> {
    let (mut key, mut iv, mut hp) = ([0u8; MAX_KEY], [0u8; 12], [0u8; MAX_KEY]);
    expand(key_label, key.get_mut(..key_len)?);
    expand(iv_label, &mut iv);
    expand(hp_label, hp.get_mut(..key_len)?);
    Some((key, iv, hp))
}

/// HMAC-SHA256 keyed with each version's Initial salt, the HKDF-Extract of every
/// connection's Initial secret (RFC 9001 §5.2).
static SALT_V1_HMAC: LazyLock<HmacSha256> = LazyLock::new(|| HmacSha256::new(&SALT_V1));
static SALT_V2_HMAC: LazyLock<HmacSha256> = LazyLock::new(|| HmacSha256::new(&SALT_V2));

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// HMAC-SHA256 (RFC 2104) on SHA-256's compression function: the key's inner and outer
/// states computed once, and each short message (a Connection ID, an HKDF label) finished
/// with one compression on each side, without the generic hasher's buffering and state
/// copies. A capture reader runs it 24 times for every new QUIC connection.
#[derive(Clone, Copy)]
struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacSha256 {
    fn new(key: &[u8]) -> HmacSha256 {
        // A key longer than the block is hashed first (RFC 2104 §2).
        let hashed;
        let key = if key.len() > 64 {
            hashed = Sha256::digest(key);
            &hashed[..]
        } else {
            key
        };
        let (mut ipad, mut opad) = ([0x36u8; 64], [0x5cu8; 64]);
        for (i, b) in key.iter().enumerate() {
            ipad[i] ^= b;
            opad[i] ^= b;
        }
        let (mut inner, mut outer) = (SHA256_H0, SHA256_H0);
        compress256(&mut inner, &[ipad]);
        compress256(&mut outer, &[opad]);
        HmacSha256 { inner, outer }
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = sha256_finish(self.inner, message);
        sha256_finish(self.outer, &inner)
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context filling `out`, at most one
    /// hash long (T(1)), this HMAC keyed with the secret.
    #[cfg(test)]
    fn expand(&self, label: &str, out: &mut [u8]) {
        let t = self.mac(label_info(label, out.len(), &mut [0; 260]));
        out.copy_from_slice(&t[..out.len()]);
    }

    /// HKDF-Expand-Label's T(1) for a label whose inner block is `block` ([`label_block`]):
    /// two compressions, no message to copy or pad.
    fn expand_block(&self, block: &[u8; 64]) -> [u8; 32] {
        let mut inner = self.inner;
        compress256(&mut inner, std::slice::from_ref(block));
        // The outer hash's one block: the inner hash, then the padding for 64 + 32 bytes.
        let mut outer_block = [0u8; 64];
        for (o, w) in outer_block.chunks_exact_mut(4).zip(inner) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        outer_block[32] = 0x80;
        outer_block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        let mut outer = self.outer;
        compress256(&mut outer, &[outer_block]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(outer) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// A packet key of `key_len` bytes, the IV and the header protection key from this
    /// HMAC keyed with a traffic secret, with `labels`' blocks.
    fn key_material(
        &self,
        labels: &KeyLabels,
        key_len: usize,
    ) -> ([u8; MAX_KEY], [u8; 12], [u8; MAX_KEY]) {
        let (mut key, mut iv, mut hp) = ([0u8; MAX_KEY], [0u8; 12], [0u8; MAX_KEY]);
        key[..key_len].copy_from_slice(&self.expand_block(&labels.key)[..key_len]);
        iv.copy_from_slice(&self.expand_block(&labels.iv)[..12]);
        hp[..key_len].copy_from_slice(&self.expand_block(&labels.hp)[..key_len]);
        (key, iv, hp)
    }
}

/// The SHA-256 hash of one key block (already in `state`) followed by `message`.
fn sha256_finish(mut state: [u32; 8], message: &[u8]) -> [u8; 32] {
    let mut blocks = message.chunks_exact(64);
    for block in &mut blocks {
        compress256(&mut state, &[block.try_into().expect("64 bytes")]);
    }
    let rest = blocks.remainder();
    let bits = (64 + message.len() as u64) * 8;
    if rest.len() < 56 {
        // The padding fits in the rest's block (every Connection ID and inner hash).
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        last[rest.len()] = 0x80;
        last[56..].copy_from_slice(&bits.to_be_bytes());
        compress256(&mut state, &[last]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        return out;
    }
    // The padding: 0x80, zeros, and the length in bits of everything hashed, key block
    // included; in a second block when the rest leaves no room for it.
    let mut last = [0u8; 128];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] = 0x80;
    let end = 128;
    last[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    for block in last[..end].chunks_exact(64) {
        compress256(&mut state, &[block.try_into().expect("64 bytes")]);
    }
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The AEAD and header protection of a packet number space's keys: AES-128-GCM for
/// Initial packets (and TLS_AES_128_GCM_SHA256), AES-256-GCM for TLS_AES_256_GCM_SHA384,
/// ChaCha20-Poly1305 for TLS_CHACHA20_POLY1305_SHA256 (its header protection is the
/// ChaCha20 key stream, RFC 9001 §5.4.4). Each AES pair in one allocation: a capture
/// reader sets up two of them for every QUIC connection.
#[derive(Clone)]
enum PacketAead {
    Aes128(Box<(Aes128Gcm, Aes128)>),
    Aes256(Box<(Aes256Gcm, Aes256)>),
    ChaCha(Box<ChaCha20Poly1305>, [u8; 32]),
}

/// The keys protecting one direction's packets of one packet number space.
#[derive(Clone)]
pub struct PacketKeys {
    /// The packet key and the header protection key, `key_len` bytes of each.
    key: [u8; MAX_KEY],
    hp: [u8; MAX_KEY],
    key_len: u8,
    pub iv: [u8; 12],
    aead: PacketAead,
}

impl std::fmt::Debug for PacketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketKeys(..)")
    }
}

/// TLS 1.3 suites whose packet protection is written here (RFC 9001 §5.3, §5.4.3).
pub const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
pub const TLS_AES_256_GCM_SHA384: u16 = 0x1302;
pub const TLS_CHACHA20_POLY1305_SHA256: u16 = 0x1303;

impl PacketKeys {
    /// The packet keys from a traffic secret (an Initial secret, or a TLS 1.3
    /// handshake/application traffic secret of a SHA-256 AES-128-GCM suite).
    pub fn from_secret(version: u32, secret: &[u8]) -> PacketKeys {
        Self::for_suite(version, TLS_AES_128_GCM_SHA256, secret)
            .expect("AES-128-GCM is always available")
    }

    /// The packet keys of TLS 1.3 suite `suite` from one of its traffic secrets (RFC 9001
    /// §5.1: "quic key", "quic iv", "quic hp", with the suite's hash); `None` for a suite
    /// whose packet protection is not written here (the CCM suites).
    pub fn for_suite(version: u32, suite: u16, secret: &[u8]) -> Option<PacketKeys> {
        let (key, iv, hp) = match suite {
            TLS_AES_128_GCM_SHA256 | TLS_CHACHA20_POLY1305_SHA256 => {
                let keyed = HmacSha256::new(secret);
                let key_len = if suite == TLS_AES_128_GCM_SHA256 {
                    16
                } else {
                    32
                };
                keyed.key_material(KeyLabels::of(version, key_len), key_len)
            }
            TLS_AES_256_GCM_SHA384 => {
                let keyed = <Hmac<Sha384> as hmac::KeyInit>::new_from_slice(secret).ok()?;
                key_material(|l, out| expand_short(&keyed, l, out), labels(version), 32)?
            }
            _ => return None,
        };
        let (k, h) = (&key[..16], &hp[..16]);
        let aead = match suite {
            TLS_AES_128_GCM_SHA256 => PacketAead::Aes128(Box::new((
                Aes128Gcm::new_from_slice(k).ok()?,
                Aes128::new_from_slice(h).ok()?,
            ))),
            TLS_AES_256_GCM_SHA384 => PacketAead::Aes256(Box::new((
                Aes256Gcm::new_from_slice(&key).ok()?,
                Aes256::new_from_slice(&hp).ok()?,
            ))),
            _ => PacketAead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(&key).ok()?), hp),
        };
        let key_len = if suite == TLS_AES_128_GCM_SHA256 {
            16
        } else {
            32
        };
        Some(PacketKeys {
            key,
            hp,
            key_len,
            iv,
            aead,
        })
    }

    /// The packet key (RFC 9001 §5.1 "quic key").
    pub fn key(&self) -> &[u8] {
        &self.key[..usize::from(self.key_len)]
    }

    /// The header protection key ("quic hp").
    pub fn hp(&self) -> &[u8] {
        &self.hp[..usize::from(self.key_len)]
    }

    /// The 5-byte header protection mask for a 16-byte sample of the ciphertext.
    pub fn mask(&self, sample: &[u8; 16]) -> [u8; 5] {
        let mut block = aes::Block::from(*sample);
        match &self.aead {
            PacketAead::Aes128(pair) => pair.1.encrypt_block(&mut block),
            PacketAead::Aes256(pair) => pair.1.encrypt_block(&mut block),
            PacketAead::ChaCha(_, hp) => {
                // The sample's first 4 bytes are the block counter (little-endian), the
                // other 12 the nonce; the mask is the key stream over 5 zero bytes.
                let counter = u32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                let nonce: [u8; 12] = sample[4..].try_into().expect("12 bytes");
                let mut mask = [0u8; 5];
                let mut cipher = ChaCha20::new(&(*hp).into(), &nonce.into());
                cipher.seek(u64::from(counter) * 64);
                cipher.apply_keystream(&mut mask);
                return mask;
            }
        }
        [block[0], block[1], block[2], block[3], block[4]]
    }

    fn nonce(&self, pn: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// AEAD open of a payload with packet number `pn` and the unprotected header as
    /// associated data.
    pub fn open(&self, pn: u64, header: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let nonce = self.nonce(pn);
        let payload = Payload {
            msg: ciphertext,
            aad: header,
        };
        match &self.aead {
            PacketAead::Aes128(pair) => pair.0.decrypt(&Nonce::<Aes128Gcm>::from(nonce), payload),
            PacketAead::Aes256(pair) => pair.0.decrypt(&Nonce::<Aes256Gcm>::from(nonce), payload),
            PacketAead::ChaCha(a, _) => a.decrypt(&Nonce::<ChaCha20Poly1305>::from(nonce), payload),
        }
        .ok()
    }
}

impl PacketKeys {
    /// AEAD open of `ciphertext` (tag last) into `out` (its plaintext replaces what `out`
    /// held), without an intermediate copy; false when it does not authenticate.
    pub fn open_into(&self, pn: u64, header: &[u8], ciphertext: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(split) = ciphertext.len().checked_sub(16) else {
            return false;
        };
        let (msg, tag) = ciphertext.split_at(split);
        out.clear();
        out.resize(split, 0);
        let nonce = self.nonce(pn);
        let Ok(buf) = InOutBuf::new(msg, out) else {
            return false;
        };
        let tag: &[u8; 16] = tag.try_into().expect("16 bytes");
        match &self.aead {
            PacketAead::Aes128(pair) => pair
                .0
                .decrypt_inout_detached(&nonce.into(), header, buf, &(*tag).into())
                .is_ok(),
            PacketAead::Aes256(pair) => pair
                .0
                .decrypt_inout_detached(&nonce.into(), header, buf, &(*tag).into())
                .is_ok(),
            PacketAead::ChaCha(a, _) => a
                .decrypt_inout_detached(&nonce.into(), header, buf, &(*tag).into())
                .is_ok(),
        }
    }

    /// AEAD seal: the inverse of [`PacketKeys::open`].
    pub fn seal(&self, pn: u64, header: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = self.nonce(pn);
        let payload = Payload {
            msg: plaintext,
            aad: header,
        };
        match &self.aead {
            PacketAead::Aes128(pair) => pair.0.encrypt(&Nonce::<Aes128Gcm>::from(nonce), payload),
            PacketAead::Aes256(pair) => pair.0.encrypt(&Nonce::<Aes256Gcm>::from(nonce), payload),
            PacketAead::ChaCha(a, _) => a.encrypt(&Nonce::<ChaCha20Poly1305>::from(nonce), payload),
        }
        .expect("the AEADs seal any length a QUIC packet has")
    }
}

/// A protected Initial or Handshake packet of `version` carrying `frames` (padded with
/// PADDING to the 4 bytes header protection's sample needs) under packet number `pn`,
/// written with a 2-byte packet number: what a QUIC endpoint sends, and what tests build
/// captures from.
#[allow(clippy::too_many_arguments)]
pub fn protect_long(
    version: u32,
    packet_type: PacketType,
    keys: &PacketKeys,
    dcid: &[u8],
    scid: &[u8],
    token: &[u8],
    pn: u64,
    frames: &[u8],
) -> Vec<u8> {
    const PN_LEN: usize = 2;
    let v1_bits: u8 = match packet_type {
        PacketType::Initial => 0,
        PacketType::ZeroRtt => 1,
        PacketType::Handshake => 2,
        PacketType::Retry => 3,
    };
    let bits = if version == quic::VERSION_2 {
        (v1_bits + 1) & 3
    } else {
        v1_bits
    };
    let mut payload = frames.to_vec();
    payload.resize(payload.len().max(4), 0);
    let mut packet = vec![0xc0 | bits << 4 | (PN_LEN as u8 - 1)];
    packet.extend_from_slice(&version.to_be_bytes());
    packet.push(dcid.len() as u8);
    packet.extend_from_slice(dcid);
    packet.push(scid.len() as u8);
    packet.extend_from_slice(scid);
    if packet_type == PacketType::Initial {
        put_varint(&mut packet, token.len() as u64);
        packet.extend_from_slice(token);
    }
    put_varint(&mut packet, (PN_LEN + payload.len() + 16) as u64);
    let pn_offset = packet.len();
    packet.extend_from_slice(&(pn as u16).to_be_bytes());
    let sealed = keys.seal(pn, &packet, &payload);
    packet.extend_from_slice(&sealed);
    let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20]
        .try_into()
        .expect("16 bytes");
    let mask = keys.mask(&sample);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..PN_LEN {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

pub use crate::core::wire::quic::put_varint;

/// RFC 9001 §5.8 (v1) and RFC 9369 §3.3.3 (v2): the fixed key and nonce of the Retry
/// integrity tag.
fn retry_key_nonce(version: u32) -> ([u8; 16], [u8; 12]) {
    if version == quic::VERSION_2 {
        (
            [
                0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c,
                0xcc, 0x92,
            ],
            [
                0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
            ],
        )
    } else {
        (
            [
                0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68,
                0xc8, 0x4e,
            ],
            [
                0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
            ],
        )
    }
}

/// The Retry integrity tag for a Retry packet (`without_tag`: the packet up to its tag),
/// answering a client whose first Destination Connection ID was `original_dcid`.
pub fn retry_integrity_tag(version: u32, original_dcid: &[u8], without_tag: &[u8]) -> [u8; 16] {
    let (key, nonce) = retry_key_nonce(version);
    let mut pseudo = Vec::with_capacity(1 + original_dcid.len() + without_tag.len());
    pseudo.push(original_dcid.len() as u8);
    pseudo.extend_from_slice(original_dcid);
    pseudo.extend_from_slice(without_tag);
    let tag = Aes128Gcm::new(&key.into())
        .encrypt(
            &Nonce::<Aes128Gcm>::from(nonce),
            Payload {
                msg: &[],
                aad: &pseudo,
            },
        )
        .expect("an empty plaintext seals");
    let mut out = [0u8; 16];
    out.copy_from_slice(&tag);
    out
}

/// A whole Retry packet carries the tag its integrity key gives (RFC 9001 §5.8): it was
/// made by a server that saw our Initial.
pub fn retry_integrity_ok(version: u32, original_dcid: &[u8], retry: &[u8]) -> bool {
    let Some(split) = retry.len().checked_sub(16) else {
        return false;
    };
    retry_integrity_tag(version, original_dcid, &retry[..split])[..] == retry[split..]
}

/// Both directions' Handshake packet keys of a connection.
#[derive(Debug, Clone)]
pub struct HandshakeKeys {
    pub client: PacketKeys,
    pub server: PacketKeys,
}

/// The Handshake packet keys of `version` from the TLS 1.3 handshake traffic secrets of
/// `suite` (RFC 9001 §5.1; "quicv2 …" labels for v2, RFC 9369 §3.3.2): what a QUIC client
/// derives from its own key share (`probe --quic`) and a capture reader from a key log's
/// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` / `SERVER_HANDSHAKE_TRAFFIC_SECRET` (`pcap --keylog`).
/// `None` for a suite whose packet protection is not written here (the CCM suites).
pub fn handshake_keys(version: u32, suite: u16, secrets: &TrafficSecrets) -> Option<HandshakeKeys> {
    Some(HandshakeKeys {
        client: PacketKeys::for_suite(version, suite, &secrets.client)?,
        server: PacketKeys::for_suite(version, suite, &secrets.server)?,
    })
}

/// Both directions' Initial keys of a connection.
#[derive(Debug, Clone)]
pub struct InitialKeys {
    pub client: PacketKeys,
    pub server: PacketKeys,
}

/// The Initial secrets of `version` from the client's first Destination Connection ID
/// (RFC 9001 §5.2): `None` for a version we do not know.
pub fn initial_keys(version: u32, client_dcid: &[u8]) -> Option<InitialKeys> {
    let salt = match version {
        quic::VERSION_1 => &*SALT_V1_HMAC,
        quic::VERSION_2 => &*SALT_V2_HMAC,
        _ => return None,
    };
    let (client, server) = initial_secrets(salt, client_dcid);
    Some(InitialKeys {
        client: PacketKeys::from_secret(version, &client),
        server: PacketKeys::from_secret(version, &server),
    })
}

/// One connection's Initial keys with the server's derived when first asked for: a capture
/// reader needs them only for a client Initial that was answered. Both can be released
/// ([`LazyInitialKeys::release`]) and are derived again from their secrets if asked for.
#[derive(Debug, Clone)]
pub struct LazyInitialKeys {
    version: u32,
    client_secret: [u8; 32],
    server_secret: [u8; 32],
    client: Option<PacketKeys>,
    server: Option<PacketKeys>,
}

impl LazyInitialKeys {
    /// As [`initial_keys`]: `None` for a version we do not know.
    pub fn new(version: u32, client_dcid: &[u8]) -> Option<LazyInitialKeys> {
        let salt = match version {
            quic::VERSION_1 => &*SALT_V1_HMAC,
            quic::VERSION_2 => &*SALT_V2_HMAC,
            _ => return None,
        };
        let (client_secret, server_secret) = initial_secrets(salt, client_dcid);
        Some(LazyInitialKeys {
            version,
            client_secret,
            server_secret,
            client: Some(PacketKeys::from_secret(version, &client_secret)),
            server: None,
        })
    }

    /// The client's Initial packet keys (derived again after a [`LazyInitialKeys::release`]).
    pub fn client(&mut self) -> &PacketKeys {
        self.client
            .get_or_insert_with(|| PacketKeys::from_secret(self.version, &self.client_secret))
    }

    /// The server's Initial packet keys, derived on the first call.
    pub fn server(&mut self) -> &PacketKeys {
        self.server
            .get_or_insert_with(|| PacketKeys::from_secret(self.version, &self.server_secret))
    }

    /// Drops both directions' packet keys, whose cipher states are 1.7 kB of heap; the
    /// secrets stay, so the next packet asks for them to be derived again (≈ 1 µs). A
    /// capture reader releases them when a connection goes quiet: the Initial packets are
    /// the handshake's first round trip, and a connection that never decides (its close
    /// was encrypted) is held to the end of the capture.
    pub fn release(&mut self) {
        self.client = None;
        self.server = None;
    }
}

/// The client's and the server's Initial secrets: HKDF-Extract with the salt's keyed HMAC,
/// then "client in" and "server in" from the one keyed Initial secret.
fn initial_secrets(salt: &HmacSha256, client_dcid: &[u8]) -> ([u8; 32], [u8; 32]) {
    let keyed = HmacSha256::new(&salt.mac(client_dcid));
    (
        keyed.expand_block(&CLIENT_IN),
        keyed.expand_block(&SERVER_IN),
    )
}

/// A decrypted long-header packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPacket {
    pub packet_type: PacketType,
    pub packet_number: u64,
    /// The frames, in plaintext.
    pub payload: Vec<u8>,
}

/// Removes header protection from a protected long-header packet and decrypts it.
/// `largest` is the largest packet number decrypted so far in its space and direction.
pub fn open_long(
    header: &LongHeader<'_>,
    keys: &PacketKeys,
    largest: Option<u64>,
) -> Result<OpenedPacket, QuicError> {
    let mut payload = Vec::new();
    let (packet_type, packet_number) = open_long_into(header, keys, largest, &mut payload)?;
    Ok(OpenedPacket {
        packet_type,
        packet_number,
        payload,
    })
}

/// [`open_long`] into a buffer the caller reuses: the plaintext frames replace what
/// `payload` held; returns the packet's type and full packet number.
pub fn open_long_into(
    header: &LongHeader<'_>,
    keys: &PacketKeys,
    largest: Option<u64>,
    payload: &mut Vec<u8>,
) -> Result<(PacketType, u64), QuicError> {
    let LongKind::Protected {
        packet_type,
        pn_offset,
        packet,
        ..
    } = header.kind
    else {
        return Err(QuicError("not a protected packet"));
    };
    // The sample starts 4 bytes after the packet number's start, whatever its length.
    let sample: &[u8; 16] = packet
        .get(pn_offset + 4..pn_offset + 20)
        .and_then(|s| s.try_into().ok())
        .ok_or(QuicError("packet too short for a header protection sample"))?;
    let mask = keys.mask(sample);
    let first = header.first ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    // The unprotected header, the associated data: on the stack unless a long token.
    let head_len = pn_offset + pn_len;
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let head: &mut [u8] = if head_len <= stack.len() {
        &mut stack[..head_len]
    } else {
        heap.resize(head_len, 0);
        &mut heap
    };
    head.copy_from_slice(
        packet
            .get(..head_len)
            .ok_or(QuicError("packet too short"))?,
    );
    head[0] = first;
    let mut truncated = 0u64;
    for i in 0..pn_len {
        head[pn_offset + i] ^= mask[1 + i];
        truncated = truncated << 8 | u64::from(head[pn_offset + i]);
    }
    let pn = quic::decode_packet_number(largest, truncated, pn_len);
    if !keys.open_into(pn, head, &packet[head_len..], payload) {
        return Err(QuicError("payload does not decrypt"));
    }
    Ok((packet_type, pn))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 Appendix A.3: the server's Initial packet, protected.
    const RFC9001_A3_SERVER_INITIAL: &str =
        "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
         5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
         dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
         022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
         2158407dd074ee";

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// The Initial keys of DCID 0x8394c8f03e515708 (the RFCs' example) for `version`:
    /// client key, IV, header protection key, then the server's.
    fn assert_initial_keys(version: u32, expected: [&str; 6]) {
        let k = initial_keys(version, &h("8394c8f03e515708")).unwrap();
        let got = [
            k.client.key().to_vec(),
            k.client.iv.to_vec(),
            k.client.hp().to_vec(),
            k.server.key().to_vec(),
            k.server.iv.to_vec(),
            k.server.hp().to_vec(),
        ];
        assert_eq!(got, expected.map(h));
    }

    /// RFC 9001 Appendix A.1: keys from DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_a1_initial_keys() {
        assert_initial_keys(
            quic::VERSION_1,
            [
                "1f369613dd76d5467730efcbe3b1a22d",
                "fa044b2f42a3fd3b46fb255c",
                "9f50449e04a0e810283a1e9933adedd2",
                "cf3a5331653c364c88f0f379b6067e37",
                "0ac1493ca1905853b0bba03e",
                "c206b8d9b9f0f37644430b490eeaa314",
            ],
        );
    }

    /// The lazily derived server keys are the RFC's too.
    #[test]
    fn lazy_initial_keys_equal_the_eager_ones() {
        let mut lazy = LazyInitialKeys::new(quic::VERSION_1, &h("8394c8f03e515708")).unwrap();
        assert_eq!(
            lazy.client().key().to_vec(),
            h("1f369613dd76d5467730efcbe3b1a22d")
        );
        assert_eq!(
            lazy.server().key().to_vec(),
            h("cf3a5331653c364c88f0f379b6067e37")
        );
        assert_eq!(
            lazy.server().hp().to_vec(),
            h("c206b8d9b9f0f37644430b490eeaa314")
        );
        let eager = initial_keys(quic::VERSION_2, &h("8394c8f03e515708")).unwrap();
        let mut lazy = LazyInitialKeys::new(quic::VERSION_2, &h("8394c8f03e515708")).unwrap();
        assert_eq!(lazy.server().iv, eager.server.iv);
        assert_eq!(lazy.client().hp(), eager.client.hp());
        assert!(LazyInitialKeys::new(0x1a2a_3a4a, &[1, 2, 3]).is_none());
    }

    /// Released keys are derived again, the same, and open the same packet: RFC 9001's
    /// server Initial (Appendix A.3) before and after a release.
    #[test]
    fn released_initial_keys_are_derived_again() {
        let packet = h(RFC9001_A3_SERVER_INITIAL);
        let (header, _) = quic::parse_long(&packet).unwrap().unwrap();
        let mut lazy = LazyInitialKeys::new(quic::VERSION_1, &h("8394c8f03e515708")).unwrap();
        let client = (lazy.client().key().to_vec(), lazy.client().iv);
        let opened = open_long(&header, lazy.server(), None).unwrap();
        lazy.release();
        assert!(lazy.client.is_none() && lazy.server.is_none());
        assert_eq!(open_long(&header, lazy.server(), None).unwrap(), opened);
        assert_eq!((lazy.client().key().to_vec(), lazy.client().iv), client);
        assert_eq!(client.0, h("1f369613dd76d5467730efcbe3b1a22d"));
    }

    /// RFC 9001 Appendix A.2: the client Initial's header protection sample and mask.
    #[test]
    fn rfc9001_a2_header_protection_mask() {
        let k = initial_keys(quic::VERSION_1, &h("8394c8f03e515708")).unwrap();
        let sample: [u8; 16] = h("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(k.client.mask(&sample).to_vec(), h("437b9aec36"));
    }

    /// RFC 9001 Appendix A.3: the server Initial, protected, decrypts to its ACK and the
    /// ServerHello CRYPTO frame.
    #[test]
    fn rfc9001_a3_server_initial_decrypts() {
        let packet = h(RFC9001_A3_SERVER_INITIAL);
        let k = initial_keys(quic::VERSION_1, &h("8394c8f03e515708")).unwrap();
        let (header, len) = quic::parse_long(&packet).unwrap().unwrap();
        assert_eq!(len, packet.len());
        let opened = open_long(&header, &k.server, None).unwrap();
        assert_eq!(opened.packet_type, PacketType::Initial);
        assert_eq!(opened.packet_number, 1);
        assert_eq!(
            opened.payload,
            h(
                "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
               88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
               0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00
               020304"
            )
        );
        // Sealing the same payload again gives the RFC's bytes.
        let resealed = protect_long(
            quic::VERSION_1,
            PacketType::Initial,
            &k.server,
            &[],
            &h("f067a5502a4262b5"),
            &[],
            1,
            &opened.payload,
        );
        assert_eq!(resealed, packet);
        // Any changed byte fails authentication.
        let mut bad = packet.clone();
        bad[30] ^= 1;
        let (header, _) = quic::parse_long(&bad).unwrap().unwrap();
        assert!(open_long(&header, &k.server, None).is_err());
    }

    /// RFC 9369 Appendix A.1: v2 keys from the same DCID.
    #[test]
    fn rfc9369_a1_v2_initial_keys() {
        assert_initial_keys(
            quic::VERSION_2,
            [
                "8b1a0bc121284290a29e0971b5cd045d",
                "91f73e2351d8fa91660e909f",
                "45b95e15235d6f45a6b19cbcb0294ba9",
                "82db637861d55e1d011f19ea71d5d2a7",
                "dd13c276499c0249d3310652",
                "edf6d05c83121201b436e16877593c3a",
            ],
        );
    }

    /// RFC 9369 Appendix A.3: the v2 server Initial decrypts to the same frames as v1's.
    #[test]
    fn rfc9369_a3_v2_server_initial_decrypts() {
        let packet = h(
            "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
             baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
             f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
             c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
             4bed8521e2e140",
        );
        let k = initial_keys(quic::VERSION_2, &h("8394c8f03e515708")).unwrap();
        let (header, _) = quic::parse_long(&packet).unwrap().unwrap();
        let opened = open_long(&header, &k.server, None).unwrap();
        assert_eq!(opened.packet_type, PacketType::Initial);
        assert_eq!(opened.packet_number, 1);
        assert!(
            opened
                .payload
                .starts_with(&h("02000000000600405a020000560303"))
        );
    }

    /// RFC 9001 Appendix A.4 and RFC 9369 Appendix A.4: the Retry packets' integrity tags.
    #[test]
    fn retry_integrity_tags_as_the_rfcs() {
        let odcid = h("8394c8f03e515708");
        let v1 = h("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
        assert!(retry_integrity_ok(quic::VERSION_1, &odcid, &v1));
        let v2 = h("cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6");
        assert!(retry_integrity_ok(quic::VERSION_2, &odcid, &v2));
        let mut bad = v1.clone();
        bad[10] ^= 1;
        assert!(!retry_integrity_ok(quic::VERSION_1, &odcid, &bad));
        assert!(!retry_integrity_ok(quic::VERSION_1, &h("00"), &v1));
        assert!(!retry_integrity_ok(quic::VERSION_1, &odcid, &v1[..10]));
    }

    /// A Handshake packet sealed with AES-256-GCM keys (TLS_AES_256_GCM_SHA384's) opens
    /// with the same keys, and not with AES-128's from the same secret.
    #[test]
    fn aes_256_packet_keys_round_trip() {
        let secret = [7u8; 48];
        let k = PacketKeys::for_suite(quic::VERSION_1, TLS_AES_256_GCM_SHA384, &secret).unwrap();
        assert_eq!(k.key().len(), 32);
        let p = protect_long(
            quic::VERSION_1,
            PacketType::Handshake,
            &k,
            b"dcid",
            b"scid",
            &[],
            3,
            b"\x06\x00\x05hello",
        );
        let (header, _) = quic::parse_long(&p).unwrap().unwrap();
        let opened = open_long(&header, &k, Some(2)).unwrap();
        assert_eq!(opened.packet_number, 3);
        assert_eq!(opened.payload, b"\x06\x00\x05hello");
        let k128 = PacketKeys::for_suite(quic::VERSION_1, TLS_AES_128_GCM_SHA256, &secret).unwrap();
        assert!(open_long(&header, &k128, Some(2)).is_err());
        assert!(PacketKeys::for_suite(quic::VERSION_1, 0x1304, &secret).is_none());
    }

    /// RFC 9001 Appendix A.5: ChaCha20-Poly1305 keys, header protection mask and the
    /// short-header packet carrying one PING.
    #[test]
    fn rfc9001_a5_chacha20_poly1305() {
        let secret = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let k =
            PacketKeys::for_suite(quic::VERSION_1, TLS_CHACHA20_POLY1305_SHA256, &secret).unwrap();
        assert_eq!(
            k.key(),
            h("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8")
        );
        assert_eq!(k.iv.to_vec(), h("e0459b3474bdd0e44a41c144"));
        assert_eq!(
            k.hp(),
            h("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
        );
        let sample: [u8; 16] = h("5e5cd55c41f69080575d7999c25a5bfb").try_into().unwrap();
        assert_eq!(k.mask(&sample).to_vec(), h("aefefe7d03"));
        let sealed = k.seal(654_360_564, &h("4200bff4"), &[0x01]);
        assert_eq!(sealed, h("655e5cd55c41f69080575d7999c25a5bfb"));
        assert_eq!(
            k.open(654_360_564, &h("4200bff4"), &sealed),
            Some(vec![0x01])
        );
    }

    /// The HMAC on the compression function equals the hmac crate's, for keys and messages
    /// around the block and padding boundaries, and so does its HKDF-Expand-Label.
    #[test]
    fn hmac_sha256_as_the_hmac_crate() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for key_len in [0, 1, 20, 32, 55, 56, 63, 64, 65, 130] {
            let key = &bytes[..key_len];
            let ours = HmacSha256::new(key);
            let theirs = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap();
            for msg_len in [0, 1, 8, 20, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
                let msg = &bytes[200 - msg_len..];
                let mut m = theirs.clone();
                m.update(msg);
                assert_eq!(ours.mac(msg)[..], m.finalize().into_bytes()[..]);
            }
            for (label, len) in [("quic key", 16), ("quic iv", 12), ("client in", 32)] {
                let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
                ours.expand(label, &mut a[..len]);
                expand_short(&theirs, label, &mut b[..len]);
                assert_eq!(a, b, "{key_len} {label}");
                // The compile-time label block gives the same T(1).
                let t = ours.expand_block(&label_block(label.as_bytes(), len as u8));
                assert_eq!(t[..len], a[..len], "{key_len} {label} block");
            }
            for (v2, key_len) in [(false, 16), (false, 32), (true, 16), (true, 32)] {
                let blocks = KeyLabels::new(v2, key_len);
                let (k, i, h) = if v2 {
                    ("quicv2 key", "quicv2 iv", "quicv2 hp")
                } else {
                    ("quic key", "quic iv", "quic hp")
                };
                let n = usize::from(key_len);
                let (key, iv, hp) = ours.key_material(&blocks, n);
                let mut want = [0u8; 32];
                expand_short(&theirs, k, &mut want[..n]);
                assert_eq!(key[..n], want[..n]);
                expand_short(&theirs, i, &mut want[..12]);
                assert_eq!(iv[..], want[..12]);
                expand_short(&theirs, h, &mut want[..n]);
                assert_eq!(hp[..n], want[..n]);
            }
        }
    }

    #[test]
    fn unknown_version_has_no_initial_keys() {
        assert!(initial_keys(0xff00_001d, b"x").is_none());
    }
}
