//! The key exchange behind TLS 1.3 key shares: real key pairs for the groups a handshake can
//! be finished with (x25519, secp256r1, secp384r1, secp521r1, and the ML-KEM hybrids and pure
//! ML-KEM groups of [`super::mlkem`]), and the shared secret with a server's share. Entropy
//! comes in as a function, so this stays pure and testable. The curves are aws-lc's (through
//! aws-lc-rs), given our own private key bytes: RustCrypto's and curve25519-dalek's portable
//! arithmetic made key pairs most of a one-target scan's instructions, and the shared secret
//! that opens a TLS 1.3 answer a quarter of a many-target scan's (docs/benchmarks.md#scan-ecdh).

use super::mlkem::{self, Layout};
use crate::core::wire::build::KeyShare;
use crate::core::wire::registry::group_name;
use aws_lc_rs::agreement::{
    Algorithm, ECDH_P256, ECDH_P384, ECDH_P521, PrivateKey, UnparsedPublicKey, X25519, agree,
};
use std::sync::Arc;

pub const GROUP_SECP256R1: u16 = 0x0017;
pub const GROUP_SECP384R1: u16 = 0x0018;
pub const GROUP_SECP521R1: u16 = 0x0019;
pub const GROUP_X25519: u16 = 0x001d;

/// The groups [`key_pair`] makes real keys for.
pub const REAL_KEY_GROUPS: [u16; 9] = [
    GROUP_X25519,
    GROUP_SECP256R1,
    GROUP_SECP384R1,
    GROUP_SECP521R1,
    mlkem::PQ_GROUPS[0],
    mlkem::PQ_GROUPS[1],
    mlkem::PQ_GROUPS[2],
    mlkem::PQ_GROUPS[3],
    mlkem::PQ_GROUPS[4],
];

/// The key pair behind a key share we sent, kept to finish a TLS 1.3 handshake.
///
/// Its halves are shared, not copied, by its clones: a scan makes one pair per group for
/// the whole run, and each of its hellos and their trackers holds the pairs it sent (with
/// `Vec`s, two allocations per pair and holder, about 20 for a TLS 1.3 hello with three
/// shares).
#[derive(Debug, Clone)]
pub struct KeyShareSecret {
    pub group: u16,
    /// X25519: the 32 scalar bytes (clamped at use); NIST curves: the big-endian scalar;
    /// ML-KEM groups: the 64-byte ML-KEM seed, then the ECDH part's private key if any.
    pub private: Arc<[u8]>,
    pub public: Arc<[u8]>,
    /// `private` as aws-lc holds it (X25519 and the NIST curves), kept from the pair's making:
    /// parsing a private key computes its public key again, a base-point multiplication
    /// for every shared secret (a scan's one per target; docs/benchmarks.md#scan-user-4).
    parsed: Option<Arc<PrivateKey>>,
}

/// The key bytes make the pair; `parsed` is only their aws-lc form.
impl PartialEq for KeyShareSecret {
    fn eq(&self, other: &Self) -> bool {
        self.group == other.group && self.private == other.private && self.public == other.public
    }
}

impl Eq for KeyShareSecret {}

impl KeyShareSecret {
    /// The public half, as the hello carries it.
    pub fn share(&self) -> KeyShare {
        KeyShare {
            group: self.group,
            public: Arc::clone(&self.public),
        }
    }
}

/// [`REAL_KEY_GROUPS`] by their registry names, for messages.
pub fn real_key_group_names() -> String {
    let names: Vec<String> = REAL_KEY_GROUPS.iter().map(|g| group_name(*g)).collect();
    names.join(", ")
}

/// A real key pair for `group`, or `None` for a group we make no real key for.
pub fn key_pair(group: u16, entropy: &mut dyn FnMut(&mut [u8])) -> Option<KeyShareSecret> {
    let Some(curve) = curve(group) else {
        return mlkem::layout(group).map(|layout| pq_key_pair(group, layout, entropy));
    };
    let (private, public, parsed) = curve_key_pair(curve, entropy)?;
    Some(KeyShareSecret {
        group,
        private: private.into(),
        public: public.into(),
        parsed: Some(Arc::new(parsed)),
    })
}

