//! `shakedown replay CAPTURE --conn ADDR:PORT|N TARGET`: the ClientHello of one captured
//! connection, taken byte for byte from the capture (the records that carried it), sent to a
//! target, optionally with a new SNI: a failing client reproduced against a fixed server.
//! The captured verdict is shown beside the replay's.
//!
//! Also home of [`ConnRef`] (`FILE#N`, `FILE#ADDR:PORT`) and [`load_connection`], which
//! `diff` uses too.

use crate::cli::{ConnectArgs, Failure};
use crate::commands::diff::{self, View};
use crate::commands::pcap::{self, AnalyzeOptions, ConnectionReport};
use crate::commands::probe::{self, HelloSource};
use crate::commands::simulate::profiles::decode_hello;
use crate::io::capture::ReadOptions;
use crate::report;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;

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
    /// Set from the global `--json` (transitional: the command's config takes the format).
    #[arg(skip)]
    pub json: bool,
}

/// Which connection of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnSelector {
    /// 1-based, in order of first packet.
    Index(u64),
    /// The first connection with this client or server endpoint.
    Endpoint(SocketAddr),
}

/// A connection in a capture: `FILE#N` or `FILE#ADDR:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnRef {
    pub file: String,
    pub conn: ConnSelector,
}

impl ConnSelector {
    pub fn parse(s: &str) -> Result<ConnSelector, String> {
        if let Ok(n) = s.parse::<u64>() {
            return if n == 0 {
                Err("connections are numbered from 1".into())
            } else {
                Ok(ConnSelector::Index(n))
            };
        }
        s.parse()
            .map(ConnSelector::Endpoint)
            .map_err(|_| format!("{s:?}: expected a connection number N or ADDR:PORT"))
    }
}

impl std::fmt::Display for ConnSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnSelector::Index(n) => write!(f, "{n}"),
            ConnSelector::Endpoint(a) => write!(f, "{a}"),
        }
    }
}

impl ConnRef {
    /// `FILE#SEL`, or `FILE` with the selector given apart (`--conn`); neither: connection 1.
    /// A `#` in a file name is taken as the separator only when it splits off a selector.
    pub fn parse(arg: &str, conn: Option<&str>) -> Result<ConnRef, String> {
        if let Some(c) = conn {
            return Ok(ConnRef {
                file: arg.to_string(),
                conn: ConnSelector::parse(c).map_err(|e| format!("--conn {e}"))?,
            });
        }
        if let Some((file, sel)) = arg.rsplit_once('#')
            && let Ok(conn) = ConnSelector::parse(sel)
        {
            return Ok(ConnRef {
                file: file.to_string(),
                conn,
            });
        }
        Ok(ConnRef {
            file: arg.to_string(),
            conn: ConnSelector::Index(1),
        })
    }
}

/// Reads the capture and returns the chosen connection's report.
pub fn load_connection(r: &ConnRef) -> Result<ConnectionReport, String> {
    let file = std::fs::File::open(&r.file).map_err(|e| format!("{}: {e}", r.file))?;
    let mut all = Vec::new();
    let (_, error) = pcap::analyze_file(
        file,
        true,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |c| all.push(c),
    );
    all.sort_by_key(|c| c.index);
    let found = all.into_iter().find(|c| match r.conn {
        ConnSelector::Index(n) => c.index == n,
        ConnSelector::Endpoint(a) => c.client == a || c.server == a,
    });
    match (found, error) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(format!("{}: {e}", r.file)),
        (None, None) => Err(format!(
            "{}: no TLS connection #{} in the capture",
            r.file, r.conn
        )),
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
    hello.set_sni(name);
    hello.to_records(None).map_err(|e| e.to_string())
}

pub fn run(a: &ReplayArgs, mut out: impl Write) -> Result<i32, Failure> {
    let conn_ref = ConnRef::parse(&a.capture, a.conn.as_deref())?;
    let captured = load_connection(&conn_ref)?;
    let sni = match (&a.sni, a.no_sni) {
        (_, true) => Some(None),
        (Some(n), false) => Some(Some(n.as_str())),
        (None, false) => None,
    };
    let bytes = replay_bytes(&captured, sni)?;
    let connecting = a.connecting.validate()?;
    let cfg = connecting.probe(connecting.target(&a.target)?, HelloSource::Raw(bytes));
    let result = probe::run(&cfg);
    let before = View::from_connection(&conn_ref.file, &captured);
    let after = View::from_probe(&result);
    let fields = diff::answer(&before, &after);
    report::diff::replay(
        &mut out,
        &captured,
        &result,
        &before,
        &after,
        &fields,
        sni.is_some(),
        a.json,
    )?;
    out.flush()?;
    Ok(if result.server_went_on() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_refs_parse() {
        assert_eq!(
            ConnRef::parse("a.pcap#2", None).unwrap(),
            ConnRef {
                file: "a.pcap".into(),
                conn: ConnSelector::Index(2)
            }
        );
        assert_eq!(
            ConnRef::parse("a.pcap#[::1]:443", None).unwrap().conn,
            ConnSelector::Endpoint("[::1]:443".parse().unwrap())
        );
        assert_eq!(
            ConnRef::parse("a.pcap", Some("127.0.0.1:5")).unwrap().conn,
            ConnSelector::Endpoint("127.0.0.1:5".parse().unwrap())
        );
        assert_eq!(
            ConnRef::parse("odd#name.pcap", None).unwrap().file,
            "odd#name.pcap"
        );
        assert!(ConnRef::parse("a.pcap", Some("0")).is_err());
        assert!(ConnRef::parse("a.pcap", Some("x")).is_err());
    }
}
