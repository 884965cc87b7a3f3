//! Generates a large capture for `benches/pcap_compare.sh` (a `harness = false` bench
//! target, so `cargo bench --bench pcap_gen` builds it optimized): the TLS connections of the
//! recorded captures in `captures/*.pcap`, byte for byte, replayed over and over with varied
//! addresses and ports, and bulk application data after each established handshake, written
//! with the capture writer.
//!
//! Usage: `pcap_gen OUT.pcap SIZE_MB` (any other arguments, such as cargo's `--bench`, are
//! ignored: without OUT and SIZE it prints this and exits).
//!
//! `pcap_gen flows OUT.pcap N` writes instead N connections that never complete, for
//! `benches/pcap_flows.sh`: each a TCP handshake and a ClientHello (the first one of the
//! recorded captures), then nothing; one every 10 µs of capture time, so all of them are
//! open at once (within the default idle timeout) and only the flow table's limits bound
//! memory.
//!
//! `pcap_gen quic OUT.pcap SIZE_MB` writes a QUIC-heavy capture instead: the QUIC
//! connections of `captures/quic_handshakes.pcap` (aioquic, recorded: Initial, Handshake and
//! 1-RTT packets, byte for byte) replayed over and over with varied addresses and ports (to
//! UDP port 443), each followed by up to 47 bulk 1-RTT datagrams of 1,200 bytes, mostly
//! server to client (a QUIC reader without keys sees only their header), as HTTP/3 traffic
//! looks after its handshake.

use shakedown::commands::pcap::{AnalyzeOptions, analyze};
use shakedown::io::capture::writer::{self, Close, Connection, LinkType};
use shakedown::io::capture::{
    Direction, EndKind, FlowEnd, FlowId, FlowInfo, FlowSink, Micros, ReadOptions, read_capture,
};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Every flow's payload chunks in capture order.
#[derive(Default)]
struct Chunks {
    flows: HashMap<u64, Vec<(Direction, Vec<u8>)>>,
    rst: HashMap<u64, Direction>,
}

impl FlowSink for Chunks {
    fn flow_start(&mut self, info: &FlowInfo) {
        // TCP connections only: the QUIC recording is replayed by `quic` (its CRYPTO
        // streams are not TCP payload).
        if info.transport == shakedown::core::flow::Transport::Tcp {
            self.flows.insert(info.id.0, Vec::new());
        }
    }
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], _at: Micros) {
        if let Some(f) = self.flows.get_mut(&id.0) {
            f.push((dir, bytes.to_vec()));
        }
    }
    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, _at: Micros) {
        if kind == EndKind::Rst {
            self.rst.insert(id.0, dir);
        }
    }
    fn flow_end(&mut self, _id: FlowId, _at: Micros, _why: FlowEnd) {}
    fn wants_data(&self, _id: FlowId) -> bool {
        true
    }
}

/// A recorded connection: its chunks, how it ended, and whether its handshake completed.
struct Template {
    chunks: Vec<(Direction, Vec<u8>)>,
    close: Close,
    established: bool,
}

