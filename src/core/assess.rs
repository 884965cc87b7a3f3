//! From what was seen to why it failed: the one assessment step every command takes. It
//! checks the chain the verdict holds (against the context's trust store and clock) and
//! reads the verdict, what the client offered and the certificate findings for causes, each
//! with a detail from the actual exchange and the fix in operator terms. Pure: everything
//! that depends on the world comes in with the [`Context`].

pub use crate::core::cause::{Cause, Diagnosis};
use crate::core::cert::{CertInfo, ChainChecker, Finding};
use crate::core::flow::Direction;
use crate::core::session::{
    Attack, NO_PROGRESS_BYTES, NO_PROGRESS_RECORDS, Outcome, Stall, StallLimit, Verdict,
};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::{alert_name, suite_name};
use crate::core::wire::sslv2::Sslv2ClientHello;
use crate::core::wire::starttls::{self, Protocol};
use std::sync::Arc;

/// Why no connection was made (a probe's connect error), as a value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectError {
    /// Nothing listened there (TCP RST to the SYN).
    pub refused: bool,
    /// The operating system's reason.
    pub reason: String,
}

/// What the assessment needs besides the verdict: everything that depends on the world
/// (the clock, the trust store, the name meant) comes in here as a value.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    /// The name the client meant to reach, which the certificate must be valid for: the
    /// SNI sent (or given with `--sni`), the target name otherwise.
    pub host: Option<&'a str>,
    /// Where the connection went (for the connect-failure detail).
    pub target: Option<&'a str>,
    /// Unix seconds the certificates are checked as of.
    pub now_unix: i64,
    /// Chain checks: the trust store, and the memo of chains already checked.
    pub chains: Option<&'a ChainChecker>,
    /// Set when no connection was made: the verdict is then empty.
    pub connect_error: Option<&'a ConnectError>,
    /// Set when the plaintext preamble did not lead to TLS: the verdict is then empty.
    pub preamble_failure: Option<&'a PreambleFailure>,
    /// How a QUIC connection ended below TLS, when it did (a probe over QUIC).
    pub quic_end: Option<&'a QuicEnd>,
}

/// A QUIC connection that ended below TLS: no TLS alert says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuicEnd {
    /// The server answered with Version Negotiation: it does not speak `offered`.
    VersionNegotiation { offered: u32, versions: Vec<u32> },
    /// The server sent a CONNECTION_CLOSE with a transport (or application) error.
    TransportError {
        /// The error's name (RFC 9000 §20.1), or its code in hex when it has none.
        name: String,
        code: u64,
        reason: String,
    },
}

/// A STARTTLS-style preamble that ended before TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreambleFailure {
    pub protocol: Protocol,
    pub failure: starttls::Failure,
    /// The server's last line or answer, printable.
    pub server_said: Option<String>,
}

/// Everything shakedown concludes about one handshake: the chain as parsed, what is wrong
/// with it, and the causes with their fixes, most specific first.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub certificates: Arc<[CertInfo]>,
    pub findings: Vec<Finding>,
    pub diagnosis: Vec<Diagnosis>,
}

