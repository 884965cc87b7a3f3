//! TLS record framing and handshake message reassembly.
//!
//! [`Deframer`] turns a byte stream into records; [`HandshakeJoiner`] turns the payloads of
//! handshake records into handshake messages (a message may span records, a record may hold
//! several messages). Both are bounded: the deframer never holds more than one maximal record
//! and the joiner refuses messages above its cap. Hostile lengths give an error value.
//! Encryption state is not known here; deciding whether a payload is readable is the caller's
//! business (see `session`).

use bytes::BufMut;

/// Largest record payload accepted: 2^14 plus the 2048 bytes of expansion RFC 5246 allows
/// for ciphertext.
pub const MAX_RECORD_PAYLOAD: usize = 16384 + 2048;
/// Bytes in a record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Default cap on one handshake message (certificate chains are the largest real ones).
pub const DEFAULT_MAX_HANDSHAKE: usize = 1 << 20;

/// Record content type; unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    ChangeCipherSpec,
    Alert,
    Handshake,
    ApplicationData,
    Heartbeat,
    Unknown(u8),
}

impl ContentType {
    pub fn from_u8(v: u8) -> Self {
        match v {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            24 => ContentType::Heartbeat,
            other => ContentType::Unknown(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 20,
            ContentType::Alert => 21,
            ContentType::Handshake => 22,
            ContentType::ApplicationData => 23,
            ContentType::Heartbeat => 24,
            ContentType::Unknown(v) => v,
        }
    }
}

/// The 5-byte header in front of every TLS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: ContentType,
    pub version: u16,
    pub length: u16,
}

/// One complete record as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub header: RecordHeader,
    pub payload: Vec<u8>,
}

impl Record {
    /// The record re-serialised exactly as it was received (header + payload).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + self.payload.len());
        out.put_u8(self.header.content_type.to_u8());
        out.put_u16(self.header.version);
        out.put_u16(self.header.length);
        out.put_slice(&self.payload);
        out
    }
}

/// Why a byte stream is not (or no longer) a sequence of TLS records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("first byte 0x{0:02x} is no TLS content type")]
    NotTls(u8),
    #[error("record header announces {0} bytes, max {MAX_RECORD_PAYLOAD}")]
    RecordTooLong(usize),
    #[error("handshake message announces {len} bytes, max {max}")]
    HandshakeTooLong { len: usize, max: usize },
}

/// Whether a header's first two bytes can start a TLS record. Content types 20..=24 are the
/// assigned ones; other values are only taken when the version's major byte is 3, so a
/// record of a later-assigned type is kept while text ("HTTP/…") is rejected at once.
fn plausible_header(first: u8, version_major: Option<u8>) -> bool {
    match first {
        20..=24 => true,
        // tls12_cid (25) and any future type still carry a {3, x} version.
        25..=63 => version_major.is_none_or(|m| m == 3),
        _ => false,
    }
}

/// Splits a byte stream into records. Push bytes with [`Deframer::push`] (it takes at most
/// what fits in one maximal record), pull records with [`Deframer::next_record`], repeat.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    failed: Option<FramingError>,
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes, at most as many as keep the buffer within one maximal record; returns
    /// how many were taken. After an error nothing more is taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.failed.is_some() {
            return 0;
        }
        let room = RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    /// The next complete record, an error (sticky: the stream is not decodable past it), or
    /// `None` when more bytes are needed.
    pub fn next_record(&mut self) -> Option<Result<Record, FramingError>> {
        if let Some(e) = &self.failed {
            return Some(Err(e.clone()));
        }
        let first = *self.buf.first()?;
        if !plausible_header(first, self.buf.get(1).copied()) {
            return Some(Err(self.fail(FramingError::NotTls(first))));
        }
        if self.buf.len() < RECORD_HEADER_LEN {
            return None;
        }
        let length = u16::from_be_bytes([self.buf[3], self.buf[4]]);
        if length as usize > MAX_RECORD_PAYLOAD {
            return Some(Err(self.fail(FramingError::RecordTooLong(length as usize))));
        }
        let total = RECORD_HEADER_LEN + length as usize;
        if self.buf.len() < total {
            return None;
        }
        let header = RecordHeader {
            content_type: ContentType::from_u8(first),
            version: u16::from_be_bytes([self.buf[1], self.buf[2]]),
            length,
        };
        let payload = self.buf[RECORD_HEADER_LEN..total].to_vec();
        self.buf.drain(..total);
        Some(Ok(Record { header, payload }))
    }

    /// Bytes held that do not yet form a complete record.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The bytes held (a partial record), to describe a truncation.
    pub fn partial(&self) -> &[u8] {
        &self.buf
    }

    /// The header of the partial record held, if at least its 5 bytes are in.
    pub fn pending_header(&self) -> Option<RecordHeader> {
        let h = self.buf.get(..RECORD_HEADER_LEN)?;
        Some(RecordHeader {
            content_type: ContentType::from_u8(h[0]),
            version: u16::from_be_bytes([h[1], h[2]]),
            length: u16::from_be_bytes([h[3], h[4]]),
        })
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.buf = Vec::new();
        self.failed = Some(e.clone());
        e
    }
}

/// One reassembled handshake message: type and body (without the 4-byte header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHandshake {
    pub typ: u8,
    pub body: Vec<u8>,
}

/// Reassembles handshake messages from the payloads of consecutive handshake records.
#[derive(Debug)]
pub struct HandshakeJoiner {
    buf: Vec<u8>,
    max_message: usize,
}

