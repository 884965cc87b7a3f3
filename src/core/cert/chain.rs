//! The checks of a chain as a server sent it: [`check_chain`], [`check_chain_with`] and
//! [`ChainChecker`] (which parses each distinct chain once), turning validity against the
//! given time, the host name, the order of the chain, a self-signed leaf, weak keys and
//! signatures, and the trust path's verdict into [`Finding`]s.

use super::info::issued_by;
use super::key::{WEAK_SIGNATURE_OIDS, weak_key};
use super::path::{self, PathVerdict};
use super::{
    CertInfo, DAY, EXPIRES_SOON_DAYS, Finding, TrustStore, matches_host, parse_certificate,
};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// Checks a chain as sent by a server, leaf first, as of `now_unix`. Returns the parsed
/// certificates (unparseable ones left out; finding indexes always refer to positions in
/// `chain_der`) and the findings. Without a trust store nothing can be said about roots.
pub fn check_chain(
    chain_der: &[Vec<u8>],
    host: Option<&str>,
    now_unix: i64,
) -> (Vec<CertInfo>, Vec<Finding>) {
    check_chain_with(chain_der, host, now_unix, None)
}

/// [`check_chain`] plus trust: the path from the leaf to an anchor of `trust`, by issuer
/// name and verified signatures. An issuer that is an anchor is not missing; a chain
/// ending in a root the store does not hold is [`Finding::UntrustedRoot`].
pub fn check_chain_with(
    chain_der: &[Vec<u8>],
    host: Option<&str>,
    now_unix: i64,
    trust: Option<&TrustStore>,
) -> (Vec<CertInfo>, Vec<Finding>) {
    let (certs, findings) = ChainFacts::of(chain_der, trust).check(host, now_unix);
    (certs.to_vec(), findings)
}

/// Checks many chains against one trust store, parsing each distinct chain once: a capture
/// repeats the same few chains thousands of times, and parsing (plus the signature checks
/// of the trust path) costs far more than the checks that depend on the host and the time.
/// The results are those of [`check_chain_with`]. Memory is bounded: past
/// [`MAX_MEMO_CHAINS`] chains or [`MAX_MEMO_BYTES`] bytes of chains the memo starts over.
pub struct ChainChecker {
    trust: Option<Arc<TrustStore>>,
    /// Behind a lock so that a shared checker can serve an assessment context (`&self`);
    /// uncontended in the single-threaded capture path.
    memo: std::sync::Mutex<ChainMemo>,
}

#[derive(Default)]
struct ChainMemo {
    chains: std::collections::HashMap<Vec<Vec<u8>>, ChainFacts, foldhash::fast::RandomState>,
    bytes: usize,
}

/// Distinct chains a [`ChainChecker`] remembers at most.
pub const MAX_MEMO_CHAINS: usize = 1024;
/// Bytes of certificates a [`ChainChecker`] remembers at most.
pub const MAX_MEMO_BYTES: usize = 32 << 20;

impl ChainChecker {
    pub fn new(trust: Option<Arc<TrustStore>>) -> Self {
        ChainChecker {
            trust,
            memo: Default::default(),
        }
    }

    /// [`check_chain_with`] against this checker's trust store.
    pub fn check(
        &self,
        chain_der: &[Vec<u8>],
        host: Option<&str>,
        now_unix: i64,
    ) -> (Arc<[CertInfo]>, Vec<Finding>) {
        // A poisoned lock only means another thread panicked mid-insert: the memo is a
        // cache, so start it over.
        let mut memo = self.memo.lock().unwrap_or_else(|p| {
            let mut m = p.into_inner();
            *m = ChainMemo::default();
            m
        });
        if let Some(facts) = memo.chains.get(chain_der) {
            return facts.check(host, now_unix);
        }
        let facts = ChainFacts::of(chain_der, self.trust.as_deref());
        let result = facts.check(host, now_unix);
        let bytes: usize = chain_der.iter().map(Vec::len).sum();
        if memo.chains.len() >= MAX_MEMO_CHAINS || memo.bytes + bytes > MAX_MEMO_BYTES {
            *memo = ChainMemo::default();
        }
        if bytes <= MAX_MEMO_BYTES {
            memo.bytes += bytes;
            memo.chains.insert(chain_der.to_vec(), facts);
        }
        result
    }
}

/// What a chain's bytes and the trust store say, before the host and the time come in.
struct ChainFacts {
    /// The parsed certificates, shared with every report of the chain (a capture repeats
    /// a chain thousands of times; copying them per connection was most of the check).
    certs: Arc<[CertInfo]>,
    /// Their positions in the chain.
    positions: Vec<usize>,
    /// [`Finding::Unparseable`] for the others, in chain order.
    unparseable: Vec<Finding>,
    /// The path verdict (`None`: no trust store).
    trust: Option<PathVerdict>,
}

