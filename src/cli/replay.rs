//! `replay` on the command line: its flags and the validated [`ReplayConfig`].

use super::{ConnectArgs, Failure};
use crate::commands::capture_ref::ConnRef;
use crate::commands::replay::{self, ReplayConfig};
use crate::report::ResultSink;
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The capture (pcap, pcapng, gzip); `FILE#N` or `FILE#ADDR:PORT` also picks the connection.
    pub capture: String,
    /// The connection: N (from 1, in order of first packet) or a client or server ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT|N")]
    pub conn: Option<String>,
    /// host, host:port or [v6addr]:port (default port 443).
    pub target: String,
    /// Replace the hello's server_name with this name (the rest stays as captured).
    #[arg(long, value_name = "NAME", conflicts_with = "no_sni")]
    pub sni: Option<String>,
    /// Remove the hello's server_name.
    #[arg(long)]
    pub no_sni: bool,
    #[command(flatten)]
    pub connecting: ConnectArgs,
}

/// Validated `replay` options.
pub fn replay_config(a: &ReplayArgs) -> Result<ReplayConfig, String> {
    let capture = ConnRef::parse(&a.capture, a.conn.as_deref())?;
    let sni = match (&a.sni, a.no_sni) {
        (_, true) => Some(None),
        (Some(n), false) => Some(Some(n.clone())),
        (None, false) => None,
    };
    let mut connecting = a.connecting.validate()?;
    connecting.name_preamble(a.sni.as_deref());
    Ok(ReplayConfig {
        capture,
        sni,
        target: connecting.target(&a.target)?,
        connecting,
    })
}

/// Exit code 0 when the server went on with the replayed hello, else 1.
pub fn run(a: &ReplayArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let cfg = replay_config(a)?;
    let report = replay::run(&cfg)?;
    sink.emit(&report)?;
    sink.flush()?;
    Ok(if report.replay.server_went_on() { 0 } else { 1 })
}
