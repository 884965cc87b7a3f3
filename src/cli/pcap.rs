//! `shakedown pcap` and `shakedown watch` on the command line: their flags, validated into
//! a [`PcapConfig`] / [`WatchConfig`] before anything is read, the run with the
//! connections streamed to the sink, and the exit code.
//!
//! Exit codes: 2 when no input could be read at all (or bad flags), else 1 when a selected
//! connection failed, else 0.

use crate::commands::Failure;
use crate::commands::pcap::{self, AnalyzeOptions, Filter, Input, PcapConfig, Selection};
use crate::core::crypto::KeyLog;
use crate::io::capture::{DEFAULT_MAX_FLOWS, ReadOptions};
use crate::io::input;
use crate::report::{Format, ResultSink};
use clap::Args;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

// `shakedown pcap FILE...`
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
    #[command(flatten)]
    pub table: FlowTableArgs,
    /// A flow with no packet for SECS seconds of capture time is ended (its handshake, if
    /// undecided, reported as incomplete: idle_timeout).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub flow_timeout: f64,
    /// Read files with read(2) instead of through a memory map (the same results; slower).
    #[arg(long)]
    pub no_mmap: bool,
    /// Instead of a line per connection, the handshakes counted by cause, server, SNI,
    /// client version and outcome (a table, or JSON with --json), then the summary;
    /// `--summary=prometheus`: the same counts in the Prometheus text format, as
    /// `watch --metrics` serves them (for node_exporter's textfile collector).
    #[arg(
        long,
        value_name = "STYLE",
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "table"
    )]
    pub summary: Option<SummaryStyle>,
    #[command(flatten)]
    pub labels: LabelArgs,
}

/// How `pcap --summary` prints the counts.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryStyle {
    /// A table (JSON with --json).
    Table,
    /// The Prometheus text format.
    Prometheus,
}

// The label bound of the handshake counts, the same for `pcap --summary` and
// `watch --metrics`.
#[derive(Args, Debug, Clone)]
pub struct LabelArgs {
    /// Distinct SNIs, and distinct servers, counted under their own label (the first N
    /// seen keep it); the rest are counted as `other`.
    #[arg(long, value_name = "N", default_value_t = pcap::counts::DEFAULT_MAX_LABELS)]
    pub max_labels: usize,
}

impl LabelArgs {
    fn validate(&self) -> Result<usize, String> {
        match self.max_labels {
            1..=10_000 => Ok(self.max_labels),
            n => Err(format!("--max-labels {n}: expected 1 to 10000")),
        }
    }
}

// The flow table's limits, the same for `pcap` and `watch`: beyond either, the longest idle
// flows are ended early and reported (`incomplete_reason: evicted` if undecided).
#[derive(Args, Debug, Clone)]
pub struct FlowTableArgs {
    /// Connections tracked at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS)]
    pub max_flows: usize,
    /// Memory the open flows may hold (an estimate: per-flow state and buffered bytes), in
    /// bytes or with a suffix: 512K, 256M, 1G (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "128M")]
    pub memcap: String,
}

impl FlowTableArgs {
    /// The reader's options with these limits and the idle timeout in seconds.
    fn read_options(&self, idle_secs: f64, idle_flag: &str) -> Result<ReadOptions, String> {
        if self.max_flows == 0 {
            return Err("--max-flows 0: expected at least 1".into());
        }
        if !(idle_secs.is_finite() && idle_secs > 0.0) {
            return Err(format!("{idle_flag} {idle_secs}: expected seconds > 0"));
        }
        Ok(ReadOptions {
            max_flows: self.max_flows,
            memcap: parse_size(&self.memcap).ok_or_else(|| {
                format!(
                    "--memcap {:?}: expected a size of at least 1M, such as 256M or 1G",
                    self.memcap
                )
            })?,
            idle_timeout: (idle_secs * 1e6) as crate::core::flow::Micros,
            ..ReadOptions::default()
        })
    }
}

/// `N`, `NK`, `NM`, `NG` (powers of 1024; an optional `B`/`iB` after the letter), at least
/// 1 MiB; `None` when it is not a size.
fn parse_size(s: &str) -> Option<usize> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last()? {
        (i, 'k' | 'K') => (&t[..i], 10),
        (i, 'm' | 'M') => (&t[..i], 20),
        (i, 'g' | 'G') => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: usize = digits.trim().parse().ok()?;
    let bytes = n.checked_mul(1usize << shift)?;
    (bytes >= 1 << 20).then_some(bytes)
}

// What to print, the same for `pcap` and `watch`.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// A line for every TLS connection, not only the failed ones.
    #[arg(long)]
    pub all: bool,
    /// Only connections whose SNI is NAME (case-insensitive; `*.example.com` for subdomains).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
}

