//! IANA registries, one table each: cipher suites, named groups, signature schemes,
//! extension types, alert descriptions, handshake message types. Lookup by id, IANA name or OpenSSL name.
//!
//! Every table implements [`Entry`], so one lookup serves them all: names are matched
//! case-insensitively against the registry name and its aliases, `0xHHHH` is accepted
//! for any id (known or not, so a crafted hello can carry anything), and an unknown
//! name yields an [`UnknownName`] that lists the nearest known names.

pub mod alerts;
pub mod dh_primes;
pub mod extensions;
pub mod groups;
pub mod handshake_types;
pub mod sigalgs;
pub mod suites;

use std::fmt;

pub use alerts::{ALERTS, Alert, alert_level_name, alert_name, parse_alert};
pub use dh_primes::{DH_PRIMES, DhPrime, dh_prime, named_prime};
pub use extensions::{EXTENSIONS, ExtensionType, extension, extension_name, parse_extension};
pub use groups::{
    GROUPS, Group, GroupKind, group, group_name, is_post_quantum, parse_group, parse_groups,
};
pub use handshake_types::{
    HANDSHAKE_TYPES, HandshakeType, handshake_type, handshake_type_name, history_letter,
};
pub use sigalgs::{
    SIGNATURE_SCHEMES, SignatureScheme, parse_sigalg, parse_sigalgs, sigalg, sigalg_name,
};

pub use suites::{
    Authentication, CIPHER_SUITES, CipherSuite, KeyExchange, SSLV2_CIPHER_KINDS, SUITE_KEYWORDS,
    Sslv2CipherKind, parse_suite, parse_suites, sslv2_cipher_name, suite, suite_name,
};

/// One row of a registry: its wire id, its registry name and any other names it goes by.
pub trait Entry: 'static {
    fn id(&self) -> u16;
    fn name(&self) -> &'static str;
    /// Other accepted spellings (OpenSSL's names, older names); empty by default.
    fn aliases(&self) -> &[&'static str] {
        &[]
    }
}

/// A registry entry that is only an id, a name and aliases (extension types, signature
/// schemes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    pub id: u16,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

