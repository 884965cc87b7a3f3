//! The packet-level entry point: one captured frame at a time (link type, timestamp, bytes)
//! → link layer → IP defragmentation → TCP reassembly → [`FlowSink`]. Capture files
//! (`read_capture`) and live capture (`watch`) both feed packets through here, so a frame
//! means the same thing from a file and from an interface.

use super::link::LinkDecoder;
use super::quic::QuicTable;
use super::tcp::FlowTable;
use super::{CaptureStats, EndKind, FlowSink, Micros, ReadOptions};

/// Decoding and flow state for one stream of packets.
pub struct PacketReader {
    stats: CaptureStats,
    decoder: LinkDecoder,
    table: FlowTable,
    quic: QuicTable,
    opts: ReadOptions,
    next_fragment_sweep: Micros,
}

impl PacketReader {
    pub fn new(opts: ReadOptions) -> Self {
        PacketReader {
            stats: CaptureStats::default(),
            decoder: LinkDecoder::new(opts.max_fragment_datagrams, opts.fragment_timeout),
            table: FlowTable::new(),
            quic: QuicTable::default(),
            opts,
            next_fragment_sweep: 0,
        }
    }

    /// One captured frame of link type `linktype` (LINKTYPE_* numbers), captured at `at`.
    pub fn packet(&mut self, linktype: u32, frame: &[u8], at: Micros, sink: &mut dyn FlowSink) {
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        if at >= self.next_fragment_sweep {
            self.decoder.expire(at, &mut self.stats);
            self.next_fragment_sweep = at.saturating_add(1_000_000);
            if !self.quic.is_empty() {
                self.quic.advance(at, sink, &mut self.stats, &self.opts);
            }
        }
        let (table, quic, opts) = (&mut self.table, &mut self.quic, &self.opts);
        self.decoder.decode(
            linktype,
            frame,
            at,
            &mut self.stats,
            &mut (table, sink),
            |(table, sink), seg, stats| table.segment(seg, at, *sink, stats, opts),
            |(table, sink), datagram, stats| quic.datagram(datagram, at, table, *sink, stats, opts),
        );
    }

    /// A packet record that could not be decoded at all (e.g. an unknown pcapng interface).
    pub fn malformed(&mut self) {
        self.stats.packets += 1;
        self.stats.malformed += 1;
    }

    /// The clock moved to `now` without a packet (live capture on a quiet interface): flows
    /// idle for longer than the timeout are ended.
    pub fn tick(&mut self, now: Micros, sink: &mut dyn FlowSink) {
        self.table.advance(now, sink, &mut self.stats, &self.opts);
        self.quic.advance(now, sink, &mut self.stats, &self.opts);
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Ends every open flow (`open_kind` for directions without missing bytes) and returns
    /// the counters.
    pub fn finish(mut self, open_kind: EndKind, sink: &mut dyn FlowSink) -> CaptureStats {
        self.table
            .finish_all(open_kind, sink, &mut self.stats, &self.opts);
        self.quic.finish_all(open_kind, sink);
        self.stats
    }
}
