//! `shakedown exporter --listen ADDR --allow PATTERN…`: the HTTP side of the Prometheus
//! exporter. tiny_http (synchronous, no async runtime: the probes are blocking calls on
//! threads, as everywhere else here) serves `/probe` and `/metrics` from a fixed number of
//! worker threads, which bounds the probes in flight; `--max-per-target` bounds those of
//! one target (more answer 503).

use super::{ConnectArgs, Failure, HelloArgs};
use crate::commands::exporter::{self, AllowList, InFlight, Module, Refusal};
use crate::report::prometheus;
use clap::{Args, Parser};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ExporterArgs {
    /// Address to serve on, e.g. 127.0.0.1:9219 (port 0: any free port, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Targets that may be probed: a host name, *.domain, an address or a CIDR range;
    /// repeatable; `any` allows everything (an open relay: only behind your own firewall).
    #[arg(long = "allow", value_name = "PATTERN", required = true)]
    pub allow: Vec<String>,
    /// Modules (TOML): `[modules.NAME]` with `args = ["--tls", "TLSv1.2", …]` (probe's hello
    /// and connection flags) and `warn_days = [30, 14, 7, 1]`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Scrapes served at once (each probes every address of its target in turn).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub workers: usize,
    /// Scrapes of one target served at once (1 to 256); more answer 503 at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub max_per_target: usize,
}

/// A module's flags, parsed like probe's.
#[derive(Parser, Debug)]
#[command(name = "module", no_binary_name = true)]
struct ModuleFlags {
    #[command(flatten)]
    hello: HelloArgs,
    #[command(flatten)]
    connecting: ConnectArgs,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    modules: BTreeMap<String, ModuleFile>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    #[serde(default)]
    args: Vec<String>,
    warn_days: Option<Vec<u32>>,
}

const DEFAULT_WARN_DAYS: [u32; 4] = [30, 14, 7, 1];

fn module(name: &str, m: &ModuleFile) -> Result<Module, String> {
    let flags = ModuleFlags::try_parse_from(&m.args)
        .map_err(|e| format!("module {name:?}: {}", e.to_string().trim()))?;
    let mut warn_days = m.warn_days.clone().unwrap_or(DEFAULT_WARN_DAYS.to_vec());
    warn_days.sort_unstable_by(|a, b| b.cmp(a));
    Ok(Module {
        hello: flags
            .hello
            .to_source()
            .map_err(|e| format!("module {name:?}: {e}"))?,
        connecting: flags
            .connecting
            .validate()
            .map_err(|e| format!("module {name:?}: {e}"))?,
        warn_days,
        at_fixed: flags.connecting.cert.at.is_some(),
    })
}

/// The modules of `--config` (and `default`, probe's defaults, unless the file has one).
fn modules(config: Option<&PathBuf>) -> Result<BTreeMap<String, ModuleFile>, Failure> {
    let mut file = match config {
        Some(path) => {
            let text = crate::io::input::read_text_file_capped(path, 1 << 20)
                .map_err(|e| Failure::Usage(format!("--config {}: {e}", path.display())))?;
            toml::from_str::<ConfigFile>(&text)
                .map_err(|e| Failure::Usage(format!("--config {}: {e}", path.display())))?
        }
        None => ConfigFile::default(),
    };
    file.modules.entry("default".into()).or_default();
    Ok(file.modules)
}

pub fn run(a: &ExporterArgs) -> Result<i32, Failure> {
    if a.workers == 0 || a.workers > 256 {
        return Err(Failure::Usage("--workers: expected 1 to 256".into()));
    }
    if a.max_per_target == 0 || a.max_per_target > 256 {
        return Err(Failure::Usage("--max-per-target: expected 1 to 256".into()));
    }
    let allow = AllowList::parse(&a.allow)?;
    // Built once (flags checked, trust store read); each scrape only sets the clock.
    let modules = modules(a.config.as_ref())?
        .iter()
        .map(|(name, m)| Ok((name.clone(), module(name, m)?)))
        .collect::<Result<BTreeMap<String, Module>, String>>()?;
    let server = bind(&a.listen, "--listen", "shakedown exporter")?;
    let counters = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let in_flight = InFlight::new(a.max_per_target);
    serve(&server, a.workers, &|request| {
        answer(request, &modules, &allow, &in_flight, &counters)
    });
    Ok(0)
}

