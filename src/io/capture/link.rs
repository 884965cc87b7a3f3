//! Link layers down to TCP: Ethernet (with VLAN / QinQ), Linux SLL and SLL2, BSD null and
//! loopback, raw IPv4/IPv6; IPv4 and IPv6 with extension headers; IP fragments reassembled.
//! Tunnels are opened, nested up to [`MAX_TUNNEL_DEPTH`] deep: IP in IP (4in4, 6in4, 4in6,
//! 6in6), GRE (IP, transparent Ethernet bridging, ERSPAN types I, II and III), VXLAN (UDP
//! 4789) and CAPWAP data (UDP 5247: 802.3 or 802.11 frames). Outer packets must be captured
//! in full; fragmented ones are rebuilt first for GRE and IP in IP at the outermost level.
//!
//! etherparse's lax slicer does the IP and TCP work, so a packet cut by a small snap length
//! still yields its TCP header; the headers etherparse does not know (SLL2, null) are
//! stripped by hand.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    EtherType, Ipv6ExtensionSlice, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice,
    TransportSlice, ip_number,
};

use super::frag::{Defragmenter, FragKey, FragOutcome};
use super::{CaptureStats, Micros};

pub(crate) const LINKTYPE_NULL: u32 = 0;
pub(crate) const LINKTYPE_ETHERNET: u32 = 1;
pub(crate) const LINKTYPE_RAW_BSD: u32 = 12;
pub(crate) const LINKTYPE_RAW_OPENBSD: u32 = 14;
pub(crate) const LINKTYPE_RAW: u32 = 101;
pub(crate) const LINKTYPE_LOOP: u32 = 108;
pub(crate) const LINKTYPE_LINUX_SLL: u32 = 113;
pub(crate) const LINKTYPE_IPV4: u32 = 228;
pub(crate) const LINKTYPE_IPV6: u32 = 229;
pub(crate) const LINKTYPE_LINUX_SLL2: u32 = 276;

/// One end of a TCP connection, as plain numbers: every packet's ends are compared and
/// hashed to find its flow, so that must be cheap. The two ends of a flow are of one address
/// family, and between them the order (address, then port) is that of `(IpAddr, u16)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Endpoint {
    /// An IPv4 address is its 32-bit value (the [`Endpoint::V6`] bit tells it from the IPv6
    /// address `::a.b.c.d`).
    pub ip: u128,
    /// The port in the low 16 bits, [`Endpoint::V6`] above them.
    pub port_and_family: u32,
}

impl Endpoint {
    const V6: u32 = 1 << 16;

    pub fn new(ip: IpAddr, port: u16) -> Self {
        match ip {
            IpAddr::V4(a) => Endpoint {
                ip: u32::from(a).into(),
                port_and_family: port.into(),
            },
            IpAddr::V6(a) => Endpoint {
                ip: a.into(),
                port_and_family: u32::from(port) | Self::V6,
            },
        }
    }

    pub fn port(self) -> u16 {
        self.port_and_family as u16
    }

    pub fn socket_addr(self) -> SocketAddr {
        let ip = if self.port_and_family & Self::V6 != 0 {
            IpAddr::V6(self.ip.into())
        } else {
            IpAddr::V4((self.ip as u32).into())
        };
        SocketAddr::new(ip, self.port())
    }
}

/// One TCP segment, borrowed from the frame (or from the defragmenter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    /// Acknowledgment number (meaningful when `has_ack`).
    pub ack: u32,
    pub syn: bool,
    pub has_ack: bool,
    pub fin: bool,
    pub rst: bool,
    /// The captured payload bytes.
    pub payload: &'a [u8],
    /// The payload length the IP header announces (more than `payload.len()` when the
    /// capture cut the packet short).
    pub wire_len: usize,
}

/// One UDP datagram (unfragmented, captured in full), borrowed from the frame: QUIC's
/// carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Datagram<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub payload: &'a [u8],
}

