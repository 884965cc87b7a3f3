#![no_main]
//! Fuzz target `record_layer`: see `shakedown_fuzz::harness::record_layer`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::record_layer(data));
