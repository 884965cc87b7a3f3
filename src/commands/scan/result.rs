//! What `scan` gives back for one target: [`ScanResult`], one JSON object per target, with
//! every name, weakness and sum the renderers show already computed from the enumeration's
//! [`ScanReport`]. Fields that only the text report needs are kept out of the JSON
//! (`#[serde(skip)]`), so the JSON stays the contract it was.

use super::enumerate::{ProbeItem, ScanReport, VersionScan};
use super::post_quantum::{PqPreference, PqScan, ShareCheck};
use crate::commands::SchemaVersion;
use crate::commands::facts::CertificateFacts;
use crate::core::assess::Diagnosis;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{
    KeyExchange, group_name, is_post_quantum as is_pq, sigalg_name, sslv2_cipher_name, suite,
    suite_name,
};
use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// A DH prime below this many bits is marked weak (Logjam; the bar testssl.sh and
/// Mozilla's guidelines set).
const WEAK_DH_PRIME_BITS: usize = 2048;

/// One target's scan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScanResult {
    pub schema_version: SchemaVersion,
    /// `host:port` as scanned.
    pub target: String,
    /// The address dialed instead of resolving the host (`IP,NAME` targets, `--connect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// The address scanned: one of the name's addresses (each gets its own result), the
    /// pinned one, or the literal (`null` when the name did not resolve).
    pub address: Option<String>,
    /// Text and CLI only: this result's place among its target's addresses, and how many
    /// there are (the CLI writes the summary after the last).
    #[serde(skip)]
    pub sibling: (usize, usize),
    /// The target line's tag (zgrab2's `IP, DOMAIN, TAG` input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The plaintext preamble before every TLS hello (`--starttls`, or the port's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<&'static str>,
    /// The first thing that went wrong (a connection that could not be made, an answer
    /// that was not TLS), if anything did.
    pub error: Option<String>,
    /// The scan stopped early: the target did not answer TLS as a server should (`error`
    /// and `diagnosis` say how). What it did not ask is unknown: versions with
    /// `supported: null`, and no groups, signature schemes or behaviour.
    pub gave_up: bool,
    /// SSLv2 to TLS 1.3, keyed by the version's name.
    #[serde(serialize_with = "versions_by_name")]
    #[schemars(with = "BTreeMap<String, VersionResult>")]
    pub versions: Vec<VersionResult>,
    /// Accepted groups per version (TLS 1.3, and the best version up to 1.2 with ECDHE),
    /// in the order the server picked them.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Whether each version's group list is in the server's order (`null`: not checked).
    pub groups_server_order: BTreeMap<String, Option<bool>>,
    /// The first group picked in the first group enumeration (TLS 1.3 when it ran).
    pub preferred_group: Option<String>,
    /// Post-quantum key exchange in TLS 1.3 (`null`: the TLS 1.3 groups were not
    /// enumerated: no TLS 1.3, `--suites-only`, or the scan gave up).
    pub post_quantum: Option<PostQuantum>,
    /// Signature schemes the server signed with, in pick order (`null`: not enumerated:
    /// `--suites-only`, no version to read them from, or the scan gave up).
    pub sigalgs: Option<Vec<String>>,
    pub sigalgs_server_order: Option<bool>,
    /// Behaviour results, each with the handshakes it cost.
    pub probes: Vec<ProbeItem>,
    /// Handshakes per part of the scan.
    pub cost: Cost,
    /// The plan the scan followed (`scan --prefer`): `fewer_connections` (each phase after
    /// the last) or `lower_latency` (phases overlapping; see docs/scan.md, "Cost model").
    pub plan: String,
    /// Connections made, retries included.
    pub handshakes: usize,
    pub retries: usize,
    pub elapsed_ms: u64,
    /// The chain of the newest version whose first accepted hello showed one.
    pub certificates: Vec<CertificateFacts>,
    pub diagnosis: Vec<Diagnosis>,
    /// `--vulns`: one verdict per check id (absent without the flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<BTreeMap<String, super::vulns::VulnCheck>>,
    /// The group lists with their cost, in scan order (TLS 1.3 first), for the text report.
    #[serde(skip)]
    pub group_scans: Vec<GroupResult>,
    /// The signature scheme list with its cost, for the text report.
    #[serde(skip)]
    pub sigalg_scan: Option<SigalgResult>,
}

