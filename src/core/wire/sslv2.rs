//! SSLv2-format messages: the CLIENT-HELLO we send to test SSLv2 support (and that old
//! clients send as a "compatible" hello), the SERVER-HELLO an SSLv2 server answers with, and
//! detection of an SSLv2 record among TLS bytes.
//!
//! Only the 2-byte record header (high bit set, no padding) is handled: it is the form every
//! hello uses. Decoding is bounded: a short or inconsistent message is an error value.

use super::codec::{DecodeError, LengthOverflow, Reader, checked_len};
use bytes::BufMut;

/// SSLv2 message type of CLIENT-HELLO.
pub const MSG_CLIENT_HELLO: u8 = 1;
/// SSLv2 message type of SERVER-HELLO.
pub const MSG_SERVER_HELLO: u8 = 4;
/// SSLv2 message type of ERROR.
pub const MSG_ERROR: u8 = 0;

/// Largest body a 2-byte SSLv2 record header can announce.
pub const MAX_RECORD_BODY: usize = 0x7fff;

/// The seven SSLv2 cipher kinds (SSL 2.0 spec, appendix), strongest first as OpenSSL 0.9.8
/// offered them: DES-CBC3-MD5, IDEA-CBC-MD5, RC2-CBC-MD5, RC4-MD5, DES-CBC-MD5,
/// EXP-RC2-CBC-MD5, EXP-RC4-MD5.
pub const ALL_CIPHER_KINDS: [u32; 7] = [
    0x0700c0, 0x050080, 0x030080, 0x010080, 0x060040, 0x040080, 0x020080,
];

/// An SSLv2-format CLIENT-HELLO. `version` 0x0002 asks for SSLv2; 0x0300/0x0301 is the
/// "compatible" hello of old SSLv3/TLS clients, whose `cipher_specs` then hold TLS suites as
/// `0x00XXXX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sslv2ClientHello {
    pub version: u16,
    /// 3-byte cipher kinds.
    pub cipher_specs: Vec<u32>,
    pub session_id: Vec<u8>,
    pub challenge: Vec<u8>,
}

/// An SSLv2 SERVER-HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sslv2ServerHello {
    pub session_id_hit: u8,
    /// 1 = X.509 certificate.
    pub certificate_type: u8,
    pub version: u16,
    pub certificate: Vec<u8>,
    pub cipher_specs: Vec<u32>,
    pub connection_id: Vec<u8>,
}

impl Sslv2ClientHello {
    /// The message body (type byte onwards), without the record header.
    pub fn encode_message(&self) -> Result<Vec<u8>, LengthOverflow> {
        let max = usize::from(u16::MAX);
        let specs = checked_len("cipher_specs", self.cipher_specs.len() * 3, max)?;
        let sid = checked_len("session_id", self.session_id.len(), max)?;
        let challenge = checked_len("challenge", self.challenge.len(), max)?;
        let mut m = Vec::with_capacity(9 + specs + sid + challenge);
        m.put_u8(MSG_CLIENT_HELLO);
        m.put_u16(self.version);
        m.put_u16(specs as u16);
        m.put_u16(sid as u16);
        m.put_u16(challenge as u16);
        for spec in &self.cipher_specs {
            m.put_uint(u64::from(*spec & 0x00ff_ffff), 3);
        }
        m.put_slice(&self.session_id);
        m.put_slice(&self.challenge);
        Ok(m)
    }

    /// The record as sent: a 2-byte header (high bit set, 15-bit length) and the message.
    /// A message longer than 0x7fff bytes cannot be framed: that is the error.
    pub fn encode(&self) -> Result<Vec<u8>, LengthOverflow> {
        let msg = self.encode_message()?;
        let len = checked_len("SSLv2 record", msg.len(), MAX_RECORD_BODY)?;
        let mut out = Vec::with_capacity(len + 2);
        out.put_u16(0x8000 | len as u16);
        out.put_slice(&msg);
        Ok(out)
    }

    /// Decodes one complete record (header included, nothing after it).
    pub fn decode(record: &[u8]) -> Result<Self, DecodeError> {
        let mut r = record_body(record)?;
        let typ = r.u8("sslv2 message type")?;
        if typ != MSG_CLIENT_HELLO {
            return Err(DecodeError::new(
                2,
                format!("sslv2 message type {typ} is not CLIENT-HELLO"),
            ));
        }
        let version = r.u16("sslv2 version")?;
        let specs_len = r.u16("cipher_specs length")? as usize;
        let sid_len = r.u16("session_id length")? as usize;
        let challenge_len = r.u16("challenge length")? as usize;
        let cipher_specs = cipher_specs(r.sub(specs_len, "cipher_specs")?)?;
        let session_id = r.take(sid_len, "session_id")?.to_vec();
        let challenge = r.take(challenge_len, "challenge")?.to_vec();
        r.expect_end("sslv2 client hello")?;
        Ok(Sslv2ClientHello {
            version,
            cipher_specs,
            session_id,
            challenge,
        })
    }
}

