#![no_main]
//! Fuzz target `decode_input`: see `shakedown_fuzz::harness::decode_input`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::decode_input(data));
