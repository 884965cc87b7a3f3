//! `shakedown pcap`: a capture's TCP flows, each fed to its own session tracker (the same
//! one `probe` uses), turned into per-connection reports as the flows end. Reports stream
//! out through a callback, so memory holds only the flows still open.
//!
//! The command ([`PcapConfig`] → [`run`]) streams: each selected connection goes to the
//! `emit` callback as a [`PcapConnection`] when its flow ends; the [`PcapSummaryLine`]
//! (bounded counters) is returned at the end. `watch` (feature `live`) feeds packets from an
//! interface through the same [`capture::PacketReader`] and analyzer.

pub mod counts;
pub mod result;

pub use counts::{CaptureCounts, HandshakeCounts, HandshakeCountsLine, WatchMetrics};

pub use result::{
    AlertResult, CaptureTime, ConnectionName, DecryptionResult, Diagnoses, DivergedResult, Events,
    ExtensionTypes, HexId, InputResult, NameFailures, Named, NamedList, OfferedHello,
    PcapConnection, PcapSummary, PcapSummaryLine, Prerendered, Registry, ServerHelloResult, Text,
    Version,
};

pub use crate::commands::Trust;
use crate::commands::{Failure, SchemaVersion, facts};
use crate::core::assess::{self, Diagnosis};
use crate::core::cert::{CertInfo, ChainChecker, Finding};
use crate::core::crypto::KeyLog;
use crate::core::fingerprint::{self, Ja3};
use crate::core::flow::{Direction, EndKind, Micros, Transport};
use crate::core::session::{Outcome, Tracker, Verdict};
use crate::core::wire::ClientHello;
use crate::core::wire::starttls::{Protocol, Seen, Watcher};
use crate::io::capture::{
    self, CaptureError, CaptureStats, FlowEnd, FlowId, FlowInfo, FlowSink, QuicSignal, ReadOptions,
};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One connection of a capture, with everything the reports show.
#[derive(Debug)]
pub struct ConnectionReport {
    /// 1-based index among the capture's flows (TCP and QUIC), in order of first packet.
    pub index: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Micros,
    /// The connection was seen from its SYN (else picked up mid-stream); QUIC: always (a
    /// connection starts with the client's Initial).
    pub from_syn: bool,
    pub verdict: Verdict,
    /// The server name the client asked for (read once: filters, summary and lines ask).
    pub sni: Option<String>,
    /// Shared with the other connections that sent the same chain.
    pub certificates: Arc<[CertInfo]>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
    /// How the flow ended.
    pub ended: FlowEnd,
    /// The plaintext preamble TLS followed (SMTP STARTTLS, PostgreSQL SSLRequest, …).
    pub starttls: Option<Protocol>,
    /// TCP, or QUIC.
    pub transport: Transport,
}

/// Why an `incomplete` connection's handshake was not followed to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncompleteReason {
    /// Bytes are missing from the capture (loss, snap length, a hole that never filled).
    Gap,
    /// The capture ended (or `watch` stopped) with the handshake still under way.
    CaptureEnd,
    /// No packet for the idle timeout (`--flow-timeout`) of capture time.
    IdleTimeout,
    /// The flow table was full (`--max-flows`, `--memcap`): the flow was ended early to make
    /// room.
    Evicted,
    /// A new connection (a fresh SYN) on the same addresses and ports ended this one.
    PortReused,
}

impl IncompleteReason {
    pub fn as_str(self) -> &'static str {
        match self {
            IncompleteReason::Gap => "gap",
            IncompleteReason::CaptureEnd => "capture_end",
            IncompleteReason::IdleTimeout => "idle_timeout",
            IncompleteReason::Evicted => "evicted",
            IncompleteReason::PortReused => "port_reused",
        }
    }
}

