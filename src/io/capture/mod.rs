//! Offline capture reading: pcap / pcapng (optionally gzip'd) → link layer → IP (with
//! fragment reassembly) → TCP reassembly, per flow and direction, handed to a [`FlowSink`].
//!
//! TLS is found by content, not by port: every TCP flow's payload goes to the sink, and the
//! sink says (through [`FlowSink::wants_data`]) when it needs no more bytes of a flow; from
//! then on only FIN/RST are tracked for it.
//!
//! The order of calls for one flow is: `flow_start`, then `data` and `end` in capture order
//! (at most one `end` per direction; never bytes across a hole: a hole ends that direction
//! with [`EndKind::Gap`]), then `flow_end` exactly once. After a RST, the sender's direction
//! ends with [`EndKind::Rst`] and the flow ends; the other direction gets no `end` of its own.
//! pcapng Decryption Secrets Blocks go to [`FlowSink::secrets`] where they stand.

mod file;
mod frag;
mod link;
#[cfg(target_os = "linux")]
mod mapped;
mod packets;
mod quic;
mod tcp;
pub mod writer;

use std::net::SocketAddr;

pub use crate::core::flow::{Direction, EndKind, Micros, Transport};
pub use crate::core::wire::quic::QuicSignal;
pub use file::{read_capture, read_capture_file, read_capture_slice, stdin_file};
pub use packets::PacketReader;

/// A flow's number, unique within one [`read_capture`] call, from 1 in order of appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

/// What is known about a flow when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInfo {
    pub id: FlowId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Time of the flow's first packet.
    pub start: Micros,
    /// A SYN was seen, so the roles come from the handshake and the streams are complete from
    /// their first byte. False when the flow was picked up mid-stream. QUIC: true (a flow
    /// starts with the client's Initial).
    pub saw_handshake: bool,
    /// TCP, or QUIC (the data is then the Initial CRYPTO stream framed as TLS handshake
    /// records, and [`FlowSink::quic`] tells the rest).
    pub transport: Transport,
}

/// The consumer of reassembled flows.
pub trait FlowSink {
    fn flow_start(&mut self, info: &FlowInfo);
    /// In-order bytes of one direction; never across a hole.
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], at: Micros);
    /// One direction ended; called at most once per direction.
    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros);
    /// The flow is over (`why`: both directions ended or a RST, idle expiry, eviction from a
    /// full table, end of input); called exactly once per started flow, last.
    fn flow_end(&mut self, id: FlowId, at: Micros, why: FlowEnd);
    /// False once the consumer needs no more bytes of this flow. Asked after each delivery.
    fn wants_data(&self, id: FlowId) -> bool;
    /// What a QUIC flow showed besides its handshake messages (Handshake and 1-RTT packets,
    /// Retry, Version Negotiation, CONNECTION_CLOSE), in capture order with its data.
    fn quic(&mut self, _id: FlowId, _dir: Direction, _signal: &QuicSignal<'_>, _at: Micros) {}
    /// A pcapng Decryption Secrets Block: its secrets type (e.g. [`SECRETS_TLS_KEY_LOG`])
    /// and data, in capture order (before the packets that need them, as writers put them).
    fn secrets(&mut self, _secrets_type: u32, _data: &[u8]) {}
    /// Bytes the consumer holds for its open flows (an estimate), counted against
    /// [`ReadOptions::memcap`] with the table's own.
    fn memory(&self) -> usize {
        0
    }
    /// True while another thread works on what this sink handed on (the JSON report's
    /// writer). A reader of a mapped file then puts off giving back the pages it is done
    /// with: the TLB flush of that `madvise` must interrupt every core running this
    /// process and wait for it (an IPI, ≈ 40 µs on this project's VM), and the flushes
    /// were a fifth of the capture thread's time under `--json` on the bulk-heavy bench
    /// capture (docs/benchmarks.md#pcap-release). Put off a bounded distance only.
    fn busy(&self) -> bool {
        false
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnd {
    /// Both directions ended (FIN), or a RST.
    Closed,
    /// No packet for [`ReadOptions::idle_timeout`] of capture time.
    IdleTimeout,
    /// The flow table was full ([`ReadOptions::max_flows`] or [`ReadOptions::memcap`]): the
    /// longest idle flows were ended to make room.
    Evicted,
    /// A new connection (a fresh SYN) on the same four-tuple.
    PortReused,
    /// The input ended (end of the file, or live capture stopped).
    InputEnd,
    /// A QUIC connection whose handshake was decided and whose consumer wants no more of it
    /// ([`FlowSink::wants_data`] false): reported then, since its own end (a
    /// CONNECTION_CLOSE in 1-RTT packets) cannot be seen without keys; its later datagrams
    /// are absorbed.
    Settled,
}

/// Decryption Secrets Block type of a TLS key log ("TLSK", NSS key log text).
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Limits and timeouts of the reader. All times are capture time.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// A flow with no packet for this long is ended (`Timeout`, or `Gap` if bytes are missing).
    pub idle_timeout: Micros,
    /// Out-of-order bytes buffered per direction before the hole is declared a gap.
    pub max_ooo_per_direction: usize,
    /// Out-of-order bytes buffered over all flows.
    pub max_ooo_total: usize,
    /// Flows tracked at once; beyond it the longest idle flows are ended early (evicted).
    pub max_flows: usize,
    /// Bytes the open flows may hold: the table's per-flow state, out-of-order buffers and
    /// what the sink reports ([`FlowSink::memory`]); beyond it the longest idle flows are
    /// evicted.
    pub memcap: usize,
    /// A closed flow is remembered this long after its last packet (late ACKs and
    /// retransmitted FINs must not start a new flow), then forgotten, so memory follows the
    /// connection rate, not the capture size.
    pub closed_linger: Micros,
    /// Incomplete IP datagrams held for reassembly at once.
    pub max_fragment_datagrams: usize,
    /// An incomplete IP datagram is dropped after this long.
    pub fragment_timeout: Micros,
    /// Largest capture block accepted (the read buffer grows up to this).
    pub max_block_size: usize,
}

/// Default idle timeout: 5 minutes of capture time, like Zeek's `tcp_inactivity_timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Micros = 300_000_000;
/// Default [`ReadOptions::max_flows`].
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
/// Default [`ReadOptions::memcap`]: 128 MiB, so that the whole process stays near 256 MB
/// whatever the capture (docs/pcap.md, "Memory").
pub const DEFAULT_MEMCAP: usize = 128 << 20;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_ooo_per_direction: 1 << 20,
            max_ooo_total: 64 << 20,
            max_flows: DEFAULT_MAX_FLOWS,
            memcap: DEFAULT_MEMCAP,
            closed_linger: 10_000_000,
            max_fragment_datagrams: 1024,
            fragment_timeout: 30_000_000,
            max_block_size: 64 << 20,
        }
    }
}