impl Sslv2ServerHello {
    /// Decodes one complete record (header included, nothing after it) holding a
    /// SERVER-HELLO. An SSLv2 ERROR message is reported as an error naming its code.
    pub fn decode(record: &[u8]) -> Result<Self, DecodeError> {
        let mut r = record_body(record)?;
        let typ = r.u8("sslv2 message type")?;
        if typ == MSG_ERROR {
            let code = r.u16("sslv2 error code")?;
            return Err(DecodeError::new(
                3,
                format!("sslv2 ERROR message, code 0x{code:04x}"),
            ));
        }
        if typ != MSG_SERVER_HELLO {
            return Err(DecodeError::new(
                2,
                format!("sslv2 message type {typ} is not SERVER-HELLO"),
            ));
        }
        let session_id_hit = r.u8("session_id_hit")?;
        let certificate_type = r.u8("certificate_type")?;
        let version = r.u16("sslv2 server version")?;
        let cert_len = r.u16("certificate length")? as usize;
        let specs_len = r.u16("cipher_specs length")? as usize;
        let conn_id_len = r.u16("connection_id length")? as usize;
        let certificate = r.take(cert_len, "certificate")?.to_vec();
        let cipher_specs = cipher_specs(r.sub(specs_len, "cipher_specs")?)?;
        let connection_id = r.take(conn_id_len, "connection_id")?.to_vec();
        r.expect_end("sslv2 server hello")?;
        Ok(Sslv2ServerHello {
            session_id_hit,
            certificate_type,
            version,
            certificate,
            cipher_specs,
            connection_id,
        })
    }
}

/// Total length (header included) of the SSLv2 record starting at `bytes`, when the first
/// two bytes are a 2-byte SSLv2 header; `None` otherwise or when fewer than 2 bytes.
pub fn record_len(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [b0, b1, ..] if b0 & 0x80 != 0 => {
            Some(2 + ((usize::from(b0 & 0x7f) << 8) | usize::from(*b1)))
        }
        _ => None,
    }
}

/// True when `bytes` start like an SSLv2 record carrying a CLIENT-HELLO, SERVER-HELLO or
/// ERROR. A TLS record starts with a content type below 0x80, so the header's high bit
/// already tells them apart; the message checks keep arbitrary binary from matching.
pub fn looks_like_sslv2_record(bytes: &[u8]) -> bool {
    let Some(len) = record_len(bytes) else {
        return false;
    };
    let body = len - 2;
    match bytes.get(2..5) {
        // CLIENT-HELLO: version SSLv2 (0x0002) or an SSLv3/TLS major version, and room for
        // the fixed 9-byte part.
        Some([MSG_CLIENT_HELLO, major, _]) => body >= 9 && (*major == 0x00 || *major == 0x03),
        // SERVER-HELLO: session_id_hit is a boolean, and the fixed part is 11 bytes.
        Some([MSG_SERVER_HELLO, hit, _]) => body >= 11 && *hit <= 1,
        // ERROR: type and a 2-byte code.
        Some([MSG_ERROR, _, _]) => body == 3,
        _ => false,
    }
}

/// A reader over the body of exactly one 2-byte-header record.
fn record_body(record: &[u8]) -> Result<Reader<'_>, DecodeError> {
    let Some(len) = record_len(record) else {
        return Err(DecodeError::new(
            0,
            "not an SSLv2 record with a 2-byte header",
        ));
    };
    let mut r = Reader::new(record);
    r.take(2, "sslv2 record header")?;
    let body = r.sub(len - 2, "sslv2 record")?;
    r.expect_end("sslv2 record")?;
    Ok(body)
}

