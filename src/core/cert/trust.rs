//! [`TrustStore`]: the trust anchors a path is validated against (the Mozilla roots, a CA
//! file), which of them is a certificate's issuer, and the memo of path verdicts.

use super::info::key_ids_agree;
use super::path::PathVerdict;
use super::{CertInfo, parse_certificate, pem, wording};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Trust anchors in the form rustls-webpki validates against (subject, public key and
/// name constraints, as DER contents without their outer SEQUENCE header), plus a memo of
/// path verdicts.
#[derive(Debug, Default)]
pub struct TrustStore {
    pub(super) anchors: Vec<TrustAnchor<'static>>,
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
    pub(super) fn path<'f>(
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
    pub(super) fn holds_issuer_of(&self, cert: &CertInfo) -> bool {
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
