//! X.509 certificate facts and chain checks, against a clock given as a value.
//!
//! [`parse_certificate`] turns one DER certificate into plain data ([`CertInfo`]) for
//! display; [`check_chain`] looks at a chain as a server sent it (leaf first) and reports
//! what is wrong with it as [`Finding`]s: validity of each position against `now`, the host
//! name (RFC 6125, as OpenSSL's `-verify_hostname` matches), the order of the chain, a
//! self-signed leaf, weak keys and signatures. With a [`TrustStore`]
//! ([`check_chain_with`], [`ChainChecker`]) the path is validated by rustls-webpki
//! (`path`): CA flags and keyUsage, path length, name constraints, purposes, signatures,
//! algorithms and an issuer nobody holds. Nothing here reads a clock, a file or a socket.

mod path;
mod pem;
mod wording;

pub use wording::CertProblem;

use crate::core::datetime::rfc3339;
use path::PathVerdict;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS,
    OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer as _, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

/// Certificates that expire within this many days get [`Finding::ExpiresSoon`].
pub const EXPIRES_SOON_DAYS: i64 = 30;
const DAY: i64 = 86_400;

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

/// What one certificate says, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Distinguished names as text, e.g. `CN=example.com, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// Serial number in colon-separated hex.
    pub serial: String,
    /// Validity bounds in Unix seconds (both inclusive, as RFC 5280 says).
    pub not_before: i64,
    pub not_after: i64,
    /// subjectAltName DNS names and IP addresses as text, in certificate order.
    pub san: Vec<String>,
    /// The dNSName entries of subjectAltName.
    pub dns_names: Vec<String>,
    /// The iPAddress entries of subjectAltName (entries of a bad length are left out).
    pub ip_addresses: Vec<IpAddr>,
    /// The first commonName of the subject.
    pub common_name: Option<String>,
    /// SHA-256 of the DER, lower-case hex.
    pub sha256: String,
    /// The key for people: `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    pub key_algorithm: KeyAlgorithm,
    /// Key size in bits (RSA modulus, DSA `y`, EC field size); 0 when not known.
    pub key_bits: usize,
    /// Short name of the signature algorithm (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`)
    /// or its dotted OID.
    pub signature_algorithm: String,
    /// Dotted OID of the signature algorithm.
    pub signature_oid: String,
    pub is_ca: bool,
    /// Subject equals issuer and the key identifiers (when both present) agree. The
    /// signature itself is not verified.
    pub self_signed: bool,
    /// caIssuers URIs of the Authority Information Access extension.
    pub aia_ca_issuers: Vec<String>,
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    /// keyUsage bits by RFC 5280 name (`digitalSignature`, `keyCertSign`, …); empty without
    /// the extension.
    pub key_usage: Vec<&'static str>,
    /// extendedKeyUsage purposes by RFC 5280 name (`serverAuth`, `clientAuth`, …; dotted
    /// OIDs for others); `None` without the extension (any purpose allowed).
    pub extended_key_usage: Option<Vec<String>>,
    /// The pathLenConstraint of basicConstraints: CA certificates allowed below this one.
    pub path_len_constraint: Option<u32>,
    /// The certificate carries the nameConstraints extension.
    pub name_constraints: bool,
}

impl CertInfo {
    /// The certificate may authenticate a TLS server: no extendedKeyUsage, or one that
    /// lists serverAuth or anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
    pub fn allows_server_auth(&self) -> bool {
        self.extended_key_usage.as_ref().is_none_or(|p| {
            p.iter()
                .any(|p| p == "serverAuth" || p == "anyExtendedKeyUsage")
        })
    }
}

// RFC 5280 section 4.2.1.3, in bit order.
const KEY_USAGE_NAMES: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

/// Signature algorithms whose hash is broken (MD2, MD4, MD5, SHA-1), by dotted OID.
const WEAK_SIGNATURE_OIDS: [&str; 8] = [
    "1.2.840.113549.1.1.2", // md2WithRSAEncryption
    "1.2.840.113549.1.1.3", // md4WithRSAEncryption
    "1.2.840.113549.1.1.4", // md5WithRSAEncryption
    "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
    "1.3.14.3.2.29",        // sha1WithRSAEncryption (OIW)
    "1.3.14.3.2.25",        // md5WithRSA (OIW)
    "1.2.840.10045.4.1",    // ecdsa-with-SHA1
    "1.2.840.10040.4.3",    // dsa-with-sha1
];

/// One DER certificate decoded, trailing bytes after it being an error.
fn decode_whole(der: &[u8]) -> Result<X509Certificate<'_>, CertProblem> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| wording::parse_error(&e))?;
    if !rest.is_empty() {
        return Err(CertProblem::ours(format!(
            "has {} bytes after its end",
            rest.len()
        )));
    }
    Ok(cert)
}

/// The subject of one DER certificate, as [`parse_certificate`] writes it, without the rest
/// of its work (the fingerprint's hash, the names, the key): a scan names the leaf of every
/// target it reaches (docs/benchmarks.md#scan-user-4).
pub fn certificate_subject(der: &[u8]) -> Result<String, CertProblem> {
    Ok(decode_whole(der)?.subject().to_string())
}