/// One version's suites.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VersionResult {
    /// `TLSv1.2`, …: the key of this entry in `versions`.
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub version: ProtocolVersion,
    /// `true`: the server went on at this version; `false`: it refused (an alert, a
    /// silent close from a server that speaks TLS, or a protocol_version alert to a higher
    /// version); `null`: unknown (the answer broke, or the hello was not sent).
    pub supported: Option<bool>,
    /// Why the result is unknown (`supported: null`) or partial (the suites found before
    /// the enumeration broke off); `null` when it is complete.
    pub incomplete: Option<String>,
    /// Accepted suite names (SSLv2: cipher kinds), in the server's order when
    /// `server_order` is true, else in pick order.
    pub ciphers: Vec<String>,
    /// The same as hex ids (`0xc02f`; SSLv2 kinds as `0x010080`).
    pub cipher_ids: Vec<String>,
    /// `null` when fewer than two suites were accepted or the check was inconclusive.
    pub server_order: Option<bool>,
    /// Why each weak accepted suite is weak, by suite name.
    pub weak: BTreeMap<String, Vec<String>>,
    /// How many suites the enumeration started from.
    pub offered: usize,
    /// The server stayed silent at the full offer; suites were offered in bundles.
    pub bundled: bool,
    /// Not asked: the hello of this higher version got a protocol_version alert.
    pub refused_with: Option<String>,
    /// The smallest finite-field DH prime (bits) seen in the picks' key exchanges.
    pub dh_prime_bits: Option<usize>,
    /// That prime: its size, and its name when it is a well-known (shared) one; `null`
    /// without a DHE key exchange.
    pub dh_group: Option<DhGroup>,
    pub handshakes: usize,
    /// The OpenSSL name of each accepted suite (empty when it has none), for the text.
    #[serde(skip)]
    pub openssl: Vec<String>,
}

/// Handshakes per part of the scan.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct Cost {
    pub versions: usize,
    pub groups: usize,
    pub sigalgs: usize,
    /// The PQ client hellos (both key shares; the classical share only).
    pub post_quantum: usize,
    pub probes: usize,
    /// TLS 1.2 groups already seen when their enumeration began (the version hello's pick
    /// and, in a client-order server's suite hellos, one per signed ECDHE pick): found
    /// without a hello of `groups` (see docs/scan.md).
    pub groups_seen_free: usize,
    /// The same for the TLS 1.2 signature schemes (one per signed ECDHE or DHE pick).
    pub sigalgs_seen_free: usize,
    /// The TLS 1.2 suite hellos showed every signature scheme (a server with its own
    /// scheme order and a long chain of signed suites: docs/scan.md): none was asked in
    /// a hello of its own; `sigalgs` counts the suite hello that showed they ran out.
    pub sigalgs_all_seen_free: bool,
    /// TLS 1.2 suite hellos sent again with every scheme after an offer of only the unseen
    /// ones was refused or answered otherwise (docs/scan.md); counted in `sigalgs`.
    pub sigalgs_resent: usize,
}

/// Post-quantum key exchange in TLS 1.3: the accepted PQ groups, the server's preference,
/// and what two hellos of a PQ client got ("offered vs selected").
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PostQuantum {
    /// Accepted hybrid groups (classical ECDH + ML-KEM, and the obsolete Kyber drafts), in
    /// the order of the TLS 1.3 group list.
    pub hybrid: Vec<String>,
    /// Accepted pure ML-KEM groups, in the same order.
    pub pure: Vec<String>,
    /// Where PQ stands in the server's order of groups: `none` (no PQ group), `pq_only`,
    /// `pq_first`, `classical_first`, `client_order` (it takes the client's first), or
    /// `unknown` (the order check was inconclusive).
    pub preference: PqPreference,
    /// Offered a PQ group first and a classical one, with both key shares, the server
    /// selected the PQ group (`null`: not asked, or no group selected).
    pub selects_pq: Option<bool>,
    /// Offered the same two groups with the classical key share only, the server answered
    /// with a HelloRetryRequest (asking for the PQ share): one more round trip for every
    /// such client (`null`: not asked, or no group selected).
    pub hrr_cost: Option<bool>,
    /// The hello with both key shares (over one TCP segment of an Ethernet path).
    pub both_shares: Option<ShareTest>,
    /// The hello with the classical key share only.
    pub classical_share: Option<ShareTest>,
    /// Hellos of these two checks (0 when no PQ group we make real shares for is accepted).
    pub handshakes: usize,
}

/// One PQ-client hello: what was offered and what the server selected.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShareTest {
    /// supported_groups, in our order (the PQ group first).
    pub offered: Vec<String>,
    /// The groups we sent key shares for.
    pub key_shares: Vec<String>,
    /// The hello's size on the wire, record header included.
    pub hello_bytes: usize,
    /// The group of the ServerHello, or the one the HelloRetryRequest asked for.
    pub selected: Option<String>,
    pub hello_retry_request: bool,
    /// Why no group was selected (the answer: an alert, a reset, …).
    pub problem: Option<String>,
}