impl Default for HandshakeJoiner {
    fn default() -> Self {
        Self::new()
    }
}

impl HandshakeJoiner {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_HANDSHAKE)
    }

    pub fn with_limit(max_message: usize) -> Self {
        HandshakeJoiner {
            buf: Vec::new(),
            max_message,
        }
    }

    /// Appends a handshake record payload. Fails, without buffering, when the message being
    /// assembled announces more than the cap.
    pub fn push(&mut self, fragment: &[u8]) -> Result<(), FramingError> {
        self.buf.extend_from_slice(fragment);
        if let Some((_, len)) = self.pending()
            && len > self.max_message
        {
            self.buf = Vec::new();
            return Err(FramingError::HandshakeTooLong {
                len,
                max: self.max_message,
            });
        }
        Ok(())
    }

    /// The next complete message, if one is buffered.
    pub fn next_message(&mut self) -> Option<RawHandshake> {
        let (typ, len) = self.pending()?;
        if self.buf.len() < 4 + len {
            return None;
        }
        let body = self.buf[4..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Some(RawHandshake { typ, body })
    }

    /// Type and announced length of the message at the front, once its header is in.
    pub fn pending(&self) -> Option<(u8, usize)> {
        let h = self.buf.get(..4)?;
        Some((h[0], u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize))
    }

    /// Bytes held for a message not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![typ, 3, 3];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// Pushes everything, pulling records as it goes, like the tracker does.
    fn deframe_all(d: &mut Deframer, mut data: &[u8]) -> Vec<Result<Record, FramingError>> {
        let mut out = Vec::new();
        loop {
            let n = d.push(data);
            data = &data[n..];
            while let Some(r) = d.next_record() {
                let stop = r.is_err();
                out.push(r);
                if stop {
                    return out;
                }
            }
            if data.is_empty() || n == 0 {
                return out;
            }
        }
    }

    #[test]
    fn records_split_and_joined_across_pushes() {
        let mut stream = record(22, b"hello");
        stream.extend(record(21, &[2, 40]));
        stream.extend(record(25, b"x"));
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for b in &stream {
            got.extend(deframe_all(&mut d, &[*b]));
        }
        let got: Vec<Record> = got.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].header.content_type, ContentType::Handshake);
        assert_eq!(got[0].payload, b"hello");
        assert_eq!(got[1].header.content_type, ContentType::Alert);
        assert_eq!(got[2].header.content_type, ContentType::Unknown(25));
        assert_eq!(got[0].to_wire(), record(22, b"hello"));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn text_is_rejected_on_its_first_byte() {
        let mut d = Deframer::new();
        let r = deframe_all(&mut d, b"H");
        assert_eq!(r, vec![Err(FramingError::NotTls(b'H'))]);
        assert_eq!(
            FramingError::NotTls(b'H').to_string(),
            "first byte 0x48 is no TLS content type"
        );
        // Sticky: the stream cannot be resynchronised.
        assert_eq!(d.push(&record(22, b"x")), 0);
        assert!(matches!(d.next_record(), Some(Err(_))));
    }

    #[test]
    fn oversized_record_is_an_error_without_buffering() {
        let mut d = Deframer::new();
        let r = deframe_all(&mut d, &[22, 3, 3, 0xff, 0xff, 1, 2, 3]);
        let err = r.into_iter().next().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "record header announces 65535 bytes, max 18432"
        );
        assert_eq!(d.buffered(), 0);
        // The largest legal record passes.
        let mut d = Deframer::new();
        let big = record(23, &vec![0; MAX_RECORD_PAYLOAD]);
        let r = deframe_all(&mut d, &big);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].as_ref().unwrap().payload.len(), MAX_RECORD_PAYLOAD);
    }

    #[test]
    fn push_never_exceeds_one_record() {
        let mut d = Deframer::new();
        let taken = d.push(&vec![23; 100_000]);
        assert_eq!(taken, RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD);
        assert!(d.buffered() <= RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD);
    }

    #[test]
    fn joiner_reassembles_split_and_packed_messages() {
        let mut j = HandshakeJoiner::new();
        // Message 1 (type 2, 5 bytes) split over two pushes, message 2 (type 14, empty)
        // packed behind it.
        j.push(&[2, 0, 0, 5, b'a', b'b']).unwrap();
        assert_eq!(j.next_message(), None);
        assert_eq!(j.pending(), Some((2, 5)));
        j.push(&[b'c', b'd', b'e', 14, 0, 0, 0]).unwrap();
        assert_eq!(
            j.next_message(),
            Some(RawHandshake {
                typ: 2,
                body: b"abcde".to_vec()
            })
        );
        assert_eq!(
            j.next_message(),
            Some(RawHandshake {
                typ: 14,
                body: vec![]
            })
        );
        assert_eq!(j.next_message(), None);
        assert_eq!(j.buffered(), 0);
    }

    #[test]
    fn joiner_caps_message_size() {
        let mut j = HandshakeJoiner::with_limit(1000);
        let err = j.push(&[11, 0x10, 0, 0]).unwrap_err();
        assert_eq!(
            err,
            FramingError::HandshakeTooLong {
                len: 0x100000,
                max: 1000
            }
        );
        assert_eq!(j.buffered(), 0);
        // The default cap is 1 MiB: 2^24-1 is refused.
        assert!(
            HandshakeJoiner::new()
                .push(&[11, 0xff, 0xff, 0xff])
                .is_err()
        );
    }
}