/// What the general path found in a frame.
#[derive(Debug, PartialEq, Eq)]
enum Carried<'a> {
    Tcp(Segment<'a>),
    Udp(Datagram<'a>),
}

/// Decodes frames of any supported link type into TCP segments; owns the fragment state.
pub(crate) struct LinkDecoder {
    defrag: Defragmenter,
    /// A tunnel's outer datagram rebuilt from fragments (GRE, IP in IP), read from here.
    tunnel_datagram: Vec<u8>,
}

impl LinkDecoder {
    pub fn new(max_datagrams: usize, fragment_timeout: Micros) -> Self {
        LinkDecoder {
            defrag: Defragmenter::new(max_datagrams, fragment_timeout),
            tunnel_datagram: Vec::new(),
        }
    }

    /// Decodes one frame and hands its TCP segment to `then` (or its UDP datagram to `udp`);
    /// counts what it is not into `stats`. Nothing is handed on when the frame carries no
    /// (complete, for fragments) TCP segment or whole UDP datagram. Plain UDP has a fast
    /// path of its own, tried only after TCP's: the TCP case pays nothing for it.
    ///
    /// A callback rather than an `Option<Segment>`: the common frame's segment is built
    /// where `then` reads it, instead of being merged with the general path's result and
    /// copied once more (a stall on every packet: the copy's wide loads wait on the
    /// narrow stores that built it).
    /// `ctx` is what both callbacks work on (one of them runs). Two plain callbacks rather
    /// than a trait object or an enum result keep the TCP case a direct, inlined call.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn decode<C: ?Sized>(
        &mut self,
        linktype: u32,
        frame: &[u8],
        at: Micros,
        stats: &mut CaptureStats,
        ctx: &mut C,
        then: impl FnOnce(&mut C, &Segment<'_>, &mut CaptureStats),
        udp: impl FnOnce(&mut C, &Datagram<'_>, &mut CaptureStats),
    ) {
        if let Some(seg) = plain_tcp(linktype, frame) {
            then(ctx, &seg, stats);
        } else if let Some(d) = plain_udp(linktype, frame) {
            stats.non_tcp += 1;
            udp(ctx, &d, stats);
        } else {
            match self.decode_any(linktype, frame, at, stats) {
                Some(Carried::Tcp(seg)) => then(ctx, &seg, stats),
                Some(Carried::Udp(d)) => udp(ctx, &d, stats),
                None => {}
            }
        }
    }

    /// [`Self::decode`] for every frame, through etherparse.
    #[inline(never)]
    fn decode_any<'a>(
        &'a mut self,
        linktype: u32,
        frame: &'a [u8],
        at: Micros,
        stats: &mut CaptureStats,
    ) -> Option<Carried<'a>> {
        let LinkDecoder {
            defrag,
            tunnel_datagram,
        } = self;
        decode_at(defrag, Some(tunnel_datagram), linktype, frame, at, stats, 0)
    }

    /// Drops fragments older than the fragment timeout.
    pub fn expire(&mut self, now: Micros, stats: &mut CaptureStats) {
        if !self.defrag.is_empty() {
            let before = self.defrag.dropped;
            self.defrag.expire(now);
            stats.fragments_dropped += self.defrag.dropped - before;
        }
    }
}

/// [`LinkDecoder::decode_any`] of a frame found `depth` tunnels deep. `spare`: where a
/// tunnel's outer datagram rebuilt from fragments is kept while its inside is read (only
/// at the outermost level: a fragmented tunnel inside a tunnel is not rebuilt).
#[allow(clippy::too_many_arguments)]
fn decode_at<'a>(
    defrag: &'a mut Defragmenter,
    spare: Option<&'a mut Vec<u8>>,
    linktype: u32,
    frame: &'a [u8],
    at: Micros,
    stats: &mut CaptureStats,
    depth: usize,
) -> Option<Carried<'a>> {
    // Inner frames take this path too, not `plain_tcp`: one caller keeps that inlined
    // into the common case.
    let sliced = match slice_link(linktype, frame) {
        Ok(p) => p,
        Err(Skip::NotIp) => {
            stats.non_tcp += 1;
            return None;
        }
        Err(Skip::Unsupported) => {
            stats.unsupported_link += 1;
            return None;
        }
        Err(Skip::Malformed) => {
            stats.malformed += 1;
            return None;
        }
    };
    let (src, dst, payload, wire_len, frag) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let payload = v4.payload();
            let announced = usize::from(h.total_len())
                .saturating_sub(usize::from(h.ihl()) * 4)
                .saturating_sub(v4.extensions().auth.map_or(0, |a| a.slice().len()));
            let frag = payload.fragmented.then(|| {
                (
                    u32::from(h.identification()),
                    usize::from(h.fragments_offset().byte_offset()),
                    h.more_fragments(),
                )
            });
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                payload,
                wire_payload_len(payload, announced),
                frag,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let payload = v6.payload();
            let announced =
                usize::from(h.payload_length()).saturating_sub(v6.extensions().slice().len());
            let frag = if payload.fragmented {
                v6.extensions()
                    .clone()
                    .into_iter()
                    .find_map(|ext| match ext {
                        Ipv6ExtensionSlice::Fragment(f) => Some((
                            f.identification(),
                            usize::from(f.fragment_offset().byte_offset()),
                            f.more_fragments(),
                        )),
                        _ => None,
                    })
            } else {
                None
            };
            if payload.fragmented && frag.is_none() {
                stats.malformed += 1;
                return None;
            }
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                payload,
                wire_payload_len(payload, announced),
                frag,
            )
        }
        Some(LaxNetSlice::Arp(_)) | None => {
            stats.non_tcp += 1;
            return None;
        }
    };
    if payload.ip_number != ip_number::TCP {
        let whole = frag.is_none() && !payload.incomplete;
        let udp = if payload.ip_number == ip_number::UDP && whole {
            udp_datagram(src, dst, payload.payload)
        } else {
            None
        };
        if whole
            && let Some((inner_link, inner)) = tunnel_inner(payload.ip_number, payload.payload, udp)
        {
            if depth < MAX_TUNNEL_DEPTH {
                let carried = decode_at(defrag, None, inner_link, inner, at, stats, depth + 1);
                if depth == 0 && matches!(carried, Some(Carried::Udp(_))) {
                    stats.tunneled += 1;
                }
                return carried;
            }
            stats.tunnels_too_deep += 1;
        }
        if let Some((id, offset, more)) = frag
            && !payload.incomplete
            && matches!(payload.ip_number.0, IP_IN_IP | IPV6_IN_IP | GRE)
            && let Some(buf) = spare
        {
            // A GRE or IP-in-IP packet in fragments (ERSPAN's added headers often push a
            // mirrored frame past the MTU): rebuilt, then opened like a whole one.
            stats.fragments += 1;
            let key = FragKey {
                src,
                dst,
                id,
                protocol: payload.ip_number.0,
            };
            let dropped_before = defrag.dropped;
            let outcome = defrag.add(key, offset, more, payload.payload, at);
            stats.fragments_dropped += defrag.dropped - dropped_before;
            if matches!(outcome, FragOutcome::Complete) {
                stats.reassembled_datagrams += 1;
                defrag.take_datagram(buf);
                let whole: &'a Vec<u8> = buf;
                if depth < MAX_TUNNEL_DEPTH
                    && let Some((inner_link, inner)) = tunnel_inner(payload.ip_number, whole, None)
                {
                    return decode_at(defrag, None, inner_link, inner, at, stats, depth + 1);
                }
            }
        }
        stats.non_tcp += 1;
        // Whole, unfragmented UDP datagrams only: a QUIC Initial is sent with the
        // don't-fragment bit, in a datagram of at least 1,200 bytes.
        return udp.map(Carried::Udp);
    }
    if payload.incomplete {
        stats.truncated_packets += 1;
    }
    if let Some((id, offset, more)) = frag {
        stats.fragments += 1;
        if payload.incomplete {
            // A cut fragment can never complete its datagram.
            return None;
        }
        let key = FragKey {
            src,
            dst,
            id,
            protocol: ip_number::TCP.0,
        };
        let dropped_before = defrag.dropped;
        let outcome = defrag.add(key, offset, more, payload.payload, at);
        stats.fragments_dropped += defrag.dropped - dropped_before;
        return match outcome {
            FragOutcome::Complete => {
                stats.reassembled_datagrams += 1;
                let datagram = defrag.datagram();
                tcp_segment(src, dst, datagram, datagram.len(), stats).map(Carried::Tcp)
            }
            FragOutcome::Held | FragOutcome::Dropped => None,
        };
    }
    if depth > 0 {
        stats.tunneled += 1;
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Some(Carried::Tcp(segment_from(src, dst, tcp, wire_len))),
        _ => tcp_segment(src, dst, payload.payload, wire_len, stats).map(Carried::Tcp),
    }
}

