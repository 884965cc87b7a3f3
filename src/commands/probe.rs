//! One hello, one connection, one verdict: build (or take) the hello, send it, feed both
//! directions to the session tracker until it has its verdict, then check the certificates
//! and diagnose. The network part is [`crate::io::net`]; everything after it is pure.

use crate::commands::SchemaVersion;
use crate::commands::facts::{CertificateFacts, EventFacts, OfferedHello, VerdictFacts};
use crate::core::assess::{self, ConnectError, Diagnosis, QuicEnd};
use crate::core::cert::{CertInfo, ChainChecker, Finding, TrustStore};
use crate::core::crypto::hello::{self as build, BuiltHello, retry_hello};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::quic_client::{
    CloseKind, ParamChange, QuicClient, QuicClientConfig, QuicFacts, handshake_bytes,
    transport_parameters,
};
use crate::core::session::{Tracker, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::quic as quic_wire;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::{alert_name, group_name};
use crate::core::wire::sslv2::Sslv2ClientHello;
use crate::core::wire::starttls;
use crate::io::net::{self, ExchangeObserver, Limits, StarttlsReport, Target, Transport};
use schemars::JsonSchema;
use serde::Serialize;
use std::borrow::Cow;
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
    /// Set for a probe over QUIC: what its QUIC layer showed.
    pub quic: Option<QuicFacts>,
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
        if let Some(end) = self.quic.as_ref().and_then(quic_end) {
            return match end {
                QuicEnd::VersionNegotiation { .. } => "version_negotiation",
                QuicEnd::TransportError { .. } => "transport_error",
            };
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
        answer_retry(&mut self.tracker, &mut self.retry, self.keys, self.fragment)
    }
}

/// After a HelloRetryRequest that `tracker` read, once (`slot` records it): the second
/// ClientHello as records (cut as `fragment` says), its key pair given to the tracker; or
/// `None`, with why in `slot` (`keys`: false when the hello was given as raw bytes).
fn answer_retry(
    tracker: &mut Tracker,
    slot: &mut Option<Retry>,
    keys: bool,
    fragment: Option<usize>,
) -> Option<Vec<u8>> {
    let v = tracker.verdict();
    if slot.is_some() || v.outcome != crate::core::session::Outcome::HelloRetryRequest {
        return None;
    }
    let (hrr, first) = (v.hello_retry_request.as_ref()?, v.client_hello.as_ref()?);
    let mut retry = Retry {
        group: hrr.key_share_group(),
        cookie: hrr.ext(ext::COOKIE).is_some(),
        second_hello: None,
        problem: None,
    };
    let wire = match (keys, retry_hello(first, hrr, &mut fill_random)) {
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
                tracker.add_key_share(secret);
            }
            match r.hello.to_records(fragment) {
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
    *slot = Some(retry);
    wire
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
    result.local = conn.local().ok();
    result.peer = Some(conn.peer);
    result.timings.connect = conn.connect_time;
    result.starttls = conn.starttls.clone();
    // The preamble's bytes lead the transcript (so `--pcap-out` holds the whole session);
    // the tracker reads only what follows.
    let preamble = result
        .starttls
        .as_ref()
        .map(|s| s.exchange.clone())
        .unwrap_or_default();
    if let Some(s) = &result.starttls
        && let Some(failure) = s.failure
    {
        result.transcript.chunks = preamble;
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
    rec.transcript.chunks = preamble;
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
        quic: None,
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
        .find(|(d, at, _)| {
            // The first answer to the hello, not the preamble's greeting.
            *d == Direction::ServerToClient && Duration::from_micros(*at) >= sent_at
        })
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
            quic_end: result.quic.as_ref().and_then(quic_end).as_ref(),
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

/// The plaintext preamble as timeline steps ("smtp: 220 mail.test ESMTP"), ahead of TLS's.
fn preamble_events(s: &StarttlsReport) -> Vec<EventFacts> {
    s.exchange
        .iter()
        .map(|(dir, at, bytes)| EventFacts {
            at_ms: *at as f64 / 1000.0,
            from: dir.peer(),
            what: format!("{}: {}", s.protocol.name(), starttls::summarize(bytes)),
        })
        .collect()
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
    /// Set for a probe over QUIC (`--quic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicProbeFacts>,
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
            offered: self.hello.as_ref().map(|h| match self.quic {
                Some(_) => OfferedHello::over(h, crate::core::flow::Transport::Quic),
                None => OfferedHello::of(h),
            }),
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
            verdict: self.verdict.as_ref().map(|v| {
                let mut facts = VerdictFacts::of(v);
                if let Some(s) = &self.starttls {
                    facts.events.splice(0..0, preamble_events(s));
                }
                facts
            }),
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
            quic: self
                .quic
                .as_ref()
                .map(|q| QuicProbeFacts::of(q, self.verdict.as_ref())),
        }
    }
}

/// What a probe over QUIC chooses besides the hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicOptions {
    /// The version of our Initial packets (another than v1/v2 asks for Version Negotiation).
    pub version: u32,
    /// Transport parameters set (`Some`) or left out (`None`) over the defaults, in order.
    pub params: Vec<ParamChange>,
}

