#![no_main]
//! Fuzz target `link_layer`: see `shakedown_fuzz::harness::link_layer`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::link_layer(data));
