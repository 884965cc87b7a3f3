//! Writing a pcap that Wireshark / tshark open: one synthesized TCP connection per
//! [`Connection`] (SYN, SYN-ACK, ACK, payload in segments of at most 1460 bytes with correct
//! sequence and acknowledgment numbers and checksums, then FIN or RST), over IPv4 or IPv6,
//! framed as Ethernet or raw IP. `probe --pcap-out` records its exchanges with it.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader};

use super::{Direction, Micros};

/// Largest payload per segment (Ethernet MTU minus IPv4 and TCP headers).
pub const MAX_SEGMENT: usize = 1460;

/// The framing of the written packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1), with fixed made-up MAC addresses.
    Ethernet,
    /// LINKTYPE_RAW (101): the IP header first.
    Raw,
}

/// How the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// This side sent FIN first; the other answered with its FIN.
    Fin(Direction),
    /// This side reset the connection.
    Rst(Direction),
    /// Still open when recording stopped: no closing packets.
    Open,
}

/// One TCP connection to synthesize.
#[derive(Debug, Clone)]
pub struct Connection {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Time of the SYN.
    pub start: Micros,
    pub client_isn: u32,
    pub server_isn: u32,
    /// Payload in the order it was sent.
    pub chunks: Vec<(Direction, Micros, Vec<u8>)>,
    pub close: Close,
    /// Time of the closing packets.
    pub end: Micros,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("client {0} and server {1} are not the same IP version")]
    MixedFamilies(SocketAddr, SocketAddr),
    #[error("building a packet: {0}")]
    Build(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the pcap file header (microsecond timestamps, little-endian).
pub fn write_header(out: &mut impl Write, link: LinkType) -> io::Result<()> {
    let linktype: u32 = match link {
        LinkType::Ethernet => 1,
        LinkType::Raw => 101,
    };
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?; // thiszone
    out.write_all(&0u32.to_le_bytes())?; // sigfigs
    out.write_all(&65_535u32.to_le_bytes())?; // snaplen
    out.write_all(&linktype.to_le_bytes())
}

/// Writes a whole pcap: the header, then each connection's packets.
pub fn write_pcap(
    out: &mut impl Write,
    link: LinkType,
    connections: &[Connection],
) -> Result<(), WriteError> {
    write_header(out, link)?;
    for c in connections {
        write_connection(out, link, c)?;
    }
    Ok(())
}

/// Flags of one synthesized segment.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    psh: bool,
}

/// Writes the packets of one connection (after [`write_header`]).
pub fn write_connection(
    out: &mut impl Write,
    link: LinkType,
    c: &Connection,
) -> Result<(), WriteError> {
    if c.client.is_ipv4() != c.server.is_ipv4() {
        return Err(WriteError::MixedFamilies(c.client, c.server));
    }
    // next[0]: the client's next sequence number; next[1]: the server's.
    let mut next = [c.client_isn, c.server_isn];
    let side = |d: Direction| match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    };
    let mut frame = Vec::with_capacity(MAX_SEGMENT + 100);
    let mut emit = |out: &mut dyn Write,
                    from: usize,
                    seq: u32,
                    ack: u32,
                    flags: Flags,
                    payload: &[u8],
                    at: Micros|
     -> Result<(), WriteError> {
        let (src, dst) = if from == 0 {
            (c.client, c.server)
        } else {
            (c.server, c.client)
        };
        frame.clear();
        build(
            link,
            from == 0,
            src,
            dst,
            seq,
            ack,
            flags,
            payload,
            &mut frame,
        )?;
        write_record(out, at, &frame)?;
        Ok(())
    };
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    let ack_only = Flags {
        ack: true,
        ..Flags::default()
    };
    emit(out, 0, next[0], 0, syn, &[], c.start)?;
    next[0] = next[0].wrapping_add(1);
    emit(
        out,
        1,
        next[1],
        next[0],
        Flags { ack: true, ..syn },
        &[],
        c.start,
    )?;
    next[1] = next[1].wrapping_add(1);
    emit(out, 0, next[0], next[1], ack_only, &[], c.start)?;
    for (dir, at, bytes) in &c.chunks {
        let from = side(*dir);
        for piece in bytes.chunks(MAX_SEGMENT) {
            let flags = Flags {
                ack: true,
                psh: true,
                ..Flags::default()
            };
            emit(out, from, next[from], next[1 - from], flags, piece, *at)?;
            next[from] = next[from].wrapping_add(piece.len() as u32);
        }
    }
    match c.close {
        Close::Open => {}
        Close::Rst(dir) => {
            let from = side(dir);
            let flags = Flags {
                rst: true,
                ack: true,
                ..Flags::default()
            };
            emit(out, from, next[from], next[1 - from], flags, &[], c.end)?;
        }
        Close::Fin(dir) => {
            let first = side(dir);
            let fin = Flags {
                fin: true,
                ack: true,
                ..Flags::default()
            };
            emit(out, first, next[first], next[1 - first], fin, &[], c.end)?;
            next[first] = next[first].wrapping_add(1);
            let second = 1 - first;
            emit(out, second, next[second], next[first], fin, &[], c.end)?;
            next[second] = next[second].wrapping_add(1);
            emit(out, first, next[first], next[second], ack_only, &[], c.end)?;
        }
    }
    Ok(())
}

fn write_record(out: &mut dyn Write, at: Micros, frame: &[u8]) -> io::Result<()> {
    let len = frame.len() as u32;
    out.write_all(&((at / 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&((at % 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(frame)
}

#[allow(clippy::too_many_arguments)]
fn build(
    link: LinkType,
    from_client: bool,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: Flags,
    payload: &[u8],
    frame: &mut Vec<u8>,
) -> Result<(), WriteError> {
    const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    let mut tcp = TcpHeader::new(src.port(), dst.port(), seq, 65_535);
    tcp.syn = flags.syn;
    tcp.fin = flags.fin;
    tcp.rst = flags.rst;
    tcp.psh = flags.psh;
    tcp.ack = flags.ack;
    if flags.ack {
        tcp.acknowledgment_number = ack;
    }
    let ip_step = |ethernet: Option<PacketBuilderStep<etherparse::Ethernet2Header>>| match (
        src.ip(),
        dst.ip(),
    ) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(match ethernet {
            Some(eth) => eth.ipv4(s.octets(), d.octets(), 64),
            None => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        }),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(match ethernet {
            Some(eth) => eth.ipv6(s.octets(), d.octets(), 64),
            None => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        }),
        _ => Err(WriteError::MixedFamilies(src, dst)),
    };
    let eth = match link {
        LinkType::Ethernet => {
            let (s, d) = if from_client {
                (CLIENT_MAC, SERVER_MAC)
            } else {
                (SERVER_MAC, CLIENT_MAC)
            };
            Some(PacketBuilder::ethernet2(s, d))
        }
        LinkType::Raw => None,
    };
    ip_step(eth)?
        .tcp_header(tcp)
        .write(frame, payload)
        .map_err(|e| WriteError::Build(e.to_string()))
}
