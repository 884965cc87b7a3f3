//! `shakedown pcap` over its inputs: [`Input`], [`PcapConfig`] and [`run`], which reads
//! each input on two threads (capture and report: `two_stage`) and ends with a
//! [`PcapOutcome`].

use super::analyze::{Assessor, Finished, analyze_finished};
use super::reporter::{Emit, Reporter};
use super::{
    AnalyzeOptions, AnalyzeStats, ConnectionReport, HandshakeCounts, PcapSummaryLine, Selection,
};
use crate::commands::Failure;
use crate::core::session::Verdict;
use crate::io::capture::{self, CaptureError, ReadOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// One input of `pcap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// The name in connection names (`NAME#N`) and the summary: the path as given, `stdin`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "stdin".into(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// Validated `pcap` options.
#[derive(Debug, Clone)]
pub struct PcapConfig {
    /// At least one; standard input at most once.
    pub inputs: Vec<Input>,
    pub select: Selection,
    pub analysis: AnalyzeOptions,
    /// Read files through a memory map where possible.
    pub mmap: bool,
    /// The flow table's limits (`--max-flows`, `--memcap`, `--flow-timeout`).
    pub read: ReadOptions,
    /// `--summary`: count handshakes by cause, server, SNI, version and outcome, with this
    /// many SNIs and servers given their own label.
    pub count_labels: Option<usize>,
}

/// What a `pcap` or `watch` run ends with.
#[derive(Debug)]
pub struct PcapOutcome {
    pub summary: PcapSummaryLine,
    /// Inputs that could not be read at all (opened, or their first packet).
    pub unreadable: usize,
    /// Inputs read in part: reading stopped at damage or a cut (what came before is
    /// reported).
    pub cut_short: usize,
    /// The handshake counts (`pcap --summary`).
    pub counts: Option<HandshakeCounts>,
}

/// Where one input's bytes come from.
enum Source {
    File(std::fs::File),
    /// Standard input that is not a file (a pipe, a terminal): streamed.
    Stdin,
}

/// Finished connections handed from the capture thread to the reporting thread at once:
/// one wake-up per batch, not per connection.
const BATCH: usize = 32;
/// Batches in flight between the two threads: what the capture side may run ahead of the
/// reports (bounded memory: at most this many batches of verdicts wait).
///
/// Small on purpose: every verdict alive between the threads holds heap the capture
/// thread cannot reuse for the next connection's, so it takes fresh pages instead (each a
/// page fault and a zeroing). 64 connections a batch and 8 in flight cost the capture
/// thread of `--json` ≈ 500 more page faults than the text report on the bulk-heavy bench
/// capture, and ≈ 1 ms of its CPU at load 2–3; on a quiet machine neither setting was
/// faster in wall time (docs/benchmarks.md#pcap-batches).
const BATCHES_IN_FLIGHT: usize = 1;

/// Reported verdicts on their way back to the capture thread, which frees them. Freed on
/// the reporting thread instead, each of a verdict's blocks is a free into another
/// thread's pages: an atomic push the capture thread's allocator must collect before it
/// can reuse the block, and the block's cache lines moved to the other core and back.
/// `--json`'s CPU time fell 0–9 % with this in seven A/B sets on the QUIC and 1 GB TCP
/// bench captures (docs/benchmarks.md#pcap-quic-thp).
type Spent = Vec<Verdict>;
/// Batches of [`Spent`] in flight: the capture thread takes them at each batch it hands
/// on, so one or two wait at most; beyond this the reporting thread frees them itself.
const SPENT_IN_FLIGHT: usize = BATCHES_IN_FLIGHT;

/// Reads one input on two threads (the JSON report; the text report on one): a capture thread (blocks, link, IP, TCP, the session
/// trackers, up to each connection's verdict) and this one (assessment, certificate checks,
/// the summary's counters, rendering and writing, in `on_report`). Connections reach
/// `on_report` in the order they finished, exactly as on one thread, so the output is the
/// same byte for byte; the flow table's limits (`--max-flows`, `--memcap`) are the capture
/// side's, as before. The verdicts waiting between the threads are bounded
/// ([`BATCH`] × [`BATCHES_IN_FLIGHT`]). The verdicts reported are handed back to the
/// capture thread to be freed there, where they were allocated (see [`Spent`]).
fn two_stage(
    cfg: &PcapConfig,
    source: Source,
    on_report: &mut dyn FnMut(&ConnectionReport),
) -> (AnalyzeStats, Option<CaptureError>) {
    let assessor = Assessor::new(&cfg.analysis);
    let (read, map) = (&cfg.read, cfg.mmap);
    let read_source = move |source: Source, sink: &mut dyn capture::FlowSink| match source {
        Source::File(f) => capture::read_capture_file(f, map, read, sink),
        Source::Stdin => capture::read_capture(std::io::stdin().lock(), read, sink),
    };
    // Whether the reporting thread is at work on a batch (the capture thread's reader puts
    // off giving back mapped pages meanwhile: `FlowSink::busy`).
    let reporting = AtomicBool::new(false);
    // Borrowed by the capture thread; taken back here if no thread can be had.
    let slot = std::sync::Mutex::new(Some(source));
    // Only the JSON report (fingerprints, certificates, events written out) has enough
    // reporting work to gain from a thread of its own: for the text report the hand-over
    // cost more than it moved (1 GB bench capture, 5 interleaved runs: 0.188 s on two
    // threads against 0.146 s on one; `--json` 0.149 s against 0.201 s).
    let threaded = cfg
        .select
        .fingerprints
        .then(|| {
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Finished>>(BATCHES_IN_FLIGHT);
                let (spent_tx, spent_rx) = std::sync::mpsc::sync_channel::<Spent>(SPENT_IN_FLIGHT);
                let slot = &slot;
                let reporting = &reporting;
                let capture = std::thread::Builder::new()
                    .name("capture".into())
                    .spawn_scoped(scope, move || {
                        let source = slot.lock().ok().and_then(|mut s| s.take());
                        let mut batch = Vec::with_capacity(BATCH);
                        let mut hand_on = |f: Finished| {
                            batch.push(f);
                            if batch.len() == BATCH {
                                // The verdicts already reported are freed here, where they
                                // were allocated.
                                while let Ok(spent) = spent_rx.try_recv() {
                                    drop(spent);
                                }
                                // The reporting side gone (it panicked): nothing more to hand on.
                                let _ = tx
                                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                            }
                        };
                        let out = analyze_finished(
                            cfg.analysis.clone(),
                            &mut hand_on,
                            Some(reporting),
                            |sink| read_source(source.expect("the source is taken once"), sink),
                        );
                        if !batch.is_empty() {
                            let _ = tx.send(batch);
                        }
                        out
                    })
                    .ok()?;
                for batch in rx {
                    reporting.store(true, Ordering::Relaxed);
                    let mut spent = Vec::with_capacity(batch.len());
                    for f in batch {
                        let report = assessor.report(f);
                        on_report(&report);
                        spent.push(report.verdict);
                    }
                    // Back to the capture thread to be freed; freed here if it ended or has
                    // not taken the ones before (the channel is full).
                    let _ = spent_tx.try_send(spent);
                    reporting.store(false, Ordering::Relaxed);
                }
                match capture.join() {
                    Ok(out) => Some(out),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        })
        .flatten();
    if let Some(out) = threaded {
        return out;
    }
    // No second thread: both stages on this one.
    let source = slot
        .into_inner()
        .ok()
        .flatten()
        .expect("not taken without a thread");
    let mut finished = |f: Finished| on_report(&assessor.report(f));
    analyze_finished(cfg.analysis.clone(), &mut finished, None, |sink| {
        read_source(source, sink)
    })
}

/// Runs `shakedown pcap`: every input in turn, each reported connection to `emit` as its
/// flow ends. Problems with one input (it cannot be opened, reading stopped early) go to
/// `warn` and the other inputs are still read.
pub fn run(
    cfg: &PcapConfig,
    emit: &mut Emit<'_>,
    warn: &mut dyn FnMut(&str),
) -> Result<PcapOutcome, Failure> {
    let mut reporter = Reporter::new(&cfg.select, emit);
    reporter.counts = cfg.count_labels.map(HandshakeCounts::new);
    let (mut unreadable, mut cut_short) = (0, 0);
    for input in &cfg.inputs {
        let name = input.name();
        let source = match input {
            Input::Stdin => match capture::stdin_file() {
                Some(f) => Source::File(f),
                None => Source::Stdin,
            },
            Input::File(path) => match std::fs::File::open(path) {
                Ok(f) => Source::File(f),
                Err(e) => {
                    warn(&format!("{name}: {e}"));
                    unreadable += 1;
                    continue;
                }
            },
        };
        let (stats, error) = two_stage(cfg, source, &mut |r| reporter.connection(&name, r));
        if let Some(e) = &error {
            warn(&format!("{name}: {e}"));
            if stats.capture.packets == 0 {
                unreadable += 1;
            } else {
                cut_short += 1;
            }
        }
        let error_detail = error.as_ref().and_then(CaptureError::library_detail);
        reporter
            .tally
            .input(&name, &stats, error.map(|e| e.to_string()), error_detail);
        if let Some(e) = reporter.error.take() {
            return Err(e.into());
        }
    }
    Ok(PcapOutcome {
        counts: reporter.counts.take(),
        summary: reporter.tally.into_summary(),
        unreadable,
        cut_short,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::pcap::{Filter, PcapConnection, Trust};
    use crate::core::cert::TrustStore;
    use std::sync::Arc;

    /// The repository's test root beside the Mozilla roots.
    fn test_root() -> TrustStore {
        let mut store = TrustStore::webpki_roots();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/root.pem");
        store
            .add_pem(&std::fs::read_to_string(root).unwrap())
            .unwrap();
        store
    }

    /// Every connection of the given captures (all of `captures/` if none), as JSON, in
    /// the order emitted, then the summary; chains checked against `trust` (none: no checks).
    fn emitted(trust: Option<Trust>, fingerprints: bool, only: &[&str]) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut inputs: Vec<Input> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .filter(|p| only.is_empty() || only.iter().any(|o| p.ends_with(o)))
            .map(Input::File)
            .collect();
        inputs.sort_by_key(|i| i.name());
        let cfg = PcapConfig {
            inputs,
            select: Selection {
                filter: Filter::default(),
                all: true,
                fingerprints,
            },
            analysis: AnalyzeOptions {
                trust,
                ..AnalyzeOptions::default()
            },
            mmap: true,
            read: ReadOptions::default(),
            count_labels: None,
        };
        let mut lines = Vec::new();
        let mut emit = |c: &PcapConnection<'_>| {
            lines.push(serde_json::to_string(c).unwrap());
            Ok(())
        };
        let outcome = run(&cfg, &mut emit, &mut |_| {}).unwrap();
        lines.push(serde_json::to_string(&outcome.summary).unwrap());
        lines
    }

    /// A trust store built at the first chain check gives the reports the same store given
    /// at the start gives, on one thread and on two; a capture with no certificate to check
    /// never builds it.
    #[test]
    fn trust_built_when_a_chain_is_checked() {
        let trust = Arc::new(test_root());
        for fingerprints in [false, true] {
            let given = emitted(Some(trust.clone().into()), fingerprints, &[]);
            let later = Trust::on_demand(test_root);
            let on_demand = emitted(Some(later.clone()), fingerprints, &[]);
            assert!(later.built());
            assert_eq!(later.store().len(), trust.len());
            assert!(given.len() > 20, "{} connections", given.len());
            // The test root matters: without it some chains are judged differently.
            let untrusted = emitted(None, fingerprints, &[]);
            assert_ne!(given, untrusted);
            assert_eq!(given, on_demand, "fingerprints {fingerprints}");

            // TLS 1.3 and QUIC without keys: the certificates are encrypted, none to check.
            let unused = Trust::on_demand(test_root);
            let lines = emitted(
                Some(unused.clone()),
                fingerprints,
                &["tls13_success.pcap", "quic_handshakes.pcap"],
            );
            assert!(lines.len() >= 9, "{lines:?}");
            assert!(!unused.built(), "built for {lines:?}");
        }
    }
}
