//! One hello, one connection, one verdict: build (or take) the hello, send it, feed both
//! directions to the session tracker until it has its verdict, then check the certificates
//! and diagnose. The network part is [`crate::io::net`]; everything after it is pure.

use crate::commands::SchemaVersion;
use crate::commands::facts::{CertificateFacts, OfferedHello, VerdictFacts};
use crate::core::assess::{self, ConnectError, Diagnosis};
use crate::core::cert::{CertInfo, ChainChecker, Finding, TrustStore};
use crate::core::crypto::hello::{self as build, BuiltHello, retry_hello};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::{Tracker, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::group_name;
use crate::core::wire::sslv2::Sslv2ClientHello;
use crate::io::net::{self, ExchangeObserver, Limits, StarttlsReport, Target, Transport};
use schemars::JsonSchema;
use serde::Serialize;
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

#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
    pub certificates: Arc<[CertInfo]>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
    /// Wall-clock time the transcript's timestamps count from (Unix microseconds).
    pub started_unix_micros: u64,
    /// Set when the server sent a HelloRetryRequest: how we answered it.
    pub retry: Option<Retry>,
    /// The plaintext preamble before TLS, when the target has one.
    pub starttls: Option<StarttlsReport>,
}

/// Our answer to a HelloRetryRequest (RFC 8446 §4.1.2).
#[derive(Debug, Clone)]
pub struct Retry {
    /// The group the HelloRetryRequest asked for, if any.
    pub group: Option<u16>,
    /// The HelloRetryRequest carried a cookie (echoed in the second hello).
    pub cookie: bool,
    /// The second ClientHello sent on the same connection; `None` when none could be made.
    pub second_hello: Option<ClientHello>,
    /// Why no second ClientHello was sent.
    pub problem: Option<String>,
}

impl ProbeResult {
    /// The outcome in the contract's names (`connect_failed` when no connection was made).
    pub fn outcome(&self) -> &'static str {
        if let Some(failure) = self.starttls.as_ref().and_then(|s| s.failure) {
            return failure.outcome();
        }
        match (&self.connect_error, &self.verdict) {
            (Some(_), _) | (None, None) => "connect_failed",
            (None, Some(v)) => v.outcome.as_str(),
        }
    }

    /// The hello went out: a connection was made and its preamble (if any) led to TLS.
    pub fn hello_sent(&self) -> bool {
        self.connect_error.is_none() && self.starttls.as_ref().is_none_or(|s| s.accepted)
    }

    /// True when the server went on with the handshake (ServerHello or HelloRetryRequest).
    pub fn server_went_on(&self) -> bool {
        matches!(self.outcome(), "server_hello" | "hello_retry_request")
    }
}

struct Recorder {
    tracker: Tracker,
    transcript: Transcript,
    /// The hello was built (with key shares the tracker holds), so a second one can be
    /// made; false when the hello is raw bytes (sent as given, never re-made).
    keys: bool,
    /// Records the second hello is cut into, as the first was.
    fragment: Option<usize>,
    retry: Option<Retry>,
}

impl Recorder {
    /// After a HelloRetryRequest, once: the second ClientHello, or why there is none.
    fn answer_retry(&mut self) -> Option<Vec<u8>> {
        let v = self.tracker.verdict();
        if self.retry.is_some() || v.outcome != crate::core::session::Outcome::HelloRetryRequest {
            return None;
        }
        let (hrr, first) = (v.hello_retry_request.as_ref()?, v.client_hello.as_ref()?);
        let mut retry = Retry {
            group: hrr.key_share_group(),
            cookie: hrr.ext(ext::COOKIE).is_some(),
            second_hello: None,
            problem: None,
        };
        let wire = match (self.keys, retry_hello(first, hrr, &mut fill_random)) {
            (false, _) => {
                retry.problem = Some(
                    "the hello was given as raw bytes (or offers no TLS 1.3): no second \
                     ClientHello is made"
                        .into(),
                );
                None
            }
            (true, Err(e)) => {
                retry.problem = Some(e);
                None
            }
            (true, Ok(r)) => {
                // The server's answer to the second hello is decrypted with its key pair.
                if let Some(secret) = r.secret {
                    self.tracker.add_key_share(secret);
                }
                match r.hello.to_records(self.fragment) {
                    Ok(wire) => {
                        retry.second_hello = Some(r.hello);
                        Some(wire)
                    }
                    Err(e) => {
                        retry.problem = Some(e.to_string());
                        None
                    }
                }
            }
        };
        self.retry = Some(retry);
        wire
    }
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

