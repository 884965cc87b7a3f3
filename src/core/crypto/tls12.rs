//! A small TLS 1.2 client (RFC 5246) for the checks that need a finished handshake with our
//! own keys (`client_renegotiation`, `ticketbleed`) or a key exchange built byte by byte
//! (`robot`): the ClientHello, ECDHE (x25519, secp256r1) or RSA key exchange, the master
//! secret, client and server Finished over the transcript, and AES-GCM records (explicit
//! 8-byte nonce = the sequence number). Only what those checks need: no certificate
//! validation, no ServerKeyExchange signature check (the checks judge the server's
//! behaviour, not its identity), no extended master secret (never offered). Pure:
//! randomness comes in as values and closures, bytes in, bytes out.

use super::ecdh::{self, KeyShareSecret};
use super::record::{OpenError, RecordOpener};
use super::schedule::HashAlg;
use crate::core::wire::codec::Reader;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::handshake_types::types as t;
use crate::core::wire::server::ServerHello;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Nonce, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use num_bigint::BigUint;

/// TLS 1.2 on the wire.
pub const TLS12: u16 = 0x0303;
/// Record content types.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
/// The ServerHello handshake type.
pub const SERVER_HELLO: u8 = t::SERVER_HELLO;

/// ECDHE suites with AES-GCM the client finishes (RSA and ECDSA certificates).
pub const ECDHE_SUITES: [u16; 4] = [0xc02f, 0xc030, 0xc02b, 0xc02c];
/// RSA key exchange suites with AES-GCM (ROBOT's).
pub const RSA_SUITES: [u16; 2] = [0x009c, 0x009d];
/// The groups offered for ECDHE: the ones every server has.
const GROUPS: [u16; 2] = [ecdh::GROUP_X25519, ecdh::GROUP_SECP256R1];
/// RSA-PSS, RSA PKCS#1 and ECDSA with SHA-256/384: what a server can sign its
/// ServerKeyExchange with.
const SIGALGS: [u16; 7] = [0x0804, 0x0805, 0x0401, 0x0501, 0x0403, 0x0503, 0x0201];

/// What the ClientHello carries.
#[derive(Debug, Clone, Default)]
pub struct HelloParams {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub suites: Vec<u16>,
    pub sni: Option<String>,
    /// renegotiation_info's data: empty in an initial handshake, the client verify_data in
    /// a renegotiation (RFC 5746 §3.5).
    pub renegotiation_info: Vec<u8>,
    /// SessionTicket extension data (RFC 5077): `Some(empty)` asks for a ticket.
    pub session_ticket: Option<Vec<u8>>,
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn extension(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    put_u16(out, typ);
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake_message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A plaintext record (TLS 1.2 record version).
pub fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ];
    put_u16(&mut r, TLS12);
    put_u16(&mut r, payload.len() as u16);
    r.extend_from_slice(payload);
    r
}

/// The ClientHello handshake message (header included) for `p`.
pub fn client_hello(p: &HelloParams) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16(&mut body, TLS12);
    body.extend_from_slice(&p.random);
    body.push(p.session_id.len() as u8);
    body.extend_from_slice(&p.session_id);
    put_u16(&mut body, (p.suites.len() * 2) as u16);
    for s in &p.suites {
        put_u16(&mut body, *s);
    }
    body.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    if let Some(host) = &p.sni {
        let mut list = vec![0];
        put_u16(&mut list, host.len() as u16);
        list.extend_from_slice(host.as_bytes());
        let mut data = Vec::new();
        put_u16(&mut data, list.len() as u16);
        data.extend_from_slice(&list);
        extension(&mut exts, ext::SERVER_NAME, &data);
    }
    let mut groups = Vec::new();
    put_u16(&mut groups, (GROUPS.len() * 2) as u16);
    for g in GROUPS {
        put_u16(&mut groups, g);
    }
    extension(&mut exts, ext::SUPPORTED_GROUPS, &groups);
    extension(&mut exts, ext::EC_POINT_FORMATS, &[1, 0]);
    let mut sigalgs = Vec::new();
    put_u16(&mut sigalgs, (SIGALGS.len() * 2) as u16);
    for s in SIGALGS {
        put_u16(&mut sigalgs, s);
    }
    extension(&mut exts, ext::SIGNATURE_ALGORITHMS, &sigalgs);
    if let Some(ticket) = &p.session_ticket {
        extension(&mut exts, ext::SESSION_TICKET, ticket);
    }
    let mut reneg = vec![p.renegotiation_info.len() as u8];
    reneg.extend_from_slice(&p.renegotiation_info);
    extension(&mut exts, ext::RENEGOTIATION_INFO, &reneg);
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);
    handshake_message(t::CLIENT_HELLO, &body)
}

