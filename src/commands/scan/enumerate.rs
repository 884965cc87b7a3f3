//! The enumeration of one target: what a server accepts, in the fewest handshakes.
//!
//! Every enumeration is "offer all that remain, remove what the server picked": for N
//! accepted items it costs N+1 handshakes, and when the server enforces its own order the
//! picks come out in that order (each pick is the server's favourite among what is left).
//! One more hello with the accepted suites reversed tells a server-order server (it still
//! picks its favourite) from a client-order one (it picks our first).
//!
//! - Versions and suites: per version, the whole suite registry (TLS 1.3 suites for 1.3,
//!   the others for 1.2 and below, never an SCSV). The first offer doubles as the version
//!   test; SSLv3 to TLS 1.2 are asked from the top down, and a protocol_version alert
//!   settles every lower version too. Hellos of 256–511 bytes are padded past 512 (the F5
//!   bug); a server that stays silent at a long offer but answers a client-like one is
//!   enumerated in bundles of 128.
//! - Groups: TLS 1.3 with an empty key_share (the HelloRetryRequest names the group, so
//!   hybrid post-quantum groups need no valid share; the first of these hellos is also the
//!   TLS 1.3 order check; every classical group is listed before every post-quantum
//!   one, see `post_quantum`). TLS 1.2 groups and signature schemes come from the
//!   ServerKeyExchange, both lists in the same hellos while neither has run out. A server
//!   without signed TLS 1.2 suites shows its schemes in TLS 1.3's CertificateVerify.
//! - Behaviour: what the first accepted handshake of the best version up to TLS 1.2
//!   already shows costs nothing more (renegotiation_info, extended master secret, session
//!   ticket, OCSP stapling, ALPN, certificate; OCSP stapling and ALPN come from the
//!   decrypted TLS 1.3 handshake when there is one); the rest are fixed probes, itemized
//!   in [`ScanReport::probes`]. The intolerance checks, compression and heartbeat share
//!   one hello and are split only when a server refuses it.
//!
//! - Giving up: every answer is sorted (a TLS answer, a silent close, breakage, no
//!   connection; see `health`). A target that gave no TLS answer to the first hello of
//!   any version, or broke [`BROKEN_STREAK_LIMIT`] times in a row, is given up: nothing
//!   more is sent, and what was not learned is unknown, not "not offered".
//!
//! Connections go through a [`Pacer`]: a bound on connections in flight (across targets)
//! and an optional rate. Connect timeouts and resets before any answer are retried (during
//! the version test from a small budget shared by all its hellos). On a STARTTLS target
//! in the lower-latency plan, a chain's next connection is made (preamble included) while
//! its current hello is answered (`ahead`). Every
//! hello travels over a [`Transport`] (TCP in real use, a scripted server in the tests), so
//! the strategies above are tested, handshake counts included, without sockets.

use super::ahead::Spare;
use super::behaviour::derived_items;
use super::health::{
    AnswerKind, BROKEN_STREAK_LIMIT, Health, VERSION_TEST_RETRIES, breakage, classify,
};
use super::keys::{EntropyPool, KeyPairs};
use super::post_quantum::PqScan;
use super::tasks;
use crate::core::assess::ConnectError;
use crate::core::assess::Diagnosis;
use crate::core::cert::CertInfo;
use crate::core::crypto::hello::{self as build, BuiltHello};
use crate::core::crypto::{Keys, ecdh};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::{Outcome, Tracker, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::{HelloSpec, Sni};
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::DhPrime;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::{
    CIPHER_SUITES, CipherSuite, GROUPS, GroupKind, KeyExchange, SIGNATURE_SCHEMES, alert_name,
    is_post_quantum, suite,
};
use crate::core::wire::server::ServerKeyExchange;
use crate::io::coro;
use crate::io::net::{self, ExchangeObserver, Limits, Target, Transport};
use std::borrow::Cow;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Largest suite list offered to a server that chokes on long offers.
const BUNDLE: usize = 128;
/// Hellos of 256–511 bytes hang some F5 load balancers; padding takes them to this size.
const F5_PAD_TO: usize = 512;

/// How a scan connects.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub limits: Limits,
    /// Connection attempts after the first when it fails before any answer.
    pub retries: u32,
    /// SNI for every hello; `Auto` sends the target's host name unless it is an IP.
    pub sni: Sni,
    /// Versions, suites and their order only: no groups, signature schemes or behaviour.
    pub suites_only: bool,
    /// The hellos go in QUIC Initial packets (`scan --quic`): besides versions and suites,
    /// the TLS 1.3 groups are enumerated, by key shares rather than HelloRetryRequests (a
    /// QUIC server need not retry a hello without a usable share: aioquic does not), and
    /// the post-quantum checks follow them; no signature schemes or behaviour probes.
    pub quic_groups: bool,
    /// Which plan: the fewest connections, or the shortest chain of answers waited for.
    pub prefer: Prefer,
}

/// How a scan orders its hellos (`scan --prefer`). Both send the same hellos (the
/// lower-latency plan at most one more, a TLS 1.3 order check of its own) and find the same
/// lists; they differ in what waits for what (see docs/scan.md, "Cost model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// Each phase after the last: the version test, then every version's suites, then
    /// groups, signature schemes and behaviour (which offer the accepted suites).
    #[default]
    FewerConnections,
    /// Each version's suites start as soon as its first hello is answered, and groups,
    /// signature schemes and behaviour as soon as the version test is done (offering the
    /// first pick, or every candidate suite of a kind), beside the suite enumerations.
    LowerLatency,
}

impl Prefer {
    /// `fewer-connections` or `lower-latency`.
    pub fn parse(s: &str) -> Result<Prefer, String> {
        match s {
            "fewer-connections" => Ok(Prefer::FewerConnections),
            "lower-latency" => Ok(Prefer::LowerLatency),
            _ => Err(format!(
                "expected fewer-connections or lower-latency, not {s:?}"
            )),
        }
    }

    /// The name used on the command line and in the JSON (`plan`), with `_` for `-`.
    pub fn name(self) -> &'static str {
        match self {
            Prefer::FewerConnections => "fewer_connections",
            Prefer::LowerLatency => "lower_latency",
        }
    }
}

/// Bounds connections in flight and paces their starts; shared by all targets of a run.
pub struct Pacer {
    slots: Mutex<Slots>,
    freed: Condvar,
    spacing: Option<Spacing>,
    /// Slots (at least 1).
    concurrency: usize,
    /// Targets being scanned now ([`Pacer::target_started`]).
    targets: AtomicUsize,
    /// Set while a target's parts run on the thread that starts them ([`Pacer::crowded`]).
    crowded: AtomicBool,
}

/// The pacer's count, and how many wait for it to rise.
struct Slots {
    free: usize,
    /// Threads blocked in [`Pacer::acquire`]: a freed slot wakes one only when there is
    /// one (a wake-up is a system call even when nobody waits, and a scan frees a slot at
    /// every connection).
    waiting: usize,
}

/// A connection slot, given back on drop.
pub struct Permit<'a>(&'a Pacer);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut slots = self.0.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.free += 1;
        let wake = slots.waiting > 0;
        // Woken after the lock is let go, so the woken thread does not block on it again.
        drop(slots);
        if wake {
            self.0.freed.notify_one();
        }
    }
}

impl Pacer {
    /// `concurrency` connections at once (at least 1); at most `rate` starts per second.
    pub fn new(concurrency: usize, rate: Option<f64>) -> Pacer {
        Pacer {
            slots: Mutex::new(Slots {
                free: concurrency.max(1),
                waiting: 0,
            }),
            freed: Condvar::new(),
            spacing: Spacing::new(rate),
            concurrency: concurrency.max(1),
            targets: AtomicUsize::new(0),
            crowded: AtomicBool::new(false),
        }
    }

