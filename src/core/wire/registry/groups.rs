//! The TLS Supported Groups registry (named curves, finite-field groups, ML-KEM and
//! hybrids), with OpenSSL's aliases and the size of a TLS 1.3 key_share.

use super::{Entry, UnknownName, find, lookup, lookup_list, name_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    Ecdhe,
    Ffdhe,
    /// A classical ECDH share concatenated with an ML-KEM (or Kyber) share.
    Hybrid,
    PostQuantum,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub id: u16,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: GroupKind,
    /// Length of the client's key_share in TLS 1.3 (for ML-KEM: the encapsulation key;
    /// the server answers with a ciphertext of another length). `None` for groups
    /// TLS 1.3 does not allow.
    pub key_share_len: Option<usize>,
}

impl Entry for Group {
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

pub fn group(id: u16) -> Option<&'static Group> {
    find(GROUPS, id)
}

/// True for a hybrid (ECDH + ML-KEM or Kyber) or pure ML-KEM group: a post-quantum key
/// exchange.
pub fn is_post_quantum(id: u16) -> bool {
    group(id).is_some_and(|g| matches!(g.kind, GroupKind::Hybrid | GroupKind::PostQuantum))
}

/// The IANA name, `GREASE_0xHHHH`, or `0xHHHH` for an unknown id.
pub fn group_name(id: u16) -> String {
    name_of(GROUPS, id)
}

/// An IANA name or OpenSSL alias (case-insensitive: `x25519`, `P-256`) or `0xHHHH`.
pub fn parse_group(s: &str) -> Result<u16, UnknownName> {
    lookup(GROUPS, "group", s)
}

/// A list separated by `,` `:` or whitespace, in the order given.
pub fn parse_groups(list: &str) -> Result<Vec<u16>, UnknownName> {
    lookup_list(GROUPS, "group", list)
}

const fn g(
    id: u16,
    name: &'static str,
    aliases: &'static [&'static str],
    kind: GroupKind,
    key_share_len: Option<usize>,
) -> Group {
    Group {
        id,
        name,
        aliases,
        kind,
        key_share_len,
    }
}

use GroupKind::{Ecdhe, Ffdhe, Hybrid, Other, PostQuantum};

