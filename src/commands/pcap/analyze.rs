//! The analyzer: a capture's flows, each through its own session tracker, to finished
//! connections ([`FlowSink`] for the capture reader, with the memory its open flows hold);
//! the assessor, finished connections to reports (each distinct chain checked once); and
//! [`analyze`] / [`analyze_file`], which put the two together.

use super::{ConnectionReport, Trust};
use crate::core::assess;
use crate::core::cert::ChainChecker;
use crate::core::crypto::KeyLog;
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::{Tracker, Verdict};
use crate::core::wire::starttls::{Protocol, Seen, Watcher};
use crate::io::capture::{
    self, CaptureError, CaptureStats, FlowEnd, FlowId, FlowInfo, FlowSink, QuicSignal, ReadOptions,
};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to check certificates against, and the keys to decrypt with.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Unix seconds; `None`: as of the connection's own time in the capture.
    pub check_time: Option<i64>,
    /// NSS key log secrets (`--keylog`): encrypted handshakes and alerts are decrypted.
    /// Secrets embedded in a pcapng capture (Decryption Secrets Blocks) are added to them.
    pub keylog: Option<Arc<KeyLog>>,
    /// Trust anchors for chain checks (`None`: no trust checks).
    pub trust: Option<Trust>,
}

/// An open connection. Boxed in the analyzer's table: the tracker is large (kilobytes), and
/// a table of inline trackers costs that per slot, empty slots included, and moves them
/// all when it grows.
struct Open {
    info: FlowInfo,
    tracker: Tracker,
    /// A plaintext preamble (SMTP STARTTLS, PostgreSQL SSLRequest, …) kept from the
    /// tracker until TLS starts.
    preamble: Watcher,
    /// This connection's share of [`Analyzer::memory`].
    cost: usize,
}

/// What an open connection is counted as holding when it starts: its box, its table slot
/// (with the table's slack), and an allowance for the verdict's first allocations.
const OPEN_COST: usize =
    std::mem::size_of::<Open>() + 2 * std::mem::size_of::<(FlowId, Box<Open>)>() + 1024;

/// Each byte given to an undecided tracker is counted this many times: the tracker keeps
/// the bytes of unfinished records and messages, and decodes what it reads into owned
/// structures (hello, certificates, events) a few times the size of the wire bytes.
/// Calibrated on never-completing ClientHellos (docs/pcap.md, "Memory").
const HELD_PER_BYTE: usize = 4;

pub(super) struct Analyzer<'a> {
    /// Looked up for every delivery: foldhash rather than the slower default SipHash.
    flows: HashMap<FlowId, Box<Open>, foldhash::fast::RandomState>,
    /// Estimated bytes held for the open connections (the sum of their `cost`), counted
    /// against the reader's memcap.
    memory: usize,
    opts: AnalyzeOptions,
    emit: &'a mut dyn FnMut(Finished),
    pub(super) non_tls_flows: u64,
    /// Set by the reporting thread while it reports a batch ([`FlowSink::busy`]).
    reporting: Option<&'a AtomicBool>,
}

impl<'a> Analyzer<'a> {
    pub(super) fn new(
        opts: AnalyzeOptions,
        emit: &'a mut dyn FnMut(Finished),
        reporting: Option<&'a AtomicBool>,
    ) -> Self {
        Analyzer {
            flows: HashMap::default(),
            memory: 0,
            opts,
            emit,
            non_tls_flows: 0,
            reporting,
        }
    }
}

/// A TLS connection whose flow ended, before its assessment: what the capture side hands
/// to the reporting side (on another thread in [`run`](super::run)).
pub(super) struct Finished {
    info: FlowInfo,
    verdict: Verdict,
    ended: FlowEnd,
    starttls: Option<Protocol>,
}

/// Turns finished connections into reports: the assessment, with each distinct certificate
/// chain parsed and checked once.
pub(super) struct Assessor {
    check_time: Option<i64>,
    /// Chain checks against the trust store, parsing each distinct chain once; made when
    /// the first chain is checked (the store may be built only then).
    chains: std::cell::OnceCell<ChainChecker>,
    trust: Option<Trust>,
}