/// The common case without etherparse: Ethernet or raw IP, an unfragmented IPv4 packet or
/// an IPv6 packet without extension headers, holding a whole TCP segment. etherparse's lax
/// slicer builds a large struct that is copied several times per packet, a good part of the
/// time per packet; here the few fields are read in place. Anything else (VLAN tags,
/// fragments, extension headers, packets cut by the snap length, inconsistent lengths)
/// gives `None` and takes the general path, which decodes the packets accepted here to the
/// same segment (a test compares the two).
#[inline]
fn plain_tcp(linktype: u32, frame: &[u8]) -> Option<Segment<'_>> {
    let (src, dst, family, tcp) = plain_ip(linktype, frame, ip_number::TCP.0)?;
    // The TCP header in place, with the checks etherparse's `TcpSlice` makes.
    let header: &[u8; 20] = tcp.get(..20)?.try_into().ok()?;
    let header_len = usize::from(header[12] >> 4) * 4;
    if header_len < 20 {
        return None;
    }
    let payload = tcp.get(header_len..)?;
    let half = |at: usize| u32::from(u16::from_be_bytes([header[at], header[at + 1]]));
    let word = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let flags = header[13];
    Some(Segment {
        src: Endpoint {
            ip: src,
            port_and_family: half(0) | family,
        },
        dst: Endpoint {
            ip: dst,
            port_and_family: half(2) | family,
        },
        seq: word(4),
        ack: word(8),
        fin: flags & 0x01 != 0,
        syn: flags & 0x02 != 0,
        rst: flags & 0x04 != 0,
        has_ack: flags & 0x10 != 0,
        payload,
        wire_len: payload.len(),
    })
}

/// [`plain_tcp`] for UDP: the common UDP frame (a QUIC datagram) read in place rather than
/// through etherparse, whose slicing and copies were most of the cost of a small QUIC
/// packet. Datagrams to or from a tunnel's port (VXLAN, CAPWAP) take the general path,
/// which opens them; anything else not accepted here does too, and the general path
/// decodes the datagrams accepted here to the same one (a test compares the two). Not
/// inlined: it runs only for frames that are not plain TCP.
#[inline(never)]
fn plain_udp(linktype: u32, frame: &[u8]) -> Option<Datagram<'_>> {
    let (src, dst, family, udp) = plain_ip(linktype, frame, ip_number::UDP.0)?;
    let header: &[u8; 8] = udp.get(..8)?.try_into().ok()?;
    let port = |at: usize| u32::from(u16::from_be_bytes([header[at], header[at + 1]]));
    let (src_port, dst_port) = (port(0), port(2));
    let tunnel = |p: u32| p == u32::from(CAPWAP_DATA_PORT);
    if dst_port == u32::from(VXLAN_PORT) || tunnel(src_port) || tunnel(dst_port) {
        return None;
    }
    // As `udp_datagram`: the length the header announces, `None` when it claims more.
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let payload = udp.get(8..len.max(8))?;
    Some(Datagram {
        src: Endpoint {
            ip: src,
            port_and_family: src_port | family,
        },
        dst: Endpoint {
            ip: dst,
            port_and_family: dst_port | family,
        },
        payload,
    })
}