fn templates() -> Vec<Template> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("captures/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(&p).expect("capture");
        let mut sink = Chunks::default();
        read_capture(&bytes[..], &ReadOptions::default(), &mut sink).expect("readable");
        let mut established = HashMap::new();
        analyze(
            &bytes[..],
            &ReadOptions::default(),
            AnalyzeOptions::default(),
            &mut |r| {
                established.insert(r.index, r.verdict.established);
            },
        );
        let mut ids: Vec<u64> = sink.flows.keys().copied().collect();
        ids.sort();
        for id in ids {
            let chunks = sink.flows.remove(&id).unwrap_or_default();
            let close = match sink.rst.get(&id) {
                Some(d) => Close::Rst(*d),
                None => Close::Fin(Direction::ClientToServer),
            };
            let established = established.get(&id).copied().unwrap_or(false);
            out.push(Template {
                chunks,
                close,
                established,
            });
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.first().is_some_and(|a| a == "quic") {
        let (Some(path), Some(size)) = (args.get(1), args.get(2).and_then(|s| s.parse().ok()))
        else {
            eprintln!("usage: pcap_gen quic OUT.pcap SIZE_MB (used by benches/pcap_compare.sh)");
            return;
        };
        quic(path, size);
        return;
    }
    if args.first().is_some_and(|a| a == "flows") {
        let (Some(path), Some(n)) = (args.get(1), args.get(2).and_then(|s| s.parse().ok())) else {
            eprintln!("usage: pcap_gen flows OUT.pcap N (used by benches/pcap_flows.sh)");
            return;
        };
        never_completing(path, n);
        return;
    }
    let (Some(path), Some(size)) = (
        args.first(),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: pcap_gen OUT.pcap SIZE_MB (used by benches/pcap_compare.sh)");
        return;
    };
    let target = size << 20;
    let templates = templates();
    let file = std::fs::File::create(path).expect("create output");
    let mut out = BufWriter::with_capacity(1 << 20, CountingWriter { inner: file, n: 0 });
    writer::write_header(&mut out, LinkType::Ethernet).expect("write");
    // Bulk data: pseudo-random bytes, new for every record, as ciphertext is (a block
    // repeated 16 KiB apart would let gzip shrink the capture 11-fold, which no real capture
    // of TLS traffic does, and flatter a gzip'd input's figures).
    let mut bulk = vec![0u8; 16_384];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut connections, mut handshakes) = (0u64, 0u64);
    let mut at: Micros = 1_800_000_000_000_000;
    while out.get_ref().n < target {
        let t = &templates[(connections % templates.len() as u64) as usize];
        let i = connections as u32;
        let (client, server) = endpoints(i);
        let mut chunks: Vec<(Direction, Micros, Vec<u8>)> = t
            .chunks
            .iter()
            .enumerate()
            .map(|(k, (d, b))| (*d, at + 100 * k as Micros, b.clone()))
            .collect();
        if t.established {
            // 0..~256 kB of application data records, mostly server to client.
            let records = (i.wrapping_mul(7_919) % 16) as usize;
            for k in 0..records {
                let dir = if k % 4 == 0 {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                let mut rec = vec![0x17, 0x03, 0x03, 0x40, 0x00];
                fill_random(&mut bulk, &mut state);
                rec.extend_from_slice(&bulk);
                chunks.push((dir, at + 10_000 + 50 * k as Micros, rec));
            }
        }
        let end = chunks.last().map_or(at, |c| c.1) + 1_000;
        let conn = Connection {
            client,
            server,
            start: at,
            client_isn: i.wrapping_mul(2_246_822_519),
            server_isn: i.wrapping_mul(3_266_489_917),
            chunks,
            close: t.close,
            end,
        };
        writer::write_connection(&mut out, LinkType::Ethernet, &conn).expect("write");
        connections += 1;
        handshakes += u64::from(
            t.chunks
                .iter()
                .any(|(d, _)| *d == Direction::ClientToServer),
        );
        // Connections overlap a little; capture time advances 2 ms per connection.
        at += 2_000;
    }
    out.flush().expect("flush");
    let bytes = out.get_ref().n;
    println!("connections={connections} handshakes={handshakes} bytes={bytes}");
}

/// N connections that each send a ClientHello and never get an answer (see the module doc).
fn never_completing(path: &str, n: u64) {
    let hello = templates()
        .into_iter()
        .find_map(|t| {
            t.chunks
                .into_iter()
                .find(|(d, b)| *d == Direction::ClientToServer && b.first() == Some(&0x16))
        })
        .expect("a ClientHello in captures/")
        .1;
    let file = std::fs::File::create(path).expect("create output");
    let mut out = BufWriter::with_capacity(1 << 20, CountingWriter { inner: file, n: 0 });
    writer::write_header(&mut out, LinkType::Ethernet).expect("write");
    let mut at: Micros = 1_800_000_000_000_000;
    for i in 0..n {
        let i = i as u32;
        let conn = Connection {
            client: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(
                    10,
                    (i >> 24) as u8 | 64,
                    (i >> 16) as u8,
                    (i >> 8) as u8,
                )),
                1024 + (i as u8 as u16) * 200 + (i >> 24) as u16,
            ),
            server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)), 443),
            start: at,
            client_isn: i.wrapping_mul(2_246_822_519),
            server_isn: i.wrapping_mul(3_266_489_917),
            chunks: vec![(Direction::ClientToServer, at + 2, hello.clone())],
            close: Close::Open,
            end: at + 3,
        };
        writer::write_connection(&mut out, LinkType::Ethernet, &conn).expect("write");
        at += 10;
    }
    out.flush().expect("flush");
    let bytes = out.get_ref().n;
    println!("connections={n} bytes={bytes}");
}

/// One recorded QUIC connection: its datagrams (from the client?, µs after its first, UDP
/// payload).
type QuicTemplate = Vec<(bool, Micros, Vec<u8>)>;

