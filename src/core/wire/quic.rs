//! QUIC as captures show it (RFC 9000, RFC 9369 for v2): long headers (Initial, 0-RTT,
//! Handshake, Retry, Version Negotiation), the frames of the Initial and Handshake packet
//! number spaces (CRYPTO, PADDING, PING, ACK, CONNECTION_CLOSE), and the reassembly of a
//! CRYPTO stream from frames in any order. Pure and bounded: every length is checked against
//! the bytes present, and anything else is an `Err`, never a panic.
//!
//! Removing header protection and decrypting payloads needs keys: that is the crypto
//! layer's QUIC module, above this one.

use std::collections::BTreeMap;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

/// The versions whose Initial packets we decrypt.
pub fn is_known_version(version: u32) -> bool {
    version == VERSION_1 || version == VERSION_2
}

/// The type of a long-header packet (RFC 9000 §17.2), whatever the version's bit encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl PacketType {
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Initial => "Initial",
            PacketType::ZeroRtt => "0-RTT",
            PacketType::Handshake => "Handshake",
            PacketType::Retry => "Retry",
        }
    }

    /// The type from the two type bits of the first byte: v2 rotates v1's numbering
    /// (RFC 9369 §3.2).
    fn from_bits(version: u32, bits: u8) -> PacketType {
        let v1_bits = if version == VERSION_2 {
            (bits + 3) & 3
        } else {
            bits
        };
        match v1_bits {
            0 => PacketType::Initial,
            1 => PacketType::ZeroRtt,
            2 => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }
}

/// Why bytes are not a QUIC packet or frame we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicError(pub &'static str);

impl std::fmt::Display for QuicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A cursor over bytes with QUIC's variable-length integers (RFC 9000 §16).
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn u8(&mut self) -> Result<u8, QuicError> {
        let b = *self.buf.get(self.pos).ok_or(QuicError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], QuicError> {
        let end = self.pos.checked_add(n).ok_or(QuicError("truncated"))?;
        let out = self.buf.get(self.pos..end).ok_or(QuicError("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    pub fn u32(&mut self) -> Result<u32, QuicError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn varint(&mut self) -> Result<u64, QuicError> {
        let first = self.u8()?;
        let len = 1usize << (first >> 6);
        let mut v = u64::from(first & 0x3f);
        for &b in self.bytes(len - 1)? {
            v = v << 8 | u64::from(b);
        }
        Ok(v)
    }

    /// A varint used as a length of bytes that follow.
    pub fn varint_len(&mut self) -> Result<usize, QuicError> {
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| QuicError("length out of range"))
    }
}

/// A long-header packet's fields as read before header protection is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// The first byte as sent (its low bits still protected for Initial/0-RTT/Handshake).
    pub first: u8,
    pub version: u32,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    pub kind: LongKind<'a>,
}

/// What follows the connection IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LongKind<'a> {
    /// Version 0: the versions the server supports (RFC 9000 §17.2.1).
    VersionNegotiation { versions: Vec<u32> },
    /// A Retry (RFC 9000 §17.2.5): the token the client must echo; the integrity tag is not
    /// checked (a capture shows what was sent, keys or not).
    Retry { token: &'a [u8] },
    /// Initial, 0-RTT or Handshake: protected packet number and payload.
    Protected {
        packet_type: PacketType,
        /// The Initial packet's token (empty for other types).
        token: &'a [u8],
        /// Offset of the (protected) packet number from the packet's start.
        pn_offset: usize,
        /// The packet: header and payload (the Length field's extent, not the datagram's).
        packet: &'a [u8],
    },
}

/// Version Negotiation lists kept at most this long (a datagram could hold ~370).
const MAX_VN_VERSIONS: usize = 64;

