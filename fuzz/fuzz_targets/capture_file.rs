#![no_main]
//! Fuzz target `capture_file`: see `shakedown_fuzz::harness::capture_file`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::capture_file(data));