/// The QUIC connections of `captures/quic_handshakes.pcap` (Ethernet, IPv4, UDP; the server
/// is the port every connection shares).
fn quic_templates() -> Vec<QuicTemplate> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/quic_handshakes.pcap");
    let bytes = std::fs::read(path).expect("captures/quic_handshakes.pcap");
    let mut datagrams = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let word = |k: usize| u32::from_le_bytes(bytes[at + k..at + k + 4].try_into().unwrap());
        let (sec, usec, incl) = (word(0), word(4), word(8) as usize);
        let frame = &bytes[at + 16..at + 16 + incl];
        at += 16 + incl;
        let packet = etherparse::SlicedPacket::from_ethernet(frame).expect("Ethernet frame");
        let Some(etherparse::TransportSlice::Udp(udp)) = packet.transport else {
            continue;
        };
        let t = Micros::from(sec) * 1_000_000 + Micros::from(usec);
        datagrams.push((
            udp.source_port(),
            udp.destination_port(),
            t,
            udp.payload().to_vec(),
        ));
    }
    // The server's port is the one every datagram has on one side.
    let server = datagrams.first().expect("datagrams").1;
    let mut by_client: Vec<(u16, QuicTemplate)> = Vec::new();
    for (src, dst, t, payload) in datagrams {
        let (client, from_client) = if dst == server {
            (src, true)
        } else {
            (dst, false)
        };
        let k = match by_client.iter().position(|(c, _)| *c == client) {
            Some(k) => k,
            None => {
                by_client.push((client, Vec::new()));
                by_client.len() - 1
            }
        };
        by_client[k].1.push((from_client, t, payload));
    }
    by_client
        .into_iter()
        .map(|(_, mut d)| {
            let start = d[0].1;
            for x in &mut d {
                x.1 -= start;
            }
            d
        })
        .collect()
}

/// The QUIC-heavy capture (see the module doc).
fn quic(path: &str, size: u64) {
    let templates = quic_templates();
    let target = size << 20;
    let file = std::fs::File::create(path).expect("create output");
    let mut out = BufWriter::with_capacity(1 << 20, CountingWriter { inner: file, n: 0 });
    writer::write_header(&mut out, LinkType::Ethernet).expect("write");
    let record = |out: &mut BufWriter<CountingWriter<std::fs::File>>,
                  at: Micros,
                  from: SocketAddr,
                  to: SocketAddr,
                  payload: &[u8]| {
        let (SocketAddr::V4(from), SocketAddr::V4(to)) = (from, to) else {
            unreachable!("IPv4 only")
        };
        let mut frame = Vec::with_capacity(payload.len() + 42);
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(from.ip().octets(), to.ip().octets(), 64)
            .udp(from.port(), to.port())
            .write(&mut frame, payload)
            .expect("a UDP frame");
        let len = frame.len() as u32;
        out.write_all(&((at / 1_000_000) as u32).to_le_bytes())
            .expect("write");
        out.write_all(&((at % 1_000_000) as u32).to_le_bytes())
            .expect("write");
        out.write_all(&len.to_le_bytes()).expect("write");
        out.write_all(&len.to_le_bytes()).expect("write");
        out.write_all(&frame).expect("write");
    };
    let bulk: Vec<u8> = (0..1_200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (mut connections, mut datagrams) = (0u64, 0u64);
    let mut at: Micros = 1_800_000_000_000_000;
    while out.get_ref().n < target {
        let t = &templates[(connections % templates.len() as u64) as usize];
        let i = connections as u32;
        let (client, server) = endpoints(i);
        let mut last = at;
        for (from_client, offset, payload) in t {
            let (from, to) = if *from_client {
                (client, server)
            } else {
                (server, client)
            };
            last = at + offset;
            record(&mut out, last, from, to, payload);
            datagrams += 1;
        }
        // Bulk 1-RTT datagrams after a handshake that completed (its client sent a 1-RTT
        // packet): a short header (fixed bit set), then bytes.
        let established = t
            .iter()
            .any(|(c, _, d)| *c && d.first().is_some_and(|b| b & 0x80 == 0));
        let bulk_datagrams = if established {
            i.wrapping_mul(7_919) % 48
        } else {
            0
        };
        for k in 0..bulk_datagrams {
            let (from, to) = if k % 4 == 0 {
                (client, server)
            } else {
                (server, client)
            };
            let mut d = bulk.clone();
            d[0] = 0x40 | (d[0] & 0x3f);
            record(&mut out, last + 50 * Micros::from(k + 1), from, to, &d);
            datagrams += 1;
        }
        connections += 1;
        at += 2_000;
    }
    out.flush().expect("flush");
    let bytes = out.get_ref().n;
    println!(
        "connections={connections} handshakes={connections} datagrams={datagrams} bytes={bytes}"
    );
}

struct CountingWriter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Fills `buf` from a xorshift64 generator (fast, and incompressible enough for gzip).
fn fill_random(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// The `i`th replayed connection's client and server: distinct clients, servers on port 443
/// spread over 1,400 addresses, as a busy capture point sees them.
fn endpoints(i: u32) -> (SocketAddr, SocketAddr) {
    let client = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8)),
        1024 + (i % 60_000) as u16,
    );
    let server = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, (i % 7) as u8, 1 + (i % 200) as u8)),
        443,
    );
    (client, server)
}