/// Takes one whole handshake message (header included) off the front of `buf`, if one is
/// there.
pub fn next_message(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    if buf.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]) as usize;
    if buf.len() < 4 + len {
        return None;
    }
    Some(buf.drain(..4 + len).collect())
}

/// The server's RSA public key, from its leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl RsaKey {
    /// The key of a DER certificate, if it is an RSA one.
    pub fn from_certificate(der: &[u8]) -> Option<RsaKey> {
        use x509_parser::prelude::FromDer as _;
        use x509_parser::public_key::PublicKey;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
        match cert.public_key().parsed().ok()? {
            PublicKey::RSA(k) => Some(RsaKey {
                modulus: strip_zeros(k.modulus).to_vec(),
                exponent: strip_zeros(k.exponent).to_vec(),
            }),
            _ => None,
        }
    }

    /// The modulus length in bytes (the length of every block and ciphertext).
    pub fn len(&self) -> usize {
        self.modulus.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modulus.is_empty()
    }

    /// Textbook RSA, `block^e mod n`, on a block the caller padded (ROBOT sends blocks
    /// padded wrongly on purpose); left-padded with zeros to the modulus length. `None`
    /// when the block is not below the modulus.
    pub fn encrypt_raw(&self, block: &[u8]) -> Option<Vec<u8>> {
        let n = BigUint::from_bytes_be(&self.modulus);
        let m = BigUint::from_bytes_be(block);
        if m >= n {
            return None;
        }
        let c = m
            .modpow(&BigUint::from_bytes_be(&self.exponent), &n)
            .to_bytes_be();
        let mut out = vec![0u8; self.len().saturating_sub(c.len())];
        out.extend_from_slice(&c);
        Some(out)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

/// PKCS#1 v1.5 encryption padding (RFC 8017 §7.2.1) of `message` for a `k`-byte modulus:
/// 0x00 0x02, non-zero padding from `padding` (zeros are replaced by 1), 0x00, message.
pub fn pkcs1_block(k: usize, message: &[u8], padding: &[u8]) -> Option<Vec<u8>> {
    let pad_len = k.checked_sub(3 + message.len())?;
    if pad_len < 8 || padding.len() < pad_len {
        return None;
    }
    let mut block = vec![0, 2];
    block.extend(
        padding[..pad_len]
            .iter()
            .map(|b| if *b == 0 { 1 } else { *b }),
    );
    block.push(0);
    block.extend_from_slice(message);
    Some(block)
}

/// The ClientKeyExchange message of RSA key exchange carrying `encrypted`.
pub fn rsa_client_key_exchange(encrypted: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16(&mut body, encrypted.len() as u16);
    body.extend_from_slice(encrypted);
    handshake_message(t::CLIENT_KEY_EXCHANGE, &body)
}

/// Why a handshake could not be carried on.
pub type Failure = String;

/// The client side of one TLS 1.2 handshake up to the server's Finished.
#[derive(Debug, Clone)]
pub struct Client {
    client_random: [u8; 32],
    /// Every handshake message so far, headers included (the Finished hashes).
    transcript: Vec<u8>,
    pub server_hello: Option<ServerHello>,
    /// The certificate chain as sent, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// ServerKeyExchange's named curve and public point.
    server_share: Option<(u16, Vec<u8>)>,
    pub hello_done: bool,
    /// NewSessionTicket's ticket (RFC 5077), when one came.
    pub ticket: Option<Vec<u8>>,
}

impl Client {
    /// A client that sent `hello` (a handshake message, header included).
    pub fn new(hello: &[u8], client_random: [u8; 32]) -> Self {
        Client {
            client_random,
            transcript: hello.to_vec(),
            server_hello: None,
            chain: Vec::new(),
            server_share: None,
            hello_done: false,
            ticket: None,
        }
    }

    /// Reads one plaintext handshake message of the server's first flight (or the
    /// NewSessionTicket before its CCS), adding it to the transcript.
    pub fn server_message(&mut self, msg: &[u8]) -> Result<(), Failure> {
        let typ = msg[0];
        let body = &msg[4..];
        match typ {
            t::SERVER_HELLO => {
                let sh = ServerHello::decode_body(body).map_err(|e| format!("ServerHello: {e}"))?;
                if sh.legacy_version != TLS12 {
                    return Err(format!(
                        "the server chose version {:#06x}",
                        sh.legacy_version
                    ));
                }
                self.server_hello = Some(sh);
            }
            t::CERTIFICATE => {
                let c = crate::core::wire::server::Certificate::decode(body, TLS12)
                    .map_err(|e| format!("Certificate: {e}"))?;
                self.chain = c.chain;
            }
            t::SERVER_KEY_EXCHANGE => {
                let mut r = Reader::new(body);
                let share = (|| {
                    if r.u8("curve_type")? != 3 {
                        return Err(crate::core::wire::codec::DecodeError::new(0, "not named"));
                    }
                    let group = r.u16("named_curve")?;
                    let point = r.sub_u8("point")?.rest().to_vec();
                    Ok((group, point))
                })()
                .map_err(|e| format!("ServerKeyExchange: {e}"))?;
                self.server_share = Some(share);
            }
            t::SERVER_HELLO_DONE => self.hello_done = true,
            t::NEW_SESSION_TICKET => {
                let mut r = Reader::new(body);
                let mut ticket = r
                    .u32("lifetime")
                    .and_then(|_| r.sub_u16("ticket"))
                    .map_err(|e| format!("NewSessionTicket: {e}"))?;
                self.ticket = Some(ticket.rest().to_vec());
            }
            _ => {}
        }
        self.transcript.extend_from_slice(msg);
        Ok(())
    }

    /// The chosen suite.
    pub fn suite(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.cipher_suite)
    }

    /// ECDHE: our key pair on the server's curve, the ClientKeyExchange message and the
    /// premaster secret.
    pub fn ecdhe_key_exchange(
        &self,
        entropy: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(Vec<u8>, Vec<u8>), Failure> {
        let (group, point) = self
            .server_share
            .as_ref()
            .ok_or("no ECDHE ServerKeyExchange")?;
        let ours: KeyShareSecret = ecdh::key_pair(*group, entropy)
            .filter(|_| GROUPS.contains(group))
            .ok_or_else(|| format!("the server chose group {group:#06x}, not offered"))?;
        let premaster =
            ecdh::shared_secret(&ours, point).ok_or("the server's ECDHE point is not valid")?;
        let mut body = vec![ours.public.len() as u8];
        body.extend_from_slice(&ours.public);
        Ok((handshake_message(t::CLIENT_KEY_EXCHANGE, &body), premaster))
    }

    /// Adds our ClientKeyExchange and derives the session from `premaster`: the flight
    /// ClientKeyExchange, ChangeCipherSpec, Finished (encrypted), as records, and the
    /// session to check the server's Finished and send on.
    pub fn finish(
        &mut self,
        client_key_exchange: &[u8],
        premaster: &[u8],
    ) -> Result<(Vec<u8>, Session), Failure> {
        let sh = self.server_hello.as_ref().ok_or("no ServerHello")?;
        let suite = sh.cipher_suite;
        let hash = HashAlg::for_suite(suite);
        let key_len = match suite {
            0xc02f | 0xc02b | 0x009c => 16,
            0xc030 | 0xc02c | 0x009d => 32,
            other => return Err(format!("suite {other:#06x} not offered")),
        };
        self.transcript.extend_from_slice(client_key_exchange);
        let randoms = [&self.client_random[..], &sh.random[..]].concat();
        let master = hash.prf(premaster, "master secret", &randoms, 48);
        let seed = [&sh.random[..], &self.client_random[..]].concat();
        let block = hash.prf(&master, "key expansion", &seed, 2 * key_len + 8);
        let write_key = &block[..key_len];
        let write_iv = &block[2 * key_len..2 * key_len + 4];
        let (_, read) =
            RecordOpener::tls12_pair(suite, &master, &self.client_random, &sh.random, false)
                .map_err(|e| e.to_string())?;
        let verify_data = hash.prf(&master, "client finished", &hash.hash(&self.transcript), 12);
        let finished = handshake_message(t::FINISHED, &verify_data);
        self.transcript.extend_from_slice(&finished);
        let mut session = Session {
            hash,
            master,
            write: Sealer::new(write_key, write_iv),
            read,
            client_verify_data: verify_data,
            expected_server_finished: Vec::new(),
        };
        session.expected_server_finished = hash.prf(
            &session.master,
            "server finished",
            &hash.hash(&self.transcript),
            12,
        );
        let mut flight = record(HANDSHAKE, client_key_exchange);
        flight.extend(record(CHANGE_CIPHER_SPEC, &[1]));
        flight.extend(session.seal(HANDSHAKE, &finished));
        Ok((flight, session))
    }
}

/// AES-GCM sealing of one direction with its explicit nonce.
struct Sealer {
    key: Vec<u8>,
    salt: Vec<u8>,
    seq: u64,
}

impl Sealer {
    fn new(key: &[u8], salt: &[u8]) -> Self {
        Sealer {
            key: key.to_vec(),
            salt: salt.to_vec(),
            seq: 0,
        }
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs and panics.
        f.write_str("Sealer(..)")
    }
}

fn aead_seal<A: Aead + AeadCore + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    payload: Payload<'_, '_>,
) -> Option<Vec<u8>> {
    let nonce = Nonce::<A>::try_from(nonce).ok()?;
    A::new_from_slice(key).ok()?.encrypt(&nonce, payload).ok()
}

