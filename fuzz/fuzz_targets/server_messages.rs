#![no_main]
//! Fuzz target `server_messages`: see `shakedown_fuzz::harness::server_messages`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::server_messages(data));