fn cipher_specs(mut r: Reader<'_>) -> Result<Vec<u32>, DecodeError> {
    if !r.remaining().is_multiple_of(3) {
        return Err(DecodeError::new(
            r.offset(),
            "cipher_specs: length not a multiple of 3",
        ));
    }
    let mut specs = Vec::with_capacity(r.remaining() / 3);
    while !r.is_empty() {
        let b = r.take(3, "cipher_spec")?;
        specs.push(u32::from_be_bytes([0, b[0], b[1], b[2]]));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_client() -> Sslv2ClientHello {
        Sslv2ClientHello {
            version: 0x0002,
            cipher_specs: ALL_CIPHER_KINDS.to_vec(),
            session_id: Vec::new(),
            challenge: (1..=16).collect(),
        }
    }

    #[test]
    fn client_hello_layout_and_round_trip() {
        let hello = sample_client();
        let wire = hello.encode().unwrap();
        // 9 fixed bytes + 7*3 specs + 16 challenge = 46 = 0x2e.
        assert_eq!(&wire[..2], &[0x80, 0x2e]);
        assert_eq!(&wire[2..11], &[1, 0x00, 0x02, 0x00, 21, 0, 0, 0, 16]);
        assert_eq!(&wire[11..14], &[0x07, 0x00, 0xc0]);
        assert_eq!(wire.len(), 48);
        assert_eq!(Sslv2ClientHello::decode(&wire).unwrap(), hello);
        assert!(looks_like_sslv2_record(&wire));
        assert_eq!(record_len(&wire), Some(wire.len()));
    }

    #[test]
    fn compatible_hello_with_tls_suites_round_trips() {
        let hello = Sslv2ClientHello {
            version: 0x0301,
            cipher_specs: vec![0x00002f, 0x000035, 0x0700c0],
            session_id: vec![7; 16],
            challenge: vec![9; 32],
        };
        let wire = hello.encode().unwrap();
        assert_eq!(Sslv2ClientHello::decode(&wire).unwrap(), hello);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let wire = sample_client().encode().unwrap();
        for n in 0..wire.len() {
            assert!(Sslv2ClientHello::decode(&wire[..n]).is_err(), "prefix {n}");
        }
        let mut long = wire.clone();
        long.push(0);
        assert!(Sslv2ClientHello::decode(&long).is_err());
    }

    #[test]
    fn inconsistent_inner_lengths_are_errors() {
        let mut wire = sample_client().encode().unwrap();
        // cipher_specs length 20: not a multiple of 3.
        wire[6] = 20;
        assert!(Sslv2ClientHello::decode(&wire).is_err());
        let mut wire = sample_client().encode().unwrap();
        // challenge length larger than what is left.
        wire[10] = 200;
        assert!(Sslv2ClientHello::decode(&wire).is_err());
    }

    fn hand_built_server_hello() -> Vec<u8> {
        let cert = [0x30, 0x03, 0x02, 0x01, 0x05];
        let mut m = vec![
            MSG_SERVER_HELLO,
            0,    // session_id_hit
            1,    // certificate_type X.509
            0x00, // version 0x0002
            0x02,
            0x00,
            cert.len() as u8,
            0x00,
            6, // two cipher specs
            0x00,
            16, // connection id
        ];
        m.extend_from_slice(&cert);
        m.extend_from_slice(&[0x01, 0x00, 0x80, 0x07, 0x00, 0xc0]);
        m.extend_from_slice(&[0xab; 16]);
        let mut rec = vec![0x80 | (m.len() >> 8) as u8, m.len() as u8];
        rec.extend_from_slice(&m);
        rec
    }

    #[test]
    fn server_hello_decodes() {
        let rec = hand_built_server_hello();
        assert!(looks_like_sslv2_record(&rec));
        let sh = Sslv2ServerHello::decode(&rec).unwrap();
        assert_eq!(
            sh,
            Sslv2ServerHello {
                session_id_hit: 0,
                certificate_type: 1,
                version: 0x0002,
                certificate: vec![0x30, 0x03, 0x02, 0x01, 0x05],
                cipher_specs: vec![0x010080, 0x0700c0],
                connection_id: vec![0xab; 16],
            }
        );
        for n in 0..rec.len() {
            assert!(Sslv2ServerHello::decode(&rec[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn error_message_and_wrong_types() {
        let err = Sslv2ServerHello::decode(&[0x80, 0x03, 0x00, 0x00, 0x01]).unwrap_err();
        assert!(err.what.contains("ERROR message, code 0x0001"), "{err}");
        assert!(looks_like_sslv2_record(&[0x80, 0x03, 0x00, 0x00, 0x01]));
        let client = sample_client().encode().unwrap();
        assert!(Sslv2ServerHello::decode(&client).is_err());
        assert!(Sslv2ClientHello::decode(&hand_built_server_hello()).is_err());
    }

    #[test]
    fn tls_and_junk_are_not_sslv2() {
        assert!(!looks_like_sslv2_record(&[0x16, 0x03, 0x01, 0x00, 0x2e]));
        assert!(!looks_like_sslv2_record(&[0x80]));
        assert!(!looks_like_sslv2_record(&[0x80, 0x2e, 0x07, 0x00, 0x02]));
        assert!(!looks_like_sslv2_record(b"GET / HTTP/1.1\r\n"));
        // CLIENT-HELLO with an implausible version major.
        assert!(!looks_like_sslv2_record(&[0x80, 0x2e, 0x01, 0x47, 0x45]));
    }
}