    /// A target's scan begins (`true`) or ends (`false`).
    pub fn target_started(&self, started: bool) {
        if started {
            self.targets.fetch_add(1, Ordering::Relaxed);
        } else {
            self.targets.fetch_sub(1, Ordering::Relaxed);
        }
        self.crowded(&self.slots.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Parts run in place while threads wait for a slot and there are at least as many
    /// targets as slots (the flag given to [`tasks::scope`]): the slots are then kept busy
    /// by other targets, and more threads would only queue. With fewer targets (one host
    /// at a low `--concurrency`) the parts keep their threads: their latency is what those
    /// are for.
    fn crowded(&self, slots: &Slots) {
        let many = self.targets.load(Ordering::Relaxed) >= self.concurrency;
        self.crowded
            .store(slots.waiting > 0 && many, Ordering::Relaxed);
    }

    /// Waits for a free slot, then for the rate limit's next start time.
    pub fn acquire(&self) -> Permit<'_> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A coroutine must not block its thread: it lets the others run until a slot is
        // free. Rare: a many-target scan has as many coroutines as slots, each holding at
        // most one (its parts run in place, and it makes no connection ahead).
        while slots.free == 0 && coro::active() {
            drop(slots);
            coro::yield_now();
            slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        }
        if slots.free == 0 {
            slots.waiting += 1;
            if slots.waiting == 1 {
                self.crowded(&slots);
            }
            while slots.free == 0 {
                slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
            slots.waiting -= 1;
            if slots.waiting == 0 {
                self.crowded(&slots);
            }
        }
        slots.free -= 1;
        drop(slots);
        if let Some(spacing) = &self.spacing {
            spacing.wait_turn();
        }
        Permit(self)
    }

    /// A slot if one is free and nobody waits for one, without waiting (for a connection
    /// made ahead, see `ahead`; never used with a rate, which it would not keep).
    fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.free == 0 || slots.waiting > 0 {
            return None;
        }
        slots.free -= 1;
        Some(Permit(self))
    }
}

/// Connection starts at most `rate` per second: each start books the next free time,
/// `1/rate` after the previous booking, and sleeps until it. Used for the whole run
/// (`--rate`) and for each target (`--rate-per-target`).
pub struct Spacing {
    interval: Duration,
    next_start: Mutex<Instant>,
}

impl Spacing {
    /// `None` without a finite, positive rate.
    pub fn new(rate: Option<f64>) -> Option<Spacing> {
        rate.filter(|r| r.is_finite() && *r > 0.0).map(|r| Spacing {
            interval: Duration::from_secs_f64(1.0 / r),
            next_start: Mutex::new(Instant::now()),
        })
    }

    /// Sleeps until this start's turn (a coroutine is suspended instead, see `io::coro`).
    pub fn wait_turn(&self) {
        let wait = {
            let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at - now
        };
        coro::sleep(wait);
    }
}

/// One version's result.
#[derive(Debug, Clone)]
pub struct VersionScan {
    pub version: ProtocolVersion,
    pub supported: bool,
    /// Accepted suites, in the server's order when `server_order` is `Some(true)`, else in
    /// the order they were picked (our offer's order).
    pub ciphers: Vec<u16>,
    /// SSLv2: the cipher kinds the SERVER-HELLO lists (one handshake shows them all).
    pub sslv2_ciphers: Vec<u32>,
    /// `None` when fewer than two suites were accepted (nothing to order).
    pub server_order: Option<bool>,
    /// How many suites the enumeration started from (the registry's share for this version).
    pub offered: usize,
    /// The server stayed silent at the full offer; suites were offered in bundles.
    pub bundled: bool,
    /// Handshakes the enumeration used (not the order check, an itemized probe).
    pub handshakes: usize,
    /// The verdict of the first accepted hello (the full offer): what the behaviour
    /// results that cost no handshake are read from.
    pub first: Option<Box<Verdict>>,
    /// Not asked: the hello of this higher version got a protocol_version alert, so the
    /// server has nothing at or below it.
    pub refused_with: Option<ProtocolVersion>,
    /// The smallest finite-field DH prime (bits) in the ServerKeyExchanges of the picks:
    /// what Logjam-style checks judge.
    pub dh_prime_bits: Option<usize>,
    /// That smallest prime, when it is a well-known one (`core::wire::registry::dh_primes`).
    pub dh_prime: Option<&'static DhPrime>,
    /// Why the result is unknown (nothing accepted) or partial (suites accepted): a hello
    /// of the enumeration got a broken answer, or was not sent because the scan gave up.
    pub incomplete: Option<String>,
    /// TLS 1.2 groups and signature schemes the suite hellos showed (see [`Learned`]).
    pub learned: Learned,
}

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
fn unseen(all: &[u16], seen: &[u16]) -> Vec<u16> {
    all.iter().copied().filter(|i| !seen.contains(i)).collect()
}

/// `all` with the items of `seen` moved to the end (in the order seen).
fn unseen_first(all: &[u16], seen: &[u16]) -> Vec<u16> {
    let mut list = Vec::with_capacity(all.len());
    list.extend(all.iter().copied().filter(|i| !seen.contains(i)));
    list.extend(seen.iter().copied().filter(|i| all.contains(i)));
    list
}

impl VersionScan {
    fn new(version: ProtocolVersion, offered: usize) -> Self {
        VersionScan {
            version,
            supported: false,
            ciphers: Vec::new(),
            sslv2_ciphers: Vec::new(),
            server_order: None,
            offered,
            bundled: false,
            handshakes: 0,
            first: None,
            refused_with: None,
            dh_prime_bits: None,
            dh_prime: None,
            incomplete: None,
            learned: Learned::default(),
        }
    }
}

/// Accepted named groups of one version, in the order the server picked them.
#[derive(Debug, Clone)]
pub struct GroupScan {
    pub version: ProtocolVersion,
    pub groups: Vec<u16>,
    /// Hellos of this enumeration alone.
    pub handshakes: usize,
    /// Hellos shared with the signature-scheme enumeration (counted there).
    pub shared: usize,
    /// From one offer of the accepted groups reversed (`None`: fewer than two, not
    /// checked, or an answer that fits neither order).
    pub server_order: Option<bool>,
    /// Groups already seen by the version and suite hellos when this enumeration began
    /// (TLS 1.2 with signed ECDHE; see [`Learned`]): they cost it nothing.
    pub known: usize,
}

impl GroupScan {
    /// An enumeration that shared no hello and started from nothing.
    fn alone(
        version: ProtocolVersion,
        groups: Vec<u16>,
        handshakes: usize,
        server_order: Option<bool>,
    ) -> Self {
        GroupScan {
            version,
            groups,
            handshakes,
            shared: 0,
            server_order,
            known: 0,
        }
    }
}

/// Signature schemes the server signed with (TLS 1.2 key exchange, or TLS 1.3
/// CertificateVerify), in pick order.
#[derive(Debug, Clone)]
pub struct SigalgScan {
    pub version: ProtocolVersion,
    pub schemes: Vec<u16>,
    /// Hellos used, including those shared with the TLS 1.2 groups.
    pub handshakes: usize,
    /// As for [`GroupScan::server_order`] (checked with the TLS 1.2 groups).
    pub server_order: Option<bool>,
    /// Schemes already seen when this enumeration began (as [`GroupScan::known`]).
    pub known: usize,
    /// The TLS 1.2 suite hellos showed every scheme ([`Learned::schemes_complete`]): none
    /// was asked in a hello of its own.
    pub complete: bool,
    /// Of `handshakes`: TLS 1.2 suite hellos sent again with every scheme ([`Learned`]).
    pub resent: usize,
}

/// A TLS 1.3 hello without key shares offering (suites, groups): the (suite, group) its
/// HelloRetryRequest names, and the reply.
type RetryPick<'p, 'a> =
    dyn Fn(Vec<u16>, &[u16], &mut usize, Link<'_, 'a>) -> (Option<u16>, Option<u16>, Reply) + 'p;

/// Server order (`None`: no answer or inconsistent) and the probe item that reports it.
pub(super) type OrderCheck = (Option<bool>, ProbeItem);

/// What the TLS 1.3 group part finds: the groups, TLS 1.3's suite order check when it rode
/// on the group order hello, and the post-quantum results.
type Tls13Lists = Option<(GroupScan, Option<OrderCheck>, PqScan)>;

/// What [`Scanner::remove_both`] found, with the hellos of each phase.
#[derive(Debug, Default)]
struct BothPicks {
    first: Vec<u16>,
    second: Vec<u16>,
    together: usize,
    first_alone: usize,
    second_alone: usize,
}

/// One behaviour result. `handshakes` is 0 when it was read from an enumeration handshake.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ProbeItem {
    pub name: String,
    pub result: String,
    /// A result worth a second look (weakness, intolerance, missing protection).
    pub concern: bool,
    pub handshakes: usize,
}