impl ChainFacts {
    fn of(chain_der: &[Vec<u8>], trust: Option<&TrustStore>) -> ChainFacts {
        let mut unparseable = Vec::new();
        let mut certs = Vec::new();
        let mut positions = Vec::new();
        for (index, der) in chain_der.iter().enumerate() {
            match parse_certificate(der) {
                Ok(info) => {
                    certs.push(info);
                    positions.push(index);
                }
                Err(error) => unparseable.push(Finding::Unparseable { index, error }),
            }
        }
        let trust = trust.map(|store| {
            // Every certificate's fingerprint, each 64 hex digits: the parsed ones' own, the
            // others' computed here.
            let mut parsed = positions.iter().zip(&certs).peekable();
            let fingerprints: Vec<std::borrow::Cow<'_, str>> = (0..chain_der.len())
                .map(|index| match parsed.next_if(|(p, _)| **p == index) {
                    Some((_, c)) => c.sha256.as_str().into(),
                    None => hex::encode(Sha256::digest(&chain_der[index])).into(),
                })
                .collect();
            store.path(fingerprints.iter().map(|f| f.as_ref()), || {
                let mut by_position: Vec<Option<&CertInfo>> = vec![None; chain_der.len()];
                for (&p, c) in positions.iter().zip(&certs) {
                    by_position[p] = Some(c);
                }
                path::validate(chain_der, &by_position, store)
            })
        });
        ChainFacts {
            certs: certs.into(),
            positions,
            unparseable,
            trust,
        }
    }

    /// The certificates and findings for a connection to `host` at `now_unix`.
    fn check(&self, host: Option<&str>, now_unix: i64) -> (Arc<[CertInfo]>, Vec<Finding>) {
        let mut findings = self.untrusted_findings(host, now_unix);
        let certs = self.certs.clone();
        let Some(verdict) = &self.trust else {
            return (certs, findings);
        };
        // The path decides what is missing: drop the name-only guesses.
        findings.retain(|f| {
            !matches!(
                f,
                Finding::IssuerMissing { .. } | Finding::UnknownIssuer { .. }
            )
        });
        // A self-signed leaf the user trusts (`--ca`) is pinned, not a problem.
        if verdict.anchored {
            findings.retain(|f| !matches!(f, Finding::SelfSigned { .. }));
        }
        findings.extend(verdict.findings.iter().cloned());
        (certs, findings)
    }