impl ConnectionReport {
    /// The contract's outcome: `established`, `alert`, `reset`, `closed`, `incomplete`,
    /// `not_tls` or `no_progress`. A handshake still under way when its flow ended (capture stopped, idle
    /// timeout, gap) is `incomplete`.
    pub fn outcome(&self) -> &'static str {
        if self.verdict.established {
            return "established";
        }
        match self.verdict.outcome {
            Outcome::Alert => "alert",
            Outcome::Reset => "reset",
            Outcome::Closed => "closed",
            Outcome::NotTls => "not_tls",
            Outcome::NoProgress => "no_progress",
            Outcome::Established
            | Outcome::ServerHello
            | Outcome::HelloRetryRequest
            | Outcome::Timeout
            | Outcome::Incomplete => "incomplete",
        }
    }

    /// A handshake failure was observed: an alert, a reset or close before the handshake
    /// completed, a peer that does not speak TLS, or a server that talked without progress. `incomplete` is not a failure: the
    /// capture does not show how it ended.
    pub fn failed(&self) -> bool {
        matches!(
            self.outcome(),
            "alert" | "reset" | "closed" | "not_tls" | "no_progress"
        )
    }

    /// For an `incomplete` connection, why: bytes missing, else how its flow was ended.
    pub fn incomplete_reason(&self) -> Option<IncompleteReason> {
        if self.outcome() != "incomplete" {
            return None;
        }
        if self.verdict.end.is_some_and(|e| e.kind == EndKind::Gap) {
            return Some(IncompleteReason::Gap);
        }
        match self.ended {
            FlowEnd::InputEnd => Some(IncompleteReason::CaptureEnd),
            FlowEnd::IdleTimeout => Some(IncompleteReason::IdleTimeout),
            FlowEnd::Evicted => Some(IncompleteReason::Evicted),
            FlowEnd::PortReused => Some(IncompleteReason::PortReused),
            FlowEnd::Closed | FlowEnd::Settled => None,
        }
    }

    /// The server name the client asked for.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    // The fingerprints are taken on demand, not stored: the text report does not show them,
    // and hashing them for every connection of a large capture is a good part of its cost.

    /// JA4 of the ClientHello.
    pub fn ja4(&self) -> Option<String> {
        let h = self.verdict.client_hello.as_ref()?;
        Some(fingerprint::ja4_over(h, self.transport))
    }

    /// JA3S of the ServerHello.
    pub fn ja3s(&self) -> Option<Ja3> {
        self.verdict
            .server_hello
            .as_ref()
            .map(|sh| fingerprint::ja3s(sh.legacy_version, sh.cipher_suite, &sh.extension_types()))
    }

    /// Microseconds from the flow's first packet to the verdict (decided or established).
    pub fn time_to_verdict(&self) -> Option<Micros> {
        self.verdict
            .decided_at
            .map(|at| at.saturating_sub(self.start))
    }
}

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

struct Analyzer<'a> {
    /// Looked up for every delivery: foldhash rather than the slower default SipHash.
    flows: HashMap<FlowId, Box<Open>, foldhash::fast::RandomState>,
    /// Estimated bytes held for the open connections (the sum of their `cost`), counted
    /// against the reader's memcap.
    memory: usize,
    opts: AnalyzeOptions,
    emit: &'a mut dyn FnMut(Finished),
    non_tls_flows: u64,
    /// Set by the reporting thread while it reports a batch ([`FlowSink::busy`]).
    reporting: Option<&'a AtomicBool>,
}

