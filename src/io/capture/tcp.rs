//! TCP reassembly: the flow table, and per flow and direction the sequence tracking.
//!
//! Sequence numbers are mapped to 64-bit stream offsets (wrapping arithmetic against the next
//! expected byte), so wrap-around at 2^32 needs no special case. In-order bytes go straight
//! from the packet to the sink; only out-of-order bytes are copied, into a bounded buffer.
//! Retransmissions and overlaps keep the bytes that arrived first, like most stacks. A hole
//! that cannot be filled (buffer over its cap, bytes cut by the snap length, end of the flow)
//! ends that direction with a gap: bytes are never delivered across a hole.
//!
//! A RST is applied in sequence order too: one whose sequence number is beyond the next
//! expected byte of its direction (bytes before it are missing, e.g. a capture merged from
//! buffers shows a client's RST before its own alert) is held until those bytes are
//! delivered, then applied; if they never come it is applied when the direction gives up
//! on the hole, when the flow ends, or [`RST_HOLD`] after it was seen (as Zeek's and
//! Wireshark's reassembly do in effect). One RST per direction is held: the memory is fixed.
//!
//! Roles: a SYN names the client; without one (a flow picked up mid-stream) the first payload
//! decides: a TLS ClientHello marks its sender as the client, a ServerHello as the server;
//! otherwise the higher port is the client.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::link::{Endpoint, Segment};
use super::{
    CaptureStats, Direction, EndKind, FlowEnd, FlowId, FlowInfo, FlowSink, Micros, ReadOptions,
};

/// The two endpoints of a flow, in a canonical order (side 0 is the smaller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    a: Endpoint,
    b: Endpoint,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Two words instead of a field-by-field write (equality still compares every field);
        // the rotation keeps two equal addresses from cancelling out.
        state.write_u128(self.a.ip ^ self.b.ip.rotate_left(48));
        state
            .write_u64(u64::from(self.a.port_and_family) << 32 | u64::from(self.b.port_and_family));
    }
}

impl FlowKey {
    /// The key of a segment, and which side (0 = `a`) sent it.
    fn of(seg: &Segment<'_>) -> (FlowKey, usize) {
        let (src, dst) = (seg.src, seg.dst);
        if src <= dst {
            (FlowKey { a: src, b: dst }, 0)
        } else {
            (FlowKey { a: dst, b: src }, 1)
        }
    }

    fn side(&self, side: usize) -> SocketAddr {
        if side == 0 {
            self.a.socket_addr()
        } else {
            self.b.socket_addr()
        }
    }
}

/// One direction of a flow.
#[derive(Debug, Default)]
struct Half {
    /// Sequence number of stream offset 0; set by the SYN or the first segment seen.
    base: Option<u32>,
    /// Initial sequence number from a SYN, to tell a retransmitted SYN from a new connection.
    isn: Option<u32>,
    /// The other initial sequence number of a side that sent two SYN-ACKs with different
    /// ones before any of its bytes (TCP Fast Open servers do): the peer's acknowledgment
    /// tells which one the connection goes on with.
    other_isn: Option<u32>,
    /// Stream offset of the next byte to deliver.
    delivered: u64,
    /// Out-of-order bytes by stream offset; entries are disjoint and all after `delivered`.
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// The peer's stream offset the FIN acknowledged: the FIN was sent after the peer's
    /// bytes up to there, so it is reported only once they are delivered (or the peer
    /// ended). Keeps "alert, then the server closes" in order when a capture shows the
    /// two directions slightly reordered.
    fin_acks: Option<u64>,
    /// A RST of this direction seen beyond a hole: its stream offset and capture time.
    held_rst: Option<(u64, Micros)>,
    ended: bool,
}

impl Half {
    /// The stream offset of a sequence number, relative to the next byte expected.
    fn offset_of(&self, base: u32, seq: u32) -> i64 {
        let next = base.wrapping_add(self.delivered as u32);
        self.delivered as i64 + i64::from(seq.wrapping_sub(next) as i32)
    }

    /// Whether bytes are known to be missing (a hole before buffered bytes or before the FIN).
    fn has_hole(&self) -> bool {
        !self.ooo.is_empty() || self.fin_at.is_some_and(|f| f > self.delivered)
    }

    /// The stream offset a RST of this direction has when nothing is missing before it:
    /// the next byte, or the one after a FIN that was reached.
    fn rst_expected(&self) -> u64 {
        self.delivered + u64::from(self.fin_at == Some(self.delivered))
    }
}

