//! The elimination every enumeration is made of: offer all that remain, remove what the
//! server picked ([`Scanner::remove_chosen`]), and two lists eliminated in the same hellos
//! ([`Scanner::remove_both`]). Apart: the strategies differ in what one offer is; the
//! order of the offers, when they stop and the chain their hellos go on are here.

use super::Scanner;
use super::send::Link;

/// What [`Scanner::remove_both`] found, with the hellos of each phase.
#[derive(Debug, Default)]
pub(super) struct BothPicks {
    pub(super) first: Vec<u16>,
    pub(super) second: Vec<u16>,
    pub(super) together: usize,
    pub(super) first_alone: usize,
    pub(super) second_alone: usize,
}

impl<'a> Scanner<'a> {
    /// Offers what remains of `candidates` until the server refuses or only `keep` are
    /// left; returns the picks in order. Each offer's hellos go on the elimination's
    /// chain (`offer` gets it: [`Scanner::handshake_in`]).
    pub(super) fn remove_chosen(
        &self,
        candidates: &[u16],
        keep: usize,
        cost: &mut usize,
        offer: impl FnMut(&[u16], &mut usize, Link<'_, 'a>) -> Option<u16>,
    ) -> Vec<u16> {
        let mut chain = self.chain();
        self.remove_chosen_on(chain.link(), candidates, keep, cost, offer)
    }

    /// [`Scanner::remove_chosen`] on `chain`: an elimination nested in another's
    /// ([`Scanner::remove_both`]) goes on with its chain and its connection made ahead.
    fn remove_chosen_on(
        &self,
        mut chain: Link<'_, 'a>,
        candidates: &[u16],
        keep: usize,
        cost: &mut usize,
        mut offer: impl FnMut(&[u16], &mut usize, Link<'_, 'a>) -> Option<u16>,
    ) -> Vec<u16> {
        let mut remaining = candidates.to_vec();
        let mut picks = Vec::new();
        while remaining.len() > keep {
            if let Some(chain) = chain.as_deref_mut() {
                // A pick leaves one fewer: another offer follows only if that is still
                // more (a connection is made ahead only then).
                chain.more = remaining.len() - 1 > keep;
            }
            match offer(&remaining, cost, chain.as_deref_mut()) {
                Some(p) if remaining.contains(&p) => {
                    picks.push(p);
                    remaining.retain(|r| *r != p);
                }
                _ => break,
            }
        }
        picks
    }