/// Reads one long-header packet from the start of `datagram`; returns it and the length it
/// takes (coalesced packets follow it). `Ok(None)`: a short header (1-RTT), which ends the
/// datagram. Inlined: a capture reader calls it for every long-header packet, and returned
/// through memory its header (a hundred bytes) was copied twice more.
#[inline]
pub fn parse_long(datagram: &[u8]) -> Result<Option<(LongHeader<'_>, usize)>, QuicError> {
    let mut c = Cursor::new(datagram);
    let first = c.u8()?;
    if first & 0x80 == 0 {
        return Ok(None);
    }
    let version = c.u32()?;
    let dcid_len = usize::from(c.u8()?);
    let dcid = c.bytes(dcid_len)?;
    let scid_len = usize::from(c.u8()?);
    let scid = c.bytes(scid_len)?;
    if version == 0 {
        let mut versions = Vec::new();
        while c.remaining() >= 4 && versions.len() < MAX_VN_VERSIONS {
            versions.push(c.u32()?);
        }
        let header = LongHeader {
            first,
            version,
            dcid,
            scid,
            kind: LongKind::VersionNegotiation { versions },
        };
        return Ok(Some((header, datagram.len())));
    }
    // Connection IDs are at most 20 bytes in the versions we read.
    if dcid_len > 20 || scid_len > 20 {
        return Err(QuicError("connection ID longer than 20 bytes"));
    }
    if !is_known_version(version) {
        return Err(QuicError("unknown QUIC version"));
    }
    let packet_type = PacketType::from_bits(version, (first >> 4) & 3);
    if packet_type == PacketType::Retry {
        // The rest of the datagram, less the 16-byte integrity tag, is the token.
        let rest = c.remaining();
        let token = c.bytes(rest.saturating_sub(16))?;
        let header = LongHeader {
            first,
            version,
            dcid,
            scid,
            kind: LongKind::Retry { token },
        };
        return Ok(Some((header, datagram.len())));
    }
    let token = if packet_type == PacketType::Initial {
        let n = c.varint_len()?;
        c.bytes(n)?
    } else {
        &[]
    };
    let length = c.varint_len()?;
    let pn_offset = c.pos();
    let end = pn_offset
        .checked_add(length)
        .filter(|&e| e <= datagram.len())
        .ok_or(QuicError("packet length beyond the datagram"))?;
    let header = LongHeader {
        first,
        version,
        dcid,
        scid,
        kind: LongKind::Protected {
            packet_type,
            token,
            pn_offset,
            packet: &datagram[..end],
        },
    };
    Ok(Some((header, end)))
}

/// The full packet number nearest to the one expected after `largest` (RFC 9000 §A.3), from
/// its `pn_len`-byte truncation.
pub fn decode_packet_number(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let bits = 8 * pn_len as u32;
    let win = 1u64 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// A frame of the Initial or Handshake packet number space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Padding,
    Ping,
    Ack,
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE: 0x1c (QUIC layer, with the frame type that caused it) or 0x1d
    /// (application layer).
    ConnectionClose {
        application: bool,
        code: u64,
        frame_type: Option<u64>,
        reason: &'a [u8],
    },
}

/// The frames of a decrypted payload, in order; stops at the first frame it cannot read
/// (a type not allowed in these spaces, or a truncated frame) with that error.
pub fn frames(payload: &[u8]) -> Frames<'_> {
    Frames {
        c: Cursor::new(payload),
        failed: false,
    }
}

pub struct Frames<'a> {
    c: Cursor<'a>,
    failed: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, QuicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.c.is_empty() {
            return None;
        }
        let r = self.frame();
        self.failed = r.is_err();
        Some(r)
    }
}

