#![no_main]
//! Fuzz target `keylog`: see `shakedown_fuzz::harness::keylog`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shakedown_fuzz::harness::keylog(data));
