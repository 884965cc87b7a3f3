//! `shakedown scan`: what servers accept, in the fewest handshakes. A validated
//! [`ScanConfig`] in, one [`ScanResult`] per target out, streamed to an `emit` callback in
//! the order the targets were given.
//!
//! - [`enumerate`]: the strategies that scan one target (versions, suites, order, groups,
//!   signature schemes, behaviour) over a [`Transport`], and the [`Pacer`] shared by all.
//! - `behaviour`: the behaviour probes, on the same scanner.
//! - [`post_quantum`]: hybrid and pure ML-KEM groups, the server's preference, and what a
//!   PQ client's hellos get (both key shares; the classical one only).
//! - `health`: whether the target answers TLS as a server should, and when to give up.
//! - [`result`]: the typed result, everything named and judged.
//! - [`vulns`]: `--vulns`, the known attacks a server is exposed to, named from the scan.
//! - [`keys`]: the run's key pairs, one per group, reused by every hello.
//! - `tasks`: the parts of a target's scan that run side by side, on threads when there are any.
//! - [`targets`]: the target list (names, `IP,NAME`, CIDR ranges, zgrab2 lines) and shards.

mod ahead;
mod behaviour;
pub mod enumerate;
mod full_handshake;
mod health;
pub mod keys;
pub mod post_quantum;
pub mod result;
#[cfg(test)]
mod scripted;
pub mod targets;
mod tasks;
pub mod vulns;

pub use enumerate::{
    GroupScan, Pacer, Permit, Prefer, ProbeItem, ScanOptions, ScanReport, Scanner, SigalgScan,
    VersionScan, suite_candidates,
};
pub use result::{Cost, GroupResult, ScanResult, SigalgResult, VersionResult};
pub use targets::{ScanTarget, Shard, TargetList};

use crate::commands::ConnectConfig;
use crate::core::assess::{Context, assess};
use crate::core::cert::ChainChecker;
use crate::io::coro;
use crate::io::net::{Target, Transport};
use std::collections::HashSet;
use std::io;
use std::sync::mpsc;
use std::thread;

/// Highest `--concurrency` accepted. With fewer targets than that (see [`run`]) each
/// connection in flight is a thread blocked on it (and each target in progress one more):
/// 10,000 in flight took 13,337 threads and 1.9 GB resident (`benches/scan_inflight.sh`),
/// and the kernel's default map count (65,530, two per thread) ends near 30,000 threads.
/// With as many targets or more, each slot is a coroutine (a 2 MiB stack of two maps, a
/// few pages of it touched).
pub const MAX_CONCURRENCY: usize = 16_384;
/// Highest `--retries` used (more are capped).
pub const MAX_RETRIES: u32 = 10;

/// A scan run, validated: targets parsed (files and standard input already read),
/// concurrency and rate in range.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// At least one, in the order given.
    pub targets: TargetList,
    /// The part of `targets` this run scans.
    pub shard: Shard,
    /// Keys ([`ScanTarget::key`]) of targets already scanned (`--resume`): skipped.
    pub done: HashSet<String>,
    /// Results in the order they finish instead of the order given.
    pub unordered: bool,
    pub options: ScanOptions,
    /// Connections at once, within a target and across targets (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: usize,
    /// At most this many new connections per second (finite and positive).
    pub rate: Option<f64>,
    /// At most this many new connections per second to any one target address.
    pub rate_per_target: Option<f64>,
    /// Trust store and check time for the certificate assessment.
    pub connecting: ConnectConfig,
    /// `--vulns`: the vulnerability checks to add to each result.
    pub vulns: Option<vulns::VulnMode>,
}

impl ScanConfig {
    /// The bounds on connections, checked on their own so a caller can refuse bad ones
    /// before it reads any targets.
    pub fn check_pace(
        concurrency: usize,
        rate: Option<f64>,
        rate_per_target: Option<f64>,
    ) -> Result<(), String> {
        if concurrency == 0 || concurrency > MAX_CONCURRENCY {
            return Err(format!("--concurrency: expected 1 to {MAX_CONCURRENCY}"));
        }
        for (flag, rate) in [("--rate", rate), ("--rate-per-target", rate_per_target)] {
            if let Some(r) = rate
                && !(r.is_finite() && r > 0.0)
            {
                return Err(format!("{flag}: expected a positive number"));
            }
        }
        Ok(())
    }

