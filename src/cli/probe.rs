//! `probe`, `hello` and `decode` on the command line: their flags, validated into what the
//! commands take, and the `--pcap-out` file written from a probe's transcript.

use super::{ConnectArgs, Failure, HelloArgs, read_bytes_arg};
use crate::commands::probe::{self, ProbeConfig, ProbeResult};
use crate::commands::{addresses, decode};
use crate::core::flow::{Direction, EndKind};
use crate::io::net::Target;
use crate::report::{Format, ResultSink};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// host, host:port or [v6addr]:port (default port 443).
    pub target: String,
    #[command(flatten)]
    pub hello: HelloArgs,
    #[command(flatten)]
    pub connecting: ConnectArgs,
    /// Write the exchange as a pcap file (opens in Wireshark/tshark). Not with --quic.
    #[arg(long, value_name = "FILE", conflicts_with = "quic")]
    pub pcap_out: Option<PathBuf>,
    #[command(flatten)]
    pub quic: Box<QuicArgs>,
}

// `probe --quic` and its QUIC options.
#[derive(Args, Debug)]
pub struct QuicArgs {
    /// Send the hello over QUIC (UDP, Initial packets) instead of TCP: the server's
    /// Initial and Handshake packets are read with our key share, then the connection is
    /// closed. Default port 443 (UDP).
    #[arg(long)]
    pub quic: bool,
    /// QUIC version of the Initial packets: 1, 2, or any 32-bit number (hex with 0x) to
    /// ask the server for its list (Version Negotiation).
    #[arg(long, value_name = "VERSION", requires = "quic")]
    pub quic_version: Option<String>,
    /// A transport parameter: NAME=VALUE with an RFC 9000 name (integers in decimal,
    /// connection IDs and other bytes in hex, flags with an empty value) or ID=HEX with a
    /// number; NAME=none leaves a default one out. Repeatable.
    #[arg(long, value_name = "NAME=VALUE", requires = "quic")]
    pub quic_param: Vec<String>,
}

/// `--quic-version`: `1`, `2`, or a 32-bit number (`0x` hex or decimal).
fn quic_version(s: &str) -> Result<u32, String> {
    use crate::core::wire::quic::{VERSION_1, VERSION_2};
    let bad = || format!("--quic-version {s:?}: expected 1, 2 or a 32-bit number (0x…)");
    match s {
        "1" | "v1" => Ok(VERSION_1),
        "2" | "v2" => Ok(VERSION_2),
        _ => match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).map_err(|_| bad()),
            None => s.parse().map_err(|_| bad()),
        },
    }
}

/// `--quic-param`s as (id, value or none), checked against how each is written.
fn quic_params(
    list: &[String],
) -> Result<Vec<crate::core::session::quic_client::ParamChange>, String> {
    use crate::core::wire::quic::{self, ParamValue};
    let mut out = Vec::new();
    for item in list {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("--quic-param {item:?}: expected NAME=VALUE"))?;
        let id = quic::transport_parameter_id(name).ok_or_else(|| {
            format!(
                "--quic-param {item:?}: unknown parameter {name:?} (an RFC 9000 name, or a number)"
            )
        })?;
        if value == "none" {
            out.push((id, None));
            continue;
        }
        let bytes = match quic::transport_parameter_kind(id) {
            ParamValue::Integer => {
                let v: u64 = value.parse().ok().filter(|v| *v < 1 << 62).ok_or_else(|| {
                    format!("--quic-param {item:?}: {name} is an integer below 2^62")
                })?;
                let mut b = Vec::new();
                quic::put_varint(&mut b, v);
                b
            }
            ParamValue::Flag | ParamValue::Bytes => {
                super::parse_hex(value).map_err(|m| format!("--quic-param {item:?}: {m}"))?
            }
        };
        out.push((id, Some(bytes)));
    }
    Ok(out)
}

/// `--quic`'s options, when it is given.
pub fn quic_options(a: &QuicArgs) -> Result<Option<probe::QuicOptions>, String> {
    if !a.quic {
        return Ok(None);
    }
    let mut o = probe::QuicOptions::default();
    if let Some(v) = &a.quic_version {
        o.version = quic_version(v)?;
    }
    o.params = quic_params(&a.quic_param)?;
    Ok(Some(o))
}

#[derive(Args, Debug)]
pub struct HelloCmdArgs {
    #[command(flatten)]
    pub hello: HelloArgs,
    /// Host name the hello is for (its default SNI; without it the hello names no server
    /// unless --sni gives one).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Raw bytes to stdout (for a pipe) instead of hex.
    #[arg(long, conflicts_with = "hex")]
    pub raw: bool,
    /// Hex to stdout (the default).
    #[arg(long)]
    pub hex: bool,
    /// Also print the decoded fields.
    #[arg(long)]
    pub decode: bool,
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Hex (spaces, colons and 0x prefixes are ignored), @FILE (hex or binary), or - for stdin.
    pub input: String,
}

/// Validated `probe` options.
pub fn probe_config(a: &ProbeArgs) -> Result<ProbeConfig, String> {
    let mut c = a.connecting.validate()?;
    c.name_preamble(a.hello.sni.as_deref());
    Ok(c.probe(c.target(&a.target)?, a.hello.to_source()?))
}

