//! Versions and suites: the version test (the first hello of every version), each
//! version's suite enumeration (in bundles for a server that chokes on long offers), and
//! what those hellos show besides their picks: the smallest DH prime and, on TLS 1.2, the
//! groups and signature schemes of their key exchanges ([`Learned`], with the offers that
//! drain the schemes).

use super::hellos::{ecdhe_groups, needs_certificate, scheme_ids};
use super::send::{Link, Reply};
use super::{BUNDLE, Scanner, VersionScan, suite_candidates};
use crate::commands::scan::health::AnswerKind;
use crate::commands::scan::tasks;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::DhPrime;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::suite;
use crate::core::wire::server::ServerKeyExchange;
use std::sync::atomic::Ordering;

/// Groups and signature schemes a version's suite hellos showed in their key exchanges, in
/// the order seen. Each suite hello of a full TLS 1.2 scan offers the groups and schemes
/// not seen yet first, then those seen (so the server can always go on with the suite it
/// picks): a server that takes the client's first group and scheme shows a new one of
/// each in every signed ECDHE pick (a new scheme in every DHE pick), for nothing.
///
/// A server with its own scheme order picks one it showed before, which says nothing
/// new; once one has (and the chain has made [`DRAIN_AFTER_PICKS`] picks, so that it is
/// likely to outlast the schemes), the suite hellos offer only the schemes not seen with
/// its certificate: each signed pick then shows a new one (PostgreSQL's 28 signed suites
/// show its 7 schemes this way, where a chain of 9 hellos of their own found them). A
/// pick that shows a new scheme with the same certificate is the pick the full list
/// would have got (a scheme for its key was left). Any other answer (a refusal, an
/// unsigned pick, another certificate) is ambiguous: that hello goes again with every
/// scheme, which settles the suite, and the offer goes back to the rotation. When the
/// two answers differ, the schemes of that key ran out (`exhausted`). The TLS 1.2 group
/// and scheme enumeration starts from what was seen.
#[derive(Debug, Clone, Default)]
pub struct Learned {
    pub groups: Vec<u16>,
    pub schemes: Vec<u16>,
    /// Every scheme the server signs with is in `schemes`: they ran out for its key, and
    /// every accepted suite with a certificate has that one kind of key.
    pub schemes_complete: bool,
    /// The suite hellos offer the lists rotated as above (a full TLS 1.2 scan).
    rotate: bool,
    /// Picks noted so far.
    picks: usize,
    /// The leaf certificate of the signed picks, while it is the same in all of them.
    leaf: Option<Option<Vec<u8>>>,
    /// Signed picks came with more than one leaf certificate: nothing is drained.
    mixed_leaves: bool,
    /// The server picked a scheme it had shown before although unseen ones came first.
    server_orders_schemes: bool,
    /// The offer was drained and then went back to the rotation (see above).
    drain_done: bool,
    exhausted: bool,
    /// Suite hellos sent again with every scheme (see above): counted with the schemes.
    pub resent: usize,
}

/// Picks before the suite hellos drain the schemes (see [`Learned`]): a shorter chain
/// is likely to end before the schemes do, and its last, refused offer would then be
/// ambiguous and cost a hello more.
const DRAIN_AFTER_PICKS: usize = 4;

impl Learned {
    /// Notes the group and scheme of a reply's ServerKeyExchange (a pick).
    fn note(&mut self, reply: &Reply) {
        self.picks += 1;
        let (group, scheme) = ske_group_and_scheme(reply);
        if let Some(g) = group.filter(|g| !self.groups.contains(g))
            && scheme.is_some()
        {
            self.groups.push(g);
        }
        let Some(s) = scheme else { return };
        let leaf = leaf_of(reply);
        match &self.leaf {
            None => self.leaf = Some(leaf.map(<[u8]>::to_vec)),
            Some(first) if first.as_deref() != leaf => self.mixed_leaves = true,
            Some(_) => {}
        }
        if self.schemes.contains(&s) {
            self.server_orders_schemes = true;
        } else {
            self.schemes.push(s);
        }
    }

