//! Certificate path validation by rustls-webpki, with the clock left out.
//!
//! webpki runs at a moment inside the validity of the chain's certificates, so what it
//! finds is structural (CA flags, path length, name constraints, signatures, algorithms, an
//! issuer nobody holds) and depends only on the chain and the trust store: the verdict is
//! remembered per (chain, store), and expiry is checked per connection by the caller.
//!
//! webpki stops at its first error and does not say which certificate it concerns, so the
//! certificate to blame is looked up on the chain's name path (leaf, its issuer by name, …).
//! Two rules are checked here on the path instead of by webpki: keyUsage of a CA must
//! allow keyCertSign (OpenSSL enforces it, webpki does not), and extendedKeyUsage must
//! allow serverAuth, checked per certificate so that a leaf's wrong purpose (which webpki
//! reports before anything else) does not hide the rest of the path.

use super::info::issued_by;
use super::key::oid_name;
use super::{CertInfo, Finding, TrustStore};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::time::Duration;
use webpki::{EndEntityCert, Error, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_parser::der_parser::oid::Oid;

/// What path validation says about a chain, independent of the clock and the host name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PathVerdict {
    /// The chain leads to a trust anchor (or is a leaf the store holds itself).
    pub anchored: bool,
    pub findings: Vec<Finding>,
}

/// Accepts every extendedKeyUsage: purposes are checked per certificate on the path.
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), Error> {
        Ok(())
    }
}

/// How the chain's certificates link up by issuer name, from the leaf.
struct NamePath {
    /// Chain positions, leaf first, each issued (by name) by the next.
    positions: Vec<usize>,
    end: NameEnd,
}

/// Where the name path stops (at its last position).
#[derive(PartialEq, Eq)]
enum NameEnd {
    /// The issuer's name (and key identifier, when known) is that of a trust anchor.
    Anchor,
    SelfSigned,
    /// The issuer is neither sent nor an anchor.
    IssuerMissing,
}

impl NamePath {
    fn of(certs: &[Option<&CertInfo>], store: &TrustStore) -> NamePath {
        let mut positions = vec![0];
        // Each step takes a position not taken yet: the walk ends within the chain's length.
        loop {
            let p = positions[positions.len() - 1];
            let Some(c) = certs.get(p).copied().flatten() else {
                return NamePath {
                    positions,
                    end: NameEnd::IssuerMissing,
                };
            };
            let end = if store.holds_issuer_of(c) {
                NameEnd::Anchor
            } else if c.self_signed {
                NameEnd::SelfSigned
            } else {
                let next = certs.iter().enumerate().find(|(q, other)| {
                    !positions.contains(q) && other.is_some_and(|o| issued_by(c, o))
                });
                match next {
                    Some((q, _)) => {
                        positions.push(q);
                        continue;
                    }
                    None => NameEnd::IssuerMissing,
                }
            };
            return NamePath { positions, end };
        }
    }

    fn top(&self) -> usize {
        self.positions[self.positions.len() - 1]
    }

    /// The first CA certificate on the path (leaf left out) that `bad` says is to blame,
    /// as (position, subject); else the anchor above the path, by name.
    fn blame(
        &self,
        certs: &[Option<&CertInfo>],
        bad: impl Fn(usize, &CertInfo) -> bool,
    ) -> (Option<usize>, String) {
        for (k, &p) in self.positions.iter().enumerate().skip(1) {
            if let Some(c) = certs[p]
                && bad(k, c)
            {
                return (Some(p), c.subject.clone());
            }
        }
        let top = certs[self.top()].map(|c| c.issuer.clone());
        (None, top.unwrap_or_default())
    }
}