/// How long a RST beyond a hole waits for the missing bytes (capture time), at most.
const RST_HOLD: Micros = 1_000_000;

/// How far beyond the next expected byte a RST is still taken as "bytes missing before
/// it"; one further off is no position in this stream (a stale or forged RST): applied at
/// once, as before.
const RST_MAX_AHEAD: i64 = 1 << 20;

/// Where `seg`, a RST of `side`, has to wait for missing bytes: its stream offset, or
/// `None` when it applies now (no bytes missing, the direction ended or its bytes are no
/// longer followed, nothing of the direction seen yet, or an implausible sequence number).
fn rst_waits_at(flow: &Flow, side: usize, seg: &Segment<'_>) -> Option<u64> {
    let half = &flow.halves[side];
    if flow.skip_data || half.ended {
        return None;
    }
    let base = half.base?;
    let at = half.offset_of(base, seg.seq);
    let ahead = at - half.rst_expected() as i64;
    (ahead > 0 && ahead <= RST_MAX_AHEAD).then_some(at as u64)
}

#[derive(Debug)]
struct Flow {
    id: FlowId,
    key: FlowKey,
    /// Which side is the client, once decided.
    client_side: Option<usize>,
    /// A side sent SYN-ACKs with two sequence numbers (see `Half::other_isn`): the peer's
    /// acknowledgments are looked at. Beside `client_side`, which every segment reads.
    two_isns: bool,
    started: bool,
    saw_syn: bool,
    first_seen: Micros,
    last_seen: Micros,
    /// The consumer needs no more bytes: only FIN/RST are tracked.
    skip_data: bool,
    /// `flow_end` was called; the entry stays to absorb late packets until it expires.
    closed: bool,
    halves: [Half; 2],
}

impl Flow {
    fn dir(&self, side: usize) -> Direction {
        if Some(side) == self.client_side {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }
}

/// Where reassembled bytes and events go, with the counters and global limits.
struct Out<'s> {
    sink: &'s mut dyn FlowSink,
    stats: &'s mut CaptureStats,
    ooo_total: &'s mut usize,
    opts: &'s ReadOptions,
}

impl Out<'_> {
    fn end(&mut self, flow: &mut Flow, side: usize, kind: EndKind, at: Micros) {
        let half = &mut flow.halves[side];
        if half.ended {
            return;
        }
        half.ended = true;
        *self.ooo_total -= half.ooo_bytes;
        half.ooo = BTreeMap::new();
        half.ooo_bytes = 0;
        if kind == EndKind::Gap {
            self.stats.gaps += 1;
        }
        let dir = flow.dir(side);
        self.sink.end(flow.id, dir, kind, at);
    }

    fn close(&mut self, flow: &mut Flow, at: Micros, why: FlowEnd) {
        if !flow.closed {
            flow.closed = true;
            self.drop_buffers(flow);
            self.sink.flow_end(flow.id, at, why);
        }
    }

    fn drop_buffers(&mut self, flow: &mut Flow) {
        for half in &mut flow.halves {
            *self.ooo_total -= half.ooo_bytes;
            half.ooo = BTreeMap::new();
            half.ooo_bytes = 0;
        }
    }

    /// Ends what is still open (a gap where bytes are missing, else `open_kind`) and closes.
    fn finish(&mut self, flow: &mut Flow, open_kind: EndKind, at: Micros, why: FlowEnd) {
        if flow.started && !flow.closed {
            match why {
                FlowEnd::Evicted => self.stats.evicted_flows += 1,
                FlowEnd::IdleTimeout => self.stats.expired_flows += 1,
                FlowEnd::Closed | FlowEnd::PortReused | FlowEnd::InputEnd | FlowEnd::Settled => {}
            }
            if let Some(side) = (0..2).find(|s| flow.halves[*s].held_rst.is_some()) {
                // The bytes before a held RST never came: it ends the flow as it would have.
                self.rst(flow, side, flow.last_seen);
                return;
            }
            for side in 0..2 {
                let half = &flow.halves[side];
                if !half.ended {
                    let kind = if half.has_hole() && !flow.skip_data {
                        EndKind::Gap
                    } else if half.fin_at == Some(half.delivered) {
                        // A FIN held for peer bytes that never came.
                        EndKind::Fin
                    } else {
                        open_kind
                    };
                    self.end(flow, side, kind, at);
                }
            }
            self.close(flow, at, why);
        }
    }

    /// Applies a RST of `side`: it ends that direction (unless its FIN ended it) and the flow.
    fn rst(&mut self, flow: &mut Flow, side: usize, at: Micros) {
        flow.halves[side].held_rst = None;
        self.end(flow, side, EndKind::Rst, at);
        self.close(flow, at, FlowEnd::Closed);
    }

    /// `side` cannot get the bytes it misses: it ends with a gap, or as reset when a RST
    /// was waiting for those bytes.
    fn give_up(&mut self, flow: &mut Flow, side: usize, at: Micros) {
        if flow.halves[side].held_rst.is_some() {
            self.rst(flow, side, at);
        } else {
            self.end(flow, side, EndKind::Gap, at);
        }
    }

    fn deliver(&mut self, flow: &Flow, side: usize, bytes: &[u8], at: Micros) {
        if !bytes.is_empty() {
            self.sink.data(flow.id, flow.dir(side), bytes, at);
        }
    }
}