    /// The findings without a trust store.
    fn untrusted_findings(&self, host: Option<&str>, now_unix: i64) -> Vec<Finding> {
        let parsed: Vec<(usize, &CertInfo)> = self
            .positions
            .iter()
            .copied()
            .zip(self.certs.iter())
            .collect();
        let mut findings = self.unparseable.clone();
        for &(index, c) in &parsed {
            if now_unix > c.not_after {
                findings.push(Finding::Expired {
                    index,
                    not_after: c.not_after,
                });
            } else if now_unix < c.not_before {
                findings.push(Finding::NotYetValid {
                    index,
                    not_before: c.not_before,
                });
            } else if c.not_after - now_unix < EXPIRES_SOON_DAYS * DAY {
                findings.push(Finding::ExpiresSoon {
                    index,
                    days_left: (c.not_after - now_unix) / DAY,
                });
            }
        }

        let leaf = parsed.first().filter(|(i, _)| *i == 0).map(|(_, c)| c);
        if let (Some(leaf), Some(host)) = (leaf, host)
            && !matches_host(leaf, host)
        {
            let mut names = leaf.san.clone();
            if leaf.dns_names.is_empty()
                && let Some(cn) = &leaf.common_name
            {
                names.push(cn.clone());
            }
            findings.push(Finding::HostnameMismatch {
                host: host.to_owned(),
                names,
            });
        }
        if let Some(leaf) = leaf
            && !leaf.allows_server_auth()
        {
            findings.push(Finding::WrongKeyUsage {
                index: 0,
                purposes: leaf.extended_key_usage.clone().unwrap_or_default(),
            });
        }
        if let Some(leaf) = leaf
            && leaf.self_signed
        {
            findings.push(Finding::SelfSigned {
                subject: leaf.subject.clone(),
            });
        }

        let mut misordered = Vec::new();
        if let Some((0, first)) = parsed.first()
            && first.is_ca
            && let Some((j, issued)) = parsed
                .iter()
                .skip(1)
                .find(|(_, c)| !c.self_signed && issued_by(c, first))
        {
            misordered.push(format!(
            "certificate 0 ({}) is the issuer of certificate {j} ({}); the server's own certificate must come first",
            first.subject, issued.subject
        ));
        }
        for (p, (index, c)) in parsed.iter().enumerate() {
            if c.self_signed {
                continue;
            }
            if parsed
                .get(p + 1)
                .is_some_and(|(_, next)| issued_by(c, next))
            {
                continue;
            }
            match parsed
            .iter()
            .enumerate()
            .find(|&(q, (_, other))| q != p && issued_by(c, other))
        {
            Some((_, (j, issuer))) => misordered.push(format!(
                "certificate {index} ({}) is issued by certificate {j} ({}), which should come right after it",
                c.subject, issuer.subject
            )),
            // A CA certificate whose issuer is absent is usually an intermediate under a
            // root the client holds; without a trust store that is all that can be said.
            None if !c.is_ca => findings.push(path::missing_issuer(*index, Some(c))),
            None => {}
        }
        }
        if !misordered.is_empty() {
            findings.push(Finding::ChainMisordered {
                detail: misordered.join("; "),
            });
        }

        let last = parsed.len().saturating_sub(1);
        for (p, (index, c)) in parsed.iter().enumerate() {
            if weak_key(c) {
                findings.push(Finding::WeakKey {
                    index: *index,
                    key: c.key.clone(),
                });
            }
            // Clients never check a root's own signature: skip a self-signed last certificate
            // unless it is the leaf itself.
            let trust_anchor = c.self_signed && p == last && p != 0;
            if !trust_anchor && WEAK_SIGNATURE_OIDS.contains(&c.signature_oid.as_str()) {
                findings.push(Finding::WeakSignature {
                    index: *index,
                    algorithm: c.signature_algorithm.clone(),
                });
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cert::tests::{NOW, Pki, causes};

    #[test]
    fn chain_checker_gives_the_results_of_check_chain_with() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, root) = pki.three_level();
        let mut trust = TrustStore::default();
        trust.add_der(&root).unwrap();
        let chains: Vec<Vec<Vec<u8>>> = vec![
            vec![leaf.clone(), inter.clone()],
            vec![leaf.clone()],
            vec![leaf.clone(), root.clone(), inter.clone()],
            vec![inter.clone(), leaf.clone()],
            vec![leaf.clone(), b"garbage".to_vec(), inter.clone()],
            vec![root.clone()],
        ];
        // A hierarchy the store does not hold: an untrusted root, then a missing one.
        let other = Pki::new().unwrap();
        let (o_leaf, o_inter, o_root) = other.three_level();
        let mut chains = chains;
        chains.push(vec![o_leaf.clone(), o_inter.clone(), o_root]);
        chains.push(vec![o_leaf, o_inter]);
        let hosts = [Some("www.example.com"), Some("other.test"), None];
        // Before validity, valid, expiring soon, expired.
        let times = [0, NOW, NOW + 3600 * 24 * 360, NOW + 3600 * 24 * 5000];
        for store in [Some(Arc::new(trust)), None] {
            let checker = ChainChecker::new(store.clone());
            // Twice: the first round fills the memo, the second reads from it.
            for _ in 0..2 {
                for chain in &chains {
                    for host in hosts {
                        for now in times {
                            let (certs, findings) = checker.check(chain, host, now);
                            assert_eq!(
                                (certs.to_vec(), findings),
                                check_chain_with(chain, host, now, store.as_deref()),
                                "{host:?} {now}"
                            );
                        }
                    }
                }
            }
            assert_eq!(checker.memo.lock().unwrap().chains.len(), chains.len());
        }
    }

    #[test]
    fn chain_checker_memory_is_bounded() {
        let checker = ChainChecker::new(None);
        for i in 0..MAX_MEMO_CHAINS + 10 {
            let chain = vec![i.to_be_bytes().to_vec()];
            let (_, findings) = checker.check(&chain, None, NOW);
            assert_eq!(causes(&findings), ["certificate_unparseable"]);
            assert!(checker.memo.lock().unwrap().chains.len() <= MAX_MEMO_CHAINS);
        }
        assert_eq!(checker.memo.lock().unwrap().chains.len(), 10);
        // A chain larger than the byte bound is checked but not remembered.
        let huge = vec![vec![0u8; MAX_MEMO_BYTES + 1]];
        checker.check(&huge, None, NOW);
        assert!(checker.memo.lock().unwrap().bytes <= MAX_MEMO_BYTES);
        assert!(
            !checker
                .memo
                .lock()
                .unwrap()
                .chains
                .contains_key(huge.as_slice())
        );
    }
}
