//! The public key and the signature algorithm of a certificate: what they are called
//! ([`KeyAlgorithm`], the key's size in bits, a signature algorithm's short name) and which
//! of them are weak.

use super::CertInfo;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::X509Certificate;
use x509_parser::public_key::PublicKey;

/// The public key algorithm of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa,
    /// Named curve, e.g. `P-256`; the dotted OID when the curve is not one of the NIST ones.
    Ec(String),
    Ed25519,
    Ed448,
    Dsa,
    /// Dotted OID of an algorithm not listed above.
    Other(String),
}

/// Signature algorithms whose hash is broken (MD2, MD4, MD5, SHA-1), by dotted OID.
pub(super) const WEAK_SIGNATURE_OIDS: [&str; 8] = [
    "1.2.840.113549.1.1.2", // md2WithRSAEncryption
    "1.2.840.113549.1.1.3", // md4WithRSAEncryption
    "1.2.840.113549.1.1.4", // md5WithRSAEncryption
    "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
    "1.3.14.3.2.29",        // sha1WithRSAEncryption (OIW)
    "1.3.14.3.2.25",        // md5WithRSA (OIW)
    "1.2.840.10045.4.1",    // ecdsa-with-SHA1
    "1.2.840.10040.4.3",    // dsa-with-sha1
];

pub(super) fn oid_name(oid: &Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// Bits in a big-endian unsigned integer, leading zero bytes and bits not counted.
fn bit_length(be: &[u8]) -> usize {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => &[],
    };
    match trimmed.first() {
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

pub(super) fn key_facts(cert: &X509Certificate<'_>) -> (KeyAlgorithm, usize) {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION || *alg == OID_PKCS1_RSASSAPSS {
        // x509-parser's own RSA key_size assumes a leading zero byte; count bits here.
        let bits = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => bit_length(rsa.modulus),
            _ => 0,
        };
        (KeyAlgorithm::Rsa, bits)
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let (name, bits) = match curve {
            Some(c) if c == OID_EC_P256 => ("P-256".to_owned(), 256),
            Some(c) if c == OID_NIST_EC_P384 => ("P-384".to_owned(), 384),
            Some(c) if c == OID_NIST_EC_P521 => ("P-521".to_owned(), 521),
            Some(c) => (oid_name(&c), spki.parsed().map_or(0, |k| k.key_size())),
            None => ("(no named curve)".to_owned(), 0),
        };
        (KeyAlgorithm::Ec(name), bits)
    } else if *alg == OID_SIG_ED25519 {
        (KeyAlgorithm::Ed25519, 256)
    } else if *alg == OID_SIG_ED448 {
        (KeyAlgorithm::Ed448, 456)
    } else if *alg == OID_KEY_TYPE_DSA {
        let bits = match spki.parsed() {
            Ok(PublicKey::DSA(y)) => bit_length(y),
            _ => 0,
        };
        (KeyAlgorithm::Dsa, bits)
    } else {
        (KeyAlgorithm::Other(alg.to_id_string()), 0)
    }
}

pub(super) fn weak_key(info: &CertInfo) -> bool {
    match info.key_algorithm {
        KeyAlgorithm::Rsa | KeyAlgorithm::Dsa => info.key_bits < 2048,
        KeyAlgorithm::Ec(_) => info.key_bits != 0 && info.key_bits < 224,
        _ => false,
    }
}