/// The open flows, stored densely and found by key, and the closed ones that linger. Every
/// segment looks its flow up, and most segments belong to the flow of the one before (a
/// sender's burst, data and its ACKs: 79–98 % of consecutive TCP packets in the third-party
/// captures with bulk data): that flow is remembered, so a key compare replaces the hash
/// lookup.
#[derive(Default)]
struct Flows {
    /// Flows not closed yet.
    flows: Vec<Flow>,
    /// Positions in `flows`. foldhash is several times cheaper than the default SipHash on
    /// these small keys, and is still seeded per process.
    index: HashMap<FlowKey, usize, foldhash::fast::RandomState>,
    /// The key and position of the last flow found or added.
    last: Option<(FlowKey, usize)>,
    /// Closed flows until they are forgotten (`ReadOptions::closed_linger`): only what a late
    /// packet is checked against. A busy capture has many times more of them than open
    /// flows (the 1 GB bench capture: up to ≈ 10,000 against a handful open at once);
    /// kept whole in `flows` (368 bytes each) they made the table megabytes of fresh
    /// memory, copied as it doubled, and the kernel's zeroing of those huge pages was 9 %
    /// of the capture thread's samples under `--json`.
    closed: HashMap<FlowKey, Closed, foldhash::fast::RandomState>,
}

/// What is kept of a closed flow.
#[derive(Debug, Clone, Copy)]
struct Closed {
    last_seen: Micros,
    /// Each side's initial sequence number: a SYN with another one starts a new connection.
    isn: [Option<u32>; 2],
}

impl Flows {
    /// Flows open and closed: both count against the table's limits.
    fn len(&self) -> usize {
        self.flows.len() + self.closed.len()
    }

    /// Moves the flow at `at`, just closed, to the closed ones.
    fn close(&mut self, at: usize) {
        let flow = self.take(at);
        self.linger(&flow);
    }

    /// Remembers `flow`, closed, until it is forgotten.
    fn linger(&mut self, flow: &Flow) {
        let closed = Closed {
            last_seen: flow.last_seen,
            isn: [flow.halves[0].isn, flow.halves[1].isn],
        };
        self.closed.insert(flow.key, closed);
    }

    fn position(&mut self, key: &FlowKey) -> Option<usize> {
        if let Some((last, at)) = &self.last
            && last == key
        {
            return Some(*at);
        }
        let at = *self.index.get(key)?;
        self.last = Some((*key, at));
        Some(at)
    }

    #[cfg(test)]
    fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        let at = self.position(key)?;
        self.flows.get_mut(at)
    }

    fn insert(&mut self, flow: Flow) {
        let at = self.flows.len();
        self.index.insert(flow.key, at);
        self.last = Some((flow.key, at));
        self.flows.push(flow);
    }

    /// Removes the flow at `at`; the last flow moves into its place.
    fn take(&mut self, at: usize) -> Flow {
        let flow = self.flows.swap_remove(at);
        self.index.remove(&flow.key);
        if let Some(moved) = self.flows.get(at) {
            self.index.insert(moved.key, at);
        }
        self.last = None;
        flow
    }

    /// Removes and returns the open flows `pred` selects, in no particular order.
    fn extract_if(&mut self, mut pred: impl FnMut(&Flow) -> bool) -> Vec<Flow> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < self.flows.len() {
            if pred(&self.flows[at]) {
                out.push(self.take(at));
            } else {
                at += 1;
            }
        }
        out
    }

    /// Removes every flow and returns the open ones.
    fn drain(&mut self) -> Vec<Flow> {
        self.index.clear();
        self.closed.clear();
        self.last = None;
        std::mem::take(&mut self.flows)
    }
}

