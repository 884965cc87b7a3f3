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

/// One complete record as it came off the wire; the payload is borrowed from the delivery
/// (or from the deframer, for a record that spanned deliveries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: RecordHeader,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// The record re-serialised exactly as it was received (header + payload).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + self.payload.len());
        self.write_wire(&mut out);
        out
    }

    /// [`Record::to_wire`], appended to `out` (no copy of its own).
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        out.reserve(RECORD_HEADER_LEN + self.payload.len());
        out.put_u8(self.header.content_type.to_u8());
        out.put_u16(self.header.version);
        out.put_u16(self.header.length);
        out.put_slice(self.payload);
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

/// The header at the front of `bytes` and the length of its whole record; `None` while
/// fewer than 5 bytes are in. The first byte alone can already show the stream is not TLS.
fn record_header(bytes: &[u8]) -> Result<Option<(RecordHeader, usize)>, FramingError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if !plausible_header(first, bytes.get(1).copied()) {
        return Err(FramingError::NotTls(first));
    }
    let Some(h) = bytes.get(..RECORD_HEADER_LEN) else {
        return Ok(None);
    };
    let length = u16::from_be_bytes([h[3], h[4]]);
    if length as usize > MAX_RECORD_PAYLOAD {
        return Err(FramingError::RecordTooLong(length as usize));
    }
    let header = RecordHeader {
        content_type: ContentType::from_u8(first),
        version: u16::from_be_bytes([h[1], h[2]]),
        length,
    };
    Ok(Some((header, RECORD_HEADER_LEN + length as usize)))
}

/// Splits a byte stream into records. Records that arrive whole are handed out where they
/// lie, without a copy; only a record split across deliveries is collected here (at most one
/// maximal record).
#[derive(Debug, Default)]
pub struct Deframer {
    carry: Carry,
    failed: Option<FramingError>,
}

/// The bytes of one record or handshake message that spans deliveries, collected until it
/// is whole. Once handed out it stays until the next call, which drops it.
#[derive(Debug, Default)]
struct Carry {
    buf: Vec<u8>,
    handed_out: bool,
}

impl Carry {
    /// Drops what was handed out last; true when nothing is held (the next unit is then
    /// read where it lies).
    fn start(&mut self) -> bool {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
        self.buf.is_empty()
    }

    /// Moves bytes from the front of `data` until `len` are held or `data` is used up.
    fn fill_to(&mut self, data: &mut &[u8], len: usize) {
        let n = len.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        *data = &data[n..];
    }

    fn held(&self) -> &[u8] {
        &self.buf
    }

    /// The whole unit, handed out; dropped on the next `start`.
    fn hand_out(&mut self) -> &[u8] {
        self.handed_out = true;
        &self.buf
    }

    /// What is held of a unit not yet whole.
    fn partial(&self) -> &[u8] {
        if self.handed_out { &[] } else { &self.buf }
    }

    fn reset(&mut self) {
        *self = Carry::default();
    }
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next complete record from what was held and `data` (which is advanced past what
    /// was used), an error (returned again on every call: the stream is not decodable past
    /// it, so a caller stops at the first), or `None` when
    /// `data` is used up: its tail, a partial record, is then held for the next delivery.
    pub fn next<'s, 'd: 's>(
        &'s mut self,
        data: &mut &'d [u8],
    ) -> Option<Result<Record<'s>, FramingError>> {
        if let Some(e) = &self.failed {
            return Some(Err(e.clone()));
        }
        if self.carry.start() {
            return match record_header(data) {
                Err(e) => Some(Err(self.fail(e))),
                Ok(Some((header, total))) if data.len() >= total => {
                    let (record, rest) = data.split_at(total);
                    *data = rest;
                    Some(Ok(Record {
                        header,
                        payload: &record[RECORD_HEADER_LEN..],
                    }))
                }
                Ok(_) => {
                    self.carry.fill_to(data, usize::MAX);
                    None
                }
            };
        }
        // A record begun in an earlier delivery: its header first, then the rest.
        self.carry.fill_to(data, RECORD_HEADER_LEN);
        let (header, total) = match record_header(self.carry.held()) {
            Err(e) => return Some(Err(self.fail(e))),
            Ok(None) => return None,
            Ok(Some(h)) => h,
        };
        self.carry.fill_to(data, total);
        if self.carry.held().len() < total {
            return None;
        }
        Some(Ok(Record {
            header,
            payload: &self.carry.hand_out()[RECORD_HEADER_LEN..],
        }))
    }

    /// The bytes held: a record not yet complete.
    pub fn partial(&self) -> &[u8] {
        self.carry.partial()
    }

    /// Bytes held that do not yet form a complete record.
    pub fn buffered(&self) -> usize {
        self.partial().len()
    }

    /// The header of the partial record held, if at least its 5 bytes are in.
    pub fn pending_header(&self) -> Option<RecordHeader> {
        record_header(self.partial()).ok().flatten().map(|(h, _)| h)
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.carry.reset();
        self.failed = Some(e.clone());
        e
    }
}

