//! Why handshakes fail, as one table: every cause shakedown reports, with its stable id
//! (the JSON contract's `diagnosis[].cause`) and its fix in operator terms; the causes that
//! name an attack also carry its severity and CVEs ([`Severity`]: `scan --vulns` uses the
//! same scale). The bottom of the core: certificate findings and the assessment both name
//! causes from here.

/// Every cause shakedown reports, with its id (stable, snake_case: the JSON contract) and
/// its fix in operator terms; a row naming a known attack adds `[Severity, CVE...]` after
/// its id. One table, so text, JSON, the schema and the docs cannot drift apart; `match`es
/// on [`Cause`] are exhaustive.
macro_rules! causes {
    (@severity) => { None };
    (@severity $s:ident) => { Some(Severity::$s) };
    ($($variant:ident = $id:literal $([$sev:ident $(, $cve:literal)*])?, $fix:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Cause { $($variant,)* }

        impl Cause {
            /// Every cause, in table order.
            pub const ALL: &'static [Cause] = &[$(Cause::$variant,)*];

            /// The stable id used in `diagnosis[].cause`.
            pub fn id(self) -> &'static str {
                match self { $(Cause::$variant => $id,)* }
            }

            /// What to change, in operator terms.
            pub fn fix(self) -> &'static str {
                match self { $(Cause::$variant => $fix,)* }
            }

            /// How bad the exposure is, for a cause that names a known attack.
            pub const fn severity(self) -> Option<Severity> {
                match self { $(Cause::$variant => causes!(@severity $($sev)?),)* }
            }

            /// The CVEs of the attack a cause names (empty for the others).
            pub const fn cves(self) -> &'static [&'static str] {
                match self { $(Cause::$variant => &[$($($cve,)*)?],)* }
            }

            /// The cause with this id.
            pub fn from_id(id: &str) -> Option<Cause> {
                match id { $($id => Some(Cause::$variant),)* _ => None }
            }
        }
    };
}