/// The flow table.
pub(crate) struct FlowTable {
    flows: Flows,
    next_id: u64,
    ooo_total: usize,
    now: Micros,
    next_sweep: Micros,
    /// Segments until the memcap is checked again (it is also checked for every new flow):
    /// open flows grow as their bytes come.
    until_memcap_check: u32,
}

/// Segments between checks of the memcap when no flow starts.
const MEMCAP_CHECK_EVERY: u32 = 4096;

impl FlowTable {
    pub fn new() -> Self {
        FlowTable {
            flows: Flows::default(),
            next_id: 1,
            ooo_total: 0,
            now: 0,
            next_sweep: 0,
            until_memcap_check: MEMCAP_CHECK_EVERY,
        }
    }

    pub fn segment(
        &mut self,
        seg: &Segment<'_>,
        at: Micros,
        sink: &mut dyn FlowSink,
        stats: &mut CaptureStats,
        opts: &ReadOptions,
    ) {
        stats.tcp_packets += 1;
        self.now = self.now.max(at);
        if self.now >= self.next_sweep {
            self.sweep(sink, stats, opts);
        }
        let (key, side) = FlowKey::of(seg);
        let mut out = Out {
            sink,
            stats,
            ooo_total: &mut self.ooo_total,
            opts,
        };
        self.until_memcap_check -= 1;
        if self.until_memcap_check == 0 {
            self.until_memcap_check = MEMCAP_CHECK_EVERY;
            if over_memcap(&self.flows, &out) {
                evict(&mut self.flows, &mut out, at);
            }
        }
        let new_connection = seg.syn && !seg.has_ack;
        if let Some(pos) = self.flows.position(&key) {
            let flow = &mut self.flows.flows[pos];
            let reused = new_connection
                && flow.halves[side].isn != Some(seg.seq)
                && (flow.halves[side].isn.is_some() || flow.started);
            if !reused {
                flow.last_seen = flow.last_seen.max(at);
                process(flow, side, seg, at, &mut out);
                if flow.closed {
                    self.flows.close(pos);
                }
                return;
            }
            // The same four-tuple starts a new connection: finish the old one.
            let mut old = self.flows.take(pos);
            out.finish(&mut old, EndKind::Timeout, at, FlowEnd::PortReused);
        } else if let Some(closed) = self.flows.closed.get_mut(&key) {
            if !new_connection || closed.isn[side] == Some(seg.seq) {
                // A late packet of the closed connection.
                closed.last_seen = closed.last_seen.max(at);
                return;
            }
            // The same four-tuple starts a new connection.
            self.flows.closed.remove(&key);
        }
        if self.flows.len() >= opts.max_flows || over_memcap(&self.flows, &out) {
            evict(&mut self.flows, &mut out, at);
        }
        let id = FlowId(self.next_id);
        self.next_id += 1;
        let mut flow = Flow {
            id,
            key,
            client_side: None,
            two_isns: false,
            started: false,
            saw_syn: false,
            first_seen: at,
            last_seen: at,
            skip_data: false,
            closed: false,
            halves: [Half::default(), Half::default()],
        };
        process(&mut flow, side, seg, at, &mut out);
        if flow.closed {
            self.flows.linger(&flow);
        } else {
            self.flows.insert(flow);
        }
    }

    /// Moves the clock to `now` without a segment, ending idle flows when a sweep is due.
    pub fn advance(
        &mut self,
        now: Micros,
        sink: &mut dyn FlowSink,
        stats: &mut CaptureStats,
        opts: &ReadOptions,
    ) {
        self.now = self.now.max(now);
        if self.now >= self.next_sweep {
            self.sweep(sink, stats, opts);
        }
    }

