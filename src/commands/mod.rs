//! The commands: a validated config in, a typed result out. They use `io` and `core`,
//! never the CLI or a renderer.

pub mod diff;
pub mod pcap;
pub mod probe;
pub mod replay;
pub mod scan;
pub mod simulate;