impl<'a> Frames<'a> {
    fn frame(&mut self) -> Result<Frame<'a>, QuicError> {
        let c = &mut self.c;
        let t = c.varint()?;
        match t {
            0x00 => {
                // A run of padding is one frame.
                while c.buf.get(c.pos) == Some(&0) {
                    c.pos += 1;
                }
                Ok(Frame::Padding)
            }
            0x01 => Ok(Frame::Ping),
            0x02 | 0x03 => {
                c.varint()?; // largest acknowledged
                c.varint()?; // ack delay
                let ranges = c.varint()?;
                c.varint()?; // first range
                for _ in 0..ranges {
                    // Each range takes at least 2 bytes: a hostile count ends with the bytes.
                    c.varint()?;
                    c.varint()?;
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        c.varint()?;
                    }
                }
                Ok(Frame::Ack)
            }
            0x06 => {
                let offset = c.varint()?;
                let len = c.varint_len()?;
                let data = c.bytes(len)?;
                if offset.checked_add(len as u64).is_none_or(|e| e >= 1 << 62) {
                    return Err(QuicError("CRYPTO frame beyond 2^62"));
                }
                Ok(Frame::Crypto { offset, data })
            }
            0x1c | 0x1d => {
                let code = c.varint()?;
                let frame_type = if t == 0x1c { Some(c.varint()?) } else { None };
                let len = c.varint_len()?;
                let reason = c.bytes(len)?;
                Ok(Frame::ConnectionClose {
                    application: t == 0x1d,
                    code,
                    frame_type,
                    reason,
                })
            }
            _ => Err(QuicError(
                "frame type not allowed in Initial/Handshake packets",
            )),
        }
    }
}

/// QUIC transport error codes by name (RFC 9000 §20.1); crypto errors 0x0100–0x01ff carry a
/// TLS alert (named from the alert registry by the caller).
pub fn transport_error_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0x00 => "NO_ERROR",
        0x01 => "INTERNAL_ERROR",
        0x02 => "CONNECTION_REFUSED",
        0x03 => "FLOW_CONTROL_ERROR",
        0x04 => "STREAM_LIMIT_ERROR",
        0x05 => "STREAM_STATE_ERROR",
        0x06 => "FINAL_SIZE_ERROR",
        0x07 => "FRAME_ENCODING_ERROR",
        0x08 => "TRANSPORT_PARAMETER_ERROR",
        0x09 => "CONNECTION_ID_LIMIT_ERROR",
        0x0a => "PROTOCOL_VIOLATION",
        0x0b => "INVALID_TOKEN",
        0x0c => "APPLICATION_ERROR",
        0x0d => "CRYPTO_BUFFER_EXCEEDED",
        0x0e => "KEY_UPDATE_ERROR",
        0x0f => "AEAD_LIMIT_REACHED",
        0x10 => "NO_VIABLE_PATH",
        0x11 => "VERSION_NEGOTIATION_ERROR",
        _ => return None,
    })
}

/// The TLS alert a CONNECTION_CLOSE carries: QUIC error 0x0100 + alert (RFC 9001 §4.8).
pub fn crypto_error_alert(code: u64) -> Option<u8> {
    code.checked_sub(0x0100)
        .and_then(|alert| u8::try_from(alert).ok())
}

/// What a QUIC connection showed besides its handshake messages (those reach the tracker as
/// TLS handshake records, [`as_handshake_records`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuicSignal<'a> {
    /// A Handshake packet: its size, and (from a capture) the protected packet itself, for a
    /// tracker with a key log to decrypt; `None` when the caller decrypted it (a probe).
    Handshake {
        len: usize,
        packet: Option<&'a [u8]>,
    },
    /// The first 1-RTT (short header) packet of this direction: a client sends one only
    /// once it has the server's Finished, so from the client it means the handshake
    /// completed.
    OneRtt,
    /// The server asked the client to retry with a token (RFC 9000 §8.1.2).
    Retry,
    /// The server does not speak the client's version; it offered these.
    VersionNegotiation { versions: &'a [u32] },
    /// A CONNECTION_CLOSE in an Initial packet.
    Close {
        application: bool,
        code: u64,
        frame_type: Option<u64>,
        reason: &'a [u8],
    },
}

/// Why a CRYPTO stream stopped being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoOverflow {
    /// Data beyond the byte cap (a handshake flight is a few kilobytes).
    BeyondCap,
}

