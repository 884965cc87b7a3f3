//! shakedown: hand-built TLS ClientHellos, and byte-exact decoding of what comes back.
//!
//! The pure core (`wire`, `session`, `cert`, `fingerprint`, `diagnose`) never touches a
//! socket, a file or the clock; `net`, `capture` and `cli` are the edges that do.
//! `probe` and `capture` feed the same [`session::Tracker`], so a verdict means the same
//! thing for a live connection and for one read out of a capture.

pub mod capture;
pub mod cert;
pub mod cli;
pub mod crypto;
pub mod datetime;
pub mod decimal;
pub mod diagnose;
pub mod diff;
pub mod fingerprint;
pub mod net;
pub mod pcap;
pub mod probe;
pub mod replay;
pub mod report;
pub mod scan;
pub mod session;
pub mod simulate;
pub mod wire;
