//! `shakedown scan` on the command line: its flags, their validation into a
//! [`ScanConfig`] (targets from arguments, `--targets-file` and standard input read before
//! anything is sent; `--resume` read too), the progress bar, output written a whole line at
//! a time (SIGINT and SIGTERM end the run between lines), and the exit code: 0 when every
//! target answered some version, 1 otherwise, 130/143 when interrupted.

use super::ConnectArgs;
use crate::commands::Failure;
use crate::commands::scan::targets::resume_key;
use crate::commands::scan::vulns::VulnMode;
use crate::commands::scan::{self, Prefer, ScanConfig, ScanOptions, ScanResult, Shard, TargetList};
use crate::core::wire::build::Sni;
use crate::io::input;
use crate::io::net::{Quic, Tcp};
use crate::report::ResultSink;
use std::collections::HashSet;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Targets: host, host:port, [v6addr]:port (default port 443), IP,NAME, a CIDR range
    /// (10.0.0.0/24, 10.0.0.0/24:8443), zgrab2's "IP, DOMAIN, TAG[, PORT]"; "-" reads them
    /// from standard input, one per line.
    pub targets: Vec<String>,
    /// Read targets from this file, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,
    /// Scan only shard I of N (0 <= I < N): the targets whose position modulo N is I, so N
    /// machines given the same list split it without coordination.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Print the targets this run would scan (after --shard and --resume), one per line in
    /// the target syntax, and exit.
    #[arg(long)]
    pub list_targets: bool,
    /// Skip the targets already in this output of `scan --json` (a missing file is empty),
    /// e.g. `scan --json --resume out.jsonl ... >> out.jsonl`.
    #[arg(long, value_name = "OUTPUT")]
    pub resume: Option<PathBuf>,
    /// Write each result when it is ready instead of in the order the targets were given.
    #[arg(long)]
    pub unordered: bool,
    /// Connections at once, within a target and across targets.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// At most this many new connections per second, all targets together.
    #[arg(long, value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// At most this many new connections per second to each target address (with --rate,
    /// both hold).
    #[arg(long, value_name = "PER_SEC")]
    pub rate_per_target: Option<f64>,
    /// Retries of a connection that fails before any answer (connect timeout, reset).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
    #[command(flatten)]
    pub connecting: ConnectArgs,
    /// Server name for every hello (default: the target host, unless it is an IP).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Versions, suites and their order only (no groups, signature schemes, behaviour).
    #[arg(long)]
    pub suites_only: bool,
    /// The scan's plan: `fewer-connections` (each phase after the last) or `lower-latency`
    /// (phases overlap: suites, groups, schemes and behaviour start as soon as the version
    /// test allows; at most one more connection). Default: lower-latency for one target,
    /// fewer-connections for several (mass scans). See docs/scan.md, "Cost model".
    #[arg(long, value_name = "PLAN", value_parser = Prefer::parse)]
    pub prefer: Option<Prefer>,
    /// Over QUIC (UDP, Initial packets) instead of TCP: versions, TLS 1.3 suites and their
    /// order, and the TLS 1.3 groups (by key shares) with the post-quantum checks, as a QUIC
    /// server answers them (no signature schemes, behaviour probes, certificates or --vulns;
    /// with --suites-only, no groups).
    #[arg(long, conflicts_with = "vulns")]
    pub quic: bool,
    /// Name the known TLS attacks the server is exposed to (a `vulnerabilities` object in
    /// the JSON, a vulns section in the text), from what the scan learned plus at most 10
    /// connections: an early CCS, a heartbeat request (when the extension is answered), a
    /// session ticket and its resumption (ticketbleed), a renegotiation and five RSA key
    /// exchanges (robot). `--vulns=safe` leaves out the two that could disturb a server:
    /// robot (malformed RSA key exchanges) and client_renegotiation (a renegotiation
    /// under the session). See docs/vulns.md.
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "all",
        value_parser = VulnMode::parse
    )]
    pub vulns: Option<VulnMode>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Validated `scan` options: every target read and parsed, ranges checked.
