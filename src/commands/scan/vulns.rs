//! `scan --vulns`: what the scan learned, named as the known TLS attacks it exposes a server
//! to. Each check reads the enumeration's suites and versions or a behaviour probe's answer;
//! none makes a connection of its own in this release, so `handshakes` is what the probe a
//! verdict rests on cost (0 for a verdict read off the suite lists).
//!
//! A check is `unknown` with the reason whenever the facts it needs are missing (a version
//! whose enumeration broke off, a probe not sent): never a guess. [`CHECKS`] is the one
//! table of checks, their CVEs, severities and whether they could disturb a server.

use super::behaviour::{COMBINED, COMPRESSION, FALLBACK_PREFIX, HEARTBEAT, SECURE_RENEGOTIATION};
use super::enumerate::{ProbeItem, ScanReport, VersionScan};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{CipherSuite, KeyExchange, suite, suite_name};
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

/// How bad the exposure is (testssl.sh's scale, without its OK/WARN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VulnCheck {
    pub status: VulnStatus,
    /// What the verdict rests on, or why it is unknown.
    pub detail: String,
    pub cve: Vec<String>,
    /// The severity of the exposure the check names (the same whatever the status, except
    /// `logjam`: `high` for export DH suites, `medium` for a DH prime of at most 1024 bits
    /// alone).
    pub severity: Severity,
    /// Connections the verdict rests on: the probe's (shared with the behaviour results,
    /// counted once in the scan's total), 0 when read off the suite lists.
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

/// Every check, in report order. The sent-and-answered probes that are not implemented yet
/// are listed so that their absence reads as `unknown`, never as safe.
pub const CHECKS: &[CheckDef] = &[
    check("heartbleed", &["CVE-2014-0160"], Severity::Critical, false),
    check("ccs_injection", &["CVE-2014-0224"], Severity::High, false),
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

/// The checks of `mode` on what the scan of one target found.
pub fn assess(report: &ScanReport, mode: VulnMode) -> BTreeMap<String, VulnCheck> {
    CHECKS
        .iter()
        .filter(|c| mode == VulnMode::All || !c.disturbs)
        .map(|c| (c.id.to_string(), run_check(c, report)))
        .collect()
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

fn run_check(c: &CheckDef, r: &ScanReport) -> VulnCheck {
    use VulnStatus::*;
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
        "heartbleed" => probe_check(r, "heartbleed", |p| {
            let result = p.result.as_str();
            if result.starts_with("not enabled") {
                Some((
                    NotVulnerable,
                    "the server did not answer the heartbeat extension: no heartbeat to \
                     over-read (the over-read request itself is not sent in this release)"
                        .into(),
                ))
            } else {
                // Enabled: only the over-read request could tell, and it is not sent yet.
                None
            }
        }),
        _ => finding(Unknown, "not checked: not implemented in this release"),
    };
    VulnCheck {
        status: f.status,
        detail: f.detail,
        cve: c.cve.iter().map(|s| s.to_string()).collect(),
        severity: f.severity.unwrap_or(c.severity),
        handshakes: f.handshakes,
    }
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
        .map(|(v, b)| format!("{}: DH prime of {b} bits", v.version))
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
        f.severity = Some(Severity::Medium);
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
