//! Well-known finite-field Diffie-Hellman primes, one table: the groups servers ship by
//! default and many share, so a precomputation against one prime (Logjam's number field
//! sieve) attacks all of them. A prime in a ServerKeyExchange is matched by value: the
//! table keeps each prime's SHA-256 (its big-endian bytes, no leading zero), and the tests
//! recompute every prime from its defining text: the RFC 2409 / 3526 formula over π and
//! the RFC 7919 formula over e (below), the RFC 5114 ones against OpenSSL's built-in copies
//! (`openssl genpkey -genparam -algorithm DH -pkeyopt group:dh_1024_160`, tests/scan_vulns.rs).
//!
//! Apache httpd's mod_ssl (2.4.7 and later) picks its built-in parameters from these same
//! RFC 2409 / 3526 primes by key size, so they are named here too; nginx has no built-in
//! DH parameters.

use sha2::{Digest as _, Sha256};

/// One well-known prime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhPrime {
    /// Stable id (OpenSSL's group name where it has one).
    pub id: &'static str,
    /// Where it is defined, in words.
    pub name: &'static str,
    pub bits: usize,
    /// SHA-256 of the prime's big-endian bytes, hex.
    pub sha256: &'static str,
}

const fn p(id: &'static str, name: &'static str, bits: usize, sha256: &'static str) -> DhPrime {
    DhPrime {
        id,
        name,
        bits,
        sha256,
    }
}

/// Every prime named.
pub const DH_PRIMES: &[DhPrime] = &[
    p(
        "modp_768",
        "RFC 2409 Oakley group 1",
        768,
        "b52ba6a3026520a6c49d37e4587601801bee500123b3259b6bf03e7cecc3e63d",
    ),
    p(
        "modp_1024",
        "RFC 2409 Oakley group 2",
        1024,
        "3f35a3f5f6c4376a744acad409bb22f8d897f949d2311d885adaa890981b67a0",
    ),
    p(
        "modp_1536",
        "RFC 3526 MODP group 5",
        1536,
        "64fcc83ec403930bf18393dbc883ccaa1fbb08ac876f77f7aa99748ca945019b",
    ),
    p(
        "modp_2048",
        "RFC 3526 MODP group 14",
        2048,
        "d66436f79bbd6b2e38c0ffbd079be904d2641415e2e67140e09448be9a60890e",
    ),
    p(
        "modp_3072",
        "RFC 3526 MODP group 15",
        3072,
        "48cf8b092fbce4359d9871abf74f98e25b6163379eaa15cd9087e800c6d1c55c",
    ),
    p(
        "modp_4096",
        "RFC 3526 MODP group 16",
        4096,
        "4ee95187682bcb230ad26a95205f6920e84708f6251b3894329b09ec23919e33",
    ),
    p(
        "modp_6144",
        "RFC 3526 MODP group 17",
        6144,
        "d1bfe6d0925ce7e4da262b62861514a7755e35831e429f343e7b864848657efd",
    ),
    p(
        "modp_8192",
        "RFC 3526 MODP group 18",
        8192,
        "39ab4feab950a3128fb71accb9fc3965d857012e081998a85996e3ea8b3c3bcf",
    ),
    p(
        "dh_1024_160",
        "RFC 5114 1024-bit group with 160-bit subgroup",
        1024,
        "44c55cfee5c075927cf682da5b681bdecbd5c3eb0784c14f5dce7610f0ef133d",
    ),
    p(
        "dh_2048_224",
        "RFC 5114 2048-bit group with 224-bit subgroup",
        2048,
        "bfe545862ca102ad1eeddb5fbfa5bf855ac4995c56a8b408ce3fe099dce93a9d",
    ),
    p(
        "dh_2048_256",
        "RFC 5114 2048-bit group with 256-bit subgroup",
        2048,
        "0b7835722cb619827610c2549fdda5587421686c4409a13865e76225522ddcc9",
    ),
    p(
        "ffdhe2048",
        "RFC 7919 ffdhe2048",
        2048,
        "9cd3b7f336872f46c09428d1bbc19877a4d440512cda8d1c1cf0cd6e33698966",
    ),
    p(
        "ffdhe3072",
        "RFC 7919 ffdhe3072",
        3072,
        "0eaf67db3a839156d5013494a5318a772b5697d270d721f37f092efc69ea5a17",
    ),
    p(
        "ffdhe4096",
        "RFC 7919 ffdhe4096",
        4096,
        "4648414224ac881b3d0dc59b466f96d06a558278776807797ecf1f66ff397b3e",
    ),
    p(
        "ffdhe6144",
        "RFC 7919 ffdhe6144",
        6144,
        "227ac9066b3ddd9e193670cda2388fa884f65ba0cf98b742d1fe77a6687c79c7",
    ),
    p(
        "ffdhe8192",
        "RFC 7919 ffdhe8192",
        8192,
        "770b14efaf6f049929c523113b3fa99a8d11dab1b18af3609590122075d19833",
    ),
];