/// The addresses, the family bit of [`Endpoint`] and the transport bytes of a frame of
/// Ethernet or raw IP holding a plain (see [`plain_tcp`]) IP packet of `protocol`. Always
/// inlined: with two callers it would otherwise be a call on TCP's per-packet path (1 %
/// more instructions for a TCP capture, measured).
#[inline(always)]
fn plain_ip(linktype: u32, frame: &[u8], protocol: u8) -> Option<(u128, u128, u32, &[u8])> {
    // The IP bytes, and the IP version the Ethernet type announces.
    let (ip, announced) = match linktype {
        LINKTYPE_ETHERNET => match frame.get(12..14)? {
            [0x08, 0x00] => (frame.get(14..)?, Some(4)),
            [0x86, 0xdd] => (frame.get(14..)?, Some(6)),
            _ => return None,
        },
        LINKTYPE_RAW | LINKTYPE_RAW_BSD | LINKTYPE_RAW_OPENBSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => {
            (frame, None)
        }
        _ => return None,
    };
    let version = ip.first()? >> 4;
    if announced.is_some_and(|v| v != version) {
        return None;
    }
    match version {
        4 => {
            let (src, dst, payload) = plain_ipv4(ip, protocol)?;
            Some((src, dst, 0, payload))
        }
        6 => {
            let (src, dst, payload) = plain_ipv6(ip, protocol)?;
            Some((src, dst, Endpoint::V6, payload))
        }
        _ => None,
    }
}

/// Addresses and payload of an IPv4 packet captured in full, unfragmented, carrying
/// `protocol`.
#[inline]
fn plain_ipv4(ip: &[u8], protocol: u8) -> Option<(u128, u128, &[u8])> {
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    // More-fragments flag or a fragment offset: a fragment.
    if header_len < 20 || total_len < header_len || flags_offset & 0x3fff != 0 {
        return None;
    }
    if *ip.get(9)? != protocol {
        return None;
    }
    // `get` fails when the capture holds less than `total_len`: a cut packet.
    let payload = ip.get(header_len..total_len)?;
    let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
    Some((
        u32::from_be_bytes(src).into(),
        u32::from_be_bytes(dst).into(),
        payload,
    ))
}

/// Addresses and payload of an IPv6 packet captured in full, `protocol` right after the
/// header.
#[inline]
fn plain_ipv6(ip: &[u8], protocol: u8) -> Option<(u128, u128, &[u8])> {
    let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
    // Length 0 is a jumbogram or segmentation offload: the general path decides.
    if payload_len == 0 || *ip.get(6)? != protocol {
        return None;
    }
    let payload = ip.get(40..40 + payload_len)?;
    let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
    Some((u128::from_be_bytes(src), u128::from_be_bytes(dst), payload))
}

/// Tunnels opened inside one another at most this deep; a packet nested deeper is not read
/// (counted in `tunnels_too_deep`), so a hostile nesting costs a bounded amount of work.
pub(crate) const MAX_TUNNEL_DEPTH: usize = 4;

const VXLAN_PORT: u16 = 4789;
const CAPWAP_DATA_PORT: u16 = 5247;
const IP_IN_IP: u8 = 4;
const IPV6_IN_IP: u8 = 41;
const GRE: u8 = 47;

/// The frame inside a tunnel, with the link type it is read as: an IP packet in IP (4, 41),
/// an IP packet or Ethernet frame in GRE (47), an Ethernet (or 802.11) frame in a UDP
/// datagram `udp` to VXLAN's or CAPWAP data's port.
fn tunnel_inner<'a>(
    protocol: etherparse::IpNumber,
    payload: &'a [u8],
    udp: Option<Datagram<'a>>,
) -> Option<(u32, &'a [u8])> {
    match protocol.0 {
        IP_IN_IP | IPV6_IN_IP => Some((LINKTYPE_RAW, payload)),
        GRE => gre_inner(payload),
        _ => {
            let d = udp?;
            if d.dst.port() == VXLAN_PORT {
                vxlan_inner(d.payload)
            } else if d.dst.port() == CAPWAP_DATA_PORT || d.src.port() == CAPWAP_DATA_PORT {
                capwap_inner(d.payload)
            } else {
                None
            }
        }
    }
}

