//! Seeing through TLS: the key schedules (TLS 1.3 HKDF, TLS 1.2 PRF), record protection
//! (opening protected records of every suite we decrypt) and the NSS key log format.
//!
//! Everything here is pure: secrets and bytes come in as values. Reading a key log file or
//! doing the ECDHE exchange happens at the edges (`pcap`, `probe`).

pub mod ecdh;
pub mod keylog;
pub mod record;
pub mod schedule;
pub mod source;

pub use keylog::KeyLog;
pub use record::{OpenError, Opened, RecordOpener};
pub use schedule::HashAlg;
pub use source::{EphemeralKeys, HandshakeInfo, KeySource};
