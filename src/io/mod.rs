//! The edges that do I/O: TCP with deadlines and byte caps ([`net`]), capture files and
//! live interfaces ([`capture`]), whole user inputs with a size cap ([`input`]), and
//! coroutines whose blocking points suspend to an epoll loop ([`coro`]). They hand
//! bytes and time to the core as values.

pub mod capture;
pub mod coro;
pub mod input;
pub mod net;