/// Validates the chain as sent (leaf first) against `store`. `certs` holds the parsed
/// certificate of each position (`None`: unparseable, already a finding).
pub(super) fn validate(
    chain_der: &[Vec<u8>],
    certs: &[Option<&CertInfo>],
    store: &TrustStore,
) -> PathVerdict {
    let mut verdict = PathVerdict::default();
    if certs.first().copied().flatten().is_none() {
        return verdict;
    }
    // webpki parses more strictly than x509-parser (versions, critical extensions).
    let mut intermediates = Vec::new();
    let mut intermediate_positions = Vec::new();
    for (index, der) in chain_der.iter().enumerate() {
        if certs[index].is_none() {
            continue;
        }
        let der = CertificateDer::from(der.as_slice());
        match EndEntityCert::try_from(&der) {
            Ok(_) if index > 0 => {
                intermediates.push(der);
                intermediate_positions.push(index);
            }
            Ok(_) => {}
            Err(e) => verdict.findings.push(Finding::Unparseable {
                index,
                error: super::wording::webpki_certificate(&e),
            }),
        }
    }
    let leaf_der = CertificateDer::from(chain_der[0].as_slice());
    let Ok(leaf) = EndEntityCert::try_from(&leaf_der) else {
        return verdict;
    };

    let mut result = Err(Error::UnknownIssuer);
    for at in moments_inside_validity(certs) {
        let time = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
        result = leaf
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &store.anchors,
                &intermediates,
                time,
                AnyPurpose,
                None,
                None,
            )
            .map(|path| {
                path.intermediate_certificates()
                    .filter_map(|c| {
                        let der = c.der();
                        intermediates
                            .iter()
                            .position(|d| d.as_ref() == der.as_ref())
                            .map(|k| intermediate_positions[k])
                    })
                    .collect::<Vec<usize>>()
            });
        // A time error at every moment tried: validity is the caller's per-connection check.
        if !matches!(
            result,
            Err(Error::CertExpired { .. }
                | Error::CertNotValidYet { .. }
                | Error::InvalidCertValidity)
        ) {
            break;
        }
    }

    let names = NamePath::of(certs, store);
    let path = match result {
        Ok(intermediates) => {
            verdict.anchored = true;
            std::iter::once(0).chain(intermediates).collect()
        }
        Err(e) => {
            let (anchored, finding) = finding_of(&e, certs, &names);
            verdict.anchored = anchored;
            let unresolved_too = finding.as_ref().is_some_and(|f| {
                !matches!(
                    f,
                    Finding::UnknownIssuer { .. }
                        | Finding::IssuerMissing { .. }
                        | Finding::UntrustedRoot { .. }
                )
            });
            verdict.findings.extend(finding);
            // webpki reports one error: a structural one hides that the path reaches no
            // anchor either, which the name path still shows.
            if unresolved_too && names.end != NameEnd::Anchor {
                verdict.findings.extend(unresolved(&names, certs));
            }
            names.positions.clone()
        }
    };
    for &p in path.iter().skip(1) {
        let Some(c) = certs[p] else { continue };
        if c.is_ca && !c.key_usage.is_empty() && !c.key_usage.contains(&"keyCertSign") {
            verdict.findings.push(Finding::InvalidCa {
                index: Some(p),
                subject: c.subject.clone(),
                reason: "its keyUsage does not allow keyCertSign",
            });
        }
        if !c.allows_server_auth() {
            verdict.findings.push(Finding::WrongKeyUsage {
                index: p,
                purposes: c.extended_key_usage.clone().unwrap_or_default(),
            });
        }
    }
    verdict
}

/// Moments to validate at, best first: one inside every certificate's validity when there
/// is one, then each certificate's bounds (an expired intermediate that the path does not
/// need must not hide the path's structure).
fn moments_inside_validity(certs: &[Option<&CertInfo>]) -> Vec<i64> {
    let parsed: Vec<&CertInfo> = certs.iter().flatten().copied().collect();
    let latest_start = parsed.iter().map(|c| c.not_before).max().unwrap_or(0);
    let earliest_end = parsed.iter().map(|c| c.not_after).min().unwrap_or(0);
    let mut moments = Vec::new();
    if latest_start <= earliest_end {
        moments.push(latest_start);
    }
    for c in parsed {
        for t in [c.not_before, c.not_after] {
            if !moments.contains(&t) {
                moments.push(t);
            }
        }
    }
    moments.truncate(8);
    moments
}