/// The well-known prime with this value (big-endian, leading zero bytes allowed).
pub fn named_prime(prime: &[u8]) -> Option<&'static DhPrime> {
    let start = prime.iter().position(|b| *b != 0)?;
    let digest = Sha256::digest(&prime[start..]);
    // The digest against the table's hex, digit by digit: a scan reads a prime in every
    // DHE answer, and spelling its digest out took 33 allocations each time.
    DH_PRIMES.iter().find(|p| hex_is(p.sha256, &digest))
}

/// `hex` (lowercase) spells `bytes`.
fn hex_is(hex: &str, bytes: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hex.len() == 2 * bytes.len()
        && hex.as_bytes().chunks_exact(2).zip(bytes).all(|(pair, b)| {
            pair[0] == DIGITS[usize::from(b >> 4)] && pair[1] == DIGITS[usize::from(b & 0x0f)]
        })
}

/// The prime with this id.
pub fn dh_prime(id: &str) -> Option<&'static DhPrime> {
    DH_PRIMES.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    /// ⌊π · 2^bits⌋ by Machin's formula, with 64 guard bits.
    fn pi_scaled(bits: usize) -> BigUint {
        let one = BigUint::from(1u8) << (bits + 64);
        let arctan_inv = |x: u32| {
            let x2 = BigUint::from(x * x);
            let mut term = &one / x;
            let (mut plus, mut minus) = (term.clone(), BigUint::ZERO);
            let mut n = 1u32;
            let mut add = false;
            while term > BigUint::ZERO {
                term /= &x2;
                n += 2;
                if add {
                    plus += &term / n;
                } else {
                    minus += &term / n;
                }
                add = !add;
            }
            plus - minus
        };
        ((arctan_inv(5) * 16u8) - (arctan_inv(239) * 4u8)) >> 64
    }

    /// ⌊e · 2^bits⌋ by the series Σ 1/n!, with 64 guard bits.
    fn e_scaled(bits: usize) -> BigUint {
        let mut term = BigUint::from(1u8) << (bits + 64);
        let mut sum = BigUint::ZERO;
        let mut n = 0u32;
        while term > BigUint::ZERO {
            sum += &term;
            n += 1;
            term /= n;
        }
        sum >> 64
    }

    fn pow2(n: usize) -> BigUint {
        BigUint::from(1u8) << n
    }

    /// RFC 2409 §6.1-6.2, RFC 3526: 2^n - 2^(n-64) - 1 + 2^64 · (⌊2^(n-130) π⌋ + k).
    fn modp(n: usize, k: u32) -> BigUint {
        pow2(n) - pow2(n - 64) - 1u8 + pow2(64) * (pi_scaled(n - 130) + k)
    }

    /// RFC 7919 appendix A: 2^b - 2^(b-64) + (⌊2^(b-130) e⌋ + X) · 2^64 - 1.
    fn ffdhe(b: usize, x: u32) -> BigUint {
        pow2(b) - pow2(b - 64) + (e_scaled(b - 130) + x) * pow2(64) - 1u8
    }

    #[test]
    fn the_rfc_formulas_give_the_primes_of_the_table() {
        let defined = [
            ("modp_768", modp(768, 149686)),
            ("modp_1024", modp(1024, 129093)),
            ("modp_1536", modp(1536, 741804)),
            ("modp_2048", modp(2048, 124476)),
            ("modp_3072", modp(3072, 1690314)),
            ("modp_4096", modp(4096, 240904)),
            ("modp_6144", modp(6144, 929484)),
            ("modp_8192", modp(8192, 4743158)),
            ("ffdhe2048", ffdhe(2048, 560316)),
            ("ffdhe3072", ffdhe(3072, 2625351)),
            ("ffdhe4096", ffdhe(4096, 5736041)),
            ("ffdhe6144", ffdhe(6144, 15705020)),
            ("ffdhe8192", ffdhe(8192, 10965728)),
        ];
        for (id, value) in defined {
            let bytes = value.to_bytes_be();
            let named = named_prime(&bytes).unwrap_or_else(|| panic!("{id} not matched"));
            assert_eq!(named.id, id);
            assert_eq!(named.bits, value.bits() as usize, "{id}");
            // Leading zero bytes (as a DER integer carries them) change nothing.
            assert_eq!(named_prime(&[&[0u8][..], &bytes].concat()), Some(named));
        }
        // The RFC 2409 group 2 prime's last words, as RFC 2409 §6.2 prints them.
        let group2 = modp(1024, 129093).to_bytes_be();
        assert_eq!(
            group2[group2.len() - 12..],
            [
                0xEC, 0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
            ]
        );
        // One bit off is no match.
        let mut other = group2.clone();
        other[64] ^= 1;
        assert_eq!(named_prime(&other), None);
    }

    #[test]
    fn ids_are_unique_and_look_up() {
        for (i, p) in DH_PRIMES.iter().enumerate() {
            assert_eq!(dh_prime(p.id), Some(p));
            assert!(
                DH_PRIMES[..i]
                    .iter()
                    .all(|q| q.id != p.id && q.sha256 != p.sha256)
            );
            assert_eq!(p.sha256.len(), 64);
        }
    }
}
