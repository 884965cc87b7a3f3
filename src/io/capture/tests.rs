//! Whole-pipeline tests: synthetic packets (etherparse) in synthetic pcap / pcapng files,
//! read back through `read_capture` into a recording sink that also checks the call order.

use std::collections::HashMap;

use etherparse::PacketBuilder;

use super::link::tests::fragment_v4;
use super::writer::{self, Close, Connection, LinkType};
use super::*;

/// Records everything and checks the sink contract as it goes.
#[derive(Default)]
pub(crate) struct Recorder {
    pub flows: Vec<FlowInfo>,
    pub data: HashMap<(u64, Direction), Vec<u8>>,
    pub ends: Vec<(u64, Direction, EndKind, Micros)>,
    pub flow_ends: Vec<u64>,
    /// Once a flow has this many bytes (both directions), `wants_data` says no.
    pub want_limit: Option<usize>,
}

impl Recorder {
    fn bytes(&self, id: u64, dir: Direction) -> &[u8] {
        self.data.get(&(id, dir)).map_or(&[], |v| v.as_slice())
    }
    fn ends_of(&self, id: u64) -> Vec<(Direction, EndKind)> {
        self.ends
            .iter()
            .filter(|e| e.0 == id)
            .map(|e| (e.1, e.2))
            .collect()
    }
    fn started(&self, id: u64) -> bool {
        self.flows.iter().any(|f| f.id.0 == id)
    }
}

impl FlowSink for Recorder {
    fn flow_start(&mut self, info: &FlowInfo) {
        assert!(!self.started(info.id.0), "flow started twice");
        self.flows.push(info.clone());
    }
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], _at: Micros) {
        assert!(self.started(id.0), "data before flow_start");
        assert!(!bytes.is_empty(), "empty data call");
        assert!(!self.flow_ends.contains(&id.0), "data after flow_end");
        assert!(
            !self.ends.iter().any(|e| e.0 == id.0 && e.1 == dir),
            "data after end"
        );
        self.data.entry((id.0, dir)).or_default().extend(bytes);
    }
    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros) {
        assert!(self.started(id.0), "end before flow_start");
        assert!(!self.flow_ends.contains(&id.0), "end after flow_end");
        assert!(
            !self.ends.iter().any(|e| e.0 == id.0 && e.1 == dir),
            "two ends for one direction"
        );
        self.ends.push((id.0, dir, kind, at));
    }
    fn flow_end(&mut self, id: FlowId, _at: Micros, _why: FlowEnd) {
        assert!(self.started(id.0), "flow_end before flow_start");
        assert!(!self.flow_ends.contains(&id.0), "flow_end twice");
        self.flow_ends.push(id.0);
    }
    fn wants_data(&self, id: FlowId) -> bool {
        let Some(limit) = self.want_limit else {
            return true;
        };
        let got: usize = [Direction::ClientToServer, Direction::ServerToClient]
            .iter()
            .map(|d| self.bytes(id.0, *d).len())
            .sum();
        got < limit
    }
}

impl Recorder {
    /// Every started flow ended exactly once.
    fn assert_all_ended(&self) {
        let mut ended = self.flow_ends.clone();
        ended.sort_unstable();
        let mut started: Vec<u64> = self.flows.iter().map(|f| f.id.0).collect();
        started.sort_unstable();
        assert_eq!(started, ended, "every started flow gets one flow_end");
    }
}

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// A TCP packet between 10.0.0.1:40000 (client) and 10.0.0.2:443, over Ethernet.
#[derive(Clone, Copy)]
struct P {
    from_client: bool,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
}

fn p(from_client: bool, seq: u32) -> P {
    P {
        from_client,
        seq,
        ack: Some(1),
        syn: false,
        fin: false,
        rst: false,
    }
}

fn frame(pk: P, payload: &[u8]) -> Vec<u8> {
    frame_ports(pk, payload, 40000, 443)
}

fn frame_ports(pk: P, payload: &[u8], client_port: u16, server_port: u16) -> Vec<u8> {
    let (src, dst, sp, dp) = if pk.from_client {
        ([10, 0, 0, 1], [10, 0, 0, 2], client_port, server_port)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], server_port, client_port)
    };
    let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, pk.seq, 1000);
    if let Some(a) = pk.ack {
        b = b.ack(a);
    }
    if pk.syn {
        b = b.syn();
    }
    if pk.fin {
        b = b.fin();
    }
    if pk.rst {
        b = b.rst();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// A little-endian microsecond pcap of the given frames.
fn pcap(linktype: u32, frames: &[(Micros, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(65_535u32.to_le_bytes());
    out.extend(linktype.to_le_bytes());
    for (at, f) in frames {
        out.extend(((at / 1_000_000) as u32).to_le_bytes());
        out.extend(((at % 1_000_000) as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(f);
    }
    out
}

fn run_with(
    bytes: &[u8],
    opts: &ReadOptions,
    rec: &mut Recorder,
) -> Result<CaptureStats, CaptureError> {
    let r = read_capture(bytes, opts, rec);
    rec.assert_all_ended();
    r
}

fn run(frames: &[(Micros, Vec<u8>)]) -> (Recorder, CaptureStats) {
    let mut rec = Recorder::default();
    let stats = run_with(&pcap(1, frames), &ReadOptions::default(), &mut rec).unwrap();
    (rec, stats)
}

fn syn(isn: u32) -> P {
    P {
        ack: None,
        syn: true,
        ..p(true, isn)
    }
}

fn syn_ack(isn: u32, ack: u32) -> P {
    P {
        ack: Some(ack),
        syn: true,
        ..p(false, isn)
    }
}

fn fin(from_client: bool, seq: u32) -> P {
    P {
        fin: true,
        ..p(from_client, seq)
    }
}

/// Handshake with the given ISNs, then the frames of `rest`.
fn handshake(cisn: u32, sisn: u32) -> Vec<(Micros, Vec<u8>)> {
    vec![
        (1_000_000, frame(syn(cisn), b"")),
        (1_000_001, frame(syn_ack(sisn, cisn.wrapping_add(1)), b"")),
        (1_000_002, frame(p(true, cisn.wrapping_add(1)), b"")),
    ]
}

#[test]
fn handshake_data_and_fins() {
    let mut f = handshake(100, 5000);
    f.push((1_000_010, frame(p(true, 101), b"hello ")));
    f.push((1_000_011, frame(p(true, 107), b"world")));
    f.push((1_000_012, frame(p(false, 5001), b"answer")));
    f.push((1_000_013, frame(fin(true, 112), b"")));
    f.push((1_000_014, frame(fin(false, 5007), b"")));
    f.push((1_000_015, frame(p(true, 113), b"")));
    let (rec, stats) = run(&f);
    assert_eq!(rec.flows.len(), 1);
    let info = &rec.flows[0];
    assert_eq!(info.client, "10.0.0.1:40000".parse().unwrap());
    assert_eq!(info.server, "10.0.0.2:443".parse().unwrap());
    assert!(info.saw_handshake);
    assert_eq!(info.start, 1_000_000);
    assert_eq!(rec.bytes(1, C2S), b"hello world");
    assert_eq!(rec.bytes(1, S2C), b"answer");
    assert_eq!(
        rec.ends_of(1),
        vec![(C2S, EndKind::Fin), (S2C, EndKind::Fin)]
    );
    assert_eq!((stats.flows, stats.tcp_packets, stats.gaps), (1, 9, 0));
}

#[test]
fn out_of_order_retransmission_and_overlap() {
    let mut f = handshake(100, 5000);
    // Bytes 101.. : "abcdefghijkl" sent as [0..4) [4..8) [8..12), arriving 3, 1, 2, with
    // a retransmission of 1 carrying other bytes, and an overlapping out-of-order copy.
    f.push((2, frame(p(true, 109), b"ijkl")));
    f.push((3, frame(p(true, 107), b"XXXXX"))); // overlaps [6..11): buffered [6..8) only
    f.push((4, frame(p(true, 101), b"abcd")));
    // A retransmission that also carries two new bytes: only [4..6) of it is used.
    f.push((5, frame(p(true, 101), b"ZZZZZZ")));
    f.push((6, frame(p(true, 105), b"efgh"))); // all of it already delivered or buffered
    let (rec, _) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"abcdZZXXijkl");
    assert_eq!(
        rec.ends_of(1),
        vec![(C2S, EndKind::Timeout), (S2C, EndKind::Timeout)]
    );
}

/// A retransmission wholly inside one buffered out-of-order segment (a corrupted capture
/// showed it): nothing to add, no panic.
#[test]
fn retransmission_inside_buffered_segment() {
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 105), b"efghijkl"))); // buffered [4..12)
    f.push((3, frame(p(true, 107), b"gh"))); // inside it
    f.push((4, frame(p(true, 101), b"abcd")));
    let (rec, _) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"abcdefghijkl");
}