/// One reassembled handshake message: type and body (without the 4-byte header), borrowed
/// from the record (or from the joiner, for a message that spanned records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHandshake<'a> {
    pub typ: u8,
    pub body: &'a [u8],
}

/// Type and announced body length of the handshake message at the front of `bytes`, once
/// its 4-byte header is in.
fn message_header(bytes: &[u8]) -> Option<(u8, usize)> {
    let h = bytes.get(..4)?;
    Some((h[0], u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize))
}

/// Reassembles handshake messages from the payloads of consecutive handshake records.
/// Messages that lie whole in one payload are handed out where they lie; only a message
/// split across records is collected here.
#[derive(Debug)]
pub struct HandshakeJoiner {
    carry: Carry,
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
            carry: Carry::default(),
            max_message,
        }
    }

    /// The next complete message from what was held and `fragment` (a handshake record's
    /// payload, advanced past what was used), or `None` when the fragment is used up: its
    /// tail, a partial message, is then held for the next record. A message announcing more
    /// than the cap is an error; nothing of it, or of the rest of the fragment, is held.
    pub fn next<'s, 'd: 's>(
        &'s mut self,
        fragment: &mut &'d [u8],
    ) -> Option<Result<RawHandshake<'s>, FramingError>> {
        if self.carry.start() {
            return match message_header(fragment) {
                Some((_, len)) if len > self.max_message => Some(Err(self.too_long(len, fragment))),
                Some((typ, len)) if fragment.len() >= 4 + len => {
                    let (message, rest) = fragment.split_at(4 + len);
                    *fragment = rest;
                    Some(Ok(RawHandshake {
                        typ,
                        body: &message[4..],
                    }))
                }
                _ => {
                    self.carry.fill_to(fragment, usize::MAX);
                    None
                }
            };
        }
        self.carry.fill_to(fragment, 4);
        let (typ, len) = message_header(self.carry.held())?;
        if len > self.max_message {
            return Some(Err(self.too_long(len, fragment)));
        }
        self.carry.fill_to(fragment, 4 + len);
        if self.carry.held().len() < 4 + len {
            return None;
        }
        Some(Ok(RawHandshake {
            typ,
            body: &self.carry.hand_out()[4..],
        }))
    }

    /// Keeps bytes the caller stopped reading messages from (they are read after what is
    /// already held).
    pub fn hold(&mut self, mut rest: &[u8]) {
        self.carry.start();
        self.carry.fill_to(&mut rest, usize::MAX);
    }

    /// Drops the message and the rest of the fragment: nothing after it can be framed.
    fn too_long(&mut self, len: usize, fragment: &mut &[u8]) -> FramingError {
        *fragment = &[];
        self.carry.reset();
        FramingError::HandshakeTooLong {
            len,
            max: self.max_message,
        }
    }

    /// Type and announced length of the message being collected, once its header is in.
    pub fn pending(&self) -> Option<(u8, usize)> {
        message_header(self.carry.partial())
    }

    /// Bytes held for a message not yet complete.
    pub fn buffered(&self) -> usize {
        self.carry.partial().len()
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

    /// Header, payload and wire form of one record, owned.
    type Owned = (RecordHeader, Vec<u8>, Vec<u8>);

    /// Feeds one delivery, like the tracker does; stops at the first error.
    fn deframe(d: &mut Deframer, mut data: &[u8]) -> Vec<Result<Owned, FramingError>> {
        let mut out = Vec::new();
        while let Some(r) = d.next(&mut data) {
            let stop = r.is_err();
            out.push(r.map(|r| (r.header, r.payload.to_vec(), r.to_wire())));
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn records_split_anywhere_across_deliveries() {
        let mut stream = record(22, b"hello");
        stream.extend(record(21, &[2, 40]));
        stream.extend(record(25, b"x"));
        stream.extend(record(23, b""));
        // Every way of cutting the stream in two, and byte by byte.
        let mut cuttings: Vec<Vec<&[u8]>> = (0..=stream.len())
            .map(|at| vec![&stream[..at], &stream[at..]])
            .collect();
        cuttings.push(stream.chunks(1).collect());
        for deliveries in cuttings {
            let mut d = Deframer::new();
            let got: Vec<Owned> = deliveries
                .iter()
                .flat_map(|part| deframe(&mut d, part))
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got.len(), 4);
            assert_eq!(got[0].0.content_type, ContentType::Handshake);
            assert_eq!(got[0].1, b"hello");
            assert_eq!(got[0].2, record(22, b"hello"));
            assert_eq!(got[1].0.content_type, ContentType::Alert);
            assert_eq!(got[1].1, [2, 40]);
            assert_eq!(got[2].0.content_type, ContentType::Unknown(25));
            assert_eq!(got[3].1, b"");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn partial_record_is_held_and_described() {
        let whole = record(22, &[1; 100]);
        let mut d = Deframer::new();
        assert!(deframe(&mut d, &whole[..3]).is_empty());
        assert_eq!(d.partial(), &whole[..3]);
        assert_eq!(d.pending_header(), None);
        assert!(deframe(&mut d, &whole[3..50]).is_empty());
        assert_eq!(d.buffered(), 50);
        assert_eq!(d.pending_header().map(|h| h.length), Some(100));
        assert_eq!(deframe(&mut d, &whole[50..]).len(), 1);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn text_is_rejected_on_its_first_byte() {
        let mut d = Deframer::new();
        let r = deframe(&mut d, b"H");
        assert_eq!(r, vec![Err(FramingError::NotTls(b'H'))]);
        assert_eq!(
            FramingError::NotTls(b'H').to_string(),
            "first byte 0x48 is no TLS content type"
        );
        // Sticky: the stream cannot be resynchronised.
        assert!(matches!(
            deframe(&mut d, &record(22, b"x"))[..],
            [Err(FramingError::NotTls(b'H'))]
        ));
        // Also when the bad byte follows a held partial record.
        let mut d = Deframer::new();
        let mut stream = record(22, b"ok");
        stream.push(b'G');
        assert!(deframe(&mut d, &stream[..4]).is_empty());
        let r = deframe(&mut d, &stream[4..]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Err(FramingError::NotTls(b'G')));
    }

    #[test]
    fn oversized_record_is_an_error_without_buffering() {
        for cut in [8, 2] {
            let stream = [22, 3, 3, 0xff, 0xff, 1, 2, 3];
            let mut d = Deframer::new();
            let mut r = deframe(&mut d, &stream[..cut]);
            r.extend(deframe(&mut d, &stream[cut..]));
            let err = r.into_iter().next().unwrap().unwrap_err();
            assert_eq!(
                err.to_string(),
                "record header announces 65535 bytes, max 18432"
            );
            assert_eq!(d.buffered(), 0);
        }
        // The largest legal record passes, whole or split.
        let big = record(23, &vec![0; MAX_RECORD_PAYLOAD]);
        for cut in [big.len(), 7, 10_000] {
            let mut d = Deframer::new();
            let mut r = deframe(&mut d, &big[..cut]);
            r.extend(deframe(&mut d, &big[cut..]));
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].as_ref().unwrap().1.len(), MAX_RECORD_PAYLOAD);
        }
    }

    #[test]
    fn held_bytes_never_exceed_one_record() {
        let mut d = Deframer::new();
        let mut data = &[23, 3, 3, 0x48, 0x00][..];
        assert!(d.next(&mut data).is_none());
        let filler = vec![0; 100_000];
        let mut data = &filler[..];
        assert!(d.next(&mut data).is_some());
        assert_eq!(data.len(), 100_000 - 0x4800);
        assert_eq!(d.buffered(), 0);
    }

    /// Feeds one record payload; owned (type, body) pairs.
    fn join(
        j: &mut HandshakeJoiner,
        mut fragment: &[u8],
    ) -> Vec<Result<(u8, Vec<u8>), FramingError>> {
        let mut out = Vec::new();
        while let Some(m) = j.next(&mut fragment) {
            out.push(m.map(|m| (m.typ, m.body.to_vec())));
        }
        out
    }

    #[test]
    fn joiner_reassembles_split_and_packed_messages() {
        // Message 1 (type 2, 5 bytes), message 2 (type 14, empty) packed behind it.
        let stream = [2, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 14, 0, 0, 0];
        for cut in 0..=stream.len() {
            let mut j = HandshakeJoiner::new();
            let mut got = join(&mut j, &stream[..cut]);
            if (4..9).contains(&cut) {
                assert_eq!(j.pending(), Some((2, 5)), "cut {cut}");
            }
            got.extend(join(&mut j, &stream[cut..]));
            assert_eq!(
                got,
                vec![Ok((2, b"abcde".to_vec())), Ok((14, vec![]))],
                "cut {cut}"
            );
            assert_eq!(j.buffered(), 0);
        }
        // Bytes a caller stops at are kept, in order.
        let mut j = HandshakeJoiner::new();
        j.hold(&stream[..6]);
        assert_eq!(j.buffered(), 6);
        assert_eq!(join(&mut j, &stream[6..]).len(), 2);
    }

    #[test]
    fn joiner_caps_message_size() {
        for cut in [4, 1] {
            let header = [11, 0x10, 0, 0];
            let mut j = HandshakeJoiner::with_limit(1000);
            let mut got = join(&mut j, &header[..cut]);
            got.extend(join(&mut j, &header[cut..]));
            assert_eq!(
                got,
                vec![Err(FramingError::HandshakeTooLong {
                    len: 0x100000,
                    max: 1000
                })]
            );
            assert_eq!(j.buffered(), 0);
        }
        // The default cap is 1 MiB: 2^24-1 is refused.
        assert!(matches!(
            join(&mut HandshakeJoiner::new(), &[11, 0xff, 0xff, 0xff])[..],
            [Err(_)]
        ));
    }
}
