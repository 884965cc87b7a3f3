//! The plan of one target's scan ([`Scanner::run`]): what waits for what. With
//! [`Prefer::FewerConnections`] each phase follows the last (the version test, every
//! version's suites, then groups, signature schemes, order checks and behaviour); with
//! [`Prefer::LowerLatency`] they overlap ([`Pipeline`]). Apart from the strategies: it
//! starts them and puts their results together in a [`ScanReport`].

use super::groups::Tls13Lists;
use super::hellos::{accepted_where, needs_certificate};
use super::order::combined_order_version;
use super::suites::First;
use super::{
    GroupScan, OrderCheck, Prefer, ProbeItem, ScanReport, Scanner, SigalgScan, VersionScan, lock,
};
use crate::commands::scan::behaviour::{self, derived_items};
use crate::commands::scan::post_quantum::PqScan;
use crate::commands::scan::tasks;
use crate::core::session::Verdict;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{KeyExchange, suite};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

impl<'a> Scanner<'a> {
    /// The version test (the first hello of each version), then, unless the target gave no
    /// TLS answer, each version's enumeration (in parallel), then groups, signature schemes
    /// and behaviour probes (in parallel), which all need the accepted suites. With
    /// [`Prefer::LowerLatency`] the phases overlap instead (see [`Pipeline`]).
    pub fn run(&self) -> ScanReport {
        let start = Instant::now();
        let lower_latency = self.opts.prefer == Prefer::LowerLatency;
        let more = !self.opts.suites_only;
        let pipe = Pipeline::default();
        // TLS 1.3's group part when started early (in the outer scope, so the versions'
        // scope does not wait for it); left here for the lists when the lower-latency
        // plan does not go on with them before the versions are done (they must not ask
        // twice).
        let groups13_task = Mutex::new(None);
        // Whether TLS 1.2's first hello got a TLS answer, and TLS 1.3's first pick: the
        // group part starts once both are in (see `early`).
        let groups13_gate = Mutex::new((None::<bool>, None::<VersionScan>));
        #[allow(clippy::type_complexity)]
        let (mut versions, lists, given_up) = tasks::scope(&self.pacer.crowded, |outer| {
            let mut early_lists = None;
            let versions: Vec<VersionScan> = tasks::scope(&self.pacer.crowded, |s| {
                let spawned = Mutex::new(Vec::new());
                let prelims = Mutex::new(Vec::new());
                // Lower latency: a version whose first hello picked a suite is enumerated at
                // once, while the version test goes on below it.
                let early = |f: First| -> Option<First> {
                    let pipe = &pipe;
                    // TLS 1.3's groups need only its pick: their chain of hellos (one per
                    // group, each waiting for the last) starts then, not after the lower
                    // versions' hellos, each of which waits for the one above. Not while
                    // TLS 1.2's answer may still be broken: a target that breaks is given
                    // up on a streak of broken answers, which the group hellos' answers
                    // would only put off.
                    if lower_latency && more {
                        let mut gate = lock(&groups13_gate);
                        if f.version == ProtocolVersion::TLS12 {
                            gate.0 = Some(f.answered_tls());
                        } else if f.version == ProtocolVersion::TLS13
                            && f.pick.is_some()
                            && f.answered_tls()
                        {
                            gate.1 = Some(prelim(&f));
                        }
                        if gate.0 == Some(true)
                            && let Some(v13) = gate.1.take()
                        {
                            let v13 = pipe.prelim13.get_or_init(|| vec![v13]);
                            *lock(&groups13_task) = outer
                                .try_spawn(move || self.groups_tls13_part(v13, Some(&pipe.tls13)));
                        }
                    }
                    // Not after a broken answer: the target may be given up after the test.
                    if !lower_latency || f.pick.is_none() || !f.answered_tls() {
                        return Some(f);
                    }
                    lock(&prelims).push(prelim(&f));
                    lock(&spawned).push(s.spawn(move || {
                        let v = self.enumerate(f);
                        if v.version == ProtocolVersion::TLS13 {
                            let _ = pipe.tls13.set(v.clone());
                        }
                        v
                    }));
                    None
                };
                let firsts = self.version_test(&early);
                self.version_test.store(false, Ordering::Relaxed);
                self.give_up_unless_answered();
                // Every version is settled by its first hello (a pick, a TLS refusal, or a
                // higher version's protocol_version alert): what the lists need is known.
                let settled = firsts.iter().all(|f| {
                    f.version == ProtocolVersion::SSLV2
                        || f.refused_with.is_some()
                        || f.answered_tls()
                });
                let mut pre: Vec<VersionScan> = prelims.into_inner().unwrap_or_default();
                pre.extend(firsts.iter().map(prelim));
                pre.sort_by_key(|v| v.version);
                let mut handles = spawned.into_inner().unwrap_or_default();
                let mut firsts = firsts;
                // One version is enumerated on this thread, which would only wait otherwise (a
                // part handed to a thread costs wake-ups); not with the lists to start after
                // them (lower latency).
                let here = if lower_latency { None } else { firsts.pop() };
                handles.extend(
                    firsts
                        .into_iter()
                        .map(|first| s.spawn(move || self.enumerate(first))),
                );
                let given_up = self.gave_up.load(Ordering::Relaxed);
                // On a thread of its own or not at all: run in place (no thread to be had, see
                // `tasks`), it would wait for the suites this thread has yet to collect. Then
                // the lists follow the suites, as in the fewer-connections plan.
                let lists = (lower_latency && more && settled && !given_up)
                    .then(|| {
                        let pre = pipe.prelim.get_or_init(|| pre);
                        let pipe = &pipe;
                        let g13 = lock(&groups13_task).take();
                        s.try_spawn(move || self.lists_and_behaviour(pre, more, Some(pipe), g13))
                    })
                    .flatten();
                let mut versions: Vec<VersionScan> = here
                    .and_then(|first| tasks::in_place(move || self.enumerate(first)).ok())
                    .into_iter()
                    .collect();
                versions.extend(handles.into_iter().filter_map(|h| h.join().ok()));
                versions.sort_by_key(|v| v.version);
                if let Some(lists) = lists {
                    let all = pipe.all.get_or_init(|| versions.clone());
                    let combined = combined_order_version(all, more);
                    let orders: Vec<_> = all
                        .iter()
                        .filter(|v| v.ciphers.len() >= 2 && v.version != ProtocolVersion::TLS13)
                        .filter(|v| Some(v.version) != combined)
                        .map(|v| s.spawn(move || (v.version, self.check_order(v))))
                        .collect();
                    // The suite order checks were not in the lists (they need every suite).
                    let orders: Vec<_> = orders.into_iter().filter_map(|h| h.join().ok()).collect();
                    early_lists = lists.join().ok().map(|mut l| {
                        l.4.extend(orders);
                        l
                    });
                }
                versions
            });
            let given_up = self.gave_up.load(Ordering::Relaxed);
            let lists = if let Some(lists) = early_lists {
                lists
            } else if given_up {
                // Nothing more is sent; what the lists would have shown is unknown.
                Default::default()
            } else {
                let g13 = lock(&groups13_task).take();
                self.lists_and_behaviour(&versions, more, None, g13)
            };
            (versions, lists, given_up)
        });
        let (groups, post_quantum, sigalgs, fixed, mut orders, full13) = lists;
        // A TLS 1.3 server that answered the version test with a HelloRetryRequest (its
        // first group, a PQ hybrid, had no share) showed its certificate, OCSP and ALPN
        // only in the signature scheme hellos: read them from there.
        if let Some(full) = full13
            && let Some(v13) = versions
                .iter_mut()
                .find(|v| v.version == ProtocolVersion::TLS13)
            && v13.first.as_ref().is_none_or(|f| f.certificates.is_empty())
        {
            v13.first = Some(full);
        }
        orders.extend(lock(&self.combined_order).take());
        if let Some(v13) = versions
            .iter_mut()
            .find(|v| v.version == ProtocolVersion::TLS13 && v.supported)
        {
            if let Some(suites) = lock(&self.suites13).take() {
                v13.ciphers = suites;
            }
            // Its other suites are asked with the groups: a scan that gave up did not
            // finish them.
            if more && !self.opts.quic_groups && self.gave_up.load(Ordering::Relaxed) {
                v13.incomplete.get_or_insert_with(|| {
                    "the scan gave up before TLS 1.3's suites (asked with its groups) were \
                     all seen"
                        .into()
                });
            }
        }
        let mut probes = Vec::new();
        orders.sort_by_key(|(version, _)| *version);
        for (version, (order, item)) in orders {
            if let Some(v) = versions.iter_mut().find(|v| v.version == version) {
                v.server_order = order;
            }
            probes.push(item);
        }
        if more && !given_up {
            probes.extend(derived_items(&versions));
        }
        probes.extend(fixed);
        // A connection still left over is closed now, its slot freed for other targets.
        drop(lock(&self.leftover).take());
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let gave_up = self.gave_up.load(Ordering::Relaxed);
        let noted = self.error.lock().map(|e| e.clone()).unwrap_or(None);
        ScanReport {
            target: self.target.display(),
            // A refused port or a non-TLS answer first; then why the scan gave up; then
            // the first broken answer of a target that otherwise answered.
            error: noted
                .or_else(|| health.gave_up.clone())
                .or_else(|| health.first_broken.as_ref().map(|(_, what)| what.clone())),
            gave_up,
            versions,
            groups,
            post_quantum,
            sigalgs,
            probes,
            handshakes: self.total.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            elapsed_ms: start.elapsed().as_millis() as u64,
            certificates: Vec::new(),
            diagnosis: health.diagnosis(),
            plan: self.opts.prefer,
        }
    }