#[test]
fn sequence_wrap() {
    let isn = u32::MAX - 5;
    let mut f = handshake(isn, 7);
    let first = isn.wrapping_add(1);
    f.push((2, frame(p(true, first.wrapping_add(8)), b"89ab"))); // after the wrap, early
    f.push((3, frame(p(true, first), b"01234567"))); // crosses 2^32
    f.push((4, frame(fin(true, first.wrapping_add(12)), b"")));
    let (rec, _) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"0123456789ab");
    assert_eq!(rec.ends_of(1)[0], (C2S, EndKind::Fin));
}

#[test]
fn mid_stream_roles_from_content_then_port() {
    // The ClientHello comes from the lower port (443 → 40000 here is reversed): content wins.
    let hello = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00";
    let mut f = vec![(5, frame_ports(p(false, 900), b"junk", 1234, 50000))];
    f.push((6, frame_ports(p(true, 77), hello, 1234, 50000)));
    let (rec, _) = run(&f);
    // The first payload was not a hello: the higher port (50000, "server" side) is the client.
    assert_eq!(rec.flows[0].client, "10.0.0.2:50000".parse().unwrap());
    assert!(!rec.flows[0].saw_handshake);

    let f = vec![
        (5, frame_ports(p(true, 77), hello, 1234, 50000)),
        (
            6,
            frame_ports(p(false, 900), b"\x16\x03\x03\x00\x01\x02", 1234, 50000),
        ),
    ];
    let (rec, _) = run(&f);
    assert_eq!(rec.flows[0].client, "10.0.0.1:1234".parse().unwrap());
    assert_eq!(rec.bytes(1, C2S), hello);
    assert_eq!(rec.bytes(1, S2C), b"\x16\x03\x03\x00\x01\x02");

    // A ServerHello first marks its sender as the server.
    let f = vec![(
        5,
        frame_ports(p(true, 77), b"\x16\x03\x03\x00\x01\x02", 1234, 50000),
    )];
    let (rec, _) = run(&f);
    assert_eq!(rec.flows[0].server, "10.0.0.1:1234".parse().unwrap());
}

#[test]
fn hole_is_reported_as_gap_never_crossed() {
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"abcd")));
    f.push((3, frame(p(true, 109), b"ijkl"))); // [4..8) never arrives
    f.push((4, frame(fin(true, 113), b"")));
    f.push((5, frame(p(false, 5001), b"ok")));
    f.push((6, frame(fin(false, 5003), b"")));
    let (rec, stats) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"abcd");
    assert_eq!(rec.bytes(1, S2C), b"ok");
    assert_eq!(
        rec.ends_of(1),
        vec![(S2C, EndKind::Fin), (C2S, EndKind::Gap)]
    );
    assert_eq!(stats.gaps, 1);
}

#[test]
fn out_of_order_cap_ends_with_gap_promptly() {
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"abcd")));
    for i in 0..10u32 {
        f.push((3, frame(p(true, 200 + i * 100), &[b'x'; 100])));
    }
    f.push((4, frame(p(false, 5001), b"late")));
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_ooo_per_direction: 450,
        ..ReadOptions::default()
    };
    run_with(&pcap(1, &f), &opts, &mut rec).unwrap();
    assert_eq!(rec.bytes(1, C2S), b"abcd");
    assert_eq!(rec.ends[0].1, C2S);
    assert_eq!(rec.ends[0].2, EndKind::Gap);
    assert_eq!(
        rec.ends[0].3, 3,
        "reported when the cap was hit, not at the end"
    );
    assert_eq!(rec.bytes(1, S2C), b"late");
}

#[test]
fn rst_ends_the_flow() {
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"hello")));
    f.push((
        3,
        frame(
            P {
                rst: true,
                ..p(false, 5001)
            },
            b"",
        ),
    ));
    f.push((4, frame(p(true, 106), b"after")));
    let (rec, _) = run(&f);
    assert_eq!(rec.ends_of(1), vec![(S2C, EndKind::Rst)]);
    // A RST after the sender's own FIN still ends the flow at once.
    let mut f = handshake(100, 5000);
    f.push((2, frame(fin(true, 101), b"")));
    f.push((
        3,
        frame(
            P {
                rst: true,
                ..p(true, 102)
            },
            b"",
        ),
    ));
    let (rec2, _) = run(&f);
    assert_eq!(rec2.ends_of(1), vec![(C2S, EndKind::Fin)]);
    assert_eq!(rec2.flow_ends, vec![1]);
    assert_eq!(rec.bytes(1, C2S), b"hello");
    assert_eq!(rec.ends_of(1), vec![(S2C, EndKind::Rst)]);
    assert_eq!(
        rec.flows.len(),
        1,
        "late packets of a closed flow start nothing"
    );
}

