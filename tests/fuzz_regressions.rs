//! The fuzz targets' kept inputs, replayed on stable: every file under `tests/fuzz/TARGET/`
//! goes through the same harness function the fuzz target `TARGET` calls
//! (`fuzz/src/harness.rs`, included here), so an input that once crashed a parser is
//! checked by plain `cargo test`, without nightly or libFuzzer. docs/fuzzing.md says how
//! the targets are run and how an input gets here.

mod common;
#[path = "../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;

#[test]
fn every_kept_input_replays_without_a_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&root).expect("tests/fuzz exists") {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let run = harness::TARGETS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("tests/fuzz/{name}: no fuzz target of that name"))
            .1;
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        for input in inputs {
            let bytes = std::fs::read(&input).unwrap();
            eprintln!("{}", input.display());
            run(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {}", root.display());
}

/// Every target runs on empty and tiny inputs (the harness itself must not panic on them).
#[test]
fn every_target_takes_short_inputs() {
    for (_, run) in harness::TARGETS {
        for input in [
            &b""[..],
            b"\x00",
            b"\x01",
            b"\x16\x03\x01\x00\x00",
            &[0xff; 8],
        ] {
            run(input);
        }
    }
}

/// A fuzz-style run of `quic_initial` on stable: the kept inputs mutated (bytes overwritten,
/// cut, spliced with one another, tags and lengths changed) by a fixed xorshift sequence,
/// 300 inputs through the harness (about 40 ms each in a debug build: the real fuzzing is
/// `cargo fuzz run quic_initial`, docs/fuzzing.md) — hostile lengths, truncated and coalesced packets,
/// bad header protection, CRYPTO offsets anywhere — and none panics; the harness's own
/// checks (in-place and streamed capture reads agree) hold for every one. The process's
/// peak RSS stays under 512 MiB (the reader's caps, not the input, bound memory).
#[test]
fn quic_initial_mutations_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/quic_initial");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5);
    let mut next = common::xorshift64(0x2545_f491_4f6c_dd1d);
    for _ in 0..300 {
        let mut input = seeds[(next() % seeds.len() as u64) as usize].clone();
        match next() % 4 {
            // Overwrite a few bytes (tags, lengths, frame types, varints alike).
            0 | 1 => {
                for _ in 0..1 + next() % 6 {
                    let at = (next() % input.len() as u64) as usize;
                    input[at] = next() as u8;
                }
            }
            // Cut.
            2 => input.truncate((next() % (input.len() as u64 + 1)) as usize),
            // Splice another seed's packets after this one's flags.
            _ => {
                let other = &seeds[(next() % seeds.len() as u64) as usize];
                input.extend_from_slice(&other[1..]);
            }
        }
        harness::quic_initial(&input);
    }
    assert!(peak_rss_kib() < 512 * 1024, "{} KiB", peak_rss_kib());
}

/// This process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
