//! One DER certificate as plain data for display: [`CertInfo`], what
//! [`parse_certificate`] reads from x509-parser (names, serial, validity, subjectAltName,
//! key, signature algorithm, extensions, fingerprint), and how two certificates relate by
//! names and key identifiers ([`issued_by`]).

use super::key::{key_facts, oid_name};
use super::{CertProblem, KeyAlgorithm, wording};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer as _, X509Certificate, X509Name};

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

/// Names are equal if their DER is, or (for encodings that differ only in string type or
/// case) their text is, ignoring ASCII case.
fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || a.to_string().eq_ignore_ascii_case(&b.to_string())
}

pub(super) fn key_ids_agree(
    subject_key_id: Option<&[u8]>,
    authority_key_id: Option<&[u8]>,
) -> bool {
    match (subject_key_id, authority_key_id) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

/// Whether `issuer` is, by names and key identifiers, the certificate that issued `cert`.
pub(super) fn issued_by(cert: &CertInfo, issuer: &CertInfo) -> bool {
    let names =
        cert.issuer_der == issuer.subject_der || cert.issuer.eq_ignore_ascii_case(&issuer.subject);
    names
        && key_ids_agree(
            issuer.subject_key_id.as_deref(),
            cert.authority_key_id.as_deref(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cert::tests::Pki;

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
}
