#![no_main]
//! Fuzz target `quic_initial`: see `shakedown_fuzz::harness::quic_initial`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::quic_initial(data));
