//! TLS 1.2 groups and signature schemes: in the same hellos while an accepted signed ECDHE
//! suite lets one ServerKeyExchange show one of each, each on its own otherwise, starting
//! from what the suite hellos showed ([`Learned`]); and TLS 1.3's schemes, from decrypted
//! CertificateVerify messages, for a server without signed TLS 1.2 suites.

use super::eliminate::BothPicks;
use super::hellos::{accepted_where, ecdhe_groups, needs_certificate, scheme_ids};
use super::order::{order_of, reversed};
use super::send::{Link, Reply};
use super::suites::unseen;
use super::{GroupScan, Learned, ProbeItem, Scanner, SigalgScan, VersionScan, lock};
use crate::commands::scan::behaviour;
use crate::core::crypto::ecdh;
use crate::core::session::Verdict;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::KeyExchange;
use crate::core::wire::server::ServerKeyExchange;
use std::borrow::Cow;

impl<'a> Scanner<'a> {
    /// TLS 1.2 groups and signature schemes. When an accepted suite is ECDHE with a
    /// certificate, one ServerKeyExchange shows a group and a scheme, so both lists are
    /// enumerated in the same hellos until one runs out; see [`Scanner::remove_both`].
    /// Otherwise each on its own (groups at the best version up to 1.2 with ECDHE,
    /// schemes from DHE suites).
    ///
    /// Both start from what the TLS 1.2 suite hellos showed ([`Learned`]); when those
    /// found every scheme, the groups go on alone.
    ///
    /// `fragment`: this thread runs the fragmentation probe: the order hello is sent across
    /// two records (its pick serves when the server went on; else it is sent again whole),
    /// or, without an order hello, the probe is a hello of its own.
    pub(super) fn groups_and_sigalgs_tls12(
        &self,
        versions: &[VersionScan],
        fragment: bool,
    ) -> (Option<GroupScan>, Option<SigalgScan>) {
        let (groups, sigalgs, item) = self.groups_and_sigalgs_tls12_with(versions, fragment);
        let item = item.or_else(|| fragment.then(|| self.fragment_probe(versions)).flatten());
        *lock(&self.fragment_item) = item;
        (groups, sigalgs)
    }