/// One probe per address of the target (every A/AAAA address unless `-4`, `-6`,
/// `--one-address`, `--connect` or `--resolve` narrow them), each its own result, then a
/// summary of what differs when there were several. Exit code 0 when the server went on
/// with the handshake at every address, else 1.
pub fn run_probe(a: &ProbeArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let mut c = a.connecting.validate()?;
    c.name_preamble(a.hello.sni.as_deref());
    let hello = a.hello.to_source()?;
    let quic = quic_options(&a.quic)?;
    let targets = c.targets(&a.target)?;
    let mut results = Vec::with_capacity(targets.len());
    let mut backends = Vec::with_capacity(targets.len());
    let mut all_went_on = true;
    for target in targets {
        let dialed = target.connect;
        let cfg = c.probe(target, hello.clone());
        let result = match &quic {
            Some(q) => probe::run_quic(&cfg, q),
            None => probe::run(&cfg),
        };
        let mut report = result.report();
        if report.address.is_none() {
            // No connection: the address it was tried at still identifies the result.
            report.address =
                dialed.map(|ip| std::net::SocketAddr::new(ip, result.target.port).to_string());
        }
        all_went_on &= report.server_went_on();
        sink.emit(&report)?;
        backends.push(backend_of(&report, dialed));
        results.push(result);
    }
    if backends.len() > 1 {
        let target = results
            .first()
            .map(|r| r.target.display())
            .unwrap_or_default();
        sink.emit(&addresses::summarize(&target, &backends))?;
    }
    sink.flush()?;
    if let Some(path) = &a.pcap_out {
        write_probe_pcap(path, &results)?;
    }
    Ok(if all_went_on { 0 } else { 1 })
}

/// The facts of one address's probe that the summary compares.
fn backend_of(r: &probe::ProbeReport, dialed: Option<std::net::IpAddr>) -> addresses::Backend {
    let hello = r.verdict.as_ref().and_then(|v| v.server_hello.as_ref());
    addresses::Backend {
        address: dialed
            .map(|ip| ip.to_string())
            .or_else(|| r.address.clone())
            .unwrap_or_else(|| "-".into()),
        failed: !r.server_went_on(),
        outcome: r.outcome.clone(),
        version: hello.map(|h| h.version.clone()),
        cipher: hello.map(|h| h.cipher.clone()),
        leaf_sha256: r.certificates.first().map(|c| c.sha256.clone()),
        causes: r
            .diagnosis
            .iter()
            .map(|d| d.cause.id().to_string())
            .collect(),
    }
}

/// Every probe that made a connection, one TCP stream each.
fn write_probe_pcap(path: &std::path::Path, results: &[ProbeResult]) -> Result<(), Failure> {
    use crate::io::capture::writer::{self, LinkType};
    let conns: Vec<_> = results.iter().filter_map(pcap_connection).collect();
    if conns.is_empty() {
        return Err(Failure::Usage(
            "--pcap-out: no connection was made, nothing to write".into(),
        ));
    }
    let fail = |e: String| Failure::Usage(format!("--pcap-out {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut out = std::io::BufWriter::new(file);
    writer::write_pcap(&mut out, LinkType::Ethernet, &conns).map_err(|e| fail(e.to_string()))?;
    out.flush().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

fn pcap_connection(r: &ProbeResult) -> Option<crate::io::capture::writer::Connection> {
    use crate::io::capture::writer::{Close, Connection};
    let (Some(client), Some(server)) = (r.local, r.peer) else {
        return None;
    };
    let base = r.started_unix_micros;
    let end = r.transcript.end.map_or(0, |e| e.2);
    let close = match r.transcript.end {
        Some((dir, EndKind::Rst, _)) => Close::Rst(dir),
        Some((dir, EndKind::Fin, _)) => Close::Fin(dir),
        // We stopped reading (verdict, timeout, cap) and closed our side.
        _ => Close::Fin(Direction::ClientToServer),
    };
    Some(Connection {
        client,
        server,
        start: base,
        client_isn: 1_000,
        server_isn: 2_000_000,
        chunks: r
            .transcript
            .chunks
            .iter()
            .map(|(d, at, b)| (*d, base + at, b.clone()))
            .collect(),
        close,
        end: base + end.max(r.transcript.chunks.last().map_or(0, |c| c.1)),
    })
}

/// `--raw` writes the bytes themselves; otherwise the hex (and the decoded fields) go to
/// the sink.
pub fn run_hello(a: &HelloCmdArgs, mut out: impl Write, format: Format) -> Result<i32, Failure> {
    // No --host: an IP literal, so the hello names no server unless --sni asks for one
    // (a made-up name would be sent without the user having said so).
    let target = Target::parse(a.host.as_deref().unwrap_or("127.0.0.1"), 443)?;
    let hello = decode::hello(&a.hello.to_source()?, &target, a.decode && !a.raw)?;
    if a.raw {
        out.write_all(&hello.bytes)?;
        out.flush()?;
        return Ok(0);
    }
    let mut sink = ResultSink::new(out, format);
    sink.emit(&hello)?;
    sink.flush()?;
    Ok(0)
}

/// Exit code 2 when the bytes are cut short, are not TLS or do not decode.
pub fn run_decode(a: &DecodeArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let bytes = read_bytes_arg(&a.input)?;
    if bytes.is_empty() {
        return Err(Failure::Usage(
            "nothing to decode: the input is empty".into(),
        ));
    }
    let decoded = decode::decode(&bytes);
    sink.emit(&decoded)?;
    sink.flush()?;
    // Bytes that do not decode whole are invalid input: exit 2, what was read is shown.
    Ok(if decoded.incomplete() { 2 } else { 0 })
}