/// The shared secret of our key pair and the server's public key for the same group: the
/// x25519 output, or the x coordinate of the NIST curve point (RFC 8446 7.4.2).
pub fn shared_secret(ours: &KeyShareSecret, public: &[u8]) -> Option<Vec<u8>> {
    if let Some(key) = &ours.parsed {
        return agree_with(key, public);
    }
    match curve(ours.group) {
        // The bytes alone (an ML-KEM hybrid's ECDH part).
        Some((alg, _)) => agree_with(
            &PrivateKey::from_private_key(alg, &ours.private).ok()?,
            public,
        ),
        None => pq_shared(mlkem::layout(ours.group)?, ours, public),
    }
}

/// aws-lc's algorithm for a group whose keys are one curve's (X25519 and the NIST curves),
/// and the length of its private keys (the scalar's bytes).
fn curve(group: u16) -> Option<(&'static Algorithm, usize)> {
    match group {
        GROUP_X25519 => Some((&X25519, 32)),
        GROUP_SECP256R1 => Some((&ECDH_P256, 32)),
        GROUP_SECP384R1 => Some((&ECDH_P384, 48)),
        GROUP_SECP521R1 => Some((&ECDH_P521, 66)),
        _ => None,
    }
}

/// The shared secret of a parsed private key and a peer's public key of its curve; `None`
/// for a key of the wrong length, a point not on the curve, and an all-zero X25519 result
/// (a small-order point: not a usable exchange).
fn agree_with(key: &PrivateKey, peer: &[u8]) -> Option<Vec<u8>> {
    let peer = UnparsedPublicKey::new(key.algorithm(), peer);
    agree(key, peer, (), |secret| Ok(secret.to_vec())).ok()
}

/// A key pair for an ML-KEM group: the seed is drawn first, then the ECDH part's key.
fn pq_key_pair(group: u16, layout: Layout, entropy: &mut dyn FnMut(&mut [u8])) -> KeyShareSecret {
    let mut seed = [0u8; mlkem::SEED_LEN];
    entropy(&mut seed);
    let encapsulation_key = mlkem::encapsulation_key(layout.level, &seed);
    let mut private = seed.to_vec();
    let public = match layout.ecdh_group.and_then(|g| key_pair(g, entropy)) {
        None => encapsulation_key,
        Some(ecdh) => {
            private.extend_from_slice(&ecdh.private);
            if layout.kem_first {
                [&encapsulation_key[..], &ecdh.public].concat()
            } else {
                [&ecdh.public[..], &encapsulation_key].concat()
            }
        }
    };
    KeyShareSecret {
        group,
        private: private.into(),
        public: public.into(),
        parsed: None,
    }
}

/// The secret of an ML-KEM group: the server's share is split into the ciphertext and the
/// ECDH public key (in the group's order, each of its exact length), and the two secrets are
/// joined in the same order.
fn pq_shared(layout: Layout, ours: &KeyShareSecret, public: &[u8]) -> Option<Vec<u8>> {
    let (seed, ecdh_private) = ours.private.split_at_checked(mlkem::SEED_LEN)?;
    let seed: &[u8; mlkem::SEED_LEN] = seed.try_into().ok()?;
    let ct_len = layout.level.ciphertext_len();
    let Some(ecdh_group) = layout.ecdh_group else {
        return mlkem::decapsulate(layout.level, seed, public);
    };
    let ecdh_len = public.len().checked_sub(ct_len)?;
    let (ciphertext, ecdh_public) = if layout.kem_first {
        public.split_at(ct_len)
    } else {
        let (e, c) = public.split_at(ecdh_len);
        (c, e)
    };
    let kem_secret = mlkem::decapsulate(layout.level, seed, ciphertext)?;
    let ecdh_ours = KeyShareSecret {
        group: ecdh_group,
        private: ecdh_private.into(),
        public: Arc::from([]),
        parsed: None,
    };
    let ecdh_secret = shared_secret(&ecdh_ours, ecdh_public)?;
    Some(if layout.kem_first {
        [kem_secret, ecdh_secret].concat()
    } else {
        [ecdh_secret, kem_secret].concat()
    })
}