impl Default for QuicOptions {
    fn default() -> Self {
        QuicOptions {
            version: quic_wire::VERSION_1,
            params: Vec::new(),
        }
    }
}

/// The hello as a QUIC client sends it unless the options say otherwise: TLS 1.3 only and
/// its suites (RFC 9001 §4.2), no legacy session ID (§8.4), ALPN `h3`; and the
/// quic_transport_parameters extension (unless `--ext` gives its own).
fn quic_spec(spec: &HelloSpec, params: &[(u64, Vec<u8>)]) -> HelloSpec {
    let mut spec = spec.clone();
    if spec.version == ProtocolVersion::TLS13 {
        spec.supported_versions
            .get_or_insert(Cow::Borrowed(&[0x0304]));
        spec.cipher_suites
            .get_or_insert_with(|| vec![0x1301, 0x1302, 0x1303]);
    }
    spec.session_id.get_or_insert_with(Vec::new);
    spec.alpn
        .get_or_insert(Cow::Borrowed(&[Cow::Borrowed("h3")]));
    if !spec
        .extra_extensions
        .iter()
        .any(|e| e.typ == ext::QUIC_TRANSPORT_PARAMETERS)
    {
        spec.extra_extensions.push(crate::core::wire::Extension {
            typ: ext::QUIC_TRANSPORT_PARAMETERS,
            data: quic_wire::encode_transport_parameters(params),
        });
    }
    spec
}

/// A QUIC client that records every datagram in the transcript, and answers a
/// HelloRetryRequest as [`Recorder`] does over TCP.
struct QuicRecorder {
    client: QuicClient,
    transcript: Transcript,
    /// The hello was built (not raw bytes): a second one can be made.
    keys: bool,
    retry: Option<Retry>,
}

impl net::DatagramPeer for QuicRecorder {
    fn start(&mut self, at: Micros) -> Vec<Vec<u8>> {
        let out = self.client.start(at);
        for d in &out {
            self.transcript
                .chunks
                .push((Direction::ClientToServer, at, d.clone()));
        }
        out
    }

    fn datagram(&mut self, bytes: &[u8], at: Micros) -> Vec<Vec<u8>> {
        self.transcript
            .chunks
            .push((Direction::ServerToClient, at, bytes.to_vec()));
        let mut out = self.client.on_datagram(bytes, at);
        if let Some(records) =
            answer_retry(self.client.tracker_mut(), &mut self.retry, self.keys, None)
        {
            out.extend(self.client.hello_again(&handshake_bytes(&records), at));
        }
        for d in &out {
            self.transcript
                .chunks
                .push((Direction::ClientToServer, at, d.clone()));
        }
        out
    }

    fn wants_more(&self) -> bool {
        self.client.wants_more()
    }

    fn end(&mut self, kind: EndKind, at: Micros) {
        self.transcript
            .end
            .get_or_insert((Direction::ServerToClient, kind, at));
        self.client.on_end(kind, at);
    }

    fn close(&mut self) -> Vec<Vec<u8>> {
        self.client.close()
    }
}

/// How the QUIC layer ended the connection below TLS, if it did.
fn quic_end(q: &QuicFacts) -> Option<QuicEnd> {
    if let Some(versions) = &q.version_negotiation {
        return Some(QuicEnd::VersionNegotiation {
            offered: q.version,
            versions: versions.clone(),
        });
    }
    let close = q.server_close.as_ref()?;
    let name = match close.kind() {
        CloseKind::Crypto(_) => return None,
        CloseKind::Application => "APPLICATION_ERROR (application close)".to_string(),
        CloseKind::Transport(Some(name)) => name.to_string(),
        CloseKind::Transport(None) => format!("transport error 0x{:x}", close.code),
    };
    Some(QuicEnd::TransportError {
        name,
        code: close.code,
        reason: close.reason.clone(),
    })
}

