//! `shakedown pcap` on damaged captures: cut files, corrupted blocks, packets cut by a small
//! snap length, and real captures with packets reordered and duplicated within a small
//! window. Never a panic; verdicts stay the same or become `incomplete`; what was read
//! before a read error is kept.

use shakedown::commands::pcap::{AnalyzeOptions, ConnectionReport, analyze};
use shakedown::io::capture::ReadOptions;
use std::path::Path;

const PCAP_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

fn analyze_bytes(bytes: &[u8]) -> (Vec<ConnectionReport>, Option<String>) {
    let mut reports = Vec::new();
    let (_, err) = analyze(
        bytes,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |r| reports.push(r),
    );
    reports.sort_by_key(|r| r.index);
    (reports, err.map(|e| e.to_string()))
}

/// The recorded captures (little-endian microsecond pcap, as tcpdump writes here).
fn captures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    assert!(v.len() >= 20);
    for (name, bytes) in &v {
        assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "{name}: LE µs pcap");
    }
    v
}

/// The capture's first packet is TCP over IPv4 over Ethernet.
fn is_tcp(file: &[u8]) -> bool {
    let (_, recs) = records(file);
    recs.first().is_some_and(|r| {
        let frame = &r[RECORD_HEADER..];
        frame.get(12..14) == Some(&[0x08, 0x00]) && frame.get(14 + 9) == Some(&6)
    })
}

/// (header, records) of a little-endian pcap; each record with its 16-byte header.
fn records(file: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut at = PCAP_HEADER;
    while at + RECORD_HEADER <= file.len() {
        let caplen = u32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + RECORD_HEADER + caplen;
        assert!(end <= file.len());
        out.push(file[at..end].to_vec());
        at = end;
    }
    assert_eq!(at, file.len());
    (file[..PCAP_HEADER].to_vec(), out)
}

fn join(header: &[u8], records: &[Vec<u8>]) -> Vec<u8> {
    let mut v = header.to_vec();
    for r in records {
        v.extend_from_slice(r);
    }
    v
}

/// Deterministic pseudo-random numbers (xorshift64), so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A seed of its own for each capture (FNV-1a of its file name): adding a capture does not
/// change the pseudo-random damage drawn for the others.
fn seed_of(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash | 1 // xorshift stays at 0 from 0
}

/// `got` says the same as `full`, or `incomplete` where the damage hid the ending.
fn same_or_incomplete(what: &str, full: &[ConnectionReport], got: &[ConnectionReport]) {
    for r in got {
        let Some(f) = full
            .iter()
            .find(|f| f.client == r.client && f.server == r.server)
        else {
            panic!(
                "{what}: connection {} -> {} not in the full capture",
                r.client, r.server
            );
        };
        assert!(
            r.outcome() == f.outcome() || r.outcome() == "incomplete",
            "{what} #{}: outcome {} (history {}), full capture {} (history {})",
            r.index,
            r.outcome(),
            r.verdict.history,
            f.outcome(),
            f.verdict.history
        );
    }
}

#[test]
fn cut_files_keep_what_came_before() {
    for (name, bytes) in captures() {
        let (full, err) = analyze_bytes(&bytes);
        assert_eq!(err, None);
        let (_, recs) = records(&bytes);
        let mut boundaries = vec![PCAP_HEADER];
        for r in &recs {
            boundaries.push(boundaries.last().unwrap() + r.len());
        }
        // Inside the file header, every record boundary, and one point inside each record
        // (its header or its data).
        let mut cuts: Vec<usize> = vec![0, 3, 10];
        for w in boundaries.windows(2) {
            cuts.extend([w[0], w[0] + 1 + (w[0] * 7919) % (w[1] - w[0] - 1)]);
        }
        for cut in cuts.into_iter().filter(|c| *c < bytes.len()) {
            let (got, err) = analyze_bytes(&bytes[..cut]);
            let what = format!("{name} cut at {cut}");
            if boundaries.contains(&cut) {
                assert_eq!(
                    err, None,
                    "{what}: a cut between records is a shorter capture"
                );
            } else {
                let err = err.unwrap_or_else(|| panic!("{what}: no error"));
                let empty = cut == 0 && err.contains("empty input");
                assert!(err.contains("truncated") || empty, "{what}: {err}");
            }
            same_or_incomplete(&what, &full, &got);
            for r in &got {
                let f = full.iter().find(|f| f.index == r.index).unwrap();
                assert!(
                    f.verdict.history.starts_with(&r.verdict.history),
                    "{what}: history {} is not a prefix of {}",
                    r.verdict.history,
                    f.verdict.history
                );
            }
        }
        // The last complete record before the cut: all connections are still reported.
        let (got, err) = analyze_bytes(&bytes[..bytes.len() - 1]);
        assert!(err.is_some());
        assert_eq!(got.len(), full.len(), "{name}: partial results kept");
    }
}

