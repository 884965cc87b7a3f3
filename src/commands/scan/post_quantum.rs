//! Post-quantum key exchange in TLS 1.3, from the server's side: which hybrid and pure
//! ML-KEM groups it accepts and where they stand against the classical groups (read from
//! the TLS 1.3 group list, which is already in the server's order: no hello), then two
//! hellos as a PQ client sends them, each offering a PQ group first and a classical one:
//!
//! - both key shares (the large hello, over one TCP segment of an Ethernet path): does the
//!   server take the PQ group?
//! - the classical share only: does it settle for the classical group, or ask for the PQ
//!   share with a HelloRetryRequest (one more round trip for every such client)?
//!
//! Two handshakes when the server accepts a PQ group we make real shares for, none
//! otherwise.

use super::enumerate::{GroupScan, Scanner, VersionScan};
use crate::core::crypto::{ecdh, mlkem};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::{GroupKind, group, is_post_quantum as is_pq};

/// Where the PQ groups stand in the server's order of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PqPreference {
    /// No PQ group accepted.
    None,
    /// Only PQ groups accepted: a client without one cannot connect over TLS 1.3.
    PqOnly,
    /// The server's own order puts a PQ group first.
    PqFirst,
    /// The server's own order puts a classical group first.
    ClassicalFirst,
    /// The server takes the client's first group it accepts: PQ when the client lists it
    /// first.
    ClientOrder,
    /// Both kinds accepted, and the order check was inconclusive.
    Unknown,
}

/// One hello of a PQ client and what the server selected.
#[derive(Debug, Clone)]
pub struct ShareCheck {
    /// supported_groups, in our order (the PQ group first).
    pub offered: Vec<u16>,
    /// The groups we sent key shares for.
    pub key_shares: Vec<u16>,
    /// The hello's size on the wire (record header included).
    pub hello_bytes: usize,
    /// The group of the ServerHello, or the one the HelloRetryRequest asked for.
    pub selected: Option<u16>,
    /// The server answered with a HelloRetryRequest.
    pub hello_retry_request: bool,
    /// Why nothing was selected: the answer ("alert handshake_failure", "a reset …").
    pub problem: Option<String>,
}

/// What the scan found about PQ key exchange (TLS 1.3 only).
#[derive(Debug, Clone)]
pub struct PqScan {
    /// Accepted hybrid groups (classical ECDH + ML-KEM, and the Kyber drafts), in the order
    /// of the TLS 1.3 group list.
    pub hybrid: Vec<u16>,
    /// Accepted pure ML-KEM groups, in the same order.
    pub pure: Vec<u16>,
    pub preference: PqPreference,
    /// Both key shares, PQ first.
    pub both_shares: Option<ShareCheck>,
    /// The classical share only, the PQ group still offered first.
    pub classical_share: Option<ShareCheck>,
    pub handshakes: usize,
}

/// The preference from the accepted list (in pick order) and its order check. The group
/// enumeration's first hello lists every classical group before every PQ group, so a
/// PQ first pick is the server's own preference even when the order check was
/// inconclusive (OpenSSL 3.5+ with `/` tuples: server order between tuples, client
/// order within one).
fn preference(accepted: &[u16], server_order: Option<bool>) -> PqPreference {
    let pq = accepted.iter().filter(|g| is_pq(**g)).count();
    match (pq, accepted.len() - pq, server_order) {
        (0, _, _) => PqPreference::None,
        (_, 0, _) => PqPreference::PqOnly,
        _ if is_pq(accepted[0]) => PqPreference::PqFirst,
        (_, _, Some(true)) => PqPreference::ClassicalFirst,
        (_, _, Some(false)) => PqPreference::ClientOrder,
        (_, _, None) => PqPreference::Unknown,
    }
}

