//! A proxy preamble at the start of a direction (HTTP CONNECT, SOCKS4/4a, SOCKS5:
//! `wire::proxy` reads them): bytes are held until it is known whether and where one ends,
//! then what follows is read as TLS. Apart from the record layer because it comes before
//! a direction's framing is chosen.

use super::Tracker;
use super::side::Reading;
use crate::core::flow::{Direction, Micros};
use crate::core::wire::proxy;
use std::borrow::Cow;

impl Tracker {
    /// Reads a proxy preamble at the start of a direction. Returns the bytes to read as
    /// TLS once it is known whether (and where) a preamble ends; `None` while undecided.
    pub(super) fn skip_preamble<'d>(
        &mut self,
        dir: Direction,
        data: &'d [u8],
        at: Micros,
    ) -> Option<Cow<'d, [u8]>> {
        let held =
            match std::mem::replace(&mut self.sides[dir.index()].reading, Reading::Undetermined) {
                Reading::Preamble(held) => held,
                // Only called while a preamble is read.
                other => {
                    self.sides[dir.index()].reading = other;
                    Vec::new()
                }
            };
        // Nothing held (every direction's first bytes): scan them where they are; a capture
        // has thousands of first flights to read.
        let buf: Cow<'d, [u8]> = if held.is_empty() {
            Cow::Borrowed(data)
        } else {
            let mut held = held;
            held.extend_from_slice(data);
            Cow::Owned(held)
        };
        let scan = match (dir, self.proxy) {
            (Direction::ClientToServer, _) => {
                let (proxy, scan) = proxy::scan_client(&buf);
                // The server may answer a first message (SOCKS5 method choice) before the
                // client's preamble is complete: it must be read as the same protocol.
                self.proxy = if scan == proxy::Scan::NotProxy {
                    None
                } else {
                    proxy
                };
                scan
            }
            (Direction::ServerToClient, Some(p)) => proxy::scan_server(p, &buf),
            (Direction::ServerToClient, None) => proxy::Scan::NotProxy,
        };
        match scan {
            proxy::Scan::NeedMore if buf.len() < proxy::MAX_PREAMBLE => {
                self.sides[dir.index()].reading = Reading::Preamble(buf.into_owned());
                None
            }
            proxy::Scan::Done { len, what } => {
                self.event(at, dir, what);
                let rest = match buf {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[len..]),
                    Cow::Owned(mut b) => Cow::Owned(b.split_off(len)),
                };
                (!rest.is_empty()).then_some(rest)
            }
            _ => Some(buf),
        }
    }
}