// Keys and certificate options, the same for `pcap` and `watch`.
#[derive(Args, Debug, Clone, Default)]
pub struct AnalysisArgs {
    /// NSS key log (SSLKEYLOGFILE, `openssl s_client -keylogfile`): decrypt handshakes.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    #[command(flatten)]
    pub cert: super::CertArgs,
}

impl AnalysisArgs {
    /// Reads the key log and, with `--ca`, the trust anchors (a bad file is an error
    /// before anything else is done); without it the anchors (Mozilla's and the system's)
    /// are read the first time a chain is checked — a capture may have none. Unusable key
    /// log lines are warned about on stderr and skipped: the rest still decrypts.
    pub fn options(&self) -> Result<AnalyzeOptions, String> {
        let trust = match self.cert.ca {
            Some(_) => pcap::Trust::from(self.cert.trust()?),
            None => pcap::Trust::on_demand(super::system_trust),
        };
        let check_time = self.cert.at()?;
        let keylog = match &self.keylog {
            Some(path) => {
                let bytes = input::read_file_capped(path, input::MAX_KEYLOG)
                    .map_err(|e| format!("--keylog {}: {e}", path.display()))?;
                let (log, problems) = KeyLog::parse_bytes(&bytes);
                // A few problems say what is wrong; thousands would only bury the output.
                const SHOWN: usize = 10;
                for p in problems.iter().take(SHOWN) {
                    eprintln!("shakedown: --keylog {}: {p}", path.display());
                }
                if problems.len() > SHOWN {
                    eprintln!(
                        "shakedown: --keylog {}: {} more unusable lines skipped",
                        path.display(),
                        problems.len() - SHOWN
                    );
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
            trust: Some(trust),
        })
    }
}

/// What is selected and computed for the given flags and output format: JSON reports every
/// selected connection with its fingerprints, text the failed ones (all with `--all`).
fn selection(
    failed: bool,
    output: &OutputArgs,
    host: Option<&str>,
    port: Option<u16>,
    format: Format,
) -> Result<Selection, String> {
    let host = match host {
        Some(h) => Some(
            h.trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .map_err(|_| format!("--host {h:?}: expected an IP address"))?,
        ),
        None => None,
    };
    let json = format == Format::Json;
    Ok(Selection {
        filter: Filter {
            failed_only: failed,
            sni: output.sni.clone(),
            host,
            port,
        },
        all: output.all || json,
        fingerprints: json,
    })
}

/// Validated `pcap` options.
pub fn pcap_config(a: &PcapArgs, format: Format) -> Result<PcapConfig, String> {
    let mut select = selection(a.failed, &a.output, a.host.as_deref(), a.port, format)?;
    if a.summary.is_some() {
        // No connection is printed: none needs its fingerprints.
        select.all = false;
        select.fingerprints = false;
    }
    if a.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err("stdin (-) can be read only once".into());
    }
    let inputs = a
        .files
        .iter()
        .map(|f| {
            if f == "-" {
                Input::Stdin
            } else {
                Input::File(f.into())
            }
        })
        .collect();
    Ok(PcapConfig {
        inputs,
        select,
        analysis: a.analysis.options()?,
        mmap: !a.no_mmap,
        read: a.table.read_options(a.flow_timeout, "--flow-timeout")?,
        count_labels: match a.summary {
            Some(_) => Some(a.labels.validate()?),
            None => None,
        },
    })
}

fn warn(message: &str) {
    eprintln!("shakedown: {message}");
}

/// Runs `shakedown pcap`: connections stream to the sink as their flows end, then the
/// summary.
pub fn run_pcap(a: &PcapArgs, format: Format, out: impl Write) -> Result<i32, Failure> {
    if a.summary == Some(SummaryStyle::Prometheus) && format == Format::Json {
        return Err(Failure::Usage(
            "--summary=prometheus prints the Prometheus text format, not JSON: drop --json".into(),
        ));
    }
    let cfg = pcap_config(a, format)?;
    if let Some(style) = a.summary {
        return run_pcap_summary(&cfg, style, format, out);
    }
    // A large buffer: standard output is line-buffered, and hands a buffer on with a search
    // for its last newline; fewer, larger writes make that search (and the syscalls) rare.
    let mut sink = ResultSink::new(std::io::BufWriter::with_capacity(1 << 18, out), format);
    let outcome = pcap::run(&cfg, &mut |c| sink.emit(c), &mut warn)?;
    sink.emit(&outcome.summary)?;
    sink.flush()?;
    Ok(pcap_exit(&outcome))
}

/// The exit code of a finished `pcap` run: one rule for every command, any input that could
/// not be read whole is exit 2, even when the others were reported.
fn pcap_exit(outcome: &pcap::PcapOutcome) -> i32 {
    if outcome.unreadable + outcome.cut_short > 0 {
        2
    } else if outcome.summary.summary.failed > 0 {
        1
    } else {
        0
    }
}

