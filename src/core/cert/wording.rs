//! Certificate errors in our words: why x509-parser or rustls-webpki refused a certificate,
//! said as what is wrong with it ("is not valid DER: expected a SEQUENCE, found tag 20"),
//! with the library's own text kept apart as a detail for JSON (text output never shows it).

use x509_parser::asn1_rs::{Error as DerError, Tag};
use x509_parser::error::X509Error;
use x509_parser::nom;

/// Why a certificate cannot be used: our words, and the library's text behind them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertProblem {
    /// A verb phrase about the certificate: "is not valid DER: …", "has …".
    pub problem: String,
    /// The library's text (Debug or Display), for JSON's `library_detail` only.
    pub library: Option<String>,
}

impl CertProblem {
    pub fn ours(problem: impl Into<String>) -> CertProblem {
        CertProblem {
            problem: problem.into(),
            library: None,
        }
    }
}

impl std::fmt::Display for CertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem)
    }
}

/// x509-parser's error for a whole certificate.
pub fn parse_error(e: &nom::Err<X509Error>) -> CertProblem {
    let problem = match e {
        nom::Err::Incomplete(_) => "is cut short: its DER ends before its length says".into(),
        nom::Err::Error(e) | nom::Err::Failure(e) => x509_problem(e),
    };
    CertProblem {
        problem,
        library: Some(e.to_string()),
    }
}

/// x509-parser's error for one extension (`what`: "subjectAltName", …).
pub fn extension_error(what: &str, e: &X509Error) -> CertProblem {
    CertProblem {
        problem: format!("has an unreadable {what} extension ({})", x509_problem(e)),
        library: Some(format!("{what}: {e}")),
    }
}

fn x509_problem(e: &X509Error) -> String {
    let field = |f: &str| format!("has an invalid {f}");
    match e {
        X509Error::Der(der) => der_problem(der),
        X509Error::InvalidVersion => field("version"),
        X509Error::InvalidSerial => field("serial number"),
        X509Error::InvalidAlgorithmIdentifier => field("algorithm identifier"),
        X509Error::InvalidX509Name => field("name (subject or issuer)"),
        X509Error::InvalidDate => field("validity date"),
        X509Error::InvalidSPKI => field("public key"),
        X509Error::InvalidSubjectUID | X509Error::InvalidIssuerUID => field("unique ID"),
        X509Error::InvalidExtensions => "has an invalid extension list".into(),
        X509Error::DuplicateExtensions => "has the same extension twice".into(),
        X509Error::InvalidSignatureValue => field("signature value"),
        X509Error::InvalidTbsCertificate => "has an invalid body (tbsCertificate)".into(),
        X509Error::InvalidNumber => field("number"),
        _ => "is not a valid X.509 certificate".into(),
    }
}

fn der_problem(e: &DerError) -> String {
    let what = match e {
        DerError::UnexpectedTag {
            expected: Some(expected),
            actual,
        } => format!(
            "expected {}, found {}",
            tag_name(*expected),
            tag_name(*actual)
        ),
        DerError::UnexpectedTag {
            expected: None,
            actual,
        } => format!("unexpected {}", tag_name(*actual)),
        DerError::InvalidLength => "a length field is wrong".into(),
        DerError::Incomplete(_) => "it ends before its length says (truncated)".into(),
        DerError::IndefiniteLengthUnexpected => "an indefinite length (BER, not DER)".into(),
        DerError::DerConstraintFailed(_) => "an encoding DER forbids (BER)".into(),
        DerError::StringInvalidCharset => "a string holds characters its type forbids".into(),
        DerError::InvalidDateTime => "a date is malformed".into(),
        DerError::IntegerTooLarge | DerError::IntegerNegative => {
            "an integer is out of range".into()
        }
        _ => "a malformed element".into(),
    };
    format!("is not valid DER: {what}")
}

