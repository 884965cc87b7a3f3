//! `shakedown pcap` on damaged captures: cut files, corrupted blocks, packets cut by a small
//! snap length, and real captures with packets reordered and duplicated within a small
//! window. Never a panic; verdicts stay the same or become `incomplete`; what was read
//! before a read error is kept.

use shakedown::capture::ReadOptions;
use shakedown::pcap::{AnalyzeOptions, ConnectionReport, analyze};
use std::path::Path;

const PCAP_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

fn analyze_bytes(bytes: &[u8]) -> (Vec<ConnectionReport>, Option<String>) {
    let mut reports = Vec::new();
    let (_, err) = analyze(
        bytes,
        &ReadOptions::default(),
        AnalyzeOptions { check_time: None },
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

/// `got` says the same as `full`, or `incomplete` where the damage hid the ending.
fn same_or_incomplete(what: &str, full: &[ConnectionReport], got: &[ConnectionReport]) {
    for r in got {
        let Some(f) = full
            .iter()
            .find(|f| f.client == r.client && f.server == r.server)
        else {
            panic!("{what}: connection {} -> {} not in the full capture", r.client, r.server);
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
        // Every 7th byte and every record boundary ±1.
        let mut cuts: Vec<usize> = (0..bytes.len()).step_by(7).collect();
        for b in &boundaries {
            cuts.extend([b.saturating_sub(1), *b, b + 1]);
        }
        for cut in cuts.into_iter().filter(|c| *c < bytes.len()) {
            let (got, err) = analyze_bytes(&bytes[..cut]);
            let what = format!("{name} cut at {cut}");
            if boundaries.contains(&cut) {
                assert_eq!(err, None, "{what}: a cut between records is a shorter capture");
            } else {
                let err = err.unwrap_or_else(|| panic!("{what}: no error"));
                assert!(err.contains("truncated"), "{what}: {err}");
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
                    assert!(got.iter().any(|g| g.index == f.index && g.outcome() == "reset"));
                }
            }
        }
    }
}

/// Packets reordered within a window of 3 and some duplicated (as a capture taken on a
/// busy host or a mirror port shows them): TCP reassembly puts each direction back in
/// order, so the verdicts stay; only the order between directions can change.
#[test]
fn reordered_and_duplicated_packets_keep_verdicts() {
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    for (name, bytes) in captures() {
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
                (g.outcome(), &g.verdict.history, g.ja4.as_ref()),
                (f.outcome(), &f.verdict.history, f.ja4.as_ref()),
                "{name} duplicated #{}",
                f.index
            );
        }
        for round in 0..20 {
            let mut shuffled = dup.clone();
            for i in 0..shuffled.len() {
                let j = (i + rng.below(3)).min(shuffled.len() - 1);
                shuffled.swap(i, j);
            }
            let (got, err) = analyze_bytes(&join(&header, &shuffled));
            assert_eq!(err, None);
            let what = format!("{name} shuffled round {round}");
            same_or_incomplete(&what, &full, &got);
            // The ClientHello is whole in every round: its fingerprint is the same.
            for g in &got {
                if let Some(f) = full.iter().find(|f| f.client == g.client) {
                    if g.ja4.is_some() {
                        assert_eq!(g.ja4, f.ja4, "{what}");
                    }
                }
            }
        }
    }
}