fn rst(from_client: bool, seq: u32) -> P {
    P {
        rst: true,
        ..p(from_client, seq)
    }
}

/// A RST captured before the client's own last bytes (a capture merged from buffers): it
/// waits for them, so the alert is delivered and then the flow ends as reset, in order.
/// The ordering `tests/pcap_robust.rs` once drew for `gnutls_unknown_ca.pcap`.
#[test]
fn rst_before_the_bytes_it_follows_waits_for_them() {
    let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30];
    for fin_too in [false, true] {
        let mut f = handshake(100, 5000);
        f.push((2, frame(p(true, 101), b"hello")));
        // The client's alert at 106, its FIN at 113 and its RST after them, RST first.
        let rst_seq = if fin_too { 114 } else { 113 };
        f.push((3, frame(rst(true, rst_seq), b"")));
        f.push((4, frame(p(true, 106), &alert)));
        if fin_too {
            f.push((5, frame(fin(true, 113), b"")));
        }
        let (rec, stats) = run(&f);
        let mut sent = b"hello".to_vec();
        sent.extend(alert);
        assert_eq!(rec.bytes(1, C2S), sent, "fin {fin_too}");
        let end = if fin_too { EndKind::Fin } else { EndKind::Rst };
        assert_eq!(rec.ends_of(1), vec![(C2S, end)], "fin {fin_too}");
        assert_eq!(rec.flow_ends, vec![1]);
        assert_eq!(stats.gaps, 0);
    }
    // The FIN before the alert too (RST, FIN, alert): the same.
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"hello")));
    f.push((3, frame(rst(true, 114), b"")));
    f.push((4, frame(fin(true, 113), b"")));
    f.push((5, frame(p(true, 106), &alert)));
    let (rec, _) = run(&f);
    assert_eq!(rec.bytes(1, C2S).len(), 12);
    assert_eq!(rec.ends_of(1), vec![(C2S, EndKind::Fin)]);
    assert_eq!(rec.flow_ends, vec![1]);
}

/// A RST beyond a hole that never fills still ends the flow as reset: at the end of the
/// capture, when the hole is given up (out-of-order cap), or once its wait is over.
#[test]
fn rst_beyond_a_hole_that_never_fills_still_resets() {
    // Capture end: the bytes before the RST never come; nothing is delivered past the hole.
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"hello")));
    f.push((3, frame(rst(true, 120), b"")));
    f.push((4, frame(p(true, 112), b"late")));
    let (rec, stats) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"hello");
    assert_eq!(rec.ends_of(1), vec![(C2S, EndKind::Rst)]);
    assert_eq!(rec.flow_ends, vec![1]);
    assert_eq!(stats.gaps, 0);
    // The hole is given up (the out-of-order cap): reset at that point.
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"hello")));
    f.push((3, frame(rst(true, 2000), b"")));
    f.push((4, frame(p(true, 200), &[7u8; 64])));
    f.push((5, frame(p(false, 5001), b"after")));
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_ooo_per_direction: 32,
        ..ReadOptions::default()
    };
    run_with(&pcap(1, &f), &opts, &mut rec).unwrap();
    assert_eq!(rec.ends_of(1), vec![(C2S, EndKind::Rst)]);
    assert_eq!(rec.bytes(1, S2C), b"", "the flow ended at the RST");
    // The wait is over: the next packet of the flow, over a second later, comes after it.
    let mut f = handshake(100, 5000);
    f.push((1_000_010, frame(p(true, 101), b"hello")));
    f.push((1_000_011, frame(rst(true, 120), b"")));
    f.push((2_000_012, frame(p(false, 5001), b"answer")));
    let (rec, _) = run(&f);
    assert_eq!(rec.bytes(1, S2C), b"", "applied before the late packet");
    assert_eq!(rec.ends_of(1), vec![(C2S, EndKind::Rst)]);
    // In sequence (no hole), or far outside the window: applied at once, as before.
    for seq in [106, 106 + (1 << 21)] {
        let mut f = handshake(100, 5000);
        f.push((2, frame(p(true, 101), b"hello")));
        f.push((3, frame(rst(true, seq), b"")));
        f.push((4, frame(p(false, 5001), b"answer")));
        let (rec, _) = run(&f);
        assert_eq!(rec.ends_of(1), vec![(C2S, EndKind::Rst)], "seq {seq}");
        assert_eq!(rec.bytes(1, S2C), b"", "seq {seq}");
    }
}

#[test]
fn truncated_segment_is_a_gap_after_its_captured_bytes() {
    let mut f = handshake(100, 5000);
    let mut cut = frame(p(true, 101), b"abcdefgh");
    cut.truncate(cut.len() - 3);
    f.push((2, cut));
    f.push((3, frame(p(true, 109), b"more")));
    let (rec, stats) = run(&f);
    assert_eq!(rec.bytes(1, C2S), b"abcde");
    assert_eq!(rec.ends_of(1)[0], (C2S, EndKind::Gap));
    assert_eq!(stats.truncated_packets, 1);
}

