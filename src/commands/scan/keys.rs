//! The key pairs of a scan run: one per group, made the first time a hello needs it and
//! reused by every later hello of the run, to any target. Making a key pair (an X25519,
//! P-256 or P-384 scalar multiplication, an ML-KEM key generation) was most of a TLS 1.3
//! hello's cost; a reused pair still decrypts the server's answer, since its private half
//! is known. The server's side is fresh at every handshake, so no two handshakes share a
//! secret. Randomness comes from the operating system here, at the edge; the core is
//! handed the pairs as values (`core::crypto::hello::build_with_keys`).

use crate::commands::probe::fill_random;
use crate::core::crypto::ecdh::{self, KeyShareSecret};
use std::sync::RwLock;

/// The run's key pairs, by group.
#[derive(Debug, Default)]
pub struct KeyPairs {
    /// Read by every hello from every thread, written once per group: a read lock lets the
    /// readers pass each other (a mutex made them queue, and sleep, on a busy scan).
    made: RwLock<Vec<KeyShareSecret>>,
}

impl KeyPairs {
    pub fn new() -> KeyPairs {
        KeyPairs::default()
    }

    /// The pairs for `groups` (those the core makes real keys for), made on first use.
    pub fn for_groups(&self, groups: &[u16]) -> Vec<KeyShareSecret> {
        {
            let made = self.made.read().unwrap_or_else(|e| e.into_inner());
            // Every group has its pair, or has none to have (no real keys for it): only a
            // group made for the first time needs the write lock.
            if groups.iter().all(|&g| made_or_none(&made, g)) {
                return groups
                    .iter()
                    .filter_map(|&g| made.iter().find(|k| k.group == g).cloned())
                    .collect();
            }
        }
        let mut made = self.made.write().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(groups.len());
        for &g in groups {
            if let Some(k) = made.iter().find(|k| k.group == g) {
                out.push(k.clone());
            } else if let Some(k) = ecdh::key_pair(g, &mut fill_random) {
                made.push(k.clone());
                out.push(k);
            }
        }
        out
    }
}

/// `group` has its pair in `made`, or is a group no pair is made for.
fn made_or_none(made: &[KeyShareSecret], group: u16) -> bool {
    made.iter().any(|k| k.group == group) || !ecdh::REAL_KEY_GROUPS.contains(&group)
}

/// Random bytes for hellos, drawn from the operating system 4 KiB at a time and handed out
/// in order, each byte once. A hello asks for its random, session id and GREASE values
/// separately: one system call each at first, then one per hello; now one per dozen or so
/// hellos. A request larger than the reservoir goes to the system directly.
/// The bytes live in the thread's reservoir; this is the handle to it.
pub struct EntropyPool {
    _private: (),
}

/// Bytes drawn from the system in one call.
const RESERVOIR: usize = 4096;

/// One thread's drawn bytes and how many are used.
struct Reservoir {
    bytes: [u8; RESERVOIR],
    at: usize,
}

std::thread_local! {
    static DRAWN: std::cell::RefCell<Reservoir> = const {
        std::cell::RefCell::new(Reservoir { bytes: [0; RESERVOIR], at: RESERVOIR })
    };
}

impl EntropyPool {
    pub fn new() -> EntropyPool {
        EntropyPool { _private: () }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        if buf.len() > RESERVOIR {
            return fill_random(buf);
        }
        DRAWN.with_borrow_mut(|r| {
            if r.at + buf.len() > RESERVOIR {
                fill_random(&mut r.bytes);
                r.at = 0;
            }
            buf.copy_from_slice(&r.bytes[r.at..r.at + buf.len()]);
            // Zeroed once handed out: no byte is given twice, nor kept.
            r.bytes[r.at..r.at + buf.len()].fill(0);
            r.at += buf.len();
        });
    }
}

impl Default for EntropyPool {
    fn default() -> Self {
        EntropyPool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pair_per_group_for_the_run() {
        let keys = KeyPairs::new();
        let x25519 = 0x001d;
        let p256 = 0x0017;
        let first = keys.for_groups(&[x25519, p256]);
        assert_eq!(first.len(), 2);
        let again = keys.for_groups(&[p256, x25519, 0xfafa]);
        // The same pairs, in the order asked; a group without real keys gets none.
        assert_eq!(again, vec![first[1].clone(), first[0].clone()]);
        // Another run makes its own.
        assert_ne!(
            KeyPairs::new().for_groups(&[x25519]),
            vec![first[0].clone()]
        );
    }

    #[test]
    fn pooled_entropy_never_repeats_its_bytes() {
        let mut pool = EntropyPool::new();
        let at = DRAWN.with_borrow(|r| r.at);
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        pool.fill(&mut a);
        pool.fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
        // Handed out in order from one draw (unless the first request began a new one).
        let used = DRAWN.with_borrow(|r| r.at);
        assert!(used == at + 64 || used == 64, "{at} → {used}");
        // Past the end of the reservoir: a new draw, never the old bytes again.
        let mut seen = vec![a, b];
        for _ in 0..RESERVOIR / 32 + 2 {
            let mut c = [0u8; 32];
            pool.fill(&mut c);
            assert!(!seen.contains(&c));
            seen.push(c);
        }
        // Larger than the reservoir: from the system directly.
        let before = DRAWN.with_borrow(|r| r.at);
        let mut big = [0u8; RESERVOIR + 1];
        pool.fill(&mut big);
        assert_eq!(DRAWN.with_borrow(|r| r.at), before);
        assert_ne!(&big[..32], &a[..]);
    }
}
