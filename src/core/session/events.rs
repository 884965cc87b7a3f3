//! The timeline of a connection: one [`Event`] per step, its text kept as facts and put
//! into words only when shown.

use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{alert_name, group_name, sigalg_name, suite_name};
use crate::core::wire::server::Alert;

/// One step of the human-readable timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Micros,
    pub dir: Direction,
    pub what: EventText,
}

/// What an event says. The common ones keep their facts and are put into words when shown:
/// most connections of a large capture never are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventText {
    Static(&'static str),
    Text(String),
    End(EndKind),
    /// A record summed up by its kind ("application data", "encrypted alert", …) and size.
    Record {
        kind: &'static str,
        len: usize,
    },
    Alert {
        alert: Alert,
        encrypted: bool,
    },
    ClientHello {
        again: bool,
        suites: usize,
        extensions: usize,
    },
    ServerHello {
        version: u16,
        suite: u16,
    },
    HelloRetryRequest {
        group: Option<u16>,
    },
    Certificate {
        certs: usize,
        ocsp: bool,
        scts: bool,
    },
    EcdheKeyExchange {
        group: u16,
    },
    DheKeyExchange {
        prime_bits: usize,
    },
    OpaqueKeyExchange {
        len: usize,
    },
    CertificateVerify {
        scheme: u16,
    },
    UnknownMessage {
        typ: u8,
        len: usize,
    },
}

impl std::fmt::Display for EventText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventText::Static(s) => f.write_str(s),
            EventText::Text(s) => f.write_str(s),
            EventText::End(kind) => write!(f, "end: {}", kind.as_str()),
            EventText::Record { kind, len } => write!(f, "{kind} ({len} bytes)"),
            EventText::Alert { alert, encrypted } => write!(
                f,
                "{}Alert {} {} ({})",
                if *encrypted { "encrypted " } else { "" },
                alert.level_name(),
                alert_name(alert.description),
                alert.description
            ),
            EventText::ClientHello {
                again,
                suites,
                extensions,
            } => write!(
                f,
                "ClientHello{} ({suites} cipher suites, {extensions} extensions)",
                if *again { " (again)" } else { "" }
            ),
            EventText::ServerHello { version, suite } => write!(
                f,
                "ServerHello ({}, {})",
                ProtocolVersion(*version),
                suite_name(*suite)
            ),
            EventText::HelloRetryRequest { group: Some(g) } => {
                write!(f, "HelloRetryRequest (group {})", group_name(*g))
            }
            EventText::HelloRetryRequest { group: None } => f.write_str("HelloRetryRequest"),
            EventText::Certificate { certs, ocsp, scts } => write!(
                f,
                "Certificate ({certs} cert{}{}{})",
                if *certs == 1 { "" } else { "s" },
                if *ocsp { ", leaf with OCSP status" } else { "" },
                if *scts { ", leaf with SCTs" } else { "" }
            ),
            EventText::EcdheKeyExchange { group } => {
                write!(f, "ServerKeyExchange (ECDHE, group {})", group_name(*group))
            }
            EventText::DheKeyExchange { prime_bits } => {
                write!(f, "ServerKeyExchange (DHE, {prime_bits}-bit prime)")
            }
            EventText::OpaqueKeyExchange { len } => write!(f, "ServerKeyExchange ({len} bytes)"),
            EventText::CertificateVerify { scheme } => {
                write!(f, "CertificateVerify ({})", sigalg_name(*scheme))
            }
            EventText::UnknownMessage { typ, len } => {
                write!(f, "handshake message of type {typ} ({len} bytes)")
            }
        }
    }
}

impl From<String> for EventText {
    fn from(s: String) -> Self {
        EventText::Text(s)
    }
}

impl From<&'static str> for EventText {
    fn from(s: &'static str) -> Self {
        EventText::Static(s)
    }
}
