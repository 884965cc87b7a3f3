//! Whose order a server follows: the suite order check (one offer of the accepted suites
//! reversed), the order a version's picks already show (no hello), how the pick from a
//! reversed offer reads ([`order_of`], for groups and schemes too), and which version's
//! check rides on the combined intolerance hello. Apart: the group and scheme enumerations
//! and the behaviour probes read their orders with the same helpers.

use super::send::Reply;
use super::{OrderCheck, ProbeItem, Scanner, VersionScan, suite_candidates};
use crate::commands::scan::behaviour;
use crate::core::wire::ProtocolVersion;

impl<'a> Scanner<'a> {
    /// One offer of the accepted suites in reverse pick order: a server that enforces its
    /// order still picks its first; a client-order server picks our first.
    /// Its picks may already show the server's order (see [`order_shown`]): then no hello.
    pub(in crate::commands::scan) fn check_order(&self, v: &VersionScan) -> OrderCheck {
        if let Some(shown) = order_shown(v) {
            return shown;
        }
        let mut cost = 0;
        let (pick, reply) =
            self.offer_suites(v.version, Some(&reversed(&v.ciphers)), &mut cost, None);
        order_item(v, pick, &reply, cost, "")
    }
}

/// The version whose suite order check rides on the combined intolerance hello: the
/// behaviour probes' base version, when they run, it is TLS 1.2 or below and has two
/// suites or more (in `prelim` versions the count is not known yet: its base version).
pub(super) fn combined_order_version(
    versions: &[VersionScan],
    more: bool,
) -> Option<ProtocolVersion> {
    let base = behaviour::base_version(versions).filter(|_| more)?;
    (base.version.0 <= ProtocolVersion::TLS12.0).then_some(base.version)
}

/// Whose order a pick from the reversed `accepted` list shows: the server's (its first
/// pick again) or ours (the reversed list's first). A list of one has no order.
pub(super) fn order_of(accepted: &[u16], pick: Option<u16>) -> Option<bool> {
    if accepted.len() < 2 {
        return None;
    }
    match pick? {
        p if Some(&p) == accepted.first() => Some(true),
        p if Some(&p) == accepted.last() => Some(false),
        _ => None,
    }
}

pub(in crate::commands::scan) fn reversed(ids: &[u16]) -> Vec<u16> {
    ids.iter().rev().copied().collect()
}

/// The server's order, when a version's picks show it without an order check: every
/// offer of the enumeration listed the suites in the candidates' order, so a server that
/// follows the client's order picks them in that order; a pick that came before one
/// listed ahead of it (and accepted later) shows the server choosing. Not for bundled
/// offers (their picks were ordered again by an offer of the picks in pick order).
pub(super) fn order_shown(v: &VersionScan) -> Option<OrderCheck> {
    if v.bundled {
        return None;
    }
    let candidates = suite_candidates(v.version);
    let at: Vec<Option<usize>> = v
        .ciphers
        .iter()
        .map(|c| candidates.iter().position(|x| x == c))
        .collect();
    let against = at
        .windows(2)
        .any(|w| matches!(w, [Some(a), Some(b)] if a > b));
    against.then(|| {
        let item = ProbeItem {
            name: format!("server order {}", v.version),
            result: "server order (its picks went against our offer's order)".into(),
            concern: false,
            handshakes: 0,
        };
        (Some(true), item)
    })
}

/// The order check's item from the suite picked out of the reversed offer.
pub(in crate::commands::scan) fn order_item(
    v: &VersionScan,
    pick: Option<u16>,
    reply: &Reply,
    handshakes: usize,
    note: &str,
) -> OrderCheck {
    let order = order_of(&v.ciphers, pick);
    let result = match (order, pick) {
        (Some(true), _) => "server order".to_string(),
        (Some(false), _) => "client order".to_string(),
        (None, Some(p)) => format!(
            "inconsistent: picked {}",
            crate::core::wire::registry::suite_name(p)
        ),
        (None, None) => format!("no answer: {}", reply.describe()),
    };
    let item = ProbeItem {
        name: format!("server order {}", v.version),
        concern: order == Some(false),
        result: format!("{result}{note}"),
        handshakes,
    };
    (order, item)
}