impl<'a> Analyzer<'a> {
    fn new(
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
/// to the reporting side (on another thread in [`run`]).
pub(crate) struct Finished {
    info: FlowInfo,
    verdict: Verdict,
    ended: FlowEnd,
    starttls: Option<Protocol>,
}

/// Turns finished connections into reports: the assessment, with each distinct certificate
/// chain parsed and checked once.
struct Assessor {
    check_time: Option<i64>,
    /// Chain checks against the trust store, parsing each distinct chain once; made when
    /// the first chain is checked (the store may be built only then).
    chains: std::cell::OnceCell<ChainChecker>,
    trust: Option<Trust>,
}

impl Assessor {
    fn new(opts: &AnalyzeOptions) -> Self {
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

    fn report(&self, f: Finished) -> ConnectionReport {
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
fn analyze_finished(
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

/// Which connections a command reports.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub failed_only: bool,
    pub sni: Option<String>,
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
}

impl Filter {
    /// True when the connection passes the SNI, host and port filters (not `failed_only`).
    pub fn matches_endpoints(&self, r: &ConnectionReport) -> bool {
        if let Some(ip) = self.host
            && r.client.ip() != ip
            && r.server.ip() != ip
        {
            return false;
        }
        if let Some(port) = self.port
            && r.client.port() != port
            && r.server.port() != port
        {
            return false;
        }
        match &self.sni {
            None => true,
            Some(want) => r.sni().is_some_and(|sni| sni_matches(want, sni)),
        }
    }

    pub fn selects(&self, r: &ConnectionReport) -> bool {
        self.matches_endpoints(r) && (!self.failed_only || r.failed())
    }
}

/// Case-insensitive, ignoring a trailing dot; `*.parent` matches names below `parent`.
/// Runs for every connection when `--sni` is given: compares in place, no copies.
fn sni_matches(pattern: &str, sni: &str) -> bool {
    let sni = sni.trim_end_matches('.');
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(parent) => {
            // Bytes, not str slices: a name need not be ASCII (nor cut at a char boundary).
            let (sni, parent) = (sni.as_bytes(), parent.as_bytes());
            sni.len() > parent.len() + 1
                && sni[sni.len() - parent.len() - 1] == b'.'
                && sni[sni.len() - parent.len()..].eq_ignore_ascii_case(parent)
        }
        None => sni.eq_ignore_ascii_case(pattern),
    }
}

/// Distinct server names kept in the failure ranking; beyond it, failures are still counted
/// (as `other names`) but memory does not grow with the capture.
const MAX_NAMES: usize = 10_000;

/// Server names listed in the summary.
const TOP_NAMES: usize = 10;

/// The summary's counters while connections come: bounded whatever the capture size.
#[derive(Debug, Default)]
struct Tally {
    connections: u64,
    failed: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    by_cause: BTreeMap<&'static str, u64>,
    /// Incomplete connections per reason.
    by_incomplete_reason: BTreeMap<&'static str, u64>,
    /// Failed connections per SNI (`(no SNI)` when none was sent).
    failures_by_name: HashMap<String, u64>,
    /// Failures whose name did not fit in `failures_by_name`.
    failures_other_names: u64,
    inputs: Vec<InputResult>,
}

impl Tally {
    fn add(&mut self, r: &ConnectionReport) {
        self.connections += 1;
        *self.by_outcome.entry(r.outcome()).or_default() += 1;
        if let Some(reason) = r.incomplete_reason() {
            *self
                .by_incomplete_reason
                .entry(reason.as_str())
                .or_default() += 1;
        }
        if !r.failed() {
            return;
        }
        self.failed += 1;
        for d in &r.diagnosis {
            *self.by_cause.entry(d.cause.id()).or_default() += 1;
        }
        let name = r.sni().unwrap_or("(no SNI)");
        if let Some(n) = self.failures_by_name.get_mut(name) {
            *n += 1;
        } else if self.failures_by_name.len() < MAX_NAMES {
            self.failures_by_name.insert(name.to_string(), 1);
        } else {
            self.failures_other_names += 1;
        }
    }

    fn input(
        &mut self,
        name: &str,
        stats: &AnalyzeStats,
        error: Option<String>,
        error_detail: Option<String>,
    ) {
        let c = &stats.capture;
        self.inputs.push(InputResult {
            bytes: c.bytes,
            capture: name.to_string(),
            error,
            evicted_flows: c.evicted_flows,
            expired_flows: c.expired_flows,
            error_detail,
            flows: c.flows,
            gaps: c.gaps,
            non_tls_flows: stats.non_tls_flows,
            packets: c.packets,
            truncated_packets: c.truncated_packets,
        });
    }

    fn into_summary(self) -> PcapSummaryLine {
        let mut names: Vec<(String, u64)> = self.failures_by_name.into_iter().collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        names.truncate(TOP_NAMES);
        PcapSummaryLine {
            schema_version: SchemaVersion,
            summary: PcapSummary {
                by_outcome: self.by_outcome,
                connections: self.connections,
                failed: self.failed,
                failures_by_cause: self.by_cause,
                incomplete_by_reason: self.by_incomplete_reason,
                inputs: self.inputs,
                most_failing_names: names
                    .into_iter()
                    .map(|(sni, failures)| NameFailures { failures, sni })
                    .collect(),
                failures_other_names: self.failures_other_names,
            },
        }
    }
}

/// Which connections are reported, and with what.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: Filter,
    /// Every selected connection, not only the failed ones.
    pub all: bool,
    /// Take the JA3/JA3S/JA4 fingerprints (the JSON report shows them; text does not, and
    /// hashing them for every connection is a good part of a large capture's cost).
    pub fingerprints: bool,
}

/// Entries a [`JsonParts`] cache holds before it is emptied: memory stays bounded.
const MAX_PARTS: usize = 4096;

/// The parts of connection results that many connections share, each written as JSON once
/// (see [`Prerendered`]): the offered hello with its fingerprints, by everything it shows;
/// the certificates, by the chain the chain checker shares between connections.
#[derive(Default)]
struct JsonParts {
    fingerprints: fingerprint::Cache,
    offered: HashMap<Vec<u8>, Offered, foldhash::fast::RandomState>,
    certificates: HashMap<usize, Chain, foldhash::fast::RandomState>,
    events: result::EventTexts,
    /// Server hellos and diagnoses as JSON, by what they show.
    server_hellos: HashMap<Vec<u8>, Box<RawValue>, foldhash::fast::RandomState>,
    diagnoses: HashMap<Vec<u8>, Box<RawValue>, foldhash::fast::RandomState>,
    hello_key: Vec<u8>,
    diagnosis_key: Vec<u8>,
    /// JA3S by what it reads: the server's version, suite and extension types.
    ja3s: HashMap<Vec<u8>, ServerPrint, foldhash::fast::RandomState>,
    key: Vec<u8>,
    server_key: Vec<u8>,
}

/// A certificate chain (held, so its address keeps naming it) and its JSON.
type Chain = (Arc<[CertInfo]>, Box<RawValue>);

/// An offered hello's fingerprints and its JSON.
struct Offered {
    fingerprints: fingerprint::HelloFingerprints,
    json: Box<RawValue>,
    /// JA3, its string and JA4 as JSON strings.
    ja3: Box<RawValue>,
    ja3_string: Box<RawValue>,
    ja4: Box<RawValue>,
}

/// A JA3S with its parts as JSON strings.
struct ServerPrint {
    ja3s: Ja3,
    md5: Box<RawValue>,
    string: Box<RawValue>,
}

/// `text` as a JSON string.
fn json_string(text: &str) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(text).ok()
}

impl JsonParts {
    /// The offered hello of `r` (JA3 and JA4 with it).
    fn offered(&mut self, r: &ConnectionReport) -> Option<&Offered> {
        let h = r.verdict.client_hello.as_ref()?;
        // What `OfferedHello` shows beyond the fingerprints' inputs.
        fingerprint::hello_key(h, &mut self.key);
        self.key.extend_from_slice(&h.record_version.to_be_bytes());
        for group in h.key_share_groups() {
            self.key.extend_from_slice(&group.to_be_bytes());
        }
        self.key.push(0xff);
        self.key.push(r.transport as u8);
        if let Some(sni) = h.sni_bytes() {
            self.key.extend_from_slice(sni);
        }
        if !self.offered.contains_key(&self.key) {
            if self.offered.len() >= MAX_PARTS {
                self.offered.clear();
            }
            let fingerprints = self.fingerprints.client_hello_over(h, r.transport).clone();
            let json = serde_json::value::to_raw_value(&offered_hello(h, r, &fingerprints)).ok()?;
            let offered = Offered {
                ja3: json_string(&fingerprints.ja3.md5)?,
                ja3_string: json_string(&fingerprints.ja3.string)?,
                ja4: json_string(&fingerprints.ja4)?,
                fingerprints,
                json,
            };
            self.offered.insert(self.key.clone(), offered);
        }
        self.offered.get(&self.key)
    }

    /// JA3S of `r`'s ServerHello, as [`ConnectionReport::ja3s`] takes it.
    fn ja3s(&mut self, r: &ConnectionReport) -> bool {
        let Some(sh) = &r.verdict.server_hello else {
            return false;
        };
        let key = &mut self.server_key;
        key.clear();
        key.extend_from_slice(&sh.legacy_version.to_be_bytes());
        key.extend_from_slice(&sh.cipher_suite.to_be_bytes());
        for e in &sh.extensions {
            key.extend_from_slice(&e.typ.to_be_bytes());
        }
        if !self.ja3s.contains_key(key) {
            if self.ja3s.len() >= MAX_PARTS {
                self.ja3s.clear();
            }
            let ja3s = fingerprint::ja3s(sh.legacy_version, sh.cipher_suite, &sh.extension_types());
            let (Some(md5), Some(string)) = (json_string(&ja3s.md5), json_string(&ja3s.string))
            else {
                return false;
            };
            self.ja3s
                .insert(key.clone(), ServerPrint { ja3s, md5, string });
        }
        true
    }

    /// Makes sure `server_hellos` holds `r`'s server hello under `hello_key`.
    fn server_hello(&mut self, r: &ConnectionReport) -> bool {
        let v = &r.verdict;
        let Some(sh) = v.server_hello.as_ref().or(v.hello_retry_request.as_ref()) else {
            return false;
        };
        // TLS 1.3 names the selected protocol in EncryptedExtensions.
        let alpn = sh.alpn().or_else(|| v.alpn());
        // TLS 1.2 names its group in ServerKeyExchange, not in the ServerHello.
        let group = sh.key_share_group().or(v.group);
        let key = &mut self.hello_key;
        key.clear();
        key.extend_from_slice(&sh.selected_version().to_be_bytes());
        key.extend_from_slice(&sh.cipher_suite.to_be_bytes());
        key.push(u8::from(sh.is_hello_retry_request()));
        key.extend_from_slice(&group.map_or(u32::MAX, u32::from).to_be_bytes());
        match &alpn {
            Some(p) => {
                key.extend_from_slice(&(p.len() as u32).to_be_bytes());
                key.extend_from_slice(p);
            }
            None => key.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
        for e in &sh.extensions {
            key.extend_from_slice(&e.typ.to_be_bytes());
        }
        if !self.server_hellos.contains_key(key) {
            if self.server_hellos.len() >= MAX_PARTS {
                self.server_hellos.clear();
            }
            let typed = ServerHelloResult {
                alpn: alpn
                    .as_deref()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                alpn_hex: alpn.as_deref().and_then(facts::hex_unless_printable),
                cipher: Named::suite(sh.cipher_suite),
                cipher_id: HexId(sh.cipher_suite),
                extensions: ExtensionTypes(&sh.extensions),
                group: group.map(|id| Named {
                    id,
                    registry: Registry::Group,
                }),
                hello_retry_request: sh.is_hello_retry_request(),
                version: Version(sh.selected_version()),
            };
            let Ok(json) = serde_json::value::to_raw_value(&typed) else {
                return false;
            };
            self.server_hellos.insert(key.clone(), json);
        }
        true
    }

    /// Makes sure `diagnoses` holds `r`'s diagnosis under `diagnosis_key`.
    fn diagnosis(&mut self, r: &ConnectionReport) -> bool {
        let key = &mut self.diagnosis_key;
        key.clear();
        for d in &r.diagnosis {
            // The cause names its fix too.
            key.extend_from_slice(d.cause.id().as_bytes());
            key.push(0);
            key.extend_from_slice(&(d.detail.len() as u32).to_be_bytes());
            key.extend_from_slice(d.detail.as_bytes());
        }
        if !self.diagnoses.contains_key(key) {
            if self.diagnoses.len() >= MAX_PARTS {
                self.diagnoses.clear();
            }
            let Ok(json) = serde_json::value::to_raw_value(&r.diagnosis) else {
                return false;
            };
            self.diagnoses.insert(key.clone(), json);
        }
        true
    }

    /// The certificates of `r` as JSON.
    fn certificates(&mut self, r: &ConnectionReport) -> Option<&RawValue> {
        let chain = &r.certificates;
        // The pointer names the chain while the entry holds it alive.
        let id = Arc::as_ptr(chain) as *const CertInfo as usize;
        let stale = self
            .certificates
            .get(&id)
            .is_some_and(|(held, _)| !Arc::ptr_eq(held, chain));
        if stale || !self.certificates.contains_key(&id) {
            if self.certificates.len() >= MAX_PARTS {
                self.certificates.clear();
            }
            struct Certs<'c>(&'c [CertInfo]);
            impl serde::Serialize for Certs<'_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    result::certificates(&self.0, s)
                }
            }
            let json = serde_json::value::to_raw_value(&Certs(chain)).ok()?;
            self.certificates.insert(id, (chain.clone(), json));
        }
        self.certificates.get(&id).map(|(_, json)| &**json)
    }
}

