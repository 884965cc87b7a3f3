//! Opening protected records: TLS 1.3 AEAD records (all five suites) and TLS 1.2 records
//! (AES-GCM with its explicit nonce, ChaCha20-Poly1305, AES-CBC with HMAC, MAC-then-encrypt
//! or encrypt_then_mac). One [`RecordOpener`] per direction keeps the sequence number.

use super::schedule::{HashAlg, hmac_of};
use crate::core::wire::registry::suite;
use aes::cipher::BlockCipherDecrypt;
use aes::{Aes128, Aes256};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Nonce, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::Ccm;
use ccm::consts::{U8, U12, U16};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Sha256, Sha384};

type Aes128Ccm = Ccm<Aes128, U16, U12>;
type Aes128Ccm8 = Ccm<Aes128, U8, U12>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("record authentication failed (wrong keys?)")]
    Auth,
    #[error("record too short for its protection ({0} bytes)")]
    TooShort(usize),
    #[error("bad CBC padding")]
    BadPadding,
    #[error("record MAC mismatch (wrong keys?)")]
    BadMac,
    #[error("TLS 1.3 record with no content type (all padding)")]
    NoContentType,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decrypt suite {0}: {1}")]
pub struct UnsupportedSuite(pub String, pub &'static str);

/// A decrypted record: its real content type and plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub data: Vec<u8>,
}

enum Bulk {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Aes128Ccm>),
    Aes128Ccm8(Box<Aes128Ccm8>),
    Aes128Cbc(Box<Aes128>),
    Aes256Cbc(Box<Aes256>),
}

#[derive(Clone, Copy)]
enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }

    fn mac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            MacAlg::Sha1 => hmac_of::<Hmac<Sha1>>(key, parts),
            MacAlg::Sha256 => hmac_of::<Hmac<Sha256>>(key, parts),
            MacAlg::Sha384 => hmac_of::<Hmac<Sha384>>(key, parts),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tls13,
    /// TLS 1.2 AES-GCM/CCM: 4-byte salt + 8-byte explicit nonce in the record.
    Tls12ExplicitNonce,
    /// TLS 1.2 ChaCha20-Poly1305 (RFC 7905): 12-byte IV XOR sequence number.
    Tls12XorNonce,
    /// TLS 1.1/1.2 CBC with an explicit per-record IV.
    Tls12Cbc {
        encrypt_then_mac: bool,
    },
}

/// Decrypts the records of one direction, in order.
pub struct RecordOpener {
    bulk: Bulk,
    mode: Mode,
    iv: Vec<u8>,
    mac: Option<(MacAlg, Vec<u8>)>,
    seq: u64,
}

impl std::fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordOpener(seq {})", self.seq)
    }
}

/// Key length, fixed IV length (as in the key block) and MAC for a suite's cipher.
struct SuiteKeys {
    cipher: &'static str,
    key_len: usize,
    iv_len: usize,
    mac: Option<MacAlg>,
}

fn suite_keys(id: u16, tls13: bool) -> Result<SuiteKeys, UnsupportedSuite> {
    let s = suite(id).ok_or_else(|| UnsupportedSuite(format!("0x{id:04x}"), "unknown suite"))?;
    let unsupported = |why| Err(UnsupportedSuite(s.iana.to_string(), why));
    let mac = match s.mac {
        "AEAD" => None,
        "SHA" => Some(MacAlg::Sha1),
        "SHA256" => Some(MacAlg::Sha256),
        "SHA384" => Some(MacAlg::Sha384),
        _ => return unsupported("record MAC not supported"),
    };
    let aead_iv = if tls13 { 12 } else { 4 };
    let (key_len, iv_len) = match (s.cipher, mac.is_some()) {
        ("AES_128_GCM" | "AES_128_CCM" | "AES_128_CCM_8", false) => (16, aead_iv),
        ("AES_256_GCM", false) => (32, aead_iv),
        ("CHACHA20_POLY1305", false) => (32, 12),
        // TLS 1.1+ CBC has explicit IVs: the key block holds none.
        ("AES_128_CBC", true) => (16, 0),
        ("AES_256_CBC", true) => (32, 0),
        _ => return unsupported("bulk cipher not supported"),
    };
    Ok(SuiteKeys {
        cipher: s.cipher,
        key_len,
        iv_len,
        mac,
    })
}

