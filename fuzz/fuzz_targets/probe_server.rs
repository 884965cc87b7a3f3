#![no_main]
//! Fuzz target `probe_server`: see `shakedown_fuzz::harness::probe_server`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::probe_server(data));
