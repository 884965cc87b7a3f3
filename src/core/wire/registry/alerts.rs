//! TLS alert descriptions (RFC 8446 names, the `_RESERVED` ones of older versions
//! included) and alert levels.

use super::{Entry, UnknownName, lookup};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub code: u8,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

impl Entry for Alert {
    fn id(&self) -> u16 {
        u16::from(self.code)
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn aliases(&self) -> &[&'static str] {
        self.aliases
    }
}

/// Alert descriptions that code branches on; their names are in [`ALERTS`].
pub mod codes {
    pub const CLOSE_NOTIFY: u8 = 0;
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    pub const BAD_RECORD_MAC: u8 = 20;
    pub const DECRYPTION_FAILED: u8 = 21;
    pub const HANDSHAKE_FAILURE: u8 = 40;
    pub const BAD_CERTIFICATE: u8 = 42;
    pub const CERTIFICATE_EXPIRED: u8 = 45;
    pub const CERTIFICATE_UNKNOWN: u8 = 46;
    pub const ILLEGAL_PARAMETER: u8 = 47;
    pub const UNKNOWN_CA: u8 = 48;
    pub const DECODE_ERROR: u8 = 50;
    pub const PROTOCOL_VERSION: u8 = 70;
    pub const INSUFFICIENT_SECURITY: u8 = 71;
    pub const INTERNAL_ERROR: u8 = 80;
    pub const INAPPROPRIATE_FALLBACK: u8 = 86;
    pub const UNRECOGNIZED_NAME: u8 = 112;
    pub const CERTIFICATE_REQUIRED: u8 = 116;
}

/// The RFC name (`handshake_failure`), or `0xHH` for an unknown code.
pub fn alert_name(code: u8) -> Cow<'static, str> {
    match ALERTS.iter().find(|a| a.code == code) {
        Some(a) => Cow::Borrowed(a.name),
        None => Cow::Owned(format!("0x{code:02x}")),
    }
}

pub fn alert_level_name(level: u8) -> &'static str {
    match level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown",
    }
}

/// An alert name or alias (case-insensitive) or `0xHH`.
pub fn parse_alert(s: &str) -> Result<u8, UnknownName> {
    let id = lookup(ALERTS, "alert", s)?;
    u8::try_from(id).map_err(|_| UnknownName {
        kind: "alert",
        given: s.trim().to_string(),
        nearest: Vec::new(),
    })
}

const fn a(code: u8, name: &'static str, aliases: &'static [&'static str]) -> Alert {
    Alert {
        code,
        name,
        aliases,
    }
}

/// Sorted by code. The `_RESERVED` names are RFC 8446's for alerts of older versions;
/// their TLS 1.2 spellings are aliases.
#[rustfmt::skip]
pub static ALERTS: &[Alert] = &[
    a(0, "close_notify", &[]),
    a(10, "unexpected_message", &[]),
    a(20, "bad_record_mac", &[]),
    a(21, "decryption_failed_RESERVED", &["decryption_failed"]),
    a(22, "record_overflow", &[]),
    a(30, "decompression_failure_RESERVED", &["decompression_failure"]),
    a(40, "handshake_failure", &[]),
    a(41, "no_certificate_RESERVED", &["no_certificate"]),
    a(42, "bad_certificate", &[]),
    a(43, "unsupported_certificate", &[]),
    a(44, "certificate_revoked", &[]),
    a(45, "certificate_expired", &[]),
    a(46, "certificate_unknown", &[]),
    a(47, "illegal_parameter", &[]),
    a(48, "unknown_ca", &[]),
    a(49, "access_denied", &[]),
    a(50, "decode_error", &[]),
    a(51, "decrypt_error", &[]),
    a(52, "too_many_cids_requested", &[]),
    a(60, "export_restriction_RESERVED", &["export_restriction"]),
    a(70, "protocol_version", &[]),
    a(71, "insufficient_security", &[]),
    a(80, "internal_error", &[]),
    a(86, "inappropriate_fallback", &[]),
    a(90, "user_canceled", &[]),
    a(100, "no_renegotiation_RESERVED", &["no_renegotiation"]),
    a(109, "missing_extension", &[]),
    a(110, "unsupported_extension", &[]),
    a(111, "certificate_unobtainable_RESERVED", &["certificate_unobtainable"]),
    a(112, "unrecognized_name", &[]),
    a(113, "bad_certificate_status_response", &[]),
    a(114, "bad_certificate_hash_value_RESERVED", &["bad_certificate_hash_value"]),
    a(115, "unknown_psk_identity", &[]),
    a(116, "certificate_required", &[]),
    a(117, "general_error", &[]),
    a(120, "no_application_protocol", &[]),
    a(121, "ech_required", &[]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::registry::tests::check_table;

    #[test]
    fn table_is_sound() {
        check_table(ALERTS, "alert");
        assert!(
            ALERTS.windows(2).all(|w| w[0].code < w[1].code),
            "sorted by code"
        );
        for al in ALERTS {
            assert_eq!(alert_name(al.code), al.name);
            assert_eq!(parse_alert(al.name), Ok(al.code));
        }
    }

    /// Every alert tls-parser names (its Display falls back to the type name for
    /// unknown codes) is in our table.
    #[test]
    fn knows_every_alert_tls_parser_knows() {
        for code in 0..=u8::MAX {
            let theirs = format!("{}", tls_parser::TlsAlertDescription(code));
            if !theirs.starts_with("TlsAlertDescription") {
                assert!(ALERTS.iter().any(|a| a.code == code), "{code} {theirs}");
            }
        }
    }

    #[test]
    fn codes_are_the_alerts_their_names_say() {
        use codes::*;
        for (code, name) in [
            (CLOSE_NOTIFY, "close_notify"),
            (HANDSHAKE_FAILURE, "handshake_failure"),
            (BAD_CERTIFICATE, "bad_certificate"),
            (CERTIFICATE_EXPIRED, "certificate_expired"),
            (CERTIFICATE_UNKNOWN, "certificate_unknown"),
            (ILLEGAL_PARAMETER, "illegal_parameter"),
            (UNKNOWN_CA, "unknown_ca"),
            (DECODE_ERROR, "decode_error"),
            (PROTOCOL_VERSION, "protocol_version"),
            (INSUFFICIENT_SECURITY, "insufficient_security"),
            (INTERNAL_ERROR, "internal_error"),
            (INAPPROPRIATE_FALLBACK, "inappropriate_fallback"),
            (UNRECOGNIZED_NAME, "unrecognized_name"),
            (CERTIFICATE_REQUIRED, "certificate_required"),
        ] {
            assert_eq!(alert_name(code), name);
        }
    }

    #[test]
    fn names() {
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(112), "unrecognized_name");
        assert_eq!(alert_name(200), "0xc8");
        assert_eq!(alert_level_name(1), "warning");
        assert_eq!(alert_level_name(2), "fatal");
        assert_eq!(alert_level_name(3), "unknown");
        assert_eq!(parse_alert("NO_CERTIFICATE"), Ok(41));
        assert_eq!(parse_alert("0x28"), Ok(40));
        assert!(parse_alert("0x128").is_err());
        assert_eq!(
            parse_alert("handshake_failur").unwrap_err().nearest[0],
            "handshake_failure"
        );
    }
}
