//! ClientHellos with their key pairs: the hello encoder (`wire::build`) writes the public
//! key shares it is given; this module makes them. A real key pair for each group
//! [`ecdh::key_pair`] knows (ECDHE and the ML-KEM groups), kept as a [`KeyShareSecret`] to
//! finish the handshake; for any other group, random bytes of the length the groups registry gives (such a share is NOT a
//! valid key: a server that picks it fails later, but it still shows whether the server
//! accepts the group).
//!
//! Pure: randomness comes from the caller's `entropy`, drawn in the order random, session
//! id, GREASE, key shares, so fixed entropy gives fixed bytes.

use super::ecdh::{self, KeyShareSecret};
use crate::core::wire::build::{self, HelloRandoms, HelloSpec, KeyShare};
use crate::core::wire::codec::LengthOverflow;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::{group, group_name};
use crate::core::wire::retry;
use crate::core::wire::server::ServerHello;
use crate::core::wire::sslv2::Sslv2ClientHello;

/// Public key share length for a group the registry gives none for.
const UNKNOWN_SHARE_LEN: usize = 32;

/// A built hello: the bytes to send, the model they encode, and the key pairs behind its
/// real key shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltHello {
    pub wire: Vec<u8>,
    /// `None` for an SSLv2-format hello.
    pub hello: Option<ClientHello>,
    pub sslv2: Option<Sslv2ClientHello>,
    /// One per real key share. Shares for other groups are random bytes of the right length
    /// and have no secret.
    pub secrets: Vec<KeyShareSecret>,
}

/// Builds the hello `spec` describes for `host` (the target's host name or IP literal).
/// Fails when a list or extension is too long for its length field.
pub fn build(
    spec: &HelloSpec,
    host: Option<&str>,
    entropy: &mut dyn FnMut(&mut [u8]),
) -> Result<BuiltHello, LengthOverflow> {
    build_with_keys(spec, host, entropy, &[])
}

/// [`build`], with the key pairs of `known` used for their groups instead of new ones (a
/// scanner makes one key pair per group for a whole run: making them is most of a hello's
/// cost, and a known key still decrypts the answer). Groups `known` lacks get new pairs.
pub fn build_with_keys(
    spec: &HelloSpec,
    host: Option<&str>,
    entropy: &mut dyn FnMut(&mut [u8]),
    known: &[KeyShareSecret],
) -> Result<BuiltHello, LengthOverflow> {
    build_with_keys_padded(spec, host, entropy, known, None)
}

/// [`build_with_keys`], padded as [`build::encode_padded`] pads for `window`.
pub fn build_with_keys_padded(
    spec: &HelloSpec,
    host: Option<&str>,
    entropy: &mut dyn FnMut(&mut [u8]),
    known: &[KeyShareSecret],
    window: Option<std::ops::Range<usize>>,
) -> Result<BuiltHello, LengthOverflow> {
    let randoms = HelloRandoms::draw(spec, entropy);
    let mut secrets = Vec::new();
    let shares: Vec<KeyShare> = build::key_share_groups(spec)
        .into_iter()
        .map(|g| match known.iter().find(|k| k.group == g) {
            Some(k) => {
                secrets.push(k.clone());
                k.share()
            }
            None => {
                let (share, secret) = key_share(g, entropy);
                secrets.extend(secret);
                share
            }
        })
        .collect();
    let encoded = build::encode_padded(spec, host, randoms, &shares, window)?;
    Ok(BuiltHello {
        wire: encoded.wire,
        hello: encoded.hello,
        sslv2: encoded.sslv2,
        secrets,
    })
}

/// A key share for `group`: a real key pair where [`ecdh::key_pair`] makes one; for any
/// other group, entropy bytes of the length its public key has.
pub fn key_share(
    group_id: u16,
    entropy: &mut dyn FnMut(&mut [u8]),
) -> (KeyShare, Option<KeyShareSecret>) {
    match ecdh::key_pair(group_id, entropy) {
        Some(secret) => (secret.share(), Some(secret)),
        None => {
            let len = group(group_id)
                .and_then(|g| g.key_share_len)
                .unwrap_or(UNKNOWN_SHARE_LEN);
            let mut public = vec![0u8; len];
            entropy(&mut public);
            (
                KeyShare {
                    group: group_id,
                    public: public.into(),
                },
                None,
            )
        }
    }
}

/// A second ClientHello and the key pair of its new key share (`None` when the
/// HelloRetryRequest named no group and the first shares were kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryHello {
    pub hello: ClientHello,
    pub secret: Option<KeyShareSecret>,
}