/// The one step from verdict to diagnosis, for probe, scan, pcap, watch, simulate, replay
/// and diff alike: the chain is checked against the context's trust store and clock, then
/// the verdict and the findings are read for causes.
pub fn assess(verdict: &Verdict, ctx: &Context<'_>) -> Assessment {
    if let Some(p) = ctx.preamble_failure {
        let (cause, what) = match p.failure {
            starttls::Failure::NotOffered => (
                Cause::StarttlsNotOffered,
                "does not offer the upgrade to TLS",
            ),
            starttls::Failure::Refused => (Cause::StarttlsRefused, "refused the upgrade to TLS"),
            starttls::Failure::PlaintextError => {
                (Cause::PlaintextError, "did not get as far as TLS")
            }
        };
        let said = p
            .server_said
            .as_deref()
            .map(|s| format!(" (last said: {s})"))
            .unwrap_or_default();
        let detail = format!("the server {what} in its {} preamble{said}", p.protocol);
        return Assessment {
            diagnosis: vec![Diagnosis::new(cause, detail)],
            ..Assessment::default()
        };
    }
    if let Some(e) = ctx.connect_error {
        let cause = if e.refused {
            Cause::ConnectionRefused
        } else {
            Cause::ConnectFailed
        };
        let detail = match ctx.target {
            Some(t) => format!("connecting to {t}: {}", e.reason),
            None => format!("connecting: {}", e.reason),
        };
        return Assessment {
            diagnosis: vec![Diagnosis::new(cause, detail)],
            ..Assessment::default()
        };
    }
    let (certificates, findings) = if verdict.certificates.is_empty() {
        (Arc::default(), Vec::new())
    } else {
        let unchecked = ChainChecker::new(None);
        ctx.chains
            .unwrap_or(&unchecked)
            .check(&verdict.certificates, ctx.host, ctx.now_unix)
    };
    let mut diagnosis = diagnose(verdict, &findings);
    if let Some(end) = ctx.quic_end {
        diagnosis.insert(0, quic_diagnosis(end));
    }
    Assessment {
        certificates,
        findings,
        diagnosis,
    }
}

fn quic_diagnosis(end: &QuicEnd) -> Diagnosis {
    match end {
        QuicEnd::VersionNegotiation { offered, versions } => {
            let list: Vec<String> = versions.iter().map(|v| format!("0x{v:08x}")).collect();
            Diagnosis::new(
                Cause::QuicVersionMismatch,
                format!(
                    "the server does not speak QUIC version 0x{offered:08x}; it offers {}",
                    if list.is_empty() {
                        "none".to_string()
                    } else {
                        list.join(", ")
                    }
                ),
            )
        }
        QuicEnd::TransportError { name, code, reason } => {
            let said = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason:?}")
            };
            Diagnosis::new(
                Cause::QuicTransportError,
                format!("the server closed the QUIC connection with {name} (0x{code:x}){said}"),
            )
        }
    }
}

/// An attack the tracker saw, as its cause (the table's severity and CVEs come with it).
fn attack(a: &Attack) -> Diagnosis {
    match a {
        Attack::OverlongHeartbeat {
            from,
            declared,
            carried,
            ..
        } => Diagnosis::new(
            Cause::HeartbleedAttempt,
            format!(
                "the {} sent a heartbeat request declaring {declared} payload bytes in a \
                 record that carries {carried}: a Heartbleed probe",
                from.peer()
            ),
        ),
        Attack::HeartbeatOverread {
            from,
            declared,
            record,
            request_carried,
            ..
        } => Diagnosis::new(
            Cause::Heartbleed,
            format!(
                "the {} answered with a heartbeat response of {record} bytes declaring \
                 {declared} payload bytes, to a request that carried {request_carried}: \
                 memory read past the request",
                from.peer()
            ),
        ),
        Attack::EarlyCcs { from, after, .. } => Diagnosis::new(
            Cause::CcsInjectionAttempt,
            format!(
                "the {} sent ChangeCipherSpec after {after}, before any key exchange",
                from.peer()
            ),
        ),
        Attack::EarlyCcsTaken { by, answer, .. } => Diagnosis::new(
            Cause::CcsInjection,
            format!(
                "the {} took the early ChangeCipherSpec instead of refusing it with \
                 unexpected_message: it answered with {answer}",
                by.peer()
            ),
        ),
    }
}

