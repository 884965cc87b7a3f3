//! From what was seen to why it failed: cause ids (stable, snake_case), a detail built from
//! the actual exchange, and the fix in operator terms. Pure: it reads a [`Verdict`], what
//! the client offered and the certificate findings, nothing else.

use crate::core::cert::Finding;
use crate::core::flow::Direction;
use crate::core::session::{Outcome, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::{alert_name, suite_name};
use crate::core::wire::sslv2::Sslv2ClientHello;

/// One cause, with what in this exchange points to it and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub cause: &'static str,
    pub detail: String,
    pub fix: &'static str,
}

/// Every cause id shakedown reports, with its fix: one table, so text, JSON and the README
/// cannot drift apart.
pub static CAUSES: &[(&str, &str)] = &[
    (
        "protocol_mismatch",
        "Enable a common version: server `ssl_protocols TLSv1.2 TLSv1.3;` (nginx), `SSLProtocol` (Apache), `MinProtocol` (openssl.cnf); or upgrade the client.",
    ),
    (
        "no_shared_cipher",
        "Make the suite lists overlap: server `ssl_ciphers` (nginx) / `SSLCipherSuite` (Apache), or the client's cipher list; `shakedown scan` lists what the server accepts.",
    ),
    (
        "sni_required",
        "Send SNI (behind an nginx proxy: `proxy_ssl_server_name on;`), or give the server a default certificate (`listen 443 ssl default_server`).",
    ),
    (
        "unrecognized_name",
        "The server has no virtual host for this name: add a `server_name` block or SAN for it, or send a name it serves (`proxy_ssl_name`).",
    ),
    (
        "hostname_mismatch",
        "Reissue the certificate with this name in subjectAltName, or connect with a name the certificate lists.",
    ),
    (
        "certificate_expired",
        "Renew the certificate and reload the server (a renewed file is served only after a reload).",
    ),
    (
        "certificate_not_yet_valid",
        "Check the clock of the issuing host and of this client; reissue with a correct notBefore.",
    ),
    (
        "certificate_expires_soon",
        "Renew the certificate before it expires; check that automated renewal runs.",
    ),
    (
        "incomplete_chain",
        "Serve the full chain, leaf first then intermediates: nginx `ssl_certificate fullchain.pem;`, Apache `SSLCertificateFile` with the chain appended.",
    ),
    (
        "chain_misordered",
        "Order the chain file leaf first, then each issuer in turn; leave the root out.",
    ),
    (
        "untrusted_root",
        "Use a certificate from a CA the clients trust, or add the private CA to the clients' trust store (curl `--cacert`, Java keytool).",
    ),
    (
        "self_signed",
        "Replace the self-signed certificate with a CA-issued one, or pin it explicitly on the clients.",
    ),
    (
        "client_certificate_required",
        "Give the client a certificate from a CA the server trusts (curl `--cert/--key`, nginx upstream `proxy_ssl_certificate`), or make it optional (`ssl_verify_client optional;`).",
    ),
    (
        "certificate_rejected",
        "The client refused the server's certificate: check expiry, host name and chain with `shakedown probe` against the server.",
    ),
    (
        "weak_key",
        "Reissue with RSA >= 2048 bits or an ECDSA P-256 key.",
    ),
    (
        "wrong_key_usage",
        "Reissue the server certificate with `extendedKeyUsage = serverAuth` (or without the extension); a clientAuth-only certificate cannot serve TLS.",
    ),
    (
        "weak_signature",
        "Reissue the certificate signed with SHA-256 or better.",
    ),
    (
        "certificate_unparseable",
        "The server sends bytes that are not a valid X.509 certificate: check the certificate file.",
    ),
    (
        "malformed_hello",
        "The server rejected the hello's encoding: check the options that made it (raw extensions, lengths), or the server's parser.",
    ),
    (
        "not_tls",
        "This port does not speak TLS: use the TLS port, or enable TLS on the listener (`listen 443 ssl;`) and check the load balancer's listener protocol.",
    ),
    (
        "connection_refused",
        "Nothing listens there: check the port, the service, and firewalls in between.",
    ),
    (
        "connect_failed",
        "The TCP connection could not be made: check the address, routing and firewalls.",
    ),
    (
        "connection_reset",
        "The connection was reset without a TLS alert: often a firewall/IPS or a server that drops hellos it dislikes (version, SNI, length); try `--tls` older or newer, `--no-sni`, or `scan` for intolerance.",
    ),
    (
        "connection_closed",
        "The server closed without a TLS alert: servers and load balancers do this for versions or names they do not serve; compare with `--tls` and `--sni` variants.",
    ),
    (
        "timeout",
        "No answer in time: the server may be overloaded, a firewall may drop the packets, or the service waits for something else first (STARTTLS).",
    ),
    (
        "internal_error",
        "The server failed internally (alert internal_error): read its error log.",
    ),
];

/// The fix for a cause id ("" for an unknown id, which is a bug in the caller).
pub fn fix_for(cause: &str) -> &'static str {
    CAUSES
        .iter()
        .find(|(id, _)| *id == cause)
        .map(|(_, fix)| *fix)
        .unwrap_or("")
}

fn diagnosis(cause: &'static str, detail: String) -> Diagnosis {
    debug_assert!(!fix_for(cause).is_empty(), "cause {cause} has no fix");
    Diagnosis {
        cause,
        detail,
        fix: fix_for(cause),
    }
}

/// What the diagnosis needs to know besides the verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The host name the client meant to reach (for the "SNI required" reading).
    pub host: Option<&'a str>,
}

