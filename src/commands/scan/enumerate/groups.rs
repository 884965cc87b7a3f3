//! TLS 1.3 groups: over TCP by HelloRetryRequest (an empty key_share), enumerated together
//! with TLS 1.3's other suites; over QUIC by key shares. Each with the order hello of the
//! accepted groups reversed, and followed by the post-quantum hellos (see `post_quantum`),
//! which need the group list.

use super::order::{order_item, order_of, order_shown, reversed};
use super::send::{Link, Reply};
use super::{GroupScan, OrderCheck, Scanner, VersionScan, lock, suite_candidates};
use crate::commands::scan::post_quantum::PqScan;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::HelloSpec;
use crate::core::wire::registry::{GROUPS, is_post_quantum};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A TLS 1.3 hello without key shares offering (suites, groups): the (suite, group) its
/// HelloRetryRequest names, and the reply.
type RetryPick<'p, 'a> =
    dyn Fn(Vec<u16>, &[u16], &mut usize, Link<'_, 'a>) -> (Option<u16>, Option<u16>, Reply) + 'p;

/// What the TLS 1.3 group part finds: the groups, TLS 1.3's suite order check when it rode
/// on the group order hello, and the post-quantum results.
pub(super) type Tls13Lists = Option<(GroupScan, Option<OrderCheck>, PqScan)>;

impl<'a> Scanner<'a> {
    /// TLS 1.3's groups, then the post-quantum hellos (they need the group list).
    pub(super) fn groups_tls13_part(
        &self,
        versions: &[VersionScan],
        done13: Option<&OnceLock<VersionScan>>,
    ) -> Tls13Lists {
        let (g13, order, suites13) = self.groups_tls13(versions, done13)?;
        let pq = self.post_quantum(&g13, versions);
        *lock(&self.suites13) = suites13;
        Some((g13, order, pq))
    }

    /// TLS 1.3 groups: each hello has an empty key_share, so the HelloRetryRequest names the
    /// server's pick among what remains. The first one offers the accepted suites reversed
    /// and is also the suite order check (an HRR names the suite too); it is returned with
    /// it. One more hello offers the accepted groups reversed, for the group order.
    /// Over QUIC each hello carries a key share for every group it offers instead (real
    /// keys where we make them, right-length bytes otherwise), so the ServerHello's group
    /// is the pick: a QUIC server may refuse a hello without a usable share rather than
    /// retry it (aioquic does), and one that prefers to retry still names its pick.
    ///
    /// Pipelined (`done13`: the TLS 1.3 suites are still being enumerated, `versions` holds
    /// the first pick only), the suite order rides on the group order hello instead, which
    /// waits for them; with fewer than two groups it is a hello of its own.
    fn groups_tls13(
        &self,
        versions: &[VersionScan],
        done13: Option<&OnceLock<VersionScan>>,
    ) -> Option<(GroupScan, Option<OrderCheck>, Option<Vec<u16>>)> {
        let v13 = versions
            .iter()
            .find(|v| v.version == ProtocolVersion::TLS13 && v.supported)?;
        // Every classical group before every PQ group: a PQ first pick is then the
        // server's preference, not ours (see `post_quantum`).
        let (classical, pq): (Vec<u16>, Vec<u16>) = GROUPS
            .iter()
            .filter(|g| g.key_share_len.is_some())
            .map(|g| g.id)
            .partition(|g| !is_post_quantum(*g));
        let candidates = [classical, pq].concat();
        // The (suite, group) a hello without key shares made the server pick.
        let pick = |suites: Vec<u16>, groups: &[u16], cost: &mut usize, chain: Link<'_, 'a>| {
            let spec = HelloSpec {
                cipher_suites: Some(suites),
                groups: Some(groups.to_vec().into()),
                key_shares: Some(if self.opts.quic_groups {
                    groups.to_vec().into()
                } else {
                    Cow::Borrowed(&[])
                }),
                ..self.version_spec(ProtocolVersion::TLS13)
            };
            let reply = self.handshake_in(&mut self.encode(&spec), cost, chain);
            let v = reply
                .verdict
                .as_ref()
                .filter(|_| reply.version() == Some(ProtocolVersion::TLS13.0));
            let suite = v.and_then(|v| v.cipher);
            let group = v.and_then(|v| {
                v.hello_retry_request
                    .as_ref()
                    .and_then(|h| h.key_share_group())
                    .or(v.group)
            });
            (suite, group, reply)
        };
        if !self.opts.quic_groups {
            return Some(self.suites_and_groups_tls13(v13, &candidates, &pick));
        }
        let mut cost = 0;
        let mut order = None;
        let groups = self.remove_chosen(&candidates, 0, &mut cost, |offer, cost, chain| {
            if order.is_some() || v13.ciphers.len() < 2 {
                return pick(v13.ciphers.clone(), offer, cost, chain).1;
            }
            let (suite, group, reply) = pick(reversed(&v13.ciphers), offer, cost, chain);
            order = Some(order_item(
                v13,
                suite,
                &reply,
                0,
                " (in the first group hello)",
            ));
            group
        });
        let final13 = done13.map(OnceLock::wait).filter(|v| v.ciphers.len() >= 2);
        let server_order = match final13 {
            Some(v) if groups.len() >= 2 => {
                let (suite, first, reply) =
                    pick(reversed(&v.ciphers), &reversed(&groups), &mut cost, None);
                order = Some(order_item(
                    v,
                    suite,
                    &reply,
                    0,
                    " (in the group order hello)",
                ));
                order_of(&groups, first)
            }
            _ if groups.len() >= 2 => {
                let (_, first, _) = pick(v13.ciphers.clone(), &reversed(&groups), &mut cost, None);
                order_of(&groups, first)
            }
            _ => None,
        };
        if let Some(v) = final13
            && order.is_none()
        {
            order = Some(self.check_order(v));
        }
        let groups = GroupScan::alone(ProtocolVersion::TLS13, groups, cost, server_order);
        Some((groups, order, None))
    }