    fn reply(&mut self) -> Option<Vec<u8>> {
        self.answer_retry()
    }
}

/// Builds the bytes to send for `source`, aimed at `target`. Fails when the hello does not
/// fit its length fields.
pub fn prepare(
    source: &HelloSource,
    target: &Target,
) -> Result<(Vec<u8>, Option<BuiltHello>), String> {
    match source {
        HelloSource::Raw(bytes) => Ok((bytes.clone(), None)),
        HelloSource::Spec(spec) => {
            let built = build::build(spec, Some(&target.host), &mut fill_random)
                .map_err(|e| format!("cannot encode the hello: {e}"))?;
            Ok((built.wire.clone(), Some(built)))
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
    let mut result = start(cfg);
    let mut conn = match net::connect(&cfg.target, &cfg.limits) {
        Ok(c) => c,
        Err(e) => return connect_failed(cfg, result, e),
    };
    result.local = Some(conn.local);
    result.peer = Some(conn.peer);
    result.timings.connect = conn.connect_time;
    result.starttls = conn.starttls.clone();
    if let Some(s) = &result.starttls
        && let Some(failure) = s.failure
    {
        // No TLS on this connection: the preamble's end is the verdict.
        net::close(&conn);
        let failed = assess::PreambleFailure {
            protocol: s.protocol,
            failure,
            server_said: s.server_said.clone(),
        };
        let ctx = assess::Context {
            preamble_failure: Some(&failed),
            ..assess::Context::default()
        };
        result.diagnosis = assess::assess(&Verdict::default(), &ctx).diagnosis;
        return result;
    }
    let mut rec = recorder(cfg, &result);
    let sent_at = conn.start.elapsed();
    net::exchange(&mut conn, &result.sent, &cfg.limits, &mut rec);
    net::close(&conn);
    let done_at = conn.start.elapsed();
    finish(cfg, result, rec, sent_at, done_at)
}

/// [`run`] over another transport (e.g. a server held in memory, as the fuzz target that
/// plays a server does): the same hello, tracker, HelloRetryRequest answer and assessment,
/// without a socket. There are no addresses; times are the transport's.
pub fn run_over(cfg: &ProbeConfig, transport: &dyn Transport) -> ProbeResult {
    let result = start(cfg);
    let mut rec = recorder(cfg, &result);
    match transport.exchange(&cfg.target, &result.sent, &cfg.limits, &mut rec) {
        Ok(()) => {
            let done_at = rec.transcript.end.map(|(_, _, at)| at).unwrap_or(0);
            finish(
                cfg,
                result,
                rec,
                Duration::ZERO,
                Duration::from_micros(done_at),
            )
        }
        Err(e) => connect_failed(cfg, result, e),
    }
}

/// The result before any connection: what is sent, and the hello it decodes to.
fn start(cfg: &ProbeConfig) -> ProbeResult {
    // The CLI checked that the hello encodes (`HelloArgs::to_source`); one that does not
    // is sent as nothing.
    let (sent, built) = prepare(&cfg.hello, &cfg.target).unwrap_or_default();
    let hello = decode_sent_hello(&sent);
    let sni = hello.as_ref().and_then(|h| h.sni());
    ProbeResult {
        target: cfg.target.clone(),
        sni,
        local: None,
        peer: None,
        sent,
        hello,
        built,
        connect_error: None,
        verdict: None,
        transcript: Transcript::default(),
        timings: Timings::default(),
        certificates: Arc::default(),
        findings: Vec::new(),
        diagnosis: Vec::new(),
        started_unix_micros: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0),
        retry: None,
        starttls: None,
    }
}

/// No connection was made: the result says why, and diagnoses it.
fn connect_failed(cfg: &ProbeConfig, mut result: ProbeResult, e: io::Error) -> ProbeResult {
    let error = ConnectError {
        refused: e.kind() == io::ErrorKind::ConnectionRefused,
        reason: e.to_string(),
    };
    let target = cfg.target.display();
    let ctx = assess::Context {
        target: Some(&target),
        connect_error: Some(&error),
        ..assess::Context::default()
    };
    result.diagnosis = assess::assess(&Verdict::default(), &ctx).diagnosis;
    result.connect_error = Some(error);
    result
}

/// The observer of one exchange: the tracker (with our key shares when the hello was
/// built) and the transcript.
fn recorder(cfg: &ProbeConfig, result: &ProbeResult) -> Recorder {
    // With our own key shares the tracker completes the TLS 1.3 key exchange and reads the
    // server's encrypted flight (certificates, CertificateRequest, Finished).
    // A built hello offering TLS 1.3 gets keys even with no real share in it: the share of
    // a second hello (after a HelloRetryRequest) is real.
    let keys = result
        .built
        .as_ref()
        .filter(|b| {
            let offers_tls13 = b.hello.as_ref().and_then(|h| h.supported_versions());
            !b.secrets.is_empty() || offers_tls13.is_some_and(|v| v.contains(&0x0304))
        })
        .map(|b| b.secrets.clone());
    let keys_given = keys.is_some();
    let tracker = match keys {
        Some(shares) => Tracker::with_key_shares(shares),
        None => Tracker::new(),
    };
    let fragment = match &cfg.hello {
        HelloSource::Spec(spec) => spec.fragment,
        HelloSource::Raw(_) => None,
    };
    Recorder {
        tracker,
        transcript: Transcript::default(),
        keys: keys_given,
        fragment,
        retry: None,
    }
}

/// After the exchange: timings from the transcript, the verdict, and its assessment.
/// `sent_at` and `done_at` count from the connection's start, like the transcript.
fn finish(
    cfg: &ProbeConfig,
    mut result: ProbeResult,
    rec: Recorder,
    sent_at: Duration,
    done_at: Duration,
) -> ProbeResult {
    result.timings.verdict = done_at.saturating_sub(sent_at);
    result.timings.first_byte = rec
        .transcript
        .chunks
        .iter()
        .find(|(d, _, _)| *d == Direction::ServerToClient)
        .map(|(_, at, _)| Duration::from_micros(*at).saturating_sub(sent_at));
    let verdict = rec.tracker.verdict().clone();
    let chains = ChainChecker::new(cfg.trust.clone());
    let assessment = assess::assess(
        &verdict,
        &assess::Context {
            // The name the server was asked for: the SNI sent, else the target's name.
            host: Some(result.sni.as_deref().unwrap_or(&cfg.target.host)),
            now_unix: cfg.check_time,
            chains: Some(&chains),
            ..assess::Context::default()
        },
    );
    result.certificates = assessment.certificates;
    result.findings = assessment.findings;
    result.diagnosis = assessment.diagnosis;
    result.verdict = Some(verdict);
    result.transcript = rec.transcript;
    result.retry = rec.retry;
    result
}

/// The ClientHello inside the bytes we send, if they hold one (raw bytes may not).
fn decode_sent_hello(bytes: &[u8]) -> Option<ClientHello> {
    let mut t = Tracker::new();
    t.on_data(Direction::ClientToServer, bytes, 0);
    t.verdict().client_hello.clone()
}

/// The preamble before TLS, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StarttlsFacts {
    /// `smtp`, `imap`, `postgres`, …
    pub protocol: &'static str,
    /// The server's capability list named the upgrade (`null`: the protocol has no list).
    pub offered: Option<bool>,
    /// The server agreed to start TLS.
    pub accepted: bool,
    /// The server's last line or answer, printable.
    pub server_said: Option<String>,
}