    /// Ends flows idle for longer than the timeout and forgets closed ones after the linger.
    fn sweep(&mut self, sink: &mut dyn FlowSink, stats: &mut CaptureStats, opts: &ReadOptions) {
        let now = self.now;
        let idle = opts.idle_timeout;
        let mut out = Out {
            sink,
            stats,
            ooo_total: &mut self.ooo_total,
            opts,
        };
        let linger = opts.closed_linger;
        self.flows
            .closed
            .retain(|_, c| now.saturating_sub(c.last_seen) <= linger);
        let mut expired: Vec<Flow> = self
            .flows
            .extract_if(|flow| now.saturating_sub(flow.last_seen) > idle);
        // In order of appearance, not table order, so output is the same on every run.
        expired.sort_unstable_by_key(|f| f.id);
        for flow in &mut expired {
            let at = flow.last_seen.saturating_add(idle);
            out.finish(flow, EndKind::Timeout, at, FlowEnd::IdleTimeout);
        }
        // Sweeping is O(flows): do it a few times per timeout, not per packet.
        self.next_sweep = now.saturating_add((idle / 4).min(linger).max(1_000_000));
    }

    /// Ends every flow still open: `open_kind` for open directions without missing bytes.
    /// A flow number for a flow of another transport (QUIC), so that numbers stay unique
    /// and in order of appearance across transports.
    pub fn take_id(&mut self) -> FlowId {
        let id = FlowId(self.next_id);
        self.next_id += 1;
        id
    }

    pub fn finish_all(
        &mut self,
        open_kind: EndKind,
        sink: &mut dyn FlowSink,
        stats: &mut CaptureStats,
        opts: &ReadOptions,
    ) {
        let mut out = Out {
            sink,
            stats,
            ooo_total: &mut self.ooo_total,
            opts,
        };
        // Closed flows only linger to absorb late packets: nothing left to end (they are
        // not among the flows drained).
        let mut flows: Vec<Flow> = self.flows.drain();
        flows.retain(|f| f.started);
        // Report in order of appearance, so output is deterministic.
        flows.sort_by_key(|f| f.id);
        for flow in &mut flows {
            let at = flow.last_seen;
            out.finish(flow, open_kind, at, FlowEnd::InputEnd);
        }
    }
}

/// What one entry of the table costs beyond its buffers: the flow, its index slot, and the
/// slack of a growing vector and hash table.
const FLOW_COST: usize =
    std::mem::size_of::<Flow>() * 3 / 2 + 2 * std::mem::size_of::<(FlowKey, usize)>();

/// Bytes the open flows hold (an estimate): the table's entries and out-of-order buffers,
/// and the sink's per-flow state.
fn memory(flows: &Flows, out: &Out<'_>) -> usize {
    flows.len() * FLOW_COST + *out.ooo_total + out.sink.memory()
}

fn over_memcap(flows: &Flows, out: &Out<'_>) -> bool {
    memory(flows, out) > out.opts.memcap
}

/// Makes room when the table is full: ends the longest idle tenth of the flows (closed ones
/// that linger are just forgotten), again while the memcap is still exceeded. Every flow
/// ended here is reported to the sink as [`FlowEnd::Evicted`] and counted.
fn evict(flows: &mut Flows, out: &mut Out<'_>, at: Micros) {
    loop {
        let open = flows.flows.iter().map(|f| f.last_seen);
        let mut seen: Vec<Micros> = open
            .chain(flows.closed.values().map(|c| c.last_seen))
            .collect();
        if seen.is_empty() {
            return;
        }
        let nth = seen.len() / 10;
        let (_, cutoff, _) = seen.select_nth_unstable(nth);
        let cutoff = *cutoff;
        flows.closed.retain(|_, c| c.last_seen > cutoff);
        let mut evicted = flows.extract_if(|flow| flow.last_seen <= cutoff);
        evicted.sort_unstable_by_key(|f| f.id);
        for flow in &mut evicted {
            out.finish(flow, EndKind::Timeout, at, FlowEnd::Evicted);
        }
        if !over_memcap(flows, out) {
            return;
        }
    }
}

/// Whether `bytes` start with a TLS handshake record holding a ClientHello (or an SSLv2
/// ClientHello), or a ServerHello.
fn hello_kind(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [0x16, 0x03, minor, _, _, msg, ..] if *minor <= 0x04 => match msg {
            0x01 => Some(true),
            0x02 => Some(false),
            _ => None,
        },
        [first, _, 0x01, 0x03 | 0x00 | 0x02, ..] if first & 0x80 != 0 => Some(true),
        _ => None,
    }
}