/// An established TLS 1.2 session: our write direction, the server's read direction and
/// the Finished data.
pub struct Session {
    hash: HashAlg,
    master: Vec<u8>,
    write: Sealer,
    read: RecordOpener,
    /// Our Finished's verify_data (a renegotiation's renegotiation_info).
    pub client_verify_data: Vec<u8>,
    expected_server_finished: Vec<u8>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session(..)")
    }
}

impl Session {
    /// One encrypted record of `typ` carrying `plain` (at most 2^14 bytes).
    pub fn seal(&mut self, typ: u8, plain: &[u8]) -> Vec<u8> {
        let w = &mut self.write;
        let explicit = w.seq.to_be_bytes();
        let nonce = [&w.salt[..], &explicit[..]].concat();
        let mut aad = explicit.to_vec();
        aad.push(typ);
        aad.extend_from_slice(&TLS12.to_be_bytes());
        aad.extend_from_slice(&(plain.len() as u16).to_be_bytes());
        let payload = Payload {
            msg: plain,
            aad: &aad,
        };
        let sealed = match w.key.len() {
            16 => aead_seal::<Aes128Gcm>(&w.key, &nonce, payload),
            _ => aead_seal::<Aes256Gcm>(&w.key, &nonce, payload),
        }
        .unwrap_or_default();
        w.seq += 1;
        record(typ, &[&explicit[..], &sealed].concat())
    }