impl ShareTest {
    fn new(c: &ShareCheck) -> Self {
        let names = |ids: &[u16]| ids.iter().map(|id| group_name(*id)).collect();
        ShareTest {
            offered: names(&c.offered),
            key_shares: names(&c.key_shares),
            hello_bytes: c.hello_bytes,
            selected: c.selected.map(group_name),
            hello_retry_request: c.hello_retry_request,
            problem: c.problem.clone(),
        }
    }
}

impl PostQuantum {
    fn new(p: &PqScan) -> Self {
        let names = |ids: &[u16]| ids.iter().map(|id| group_name(*id)).collect();
        PostQuantum {
            hybrid: names(&p.hybrid),
            pure: names(&p.pure),
            preference: p.preference,
            selects_pq: p.both_shares.as_ref().and_then(|c| c.selected).map(is_pq),
            hrr_cost: p
                .classical_share
                .as_ref()
                .filter(|c| c.selected.is_some())
                .map(|c| c.hello_retry_request),
            both_shares: p.both_shares.as_ref().map(ShareTest::new),
            classical_share: p.classical_share.as_ref().map(ShareTest::new),
            handshakes: p.handshakes,
        }
    }

    /// Some PQ group is accepted.
    pub fn any(&self) -> bool {
        self.preference != PqPreference::None
    }
}

/// One version's group list (text report only).
#[derive(Debug, Clone)]
pub struct GroupResult {
    pub version: String,
    pub groups: Vec<String>,
    pub server_order: Option<bool>,
    pub handshakes: usize,
    /// Hellos shared with the signature scheme enumeration (counted there).
    pub shared: usize,
}

/// The signature scheme list (text report only).
#[derive(Debug, Clone)]
pub struct SigalgResult {
    pub version: String,
    pub schemes: Vec<String>,
    pub server_order: Option<bool>,
    pub handshakes: usize,
}

/// A finite-field DH prime a server used.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DhGroup {
    /// The well-known prime it is (`modp_1024`, `dh_1024_160`, `ffdhe2048`, …: RFC 2409,
    /// 3526, 5114 and 7919 groups, matched by value), or `null` for a prime of its own.
    pub name: Option<String>,
    /// Where that prime is defined ("RFC 5114 1024-bit group with 160-bit subgroup").
    pub defined_in: Option<String>,
    pub bits: usize,
}

fn versions_by_name<S: Serializer>(versions: &[VersionResult], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(versions.iter().map(|v| (&v.name, v)))
}

/// Why a suite is weak in `v` (empty when it is not): the registry's reasons, and a small
/// DH prime for the finite-field DHE suites.
fn weaknesses(id: u16, v: &VersionScan) -> Vec<String> {
    let Some(s) = suite(id) else {
        return Vec::new();
    };
    let mut reasons: Vec<String> = s
        .weaknesses(v.version.0)
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(bits) = v.dh_prime_bits.filter(|b| *b < WEAK_DH_PRIME_BITS)
        && matches!(s.kx, KeyExchange::Dhe | KeyExchange::DhePsk)
    {
        reasons.push(format!("DH prime of {bits} bits"));
    }
    reasons
}

impl VersionResult {
    fn new(v: &VersionScan) -> Self {
        let sslv2 = v.version == ProtocolVersion::SSLV2;
        let (ciphers, cipher_ids, openssl) = if sslv2 {
            (
                v.sslv2_ciphers
                    .iter()
                    .map(|k| sslv2_cipher_name(*k))
                    .collect(),
                v.sslv2_ciphers
                    .iter()
                    .map(|k| format!("0x{k:06x}"))
                    .collect(),
                Vec::new(),
            )
        } else {
            (
                v.ciphers.iter().map(|id| suite_name(*id)).collect(),
                v.ciphers.iter().map(|id| format!("0x{id:04x}")).collect(),
                v.ciphers
                    .iter()
                    .map(|id| suite(*id).and_then(|s| s.openssl).unwrap_or("").to_string())
                    .collect(),
            )
        };
        let weak = v
            .ciphers
            .iter()
            .map(|id| (suite_name(*id), weaknesses(*id, v)))
            .filter(|(_, w)| !w.is_empty())
            .collect();
        VersionResult {
            name: v.version.to_string(),
            version: v.version,
            supported: match (v.supported, &v.incomplete) {
                (true, _) => Some(true),
                (false, Some(_)) => None,
                (false, None) => Some(false),
            },
            incomplete: v.incomplete.clone(),
            ciphers,
            cipher_ids,
            server_order: v.server_order,
            weak,
            offered: v.offered,
            bundled: v.bundled,
            refused_with: v.refused_with.map(|r| r.to_string()),
            dh_prime_bits: v.dh_prime_bits,
            dh_group: v.dh_prime_bits.map(|bits| DhGroup {
                name: v.dh_prime.map(|p| p.id.to_string()),
                defined_in: v.dh_prime.map(|p| p.name.to_string()),
                bits,
            }),
            handshakes: v.handshakes,
            openssl,
        }
    }
}

