#![no_main]
//! Fuzz target `client_hello`: see `shakedown_fuzz::harness::client_hello`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::client_hello(data));
