//! QUIC flows in captures: UDP datagrams on any port whose client Initial decrypts with the
//! keys of its own Destination Connection ID (RFC 9001 §5.2; QUIC v1 and v2) start a flow,
//! keyed by the two addresses and ports (the server's change of connection ID does not
//! matter then). The Initial packets of both directions are decrypted, their CRYPTO frames
//! reassembled (across packets and datagrams, in any order, up to a cap) and handed to the
//! sink framed as TLS handshake records, so the same tracker reads QUIC's ClientHello and
//! ServerHello as it reads TCP's. Handshake and 1-RTT packets, Retry, Version Negotiation
//! and CONNECTION_CLOSE go to [`FlowSink::quic`].
//!
//! Bounded: at most [`ReadOptions::max_flows`] QUIC flows (the longest idle is ended to make
//! room), [`CRYPTO_CAP`] bytes of each CRYPTO stream, [`ReadOptions::max_ooo_total`] bytes
//! held out of order over all flows.

use std::collections::HashMap;

use super::link::{Datagram, Endpoint};
use super::tcp::FlowTable;
use super::{
    CaptureStats, Direction, EndKind, FlowEnd, FlowId, FlowInfo, FlowSink, Micros, ReadOptions,
    Transport,
};
use crate::core::crypto::quic::{LazyInitialKeys, open_long_into};
use crate::core::wire::quic::{self, CryptoStream, Frame, LongKind, PacketType, QuicSignal};

/// Bytes of each direction's Initial CRYPTO stream read: a ClientHello with post-quantum key
/// shares is a few kilobytes, a server's Initial flight a ServerHello.
pub(crate) const CRYPTO_CAP: usize = 64 << 10;

/// Coalesced packets read per datagram (a datagram holds at most a few).
const MAX_PACKETS_PER_DATAGRAM: usize = 8;

/// An open flow quiet for this long (capture time) has its Initial keys' cipher states
/// released at the next sweep (1.7 kB; derived again if an Initial packet still comes).
/// Most such flows are connections that will not decide before the idle timeout (a client
/// that closed inside an encrypted Handshake packet), held to the end of a capture: in the
/// QUIC bench capture one in five, 1,720 flows.
const KEYS_IDLE: Micros = 1_000_000;

#[derive(Debug)]
struct QuicFlow {
    id: FlowId,
    /// The client is the second end of the table's key (see [`key_of`]).
    client_second: bool,
    /// The Initial keys in use: from the client's first Initial, again after a Retry (the
    /// server's derived at its first Initial packet).
    keys: Option<LazyInitialKeys>,
    /// Largest Initial packet number decrypted, per direction.
    largest: [Option<u64>; 2],
    crypto: [CryptoStream; 2],
    /// Out-of-order bytes this flow holds (its share of [`QuicTable::held_total`]).
    held: usize,
    handshake_seen: [bool; 2],
    one_rtt_seen: [bool; 2],
}

/// A QUIC flow's entry in the table: its state while it is open; after it ended (closed,
/// or settled: the sink needs no more of it) only the time of its last datagram, so the
/// entry absorbs the rest of the connection's datagrams (most of them, for HTTP/3) with
/// one look-up and no other memory touched, until it has been quiet for the linger.
struct Slot {
    last_seen: Micros,
    /// Boxed: a flow with its keys is a few hundred bytes, moved on every resize otherwise.
    /// `None` once the flow ended (`flow_end` was called).
    open: Option<Box<QuicFlow>>,
}

/// The QUIC flows, by their two ends in canonical order.
#[derive(Default)]
pub(crate) struct QuicTable {
    flows: HashMap<(Endpoint, Endpoint), Slot, foldhash::fast::RandomState>,
    /// Handshake records built from a delivery of CRYPTO bytes (reused).
    scratch: Vec<u8>,
    /// The plaintext of the Initial packet being read (reused).
    plain: Vec<u8>,
    held_total: usize,
    /// Flows not yet ended (the table also holds closed ones while they linger).
    open: usize,
    next_sweep: Micros,
}