/// Parses one DER certificate. Trailing bytes after it are an error.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, CertProblem> {
    let cert = decode_whole(der)?;
    let mut san = Vec::new();
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| wording::extension_error("subjectAltName", &e))?
    {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    san.push((*d).to_owned());
                    dns_names.push((*d).to_owned());
                }
                GeneralName::IPAddress(bytes) => match ip_from_bytes(bytes) {
                    Some(ip) => {
                        san.push(ip.to_string());
                        ip_addresses.push(ip);
                    }
                    None => san.push(format!("IP:{}", hex::encode(bytes))),
                },
                _ => {}
            }
        }
    }
    let mut aia_ca_issuers = Vec::new();
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut path_len_constraint = None;
    let mut name_constraints = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => path_len_constraint = bc.path_len_constraint,
            ParsedExtension::NameConstraints(_) => name_constraints = true,
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in aia.iter() {
                    if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS
                        && let GeneralName::URI(uri) = desc.access_location
                    {
                        aia_ca_issuers.push(uri.to_owned());
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            _ => {}
        }
    }
    let key_usage = match cert
        .key_usage()
        .map_err(|e| wording::extension_error("keyUsage", &e))?
    {
        Some(ku) => KEY_USAGE_NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| ku.value.flags >> bit & 1 == 1)
            .map(|(_, name)| *name)
            .collect(),
        None => Vec::new(),
    };
    let extended_key_usage = cert
        .extended_key_usage()
        .map_err(|e| wording::extension_error("extendedKeyUsage", &e))?
        .map(|eku| {
            let eku = &eku.value;
            let mut names: Vec<String> = [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| (*name).to_owned())
            .collect();
            names.extend(eku.other.iter().map(|o| o.to_id_string()));
            names
        });
    let (key_algorithm, key_bits) = key_facts(&cert);
    let key = match (&key_algorithm, key_bits) {
        (KeyAlgorithm::Rsa, bits) => format!("RSA {bits}"),
        (KeyAlgorithm::Dsa, bits) => format!("DSA {bits}"),
        (KeyAlgorithm::Ec(curve), _) => format!("EC {curve}"),
        (KeyAlgorithm::Ed25519, _) => "Ed25519".to_owned(),
        (KeyAlgorithm::Ed448, _) => "Ed448".to_owned(),
        (KeyAlgorithm::Other(oid), _) => oid.clone(),
    };
    let subject = cert.subject();
    let issuer = cert.issuer();
    let self_named = names_equal(subject, issuer);
    let ids_agree = key_ids_agree(subject_key_id.as_deref(), authority_key_id.as_deref());
    Ok(CertInfo {
        subject: subject.to_string(),
        issuer: issuer.to_string(),
        serial: serial_text(cert.raw_serial()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        san,
        dns_names,
        ip_addresses,
        common_name: subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        sha256: hex::encode(Sha256::digest(der)),
        key,
        key_algorithm,
        key_bits,
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        signature_oid: cert.signature_algorithm.algorithm.to_id_string(),
        is_ca: cert.is_ca(),
        self_signed: self_named && ids_agree,
        aia_ca_issuers,
        subject_der: subject.as_raw().to_vec(),
        issuer_der: issuer.as_raw().to_vec(),
        subject_key_id,
        authority_key_id,
        key_usage,
        extended_key_usage,
        path_len_constraint,
        name_constraints,
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn oid_name(oid: &Oid<'_>) -> String {
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

fn key_facts(cert: &X509Certificate<'_>) -> (KeyAlgorithm, usize) {
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

/// Names are equal if their DER is, or (for encodings that differ only in string type or
/// case) their text is, ignoring ASCII case.
fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || a.to_string().eq_ignore_ascii_case(&b.to_string())
}

fn key_ids_agree(subject_key_id: Option<&[u8]>, authority_key_id: Option<&[u8]>) -> bool {
    match (subject_key_id, authority_key_id) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

/// Whether `issuer` is, by names and key identifiers, the certificate that issued `cert`.
fn issued_by(cert: &CertInfo, issuer: &CertInfo) -> bool {
    let names =
        cert.issuer_der == issuer.subject_der || cert.issuer.eq_ignore_ascii_case(&issuer.subject);
    names
        && key_ids_agree(
            issuer.subject_key_id.as_deref(),
            cert.authority_key_id.as_deref(),
        )
}

/// Something wrong with a certificate chain. `index` is the position in the chain as sent
/// (0 = leaf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Expired {
        index: usize,
        not_after: i64,
    },
    NotYetValid {
        index: usize,
        not_before: i64,
    },
    /// Valid now, but for fewer than [`EXPIRES_SOON_DAYS`] more days.
    ExpiresSoon {
        index: usize,
        days_left: i64,
    },
    HostnameMismatch {
        host: String,
        /// The names the leaf is valid for (SAN entries, or the CN when there is no DNS SAN).
        names: Vec<String>,
    },
    /// Every issuer is present, but not right after the certificate it issued.
    ChainMisordered {
        detail: String,
    },
    /// A certificate's issuer is neither sent nor trusted, and the certificate names where
    /// to download it (AIA caIssuers): the evidence that the server left an intermediate out.
    IssuerMissing {
        index: usize,
        issuer: String,
        /// Where the certificate says its issuer can be downloaded.
        aia: Option<String>,
    },
    /// A certificate's issuer is neither sent nor trusted, and nothing says which of the two
    /// it is: an intermediate the server left out, or a private CA the store does not hold.
    UnknownIssuer {
        index: usize,
        issuer: String,
    },
    /// A certificate that signed another is not allowed to: basicConstraints CA:FALSE (or
    /// none), or a keyUsage without keyCertSign. `index`: its position in the chain, when
    /// it was sent.
    InvalidCa {
        index: Option<usize>,
        subject: String,
        reason: &'static str,
    },
    /// More CA certificates below `subject` than its pathLenConstraint allows.
    PathLengthExceeded {
        index: Option<usize>,
        subject: String,
    },
    /// The leaf's names fall outside the nameConstraints of `subject` (a CA of the path).
    NameConstraintViolated {
        index: Option<usize>,
        subject: String,
    },
    /// A signature in the path does not verify with its issuer's public key.
    BadSignature,
    /// A signature algorithm or key in the path that rustls-webpki does not accept.
    UnsupportedAlgorithm {
        algorithm: String,
    },
    /// The leaf is self-signed.
    SelfSigned {
        subject: String,
    },
    /// The chain ends in a self-signed root, or in a CA certificate whose issuer no
    /// trust anchor matches; `subject` names that root.
    UntrustedRoot {
        index: usize,
        subject: String,
    },
    /// The extendedKeyUsage of the leaf (or of a CA above it) does not allow TLS server
    /// authentication.
    WrongKeyUsage {
        index: usize,
        /// The purposes it does allow.
        purposes: Vec<String>,
    },
    WeakKey {
        index: usize,
        key: String,
    },
    WeakSignature {
        index: usize,
        algorithm: String,
    },
    Unparseable {
        index: usize,
        error: CertProblem,
    },
}

impl Finding {
    /// Stable cause id, as used in the `diagnosis` of the JSON output.
    pub fn cause(&self) -> crate::core::cause::Cause {
        use crate::core::cause::Cause;
        match self {
            Finding::Expired { .. } => Cause::CertificateExpired,
            Finding::NotYetValid { .. } => Cause::CertificateNotYetValid,
            Finding::ExpiresSoon { .. } => Cause::CertificateExpiresSoon,
            Finding::HostnameMismatch { .. } => Cause::HostnameMismatch,
            Finding::ChainMisordered { .. } => Cause::ChainMisordered,
            Finding::IssuerMissing { .. } => Cause::IncompleteChain,
            Finding::UnknownIssuer { .. } => Cause::UnknownIssuer,
            Finding::InvalidCa { .. } => Cause::InvalidCa,
            Finding::PathLengthExceeded { .. } => Cause::PathLengthExceeded,
            Finding::NameConstraintViolated { .. } => Cause::NameConstraintViolated,
            Finding::BadSignature => Cause::BadSignature,
            Finding::UnsupportedAlgorithm { .. } => Cause::UnsupportedAlgorithm,
            Finding::SelfSigned { .. } => Cause::SelfSigned,
            Finding::UntrustedRoot { .. } => Cause::UntrustedRoot,
            Finding::WrongKeyUsage { .. } => Cause::WrongKeyUsage,
            Finding::WeakKey { .. } => Cause::WeakKey,
            Finding::WeakSignature { .. } => Cause::WeakSignature,
            Finding::Unparseable { .. } => Cause::CertificateUnparseable,
        }
    }

    /// The library's own words behind the finding (x509-parser, rustls-webpki), for JSON
    /// only.
    pub fn library_detail(&self) -> Option<String> {
        match self {
            Finding::Unparseable { error, .. } => error.library.clone(),
            _ => None,
        }
    }

    /// One line for people.
    pub fn detail(&self) -> String {
        match self {
            Finding::Expired { index, not_after } => {
                format!("certificate {index} expired at {}", rfc3339(*not_after))
            }
            Finding::NotYetValid { index, not_before } => format!(
                "certificate {index} is not valid before {}",
                rfc3339(*not_before)
            ),
            Finding::ExpiresSoon { index, days_left } => {
                let unit = if *days_left == 1 { "day" } else { "days" };
                format!("certificate {index} expires in {days_left} {unit}")
            }
            Finding::HostnameMismatch { host, names } if names.is_empty() => {
                format!("the certificate names no host; {host} does not match")
            }
            Finding::HostnameMismatch { host, names } => format!(
                "the certificate is valid for {}, not for {host}",
                names.join(", ")
            ),
            Finding::ChainMisordered { detail } => detail.clone(),
            Finding::IssuerMissing { index, issuer, aia } => {
                let mut s =
                    format!("the issuer of certificate {index} ({issuer}) is not in the chain");
                if let Some(url) = aia {
                    s.push_str(&format!("; it can be downloaded from {url}"));
                }
                s
            }
            Finding::UnknownIssuer { index, issuer } => format!(
                "the issuer of certificate {index} ({issuer}) is neither sent nor trusted: an \
                 intermediate the server leaves out, or a private CA this trust store does not hold"
            ),
            Finding::InvalidCa {
                index,
                subject,
                reason,
            } => format!(
                "{} ({subject}) signs certificates but {reason}",
                position(*index, "the CA")
            ),
            Finding::PathLengthExceeded { index, subject } => format!(
                "{} ({subject}) has more CA certificates below it than its pathLenConstraint \
                 allows",
                position(*index, "a CA")
            ),
            Finding::NameConstraintViolated { index, subject } => format!(
                "the server certificate's names are outside the nameConstraints of {} ({subject})",
                position(*index, "its CA")
            ),
            Finding::BadSignature => "a signature in the chain does not verify with the public \
                 key of the certificate named as its issuer"
                .to_owned(),
            Finding::UnsupportedAlgorithm { algorithm } => format!(
                "the chain uses {algorithm}, which rustls-webpki does not accept (it takes ECDSA \
                 P-256/P-384, Ed25519, RSA 2048-8192 with SHA-256/384/512)"
            ),
            Finding::SelfSigned { subject } => {
                format!("the server certificate ({subject}) is self-signed")
            }
            Finding::UntrustedRoot { index, subject } => format!(
                "the chain leads from certificate {index} to {subject}, a root the trust store \
                 does not hold"
            ),
            Finding::WrongKeyUsage { index, purposes } => format!(
                "{}'s extendedKeyUsage allows {} but not serverAuth: clients reject it for a TLS \
                 server",
                if *index == 0 {
                    "the server certificate".to_owned()
                } else {
                    format!("certificate {index}")
                },
                if purposes.is_empty() {
                    "nothing".to_owned()
                } else {
                    purposes.join(", ")
                }
            ),
            Finding::WeakKey { index, key } => format!("certificate {index} has a weak key: {key}"),
            Finding::WeakSignature { index, algorithm } => {
                format!("certificate {index} is signed with {algorithm}")
            }
            Finding::Unparseable { index, error } => format!("certificate {index} {error}"),
        }
    }
}

/// `certificate N` for a certificate the server sent, `otherwise` for one it did not.
fn position(index: Option<usize>, otherwise: &str) -> String {
    match index {
        Some(i) => format!("certificate {i}"),
        None => otherwise.to_owned(),
    }
}

fn normalize_dns(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// RFC 6125 matching of one reference host name against one dNSName: case-insensitive,
/// a wildcard only as the whole left-most label, standing for exactly one label, and not
/// directly under a top-level name (`*.com`).
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    // `host` is normalized already (lower case); the pattern is compared as if it were.
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    if suffix.contains('*') || !suffix.contains('.') {
        return false;
    }
    match host.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
        None => false,
    }
}

/// Whether the leaf is valid for `host`: IP hosts against iPAddress SANs only; names
/// against dNSName SANs, or against the CN when there is no dNSName at all.
pub fn matches_host(leaf: &CertInfo, host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return leaf.ip_addresses.contains(&ip);
    }
    let host = normalize_dns(bare);
    if leaf.dns_names.is_empty() {
        return leaf
            .common_name
            .as_deref()
            .is_some_and(|cn| dns_name_matches(cn, &host));
    }
    leaf.dns_names.iter().any(|n| dns_name_matches(n, &host))
}

fn weak_key(info: &CertInfo) -> bool {
    match info.key_algorithm {
        KeyAlgorithm::Rsa | KeyAlgorithm::Dsa => info.key_bits < 2048,
        KeyAlgorithm::Ec(_) => info.key_bits != 0 && info.key_bits < 224,
        _ => false,
    }
}

/// Trust anchors in the form rustls-webpki validates against (subject, public key and
/// name constraints, as DER contents without their outer SEQUENCE header), plus a memo of
/// path verdicts.
#[derive(Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    /// The subjectKeyIdentifier of each anchor, when known (as OpenSSL does, an anchor of
    /// the right name but another key identifier is not a certificate's issuer).
    anchor_key_ids: Vec<AnchorKeyId>,
    /// Path verdicts by chain digest. A capture repeats the same few chains thousands of
    /// times, and the signature checks behind a path cost more than everything else a
    /// connection needs; the verdict depends only on the chain and the anchors.
    paths: std::sync::Mutex<std::collections::HashMap<[u8; 32], PathVerdict>>,
}