/// GRE (RFC 2784/2890, version 0): optional checksum, key and sequence number, then IPv4,
/// IPv6, an Ethernet frame (transparent Ethernet bridging), or ERSPAN: type I (0x88be
/// without a sequence number: the frame follows), type II (0x88be with one: an 8-byte
/// header) and type III (0x22eb: a 12-byte header and an optional 8-byte platform part).
fn gre_inner(p: &[u8]) -> Option<(u32, &[u8])> {
    let flags = u16::from_be_bytes([*p.first()?, *p.get(1)?]);
    let protocol = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]);
    // Version 1 is PPTP's enhanced GRE; routing (RFC 1701) is not read.
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        return None;
    }
    let has_seq = flags & 0x1000 != 0;
    let len = 4
        + 4 * usize::from(flags & 0x8000 != 0)
        + 4 * usize::from(flags & 0x2000 != 0)
        + 4 * usize::from(has_seq);
    let rest = p.get(len..)?;
    match protocol {
        0x0800 | 0x86dd => Some((LINKTYPE_RAW, rest)),
        0x6558 => Some((LINKTYPE_ETHERNET, rest)),
        0x88be if !has_seq => Some((LINKTYPE_ETHERNET, rest)),
        0x88be => {
            // ERSPAN II: version 1 in the first four bits.
            (rest.first()? >> 4 == 1).then_some((LINKTYPE_ETHERNET, rest.get(8..)?))
        }
        0x22eb => {
            // ERSPAN III: version 2; the last 16 bits of the header hold the frame type
            // (0 Ethernet, 2 IP) and the O flag (a platform-specific subheader follows).
            if rest.first()? >> 4 != 2 {
                return None;
            }
            let word = u16::from_be_bytes([*rest.get(10)?, *rest.get(11)?]);
            let len = 12 + 8 * usize::from(word & 1);
            match (word >> 10) & 0x1f {
                0 => Some((LINKTYPE_ETHERNET, rest.get(len..)?)),
                2 => Some((LINKTYPE_RAW, rest.get(len..)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// VXLAN (RFC 7348): an 8-byte header with the I flag (a valid VNI), then an Ethernet frame.
fn vxlan_inner(p: &[u8]) -> Option<(u32, &[u8])> {
    (p.first()? & 0x08 != 0).then_some((LINKTYPE_ETHERNET, p.get(8..)?))
}

/// CAPWAP data (RFC 5415): a header of HLEN 4-byte words, then the frame: 802.3 when the T
/// flag says native, else an 802.11 data frame whose LLC/SNAP header names IPv4 or IPv6.
/// DTLS-protected packets (preamble type 1) and fragments are not read.
fn capwap_inner(p: &[u8]) -> Option<(u32, &[u8])> {
    let [preamble, b1, b2, b3, ..] = *p else {
        return None;
    };
    let fragment = b3 & 0x80 != 0;
    if preamble != 0 || fragment {
        return None;
    }
    let header_len = usize::from(b1 >> 3) * 4;
    let frame = p.get(header_len.max(8)..)?;
    if b2 & 0x01 != 0 {
        return Some((LINKTYPE_ETHERNET, frame));
    }
    ieee80211_inner(frame)
}

/// The IP packet in an unprotected 802.11 data frame with an LLC/SNAP header.
fn ieee80211_inner(f: &[u8]) -> Option<(u32, &[u8])> {
    let (fc0, fc1) = (*f.first()?, *f.get(1)?);
    let data = (fc0 >> 2) & 0x3 == 2;
    let subtype = fc0 >> 4;
    // Protected frames are encrypted; "null" subtypes carry nothing.
    if !data || fc1 & 0x40 != 0 || subtype & 0x4 != 0 {
        return None;
    }
    let qos = subtype & 0x8 != 0;
    let len = 24
        + 6 * usize::from(fc1 & 0x03 == 0x03)
        + 2 * usize::from(qos)
        + 4 * usize::from(qos && fc1 & 0x80 != 0);
    match f.get(len..len + 8)? {
        [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00] | [0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd] => {
            Some((LINKTYPE_RAW, f.get(len + 8..)?))
        }
        _ => None,
    }
}

/// The IP payload length on the wire: the announced length, unless the header says 0 or less
/// than was captured (segmentation offload on the capturing host writes 0).
fn wire_payload_len(payload: &LaxIpPayloadSlice<'_>, announced: usize) -> usize {
    if payload.incomplete {
        announced.max(payload.payload.len())
    } else {
        payload.payload.len()
    }
}

/// The datagram in a UDP packet's IP payload: the 8-byte header's ports, and the payload
/// the header's length announces (less when it claims more than is there: `None`).
fn udp_datagram(src: IpAddr, dst: IpAddr, ip_payload: &[u8]) -> Option<Datagram<'_>> {
    let header = ip_payload.get(..8)?;
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let payload = ip_payload.get(8..len.max(8))?;
    Some(Datagram {
        src: Endpoint::new(src, u16::from_be_bytes([header[0], header[1]])),
        dst: Endpoint::new(dst, u16::from_be_bytes([header[2], header[3]])),
        payload,
    })
}

fn tcp_segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip_payload: &'a [u8],
    wire_len: usize,
    stats: &mut CaptureStats,
) -> Option<Segment<'a>> {
    match TcpSlice::from_slice(ip_payload) {
        Ok(tcp) => Some(segment_from(src, dst, &tcp, wire_len)),
        Err(_) => {
            // Either the snap length cut into the TCP header (counted as truncated already)
            // or the header is bad.
            stats.malformed += 1;
            None
        }
    }
}

fn segment_from<'a>(
    src: IpAddr,
    dst: IpAddr,
    tcp: &TcpSlice<'a>,
    ip_wire_len: usize,
) -> Segment<'a> {
    let header_len = tcp.header_slice().len();
    let payload = tcp.payload();
    Segment {
        src: Endpoint::new(src, tcp.source_port()),
        dst: Endpoint::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        has_ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
        wire_len: ip_wire_len.saturating_sub(header_len).max(payload.len()),
    }
}

/// Why a frame yields no IP packet.
enum Skip {
    NotIp,
    Unsupported,
    Malformed,
}

