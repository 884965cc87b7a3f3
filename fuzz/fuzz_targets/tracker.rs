#![no_main]
//! Fuzz target `tracker`: see `shakedown_fuzz::harness::tracker`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::tracker(data));