fn process(flow: &mut Flow, side: usize, seg: &Segment<'_>, at: Micros, out: &mut Out<'_>) {
    // Most segments of a large capture: bytes of a connection whose handshake is decided
    // (only its FIN and RST still count) with nothing held. Every check below would let
    // such a segment through without a change.
    if flow.skip_data
        && !(seg.syn || seg.fin || seg.rst || flow.two_isns)
        && flow.halves[0].held_rst.is_none()
        && flow.halves[1].held_rst.is_none()
    {
        return;
    }
    if flow.client_side.is_none() {
        let client = if seg.syn {
            Some(if seg.has_ack { 1 - side } else { side })
        } else if !seg.payload.is_empty() {
            Some(match hello_kind(seg.payload) {
                Some(true) => side,
                Some(false) => 1 - side,
                None => higher_port_side(&flow.key),
            })
        } else if seg.fin || seg.rst {
            Some(higher_port_side(&flow.key))
        } else {
            None
        };
        if let Some(client) = client {
            flow.client_side = Some(client);
            flow.saw_syn = seg.syn;
            start(flow, out);
        }
    }
    if flow.two_isns && seg.has_ack {
        peer_chose_isn(flow, side, seg.ack, out);
    }
    let half = &mut flow.halves[side];
    if seg.syn {
        if half.isn.is_none() && half.delivered == 0 && half.ooo.is_empty() {
            half.isn = Some(seg.seq);
            half.base = Some(seg.seq.wrapping_add(1));
        } else if seg.has_ack
            && half.delivered == 0
            && let Some(isn) = half.isn.filter(|isn| *isn != seg.seq)
        {
            // A SYN-ACK with a new sequence number before any data: the connection goes on
            // from the latest one unless the peer acknowledges the other.
            half.other_isn = Some(isn);
            rebase(half, seg.seq, out);
            flow.two_isns = true;
        }
        if !seg.has_ack && seg.payload.is_empty() {
            // A retransmitted SYN; a new connection on the same tuple was handled earlier.
            return;
        }
    }
    if !flow.started {
        // Undecided roles (pure ACKs so far): just remember where this side is.
        half.base.get_or_insert(seg.seq);
        return;
    }
    // A held RST whose wait is over applies before this segment (which comes after it).
    if let Some(held) = (0..2).find(|s| {
        flow.halves[*s]
            .held_rst
            .is_some_and(|(_, seen)| at.saturating_sub(seen) > RST_HOLD)
    }) {
        out.rst(flow, held, at);
        return;
    }
    if seg.rst {
        if let Some(offset) = rst_waits_at(flow, side, seg) {
            // Bytes sent before it are missing: it waits for them (the first RST held stays).
            flow.halves[side].held_rst.get_or_insert((offset, at));
            return;
        }
        // Ends the connection even after this side's FIN (then it is not reported again).
        out.rst(flow, side, at);
        return;
    }
    let half = &flow.halves[side];
    if half.ended {
        return;
    }
    if flow.skip_data {
        if seg.fin {
            out.end(flow, side, EndKind::Fin, at);
        }
    } else {
        reassemble(flow, side, seg, at, out);
        if !flow.closed {
            release_fin(flow, side, at, out);
            release_fin(flow, 1 - side, at, out);
            for side in [side, 1 - side] {
                if !flow.closed {
                    release_rst(flow, side, at, out);
                }
            }
        }
    }
    if flow.halves.iter().all(|h| h.ended) {
        out.close(flow, at, FlowEnd::Closed);
    }
}

/// The peer (`1 - side`) sent two SYN-ACKs with different sequence numbers: when `side`
/// acknowledges the one not in use, and the peer has delivered nothing yet, switch to it.
fn peer_chose_isn(flow: &mut Flow, side: usize, ack: u32, out: &mut Out<'_>) {
    let peer = &mut flow.halves[1 - side];
    let Some(other) = peer.other_isn else {
        return;
    };
    if peer.delivered != 0 {
        // Its bytes came: the choice is made.
        peer.other_isn = None;
        flow.two_isns = false;
        return;
    }
    if ack == other.wrapping_add(1)
        && let Some(current) = peer.isn
    {
        peer.other_isn = Some(current);
        rebase(peer, other, out);
    }
}