/// Every group, sorted by id. 0x6399 and 0x639a are the obsolete Kyber draft code points.
#[rustfmt::skip]
pub static GROUPS: &[Group] = &[
    g(1, "sect163k1", &["K-163"], Ecdhe, None),
    g(2, "sect163r1", &[], Ecdhe, None),
    g(3, "sect163r2", &["B-163"], Ecdhe, None),
    g(4, "sect193r1", &[], Ecdhe, None),
    g(5, "sect193r2", &[], Ecdhe, None),
    g(6, "sect233k1", &["K-233"], Ecdhe, None),
    g(7, "sect233r1", &["B-233"], Ecdhe, None),
    g(8, "sect239k1", &[], Ecdhe, None),
    g(9, "sect283k1", &["K-283"], Ecdhe, None),
    g(10, "sect283r1", &["B-283"], Ecdhe, None),
    g(11, "sect409k1", &["K-409"], Ecdhe, None),
    g(12, "sect409r1", &["B-409"], Ecdhe, None),
    g(13, "sect571k1", &["K-571"], Ecdhe, None),
    g(14, "sect571r1", &["B-571"], Ecdhe, None),
    g(15, "secp160k1", &[], Ecdhe, None),
    g(16, "secp160r1", &[], Ecdhe, None),
    g(17, "secp160r2", &[], Ecdhe, None),
    g(18, "secp192k1", &[], Ecdhe, None),
    g(19, "secp192r1", &["P-192", "prime192v1"], Ecdhe, None),
    g(20, "secp224k1", &[], Ecdhe, None),
    g(21, "secp224r1", &["P-224"], Ecdhe, None),
    g(22, "secp256k1", &[], Ecdhe, None),
    g(23, "secp256r1", &["P-256", "prime256v1"], Ecdhe, Some(65)),
    g(24, "secp384r1", &["P-384"], Ecdhe, Some(97)),
    g(25, "secp521r1", &["P-521"], Ecdhe, Some(133)),
    g(26, "brainpoolP256r1", &[], Ecdhe, None),
    g(27, "brainpoolP384r1", &[], Ecdhe, None),
    g(28, "brainpoolP512r1", &[], Ecdhe, None),
    g(29, "x25519", &[], Ecdhe, Some(32)),
    g(30, "x448", &[], Ecdhe, Some(56)),
    g(31, "brainpoolP256r1tls13", &[], Ecdhe, Some(65)),
    g(32, "brainpoolP384r1tls13", &[], Ecdhe, Some(97)),
    g(33, "brainpoolP512r1tls13", &[], Ecdhe, Some(129)),
    g(34, "GC256A", &[], Ecdhe, Some(64)),
    g(35, "GC256B", &[], Ecdhe, Some(64)),
    g(36, "GC256C", &[], Ecdhe, Some(64)),
    g(37, "GC256D", &[], Ecdhe, Some(64)),
    g(38, "GC512A", &[], Ecdhe, Some(128)),
    g(39, "GC512B", &[], Ecdhe, Some(128)),
    g(40, "GC512C", &[], Ecdhe, Some(128)),
    g(41, "curveSM2", &["SM2"], Ecdhe, Some(65)),
    g(256, "ffdhe2048", &[], Ffdhe, Some(256)),
    g(257, "ffdhe3072", &[], Ffdhe, Some(384)),
    g(258, "ffdhe4096", &[], Ffdhe, Some(512)),
    g(259, "ffdhe6144", &[], Ffdhe, Some(768)),
    g(260, "ffdhe8192", &[], Ffdhe, Some(1024)),
    g(512, "MLKEM512", &["ML-KEM-512"], PostQuantum, Some(800)),
    g(513, "MLKEM768", &["ML-KEM-768"], PostQuantum, Some(1184)),
    g(514, "MLKEM1024", &["ML-KEM-1024"], PostQuantum, Some(1568)),
    g(4587, "SecP256r1MLKEM768", &["P256MLKEM768"], Hybrid, Some(65 + 1184)),
    g(4588, "X25519MLKEM768", &[], Hybrid, Some(32 + 1184)),
    g(4589, "SecP384r1MLKEM1024", &["P384MLKEM1024"], Hybrid, Some(97 + 1568)),
    g(4590, "curveSM2MLKEM768", &[], Hybrid, Some(65 + 1184)),
    g(25497, "X25519Kyber768Draft00", &[], Hybrid, Some(32 + 1184)),
    g(25498, "SecP256r1Kyber768Draft00", &[], Hybrid, Some(65 + 1184)),
    g(65281, "arbitrary_explicit_prime_curves", &[], Other, None),
    g(65282, "arbitrary_explicit_char2_curves", &[], Other, None),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::registry::tests::check_table;

    #[test]
    fn table_is_sound() {
        check_table(GROUPS, "group");
        assert!(GROUPS.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
        for gr in GROUPS {
            if gr.kind == GroupKind::Ffdhe {
                let bits: usize = gr.name["ffdhe".len()..].parse().unwrap();
                assert_eq!(gr.key_share_len, Some(bits / 8), "{}", gr.name);
            }
        }
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(parse_group("P-256"), Ok(23));
        assert_eq!(parse_group("prime256v1"), Ok(23));
        assert_eq!(parse_group("X25519"), Ok(29));
        assert_eq!(parse_group("x25519mlkem768"), Ok(0x11ec));
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group(0x11ec).unwrap().key_share_len, Some(1216));
        assert_eq!(group_name(0x1234), "0x1234");
        assert_eq!(group_name(0x2a2a), "GREASE_0x2a2a");
        assert_eq!(
            parse_groups("x25519:P-256, ffdhe2048 0x2a2a"),
            Ok(vec![29, 23, 256, 0x2a2a])
        );
        let err = parse_groups("x25519,secp265r1").unwrap_err();
        assert_eq!((err.kind, err.given.as_str()), ("group", "secp265r1"));
        assert_eq!(err.nearest[0], "secp256r1");
    }

    /// The key_share sizes the table claims are what the crates build: a real X25519
    /// and P-256 public key.
    #[test]
    fn key_share_lengths_match_real_keys() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let x = x25519_dalek::x25519([7u8; 32], x25519_dalek::X25519_BASEPOINT_BYTES);
        assert_eq!(group(29).unwrap().key_share_len, Some(x.len()));
        let sk = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let point = sk.public_key().to_sec1_point(false);
        assert_eq!(
            group(23).unwrap().key_share_len,
            Some(point.as_bytes().len())
        );
    }
}
