//! [`Finding`]: something wrong with a certificate chain, with its cause id and its words
//! for people.

use super::CertProblem;
use crate::core::datetime::rfc3339;

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
    /// Valid now, but for fewer than [`EXPIRES_SOON_DAYS`](super::EXPIRES_SOON_DAYS) more days.
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