/// The finding for webpki's error, and whether the chain counts as anchored after all.
fn finding_of(
    error: &Error,
    certs: &[Option<&CertInfo>],
    names: &NamePath,
) -> (bool, Option<Finding>) {
    let top = names.top();
    let top_cert = certs[top];
    let issuer = top_cert.map(|c| c.issuer.clone()).unwrap_or_default();
    let finding = match error {
        // OpenSSL takes a CA certificate as a server's own; webpki refuses it before looking
        // for an issuer, so the name path says where the chain leads.
        Error::CaUsedAsEndEntity if names.end == NameEnd::Anchor => return (true, None),
        Error::CaUsedAsEndEntity | Error::UnknownIssuer => unresolved(names, certs),
        // An anchor of the issuer's name but another key identifier failed the signature:
        // another CA of the same name, which is no issuer (OpenSSL: unable to get local
        // issuer certificate).
        Error::InvalidSignatureForPublicKey if names.end != NameEnd::Anchor => {
            unresolved(names, certs)
        }
        Error::CertDistrusted => Some(Finding::UntrustedRoot {
            index: top,
            subject: issuer,
        }),
        Error::EndEntityUsedAsCa => {
            let (index, subject) = names.blame(certs, |_, c| !c.is_ca);
            Some(Finding::InvalidCa {
                index,
                subject,
                reason: "it is not a CA (basicConstraints CA:FALSE or none)",
            })
        }
        Error::PathLenConstraintViolated => {
            // The k-th certificate of the path has k - 1 CA certificates below it.
            let (index, subject) = names.blame(certs, |k, c| {
                c.path_len_constraint
                    .is_some_and(|len| k.saturating_sub(1) > len as usize)
            });
            Some(Finding::PathLengthExceeded { index, subject })
        }
        Error::NameConstraintViolation => {
            let (index, subject) = names.blame(certs, |_, c| c.name_constraints);
            Some(Finding::NameConstraintViolated { index, subject })
        }
        Error::InvalidSignatureForPublicKey | Error::SignatureAlgorithmMismatch => {
            Some(Finding::BadSignature)
        }
        Error::UnsupportedSignatureAlgorithmContext(ctx) => Some(Finding::UnsupportedAlgorithm {
            algorithm: algorithm_name(&ctx.signature_algorithm_id),
        }),
        Error::UnsupportedSignatureAlgorithmForPublicKeyContext(ctx) => {
            Some(Finding::UnsupportedAlgorithm {
                algorithm: format!(
                    "{} with a {} key",
                    algorithm_name(&ctx.signature_algorithm_id),
                    algorithm_name(&ctx.public_key_algorithm_id)
                ),
            })
        }
        Error::CertExpired { .. } | Error::CertNotValidYet { .. } | Error::InvalidCertValidity => {
            None
        }
        other => Some(Finding::Unparseable {
            index: top,
            error: super::wording::webpki_path(other),
        }),
    };
    (false, finding)
}

/// The finding for a path that reaches no anchor, by where the name path ends.
fn unresolved(names: &NamePath, certs: &[Option<&CertInfo>]) -> Option<Finding> {
    let top = names.top();
    let top_cert = certs[top];
    match names.end {
        // A self-signed leaf has its own finding.
        NameEnd::SelfSigned if top == 0 => None,
        NameEnd::SelfSigned => Some(Finding::UntrustedRoot {
            index: top,
            subject: top_cert.map(|c| c.subject.clone()).unwrap_or_default(),
        }),
        // webpki matches DER names exactly: x509 names that differ only in their encoding
        // are no issuer to it either.
        NameEnd::IssuerMissing | NameEnd::Anchor => Some(missing_issuer(top, top_cert)),
    }
}

/// A certificate whose issuer is neither sent nor trusted: a missing intermediate only
/// with evidence (the certificate names where its issuer is published).
pub(super) fn missing_issuer(index: usize, cert: Option<&CertInfo>) -> Finding {
    let issuer = cert.map(|c| c.issuer.clone()).unwrap_or_default();
    match cert.and_then(|c| c.aia_ca_issuers.first()) {
        Some(url) => Finding::IssuerMissing {
            index,
            issuer,
            aia: Some(url.clone()),
        },
        None => Finding::UnknownIssuer { index, issuer },
    }
}

/// The name of an AlgorithmIdentifier's contents (its OID first), as webpki reports them.
fn algorithm_name(id: &[u8]) -> String {
    match id {
        [0x06, len, rest @ ..] if rest.len() >= *len as usize => oid_name(&Oid::new(
            std::borrow::Cow::Borrowed(&rest[..*len as usize]),
        )),
        _ => format!("algorithm {}", hex::encode(id)),
    }
}
