//! The TLS wire layer: registries, the ClientHello model and its encoder, record framing,
//! handshake reassembly and server message decoding. Pure: bytes in, values out.

pub mod build;
pub mod codec;
pub mod hello;
pub mod proxy;
pub mod quic;
pub mod record;
pub mod registry;
pub mod retry;
pub mod server;
pub mod sslv2;
pub mod starttls;
pub mod version;

pub use codec::{DecodeError, Reader};
pub use hello::{ClientHello, Extension};
pub use version::ProtocolVersion;

/// A fixed-seed xorshift64 sequence, for the unit tests that feed arbitrary bytes to the
/// parsers: the same bytes on every run, so a failure repeats.
#[cfg(test)]
pub(crate) fn xorshift64(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
