#![no_main]
//! Fuzz target `profiles`: see `shakedown_fuzz::harness::profiles`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::profiles(data));