/// The two ends in canonical order (the lesser first, as [`Endpoint`]'s `Ord`), chosen
/// without a branch (which end sends a datagram is as good as random, so a branch on it was
/// mispredicted for about every other datagram), and whether they were swapped. The
/// addresses are read as two 64-bit halves, as the link layer's decoder has just written
/// them: a 16-byte load of two 8-byte stores cannot take the stored values directly and
/// waits for them to reach the cache (the hottest instruction of a QUIC capture's datagram
/// path in `perf annotate`).
#[inline(always)]
fn key_of(a: &Endpoint, b: &Endpoint) -> ((Endpoint, Endpoint), bool) {
    let halves = |ip: u128| (ip as u64, (ip >> 64) as u64);
    let ((a_lo, a_hi), (b_lo, b_hi)) = (halves(a.ip), halves(b.ip));
    let (a_port, b_port) = (a.port_and_family, b.port_and_family);
    // b < a as (address, port): the high halves, then the low, then the ports.
    let swap = (b_hi < a_hi)
        | ((b_hi == a_hi) & (b_lo < a_lo))
        | ((b_hi == a_hi) & (b_lo == a_lo) & (b_port < a_port));
    let m64 = u64::from(swap).wrapping_neg();
    let (lo, hi) = ((a_lo ^ b_lo) & m64, (a_hi ^ b_hi) & m64);
    let port = (a_port ^ b_port) & u32::from(swap).wrapping_neg();
    let join = |lo: u64, hi: u64| u128::from(lo) | u128::from(hi) << 64;
    let first = Endpoint {
        ip: join(a_lo ^ lo, a_hi ^ hi),
        port_and_family: a_port ^ port,
    };
    let second = Endpoint {
        ip: join(b_lo ^ lo, b_hi ^ hi),
        port_and_family: b_port ^ port,
    };
    ((first, second), swap)
}

/// A client's first Initial packet at the start of `payload`, if it is one of a known version
/// that decrypts with the keys of its own Destination Connection ID: its keys, its length
/// and packet number; its frames are left in `plain` (read once, not decrypted again).
fn client_initial(payload: &[u8], plain: &mut Vec<u8>) -> Option<(LazyInitialKeys, usize, u64)> {
    // Cheap rejection of other UDP traffic: a long header of a version we read.
    let head = payload.get(..5)?;
    let version = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if head[0] & 0x80 == 0 || !quic::is_known_version(version) {
        return None;
    }
    let (header, len) = quic::parse_long(payload).ok()??;
    if !matches!(
        header.kind,
        LongKind::Protected {
            packet_type: PacketType::Initial,
            ..
        }
    ) {
        return None;
    }
    let mut keys = LazyInitialKeys::new(version, header.dcid)?;
    let (_, pn) = open_long_into(&header, keys.client(), None, plain).ok()?;
    Some((keys, len, pn))
}

