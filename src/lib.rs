//! shakedown: hand-built TLS ClientHellos, and byte-exact decoding of what comes back.
//!
//! The folders are the layers, and imports point down only:
//! `cli` → {`commands`, `report`, `io`, `core`}; `report` → {the commands' result types,
//! `core`}; `commands` → {`io`, `core`}; `io` → `core` (`tests/layers.rs` checks it). The pure [`core`] never touches a socket, a
//! file or the clock (time comes in as a value); [`io`] holds the edges that do (TCP,
//! capture files and interfaces). `probe` and `pcap` feed the same
//! [`core::session::Tracker`] and the same assessment, so a verdict means the same thing
//! for a live connection and for one read out of a capture.

pub mod cli;
pub mod commands;
pub mod core;
pub mod io;
pub mod report;