fn slice_link(linktype: u32, frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match linktype {
        LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Malformed),
        LINKTYPE_LINUX_SLL => match frame.get(14..16) {
            Some(t) => from_ether_type(u16::from_be_bytes([t[0], t[1]]), &frame[16..]),
            None => Err(Skip::Malformed),
        },
        LINKTYPE_LINUX_SLL2 => match (frame.get(0..2), frame.get(20..)) {
            (Some(t), Some(rest)) => from_ether_type(u16::from_be_bytes([t[0], t[1]]), rest),
            _ => Err(Skip::Malformed),
        },
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let Some(family) = frame.get(0..4) else {
                return Err(Skip::Malformed);
            };
            // The family is in the capturing host's byte order (NULL) or big-endian (LOOP,
            // though not every writer agrees): accept either.
            let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
            let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
            let family = if le <= 0xffff { le } else { be };
            match family {
                // AF_INET, and AF_INET6 as Linux, BSDs, FreeBSD and macOS number it.
                2 | 10 | 24 | 28 | 30 => from_ip(&frame[4..]),
                _ => Err(Skip::NotIp),
            }
        }
        LINKTYPE_RAW | LINKTYPE_RAW_BSD | LINKTYPE_RAW_OPENBSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => {
            from_ip(frame)
        }
        _ => Err(Skip::Unsupported),
    }
}

fn from_ether_type(ether_type: u16, rest: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let p = LaxSlicedPacket::from_ether_type(EtherType(ether_type), rest);
    if p.net.is_none() && p.link_exts.is_empty() && p.stop_err.is_none() {
        return Err(Skip::NotIp);
    }
    Ok(p)
}