#[test]
fn corrupted_blocks_and_bytes_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (name, bytes) in captures() {
        let (header, recs) = records(&bytes);
        // A record header claiming a huge length: an error naming where, earlier results kept.
        let k = recs.len() / 2;
        let mut bad = recs.clone();
        bad[k][8..12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let file = join(&header, &bad);
        let (got, err) = analyze_bytes(&file);
        let err = err.unwrap_or_else(|| panic!("{name}: huge record length accepted"));
        assert!(err.contains("packet"), "{name}: {err}");
        let (full, _) = analyze_bytes(&bytes);
        same_or_incomplete(&format!("{name} huge record"), &full, &got);
        // Random bytes overwritten anywhere (headers included): anything but a panic.
        for _ in 0..40 {
            let mut file = bytes.clone();
            for _ in 0..1 + rng.below(8) {
                let i = PCAP_HEADER + rng.below(file.len() - PCAP_HEADER);
                file[i] = rng.next() as u8;
            }
            let _ = analyze_bytes(&file);
        }
    }
}

#[test]
fn snaplen_cut_packets_give_same_or_incomplete() {
    for snaplen in [40usize, 68, 96, 200, 600] {
        for (name, bytes) in captures() {
            let (full, _) = analyze_bytes(&bytes);
            let (mut header, recs) = records(&bytes);
            header[16..20].copy_from_slice(&(snaplen as u32).to_le_bytes());
            let cut: Vec<Vec<u8>> = recs
                .iter()
                .map(|r| {
                    let caplen = r.len() - RECORD_HEADER;
                    let keep = caplen.min(snaplen);
                    let mut c = r[..RECORD_HEADER + keep].to_vec();
                    c[8..12].copy_from_slice(&(keep as u32).to_le_bytes());
                    c
                })
                .collect();
            let (got, err) = analyze_bytes(&join(&header, &cut));
            assert_eq!(err, None, "{name} snaplen {snaplen}");
            same_or_incomplete(&format!("{name} snaplen {snaplen}"), &full, &got);
            if snaplen >= 600 {
                // Alerts, resets and closes fit: those verdicts survive.
                for f in full.iter().filter(|f| f.outcome() == "reset") {
                    assert!(
                        got.iter()
                            .any(|g| g.index == f.index && g.outcome() == "reset")
                    );
                }
            }
        }
    }
}

/// TCP fields of a record (Ethernet, IPv4, as recorded on `lo`): (source port, sequence
/// space consumed from seq to end, ack).
struct Tcp {
    port: u16,
    fin: bool,
    rst: bool,
    seq: u32,
    end: u32,
    ack: Option<u32>,
}

fn tcp_of(record: &[u8]) -> Tcp {
    let frame = &record[RECORD_HEADER..];
    assert_eq!(frame[12..14], [0x08, 0x00], "IPv4 over Ethernet");
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = &ip[ihl..];
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    let flags = tcp[13];
    let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
    let len = (total - ihl - data_offset) as u32 + u32::from(flags & 0x03 != 0); // SYN, FIN
    Tcp {
        port: u16::from_be_bytes([tcp[0], tcp[1]]),
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        seq,
        end: seq.wrapping_add(len),
        ack: (flags & 0x10 != 0).then(|| u32::from_be_bytes(tcp[8..12].try_into().unwrap())),
    }
}

/// `later` answers `earlier`: it acknowledges what `earlier` carried, or it is a RST (the
/// answer to a segment for a closed socket, often without an ack). A capture point on the
/// path between the two hosts sees `earlier` first, whatever the buffering.
fn acknowledges(later: &Tcp, earlier: &Tcp) -> bool {
    later.port != earlier.port
        && (later.rst
            || earlier.end != earlier.seq
                && later
                    .ack
                    .is_some_and(|a| a.wrapping_sub(earlier.end) as i32 >= 0))
}