/// `probe`'s result as reported: the contract's fields (JSON), plus what only the text shows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProbeReport {
    pub schema_version: SchemaVersion,
    /// The target as given (`host:port`).
    pub target: String,
    /// The server name the hello carries.
    pub sni: Option<String>,
    /// `server_hello`, `hello_retry_request`, `alert`, …, or `connect_failed`.
    pub outcome: String,
    /// The address connected to.
    pub address: Option<String>,
    /// The ClientHello sent, or built when no connection was made (`None`: SSLv2 or bytes
    /// that are not a TLS ClientHello).
    pub offered: Option<OfferedHello>,
    /// Bytes sent: 0 when no connection was made (or the preamble ended before TLS).
    pub sent_bytes: usize,
    /// The plaintext preamble before TLS (`--starttls`, or the port's protocol).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StarttlsFacts>,
    /// Text only: the size of the hello built (sent or not).
    #[serde(skip)]
    pub hello_bytes: usize,
    pub timings_ms: TimingsMs,
    pub certificates: Vec<CertificateFacts>,
    pub diagnosis: Vec<Diagnosis>,
    /// Why no connection was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the tracker concluded (absent when no connection was made).
    #[serde(flatten)]
    pub verdict: Option<VerdictFacts>,
    /// Set when the server sent a HelloRetryRequest: how it was answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hello_retry_request: Option<RetryFacts>,
    /// Text only: what an SSLv2 hello sent was (version, cipher kinds).
    #[serde(skip)]
    pub sent_sslv2: Option<(String, usize)>,
    /// Text only: the timings at full precision.
    #[serde(skip)]
    pub timings: Timings,
}

