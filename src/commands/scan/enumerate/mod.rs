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
//! its current hello is answered (`ahead`). Every hello travels over a [`Transport`] (TCP
//! in real use, a scripted server in the tests), so the strategies above are tested,
//! handshake counts included, without sockets.
//!
//! The code, by concern (the shared result types and the [`Scanner`] itself are here):
//!
//! - `plan`: [`Scanner::run`], the two plans ([`Prefer`]) and what their phases share.
//! - `suites`: the version test and each version's suites, with what their hellos show
//!   for free ([`Learned`]).
//! - `groups`: TLS 1.3 groups (with TLS 1.3's other suites), then the post-quantum part.
//! - `schemes`: TLS 1.2 groups and signature schemes, and TLS 1.3's schemes.
//! - `order`: the order checks, and how a reversed offer's pick reads.
//! - `eliminate`: "offer all that remain, remove what the server picked", for one list or
//!   two in the same hellos.
//! - `hellos`: what a hello offers (the candidate lists, the base hello) and its encoding.
//! - `send`: one hello on a connection: the `Reply`, retries, chains connected ahead,
//!   the target's health.
//! - `pacer`: the connection bound and rate shared by a run ([`Pacer`]).
//!
//! [`BROKEN_STREAK_LIMIT`]: super::health::BROKEN_STREAK_LIMIT

mod eliminate;
mod groups;
mod hellos;
mod order;
mod pacer;
mod plan;
mod schemes;
mod send;
mod suites;

pub use hellos::suite_candidates;
#[cfg(test)]
pub(super) use hellos::tests_ecdhe_groups;
pub(super) use hellos::{accepted_where, needs_certificate};
pub(super) use order::{order_item, reversed};
pub use pacer::{Pacer, Permit, Spacing};
pub(super) use send::Reply;
pub use suites::Learned;

use super::ahead::Spare;
use super::health::{Health, VERSION_TEST_RETRIES};
use super::keys::KeyPairs;
use super::post_quantum::PqScan;
use crate::core::assess::Diagnosis;
use crate::core::cert::CertInfo;
use crate::core::session::Verdict;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::Sni;
use crate::core::wire::registry::DhPrime;
use crate::io::net::{Limits, Target, Transport};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize};

/// Largest suite list offered to a server that chokes on long offers.
const BUNDLE: usize = 128;

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

/// Server order (`None`: no answer or inconsistent) and the probe item that reports it.
pub(super) type OrderCheck = (Option<bool>, ProbeItem);

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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shared by the sub-modules' tests.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::net::Tcp;

    /// A scanner of example.com:443 with default options (nothing is sent).
    pub(super) fn with_scanner(test: impl FnOnce(&Scanner<'_>)) {
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
}