/// One probe over QUIC: the hello (built as for TCP, with the transport parameters) in
/// Initial packets to the target's UDP port, the server's Initial and Handshake packets
/// read with our own key share, then a CONNECTION_CLOSE. Same tracker and assessment as
/// [`run`]; the QUIC layer's facts are in `quic`.
pub fn run_quic(cfg: &ProbeConfig, opts: &QuicOptions) -> ProbeResult {
    let mut ids = [0u8; 16];
    fill_random(&mut ids);
    let (dcid, scid) = (ids[..8].to_vec(), ids[8..].to_vec());
    let params = transport_parameters(&scid, &opts.params);
    let hello = match &cfg.hello {
        HelloSource::Spec(spec) => HelloSource::Spec(Box::new(quic_spec(spec, &params))),
        raw => raw.clone(),
    };
    let quic_cfg = ProbeConfig {
        hello,
        ..cfg.clone()
    };
    let mut result = start(&quic_cfg);
    result.quic = Some(QuicFacts {
        version: opts.version,
        ..QuicFacts::default()
    });
    let conn = match net::udp_connect(&cfg.target) {
        Ok(c) => c,
        Err(e) => return connect_failed(cfg, result, e),
    };
    result.local = Some(conn.local);
    result.peer = Some(conn.peer);
    let rec = recorder(&quic_cfg, &result);
    let client = QuicClient::new(
        QuicClientConfig {
            version: opts.version,
            dcid,
            scid,
            hello: handshake_bytes(&result.sent),
            crypto_frame_max: match &quic_cfg.hello {
                HelloSource::Spec(spec) => spec.fragment,
                HelloSource::Raw(_) => None,
            },
        },
        rec.tracker,
    );
    let mut peer = QuicRecorder {
        client,
        transcript: Transcript::default(),
        keys: rec.keys,
        retry: None,
    };
    let sent_at = conn.start.elapsed();
    net::datagram_exchange(&conn, &cfg.limits, &mut peer);
    let done_at = conn.start.elapsed();
    let (tracker, facts) = peer.client.into_parts();
    result.quic = Some(facts);
    let rec = Recorder {
        tracker,
        transcript: peer.transcript,
        keys: peer.keys,
        fragment: None,
        retry: peer.retry,
    };
    finish(&quic_cfg, result, rec, sent_at, done_at)
}

/// A probe over QUIC as reported: the QUIC layer's facts.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QuicProbeFacts {
    /// The version of our Initial packets, `0x00000001` for v1.
    pub version: String,
    /// The versions the server's Version Negotiation listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_negotiation: Option<Vec<String>>,
    /// The server asked for a Retry: the token's size and whether its integrity tag
    /// matched (a Retry whose tag does not is ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<QuicRetryFacts>,
    /// The server's CONNECTION_CLOSE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close: Option<QuicCloseFacts>,
    pub datagrams_sent: usize,
    pub datagrams_received: usize,
    pub initial_packets: usize,
    pub handshake_packets: usize,
    /// Packets that did not parse or decrypt (dropped).
    pub dropped_packets: usize,
    /// Why the Handshake packets could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The server's transport parameters (from its EncryptedExtensions), in order.
    pub server_transport_parameters: Vec<QuicParamFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QuicRetryFacts {
    pub token_bytes: usize,
    pub integrity_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QuicCloseFacts {
    /// The error code.
    pub code: u64,
    /// A transport error's name (RFC 9000 §20.1), `crypto_error` for a TLS alert,
    /// `application_error` for an application's close.
    pub error: String,
    /// The TLS alert a crypto error (0x100 + alert) carries.
    pub alert: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QuicParamFacts {
    pub id: u64,
    /// RFC 9000's name, when it has one.
    pub name: Option<String>,
    /// Integers in decimal, bytes in hex.
    pub value: String,
}

impl QuicProbeFacts {
    fn of(q: &QuicFacts, verdict: Option<&Verdict>) -> QuicProbeFacts {
        let server_params = verdict
            .and_then(|v| v.encrypted_extensions.as_ref())
            .and_then(|exts| {
                exts.iter()
                    .find(|e| e.typ == ext::QUIC_TRANSPORT_PARAMETERS)
            })
            .and_then(|e| quic_wire::decode_transport_parameters(&e.data).ok())
            .unwrap_or_default();
        QuicProbeFacts {
            version: format!("0x{:08x}", q.version),
            version_negotiation: q
                .version_negotiation
                .as_ref()
                .map(|v| v.iter().map(|v| format!("0x{v:08x}")).collect()),
            retry: q.retry.as_ref().map(|r| QuicRetryFacts {
                token_bytes: r.token_len,
                integrity_ok: r.integrity_ok,
            }),
            close: q.server_close.as_ref().map(|c| {
                let (error, alert) = match c.kind() {
                    CloseKind::Application => ("application_error".to_string(), None),
                    CloseKind::Crypto(a) => {
                        ("crypto_error".to_string(), Some(alert_name(a).into_owned()))
                    }
                    CloseKind::Transport(Some(n)) => (n.to_string(), None),
                    CloseKind::Transport(None) => (format!("0x{:x}", c.code), None),
                };
                QuicCloseFacts {
                    code: c.code,
                    error,
                    alert,
                    reason: c.reason.clone(),
                }
            }),
            datagrams_sent: q.datagrams_sent,
            datagrams_received: q.datagrams_received,
            initial_packets: q.initial_packets,
            handshake_packets: q.handshake_packets,
            dropped_packets: q.dropped_packets,
            problem: q.problem.clone(),
            server_transport_parameters: server_params
                .into_iter()
                .map(|(id, value)| QuicParamFacts {
                    id,
                    name: quic_wire::transport_parameter_name(id).map(str::to_string),
                    value: quic_wire::transport_parameter_text(id, value),
                })
                .collect(),
        }
    }
}