fn bulk(cipher: &str, key: &[u8]) -> Option<Bulk> {
    Some(match cipher {
        "AES_128_GCM" => Bulk::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
        "AES_256_GCM" => Bulk::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
        "CHACHA20_POLY1305" => Bulk::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?)),
        "AES_128_CCM" => Bulk::Aes128Ccm(Box::new(Aes128Ccm::new_from_slice(key).ok()?)),
        "AES_128_CCM_8" => Bulk::Aes128Ccm8(Box::new(Aes128Ccm8::new_from_slice(key).ok()?)),
        "AES_128_CBC" => Bulk::Aes128Cbc(Box::new(Aes128::new_from_slice(key).ok()?)),
        "AES_256_CBC" => Bulk::Aes256Cbc(Box::new(Aes256::new_from_slice(key).ok()?)),
        _ => return None,
    })
}

fn aead_open<A: Aead + AeadCore>(
    a: &A,
    nonce: &[u8],
    aad: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let nonce = Nonce::<A>::try_from(nonce).map_err(|_| OpenError::Auth)?;
    a.decrypt(&nonce, Payload { msg, aad })
        .map_err(|_| OpenError::Auth)
}

fn cbc_decrypt<C: BlockCipherDecrypt<BlockSize = U16>>(c: &C, iv: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev = iv.to_vec();
    for chunk in data.chunks_exact(16) {
        let Ok(mut block) = aes::Block::try_from(chunk) else {
            break;
        };
        c.decrypt_block(&mut block);
        out.extend(block.iter().zip(&prev).map(|(b, p)| b ^ p));
        prev = chunk.to_vec();
    }
    out
}

impl RecordOpener {
    /// The opener for one direction of TLS 1.3 from its traffic secret.
    pub fn tls13(suite_id: u16, traffic_secret: &[u8]) -> Result<Self, UnsupportedSuite> {
        let k = suite_keys(suite_id, true)?;
        let hash = HashAlg::for_suite(suite_id);
        let prk = hash.prk(traffic_secret);
        let key = prk.expand_label("key", &[], k.key_len);
        let iv = prk.expand_label("iv", &[], 12);
        let bulk = bulk(k.cipher, &key)
            .ok_or_else(|| UnsupportedSuite(k.cipher.into(), "not a TLS 1.3 cipher"))?;
        Ok(RecordOpener {
            bulk,
            mode: Mode::Tls13,
            iv,
            mac: None,
            seq: 0,
        })
    }

    /// The openers of a TLS 1.1/1.2 connection (client's, server's) from its master secret
    /// and the two randoms. `encrypt_then_mac`: the ServerHello echoed that extension.
    pub fn tls12_pair(
        suite_id: u16,
        master_secret: &[u8],
        client_random: &[u8],
        server_random: &[u8],
        encrypt_then_mac: bool,
    ) -> Result<(Self, Self), UnsupportedSuite> {
        let k = suite_keys(suite_id, false)?;
        let mac_len = k.mac.map_or(0, |m| m.len());
        let len = 2 * (mac_len + k.key_len + k.iv_len);
        let seed = [server_random, client_random].concat();
        let block = HashAlg::for_suite(suite_id).prf(master_secret, "key expansion", &seed, len);
        let mut parts = Vec::new();
        let mut at = 0;
        for n in [mac_len, mac_len, k.key_len, k.key_len, k.iv_len, k.iv_len] {
            parts.push(block[at..at + n].to_vec());
            at += n;
        }
        let mode = match (k.mac, k.cipher) {
            (Some(_), _) => Mode::Tls12Cbc { encrypt_then_mac },
            (None, "CHACHA20_POLY1305") => Mode::Tls12XorNonce,
            (None, _) => Mode::Tls12ExplicitNonce,
        };
        let make = |mac_key: &Vec<u8>, key: &Vec<u8>, iv: &Vec<u8>| {
            let bulk = bulk(k.cipher, key)
                .ok_or_else(|| UnsupportedSuite(k.cipher.into(), "bulk cipher not supported"))?;
            Ok(RecordOpener {
                bulk,
                mode,
                iv: iv.clone(),
                mac: k.mac.map(|m| (m, mac_key.clone())),
                seq: 0,
            })
        };
        Ok((
            make(&parts[0], &parts[2], &parts[4])?,
            make(&parts[1], &parts[3], &parts[5])?,
        ))
    }

