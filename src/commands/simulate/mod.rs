//! `shakedown simulate`: real clients' exact ClientHellos (profiles) sent to one target, one
//! connection each, with the target's name put in the SNI; per client, the version and suite
//! the server chose, or how and why it refused. A table like SSL Labs' handshake simulation.

pub mod profiles;

use crate::cli::{ConnectArgs, Connecting, Failure};
use crate::commands::probe::{self, HelloSource, ProbeResult};
use crate::core::wire::server::ServerKeyExchange;
use crate::io::net::Target;
use crate::report;
use clap::Args;
use profiles::Profile;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian's testssl.sh package (and upstream installs) put the client list.
pub const TESTSSL_PATHS: &[&str] = &[
    "/etc/testssl/client-simulation.txt",
    "/usr/share/testssl/etc/client-simulation.txt",
    "/usr/local/share/testssl/etc/client-simulation.txt",
    "/usr/share/testssl.sh/etc/client-simulation.txt",
];

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
    /// One JSON object per client per line.
    #[arg(long)]
    pub json: bool,
}

/// One profile's result.
pub struct Simulated<'a> {
    pub profile: &'a Profile,
    pub result: ProbeResult,
    /// Set when the server went on but the real client would abort on its choice.
    pub client_refuses: Option<String>,
}

impl Simulated<'_> {
    /// The real client would complete this handshake (as far as the hello decides).
    pub fn connects(&self) -> bool {
        self.result.server_went_on() && self.client_refuses.is_none()
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The profile set the options ask for: the built-in set (or `--profiles` files), plus
/// testssl's clients when its file is given or found, filtered by `--client`.
pub fn load_profiles(a: &SimulateArgs) -> Result<Vec<Profile>, String> {
    let mut all = Vec::new();
    if a.profiles.is_empty() {
        all = profiles::parse(profiles::BUILTIN).map_err(|e| format!("built-in profiles: {e}"))?;
    }
    for path in &a.profiles {
        let ps =
            profiles::parse(&read_text(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
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
        let ps = profiles::parse_testssl(&read_text(&path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
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

/// Sends every profile's hello to the target, `concurrency` at a time; results in profile order.
pub fn simulate<'a>(
    profiles: &'a [Profile],
    target: &Target,
    connecting: &Connecting,
    concurrency: usize,
) -> Vec<Simulated<'a>> {
    // An IP-address target gets no SNI, as real clients send none for an address.
    let host = match target.ip_literal() {
        Some(_) => None,
        None => Some(target.host.as_str()),
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ProbeResult>>> =
        Mutex::new(profiles.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..concurrency.clamp(1, profiles.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = profiles.get(i) else { break };
                    let cfg = connecting.probe(
                        target.clone(),
                        HelloSource::Raw(profiles::hello_for(p, host)),
                    );
                    let r = probe::run(&cfg);
                    if let Ok(mut v) = results.lock() {
                        v[i] = Some(r);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    profiles
        .iter()
        .zip(results)
        .filter_map(|(profile, r)| {
            r.map(|result| Simulated {
                profile,
                client_refuses: client_refuses(profile, &result),
                result,
            })
        })
        .collect()
}

/// Why the real client would abort on what the server chose, though the server went on:
/// a version outside the client's range, or a DH prime or certificate key outside the
/// sizes it accepts.
fn client_refuses(profile: &Profile, result: &ProbeResult) -> Option<String> {
    let verdict = result
        .verdict
        .as_ref()
        .filter(|_| result.server_went_on())?;
    let dh_prime_bits = verdict
        .server_key_exchange
        .as_ref()
        .and_then(ServerKeyExchange::dh_prime_bits);
    let leaf = result
        .certificates
        .first()
        .map(|c| (&c.key_algorithm, c.key_bits));
    verdict
        .version
        .and_then(|v| profiles::refuses_version(profile, v))
        .or_else(|| profiles::refuses_keys(profile, dh_prime_bits, leaf))
}

pub fn run(a: &SimulateArgs, mut out: impl Write) -> Result<i32, Failure> {
    if a.concurrency == 0 || a.concurrency > 256 {
        return Err(Failure::Usage("--concurrency: 1 to 256".into()));
    }
    let set = load_profiles(a)?;
    if a.list {
        report::simulate::list(&mut out, &set, a.json)?;
        return Ok(0);
    }
    let Some(target) = &a.target else {
        return Err(Failure::Usage("simulate: TARGET is required".into()));
    };
    let connecting = a.connecting.validate()?;
    let target = connecting.target(target)?;
    let results = simulate(&set, &target, &connecting, a.concurrency);
    report::simulate::results(&mut out, &target, &results, a.json)?;
    out.flush()?;
    Ok(if results.iter().all(Simulated::connects) {
        0
    } else {
        1
    })
}