/// The HTTP server on `listen` (the value of `flag`); the address it got is printed on
/// stderr as `WHAT listening on ADDR` (port 0 picks a free one).
pub(crate) fn bind(listen: &str, flag: &str, what: &str) -> Result<tiny_http::Server, Failure> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| Failure::Usage(format!("{flag} {listen}: {e}")))?;
    if let Some(addr) = server.server_addr().to_ip() {
        eprintln!("{what} listening on {addr}");
    }
    Ok(server)
}

/// Answers requests from `workers` threads for as long as the server runs, each with the
/// status and Prometheus text `answer` gives. Shared by the exporter and `watch --metrics`.
pub(crate) fn serve(
    server: &tiny_http::Server,
    workers: usize,
    answer: &(dyn Fn(&tiny_http::Request) -> (u16, String) + Sync),
) {
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Ok(request) = server.recv() {
                    let (status, body) = answer(&request);
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"text/plain; version=0.0.4; charset=utf-8"[..],
                    )
                    .expect("a valid header");
                    let response = tiny_http::Response::from_string(body)
                        .with_status_code(status)
                        .with_header(header);
                    // The scraper may have gone: nothing to do about it.
                    let _ = request.respond(response);
                }
            });
        }
    });
}

/// The status and body for one request.
fn answer(
    request: &tiny_http::Request,
    modules: &BTreeMap<String, Module>,
    allow: &AllowList,
    in_flight: &InFlight,
    counters: &[AtomicU64; 3],
) -> (u16, String) {
    let [scrapes, refused, busy] = counters;
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    match path {
        "/metrics" => (
            200,
            prometheus::exporter_metrics(
                scrapes.load(Ordering::Relaxed),
                refused.load(Ordering::Relaxed),
                busy.load(Ordering::Relaxed),
            ),
        ),
        "/probe" => {
            // Prometheus says how long it waits; the probes must answer before that.
            let budget = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("X-Prometheus-Scrape-Timeout-Seconds"))
                .and_then(|h| h.value.as_str().trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
                .map(Duration::from_secs_f64);
            let result = exporter::parse_query(query).and_then(|(target, name)| {
                let mut m = modules
                    .get(&name)
                    .ok_or_else(|| Refusal::BadRequest(format!("unknown module {name:?}")))?
                    .clone();
                // Certificates are judged as of the scrape, unless the module fixed --at.
                if !m.at_fixed {
                    m.connecting.check_time = super::now_unix();
                }
                let modules = BTreeMap::from([(name.clone(), m)]);
                let _slot = in_flight.enter(&target)?;
                exporter::scrape(&target, &name, &modules, allow, budget)
            });
            match result {
                Ok(scrape) => {
                    scrapes.fetch_add(1, Ordering::Relaxed);
                    (200, prometheus::scrape_metrics(&scrape))
                }
                Err(Refusal::BadRequest(why)) => {
                    refused.fetch_add(1, Ordering::Relaxed);
                    (400, format!("{why}\n"))
                }
                Err(Refusal::NotAllowed(why)) => {
                    refused.fetch_add(1, Ordering::Relaxed);
                    (403, format!("{why}\n"))
                }
                Err(Refusal::Busy(why)) => {
                    busy.fetch_add(1, Ordering::Relaxed);
                    (503, format!("{why}\n"))
                }
            }
        }
        "/" => (
            200,
            "shakedown exporter: /probe?target=HOST:PORT&module=NAME, /metrics\n".into(),
        ),
        _ => (404, "not found\n".into()),
    }
}
