//! `shakedown pcap`: a capture's TCP flows, each fed to its own session tracker (the same
//! one `probe` uses), turned into per-connection reports as the flows end. Reports stream
//! out through a callback, so memory holds only the flows still open.
//!
//! The command ([`PcapConfig`] → [`run`]) streams: each selected connection goes to the
//! `emit` callback as a [`PcapConnection`] when its flow ends; the [`PcapSummaryLine`]
//! (bounded counters) is returned at the end. `watch` (feature `live`) feeds packets from an
//! interface through the same
//! [`capture::PacketReader`](crate::io::capture::PacketReader) and analyzer.
//!
//! The files, a concern each:
//! - `mod.rs`: [`ConnectionReport`] (one connection, with its outcome and why it is
//!   incomplete) and the re-exports;
//! - `analyze.rs`: [`analyze`] and [`analyze_file`], with [`AnalyzeOptions`] and
//!   [`AnalyzeStats`]: the analyzer (the [`FlowSink`](crate::io::capture::FlowSink) that
//!   keeps a tracker per open flow and its memory count) and the assessor (a finished
//!   connection to its report, each distinct chain checked once);
//! - `filter.rs`: [`Filter`] and [`Selection`]: which connections are reported;
//! - `reporter.rs`: the reporter (select, count, emit; [`Emit`]) and the summary's bounded
//!   counters;
//! - `json.rs`: the JSON line's shared parts, each written once (offered hello,
//!   fingerprints, certificates, server hello, diagnosis), and a connection's result;
//! - `run.rs`: [`run`] over [`PcapConfig`]'s inputs, each read on two threads (capture,
//!   report), to a [`PcapOutcome`];
//! - `watch.rs` (feature `live`): `watch`, live from an interface;
//! - `result.rs`: the result types (`PcapConnection`, the summary) and how they are
//!   written; `counts.rs`: the handshake counts of `pcap --summary` and `watch --metrics`.

mod analyze;
pub mod counts;
mod filter;
mod json;
mod reporter;
pub mod result;
mod run;
#[cfg(feature = "live")]
mod watch;

pub use analyze::{AnalyzeOptions, AnalyzeStats, analyze, analyze_file};
pub use counts::{CaptureCounts, HandshakeCounts, HandshakeCountsLine, WatchMetrics};
pub use filter::{Filter, Selection};
pub use reporter::Emit;
pub use run::{Input, PcapConfig, PcapOutcome, run};
#[cfg(feature = "live")]
pub use watch::{WatchConfig, watch};

pub use result::{
    AlertResult, CaptureTime, ConnectionName, DecryptionResult, Diagnoses, DivergedResult, Events,
    ExtensionTypes, HexId, InputResult, NameFailures, Named, NamedList, OfferedHello,
    PcapConnection, PcapSummary, PcapSummaryLine, Prerendered, Registry, ServerHelloResult, Text,
    Version,
};

pub use crate::commands::Trust;
use crate::core::assess::Diagnosis;
use crate::core::cert::{CertInfo, Finding};
use crate::core::fingerprint::{self, Ja3};
use crate::core::flow::{EndKind, Micros, Transport};
use crate::core::session::{Outcome, Verdict};
use crate::core::wire::starttls::Protocol;
use crate::io::capture::FlowEnd;
use std::net::SocketAddr;
use std::sync::Arc;

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