impl QuicTable {
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// One UDP datagram. Not inlined into the packet loop: TCP's path is compiled the same
    /// whatever this does.
    #[inline(never)]
    pub fn datagram(
        &mut self,
        d: &Datagram<'_>,
        at: Micros,
        ids: &mut FlowTable,
        sink: &mut dyn FlowSink,
        stats: &mut CaptureStats,
        opts: &ReadOptions,
    ) {
        let (key, swapped) = key_of(&d.src, &d.dst);
        // A new flow's first packet, already decrypted: its length and packet number.
        let mut first = None;
        // One lookup for a datagram of a known flow (most of them); a new one is looked up
        // again after it is inserted.
        let slot = match self.flows.get_mut(&key) {
            Some(slot) => slot,
            None => {
                let Some((keys, len, pn)) = client_initial(d.payload, &mut self.plain) else {
                    return;
                };
                first = Some((len, pn));
                if self.open >= opts.max_flows.max(1) {
                    self.evict_one(sink, stats);
                }
                let id = ids.take_id();
                stats.flows += 1;
                self.open += 1;
                sink.flow_start(&FlowInfo {
                    id,
                    client: d.src.socket_addr(),
                    server: d.dst.socket_addr(),
                    start: at,
                    saw_handshake: true,
                    transport: Transport::Quic,
                });
                let flow = Box::new(QuicFlow {
                    id,
                    client_second: swapped,
                    keys: Some(keys),
                    largest: [None; 2],
                    crypto: [CryptoStream::new(CRYPTO_CAP), CryptoStream::new(CRYPTO_CAP)],
                    held: 0,
                    handshake_seen: [false; 2],
                    one_rtt_seen: [false; 2],
                });
                self.flows.entry(key).or_insert(Slot {
                    last_seen: at,
                    open: Some(flow),
                })
            }
        };
        stats.quic_datagrams += 1;
        slot.last_seen = at;
        let Some(flow) = slot.open.as_deref_mut() else {
            return;
        };
        // The sender is the flow's client when it stands where the client stood in the key
        // (the key's order, not a comparison of the addresses again).
        let dir = if swapped == flow.client_second {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let mut bufs = Buffers {
            scratch: &mut self.scratch,
            plain: &mut self.plain,
            held_total: &mut self.held_total,
        };
        let closed = read_datagram(flow, dir, d.payload, first, at, sink, &mut bufs, opts);
        if closed {
            end_flow(
                flow,
                EndKind::Fin,
                at,
                FlowEnd::Closed,
                sink,
                &mut self.held_total,
                &mut self.open,
            );
            slot.open = None;
        } else if !sink.wants_data(flow.id) {
            // Decided: reported now rather than at the idle timeout or the end of the
            // capture (QUIC's own close is encrypted), so a QUIC-heavy capture does not hold
            // a tracker per connection; the entry lingers to absorb the rest.
            settle_flow(flow, at, sink, &mut self.held_total, &mut self.open);
            slot.open = None;
        }
    }

    /// Ends the longest idle open flow (the table is full).
    fn evict_one(&mut self, sink: &mut dyn FlowSink, stats: &mut CaptureStats) {
        let oldest = self
            .flows
            .iter()
            .filter_map(|(k, s)| Some((k, s.last_seen, s.open.as_ref()?.id)))
            .min_by_key(|&(_, last_seen, id)| (last_seen, id))
            .map(|(k, _, _)| *k);
        if let Some(k) = oldest
            && let Some(Slot {
                last_seen: at,
                open: Some(mut f),
            }) = self.flows.remove(&k)
        {
            stats.evicted_flows += 1;
            end_flow(
                &mut f,
                EndKind::Timeout,
                at,
                FlowEnd::Evicted,
                sink,
                &mut self.held_total,
                &mut self.open,
            );
        }
    }

    /// Ends flows idle longer than the timeout, forgets closed ones after the linger; at most
    /// once a second of capture time.
    pub fn advance(
        &mut self,
        now: Micros,
        sink: &mut dyn FlowSink,
        stats: &mut CaptureStats,
        opts: &ReadOptions,
    ) {
        if now < self.next_sweep || self.flows.is_empty() {
            return;
        }
        self.next_sweep = now.saturating_add(1_000_000);
        let mut expired: Vec<(Micros, Box<QuicFlow>)> = self
            .flows
            .extract_if(|_, s| {
                let idle = now.saturating_sub(s.last_seen);
                let limit = match &mut s.open {
                    None => opts.closed_linger,
                    Some(flow) => {
                        if idle >= KEYS_IDLE
                            && let Some(keys) = &mut flow.keys
                        {
                            keys.release();
                        }
                        opts.idle_timeout
                    }
                };
                idle > limit
            })
            .filter_map(|(_, s)| Some((s.last_seen, s.open?)))
            .collect();
        expired.sort_by_key(|(_, f)| f.id);
        for (at, mut f) in expired {
            stats.expired_flows += 1;
            end_flow(
                &mut f,
                EndKind::Timeout,
                at,
                FlowEnd::IdleTimeout,
                sink,
                &mut self.held_total,
                &mut self.open,
            );
        }
    }

    /// Ends every open flow at the end of the input, in order of appearance.
    pub fn finish_all(&mut self, open_kind: EndKind, sink: &mut dyn FlowSink) {
        let mut flows: Vec<(Micros, Box<QuicFlow>)> = self
            .flows
            .drain()
            .filter_map(|(_, s)| Some((s.last_seen, s.open?)))
            .collect();
        flows.sort_by_key(|(_, f)| f.id);
        for (at, mut f) in flows {
            end_flow(
                &mut f,
                open_kind,
                at,
                FlowEnd::InputEnd,
                sink,
                &mut self.held_total,
                &mut self.open,
            );
        }
    }
}

/// Reports a decided flow without ending its directions (they did not end). The caller
/// drops the flow (its slot lingers).
fn settle_flow(
    flow: &mut QuicFlow,
    at: Micros,
    sink: &mut dyn FlowSink,
    held_total: &mut usize,
    open: &mut usize,
) {
    *open = open.saturating_sub(1);
    *held_total = held_total.saturating_sub(flow.held);
    flow.held = 0;
    sink.flow_end(flow.id, at, FlowEnd::Settled);
}

/// Ends both directions (a gap where CRYPTO bytes are missing) and the flow. The caller
/// drops the flow.
fn end_flow(
    flow: &mut QuicFlow,
    open_kind: EndKind,
    at: Micros,
    why: FlowEnd,
    sink: &mut dyn FlowSink,
    held_total: &mut usize,
    open: &mut usize,
) {
    *open = open.saturating_sub(1);
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        let stream = &flow.crypto[dir.index()];
        let kind = if stream.held() > 0 {
            EndKind::Gap
        } else {
            open_kind
        };
        sink.end(flow.id, dir, kind, at);
    }
    *held_total = held_total.saturating_sub(flow.held);
    flow.held = 0;
    sink.flow_end(flow.id, at, why);
}

