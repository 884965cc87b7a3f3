//! A connection picked up mid-stream (a capture without its first packets): the search
//! for each direction's first whole record ([`Tracker::picked_up_mid_stream`]), and the
//! tests a candidate position must pass (a strict header followed by another header).
//! Apart from the record layer because it runs before a direction's framing is chosen.

use super::side::Reading;
use super::sslv2::sslv2_plausible;
use super::{RESYNC_WINDOW, Tracker};
use crate::core::flow::{Direction, Micros};
use crate::core::wire::record::RECORD_HEADER_LEN;

impl Tracker {
    /// Looks for the first whole record of a direction picked up mid-stream; returns the
    /// bytes to read from it on (the reading is then settled), `None` while still looking
    /// or after giving up. `last`: the direction ended, nothing more will come.
    #[cold]
    #[inline(never)]
    pub(super) fn resync(
        &mut self,
        dir: Direction,
        data: &[u8],
        last: bool,
        at: Micros,
    ) -> Option<Vec<u8>> {
        let i = dir.index();
        let Reading::Resync {
            mut held,
            mut skipped,
        } = std::mem::replace(&mut self.sides[i].reading, Reading::Undetermined)
        else {
            return None;
        };
        held.extend_from_slice(data);
        // The first bytes start a record (or an SSLv2 hello): read them as if from the
        // start, as before any of this.
        if skipped == 0 && !last {
            match starts_like_tls(dir, &held) {
                None => {
                    self.sides[i].reading = Reading::Resync { held, skipped };
                    return None;
                }
                Some(true) => return Some(held),
                Some(false) => {}
            }
        }
        let mut at_pos = 0;
        let found = loop {
            if skipped + at_pos > RESYNC_WINDOW {
                break None;
            }
            match record_chain_at(&held[at_pos..], last) {
                Sync::Yes => break Some(at_pos),
                Sync::NeedMore if !last => {
                    held.drain(..at_pos);
                    skipped += at_pos;
                    self.sides[i].reading = Reading::Resync { held, skipped };
                    return None;
                }
                Sync::No | Sync::NeedMore => {
                    if at_pos >= held.len() {
                        break None;
                    }
                    at_pos += 1;
                }
            }
        };
        let Some(start) = found else {
            self.sides[i].stop();
            self.sides[i].resync_gave_up = true;
            let seen = skipped + held.len();
            let what = format!(
                "picked up mid-stream: no TLS record found in {} bytes",
                seen.min(RESYNC_WINDOW)
            );
            self.event(at, dir, what);
            return None;
        };
        let what = format!(
            "picked up mid-stream: {} bytes before the first whole record skipped",
            skipped + start
        );
        self.event(at, dir, what);
        held.drain(..start);
        Some(held)
    }
}

/// Whether the first bytes of a direction picked up mid-stream start a record the usual
/// reader takes (a TLS record header with major version 3, or an SSLv2 hello of the
/// direction's role); `None` while too few bytes are in to tell.
fn starts_like_tls(dir: Direction, b: &[u8]) -> Option<bool> {
    let first = *b.first()?;
    if first & 0x80 != 0 {
        return (b.len() >= 3).then(|| sslv2_plausible(dir, b));
    }
    if !(20..=63).contains(&first) {
        return Some(false);
    }
    Some(*b.get(1)? == 3)
}

/// What the bytes at a candidate position show.
enum Sync {
    /// A record starts here.
    Yes,
    No,
    /// Not enough bytes yet to tell.
    NeedMore,
}

/// Whether a TLS record header of a known type, version 3.0–3.4, and a length the record
/// layer allows starts `b`; the whole record's length if so.
fn strict_header(b: &[u8]) -> Option<Option<usize>> {
    let Some(h) = b.get(..RECORD_HEADER_LEN) else {
        return Some(None);
    };
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    let ok = (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && len <= crate::core::wire::record::MAX_RECORD_PAYLOAD;
    ok.then_some(Some(RECORD_HEADER_LEN + len))
}

/// Whether a record starts at the front of `b`: a header followed, after its record, by
/// another header; or, when the direction ended (`last`), a non-empty record of a
/// handshake, alert or ChangeCipherSpec that ends exactly where the bytes end.
fn record_chain_at(b: &[u8], last: bool) -> Sync {
    let end = match strict_header(b) {
        None => return Sync::No,
        Some(None) => return Sync::NeedMore,
        Some(Some(end)) if end == RECORD_HEADER_LEN => return Sync::No,
        Some(Some(end)) => end,
    };
    match strict_header(b.get(end..).unwrap_or_default()) {
        Some(Some(_)) => Sync::Yes,
        None => Sync::No,
        Some(None) if b.len() > end => Sync::NeedMore,
        Some(None) if b.len() == end && last => {
            let fits = match (b[0], end - RECORD_HEADER_LEN) {
                (21, 2) => matches!(b[5], 1 | 2),
                (20, 1) => b[5] == 1,
                (22, _) => true,
                _ => false,
            };
            if fits { Sync::Yes } else { Sync::No }
        }
        Some(None) => Sync::NeedMore,
    }
}