/// One CRYPTO stream (a packet number space, one direction): frames in any order and
/// overlapping, delivered as the in-order prefix grows. Holds at most `cap` bytes of stream.
#[derive(Debug)]
pub struct CryptoStream {
    /// Stream offset of the next byte to deliver.
    delivered: u64,
    /// Bytes received after a hole, by offset; disjoint, all after `delivered`.
    pending: BTreeMap<u64, Vec<u8>>,
    cap: u64,
    pub overflow: Option<CryptoOverflow>,
}

impl CryptoStream {
    pub fn new(cap: usize) -> Self {
        CryptoStream {
            delivered: 0,
            pending: BTreeMap::new(),
            cap: cap as u64,
            overflow: None,
        }
    }

    /// Bytes delivered so far (the stream offset of the next one).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes held out of order.
    pub fn held(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    /// Adds a frame's bytes at `offset`; `out` receives the newly in-order bytes (in one or
    /// more calls). Retransmitted and overlapping bytes keep the first copy.
    pub fn add(&mut self, offset: u64, data: &[u8], out: &mut impl FnMut(&[u8])) {
        let end = offset.saturating_add(data.len() as u64);
        if end > self.cap {
            self.overflow = Some(CryptoOverflow::BeyondCap);
        }
        let end = end.min(self.cap);
        if end <= self.delivered || offset >= end {
            return;
        }
        // Trim what was already delivered, and what lies beyond the cap.
        let start = offset.max(self.delivered);
        let data = &data[(start - offset) as usize..(end - offset) as usize];
        if start == self.delivered {
            out(data);
            self.delivered = end;
            self.drain(out);
        } else {
            self.hold(start, data);
        }
    }

    /// Keeps `data` at `start` (after a hole), without the parts already held.
    fn hold(&mut self, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        let mut at = start;
        // Pieces of [start, end) not covered by held entries.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let before = self.pending.range(..=start).next_back();
        if let Some((&s, v)) = before {
            at = at.max(s + v.len() as u64);
        }
        for (&s, v) in self.pending.range(start..end) {
            if s > at {
                pieces.push((at, s));
            }
            at = at.max(s + v.len() as u64);
        }
        if at < end {
            pieces.push((at, end));
        }
        for (s, e) in pieces {
            let bytes = data[(s - start) as usize..(e - start) as usize].to_vec();
            self.pending.insert(s, bytes);
        }
    }

    fn drain(&mut self, out: &mut impl FnMut(&[u8])) {
        while let Some(entry) = self.pending.first_entry() {
            let s = *entry.key();
            if s > self.delivered {
                break;
            }
            let v = entry.remove();
            let end = s + v.len() as u64;
            if end > self.delivered {
                out(&v[(self.delivered - s) as usize..]);
                self.delivered = end;
            }
        }
    }
}

/// Frames a stretch of a CRYPTO stream as TLS handshake records (type 22, version 0x0303,
/// at most 2^14 bytes each), so that a TLS record reader reads QUIC's handshake messages as
/// it reads them from TCP.
pub fn as_handshake_records(stream: &[u8], out: &mut Vec<u8>) {
    for chunk in stream.chunks(1 << 14) {
        out.extend_from_slice(&[0x16, 0x03, 0x03]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

/// A QUIC variable-length integer in its shortest form (values below 2^62).
pub fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend_from_slice(&(v as u16 | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(v as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// A CRYPTO frame carrying `data` at stream offset `offset`.
pub fn put_crypto_frame(out: &mut Vec<u8>, offset: u64, data: &[u8]) {
    out.push(0x06);
    put_varint(out, offset);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// An ACK frame (type 0x02, no ECN counts) for the packet numbers in `received`, which
/// must not be empty: ranges from the largest down, as RFC 9000 §19.3.1 writes them.
pub fn put_ack_frame(out: &mut Vec<u8>, received: &std::collections::BTreeSet<u64>) {
    // Contiguous runs, largest first: (largest, smallest).
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &pn in received.iter().rev() {
        match runs.last_mut() {
            Some((_, lo)) if *lo == pn + 1 => *lo = pn,
            _ => runs.push((pn, pn)),
        }
    }
    let Some(&(largest, first_lo)) = runs.first() else {
        return;
    };
    out.push(0x02);
    put_varint(out, largest);
    put_varint(out, 0); // ACK delay
    put_varint(out, runs.len() as u64 - 1);
    put_varint(out, largest - first_lo);
    let mut prev_lo = first_lo;
    for &(hi, lo) in &runs[1..] {
        put_varint(out, prev_lo - hi - 2); // gap
        put_varint(out, hi - lo);
        prev_lo = lo;
    }
}

/// A CONNECTION_CLOSE frame of the QUIC layer (type 0x1c: the only kind allowed in
/// Initial and Handshake packets) with `code`, no offending frame type, and `reason`.
pub fn put_connection_close(out: &mut Vec<u8>, code: u64, reason: &[u8]) {
    out.push(0x1c);
    put_varint(out, code);
    put_varint(out, 0);
    put_varint(out, reason.len() as u64);
    out.extend_from_slice(reason);
}

/// How a transport parameter's value is written (RFC 9000 §18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamValue {
    /// A variable-length integer.
    Integer,
    /// Bytes (connection IDs, tokens, addresses).
    Bytes,
    /// Present or absent, no value.
    Flag,
}

/// The transport parameters RFC 9000 §18.2 (and RFC 9368) define: id, name, how the value
/// is written.
pub const TRANSPORT_PARAMETERS: &[(u64, &str, ParamValue)] = &[
    (
        0x00,
        "original_destination_connection_id",
        ParamValue::Bytes,
    ),
    (0x01, "max_idle_timeout", ParamValue::Integer),
    (0x02, "stateless_reset_token", ParamValue::Bytes),
    (0x03, "max_udp_payload_size", ParamValue::Integer),
    (0x04, "initial_max_data", ParamValue::Integer),
    (
        0x05,
        "initial_max_stream_data_bidi_local",
        ParamValue::Integer,
    ),
    (
        0x06,
        "initial_max_stream_data_bidi_remote",
        ParamValue::Integer,
    ),
    (0x07, "initial_max_stream_data_uni", ParamValue::Integer),
    (0x08, "initial_max_streams_bidi", ParamValue::Integer),
    (0x09, "initial_max_streams_uni", ParamValue::Integer),
    (0x0a, "ack_delay_exponent", ParamValue::Integer),
    (0x0b, "max_ack_delay", ParamValue::Integer),
    (0x0c, "disable_active_migration", ParamValue::Flag),
    (0x0d, "preferred_address", ParamValue::Bytes),
    (0x0e, "active_connection_id_limit", ParamValue::Integer),
    (0x0f, "initial_source_connection_id", ParamValue::Bytes),
    (0x10, "retry_source_connection_id", ParamValue::Bytes),
    // RFC 9368 §3: the versions an endpoint speaks, for compatible version negotiation.
    (0x11, "version_information", ParamValue::Bytes),
];

/// A transport parameter's id from its name (or a number, decimal or `0x` hex).
pub fn transport_parameter_id(name: &str) -> Option<u64> {
    if let Some(&(id, _, _)) = TRANSPORT_PARAMETERS.iter().find(|p| p.1 == name) {
        return Some(id);
    }
    let id = match name.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => name.parse().ok()?,
    };
    (id < 1 << 62).then_some(id)
}

/// A transport parameter's name, when RFC 9000 defines it.
pub fn transport_parameter_name(id: u64) -> Option<&'static str> {
    TRANSPORT_PARAMETERS.iter().find(|p| p.0 == id).map(|p| p.1)
}

/// How a transport parameter's value is written (unknown ones: as bytes).
pub fn transport_parameter_kind(id: u64) -> ParamValue {
    TRANSPORT_PARAMETERS
        .iter()
        .find(|p| p.0 == id)
        .map_or(ParamValue::Bytes, |p| p.2)
}

/// The quic_transport_parameters extension's body: each parameter as id, length, value.
pub fn encode_transport_parameters(params: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, value) in params {
        put_varint(&mut out, *id);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

/// The parameters of a quic_transport_parameters extension body, in order.
pub fn decode_transport_parameters(body: &[u8]) -> Result<Vec<(u64, &[u8])>, QuicError> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while !c.is_empty() {
        let id = c.varint()?;
        let len = c.varint_len()?;
        out.push((id, c.bytes(len)?));
    }
    Ok(out)
}

/// A transport parameter's value for people: integers in decimal, bytes in hex, flags as
/// `true`.
pub fn transport_parameter_text(id: u64, value: &[u8]) -> String {
    match transport_parameter_kind(id) {
        ParamValue::Integer => {
            let mut c = Cursor::new(value);
            match c.varint() {
                Ok(v) if c.is_empty() => v.to_string(),
                _ => format!("malformed ({})", hex::encode(value)),
            }
        }
        ParamValue::Flag if value.is_empty() => "true".into(),
        _ => hex::encode(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_as_rfc_9000_appendix_a1() {
        for (hex_in, want) in [
            ("c2197c5eff14e88c", 151_288_809_941_952_652u64),
            ("9d7f3e7d", 494_878_333),
            ("7bbd", 15_293),
            ("25", 37),
            ("4025", 37),
        ] {
            let bytes = hex::decode(hex_in).unwrap();
            let mut c = Cursor::new(&bytes);
            assert_eq!(c.varint().unwrap(), want);
            assert!(c.is_empty());
        }
        assert!(Cursor::new(&[0xc2, 0x19]).varint().is_err());
    }

    #[test]
    fn packet_numbers_as_rfc_9000_appendix_a3() {
        // The RFC's example: largest 0xa82f30ea, 2-byte truncation 0x9b32.
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 2),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 0, 1), 0);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 1), 0x101);
        assert_eq!(decode_packet_number(Some(0x101), 0xff, 1), 0xff);
    }

    #[test]
    fn ack_frames_read_back() {
        let received: std::collections::BTreeSet<u64> = [0, 1, 2, 5, 6, 9].into();
        let mut f = Vec::new();
        put_ack_frame(&mut f, &received);
        // largest 9, first range 0, then gap 1 (7,8 missing) range 1, gap 1 (3,4) range 2.
        assert_eq!(f, [0x02, 9, 0, 2, 0, 1, 1, 1, 2]);
        assert_eq!(frames(&f).collect::<Vec<_>>(), vec![Ok(Frame::Ack)]);
        let mut c = Vec::new();
        put_connection_close(&mut c, 0, b"bye");
        put_crypto_frame(&mut c, 70, b"abc");
        let got: Vec<_> = frames(&c).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                Frame::ConnectionClose {
                    application: false,
                    code: 0,
                    frame_type: Some(0),
                    reason: b"bye"
                },
                Frame::Crypto {
                    offset: 70,
                    data: b"abc"
                }
            ]
        );
    }