    /// Two lists enumerated together: each hello offers what remains of both, and a pick
    /// removes one item from each. The first refusal means one list ran out, not which:
    /// the first list goes on alone (with the second's accepted items), and if it was the
    /// one that ran out, the second goes on alone. With `first` the list a server usually
    /// accepts more of, that costs max(N1, N2) + 2 hellos instead of N1 + N2 + 2.
    /// `known` are items of (first, second) already seen accepted by earlier hellos: the
    /// enumeration goes on from there. `second_first`, asked with the lists' picks at the
    /// first refusal, says the second list more likely outlasts the first: the second then
    /// goes on alone first (e.g. TLS 1.3's suites while the mandatory one is not among
    /// them: `groups::suites_outlast_groups`).
    pub(super) fn remove_both(
        &self,
        first: &[u16],
        second: &[u16],
        known: (&[u16], &[u16]),
        offer: &impl Fn(&[u16], &[u16], &mut usize, Link<'_, 'a>) -> Option<(u16, u16)>,
        second_first: &dyn Fn(&[u16], &[u16]) -> bool,
    ) -> BothPicks {
        let mut picks = BothPicks {
            first: known.0.to_vec(),
            second: known.1.to_vec(),
            ..BothPicks::default()
        };
        let mut rest1: Vec<u16> = first
            .iter()
            .copied()
            .filter(|i| !known.0.contains(i))
            .collect();
        let mut rest2: Vec<u16> = second
            .iter()
            .copied()
            .filter(|i| !known.1.contains(i))
            .collect();
        // One chain for all its hellos: those together, then each list's alone.
        let mut chain = self.chain();
        while let Some((p2, p1)) = offer(&rest2, &rest1, &mut picks.together, chain.link())
            .filter(|(p2, p1)| rest1.contains(p1) && rest2.contains(p2))
        {
            picks.first.push(p1);
            picks.second.push(p2);
            rest1.retain(|r| *r != p1);
            rest2.retain(|r| *r != p2);
        }
        if picks.first.is_empty() && picks.second.is_empty() {
            return picks;
        }
        if second_first(&picks.first, &picks.second) {
            let more2 = self.remove_chosen_on(
                chain.link(),
                &rest2,
                0,
                &mut picks.second_alone,
                |offer2, cost, chain| offer(offer2, &picks.first, cost, chain).map(|(p2, _)| p2),
            );
            if more2.is_empty() {
                picks.first.extend(self.remove_chosen_on(
                    chain.link(),
                    &rest1,
                    0,
                    &mut picks.first_alone,
                    |offer1, cost, chain| {
                        offer(&picks.second, offer1, cost, chain).map(|(_, p1)| p1)
                    },
                ));
            }
            picks.second.extend(more2);
            return picks;
        }
        let more1 = self.remove_chosen_on(
            chain.link(),
            &rest1,
            0,
            &mut picks.first_alone,
            |offer1, cost, chain| offer(&picks.second, offer1, cost, chain).map(|(_, p1)| p1),
        );
        if more1.is_empty() {
            picks.second.extend(self.remove_chosen_on(
                chain.link(),
                &rest2,
                0,
                &mut picks.second_alone,
                |offer2, cost, chain| offer(offer2, &picks.first, cost, chain).map(|(p2, _)| p2),
            ));
        }
        picks.first.extend(more1);
        picks
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_scanner;
    use super::*;

    #[test]
    fn remove_chosen_stops_at_refusal_and_keeps_pick_order() {
        with_scanner(|s| {
            // A server that accepts 3, 1, 5 in that order of preference.
            let server = [3u16, 1, 5];
            let mut cost = 0;
            let picks = s.remove_chosen(&[1, 2, 3, 4, 5, 6], 0, &mut cost, |offer, cost, _| {
                *cost += 1;
                server.iter().copied().find(|p| offer.contains(p))
            });
            assert_eq!(picks, [3, 1, 5]);
            assert_eq!(cost, 4, "N+1 offers for N accepted");
            let mut cost = 0;
            let picks = s.remove_chosen(&[1, 3, 5], 1, &mut cost, |offer, cost, _| {
                *cost += 1;
                server.iter().copied().find(|p| offer.contains(p))
            });
            assert_eq!(
                (picks, cost),
                (vec![3, 1], 2),
                "the last one needs no offer"
            );
        });
    }

    #[test]
    fn remove_both_finds_both_lists_in_max_plus_two_or_three_offers() {
        with_scanner(|s| {
            // A server that picks independently from each list, in its own order; it goes on
            // only when it finds something in both.
            let serve = |first: &'static [u16], second: &'static [u16]| {
                move |offer2: &[u16], offer1: &[u16], cost: &mut usize, _: Link<'_, '_>| {
                    *cost += 1;
                    let p1 = first.iter().copied().find(|p| offer1.contains(p))?;
                    let p2 = second.iter().copied().find(|p| offer2.contains(p))?;
                    Some((p2, p1))
                }
            };
            let candidates: Vec<u16> = (1..=9).collect();
            // Why, seed, the server's first and second preferences, whether the second goes
            // on alone first, and the offers made together, with the first alone and with
            // the second alone.
            type Case = (
                &'static str,
                Option<(u16, u16)>,
                &'static [u16],
                &'static [u16],
                bool,
                (usize, usize, usize),
            );
            let cases: [Case; 7] = [
                (
                    "the first outlasts the second: 3 together, the refusal, 2 alone, the \
                     refusal that ends it",
                    None,
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    false,
                    (4, 3, 0),
                ),
                (
                    "the first outlasts the second, which goes on alone first: one more refusal",
                    None,
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    true,
                    (4, 3, 1),
                ),
                (
                    "the second outlasts the first: one more refusal before it goes on alone",
                    None,
                    &[6, 2],
                    &[1, 2, 3, 4],
                    false,
                    (3, 1, 3),
                ),
                (
                    "the second outlasts the first and goes on alone first: that refusal saved",
                    None,
                    &[6, 2],
                    &[1, 2, 3, 4],
                    true,
                    (3, 0, 3),
                ),
                (
                    "a pick seeded from an earlier hello saves the first offer",
                    Some((4, 9)),
                    &[9, 1, 5, 7, 2],
                    &[4, 8, 3],
                    false,
                    (3, 3, 0),
                ),
                (
                    "nothing accepted: one offer",
                    None,
                    &[],
                    &[1],
                    false,
                    (1, 0, 0),
                ),
                (
                    "nothing accepted, second first: one offer",
                    None,
                    &[],
                    &[1],
                    true,
                    (1, 0, 0),
                ),
            ];
            for (why, seed, first, second, second_first, offers) in cases {
                let (k1, k2): (Vec<u16>, Vec<u16>) =
                    seed.map_or((vec![], vec![]), |(p2, p1)| (vec![p1], vec![p2]));
                let both = s.remove_both(
                    &candidates,
                    &candidates,
                    (&k1, &k2),
                    &serve(first, second),
                    &|_, _| second_first,
                );
                // The server goes on only with a pick from both lists.
                let (want_first, want_second): (&[u16], &[u16]) =
                    if first.is_empty() || second.is_empty() {
                        (&[], &[])
                    } else {
                        (first, second)
                    };
                assert_eq!(both.first, want_first, "{why}");
                assert_eq!(both.second, want_second, "{why}");
                assert_eq!(
                    (both.together, both.first_alone, both.second_alone),
                    offers,
                    "{why}"
                );
            }
        });
    }
}