    /// The suite hellos offer only the schemes not seen (see above).
    fn draining(&self) -> bool {
        self.rotate
            && self.server_orders_schemes
            && !self.mixed_leaves
            && !self.drain_done
            && self.picks >= DRAIN_AFTER_PICKS
    }

    /// A drained offer's answer shows a new scheme with the signed picks' certificate: the
    /// pick the full list would have got.
    fn drained_pick_holds(&self, reply: &Reply) -> bool {
        let (_, scheme) = ske_group_and_scheme(reply);
        scheme.is_some_and(|s| !self.schemes.contains(&s))
            && self.leaf.as_ref().map(Option::as_deref) == Some(leaf_of(reply))
    }
}

/// The group and signature scheme of a reply's ServerKeyExchange.
fn ske_group_and_scheme(reply: &Reply) -> (Option<u16>, Option<u16>) {
    match reply
        .verdict
        .as_ref()
        .and_then(|v| v.server_key_exchange.as_ref())
    {
        Some(ServerKeyExchange::Ecdhe {
            group,
            signature_scheme,
            ..
        }) => (Some(*group), *signature_scheme),
        Some(ServerKeyExchange::Dhe {
            signature_scheme, ..
        }) => (None, *signature_scheme),
        _ => (None, None),
    }
}

/// The leaf certificate of a reply (`None`: none was sent).
fn leaf_of(reply: &Reply) -> Option<&[u8]> {
    reply
        .verdict
        .as_ref()?
        .certificates
        .first()
        .map(Vec::as_slice)
}

/// `all` without the items of `seen`.
pub(super) fn unseen(all: &[u16], seen: &[u16]) -> Vec<u16> {
    all.iter().copied().filter(|i| !seen.contains(i)).collect()
}

/// `all` with the items of `seen` moved to the end (in the order seen).
fn unseen_first(all: &[u16], seen: &[u16]) -> Vec<u16> {
    let mut list = Vec::with_capacity(all.len());
    list.extend(all.iter().copied().filter(|i| !seen.contains(i)));
    list.extend(seen.iter().copied().filter(|i| all.contains(i)));
    list
}

/// The first hello of one version and what it got (`reply` is `None` for a version
/// settled by a protocol_version alert to a higher one: `refused_with`).
pub(super) struct First {
    pub(super) version: ProtocolVersion,
    pub(super) pick: Option<u16>,
    pub(super) reply: Option<Reply>,
    cost: usize,
    pub(super) refused_with: Option<ProtocolVersion>,
}

impl First {
    /// The server spoke TLS to this hello (accepting or refusing).
    pub(super) fn answered_tls(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| r.kind == AnswerKind::Tls)
    }

    /// This version, when its hello got a protocol_version alert (nothing at or below it).
    fn refused_version(&self) -> Option<ProtocolVersion> {
        let refused = self.pick.is_none()
            && self.reply.as_ref().and_then(Reply::alert) == Some(alert::PROTOCOL_VERSION);
        refused.then_some(self.version)
    }
}

impl<'a> Scanner<'a> {
    /// Offers `suites` at `version` (on `chain` when there is one); the suite picked if the
    /// server went on at that version.
    pub(super) fn offer_suites(
        &self,
        version: ProtocolVersion,
        suites: Option<&[u16]>,
        cost: &mut usize,
        chain: Link<'_, 'a>,
    ) -> (Option<u16>, Reply) {
        let spec = HelloSpec {
            cipher_suites: suites.map(<[u16]>::to_vec),
            ..self.version_spec(version)
        };
        let reply = self.handshake_in(&mut self.encode(&spec), cost, chain);
        let pick = if reply.version() == Some(version.0) {
            reply.verdict.as_ref().and_then(|v| v.cipher)
        } else {
            None
        };
        (pick.filter(|p| suites.is_none_or(|s| s.contains(p))), reply)
    }