pub fn scan_config(args: &ScanArgs) -> Result<ScanConfig, Failure> {
    let mut connecting = args.connecting.validate()?;
    // Needed only when the first chain is checked, after the target's last connection: on
    // a thread of its own, the first connection does not wait for it.
    connecting.trust.build_ahead();
    connecting.name_preamble(args.sni.as_deref());
    ScanConfig::check_pace(args.concurrency, args.rate, args.rate_per_target)?;
    let mut targets = TargetList::default();
    for_each_target_line(args, &mut |line| {
        targets.push_line(line, 443, connecting.connect)
    })?;
    let done = match &args.resume {
        Some(path) => resume_keys(path)?,
        None => HashSet::new(),
    };
    let one_target = targets.len() <= 1;
    let cfg = ScanConfig {
        targets,
        shard: args.shard.unwrap_or_default(),
        done,
        unordered: args.unordered,
        options: ScanOptions {
            limits: connecting.limits,
            retries: args.retries,
            sni: args.sni.clone().map_or(Sni::Auto, Sni::Name),
            suites_only: args.suites_only || args.quic,
            quic_groups: args.quic && !args.suites_only,
            // One target: its scan's wall time is the run's; many: connections are the cost.
            prefer: args.prefer.unwrap_or(if one_target {
                Prefer::LowerLatency
            } else {
                Prefer::FewerConnections
            }),
        },
        concurrency: args.concurrency,
        rate: args.rate,
        rate_per_target: args.rate_per_target,
        connecting,
        vulns: args.vulns,
    };
    Ok(cfg.validate()?)
}

/// Hands each target line from arguments, `--targets-file` and standard input (`-`) to
/// `take`, comments and blank lines left out.
fn for_each_target_line(
    args: &ScanArgs,
    take: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), Failure> {
    for t in &args.targets {
        if t == "-" {
            let bytes = input::read_capped(io::stdin().lock(), input::MAX_TARGET_LIST)
                .map_err(|e| Failure::Usage(format!("reading targets from stdin: {e}")))?;
            take_lines(&mut &bytes[..], "standard input", take)?;
        } else {
            take(t)?;
        }
    }
    if let Some(path) = &args.targets_file {
        let what = format!("--targets-file {}", path.display());
        let bytes = input::read_file_capped(path, input::MAX_TARGET_LIST)
            .map_err(|e| Failure::Usage(format!("{what}: {e}")))?;
        take_lines(&mut &bytes[..], &what, take)?;
    }
    Ok(())
}

/// The target lines of one input (`what` names it in errors).
fn take_lines(
    input: &mut dyn BufRead,
    what: &str,
    take: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), Failure> {
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Failure::Usage(format!("{what}: {e}")))?;
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            take(line).map_err(|e| Failure::Usage(format!("{what} line {}: {e}", n + 1)))?;
        }
    }
    Ok(())
}

/// The targets an earlier `scan --json` wrote to `path` (a missing file holds none). A
/// line that is not a whole result (a run cut short mid-write) is skipped: its target is
/// scanned again.
fn resume_keys(path: &std::path::Path) -> Result<HashSet<String>, Failure> {
    let what = format!("--resume {}", path.display());
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(Failure::Usage(format!("{what}: {e}"))),
    };
    let mut done = HashSet::new();
    for line in io::BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| Failure::Usage(format!("{what}: {e}")))?;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(target) = v["target"].as_str() {
            let connect = v["connect"].as_str().and_then(|ip| ip.parse().ok());
            done.insert(resume_key(target, connect));
        }
    }
    Ok(done)
}

/// A writer that holds what is written until `flush`, then hands it on in one
/// `write_all`: a result line reaches the output whole, never cut or mixed with another.
struct WholeLines<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> Write for WholeLines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let written = self
            .out
            .write_all(&self.line)
            .and_then(|()| self.out.flush());
        self.line.clear();
        written
    }
}

/// Held while a result is written; a signal waits for it, so it never cuts a line.
static WRITING: Mutex<()> = Mutex::new(());

/// On SIGINT or SIGTERM: wait for the line being written, then exit 128 + the signal
/// (the shell's convention), with a word on standard error. Targets not yet written are
/// scanned again by a run with `--resume`.
fn exit_between_lines_on_signal(written: &'static AtomicUsize) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // Without the handler a signal ends the run the default way.
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _writing = WRITING.lock();
            eprintln!(
                "shakedown: interrupted after {} results",
                written.load(Ordering::Relaxed)
            );
            std::process::exit(128 + signal);
        }
    });
}

/// Raises the open-file limit toward what `concurrency` connections need. When it cannot,
/// says so on standard error and returns the concurrency the limit allows (at least 1), so
/// no connection fails for want of a descriptor.
fn ensure_descriptors(concurrency: usize) -> usize {
    // Connections, plus standard streams, the trust store's files and some slack.
    let slack = 64;
    let want = concurrency as u64 + slack;
    match crate::io::net::raise_open_file_limit(want) {
        Ok(_) => concurrency,
        Err(have) => {
            let fits = (have.saturating_sub(slack) as usize).clamp(1, concurrency);
            eprintln!(
                "shakedown: --concurrency {concurrency} needs about {want} open files; the \
                 limit is {have} (raise it with `ulimit -n`): {fits} connections at once"
            );
            fits
        }
    }
}

