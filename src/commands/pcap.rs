//! `shakedown pcap`: a capture's TCP flows, each fed to its own session tracker (the same
//! one `probe` uses), turned into per-connection reports as the flows end. Reports stream
//! out through a callback, so memory holds only the flows still open.
//!
//! The command (`PcapArgs` → [`run`]) streams: each selected connection is printed as its
//! flow ends, the [`Summary`] (bounded counters) at the end. `watch` (feature `live`) feeds
//! packets from an interface through the same [`capture::PacketReader`] and analyzer.

use crate::cli::Failure;
use crate::core::assess::{self, Diagnosis};
use crate::core::cert::{CertInfo, ChainChecker, Finding, TrustStore};
use crate::core::crypto::KeyLog;
use crate::core::datetime::parse_rfc3339;
use crate::core::fingerprint::{self, Ja3};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::{Outcome, Tracker, Verdict};
use crate::io::capture::{
    self, CaptureError, CaptureStats, FlowId, FlowInfo, FlowSink, ReadOptions,
};
use crate::report;
use clap::Args;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One connection of a capture, with everything the reports show.
#[derive(Debug)]
pub struct ConnectionReport {
    /// 1-based index among the capture's TCP flows, in order of first packet.
    pub index: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Micros,
    /// The connection was seen from its SYN (else picked up mid-stream).
    pub from_syn: bool,
    pub verdict: Verdict,
    /// The server name the client asked for (read once: filters, summary and lines ask).
    pub sni: Option<String>,
    /// Shared with the other connections that sent the same chain.
    pub certificates: Arc<[CertInfo]>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
}

impl ConnectionReport {
    /// The contract's outcome: `established`, `alert`, `reset`, `closed`, `incomplete` or
    /// `not_tls`. A handshake still under way when its flow ended (capture stopped, idle
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
            Outcome::Established
            | Outcome::ServerHello
            | Outcome::HelloRetryRequest
            | Outcome::Timeout
            | Outcome::Incomplete => "incomplete",
        }
    }

    /// A handshake failure was observed: an alert, a reset or close before the handshake
    /// completed, or a peer that does not speak TLS. `incomplete` is not a failure: the
    /// capture does not show how it ended.
    pub fn failed(&self) -> bool {
        matches!(self.outcome(), "alert" | "reset" | "closed" | "not_tls")
    }

    /// The server name the client asked for.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    // The fingerprints are taken on demand, not stored: the text report does not show them,
    // and hashing them for every connection of a large capture is a good part of its cost.

    /// JA3 of the ClientHello.
    pub fn ja3(&self) -> Option<Ja3> {
        self.verdict.client_hello.as_ref().map(fingerprint::ja3)
    }

    /// JA4 of the ClientHello.
    pub fn ja4(&self) -> Option<String> {
        self.verdict.client_hello.as_ref().map(fingerprint::ja4)
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
    pub trust: Option<Arc<TrustStore>>,
}

struct Analyzer<'a> {
    /// Looked up for every delivery: foldhash rather than the slower default SipHash.
    flows: HashMap<FlowId, (FlowInfo, Tracker), foldhash::fast::RandomState>,
    opts: AnalyzeOptions,
    /// Chain checks against `opts.trust`, parsing each distinct chain once.
    chains: ChainChecker,
    emit: &'a mut dyn FnMut(ConnectionReport),
    non_tls_flows: u64,
}

impl<'a> Analyzer<'a> {
    fn new(opts: AnalyzeOptions, emit: &'a mut dyn FnMut(ConnectionReport)) -> Self {
        Analyzer {
            flows: HashMap::default(),
            chains: ChainChecker::new(opts.trust.clone()),
            opts,
            emit,
            non_tls_flows: 0,
        }
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
        let tracker = match &self.opts.keylog {
            Some(k) => Tracker::with_key_log(k.clone()),
            None => Tracker::new(),
        };
        self.flows.insert(info.id, (info.clone(), tracker));
    }

    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], at: Micros) {
        if let Some((_, t)) = self.flows.get_mut(&id) {
            t.on_data(dir, bytes, at);
        }
    }

    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros) {
        if let Some((_, t)) = self.flows.get_mut(&id) {
            t.on_end(dir, kind, at);
        }
    }

    fn flow_end(&mut self, id: FlowId, _at: Micros) {
        let Some((info, tracker)) = self.flows.remove(&id) else {
            return;
        };
        let verdict = tracker.into_verdict();
        if !is_tls(&verdict) {
            self.non_tls_flows += 1;
            return;
        }
        let report = report(info, verdict, self.opts.check_time, &self.chains);
        (self.emit)(report);
    }

    fn wants_data(&self, id: FlowId) -> bool {
        // With keys, an established connection is read on: its encrypted alerts and
        // session tickets are part of what the keys show.
        self.flows.get(&id).is_some_and(|(_, t)| {
            let v = t.verdict();
            !settled(v) || (t.decrypting() && v.established)
        })
    }
}