#[test]
fn decided_flow_stops_data_but_tracks_fin() {
    let mut f = handshake(100, 5000);
    f.push((2, frame(p(true, 101), b"abcd")));
    f.push((3, frame(p(true, 109), b"ijkl"))); // buffered out of order...
    f.push((4, frame(p(true, 105), b"efgh"))); // ...then the consumer is done
    f.push((5, frame(p(false, 5001), b"server bytes")));
    f.push((6, frame(fin(false, 5013), b"")));
    f.push((7, frame(fin(true, 113), b"")));
    let mut rec = Recorder {
        want_limit: Some(6),
        ..Recorder::default()
    };
    run_with(&pcap(1, &f), &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(rec.bytes(1, C2S), b"abcdefghijkl");
    assert_eq!(rec.bytes(1, S2C), b"");
    assert_eq!(
        rec.ends_of(1),
        vec![(S2C, EndKind::Fin), (C2S, EndKind::Fin)]
    );
}

#[test]
fn idle_expiry_and_port_reuse() {
    let mut f = handshake(100, 5000);
    f.push((1_000_010, frame(p(true, 101), b"one")));
    // Ten minutes later, more bytes: the first flow timed out, this is picked up anew.
    f.push((601_000_000, frame(p(true, 104), b"two")));
    let (rec, _) = run(&f);
    assert_eq!(rec.flows.len(), 2);
    assert_eq!(rec.ends[0], (1, C2S, EndKind::Timeout, 301_000_010));
    assert_eq!(rec.bytes(2, C2S), b"two");
    assert!(!rec.flows[1].saw_handshake);

    // A fresh SYN on a closed four-tuple is a new connection.
    let mut f = handshake(100, 5000);
    f.push((2, frame(fin(true, 101), b"")));
    f.push((3, frame(fin(false, 5001), b"")));
    f.extend(handshake(9000, 7000));
    f.push((4, frame(p(true, 9001), b"again")));
    let (rec, stats) = run(&f);
    assert_eq!(stats.flows, 2);
    assert_eq!(rec.bytes(2, C2S), b"again");
    assert!(rec.flows[1].saw_handshake);
}

#[test]
fn fragmented_segments_through_the_pipeline() {
    let mut f = handshake(100, 5000);
    let data: Vec<u8> = (0..200u8).collect();
    let full = frame(p(true, 101), &data);
    for frag in fragment_v4(&full[14..], 64).into_iter().rev() {
        let mut eth = full[..14].to_vec();
        eth.extend(frag);
        f.push((2, eth));
    }
    let (rec, stats) = run(&f);
    assert_eq!(rec.bytes(1, C2S), &data[..]);
    assert_eq!(stats.reassembled_datagrams, 1);
}

#[test]
fn writer_round_trip_v4_v6_ethernet_raw() {
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let conns = vec![
        Connection {
            client: "192.0.2.1:50000".parse().unwrap(),
            server: "192.0.2.2:443".parse().unwrap(),
            start: 1_700_000_000_000_000,
            client_isn: u32::MAX - 1000, // wraps inside the big chunk
            server_isn: 42,
            chunks: vec![
                (C2S, 1_700_000_000_000_100, big.clone()),
                (S2C, 1_700_000_000_000_200, b"reply".to_vec()),
                (C2S, 1_700_000_000_000_300, b"tail".to_vec()),
            ],
            close: Close::Fin(S2C),
            end: 1_700_000_000_000_400,
        },
        Connection {
            client: "[2001:db8::1]:50001".parse().unwrap(),
            server: "[2001:db8::2]:8443".parse().unwrap(),
            start: 1_700_000_001_000_000,
            client_isn: 1,
            server_isn: 2,
            chunks: vec![(C2S, 1_700_000_001_000_100, b"hi".to_vec())],
            close: Close::Rst(S2C),
            end: 1_700_000_001_000_200,
        },
    ];
    for link in [LinkType::Ethernet, LinkType::Raw] {
        let mut file = Vec::new();
        writer::write_pcap(&mut file, link, &conns).unwrap();
        let mut rec = Recorder::default();
        let stats = run_with(&file, &ReadOptions::default(), &mut rec).unwrap();
        assert_eq!(stats.flows, 2);
        let mut expected_c2s = big.clone();
        expected_c2s.extend(b"tail");
        assert_eq!(rec.bytes(1, C2S), &expected_c2s[..]);
        assert_eq!(rec.bytes(1, S2C), b"reply");
        assert_eq!(
            rec.ends_of(1),
            vec![(S2C, EndKind::Fin), (C2S, EndKind::Fin)]
        );
        assert_eq!(rec.flows[1].client, conns[1].client);
        assert_eq!(rec.bytes(2, C2S), b"hi");
        assert_eq!(rec.ends_of(2), vec![(S2C, EndKind::Rst)]);
        assert_eq!(rec.flows[0].start, conns[0].start);
    }
    let mixed = Connection {
        server: "[::1]:1".parse().unwrap(),
        ..conns[0].clone()
    };
    assert!(writer::write_pcap(&mut Vec::new(), LinkType::Raw, &[mixed]).is_err());
}

/// A reader that hands out at most `step` bytes per call, like a pipe.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn sample_frames() -> Vec<(Micros, Vec<u8>)> {
    let mut f = handshake(100, 5000);
    f.push((1_000_010, frame(p(true, 101), b"hello")));
    f.push((1_000_011, frame(p(false, 5001), b"world")));
    f
}

fn summary(rec: &Recorder) -> (Vec<FlowInfo>, Vec<u8>, Vec<u8>) {
    (
        rec.flows.clone(),
        rec.bytes(1, C2S).to_vec(),
        rec.bytes(1, S2C).to_vec(),
    )
}

/// A big-endian pcap with nanosecond timestamps of `frames` (Ethernet).
fn pcap_be_nanos(frames: &[(Micros, Vec<u8>)]) -> Vec<u8> {
    let mut be = Vec::new();
    be.extend(0xa1b2_3c4du32.to_be_bytes());
    be.extend(2u16.to_be_bytes());
    be.extend(4u16.to_be_bytes());
    be.extend([0u8; 8]);
    be.extend(65_535u32.to_be_bytes());
    be.extend(1u32.to_be_bytes());
    for (at, f) in frames {
        be.extend(((at / 1_000_000) as u32).to_be_bytes());
        be.extend((((at % 1_000_000) * 1000) as u32).to_be_bytes());
        be.extend((f.len() as u32).to_be_bytes());
        be.extend((f.len() as u32).to_be_bytes());
        be.extend(f);
    }
    be
}

#[test]
fn pcap_variants_byte_order_nanoseconds_gzip_and_short_reads() {
    let plain = pcap(1, &sample_frames());
    let mut reference = Recorder::default();
    run_with(&plain, &ReadOptions::default(), &mut reference).unwrap();
    assert_eq!(reference.bytes(1, S2C), b"world");

    // Big-endian nanosecond pcap of the same packets.
    let be = pcap_be_nanos(&sample_frames());
    let mut rec = Recorder::default();
    run_with(&be, &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(summary(&rec), summary(&reference));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let gz = gz.finish().unwrap();
    for step in [1, 3, 4096] {
        let mut rec = Recorder::default();
        read_capture(
            Trickle { data: &gz, step },
            &ReadOptions::default(),
            &mut rec,
        )
        .unwrap();
        assert_eq!(summary(&rec), summary(&reference), "gzip, step {step}");
        let mut rec = Recorder::default();
        read_capture(
            Trickle { data: &plain, step },
            &ReadOptions::default(),
            &mut rec,
        )
        .unwrap();
        assert_eq!(summary(&rec), summary(&reference), "plain, step {step}");
    }
}

/// A pcapng block of `kind` with `body`, in the given byte order.
fn ng_block(be: bool, kind: u32, body: &[u8]) -> Vec<u8> {
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = 12 + body.len() as u32;
    let mut out = Vec::new();
    out.extend(u32b(kind));
    out.extend(u32b(len));
    out.extend(body);
    out.extend(u32b(len));
    out
}

fn ng_section(
    be: bool,
    interfaces: &[(u16, Option<u8>)],
    packets: &[(u32, u64, Vec<u8>)],
) -> Vec<u8> {
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut shb = Vec::new();
    shb.extend(u32b(0x1a2b_3c4d));
    shb.extend(u16b(1));
    shb.extend(u16b(0));
    shb.extend((-1i64).to_le_bytes());
    let mut out = ng_block(be, 0x0a0d_0d0a, &shb);
    for &(linktype, tsresol) in interfaces {
        let mut idb = Vec::new();
        idb.extend(u16b(linktype));
        idb.extend(u16b(0));
        idb.extend(u32b(0));
        if let Some(r) = tsresol {
            idb.extend(u16b(9)); // if_tsresol
            idb.extend(u16b(1));
            idb.extend([r, 0, 0, 0]);
            idb.extend([0, 0, 0, 0]); // opt_endofopt
        }
        out.extend(ng_block(be, 1, &idb));
    }
    for (if_id, ts, data) in packets {
        let mut epb = Vec::new();
        epb.extend(u32b(*if_id));
        epb.extend(u32b((ts >> 32) as u32));
        epb.extend(u32b(*ts as u32));
        epb.extend(u32b(data.len() as u32));
        epb.extend(u32b(data.len() as u32));
        epb.extend(data);
        out.extend(ng_block(be, 6, &epb));
    }
    out
}

/// A little-endian pcapng section with an Ethernet (µs) and a raw IP (ns) interface, the
/// frames alternating between them.
fn two_interface_section(frames: &[(Micros, Vec<u8>)]) -> Vec<u8> {
    let packets: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, (at, f))| {
            if i % 2 == 0 {
                (0, *at, f.clone())
            } else {
                (1, *at * 1000, f[14..].to_vec())
            }
        })
        .collect();
    ng_section(false, &[(1, None), (101, Some(9))], &packets)
}