/// Remembered paths at most; past it the memo starts over.
const MAX_REMEMBERED_PATHS: usize = 4096;

/// An anchor's subjectKeyIdentifier, read from its certificate the first time a name match
/// asks for it: parsing every certificate of the system bundle (about 150) for it at start
/// was most of a short `pcap` run's fixed cost, and a run looks at few of them.
#[derive(Debug, Clone, Default)]
struct AnchorKeyId {
    /// The certificate the anchor came from (none for the built-in roots).
    der: Option<Arc<[u8]>>,
    key_id: std::sync::OnceLock<Option<Vec<u8>>>,
}

impl AnchorKeyId {
    fn get(&self) -> Option<&[u8]> {
        self.key_id
            .get_or_init(|| {
                let der = self.der.as_deref()?;
                parse_certificate(der).ok().and_then(|c| c.subject_key_id)
            })
            .as_deref()
    }
}

impl Clone for TrustStore {
    fn clone(&self) -> Self {
        TrustStore {
            anchors: self.anchors.clone(),
            anchor_key_ids: self.anchor_key_ids.clone(),
            paths: Default::default(),
        }
    }
}

impl PartialEq for TrustStore {
    fn eq(&self, other: &Self) -> bool {
        self.anchors == other.anchors
    }
}

impl Eq for TrustStore {}

/// The contents of a DER TLV (its value without tag and length); the input when it is not
/// a well-formed TLV.
fn der_contents(tlv: &[u8]) -> &[u8] {
    let Some(&first_len) = tlv.get(1) else {
        return tlv;
    };
    let (len, header) = match first_len {
        n if n < 0x80 => (n as usize, 2),
        0x81..=0x84 => {
            let k = (first_len & 0x7f) as usize;
            let Some(bytes) = tlv.get(2..2 + k) else {
                return tlv;
            };
            (
                bytes.iter().fold(0usize, |a, b| a << 8 | *b as usize),
                2 + k,
            )
        }
        _ => return tlv,
    };
    tlv.get(header..header + len).unwrap_or(tlv)
}