/// "a SEQUENCE", "an INTEGER", "tag 20".
fn tag_name(t: Tag) -> String {
    let name = match t.0 {
        1 => "a BOOLEAN",
        2 => "an INTEGER",
        3 => "a BIT STRING",
        4 => "an OCTET STRING",
        5 => "a NULL",
        6 => "an OBJECT IDENTIFIER",
        12 => "a UTF8String",
        16 => "a SEQUENCE",
        17 => "a SET",
        19 => "a PrintableString",
        22 => "an IA5String",
        23 => "a UTCTime",
        24 => "a GeneralizedTime",
        n => return format!("tag {n}"),
    };
    name.into()
}

/// A PEM block that cannot be read (the `n`-th certificate of a CA file), in our words.
pub fn pem_error(n: usize, e: &x509_parser::error::PEMError) -> String {
    use x509_parser::error::PEMError as P;
    let what = match e {
        P::Base64DecodeError => "its base64 body is malformed".to_string(),
        P::IncompletePEM => "it has no -----END line".into(),
        P::InvalidHeader | P::MissingHeader => "its -----BEGIN line is malformed".into(),
        P::IOError(io) => format!("it cannot be read: {io}"),
    };
    format!("PEM block {n}: {what}")
}

/// rustls-webpki's refusal of one certificate, in our words.
pub fn webpki_certificate(e: &webpki::Error) -> CertProblem {
    use webpki::Error as E;
    let problem = match e {
        E::BadDer => "is not valid DER for rustls-webpki".to_string(),
        E::BadDerTime => "has a malformed validity date".into(),
        E::UnsupportedCertVersion => "is not an X.509 v3 certificate".into(),
        E::UnsupportedCriticalExtension => {
            "has a critical extension rustls-webpki does not know".into()
        }
        E::TrailingData(_) => "has bytes after its end".into(),
        E::MalformedExtensions => "has malformed extensions".into(),
        E::ExtensionValueInvalid => "has an invalid extension value".into(),
        E::InvalidSerialNumber => "has an invalid serial number".into(),
        E::UnsupportedSignatureAlgorithmContext(_) => {
            "is signed with an algorithm rustls-webpki does not support".into()
        }
        _ => "is rejected by rustls-webpki".into(),
    };
    CertProblem {
        problem,
        library: Some(format!("rustls-webpki: {e:?}")),
    }
}

/// rustls-webpki's refusal of a whole path, for an error with no finding of its own.
pub fn webpki_path(e: &webpki::Error) -> CertProblem {
    use webpki::Error as E;
    let problem = match e {
        E::CaUsedAsEndEntity => "is a CA certificate served as the server's own",
        E::EndEntityUsedAsCa => "is an end-entity certificate used as an issuer",
        E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumNameConstraintComparisonsExceeded => {
            "leads to a chain too long or too tangled to check (rustls-webpki's limits)"
        }
        E::MalformedNameConstraint => "has malformed name constraints",
        E::UnsupportedNameType => "has a name of a type rustls-webpki cannot check",
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            "does not allow server authentication (extendedKeyUsage)"
        }
        _ => "is rejected by rustls-webpki while building the path to a trusted root",
    };
    CertProblem {
        problem: problem.into(),
        library: Some(format!("rustls-webpki: {e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer as _, X509Certificate};

    #[test]
    fn a_garbage_certificate_is_said_in_our_words() {
        // A record header where a certificate should be: tag 20, not a SEQUENCE.
        let e = X509Certificate::from_der(&[0x14, 0x03, 0x03, 0x00, 0x01]).unwrap_err();
        let p = parse_error(&e);
        assert_eq!(
            p.problem,
            "is not valid DER: expected a SEQUENCE, found tag 20"
        );
        assert!(p.library.unwrap().contains("UnexpectedTag"));
    }

    #[test]
    fn a_bad_pem_block_is_said_in_our_words() {
        let text = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let e = x509_parser::pem::Pem::iter_from_buffer(text)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            pem_error(1, &e),
            "PEM block 1: its base64 body is malformed"
        );
    }
}