#[test]
fn pcapng_sections_mixed_link_types_and_resolutions() {
    let frames = sample_frames();
    // Section 1 (little-endian): Ethernet (µs) and raw IP (ns) interfaces, packets alternate.
    let mut file = two_interface_section(&frames);
    // Section 2 (big-endian): one SLL2 interface; a second connection.
    let other = frame_ports(p(true, 1), b"\x16\x03\x01\x00\x01\x01", 41000, 443);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend(&other[14..]);
    file.extend(ng_section(true, &[(276, Some(6))], &[(0, 2_000_000, sll2)]));
    let mut rec = Recorder::default();
    let stats = run_with(&file, &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(stats.packets, 6);
    assert_eq!(stats.flows, 2);
    assert_eq!(rec.bytes(1, C2S), b"hello");
    assert_eq!(rec.bytes(1, S2C), b"world");
    assert_eq!(rec.flows[0].start, 1_000_000);
    assert_eq!(rec.flows[1].start, 2_000_000);
    assert_eq!(rec.flows[1].client, "10.0.0.1:41000".parse().unwrap());

    // A packet naming an interface the section does not have is counted, not fatal.
    let bad = ng_section(false, &[(1, None)], &[(3, 0, frames[0].1.clone())]);
    let mut rec = Recorder::default();
    let stats = run_with(&bad, &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(stats.malformed, 1);
}

#[test]
fn large_blocks_grow_the_buffer_up_to_the_cap() {
    let mut f = handshake(100, 5000);
    // A 2 MiB raw-IP-sized frame is impossible; a jumbo Ethernet frame with trailing
    // bytes beyond the IP packet is not: the block is what matters.
    let mut jumbo = frame(p(true, 101), b"x");
    jumbo.resize(3 << 20, 0);
    f.push((2, jumbo));
    let file = pcap(1, &f);
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_block_size: 8 << 20,
        ..ReadOptions::default()
    };
    run_with(&file, &opts, &mut rec).unwrap();
    assert_eq!(rec.bytes(1, C2S), b"x");
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_block_size: 2 << 20,
        ..ReadOptions::default()
    };
    let err = run_with(&file, &opts, &mut rec).unwrap_err();
    assert!(
        matches!(err.kind, CaptureErrorKind::BlockTooLarge { packet: 4, .. }),
        "{err}"
    );
    assert_eq!(err.stats.packets, 3);
}

#[test]
fn not_a_capture_and_empty_input() {
    let mut rec = Recorder::default();
    let err = read_capture(
        &b"GET / HTTP/1.1\r\n"[..],
        &ReadOptions::default(),
        &mut rec,
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, CaptureErrorKind::NotACapture(_)),
        "{err}"
    );
    let err = read_capture(&b""[..], &ReadOptions::default(), &mut rec).unwrap_err();
    assert!(matches!(err.kind, CaptureErrorKind::Empty), "{err}");
}

#[test]
fn truncated_synthetic_capture_keeps_what_came_before() {
    let file = pcap(1, &sample_frames());
    let cut = &file[..file.len() - 3];
    let mut rec = Recorder::default();
    let err = run_with(cut, &ReadOptions::default(), &mut rec).unwrap_err();
    assert!(
        matches!(err.kind, CaptureErrorKind::Truncated { packet: 5, .. }),
        "{err}"
    );
    assert_eq!(err.stats.packets, 4);
    assert_eq!(rec.bytes(1, C2S), b"hello");
    // The open directions end with a gap: the file, not the connection, stopped.
    assert!(rec.ends_of(1).iter().all(|(_, k)| *k == EndKind::Gap));
}

/// A reader that fails (like a disk error) after handing out `good` bytes.
struct FailsAfter<'a> {
    data: &'a [u8],
    good: usize,
}

impl std::io::Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.good).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.good -= n;
        Ok(n)
    }
}

#[test]
fn read_error_mid_capture_keeps_what_came_before_plain_or_gzip() {
    let file = pcap(1, &sample_frames());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &file).unwrap();
    let gz = gz.finish().unwrap();
    for input in [&file, &gz] {
        let mut rec = Recorder::default();
        // Fails 10 bytes before the end: inside the last packet record of the plain file.
        let failing = FailsAfter {
            data: input,
            good: input.len() - 10,
        };
        let err = read_capture(failing, &ReadOptions::default(), &mut rec).unwrap_err();
        rec.assert_all_ended();
        // The same for both: the error is the input's, after the four whole packets.
        assert_eq!(err.to_string(), "read error at byte 309: disk on fire");
        assert_eq!(err.stats.packets, 4);
        assert_eq!(rec.bytes(1, C2S), b"hello");
    }
}

/// The third-party captures (not in the repository): `None`, with a message, when absent.
fn ja4_captures() -> Option<Vec<std::path::PathBuf>> {
    // ../shared from the main checkout; ../../shared from a worktree under /work/wt.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("../shared/captures/ja4"),
        root.join("../../shared/captures/ja4"),
    ];
    let Some((dir, tsv)) = candidates.iter().find_map(|d| {
        std::fs::read_to_string(d.join("expected.tsv"))
            .ok()
            .map(|t| (d, t))
    }) else {
        eprintln!("skipping: {} not found", candidates[0].display());
        return None;
    };
    // The captures the TCP reference (expected.tsv) fingerprints; QUIC-only captures
    // (expected-quic.tsv) hold no TCP flow.
    let mut files: Vec<_> = tsv
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .map(|name| dir.join(name))
        .collect();
    files.sort();
    files.dedup();
    Some(files)
}