impl TrustStore {
    /// The Mozilla roots as shipped by the webpki-roots crate.
    pub fn webpki_roots() -> TrustStore {
        TrustStore {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            anchor_key_ids: vec![AnchorKeyId::default(); webpki_roots::TLS_SERVER_ROOTS.len()],
            paths: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Adds one DER certificate as a trust anchor.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), String> {
        let anchor = match webpki::anchor_from_trusted_cert(&CertificateDer::from(der)) {
            Ok(anchor) => anchor.to_owned(),
            // webpki refuses some certificates (e.g. an unknown critical extension) that
            // OpenSSL takes as anchors from a CA file: take their name and key as it would.
            Err(_) => {
                let (_, cert) = X509Certificate::from_der(der)
                    .map_err(|e| format!("the certificate {}", wording::parse_error(&e)))?;
                TrustAnchor {
                    subject: der_contents(cert.subject().as_raw()).to_vec().into(),
                    subject_public_key_info: der_contents(cert.public_key().raw).to_vec().into(),
                    name_constraints: None,
                }
            }
        };
        self.anchors.push(anchor);
        self.anchor_key_ids.push(AnchorKeyId {
            der: Some(der.into()),
            key_id: Default::default(),
        });
        self.forget_paths();
        Ok(())
    }

    /// Adds every certificate of a PEM bundle (the text of a CA file); returns how many.
    pub fn add_pem(&mut self, pem_text: &str) -> Result<usize, String> {
        // The quick reader for a bundle that reads cleanly (the system's, once in every run that checks a chain);
        // x509-parser's, which says what is wrong, for any other.
        if let Some(ders) = pem::certificates(pem_text) {
            for (i, der) in ders.iter().enumerate() {
                self.add_der(der)
                    .map_err(|e| format!("certificate {}: {e}", i + 1))?;
            }
            if ders.is_empty() {
                return Err("no PEM certificate found".into());
            }
            return Ok(ders.len());
        }
        let mut n = 0;
        for pem in x509_parser::pem::Pem::iter_from_buffer(pem_text.as_bytes()) {
            let pem = pem.map_err(|e| wording::pem_error(n + 1, &e))?;
            if pem.label == "CERTIFICATE" || pem.label == "TRUSTED CERTIFICATE" {
                self.add_der(&pem.contents)
                    .map_err(|e| format!("certificate {}: {e}", n + 1))?;
                n += 1;
            }
        }
        if n == 0 {
            return Err("no PEM certificate found".into());
        }
        Ok(n)
    }

    pub fn extend(&mut self, other: TrustStore) {
        self.anchors.extend(other.anchors);
        self.anchor_key_ids.extend(other.anchor_key_ids);
        self.forget_paths();
    }

    fn forget_paths(&self) {
        if let Ok(mut m) = self.paths.lock() {
            m.clear();
        }
    }

    /// The path verdict of the chain whose certificates have the SHA-256 fingerprints
    /// `fingerprints` (lower-case hex, in chain order), from the memo or by `validate`.
    /// Keyed by the digest of the fingerprints, not of the chain's bytes again: a scan's
    /// or a capture's parsed certificates have theirs already, and hashing a chain a
    /// second time was most of the memo's cost (docs/benchmarks.md#scan-nodelay).
    fn path<'f>(
        &self,
        fingerprints: impl Iterator<Item = &'f str>,
        validate: impl FnOnce() -> PathVerdict,
    ) -> PathVerdict {
        let mut h = Sha256::new();
        for fingerprint in fingerprints {
            h.update(fingerprint.as_bytes());
        }
        let key: [u8; 32] = h.finalize().into();
        if let Some(verdict) = self.paths.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return verdict;
        }
        let verdict = validate();
        if let Ok(mut m) = self.paths.lock() {
            if m.len() >= MAX_REMEMBERED_PATHS {
                m.clear();
            }
            m.insert(key, verdict.clone());
        }
        verdict
    }

    /// Whether an anchor is, by name and key identifiers, the issuer of `cert`.
    fn holds_issuer_of(&self, cert: &CertInfo) -> bool {
        let name = der_contents(&cert.issuer_der);
        // A root without authorityKeyIdentifier is identified by its own key.
        let issuer_key_id = cert.authority_key_id.as_deref().or(if cert.self_signed {
            cert.subject_key_id.as_deref()
        } else {
            None
        });
        self.anchors
            .iter()
            .zip(&self.anchor_key_ids)
            .any(|(a, key_id)| {
                a.subject.as_ref() == name && key_ids_agree(key_id.get(), issuer_key_id)
            })
    }
}

