//! `shakedown simulate`: real clients' exact ClientHellos (profiles) sent to one target, one
//! connection each, with the target's name put in the SNI; per client, the version and suite
//! the server chose, or how and why it refused. A table like SSL Labs' handshake simulation.

pub mod profiles;

use crate::commands::probe::{self, HelloSource, ProbeReport, ProbeResult};
use crate::commands::{ConnectConfig, SchemaVersion};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{alert_name, group_name, is_post_quantum, suite_name};
use crate::core::wire::server::ServerKeyExchange;
use crate::io::net::Target;
use profiles::{Profile, SniRule, decode_hello, version_range};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Where Debian's testssl.sh package (and upstream installs) put the client list.
pub const TESTSSL_PATHS: &[&str] = &[
    "/etc/testssl/client-simulation.txt",
    "/usr/share/testssl/etc/client-simulation.txt",
    "/usr/local/share/testssl/etc/client-simulation.txt",
    "/usr/share/testssl.sh/etc/client-simulation.txt",
];

/// Validated `simulate` options (the profiles already read and filtered).
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    pub profiles: Vec<Profile>,
    pub target: Target,
    pub connecting: ConnectConfig,
    /// Connections at once (1 to 256).
    pub concurrency: usize,
}

/// One profile's probe, and whether the real client would go on.
struct Simulated<'a> {
    result: &'a ProbeResult,
    /// Set when the server went on but the real client would abort on its choice.
    client_refuses: Option<String>,
}

impl Simulated<'_> {
    /// The real client would complete this handshake (as far as the hello decides).
    fn connects(&self) -> bool {
        self.result.server_went_on() && self.client_refuses.is_none()
    }
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

/// What a client gets, in one line: `TLSv1.3  TLS_AES_256_GCM_SHA384  x25519`, or
/// `FAIL  alert protocol_version (server)  protocol_mismatch`.
fn summary(s: &Simulated) -> String {
    let r = &s.result;
    if let Some(why) = &s.client_refuses {
        return format!("FAIL  client refuses: {why}");
    }
    if let Some(v) = &r.verdict
        && r.server_went_on()
    {
        let sh = v.server_hello.as_ref().or(v.hello_retry_request.as_ref());
        let version = v
            .version
            .or(sh.map(|s| s.selected_version()))
            .map(|x| ProtocolVersion(x).to_string())
            .unwrap_or_else(|| "-".into());
        let cipher = v
            .cipher
            .or(sh.map(|s| s.cipher_suite))
            .map(suite_name)
            .unwrap_or_else(|| "-".into());
        let group = v
            .group
            .or(sh.and_then(|s| s.key_share_group()))
            .map(group_name);
        let mut s = format!("{version}  {cipher}");
        if let Some(g) = group {
            s.push_str(&format!("  {g}"));
        }
        if v.hello_retry_request.is_some() {
            s.push_str("  (after HelloRetryRequest)");
        }
        return s;
    }
    let mut s = format!("FAIL  {}", r.outcome());
    if let Some(a) = r.verdict.as_ref().and_then(|v| v.alert.as_ref()) {
        s = format!(
            "FAIL  alert {} ({})",
            alert_name(a.alert.description),
            a.from.peer()
        );
    }
    let causes: Vec<&str> = r.diagnosis.iter().map(|d| d.cause.id()).collect();
    if !causes.is_empty() {
        s.push_str(&format!("  {}", causes.join(", ")));
    }
    s
}

/// One client's result: `client` plus the probe fields.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SimulateRow {
    /// The probe of the client's hello (its `schema_version` is the row's).
    #[serde(flatten)]
    pub probe: ProbeReport,
    /// The profile's name.
    pub client: String,
    /// The real client would complete this handshake (as far as the hello decides).
    pub connects: bool,
    /// Why the real client would abort though the server went on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_refuses: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_notes: Option<String>,
    /// The post-quantum groups (hybrid and pure ML-KEM) the client offers, in its order.
    pub pq_offered: Vec<String>,
    /// The client would have negotiated a post-quantum group with this server (it offers
    /// one, the server chose it, directly or by a HelloRetryRequest, and the client would
    /// go on).
    pub negotiates_pq: bool,
    /// That group (`null` when `negotiates_pq` is false).
    pub pq_group: Option<String>,
    /// Text only: what the client gets, in one line.
    #[serde(skip)]
    pub summary: String,
}

/// Every client's result against one target, in profile order: the text report's table.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SimulateReport {
    pub schema_version: SchemaVersion,
    pub target: String,
    /// The address connected to (the first client's that connected).
    pub address: Option<String>,
    pub clients: Vec<SimulateRow>,
}

impl SimulateReport {
    /// The table of `rows`, as [`run`] emitted them.
    pub fn new(target: &Target, rows: Vec<SimulateRow>) -> SimulateReport {
        SimulateReport {
            schema_version: SchemaVersion,
            target: target.display(),
            address: rows.iter().find_map(|r| r.probe.address.clone()),
            clients: rows,
        }
    }
}