fn from_ip(frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    LaxSlicedPacket::from_ip(frame).map_err(|_| Skip::Malformed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    pub(crate) const PAYLOAD: &[u8] = b"\x16\x03\x01\x00\x05hello";

    /// The fast path agrees with etherparse on every frame it accepts: real frames and
    /// frames with bytes of their headers changed, cut or padded.
    #[test]
    fn plain_path_decodes_as_the_general_path() {
        let payload = [0x16u8; 300];
        let mut bases: Vec<(u32, Vec<u8>)> = Vec::new();
        for len in [0, 1, 300] {
            let mut v = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000, 443, 1000, 100)
                .syn()
                .write(&mut v, &payload[..len])
                .unwrap();
            bases.push((LINKTYPE_ETHERNET, v));
            let mut v = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv6([1; 16], [2; 16], 64)
                .tcp(443, 40000, 7, 100)
                .ack(9)
                .fin()
                .write(&mut v, &payload[..len])
                .unwrap();
            bases.push((LINKTYPE_ETHERNET, v.clone()));
            bases.push((LINKTYPE_RAW, v[14..].to_vec()));
            bases.push((LINKTYPE_IPV4, v[14..].to_vec()));
        }
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1000, 100)
            .rst()
            .write(&mut v, &payload[..20])
            .unwrap();
        bases.push((LINKTYPE_RAW, v));

        // Mostly the headers: Ethernet, IP and TCP fit in the first 80 bytes.
        let fast = mutated_frames(&bases, 0x9e37_79b9_7f4a_7c15, 80, |linktype, frame| {
            let Some(seg) = plain_tcp(linktype, frame) else {
                return false;
            };
            assert_general_path(linktype, frame, Carried::Tcp(seg), CaptureStats::default());
            true
        });
        // Mutated frames often stay plain (a changed port or payload byte).
        assert!(fast > 10_000, "{fast}");
    }

    /// The UDP fast path agrees with etherparse too (a datagram, and `non_tcp` counted once),
    /// and leaves tunnels' datagrams to the general path.
    #[test]
    fn plain_udp_decodes_as_the_general_path() {
        let payload = [0xc3u8; 300];
        let mut bases: Vec<(u32, Vec<u8>)> = Vec::new();
        for len in [0, 1, 300] {
            let mut v = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(40000, 443)
                .write(&mut v, &payload[..len])
                .unwrap();
            bases.push((LINKTYPE_ETHERNET, v.clone()));
            bases.push((LINKTYPE_RAW, v[14..].to_vec()));
            let mut v = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv6([1; 16], [2; 16], 64)
                .udp(443, 40000)
                .write(&mut v, &payload[..len])
                .unwrap();
            bases.push((LINKTYPE_ETHERNET, v.clone()));
            bases.push((LINKTYPE_IPV6, v[14..].to_vec()));
        }
        let fast = mutated_frames(&bases, 0x2545_f491_4f6c_dd1d, 70, |linktype, frame| {
            let Some(d) = plain_udp(linktype, frame) else {
                return false;
            };
            let one = CaptureStats {
                non_tcp: 1,
                ..CaptureStats::default()
            };
            assert_general_path(linktype, frame, Carried::Udp(d), one);
            true
        });
        assert!(fast > 10_000, "{fast}");
        // VXLAN and CAPWAP datagrams are opened by the general path.
        for (src, dst) in [
            (1, VXLAN_PORT),
            (CAPWAP_DATA_PORT, 2),
            (3, CAPWAP_DATA_PORT),
        ] {
            let mut v = Vec::new();
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(src, dst)
                .write(&mut v, &payload[..40])
                .unwrap();
            assert!(plain_udp(LINKTYPE_RAW, &v).is_none());
        }
    }

    /// etherparse's general path makes `fast` of the frame too, counting `counted`.
    fn assert_general_path(linktype: u32, frame: &[u8], fast: Carried<'_>, counted: CaptureStats) {
        let mut stats = CaptureStats::default();
        let mut decoder = LinkDecoder::new(8, 1_000_000);
        let general = decoder.decode_any(linktype, frame, 0, &mut stats);
        assert_eq!(Some(fast), general, "{linktype} {frame:02x?}");
        assert_eq!(stats, counted, "{frame:02x?}");
    }

    /// 40,000 frames: each base frame, then copies with 1–3 of their first `span` bytes
    /// changed, some cut or padded (a fixed xorshift sequence from `seed`). Returns how
    /// many `check` accepted.
    fn mutated_frames(
        bases: &[(u32, Vec<u8>)],
        seed: u64,
        span: u64,
        mut check: impl FnMut(u32, &[u8]) -> bool,
    ) -> usize {
        let mut next = crate::core::wire::xorshift64(seed);
        let mut accepted = 0;
        for round in 0..40_000 {
            let (linktype, base) = &bases[round % bases.len()];
            let mut frame = base.clone();
            if round >= bases.len() {
                for _ in 0..1 + next() % 3 {
                    let at = (next() % span) as usize % frame.len();
                    frame[at] = next() as u8;
                }
                match next() % 4 {
                    0 => frame.truncate((next() % frame.len() as u64) as usize),
                    1 => frame.extend(std::iter::repeat_n(0, (next() % 64) as usize)),
                    _ => {}
                }
            }
            accepted += usize::from(check(*linktype, &frame));
        }
        accepted
    }

    fn ipv4_tcp() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1000, 100)
            .ack(5)
            .write(&mut v, PAYLOAD)
            .unwrap();
        v
    }

    /// Source port, destination port, payload, announced payload length.
    type Decoded = Option<(u16, u16, Vec<u8>, usize)>;

    /// What `decode` handed on: ports, sequence number, payload, announced payload length.
    fn decoded(
        d: &mut LinkDecoder,
        linktype: u32,
        frame: &[u8],
        stats: &mut CaptureStats,
    ) -> Option<(u16, u16, u32, Vec<u8>, usize)> {
        let mut got = None;
        d.decode(
            linktype,
            frame,
            0,
            stats,
            &mut got,
            |got, s, _| {
                *got = Some((
                    s.src.port(),
                    s.dst.port(),
                    s.seq,
                    s.payload.to_vec(),
                    s.wire_len,
                ));
            },
            |_, _, _| {},
        );
        got
    }

    fn decode_one(linktype: u32, frame: &[u8]) -> (Decoded, CaptureStats) {
        let mut d = LinkDecoder::new(8, 1_000_000);
        let mut stats = CaptureStats::default();
        let seg = decoded(&mut d, linktype, frame, &mut stats)
            .map(|(src, dst, _, payload, wire_len)| (src, dst, payload, wire_len));
        (seg, stats)
    }

    fn assert_tcp(linktype: u32, frame: &[u8]) {
        let (seg, stats) = decode_one(linktype, frame);
        assert_eq!(
            seg,
            Some((40000, 443, PAYLOAD.to_vec(), PAYLOAD.len())),
            "{stats:?}"
        );
    }

    #[test]
    fn ethernet_vlan_qinq() {
        let mut plain = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1000, 100)
            .write(&mut plain, PAYLOAD)
            .unwrap();
        assert_tcp(LINKTYPE_ETHERNET, &plain);
        // Hand-built tags: 802.1Q, then 802.1ad + 802.1Q (QinQ).
        let ip = ipv4_tcp();
        let mut vlan = vec![2u8; 6];
        vlan.extend([1u8; 6]);
        vlan.extend([0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        vlan.extend(&ip);
        assert_tcp(LINKTYPE_ETHERNET, &vlan);
        let mut qinq = vec![2u8; 6];
        qinq.extend([1u8; 6]);
        qinq.extend([0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        qinq.extend(&ip);
        assert_tcp(LINKTYPE_ETHERNET, &qinq);
    }

    #[test]
    fn sll_sll2_null_loop_raw() {
        let ip = ipv4_tcp();
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend(&ip);
        assert_tcp(LINKTYPE_LINUX_SLL, &sll);
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend(&ip);
        assert_tcp(LINKTYPE_LINUX_SLL2, &sll2);
        for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let mut null = family.to_vec();
            null.extend(&ip);
            assert_tcp(LINKTYPE_NULL, &null);
            assert_tcp(LINKTYPE_LOOP, &null);
        }
        assert_tcp(LINKTYPE_RAW, &ip);
        assert_tcp(LINKTYPE_IPV4, &ip);
        // Something else in a null header (AF_APPLETALK = 16) is not IP.
        let mut other = vec![16, 0, 0, 0];
        other.extend(&ip);
        let (seg, stats) = decode_one(LINKTYPE_NULL, &other);
        assert!(seg.is_none());
        assert_eq!(stats.non_tcp, 1);
        let (seg, stats) = decode_one(147, &ip);
        assert!(seg.is_none());
        assert_eq!(stats.unsupported_link, 1);
    }

    #[test]
    fn ipv6_with_extension_headers_and_sll2() {
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 443, 1000, 100)
            .write(&mut v6, PAYLOAD)
            .unwrap();
        assert_tcp(LINKTYPE_RAW, &v6);
        assert_tcp(LINKTYPE_IPV6, &v6);
        // Insert a destination options header (8 bytes of padding) after the fixed header.
        let mut ext = v6[..40].to_vec();
        ext[6] = 60; // next header: destination options
        let plen = u16::from_be_bytes([v6[4], v6[5]]) + 8;
        ext[4..6].copy_from_slice(&plen.to_be_bytes());
        ext.extend([6, 0, 1, 4, 0, 0, 0, 0]); // next = TCP, len 0, PadN
        ext.extend(&v6[40..]);
        assert_tcp(LINKTYPE_RAW, &ext);
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend(&ext);
        assert_tcp(LINKTYPE_LINUX_SLL2, &sll2);
    }

    #[test]
    fn snaplen_cut_still_gives_tcp_header() {
        let ip = ipv4_tcp();
        let cut = &ip[..ip.len() - 4];
        let (seg, stats) = decode_one(LINKTYPE_RAW, cut);
        let (_, _, payload, wire_len) = seg.unwrap();
        assert_eq!(payload, &PAYLOAD[..PAYLOAD.len() - 4]);
        assert_eq!(wire_len, PAYLOAD.len());
        assert_eq!(stats.truncated_packets, 1);
        // Cut inside the TCP header: nothing, counted.
        let (seg, stats) = decode_one(LINKTYPE_RAW, &ip[..30]);
        assert!(seg.is_none());
        assert_eq!((stats.truncated_packets, stats.malformed), (1, 1));
    }

    /// Splits an IPv4 TCP packet into fragments of `chunk` bytes (a multiple of 8).
    pub(crate) fn fragment_v4(ip: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let body = &ip[ihl..];
        let mut out = Vec::new();
        for (i, part) in body.chunks(chunk).enumerate() {
            let mut h = ip[..ihl].to_vec();
            let off = (i * chunk / 8) as u16;
            let more = (i + 1) * chunk < body.len();
            let flags_off = off | if more { 0x2000 } else { 0 };
            h[2..4].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
            h[6..8].copy_from_slice(&flags_off.to_be_bytes());
            h.extend(part);
            out.push(h);
        }
        out
    }

    #[test]
    fn ipv4_fragments_reassembled_in_any_order() {
        let mut ip = Vec::new();
        let payload: Vec<u8> = (0..100u8).collect();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1000, 100)
            .write(&mut ip, &payload)
            .unwrap();
        let mut frags = fragment_v4(&ip, 40);
        assert_eq!(frags.len(), 3);
        frags.swap(0, 2);
        let mut d = LinkDecoder::new(8, 1_000_000);
        let mut stats = CaptureStats::default();
        assert!(decoded(&mut d, LINKTYPE_RAW, &frags[0], &mut stats).is_none());
        assert!(decoded(&mut d, LINKTYPE_RAW, &frags[1], &mut stats).is_none());
        let (src, _, seq, got, _) = decoded(&mut d, LINKTYPE_RAW, &frags[2], &mut stats).unwrap();
        assert_eq!(got, payload);
        assert_eq!((src, seq), (40000, 1000));
        assert_eq!((stats.fragments, stats.reassembled_datagrams), (3, 1));
    }

    #[test]
    fn ipv6_fragments_reassembled() {
        let mut v6 = Vec::new();
        let payload: Vec<u8> = (0..100u8).collect();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 443, 1000, 100)
            .write(&mut v6, &payload)
            .unwrap();
        let body = &v6[40..];
        let mut frames = Vec::new();
        for (i, part) in body.chunks(64).enumerate() {
            let mut f = v6[..40].to_vec();
            f[6] = 44; // fragment header
            f[4..6].copy_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            let more = (i + 1) * 64 < body.len();
            let off = ((i * 64 / 8) as u16) << 3 | u16::from(more);
            f.extend([6, 0]);
            f.extend(off.to_be_bytes());
            f.extend(0xdeadbeefu32.to_be_bytes());
            f.extend(part);
            frames.push(f);
        }
        let mut d = LinkDecoder::new(8, 1_000_000);
        let mut stats = CaptureStats::default();
        assert!(decoded(&mut d, LINKTYPE_RAW, &frames[1], &mut stats).is_none());
        let (_, _, _, got, _) = decoded(&mut d, LINKTYPE_RAW, &frames[0], &mut stats).unwrap();
        assert_eq!(got, payload);
        assert_eq!(stats.reassembled_datagrams, 1);
    }

    #[test]
    fn udp_and_arp_are_not_tcp() {
        let mut udp = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1, 2)
            .write(&mut udp, b"x")
            .unwrap();
        let (seg, stats) = decode_one(LINKTYPE_RAW, &udp);
        assert!(seg.is_none());
        assert_eq!(stats.non_tcp, 1);
        // The datagram goes to the UDP callback, with its ports and payload.
        let mut d = LinkDecoder::new(8, 1_000_000);
        let mut got = None;
        d.decode(
            LINKTYPE_RAW,
            &udp,
            0,
            &mut CaptureStats::default(),
            &mut got,
            |_, _, _| panic!("not TCP"),
            |got, u, _| *got = Some((u.src.port(), u.dst.port(), u.payload.to_vec())),
        );
        assert_eq!(got, Some((1, 2, b"x".to_vec())));
        // A length beyond the bytes present: nothing.
        let mut bad = udp.clone();
        let at = bad.len() - 5;
        bad[at..at + 2].copy_from_slice(&100u16.to_be_bytes());
        let mut called = false;
        LinkDecoder::new(8, 1_000_000).decode(
            LINKTYPE_RAW,
            &bad,
            0,
            &mut CaptureStats::default(),
            &mut called,
            |_, _, _| {},
            |called, _, _| *called = true,
        );
        assert!(!called);
        let mut arp = vec![0xffu8; 12];
        arp.extend([0x08, 0x06]);
        arp.extend([0u8; 28]);
        let (seg, stats) = decode_one(LINKTYPE_ETHERNET, &arp);
        assert!(seg.is_none());
        assert_eq!(stats.non_tcp + stats.malformed, 1);
    }
}