impl Assessor {
    pub(super) fn new(opts: &AnalyzeOptions) -> Self {
        Assessor {
            check_time: opts.check_time,
            chains: std::cell::OnceCell::new(),
            trust: opts.trust.clone(),
        }
    }

    /// The chain checker, with the trust store built if it was not yet.
    fn chains(&self) -> &ChainChecker {
        self.chains
            .get_or_init(|| ChainChecker::new(self.trust.as_ref().map(Trust::store)))
    }

    pub(super) fn report(&self, f: Finished) -> ConnectionReport {
        // Only a connection with certificates has a chain to check (`assess` reads
        // `chains` for nothing else): the others do not build the trust store.
        let chains = (!f.verdict.certificates.is_empty()).then(|| self.chains());
        let mut report = report(f.info, f.verdict, f.ended, self.check_time, chains);
        report.starttls = f.starttls;
        report
    }
}

/// True once a capture needs no more bytes of this connection: the handshake is decided,
/// or the client's first bytes showed it is not TLS at all.
fn settled(v: &Verdict) -> bool {
    v.established || v.alert.is_some() || v.error.is_some() || v.not_tls.is_some()
}

/// A flow belongs in the report when TLS was spoken on it, or a TLS client got a non-TLS
/// answer (HTTP on a TLS port).
fn is_tls(v: &Verdict) -> bool {
    v.client_hello.is_some() || v.server_hello.is_some() || v.sslv2_client_hello.is_some()
}

impl FlowSink for Analyzer<'_> {
    fn secrets(&mut self, secrets_type: u32, data: &[u8]) {
        if secrets_type != capture::SECRETS_TLS_KEY_LOG {
            return;
        }
        // Lines that do not parse are skipped, as in a key log file.
        let (embedded, _problems) = KeyLog::parse(&String::from_utf8_lossy(data));
        let mut merged = self.opts.keylog.as_deref().cloned().unwrap_or_default();
        merged.extend(embedded);
        // Connections that start from now on decrypt with these too.
        self.opts.keylog = Some(Arc::new(merged));
    }

    fn flow_start(&mut self, info: &FlowInfo) {
        let mut tracker = match &self.opts.keylog {
            Some(k) => Tracker::with_key_log(k.clone()),
            None => Tracker::new(),
        };
        if !info.saw_handshake {
            tracker.picked_up_mid_stream();
        }
        let open = Box::new(Open {
            info: info.clone(),
            tracker,
            preamble: Watcher::default(),
            cost: OPEN_COST,
        });
        self.memory += OPEN_COST;
        if let Some(old) = self.flows.insert(info.id, open) {
            self.memory -= old.cost;
        }
    }

    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], at: Micros) {
        if let Some(open) = self.flows.get_mut(&id) {
            if !settled(open.tracker.verdict()) {
                let held = bytes.len().saturating_mul(HELD_PER_BYTE);
                open.cost = open.cost.saturating_add(held);
                self.memory = self.memory.saturating_add(held);
            }
            let from_client = dir == Direction::ClientToServer;
            match open.preamble.on_data(from_client, bytes) {
                Seen::NotAPreamble => open.tracker.on_data(dir, bytes, at),
                Seen::TlsFrom(n) if n < bytes.len() => open.tracker.on_data(dir, &bytes[n..], at),
                Seen::TlsFrom(_) | Seen::Plain | Seen::Refused => {}
            }
        }
    }

    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros) {
        if let Some(open) = self.flows.get_mut(&id) {
            open.tracker.on_end(dir, kind, at);
        }
    }

    fn quic(&mut self, id: FlowId, dir: Direction, signal: &QuicSignal<'_>, at: Micros) {
        if let Some(open) = self.flows.get_mut(&id) {
            open.tracker.on_quic(dir, signal, at);
        }
    }

    fn flow_end(&mut self, id: FlowId, _at: Micros, why: FlowEnd) {
        let Some(open) = self.flows.remove(&id) else {
            return;
        };
        let Open {
            info,
            tracker,
            preamble,
            cost,
        } = *open;
        self.memory = self.memory.saturating_sub(cost);
        let verdict = tracker.into_verdict();
        if !is_tls(&verdict) {
            self.non_tls_flows += 1;
            return;
        }
        (self.emit)(Finished {
            info,
            verdict,
            ended: why,
            starttls: preamble.protocol.filter(|_| preamble.upgraded()),
        });
    }

    fn wants_data(&self, id: FlowId) -> bool {
        // With keys, an established connection is read on: its encrypted alerts and
        // session tickets are part of what the keys show.
        self.flows.get(&id).is_some_and(|open| {
            let t = &open.tracker;
            let v = t.verdict();
            let unsettled = !settled(v) && !open.preamble.refused() && !t.mid_stream_unreadable();
            unsettled || (t.decrypting() && v.established)
        })
    }

    fn memory(&self) -> usize {
        self.memory
    }

    fn busy(&self) -> bool {
        self.reporting.is_some_and(|r| r.load(Ordering::Relaxed))
    }
}

