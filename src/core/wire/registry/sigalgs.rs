//! The TLS SignatureScheme registry (RFC 8446 and later) and the TLS 1.2 (hash, signature)
//! pairs it grew out of, with OpenSSL's `ALG+HASH` spellings as aliases.

use super::{Named, UnknownName, find, lookup, lookup_list, name_of, named as s};

pub type SignatureScheme = Named;

pub fn sigalg(id: u16) -> Option<&'static SignatureScheme> {
    find(SIGNATURE_SCHEMES, id)
}

/// The registry name, `GREASE_0xHHHH`, or `0xHHHH` for an unknown id.
pub fn sigalg_name(id: u16) -> String {
    name_of(SIGNATURE_SCHEMES, id)
}

/// A scheme name (`rsa_pss_rsae_sha256`), an OpenSSL alias (`RSA-PSS+SHA256`,
/// `ECDSA+SHA256`), case-insensitive, or `0xHHHH`.
pub fn parse_sigalg(s: &str) -> Result<u16, UnknownName> {
    lookup(SIGNATURE_SCHEMES, "signature scheme", s)
}

/// A list separated by `,` `:` or whitespace, in the order given.
pub fn parse_sigalgs(list: &str) -> Result<Vec<u16>, UnknownName> {
    lookup_list(SIGNATURE_SCHEMES, "signature scheme", list)
}

/// Sorted by id. The TLS 1.2 pairs with MD5, SHA-224 or DSA have no RFC 8446 name; they
/// are named `<sig>_<hash>` here, as OpenSSL and Wireshark do.
#[rustfmt::skip]
pub static SIGNATURE_SCHEMES: &[SignatureScheme] = &[
    s(0x0101, "rsa_md5", &["RSA+MD5"]),
    s(0x0102, "dsa_md5", &["DSA+MD5"]),
    s(0x0103, "ecdsa_md5", &["ECDSA+MD5"]),
    s(0x0201, "rsa_pkcs1_sha1", &["RSA+SHA1"]),
    s(0x0202, "dsa_sha1", &["DSA+SHA1"]),
    s(0x0203, "ecdsa_sha1", &["ECDSA+SHA1"]),
    s(0x0301, "rsa_sha224", &["RSA+SHA224"]),
    s(0x0302, "dsa_sha224", &["DSA+SHA224"]),
    s(0x0303, "ecdsa_sha224", &["ECDSA+SHA224"]),
    s(0x0401, "rsa_pkcs1_sha256", &["RSA+SHA256"]),
    s(0x0402, "dsa_sha256", &["DSA+SHA256"]),
    s(0x0403, "ecdsa_secp256r1_sha256", &["ECDSA+SHA256"]),
    s(0x0420, "rsa_pkcs1_sha256_legacy", &[]),
    s(0x0501, "rsa_pkcs1_sha384", &["RSA+SHA384"]),
    s(0x0502, "dsa_sha384", &["DSA+SHA384"]),
    s(0x0503, "ecdsa_secp384r1_sha384", &["ECDSA+SHA384"]),
    s(0x0520, "rsa_pkcs1_sha384_legacy", &[]),
    s(0x0601, "rsa_pkcs1_sha512", &["RSA+SHA512"]),
    s(0x0602, "dsa_sha512", &["DSA+SHA512"]),
    s(0x0603, "ecdsa_secp521r1_sha512", &["ECDSA+SHA512"]),
    s(0x0620, "rsa_pkcs1_sha512_legacy", &[]),
    s(0x0704, "eccsi_sha256", &[]),
    s(0x0705, "iso_ibs1", &[]),
    s(0x0706, "iso_ibs2", &[]),
    s(0x0707, "iso_chinese_ibs", &[]),
    s(0x0708, "sm2sig_sm3", &[]),
    s(0x0709, "gostr34102012_256a", &[]),
    s(0x070a, "gostr34102012_256b", &[]),
    s(0x070b, "gostr34102012_256c", &[]),
    s(0x070c, "gostr34102012_256d", &[]),
    s(0x070d, "gostr34102012_512a", &[]),
    s(0x070e, "gostr34102012_512b", &[]),
    s(0x070f, "gostr34102012_512c", &[]),
    s(0x0804, "rsa_pss_rsae_sha256", &["RSA-PSS+SHA256", "PSS+SHA256"]),
    s(0x0805, "rsa_pss_rsae_sha384", &["RSA-PSS+SHA384", "PSS+SHA384"]),
    s(0x0806, "rsa_pss_rsae_sha512", &["RSA-PSS+SHA512", "PSS+SHA512"]),
    s(0x0807, "ed25519", &[]),
    s(0x0808, "ed448", &[]),
    s(0x0809, "rsa_pss_pss_sha256", &[]),
    s(0x080a, "rsa_pss_pss_sha384", &[]),
    s(0x080b, "rsa_pss_pss_sha512", &[]),
    s(0x081a, "ecdsa_brainpoolP256r1tls13_sha256", &[]),
    s(0x081b, "ecdsa_brainpoolP384r1tls13_sha384", &[]),
    s(0x081c, "ecdsa_brainpoolP512r1tls13_sha512", &[]),
    s(0x0840, "gostr34102012_256", &[]),
    s(0x0841, "gostr34102012_512", &[]),
    s(0x0904, "mldsa44", &["ML-DSA-44"]),
    s(0x0905, "mldsa65", &["ML-DSA-65"]),
    s(0x0906, "mldsa87", &["ML-DSA-87"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::registry::tests::check_table;

    #[test]
    fn table_is_sound() {
        check_table(SIGNATURE_SCHEMES, "signature scheme");
        assert!(
            SIGNATURE_SCHEMES.windows(2).all(|w| w[0].id < w[1].id),
            "sorted by id"
        );
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(parse_sigalg("RSA-PSS+SHA256"), Ok(0x0804));
        assert_eq!(parse_sigalg("ecdsa+sha256"), Ok(0x0403));
        assert_eq!(parse_sigalg("RSA+SHA256"), Ok(0x0401));
        assert_eq!(parse_sigalg("Ed25519"), Ok(0x0807));
        assert_eq!(sigalg_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(sigalg_name(0x0a0a), "GREASE_0x0a0a");
        assert_eq!(sigalg_name(0xfe00), "0xfe00");
        assert_eq!(
            parse_sigalgs("ed25519:RSA+SHA1,0xfe00"),
            Ok(vec![0x0807, 0x0201, 0xfe00])
        );
        let err = parse_sigalgs("rsa_pss_rsae_sha265").unwrap_err();
        assert_eq!(err.nearest[0], "rsa_pss_rsae_sha256");
        assert!(
            err.to_string()
                .starts_with("unknown signature scheme \"rsa_pss_rsae_sha265\"")
        );
    }

    /// The TLS 1.2 pairs (hash byte, signature byte) sit where RFC 5246 puts them.
    #[test]
    fn legacy_pairs_follow_hash_and_signature_bytes() {
        let hashes = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
        for (h, hash) in (1u16..).zip(hashes) {
            let dsa = sigalg(h << 8 | 2).unwrap();
            assert_eq!(dsa.name, format!("dsa_{hash}"));
            assert!(sigalg(h << 8 | 1).unwrap().name.starts_with("rsa_"));
            assert!(sigalg(h << 8 | 3).unwrap().name.starts_with("ecdsa_"));
            assert!(sigalg(h << 8 | 1).unwrap().name.ends_with(hash));
        }
    }
}