fn report(
    info: FlowInfo,
    verdict: Verdict,
    check_time: Option<i64>,
    chains: &ChainChecker,
) -> ConnectionReport {
    let host = verdict.client_hello.as_ref().and_then(|h| h.sni());
    let check_time = check_time.unwrap_or((info.start / 1_000_000) as i64);
    let a = assess::assess(
        &verdict,
        &assess::Context {
            host: host.as_deref(),
            now_unix: check_time,
            chains: Some(chains),
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
    let mut analyzer = Analyzer::new(opts, emit);
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

/// `shakedown pcap FILE...`
#[derive(Args, Debug)]
pub struct PcapArgs {
    /// Capture files: pcap or pcapng, gzip'd or not; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Only failed handshakes (alert, reset, closed, not_tls).
    #[arg(long, conflicts_with = "all")]
    pub failed: bool,
    /// Only connections with this IP address on either end.
    #[arg(long, value_name = "IP")]
    pub host: Option<String>,
    /// Only connections with this port on either end.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Read files with read(2) instead of through a memory map (the same results; slower).
    #[arg(long)]
    pub no_mmap: bool,
}

/// What to print, the same for `pcap` and `watch`.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Set from the global `--json` (transitional: the command's config takes the format).
    #[arg(skip)]
    pub json: bool,
    /// A line for every TLS connection, not only the failed ones.
    #[arg(long)]
    pub all: bool,
    /// Only connections whose SNI is NAME (case-insensitive; `*.example.com` for subdomains).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
}

/// Keys and certificate options, the same for `pcap` and `watch`.
#[derive(Args, Debug, Clone, Default)]
pub struct AnalysisArgs {
    /// NSS key log (SSLKEYLOGFILE, `openssl s_client -keylogfile`): decrypt handshakes.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<std::path::PathBuf>,
    /// Extra trust anchors (PEM) for the certificate checks.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Check certificates as of this moment (RFC 3339) instead of each connection's time.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

impl AnalysisArgs {
    /// Reads the key log and trust anchors. Unusable key log lines are warned about on
    /// stderr and skipped: the rest still decrypts.
    pub fn options(&self) -> Result<AnalyzeOptions, String> {
        let check_time = match &self.at {
            Some(t) => Some(parse_rfc3339(t).map_err(|e| format!("--at: {e}"))?),
            None => None,
        };
        let keylog = match &self.keylog {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--keylog {}: {e}", path.display()))?;
                let (log, problems) = KeyLog::parse(&text);
                for p in problems {
                    eprintln!("shakedown: --keylog {}: {p}", path.display());
                }
                if log.is_empty() {
                    return Err(format!("--keylog {}: no usable secrets", path.display()));
                }
                Some(Arc::new(log))
            }
            None => None,
        };
        Ok(AnalyzeOptions {
            check_time,
            keylog,
            trust: Some(Arc::new(crate::cli::trust_store(self.ca.as_deref())?)),
        })
    }
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

fn sni_matches(pattern: &str, sni: &str) -> bool {
    let sni = sni.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => sni.ends_with(&format!(".{parent}")),
        None => sni == pattern,
    }
}

/// Distinct server names kept in the failure ranking; beyond it, failures are still counted
/// (as `other names`) but memory does not grow with the capture.
const MAX_NAMES: usize = 10_000;

/// What the end of a run shows: counters only, bounded whatever the capture size.
#[derive(Debug, Default)]
pub struct Summary {
    /// TLS connections that passed the endpoint filters.
    pub connections: u64,
    pub failed: u64,
    pub by_outcome: BTreeMap<&'static str, u64>,
    /// Failed connections per cause id.
    pub by_cause: BTreeMap<&'static str, u64>,
    /// Failed connections per SNI (`(no SNI)` when none was sent).
    pub failures_by_name: HashMap<String, u64>,
    /// Failures whose name did not fit in `failures_by_name`.
    pub failures_other_names: u64,
    pub inputs: Vec<InputSummary>,
}

/// One capture file's reading statistics.
#[derive(Debug)]
pub struct InputSummary {
    pub name: String,
    pub stats: AnalyzeStats,
    /// Why reading stopped early (the results before it were kept).
    pub error: Option<String>,
}

impl Summary {
    pub fn add(&mut self, r: &ConnectionReport) {
        self.connections += 1;
        *self.by_outcome.entry(r.outcome()).or_default() += 1;
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

    /// Server names by failures, most first (ties by name), at most `n`.
    pub fn top_failing_names(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .failures_by_name
            .iter()
            .map(|(k, c)| (k.as_str(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// Prints selected connections as they come and counts them all into a [`Summary`].
pub struct Printer<'w> {
    pub out: &'w mut dyn Write,
    pub output: OutputArgs,
    pub filter: Filter,
    pub summary: Summary,
    /// Connections printed.
    pub printed: u64,
    /// The first write error; later connections are still counted.
    pub error: Option<std::io::Error>,
    /// Flush after every line (live output).
    pub flush_each: bool,
    /// The line being written, reused: serde_json writes a JSON object in many small
    /// pieces, which cost far less appended to a `Vec` than sent one by one through `out`.
    line: Vec<u8>,
    /// The same for a text line.
    text: String,
}

impl<'w> Printer<'w> {
    pub fn new(
        out: &'w mut dyn Write,
        output: OutputArgs,
        filter: Filter,
        flush_each: bool,
    ) -> Self {
        Printer {
            out,
            output,
            filter,
            summary: Summary::default(),
            printed: 0,
            error: None,
            flush_each,
            line: Vec::new(),
            text: String::new(),
        }
    }

    pub fn connection(&mut self, capture: &str, r: &ConnectionReport) {
        if !self.filter.matches_endpoints(r) {
            return;
        }
        self.summary.add(r);
        if !self.filter.selects(r) {
            return;
        }
        let show = if self.output.json {
            true
        } else {
            self.output.all || r.failed()
        };
        if !show || self.error.is_some() {
            return;
        }
        let written = if self.output.json {
            // Serialized straight into bytes: `Display` would go through `fmt::Write` for
            // every string piece.
            self.line.clear();
            serde_json::to_writer(&mut self.line, &report::pcap::json(capture, r))
                .map_err(std::io::Error::from)
                .and_then(|()| {
                    self.line.push(b'\n');
                    self.out.write_all(&self.line)
                })
        } else {
            self.text.clear();
            report::pcap::text_line(&mut self.text, capture, r);
            self.out.write_all(self.text.as_bytes())
        };
        let written = written.and_then(|()| {
            if self.flush_each {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => self.printed += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

/// The name of a capture argument in connection names (`NAME#N`).
fn capture_name(arg: &str) -> &str {
    if arg == "-" { "stdin" } else { arg }
}

fn filter_of(
    failed: bool,
    sni: &Option<String>,
    host: &Option<String>,
    port: Option<u16>,
) -> Result<Filter, String> {
    let host = match host {
        Some(h) => Some(
            h.trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .map_err(|_| format!("--host {h:?}: expected an IP address"))?,
        ),
        None => None,
    };
    Ok(Filter {
        failed_only: failed,
        sni: sni.clone(),
        host,
        port,
    })
}

/// Runs `shakedown pcap`. Exit code: 2 when no input could be read at all, else 1 when a
/// selected connection failed, else 0.
pub fn run(a: &PcapArgs, out: &mut dyn Write) -> Result<i32, Failure> {
    let filter = filter_of(a.failed, &a.output.sni, &a.host, a.port)?;
    let opts = a.analysis.options()?;
    if a.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err(Failure::Usage("stdin (-) can be read only once".into()));
    }
    let mut printer = Printer::new(out, a.output.clone(), filter, false);
    let read = ReadOptions::default();
    let mut unreadable = 0;
    for arg in &a.files {
        let name = capture_name(arg);
        let mut emit = |r: ConnectionReport| printer.connection(name, &r);
        let (stats, error) = if arg == "-" {
            analyze(std::io::stdin().lock(), &read, opts.clone(), &mut emit)
        } else {
            match std::fs::File::open(arg) {
                Ok(f) => analyze_file(f, !a.no_mmap, &read, opts.clone(), &mut emit),
                Err(e) => {
                    eprintln!("shakedown: {arg}: {e}");
                    unreadable += 1;
                    continue;
                }
            }
        };
        if let Some(e) = &error {
            eprintln!("shakedown: {name}: {e}");
            if stats.capture.packets == 0 {
                unreadable += 1;
            }
        }
        printer.summary.inputs.push(InputSummary {
            name: name.to_string(),
            stats,
            error: error.map(|e| e.to_string()),
        });
        if let Some(e) = printer.error.take() {
            return Err(e.into());
        }
    }
    let summary = std::mem::take(&mut printer.summary);
    let out = printer.out;
    if a.output.json {
        writeln!(out, "{}", report::pcap::json_summary(&summary))?;
    } else {
        report::pcap::text_summary(out, &summary)?;
    }
    out.flush()?;
    Ok(if unreadable == a.files.len() {
        2
    } else if summary.failed > 0 {
        1
    } else {
        0
    })
}

/// `shakedown watch -i IFACE`: live verdicts (feature `live`).
#[cfg(feature = "live")]
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Interface to capture on (e.g. eth0, lo).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter, e.g. "tcp port 443".
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Stop after N connections were printed.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// A flow with no packet for SECS seconds is ended (and its verdict printed).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub idle: f64,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// Runs `shakedown watch`: packets from the interface go through the same
/// [`capture::PacketReader`] and analyzer as a capture file; each connection is printed when its flow
/// ends. Stops on `--count`, `--duration` or Ctrl-C (lines already printed are flushed).
/// Exit code as for `pcap`; 2 when the interface cannot be opened.
#[cfg(feature = "live")]
pub fn watch(a: &WatchArgs, out: &mut dyn Write) -> Result<i32, Failure> {
    use crate::io::capture::PacketReader;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let filter = filter_of(false, &a.output.sni, &None, None)?;
    if !(a.idle.is_finite() && a.idle > 0.0) {
        return Err(Failure::Usage(format!(
            "--idle {}: expected seconds > 0",
            a.idle
        )));
    }
    let deadline = match a.duration {
        Some(d) if d.is_finite() && d > 0.0 => Some(Instant::now() + Duration::from_secs_f64(d)),
        Some(d) => {
            return Err(Failure::Usage(format!(
                "--duration {d}: expected seconds > 0"
            )));
        }
        None => None,
    };
    let fail = |e: pcap::Error| Failure::Usage(format!("{}: {e}", a.interface));
    let mut cap = pcap::Capture::from_device(a.interface.as_str())
        .map_err(fail)?
        .promisc(false)
        .snaplen(65_535)
        .immediate_mode(true)
        .timeout(200)
        .open()
        .map_err(fail)?;
    if let Some(bpf) = &a.filter {
        cap.filter(bpf, true)
            .map_err(|e| Failure::Usage(format!("--filter {bpf:?}: {e}")))?;
    }
    let linktype = cap.get_datalink().0 as u32;
    let printer = std::cell::RefCell::new(Printer::new(out, a.output.clone(), filter, true));
    let read = ReadOptions {
        idle_timeout: (a.idle * 1e6) as Micros,
        ..ReadOptions::default()
    };
    let name = a.interface.clone();
    let mut emit = |r: ConnectionReport| printer.borrow_mut().connection(&name, &r);
    let mut analyzer = Analyzer::new(a.analysis.options()?, &mut emit);
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
            Err(pcap::Error::TimeoutExpired) => reader.tick(now(), &mut analyzer),
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        let (printed, write_failed) = {
            let p = printer.borrow();
            (p.printed, p.error.is_some())
        };
        let done_count = a.count.is_some_and(|n| printed >= n);
        let done_time = deadline.is_some_and(|d| Instant::now() >= d);
        if done_count || done_time || write_failed {
            break;
        }
    }
    // Flows still open are ended as of now: an undecided handshake shows as incomplete,
    // unless --count was reached (then nothing more is printed).
    let stopped_by_count = a.count.is_some_and(|n| printer.borrow().printed >= n);
    let capture = if stopped_by_count {
        reader.stats().clone()
    } else {
        reader.finish(EndKind::Timeout, &mut analyzer)
    };
    let non_tls_flows = analyzer.non_tls_flows;
    drop(analyzer);
    let mut printer = printer.into_inner();
    if let Some(e) = printer.error.take() {
        return Err(e.into());
    }
    if let Some(e) = &read_error {
        eprintln!("shakedown: {}: {e}", a.interface);
    }
    printer.summary.inputs.push(InputSummary {
        name: a.interface.clone(),
        stats: AnalyzeStats {
            capture,
            non_tls_flows,
        },
        error: read_error.map(|e| e.to_string()),
    });
    let summary = std::mem::take(&mut printer.summary);
    let out = printer.out;
    if a.output.json {
        writeln!(out, "{}", report::pcap::json_summary(&summary))?;
    } else {
        report::pcap::text_summary(out, &summary)?;
    }
    out.flush()?;
    Ok(if summary.failed > 0 { 1 } else { 0 })
}