/// The table's reused buffers and its count of out-of-order bytes, lent to a datagram's read.
struct Buffers<'a> {
    scratch: &'a mut Vec<u8>,
    plain: &'a mut Vec<u8>,
    held_total: &'a mut usize,
}

/// Reads the coalesced packets of one datagram; true when a CONNECTION_CLOSE ended the
/// connection. `first`: the datagram's first packet (its length and packet number) was
/// decrypted already, by [`client_initial`], and its frames are in `bufs.plain`.
#[allow(clippy::too_many_arguments)]
fn read_datagram(
    flow: &mut QuicFlow,
    dir: Direction,
    payload: &[u8],
    first: Option<(usize, u64)>,
    at: Micros,
    sink: &mut dyn FlowSink,
    bufs: &mut Buffers<'_>,
    opts: &ReadOptions,
) -> bool {
    let i = dir.index();
    let mut rest = payload;
    if let Some((len, pn)) = first {
        rest = &rest[len..];
        flow.largest[i] = Some(pn);
        if read_frames(flow, dir, at, sink, bufs, opts) {
            return true;
        }
    }
    for _ in 0..MAX_PACKETS_PER_DATAGRAM - usize::from(first.is_some()) {
        if rest.is_empty() {
            break;
        }
        let (header, len) = match quic::parse_long(rest) {
            Ok(Some(p)) => p,
            // Zeros after the packets: datagram padding (RFC 9000 §12.2; aioquic pads its
            // client Initial datagrams so), not a short header, whose fixed bit is set.
            Ok(None) if rest[0] & 0x40 == 0 => break,
            Ok(None) => {
                // A short header: 1-RTT, to the end of the datagram.
                if !flow.one_rtt_seen[i] {
                    flow.one_rtt_seen[i] = true;
                    sink.quic(flow.id, dir, &QuicSignal::OneRtt, at);
                }
                break;
            }
            // Padding after the packets (zeros), or something we do not read.
            Err(_) => break,
        };
        rest = &rest[len..];
        match header.kind {
            LongKind::VersionNegotiation { ref versions } => {
                if dir == Direction::ServerToClient {
                    let signal = QuicSignal::VersionNegotiation { versions };
                    sink.quic(flow.id, dir, &signal, at);
                }
            }
            LongKind::Retry { .. } => {
                if dir == Direction::ServerToClient {
                    sink.quic(flow.id, dir, &QuicSignal::Retry, at);
                    // The client's next Initial is sent to the server's new connection ID,
                    // and protected with keys derived from it.
                    flow.keys = None;
                    flow.largest = [None; 2];
                }
            }
            LongKind::Protected {
                packet_type: PacketType::Handshake,
                packet,
                ..
            } => {
                flow.handshake_seen[i] = true;
                let signal = QuicSignal::Handshake {
                    len: packet.len(),
                    packet: Some(packet),
                };
                sink.quic(flow.id, dir, &signal, at);
            }
            LongKind::Protected {
                packet_type: PacketType::Initial,
                ..
            } => {
                if flow.keys.is_none() && dir == Direction::ClientToServer {
                    flow.keys = LazyInitialKeys::new(header.version, header.dcid);
                }
                let Some(keys) = flow.keys.as_mut() else {
                    continue;
                };
                let keys = match dir {
                    Direction::ClientToServer => keys.client(),
                    Direction::ServerToClient => keys.server(),
                };
                let Ok((_, pn)) = open_long_into(&header, keys, flow.largest[i], bufs.plain) else {
                    continue;
                };
                flow.largest[i] = Some(flow.largest[i].map_or(pn, |l| l.max(pn)));
                if read_frames(flow, dir, at, sink, bufs, opts) {
                    return true;
                }
            }
            // 0-RTT: application data, nothing of the handshake.
            LongKind::Protected { .. } => {}
        }
    }
    false
}

