//! `shakedown replay CAPTURE --conn ADDR:PORT|N TARGET`: the ClientHello of one captured
//! connection, taken byte for byte from the capture (the records that carried it), sent to a
//! target, optionally with a new SNI: a failing client reproduced against a fixed server.
//! The captured verdict is shown beside the replay's.

use crate::commands::capture_ref::{ConnRef, load_connection};
use crate::commands::diff::{self, FieldReport, View};
use crate::commands::pcap::ConnectionReport;
use crate::commands::probe::{self, HelloSource, ProbeReport};
use crate::commands::simulate::profiles::decode_hello;
use crate::commands::{ConnectConfig, SchemaVersion};
use crate::io::net::Target;
use schemars::JsonSchema;
use serde::Serialize;

/// Validated `replay` options.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub capture: ConnRef,
    /// `None`: the hello as captured; `Some(None)`: without server_name; `Some(Some(n))`:
    /// with server_name `n`.
    pub sni: Option<Option<String>>,
    pub target: Target,
    pub connecting: ConnectConfig,
}

/// `replay`'s result: the captured connection's answer (A) beside the replay's (B).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ReplayReport {
    pub schema_version: SchemaVersion,
    /// The captured connection's label: `capture.pcap#2 (client → server)`.
    pub capture: String,
    /// Its number in the capture.
    pub connection: u64,
    pub sent_bytes: usize,
    /// The hello went out byte for byte as captured (no SNI change).
    pub as_captured: bool,
    pub captured: CapturedAnswer,
    /// The replay, as `probe` reports it.
    pub replay: ProbeReport,
    pub first_difference: Option<&'static str>,
    pub fields: Vec<FieldReport>,
    /// Text only: the replay side's label.
    #[serde(skip)]
    pub replay_label: String,
    /// Text only: the replay's history and causes.
    #[serde(skip)]
    pub replay_answer: CapturedAnswer,
}

/// How a handshake ended, in short.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
pub struct CapturedAnswer {
    pub outcome: String,
    pub history: String,
    pub causes: Vec<String>,
}

impl CapturedAnswer {
    fn of(v: &View) -> CapturedAnswer {
        CapturedAnswer {
            outcome: v.outcome.clone(),
            history: v.history.clone(),
            causes: v.causes.clone(),
        }
    }
}

/// The bytes to replay: the captured records, or the hello re-encoded with a new SNI.
pub fn replay_bytes(c: &ConnectionReport, sni: Option<Option<&str>>) -> Result<Vec<u8>, String> {
    let wire = c
        .verdict
        .client_hello_wire
        .clone()
        .or_else(|| c.verdict.sslv2_client_hello.clone())
        .ok_or_else(|| format!("connection #{} has no complete ClientHello", c.index))?;
    let Some(name) = sni else {
        return Ok(wire);
    };
    let mut hello = decode_hello(&wire)
        .ok_or_else(|| "--sni/--no-sni: the captured hello is not a TLS ClientHello".to_string())?;
    hello.set_sni(name).map_err(|e| format!("--sni: {e}"))?;
    hello.to_records(None).map_err(|e| e.to_string())
}

/// Reads the captured connection, sends its hello to the target and compares the answers.
/// Errors are an unreadable capture or a hello that cannot be replayed.
pub fn run(cfg: &ReplayConfig) -> Result<ReplayReport, String> {
    let captured = load_connection(&cfg.capture)?;
    let sni = cfg.sni.as_ref().map(|n| n.as_deref());
    let bytes = replay_bytes(&captured, sni)?;
    let probe_cfg = cfg
        .connecting
        .probe(cfg.target.clone(), HelloSource::Raw(bytes));
    let result = probe::run(&probe_cfg);
    let before = View::from_connection(&cfg.capture.file, &captured);
    let after = View::from_probe(&result);
    let (first_difference, fields) = diff::field_reports(&diff::answer(&before, &after));
    Ok(ReplayReport {
        schema_version: SchemaVersion,
        capture: before.label.clone(),
        connection: captured.index,
        sent_bytes: result.sent.len(),
        as_captured: sni.is_none(),
        captured: CapturedAnswer::of(&before),
        replay: result.report(),
        first_difference,
        fields,
        replay_label: after.label.clone(),
        replay_answer: CapturedAnswer::of(&after),
    })
}
