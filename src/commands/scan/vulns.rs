//! `scan --vulns`: what the scan learned, named as the known TLS attacks it exposes a server
//! to. Most checks read the enumeration's suites and versions or a behaviour probe's answer
//! (`handshakes` is what that probe cost, 0 for a verdict read off the suite lists); two send
//! a probe of their own, one connection each: `ccs_injection` (an early ChangeCipherSpec)
//! and `heartbleed` (an over-long heartbeat request, only to a server that answered the
//! heartbeat extension). Three carry a TLS 1.2 handshake with our own keys
//! ([`super::full_handshake`]): `client_renegotiation` (one connection), `ticketbleed`
//! (two) and `robot` (five).
//!
//! A check is `unknown` with the reason whenever the facts it needs are missing (a version
//! whose enumeration broke off, a probe not sent): never a guess. [`CHECKS`] is the one
//! table of checks, their CVEs, severities and whether they could disturb a server.

use super::behaviour::{COMBINED, COMPRESSION, FALLBACK_PREFIX, HEARTBEAT, SECURE_RENEGOTIATION};
use super::behaviour::{base_version, heartbeat_extension};
use super::enumerate::{ProbeItem, ScanReport, Scanner, VersionScan};
use crate::core::cause::Cause;
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::{CipherSuite, KeyExchange, suite, suite_name};
use crate::io::net::ExchangeObserver;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which checks `--vulns` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VulnMode {
    /// Every check.
    All,
    /// Leaves out the checks that could disturb a server ([`CheckDef::disturbs`]).
    Safe,
}

