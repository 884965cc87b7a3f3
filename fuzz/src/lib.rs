//! The fuzz targets' shared harness (see `harness.rs`); the targets are in `fuzz_targets/`.

pub mod harness;
