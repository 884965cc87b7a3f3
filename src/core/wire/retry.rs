//! The second ClientHello after a HelloRetryRequest (RFC 8446 §4.1.2): the first hello with
//! its key shares replaced by one fresh real share for the group the server asks for, the
//! server's cookie echoed and early_data dropped; every other byte stays as it was (same
//! random, session id, suites and extension order), as the RFC requires.
//!
//! Pure: the new key share comes in as a value (`crypto::hello::retry_hello` makes it).

use super::build::KeyShare;
use super::hello::{ClientHello, Extension};
use super::registry::{group_name, suite_name};
use super::server::ServerHello;
use crate::core::wire::registry::extensions::types as ext;

/// Checks `hrr` against the hello `first`: the group it asks for a new key share for
/// (`None` when it asks only for a cookie), or why no second hello can be sent: a request
/// RFC 8446 §4.1.4 tells the client to abort on (a group not offered or already shared, a
/// suite not offered, nothing to change).
pub fn check(first: &ClientHello, hrr: &ServerHello) -> Result<Option<u16>, String> {
    if !first.cipher_suites.contains(&hrr.cipher_suite) {
        return Err(format!(
            "the HelloRetryRequest selects {}, which we did not offer",
            suite_name(hrr.cipher_suite)
        ));
    }
    let group = hrr.key_share_group();
    if group.is_none() && hrr.ext(ext::COOKIE).is_none() {
        return Err("the HelloRetryRequest asks for no change (no key_share, no cookie)".into());
    }
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
    }
    Ok(group)
}

/// Builds the answer to `hrr` (checked with [`check`]) for the hello `first`, with `share`
/// as the new key share for the group [`check`] named.
pub fn retry_hello(
    first: &ClientHello,
    hrr: &ServerHello,
    share: Option<&KeyShare>,
) -> Result<ClientHello, String> {
    let mut hello = first.clone();
    let mut extensions: Vec<Extension> = hello
        .extensions()
        .iter()
        .filter(|e| !matches!(e.typ, ext::EARLY_DATA | ext::COOKIE))
        .cloned()
        .collect();
    if let Some(group) = hrr.key_share_group() {
        let name = group_name(group);
        let Some(share) = share.filter(|s| s.group == group) else {
            return Err(format!(
                "the HelloRetryRequest asks for group {name}, and no key share was made for it"
            ));
        };
        let data = super::build::key_share_data(&[(group, &share.public[..])])
            .map_err(|e| e.to_string())?;
        match extensions.iter_mut().find(|e| e.typ == ext::KEY_SHARE) {
            Some(e) => e.data = data,
            None => {
                return Err(format!(
                    "the HelloRetryRequest asks for group {name}, but we sent no key_share"
                ));
            }
        }
    }
    if let Some(cookie) = hrr.ext(ext::COOKIE) {
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
    Ok(hello)
}