/// Packets reordered within a window of 3 and some duplicated, as a capture merged from
/// buffers shows them: TCP reassembly puts each direction back in order, so the verdicts
/// stay. Reordering keeps causality (a packet is not moved before one it acknowledges):
/// the tracker reads the two directions in capture order, and only FINs are held back by
/// their acknowledgment number (see `fin_before_the_alert_it_acknowledges`), and a RST by
/// the bytes before it (see `rst_before_the_alert_it_follows`). Each capture draws from its
/// own seed, so a failure names a capture and round that stay the same as captures are added.
#[test]
fn reordered_and_duplicated_packets_keep_verdicts() {
    let mut moved = 0;
    // TCP captures: the shuffle keeps TCP's causality (QUIC's recorded capture is UDP).
    for (name, bytes) in captures().into_iter().filter(|(_, b)| is_tcp(b)) {
        let mut rng = Rng(seed_of(&name));
        let (full, _) = analyze_bytes(&bytes);
        let (header, recs) = records(&bytes);
        // Duplicates alone (retransmissions): exactly the same verdicts.
        let mut dup = Vec::new();
        for r in &recs {
            dup.push(r.clone());
            if rng.below(3) == 0 {
                dup.push(r.clone());
            }
        }
        let (got, err) = analyze_bytes(&join(&header, &dup));
        assert_eq!(err, None);
        assert_eq!(got.len(), full.len(), "{name} duplicated");
        for (g, f) in got.iter().zip(&full) {
            assert_eq!(
                (g.outcome(), &g.verdict.history, g.ja4()),
                (f.outcome(), &f.verdict.history, f.ja4()),
                "{name} duplicated #{}",
                f.index
            );
        }
        for round in 0..10 {
            let mut shuffled = dup.clone();
            for i in 0..shuffled.len() {
                let j = (i + rng.below(3)).min(shuffled.len() - 1);
                let (a, b) = (tcp_of(&shuffled[i]), tcp_of(&shuffled[j]));
                let between_ok = (i + 1..j).all(|k| !acknowledges(&b, &tcp_of(&shuffled[k])));
                // A RST stays behind its own side's data: a receiver does not act on a RST
                // beyond data it has not seen (RFC 5961 §3.2), while the capture reader takes
                // a RST as the end when it comes.
                let rst_after_own_data = b.rst
                    && (i..j).any(|k| {
                        let t = tcp_of(&shuffled[k]);
                        t.port == b.port && t.end != t.seq
                    });
                if j > i && !acknowledges(&b, &a) && between_ok && !rst_after_own_data {
                    // Move j to i (the packets between shift by one).
                    let r = shuffled.remove(j);
                    shuffled.insert(i, r);
                    moved += 1;
                }
            }
            let (got, err) = analyze_bytes(&join(&header, &shuffled));
            assert_eq!(err, None);
            let what = format!("{name} shuffled round {round}");
            same_or_incomplete(&what, &full, &got);
            for g in &got {
                let f = full.iter().find(|f| f.client == g.client).unwrap();
                assert_eq!(g.ja4(), f.ja4(), "{what}");
            }
        }
    }
    assert!(moved > 500, "the shuffle moved packets ({moved})");
}

/// A capture merged from two taps can show the server's FIN before the client's alert that
/// it acknowledges: the FIN waits for those bytes, so the verdict stays `alert`.
#[test]
fn fin_before_the_alert_it_acknowledges() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let bytes = std::fs::read(dir.join("cert_expired.pcap")).unwrap();
    let (header, mut recs) = records(&bytes);
    let alert = recs
        .iter()
        .position(|r| r.len() == RECORD_HEADER + 66 + 7)
        .expect("the 7-byte alert record");
    let server_fin = recs
        .iter()
        .position(|r| {
            let t = tcp_of(r);
            t.port == 47407 && t.fin
        })
        .expect("the server's FIN");
    assert!(server_fin > alert);
    let fin = recs.remove(server_fin);
    recs.insert(alert, fin);
    let (got, err) = analyze_bytes(&join(&header, &recs));
    assert_eq!(err, None);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].outcome(),
        "alert",
        "history {}",
        got[0].verdict.history
    );
    assert_eq!(
        got[0].verdict.diverged.as_ref().map(|d| d.by.peer()),
        Some("client")
    );
}

/// The ordering the shuffle once drew for `gnutls_unknown_ca.pcap`: the client's RST
/// captured before its own alert (and FIN). The RST waits for the bytes before it, so the
/// verdict stays `alert`, not `reset`.
#[test]
fn rst_before_the_alert_it_follows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let bytes = std::fs::read(dir.join("gnutls_unknown_ca.pcap")).unwrap();
    let (full, _) = analyze_bytes(&bytes);
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].outcome(), "alert");
    let (header, mut recs) = records(&bytes);
    let alert = recs
        .iter()
        .position(|r| r.len() == RECORD_HEADER + 66 + 7)
        .expect("the 7-byte alert record");
    let client = tcp_of(&recs[alert]).port;
    let rst = recs
        .iter()
        .position(|r| {
            let t = tcp_of(r);
            t.port == client && t.rst
        })
        .expect("the client's RST");
    assert!(rst > alert);
    let r = recs.remove(rst);
    recs.insert(alert, r);
    let (got, err) = analyze_bytes(&join(&header, &recs));
    assert_eq!(err, None);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].outcome(), &got[0].verdict.history),
        (full[0].outcome(), &full[0].verdict.history)
    );
}

#[test]
fn a_corrupt_pcapng_block_is_worded_by_us_with_the_library_text_apart() {
    let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    // Section header, interface (Ethernet), then an enhanced packet block whose trailing
    // length (36) disagrees with its leading one (32).
    let mut file = u32s(&[
        0x0a0d_0d0a,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ]);
    file.extend(u32s(&[1, 20, 1, 0, 20]));
    file.extend(u32s(&[6, 32, 0, 0, 0, 0, 0, 36]));
    let mut reports = Vec::new();
    let (_, err) = analyze(
        &file[..],
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |r| reports.push(r),
    );
    let err = err.expect("a corrupt block is an error");
    let shown = err.to_string();
    assert!(
        shown.contains("length fields or type do not check out"),
        "{shown}"
    );
    assert!(!shown.contains("Verify"), "{shown}");
    assert_eq!(err.library_detail().as_deref(), Some("pcap-parser: Verify"));
}