    /// Records opened so far.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    fn xor_nonce(&self) -> Vec<u8> {
        let mut nonce = self.iv.clone();
        let n = nonce.len();
        for (i, b) in self.seq.to_be_bytes().iter().enumerate() {
            nonce[n - 8 + i] ^= b;
        }
        nonce
    }

    fn aead(&self, nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, OpenError> {
        match &self.bulk {
            Bulk::Aes128Gcm(a) => aead_open(a.as_ref(), nonce, aad, msg),
            Bulk::Aes256Gcm(a) => aead_open(a.as_ref(), nonce, aad, msg),
            Bulk::ChaCha(a) => aead_open(a.as_ref(), nonce, aad, msg),
            Bulk::Aes128Ccm(a) => aead_open(a.as_ref(), nonce, aad, msg),
            Bulk::Aes128Ccm8(a) => aead_open(a.as_ref(), nonce, aad, msg),
            Bulk::Aes128Cbc(_) | Bulk::Aes256Cbc(_) => Err(OpenError::Auth),
        }
    }

    fn tag_len(&self) -> usize {
        match self.bulk {
            Bulk::Aes128Ccm8(_) => 8,
            _ => 16,
        }
    }

    /// Opens the next record of this direction: `content_type` and `version` from its
    /// header, `payload` the protected fragment. A failure leaves the sequence number as
    /// it was (the record was not ours to count).
    pub fn open(
        &mut self,
        content_type: u8,
        version: u16,
        payload: &[u8],
    ) -> Result<Opened, OpenError> {
        let opened = match self.mode {
            Mode::Tls13 => {
                let mut aad = vec![content_type];
                aad.extend_from_slice(&version.to_be_bytes());
                aad.extend_from_slice(&(payload.len() as u16).to_be_bytes());
                if payload.len() < self.tag_len() {
                    return Err(OpenError::TooShort(payload.len()));
                }
                let mut plain = self.aead(&self.xor_nonce(), &aad, payload)?;
                // Inner plaintext: content, the real type, then zero padding.
                let end = plain
                    .iter()
                    .rposition(|b| *b != 0)
                    .ok_or(OpenError::NoContentType)?;
                let typ = plain[end];
                plain.truncate(end);
                Opened {
                    content_type: typ,
                    data: plain,
                }
            }
            Mode::Tls12ExplicitNonce | Mode::Tls12XorNonce => {
                let explicit = if self.mode == Mode::Tls12ExplicitNonce {
                    8
                } else {
                    0
                };
                if payload.len() < explicit + self.tag_len() {
                    return Err(OpenError::TooShort(payload.len()));
                }
                let nonce = if explicit > 0 {
                    [&self.iv[..], &payload[..8]].concat()
                } else {
                    self.xor_nonce()
                };
                let body = &payload[explicit..];
                let plain_len = (body.len() - self.tag_len()) as u16;
                let aad = self.tls12_mac_header(content_type, version, plain_len);
                Opened {
                    content_type,
                    data: self.aead(&nonce, &aad, body)?,
                }
            }
            Mode::Tls12Cbc { encrypt_then_mac } => {
                self.open_cbc(content_type, version, payload, encrypt_then_mac)?
            }
        };
        self.seq += 1;
        Ok(opened)
    }

    /// seq_num + type + version + length: the TLS 1.2 MAC / AEAD additional data.
    fn tls12_mac_header(&self, content_type: u8, version: u16, len: u16) -> Vec<u8> {
        let mut h = self.seq.to_be_bytes().to_vec();
        h.push(content_type);
        h.extend_from_slice(&version.to_be_bytes());
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    fn open_cbc(
        &self,
        content_type: u8,
        version: u16,
        payload: &[u8],
        encrypt_then_mac: bool,
    ) -> Result<Opened, OpenError> {
        let Some((mac, mac_key)) = &self.mac else {
            return Err(OpenError::BadMac);
        };
        let mac_len = mac.len();
        let (cipher_part, tag) = if encrypt_then_mac {
            if payload.len() < mac_len + 32 {
                return Err(OpenError::TooShort(payload.len()));
            }
            let (c, t) = payload.split_at(payload.len() - mac_len);
            let header = self.tls12_mac_header(content_type, version, c.len() as u16);
            if mac.mac(mac_key, &[&header, c]) != t {
                return Err(OpenError::BadMac);
            }
            (c, None)
        } else {
            (payload, Some(()))
        };
        if cipher_part.len() < 32 || cipher_part.len() % 16 != 0 {
            return Err(OpenError::TooShort(payload.len()));
        }
        let (iv, data) = cipher_part.split_at(16);
        let mut plain = match &self.bulk {
            Bulk::Aes128Cbc(c) => cbc_decrypt(c.as_ref(), iv, data),
            Bulk::Aes256Cbc(c) => cbc_decrypt(c.as_ref(), iv, data),
            _ => return Err(OpenError::Auth),
        };
        let pad = *plain.last().ok_or(OpenError::BadPadding)? as usize;
        if pad + 1 > plain.len()
            || plain[plain.len() - 1 - pad..]
                .iter()
                .any(|b| *b as usize != pad)
        {
            return Err(OpenError::BadPadding);
        }
        plain.truncate(plain.len() - 1 - pad);
        if tag.is_some() {
            if plain.len() < mac_len {
                return Err(OpenError::BadMac);
            }
            let got = plain.split_off(plain.len() - mac_len);
            let header = self.tls12_mac_header(content_type, version, plain.len() as u16);
            if mac.mac(mac_key, &[&header, &plain]) != got {
                return Err(OpenError::BadMac);
            }
        }
        Ok(Opened {
            content_type,
            data: plain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3 record sealed with the AEAD directly (nonce = iv XOR seq, AAD = header),
    /// for each TLS 1.3 cipher; checks the inner type, padding removal and failures.
    #[test]
    fn tls13_records_open_for_every_suite() {
        let secret = [7u8; 32];
        for suite_id in [0x1301u16, 0x1303, 0x1304, 0x1305] {
            let mut o = RecordOpener::tls13(suite_id, &secret).unwrap();
            let hash = HashAlg::for_suite(suite_id);
            let k = suite_keys(suite_id, true).unwrap();
            let key = hash.expand_label(&secret, "key", &[], k.key_len);
            let iv = hash.expand_label(&secret, "iv", &[], 12);
            let sealer = bulk(k.cipher, &key).unwrap();
            let plain = [&b"\x14\x00\x00\x02ok"[..], &[22, 0, 0]].concat();
            let tag = if suite_id == 0x1305 { 8 } else { 16 };
            let aad = [23, 3, 3, 0, (plain.len() + tag) as u8];
            let sealed = match &sealer {
                Bulk::Aes128Gcm(a) => a.encrypt(
                    (&iv[..]).try_into().unwrap(),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                ),
                Bulk::ChaCha(a) => a.encrypt(
                    (&iv[..]).try_into().unwrap(),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                ),
                Bulk::Aes128Ccm(a) => a.encrypt(
                    (&iv[..]).try_into().unwrap(),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                ),
                Bulk::Aes128Ccm8(a) => a.encrypt(
                    (&iv[..]).try_into().unwrap(),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                ),
                _ => unreachable!(),
            }
            .unwrap();
            let opened = o.open(23, 0x0303, &sealed).unwrap();
            assert_eq!(opened.content_type, 22);
            assert_eq!(opened.data, b"\x14\x00\x00\x02ok");
            // The same record again is sequence 1: it no longer authenticates.
            assert_eq!(o.open(23, 0x0303, &sealed), Err(OpenError::Auth));
            assert_eq!(o.sequence(), 1);
            assert!(o.open(23, 0x0303, &sealed[..3]).is_err());
        }
    }
}