impl JsonParts {
    /// What the JSON report shows of `r` beyond its report.
    fn extras(&mut self, r: &ConnectionReport) -> Extras<'_> {
        // Each looked up before any is borrowed: each may insert into its cache.
        let offered = self.offered(r).is_some();
        self.certificates(r);
        let ja3s = self.ja3s(r);
        self.events.resolve(&r.verdict.events);
        let server_hello = self.server_hello(r);
        let diagnosis = self.diagnosis(r);
        Extras {
            server_hello: server_hello
                .then(|| self.server_hellos.get(&self.hello_key).map(|j| &**j))
                .flatten(),
            diagnosis: diagnosis
                .then(|| self.diagnoses.get(&self.diagnosis_key).map(|j| &**j))
                .flatten(),
            events: Some(&self.events),
            offered: offered.then(|| self.offered.get(&self.key)).flatten(),
            certificates: self
                .certificates
                .get(&(Arc::as_ptr(&r.certificates) as *const CertInfo as usize))
                .map(|(_, json)| &**json),
            ja3s: ja3s.then(|| self.ja3s.get(&self.server_key)).flatten(),
        }
    }
}

/// The hello `r`'s client offered, as shown.
fn offered_hello<'a>(
    h: &'a ClientHello,
    r: &'a ConnectionReport,
    fp: &'a fingerprint::HelloFingerprints,
) -> OfferedHello<'a> {
    let alpn = h.alpn();
    OfferedHello {
        alpn: alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        alpn_hex: facts::alpn_hex(&alpn),
        ciphers: NamedList::new(&h.cipher_suites[..], Registry::Suite),
        extensions: NamedList::new(h.extension_types(), Registry::Extension),
        groups: NamedList::new(h.supported_groups(), Registry::Group),
        ja3: &fp.ja3.md5,
        ja3_string: &fp.ja3.string,
        ja4: &fp.ja4,
        key_shares: NamedList::new(h.key_share_groups().collect::<Vec<_>>(), Registry::Group),
        legacy_version: Version(h.legacy_version),
        record_version: Version(h.record_version),
        sigalgs: NamedList::new(h.signature_algorithms(), Registry::Sigalg),
        sni: r.sni(),
        sni_hex: h.sni_bytes().and_then(facts::hex_unless_printable),
        supported_versions: h
            .supported_versions()
            .map(|v| v.into_iter().map(Version).collect()),
    }
}