fn read_file(path: &std::path::Path) -> (Recorder, CaptureStats) {
    let bytes = std::fs::read(path).unwrap();
    let mut rec = Recorder::default();
    let stats = run_with(&bytes, &ReadOptions::default(), &mut rec)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (rec, stats)
}

#[test]
fn third_party_captures_read_cleanly() {
    let Some(files) = ja4_captures() else { return };
    assert!(files.len() >= 17, "{files:?}");
    for path in &files {
        let (rec, stats) = read_file(path);
        assert!(stats.flows > 0, "{}: {stats:?}", path.display());
        assert_eq!(stats.malformed, 0, "{}", path.display());
        assert_eq!(stats.gaps, 0, "{}", path.display());
        assert!(!rec.data.is_empty(), "{}", path.display());
    }
}

/// Every TLS stream the JA4 reference fingerprinted is a flow here, with the same roles, and
/// its client stream starts with a ClientHello record.
#[test]
fn third_party_streams_match_reference_roles() {
    let Some(files) = ja4_captures() else { return };
    let dir = files[0].parent().unwrap();
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut cache: HashMap<String, Recorder> = HashMap::new();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let rec = cache
            .entry(cols[0].to_string())
            .or_insert_with(|| read_file(&dir.join(cols[0])).0);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let client = std::net::SocketAddr::new(ip(cols[1]), cols[2].parse().unwrap());
        let server = std::net::SocketAddr::new(ip(cols[3]), cols[4].parse().unwrap());
        let flow = rec
            .flows
            .iter()
            .find(|f| f.client == client && f.server == server)
            .unwrap_or_else(|| panic!("{}: no flow {client} -> {server}", cols[0]));
        let stream = rec.bytes(flow.id.0, C2S);
        let is_hello = |w: &[u8]| w[0] == 0x16 && w[1] == 0x03 && w[5] == 0x01;
        // Proxied connections (HTTP CONNECT, SOCKS) have their preamble first.
        let proxied = cols[0].starts_with("https-connect") || cols[0].starts_with("socks");
        assert!(
            stream.len() > 5 && (is_hello(stream) || proxied && stream.windows(6).any(is_hello)),
            "{line}: client stream does not start with a ClientHello"
        );
        rows += 1;
    }
    assert!(rows >= 150, "{rows} rows");
}

/// Flow counts against tshark's TCP conversations, where tshark is installed. Conversations
/// of nothing but pure ACKs (picked up mid-stream, no payload) are not flows here, so the
/// exact count is compared on captures without them, and the endpoints everywhere.
#[test]
fn third_party_flow_counts_match_tshark() {
    let Some(files) = ja4_captures() else { return };
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("skipping: tshark not installed");
        return;
    }
    for path in &files {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(path)
            .args(["-q", "-z", "conv,tcp"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let convs: Vec<(String, String)> = text
            .lines()
            .filter(|l| l.contains("<->"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].to_string(), f[2].to_string())
            })
            .collect();
        let (rec, _) = read_file(path);
        let tcp_flows: Vec<&FlowInfo> = rec
            .flows
            .iter()
            .filter(|f| f.transport == Transport::Tcp)
            .collect();
        for flow in &tcp_flows {
            // tshark writes IPv6 endpoints without brackets.
            let plain = |a: &std::net::SocketAddr| format!("{}:{}", a.ip(), a.port());
            let (c, s) = (plain(&flow.client), plain(&flow.server));
            assert!(
                convs
                    .iter()
                    .any(|(a, b)| (*a == c && *b == s) || (*a == s && *b == c)),
                "{}: {c} <-> {s} unknown to tshark",
                path.display()
            );
        }
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "tls-handshake.pcapng" || name == "tls-sni.pcapng" || name == "ssh2.pcapng" {
            assert_eq!(tcp_flows.len(), convs.len(), "{name}");
        } else {
            assert!(tcp_flows.len() <= convs.len(), "{name}");
        }
    }
}

/// Cutting a real capture anywhere, or flipping bytes in it, gives an error or a result,
/// never a panic or a hang, and the sink contract holds.
#[test]
fn third_party_truncation_and_corruption_never_panic() {
    let Some(files) = ja4_captures() else { return };
    let mut next = crate::core::wire::xorshift64(0x2545_f491_4f6c_dd1d);
    for name in ["tls-handshake.pcapng", "socks-https-example.pcap"] {
        let Some(path) = files.iter().find(|p| p.ends_with(name)) else {
            continue;
        };
        let bytes = std::fs::read(path).unwrap();
        let (_, full) = read_file(path);
        let mut offsets: Vec<usize> = (0..64).collect();
        offsets.extend((0..200).map(|i| i * bytes.len() / 200));
        for cut in offsets {
            let mut rec = Recorder::default();
            match run_with(&bytes[..cut], &ReadOptions::default(), &mut rec) {
                Ok(stats) => assert!(stats.packets <= full.packets),
                Err(e) => {
                    assert!(e.stats.packets <= full.packets, "{name} cut at {cut}");
                    assert!(
                        matches!(
                            e.kind,
                            CaptureErrorKind::Truncated { .. } | CaptureErrorKind::Empty
                        ),
                        "{name} cut at {cut}: {e}"
                    );
                }
            }
        }
        for _ in 0..150 {
            let mut bad = bytes.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() as usize) % bad.len();
                bad[at] = next() as u8;
            }
            let mut rec = Recorder::default();
            let _ = run_with(&bad, &ReadOptions::default(), &mut rec);
        }
    }
}

