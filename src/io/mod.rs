//! The edges that do I/O: TCP with deadlines and byte caps ([`net`]), capture files and
//! live interfaces ([`capture`]). They hand bytes and time to the core as values.

pub mod capture;
pub mod net;
