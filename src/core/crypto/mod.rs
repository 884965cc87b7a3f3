//! Seeing through TLS: the key pairs behind a hello's key shares and the (EC)DHE exchange,
//! the key schedules (TLS 1.3 HKDF, TLS 1.2 PRF), record protection (opening protected
//! records of every suite we decrypt) and the NSS key log format.
//!
//! Everything here is pure: secrets, bytes and randomness come in as values (or as the
//! caller's entropy function). Reading a key log file or the OS's randomness happens at the
//! edges (`pcap`, `probe`).

pub mod ecdh;
pub mod hello;
pub mod keylog;
pub mod keys;
pub mod mlkem;
pub mod quic;
pub mod record;
pub mod schedule;
pub mod tls12;

pub use keylog::KeyLog;
pub use keys::{HandshakeInfo, Keys};
pub use record::{OpenError, Opened, RecordOpener};
pub use schedule::HashAlg;