/// Causes for one connection, most specific first. Certificate findings are included even
/// when the handshake went on, since a client that verifies would fail on them.
fn diagnose(verdict: &Verdict, findings: &[Finding]) -> Vec<Diagnosis> {
    // An attack the records show comes first: it is what the rest follows from.
    let mut out: Vec<Diagnosis> = verdict.attacks.iter().map(attack).collect();
    let offered = verdict.client_hello.as_ref();
    let sni_sent = offered.and_then(|h| h.sni_bytes()).is_some();
    let offered_versions = || -> String {
        match offered {
            Some(h) => match h.supported_versions() {
                Some(v) => v
                    .iter()
                    .map(|v| ProtocolVersion(*v).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                None => ProtocolVersion(h.legacy_version).to_string(),
            },
            None => match verdict
                .sslv2_client_hello
                .as_deref()
                .map(Sslv2ClientHello::decode)
            {
                Some(Ok(h)) => format!("an SSLv2-format hello for {}", ProtocolVersion(h.version)),
                _ => "?".into(),
            },
        }
    };

    match verdict.outcome {
        Outcome::NotTls => out.push(Diagnosis::new(
            Cause::NotTls,
            format!(
                "the server answered with non-TLS bytes: {}",
                verdict.not_tls.as_deref().unwrap_or("?")
            ),
        )),
        Outcome::Alert => {
            if let Some(seen) = &verdict.alert {
                out.extend(from_alert(
                    verdict,
                    seen.from,
                    seen.alert.description,
                    sni_sent,
                    &offered_versions,
                ));
            }
        }
        Outcome::NoProgress => out.push(Diagnosis::new(Cause::NoProgress, no_progress(verdict))),
        Outcome::Incomplete if verdict.error_by == Some(Direction::ServerToClient) => {
            out.push(Diagnosis::new(
                Cause::MalformedMessage,
                format!(
                    "the server's answer cannot be decoded ({})",
                    verdict.error.as_deref().unwrap_or("?")
                ),
            ))
        }
        Outcome::Reset | Outcome::Closed | Outcome::Timeout => {
            let server_said_anything = verdict
                .events
                .iter()
                .any(|e| e.dir == Direction::ServerToClient);
            let how = match verdict.outcome {
                Outcome::Reset => "reset the connection",
                Outcome::Closed => "closed the connection",
                _ => "sent nothing more",
            };
            let after = verdict
                .diverged
                .as_ref()
                .map(|d| d.after.clone())
                .unwrap_or_else(|| "ClientHello".into());
            let who = verdict
                .end
                .as_ref()
                .map(|e| e.dir.peer())
                .unwrap_or("server");
            let cause = match verdict.outcome {
                Outcome::Reset => Cause::ConnectionReset,
                Outcome::Closed => Cause::ConnectionClosed,
                _ => Cause::Timeout,
            };
            if verdict.established || !out.is_empty() {
                // A connection that completed and then ended is not a handshake failure;
                // one that carried an attack ended because of it.
            } else {
                let stall = &verdict.stall;
                let detail = if verdict.outcome == Outcome::Timeout && stall.records > 0 {
                    format!(
                        "timeout after {} records ({} bytes) from the server without progress: {} after {after}{}",
                        count(stall.records),
                        count(stall.bytes),
                        awaited(verdict),
                        by_kind(stall)
                    )
                } else if verdict.outcome == Outcome::Timeout
                    && verdict.server_records == 0
                    && verdict.server_bytes > 0
                {
                    format!(
                        "the server sent {} bytes after the ClientHello but not one complete record before the time-out{}",
                        count(verdict.server_bytes),
                        verdict
                            .truncated
                            .as_deref()
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    )
                } else if verdict.outcome == Outcome::Timeout && verdict.server_bytes == 0 {
                    format!(
                        "the server sent nothing after the ClientHello (offered {})",
                        offered_versions()
                    )
                } else if server_said_anything {
                    let without = if stall.records > 0 {
                        format!(
                            ", after {} records without progress{}",
                            count(stall.records),
                            by_kind(stall)
                        )
                    } else {
                        String::new()
                    };
                    format!("the {who} {how} after {after}, without a TLS alert{without}")
                } else {
                    format!(
                        "the server {how} after the ClientHello without answering (offered {})",
                        offered_versions()
                    )
                };
                out.push(Diagnosis::new(cause, detail));
            }
        }
        _ => {}
    }

    // GnuTLS (and others) answer an untrusted chain with bad_certificate, not unknown_ca.
    // When nothing checkable without a trust store explains the rejection (the chain is
    // complete, in date, valid for the name), what is left is trust in its root.
    let client_rejected_certificate = verdict.alert.as_ref().is_some_and(|a| {
        a.from == Direction::ClientToServer
            && matches!(
                a.alert.description,
                alert::BAD_CERTIFICATE | alert::CERTIFICATE_UNKNOWN
            )
    });
    let explained = findings.iter().any(|f| {
        !matches!(
            f,
            Finding::ExpiresSoon { .. } | Finding::WeakKey { .. } | Finding::WeakSignature { .. }
        )
    });
    if verdict.outcome == Outcome::Alert
        && client_rejected_certificate
        && !verdict.certificates.is_empty()
        && !explained
    {
        out.push(Diagnosis::new(Cause::UntrustedRoot,
            "the chain is complete, in date and valid for the name, yet the client rejected it: it does not trust the root".into(),
        ));
    }

    // A client that answered the request and finished the handshake had what it took.
    if verdict.certificate_request.is_some()
        && !verdict.established
        && !out
            .iter()
            .any(|d| d.cause == Cause::ClientCertificateRequired)
    {
        out.push(Diagnosis::new(Cause::ClientCertificateRequired,
            "the server sent CertificateRequest: it asks for a client certificate (and rejects clients without one when verification is mandatory)".into(),
        ));
    }

    // unknown_ca says only "not trusted": the chain says why (a missing intermediate, a
    // self-signed leaf, or a root the trust store does not hold).
    if let Some(pos) = out.iter().position(|d| d.cause == Cause::UntrustedRoot)
        && let Some(f) = findings.iter().find(|f| {
            matches!(
                f.cause(),
                Cause::IncompleteChain
                    | Cause::UnknownIssuer
                    | Cause::SelfSigned
                    | Cause::UntrustedRoot
            )
        })
    {
        out[pos] = Diagnosis::new(
            f.cause(),
            format!("{} (the client answered unknown_ca)", f.detail()),
        );
    }
    add_findings(&mut out, findings);
    out
}

/// The `no_progress` detail: what the server sent, what it never sent, and which budget
/// ended it.
fn no_progress(verdict: &Verdict) -> String {
    let stall = &verdict.stall;
    let after = verdict
        .diverged
        .as_ref()
        .map_or("the ClientHello", |d| d.after.as_str());
    let why = match stall.ended_by {
        Some(StallLimit::Bytes) => format!(
            "shakedown stops after {} bytes without progress",
            count(NO_PROGRESS_BYTES)
        ),
        Some(StallLimit::ReadCap) => "the probe stopped at its read cap".to_string(),
        Some(StallLimit::Records) | None => format!(
            "shakedown stops after {} records without progress",
            count(NO_PROGRESS_RECORDS)
        ),
    };
    format!(
        "the server sent {} records ({} bytes) after {after} and {}{}; {why}",
        count(stall.records),
        count(stall.bytes),
        awaited(verdict),
        by_kind(stall)
    )
}

/// What the server did not send: its ServerHello, or the next handshake message.
fn awaited(verdict: &Verdict) -> &'static str {
    if verdict.server_hello.is_none() && verdict.hello_retry_request.is_none() {
        "no ServerHello"
    } else {
        "no further handshake message"
    }
}