/// `pcap --summary`: the connections are counted, not printed; the counts and the summary
/// come at the end.
fn run_pcap_summary(
    cfg: &PcapConfig,
    style: SummaryStyle,
    format: Format,
    mut out: impl Write,
) -> Result<i32, Failure> {
    let outcome = pcap::run(cfg, &mut |_| Ok(()), &mut warn)?;
    // `count_labels` is set for --summary, so the counts are there; an empty table if not.
    let counts = outcome.counts.as_ref().map_or_else(
        || pcap::HandshakeCounts::default().result(),
        pcap::HandshakeCounts::result,
    );
    match style {
        SummaryStyle::Prometheus => {
            let capture = pcap::CaptureCounts::of_summary(&outcome.summary.summary);
            out.write_all(
                crate::report::prometheus::handshake_metrics(&counts.handshake_counts, &capture)
                    .as_bytes(),
            )?;
            out.flush()?;
        }
        SummaryStyle::Table => {
            let mut sink = ResultSink::new(out, format);
            sink.emit(&counts)?;
            sink.emit(&outcome.summary)?;
            sink.flush()?;
        }
    }
    Ok(pcap_exit(&outcome))
}

// `shakedown watch -i IFACE`: live verdicts (feature `live`).
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
    #[arg(
        long,
        alias = "flow-timeout",
        value_name = "SECS",
        default_value_t = 30.0
    )]
    pub idle: f64,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub table: FlowTableArgs,
    /// Serve `GET /metrics` on ADDR (e.g. 127.0.0.1:9220; port 0: any free port, printed on
    /// stderr): `shakedown_handshakes_total{server,sni,version,outcome,cause}` as
    /// handshakes finish, and the capture's own counters.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    #[command(flatten)]
    pub labels: LabelArgs,
}

/// Validated `watch` options.
#[cfg(feature = "live")]
pub fn watch_config(a: &WatchArgs, format: Format) -> Result<pcap::WatchConfig, String> {
    let select = selection(false, &a.output, None, None, format)?;
    let read = a.table.read_options(a.idle, "--idle")?;
    let duration = match a.duration {
        Some(d) if d.is_finite() && d > 0.0 => Some(std::time::Duration::from_secs_f64(d)),
        Some(d) => return Err(format!("--duration {d}: expected seconds > 0")),
        None => None,
    };
    Ok(pcap::WatchConfig {
        interface: a.interface.clone(),
        bpf: a.filter.clone(),
        select,
        analysis: a.analysis.options()?,
        count: a.count,
        duration,
        read,
        metrics: match &a.metrics {
            Some(_) => Some(std::sync::Arc::new(std::sync::Mutex::new(
                pcap::WatchMetrics::new(a.labels.validate()?),
            ))),
            None => None,
        },
    })
}

/// Runs `shakedown watch`: every line is flushed as it is written (live output).
#[cfg(feature = "live")]
pub fn run_watch(a: &WatchArgs, format: Format, out: impl Write) -> Result<i32, Failure> {
    let cfg = watch_config(a, format)?;
    if let (Some(listen), Some(metrics)) = (&a.metrics, &cfg.metrics) {
        serve_metrics(listen, metrics.clone())?;
    }
    let mut sink = ResultSink::new(out, format);
    // SIGINT and SIGTERM end the capture like --duration: open flows are reported and the
    // summary is printed (as tcpdump and tshark do).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let outcome = pcap::watch(
        &cfg,
        &stop,
        &mut |c| {
            sink.emit(c)?;
            sink.flush()
        },
        &mut warn,
    )?;
    sink.emit(&outcome.summary)?;
    sink.flush()?;
    Ok(if outcome.summary.summary.failed > 0 {
        1
    } else {
        0
    })
}

/// `watch --metrics`: the exporter's HTTP server on its own threads (two workers: a scrape
/// only renders the counters), answering `/metrics` for as long as the process runs.
#[cfg(feature = "live")]
fn serve_metrics(
    listen: &str,
    metrics: std::sync::Arc<std::sync::Mutex<pcap::WatchMetrics>>,
) -> Result<(), Failure> {
    let server = super::exporter::bind(listen, "--metrics", "shakedown watch metrics")?;
    std::thread::spawn(move || {
        super::exporter::serve(&server, 2, &|request| match request.url() {
            "/metrics" => {
                // The rows are taken under the lock and rendered after it: the capture
                // loop waits only for the taking.
                let (counts, capture) = {
                    let m = metrics.lock().unwrap_or_else(|e| e.into_inner());
                    (m.handshakes.result(), m.capture)
                };
                (
                    200,
                    crate::report::prometheus::handshake_metrics(
                        &counts.handshake_counts,
                        &capture,
                    ),
                )
            }
            "/" => (200, "shakedown watch: /metrics\n".into()),
            _ => (404, "not found\n".into()),
        });
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M"), Some(256 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("2048k"), Some(2 << 20));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("1000"), None, "below 1 MiB");
        assert_eq!(parse_size("12X"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999G"), None);
    }
}