    fn groups_and_sigalgs_tls12_with(
        &self,
        versions: &[VersionScan],
        fragment: bool,
    ) -> (Option<GroupScan>, Option<SigalgScan>, Option<ProbeItem>) {
        let v12 = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS12);
        let signed_ecdhe = v12.map_or_else(Vec::new, |v| {
            accepted_where(v, |s| s.kx == KeyExchange::Ecdhe && needs_certificate(s))
        });
        if signed_ecdhe.is_empty() {
            return (
                self.groups_tls12(versions),
                self.sigalgs_tls12(versions),
                None,
            );
        }
        let schemes = scheme_ids();
        let spec_of = |groups: &[u16], schemes: &[u16]| HelloSpec {
            cipher_suites: Some(signed_ecdhe.clone()),
            groups: Some(groups.to_vec().into()),
            sigalgs: Some(schemes.to_vec().into()),
            ..self.version_spec(ProtocolVersion::TLS12)
        };
        let pair = |reply: &Reply| {
            if reply.version() != Some(ProtocolVersion::TLS12.0) {
                return None;
            }
            signed_ecdhe_pick(reply.verdict.as_ref()?)
        };
        let ske = |groups: &[u16], schemes: &[u16], cost: &mut usize, chain: Link<'_, 'a>| {
            pair(&self.handshake_in(&mut self.encode(&spec_of(groups, schemes)), cost, chain))
        };
        // The version's first hello offered every group and scheme too: when the server
        // picked a signed ECDHE suite there, its pair is the first pick of both lists.
        // What the TLS 1.2 suite hellos showed (a client-order server shows a new group and
        // scheme in each), else the version hello's pair.
        let seed = v12.and_then(|v| signed_ecdhe_pick(v.first.as_ref()?));
        let learned = |list: fn(&Learned) -> &Vec<u16>, seed: Option<u16>| {
            v12.map(|v| list(&v.learned))
                .filter(|l| !l.is_empty())
                .cloned()
                .unwrap_or_else(|| seed.into_iter().collect())
        };
        let known_groups = learned(|l| &l.groups, seed.map(|(g, _)| g));
        let known_schemes = learned(|l| &l.schemes, seed.map(|(_, s)| s));
        let complete = v12.is_some_and(|v| v.learned.schemes_complete);
        let both = if complete {
            // The suite hellos found every scheme: the groups go on alone, with them.
            let rest: Vec<u16> = unseen(ecdhe_groups(), &known_groups);
            let mut both = BothPicks {
                first: known_schemes.clone(),
                second: known_groups.clone(),
                ..BothPicks::default()
            };
            let more =
                self.remove_chosen(&rest, 0, &mut both.second_alone, |offer, cost, chain| {
                    ske(offer, &known_schemes, cost, chain).map(|(group, _)| group)
                });
            both.second.extend(more);
            both
        } else {
            self.remove_both(
                schemes,
                ecdhe_groups(),
                (&known_schemes, &known_groups),
                &ske,
                &|_, _| false,
            )
        };
        // Both accepted lists reversed in one hello: whose order does the server follow?
        let mut order_cost = 0;
        let mut item = None;
        let (group_order, scheme_order) = if both.first.len() >= 2 || both.second.len() >= 2 {
            let (groups, schemes) = (reversed(&both.second), reversed(&both.first));
            let mut answer = None;
            if fragment {
                let mut cost = 0;
                let spec = self.fragmented(&spec_of(&groups, &schemes));
                let reply = self.handshake_provoking(&mut self.encode(&spec), &mut cost);
                let note = " (in the TLS 1.2 group and scheme order hello)";
                if reply.went_on() {
                    order_cost += cost;
                    answer = Some(pair(&reply));
                    item = Some(behaviour::fragment_item(&reply, note, 0));
                } else {
                    item = Some(behaviour::fragment_item(&reply, note, cost));
                }
            }
            let (group, scheme) = answer
                .unwrap_or_else(|| ske(&groups, &schemes, &mut order_cost, None))
                .unzip();
            (order_of(&both.second, group), order_of(&both.first, scheme))
        } else {
            (None, None)
        };
        let groups = GroupScan {
            version: ProtocolVersion::TLS12,
            groups: both.second,
            handshakes: both.second_alone,
            shared: both.together + order_cost,
            server_order: group_order,
            known: known_groups.len(),
        };
        let resent = v12.map_or(0, |v| v.learned.resent);
        let sigalgs = SigalgScan {
            version: ProtocolVersion::TLS12,
            schemes: both.first,
            handshakes: both.together + both.first_alone + order_cost + resent,
            server_order: scheme_order,
            known: known_schemes.len(),
            complete,
            resent,
        };
        (Some(groups), Some(sigalgs), item)
    }

    fn groups_tls12(&self, versions: &[VersionScan]) -> Option<GroupScan> {
        let (v, suites) = versions.iter().rev().find_map(|v| {
            let ecdhe = accepted_where(v, |s| s.kx == KeyExchange::Ecdhe);
            (v.version.0 <= ProtocolVersion::TLS12.0 && !ecdhe.is_empty()).then_some((v, ecdhe))
        })?;
        let mut cost = 0;
        let groups = self.remove_chosen(ecdhe_groups(), 0, &mut cost, |offer, cost, chain| {
            let spec = HelloSpec {
                cipher_suites: Some(suites.clone()),
                groups: Some(offer.to_vec().into()),
                ..self.version_spec(v.version)
            };
            let reply = self.handshake_in(&mut self.encode(&spec), cost, chain);
            if reply.version() != Some(v.version.0) {
                return None;
            }
            reply.verdict.as_ref()?.group
        });
        Some(GroupScan::alone(v.version, groups, cost, None))
    }

    fn sigalgs_tls12(&self, versions: &[VersionScan]) -> Option<SigalgScan> {
        let v12 = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS12)?;
        let signed = accepted_where(v12, |s| {
            matches!(s.kx, KeyExchange::Ecdhe | KeyExchange::Dhe) && !s.anonymous()
        });
        if signed.is_empty() {
            return None;
        }
        // From what the suite hellos showed (`Learned`); nothing to ask when that is all.
        let known = &v12.learned;
        let candidates = if known.schemes_complete {
            Vec::new()
        } else {
            unseen(scheme_ids(), &known.schemes)
        };
        let mut cost = known.resent;
        let mut schemes = known.schemes.clone();
        let more = self.remove_chosen(&candidates, 0, &mut cost, |offer, cost, chain| {
            let spec = HelloSpec {
                cipher_suites: Some(signed.clone()),
                sigalgs: Some(offer.to_vec().into()),
                ..self.version_spec(ProtocolVersion::TLS12)
            };
            let reply = self.handshake_in(&mut self.encode(&spec), cost, chain);
            if reply.version() != Some(ProtocolVersion::TLS12.0) {
                return None;
            }
            match reply.verdict.as_ref()?.server_key_exchange {
                Some(ServerKeyExchange::Ecdhe {
                    signature_scheme, ..
                })
                | Some(ServerKeyExchange::Dhe {
                    signature_scheme, ..
                }) => signature_scheme,
                _ => None,
            }
        });
        schemes.extend(more);
        Some(SigalgScan {
            version: ProtocolVersion::TLS12,
            schemes,
            handshakes: cost,
            server_order: None,
            known: known.schemes.len(),
            complete: known.schemes_complete,
            resent: known.resent,
        })
    }

    /// TLS 1.3 signature schemes, from the decrypted CertificateVerify of full handshakes,
    /// for servers with no signed TLS 1.2 suite (the schemes a server has for its key are
    /// the same in both versions, less those TLS 1.3 forbids, so TLS 1.2 shows them more
    /// cheaply when it can). Needs a server that takes one of the real key shares of
    /// [`Scanner::version_spec`] (x25519, secp256r1, secp384r1), or asks with a
    /// HelloRetryRequest for one we can make a real share for (a PQ hybrid first in its
    /// order, secp521r1): then that hello is sent again with that share, and every later
    /// one too (one more hello). Also returns the first decrypted verdict with a
    /// certificate, for a server whose version test got a HelloRetryRequest.
    pub(super) fn sigalgs_tls13(
        &self,
        versions: &[VersionScan],
    ) -> Option<(SigalgScan, Option<Box<Verdict>>)> {
        let v13 = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS13 && v.supported)?;
        let mut cost = 0;
        let mut shares: Option<Vec<u16>> = None;
        let mut full = None;
        let schemes = self.remove_chosen(scheme_ids(), 0, &mut cost, |offer, cost, mut chain| {
            // Both hellos of one offer (the second with the share a HelloRetryRequest
            // asked for) go on the chain.
            let mut send = |shares: &Option<Vec<u16>>, cost: &mut usize| {
                let mut spec = HelloSpec {
                    cipher_suites: Some(v13.ciphers.clone()),
                    sigalgs: Some(offer.to_vec().into()),
                    ..self.version_spec(ProtocolVersion::TLS13)
                };
                if shares.is_some() {
                    spec.key_shares = shares.clone().map(Cow::from);
                }
                self.handshake_in(&mut self.encode(&spec), cost, chain.as_deref_mut())
            };
            let mut reply = send(&shares, cost);
            let asked = reply
                .verdict
                .as_ref()
                .and_then(|v| v.hello_retry_request.as_ref())
                .and_then(|h| h.key_share_group())
                .filter(|g| ecdh::REAL_KEY_GROUPS.contains(g));
            if let (None, Some(g)) = (&shares, asked) {
                shares = Some(vec![g]);
                reply = send(&shares, cost);
            }
            let v = reply.verdict?;
            if full.is_none() && !v.certificates.is_empty() {
                full = Some(v.clone());
            }
            v.server_signature_scheme
        });
        let scan = SigalgScan {
            version: ProtocolVersion::TLS13,
            schemes,
            handshakes: cost,
            server_order: None,
            known: 0,
            complete: false,
            resent: 0,
        };
        Some((scan, full))
    }
}

/// The (group, signature scheme) of a signed ECDHE ServerKeyExchange.
fn signed_ecdhe_pick(v: &Verdict) -> Option<(u16, u16)> {
    match v.server_key_exchange {
        Some(ServerKeyExchange::Ecdhe {
            group,
            signature_scheme: Some(scheme),
            ..
        }) => Some((group, scheme)),
        _ => None,
    }
}