/// Everything the enumeration of one target found, before it is judged and named (see
/// [`super::ScanResult`]).
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub target: String,
    /// The first thing that went wrong, if anything did: a connection that could not be
    /// made, an answer that was not TLS, why the scan gave up, or the first broken answer.
    pub error: Option<String>,
    /// The scan stopped early: the target did not answer TLS as a server should.
    pub gave_up: bool,
    /// SSLv2 to TLS 1.3, in that order.
    pub versions: Vec<VersionScan>,
    /// TLS 1.3 first, then the best version up to 1.2 that negotiated ECDHE.
    pub groups: Vec<GroupScan>,
    pub sigalgs: Option<SigalgScan>,
    /// PQ key exchange, when the TLS 1.3 groups were enumerated.
    pub post_quantum: Option<PqScan>,
    pub probes: Vec<ProbeItem>,
    /// Connections made, retries included.
    pub handshakes: usize,
    pub retries: usize,
    pub elapsed_ms: u64,
    /// The chain of the newest version whose first accepted hello showed one (TLS 1.3
    /// decrypted with our key shares), and what the certificate checks found in it.
    pub certificates: Vec<CertInfo>,
    pub diagnosis: Vec<Diagnosis>,
    /// The plan followed.
    pub plan: Prefer,
}

/// What one hello got back. `verdict` is `None` when no connection was made. Boxed: a
/// reply is handed up through several calls, and each move of a verdict inline was a copy
/// of a kilobyte (docs/benchmarks.md#scan-nodelay).
pub(super) struct Reply {
    pub(super) verdict: Option<Box<Verdict>>,
    /// The server sent at least one byte.
    answered: bool,
    pub(super) kind: AnswerKind,
    /// False when the hello was not sent (the port refused an earlier one, or the scan
    /// gave up).
    sent: bool,
}

impl Reply {
    fn new(verdict: Option<Box<Verdict>>, answered: bool) -> Reply {
        let mut reply = Reply {
            verdict,
            answered,
            kind: AnswerKind::NoConnection,
            sent: true,
        };
        reply.kind = classify(reply.verdict.as_deref(), reply.went_on(), answered);
        reply
    }

    fn not_sent() -> Reply {
        Reply {
            sent: false,
            ..Reply::new(None, false)
        }
    }

    /// Why this answer leaves something unknown: it broke, or no connection was made.
    pub(super) fn trouble(&self) -> Option<String> {
        match self.kind {
            AnswerKind::Tls | AnswerKind::Silent => None,
            AnswerKind::NoConnection if !self.sent => {
                Some("not asked: the scan gave up on the target".into())
            }
            _ => Some(format!("the hello got {}", self.breakage())),
        }
    }

    fn breakage(&self) -> &'static str {
        breakage(self.verdict.as_deref(), self.went_on(), self.answered)
    }

    /// The server went on (ServerHello, HelloRetryRequest or SSLv2 SERVER-HELLO).
    pub(super) fn went_on(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| {
            v.server_hello.is_some()
                || v.hello_retry_request.is_some()
                || v.sslv2_server_hello.is_some()
        })
    }

    /// The version the server selected, if it went on.
    pub(super) fn version(&self) -> Option<u16> {
        self.verdict.as_ref().filter(|_| self.went_on())?.version
    }

    pub(super) fn alert(&self) -> Option<u8> {
        Some(self.verdict.as_ref()?.alert?.alert.description)
    }

    /// A short account of the answer: "alert handshake_failure", "closed", "TLSv1.2 …".
    pub(super) fn describe(&self) -> String {
        let Some(v) = &self.verdict else {
            return if self.sent {
                "no connection".into()
            } else {
                "not sent: the scan gave up".into()
            };
        };
        if self.went_on() {
            let version = v
                .version
                .map(|x| ProtocolVersion(x).to_string())
                .unwrap_or_default();
            let cipher = v.cipher.map(crate::core::wire::registry::suite_name);
            return format!("{version} {}", cipher.unwrap_or_default())
                .trim()
                .to_string();
        }
        match (v.outcome, self.alert()) {
            (_, Some(a)) => format!("alert {}", alert_name(a)),
            (o, None) => o.as_str().to_string(),
        }
    }
}

/// Reads an answer only as far as the verdict (no transcript): what one scan hello needs.
struct VerdictOnly {
    tracker: Tracker,
    server_bytes: usize,
}

impl ExchangeObserver for VerdictOnly {
    fn data(&mut self, dir: Direction, bytes: &[u8], at: Micros) -> bool {
        if dir == Direction::ServerToClient {
            self.server_bytes += bytes.len();
        }
        self.tracker.on_data(dir, bytes, at);
        !self.tracker.decided()
    }

    fn end(&mut self, dir: Direction, kind: EndKind, at: Micros) {
        self.tracker.on_end(dir, kind, at);
    }
}

/// Scans one target.
pub struct Scanner<'a> {
    pub(super) target: &'a Target,
    transport: &'a dyn Transport,
    pub(super) opts: &'a ScanOptions,
    pacer: &'a Pacer,
    /// `--rate-per-target`: this target's own spacing of connection starts.
    target_spacing: Option<Spacing>,
    on_handshake: &'a (dyn Fn() + Sync),
    /// The run's key pairs (`None`: each hello makes its own).
    keys: Option<&'a KeyPairs>,
    total: AtomicUsize,
    retries: AtomicUsize,
    error: Mutex<Option<String>>,
    /// Set once the port refused a connection: nothing listens, so no more are made.
    refused: AtomicBool,
    /// What the target's answers were so far.
    health: Mutex<Health>,
    /// Set once the scan gave up on the target: no more hellos are sent.
    gave_up: AtomicBool,
    /// The first hello of each version is being sent: retries come from a shared budget.
    version_test: AtomicBool,
    /// Retries left for the version test.
    version_test_retries: AtomicUsize,
    /// A version test hello of more than [`BUNDLE`] suites got a TLS answer.
    long_offer_answered: AtomicBool,
    /// The base version's suite order, checked in the combined intolerance hello.
    pub(super) combined_order: Mutex<Option<(ProtocolVersion, OrderCheck)>>,
    /// The fragmentation probe, when the TLS 1.2 group and scheme thread sent it.
    fragment_item: Mutex<Option<ProbeItem>>,
    /// TLS 1.3's suites, when they were enumerated with its groups.
    suites13: Mutex<Option<Vec<u16>>>,
    /// A connection a chain made ahead and did not use (its last offer was refused), past
    /// its preamble: the target's next hello, of any part, goes on it instead of a new one.
    leftover: Mutex<Option<Spare<'a>>>,
    /// This target's hellos in flight now.
    in_flight: AtomicUsize,
}

/// A chain of hellos (see `ahead`): each one's connection is made while the previous
/// hello is answered. An elimination makes it ([`Scanner::chain`]) and hands it to the
/// code that sends its hellos ([`Scanner::handshake_in`]), and to an elimination nested
/// in it, whose hellos go on the same chain; a hello sent without it is not part of one.
struct Chain<'a> {
    /// Another hello of the chain can follow the next one.
    more: bool,
    /// The connection made ahead for the next hello.
    spare: Option<Spare<'a>>,
}

/// The chain a hello goes on, if any: its elimination's, passed down to where it is sent.
type Link<'c, 'a> = Option<&'c mut Chain<'a>>;

/// Holds an elimination's chain. Dropped: a connection made ahead and unused is left for
/// the target's next hello (`leftover`).
struct ChainGuard<'s, 'a> {
    scanner: &'s Scanner<'a>,
    /// `None` when the target's hellos do not connect ahead.
    chain: Option<Chain<'a>>,
}