/// " (1,000 change_cipher_spec records)": the stalled records by content type.
fn by_kind(stall: &Stall) -> String {
    let parts: Vec<String> = Stall::KINDS
        .iter()
        .zip(stall.by_kind)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| {
            let unit = match (*k, n) {
                ("alert", 1) => "",
                ("alert", _) => "s",
                (_, 1) => " record",
                _ => " records",
            };
            format!("{} {k}{unit}", count(n))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// A count with thousands separators: 10000 → "10,000".
fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn add_findings(out: &mut Vec<Diagnosis>, findings: &[Finding]) {
    for f in findings {
        let cause = f.cause();
        if !out.iter().any(|d| d.cause == cause) {
            let mut d = Diagnosis::new(cause, f.detail());
            d.library_detail = f.library_detail();
            out.push(d);
        }
    }
}

fn from_alert(
    verdict: &Verdict,
    from: Direction,
    description: u8,
    sni_sent: bool,
    offered_versions: &dyn Fn() -> String,
) -> Vec<Diagnosis> {
    let name = alert_name(description);
    let server_hello_seen = verdict.server_hello.is_some();
    let mut out = Vec::new();
    match (from, description) {
        (Direction::ServerToClient, alert::PROTOCOL_VERSION) => out.push(Diagnosis::new(Cause::ProtocolMismatch,
            format!("the server refused the offered versions ({}) with protocol_version", offered_versions()),
        )),
        (Direction::ServerToClient, alert::UNRECOGNIZED_NAME) => out.push(Diagnosis::new(
            if sni_sent { Cause::UnrecognizedName } else { Cause::SniRequired },
            match verdict.client_hello.as_ref().and_then(|h| h.sni()) {
                Some(n) => format!("the server does not serve the name {n:?} (unrecognized_name)"),
                None => "the hello carried no SNI and the server answered unrecognized_name".into(),
            },
        )),
        (Direction::ServerToClient, alert::CERTIFICATE_REQUIRED) => out.push(Diagnosis::new(Cause::ClientCertificateRequired,
            "the server requires a client certificate (certificate_required)".into(),
        )),
        (Direction::ServerToClient, alert::HANDSHAKE_FAILURE | alert::INSUFFICIENT_SECURITY)
            if verdict.certificate_request.is_some() =>
        {
            out.push(Diagnosis::new(Cause::ClientCertificateRequired,
                format!("the server asked for a client certificate and then sent {name}"),
            ))
        }
        (Direction::ServerToClient, alert::HANDSHAKE_FAILURE | alert::INSUFFICIENT_SECURITY)
            if !server_hello_seen =>
        {
            let offered = verdict
                .client_hello
                .as_ref()
                .map(|h| h.cipher_suites.len())
                .unwrap_or(0);
            if !sni_sent {
                out.push(Diagnosis::new(Cause::SniRequired,
                    format!("the hello carried no SNI and the server answered {name}; some servers need SNI to pick a certificate"),
                ));
            }
            out.push(Diagnosis::new(Cause::NoSharedCipher,
                format!("the server answered the ClientHello with {name}: none of the {offered} offered suites (or groups/signature algorithms) is acceptable to it"),
            ));
        }
        (Direction::ServerToClient, alert::ILLEGAL_PARAMETER | alert::DECODE_ERROR) if !server_hello_seen => {
            out.push(Diagnosis::new(Cause::MalformedHello, format!("the server rejected the hello as {name}")))
        }
        (Direction::ServerToClient, alert::INTERNAL_ERROR) => {
            out.push(Diagnosis::new(Cause::InternalError, format!("the server sent {name}")))
        }
        (Direction::ClientToServer, alert::CERTIFICATE_EXPIRED) => out.push(Diagnosis::new(Cause::CertificateExpired,
            "the client rejected the server's certificate as expired (certificate_expired)".into(),
        )),
        (Direction::ClientToServer, alert::UNKNOWN_CA) => out.push(Diagnosis::new(Cause::UntrustedRoot,
            "the client does not trust the issuer of the server's certificate (unknown_ca): an unknown private CA, or a missing intermediate".into(),
        )),
        (Direction::ClientToServer, alert::BAD_CERTIFICATE | alert::CERTIFICATE_UNKNOWN) => out.push(Diagnosis::new(Cause::CertificateRejected,
            format!("the client rejected the server's certificate ({name}); host name mismatch is a common reason"),
        )),
        (Direction::ClientToServer, alert::PROTOCOL_VERSION) => out.push(Diagnosis::new(Cause::ProtocolMismatch,
            format!("the client refused the version the server chose ({})", verdict.version.map(|v| ProtocolVersion(v).to_string()).unwrap_or_default()),
        )),
        (Direction::ClientToServer, alert::HANDSHAKE_FAILURE) if server_hello_seen => out.push(Diagnosis::new(Cause::NoSharedCipher,
            format!(
                "the client refused what the server chose ({}) with handshake_failure",
                verdict.cipher.map(suite_name).unwrap_or_default()
            ),
        )),
        _ => {}
    }
    out
}