    /// The version test: the first hello of every version. SSLv2, TLS 1.3 and TLS 1.2 go at
    /// once. TLS 1.1, 1.0 and SSLv3 then follow from the top down, each after the one
    /// above it: when a server answers a hello with a protocol_version alert it supports
    /// nothing at or below that version (RFC 5246 E.1: a server picks the highest version
    /// it has up to the client's), so the lower versions are not asked. When neither the
    /// TLS 1.2 nor the TLS 1.3 hello got a TLS answer, there is no alert to wait for: the
    /// three go at once, so a target that only times out costs two rounds of time-outs.
    pub(super) fn version_test(
        &self,
        early: &(dyn Fn(First) -> Option<First> + Sync),
    ) -> Vec<First> {
        let first = |version: ProtocolVersion| {
            move || {
                let mut cost = 0;
                let (pick, reply) = self.first_offer(version, &mut cost);
                First {
                    version,
                    pick,
                    reply: Some(reply),
                    cost,
                    refused_with: None,
                }
            }
        };
        let lower = [
            ProtocolVersion::TLS11,
            ProtocolVersion::TLS10,
            ProtocolVersion::SSLV3,
        ];
        tasks::scope(&self.pacer.crowded, |s| {
            let sslv2 = s.spawn(first(ProtocolVersion::SSLV2));
            let mut tls13 = Some(s.spawn(move || {
                let f = first(ProtocolVersion::TLS13)();
                (f.answered_tls(), early(f))
            }));
            let tls12 = first(ProtocolVersion::TLS12)();
            let (tls12_answered, tls12_refused) = (tls12.answered_tls(), tls12.refused_version());
            let tls12 = early(tls12);
            let mut firsts = Vec::new();
            let mut breaking = false;
            if !tls12_answered && let Some((answered, f)) = tls13.take().and_then(|h| h.join().ok())
            {
                breaking = !answered;
                firsts.extend(f);
            }
            if breaking {
                let handles: Vec<_> = lower
                    .map(|v| s.spawn(move || early(first(v)())))
                    .into_iter()
                    .collect();
                firsts.extend(handles.into_iter().filter_map(|h| h.join().ok()).flatten());
            } else {
                let mut refused_at = tls12_refused;
                for version in lower {
                    if let Some(by) = refused_at {
                        firsts.push(First {
                            version,
                            pick: None,
                            reply: None,
                            cost: 0,
                            refused_with: Some(by),
                        });
                        continue;
                    }
                    let f = first(version)();
                    refused_at = f.refused_version();
                    firsts.extend(early(f));
                }
            }
            firsts.extend(tls12);
            firsts.extend(tls13.and_then(|h| h.join().ok()).and_then(|(_, f)| f));
            firsts.extend(sslv2.join().ok());
            firsts
        })
    }

    /// The full offer that opens a version's enumeration and doubles as its version test:
    /// every candidate suite (TLS), or every cipher kind (SSLv2).
    fn first_offer(&self, version: ProtocolVersion, cost: &mut usize) -> (Option<u16>, Reply) {
        if version == ProtocolVersion::SSLV2 {
            let spec = HelloSpec {
                version,
                ..HelloSpec::default()
            };
            return (None, self.handshake(&mut self.encode(&spec), cost));
        }
        let candidates = suite_candidates(version);
        let (pick, reply) = self.offer_suites(version, Some(&candidates), cost, None);
        if candidates.len() > BUNDLE && reply.kind == AnswerKind::Tls {
            self.long_offer_answered.store(true, Ordering::Relaxed);
        }
        (pick, reply)
    }

