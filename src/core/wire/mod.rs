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
