//! What the scan's hellos offer: every candidate suite of a version, the TLS 1.2 groups and
//! the signature schemes from the registry, the hello every enumeration starts from
//! ([`Scanner::version_spec`]) and its bytes (padded past the sizes F5 load balancers hang
//! on). Apart: every strategy builds its offers on these, and nothing here is sent.

use super::{Scanner, VersionScan};
use crate::commands::scan::keys::EntropyPool;
use crate::core::crypto::ecdh;
use crate::core::crypto::hello::{self as build, BuiltHello};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::{
    CIPHER_SUITES, CipherSuite, GROUPS, GroupKind, KeyExchange, SIGNATURE_SCHEMES, suite,
};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Hellos of 256–511 bytes hang some F5 load balancers; padding takes them to this size.
const F5_PAD_TO: usize = 512;

impl<'a> Scanner<'a> {
    /// The hello's bytes and key share secrets; a TLS hello of 256–511 bytes is padded to
    /// 512.
    pub(in crate::commands::scan) fn encode(&self, spec: &HelloSpec) -> BuiltHello {
        // Specs come validated from the CLI (it builds the hello once): one that still does
        // not fit its length fields is sent as nothing, and reads as no answer.
        let known = self
            .keys
            .map(|k| k.for_groups(&crate::core::wire::build::key_share_groups(spec)))
            .unwrap_or_default();
        let host = Some(self.target.host.as_str());
        let mut pool = EntropyPool::new();
        let mut entropy = |b: &mut [u8]| pool.fill(b);
        // Padded before its bytes are written (a scan pads about half its hellos; they
        // were written twice).
        build::build_with_keys_padded(spec, host, &mut entropy, &known, Some(256..F5_PAD_TO))
            .unwrap_or_default()
    }

    /// The hello every enumeration of `version` starts from: the builder's defaults for the
    /// version, every ECDHE group (up to 1.2) and signature scheme (1.2) in the registry,
    /// ALPN and status_request as browsers send them, and only 1.3 in supported_versions.
    pub(in crate::commands::scan) fn version_spec(&self, version: ProtocolVersion) -> HelloSpec {
        let mut spec = HelloSpec {
            version,
            sni: self.opts.sni.clone(),
            ..HelloSpec::default()
        };
        if version.0 >= ProtocolVersion::TLS10.0 {
            spec.alpn = Some(Cow::Borrowed(&[
                Cow::Borrowed("h2"),
                Cow::Borrowed("http/1.1"),
            ]));
            // First of the extensions after the defaults (the extras the probes add come
            // after it), as it was when it was an extra.
            spec.status_request = true;
        }
        if version.0 <= ProtocolVersion::TLS12.0 && version.0 >= ProtocolVersion::TLS10.0 {
            spec.groups = Some(Cow::Borrowed(ecdhe_groups()));
        }
        if version.0 >= ProtocolVersion::TLS12.0 {
            spec.sigalgs = Some(Cow::Borrowed(scheme_ids()));
        }
        if version == ProtocolVersion::TLS13 {
            spec.supported_versions = Some(Cow::Borrowed(&[ProtocolVersion::TLS13.0]));
            // Real shares for the usual server groups: a server that takes one answers
            // with a ServerHello, so its certificate and CertificateVerify are decrypted
            // (a HelloRetryRequest would hide them; the scan does not answer one).
            spec.key_shares = Some(Cow::Borrowed(&[
                ecdh::GROUP_X25519,
                ecdh::GROUP_SECP256R1,
                ecdh::GROUP_SECP384R1,
            ]));
            // The post-quantum groups offered too (without shares, to keep the hello
            // small): a server that accepts only those answers with a HelloRetryRequest,
            // which still shows TLS 1.3 and the suite it picks (issue 20).
            // The classical list is the default TLS 1.3 hello's; the PQ groups come last
            // so a server that takes one of our classical shares still does.
            static GROUPS13: OnceLock<Vec<u16>> = OnceLock::new();
            let groups = GROUPS13.get_or_init(|| {
                let classical = [
                    0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
                ];
                [&classical[..], &crate::core::crypto::mlkem::PQ_GROUPS[..]].concat()
            });
            spec.groups = Some(Cow::Borrowed(groups));
        }
        spec
    }
}

