//! `shakedown scan` on the command line: its flags, their validation into a
//! [`ScanConfig`] (targets from arguments, `--targets-file` and standard input read before
//! anything is sent), the progress bar, and the exit code: 0 when every target answered
//! some version, 1 otherwise.

use super::ConnectArgs;
use crate::commands::Failure;
use crate::commands::scan::{self, ScanConfig, ScanOptions, ScanResult};
use crate::core::wire::build::Sni;
use crate::io::input;
use crate::io::net::{Target, Tcp};
use crate::report::ResultSink;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Targets: host, host:port, [v6addr]:port (default port 443); "-" reads them from
    /// standard input, one per line.
    pub targets: Vec<String>,
    /// Read targets from this file, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,
    /// Connections at once, within a target and across targets.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// At most this many new connections per second.
    #[arg(long, value_name = "PER_SEC")]
    pub rate: Option<f64>,
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
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Validated `scan` options: every target read and parsed, ranges checked.
pub fn scan_config(args: &ScanArgs) -> Result<ScanConfig, Failure> {
    let connecting = args.connecting.validate()?;
    ScanConfig::check_pace(args.concurrency, args.rate)?;
    let names = target_names(args)?;
    let targets = names
        .iter()
        .map(|n| connecting.target(n))
        .collect::<Result<Vec<Target>, String>>()?;
    let cfg = ScanConfig {
        targets,
        options: ScanOptions {
            limits: connecting.limits,
            retries: args.retries,
            sni: args.sni.clone().map_or(Sni::Auto, Sni::Name),
            suites_only: args.suites_only,
        },
        concurrency: args.concurrency,
        rate: args.rate,
        connecting,
    };
    Ok(cfg.validate()?)
}

/// The target names from arguments, `--targets-file` and standard input (`-`).
fn target_names(args: &ScanArgs) -> Result<Vec<String>, Failure> {
    let mut names: Vec<String> = Vec::new();
    let lines = |text: &str, names: &mut Vec<String>| {
        names.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    };
    for t in &args.targets {
        if t == "-" {
            let bytes = input::read_capped(io::stdin().lock(), input::MAX_TARGET_LIST)
                .map_err(|e| Failure::Usage(format!("reading targets from stdin: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Failure::Usage("reading targets from stdin: not UTF-8 text".into()))?;
            lines(&text, &mut names);
        } else {
            names.push(t.clone());
        }
    }
    if let Some(path) = &args.targets_file {
        let text = input::read_text_file_capped(path, input::MAX_TARGET_LIST)
            .map_err(|e| Failure::Usage(format!("--targets-file {}: {e}", path.display())))?;
        lines(&text, &mut names);
    }
    Ok(names)
}

/// `shakedown scan`: exit 0 when every target answered some version, 1 otherwise.
pub fn run(args: &ScanArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    let cfg = scan_config(args)?;
    let bar = if args.no_progress || !io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(cfg.targets.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} targets, {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let handshakes = AtomicUsize::new(0);
    let on_handshake = || {
        let n = handshakes.fetch_add(1, Ordering::Relaxed) + 1;
        bar.set_message(format!("{n} handshakes"));
        bar.tick();
    };
    let mut failed = false;
    let mut emit = |result: &ScanResult| -> io::Result<()> {
        bar.inc(1);
        failed |= !result.any_supported();
        bar.suspend(|| {
            sink.emit(result)?;
            sink.flush()
        })
    };
    let outcome = scan::run(&cfg, &Tcp, &on_handshake, &mut emit);
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
        let names: Vec<String> = cfg.targets.iter().map(Target::display).collect();
        assert_eq!(names, ["a.test:443", "b.test:8443", "[::1]:443"]);
        assert_eq!((cfg.concurrency, cfg.options.retries), (8, 2));
    }

    #[test]
    fn bad_settings_are_refused_before_anything_runs() {
        for (args, want) in [
            (&["x", "--concurrency", "0"][..], "--concurrency"),
            (&["x", "--concurrency", "5000"][..], "--concurrency"),
            (&["x", "--rate", "0"][..], "--rate"),
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