/// A serial number's bytes as lower-case hex pairs joined by colons (`0a:1b:…`), as
/// x509-parser spells it, written into one string: its own spelling formats each byte
/// apart, an allocation a byte for every certificate a scan reads.
fn serial_text(serial: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(serial.len() * 3);
    for (i, b) in serial.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Checks a chain as sent by a server, leaf first, as of `now_unix`. Returns the parsed
/// certificates (unparseable ones left out; finding indexes always refer to positions in
/// `chain_der`) and the findings. Without a trust store nothing can be said about roots.
pub fn check_chain(
    chain_der: &[Vec<u8>],
    host: Option<&str>,
    now_unix: i64,
) -> (Vec<CertInfo>, Vec<Finding>) {
    check_chain_with(chain_der, host, now_unix, None)
}

/// [`check_chain`] plus trust: the path from the leaf to an anchor of `trust`, by issuer
/// name and verified signatures. An issuer that is an anchor is not missing; a chain
/// ending in a root the store does not hold is [`Finding::UntrustedRoot`].
pub fn check_chain_with(
    chain_der: &[Vec<u8>],
    host: Option<&str>,
    now_unix: i64,
    trust: Option<&TrustStore>,
) -> (Vec<CertInfo>, Vec<Finding>) {
    let (certs, findings) = ChainFacts::of(chain_der, trust).check(host, now_unix);
    (certs.to_vec(), findings)
}

/// Checks many chains against one trust store, parsing each distinct chain once: a capture
/// repeats the same few chains thousands of times, and parsing (plus the signature checks
/// of the trust path) costs far more than the checks that depend on the host and the time.
/// The results are those of [`check_chain_with`]. Memory is bounded: past
/// [`MAX_MEMO_CHAINS`] chains or [`MAX_MEMO_BYTES`] bytes of chains the memo starts over.
pub struct ChainChecker {
    trust: Option<Arc<TrustStore>>,
    /// Behind a lock so that a shared checker can serve an assessment context (`&self`);
    /// uncontended in the single-threaded capture path.
    memo: std::sync::Mutex<ChainMemo>,
}

#[derive(Default)]
struct ChainMemo {
    chains: std::collections::HashMap<Vec<Vec<u8>>, ChainFacts, foldhash::fast::RandomState>,
    bytes: usize,
}

/// Distinct chains a [`ChainChecker`] remembers at most.
pub const MAX_MEMO_CHAINS: usize = 1024;
/// Bytes of certificates a [`ChainChecker`] remembers at most.
pub const MAX_MEMO_BYTES: usize = 32 << 20;

impl ChainChecker {
    pub fn new(trust: Option<Arc<TrustStore>>) -> Self {
        ChainChecker {
            trust,
            memo: Default::default(),
        }
    }

    /// [`check_chain_with`] against this checker's trust store.
    pub fn check(
        &self,
        chain_der: &[Vec<u8>],
        host: Option<&str>,
        now_unix: i64,
    ) -> (Arc<[CertInfo]>, Vec<Finding>) {
        // A poisoned lock only means another thread panicked mid-insert: the memo is a
        // cache, so start it over.
        let mut memo = self.memo.lock().unwrap_or_else(|p| {
            let mut m = p.into_inner();
            *m = ChainMemo::default();
            m
        });
        if let Some(facts) = memo.chains.get(chain_der) {
            return facts.check(host, now_unix);
        }
        let facts = ChainFacts::of(chain_der, self.trust.as_deref());
        let result = facts.check(host, now_unix);
        let bytes: usize = chain_der.iter().map(Vec::len).sum();
        if memo.chains.len() >= MAX_MEMO_CHAINS || memo.bytes + bytes > MAX_MEMO_BYTES {
            *memo = ChainMemo::default();
        }
        if bytes <= MAX_MEMO_BYTES {
            memo.bytes += bytes;
            memo.chains.insert(chain_der.to_vec(), facts);
        }
        result
    }
}

/// What a chain's bytes and the trust store say, before the host and the time come in.
struct ChainFacts {
    /// The parsed certificates, shared with every report of the chain (a capture repeats
    /// a chain thousands of times; copying them per connection was most of the check).
    certs: Arc<[CertInfo]>,
    /// Their positions in the chain.
    positions: Vec<usize>,
    /// [`Finding::Unparseable`] for the others, in chain order.
    unparseable: Vec<Finding>,
    /// The path verdict (`None`: no trust store).
    trust: Option<PathVerdict>,
}

impl ChainFacts {
    fn of(chain_der: &[Vec<u8>], trust: Option<&TrustStore>) -> ChainFacts {
        let mut unparseable = Vec::new();
        let mut certs = Vec::new();
        let mut positions = Vec::new();
        for (index, der) in chain_der.iter().enumerate() {
            match parse_certificate(der) {
                Ok(info) => {
                    certs.push(info);
                    positions.push(index);
                }
                Err(error) => unparseable.push(Finding::Unparseable { index, error }),
            }
        }
        let trust = trust.map(|store| {
            // Every certificate's fingerprint, each 64 hex digits: the parsed ones' own, the
            // others' computed here.
            let mut parsed = positions.iter().zip(&certs).peekable();
            let fingerprints: Vec<std::borrow::Cow<'_, str>> = (0..chain_der.len())
                .map(|index| match parsed.next_if(|(p, _)| **p == index) {
                    Some((_, c)) => c.sha256.as_str().into(),
                    None => hex::encode(Sha256::digest(&chain_der[index])).into(),
                })
                .collect();
            store.path(fingerprints.iter().map(|f| f.as_ref()), || {
                let mut by_position: Vec<Option<&CertInfo>> = vec![None; chain_der.len()];
                for (&p, c) in positions.iter().zip(&certs) {
                    by_position[p] = Some(c);
                }
                path::validate(chain_der, &by_position, store)
            })
        });
        ChainFacts {
            certs: certs.into(),
            positions,
            unparseable,
            trust,
        }
    }

    /// The certificates and findings for a connection to `host` at `now_unix`.
    fn check(&self, host: Option<&str>, now_unix: i64) -> (Arc<[CertInfo]>, Vec<Finding>) {
        let mut findings = self.untrusted_findings(host, now_unix);
        let certs = self.certs.clone();
        let Some(verdict) = &self.trust else {
            return (certs, findings);
        };
        // The path decides what is missing: drop the name-only guesses.
        findings.retain(|f| {
            !matches!(
                f,
                Finding::IssuerMissing { .. } | Finding::UnknownIssuer { .. }
            )
        });
        // A self-signed leaf the user trusts (`--ca`) is pinned, not a problem.
        if verdict.anchored {
            findings.retain(|f| !matches!(f, Finding::SelfSigned { .. }));
        }
        findings.extend(verdict.findings.iter().cloned());
        (certs, findings)
    }

    /// The findings without a trust store.
    fn untrusted_findings(&self, host: Option<&str>, now_unix: i64) -> Vec<Finding> {
        let parsed: Vec<(usize, &CertInfo)> = self
            .positions
            .iter()
            .copied()
            .zip(self.certs.iter())
            .collect();
        let mut findings = self.unparseable.clone();
        for &(index, c) in &parsed {
            if now_unix > c.not_after {
                findings.push(Finding::Expired {
                    index,
                    not_after: c.not_after,
                });
            } else if now_unix < c.not_before {
                findings.push(Finding::NotYetValid {
                    index,
                    not_before: c.not_before,
                });
            } else if c.not_after - now_unix < EXPIRES_SOON_DAYS * DAY {
                findings.push(Finding::ExpiresSoon {
                    index,
                    days_left: (c.not_after - now_unix) / DAY,
                });
            }
        }

        let leaf = parsed.first().filter(|(i, _)| *i == 0).map(|(_, c)| c);
        if let (Some(leaf), Some(host)) = (leaf, host)
            && !matches_host(leaf, host)
        {
            let mut names = leaf.san.clone();
            if leaf.dns_names.is_empty()
                && let Some(cn) = &leaf.common_name
            {
                names.push(cn.clone());
            }
            findings.push(Finding::HostnameMismatch {
                host: host.to_owned(),
                names,
            });
        }
        if let Some(leaf) = leaf
            && !leaf.allows_server_auth()
        {
            findings.push(Finding::WrongKeyUsage {
                index: 0,
                purposes: leaf.extended_key_usage.clone().unwrap_or_default(),
            });
        }
        if let Some(leaf) = leaf
            && leaf.self_signed
        {
            findings.push(Finding::SelfSigned {
                subject: leaf.subject.clone(),
            });
        }

        let mut misordered = Vec::new();
        if let Some((0, first)) = parsed.first()
            && first.is_ca
            && let Some((j, issued)) = parsed
                .iter()
                .skip(1)
                .find(|(_, c)| !c.self_signed && issued_by(c, first))
        {
            misordered.push(format!(
            "certificate 0 ({}) is the issuer of certificate {j} ({}); the server's own certificate must come first",
            first.subject, issued.subject
        ));
        }
        for (p, (index, c)) in parsed.iter().enumerate() {
            if c.self_signed {
                continue;
            }
            if parsed
                .get(p + 1)
                .is_some_and(|(_, next)| issued_by(c, next))
            {
                continue;
            }
            match parsed
            .iter()
            .enumerate()
            .find(|&(q, (_, other))| q != p && issued_by(c, other))
        {
            Some((_, (j, issuer))) => misordered.push(format!(
                "certificate {index} ({}) is issued by certificate {j} ({}), which should come right after it",
                c.subject, issuer.subject
            )),
            // A CA certificate whose issuer is absent is usually an intermediate under a
            // root the client holds; without a trust store that is all that can be said.
            None if !c.is_ca => findings.push(path::missing_issuer(*index, Some(c))),
            None => {}
        }
        }
        if !misordered.is_empty() {
            findings.push(Finding::ChainMisordered {
                detail: misordered.join("; "),
            });
        }

        let last = parsed.len().saturating_sub(1);
        for (p, (index, c)) in parsed.iter().enumerate() {
            if weak_key(c) {
                findings.push(Finding::WeakKey {
                    index: *index,
                    key: c.key.clone(),
                });
            }
            // Clients never check a root's own signature: skip a self-signed last certificate
            // unless it is the leaf itself.
            let trust_anchor = c.self_signed && p == last && p != 0;
            if !trust_anchor && WEAK_SIGNATURE_OIDS.contains(&c.signature_oid.as_str()) {
                findings.push(Finding::WeakSignature {
                    index: *index,
                    algorithm: c.signature_algorithm.clone(),
                });
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;
    use std::sync::Arc;

    const CA_CONFIG: &str = "[ca]\ndefault_ca = ca_default\n[ca_default]\n\
        database = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\n\
        policy = policy_any\nunique_subject = no\nemail_in_dn = no\n\
        [policy_any]\ncommonName = supplied\norganizationName = optional\n";
    const CA_EXT: &str = "basicConstraints=critical,CA:true\nkeyUsage=keyCertSign,cRLSign\n\
        subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid";

    /// 2020-01-01T00:00:00Z and 2030-01-01T00:00:00Z, the default validity of test certs.
    const START: i64 = 1_577_836_800;
    const END: i64 = 1_893_456_000;
    const NOW: i64 = 1_700_000_000;

    /// A throwaway PKI made with the `openssl` command line in a temporary directory.
    struct Pki {
        dir: tempfile::TempDir,
    }

    impl Pki {
        /// `None` (and a note on stderr) when `openssl` cannot be run.
        fn new() -> Option<Pki> {
            if Command::new("openssl").arg("version").output().is_err() {
                eprintln!("SKIPPED: the openssl command is not installed");
                return None;
            }
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::write(dir.path().join("ca.cnf"), CA_CONFIG).unwrap();
            std::fs::write(dir.path().join("index.txt"), "").unwrap();
            std::fs::write(dir.path().join("serial"), "1000\n").unwrap();
            Some(Pki { dir })
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn run(&self, args: &[&str]) {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(self.path())
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        /// `key`: `ec`, `ed25519` or `rsaNNNN`.
        fn genkey(&self, name: &str, key: &str) {
            let out = format!("{name}.key");
            match key {
                "ec" => self.run(&[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    &out,
                ]),
                "ed25519" => self.run(&["genpkey", "-algorithm", "ED25519", "-out", &out]),
                rsa => {
                    let bits = format!("rsa_keygen_bits:{}", &rsa[3..]);
                    self.run(&[
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        &bits,
                        "-out",
                        &out,
                    ])
                }
            }
        }

        /// Issues certificate `name` for `cn` with `key`, signed by `issuer` (`None`:
        /// self-signed) with digest `md`, valid from `start` to `end` (openssl time format),
        /// with the given extension lines. Returns its DER.
        #[allow(clippy::too_many_arguments)]
        fn issue_with(
            &self,
            name: &str,
            cn: &str,
            key: &str,
            issuer: Option<&str>,
            md: &str,
            start: &str,
            end: &str,
            ext: &str,
        ) -> Vec<u8> {
            self.genkey(name, key);
            let (keyf, csr, pem, der, extf) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.der"),
                format!("{name}.ext"),
            );
            let subj = format!("/CN={cn}");
            self.run(&["req", "-new", "-key", &keyf, "-subj", &subj, "-out", &csr]);
            std::fs::write(self.path().join(&extf), format!("[ext]\n{ext}\n")).unwrap();
            let mut args = vec![
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-notext",
                "-in",
                &csr,
                "-out",
                &pem,
                "-startdate",
                start,
                "-enddate",
                end,
                "-extfile",
                &extf,
                "-extensions",
                "ext",
            ];
            if key != "ed25519" {
                args.extend(["-md", md]);
            }
            let (issuer_cert, issuer_key);
            match issuer {
                None => args.extend(["-selfsign", "-keyfile", &keyf]),
                Some(i) => {
                    issuer_cert = format!("{i}.pem");
                    issuer_key = format!("{i}.key");
                    args.extend(["-cert", &issuer_cert, "-keyfile", &issuer_key]);
                }
            }
            self.run(&args);
            self.run(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
            std::fs::read(self.path().join(der)).unwrap()
        }

        fn issue(&self, name: &str, cn: &str, issuer: Option<&str>, ext: &str) -> Vec<u8> {
            self.issue_with(
                name,
                cn,
                "ec",
                issuer,
                "sha256",
                "20200101000000Z",
                "20300101000000Z",
                ext,
            )
        }

        /// Root → intermediate → leaf for `www.example.com`; returns (leaf, inter, root).
        fn three_level(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
            let root = self.issue("root", "Test Root", None, CA_EXT);
            let inter = self.issue("inter", "Test Intermediate", Some("root"), CA_EXT);
            let leaf = self.issue(
                "leaf",
                "www.example.com",
                Some("inter"),
                "subjectAltName=DNS:www.example.com,DNS:example.com\n\
                 authorityKeyIdentifier=keyid\n\
                 authorityInfoAccess=caIssuers;URI:http://ca.test/inter.der",
            );
            (leaf, inter, root)
        }
    }

    fn causes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.cause().id()).collect()
    }

    #[test]
    fn extended_key_usage_without_server_auth_is_a_finding() {
        let Some(pki) = Pki::new() else { return };
        let root = pki.issue("root", "Test Root", None, CA_EXT);
        let mut trust = TrustStore::default();
        trust.add_der(&root).unwrap();
        let san = "subjectAltName=DNS:www.example.com\n";
        for (name, eku, wrong) in [
            ("client", "extendedKeyUsage=clientAuth", true),
            ("mail", "extendedKeyUsage=emailProtection,codeSigning", true),
            ("server", "extendedKeyUsage=serverAuth,clientAuth", false),
            (
                "any",
                "extendedKeyUsage=anyExtendedKeyUsage,clientAuth",
                false,
            ),
            ("none", "", false),
        ] {
            let leaf = pki.issue(
                name,
                "www.example.com",
                Some("root"),
                &format!("{san}{eku}"),
            );
            let (certs, findings) =
                check_chain_with(&[leaf], Some("www.example.com"), NOW, Some(&trust));
            assert_eq!(certs[0].allows_server_auth(), !wrong, "{name}");
            let want: &[&str] = if wrong { &["wrong_key_usage"] } else { &[] };
            assert_eq!(causes(&findings), want, "{name}: {findings:?}");
            if wrong {
                assert!(findings[0].detail().contains("not serverAuth"), "{name}");
            }
        }
        let (certs, findings) = check_chain(
            &[pki.issue("c2", "x", Some("root"), "extendedKeyUsage=clientAuth")],
            None,
            NOW,
        );
        assert_eq!(
            certs[0].extended_key_usage,
            Some(vec!["clientAuth".to_owned()])
        );
        assert_eq!(
            findings
                .iter()
                .find(|f| f.cause().id() == "wrong_key_usage"),
            Some(&Finding::WrongKeyUsage {
                index: 0,
                purposes: vec!["clientAuth".into()]
            })
        );
    }

    #[test]
    fn parses_fields() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, root) = pki.three_level();
        let l = parse_certificate(&leaf).unwrap();
        assert_eq!(l.subject, "CN=www.example.com");
        assert_eq!(certificate_subject(&leaf).unwrap(), l.subject);
        assert_eq!(l.issuer, "CN=Test Intermediate");
        assert_eq!(l.common_name.as_deref(), Some("www.example.com"));
        assert_eq!(l.san, ["www.example.com", "example.com"]);
        assert_eq!((l.not_before, l.not_after), (START, END));
        assert_eq!(l.key, "EC P-256");
        assert_eq!(l.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(l.aia_ca_issuers, ["http://ca.test/inter.der"]);
        assert!(!l.is_ca && !l.self_signed);
        assert_eq!(l.sha256, hex::encode(Sha256::digest(&leaf)));
        assert_eq!(l.sha256.len(), 64);
        let i = parse_certificate(&inter).unwrap();
        assert!(i.is_ca && !i.self_signed);
        assert_eq!(i.key_usage, ["keyCertSign", "cRLSign"]);
        assert_eq!(l.authority_key_id, i.subject_key_id);
        assert!(l.authority_key_id.is_some());
        let r = parse_certificate(&root).unwrap();
        assert!(r.is_ca && r.self_signed);
        assert_eq!(r.subject_der, r.issuer_der);
        // openssl's own view of the serial (hex, serial file started at 1000).
        assert_eq!(r.serial, "10:00");
    }

    #[test]
    fn rejects_garbage_and_trailing_bytes() {
        assert!(parse_certificate(&[]).is_err());
        assert!(parse_certificate(&[0x30, 0x82, 0xff, 0xff, 0x01]).is_err());
        let Some(pki) = Pki::new() else { return };
        let mut der = pki.issue("a", "a.test", None, "basicConstraints=CA:false");
        assert!(parse_certificate(&der).is_ok());
        der.push(0);
        assert!(
            parse_certificate(&der)
                .unwrap_err()
                .problem
                .contains("after its end")
        );
        assert!(certificate_subject(&der).is_err());
        // Every truncation is an error, never a panic.
        der.pop();
        for n in 0..der.len() {
            assert!(parse_certificate(&der[..n]).is_err(), "truncated to {n}");
        }
        let (_, findings) = check_chain(&[der[..50].to_vec()], Some("a.test"), NOW);
        assert_eq!(causes(&findings), ["certificate_unparseable"]);
    }

    #[test]
    fn good_chain_has_no_findings() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, root) = pki.three_level();
        let (infos, findings) =
            check_chain(&[leaf.clone(), inter.clone()], Some("www.example.com"), NOW);
        assert_eq!(infos.len(), 2);
        assert_eq!(findings, []);
        // With the root sent too, and with the host in another case with a trailing dot.
        let (_, findings) = check_chain(&[leaf, inter, root], Some("WWW.Example.COM."), NOW);
        assert_eq!(findings, []);
    }

    #[test]
    fn validity_against_the_given_clock() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, _) = pki.three_level();
        let chain = [leaf, inter];
        let host = Some("example.com");
        let (_, f) = check_chain(&chain, host, END + 1);
        assert_eq!(
            f,
            [
                Finding::Expired {
                    index: 0,
                    not_after: END
                },
                Finding::Expired {
                    index: 1,
                    not_after: END
                }
            ]
        );
        assert_eq!(
            f[0].detail(),
            "certificate 0 expired at 2030-01-01T00:00:00Z"
        );
        // not_after itself is still valid (RFC 5280: inclusive), with 0 days left.
        let (_, f) = check_chain(&chain, host, END);
        assert_eq!(
            f[0],
            Finding::ExpiresSoon {
                index: 0,
                days_left: 0
            }
        );
        let (_, f) = check_chain(&chain, host, START - 1);
        assert_eq!(causes(&f), ["certificate_not_yet_valid"; 2]);
        let (_, f) = check_chain(&chain, host, END - 10 * DAY - 5);
        assert_eq!(
            f[1],
            Finding::ExpiresSoon {
                index: 1,
                days_left: 10
            }
        );
        let (_, f) = check_chain(&chain, host, END - 30 * DAY);
        assert_eq!(f, []);
    }

    #[test]
    fn dates_set_by_openssl_ca() {
        let Some(pki) = Pki::new() else { return };
        let der = pki.issue_with(
            "old",
            "old.test",
            "ec",
            None,
            "sha256",
            "20100601120000Z",
            "20110601120000Z",
            "basicConstraints=CA:false",
        );
        let c = parse_certificate(&der).unwrap();
        assert_eq!(rfc3339(c.not_before), "2010-06-01T12:00:00Z");
        assert_eq!(rfc3339(c.not_after), "2011-06-01T12:00:00Z");
        let (_, f) = check_chain(&[der], None, NOW);
        assert!(f.contains(&Finding::Expired {
            index: 0,
            not_after: c.not_after
        }));
        assert!(causes(&f).contains(&"self_signed"));
    }

    #[test]
    fn hostname_rules() {
        let Some(pki) = Pki::new() else { return };
        let wild = parse_certificate(&pki.issue(
            "w",
            "ignored.test",
            None,
            "subjectAltName=DNS:*.example.com,DNS:exact.test,IP:127.0.0.1,IP:::1",
        ))
        .unwrap();
        assert!(matches_host(&wild, "www.example.com"));
        assert!(matches_host(&wild, "API.EXAMPLE.COM"));
        assert!(
            !matches_host(&wild, "example.com"),
            "wildcard needs one label"
        );
        assert!(
            !matches_host(&wild, "a.b.example.com"),
            "wildcard spans one label"
        );
        assert!(matches_host(&wild, "exact.test"));
        assert!(
            !matches_host(&wild, "ignored.test"),
            "CN is ignored when SAN has DNS"
        );
        assert!(matches_host(&wild, "127.0.0.1"));
        assert!(matches_host(&wild, "[::1]"));
        assert!(matches_host(&wild, "0:0::1"));
        assert!(!matches_host(&wild, "127.0.0.2"));

        let cn_only =
            parse_certificate(&pki.issue("c", "cn.test", None, "basicConstraints=CA:false"))
                .unwrap();
        assert!(matches_host(&cn_only, "cn.test"));
        assert!(!matches_host(&cn_only, "other.test"));

        let ip_only =
            parse_certificate(&pki.issue("i", "10.0.0.1", None, "subjectAltName=IP:10.0.0.2"))
                .unwrap();
        assert!(matches_host(&ip_only, "10.0.0.2"));
        assert!(
            !matches_host(&ip_only, "10.0.0.1"),
            "no CN matching for IP hosts"
        );
        assert!(
            !matches_host(&ip_only, "ip.test"),
            "an IP SAN does not stand in for the CN"
        );

        let bad_wild = parse_certificate(&pki.issue(
            "b",
            "b",
            None,
            "subjectAltName=DNS:*.com,DNS:f*.example.org,DNS:*.*.example.net",
        ))
        .unwrap();
        for host in [
            "example.com",
            "foo.example.org",
            "a.b.example.net",
            "x.y.example.net",
        ] {
            assert!(!matches_host(&bad_wild, host), "{host}");
        }

        let (leaf, inter, _) = pki.three_level();
        let (_, f) = check_chain(&[leaf, inter], Some("mail.example.com"), NOW);
        assert_eq!(
            f,
            [Finding::HostnameMismatch {
                host: "mail.example.com".into(),
                names: vec!["www.example.com".into(), "example.com".into()]
            }]
        );
        assert_eq!(f[0].cause().id(), "hostname_mismatch");
    }

    #[test]
    fn chain_order_and_missing_issuers() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, root) = pki.three_level();
        let host = Some("www.example.com");

        // Leaf alone: its issuer is missing, with the AIA location.
        let (_, f) = check_chain(std::slice::from_ref(&leaf), host, NOW);
        assert_eq!(
            f,
            [Finding::IssuerMissing {
                index: 0,
                issuer: "CN=Test Intermediate".into(),
                aia: Some("http://ca.test/inter.der".into())
            }]
        );
        assert_eq!(f[0].cause().id(), "incomplete_chain");

        // Leaf and root, intermediate left out.
        let (_, f) = check_chain(&[leaf.clone(), root.clone()], host, NOW);
        assert_eq!(causes(&f), ["incomplete_chain"]);

        // Leaf, root, intermediate: everything is there, in the wrong order.
        let (_, f) = check_chain(&[leaf.clone(), root.clone(), inter.clone()], host, NOW);
        assert_eq!(causes(&f), ["chain_misordered"]);
        let detail = f[0].detail();
        assert!(detail.contains("certificate 0 (CN=www.example.com) is issued by certificate 2"));
        assert!(detail.contains("certificate 2 (CN=Test Intermediate) is issued by certificate 1"));

        // Intermediate first: the wrong certificate is presented as the server's.
        let (_, f) = check_chain(&[inter.clone(), leaf.clone()], host, NOW);
        assert_eq!(causes(&f), ["hostname_mismatch", "chain_misordered"]);
        assert!(f[1].detail().contains("must come first"));

        // An intermediate from another hierarchy with the same name but another key.
        let other = Pki::new().unwrap();
        let (_, foreign_inter, _) = other.three_level();
        let (_, f) = check_chain(&[leaf, foreign_inter], host, NOW);
        assert_eq!(causes(&f), ["incomplete_chain"]);
    }

    #[test]
    fn chain_checker_gives_the_results_of_check_chain_with() {
        let Some(pki) = Pki::new() else { return };
        let (leaf, inter, root) = pki.three_level();
        let mut trust = TrustStore::default();
        trust.add_der(&root).unwrap();
        let chains: Vec<Vec<Vec<u8>>> = vec![
            vec![leaf.clone(), inter.clone()],
            vec![leaf.clone()],
            vec![leaf.clone(), root.clone(), inter.clone()],
            vec![inter.clone(), leaf.clone()],
            vec![leaf.clone(), b"garbage".to_vec(), inter.clone()],
            vec![root.clone()],
        ];
        // A hierarchy the store does not hold: an untrusted root, then a missing one.
        let other = Pki::new().unwrap();
        let (o_leaf, o_inter, o_root) = other.three_level();
        let mut chains = chains;
        chains.push(vec![o_leaf.clone(), o_inter.clone(), o_root]);
        chains.push(vec![o_leaf, o_inter]);
        let hosts = [Some("www.example.com"), Some("other.test"), None];
        // Before validity, valid, expiring soon, expired.
        let times = [0, NOW, NOW + 3600 * 24 * 360, NOW + 3600 * 24 * 5000];
        for store in [Some(Arc::new(trust)), None] {
            let checker = ChainChecker::new(store.clone());
            // Twice: the first round fills the memo, the second reads from it.
            for _ in 0..2 {
                for chain in &chains {
                    for host in hosts {
                        for now in times {
                            let (certs, findings) = checker.check(chain, host, now);
                            assert_eq!(
                                (certs.to_vec(), findings),
                                check_chain_with(chain, host, now, store.as_deref()),
                                "{host:?} {now}"
                            );
                        }
                    }
                }
            }
            assert_eq!(checker.memo.lock().unwrap().chains.len(), chains.len());
        }
    }

    #[test]
    fn serials_are_spelled_as_x509_parser_spells_them() {
        assert_eq!(serial_text(&[]), "");
        assert_eq!(serial_text(&[0x0a]), "0a");
        assert_eq!(serial_text(&[0x00, 0xff, 0x1b]), "00:ff:1b");
        let Some(pki) = Pki::new() else { return };
        for der in <[Vec<u8>; 3]>::from(pki.three_level()) {
            let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
            assert_eq!(serial_text(cert.raw_serial()), cert.raw_serial_as_string());
            assert_eq!(
                parse_certificate(&der).unwrap().serial,
                cert.raw_serial_as_string()
            );
        }
    }

    #[test]
    fn chain_checker_memory_is_bounded() {
        let checker = ChainChecker::new(None);
        for i in 0..MAX_MEMO_CHAINS + 10 {
            let chain = vec![i.to_be_bytes().to_vec()];
            let (_, findings) = checker.check(&chain, None, NOW);
            assert_eq!(causes(&findings), ["certificate_unparseable"]);
            assert!(checker.memo.lock().unwrap().chains.len() <= MAX_MEMO_CHAINS);
        }
        assert_eq!(checker.memo.lock().unwrap().chains.len(), 10);
        // A chain larger than the byte bound is checked but not remembered.
        let huge = vec![vec![0u8; MAX_MEMO_BYTES + 1]];
        checker.check(&huge, None, NOW);
        assert!(checker.memo.lock().unwrap().bytes <= MAX_MEMO_BYTES);
        assert!(
            !checker
                .memo
                .lock()
                .unwrap()
                .chains
                .contains_key(huge.as_slice())
        );
    }

    #[test]
    fn path_findings_do_not_depend_on_the_clock() {
        let Some(pki) = Pki::new() else { return };
        let root = pki.issue("root", "Test Root", None, CA_EXT);
        let not_ca = pki.issue(
            "notca",
            "Not A CA",
            Some("root"),
            "basicConstraints=CA:false",
        );
        let leaf = pki.issue(
            "leaf",
            "www.example.com",
            Some("notca"),
            "subjectAltName=DNS:www.example.com",
        );
        let mut trust = TrustStore::default();
        trust.add_der(&root).unwrap();
        let chain = [leaf, not_ca];
        let invalid_ca = Finding::InvalidCa {
            index: Some(1),
            subject: "CN=Not A CA".into(),
            reason: "it is not a CA (basicConstraints CA:FALSE or none)",
        };
        let host = Some("www.example.com");
        let (_, f) = check_chain_with(&chain, host, NOW, Some(&trust));
        assert_eq!(f, std::slice::from_ref(&invalid_ca));
        // Expired or not yet valid, the structure is still judged, besides the dates.
        let (_, f) = check_chain_with(&chain, host, END + 1, Some(&trust));
        assert_eq!(
            causes(&f),
            ["certificate_expired", "certificate_expired", "invalid_ca"]
        );
        let (_, f) = check_chain_with(&chain, host, START - 1, Some(&trust));
        assert_eq!(f.last(), Some(&invalid_ca));
        // Without the root in the store, webpki stops at the CA flag; the issuer nobody
        // holds is named too.
        let (_, f) = check_chain_with(&chain, host, NOW, Some(&TrustStore::default()));
        assert_eq!(
            f,
            [
                invalid_ca,
                Finding::UnknownIssuer {
                    index: 1,
                    issuer: "CN=Test Root".into()
                }
            ]
        );
    }

    #[test]
    fn self_signed_leaf() {
        let Some(pki) = Pki::new() else { return };
        let der = pki.issue(
            "s",
            "self.test",
            None,
            "subjectAltName=DNS:self.test\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid",
        );
        let (infos, f) = check_chain(&[der], Some("self.test"), NOW);
        assert!(infos[0].self_signed);
        assert_eq!(
            f,
            [Finding::SelfSigned {
                subject: "CN=self.test".into()
            }]
        );
        assert_eq!(
            f[0].detail(),
            "the server certificate (CN=self.test) is self-signed"
        );
    }

    #[test]
    fn weak_keys_and_signatures() {
        let Some(pki) = Pki::new() else { return };
        let weak = pki.issue_with(
            "weak",
            "weak.test",
            "rsa1024",
            None,
            "sha1",
            "20200101000000Z",
            "20300101000000Z",
            "subjectAltName=DNS:weak.test",
        );
        let c = parse_certificate(&weak).unwrap();
        assert_eq!(c.key, "RSA 1024");
        assert_eq!(c.signature_algorithm, "sha1WithRSAEncryption");
        let (_, f) = check_chain(&[weak], Some("weak.test"), NOW);
        assert_eq!(
            f,
            [
                Finding::SelfSigned {
                    subject: "CN=weak.test".into()
                },
                Finding::WeakKey {
                    index: 0,
                    key: "RSA 1024".into()
                },
                Finding::WeakSignature {
                    index: 0,
                    algorithm: "sha1WithRSAEncryption".into()
                },
            ]
        );
        assert_eq!(causes(&f[1..]), ["weak_key", "weak_signature"]);

        let strong = pki.issue_with(
            "strong",
            "strong.test",
            "rsa2048",
            None,
            "sha256",
            "20200101000000Z",
            "20300101000000Z",
            "subjectAltName=DNS:strong.test",
        );
        let c = parse_certificate(&strong).unwrap();
        assert_eq!(c.key, "RSA 2048");
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
        let (_, f) = check_chain(&[strong], Some("strong.test"), NOW);
        assert_eq!(causes(&f), ["self_signed"]);

        let ed = pki.issue_with(
            "ed",
            "ed.test",
            "ed25519",
            None,
            "",
            "20200101000000Z",
            "20300101000000Z",
            "subjectAltName=DNS:ed.test",
        );
        let c = parse_certificate(&ed).unwrap();
        assert_eq!(
            (c.key.as_str(), c.signature_algorithm.as_str()),
            ("Ed25519", "ed25519")
        );
    }

    #[test]
    fn sha1_root_is_not_a_weak_signature() {
        let Some(pki) = Pki::new() else { return };
        pki.issue_with(
            "root",
            "Old Root",
            "ec",
            None,
            "sha1",
            "20200101000000Z",
            "20300101000000Z",
            CA_EXT,
        );
        let root = std::fs::read(pki.path().join("root.der")).unwrap();
        let leaf = pki.issue("leaf", "x.test", Some("root"), "subjectAltName=DNS:x.test");
        let (_, f) = check_chain(&[leaf, root], Some("x.test"), NOW);
        assert_eq!(f, []);
    }
}