    #[test]
    fn transport_parameters_round_trip() {
        let body = encode_transport_parameters(&[(0x0f, vec![1, 2]), (0x04, vec![0x44, 0])]);
        let params = decode_transport_parameters(&body).unwrap();
        assert_eq!(params, vec![(0x0f, &[1u8, 2][..]), (0x04, &[0x44, 0][..])]);
        assert_eq!(transport_parameter_text(0x04, &[0x44, 0]), "1024");
        assert_eq!(transport_parameter_text(0x0f, &[1, 2]), "0102");
        assert_eq!(transport_parameter_id("initial_max_data"), Some(4));
        assert_eq!(transport_parameter_id("0x2ab2"), Some(0x2ab2));
        assert_eq!(transport_parameter_id("nonsense"), None);
        assert!(decode_transport_parameters(&[0x01, 0x05, 0]).is_err());
    }

    #[test]
    fn v2_packet_type_bits() {
        assert_eq!(PacketType::from_bits(VERSION_2, 1), PacketType::Initial);
        assert_eq!(PacketType::from_bits(VERSION_2, 2), PacketType::ZeroRtt);
        assert_eq!(PacketType::from_bits(VERSION_2, 3), PacketType::Handshake);
        assert_eq!(PacketType::from_bits(VERSION_2, 0), PacketType::Retry);
        assert_eq!(PacketType::from_bits(VERSION_1, 0), PacketType::Initial);
        assert_eq!(PacketType::from_bits(VERSION_1, 3), PacketType::Retry);
    }