/// Starts a direction (that has delivered nothing) over from initial sequence number `isn`;
/// bytes buffered against the old one are dropped.
fn rebase(half: &mut Half, isn: u32, out: &mut Out<'_>) {
    half.isn = Some(isn);
    half.base = Some(isn.wrapping_add(1));
    *out.ooo_total -= half.ooo_bytes;
    half.ooo = BTreeMap::new();
    half.ooo_bytes = 0;
}

fn higher_port_side(key: &FlowKey) -> usize {
    // Equal ports: side 0, so the choice is at least stable.
    if key.b.port() > key.a.port() { 1 } else { 0 }
}

fn start(flow: &mut Flow, out: &mut Out<'_>) {
    let client = flow.client_side.unwrap_or(0);
    flow.started = true;
    out.stats.flows += 1;
    out.sink.flow_start(&FlowInfo {
        id: flow.id,
        client: flow.key.side(client),
        server: flow.key.side(1 - client),
        start: flow.first_seen,
        saw_handshake: flow.saw_syn,
        transport: super::Transport::Tcp,
    });
    if !out.sink.wants_data(flow.id) {
        flow.skip_data = true;
    }
}

/// The consumer needs no more bytes: free the buffers, and end directions whose FIN was seen
/// beyond a hole (in skip mode holes no longer matter).
fn skip_data(flow: &mut Flow, at: Micros, out: &mut Out<'_>) {
    flow.skip_data = true;
    out.drop_buffers(flow);
    for side in 0..2 {
        let half = &flow.halves[side];
        if half.fin_at.is_some() && !half.ended {
            out.end(flow, side, EndKind::Fin, at);
        }
    }
}

fn reassemble(flow: &mut Flow, side: usize, seg: &Segment<'_>, at: Micros, out: &mut Out<'_>) {
    let data_seq = seg.seq.wrapping_add(u32::from(seg.syn));
    let half = &mut flow.halves[side];
    let base = *half.base.get_or_insert(data_seq);
    let start = half.offset_of(base, data_seq);
    let captured_end = start + seg.payload.len() as i64;
    let wire_end = start + seg.wire_len as i64;
    if seg.fin && half.fin_at.is_none() && wire_end >= half.delivered as i64 {
        half.fin_at = Some(wire_end as u64);
        let peer = &flow.halves[1 - side];
        if seg.has_ack
            && let Some(peer_base) = peer.base
        {
            let acked = peer.offset_of(peer_base, seg.ack);
            // Only a plausible distance ahead: a bogus ack must not hold the FIN forever.
            if acked > peer.delivered as i64 && acked - (peer.delivered as i64) <= 1 << 20 {
                flow.halves[side].fin_acks = Some(acked as u64);
            }
        }
    }
    let half = &mut flow.halves[side];
    let delivered = half.delivered as i64;
    if captured_end > delivered {
        if start <= delivered {
            let skip = (delivered - start) as usize;
            half.delivered = captured_end as u64;
            out.deliver(flow, side, &seg.payload[skip..], at);
            if wire_end > captured_end {
                // The snap length cut bytes that were sent: a hole that will not fill.
                out.give_up(flow, side, at);
                return;
            }
            drain(flow, side, at, out);
            if !flow.skip_data && !flow.halves[side].ended && !out.sink.wants_data(flow.id) {
                skip_data(flow, at, out);
            }
        } else if !buffer(half, start as u64, seg.payload, out) {
            out.give_up(flow, side, at);
        }
    }
}

/// Ends a direction whose FIN is reached, unless the FIN acknowledged peer bytes that have
/// not been delivered yet (and the peer is still open).
fn release_fin(flow: &mut Flow, side: usize, at: Micros, out: &mut Out<'_>) {
    let half = &flow.halves[side];
    if half.ended || half.fin_at != Some(half.delivered) {
        return;
    }
    let peer = &flow.halves[1 - side];
    let waiting = half
        .fin_acks
        .is_some_and(|acked| !flow.skip_data && !peer.ended && peer.delivered < acked);
    if !waiting {
        out.end(flow, side, EndKind::Fin, at);
    }
}

/// Applies the held RST of `side` once the bytes before it are delivered (or no longer
/// followed).
fn release_rst(flow: &mut Flow, side: usize, at: Micros, out: &mut Out<'_>) {
    let half = &flow.halves[side];
    if let Some((offset, _)) = half.held_rst
        && (flow.skip_data || offset <= half.rst_expected())
    {
        out.rst(flow, side, at);
    }
}

