//! The fuzz targets' kept inputs, replayed on stable: every file under `tests/fuzz/TARGET/`
//! goes through the same harness function the fuzz target `TARGET` calls
//! (`fuzz/src/harness.rs`, included here), so an input that once crashed a parser is
//! checked by plain `cargo test`, without nightly or libFuzzer. docs/fuzzing.md says how
//! the targets are run and how an input gets here.

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