    /// The rest of a version's enumeration after its first offer.
    pub(super) fn enumerate(&self, first: First) -> VersionScan {
        let First {
            version,
            pick: first_pick,
            reply,
            mut cost,
            refused_with,
        } = first;
        let Some(reply) = reply.filter(|_| refused_with.is_none()) else {
            return VersionScan {
                refused_with,
                ..VersionScan::new(version, suite_candidates(version).len())
            };
        };
        // What left the result unknown or partial: the first broken answer.
        let mut trouble = reply.trouble();
        if reply.kind == AnswerKind::Silent && self.never_answered_tls() {
            trouble = Some("the hello got a close before any answer, like every other".into());
        }
        if version == ProtocolVersion::SSLV2 {
            let mut result =
                VersionScan::new(version, crate::core::wire::sslv2::ALL_CIPHER_KINDS.len());
            result.sslv2_ciphers = reply
                .verdict
                .and_then(|v| v.sslv2_server_hello)
                .map(|h| h.cipher_specs)
                .unwrap_or_default();
            result.supported = !result.sslv2_ciphers.is_empty();
            result.handshakes = cost;
            result.incomplete = trouble;
            return result;
        }
        let candidates = suite_candidates(version);
        let mut result = VersionScan::new(version, candidates.len());
        let mut picks = Vec::new();
        let mut notes = SuiteNotes {
            dh: None,
            trouble,
            learned: Learned {
                rotate: version == ProtocolVersion::TLS12
                    && !self.opts.suites_only
                    && !self.opts.quic_groups,
                ..Learned::default()
            },
        };
        if let Some(p) = first_pick {
            note_dh_prime(&reply, &mut notes.dh);
            if notes.learned.rotate {
                notes.learned.note(&reply);
            }
            result.first = reply.verdict;
            picks.push(p);
            // A full TCP scan enumerates TLS 1.3's other suites with its groups.
            let with_groups = version == ProtocolVersion::TLS13
                && !self.opts.suites_only
                && !self.opts.quic_groups;
            let rest: Vec<u16> = candidates
                .iter()
                .copied()
                .filter(|c| *c != p && !with_groups)
                .collect();
            picks.extend(
                self.remove_chosen(&rest, 0, &mut cost, |offer, cost, chain| {
                    self.pick_suite(version, offer, cost, &mut notes, chain)
                }),
            );
        } else if !reply.answered
            && candidates.len() > BUNDLE
            && version.0 >= ProtocolVersion::TLS10.0
            // A server that answered another version's long offer does not choke on one:
            // its silent close refuses this version (dovecot closes so below its minimum).
            // A reset still gets the client-like hello (version intolerance).
            && !(reply.kind == AnswerKind::Silent
                && self.long_offer_answered.load(Ordering::Relaxed))
        {
            // Silent at the long offer: does a client-like hello get an answer?
            let (short_pick, reply) = self.offer_suites(version, None, &mut cost, None);
            match reply.trouble() {
                // A clean refusal of the short hello settles the version.
                None if reply.kind == AnswerKind::Tls => notes.trouble = None,
                None => {}
                Some(t) => notes.trouble = notes.trouble.or(Some(t)),
            }
            if short_pick.is_some() {
                result.bundled = true;
                result.first = reply.verdict;
                for bundle in candidates.chunks(BUNDLE) {
                    picks.extend(
                        self.remove_chosen(bundle, 0, &mut cost, |offer, cost, chain| {
                            self.pick_suite(version, offer, cost, &mut notes, chain)
                        }),
                    );
                }
                // Picks from separate bundles say nothing of the order across them: pick
                // again from the accepted ones alone (the last one left needs no hello).
                if picks.len() >= 2 && picks.len() <= BUNDLE {
                    let mut ordered =
                        self.remove_chosen(&picks, 1, &mut cost, |offer, cost, chain| {
                            self.pick_suite(version, offer, cost, &mut notes, chain)
                        });
                    let last: Vec<u16> = picks
                        .iter()
                        .copied()
                        .filter(|p| !ordered.contains(p))
                        .collect();
                    ordered.extend(last);
                    picks = ordered;
                }
            }
        }
        result.supported = !picks.is_empty();
        result.ciphers = picks;
        result.learned = notes.learned;
        // The schemes ran out for the signed picks' key, and no accepted suite needs
        // another kind of key: no other scheme can be picked.
        let mut auths = result
            .ciphers
            .iter()
            .filter_map(|id| suite(*id))
            .filter(|s| needs_certificate(s))
            .map(|s| s.auth);
        let first_auth = auths.next();
        result.learned.schemes_complete = result.learned.exhausted
            && first_auth.is_some()
            && auths.all(|a| Some(a) == first_auth);
        result.handshakes = cost;
        result.dh_prime_bits = notes.dh.map(|(bits, _)| bits);
        result.dh_prime = notes.dh.and_then(|(_, named)| named);
        result.incomplete = notes.trouble;
        result
    }