/// The JSON-only facts of one connection, taken when [`Selection::fingerprints`] asks.
#[derive(Default)]
struct Extras<'c> {
    offered: Option<&'c Offered>,
    certificates: Option<&'c RawValue>,
    events: Option<&'c result::EventTexts>,
    server_hello: Option<&'c RawValue>,
    diagnosis: Option<&'c RawValue>,
    ja3s: Option<&'c ServerPrint>,
}

/// `[]`, for connections whose extras were not taken.
fn empty_list() -> &'static RawValue {
    static EMPTY: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| RawValue::from_string("[]".into()).expect("valid JSON"))
}

/// The result of one connection, borrowed from its report and extras.
fn connection_result<'a>(
    capture: &'a str,
    r: &'a ConnectionReport,
    x: &'a Extras<'a>,
) -> PcapConnection<'a> {
    let v = &r.verdict;
    let offered = x.offered.map(|o| Prerendered::new(&o.json));
    PcapConnection {
        schema_version: SchemaVersion,
        alert: v.alert.as_ref().map(AlertResult::new),
        capture,
        certificates: Prerendered::new(x.certificates.unwrap_or_else(|| empty_list())),
        cipher: v.cipher.map(Named::suite),
        cipher_id: v.cipher.map(HexId),
        client: r.client,
        connection: ConnectionName {
            capture,
            index: r.index,
        },
        decode_error: v.error.as_deref(),
        decryption: v.decryption.as_ref().map(|d| DecryptionResult {
            client_finished_verified: d.client_finished_verified,
            problem: d.problem.as_deref(),
            records: d.records,
            server_finished_verified: d.server_finished_verified,
        }),
        diagnosis: Diagnoses {
            items: &r.diagnosis,
            json: x.diagnosis,
        },
        diverged: v.diverged.as_ref().map(|d| DivergedResult {
            after: &d.after,
            by: d.by.peer(),
            event: &d.event,
        }),
        events: Events {
            events: &v.events,
            texts: x.events,
        },
        failed: r.failed(),
        from_syn: r.from_syn,
        history: &v.history,
        incomplete_reason: r.incomplete_reason(),
        index: r.index,
        ja3: x
            .offered
            .map(|o| Text::new(&o.fingerprints.ja3.md5, &o.ja3)),
        ja3_string: x
            .offered
            .map(|o| Text::new(&o.fingerprints.ja3.string, &o.ja3_string)),
        ja3s: x.ja3s.map(|p| Text::new(&p.ja3s.md5, &p.md5)),
        ja3s_string: x.ja3s.map(|p| Text::new(&p.ja3s.string, &p.string)),
        ja4: x.offered.map(|o| Text::new(&o.fingerprints.ja4, &o.ja4)),
        not_tls: v.not_tls.as_deref(),
        not_tls_hex: v
            .not_tls_bytes
            .as_deref()
            .and_then(facts::hex_unless_printable),
        offered,
        outcome: r.outcome(),
        server: r.server,
        server_hello: x.server_hello.map(Prerendered::new),
        sni: r.sni(),
        start: CaptureTime(r.start),
        starttls: r.starttls.map(Protocol::name),
        time_to_verdict_ms: r.time_to_verdict().map(|us| us as f64 / 1000.0),
        transport: r.transport,
        truncated: v.truncated.as_deref(),
        version: v.version.map(Version),
    }
}