impl ScanResult {
    /// Names and judges what the enumeration found.
    pub fn new(r: &ScanReport) -> Self {
        let group_scans: Vec<GroupResult> = r
            .groups
            .iter()
            .map(|g| GroupResult {
                version: g.version.to_string(),
                groups: g.groups.iter().map(|id| group_name(*id)).collect(),
                server_order: g.server_order,
                handshakes: g.handshakes,
                shared: g.shared,
            })
            .collect();
        let sigalg_scan = r.sigalgs.as_ref().map(|s| SigalgResult {
            version: s.version.to_string(),
            schemes: s.schemes.iter().map(|id| sigalg_name(*id)).collect(),
            server_order: s.server_order,
            handshakes: s.handshakes,
        });
        ScanResult {
            schema_version: SchemaVersion,
            target: r.target.clone(),
            connect: None,
            address: None,
            sibling: (0, 1),
            tag: None,
            starttls: None,
            error: r.error.clone(),
            gave_up: r.gave_up,
            versions: r.versions.iter().map(VersionResult::new).collect(),
            groups: group_scans
                .iter()
                .map(|g| (g.version.clone(), g.groups.clone()))
                .collect(),
            groups_server_order: group_scans
                .iter()
                .map(|g| (g.version.clone(), g.server_order))
                .collect(),
            preferred_group: group_scans.first().and_then(|g| g.groups.first().cloned()),
            post_quantum: r.post_quantum.as_ref().map(PostQuantum::new),
            sigalgs: sigalg_scan.as_ref().map(|s| s.schemes.clone()),
            sigalgs_server_order: sigalg_scan.as_ref().and_then(|s| s.server_order),
            probes: r.probes.clone(),
            cost: Cost {
                versions: r.versions.iter().map(|v| v.handshakes).sum(),
                groups: r.groups.iter().map(|g| g.handshakes).sum(),
                sigalgs: r.sigalgs.as_ref().map_or(0, |s| s.handshakes),
                post_quantum: r.post_quantum.as_ref().map_or(0, |p| p.handshakes),
                probes: r.probes.iter().map(|p| p.handshakes).sum(),
                groups_seen_free: r.groups.iter().map(|g| g.known).sum(),
                sigalgs_seen_free: r.sigalgs.as_ref().map_or(0, |s| s.known),
                sigalgs_all_seen_free: r.sigalgs.as_ref().is_some_and(|s| s.complete),
                sigalgs_resent: r.sigalgs.as_ref().map_or(0, |s| s.resent),
            },
            plan: r.plan.name().into(),
            handshakes: r.handshakes,
            retries: r.retries,
            elapsed_ms: r.elapsed_ms,
            certificates: r.certificates.iter().map(CertificateFacts::of).collect(),
            diagnosis: r.diagnosis.clone(),
            vulnerabilities: None,
            group_scans,
            sigalg_scan,
        }
    }

    /// True when some version was accepted.
    pub fn any_supported(&self) -> bool {
        self.versions.iter().any(|v| v.supported == Some(true))
    }

    /// The facts the summary of a name's addresses compares: the newest supported
    /// version and its first suite, the leaf, the causes.
    pub fn backend(&self) -> crate::commands::addresses::Backend {
        let best = self
            .versions
            .iter()
            .rev()
            .find(|v| v.supported == Some(true));
        crate::commands::addresses::Backend {
            address: self.address.clone().unwrap_or_else(|| "-".into()),
            failed: !self.any_supported(),
            outcome: match (self.any_supported(), &self.error) {
                (true, _) => "handshake".into(),
                (false, Some(e)) => e.clone(),
                (false, None) => "no version supported".into(),
            },
            version: best.map(|v| v.name.clone()),
            cipher: best.and_then(|v| v.ciphers.first().cloned()),
            leaf_sha256: self.certificates.first().map(|c| c.sha256.clone()),
            causes: self
                .diagnosis
                .iter()
                .map(|d| d.cause.id().to_string())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assess::Cause;

    #[test]
    fn the_schema_has_the_contract_fields_and_every_cause() {
        let schema = serde_json::to_value(schemars::schema_for!(ScanResult)).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for field in [
            "schema_version",
            "target",
            "versions",
            "groups",
            "sigalgs",
            "handshakes",
            "elapsed_ms",
        ] {
            assert!(props.contains_key(field), "{field}");
        }
        for hidden in ["group_scans", "sigalg_scan"] {
            assert!(!props.contains_key(hidden), "{hidden} is text-only");
        }
        let text = schema.to_string();
        for cause in Cause::ALL {
            assert!(text.contains(&format!("\"{}\"", cause.id())), "{cause}");
        }
    }
}