    /// Checks what the CLI (or any other caller) filled in; caps the retries.
    pub fn validate(self) -> Result<ScanConfig, String> {
        Self::check_pace(self.concurrency, self.rate, self.rate_per_target)?;
        if self.targets.is_empty() {
            return Err(
                "scan: no target (give TARGET..., --targets-file F, or - for stdin)".into(),
            );
        }
        Ok(ScanConfig {
            options: ScanOptions {
                retries: self.options.retries.min(MAX_RETRIES),
                ..self.options
            },
            ..self
        })
    }
}

impl ScanConfig {
    /// The targets this run scans, in order: the shard's, less those already done.
    pub fn selected(&self) -> impl Iterator<Item = ScanTarget> + '_ {
        self.shard
            .indices(self.targets.len())
            .filter_map(|i| self.targets.get(i))
            .filter(|t| !self.done.contains(&t.key()))
    }
}

/// Scans the selected targets of `cfg` over `transport` (targets in parallel up to the
/// concurrency), handing each result to `emit` in the order the targets were given (or as
/// they finish, `unordered`); stops at `emit`'s first error and returns it.
/// `on_handshake` is called at every connection (for a progress display).
pub fn run(
    cfg: &ScanConfig,
    transport: &dyn Transport,
    on_handshake: &(dyn Fn() + Sync),
    emit: &mut dyn FnMut(&ScanResult) -> io::Result<()>,
) -> io::Result<()> {
    let pacer = Pacer::new(cfg.concurrency, cfg.rate);
    let keys = keys::KeyPairs::new();
    // Workers take the next target from one shared iterator: the list is never expanded
    // in memory (a range is built address by address).
    let queue = std::sync::Mutex::new(cfg.selected().enumerate());
    let (tx, rx) = mpsc::channel::<(usize, Vec<ScanResult>)>();
    thread::scope(|s| {
        let first_batch = cfg.selected().take(cfg.concurrency).count();
        let make_worker = || {
            let tx = tx.clone();
            let (pacer, queue, keys) = (&pacer, &queue, &keys);
            move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some((i, target)) = next else {
                        break;
                    };
                    pacer.target_started(true);
                    // Each address of the target in turn; the results travel together so
                    // they are written next to each other.
                    let results = match cfg.connecting.addresses.per_address(&target.target) {
                        Ok(per_address) => {
                            let count = per_address.len();
                            per_address
                                .into_iter()
                                .enumerate()
                                .map(|(n, t)| {
                                    let one = ScanTarget {
                                        target: t,
                                        tag: target.tag.clone(),
                                    };
                                    ScanResult {
                                        sibling: (n, count),
                                        // What the target line pinned, not the address of the name.
                                        connect: target.target.connect.map(|ip| ip.to_string()),
                                        ..scan_target(
                                            cfg,
                                            &one,
                                            transport,
                                            pacer,
                                            keys,
                                            on_handshake,
                                        )
                                    }
                                })
                                .collect()
                        }
                        Err(e) => vec![unscanned(&target, e)],
                    };
                    pacer.target_started(false);
                    if tx.send((i, results)).is_err() {
                        break;
                    }
                }
            }
        };
        let wanted = cfg.concurrency.min(first_batch);
        // The one place where the way of waiting is chosen. With at least as many targets
        // as slots, the workers are coroutines on a thread per core (`io::coro`): each
        // target's parts then run in place (`tasks`), and a connection's waits suspend the
        // coroutine instead of blocking a thread. Else a thread per worker, and the parts
        // of a target on threads of their own: with slots to spare they shorten its scan.
        let mut workers = 0;
        if first_batch >= cfg.concurrency && transport.suspends() {
            let cores = thread::available_parallelism().map_or(1, |n| n.get());
            let mut shares: Vec<Vec<Box<dyn FnOnce() + Send + '_>>> =
                (0..cores.min(wanted)).map(|_| Vec::new()).collect();
            for n in 0..wanted {
                let share = n % shares.len();
                shares[share].push(Box::new(make_worker()));
            }
            for share in shares {
                let run =
                    move || coro::run(share.into_iter().map(|j| j as Box<dyn FnOnce()>).collect());
                if thread::Builder::new().spawn_scoped(s, run).is_err() {
                    break;
                }
                workers += 1;
            }
        } else {
            for _ in 0..wanted {
                // The system may refuse more threads (limits on tasks or memory maps): scan
                // with the workers it gave rather than fail.
                if thread::Builder::new()
                    .spawn_scoped(s, make_worker())
                    .is_err()
                {
                    break;
                }
                workers += 1;
            }
        }
        drop(tx);
        if workers == 0 && first_batch > 0 {
            return Err(io::Error::other(
                "scan: the system refused to start a thread",
            ));
        }
        let mut pending = std::collections::BTreeMap::new();
        let mut written = 0;
        for (i, results) in rx {
            if cfg.unordered {
                for result in &results {
                    emit(result)?;
                }
                continue;
            }
            pending.insert(i, results);
            while let Some(results) = pending.remove(&written) {
                // Dropping the receiver on error ends the workers at their next target.
                for result in &results {
                    emit(result)?;
                }
                written += 1;
            }
        }
        Ok(())
    })
}