/// The answer to `hrr` for the hello `first` (see `wire::retry`), with a fresh real key
/// pair for the group the server asks for. The error says why no second hello can be sent.
pub fn retry_hello(
    first: &ClientHello,
    hrr: &ServerHello,
    entropy: &mut dyn FnMut(&mut [u8]),
) -> Result<RetryHello, String> {
    let secret = match retry::check(first, hrr)? {
        None => None,
        Some(g) => match ecdh::key_pair(g, entropy) {
            Some(s) => Some(s),
            None => {
                return Err(format!(
                    "the HelloRetryRequest asks for group {}; we make real key shares only \
                     for {}",
                    group_name(g),
                    ecdh::real_key_group_names()
                ));
            }
        },
    };
    let share = secret.as_ref().map(KeyShareSecret::share);
    let hello = retry::retry_hello(first, hrr, share.as_ref())?;
    Ok(RetryHello { hello, secret })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::Extension;
    use crate::core::wire::build::HelloSpec;
    use crate::core::wire::server::HELLO_RETRY_REQUEST_RANDOM;

    fn first() -> ClientHello {
        let mut n = 0u8;
        let mut entropy = |b: &mut [u8]| {
            for x in b {
                n = n.wrapping_add(7);
                *x = n;
            }
        };
        build(&HelloSpec::default(), Some("example.com"), &mut entropy)
            .unwrap()
            .hello
            .unwrap()
    }

    fn hrr(extensions: Vec<Extension>) -> ServerHello {
        ServerHello {
            legacy_version: 0x0303,
            random: HELLO_RETRY_REQUEST_RANDOM,
            session_id: Vec::new(),
            cipher_suite: 0x1301,
            compression: 0,
            extensions,
        }
    }

    fn ext(typ: u16, data: &[u8]) -> Extension {
        Extension {
            typ,
            data: data.to_vec(),
        }
    }

    #[test]
    fn new_share_for_the_asked_group_and_cookie_echoed() {
        let ch = first();
        let cookie = [0, 3, 1, 2, 3];
        let r = retry_hello(
            &ch,
            &hrr(vec![
                ext(43, &[3, 4]),
                ext(51, &[0, 0x17]),
                ext(44, &cookie),
            ]),
            &mut |b: &mut [u8]| b.fill(9),
        )
        .unwrap();
        let h = &r.hello;
        let shares = h.key_shares();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0].0, 0x0017);
        let secret = r.secret.unwrap();
        assert_eq!(
            (secret.group, &secret.public[..]),
            (0x0017, &shares[0].1[..])
        );
        assert_eq!(h.ext(44), Some(&cookie[..]));
        // Everything else is the first hello's.
        assert_eq!((h.random, &h.session_id), (ch.random, &ch.session_id));
        assert_eq!(h.cipher_suites, ch.cipher_suites);
        let mut types = ch.extension_types();
        let ks = types.iter().position(|t| *t == 51).unwrap();
        types.insert(ks + 1, 44);
        assert_eq!(h.extension_types(), types);
        for e in ch.extensions().iter().filter(|e| e.typ != 51) {
            assert_eq!(h.ext(e.typ), Some(&e.data[..]));
        }
    }

    #[test]
    fn cookie_only_keeps_the_shares() {
        let ch = first();
        let r = retry_hello(&ch, &hrr(vec![ext(44, &[0, 1, 7])]), &mut |_: &mut [u8]| {}).unwrap();
        assert_eq!(r.secret, None);
        assert_eq!(r.hello.key_shares(), ch.key_shares());
    }

    #[test]
    fn requests_to_abort_on_are_refused() {
        let ch = first();
        let mut none = |_: &mut [u8]| {};
        // Already shared (x25519), not offered, no real key (x448), nothing asked.
        for (exts, says) in [
            (vec![ext(51, &[0, 0x1d])], "already had a key share"),
            (vec![ext(51, &[0x11, 0x11])], "did not offer"),
            (vec![ext(51, &[0, 0x1e])], "real key shares only"),
            (vec![], "asks for no change"),
        ] {
            let e = retry_hello(&ch, &hrr(exts), &mut none).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        let mut other_suite = hrr(vec![ext(51, &[0, 0x17])]);
        other_suite.cipher_suite = 0x1304; // AES-128-CCM, not in the default hello
        let e = retry_hello(&ch, &other_suite, &mut none).unwrap_err();
        assert!(e.contains("did not offer"), "{e}");
    }

    #[test]
    fn real_key_shares_carry_their_secrets() {
        let spec = HelloSpec {
            key_shares: Some(
                vec![ecdh::GROUP_X25519, ecdh::GROUP_SECP256R1, 0x11ec, 0x0100].into(),
            ),
            ..HelloSpec::default()
        };
        let b = build(&spec, None, &mut |b: &mut [u8]| b.fill(5)).unwrap();
        let shares = b.hello.unwrap().key_shares();
        let lens: Vec<_> = shares.iter().map(|(g, k)| (*g, k.len())).collect();
        assert_eq!(
            lens,
            [(0x001d, 32), (0x0017, 65), (0x11ec, 1216), (0x0100, 256)]
        );
        // 0x11ec (X25519MLKEM768) is real since issue 20; 0x0100 (ffdhe2048) is not.
        assert_eq!(b.secrets.len(), 3);
        assert_eq!(*b.secrets[2].public, *shares[2].1);
        let x = &b.secrets[0];
        let private: [u8; 32] = x.private[..].try_into().unwrap();
        assert_eq!(
            *x.public,
            x25519_dalek::x25519(private, x25519_dalek::X25519_BASEPOINT_BYTES)
        );
        assert_eq!(*x.public, *shares[0].1);
        let p = &b.secrets[1];
        assert_eq!(*p.public, *shares[1].1);
        assert_eq!(p.public[0], 0x04);
        let key = p256::SecretKey::from_slice(&p.private).unwrap();
        let point = p256::PublicKey::from_sec1_bytes(&p.public).unwrap();
        assert_eq!(key.public_key(), point);
    }
}