/// Delivers buffered bytes that have become contiguous.
fn drain(flow: &mut Flow, side: usize, at: Micros, out: &mut Out<'_>) {
    loop {
        let half = &mut flow.halves[side];
        let Some(entry) = half.ooo.first_entry() else {
            return;
        };
        let start = *entry.key();
        if start > half.delivered {
            return;
        }
        let bytes = entry.remove();
        half.ooo_bytes -= bytes.len();
        *out.ooo_total -= bytes.len();
        let end = start + bytes.len() as u64;
        if end > half.delivered {
            let skip = (half.delivered - start) as usize;
            half.delivered = end;
            out.deliver(flow, side, &bytes[skip..], at);
        }
    }
}

/// Buffers out-of-order bytes at `start`, keeping bytes already buffered where they overlap.
/// False when a limit is reached.
fn buffer(half: &mut Half, start: u64, bytes: &[u8], out: &mut Out<'_>) -> bool {
    let end = start + bytes.len() as u64;
    let mut cursor = start;
    if let Some((&k, v)) = half.ooo.range(..=cursor).next_back() {
        cursor = cursor.max(k + v.len() as u64);
    }
    if cursor >= end {
        // Already buffered in full (a retransmission inside one earlier segment).
        return true;
    }
    let mut pieces: Vec<(u64, u64)> = Vec::new();
    for (&k, v) in half.ooo.range(cursor..end) {
        if k > cursor {
            pieces.push((cursor, k));
        }
        cursor = cursor.max(k + v.len() as u64);
    }
    if cursor < end {
        pieces.push((cursor, end));
    }
    let added: usize = pieces.iter().map(|(s, e)| (e - s) as usize).sum();
    if half.ooo_bytes + added > out.opts.max_ooo_per_direction
        || *out.ooo_total + added > out.opts.max_ooo_total
    {
        return false;
    }
    for (s, e) in pieces {
        let piece = bytes[(s - start) as usize..(e - start) as usize].to_vec();
        half.ooo.insert(s, piece);
    }
    half.ooo_bytes += added;
    *out.ooo_total += added;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(n: u16) -> Flow {
        let end = |port| Endpoint {
            ip: 0x0a00_0001,
            port_and_family: u32::from(port),
        };
        Flow {
            id: FlowId(u64::from(n)),
            key: FlowKey {
                a: end(n),
                b: end(443),
            },
            client_side: None,
            two_isns: false,
            started: false,
            saw_syn: false,
            first_seen: 0,
            last_seen: u64::from(n),
            skip_data: false,
            closed: false,
            halves: [Half::default(), Half::default()],
        }
    }

    /// Every flow is found at its place after removals move others (and the remembered
    /// last flow is never stale).
    #[test]
    fn flows_stay_findable_through_removals() {
        let mut flows = Flows::default();
        for n in 1..=8 {
            flows.insert(flow(n));
        }
        let key = |n| flow(n).key;
        assert_eq!(flows.get_mut(&key(8)).map(|f| f.id), Some(FlowId(8)));
        let at = flows.position(&key(3)).expect("present");
        assert_eq!(flows.take(at).id, FlowId(3));
        // 8 moved into 3's place; the last-found entry pointed at 8's old place.
        assert_eq!(flows.get_mut(&key(8)).map(|f| f.id), Some(FlowId(8)));
        assert!(flows.get_mut(&key(3)).is_none());
        let mut gone: Vec<u64> = flows
            .extract_if(|f| f.last_seen % 2 == 0)
            .iter()
            .map(|f| f.id.0)
            .collect();
        gone.sort();
        assert_eq!(gone, [2, 4, 6, 8]);
        for n in [1, 5, 7] {
            assert_eq!(
                flows.get_mut(&key(n)).map(|f| f.id),
                Some(FlowId(u64::from(n)))
            );
        }
        for n in [2, 3, 4, 6, 8] {
            assert!(flows.get_mut(&key(n)).is_none(), "{n}");
        }
        assert_eq!(flows.len(), 3);
        // A closed flow leaves the open ones but still counts.
        let at = flows.position(&key(5)).expect("present");
        flows.close(at);
        assert!(flows.get_mut(&key(5)).is_none());
        assert!(flows.closed.contains_key(&key(5)));
        assert_eq!(flows.len(), 3);
        assert_eq!(flows.drain().len(), 2);
        assert!(flows.get_mut(&key(1)).is_none());
        assert_eq!(flows.len(), 0);
    }
}