impl Entry for Named {
    fn id(&self) -> u16 {
        self.id
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &[&'static str] {
        self.aliases
    }
}

/// Table rows stay one line each.
const fn named(id: u16, name: &'static str, aliases: &'static [&'static str]) -> Named {
    Named { id, name, aliases }
}

/// A name that is in no table; `nearest` holds up to five known names by edit distance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub nearest: Vec<&'static str>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.given)?;
        if self.nearest.is_empty() {
            write!(f, " (give a registry name or a 0xHHHH id)")?;
        } else {
            write!(f, "; nearest: {}", self.nearest.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownName {}

/// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ... 0xfafa (both bytes equal, low nibbles 0xa).
pub fn is_grease(id: u16) -> bool {
    id & 0x0f0f == 0x0a0a && id >> 8 == id & 0xff
}

/// The row with this id, if the table has one.
pub fn find<T: Entry>(table: &'static [T], id: u16) -> Option<&'static T> {
    table.iter().find(|e| e.id() == id)
}

/// The registry name of `id`, `GREASE_0xHHHH` for a GREASE value, `0xHHHH` otherwise.
pub fn name_of<T: Entry>(table: &'static [T], id: u16) -> String {
    name_or_hex(find(table, id), id)
}

/// The name of `row`, the row found for `id`; for no row, as [`name_of`] writes it.
pub fn name_or_hex<T: Entry>(row: Option<&T>, id: u16) -> String {
    match row {
        Some(e) => e.name().to_string(),
        None if is_grease(id) => format!("GREASE_0x{id:04x}"),
        None => format!("0x{id:04x}"),
    }
}

/// Parses `0xHHHH` (any u16), `GREASE_0xHHHH`, or a name or alias (case-insensitive).
pub fn lookup<T: Entry>(
    table: &'static [T],
    kind: &'static str,
    given: &str,
) -> Result<u16, UnknownName> {
    let s = given.trim();
    let lower = s.to_ascii_lowercase();
    let hex = lower
        .strip_prefix("0x")
        .or_else(|| lower.strip_prefix("grease_0x"));
    if let Some(digits) = hex
        && (1..=4).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(id) = u16::from_str_radix(digits, 16)
    {
        return Ok(id);
    }
    table
        .iter()
        .find(|e| {
            e.name().eq_ignore_ascii_case(s)
                || e.aliases().iter().any(|a| a.eq_ignore_ascii_case(s))
        })
        .map(|e| e.id())
        .ok_or_else(|| UnknownName {
            kind,
            given: s.to_string(),
            nearest: nearest(table, s),
        })
}

/// Splits a list on `,`, `:` and whitespace, dropping empty items.
pub fn list_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c == ':' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// Parses a list with [`lookup`], in the order given; duplicates are kept, since a
/// crafted hello may want them.
pub fn lookup_list<T: Entry>(
    table: &'static [T],
    kind: &'static str,
    list: &str,
) -> Result<Vec<u16>, UnknownName> {
    list_items(list)
        .map(|item| lookup(table, kind, item))
        .collect()
}

/// Up to five registry names closest to `given` (edit distance, case-insensitive, counting
/// an entry by its best-matching name or alias).
fn nearest<T: Entry>(table: &'static [T], given: &str) -> Vec<&'static str> {
    // Bound the work on hostile input: no registry name is anywhere near this long.
    let given: Vec<u8> = given
        .bytes()
        .take(96)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let mut scored: Vec<(usize, &'static str)> = table
        .iter()
        .map(|e| {
            let best = std::iter::once(e.name())
                .chain(e.aliases().iter().copied())
                .map(|n| edit_distance(&given, n))
                .min()
                .unwrap_or(usize::MAX);
            (best, e.name())
        })
        .collect();
    // Only names a typo away: a third of the name may be wrong (at least 2 edits), as
    // cargo and git suggest; "FOO" gets no suggestions rather than five unrelated ones.
    let close = (given.len() / 3).max(2);
    scored.retain(|&(d, _)| d <= close);
    scored.sort_by_key(|&(d, _)| d);
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, so that
/// the common typo "SHA265" is one step from "SHA256".
fn edit_distance(a: &[u8], b: &str) -> usize {
    let b: Vec<u8> = b.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let mut d = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            if i > 0 && j > 0 && ca == b[j - 1] && a[i - 1] == cb {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Shared checks for every table: ids unique, names and aliases unique
    /// (case-insensitively, across the whole table; an alias may repeat its own entry's
    /// name), every name and alias parses back to
    /// its id, and the id prints back as the name.
    pub(crate) fn check_table<T: Entry>(table: &'static [T], kind: &'static str) {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for e in table {
            assert!(ids.insert(e.id()), "{kind}: duplicate id 0x{:04x}", e.id());
            let mut own: Vec<&str> = std::iter::once(e.name())
                .chain(e.aliases().iter().copied())
                .collect();
            own.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            for n in own {
                assert!(
                    names.insert(n.to_ascii_lowercase()),
                    "{kind}: duplicate name {n}"
                );
                assert_eq!(lookup(table, kind, n), Ok(e.id()), "{kind}: {n}");
                assert_eq!(lookup(table, kind, &n.to_ascii_uppercase()), Ok(e.id()));
                assert_eq!(lookup(table, kind, &n.to_ascii_lowercase()), Ok(e.id()));
            }
            assert_eq!(name_of(table, e.id()), e.name());
            assert_eq!(lookup(table, kind, &name_of(table, e.id())), Ok(e.id()));
        }
    }

    #[test]
    fn grease_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(all, expected);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a) && !is_grease(0x1a0a));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance(b"kitten", "sitting"), 3);
        assert_eq!(edit_distance(b"", "abc"), 3);
        assert_eq!(edit_distance(b"abc", "ABC"), 0);
        assert_eq!(edit_distance(b"sha265", "sha256"), 1);
        assert_eq!(edit_distance(b"ab", "ba"), 1);
    }

    #[test]
    fn list_splitting() {
        let items: Vec<&str> = list_items(" a,b:c \t d,,:e ").collect();
        assert_eq!(items, ["a", "b", "c", "d", "e"]);
        assert_eq!(list_items(" , : ").count(), 0);
    }
}