    #[test]
    fn version_negotiation_and_retry() {
        let mut vn = vec![0x80, 0, 0, 0, 0, 1, 0xaa, 1, 0xbb];
        vn.extend(VERSION_1.to_be_bytes());
        vn.extend(VERSION_2.to_be_bytes());
        let (h, len) = parse_long(&vn).unwrap().unwrap();
        assert_eq!(len, vn.len());
        assert_eq!(
            h.kind,
            LongKind::VersionNegotiation {
                versions: vec![VERSION_1, VERSION_2]
            }
        );
        let mut retry = vec![0xf0, 0, 0, 0, 1, 0, 2, 7, 7];
        retry.extend(b"token");
        retry.extend([0u8; 16]);
        let (h, _) = parse_long(&retry).unwrap().unwrap();
        assert_eq!(h.kind, LongKind::Retry { token: b"token" });
    }

    #[test]
    fn frames_of_an_initial() {
        let mut p = vec![0x02, 0x05, 0x00, 0x01, 0x00, 0x0b, 0x01]; // ACK with one range
        p.extend([0x06, 0x40, 0x10, 0x03, b'a', b'b', b'c']); // CRYPTO at 16
        p.extend([0x1c, 0x41, 0x28, 0x06, 0x02, b'n', b'o']); // close 0x128, frame CRYPTO
        p.extend([0x01, 0, 0, 0]);
        let got: Vec<_> = frames(&p).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                Frame::Ack,
                Frame::Crypto {
                    offset: 16,
                    data: b"abc"
                },
                Frame::ConnectionClose {
                    application: false,
                    code: 0x128,
                    frame_type: Some(6),
                    reason: b"no"
                },
                Frame::Ping,
                Frame::Padding,
            ]
        );
        assert_eq!(crypto_error_alert(0x128), Some(40));
        assert_eq!(crypto_error_alert(0x0a), None);
        // A stream frame is not allowed here: an error, then nothing more.
        let mut it = frames(&[0x08, 0, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn crypto_stream_out_of_order_overlapping_and_capped() {
        let mut s = CryptoStream::new(20);
        let mut got = Vec::new();
        let mut out = |b: &[u8]| got.extend_from_slice(b);
        s.add(10, b"klmno", &mut out);
        s.add(5, b"fghijklm", &mut out);
        s.add(3, b"de", &mut out);
        s.add(0, b"abc", &mut out);
        s.add(0, b"abcdefghijklmnopqrstuvwxyz", &mut out);
        assert_eq!(got, b"abcdefghijklmnopqrst");
        assert_eq!(s.overflow, Some(CryptoOverflow::BeyondCap));
        assert_eq!(s.held(), 0);
    }

    /// Whatever the bytes, parsing and frame reading end without a panic.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut next = crate::core::wire::xorshift64(0x2545_f491_4f6c_dd1d);
        let mut stream = CryptoStream::new(4096);
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(f) = b.first_mut() {
                *f |= 0x80;
            }
            if b.len() > 5 {
                b[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
            }
            let _ = parse_long(&b);
            for f in frames(&b) {
                if let Ok(Frame::Crypto { offset, data }) = f {
                    stream.add(offset % 8192, data, &mut |_| {});
                }
            }
            let _ = decode_packet_number(Some(next()), next() & 0xffff_ffff, 1 + len % 4);
        }
    }
}