    /// One offer of `suites`: the pick, with what its answer shows kept in `notes`; a hello
    /// of `chain`.
    fn pick_suite(
        &self,
        version: ProtocolVersion,
        suites: &[u16],
        cost: &mut usize,
        notes: &mut SuiteNotes,
        mut chain: Link<'_, 'a>,
    ) -> Option<u16> {
        let draining = notes.learned.draining();
        let offer = |drain: bool| {
            let mut spec = HelloSpec {
                cipher_suites: Some(suites.to_vec()),
                ..self.version_spec(version)
            };
            if notes.learned.rotate {
                let schemes = scheme_ids();
                spec.groups = Some(unseen_first(ecdhe_groups(), &notes.learned.groups).into());
                spec.sigalgs = Some(
                    if drain {
                        unseen(schemes, &notes.learned.schemes)
                    } else {
                        unseen_first(schemes, &notes.learned.schemes)
                    }
                    .into(),
                );
            }
            self.encode(&spec)
        };
        let pick_of = |reply: &Reply| {
            if reply.version() == Some(version.0) {
                reply.verdict.as_ref().and_then(|v| v.cipher)
            } else {
                None
            }
            .filter(|p| suites.contains(p))
        };
        let mut reply = self.handshake_in(&mut offer(draining), cost, chain.as_deref_mut());
        let mut pick = pick_of(&reply);
        if draining && !(pick.is_some() && notes.learned.drained_pick_holds(&reply)) {
            // Ambiguous (see `Learned`): the suite is settled by the full offer.
            let drained = (pick, reply.kind == AnswerKind::Tls);
            reply = self.handshake_in(&mut offer(false), &mut notes.learned.resent, chain);
            pick = pick_of(&reply);
            notes.learned.drain_done = true;
            notes.learned.exhausted = drained.1 && pick.is_some() && pick != drained.0;
        }
        if pick.is_some() {
            note_dh_prime(&reply, &mut notes.dh);
            if notes.learned.rotate {
                notes.learned.note(&reply);
            }
        }
        if notes.trouble.is_none() {
            notes.trouble = reply.trouble();
        }
        pick
    }
}

/// What a version's suite offers show besides their picks, gathered offer by offer.
struct SuiteNotes {
    /// The smallest DH prime a key exchange used.
    dh: Option<DhSeen>,
    /// What left the result unknown or partial: the first broken answer.
    trouble: Option<String>,
    /// Groups and schemes the ServerKeyExchanges showed (a full TLS 1.2 scan).
    learned: Learned,
}

/// A DH prime seen: its bits, and its name when it is a well-known one.
type DhSeen = (usize, Option<&'static DhPrime>);

/// Keeps the smaller of `smallest` and the DH prime of the reply's ServerKeyExchange.
fn note_dh_prime(reply: &Reply, smallest: &mut Option<DhSeen>) {
    let Some(ske) = reply
        .verdict
        .as_ref()
        .and_then(|v| v.server_key_exchange.as_ref())
    else {
        return;
    };
    if let Some(bits) = ske.dh_prime_bits()
        && smallest.is_none_or(|(s, _)| bits < s)
    {
        *smallest = Some((bits, ske.dh_named_prime()));
    }
}