/// Where reported connections go: the sink's callback (stop on its error).
pub type Emit<'e> = dyn for<'a> FnMut(&PcapConnection<'a>) -> std::io::Result<()> + 'e;

/// Selects connections, counts them into the summary and emits the reported ones; after
/// a write error nothing more is emitted (the error is returned when the input is done).
struct Reporter<'e, 'f> {
    select: &'f Selection,
    parts: JsonParts,
    tally: Tally,
    emit: &'f mut Emit<'e>,
    /// Connections emitted.
    emitted: u64,
    error: Option<std::io::Error>,
    /// `pcap --summary`'s table, when asked for.
    counts: Option<HandshakeCounts>,
    /// `watch --metrics`' counters, read by the HTTP workers.
    shared: Option<Arc<std::sync::Mutex<WatchMetrics>>>,
}

impl<'e, 'f> Reporter<'e, 'f> {
    fn new(select: &'f Selection, emit: &'f mut Emit<'e>) -> Self {
        Reporter {
            select,
            parts: JsonParts::default(),
            tally: Tally::default(),
            emit,
            emitted: 0,
            error: None,
            counts: None,
            shared: None,
        }
    }

    fn connection(&mut self, capture: &str, r: &ConnectionReport) {
        let filter = &self.select.filter;
        if !filter.matches_endpoints(r) {
            return;
        }
        self.tally.add(r);
        // `--failed` narrows the table as it narrows the lines.
        if let Some(counts) = &mut self.counts
            && filter.selects(r)
        {
            counts.add(r);
        }
        if let Some(shared) = &self.shared {
            // A worker that panicked while rendering left the counts whole: read on.
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .handshakes
                .add(r);
        }
        if !filter.selects(r) || !(self.select.all || r.failed()) || self.error.is_some() {
            return;
        }
        let extras = if self.select.fingerprints {
            self.parts.extras(r)
        } else {
            Extras::default()
        };
        match (self.emit)(&connection_result(capture, r, &extras)) {
            Ok(()) => self.emitted += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

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

/// Validated `watch` options (feature `live`).
#[cfg(feature = "live")]
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub interface: String,
    /// BPF capture filter.
    pub bpf: Option<String>,
    pub select: Selection,
    pub analysis: AnalyzeOptions,
    /// Stop after this many connections were emitted.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<std::time::Duration>,
    /// The flow table's limits; a flow with no packet for `idle_timeout` is ended (and its
    /// verdict emitted).
    pub read: ReadOptions,
    /// `--metrics`: handshakes and the capture's counters are kept here as they come.
    pub metrics: Option<Arc<std::sync::Mutex<WatchMetrics>>>,
}

/// Runs `shakedown watch`: packets from the interface go through the same
/// [`capture::PacketReader`] and analyzer as a capture file; each connection is emitted
/// when its flow ends. Stops on `count`, `duration` or a write error (Ctrl-C ends the
/// process). The interface or filter failing to open is a usage failure (exit 2).
#[cfg(feature = "live")]
pub fn watch(
    cfg: &WatchConfig,
    stop: &std::sync::atomic::AtomicBool,
    emit: &mut Emit<'_>,
    warn: &mut dyn FnMut(&str),
) -> Result<PcapOutcome, Failure> {
    use crate::io::capture::PacketReader;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let deadline = cfg.duration.map(|d| Instant::now() + d);
    let fail = |e: pcap::Error| Failure::Usage(format!("{}: {e}", cfg.interface));
    // Non-blocking, with our own wait below: in immediate mode libpcap may ignore its read
    // timeout and block until a packet comes, so an idle interface never reached the
    // --duration check or a stop request.
    let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
        .map_err(fail)?
        .promisc(false)
        .snaplen(65_535)
        .immediate_mode(true)
        .timeout(200)
        .open()
        .map_err(fail)?
        .setnonblock()
        .map_err(fail)?;
    if let Some(bpf) = &cfg.bpf {
        cap.filter(bpf, true)
            .map_err(|e| Failure::Usage(format!("--filter {bpf:?}: {e}")))?;
    }
    let linktype = cap.get_datalink().0 as u32;
    let reporter = std::cell::RefCell::new(Reporter::new(&cfg.select, emit));
    reporter.borrow_mut().shared = cfg.metrics.clone();
    let read = cfg.read.clone();
    let name = cfg.interface.as_str();
    let assessor = Assessor::new(&cfg.analysis);
    let mut on_report = |f: Finished| reporter.borrow_mut().connection(name, &assessor.report(f));
    let mut analyzer = Analyzer::new(cfg.analysis.clone(), &mut on_report, None);
    let mut reader = PacketReader::new(read);
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as Micros)
    };
    let mut read_error = None;
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let at = (p.header.ts.tv_sec as u64) * 1_000_000 + p.header.ts.tv_usec as u64;
                reader.packet(linktype, p.data, at, &mut analyzer);
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {
                reader.tick(now(), &mut analyzer);
                let left = deadline.map_or(Duration::from_millis(200), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                crate::io::capture::wait_readable(&cap, left.min(Duration::from_millis(200)));
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        if let Some(m) = &cfg.metrics {
            let capture = CaptureCounts::new(reader.stats(), analyzer.non_tls_flows);
            m.lock().unwrap_or_else(|e| e.into_inner()).capture = capture;
        }
        let (emitted, write_failed) = {
            let r = reporter.borrow();
            (r.emitted, r.error.is_some())
        };
        let done_count = cfg.count.is_some_and(|n| emitted >= n);
        let done_time = deadline.is_some_and(|d| Instant::now() >= d);
        if done_count || done_time || write_failed || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    // Flows still open are ended as of now: an undecided handshake shows as incomplete,
    // unless the count was reached (then nothing more is emitted).
    let stopped_by_count = cfg.count.is_some_and(|n| reporter.borrow().emitted >= n);
    let capture = if stopped_by_count {
        reader.stats().clone()
    } else {
        reader.finish(EndKind::Timeout, &mut analyzer)
    };
    let non_tls_flows = analyzer.non_tls_flows;
    drop(analyzer);
    let mut reporter = reporter.into_inner();
    if let Some(e) = reporter.error.take() {
        return Err(e.into());
    }
    if let Some(e) = &read_error {
        warn(&format!("{name}: {e}"));
    }
    let stats = AnalyzeStats {
        capture,
        non_tls_flows,
    };
    reporter
        .tally
        .input(name, &stats, read_error.map(|e| e.to_string()), None);
    Ok(PcapOutcome {
        counts: None,
        summary: reporter.tally.into_summary(),
        unreadable: 0,
        cut_short: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cert::TrustStore;

    #[test]
    fn sni_patterns() {
        assert!(sni_matches("Example.COM", "example.com."));
        assert!(!sni_matches("example.com", "www.example.com"));
        assert!(sni_matches("*.example.com", "WWW.example.com"));
        assert!(sni_matches("*.example.com.", "a.b.example.com"));
        assert!(!sni_matches("*.example.com", "example.com"));
        assert!(!sni_matches("*.example.com", "badexample.com"));
        assert!(!sni_matches("*.example.com", "é.xample.com"));
        assert!(sni_matches("*.example.com", "é.example.com"));
    }

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

    /// The objects are written straight from their structs: after `schema_version`, their
    /// fields must come in sorted order, as the JSON contract has always had them.
    #[test]
    fn connection_objects_are_written_with_sorted_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let schema = serde_json::to_value(schemars::schema_for!(PcapConnection<'static>)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut objects = 0;
        // One cache over every capture: its answers must be the fingerprints themselves,
        // its JSON what the typed parts write.
        let mut parts = JsonParts::default();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                continue;
            }
            // With keys where the capture has them, so decryption fields are covered.
            let keylog = std::fs::read_to_string(path.with_extension("keys"))
                .ok()
                .map(|text| Arc::new(KeyLog::parse(&text).0));
            let opts = AnalyzeOptions {
                keylog,
                ..AnalyzeOptions::default()
            };
            let file = std::fs::File::open(&path).unwrap();
            analyze(file, &ReadOptions::default(), opts, &mut |r| {
                let x = parts.extras(&r);
                assert_eq!(x.ja3s.map(|p| &p.ja3s), r.ja3s().as_ref());
                if let Some(h) = &r.verdict.client_hello {
                    let fp = &x.offered.unwrap().fingerprints;
                    assert_eq!(fp.ja3, fingerprint::ja3(h));
                    assert_eq!(fp.ja4, fingerprint::ja4_over(h, r.transport));
                    let typed = serde_json::to_string(&offered_hello(h, &r, fp)).unwrap();
                    assert_eq!(x.offered.unwrap().json.get(), typed);
                }
                let mut typed = Vec::new();
                result::certificates(
                    &&r.certificates[..],
                    &mut serde_json::Serializer::new(&mut typed),
                )
                .unwrap();
                assert_eq!(x.certificates.unwrap().get().as_bytes(), typed);
                let o = connection_result("c", &r, &x);
                assert_eq!(
                    serde_json::to_string(&o.diagnosis).unwrap(),
                    serde_json::to_string(&r.diagnosis).unwrap()
                );
                let plain = Events {
                    events: &r.verdict.events,
                    texts: None,
                };
                assert_eq!(
                    serde_json::to_string(&o.events).unwrap(),
                    serde_json::to_string(&plain).unwrap()
                );
                let direct = serde_json::to_string(&o).unwrap();
                let mut sorted = serde_json::to_value(&o).unwrap();
                if let Err(e) = validator.validate(&sorted) {
                    panic!("{}: {e}: {sorted}", path.display());
                }
                let version = sorted
                    .as_object_mut()
                    .unwrap()
                    .remove("schema_version")
                    .unwrap();
                let sorted = sorted.to_string();
                let expected = format!("{{\"schema_version\":{version},{}", &sorted[1..]);
                assert_eq!(direct, expected, "{}", path.display());
                objects += 1;
            });
        }
        let schema = serde_json::to_value(schemars::schema_for!(PcapSummaryLine)).unwrap();
        let summary = serde_json::to_value(Tally::default().into_summary()).unwrap();
        jsonschema::validator_for(&schema)
            .unwrap()
            .validate(&summary)
            .unwrap();
        assert!(
            objects > 20,
            "only {objects} connections in {}",
            dir.display()
        );
    }
}