/// Counters over one capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packet records read (pcap records, pcapng EPB/SPB/obsolete packet blocks).
    pub packets: u64,
    /// Captured bytes of those packets.
    pub bytes: u64,
    /// TCP segments handed to reassembly (after fragment reassembly).
    pub tcp_packets: u64,
    /// Packets that are not TCP over IP (ARP, UDP, ICMP, ...).
    pub non_tcp: u64,
    /// UDP datagrams read as QUIC (counted among `non_tcp` too).
    pub quic_datagrams: u64,
    /// Packets whose link type is not supported.
    pub unsupported_link: u64,
    /// Packets that could not be decoded (bad headers, unknown interface).
    pub malformed: u64,
    /// Packets cut short by the snap length (fewer bytes captured than sent).
    pub truncated_packets: u64,
    /// IP fragments seen, and datagrams rebuilt from them.
    pub fragments: u64,
    pub reassembled_datagrams: u64,
    /// Incomplete datagrams given up (timeout or limits).
    pub fragments_dropped: u64,
    /// Flows started (reported to the sink).
    pub flows: u64,
    /// Directions ended with a gap.
    pub gaps: u64,
    /// Flows ended early because the table was full (max flows or memcap).
    pub evicted_flows: u64,
    /// Flows ended after the idle timeout.
    pub expired_flows: u64,
    /// Packets whose TCP segment or UDP datagram came out of a tunnel (VXLAN, GRE, ERSPAN,
    /// IP in IP, CAPWAP), and tunnels nested deeper than [`link::MAX_TUNNEL_DEPTH`] (not
    /// read, counted among `non_tcp` too).
    pub tunneled: u64,
    pub tunnels_too_deep: u64,
}

/// Why reading stopped early. Whatever came before was already given to the sink, and every
/// started flow was ended (open directions with `Gap`).
#[derive(Debug, thiserror::Error)]
pub enum CaptureErrorKind {
    #[error("not a pcap or pcapng capture (first bytes {0})")]
    NotACapture(String),
    #[error("empty input: no capture header")]
    Empty,
    #[error("capture truncated: block at byte {offset} (packet {packet}) is cut short")]
    Truncated { offset: u64, packet: u64 },
    #[error("corrupt capture data at byte {offset} (packet {packet}): {detail}")]
    Corrupt {
        offset: u64,
        packet: u64,
        /// In our words (shown).
        detail: String,
        /// The capture library's own text: JSON only.
        library: String,
    },
    #[error("block at byte {offset} (packet {packet}) needs more than {limit} bytes")]
    BlockTooLarge {
        offset: u64,
        packet: u64,
        limit: usize,
    },
    #[error(
        "the file shrank while being read (another process truncated or rewrote it): stopped \
         at byte {offset} (packet {packet})"
    )]
    Shrank { offset: u64, packet: u64 },
    #[error("read error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
}

/// A failed read, with the counters up to the failure.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct CaptureError {
    pub kind: CaptureErrorKind,
    pub stats: Box<CaptureStats>,
}

impl CaptureError {
    /// The capture library's own text behind the error, when there is one (JSON only).
    pub fn library_detail(&self) -> Option<String> {
        match &self.kind {
            CaptureErrorKind::Corrupt { library, .. } => Some(library.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

/// Waits until `source` has something to read or `timeout` passes: a live capture reads
/// without blocking and waits here, so it notices its deadline and stop requests.
#[cfg(target_os = "linux")]
pub fn wait_readable(source: &impl std::os::fd::AsRawFd, timeout: std::time::Duration) {
    let mut fd = libc::pollfd {
        fd: source.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: poll reads and writes only the one pollfd passed, which outlives the call.
    // An error (EINTR on a signal) just ends the wait early.
    let _ = unsafe { libc::poll(&mut fd, 1, ms) };
}

/// Without poll: a short sleep between reads.
#[cfg(not(target_os = "linux"))]
pub fn wait_readable<T>(_source: &T, timeout: std::time::Duration) {
    std::thread::sleep(timeout.min(std::time::Duration::from_millis(50)));
}