    /// TLS 1.3 suites (after the version hello's pick) and groups enumerated together: a
    /// HelloRetryRequest names a suite and a group, so each hello offers what remains of
    /// both ([`Scanner::remove_both`], the groups first: max(N_groups, N_suites − 1) plus
    /// 2 or 3 hellos instead of N_suites + N_groups + 1). One more hello offers both
    /// accepted lists reversed: both orders. A server that names no group by HelloRetryRequest has
    /// its suites enumerated as before (full hellos).
    fn suites_and_groups_tls13(
        &self,
        v13: &VersionScan,
        candidates: &[u16],
        pick: &RetryPick<'_, 'a>,
    ) -> (GroupScan, Option<OrderCheck>, Option<Vec<u16>>) {
        let suites13 = suite_candidates(ProtocolVersion::TLS13);
        let offer = |suites: &[u16], groups: &[u16], cost: &mut usize, chain: Link<'_, 'a>| {
            let (suite, group, _) = pick(suites.to_vec(), groups, cost, chain);
            Some((suite?, group?))
        };
        // The group the version hello's key shares got (x25519 listed and shared first).
        let version_group = v13.first.as_ref().and_then(|v| v.group);
        let both = self.remove_both(
            candidates,
            &suites13,
            (&[], &v13.ciphers),
            &offer,
            &|groups, suites| suites_outlast_groups(version_group, groups, suites),
        );
        let mut cost = both.together + both.first_alone + both.second_alone;
        let mut suites = both.second;
        let groups = both.first;
        if groups.is_empty() {
            let rest: Vec<u16> = suites13
                .iter()
                .copied()
                .filter(|s| !suites.contains(s))
                .collect();
            suites.extend(
                self.remove_chosen(&rest, 0, &mut cost, |offer, cost, chain| {
                    self.offer_suites(ProtocolVersion::TLS13, Some(offer), cost, chain)
                        .0
                }),
            );
        }
        let v = VersionScan {
            ciphers: suites.clone(),
            ..VersionScan::new(ProtocolVersion::TLS13, suites13.len())
        };
        let shown = order_shown(&v).filter(|_| groups.len() < 2);
        let (order, server_order) = if shown.is_some() {
            (shown, None)
        } else if groups.len() >= 2 || suites.len() >= 2 {
            let (suite, first, reply) =
                pick(reversed(&suites), &reversed(&groups), &mut cost, None);
            let order = (suites.len() >= 2)
                .then(|| order_item(&v, suite, &reply, 0, " (in the group order hello)"));
            (order, order_of(&groups, first))
        } else {
            (None, None)
        };
        let scan = GroupScan::alone(ProtocolVersion::TLS13, groups, cost, server_order);
        (scan, order, Some(suites))
    }
}

/// At the first refusal of TLS 1.3's groups and suites enumerated together: whether its
/// suites more likely outlast its groups, so that they go on alone first. Usually the
/// groups do (five or more accepted against three suites). But when the suites still lack
/// the one every TLS 1.3 server must have (TLS_AES_128_GCM_SHA256, RFC 8446 9.1), the
/// version hello's key shares (x25519 first, then secp256r1 and secp384r1) got a group
/// other than x25519, and that group is all the enumeration has seen, the server likely
/// has that one group: PostgreSQL's default (`ssl_ecdh_curve`, secp256r1 only), where
/// testing the groups first cost a hello. A server in client order (slapd) takes our
/// x25519 share, and keeps the groups-first order (two suites, ten groups there).
fn suites_outlast_groups(version_group: Option<u16>, groups: &[u16], suites: &[u16]) -> bool {
    const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
    const X25519: u16 = 0x001d;
    !suites.contains(&TLS_AES_128_GCM_SHA256)
        && version_group.is_some_and(|g| g != X25519 && groups == [g])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls13_suites_go_on_first_while_short_of_the_mandatory_one() {
        // PostgreSQL: secp256r1 only (its version hello took our P-256 share), and
        // TLS_AES_256_GCM_SHA384 and ChaCha20 shown.
        let (x25519, p256) = (Some(0x001d), Some(0x0017));
        assert!(suites_outlast_groups(p256, &[0x0017], &[0x1302, 0x1303]));
        // The mandatory suite seen; the version hello took x25519 (slapd, client order:
        // two suites, many groups); more groups seen than the version hello's.
        assert!(!suites_outlast_groups(
            p256,
            &[0x0017],
            &[0x1302, 0x1303, 0x1301]
        ));
        assert!(!suites_outlast_groups(x25519, &[0x0017], &[0x1302, 0x1303]));
        assert!(!suites_outlast_groups(
            p256,
            &[0x0017, 0x0018],
            &[0x1302, 0x1303]
        ));
        assert!(!suites_outlast_groups(None, &[0x0017], &[0x1302]));
    }
}
