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
//!
//! The files, by concern:
//! - `info`: [`CertInfo`], [`parse_certificate`] and [`certificate_subject`] (one DER
//!   certificate read by x509-parser), and whether one certificate issued another.
//! - `key`: [`KeyAlgorithm`], the key's size and the signature algorithm's name; which keys
//!   and signatures are weak.
//! - `host`: [`matches_host`], host names and IP addresses against the certificate (RFC 6125).
//! - `finding`: [`Finding`], its cause id and its words for people.
//! - `trust`: [`TrustStore`], its anchors, the issuer lookup and the memo of path verdicts.
//! - `chain`: [`check_chain`], [`check_chain_with`], [`ChainChecker`] (its memo of parsed
//!   chains): the checks of a chain as sent, as [`Finding`]s.
//! - `path`: path validation by rustls-webpki, its errors as [`Finding`]s.
//! - `pem`: a quick reader for PEM bundles that read cleanly (the system's CA bundle).
//! - `wording`: [`CertProblem`], the libraries' errors in our words.
//! - `tests`: tests on certificates made by the `openssl` command line.

mod chain;
mod finding;
mod host;
mod info;
mod key;
mod path;
mod pem;
#[cfg(test)]
mod tests;
mod trust;
mod wording;

pub use chain::{ChainChecker, MAX_MEMO_BYTES, MAX_MEMO_CHAINS, check_chain, check_chain_with};
pub use finding::Finding;
pub use host::matches_host;
pub use info::{CertInfo, certificate_subject, parse_certificate};
pub use key::KeyAlgorithm;
pub use trust::TrustStore;
pub use wording::CertProblem;

/// Certificates that expire within this many days get [`Finding::ExpiresSoon`].
pub const EXPIRES_SOON_DAYS: i64 = 30;
const DAY: i64 = 86_400;