#[test]
fn gzip_capture_reads_like_the_plain_one() {
    let Some(files) = ja4_captures() else { return };
    let path = files.iter().find(|p| p.ends_with("tls3.pcapng")).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    let gz = gz.finish().unwrap();
    let (plain, plain_stats) = read_file(path);
    let mut rec = Recorder::default();
    let stats = run_with(&gz, &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(stats, plain_stats);
    assert_eq!(rec.flows, plain.flows);
    assert_eq!(rec.data, plain.data);
    assert_eq!(rec.ends, plain.ends);
    // A gzip stream cut short is an error, after what could be read.
    let mut rec = Recorder::default();
    let err = run_with(&gz[..gz.len() / 2], &ReadOptions::default(), &mut rec).unwrap_err();
    assert!(err.stats.packets > 0, "{err}");
}

/// tshark opens what the writer writes, with good checksums and no TCP analysis complaints
/// (retransmissions, lost segments, bad ACKs): the sequence numbers are consistent.
#[test]
fn writer_output_passes_tshark_analysis() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("skipping: tshark not installed");
        return;
    }
    let big: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
    let conns = [
        ("192.0.2.1:50000", "192.0.2.2:443"),
        ("[2001:db8::1]:50001", "[2001:db8::2]:443"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (c, s))| Connection {
        client: c.parse().unwrap(),
        server: s.parse().unwrap(),
        start: 1_700_000_000_000_000 + i as u64 * 1000,
        client_isn: u32::MAX - 100,
        server_isn: 7,
        chunks: vec![
            (C2S, 1_700_000_000_000_100 + i as u64 * 1000, big.clone()),
            (S2C, 1_700_000_000_000_200 + i as u64 * 1000, big.clone()),
        ],
        close: Close::Fin(C2S),
        end: 1_700_000_000_000_300 + i as u64 * 1000,
    })
    .collect::<Vec<_>>();
    let dir = tempfile::tempdir().unwrap();
    for link in [LinkType::Ethernet, LinkType::Raw] {
        let path = dir.path().join("out.pcap");
        let mut file = Vec::new();
        writer::write_pcap(&mut file, link, &conns).unwrap();
        std::fs::write(&path, &file).unwrap();
        let tshark = |filter: &str| {
            let out = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args([
                    "-o",
                    "tcp.check_checksum:TRUE",
                    "-o",
                    "ip.check_checksum:TRUE",
                ])
                .args(["-Y", filter])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).lines().count()
        };
        let packets = 3 + 2 * 3 + 3; // handshake, 3 segments per chunk, FIN/FIN/ACK
        assert_eq!(tshark("tcp"), packets * 2);
        // Status 1 is "Good" (0 "Bad", 2 "Unverified").
        assert_eq!(tshark("tcp.checksum.status == 1"), packets * 2);
        assert_eq!(tshark("ip.checksum.status != 1"), 0);
        assert_eq!(tshark("tcp.analysis.flags"), 0);
    }
}

/// Flows that time out together end in the order they appeared, not in the flow table's
/// hash order (which changes from run to run): the same capture gives the same report.
#[test]
fn flows_expired_together_end_in_order_of_appearance() {
    let mut f: Vec<(Micros, Vec<u8>)> = (0..30u16)
        .map(|i| (u64::from(i), frame_ports(p(true, 1), b"x", 20_000 + i, 443)))
        .collect();
    f.push((600_000_000, frame_ports(p(true, 1), b"late", 30_000, 443)));
    let mut rec = Recorder::default();
    run_with(&pcap(1, &f), &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(rec.flow_ends, (1..=31).collect::<Vec<u64>>());
    // The same when the flow table is full and the oldest are evicted.
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_flows: 20,
        ..ReadOptions::default()
    };
    run_with(&pcap(1, &f), &opts, &mut rec).unwrap();
    assert_eq!(rec.flow_ends[..3], [1, 2, 3], "{:?}", rec.flow_ends);
}

#[test]
fn flow_table_cap_ends_idle_flows_early() {
    let f: Vec<(Micros, Vec<u8>)> = (0..40u16)
        .map(|i| {
            (
                u64::from(i),
                frame_ports(p(true, 1), b"data", 10_000 + i, 443),
            )
        })
        .collect();
    let mut rec = Recorder::default();
    let opts = ReadOptions {
        max_flows: 10,
        ..ReadOptions::default()
    };
    let stats = run_with(&pcap(1, &f), &opts, &mut rec).unwrap();
    assert_eq!(stats.flows, 40);
    // Evicted before the end of the capture: the oldest flows end while later ones arrive.
    assert!(rec.ends.iter().any(|e| e.3 < 39), "{:?}", rec.ends);
    assert!(rec.flows.iter().all(|f| rec.bytes(f.id.0, C2S) == b"data"));
}

/// Everything a read produced, in a comparable form: the calls the sink saw, and the result
/// (counters, or the error with its counters).
fn everything(rec: &Recorder, r: &Result<CaptureStats, CaptureError>) -> String {
    let mut data: Vec<_> = rec.data.iter().collect();
    data.sort_by_key(|((id, dir), _)| (*id, *dir == C2S));
    format!(
        "{:?}\n{data:?}\n{:?}\n{:?}\n{r:?}",
        rec.flows, rec.ends, rec.flow_ends
    )
}

/// Reads `bytes` with the streaming and the in-memory driver and checks they agree on
/// every call to the sink and on the result, error included. Returns the result.
fn drivers_agree(bytes: &[u8], opts: &ReadOptions, what: &str) -> Result<CaptureStats, String> {
    let mut streamed = Recorder::default();
    let from_stream = run_with(bytes, opts, &mut streamed);
    let mut sliced = Recorder::default();
    let from_slice = read_capture_slice(bytes, opts, &mut sliced);
    sliced.assert_all_ended();
    assert_eq!(
        everything(&sliced, &from_slice),
        everything(&streamed, &from_stream),
        "{what}: in-memory vs streaming"
    );
    from_stream.map_err(|e| format!("{:?}", e.kind))
}

/// Cuts and byte flips of `bytes`: both drivers must agree on each. (A 64 KiB read buffer,
/// the smallest, keeps the many streaming reads cheap.)
fn drivers_agree_on_damage(bytes: &[u8], what: &str) {
    let opts = ReadOptions {
        max_block_size: 1 << 16,
        ..ReadOptions::default()
    };
    let mut cuts: Vec<usize> = (0..bytes.len().min(40)).collect();
    cuts.extend((0..60).map(|i| i * bytes.len() / 60));
    for cut in cuts {
        drivers_agree(&bytes[..cut], &opts, &format!("{what} cut {cut}")).ok();
    }
    let mut next = crate::core::wire::xorshift64(0x9e37_79b9_7f4a_7c15 ^ bytes.len() as u64);
    for round in 0..30 {
        let mut bad = bytes.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % bad.len();
            bad[at] = next() as u8;
        }
        drivers_agree(&bad, &opts, &format!("{what} flip {round}")).ok();
    }
}

#[test]
fn in_memory_reading_matches_streaming_on_the_repository_captures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    assert!(
        files
            .iter()
            .any(|p| p.ends_with("client_cert_required_tls13_dsb.pcapng"))
    );
    let mut errors = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let what = path.display().to_string();
        let stats = drivers_agree(&bytes, &ReadOptions::default(), &what).unwrap();
        assert!(stats.flows > 0, "{what}");
        drivers_agree_on_damage(&bytes, &what);
        // The cut at the last byte is an error, and both drivers give the same one.
        errors += drivers_agree(&bytes[..bytes.len() - 1], &ReadOptions::default(), &what).is_err()
            as usize;
    }
    assert_eq!(errors, files.len());
}