impl<'a> ChainGuard<'_, 'a> {
    /// The chain, for the hellos of the elimination.
    fn link(&mut self) -> Link<'_, 'a> {
        self.chain.as_mut()
    }
}

impl Drop for ChainGuard<'_, '_> {
    fn drop(&mut self) {
        // Its connection made ahead, unused, waits for the target's next hello (a
        // PostgreSQL backend forked, a dovecot login process started, for nothing
        // otherwise); one at most, a second is closed.
        if let Some(spare) = self.chain.take().and_then(|c| c.spare) {
            let mut leftover = lock(&self.scanner.leftover);
            if leftover.is_none() {
                *leftover = Some(spare);
            }
        }
    }
}

impl<'a> Scanner<'a> {
    pub fn new(
        target: &'a Target,
        transport: &'a dyn Transport,
        opts: &'a ScanOptions,
        pacer: &'a Pacer,
        on_handshake: &'a (dyn Fn() + Sync),
    ) -> Self {
        Scanner {
            target,
            transport,
            opts,
            pacer,
            target_spacing: None,
            on_handshake,
            keys: None,
            total: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            error: Mutex::new(None),
            refused: AtomicBool::new(false),
            health: Mutex::new(Health::default()),
            gave_up: AtomicBool::new(false),
            version_test: AtomicBool::new(true),
            version_test_retries: AtomicUsize::new(VERSION_TEST_RETRIES),
            long_offer_answered: AtomicBool::new(false),
            combined_order: Mutex::new(None),
            fragment_item: Mutex::new(None),
            suites13: Mutex::new(None),
            leftover: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// At most `rate` connection starts per second to this target (`--rate-per-target`),
    /// on top of the run's [`Pacer`].
    pub fn with_target_rate(mut self, rate: Option<f64>) -> Self {
        self.target_spacing = Spacing::new(rate);
        self
    }

    /// Key shares from the run's key pairs rather than new ones for each hello.
    pub fn with_key_pairs(mut self, keys: &'a KeyPairs) -> Self {
        self.keys = Some(keys);
        self
    }

    /// A slot from the run's pacer, then this target's turn. The slot is held while the
    /// target's spacing sleeps, so a start never comes sooner than the spacing allows.
    fn start_connection(&self) -> Permit<'a> {
        let permit = self.pacer.acquire();
        if let Some(spacing) = &self.target_spacing {
            spacing.wait_turn();
        }
        permit
    }

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
                && super::behaviour::base_version(versions)
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

    /// Sends one hello (retrying transient failures) and returns what came back. A TLS 1.3
    /// answer is decrypted with the hello's own key shares, so its certificate is seen.
    /// Nothing is sent once the port refused a connection or the scan gave up.
    pub(super) fn handshake(&self, hello: &mut BuiltHello, cost: &mut usize) -> Reply {
        self.send(hello, cost, true, None)
    }

    /// [`Scanner::handshake`], as the next hello of `chain` when there is one.
    fn handshake_in(&self, hello: &mut BuiltHello, cost: &mut usize, chain: Link<'_, 'a>) -> Reply {
        self.send(hello, cost, true, chain)
    }

    /// A hello made to provoke breakage (the intolerance checks): sent as any other, but
    /// its answer is not counted in the target's health (a server that resets odd hellos
    /// is intolerant, which the check reports, not broken).
    pub(super) fn handshake_provoking(&self, hello: &mut BuiltHello, cost: &mut usize) -> Reply {
        self.send(hello, cost, false, None)
    }

    /// [`Scanner::handshake`], its answer counted in the target's health when `counted`,
    /// on `chain` when there is one. The hello's model (`hello.hello`) moves into the answer's
    /// verdict as its `client_hello` (the tracker takes it instead of decoding the bytes).
    fn send(
        &self,
        hello: &mut BuiltHello,
        cost: &mut usize,
        counted: bool,
        mut chain: Link<'_, 'a>,
    ) -> Reply {
        // Only a TLS-format hello counts below: a port multiplexer (sslh) can hand an
        // SSLv2-format one to another service.
        let tls_format = hello.hello.is_some();
        let mut attempt = 0;
        loop {
            if self.refused.load(Ordering::Relaxed) || self.gave_up.load(Ordering::Relaxed) {
                return Reply::not_sent();
            }
            // The first attempt of a chain's hello goes on the connection made ahead, and
            // in its slot; else the first attempt of any hello on a chain's unused one
            // (`leftover`).
            let mut parked = false;
            let mut spare = (attempt == 0)
                .then(|| {
                    let ahead = chain.as_mut().and_then(|c| c.spare.take());
                    ahead.or_else(|| {
                        let leftover = self.take_leftover();
                        parked = leftover.is_some();
                        leftover
                    })
                })
                .flatten();
            let permit = spare
                .as_mut()
                .and_then(|s| s.permit.take())
                .unwrap_or_else(|| self.start_connection());
            *cost += 1;
            self.total.fetch_add(1, Ordering::Relaxed);
            (self.on_handshake)();
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            // Made here and read in place: the tracker is large, and each move of it was a
            // copy of a few kilobytes.
            let mut ex = VerdictOnly {
                tracker: Tracker::new(),
                server_bytes: 0,
            };
            self.prepare(&mut ex.tracker, hello);
            let result = self.exchange(&hello.wire, &mut ex, spare, chain.as_deref_mut());
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            let may_retry = attempt < self.opts.retries;
            attempt += 1;
            match result {
                Ok(()) => {
                    let outcome = ex.tracker.verdict().outcome;
                    // A leftover connection the server closed while it waited says nothing
                    // about the hello: it goes again on a new one (a retry).
                    let again = parked
                        && ex.server_bytes == 0
                        && matches!(outcome, Outcome::Reset | Outcome::Closed);
                    let transient = ex.server_bytes == 0 && outcome == Outcome::Reset;
                    if again || (transient && may_retry && self.take_retry()) {
                        hello.hello = ex.tracker.reclaim_own_hello();
                        continue;
                    }
                    if let Some(unread) = ex.tracker.unread_own_hello() {
                        hello.hello = Some(unread);
                    }
                    // Taken, not copied: the tracker is done with it.
                    let verdict = ex.tracker.into_verdict();
                    if let Some(what) = verdict.not_tls.as_ref().filter(|_| tls_format) {
                        self.note_error(format!("the server does not speak TLS: {what}"));
                    }
                    let reply = Reply::new(Some(Box::new(verdict)), ex.server_bytes > 0);
                    if counted {
                        let model = reply.verdict.as_ref().and_then(|v| v.client_hello.as_ref());
                        self.note_answer(hello.hello.as_ref().or(model), &reply, None);
                    }
                    return reply;
                }
                Err(e) => {
                    hello.hello = ex.tracker.reclaim_own_hello();
                    let refused = e.kind() == io::ErrorKind::ConnectionRefused;
                    // STARTTLS not offered or refused: every connection would end alike.
                    let no_upgrade = e.kind() == io::ErrorKind::Unsupported;
                    if !refused && !no_upgrade && may_retry && self.take_retry() {
                        continue;
                    }
                    if refused || no_upgrade {
                        self.refused.store(true, Ordering::Relaxed);
                    }
                    self.note_error(format!("connecting to {}: {e}", self.target.display()));
                    let reply = Reply::new(None, false);
                    let failed = ConnectError {
                        refused,
                        reason: e.to_string(),
                    };
                    if counted {
                        self.note_answer(hello.hello.as_ref(), &reply, Some(&failed));
                    }
                    return reply;
                }
            }
        }
    }

    /// One connection whose server side `observer` reads (and answers through its
    /// `reply`), paced and counted as any hello; not retried, not counted in the target's
    /// health. `false` when nothing was sent (the port refused, the scan gave up, or the
    /// connection failed).
    pub(super) fn exchange_observed(
        &self,
        wire: &[u8],
        observer: &mut dyn ExchangeObserver,
        cost: &mut usize,
    ) -> bool {
        if self.refused.load(Ordering::Relaxed) || self.gave_up.load(Ordering::Relaxed) {
            return false;
        }
        let _permit = self.start_connection();
        *cost += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        (self.on_handshake)();
        self.transport
            .exchange(self.target, wire, &self.opts.limits, observer)
            .is_ok()
    }

    /// Whether one more attempt may be made: always after the version test, from the
    /// shared budget during it (a target that resets everything must not cost
    /// `--retries` per hello).
    fn take_retry(&self) -> bool {
        !self.version_test.load(Ordering::Relaxed)
            || self
                .version_test_retries
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }

    /// Counts one answer in the target's health; gives up when the broken streak is
    /// reached.
    /// `hello`: the hello's model (`None` for an SSLv2-format hello).
    fn note_answer(
        &self,
        hello: Option<&ClientHello>,
        reply: &Reply,
        failed: Option<&ConnectError>,
    ) {
        let what = reply.breakage();
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let streak_reached = health.note(reply.kind, what, reply.verdict.as_deref(), failed);
        // The newest version's first broken answer: the first hellos of several versions
        // go at once, and the first of them in time changed from run to run.
        let version = hello_version(hello);
        if matches!(reply.kind, AnswerKind::Broken)
            && health
                .first_broken
                .as_ref()
                .is_none_or(|(v, _)| version > *v)
        {
            health.first_broken = Some((version, format!("{} got {what}", hello_label(hello))));
        }
        if streak_reached && health.gave_up.is_none() {
            let why = format!(
                "the target stopped answering TLS as a server should: {BROKEN_STREAK_LIMIT} \
                 broken answers in a row ({}); the scan gave up",
                health.summary()
            );
            health.gave_up = Some(why);
            self.gave_up.store(true, Ordering::Relaxed);
        }
    }

    /// After the version test: a target that gave no TLS answer to the first hello of any
    /// version is asked nothing more.
    fn give_up_unless_answered(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.tls > 0 || health.gave_up.is_some() {
            return;
        }
        let why = format!(
            "the target does not answer TLS as a server should: no TLS answer to the first \
             hello of any version ({}); the scan gave up",
            health.summary()
        );
        health.gave_up = Some(why);
        self.gave_up.store(true, Ordering::Relaxed);
    }

    /// Readies the reader of one hello's answer, a new tracker its caller made in place (a
    /// tracker is a few kilobytes, and returning one was a copy): the hello's key shares (to
    /// decrypt a TLS 1.3 answer), the hello's model (moved out of `hello`) so that it does not
    /// decode the bytes again, when the transport sends them as they are (not QUIC's). A
    /// scan's hellos have their true lengths (no spec of the scan overrides them), as the
    /// tracker needs.
    fn prepare(&self, tracker: &mut Tracker, hello: &mut BuiltHello) {
        if !hello.secrets.is_empty() {
            tracker.decrypt_with(Keys::shares(hello.secrets.clone()));
        }
        // A scan reads the server's first flight and closes.
        tracker.first_flight_only();
        if self.transport.sends_hello_as_given()
            && let Some(model) = hello.hello.take()
        {
            tracker.expect_own_hello(model);
        }
    }

    /// One hello (`wire`) over the transport, read by `observer` until the tracker has its
    /// verdict. A failed connect is the error.
    fn exchange(
        &self,
        wire: &[u8],
        observer: &mut VerdictOnly,
        spare: Option<Spare<'a>>,
        chain: Link<'_, 'a>,
    ) -> io::Result<()> {
        let limits = &self.opts.limits;
        // The connection made ahead (the chain's, or one a chain left over). If making it
        // failed, a fresh connection decides (a refused port refuses it too).
        let made = spare.and_then(|s| s.take().0.ok());
        match (chain.zip(self.transport.connector()), made) {
            (Some((chain, connect)), made) => {
                let conn = match made {
                    Some(conn) => conn,
                    None => connect(self.target, limits)?,
                };
                // Past its preamble: the next hello's connection may start now (not after
                // a refused upgrade, which every connection would get).
                if conn.starttls.as_ref().is_none_or(|p| p.failure.is_none()) {
                    self.make_spare(chain, connect);
                }
                net::exchange_on(conn, wire, limits, observer)?;
            }
            (None, Some(conn)) => net::exchange_on(conn, wire, limits, observer)?,
            (None, None) => {
                self.transport
                    .exchange(self.target, wire, limits, observer)?;
            }
        }
        Ok(())
    }

    /// A new chain of hellos (see `ahead`), for an elimination: on a STARTTLS target, in
    /// the lower-latency plan, without a rate limit, over a transport that can connect
    /// ahead. Else the guard holds none, and its hellos go as any other.
    fn chain(&self) -> ChainGuard<'_, 'a> {
        let chain = self.connects_ahead().then_some(Chain {
            more: true,
            spare: None,
        });
        ChainGuard {
            scanner: self,
            chain,
        }
    }

    /// Whether this target's chains connect ahead (see [`Scanner::chain`]). Checked before
    /// the leftover's lock, so that the hellos of every other scan (TLS targets, a mass
    /// scan's handshakes) do not take it.
    fn connects_ahead(&self) -> bool {
        self.target.starttls.is_some()
            && self.opts.prefer == Prefer::LowerLatency
            && self.target_spacing.is_none()
            && self.pacer.spacing.is_none()
            && self.transport.connector().is_some()
    }

    /// The connection a chain made ahead and left unused, if any (see `leftover`).
    fn take_leftover(&self) -> Option<Spare<'a>> {
        if !self.connects_ahead() {
            return None;
        }
        lock(&self.leftover).take()
    }