/// Causes for one connection, most specific first. Certificate findings are included even
/// when the handshake went on, since a client that verifies would fail on them.
pub fn diagnose(verdict: &Verdict, findings: &[Finding], _ctx: Context<'_>) -> Vec<Diagnosis> {
    let mut out = Vec::new();
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
        Outcome::NotTls => out.push(diagnosis(
            "not_tls",
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
                Outcome::Reset => "connection_reset",
                Outcome::Closed => "connection_closed",
                _ => "timeout",
            };
            if verdict.established {
                // A connection that completed and then ended is not a handshake failure.
            } else {
                let detail = if server_said_anything {
                    format!("the {who} {how} after {after}, without a TLS alert")
                } else {
                    format!(
                        "the server {how} after the ClientHello without answering (offered {})",
                        offered_versions()
                    )
                };
                out.push(diagnosis(cause, detail));
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
        out.push(diagnosis(
            "untrusted_root",
            "the chain is complete, in date and valid for the name, yet the client rejected it: it does not trust the root".into(),
        ));
    }

    // A client that answered the request and finished the handshake had what it took.
    if verdict.certificate_request.is_some()
        && !verdict.established
        && !out.iter().any(|d| d.cause == "client_certificate_required")
    {
        out.push(diagnosis(
            "client_certificate_required",
            "the server sent CertificateRequest: it asks for a client certificate (and rejects clients without one when verification is mandatory)".into(),
        ));
    }

    // unknown_ca says only "not trusted": the chain says why (a missing intermediate, a
    // self-signed leaf, or a root the trust store does not hold).
    if let Some(pos) = out.iter().position(|d| d.cause == "untrusted_root")
        && let Some(f) = findings.iter().find(|f| {
            matches!(
                f.cause(),
                "incomplete_chain" | "self_signed" | "untrusted_root"
            )
        })
    {
        out[pos] = diagnosis(
            f.cause(),
            format!("{} (the client answered unknown_ca)", f.detail()),
        );
    }
    add_findings(&mut out, findings);
    out
}

/// Certificate findings as diagnoses, one per cause (for a chain seen outside a verdict).
pub fn from_findings(findings: &[Finding]) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    add_findings(&mut out, findings);
    out
}

fn add_findings(out: &mut Vec<Diagnosis>, findings: &[Finding]) {
    for f in findings {
        let cause = f.cause();
        if !out.iter().any(|d| d.cause == cause) {
            out.push(diagnosis(cause, f.detail()));
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
        (Direction::ServerToClient, alert::PROTOCOL_VERSION) => out.push(diagnosis(
            "protocol_mismatch",
            format!("the server refused the offered versions ({}) with protocol_version", offered_versions()),
        )),
        (Direction::ServerToClient, alert::UNRECOGNIZED_NAME) => out.push(diagnosis(
            if sni_sent { "unrecognized_name" } else { "sni_required" },
            match verdict.client_hello.as_ref().and_then(|h| h.sni()) {
                Some(n) => format!("the server does not serve the name {n:?} (unrecognized_name)"),
                None => "the hello carried no SNI and the server answered unrecognized_name".into(),
            },
        )),
        (Direction::ServerToClient, alert::CERTIFICATE_REQUIRED) => out.push(diagnosis(
            "client_certificate_required",
            "the server requires a client certificate (certificate_required)".into(),
        )),
        (Direction::ServerToClient, alert::HANDSHAKE_FAILURE | alert::INSUFFICIENT_SECURITY)
            if verdict.certificate_request.is_some() =>
        {
            out.push(diagnosis(
                "client_certificate_required",
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
                out.push(diagnosis(
                    "sni_required",
                    format!("the hello carried no SNI and the server answered {name}; some servers need SNI to pick a certificate"),
                ));
            }
            out.push(diagnosis(
                "no_shared_cipher",
                format!("the server answered the ClientHello with {name}: none of the {offered} offered suites (or groups/signature algorithms) is acceptable to it"),
            ));
        }
        (Direction::ServerToClient, alert::ILLEGAL_PARAMETER | alert::DECODE_ERROR) if !server_hello_seen => {
            out.push(diagnosis("malformed_hello", format!("the server rejected the hello as {name}")))
        }
        (Direction::ServerToClient, alert::INTERNAL_ERROR) => {
            out.push(diagnosis("internal_error", format!("the server sent {name}")))
        }
        (Direction::ClientToServer, alert::CERTIFICATE_EXPIRED) => out.push(diagnosis(
            "certificate_expired",
            "the client rejected the server's certificate as expired (certificate_expired)".into(),
        )),
        (Direction::ClientToServer, alert::UNKNOWN_CA) => out.push(diagnosis(
            "untrusted_root",
            "the client does not trust the issuer of the server's certificate (unknown_ca): an unknown private CA, or a missing intermediate".into(),
        )),
        (Direction::ClientToServer, alert::BAD_CERTIFICATE | alert::CERTIFICATE_UNKNOWN) => out.push(diagnosis(
            "certificate_rejected",
            format!("the client rejected the server's certificate ({name}); host name mismatch is a common reason"),
        )),
        (Direction::ClientToServer, alert::PROTOCOL_VERSION) => out.push(diagnosis(
            "protocol_mismatch",
            format!("the client refused the version the server chose ({})", verdict.version.map(|v| ProtocolVersion(v).to_string()).unwrap_or_default()),
        )),
        (Direction::ClientToServer, alert::HANDSHAKE_FAILURE) if server_hello_seen => out.push(diagnosis(
            "no_shared_cipher",
            format!(
                "the client refused what the server chose ({}) with handshake_failure",
                verdict.cipher.map(suite_name).unwrap_or_default()
            ),
        )),
        _ => {}
    }
    out
}