#[test]
fn in_memory_reading_matches_streaming_on_synthetic_captures() {
    let frames = sample_frames();
    // pcapng: two sections of opposite byte order, then a third little-endian one.
    let mut ng = two_interface_section(&frames);
    let other = frame_ports(p(true, 1), b"\x16\x03\x01\x00\x01\x01", 41000, 443);
    ng.extend(ng_section(
        true,
        &[(1, Some(6))],
        &[(0, 2_000_000, other.clone())],
    ));
    ng.extend(ng_section(false, &[(1, None)], &[(0, 3_000_000, other)]));
    let stats = drivers_agree(&ng, &ReadOptions::default(), "3 sections").unwrap();
    assert_eq!(stats.packets, 7);
    drivers_agree_on_damage(&ng, "3 sections");

    // pcap: big-endian, nanoseconds.
    let be = pcap_be_nanos(&frames);
    drivers_agree(&be, &ReadOptions::default(), "big-endian ns").unwrap();
    drivers_agree_on_damage(&be, "big-endian ns");

    // Not captures at all, and too short to tell.
    for bad in [&b""[..], b"\xd4", b"\xd4\xc3\xb2", b"GET / HTTP/1.1\r\n"] {
        drivers_agree(bad, &ReadOptions::default(), &format!("{bad:?}")).unwrap_err();
    }
}

#[test]
fn in_memory_reading_has_the_streaming_block_size_limit() {
    let mut f = handshake(100, 5000);
    let mut jumbo = frame(p(true, 101), b"x");
    jumbo.resize(3 << 20, 0);
    f.push((2, jumbo));
    f.push((3, frame(p(false, 5001), b"y")));
    let file = pcap(1, &f);
    for (max, fits) in [
        (8 << 20, true),
        (3 << 20, false),
        (2 << 20, false),
        (1000, false),
    ] {
        let opts = ReadOptions {
            max_block_size: max,
            ..ReadOptions::default()
        };
        let what = format!("limit {max}");
        let r = drivers_agree(&file, &opts, &what);
        assert_eq!(r.is_ok(), fits, "{what}: {r:?}");
        if !fits {
            assert!(r.unwrap_err().contains("BlockTooLarge"), "{what}");
        }
        // Cut inside the big block: too large if the cap is reached first, else truncated.
        for cut in [file.len() - 100, file.len() / 2, (1 << 20) + 7] {
            drivers_agree(&file[..cut], &opts, &format!("{what} cut {cut}")).unwrap_err();
        }
    }
    // Under 64 KiB the streaming reader's first buffer is the real limit.
    let mut f = handshake(100, 5000);
    let mut big = frame(p(true, 101), b"x");
    big.resize(60_000, 0);
    f.push((2, big));
    let opts = ReadOptions {
        max_block_size: 1000,
        ..ReadOptions::default()
    };
    drivers_agree(&pcap(1, &f), &opts, "small cap").unwrap();
}

#[test]
fn capture_files_read_the_same_mapped_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = pcap(1, &sample_frames());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let gz = gz.finish().unwrap();
    let cut = &plain[..plain.len() - 3];
    for (name, bytes) in [
        ("plain", &plain[..]),
        ("gz", &gz[..]),
        ("cut", cut),
        ("empty", &[]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut results = Vec::new();
        for mmap in [true, false] {
            let mut rec = Recorder::default();
            let file = std::fs::File::open(&path).unwrap();
            let r = read_capture_file(file, mmap, &ReadOptions::default(), &mut rec);
            rec.assert_all_ended();
            results.push(everything(&rec, &r));
        }
        assert_eq!(results[0], results[1], "{name}");
        let mut rec = Recorder::default();
        let r = read_capture(bytes, &ReadOptions::default(), &mut rec);
        assert_eq!(results[0], everything(&rec, &r), "{name}");
    }
}

#[test]
fn in_memory_reading_checks_the_file_header_within_the_first_buffer() {
    // A section header with 2 MiB of comments: more than the streaming reader's first
    // buffer, which is where it checks the header. Both drivers say the same about it.
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    for _ in 0..32 {
        shb.extend(1u16.to_le_bytes()); // opt_comment
        shb.extend(65_532u16.to_le_bytes());
        shb.extend(vec![b'x'; 65_532]);
    }
    shb.extend([0u8; 4]); // opt_endofopt
    let mut file = ng_block(false, 0x0a0d_0d0a, &shb);
    file.extend(&ng_section(false, &[(1, None)], &[(0, 1, sample_frames()[0].1.clone())])[28..]);
    let r = drivers_agree(&file, &ReadOptions::default(), "big header");
    assert!(r.unwrap_err().contains("Truncated"));
}

#[cfg(target_os = "linux")]
/// Truncates a file the first time a flow starts, as a `tcpdump -W` ring starting over
/// would while the file is read.
struct ShrinksFile<'a> {
    rec: Recorder,
    file: &'a std::path::Path,
    done: bool,
}

#[cfg(target_os = "linux")]
impl FlowSink for ShrinksFile<'_> {
    fn flow_start(&mut self, info: &FlowInfo) {
        if !self.done {
            std::fs::OpenOptions::new()
                .write(true)
                .open(self.file)
                .unwrap()
                .set_len(0)
                .unwrap();
            self.done = true;
        }
        self.rec.flow_start(info)
    }
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], at: Micros) {
        self.rec.data(id, dir, bytes, at)
    }
    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros) {
        self.rec.end(id, dir, kind, at)
    }
    fn flow_end(&mut self, id: FlowId, at: Micros, why: FlowEnd) {
        self.rec.flow_end(id, at, why)
    }
    fn wants_data(&self, id: FlowId) -> bool {
        self.rec.wants_data(id)
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_mapped_file_that_shrinks_while_read_stops_with_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.pcap");
    // One flow's handshake, then more than a page of other flows' packets after it.
    let mut frames = sample_frames();
    for i in 0..200u16 {
        frames.push((
            10_000 + u64::from(i),
            frame_ports(p(true, 1), &[b'x'; 100], 20_000 + i, 443),
        ));
    }
    let bytes = pcap(1, &frames);
    assert!(bytes.len() > 5 * 4096);
    std::fs::write(&path, &bytes).unwrap();
    let mut sink = ShrinksFile {
        rec: Recorder::default(),
        file: &path,
        done: false,
    };
    let file = std::fs::File::open(&path).unwrap();
    let err = read_capture_file(file, true, &ReadOptions::default(), &mut sink).unwrap_err();
    assert!(sink.done);
    assert!(
        matches!(err.kind, CaptureErrorKind::Shrank { offset, packet } if offset > 0 && packet > 1),
        "{err}"
    );
    assert!(err.to_string().contains("shrank while being read"), "{err}");
    // What was read before the file shrank is kept, and every started flow is ended.
    assert!(err.stats.packets >= 1, "{:?}", err.stats);
    assert!(!sink.rec.flows.is_empty());
    sink.rec.assert_all_ended();
    // Written again, the same file maps and reads whole: the guard's slot was given back.
    std::fs::write(&path, &bytes).unwrap();
    let mut rec = Recorder::default();
    let file = std::fs::File::open(&path).unwrap();
    let stats = read_capture_file(file, true, &ReadOptions::default(), &mut rec).unwrap();
    assert_eq!(stats.packets, frames.len() as u64);
}
