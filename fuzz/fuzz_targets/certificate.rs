#![no_main]
//! Fuzz target `certificate`: see `shakedown_fuzz::harness::certificate`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::certificate(data));
