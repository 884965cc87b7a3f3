//! One hello, one connection, one verdict: build (or take) the hello, send it, feed both
//! directions to the session tracker until it has its verdict, then check the certificates
//! and diagnose. The network part is [`crate::net`]; everything after it is pure.

use crate::cert::{self, CertInfo, Finding, TrustStore};
use crate::crypto::EphemeralKeys;
use crate::diagnose::{self, Diagnosis};
use crate::net::{self, ExchangeObserver, Limits, Target};
use crate::session::{Direction, EndKind, Micros, Tracker, Verdict};
use crate::wire::build::{self, BuiltHello, HelloSpec};
use crate::wire::hello::ClientHello;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What to send: a hello built from options, or exact bytes.
#[derive(Debug, Clone)]
pub enum HelloSource {
    Spec(Box<HelloSpec>),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub target: Target,
    pub hello: HelloSource,
    pub limits: Limits,
    /// Unix seconds the certificates are checked against.
    pub check_time: i64,
    /// Trust anchors for the chain (`None`: no trust checks).
    pub trust: Option<Arc<TrustStore>>,
}

/// Everything that crossed the wire, in order, for reports and `--pcap-out`.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub chunks: Vec<(Direction, Micros, Vec<u8>)>,
    pub end: Option<(Direction, EndKind, Micros)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub connect: Duration,
    /// From sending the hello to the first byte of the answer.
    pub first_byte: Option<Duration>,
    /// From sending the hello to the verdict.
    pub verdict: Duration,
}

#[derive(Debug)]
pub struct ProbeResult {
    pub target: Target,
    pub sni: Option<String>,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    /// The bytes sent, and the hello they decode to (None for SSLv2 or undecodable raw bytes).
    pub sent: Vec<u8>,
    pub hello: Option<ClientHello>,
    pub built: Option<BuiltHello>,
    /// Set when no connection was made; the OS reason.
    pub connect_error: Option<ConnectError>,
    pub verdict: Option<Verdict>,
    pub transcript: Transcript,
    pub timings: Timings,
    pub certificates: Vec<CertInfo>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
    /// Wall-clock time the transcript's timestamps count from (Unix microseconds).
    pub started_unix_micros: u64,
}

#[derive(Debug, Clone)]
pub struct ConnectError {
    pub refused: bool,
    pub reason: String,
}

impl ProbeResult {
    /// The outcome in the contract's names (`connect_failed` when no connection was made).
    pub fn outcome(&self) -> &'static str {
        match (&self.connect_error, &self.verdict) {
            (Some(_), _) | (None, None) => "connect_failed",
            (None, Some(v)) => v.outcome.as_str(),
        }
    }

    /// True when the server went on with the handshake (ServerHello or HelloRetryRequest).
    pub fn server_went_on(&self) -> bool {
        matches!(self.outcome(), "server_hello" | "hello_retry_request")
    }
}

struct Recorder {
    tracker: Tracker,
    transcript: Transcript,
}

impl ExchangeObserver for Recorder {
    fn data(&mut self, dir: Direction, bytes: &[u8], at: Micros) -> bool {
        self.transcript.chunks.push((dir, at, bytes.to_vec()));
        self.tracker.on_data(dir, bytes, at);
        !self.tracker.decided()
    }

    fn end(&mut self, dir: Direction, kind: EndKind, at: Micros) {
        self.transcript.end = Some((dir, kind, at));
        self.tracker.on_end(dir, kind, at);
    }
}

/// Builds the bytes to send for `source`, aimed at `target`.
pub fn prepare(source: &HelloSource, target: &Target) -> (Vec<u8>, Option<BuiltHello>) {
    match source {
        HelloSource::Raw(bytes) => (bytes.clone(), None),
        HelloSource::Spec(spec) => {
            let built = build::build(spec, Some(&target.host), &mut fill_random);
            (built.wire.clone(), Some(built))
        }
    }
}

/// Randomness for hellos and key shares, from the OS.
pub fn fill_random(buf: &mut [u8]) {
    // Without OS randomness a hello is still valid; only its random looks less random.
    let _ = getrandom::fill(buf);
}