/// A target none of whose addresses may be scanned (`-6` for a name with only IPv4
/// addresses): a result that says so, with nothing supported.
fn unscanned(target: &ScanTarget, why: String) -> ScanResult {
    let report = ScanReport {
        target: target.target.display(),
        error: Some(why),
        gave_up: false,
        versions: Vec::new(),
        groups: Vec::new(),
        post_quantum: None,
        sigalgs: None,
        probes: Vec::new(),
        handshakes: 0,
        retries: 0,
        elapsed_ms: 0,
        certificates: Vec::new(),
        diagnosis: Vec::new(),
        plan: Prefer::default(),
    };
    ScanResult {
        connect: target.target.connect.map(|ip| ip.to_string()),
        tag: target.tag.clone(),
        ..ScanResult::new(&report)
    }
}

/// One target: the enumeration, then the certificate assessment, named and judged.
pub fn scan_target(
    cfg: &ScanConfig,
    target: &ScanTarget,
    transport: &dyn Transport,
    pacer: &Pacer,
    keys: &keys::KeyPairs,
    on_handshake: &(dyn Fn() + Sync),
) -> ScanResult {
    let mut t = target.target.clone();
    t.starttls = cfg.connecting.starttls.for_port(t.port);
    t.preamble_host = cfg.connecting.preamble_host.clone();
    // The address this result is about (set by the caller for each address of a name).
    let address = t
        .connect
        .or_else(|| t.ip_literal())
        .map(|ip| ip.to_string());
    let scanner = Scanner::new(&t, transport, &cfg.options, pacer, on_handshake)
        .with_target_rate(cfg.rate_per_target)
        .with_key_pairs(keys);
    let mut report = scanner.run();
    check_certificates(&mut report, &t, &cfg.connecting);
    let vulnerabilities = cfg.vulns.map(|mode| {
        let (checks, sent) = vulns::assess(&report, mode, Some(&scanner));
        report.handshakes += sent;
        checks
    });
    ScanResult {
        vulnerabilities,
        starttls: t.starttls.map(|p| p.name()),
        connect: t.connect.map(|ip| ip.to_string()),
        address,
        tag: target.tag.clone(),
        ..ScanResult::new(&report)
    }
}

/// Assesses the verdict of the newest version that showed a chain (TLS 1.3's is decrypted).
fn check_certificates(report: &mut ScanReport, target: &Target, connecting: &ConnectConfig) {
    let Some(verdict) = report
        .versions
        .iter()
        .rev()
        .filter_map(|v| v.first.as_ref())
        .find(|v| !v.certificates.is_empty())
    else {
        return;
    };
    let chains = ChainChecker::new(Some(connecting.trust.store()));
    let a = assess(
        verdict,
        &Context {
            host: Some(&target.host),
            now_unix: connecting.check_time,
            chains: Some(&chains),
            ..Default::default()
        },
    );
    report.certificates = a.certificates.to_vec();
    // After the target's own causes (why the scan broke off), each cause once.
    for d in a.diagnosis {
        if !report.diagnosis.iter().any(|have| have.cause == d.cause) {
            report.diagnosis.push(d);
        }
    }
}