/// `shakedown scan`: exit 0 when every target answered some version, 1 otherwise.
pub fn run(args: &ScanArgs, sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let cfg = scan_config(args)?;
    if args.list_targets {
        let mut out = io::stdout().lock();
        for t in cfg.selected() {
            writeln!(out, "{}", t.line())?;
        }
        return Ok(0);
    }
    let mut cfg = cfg;
    cfg.concurrency = ensure_descriptors(cfg.concurrency);
    crate::io::net::small_pages_only();
    static WRITTEN: AtomicUsize = AtomicUsize::new(0);
    exit_between_lines_on_signal(&WRITTEN);
    let format = sink.format();
    let mut sink = ResultSink::new(
        WholeLines {
            out: sink.into_inner(),
            line: Vec::new(),
        },
        format,
    );
    let bar = if args.no_progress || !io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(cfg.shard.len(cfg.targets.len()));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} targets, {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let handshakes = AtomicUsize::new(0);
    // Without a bar to draw, nothing at all: every connection calls this, from every
    // thread, and the bar's message and tick each take its lock.
    let hidden = bar.is_hidden();
    let on_handshake = || {
        if hidden {
            return;
        }
        let n = handshakes.fetch_add(1, Ordering::Relaxed) + 1;
        bar.set_message(format!("{n} handshakes"));
        bar.tick();
    };
    let mut failed = false;
    // The addresses of the target being written, for the summary after its last one.
    let mut backends = Vec::new();
    let mut emit = |result: &ScanResult| -> io::Result<()> {
        let (n, count) = result.sibling;
        if n + 1 == count {
            bar.inc(1);
        }
        failed |= !result.any_supported();
        if n == 0 {
            backends.clear();
        }
        backends.push(result.backend());
        bar.suspend(|| {
            let _writing = WRITING.lock();
            sink.emit(result)?;
            if count > 1 && n + 1 == count {
                sink.emit(&crate::commands::addresses::summarize(
                    &result.target,
                    &backends,
                ))?;
            }
            sink.flush()?;
            WRITTEN.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    };
    let outcome = if args.quic {
        scan::run(&cfg, &Quic, &on_handshake, &mut emit)
    } else {
        scan::run(&cfg, &Tcp, &on_handshake, &mut emit)
    };
    bar.finish_and_clear();
    outcome?;
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<ScanConfig, String> {
        let cli =
            crate::cli::Cli::try_parse_from(["shakedown", "scan"].iter().chain(args).copied())
                .map_err(|e| e.to_string())?;
        let crate::cli::Command::Scan(a) = cli.command else {
            unreachable!("parsed as scan");
        };
        scan_config(&a).map_err(|e| match e {
            Failure::Usage(m) => m,
            Failure::Io(e) => e.to_string(),
        })
    }

    #[test]
    fn targets_from_arguments_and_a_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("targets");
        std::fs::write(&file, "# a comment\nb.test:8443  # trailing\n\n[::1]\n").unwrap();
        let cfg = config(&["a.test", "--targets-file", file.to_str().unwrap()]).unwrap();
        let names: Vec<String> = cfg.selected().map(|t| t.target.display()).collect();
        assert_eq!(names, ["a.test:443", "b.test:8443", "[::1]:443"]);
        assert_eq!((cfg.concurrency, cfg.options.retries), (8, 2));
    }

    #[test]
    fn bad_settings_are_refused_before_anything_runs() {
        for (args, want) in [
            (&["x", "--concurrency", "0"][..], "--concurrency"),
            (&["x", "--concurrency", "20000"][..], "--concurrency"),
            (&["x", "--rate", "0"][..], "--rate"),
            (&["x", "--rate-per-target", "0"][..], "--rate-per-target"),
            (&[][..], "no target"),
            (&["host:0"][..], "bad port"),
            (
                &["x", "--targets-file", "/nonexistent/targets"][..],
                "--targets-file",
            ),
        ] {
            let err = config(args).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
        }
        let capped = config(&["x", "--retries", "99"]).unwrap();
        assert_eq!(capped.options.retries, scan::MAX_RETRIES);
    }
}
