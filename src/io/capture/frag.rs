//! IP fragment reassembly (IPv4 and the IPv6 fragment header), bounded: at most 64 KiB per
//! datagram, a cap on datagrams held at once, and expiry after a timeout of capture time.
//! Overlapping fragments keep the bytes that arrived first.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Micros;

/// Largest IP payload a fragmented datagram can rebuild to (offset ≤ 8 × 8191, length ≤ 64 KiB).
const MAX_DATAGRAM: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub protocol: u8,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Disjoint, sorted byte ranges received so far.
    have: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment (no "more fragments") arrived.
    total: Option<usize>,
    first_seen: Micros,
}

impl Pending {
    fn add(&mut self, offset: usize, more: bool, bytes: &[u8]) -> Result<(), ()> {
        let end = offset.checked_add(bytes.len()).ok_or(())?;
        if end > MAX_DATAGRAM {
            return Err(());
        }
        if !more {
            match self.total {
                Some(t) if t != end => return Err(()),
                _ => self.total = Some(end),
            }
        }
        if let Some(t) = self.total
            && end > t
        {
            return Err(());
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        // Copy only the parts not yet received: the first copy wins.
        let mut cursor = offset;
        let mut fresh = Vec::new();
        for &(s, e) in &self.have {
            if e <= cursor {
                continue;
            }
            if s >= end {
                break;
            }
            if s > cursor {
                fresh.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            fresh.push((cursor, end));
        }
        for &(s, e) in &fresh {
            self.data[s..e].copy_from_slice(&bytes[s - offset..e - offset]);
            self.have.push((s, e));
        }
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
        Ok(())
    }

    fn complete(&self) -> bool {
        matches!(self.total, Some(t) if self.have.as_slice() == [(0, t)])
    }
}

/// What one fragment did.
pub(crate) enum FragOutcome {
    /// Held until the rest arrives.
    Held,
    /// The datagram is complete: its payload is in [`Defragmenter::datagram`].
    Complete,
    /// The fragment is inconsistent or over a limit; the datagram was dropped.
    Dropped,
}

#[derive(Debug)]
pub(crate) struct Defragmenter {
    pending: HashMap<FragKey, Pending>,
    max_datagrams: usize,
    timeout: Micros,
    /// The last completed datagram's payload.
    done: Vec<u8>,
    pub dropped: u64,
}

impl Defragmenter {
    pub fn new(max_datagrams: usize, timeout: Micros) -> Self {
        Defragmenter {
            pending: HashMap::new(),
            max_datagrams: max_datagrams.max(1),
            timeout,
            done: Vec::new(),
            dropped: 0,
        }
    }

    pub fn datagram(&self) -> &[u8] {
        &self.done
    }

    /// Moves the last completed datagram's payload into `into` (its old bytes come back
    /// as the next buffer).
    pub fn take_datagram(&mut self, into: &mut Vec<u8>) {
        std::mem::swap(into, &mut self.done);
    }

    pub fn add(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        bytes: &[u8],
        at: Micros,
    ) -> FragOutcome {
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_datagrams {
            self.expire(at);
            if self.pending.len() >= self.max_datagrams {
                // Still full: give up the oldest datagram to make room.
                if let Some(oldest) = self
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.first_seen)
                    .map(|(k, _)| *k)
                {
                    self.pending.remove(&oldest);
                    self.dropped += 1;
                }
            }
        }
        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            first_seen: at,
        });
        if entry.add(offset, more, bytes).is_err() {
            self.pending.remove(&key);
            self.dropped += 1;
            return FragOutcome::Dropped;
        }
        if entry.complete() {
            if let Some(p) = self.pending.remove(&key) {
                self.done = p.data;
            }
            return FragOutcome::Complete;
        }
        FragOutcome::Held
    }

    /// Drops datagrams older than the timeout.
    pub fn expire(&mut self, now: Micros) {
        let timeout = self.timeout;
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.saturating_sub(p.first_seen) <= timeout);
        self.dropped += (before - self.pending.len()) as u64;
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id: 7,
            protocol: 6,
        }
    }

    #[test]
    fn out_of_order_and_overlap_first_copy_wins() {
        let mut d = Defragmenter::new(4, 1_000);
        assert!(matches!(
            d.add(key(), 8, false, b"IJKL", 0),
            FragOutcome::Held
        ));
        // Overlaps the last fragment with different bytes: the first copy stays.
        assert!(matches!(
            d.add(key(), 4, true, b"efghXX", 0),
            FragOutcome::Held
        ));
        assert!(matches!(
            d.add(key(), 0, true, b"abcd", 0),
            FragOutcome::Complete
        ));
        assert_eq!(d.datagram(), b"abcdefghIJKL");
        assert!(d.is_empty());
    }

    #[test]
    fn inconsistent_and_oversized_dropped() {
        let mut d = Defragmenter::new(4, 1_000);
        assert!(matches!(
            d.add(key(), 0, false, b"abcd", 0),
            FragOutcome::Complete
        ));
        assert!(matches!(
            d.add(key(), 8, false, b"abcd", 0),
            FragOutcome::Held
        ));
        // A second "last" fragment with another end contradicts the first.
        assert!(matches!(
            d.add(key(), 16, false, b"abcd", 0),
            FragOutcome::Dropped
        ));
        assert!(matches!(
            d.add(key(), 65_532, true, b"abcdefgh", 0),
            FragOutcome::Dropped
        ));
        assert_eq!(d.dropped, 2);
    }

    #[test]
    fn bounded_and_expiring() {
        let mut d = Defragmenter::new(2, 1_000);
        for id in 0..10 {
            let k = FragKey { id, ..key() };
            d.add(k, 8, true, b"x", id as u64);
        }
        assert!(d.pending.len() <= 2);
        d.expire(10_000);
        assert!(d.is_empty());
        assert_eq!(d.dropped, 10);
    }
}