/// The frames of a decrypted Initial packet (in `bufs.plain`); true on a CONNECTION_CLOSE.
fn read_frames(
    flow: &mut QuicFlow,
    dir: Direction,
    at: Micros,
    sink: &mut dyn FlowSink,
    bufs: &mut Buffers<'_>,
    opts: &ReadOptions,
) -> bool {
    let i = dir.index();
    let (scratch, held_total) = (&mut *bufs.scratch, &mut *bufs.held_total);
    for frame in quic::frames(bufs.plain) {
        match frame {
            Ok(Frame::Crypto { offset, data }) => {
                let stream = &mut flow.crypto[i];
                // Out-of-order bytes over the global budget are dropped (they come again
                // in retransmissions, or the direction ends with a gap).
                if offset > stream.delivered() && *held_total >= opts.max_ooo_total {
                    continue;
                }
                scratch.clear();
                let before = stream.held();
                stream.add(offset, data, &mut |bytes| {
                    quic::as_handshake_records(bytes, scratch);
                });
                let after = stream.held();
                *held_total = (*held_total + after).saturating_sub(before);
                flow.held = (flow.held + after).saturating_sub(before);
                if !scratch.is_empty() {
                    sink.data(flow.id, dir, scratch, at);
                }
            }
            Ok(Frame::ConnectionClose {
                application,
                code,
                frame_type,
                reason,
            }) => {
                let signal = QuicSignal::Close {
                    application,
                    code,
                    frame_type,
                    reason,
                };
                sink.quic(flow.id, dir, &signal, at);
                return true;
            }
            Ok(Frame::Padding | Frame::Ping | Frame::Ack) => {}
            Err(_) => break,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branchless order is `Endpoint`'s: the lesser end first, for addresses that
    /// differ in either half, equal addresses with other ports, and equal ends.
    #[test]
    fn key_of_orders_as_ord() {
        let ips = [0u128, 1, 0x7f00_0001, 1 << 64, (1 << 64) | 1, u128::MAX];
        let ports = [0u32, 443, 443 | 1 << 16, 65535];
        let ends: Vec<Endpoint> = ips
            .iter()
            .flat_map(|&ip| {
                ports.iter().map(move |&port_and_family| Endpoint {
                    ip,
                    port_and_family,
                })
            })
            .collect();
        for &a in &ends {
            for &b in &ends {
                let expected = if a <= b { (a, b) } else { (b, a) };
                let (key, swapped) = key_of(&a, &b);
                assert_eq!(key, expected, "{a:?} {b:?}");
                // Swapped exactly when the sender is not the lesser end (equal ends are not).
                assert_eq!(swapped, a > b, "{a:?} {b:?}");
            }
        }
    }
}
