//! `shakedown pcap`: a capture's TCP flows, each fed to its own session tracker (the same
//! one `probe` uses), turned into per-connection reports as the flows end. Reports stream
//! out through a callback, so memory holds only the flows still open.

use crate::capture::{self, CaptureError, CaptureStats, FlowId, FlowInfo, FlowSink, ReadOptions};
use crate::cert::{self, CertInfo, Finding, TrustStore};
use crate::crypto::KeyLog;
use crate::diagnose::{self, Diagnosis};
use crate::fingerprint::{self, Ja3};
use crate::session::{Direction, EndKind, Micros, Tracker, Verdict};
use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
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
    pub ja3: Option<Ja3>,
    pub ja3s: Option<Ja3>,
    pub ja4: Option<String>,
    pub certificates: Vec<CertInfo>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
}

impl ConnectionReport {
    /// A handshake failure: anything but an established (or still progressing) handshake.
    pub fn failed(&self) -> bool {
        !self.verdict.established
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
    flows: HashMap<FlowId, (FlowInfo, Tracker)>,
    opts: AnalyzeOptions,
    emit: &'a mut dyn FnMut(ConnectionReport),
    non_tls_flows: u64,
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
            Some(k) => Tracker::with_keys(k.clone()),
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
        let verdict = tracker.verdict().clone();
        if !is_tls(&verdict) {
            self.non_tls_flows += 1;
            return;
        }
        (self.emit)(report(info, verdict, &self.opts));
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

fn report(info: FlowInfo, verdict: Verdict, opts: &AnalyzeOptions) -> ConnectionReport {
    let ja3 = verdict.client_hello.as_ref().map(fingerprint::ja3);
    let ja4 = verdict.client_hello.as_ref().map(fingerprint::ja4);
    let ja3s = verdict
        .server_hello
        .as_ref()
        .map(|sh| fingerprint::ja3s(sh.legacy_version, sh.cipher_suite, &sh.extension_types()));
    let host = verdict.client_hello.as_ref().and_then(|h| h.sni());
    let check_time = opts.check_time.unwrap_or((info.start / 1_000_000) as i64);
    let (certificates, findings) = if verdict.certificates.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        cert::check_chain_with(
            &verdict.certificates,
            host.as_deref(),
            check_time,
            opts.trust.as_deref(),
        )
    };
    let diagnosis = diagnose::diagnose(
        &verdict,
        &findings,
        diagnose::Context {
            host: host.as_deref(),
        },
    );
    ConnectionReport {
        index: info.id.0,
        client: info.client,
        server: info.server,
        start: info.start,
        from_syn: info.saw_handshake,
        verdict,
        ja3,
        ja3s,
        ja4,
        certificates,
        findings,
        diagnosis,
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
    let mut analyzer = Analyzer {
        flows: HashMap::new(),
        opts,
        emit,
        non_tls_flows: 0,
    };
    let (capture, error) = match capture::read_capture(input, read, &mut analyzer) {
        Ok(stats) => (stats, None),
        Err(e) => (*e.stats.clone(), Some(e)),
    };
    let stats = AnalyzeStats {
        capture,
        non_tls_flows: analyzer.non_tls_flows,
    };
    (stats, error)
}