/// Every registry suite a hello of `version` may offer: TLS 1.3 suites for 1.3, the
/// others (that exist at `version`) below; never an SCSV. Suites without a certificate
/// (anonymous, PSK, SRP) come last, so that a server that follows our order shows its
/// certificate in the first handshake.
pub fn suite_candidates(version: ProtocolVersion) -> Vec<u16> {
    // Asked a dozen times per target: sorted once per version (SSL 3.0 to TLS 1.3) for
    // the run.
    static SORTED: [OnceLock<Vec<u16>>; 5] = [const { OnceLock::new() }; 5];
    match SORTED.get(usize::from(
        version.0.wrapping_sub(ProtocolVersion::SSLV3.0),
    )) {
        Some(once) => once.get_or_init(|| sorted_candidates(version)).clone(),
        None => sorted_candidates(version),
    }
}

fn sorted_candidates(version: ProtocolVersion) -> Vec<u16> {
    let mut suites: Vec<&CipherSuite> = CIPHER_SUITES
        .iter()
        .filter(|s| !s.is_scsv())
        .filter(|s| {
            if version == ProtocolVersion::TLS13 {
                s.is_tls13()
            } else {
                !s.is_tls13() && s.min_version <= version.0
            }
        })
        .collect();
    // Signed ECDHE first: a client-order server then shows a group and a signature scheme
    // in the first hello, which the TLS 1.2 group and scheme enumeration reuses.
    suites.sort_by_key(|s| (!needs_certificate(s), s.kx != KeyExchange::Ecdhe));
    suites.iter().map(|s| s.id).collect()
}

/// The server proves itself with a certificate (RSA, DSS, ECDSA, GOST or TLS 1.3).
pub(in crate::commands::scan) fn needs_certificate(s: &CipherSuite) -> bool {
    use crate::core::wire::registry::Authentication as A;
    matches!(s.auth, A::Rsa | A::Dss | A::Ecdsa | A::Gost | A::Any)
}

/// The TLS 1.2 group candidates, for the scripted tests.
#[cfg(test)]
pub(in crate::commands::scan) fn tests_ecdhe_groups() -> Vec<u16> {
    ecdhe_groups().to_vec()
}

pub(super) fn ecdhe_groups() -> &'static [u16] {
    // In every TLS 1.0–1.2 hello: filtered once for the run.
    static ECDHE: OnceLock<Vec<u16>> = OnceLock::new();
    ECDHE.get_or_init(|| {
        GROUPS
            .iter()
            .filter(|g| g.kind == GroupKind::Ecdhe)
            .map(|g| g.id)
            .collect()
    })
}

/// Every signature scheme's id, in the registry's order: the list of every TLS 1.2 and
/// 1.3 hello, made once for the run.
pub(super) fn scheme_ids() -> &'static [u16] {
    static IDS: OnceLock<Vec<u16>> = OnceLock::new();
    IDS.get_or_init(|| SIGNATURE_SCHEMES.iter().map(|s| s.id).collect())
}

pub(in crate::commands::scan) fn accepted_where(
    v: &VersionScan,
    keep: impl Fn(&CipherSuite) -> bool,
) -> Vec<u16> {
    v.ciphers
        .iter()
        .copied()
        .filter(|id| suite(*id).is_some_and(&keep))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::BUNDLE;
    use super::super::tests::with_scanner;
    use super::*;

    #[test]
    fn candidates_cover_the_registry_without_scsvs() {
        let t13 = suite_candidates(ProtocolVersion::TLS13);
        let t12 = suite_candidates(ProtocolVersion::TLS12);
        let t10 = suite_candidates(ProtocolVersion::TLS10);
        assert!(t13.contains(&0x1301) && !t13.contains(&0xc02f));
        assert!(t12.contains(&0xc02f) && !t12.contains(&0x1301));
        assert!(
            t10.contains(&0xc014) && !t10.contains(&0xc02f),
            "GCM is TLS 1.2"
        );
        for list in [&t13, &t12, &t10] {
            assert!(!list.contains(&0x00ff) && !list.contains(&0x5600));
        }
        let expected = CIPHER_SUITES
            .iter()
            .filter(|s| !s.is_scsv() && !s.is_tls13())
            .count();
        assert_eq!(t12.len(), expected);
        assert!(t12.len() > BUNDLE, "the whole registry is a long offer");
    }

    #[test]
    fn hellos_of_f5_sizes_are_padded() {
        with_scanner(|s| {
            for n in [1, 20, 60, 100, 128, 200, 400] {
                let suites: Vec<u16> = suite_candidates(ProtocolVersion::TLS12)
                    .into_iter()
                    .take(n)
                    .collect();
                let spec = HelloSpec {
                    cipher_suites: Some(suites),
                    ..s.version_spec(ProtocolVersion::TLS12)
                };
                let wire = s.encode(&spec).wire;
                let hs_len = wire.len() - 5;
                assert!(
                    !(256..512).contains(&hs_len),
                    "{n} suites: a hello of {hs_len} bytes"
                );
            }
        });
    }
}