    /// Starts the next hello's connection for `chain`, when another hello can
    /// follow, a slot is free and no other hello of the target is in flight: with others
    /// in flight the server's cores have work while this one is answered, and the
    /// connection would only add one unused at the chain's end (dovecot's default login
    /// mode costs 7–8 ms of server CPU a connection: docs/benchmarks.md#starttls).
    fn make_spare(&self, chain: &mut Chain<'a>, connect: net::Connector) {
        if self.in_flight.load(Ordering::Relaxed) > 1 {
            return;
        }
        if !chain.more || chain.spare.is_some() {
            return;
        }
        let Some(permit) = self.pacer.try_acquire() else {
            return;
        };
        chain.spare = Spare::start(connect, self.target, &self.opts.limits, permit);
    }

    /// The hello's bytes and key share secrets; a TLS hello of 256–511 bytes is padded to
    /// 512.
    pub(super) fn encode(&self, spec: &HelloSpec) -> BuiltHello {
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

    /// Keeps the first error: what went wrong first explains what followed.
    fn note_error(&self, message: String) {
        if let Ok(mut err) = self.error.lock() {
            err.get_or_insert(message);
        }
    }

    /// The hello every enumeration of `version` starts from: the builder's defaults for the
    /// version, every ECDHE group (up to 1.2) and signature scheme (1.2) in the registry,
    /// ALPN and status_request as browsers send them, and only 1.3 in supported_versions.
    pub(super) fn version_spec(&self, version: ProtocolVersion) -> HelloSpec {
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

    /// Offers `suites` at `version` (on `chain` when there is one); the suite picked if the
    /// server went on at that version.
    fn offer_suites(
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
    fn version_test(&self, early: &(dyn Fn(First) -> Option<First> + Sync)) -> Vec<First> {
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
    fn enumerate(&self, first: First) -> VersionScan {
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

    /// The target gave no TLS answer to any hello (so a silent close refused nothing).
    fn never_answered_tls(&self) -> bool {
        self.health.lock().map(|h| h.tls == 0).unwrap_or(false)
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

    /// Offers what remains of `candidates` until the server refuses or only `keep` are
    /// left; returns the picks in order. Each offer's hellos go on the elimination's
    /// chain (`offer` gets it: [`Scanner::handshake_in`]).
    fn remove_chosen(
        &self,
        candidates: &[u16],
        keep: usize,
        cost: &mut usize,
        offer: impl FnMut(&[u16], &mut usize, Link<'_, 'a>) -> Option<u16>,
    ) -> Vec<u16> {
        let mut chain = self.chain();
        self.remove_chosen_on(chain.link(), candidates, keep, cost, offer)
    }

    /// [`Scanner::remove_chosen`] on `chain`: an elimination nested in another's
    /// ([`Scanner::remove_both`]) goes on with its chain and its connection made ahead.
    fn remove_chosen_on(
        &self,
        mut chain: Link<'_, 'a>,
        candidates: &[u16],
        keep: usize,
        cost: &mut usize,
        mut offer: impl FnMut(&[u16], &mut usize, Link<'_, 'a>) -> Option<u16>,
    ) -> Vec<u16> {
        let mut remaining = candidates.to_vec();
        let mut picks = Vec::new();
        while remaining.len() > keep {
            if let Some(chain) = chain.as_deref_mut() {
                // A pick leaves one fewer: another offer follows only if that is still
                // more (a connection is made ahead only then).
                chain.more = remaining.len() - 1 > keep;
            }
            match offer(&remaining, cost, chain.as_deref_mut()) {
                Some(p) if remaining.contains(&p) => {
                    picks.push(p);
                    remaining.retain(|r| *r != p);
                }
                _ => break,
            }
        }
        picks
    }

    /// One offer of the accepted suites in reverse pick order: a server that enforces its
    /// order still picks its first; a client-order server picks our first.
    /// Its picks may already show the server's order (see [`order_shown`]): then no hello.
    pub(super) fn check_order(&self, v: &VersionScan) -> OrderCheck {
        if let Some(shown) = order_shown(v) {
            return shown;
        }
        let mut cost = 0;
        let (pick, reply) =
            self.offer_suites(v.version, Some(&reversed(&v.ciphers)), &mut cost, None);
        order_item(v, pick, &reply, cost, "")
    }

    /// TLS 1.3's groups, then the post-quantum hellos (they need the group list).
    fn groups_tls13_part(
        &self,
        versions: &[VersionScan],
        done13: Option<&OnceLock<VersionScan>>,
    ) -> Tls13Lists {
        let (g13, order, suites13) = self.groups_tls13(versions, done13)?;
        let pq = self.post_quantum(&g13, versions);
        *lock(&self.suites13) = suites13;
        Some((g13, order, pq))
    }

    /// TLS 1.3 groups: each hello has an empty key_share, so the HelloRetryRequest names the
    /// server's pick among what remains. The first one offers the accepted suites reversed
    /// and is also the suite order check (an HRR names the suite too); it is returned with
    /// it. One more hello offers the accepted groups reversed, for the group order.
    /// Over QUIC each hello carries a key share for every group it offers instead (real
    /// keys where we make them, right-length bytes otherwise), so the ServerHello's group
    /// is the pick: a QUIC server may refuse a hello without a usable share rather than
    /// retry it (aioquic does), and one that prefers to retry still names its pick.
    ///
    /// Pipelined (`done13`: the TLS 1.3 suites are still being enumerated, `versions` holds
    /// the first pick only), the suite order rides on the group order hello instead, which
    /// waits for them; with fewer than two groups it is a hello of its own.
    fn groups_tls13(
        &self,
        versions: &[VersionScan],
        done13: Option<&OnceLock<VersionScan>>,
    ) -> Option<(GroupScan, Option<OrderCheck>, Option<Vec<u16>>)> {
        let v13 = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS13 && v.supported)?;
        // Every classical group before every PQ group: a PQ first pick is then the
        // server's preference, not ours (see `post_quantum`).
        let (classical, pq): (Vec<u16>, Vec<u16>) = GROUPS
            .iter()
            .filter(|g| g.key_share_len.is_some())
            .map(|g| g.id)
            .partition(|g| !is_post_quantum(*g));
        let candidates = [classical, pq].concat();
        // The (suite, group) a hello without key shares made the server pick.
        let pick = |suites: Vec<u16>, groups: &[u16], cost: &mut usize, chain: Link<'_, 'a>| {
            let spec = HelloSpec {
                cipher_suites: Some(suites),
                groups: Some(groups.to_vec().into()),
                key_shares: Some(if self.opts.quic_groups {
                    groups.to_vec().into()
                } else {
                    Cow::Borrowed(&[])
                }),
                ..self.version_spec(ProtocolVersion::TLS13)
            };
            let reply = self.handshake_in(&mut self.encode(&spec), cost, chain);
            let v = reply
                .verdict
                .as_ref()
                .filter(|_| reply.version() == Some(ProtocolVersion::TLS13.0));
            let suite = v.and_then(|v| v.cipher);
            let group = v.and_then(|v| {
                v.hello_retry_request
                    .as_ref()
                    .and_then(|h| h.key_share_group())
                    .or(v.group)
            });
            (suite, group, reply)
        };
        if !self.opts.quic_groups {
            return Some(self.suites_and_groups_tls13(v13, &candidates, &pick));
        }
        let mut cost = 0;
        let mut order = None;
        let groups = self.remove_chosen(&candidates, 0, &mut cost, |offer, cost, chain| {
            if order.is_some() || v13.ciphers.len() < 2 {
                return pick(v13.ciphers.clone(), offer, cost, chain).1;
            }
            let (suite, group, reply) = pick(reversed(&v13.ciphers), offer, cost, chain);
            order = Some(order_item(
                v13,
                suite,
                &reply,
                0,
                " (in the first group hello)",
            ));
            group
        });
        let final13 = done13.map(OnceLock::wait).filter(|v| v.ciphers.len() >= 2);
        let server_order = match final13 {
            Some(v) if groups.len() >= 2 => {
                let (suite, first, reply) =
                    pick(reversed(&v.ciphers), &reversed(&groups), &mut cost, None);
                order = Some(order_item(
                    v,
                    suite,
                    &reply,
                    0,
                    " (in the group order hello)",
                ));
                order_of(&groups, first)
            }
            _ if groups.len() >= 2 => {
                let (_, first, _) = pick(v13.ciphers.clone(), &reversed(&groups), &mut cost, None);
                order_of(&groups, first)
            }
            _ => None,
        };
        if let Some(v) = final13
            && order.is_none()
        {
            order = Some(self.check_order(v));
        }
        let groups = GroupScan::alone(ProtocolVersion::TLS13, groups, cost, server_order);
        Some((groups, order, None))
    }

    /// TLS 1.3 suites (after the version hello's pick) and groups enumerated together: a
    /// HelloRetryRequest names a suite and a group, so each hello offers what remains of
    /// both ([`Scanner::remove_both`], the groups first: max(N_groups, N_suites − 1) plus
    /// 2 or 3 hellos instead of N_suites + N_groups + 1). One more hello offers both
    /// accepted lists reversed: both orders. A server that names no group by HelloRetryRequest has
    /// its suites enumerated as before (full hellos).
    fn suites_and_groups_tls13(
        &self,
        v13: &VersionScan,
        candidates: &[u16],
        pick: &RetryPick<'_, 'a>,
    ) -> (GroupScan, Option<OrderCheck>, Option<Vec<u16>>) {
        let suites13 = suite_candidates(ProtocolVersion::TLS13);
        let offer = |suites: &[u16], groups: &[u16], cost: &mut usize, chain: Link<'_, 'a>| {
            let (suite, group, _) = pick(suites.to_vec(), groups, cost, chain);
            Some((suite?, group?))
        };
        // The group the version hello's key shares got (x25519 listed and shared first).
        let version_group = v13.first.as_ref().and_then(|v| v.group);
        let both = self.remove_both(
            candidates,
            &suites13,
            (&[], &v13.ciphers),
            &offer,
            &|groups, suites| suites_outlast_groups(version_group, groups, suites),
        );
        let mut cost = both.together + both.first_alone + both.second_alone;
        let mut suites = both.second;
        let groups = both.first;
        if groups.is_empty() {
            let rest: Vec<u16> = suites13
                .iter()
                .copied()
                .filter(|s| !suites.contains(s))
                .collect();
            suites.extend(
                self.remove_chosen(&rest, 0, &mut cost, |offer, cost, chain| {
                    self.offer_suites(ProtocolVersion::TLS13, Some(offer), cost, chain)
                        .0
                }),
            );
        }
        let v = VersionScan {
            ciphers: suites.clone(),
            ..VersionScan::new(ProtocolVersion::TLS13, suites13.len())
        };
        let shown = order_shown(&v).filter(|_| groups.len() < 2);
        let (order, server_order) = if shown.is_some() {
            (shown, None)
        } else if groups.len() >= 2 || suites.len() >= 2 {
            let (suite, first, reply) =
                pick(reversed(&suites), &reversed(&groups), &mut cost, None);
            let order = (suites.len() >= 2)
                .then(|| order_item(&v, suite, &reply, 0, " (in the group order hello)"));
            (order, order_of(&groups, first))
        } else {
            (None, None)
        };
        let scan = GroupScan::alone(ProtocolVersion::TLS13, groups, cost, server_order);
        (scan, order, Some(suites))
    }

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
    fn groups_and_sigalgs_tls12(
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
                    item = Some(super::behaviour::fragment_item(&reply, note, 0));
                } else {
                    item = Some(super::behaviour::fragment_item(&reply, note, cost));
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

    /// Two lists enumerated together: each hello offers what remains of both, and a pick
    /// removes one item from each. The first refusal means one list ran out, not which:
    /// the first list goes on alone (with the second's accepted items), and if it was the
    /// one that ran out, the second goes on alone. With `first` the list a server usually
    /// accepts more of, that costs max(N1, N2) + 2 hellos instead of N1 + N2 + 2.
    /// `known` are items of (first, second) already seen accepted by earlier hellos: the
    /// enumeration goes on from there. `second_first`, asked with the lists' picks at the
    /// first refusal, says the second list more likely outlasts the first: the second then
    /// goes on alone first (e.g. TLS 1.3's suites while the mandatory one is not among
    /// them: [`suites_outlast_groups`]).
    fn remove_both(
        &self,
        first: &[u16],
        second: &[u16],
        known: (&[u16], &[u16]),
        offer: &impl Fn(&[u16], &[u16], &mut usize, Link<'_, 'a>) -> Option<(u16, u16)>,
        second_first: &dyn Fn(&[u16], &[u16]) -> bool,
    ) -> BothPicks {
        let mut picks = BothPicks {
            first: known.0.to_vec(),
            second: known.1.to_vec(),
            ..BothPicks::default()
        };
        let mut rest1: Vec<u16> = first
            .iter()
            .copied()
            .filter(|i| !known.0.contains(i))
            .collect();
        let mut rest2: Vec<u16> = second
            .iter()
            .copied()
            .filter(|i| !known.1.contains(i))
            .collect();
        // One chain for all its hellos: those together, then each list's alone.
        let mut chain = self.chain();
        while let Some((p2, p1)) = offer(&rest2, &rest1, &mut picks.together, chain.link())
            .filter(|(p2, p1)| rest1.contains(p1) && rest2.contains(p2))
        {
            picks.first.push(p1);
            picks.second.push(p2);
            rest1.retain(|r| *r != p1);
            rest2.retain(|r| *r != p2);
        }
        if picks.first.is_empty() && picks.second.is_empty() {
            return picks;
        }
        if second_first(&picks.first, &picks.second) {
            let more2 = self.remove_chosen_on(
                chain.link(),
                &rest2,
                0,
                &mut picks.second_alone,
                |offer2, cost, chain| offer(offer2, &picks.first, cost, chain).map(|(p2, _)| p2),
            );
            if more2.is_empty() {
                picks.first.extend(self.remove_chosen_on(
                    chain.link(),
                    &rest1,
                    0,
                    &mut picks.first_alone,
                    |offer1, cost, chain| {
                        offer(&picks.second, offer1, cost, chain).map(|(_, p1)| p1)
                    },
                ));
            }
            picks.second.extend(more2);
            return picks;
        }
        let more1 = self.remove_chosen_on(
            chain.link(),
            &rest1,
            0,
            &mut picks.first_alone,
            |offer1, cost, chain| offer(&picks.second, offer1, cost, chain).map(|(_, p1)| p1),
        );
        if more1.is_empty() {
            picks.second.extend(self.remove_chosen_on(
                chain.link(),
                &rest2,
                0,
                &mut picks.second_alone,
                |offer2, cost, chain| offer(offer2, &picks.first, cost, chain).map(|(p2, _)| p2),
            ));
        }
        picks.first.extend(more1);
        picks
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
    fn sigalgs_tls13(
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

/// The first hello of one version and what it got (`reply` is `None` for a version
/// settled by a protocol_version alert to a higher one: `refused_with`).
struct First {
    version: ProtocolVersion,
    pick: Option<u16>,
    reply: Option<Reply>,
    cost: usize,
    refused_with: Option<ProtocolVersion>,
}

impl First {
    /// The server spoke TLS to this hello (accepting or refusing).
    fn answered_tls(&self) -> bool {
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

/// The version whose suite order check rides on the combined intolerance hello: the
/// behaviour probes' base version, when they run, it is TLS 1.2 or below and has two
/// suites or more (in `prelim` versions the count is not known yet: its base version).
fn combined_order_version(versions: &[VersionScan], more: bool) -> Option<ProtocolVersion> {
    let base = super::behaviour::base_version(versions).filter(|_| more)?;
    (base.version.0 <= ProtocolVersion::TLS12.0).then_some(base.version)
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

/// At the first refusal of TLS 1.3's groups and suites enumerated together: whether its
/// suites more likely outlast its groups, so that they go on alone first. Usually the
/// groups do (five or more accepted against three suites). But when the suites still lack
/// the one every TLS 1.3 server must have (TLS_AES_128_GCM_SHA256, RFC 8446 9.1), the
/// version hello's key shares (x25519 first, then secp256r1 and secp384r1) got a group
/// other than x25519, and that group is all the enumeration has seen, the server likely
/// has that one group: PostgreSQL's default (`ssl_ecdh_curve`, secp256r1 only), where
/// testing the groups first cost a hello. A server in client order (slapd) takes our
/// x25519 share, and keeps the groups-first order (two suites, ten groups there).
fn suites_outlast_groups(version_group: Option<u16>, groups: &[u16], suites: &[u16]) -> bool {
    const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
    const X25519: u16 = 0x001d;
    !suites.contains(&TLS_AES_128_GCM_SHA256)
        && version_group.is_some_and(|g| g != X25519 && groups == [g])
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    super::behaviour::base_version(versions).is_none_or(|b| {
        b.ciphers
            .first()
            .and_then(|id| suite(*id))
            .is_some_and(needs_certificate)
    })
}

/// "a TLSv1.2 hello", "an SSLv2 hello": which hello an error is about (`None`: an
/// SSLv2-format one).
fn hello_label(hello: Option<&ClientHello>) -> String {
    match hello {
        None => "an SSLv2 hello".into(),
        Some(_) => format!("a {} hello", ProtocolVersion(hello_version(hello))),
    }
}

/// The highest version a hello offers (SSLv2's hello, without a model: 0x0002).
fn hello_version(hello: Option<&ClientHello>) -> u16 {
    let Some(h) = hello else {
        return ProtocolVersion::SSLV2.0;
    };
    h.supported_versions()
        .and_then(|v| {
            v.into_iter()
                .filter(|v| *v <= ProtocolVersion::TLS13.0)
                .max()
        })
        .unwrap_or(h.legacy_version)
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

/// Whose order a pick from the reversed `accepted` list shows: the server's (its first
/// pick again) or ours (the reversed list's first). A list of one has no order.
fn order_of(accepted: &[u16], pick: Option<u16>) -> Option<bool> {
    if accepted.len() < 2 {
        return None;
    }
    match pick? {
        p if Some(&p) == accepted.first() => Some(true),
        p if Some(&p) == accepted.last() => Some(false),
        _ => None,
    }
}

pub(super) fn reversed(ids: &[u16]) -> Vec<u16> {
    ids.iter().rev().copied().collect()
}

/// The server's order, when a version's picks show it without an order check: every
/// offer of the enumeration listed the suites in the candidates' order, so a server that
/// follows the client's order picks them in that order; a pick that came before one
/// listed ahead of it (and accepted later) shows the server choosing. Not for bundled
/// offers (their picks were ordered again by an offer of the picks in pick order).
fn order_shown(v: &VersionScan) -> Option<OrderCheck> {
    if v.bundled {
        return None;
    }
    let candidates = suite_candidates(v.version);
    let at: Vec<Option<usize>> = v
        .ciphers
        .iter()
        .map(|c| candidates.iter().position(|x| x == c))
        .collect();
    let against = at
        .windows(2)
        .any(|w| matches!(w, [Some(a), Some(b)] if a > b));
    against.then(|| {
        let item = ProbeItem {
            name: format!("server order {}", v.version),
            result: "server order (its picks went against our offer's order)".into(),
            concern: false,
            handshakes: 0,
        };
        (Some(true), item)
    })
}

/// The order check's item from the suite picked out of the reversed offer.
pub(super) fn order_item(
    v: &VersionScan,
    pick: Option<u16>,
    reply: &Reply,
    handshakes: usize,
    note: &str,
) -> OrderCheck {
    let order = order_of(&v.ciphers, pick);
    let result = match (order, pick) {
        (Some(true), _) => "server order".to_string(),
        (Some(false), _) => "client order".to_string(),
        (None, Some(p)) => format!(
            "inconsistent: picked {}",
            crate::core::wire::registry::suite_name(p)
        ),
        (None, None) => format!("no answer: {}", reply.describe()),
    };
    let item = ProbeItem {
        name: format!("server order {}", v.version),
        concern: order == Some(false),
        result: format!("{result}{note}"),
        handshakes,
    };
    (order, item)
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
pub(super) fn needs_certificate(s: &CipherSuite) -> bool {
    use crate::core::wire::registry::Authentication as A;
    matches!(s.auth, A::Rsa | A::Dss | A::Ecdsa | A::Gost | A::Any)
}

/// The TLS 1.2 group candidates, for the scripted tests.
#[cfg(test)]
pub(super) fn tests_ecdhe_groups() -> Vec<u16> {
    ecdhe_groups().to_vec()
}

fn ecdhe_groups() -> &'static [u16] {
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
fn scheme_ids() -> &'static [u16] {
    static IDS: OnceLock<Vec<u16>> = OnceLock::new();
    IDS.get_or_init(|| SIGNATURE_SCHEMES.iter().map(|s| s.id).collect())
}

pub(super) fn accepted_where(v: &VersionScan, keep: impl Fn(&CipherSuite) -> bool) -> Vec<u16> {
    v.ciphers
        .iter()
        .copied()
        .filter(|id| suite(*id).is_some_and(&keep))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::net::Tcp;
    use std::thread;

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

    /// A scanner of example.com:443 with default options (nothing is sent).
    fn with_scanner(test: impl FnOnce(&Scanner<'_>)) {
        let target = Target::parse("example.com:443", 443).unwrap();
        let opts = ScanOptions {
            limits: Limits::default(),
            retries: 0,
            sni: Sni::Auto,
            suites_only: false,
            quic_groups: false,
            prefer: Prefer::FewerConnections,
        };
        let pacer = Pacer::new(1, None);
        test(&Scanner::new(&target, &Tcp, &opts, &pacer, &|| {}));
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

    #[test]
    fn remove_chosen_stops_at_refusal_and_keeps_pick_order() {
        with_scanner(|s| {
            // A server that accepts 3, 1, 5 in that order of preference.
            let server = [3u16, 1, 5];
            let mut cost = 0;
            let picks = s.remove_chosen(&[1, 2, 3, 4, 5, 6], 0, &mut cost, |offer, cost, _| {
                *cost += 1;
                server.iter().copied().find(|p| offer.contains(p))
            });
            assert_eq!(picks, [3, 1, 5]);
            assert_eq!(cost, 4, "N+1 offers for N accepted");
            let mut cost = 0;
            let picks = s.remove_chosen(&[1, 3, 5], 1, &mut cost, |offer, cost, _| {
                *cost += 1;
                server.iter().copied().find(|p| offer.contains(p))
            });
            assert_eq!(
                (picks, cost),
                (vec![3, 1], 2),
                "the last one needs no offer"
            );
        });
    }

    #[test]
    fn remove_both_finds_both_lists_in_max_plus_two_or_three_offers() {
        with_scanner(|s| {
            // A server that picks independently from each list, in its own order; it goes on
            // only when it finds something in both.
            let serve = |first: &'static [u16], second: &'static [u16]| {
                move |offer2: &[u16], offer1: &[u16], cost: &mut usize, _: Link<'_, '_>| {
                    *cost += 1;
                    let p1 = first.iter().copied().find(|p| offer1.contains(p))?;
                    let p2 = second.iter().copied().find(|p| offer2.contains(p))?;
                    Some((p2, p1))
                }
            };
            let candidates: Vec<u16> = (1..=9).collect();
            // Why, seed, the server's first and second preferences, whether the second goes
            // on alone first, and the offers made together, with the first alone and with
            // the second alone.
            type Case = (
                &'static str,
                Option<(u16, u16)>,
                &'static [u16],
                &'static [u16],
                bool,
                (usize, usize, usize),
            );
            let cases: [Case; 7] = [
                (
                    "the first outlasts the second: 3 together, the refusal, 2 alone, the \
                     refusal that ends it",
                    None,
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    false,
                    (4, 3, 0),
                ),
                (
                    "the first outlasts the second, which goes on alone first: one more refusal",
                    None,
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    true,
                    (4, 3, 1),
                ),
                (
                    "the second outlasts the first: one more refusal before it goes on alone",
                    None,
                    &[6, 2],
                    &[1, 2, 3, 4],
                    false,
                    (3, 1, 3),
                ),
                (
                    "the second outlasts the first and goes on alone first: that refusal saved",
                    None,
                    &[6, 2],
                    &[1, 2, 3, 4],
                    true,
                    (3, 0, 3),
                ),
                (
                    "a pick seeded from an earlier hello saves the first offer",
                    Some((4, 9)),
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    false,
                    (3, 3, 0),
                ),
                (
                    "nothing accepted: one offer",
                    None,
                    &[],
                    &[1],
                    false,
                    (1, 0, 0),
                ),
                (
                    "nothing accepted, second first: one offer",
                    None,
                    &[],
                    &[1],
                    true,
                    (1, 0, 0),
                ),
            ];
            for (why, seed, first, second, second_first, offers) in cases {
                let (k1, k2): (Vec<u16>, Vec<u16>) =
                    seed.map_or((vec![], vec![]), |(p2, p1)| (vec![p1], vec![p2]));
                let both = s.remove_both(
                    &candidates,
                    &candidates,
                    (&k1, &k2),
                    &serve(first, second),
                    &|_, _| second_first,
                );
                // The server goes on only with a pick from both lists.
                let (want_first, want_second): (&[u16], &[u16]) =
                    if first.is_empty() || second.is_empty() {
                        (&[], &[])
                    } else {
                        (first, second)
                    };
                assert_eq!(both.first, want_first, "{why}");
                assert_eq!(both.second, want_second, "{why}");
                assert_eq!(
                    (both.together, both.first_alone, both.second_alone),
                    offers,
                    "{why}"
                );
            }
        });
    }

    #[test]
    fn tls13_suites_go_on_first_while_short_of_the_mandatory_one() {
        // PostgreSQL: secp256r1 only (its version hello took our P-256 share), and
        // TLS_AES_256_GCM_SHA384 and ChaCha20 shown.
        let (x25519, p256) = (Some(0x001d), Some(0x0017));
        assert!(suites_outlast_groups(p256, &[0x0017], &[0x1302, 0x1303]));
        // The mandatory suite seen; the version hello took x25519 (slapd, client order:
        // two suites, many groups); more groups seen than the version hello's.
        assert!(!suites_outlast_groups(
            p256,
            &[0x0017],
            &[0x1302, 0x1303, 0x1301]
        ));
        assert!(!suites_outlast_groups(x25519, &[0x0017], &[0x1302, 0x1303]));
        assert!(!suites_outlast_groups(
            p256,
            &[0x0017, 0x0018],
            &[0x1302, 0x1303]
        ));
        assert!(!suites_outlast_groups(None, &[0x0017], &[0x1302]));
    }

    #[test]
    fn pacer_bounds_and_paces() {
        let pacer = Pacer::new(2, Some(50.0));
        let start = Instant::now();
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    let _p = pacer.acquire();
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2);
        // 6 starts at 50/s: the last starts at least 100 ms after the first.
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