    /// Groups, signature schemes, the order checks and the behaviour probes, in parallel.
    /// `g13`: the TLS 1.3 group part, when it was started before (lower latency).
    #[allow(clippy::type_complexity)]
    fn lists_and_behaviour(
        &self,
        versions: &[VersionScan],
        more: bool,
        pipe: Option<&Pipeline>,
        g13: Option<tasks::Task<Tls13Lists>>,
    ) -> (
        Vec<GroupScan>,
        Option<PqScan>,
        Option<SigalgScan>,
        Vec<ProbeItem>,
        Vec<(ProtocolVersion, OrderCheck)>,
        Option<Box<Verdict>>,
    ) {
        tasks::scope(&self.pacer.crowded, |s| {
            // With groups to enumerate, TLS 1.3's order check rides on their first hello.
            let groups13 = more || self.opts.quic_groups;
            // The base version's order rides on the combined intolerance hello.
            let combined = combined_order_version(versions, more);
            let orders: Vec<_> = versions
                .iter()
                .filter(|v| {
                    v.ciphers.len() >= 2 && !(groups13 && v.version == ProtocolVersion::TLS13)
                })
                .filter(|v| Some(v.version) != combined)
                .map(|v| s.spawn(move || (v.version, self.check_order(v))))
                .collect();
            let g13 = g13.unwrap_or_else(|| {
                s.spawn(move || {
                    groups13
                        .then(|| self.groups_tls13_part(versions, pipe.map(|p| &p.tls13)))
                        .flatten()
                })
            });
            // Pipelined, the TLS 1.2 lists wait for every version's suites (their hellos
            // show groups and schemes: `Learned`), as the behaviour probes do when the
            // base version's first pick has no certificate; at once when no version up to
            // TLS 1.2 was accepted (TLS 1.3's schemes are asked there then).
            let settled = |ready: bool| match pipe {
                Some(p) if !ready => (p.all.wait().as_slice(), false),
                Some(_) => (versions, true),
                None => (versions, false),
            };
            // With the behaviour probes based on TLS 1.2 and a signed ECDHE suite there, the
            // fragmentation probe is the TLS 1.2 group and scheme order hello, fragmented.
            let fragment = more
                && behaviour::base_version(versions)
                    .is_some_and(|b| b.version == ProtocolVersion::TLS12)
                && versions.iter().any(|v| {
                    v.version == ProtocolVersion::TLS12
                        && !accepted_where(v, |s| {
                            s.kx == KeyExchange::Ecdhe && needs_certificate(s)
                        })
                        .is_empty()
                });
            // Run on this thread once the other parts are started: it would only wait for
            // them otherwise, and a part handed to a thread costs wake-ups.
            let g12 = move || {
                if more {
                    let (versions, _) = settled(no_classic_version(versions));
                    let (groups, sigalgs) = self.groups_and_sigalgs_tls12(versions, fragment);
                    match sigalgs {
                        Some(s) => (groups, Some(s), None),
                        None => match self.sigalgs_tls13(versions) {
                            Some((s, full)) => (groups, Some(s), full),
                            None => (groups, None, None),
                        },
                    }
                } else {
                    (None, None, None)
                }
            };
            let fixed = if !more {
                Vec::new()
            } else if pipe.is_some() && !certified_first(versions) {
                vec![s.spawn(move || {
                    let (versions, _) = settled(false);
                    tasks::scope(&self.pacer.crowded, |s2| {
                        self.behaviour(s2, versions, None, fragment)
                            .into_iter()
                            .filter_map(|h| h.join().ok())
                            .flatten()
                            .collect()
                    })
                })]
            } else {
                self.behaviour(s, versions, pipe.map(|p| &p.all), fragment)
            };
            let g12 = tasks::in_place(g12);
            let mut orders: Vec<_> = orders.into_iter().filter_map(|h| h.join().ok()).collect();
            let mut groups = Vec::new();
            let mut post_quantum = None;
            if let Some((g, order, pq)) = g13.join().ok().flatten() {
                groups.push(g);
                post_quantum = Some(pq);
                orders.extend(order.map(|o| (ProtocolVersion::TLS13, o)));
            }
            let (g12, sigalgs, full13) = g12.unwrap_or_default();
            groups.extend(g12);
            let mut fixed: Vec<ProbeItem> = fixed
                .into_iter()
                .filter_map(|h| h.join().ok())
                .flatten()
                .collect();
            fixed.extend(lock(&self.fragment_item).take());
            (groups, post_quantum, sigalgs, fixed, orders, full13)
        })
    }
}