/// Runs one probe. Never panics on what the server does; connection failures are results.
pub fn run(cfg: &ProbeConfig) -> ProbeResult {
    let (sent, built) = prepare(&cfg.hello, &cfg.target);
    let hello = decode_sent_hello(&sent);
    let sni = hello.as_ref().and_then(|h| h.sni());
    let mut result = ProbeResult {
        target: cfg.target.clone(),
        sni,
        local: None,
        peer: None,
        sent: sent.clone(),
        hello,
        built,
        connect_error: None,
        verdict: None,
        transcript: Transcript::default(),
        timings: Timings::default(),
        certificates: Vec::new(),
        findings: Vec::new(),
        diagnosis: Vec::new(),
        started_unix_micros: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0),
    };
    let mut conn = match net::connect(&cfg.target, &cfg.limits) {
        Ok(c) => c,
        Err(e) => {
            let refused = e.kind() == io::ErrorKind::ConnectionRefused;
            let cause = if refused {
                "connection_refused"
            } else {
                "connect_failed"
            };
            result.diagnosis.push(Diagnosis {
                cause,
                detail: format!("connecting to {}: {e}", cfg.target.display()),
                fix: diagnose::fix_for(cause),
            });
            result.connect_error = Some(ConnectError {
                refused,
                reason: e.to_string(),
            });
            return result;
        }
    };
    result.local = Some(conn.local);
    result.peer = Some(conn.peer);
    result.timings.connect = conn.connect_time;
    // With our own key shares the tracker completes the TLS 1.3 key exchange and reads the
    // server's encrypted flight (certificates, CertificateRequest, Finished).
    let tracker = match &result.built {
        Some(b) if !b.secrets.is_empty() => {
            Tracker::with_keys(Arc::new(EphemeralKeys::new(b.secrets.clone())))
        }
        _ => Tracker::new(),
    };
    let mut rec = Recorder {
        tracker,
        transcript: Transcript::default(),
    };
    let sent_at = conn.start.elapsed();
    net::exchange(&mut conn, &sent, &cfg.limits, &mut rec);
    net::close(&conn);
    let done_at = conn.start.elapsed();
    result.timings.verdict = done_at.saturating_sub(sent_at);
    result.timings.first_byte = rec
        .transcript
        .chunks
        .iter()
        .find(|(d, _, _)| *d == Direction::ServerToClient)
        .map(|(_, at, _)| Duration::from_micros(*at).saturating_sub(sent_at));
    let verdict = rec.tracker.verdict().clone();
    let (certs, findings) = if verdict.certificates.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        cert::check_chain_with(
            &verdict.certificates,
            Some(&cfg.target.host),
            cfg.check_time,
            cfg.trust.as_deref(),
        )
    };
    result.diagnosis = diagnose::diagnose(
        &verdict,
        &findings,
        diagnose::Context {
            host: Some(&cfg.target.host),
        },
    );
    result.certificates = certs;
    result.findings = findings;
    result.verdict = Some(verdict);
    result.transcript = rec.transcript;
    result
}

/// The ClientHello inside the bytes we send, if they hold one (raw bytes may not).
fn decode_sent_hello(bytes: &[u8]) -> Option<ClientHello> {
    let mut t = Tracker::new();
    t.on_data(Direction::ClientToServer, bytes, 0);
    t.verdict().client_hello.clone()
}

/// What a bare exchange gives an enumeration: the verdict and how many bytes the server
/// sent (zero separates "no answer at all" from an answer that ended the handshake).
#[derive(Debug)]
pub struct Exchanged {
    pub verdict: Verdict,
    pub server_bytes: usize,
}

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

/// The lighter entry point `scan` uses: connect, send `wire`, read until the tracker has
/// its verdict. No transcript, certificate checks or diagnosis; a failed connect is the
/// error.
pub fn exchange_verdict(target: &Target, wire: &[u8], limits: &Limits) -> io::Result<Exchanged> {
    let mut conn = net::connect(target, limits)?;
    let mut obs = VerdictOnly {
        tracker: Tracker::new(),
        server_bytes: 0,
    };
    net::exchange(&mut conn, wire, limits, &mut obs);
    net::close(&conn);
    Ok(Exchanged {
        verdict: obs.tracker.verdict().clone(),
        server_bytes: obs.server_bytes,
    })
}