impl VulnMode {
    /// `all` (what a bare `--vulns` means) or `safe`.
    pub fn parse(s: &str) -> Result<VulnMode, String> {
        match s {
            "all" => Ok(VulnMode::All),
            "safe" => Ok(VulnMode::Safe),
            _ => Err(format!("expected `all` or `safe`, not `{s}`")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VulnStatus {
    /// Exposed (for `secure_renegotiation`: lacks RFC 5746; for `fallback_scsv`: does not
    /// honour TLS_FALLBACK_SCSV).
    Vulnerable,
    NotVulnerable,
    /// Not decided; `detail` says why.
    Unknown,
}

/// How bad the exposure is: the cause table's scale ([`crate::core::cause::Severity`]).
pub use crate::core::cause::Severity;

/// One check's verdict.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VulnCheck {
    pub status: VulnStatus,
    /// What the verdict rests on, or why it is unknown.
    pub detail: String,
    pub cve: Vec<String>,
    /// The severity of the exposure the check names (the same whatever the status, except
    /// `logjam`: `high` for export DH suites or a well-known DH prime of at most 1024 bits,
    /// `medium` for a prime of the server's own of at most 1024 bits alone).
    pub severity: Severity,
    /// Connections the verdict rests on: a behaviour probe's (counted once in the scan's
    /// total), the check's own (`ccs_injection`, `heartbleed`, `client_renegotiation`,
    /// `ticketbleed`, `robot`: added to the total), 0 when read off the suite lists.
    pub handshakes: usize,
}

/// One check of the table.
pub struct CheckDef {
    pub id: &'static str,
    pub cve: &'static [&'static str],
    pub severity: Severity,
    /// Could disturb a server (renegotiation, a padding oracle's many handshakes): left out
    /// by `--vulns=safe`.
    pub disturbs: bool,
}

const fn check(
    id: &'static str,
    cve: &'static [&'static str],
    severity: Severity,
    disturbs: bool,
) -> CheckDef {
    CheckDef {
        id,
        cve,
        severity,
        disturbs,
    }
}

/// A check named after an attack cause `pcap` reports too: its CVEs and severity are the
/// cause table's, so a scan and a capture rate it the same.
const fn from_cause(id: &'static str, cause: Cause, disturbs: bool) -> CheckDef {
    let Some(severity) = cause.severity() else {
        panic!("an attack cause has a severity")
    };
    check(id, cause.cves(), severity, disturbs)
}

/// Every check, in report order.
pub const CHECKS: &[CheckDef] = &[
    from_cause("heartbleed", Cause::Heartbleed, false),
    from_cause("ccs_injection", Cause::CcsInjection, false),
    check("ticketbleed", &["CVE-2016-9244"], Severity::High, false),
    check("robot", &["CVE-2017-13099"], Severity::High, true),
    check(
        "secure_renegotiation",
        &["CVE-2009-3555"],
        Severity::High,
        false,
    ),
    check("client_renegotiation", &[], Severity::Medium, true),
    check("compression", &["CVE-2012-4929"], Severity::High, false),
    check("fallback_scsv", &[], Severity::Medium, false),
    check("poodle_ssl", &["CVE-2014-3566"], Severity::High, false),
    check(
        "sweet32",
        &["CVE-2016-2183", "CVE-2016-6329"],
        Severity::Low,
        false,
    ),
    check("freak", &["CVE-2015-0204"], Severity::High, false),
    check("logjam", &["CVE-2015-4000"], Severity::High, false),
    check(
        "drown",
        &["CVE-2016-0800", "CVE-2016-0703"],
        Severity::High,
        false,
    ),
    check("beast", &["CVE-2011-3389"], Severity::Low, false),
    check("lucky13", &["CVE-2013-0169"], Severity::Low, false),
    check(
        "rc4",
        &["CVE-2013-2566", "CVE-2015-2808"],
        Severity::High,
        false,
    ),
];

/// SSLv3 to TLS 1.2: the versions whose suites carry the legacy ciphers.
const LEGACY: [ProtocolVersion; 4] = [
    ProtocolVersion::SSLV3,
    ProtocolVersion::TLS10,
    ProtocolVersion::TLS11,
    ProtocolVersion::TLS12,
];

/// Names shown per version before "and N more".
const SHOWN: usize = 4;

/// The checks of `mode` on what the scan of one target found; `live` sends the checks' own
/// probes (without it they are unknown). Also the connections those probes made.
pub fn assess(
    report: &ScanReport,
    mode: VulnMode,
    live: Option<&Scanner>,
) -> (BTreeMap<String, VulnCheck>, usize) {
    let mut sent = 0;
    let checks = CHECKS
        .iter()
        .filter(|c| mode == VulnMode::All || !c.disturbs)
        .map(|c| {
            let (check, own) = run_check(c, report, live);
            sent += own;
            (c.id.to_string(), check)
        })
        .collect();
    (checks, sent)
}

/// A verdict before the table's CVEs and severity are added.
struct Finding {
    status: VulnStatus,
    detail: String,
    handshakes: usize,
    severity: Option<Severity>,
}

fn finding(status: VulnStatus, detail: impl Into<String>) -> Finding {
    Finding {
        status,
        detail: detail.into(),
        handshakes: 0,
        severity: None,
    }
}

/// One check's verdict, and the connections it opened itself.
fn run_check(c: &CheckDef, r: &ScanReport, live: Option<&Scanner>) -> (VulnCheck, usize) {
    use VulnStatus::*;
    let mut own = 0;
    let f = match c.id {
        "poodle_ssl" => suite_check(r, &[ProtocolVersion::SSLV3], "CBC suite", |s, _| s.cbc()),
        "sweet32" => {
            let mut f = suite_check(r, &LEGACY, "64-bit block cipher suite", |s, _| block64(s));
            sslv2_kinds(&mut f, r, "64-bit block cipher kinds", |k| {
                (3..=7).contains(&(k >> 16))
            });
            f
        }
        "freak" => suite_check(r, &LEGACY, "export RSA suite", |s, _| {
            s.export() && s.kx == KeyExchange::Rsa
        }),
        "logjam" => logjam(r),
        "drown" => drown(r),
        "beast" => suite_check(
            r,
            &[ProtocolVersion::SSLV3, ProtocolVersion::TLS10],
            "CBC suite",
            |s, _| s.cbc(),
        ),
        "lucky13" => suite_check(r, &LEGACY, "CBC suite", |s, _| s.cbc()),
        "rc4" => {
            let mut f = suite_check(r, &LEGACY, "RC4 suite", |s, _| s.rc4());
            sslv2_kinds(&mut f, r, "RC4 kinds", |k| (1..=2).contains(&(k >> 16)));
            f
        }
        "compression" => probe_check(r, "compression", |p| {
            let result = p.result.as_str();
            if result.starts_with("none") {
                Some((
                    NotVulnerable,
                    "the server chose no compression when DEFLATE was offered".into(),
                ))
            } else if result.starts_with("DEFLATE accepted") || result.starts_with("method") {
                Some((Vulnerable, format!("the server accepted: {result}")))
            } else {
                None
            }
        }),
        "secure_renegotiation" => {
            probe_check(r, "secure_renegotiation", |p| match p.result.as_str() {
                "yes" => Some((
                    NotVulnerable,
                    "the ServerHello answered renegotiation_info (RFC 5746)".into(),
                )),
                "no" => Some((
                    Vulnerable,
                    "the ServerHello did not answer renegotiation_info (no RFC 5746)".into(),
                )),
                _ => None,
            })
        }
        "fallback_scsv" => fallback(r),
        "heartbleed" => {
            let f = probe_check(r, "heartbleed", |p| {
                p.result.starts_with("not enabled").then(|| {
                    (
                        NotVulnerable,
                        "the server did not answer the heartbeat extension: no heartbeat to \
                         over-read (no request sent)"
                            .into(),
                    )
                })
            });
            // Enabled (undecided by the extension alone): the over-long request decides.
            let enabled =
                probe(r, |n| n == HEARTBEAT).is_some_and(|p| p.result.starts_with("enabled"));
            match live {
                Some(scanner) if f.status == Unknown && enabled => {
                    let mut f = heartbleed(scanner, r, &mut own);
                    f.handshakes += f.handshakes_shared(r);
                    f
                }
                _ => f,
            }
        }
        "ccs_injection" => match live {
            Some(scanner) => ccs_injection(scanner, r, &mut own),
            None => finding(Unknown, "not checked: no connection to send it on"),
        },
        "client_renegotiation" => match live {
            Some(scanner) => client_renegotiation(scanner, r, &mut own),
            None => finding(Unknown, "not checked: no connection to send it on"),
        },
        "ticketbleed" => match live {
            Some(scanner) => ticketbleed(scanner, r, &mut own),
            None => finding(Unknown, "not checked: no connection to send it on"),
        },
        "robot" => match live {
            Some(scanner) => robot(scanner, r, &mut own),
            None => finding(Unknown, "not checked: no connection to send it on"),
        },
        _ => finding(Unknown, "not checked: not implemented in this release"),
    };
    let check = VulnCheck {
        status: f.status,
        detail: f.detail,
        cve: c.cve.iter().map(|s| s.to_string()).collect(),
        severity: f.severity.unwrap_or(c.severity),
        handshakes: f.handshakes,
    };
    (check, own)
}

/// A block cipher with 64-bit blocks: DES, 3DES, IDEA, RC2.
fn block64(s: &CipherSuite) -> bool {
    s.des_or_3des() || s.cipher.starts_with("IDEA") || s.cipher.starts_with("RC2")
}

/// What is known of a version: offered or not, or why that is unknown (or partial).
fn version_of(r: &ScanReport, v: ProtocolVersion) -> Option<&VersionScan> {
    r.versions.iter().find(|s| s.version == v)
}

/// Why the suites of `v` are not all known, if they are not.
fn gap(r: &ScanReport, v: ProtocolVersion) -> Option<String> {
    match version_of(r, v) {
        None => Some(format!("{v}: not scanned")),
        Some(s) => s.incomplete.as_ref().map(|why| {
            if s.supported {
                format!("{v}: suites partial ({why})")
            } else {
                format!("{v}: unknown ({why})")
            }
        }),
    }
}

/// Vulnerable when some version of `versions` accepted a suite `hit` names; not vulnerable
/// when every one of them is fully known and none did; else unknown with the gaps.
fn suite_check(
    r: &ScanReport,
    versions: &[ProtocolVersion],
    what: &str,
    hit: impl Fn(&CipherSuite, ProtocolVersion) -> bool,
) -> Finding {
    let mut hits = Vec::new();
    let mut gaps = Vec::new();
    let mut offered = Vec::new();
    for &v in versions {
        if let Some(s) = version_of(r, v) {
            let names: Vec<String> = s
                .ciphers
                .iter()
                .filter(|id| suite(**id).is_some_and(|c| hit(c, v)))
                .map(|id| suite_name(*id))
                .collect();
            if !names.is_empty() {
                hits.push(format!("{v}: {}", shortened(&names)));
            }
            if s.supported {
                offered.push(v.to_string());
            }
        }
        gaps.extend(gap(r, v));
    }
    if !hits.is_empty() {
        return finding(VulnStatus::Vulnerable, hits.join("; "));
    }
    if !gaps.is_empty() {
        return finding(
            VulnStatus::Unknown,
            format!("no {what} among the suites found, but {}", gaps.join("; ")),
        );
    }
    let scope = versions
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let offered = if offered.is_empty() {
        "none of them offered".to_string()
    } else {
        format!("offered: {}", offered.join(", "))
    };
    finding(
        VulnStatus::NotVulnerable,
        format!("no {what} accepted at {scope} ({offered})"),
    )
}

/// SSLv2's cipher kinds for a suite check that also covers SSLv2 (testssl's SWEET32 and
/// RC4 do): makes `f` vulnerable on a hit, unknown when SSLv2 is unknown.
fn sslv2_kinds(f: &mut Finding, r: &ScanReport, what: &str, hit: impl Fn(u32) -> bool) {
    let Some(s) = version_of(r, ProtocolVersion::SSLV2) else {
        return;
    };
    let names: Vec<String> = s
        .sslv2_ciphers
        .iter()
        .filter(|k| hit(**k))
        .map(|k| crate::core::wire::registry::sslv2_cipher_name(*k))
        .collect();
    if !names.is_empty() {
        let line = format!("SSLv2 {what}: {}", shortened(&names));
        if f.status == VulnStatus::Vulnerable {
            f.detail = format!("{}; {line}", f.detail);
        } else {
            *f = finding(VulnStatus::Vulnerable, line);
        }
    } else if f.status == VulnStatus::NotVulnerable
        && let Some(why) = gap(r, ProtocolVersion::SSLV2)
    {
        *f = finding(
            VulnStatus::Unknown,
            format!("{}, but {why}", f.detail.trim_end_matches(')')),
        );
    }
}

fn shortened(names: &[String]) -> String {
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

/// Export DH suites (high), or a DH prime of at most 1024 bits (medium).
fn logjam(r: &ScanReport) -> Finding {
    let mut f = suite_check(r, &LEGACY, "export DH suite", |s, _| {
        s.export() && matches!(s.kx, KeyExchange::Dhe | KeyExchange::Dh)
    });
    let small: Vec<String> = r
        .versions
        .iter()
        .filter_map(|v| v.dh_prime_bits.filter(|b| *b <= 1024).map(|b| (v, b)))
        .map(|(v, b)| match v.dh_prime {
            Some(p) => format!(
                "{}: DH prime of {b} bits, the {} ({}), a common prime: precomputation applies",
                v.version, p.name, p.id
            ),
            None => format!("{}: DH prime of {b} bits", v.version),
        })
        .collect();
    if small.is_empty() {
        if f.status == VulnStatus::NotVulnerable {
            f.detail
                .push_str("; no DH prime of 1024 bits or fewer seen");
        }
        return f;
    }
    if f.status == VulnStatus::Vulnerable {
        f.detail = format!("{}; {}", f.detail, small.join("; "));
    } else {
        f = finding(VulnStatus::Vulnerable, small.join("; "));
        // A shared prime is the one a precomputation pays off for (testssl.sh rates its
        // LOGJAM-common_primes HIGH too); a server's own small prime is medium.
        let common = r
            .versions
            .iter()
            .any(|v| v.dh_prime.is_some() && v.dh_prime_bits.is_some_and(|b| b <= 1024));
        if !common {
            f.severity = Some(Severity::Medium);
        }
    }
    f
}

fn drown(r: &ScanReport) -> Finding {
    let v = ProtocolVersion::SSLV2;
    let Some(s) = version_of(r, v) else {
        return finding(VulnStatus::Unknown, "SSLv2 not scanned");
    };
    if s.supported {
        return finding(
            VulnStatus::Vulnerable,
            format!(
                "SSLv2 offered on this server ({} cipher kinds)",
                s.sslv2_ciphers.len()
            ),
        );
    }
    match gap(r, v) {
        Some(why) => finding(VulnStatus::Unknown, why),
        None => finding(
            VulnStatus::NotVulnerable,
            "SSLv2 not offered on this server (other servers sharing its certificate or key \
             are not checked)",
        ),
    }
}

/// The versions below TLS 1.3: whether one is offered, or why that is unknown. `Ok(false)`
/// when every one is known not offered (a TLS 1.3-only server: no renegotiation, no
/// compression).
fn any_legacy(r: &ScanReport) -> Result<bool, String> {
    if LEGACY
        .iter()
        .any(|v| version_of(r, *v).is_some_and(|s| s.supported))
    {
        return Ok(true);
    }
    let gaps: Vec<String> = LEGACY.iter().filter_map(|v| gap(r, *v)).collect();
    if gaps.is_empty() {
        Ok(false)
    } else {
        Err(gaps.join("; "))
    }
}

fn probe(r: &ScanReport, name: impl Fn(&str) -> bool) -> Option<&ProbeItem> {
    r.probes.iter().find(|p| name(&p.name))
}

/// Why a behaviour probe's result is missing.
fn not_probed(r: &ScanReport) -> String {
    if r.gave_up {
        "not probed: the scan gave up before the behaviour probes".into()
    } else if r.probes.is_empty() {
        "not probed: behaviour probes not run (--suites-only, or no version to probe)".into()
    } else {
        "not probed: no TLS 1.0 to 1.2 handshake to probe or read it from".into()
    }
}

/// The connections a probe's verdict rests on: its own, or the combined hello's when it
/// was answered there.
fn probe_cost(r: &ScanReport, p: &ProbeItem) -> usize {
    if p.result.ends_with("(in the combined hello)") {
        probe(r, |n| n == COMBINED).map_or(0, |c| c.handshakes)
    } else {
        p.handshakes
    }
}

/// A check on a behaviour probe of the versions below TLS 1.3: not vulnerable on a TLS
/// 1.3-only server; `judge` reads the probe's result (`None`: not decided by it).
fn probe_check(
    r: &ScanReport,
    id: &str,
    judge: impl Fn(&ProbeItem) -> Option<(VulnStatus, String)>,
) -> Finding {
    let name = match id {
        "compression" => COMPRESSION,
        "heartbleed" => HEARTBEAT,
        _ => SECURE_RENEGOTIATION,
    };
    match any_legacy(r) {
        Ok(false) => {
            return finding(
                VulnStatus::NotVulnerable,
                "only TLS 1.3 offered, which has no compression, renegotiation or heartbeat",
            );
        }
        Err(gaps) => {
            if probe(r, |n| n == name).is_none() {
                return finding(VulnStatus::Unknown, format!("no version known: {gaps}"));
            }
        }
        Ok(true) => {}
    }
    let Some(p) = probe(r, |n| n == name) else {
        return finding(VulnStatus::Unknown, not_probed(r));
    };
    match judge(p) {
        Some((status, detail)) => Finding {
            status,
            detail,
            handshakes: probe_cost(r, p),
            severity: None,
        },
        None => Finding {
            status: VulnStatus::Unknown,
            detail: format!("undecided: {} said {}", p.name, p.result),
            handshakes: probe_cost(r, p),
            severity: None,
        },
    }
}

/// TLS_FALLBACK_SCSV at the second-best version: vulnerable when the server went on.
fn fallback(r: &ScanReport) -> Finding {
    if let Some(p) = probe(r, |n| n.starts_with(FALLBACK_PREFIX)) {
        let (status, detail) = if p.result.starts_with("supported") {
            (
                VulnStatus::NotVulnerable,
                format!("{}: inappropriate_fallback", p.name),
            )
        } else if p.result.starts_with("NOT supported") {
            (VulnStatus::Vulnerable, format!("{}: {}", p.name, p.result))
        } else {
            (
                VulnStatus::Unknown,
                format!("undecided: {}: {}", p.name, p.result),
            )
        };
        return Finding {
            status,
            detail,
            handshakes: p.handshakes,
            severity: None,
        };
    }
    let all = [
        &[ProtocolVersion::SSLV3][..],
        &LEGACY[1..],
        &[ProtocolVersion::TLS13],
    ]
    .concat();
    let offered = all
        .iter()
        .filter(|v| version_of(r, **v).is_some_and(|s| s.supported))
        .count();
    let gaps: Vec<String> = all.iter().filter_map(|v| gap(r, *v)).collect();
    if !gaps.is_empty() {
        return finding(VulnStatus::Unknown, gaps.join("; "));
    }
    if offered <= 1 {
        return finding(
            VulnStatus::NotVulnerable,
            "at most one version offered: no lower version to fall back to",
        );
    }
    finding(VulnStatus::Unknown, not_probed(r))
}

impl Finding {
    /// The heartbeat probe's cost: the hello that showed the extension enabled.
    fn handshakes_shared(&self, r: &ScanReport) -> usize {
        probe(r, |n| n == HEARTBEAT).map_or(0, |p| probe_cost(r, p))
    }
}

/// A ChangeCipherSpec record.
const CCS: [u8; 1] = [1];
/// Record content types.
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const HEARTBEAT_RECORD: u8 = 24;
const SERVER_HELLO_DONE: u8 = 14;
/// Alert descriptions the checks read.
const UNEXPECTED_MESSAGE: u8 = 10;
const BAD_RECORD_MAC: u8 = 20;
const DECRYPTION_FAILED: u8 = 21;
/// The heartbeat request's declared payload length; it sends none. A server that answers
/// with more than the 3 bytes sent read past the record (Heartbleed).
const HEARTBEAT_CLAIMED: u16 = 0x4000;
/// Printable bytes of an over-read shown; the rest is counted, never kept.
const PREVIEW: usize = 16;

fn record(typ: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// The first record the server sent after the probe.
#[derive(Debug)]
enum After {
    Alert(u8),
    /// A heartbeat record: its declared length and a short printable preview.
    Heartbeat {
        declared: usize,
        preview: String,
    },
    Other(u8),
}

impl After {
    fn describe(&self) -> String {
        match self {
            After::Alert(a) => format!("alert {a}"),
            After::Heartbeat { declared, .. } => format!("a heartbeat record of {declared} bytes"),
            After::Other(t) => format!("a record of type {t}"),
        }
    }
}

/// Reads the server's flight up to ServerHelloDone, sends `probe` then, and keeps the
/// first record that follows (its type and a few bytes, nothing more). Server bytes are
/// held only until their record is read; the exchange's byte cap bounds them.
struct AfterHelloDone {
    probe: Vec<u8>,
    pending: Vec<u8>,
    handshake: Vec<u8>,
    sent: bool,
    reply_due: bool,
    /// An alert before the probe was sent.
    refused: Option<u8>,
    after: Option<After>,
    end: Option<EndKind>,
}

impl AfterHelloDone {
    fn new(probe: Vec<u8>) -> Self {
        AfterHelloDone {
            probe,
            pending: Vec::new(),
            handshake: Vec::new(),
            sent: false,
            reply_due: false,
            refused: None,
            after: None,
            end: None,
        }
    }

    /// Reads whole records off `pending`; `false` once the answer is known.
    fn read_records(&mut self) -> bool {
        loop {
            if self.pending.len() < 5 {
                return true;
            }
            let typ = self.pending[0];
            let len = u16::from_be_bytes([self.pending[3], self.pending[4]]) as usize;
            if self.sent {
                return !self.read_answer(typ, len);
            }
            if self.pending.len() < 5 + len {
                return true;
            }
            let body: Vec<u8> = self.pending.drain(..5 + len).skip(5).collect();
            match typ {
                HANDSHAKE => {
                    self.handshake.extend_from_slice(&body);
                    self.reply_due = has_server_hello_done(&self.handshake);
                }
                ALERT => {
                    self.refused = Some(body.get(1).copied().unwrap_or(0));
                    return false;
                }
                _ => {}
            }
        }
    }

    /// The first record after the probe, once enough of it is in: whether it is read.
    fn read_answer(&mut self, typ: u8, len: usize) -> bool {
        let have = &self.pending[5..];
        match typ {
            ALERT if have.len() >= 2 => self.after = Some(After::Alert(have[1])),
            HEARTBEAT_RECORD if have.len() >= len.min(3 + PREVIEW) => {
                let preview = have
                    .iter()
                    .skip(3)
                    .take(PREVIEW)
                    .map(|b| {
                        if b.is_ascii_graphic() || *b == b' ' {
                            *b as char
                        } else {
                            '.'
                        }
                    })
                    .collect();
                self.after = Some(After::Heartbeat {
                    declared: len,
                    preview,
                });
            }
            ALERT | HEARTBEAT_RECORD => return false,
            other => self.after = Some(After::Other(other)),
        }
        // Nothing of it is kept beyond what `after` holds.
        self.pending.clear();
        true
    }

    fn ending(&self) -> String {
        super::full_handshake::ending(self.end)
    }
}

/// Whether the handshake messages so far include ServerHelloDone.
fn has_server_hello_done(messages: &[u8]) -> bool {
    let mut i = 0;
    while i + 4 <= messages.len() {
        if messages[i] == SERVER_HELLO_DONE {
            return true;
        }
        let len = u32::from_be_bytes([0, messages[i + 1], messages[i + 2], messages[i + 3]]);
        i += 4 + len as usize;
    }
    false
}

impl ExchangeObserver for AfterHelloDone {
    fn data(&mut self, dir: Direction, bytes: &[u8], _at: Micros) -> bool {
        if dir == Direction::ClientToServer {
            return true;
        }
        self.pending.extend_from_slice(bytes);
        self.read_records()
    }

    fn end(&mut self, dir: Direction, kind: EndKind, _at: Micros) {
        if dir == Direction::ServerToClient {
            self.end = Some(kind);
        }
    }

    fn reply(&mut self) -> Option<Vec<u8>> {
        if self.reply_due && !self.sent {
            self.sent = true;
            self.pending.clear();
            return Some(self.probe.clone());
        }
        None
    }
}

/// The classic version the probes use (the behaviour probes' base), with its suites.
fn probe_hello(
    scanner: &Scanner,
    r: &ScanReport,
    heartbeat: bool,
) -> Result<(Vec<u8>, u16), String> {
    let base = base_version(&r.versions)
        .filter(|b| b.version != ProtocolVersion::TLS13 && !b.ciphers.is_empty())
        .ok_or_else(|| match any_legacy(r) {
            Ok(false) => "only TLS 1.3 offered".to_string(),
            Ok(true) => "no TLS 1.0 to 1.2 version with suites to probe".to_string(),
            Err(gaps) => format!("no version to probe known: {gaps}"),
        })?;
    let mut spec = HelloSpec {
        cipher_suites: Some(base.ciphers.clone()),
        ..scanner.version_spec(base.version)
    };
    if heartbeat {
        spec.extra_extensions.push(heartbeat_extension());
    }
    Ok((scanner.encode(&spec).wire, base.version.0))
}

/// Runs one probe; `None` when nothing could be sent.
/// [`send_probe`], with the cases where nothing reached the server already answered as
/// `unknown` (no connection, the hello refused, no ServerHelloDone to send `what` after).
fn sent_after_hello_done(
    scanner: &Scanner,
    hello: &[u8],
    probe: Vec<u8>,
    cost: &mut usize,
    what: &str,
) -> Result<AfterHelloDone, Finding> {
    let unknown = |cost: &usize, detail: String| Finding {
        handshakes: *cost,
        ..finding(VulnStatus::Unknown, detail)
    };
    let Some(o) = send_probe(scanner, hello, probe, cost) else {
        return Err(unknown(cost, "not probed: no connection".into()));
    };
    if let Some(alert) = &o.refused {
        let detail = format!("the hello got alert {alert} before ServerHelloDone: nothing sent");
        return Err(unknown(cost, detail));
    }
    if !o.sent {
        let detail = format!("no ServerHelloDone to send {what} after ({})", o.ending());
        return Err(unknown(cost, detail));
    }
    Ok(o)
}

fn send_probe(
    scanner: &Scanner,
    hello: &[u8],
    probe: Vec<u8>,
    cost: &mut usize,
) -> Option<AfterHelloDone> {
    let mut observer = AfterHelloDone::new(probe);
    scanner
        .exchange_observed(hello, &mut observer, cost)
        .then_some(observer)
}

/// CVE-2014-0224: a ChangeCipherSpec right after ServerHelloDone, before any key exchange,
/// then one bogus handshake record. A patched server refuses the CCS (unexpected_message);
/// one that took it derives keys from an empty master secret, so the bogus record fails
/// its MAC (bad_record_mac or decryption_failed).
fn ccs_injection(scanner: &Scanner, r: &ScanReport, cost: &mut usize) -> Finding {
    let (hello, version) = match probe_hello(scanner, r, false) {
        Ok(h) => h,
        Err(why) if why == "only TLS 1.3 offered" => {
            return finding(
                VulnStatus::NotVulnerable,
                "only TLS 1.3 offered (its ChangeCipherSpec carries no key change)",
            );
        }
        Err(why) => return finding(VulnStatus::Unknown, format!("not probed: {why}")),
    };
    let mut probe = record(CHANGE_CIPHER_SPEC, version, &CCS);
    probe.extend(record(HANDSHAKE, version, &[0u8; 64]));
    let o = match sent_after_hello_done(scanner, &hello, probe, cost, "the early ChangeCipherSpec")
    {
        Ok(o) => o,
        Err(unsent) => return unsent,
    };
    let (status, detail) = match &o.after {
        Some(After::Alert(UNEXPECTED_MESSAGE)) => (
            VulnStatus::NotVulnerable,
            "the early ChangeCipherSpec got unexpected_message".into(),
        ),
        Some(After::Alert(a @ (BAD_RECORD_MAC | DECRYPTION_FAILED))) => (
            VulnStatus::Vulnerable,
            format!(
                "the early ChangeCipherSpec was taken: the record after it got {} (keys from \
                 an empty master secret)",
                if *a == BAD_RECORD_MAC {
                    "bad_record_mac"
                } else {
                    "decryption_failed"
                }
            ),
        ),
        Some(other) => (
            VulnStatus::Unknown,
            format!(
                "undecided: the early ChangeCipherSpec got {}",
                other.describe()
            ),
        ),
        None => (
            VulnStatus::Unknown,
            format!(
                "undecided: after the early ChangeCipherSpec, {}",
                o.ending()
            ),
        ),
    };
    Finding {
        status,
        detail,
        handshakes: *cost,
        severity: None,
    }
}

/// CVE-2014-0160: a heartbeat request declaring 16384 payload bytes and sending none,
/// right after ServerHelloDone. A response longer than the 3 bytes sent is memory read
/// past the record: shown as its length and a short printable preview, never kept.
fn heartbleed(scanner: &Scanner, r: &ScanReport, cost: &mut usize) -> Finding {
    let (hello, version) = match probe_hello(scanner, r, true) {
        Ok(h) => h,
        Err(why) => return finding(VulnStatus::Unknown, format!("not probed: {why}")),
    };
    let mut request = vec![1u8];
    request.extend_from_slice(&HEARTBEAT_CLAIMED.to_be_bytes());
    let probe = record(HEARTBEAT_RECORD, version, &request);
    let o = match sent_after_hello_done(scanner, &hello, probe, cost, "the heartbeat") {
        Ok(o) => o,
        Err(unsent) => return unsent,
    };
    let (status, detail) = match &o.after {
        Some(After::Heartbeat { declared, preview }) if *declared > 3 => (
            VulnStatus::Vulnerable,
            format!(
                "a heartbeat response of {declared} bytes to a 3-byte request declaring \
                 {HEARTBEAT_CLAIMED}: memory read past the record (preview \"{preview}\")"
            ),
        ),
        Some(After::Alert(a)) => (
            VulnStatus::NotVulnerable,
            format!("the over-long heartbeat request got alert {a}, no over-read"),
        ),
        Some(other) => (
            VulnStatus::Unknown,
            format!("undecided: the heartbeat request got {}", other.describe()),
        ),
        None => match o.end {
            // RFC 6520: a heartbeat whose payload_length is too large is discarded.
            Some(EndKind::Timeout | EndKind::Fin | EndKind::Rst) => (
                VulnStatus::NotVulnerable,
                format!(
                    "the over-long heartbeat request was not answered: {}",
                    o.ending()
                ),
            ),
            _ => (
                VulnStatus::Unknown,
                format!("undecided: after the heartbeat request, {}", o.ending()),
            ),
        },
    };
    Finding {
        status,
        detail,
        handshakes: *cost,
        severity: None,
    }
}

/// The TLS 1.2 suites accepted that `pick` keeps, or why the check cannot run at TLS 1.2:
/// `Err(finding)` is the verdict then (not vulnerable on a TLS 1.3-only server).
fn tls12_suites(
    r: &ScanReport,
    what: &str,
    pick: impl Fn(u16) -> bool,
) -> Result<Vec<u16>, Finding> {
    match any_legacy(r) {
        Ok(false) => {
            return Err(finding(
                VulnStatus::NotVulnerable,
                format!("only TLS 1.3 offered, which has no {what}"),
            ));
        }
        Err(gaps) => return Err(finding(VulnStatus::Unknown, format!("not probed: {gaps}"))),
        Ok(true) => {}
    }
    let v = ProtocolVersion::TLS12;
    let Some(s) = version_of(r, v).filter(|s| s.supported) else {
        let why = gap(r, v).unwrap_or_else(|| format!("{v} not offered"));
        return Err(finding(
            VulnStatus::Unknown,
            format!("not probed: the check speaks TLS 1.2 ({why})"),
        ));
    };
    Ok(s.ciphers.iter().copied().filter(|id| pick(*id)).collect())
}

/// Client-initiated renegotiation (testssl's "Client-initiated renegotiation", the
/// CVE-2011-1473 denial of service): a TLS 1.2 handshake finished with our own ECDHE key,
/// then a second ClientHello encrypted under the session, carrying our verify_data in
/// renegotiation_info. A ServerHello back is exposure; an alert or a close is a refusal.
fn client_renegotiation(scanner: &Scanner, r: &ScanReport, cost: &mut usize) -> Finding {
    use super::full_handshake::{self, Answer, Plan};
    let ecdhe = crate::core::crypto::tls12::ECDHE_SUITES;
    let suites = match tls12_suites(r, "renegotiation", |id| ecdhe.contains(&id)) {
        Ok(s) if s.is_empty() => {
            return finding(
                VulnStatus::Unknown,
                "not probed: no ECDHE AES-GCM suite accepted at TLS 1.2 to finish a handshake \
                 with",
            );
        }
        Ok(s) => s,
        Err(f) => return f,
    };
    let unknown = |cost: &usize, detail: String| Finding {
        handshakes: *cost,
        ..finding(VulnStatus::Unknown, detail)
    };
    let Some(d) = full_handshake::run(scanner, Plan::Renegotiate, suites, cost) else {
        return unknown(cost, "not probed: no connection".into());
    };
    if !d.established {
        let why = d.failure.clone().unwrap_or_else(|| d.ending());
        return unknown(cost, format!("the first handshake did not finish: {why}"));
    }
    let (status, detail) = match &d.answer {
        Some(Answer::Handshake(2)) => (
            VulnStatus::Vulnerable,
            "the server answered a client-initiated renegotiation (a second ClientHello under \
             the session) with a ServerHello"
                .to_string(),
        ),
        Some(a @ Answer::Alert(..)) => (
            VulnStatus::NotVulnerable,
            format!("the renegotiating ClientHello got {}", a.describe()),
        ),
        Some(other) => (
            VulnStatus::Unknown,
            format!(
                "undecided: the renegotiating ClientHello got {}",
                other.describe()
            ),
        ),
        None => match d.end {
            Some(EndKind::Fin | EndKind::Rst) => (
                VulnStatus::NotVulnerable,
                format!("the renegotiating ClientHello was refused: {}", d.ending()),
            ),
            _ => (
                VulnStatus::Unknown,
                format!(
                    "undecided: after the renegotiating ClientHello, {}",
                    d.ending()
                ),
            ),
        },
    };
    Finding {
        status,
        detail,
        handshakes: *cost,
        severity: None,
    }
}

/// ROBOT (Bleichenbacher's oracle, CVE-2017-13099 and its vendor siblings): five RSA key
/// exchanges at TLS 1.2 whose PKCS#1 blocks are malformed differently, each followed by
/// ChangeCipherSpec and a Finished no key opens. A server that handles a bad block as it
/// handles a good one (a random premaster secret) answers all five the same; any
/// difference (alert code, close, reset, silence) is an oracle.
fn robot(scanner: &Scanner, r: &ScanReport, cost: &mut usize) -> Finding {
    use super::full_handshake::{self, Plan, RobotVariant};
    let rsa = |id: u16| suite(id).is_some_and(|s| s.kx == KeyExchange::Rsa && !s.export());
    let suites = match tls12_suites(r, "RSA key exchange", rsa) {
        Ok(s) if s.is_empty() => {
            // RSA key exchange below TLS 1.2 only is still an oracle we do not probe.
            let below: Vec<String> = LEGACY[..3]
                .iter()
                .filter(|v| version_of(r, **v).is_some_and(|s| s.ciphers.iter().any(|id| rsa(*id))))
                .map(|v| v.to_string())
                .collect();
            if !below.is_empty() {
                return finding(
                    VulnStatus::Unknown,
                    format!(
                        "not probed: RSA key exchange only at {} (the check speaks TLS 1.2)",
                        below.join(", ")
                    ),
                );
            }
            if let Some(why) = gap(r, ProtocolVersion::TLS12) {
                return finding(
                    VulnStatus::Unknown,
                    format!("no RSA key exchange suite found, but {why}"),
                );
            }
            return finding(
                VulnStatus::NotVulnerable,
                "no RSA key exchange suite accepted: no PKCS#1 premaster secret to attack",
            );
        }
        Ok(s) => s,
        Err(f) => return f,
    };
    let mut reactions: Vec<(RobotVariant, String)> = Vec::new();
    for variant in RobotVariant::ALL {
        let Some(d) = full_handshake::run(scanner, Plan::Robot(variant), suites.clone(), cost)
        else {
            return Finding {
                handshakes: *cost,
                ..finding(VulnStatus::Unknown, "not probed: no connection")
            };
        };
        if let Some(why) = &d.failure {
            return Finding {
                handshakes: *cost,
                ..finding(
                    VulnStatus::Unknown,
                    format!("{}: the key exchange was not sent: {why}", variant.name()),
                )
            };
        }
        if d.answer.is_none()
            && !matches!(d.end, Some(EndKind::Fin | EndKind::Rst | EndKind::Timeout))
        {
            return Finding {
                handshakes: *cost,
                ..finding(
                    VulnStatus::Unknown,
                    format!("{}: {}", variant.name(), d.ending()),
                )
            };
        }
        reactions.push((variant, full_handshake::robot_reaction(&d)));
    }
    let first = &reactions[0].1;
    let (status, detail) = if reactions.iter().all(|(_, r)| r == first) {
        (
            VulnStatus::NotVulnerable,
            format!("all five ClientKeyExchange variants got the same answer: {first}"),
        )
    } else {
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for (v, reaction) in &reactions {
            match groups.iter_mut().find(|(r, _)| r == reaction) {
                Some((_, names)) => names.push(v.name()),
                None => groups.push((reaction.clone(), vec![v.name()])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(reaction, names)| format!("{}: {reaction}", names.join(", ")))
            .collect();
        (
            VulnStatus::Vulnerable,
            format!(
                "the server answers malformed PKCS#1 blocks differently (a padding oracle): {}",
                parts.join("; ")
            ),
        )
    };
    Finding {
        status,
        detail,
        handshakes: *cost,
        severity: None,
    }
}

/// The session id byte Ticketbleed's resumption sends: a server that echoes 32 bytes
/// starting with it copied 31 bytes of its memory after it.
const TICKETBLEED_ID: u8 = 0x5a;
/// Leaked bytes shown, in hex; the rest is counted, never kept.
const TICKETBLEED_SHOWN: usize = 4;

/// CVE-2016-9244 (F5's Ticketbleed): a full TLS 1.2 handshake asking for a session ticket,
/// then a resumption offering that ticket with a 1-byte session id. RFC 5077 has the
/// server echo the id as sent; a vulnerable one echoes 32 bytes, the 31 after ours from
/// its memory. Two connections.
fn ticketbleed(scanner: &Scanner, r: &ScanReport, cost: &mut usize) -> Finding {
    use super::full_handshake::{self, Plan};
    let ecdhe = crate::core::crypto::tls12::ECDHE_SUITES;
    let suites = match tls12_suites(r, "session ticket with a session id", |id| {
        ecdhe.contains(&id)
    }) {
        Ok(s) if s.is_empty() => {
            return finding(
                VulnStatus::Unknown,
                "not probed: no ECDHE AES-GCM suite accepted at TLS 1.2 to get a ticket with",
            );
        }
        Ok(s) => s,
        Err(f) => return f,
    };
    let unknown = |cost: &usize, detail: String| Finding {
        handshakes: *cost,
        ..finding(VulnStatus::Unknown, detail)
    };
    let Some(d) = full_handshake::run(scanner, Plan::Ticket, suites.clone(), cost) else {
        return unknown(cost, "not probed: no connection".into());
    };
    let ticket = match d.ticket() {
        Some(t) if !t.is_empty() => t.to_vec(),
        _ if d.established => {
            return Finding {
                handshakes: *cost,
                ..finding(
                    VulnStatus::NotVulnerable,
                    "the server issued no session ticket: nothing to resume",
                )
            };
        }
        _ => {
            let why = d.failure.clone().unwrap_or_else(|| d.ending());
            return unknown(
                cost,
                format!("no ticket: the handshake did not finish: {why}"),
            );
        }
    };
    let plan = Plan::Resume {
        ticket,
        session_id: vec![TICKETBLEED_ID],
    };
    let Some(d) = full_handshake::run(scanner, plan, suites, cost) else {
        return unknown(cost, "the resumption: no connection".into());
    };
    let Some(id) = &d.server_session_id else {
        let why = d.failure.clone().unwrap_or_else(|| d.ending());
        return unknown(cost, format!("the resumption got no ServerHello: {why}"));
    };
    let (status, detail) = match (id.as_slice(), d.resumed) {
        ([TICKETBLEED_ID], _) => (
            VulnStatus::NotVulnerable,
            "the resumption's 1-byte session id was echoed as sent".to_string(),
        ),
        ([TICKETBLEED_ID, leaked @ ..], Some(true)) if leaked.len() == 31 => (
            VulnStatus::Vulnerable,
            format!(
                "the resumption's 1-byte session id came back as 32 bytes: 31 bytes of server \
                 memory (starting {}…)",
                hex::encode(&leaked[..TICKETBLEED_SHOWN])
            ),
        ),
        (_, Some(false)) => (
            VulnStatus::Unknown,
            "undecided: the server did not resume with its ticket (a full handshake)".into(),
        ),
        (other, _) => (
            VulnStatus::Unknown,
            format!(
                "undecided: the resumption's session id came back as {} bytes",
                other.len()
            ),
        ),
    };
    Finding {
        status,
        detail,
        handshakes: *cost,
        severity: None,
    }
}