impl<'a> Scanner<'a> {
    /// The PQ findings from the TLS 1.3 group list `g13`, and the two PQ-client hellos
    /// when the server accepts a PQ group we make real shares for.
    pub(super) fn post_quantum(&self, g13: &GroupScan, versions: &[VersionScan]) -> PqScan {
        let accepted = &g13.groups;
        let kind_of = |kind: GroupKind| -> Vec<u16> {
            accepted
                .iter()
                .copied()
                .filter(|g| group(*g).is_some_and(|e| e.kind == kind))
                .collect()
        };
        let mut scan = PqScan {
            hybrid: kind_of(GroupKind::Hybrid),
            pure: kind_of(GroupKind::PostQuantum),
            preference: preference(accepted, g13.server_order),
            both_shares: None,
            classical_share: None,
            handshakes: 0,
        };
        // The PQ group clients send (X25519MLKEM768) when accepted, else the server's
        // first that we can make a real share for.
        let pq = if accepted.contains(&mlkem::GROUP_X25519_MLKEM768) {
            Some(mlkem::GROUP_X25519_MLKEM768)
        } else {
            accepted
                .iter()
                .copied()
                .find(|g| mlkem::PQ_GROUPS.contains(g))
        };
        let Some(pq) = pq else {
            return scan;
        };
        // The classical group likewise: x25519, else the server's first with a real share;
        // x25519 too when it accepts none (what a client sending it alone would get).
        let classical = if accepted.contains(&ecdh::GROUP_X25519) {
            ecdh::GROUP_X25519
        } else {
            accepted
                .iter()
                .copied()
                .find(|g| !is_pq(*g) && ecdh::REAL_KEY_GROUPS.contains(g))
                .unwrap_or(ecdh::GROUP_X25519)
        };
        let suites = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS13)
            .map(|v| v.ciphers.clone())
            .filter(|c| !c.is_empty());
        let offered = vec![pq, classical];
        let mut check = |key_shares: Vec<u16>| {
            let spec = HelloSpec {
                cipher_suites: suites.clone(),
                groups: Some(offered.clone().into()),
                key_shares: Some(key_shares.clone().into()),
                ..self.version_spec(ProtocolVersion::TLS13)
            };
            let mut hello = self.encode(&spec);
            let reply = self.handshake(&mut hello, &mut scan.handshakes);
            let verdict = reply
                .verdict
                .as_ref()
                .filter(|_| reply.went_on() && reply.version() == Some(ProtocolVersion::TLS13.0));
            let retry = verdict.and_then(|v| v.hello_retry_request.as_ref());
            let selected = match retry {
                Some(r) => r.key_share_group(),
                None => verdict.and_then(|v| v.group),
            };
            ShareCheck {
                offered: offered.clone(),
                key_shares,
                hello_bytes: hello.wire.len(),
                selected,
                hello_retry_request: retry.is_some(),
                problem: selected.is_none().then(|| reply.describe()),
            }
        };
        let both = check(vec![pq, classical]);
        let classical_only = check(vec![classical]);
        scan.both_shares = Some(both);
        scan.classical_share = Some(classical_only);
        scan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X25519: u16 = 0x001d;
    const P256: u16 = 0x0017;
    const HYBRID: u16 = 0x11ec;
    const MLKEM768: u16 = 0x0201;

    #[test]
    fn preference_from_the_accepted_list_and_its_order() {
        use PqPreference::*;
        assert_eq!(preference(&[X25519, P256], Some(true)), None);
        assert_eq!(preference(&[], Option::None), None);
        assert_eq!(preference(&[HYBRID, MLKEM768], Some(true)), PqOnly);
        assert_eq!(preference(&[HYBRID], Option::None), PqOnly);
        assert_eq!(preference(&[HYBRID, X25519], Some(true)), PqFirst);
        assert_eq!(preference(&[HYBRID, P256, X25519], Option::None), PqFirst);
        assert_eq!(preference(&[X25519, HYBRID], Some(true)), ClassicalFirst);
        assert_eq!(preference(&[X25519, HYBRID], Some(false)), ClientOrder);
        assert_eq!(preference(&[X25519, HYBRID], Option::None), Unknown);
    }

    #[test]
    fn kyber_drafts_count_as_pq_and_classical_groups_do_not() {
        assert!(is_pq(HYBRID) && is_pq(MLKEM768) && is_pq(0x6399) && is_pq(0x11ee));
        assert!(!is_pq(X25519) && !is_pq(0x0100) && !is_pq(0xfafa));
    }
}
