//! The second ClientHello after a HelloRetryRequest (RFC 8446 §4.1.2): the first hello with
//! its key shares replaced by one fresh real share for the group the server asks for, the
//! server's cookie echoed and early_data dropped; every other byte stays as it was (same
//! random, session id, suites and extension order), as the RFC requires.
//!
//! Pure: randomness for the new key share comes from the caller's `entropy`.

use super::build::KeyShareSecret;
use super::hello::{ClientHello, Extension};
use super::registry::{group_name, suite_name};
use super::server::ServerHello;
use crate::core::crypto::ecdh;
use crate::core::wire::registry::extensions::types as ext;
use bytes::BufMut;

/// A second ClientHello and the secret of its new key share (`None` when the
/// HelloRetryRequest named no group and the first shares were kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryHello {
    pub hello: ClientHello,
    pub secret: Option<KeyShareSecret>,
}

/// Builds the answer to `hrr` for the hello `first`. The error says why no second hello
/// can be sent: a request RFC 8446 §4.1.4 tells the client to abort on (a group not offered
/// or already shared, a suite not offered, nothing to change), or a group we make no real
/// key for.
pub fn retry_hello(
    first: &ClientHello,
    hrr: &ServerHello,
    entropy: &mut dyn FnMut(&mut [u8]),
) -> Result<RetryHello, String> {
    if !first.cipher_suites.contains(&hrr.cipher_suite) {
        return Err(format!(
            "the HelloRetryRequest selects {}, which we did not offer",
            suite_name(hrr.cipher_suite)
        ));
    }
    let group = hrr.key_share_group();
    let cookie = hrr.ext(ext::COOKIE);
    if group.is_none() && cookie.is_none() {
        return Err("the HelloRetryRequest asks for no change (no key_share, no cookie)".into());
    }
    let mut secret = None;
    let mut hello = first.clone();
    let mut extensions: Vec<Extension> = hello
        .extensions()
        .iter()
        .filter(|e| !matches!(e.typ, ext::EARLY_DATA | ext::COOKIE))
        .cloned()
        .collect();
    if let Some(group) = group {
        let name = group_name(group);
        if !first.supported_groups().contains(&group) {
            return Err(format!(
                "the HelloRetryRequest asks for group {name}, which we did not offer"
            ));
        }
        if first.key_shares().iter().any(|(g, _)| *g == group) {
            return Err(format!(
                "the HelloRetryRequest asks for group {name}, which already had a key share"
            ));
        }
        let Some(share) = ecdh::key_pair(group, entropy) else {
            return Err(format!(
                "the HelloRetryRequest asks for group {name}; we make real key shares only \
                 for {}",
                ecdh::real_key_group_names()
            ));
        };
        let data = key_share_data(group, &share.public);
        match extensions.iter_mut().find(|e| e.typ == ext::KEY_SHARE) {
            Some(e) => e.data = data,
            None => {
                return Err(format!(
                    "the HelloRetryRequest asks for group {name}, but we sent no key_share"
                ));
            }
        }
        secret = Some(share);
    }
    if let Some(cookie) = cookie {
        let ext = Extension {
            typ: ext::COOKIE,
            data: cookie.to_vec(),
        };
        // pre_shared_key must stay last; elsewhere the cookie follows the key share.
        let at = extensions
            .iter()
            .position(|e| e.typ == ext::KEY_SHARE)
            .map(|i| i + 1)
            .or_else(|| extensions.iter().position(|e| e.typ == ext::PRE_SHARED_KEY))
            .unwrap_or(extensions.len());
        extensions.insert(at, ext);
    }
    hello.extensions = Some(extensions);
    Ok(RetryHello { hello, secret })
}

/// A key_share extension body with one entry.
fn key_share_data(group: u16, public: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(6 + public.len());
    d.put_u16((4 + public.len()) as u16);
    d.put_u16(group);
    d.put_u16(public.len() as u16);
    d.put_slice(public);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::build::{HelloSpec, build};
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
        assert_eq!((secret.group, &secret.public), (0x0017, &shares[0].1));
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
}