causes! {
    ProtocolMismatch = "protocol_mismatch",
        "Enable a common version: server `ssl_protocols TLSv1.2 TLSv1.3;` (nginx), `SSLProtocol` (Apache), `MinProtocol` (openssl.cnf); or upgrade the client.";
    NoSharedCipher = "no_shared_cipher",
        "Make the suite and group lists overlap: server `ssl_ciphers` and `ssl_ecdh_curve` (nginx) / `SSLCipherSuite` and `SSLOpenSSLConfCmd Groups` (Apache), or the client's lists (a server that accepts only post-quantum groups needs a client offering X25519MLKEM768); `shakedown scan` lists the suites and groups the server accepts.";
    SniRequired = "sni_required",
        "Send SNI (behind an nginx proxy: `proxy_ssl_server_name on;`), or give the server a default certificate (`listen 443 ssl default_server`).";
    UnrecognizedName = "unrecognized_name",
        "The server has no virtual host for this name: add a `server_name` block or SAN for it, or send a name it serves (`proxy_ssl_name`).";
    HostnameMismatch = "hostname_mismatch",
        "Reissue the certificate with this name in subjectAltName, or connect with a name the certificate lists.";
    CertificateExpired = "certificate_expired",
        "Renew the certificate and reload the server (a renewed file is served only after a reload).";
    CertificateNotYetValid = "certificate_not_yet_valid",
        "Check the clock of the issuing host and of this client; reissue with a correct notBefore.";
    CertificateExpiresSoon = "certificate_expires_soon",
        "Renew the certificate before it expires; check that automated renewal runs.";
    IncompleteChain = "incomplete_chain",
        "Serve the full chain, leaf first then intermediates: nginx `ssl_certificate fullchain.pem;`, Apache `SSLCertificateFile` with the chain appended.";
    UnknownIssuer = "unknown_issuer",
        "Either serve the missing intermediate after the leaf (nginx `ssl_certificate fullchain.pem;`), or, for a private CA, add its root to the clients' trust store (curl `--cacert`, Java keytool).";
    InvalidCa = "invalid_ca",
        "Reissue the intermediate as a CA (`basicConstraints = critical, CA:TRUE`, `keyUsage = keyCertSign, cRLSign`), or have the leaf issued by a real CA certificate.";
    PathLengthExceeded = "path_length_exceeded",
        "Shorten the chain, or reissue the CA whose `basicConstraints pathlen` is too small for the intermediates below it.";
    NameConstraintViolated = "name_constraint_violated",
        "Reissue the leaf with names inside the CA's permitted subtrees, or have it issued by a CA whose nameConstraints allow them.";
    BadSignature = "bad_signature",
        "A certificate's signature does not match its issuer: serve the intermediate that really issued it (not one with the same name and another key), and check the chain file was not edited.";
    UnsupportedAlgorithm = "unsupported_algorithm",
        "Reissue with an algorithm clients verify: ECDSA P-256/P-384 or Ed25519 keys, RSA 2048-8192 bits, signatures with SHA-256 or better.";
    ChainMisordered = "chain_misordered",
        "Order the chain file leaf first, then each issuer in turn; leave the root out.";
    UntrustedRoot = "untrusted_root",
        "Use a certificate from a CA the clients trust, or add the private CA to the clients' trust store (curl `--cacert`, Java keytool).";
    SelfSigned = "self_signed",
        "Replace the self-signed certificate with a CA-issued one, or pin it explicitly on the clients.";
    ClientCertificateRequired = "client_certificate_required",
        "Give the client a certificate from a CA the server trusts (curl `--cert/--key`, nginx upstream `proxy_ssl_certificate`), or make it optional (`ssl_verify_client optional;`).";
    CertificateRejected = "certificate_rejected",
        "The client refused the server's certificate: check expiry, host name and chain with `shakedown probe` against the server.";
    WeakKey = "weak_key",
        "Reissue with RSA >= 2048 bits or an ECDSA P-256 key.";
    WrongKeyUsage = "wrong_key_usage",
        "Reissue the server certificate with `extendedKeyUsage = serverAuth` (or without the extension); a clientAuth-only certificate cannot serve TLS.";
    WeakSignature = "weak_signature",
        "Reissue the certificate signed with SHA-256 or better.";
    CertificateUnparseable = "certificate_unparseable",
        "The server sends bytes that are not a valid X.509 certificate: check the certificate file.";
    MalformedHello = "malformed_hello",
        "The server rejected the hello's encoding: check the options that made it (raw extensions, lengths), or the server's parser.";
    NotTls = "not_tls",
        "This port does not speak TLS: use the TLS port, or enable TLS on the listener (`listen 443 ssl;`) and check the load balancer's listener protocol.";
    StarttlsNotOffered = "starttls_not_offered",
        "Enable the upgrade on the server (postfix `smtpd_tls_security_level = may` with `smtpd_tls_cert_file`/`smtpd_tls_key_file`; dovecot `ssl = yes`; OpenLDAP `olcTLSCertificateFile`/`olcTLSCertificateKeyFile`; MariaDB `ssl_cert`/`ssl_key`), or use the implicit-TLS port (465, 993, 995, 636).";
    StarttlsRefused = "starttls_refused",
        "The server listed or was asked for the upgrade and said no: its TLS setup is usually broken (certificate or key file missing or unreadable; see the server's log), or TLS is off for this client (PostgreSQL: `ssl = on` in postgresql.conf and a `hostssl` line in pg_hba.conf).";
    PlaintextError = "plaintext_error",
        "The server did not speak the expected protocol before TLS (wrong `--starttls` for this port, a banner or proxy in between, or it closed): check which service listens there, or give `--starttls none` for a port that starts with TLS.";
    ConnectionRefused = "connection_refused",
        "Nothing listens there: check the port, the service, and firewalls in between.";
    ConnectFailed = "connect_failed",
        "The TCP connection could not be made: check the address, routing and firewalls.";
    ConnectionReset = "connection_reset",
        "The connection was reset without a TLS alert: often a firewall/IPS or a server that drops hellos it dislikes (version, SNI, length); try `--tls` older or newer, `--no-sni`, or `scan` for intolerance.";
    ConnectionClosed = "connection_closed",
        "The server closed without a TLS alert: servers and load balancers do this for versions or names they do not serve; compare with `--tls` and `--sni` variants.";
    QuicVersionMismatch = "quic_version_mismatch",
        "The server does not speak the QUIC version offered (it answered with Version Negotiation): offer one it lists (`probe --quic --quic-version`), or enable that version on the server.";
    QuicTransportError = "quic_transport_error",
        "The server ended the QUIC connection with a transport error before the handshake completed: its log names the reason; check the transport parameters sent (`--quic-param`) and anything rewriting UDP on the path.";
    NoProgress = "no_progress",
        "The server keeps sending records that do not advance the handshake (empty records, ChangeCipherSpec, warning alerts, HelloRequests or data before its ServerHello): check what answers on this port (a proxy, an IPS, a broken or hostile TLS stack) and its logs; compare with `openssl s_client`.";
    MalformedMessage = "malformed_message",
        "The server sent a record or handshake message that cannot be decoded or exceeds TLS limits (records of 16 KiB, handshake messages up to 1 MiB here): check the server's TLS stack and anything in front of it that rewrites the stream.";
    Timeout = "timeout",
        "No answer in time: the server may be overloaded, a firewall may drop the packets, or the service waits for something else first (STARTTLS).";
    InternalError = "internal_error",
        "The server failed internally (alert internal_error): read its error log.";
    HeartbleedAttempt = "heartbleed_attempt" [Critical, "CVE-2014-0160"],
        "A peer sent a heartbeat request declaring more payload than its record carries: a Heartbleed probe or attack. Find who sent it (the client address); make sure the server runs a TLS library patched for CVE-2014-0160 (OpenSSL 1.0.1g or later) or has heartbeats off (OpenSSL 3 has none).";
    Heartbleed = "heartbleed" [Critical, "CVE-2014-0160"],
        "The peer answered a heartbeat request with more payload than the request carried: its memory leaked (Heartbleed). Upgrade its TLS library (OpenSSL 1.0.1g or later) now, then revoke and reissue its certificate and key, and end the sessions and passwords that were in its memory.";
    CcsInjectionAttempt = "ccs_injection_attempt" [High, "CVE-2014-0224"],
        "The client sent ChangeCipherSpec before any key exchange: a CCS injection probe or attack (or a broken client). Find who sent it; make sure the server's TLS library is patched for CVE-2014-0224 (OpenSSL 1.0.1h, 1.0.0m, 0.9.8za or later).";
    CcsInjection = "ccs_injection" [High, "CVE-2014-0224"],
        "The server took a ChangeCipherSpec sent before any key exchange instead of refusing it with unexpected_message: it is open to CCS injection (keys from an empty master secret). Upgrade its TLS library (OpenSSL 1.0.1h, 1.0.0m, 0.9.8za or later).";
    NotAnsweringTls = "not_answering_tls",
        "The target does not answer TLS hellos as a server should (resets, time-outs, malformed or non-TLS answers, handshakes cut short): check that this port serves TLS itself, that no firewall, IPS or proxy in the way drops or rewrites hellos, and the server's error log.";
}