/// The PQ groups `profile`'s hello offers, and the one it would negotiate with the server
/// whose answer is `s` (the ServerHello's group, or the one a HelloRetryRequest asked for
/// among those the client offered).
fn post_quantum(profile: &Profile, s: &Simulated) -> (Vec<u16>, Option<u16>) {
    let offered: Vec<u16> = decode_hello(&profile.hello)
        .map(|h| h.supported_groups())
        .unwrap_or_default();
    let pq_offered: Vec<u16> = offered
        .iter()
        .copied()
        .filter(|g| is_post_quantum(*g))
        .collect();
    let chosen = s
        .result
        .verdict
        .as_ref()
        .filter(|_| s.connects())
        .and_then(|v| {
            v.group.or(v
                .hello_retry_request
                .as_ref()
                .and_then(|h| h.key_share_group()))
        })
        .filter(|g| pq_offered.contains(g));
    (pq_offered, chosen)
}

fn row(profile: &Profile, result: &ProbeResult) -> SimulateRow {
    let s = Simulated {
        client_refuses: client_refuses(profile, result),
        result,
    };
    let (pq_offered, pq_group) = post_quantum(profile, &s);
    let mut summary = summary(&s);
    // For the clients that offer PQ: whether they would get it.
    if !pq_offered.is_empty() {
        summary.push_str(if pq_group.is_some() {
            "  [PQ]"
        } else {
            "  [PQ offered, not negotiated]"
        });
    }
    SimulateRow {
        probe: result.report(),
        client: profile.name.clone(),
        connects: s.connects(),
        client_refuses: s.client_refuses.clone(),
        client_notes: Some(profile.notes.clone()).filter(|n| !n.is_empty()),
        pq_offered: pq_offered.into_iter().map(group_name).collect(),
        negotiates_pq: pq_group.is_some(),
        pq_group: pq_group.map(group_name),
        summary,
    }
}

/// Sends every profile's hello to the target, `concurrency` at a time, and emits each
/// client's row in profile order as soon as it and those before it are done. Stops sending
/// at `emit`'s first error, which it returns.
pub fn run(
    cfg: &SimulateConfig,
    emit: &mut dyn FnMut(&SimulateRow) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let target = &cfg.target;
    // An IP-address target gets no SNI, as real clients send none for an address.
    let host = match target.ip_literal() {
        Some(_) => None,
        None => Some(target.host.as_str()),
    };
    let profiles = &cfg.profiles;
    let (next, stop) = (&AtomicUsize::new(0), &AtomicBool::new(false));
    let (sender, finished) = mpsc::channel::<(usize, ProbeResult)>();
    std::thread::scope(|s| {
        for _ in 0..cfg.concurrency.clamp(1, profiles.len().max(1)) {
            let sender = sender.clone();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = profiles.get(i) else { break };
                    let probe_cfg = cfg.connecting.probe(
                        target.clone(),
                        HelloSource::Raw(profiles::hello_for(p, host)),
                    );
                    if sender.send((i, probe::run(&probe_cfg))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut waiting: Vec<Option<ProbeResult>> = profiles.iter().map(|_| None).collect();
        let mut emitted = 0;
        let mut outcome = Ok(());
        // Ends when every worker is done (and has dropped its sender).
        for (i, result) in finished {
            waiting[i] = Some(result);
            while let Some(result) = waiting.get_mut(emitted).and_then(Option::take) {
                if outcome.is_ok() {
                    outcome = emit(&row(&profiles[emitted], &result));
                    if outcome.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                emitted += 1;
            }
        }
        outcome
    })
}

/// `simulate --list`: one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ProfileListing {
    pub schema_version: SchemaVersion,
    pub client: String,
    /// The lowest and highest version the client speaks.
    pub lowest: Option<String>,
    pub highest: Option<String>,
    /// The hello's size (records included).
    pub bytes: usize,
    /// What happens to the hello's server_name: `replace`, `none` or `keep`.
    pub sni: &'static str,
    pub source: String,
    pub notes: String,
    /// Text only: the versions offered, `TLSv1.2-1.3`, or `SSLv2`.
    #[serde(skip)]
    pub offers: String,
}

/// The listing of a profile.
pub fn listing(p: &Profile) -> ProfileListing {
    let hello = decode_hello(&p.hello);
    let (lo, hi) = version_range(p);
    let name = |v: Option<u16>| v.map(|v| ProtocolVersion(v).to_string());
    let offers = match (&hello, lo) {
        (None, _) => "SSLv2".to_string(),
        (Some(_), Some(lo)) if Some(lo) != hi => format!(
            "{}-{}",
            ProtocolVersion(lo),
            name(hi).unwrap_or_default().trim_start_matches("TLSv")
        ),
        (Some(_), _) => name(hi).unwrap_or_default(),
    };
    ProfileListing {
        schema_version: SchemaVersion,
        client: p.name.clone(),
        lowest: name(lo),
        highest: name(hi),
        bytes: p.hello.len(),
        sni: match p.sni {
            SniRule::Replace => "replace",
            SniRule::Remove => "none",
            SniRule::Keep => "keep",
        },
        source: p.source.clone(),
        notes: p.notes.clone(),
        offers,
    }
}