/// What the overlapping phases of [`Prefer::LowerLatency`] share: the version test's
/// picks (`prelim`, one suite per version), the TLS 1.3 suites once enumerated (the group
/// order hello carries their order check) and every version's once all are.
#[derive(Default)]
struct Pipeline {
    prelim: OnceLock<Vec<VersionScan>>,
    /// TLS 1.3's first pick alone: its groups start from it before the version test ends.
    prelim13: OnceLock<Vec<VersionScan>>,
    tls13: OnceLock<VersionScan>,
    all: OnceLock<Vec<VersionScan>>,
}

/// A version as its first hello showed it: the pick as its only suite.
fn prelim(f: &First) -> VersionScan {
    VersionScan {
        supported: f.pick.is_some(),
        ciphers: f.pick.into_iter().collect(),
        first: f
            .reply
            .as_ref()
            .and_then(|r| r.verdict.clone())
            .filter(|_| f.pick.is_some()),
        refused_with: f.refused_with,
        ..VersionScan::new(f.version, 0)
    }
}

/// No version up to TLS 1.2 was accepted (in `prelim` versions): the TLS 1.2 lists have no
/// suites to wait for.
fn no_classic_version(versions: &[VersionScan]) -> bool {
    !versions.iter().any(|v| {
        v.supported
            && v.version != ProtocolVersion::SSLV2
            && v.version.0 <= ProtocolVersion::TLS12.0
    })
}

/// The behaviour probes' base version picked a suite with a certificate first (so the
/// probes offering that one suite get the answers they would with every accepted one).
fn certified_first(versions: &[VersionScan]) -> bool {
    behaviour::base_version(versions).is_none_or(|b| {
        b.ciphers
            .first()
            .and_then(|id| suite(*id))
            .is_some_and(needs_certificate)
    })
}
