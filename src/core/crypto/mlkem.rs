//! Post-quantum key shares: ML-KEM (FIPS 203, RustCrypto `ml-kem`) alone (MLKEM768,
//! MLKEM1024, draft-ietf-tls-mlkem) and combined with an ECDH share as RFC 10024
//! (draft-ietf-tls-ecdhe-mlkem) specifies for X25519MLKEM768, SecP256r1MLKEM768 and
//! SecP384r1MLKEM1024.
//!
//! The layouts, from the RFC: X25519MLKEM768 puts ML-KEM FIRST everywhere (client share =
//! encapsulation key ‖ x25519 public key, server share = ciphertext ‖ x25519 public key,
//! secret = ML-KEM secret ‖ x25519 secret); the SecP* hybrids put the ECDH part first in
//! all three. The client keeps only the 64-byte ML-KEM seed (d ‖ z): the decapsulation key
//! is derived from it again when the server's ciphertext comes.

use ml_kem::kem::{Decapsulate, KeyExport};
use ml_kem::{DecapsulationKey, MlKem768, MlKem1024, Seed};

/// Bytes of the seed an ML-KEM key pair is derived from (FIPS 203 `d ‖ z`).
pub const SEED_LEN: usize = 64;

/// The ML-KEM parameter set of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    MlKem768,
    MlKem1024,
}

impl Level {
    /// Length of the encapsulation key (the client's share).
    pub fn encapsulation_key_len(self) -> usize {
        match self {
            Level::MlKem768 => 1184,
            Level::MlKem1024 => 1568,
        }
    }

    /// Length of the ciphertext (the server's share).
    pub fn ciphertext_len(self) -> usize {
        match self {
            Level::MlKem768 => 1088,
            Level::MlKem1024 => 1568,
        }
    }
}

/// How a PQ group's share is made: the ML-KEM level, the ECDH group it is combined with
/// (`None` for pure ML-KEM), and whether the ML-KEM part comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub level: Level,
    pub ecdh_group: Option<u16>,
    pub kem_first: bool,
}

pub const GROUP_SECP256R1_MLKEM768: u16 = 0x11eb;
pub const GROUP_X25519_MLKEM768: u16 = 0x11ec;
pub const GROUP_SECP384R1_MLKEM1024: u16 = 0x11ed;
pub const GROUP_MLKEM768: u16 = 0x0201;
pub const GROUP_MLKEM1024: u16 = 0x0202;

/// The PQ groups we make real shares for, in the order of [`super::ecdh::REAL_KEY_GROUPS`].
pub const PQ_GROUPS: [u16; 5] = [
    GROUP_X25519_MLKEM768,
    GROUP_SECP256R1_MLKEM768,
    GROUP_SECP384R1_MLKEM1024,
    GROUP_MLKEM768,
    GROUP_MLKEM1024,
];

/// The layout of `group`, or `None` when it is no PQ group we make shares for.
pub fn layout(group: u16) -> Option<Layout> {
    let (level, ecdh_group, kem_first) = match group {
        GROUP_X25519_MLKEM768 => (Level::MlKem768, Some(super::ecdh::GROUP_X25519), true),
        GROUP_SECP256R1_MLKEM768 => (Level::MlKem768, Some(super::ecdh::GROUP_SECP256R1), false),
        GROUP_SECP384R1_MLKEM1024 => (Level::MlKem1024, Some(super::ecdh::GROUP_SECP384R1), false),
        GROUP_MLKEM768 => (Level::MlKem768, None, true),
        GROUP_MLKEM1024 => (Level::MlKem1024, None, true),
        _ => return None,
    };
    Some(Layout {
        level,
        ecdh_group,
        kem_first,
    })
}

/// The encapsulation key of the key pair derived from `seed`.
pub fn encapsulation_key(level: Level, seed: &[u8; SEED_LEN]) -> Vec<u8> {
    let seed = Seed::from(*seed);
    match level {
        Level::MlKem768 => DecapsulationKey::<MlKem768>::from_seed(seed)
            .encapsulation_key()
            .to_bytes()
            .to_vec(),
        Level::MlKem1024 => DecapsulationKey::<MlKem1024>::from_seed(seed)
            .encapsulation_key()
            .to_bytes()
            .to_vec(),
    }
}

/// The shared secret in `ciphertext` for the key pair derived from `seed`; `None` when the
/// ciphertext has the wrong length. (A wrong ciphertext of the right length decapsulates to
/// an unrelated secret, as FIPS 203 specifies: the server's Finished then fails to verify.)
pub fn decapsulate(level: Level, seed: &[u8; SEED_LEN], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let seed = Seed::from(*seed);
    let shared = match level {
        Level::MlKem768 => DecapsulationKey::<MlKem768>::from_seed(seed)
            .decapsulate_slice(ciphertext)
            .ok()?,
        Level::MlKem1024 => DecapsulationKey::<MlKem1024>::from_seed(seed)
            .decapsulate_slice(ciphertext)
            .ok()?,
    };
    Some(shared.to_vec())
}

/// The server's side for tests: encapsulate to `ek` with fixed randomness `m`.
#[cfg(test)]
pub(crate) fn encapsulate(level: Level, ek: &[u8], m: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
    use ml_kem::kem::TryKeyInit;
    use ml_kem::{B32, EncapsulationKey};
    let m = B32::from(m);
    match level {
        Level::MlKem768 => {
            let ek = EncapsulationKey::<MlKem768>::new_from_slice(ek).unwrap();
            let (ct, k) = ek.encapsulate_deterministic(&m);
            (ct.to_vec(), k.to_vec())
        }
        Level::MlKem1024 => {
            let ek = EncapsulationKey::<MlKem1024>::new_from_slice(ek).unwrap();
            let (ct, k) = ek.encapsulate_deterministic(&m);
            (ct.to_vec(), k.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_lengths_are_fips_203() {
        for level in [Level::MlKem768, Level::MlKem1024] {
            let seed = [0x42; SEED_LEN];
            let ek = encapsulation_key(level, &seed);
            assert_eq!(ek.len(), level.encapsulation_key_len());
            let (ct, k) = encapsulate(level, &ek, [9; 32]);
            assert_eq!(ct.len(), level.ciphertext_len());
            assert_eq!(decapsulate(level, &seed, &ct), Some(k.clone()));
            assert_eq!(decapsulate(level, &seed, &ct[1..]), None);
            let mut bad = ct.clone();
            bad[0] ^= 1;
            let implicit = decapsulate(level, &seed, &bad).unwrap();
            assert_ne!(implicit, k, "implicit rejection gives another secret");
        }
    }
}