/// How bad an exposure is (testssl.sh's scale, without its OK/WARN): the severity column of
/// the cause table (attack causes only) and of every `scan --vulns` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl serde::Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl schemars::JsonSchema for Cause {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cause".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
        schemars::json_schema!({
            "description": "A cause id (stable, snake_case).",
            "type": "string",
            "enum": ids,
        })
    }
}

/// One cause, with what in this exchange points to it; the fix is the cause's (JSON
/// carries it as `fix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub cause: Cause,
    /// What in this exchange points to the cause, in our words.
    pub detail: String,
    /// The library's own text behind the detail (x509-parser, rustls-webpki), when there is
    /// one: JSON only, never in text output.
    pub library_detail: Option<String>,
}

impl Diagnosis {
    pub fn new(cause: Cause, detail: String) -> Diagnosis {
        Diagnosis {
            cause,
            detail,
            library_detail: None,
        }
    }

    /// What to change, in operator terms: the cause's fix from the table.
    pub fn fix(&self) -> &'static str {
        self.cause.fix()
    }
}

// The JSON shape of a `Diagnosis` (`cause`, `detail`, `fix`, `library_detail`); its doc
// line is the schema's.
/// One cause, with what in this exchange points to it and what to change.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Diagnosis")]
struct DiagnosisJson<'a> {
    // Fields in key order: JSON lines are written with sorted keys.
    cause: Cause,
    /// For a cause that names a known attack: its CVEs.
    #[serde(skip_serializing_if = "<[_]>::is_empty", default)]
    cve: &'static [&'static str],
    detail: &'a str,
    fix: &'static str,
    /// The library's own text behind the detail (x509-parser, rustls-webpki), when there is
    /// one: JSON only, never in text output.
    #[serde(skip_serializing_if = "Option::is_none")]
    library_detail: Option<&'a str>,
    /// For a cause that names a known attack (`heartbleed`, `ccs_injection` and their
    /// `_attempt`s): how bad it is, on `scan --vulns`' scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
}

impl serde::Serialize for Diagnosis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DiagnosisJson {
            cause: self.cause,
            detail: &self.detail,
            fix: self.fix(),
            severity: self.cause.severity(),
            cve: self.cause.cves(),
            library_detail: self.library_detail.as_deref(),
        }
        .serialize(s)
    }
}

impl schemars::JsonSchema for Diagnosis {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        DiagnosisJson::schema_name()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        DiagnosisJson::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in Cause::ALL {
            assert!(seen.insert(c.id()), "{} twice", c.id());
            assert!(c.id().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!c.fix().is_empty());
            assert_eq!(Cause::from_id(c.id()), Some(c));
            // A CVE only with a severity: the attack causes carry both.
            assert!(c.cves().is_empty() || c.severity().is_some(), "{c}");
            assert!(c.cves().iter().all(|v| v.starts_with("CVE-")), "{c}");
        }
        assert_eq!(Cause::Heartbleed.severity(), Some(Severity::Critical));
        assert_eq!(Cause::CcsInjection.cves(), ["CVE-2014-0224"]);
        assert_eq!(Cause::ProtocolMismatch.severity(), None);
    }
}