fn report(
    info: FlowInfo,
    verdict: Verdict,
    ended: FlowEnd,
    check_time: Option<i64>,
    chains: Option<&ChainChecker>,
) -> ConnectionReport {
    let host = verdict.client_hello.as_ref().and_then(|h| h.sni());
    let check_time = check_time.unwrap_or((info.start / 1_000_000) as i64);
    let a = assess::assess(
        &verdict,
        &assess::Context {
            host: host.as_deref(),
            now_unix: check_time,
            chains,
            ..assess::Context::default()
        },
    );
    ConnectionReport {
        index: info.id.0,
        client: info.client,
        server: info.server,
        start: info.start,
        from_syn: info.saw_handshake,
        verdict,
        sni: host,
        certificates: a.certificates,
        findings: a.findings,
        diagnosis: a.diagnosis,
        ended,
        starttls: None,
        transport: info.transport,
    }
}

/// Totals over one capture.
#[derive(Debug, Default)]
pub struct AnalyzeStats {
    pub capture: CaptureStats,
    /// TCP flows on which no TLS was seen (not reported one by one).
    pub non_tls_flows: u64,
}

/// Reads a capture and hands each TLS connection's report to `emit` as its flow ends.
/// On a read error, the connections before it have been emitted and the error says where.
pub fn analyze(
    input: impl Read,
    read: &ReadOptions,
    opts: AnalyzeOptions,
    emit: &mut dyn FnMut(ConnectionReport),
) -> (AnalyzeStats, Option<CaptureError>) {
    analyze_with(opts, emit, |sink| capture::read_capture(input, read, sink))
}

/// [`analyze`] of an opened file, memory-mapped if `map` and it can be
/// ([`capture::read_capture_file`]); the same results either way.
pub fn analyze_file(
    input: std::fs::File,
    map: bool,
    read: &ReadOptions,
    opts: AnalyzeOptions,
    emit: &mut dyn FnMut(ConnectionReport),
) -> (AnalyzeStats, Option<CaptureError>) {
    analyze_with(opts, emit, |sink| {
        capture::read_capture_file(input, map, read, sink)
    })
}

fn analyze_with(
    opts: AnalyzeOptions,
    emit: &mut dyn FnMut(ConnectionReport),
    read: impl FnOnce(&mut dyn capture::FlowSink) -> Result<CaptureStats, CaptureError>,
) -> (AnalyzeStats, Option<CaptureError>) {
    let assessor = Assessor::new(&opts);
    let mut finished = |f: Finished| emit(assessor.report(f));
    analyze_finished(opts, &mut finished, None, read)
}

/// [`analyze_with`] up to the finished connections, not assessed yet.
pub(super) fn analyze_finished(
    opts: AnalyzeOptions,
    emit: &mut dyn FnMut(Finished),
    reporting: Option<&AtomicBool>,
    read: impl FnOnce(&mut dyn capture::FlowSink) -> Result<CaptureStats, CaptureError>,
) -> (AnalyzeStats, Option<CaptureError>) {
    let mut analyzer = Analyzer::new(opts, emit, reporting);
    let (capture, error) = match read(&mut analyzer) {
        Ok(stats) => (stats, None),
        Err(e) => (*e.stats.clone(), Some(e)),
    };
    let stats = AnalyzeStats {
        capture,
        non_tls_flows: analyzer.non_tls_flows,
    };
    (stats, error)
}
