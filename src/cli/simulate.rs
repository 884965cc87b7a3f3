//! `simulate` on the command line: its flags, the profile files read and filtered, and the
//! validated [`SimulateConfig`].

use super::{ConnectArgs, Failure};
use crate::commands::simulate::profiles::{self, Profile};
use crate::commands::simulate::{self, SimulateConfig, SimulateReport, TESTSSL_PATHS};
use crate::report::{Format, ResultSink};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// host, host:port or [v6addr]:port (default port 443).
    #[arg(required_unless_present = "list")]
    pub target: Option<String>,
    /// List the profiles (after --client filtering) and send nothing.
    #[arg(long)]
    pub list: bool,
    /// Only profiles whose name contains this (case-insensitive); repeatable.
    #[arg(long = "client", value_name = "NAME")]
    pub client: Vec<String>,
    /// Profiles in shakedown's format, instead of the built-in set; repeatable.
    #[arg(long = "profiles", value_name = "FILE")]
    pub profiles: Vec<PathBuf>,
    /// testssl.sh's client-simulation.txt to add (default: the Debian/upstream paths, if present).
    #[arg(long, value_name = "PATH", conflicts_with = "no_testssl")]
    pub testssl_file: Option<PathBuf>,
    /// Do not add testssl.sh's historical clients.
    #[arg(long)]
    pub no_testssl: bool,
    #[command(flatten)]
    pub connecting: ConnectArgs,
    /// Connections at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

/// A profile file's text; errors name where the path came from (`--profiles PATH`).
fn read_text(source: &str, path: &Path) -> Result<String, String> {
    crate::io::input::read_text_file_capped(path, crate::io::input::MAX_INPUT)
        .map_err(|e| format!("{source} {}: {e}", path.display()))
}

/// The profile set the options ask for: the built-in set (or `--profiles` files), plus
/// testssl's clients when its file is given or found, filtered by `--client`.
pub fn load_profiles(a: &SimulateArgs) -> Result<Vec<Profile>, String> {
    let mut all = Vec::new();
    if a.profiles.is_empty() {
        all = profiles::parse(profiles::BUILTIN).map_err(|e| format!("built-in profiles: {e}"))?;
    }
    for path in &a.profiles {
        let ps = profiles::parse(&read_text("--profiles", path)?)
            .map_err(|e| format!("--profiles {}: {e}", path.display()))?;
        all.extend(ps);
    }
    let testssl = match (&a.testssl_file, a.no_testssl) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => TESTSSL_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    };
    if let Some(path) = testssl {
        // Given with --testssl-file, or found at one of testssl.sh's install paths.
        let source = if a.testssl_file.is_some() {
            "--testssl-file"
        } else {
            "testssl.sh's client file"
        };
        let ps = profiles::parse_testssl(&read_text(source, &path)?)
            .map_err(|e| format!("{source} {}: {e}", path.display()))?;
        all.extend(ps);
    }
    if !a.client.is_empty() {
        all.retain(|p| a.client.iter().any(|f| profiles::name_matches(p, f)));
        if all.is_empty() {
            return Err(format!("--client {:?}: no profile matches", a.client));
        }
    }
    Ok(all)
}

fn concurrency(n: usize) -> Result<usize, String> {
    if n == 0 || n > 256 {
        return Err("--concurrency: 1 to 256".into());
    }
    Ok(n)
}

/// Validated `simulate` options (not for `--list`, which sends nothing).
pub fn simulate_config(a: &SimulateArgs, profiles: Vec<Profile>) -> Result<SimulateConfig, String> {
    let concurrency = concurrency(a.concurrency)?;
    let Some(target) = &a.target else {
        return Err("simulate: TARGET is required".into());
    };
    let connecting = a.connecting.validate()?;
    Ok(SimulateConfig {
        profiles,
        target: connecting.first_target(target)?,
        connecting,
        concurrency,
    })
}

/// `--list`: one listing per profile. Otherwise one result per client (JSON: a line each;
/// text: the table); exit code 0 when every client would connect, else 1.
pub fn run(a: &SimulateArgs, mut sink: ResultSink<impl Write>) -> Result<i32, Failure> {
    concurrency(a.concurrency)?;
    let set = load_profiles(a)?;
    if a.list {
        for p in &set {
            sink.emit(&simulate::listing(p))?;
        }
        sink.flush()?;
        return Ok(0);
    }
    let cfg = simulate_config(a, set)?;
    let mut all_connect = true;
    match sink.format() {
        Format::Json => simulate::run(&cfg, &mut |row| {
            all_connect &= row.connects;
            sink.emit(row)?;
            sink.flush()
        })?,
        Format::Text => {
            // The table's widths and header need every client: it is written at the end.
            let mut rows = Vec::new();
            simulate::run(&cfg, &mut |row| {
                all_connect &= row.connects;
                rows.push(row.clone());
                Ok(())
            })?;
            sink.emit(&SimulateReport::new(&cfg.target, rows))?;
        }
    }
    sink.flush()?;
    Ok(if all_connect { 0 } else { 1 })
}