    /// Opens the server's next encrypted record.
    pub fn open(&mut self, typ: u8, payload: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.read.open(typ, TLS12, payload).map(|o| o.data)
    }

    /// Whether `msg` (a handshake message, header included) is the server's Finished for
    /// this transcript.
    pub fn server_finished_ok(&self, msg: &[u8]) -> bool {
        msg.len() == 16 && msg[0] == t::FINISHED && msg[4..] == self.expected_server_finished
    }

    /// The hash of the suite's PRF (kept for callers that extend the transcript).
    pub fn hash(&self) -> HashAlg {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs1_block_has_the_rfc_8017_layout() {
        let block = pkcs1_block(64, &[9u8; 48], &[0u8; 64]).unwrap();
        assert_eq!(block.len(), 64);
        assert_eq!(&block[..2], &[0, 2]);
        assert!(block[2..15].iter().all(|b| *b == 1), "zeros replaced");
        assert_eq!(block[15], 0);
        assert_eq!(&block[16..], &[9u8; 48]);
        assert!(
            pkcs1_block(56, &[9u8; 48], &[1u8; 64]).is_none(),
            "< 8 bytes padding"
        );
    }

    #[test]
    fn textbook_rsa_matches_a_small_key() {
        // n = 3233 (61 * 53), e = 17: 65^17 mod 3233 = 2790.
        let key = RsaKey {
            modulus: 3233u16.to_be_bytes().to_vec(),
            exponent: vec![17],
        };
        assert_eq!(key.encrypt_raw(&[0, 65]).unwrap(), 2790u16.to_be_bytes());
        assert!(key.encrypt_raw(&[0xff, 0xff]).is_none(), "not below n");
    }

    #[test]
    fn hello_carries_suites_and_renegotiation_info() {
        let hello = client_hello(&HelloParams {
            random: [5; 32],
            session_id: vec![7],
            suites: ECDHE_SUITES.to_vec(),
            renegotiation_info: vec![1; 12],
            ..HelloParams::default()
        });
        let decoded = crate::core::wire::server::decode_handshake(hello[0], &hello[4..], 0);
        let Ok(crate::core::wire::server::HandshakeMessage::ClientHello(ch)) = decoded else {
            panic!("{decoded:?}");
        };
        assert_eq!(ch.cipher_suites, ECDHE_SUITES);
        assert_eq!(ch.session_id, vec![7]);
        let exts = ch.extensions.unwrap_or_default();
        let reneg = exts.iter().find(|e| e.typ == ext::RENEGOTIATION_INFO);
        assert_eq!(reneg.unwrap().data, [&[12u8][..], &[1; 12]].concat());
    }

    #[test]
    fn messages_are_split_only_when_whole() {
        let mut buf = handshake_message(14, &[]);
        buf.extend_from_slice(&[2, 0, 0, 5, 1]);
        assert_eq!(next_message(&mut buf), Some(vec![14, 0, 0, 0]));
        assert_eq!(next_message(&mut buf), None);
        assert_eq!(buf.len(), 5);
    }
}
