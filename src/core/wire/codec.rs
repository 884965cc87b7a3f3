//! Bounded reading and honest writing of big-endian TLS structures.
//!
//! A [`Reader`] never reads past the slice it was given, and a length-prefixed sub-reader
//! never reads past its prefix: a hostile length can produce an error, never a panic or an
//! out-of-bounds read. Every length prefix the encoders write goes through
//! [`put_prefixed`]: a body too long for its prefix is an error, never a length silently
//! taken modulo 2^8, 2^16 or 2^24; a deliberately wrong length is asked for explicitly.

use std::fmt;

/// Why bytes could not be decoded, and where (offset from the start of the outermost reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: String,
}

impl DecodeError {
    pub fn new(offset: usize, what: impl Into<String>) -> Self {
        DecodeError {
            offset,
            what: what.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over a byte slice that remembers its absolute offset for error messages.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos..];
        self.pos = self.buf.len();
        r
    }

    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    // The reads are small and many (a ClientHello has hundreds): inlined, with the error's
    // formatting kept out of line.
    #[inline]
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.short(n, what));
        }
        let r = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(r)
    }

    #[cold]
    #[inline(never)]
    fn short(&self, n: usize, what: &str) -> DecodeError {
        DecodeError::new(
            self.offset(),
            format!("{what}: needs {n} bytes, {} left", self.remaining()),
        )
    }

    #[inline]
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    #[inline]
    pub fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub fn u24(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    #[inline]
    pub fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A sub-reader over the next `n` bytes.
    #[inline]
    pub fn sub(&mut self, n: usize, what: &str) -> Result<Reader<'a>, DecodeError> {
        let base = self.offset();
        let buf = self.take(n, what)?;
        Ok(Reader { buf, pos: 0, base })
    }

    /// A sub-reader over a vector with a 1-byte length prefix.
    #[inline]
    pub fn sub_u8(&mut self, what: &str) -> Result<Reader<'a>, DecodeError> {
        let n = self.u8(what)? as usize;
        self.sub(n, what)
    }

    /// A sub-reader over a vector with a 2-byte length prefix.
    #[inline]
    pub fn sub_u16(&mut self, what: &str) -> Result<Reader<'a>, DecodeError> {
        let n = self.u16(what)? as usize;
        self.sub(n, what)
    }

    /// A sub-reader over a vector with a 3-byte length prefix.
    #[inline]
    pub fn sub_u24(&mut self, what: &str) -> Result<Reader<'a>, DecodeError> {
        let n = self.u24(what)? as usize;
        self.sub(n, what)
    }

    /// Fails unless every byte was consumed: trailing bytes in a length-delimited structure
    /// mean the peer (or our parse) is wrong, and must not pass silently.
    pub fn expect_end(&self, what: &str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(
                self.offset(),
                format!("{what}: {} trailing bytes", self.remaining()),
            ))
        }
    }
}

/// The width of a length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    U8,
    U16,
    U24,
}

impl Prefix {
    fn bytes(self) -> usize {
        match self {
            Prefix::U8 => 1,
            Prefix::U16 => 2,
            Prefix::U24 => 3,
        }
    }

    /// The largest length the prefix can hold.
    pub fn max(self) -> usize {
        (1 << (8 * self.bytes())) - 1
    }
}

/// A vector too long for its length prefix (or an override too large for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthOverflow {
    /// Which field: "extensions", "cipher_suites", "extension 0xff01", …
    pub what: String,
    pub len: usize,
    pub max: usize,
}

impl fmt::Display for LengthOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} bytes long, more than its length field can say (at most {})",
            self.what, self.len, self.max
        )
    }
}

impl std::error::Error for LengthOverflow {}

/// `len` as a length field of at most `max`, or the overflow error naming `what`: for
/// formats whose lengths are not written just before their data (SSLv2 puts them all in
/// its header).
pub fn checked_len(what: &str, len: usize, max: usize) -> Result<usize, LengthOverflow> {
    if len > max {
        return Err(LengthOverflow {
            what: what.to_string(),
            len,
            max,
        });
    }
    Ok(len)
}

/// Appends `items` as big-endian u16s, sized once and written in place rather than pushed
/// one at a time: a scan writes a hello's suite list (up to a few hundred) for every
/// connection, and the pushes' capacity checks were most of that work.
pub fn put_u16s(buf: &mut Vec<u8>, items: &[u16]) {
    let at = buf.len();
    buf.resize(at + 2 * items.len(), 0);
    for (out, v) in buf[at..].chunks_exact_mut(2).zip(items) {
        out.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes a vector with a `prefix`-wide length: reserves the prefix, lets `body` write the
/// contents after it, then fills in their length, or `forced` (a deliberately wrong length
/// asked for by the caller) verbatim. `what` names the field in the error.
pub fn put_prefixed(
    buf: &mut Vec<u8>,
    prefix: Prefix,
    what: &dyn Fn() -> String,
    forced: Option<usize>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), LengthOverflow>,
) -> Result<(), LengthOverflow> {
    let at = buf.len();
    let width = prefix.bytes();
    buf.extend_from_slice(&[0; 3][..width]);
    body(buf)?;
    let len = forced.unwrap_or(buf.len() - at - width);
    if len > prefix.max() {
        return Err(LengthOverflow {
            what: what(),
            len,
            max: prefix.max(),
        });
    }
    let be = (len as u32).to_be_bytes();
    buf[at..at + width].copy_from_slice(&be[4 - width..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_reader_is_bounded_and_reports_absolute_offsets() {
        let bytes = [0x00, 0x02, 0xaa, 0xbb, 0xcc];
        let mut r = Reader::new(&bytes);
        let mut inner = r.sub_u16("list").unwrap();
        assert_eq!(inner.u16("item").unwrap(), 0xaabb);
        let err = inner.u8("more").unwrap_err();
        assert_eq!(err.offset, 4);
        assert_eq!(r.u8("tail").unwrap(), 0xcc);
    }

    #[test]
    fn hostile_length_is_an_error() {
        let bytes = [0xff, 0xff, 0x01];
        let err = Reader::new(&bytes).sub_u16("list").unwrap_err();
        assert!(err.to_string().contains("needs 65535 bytes"));
    }

    #[test]
    fn u16s_are_appended_big_endian() {
        let mut b = vec![9];
        put_u16s(&mut b, &[0x0102, 0xa0b0]);
        put_u16s(&mut b, &[]);
        assert_eq!(b, [9, 0x01, 0x02, 0xa0, 0xb0]);
    }

    #[test]
    fn prefixes_are_written_or_refused() {
        let mut b = vec![9];
        let r = put_prefixed(&mut b, Prefix::U16, &|| "list".into(), None, |b| {
            b.extend_from_slice(&[1, 2, 3]);
            Ok(())
        });
        assert_eq!((r, &b[..]), (Ok(()), &[9, 0, 3, 1, 2, 3][..]));
        let mut b = Vec::new();
        let err = put_prefixed(&mut b, Prefix::U8, &|| "session_id".into(), None, |b| {
            b.extend_from_slice(&[0; 256]);
            Ok(())
        })
        .unwrap_err();
        assert_eq!((err.len, err.max), (256, 255));
        assert!(err.to_string().starts_with("session_id is 256 bytes long"));
        let mut b = Vec::new();
        put_prefixed(
            &mut b,
            Prefix::U24,
            &|| "msg".into(),
            Some(0xabcdef),
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(b, [0xab, 0xcd, 0xef]);
        let mut b = Vec::new();
        let e = put_prefixed(&mut b, Prefix::U8, &|| "x".into(), Some(300), |_| Ok(()));
        assert!(e.is_err());
    }
}