/// Timings in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct TimingsMs {
    pub connect: f64,
    /// From sending the hello to the first byte of the answer.
    pub first_byte: Option<f64>,
    /// From sending the hello to the verdict.
    pub verdict: f64,
}

/// How a HelloRetryRequest was answered.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RetryFacts {
    pub cookie: bool,
    /// The group the HelloRetryRequest asked for.
    pub group: Option<String>,
    /// Why no second ClientHello was sent.
    pub problem: Option<String>,
    pub second_client_hello: Option<OfferedHello>,
}

fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

impl ProbeReport {
    /// True when the server went on with the handshake (ServerHello or HelloRetryRequest).
    pub fn server_went_on(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "server_hello" | "hello_retry_request"
        )
    }
}

impl ProbeResult {
    /// The result as reported.
    pub fn report(&self) -> ProbeReport {
        ProbeReport {
            schema_version: SchemaVersion,
            target: self.target.display(),
            sni: self.sni.clone(),
            outcome: self.outcome().to_string(),
            address: self.peer.map(|p| p.to_string()),
            offered: self.hello.as_ref().map(OfferedHello::of),
            sent_bytes: if self.hello_sent() {
                self.sent.len()
            } else {
                0
            },
            starttls: self.starttls.as_ref().map(|s| StarttlsFacts {
                protocol: s.protocol.name(),
                offered: s.offered,
                accepted: s.accepted,
                server_said: s.server_said.clone(),
            }),
            hello_bytes: self.sent.len(),
            timings_ms: TimingsMs {
                connect: ms(self.timings.connect),
                first_byte: self.timings.first_byte.map(ms),
                verdict: ms(self.timings.verdict),
            },
            certificates: self.certificates.iter().map(CertificateFacts::of).collect(),
            diagnosis: self.diagnosis.clone(),
            error: self.connect_error.as_ref().map(|e| e.reason.clone()),
            verdict: self.verdict.as_ref().map(VerdictFacts::of),
            hello_retry_request: self.retry.as_ref().map(|r| RetryFacts {
                cookie: r.cookie,
                group: r.group.map(group_name),
                problem: r.problem.clone(),
                second_client_hello: r.second_hello.as_ref().map(OfferedHello::of),
            }),
            sent_sslv2: match (&self.hello, Sslv2ClientHello::decode(&self.sent)) {
                (None, Ok(h)) => {
                    Some((ProtocolVersion(h.version).to_string(), h.cipher_specs.len()))
                }
                _ => None,
            },
            timings: self.timings,
        }
    }
}