/// A curve's key pair: the private key's bytes (X25519's 32, clamped at use; a NIST
/// curve's big-endian scalar), the public key (a NIST curve's uncompressed point, RFC 8446
/// 4.2.8.2) and the private key parsed. Entropy is drawn again when the bytes are not a
/// valid NIST scalar (zero, or not below the group order; any 32 bytes are an X25519 key).
/// After 8 failures (a broken entropy source) the first byte is cleared and the low bit
/// set, which always gives a valid scalar: every NIST order has a non-zero top byte, so
/// 0 < k < n.
fn curve_key_pair(
    (alg, private_len): (&'static Algorithm, usize),
    entropy: &mut dyn FnMut(&mut [u8]),
) -> Option<(Vec<u8>, Vec<u8>, PrivateKey)> {
    let mut bytes = vec![0u8; private_len];
    for attempt in 0..9 {
        if attempt < 8 {
            entropy(&mut bytes);
        } else {
            bytes[0] = 0;
            if let Some(last) = bytes.last_mut() {
                *last |= 1;
            }
        }
        if let Ok(key) = PrivateKey::from_private_key(alg, &bytes) {
            let public = key.compute_public_key().ok()?.as_ref().to_vec();
            return Some((bytes, public, key));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(seed: u8) -> impl FnMut(&mut [u8]) {
        let mut n = seed;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_mul(31).wrapping_add(7);
                *b = n;
            }
        }
    }

    #[test]
    fn both_sides_agree_for_every_real_group() {
        for (group, public_len) in [
            (GROUP_X25519, 32),
            (GROUP_SECP256R1, 65),
            (GROUP_SECP384R1, 97),
            (GROUP_SECP521R1, 133),
        ] {
            let a = key_pair(group, &mut counter(1)).unwrap();
            let b = key_pair(group, &mut counter(2)).unwrap();
            assert_eq!(a.public.len(), public_len, "{group:#06x}");
            assert_ne!(a.public, b.public);
            let ab = shared_secret(&a, &b.public).unwrap();
            assert_eq!(
                Some(ab.clone()),
                shared_secret(&b, &a.public),
                "{group:#06x}"
            );
            assert!(ab.iter().any(|x| *x != 0));
        }
        assert!(key_pair(0x001e, &mut counter(1)).is_none());
        assert_eq!(
            real_key_group_names(),
            "x25519, secp256r1, secp384r1, secp521r1, X25519MLKEM768, SecP256r1MLKEM768, \
             SecP384r1MLKEM1024, MLKEM768, MLKEM1024"
        );
    }

    /// A server's side of an ML-KEM group, written out from RFC 10024 section 3.1 for the
    /// test: split the client's share, encapsulate, answer with its own ECDH key.
    fn server_answer(group: u16, client_share: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let layout = mlkem::layout(group).unwrap();
        let ek_len = layout.level.encapsulation_key_len();
        let Some(ecdh_group) = layout.ecdh_group else {
            return mlkem::encapsulate(layout.level, client_share, [3; 32]);
        };
        let (ek, client_ecdh) = if layout.kem_first {
            client_share.split_at(ek_len)
        } else {
            let (e, k) = client_share.split_at(client_share.len() - ek_len);
            (k, e)
        };
        let (ct, kem_secret) = mlkem::encapsulate(layout.level, ek, [3; 32]);
        let server_ecdh = key_pair(ecdh_group, &mut counter(9)).unwrap();
        let ecdh_secret = shared_secret(&server_ecdh, client_ecdh).unwrap();
        if layout.kem_first {
            (
                [&ct[..], &server_ecdh.public].concat(),
                [kem_secret, ecdh_secret].concat(),
            )
        } else {
            (
                [&server_ecdh.public[..], &ct].concat(),
                [ecdh_secret, kem_secret].concat(),
            )
        }
    }

    #[test]
    fn pq_shares_have_the_rfc_10024_layout_and_both_sides_agree() {
        // (group, client share, server share, secret, ECDH public key length, ECDH first)
        for (group, client_len, server_len, secret_len, ecdh_len, ecdh_first) in [
            (0x11ec, 1184 + 32, 1088 + 32, 64, 32, false),
            (0x11eb, 65 + 1184, 65 + 1088, 64, 65, true),
            (0x11ed, 97 + 1568, 97 + 1568, 48 + 32, 97, true),
            (0x0201, 1184, 1088, 32, 0, false),
            (0x0202, 1568, 1568, 32, 0, false),
        ] {
            let ours = key_pair(group, &mut counter(1)).unwrap();
            assert_eq!(ours.public.len(), client_len, "{group:#06x}");
            assert_eq!(
                group_registry_len(group),
                Some(client_len),
                "registry agrees, {group:#06x}"
            );
            if ecdh_len > 0 {
                // The ECDH public key is where the RFC puts it: a NIST point starts with 4.
                let ecdh_public = if ecdh_first {
                    &ours.public[..ecdh_len]
                } else {
                    &ours.public[client_len - ecdh_len..]
                };
                let ecdh_group = mlkem::layout(group).unwrap().ecdh_group.unwrap();
                let again = key_pair(ecdh_group, &mut |b: &mut [u8]| {
                    let mut c = counter(1);
                    let mut seed = [0u8; mlkem::SEED_LEN];
                    c(&mut seed);
                    c(b);
                })
                .unwrap();
                assert_eq!(ecdh_public, &again.public[..], "{group:#06x}");
            }
            let (answer, expected) = server_answer(group, &ours.public);
            assert_eq!(answer.len(), server_len, "{group:#06x}");
            assert_eq!(expected.len(), secret_len, "{group:#06x}");
            assert_eq!(
                shared_secret(&ours, &answer),
                Some(expected),
                "{group:#06x}"
            );
            assert_eq!(shared_secret(&ours, &answer[1..]), None, "{group:#06x}");
            assert_eq!(shared_secret(&ours, &[]), None, "{group:#06x}");
        }
    }

    fn group_registry_len(group: u16) -> Option<usize> {
        crate::core::wire::registry::group(group).and_then(|g| g.key_share_len)
    }

    /// The NIST curves' keys and secrets against an independent implementation
    /// (RustCrypto's p256 and p384 arithmetic).
    #[test]
    fn nist_curves_match_an_independent_implementation() {
        use p256::elliptic_curve::point::AffineCoordinates;
        use p256::elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
        use p256::elliptic_curve::{
            AffinePoint, CurveArithmetic, FieldBytesSize, PublicKey, SecretKey,
        };
        fn check<C>(group: u16)
        where
            C: CurveArithmetic,
            FieldBytesSize<C>: ModulusSize,
            AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
        {
            for seed in 1..6 {
                let ours = key_pair(group, &mut counter(seed)).unwrap();
                let peer = key_pair(group, &mut counter(seed + 50)).unwrap();
                let secret = SecretKey::<C>::from_slice(&ours.private).unwrap();
                let public = secret.public_key().to_sec1_point(false);
                assert_eq!(public.as_bytes(), &ours.public[..], "{group:#06x}");
                let point = PublicKey::<C>::from_sec1_bytes(&peer.public).unwrap();
                let shared: AffinePoint<C> =
                    (point.to_projective() * *secret.to_nonzero_scalar()).into();
                assert_eq!(
                    shared_secret(&ours, &peer.public).unwrap(),
                    shared.x().to_vec(),
                    "{group:#06x}"
                );
            }
        }
        check::<p256::NistP256>(GROUP_SECP256R1);
        check::<p384::NistP384>(GROUP_SECP384R1);
    }

    #[test]
    fn broken_entropy_still_gives_valid_keys() {
        for group in [GROUP_SECP256R1, GROUP_SECP384R1, GROUP_SECP521R1] {
            for fill in [0x00, 0xff] {
                let k = key_pair(group, &mut |buf: &mut [u8]| buf.fill(fill)).unwrap();
                let other = key_pair(group, &mut counter(3)).unwrap();
                assert!(shared_secret(&k, &other.public).is_some(), "{group:#06x}");
            }
        }
    }

    /// RFC 7748 section 6.1's Alice and Bob, and keys from our entropy against an
    /// independent X25519 (curve25519-dalek).
    #[test]
    fn x25519_matches_rfc_7748_and_an_independent_implementation() {
        let hex32 = |s: &str| -> [u8; 32] { hex::decode(s).unwrap().try_into().unwrap() };
        let alice = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        // The pairs as a scan makes them (the key kept parsed), from the RFC's private keys.
        let pair = |private: [u8; 32]| {
            key_pair(GROUP_X25519, &mut |buf: &mut [u8]| {
                buf.copy_from_slice(&private)
            })
            .unwrap()
        };
        let (alice_pair, bob_pair) = (pair(alice), pair(bob));
        let (alice_public, bob_public) = (&alice_pair.public[..], &bob_pair.public[..]);
        assert_eq!(
            hex::encode(alice_public),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        assert_eq!(
            hex::encode(bob_public),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
        );
        let k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        assert_eq!(
            hex::encode(shared_secret(&alice_pair, bob_public).unwrap()),
            k
        );
        assert_eq!(
            hex::encode(shared_secret(&bob_pair, alice_public).unwrap()),
            k
        );
        // The same from the bytes alone (an ML-KEM hybrid's X25519 part).
        let unparsed = |pair: &KeyShareSecret| KeyShareSecret {
            parsed: None,
            ..pair.clone()
        };
        let alice_bytes = unparsed(&alice_pair);
        assert_eq!(
            hex::encode(shared_secret(&alice_bytes, bob_public).unwrap()),
            k
        );
        assert_eq!(
            hex::encode(shared_secret(&unparsed(&bob_pair), alice_public).unwrap()),
            k
        );
        for seed in 1..20 {
            let ours = key_pair(GROUP_X25519, &mut counter(seed)).unwrap();
            let private: [u8; 32] = ours.private[..].try_into().unwrap();
            let peer = x25519_dalek::x25519([seed; 32], x25519_dalek::X25519_BASEPOINT_BYTES);
            assert_eq!(
                *ours.public,
                x25519_dalek::x25519(private, x25519_dalek::X25519_BASEPOINT_BYTES)
            );
            assert_eq!(
                shared_secret(&ours, &peer).unwrap(),
                x25519_dalek::x25519(private, peer)
            );
        }
    }

    #[test]
    fn bad_peer_keys_give_no_secret() {
        // X25519: small-order points (0 and 1) give an all-zero secret; wrong lengths.
        let x = key_pair(GROUP_X25519, &mut counter(4)).unwrap();
        let mut one = [0u8; 32];
        one[0] = 1;
        for peer in [&[0u8; 32][..], &one, &[9; 31], &[9; 33]] {
            assert!(shared_secret(&x, peer).is_none(), "{peer:?}");
        }
        let ours = key_pair(GROUP_SECP384R1, &mut counter(4)).unwrap();
        assert!(shared_secret(&ours, &[4; 97]).is_none());
        assert!(shared_secret(&ours, &[]).is_none());
        let x = key_pair(GROUP_X25519, &mut counter(5)).unwrap();
        assert!(shared_secret(&x, &[0; 32]).is_none());
        assert!(shared_secret(&x, &[1; 31]).is_none());
    }
}
