//! The key pairs of a scan run: one per group, made the first time a hello needs it and
//! reused by every later hello of the run, to any target. Making a key pair (an X25519,
//! P-256 or P-384 scalar multiplication, an ML-KEM key generation) was most of a TLS 1.3
//! hello's cost; a reused pair still decrypts the server's answer, since its private half
//! is known. The server's side is fresh at every handshake, so no two handshakes share a
//! secret. Randomness comes from the operating system here, at the edge; the core is
//! handed the pairs as values (`core::crypto::hello::build_with_keys`).

use crate::commands::probe::fill_random;
use crate::core::crypto::ecdh::{self, KeyShareSecret};
use std::sync::Mutex;

/// The run's key pairs, by group.
#[derive(Debug, Default)]
pub struct KeyPairs {
    made: Mutex<Vec<KeyShareSecret>>,
}

impl KeyPairs {
    pub fn new() -> KeyPairs {
        KeyPairs::default()
    }

    /// The pairs for `groups` (those the core makes real keys for), made on first use.
    pub fn for_groups(&self, groups: &[u16]) -> Vec<KeyShareSecret> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
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

/// Random bytes for one hello, drawn from the operating system in one call and handed out
/// in order (a hello asks for its random, session id and GREASE values separately: one
/// system call each before). Asks the system again if a hello wants more.
pub struct EntropyPool {
    pool: [u8; 256],
    at: usize,
}

impl EntropyPool {
    pub fn new() -> EntropyPool {
        let mut pool = [0u8; 256];
        fill_random(&mut pool);
        EntropyPool { pool, at: 0 }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        match self.pool.get(self.at..self.at + buf.len()) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                self.at += buf.len();
            }
            None => fill_random(buf),
        }
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
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        pool.fill(&mut a);
        pool.fill(&mut b);
        assert_ne!(a, b);
        assert_eq!((&pool.pool[..32], &pool.pool[32..64]), (&a[..], &b[..]));
        // Beyond the pool: from the system, not the pool again.
        let mut big = [0u8; 300];
        pool.fill(&mut big);
        assert_eq!(pool.at, 64);
        assert_ne!(&big[..32], &a[..]);
    }
}
