//! The TLS ExtensionType registry, plus the unregistered extensions browsers and
//! servers still send (NPN, ALPS, Channel ID, ESNI, draft QUIC parameters).

use super::{Named, UnknownName, find, lookup, name_of, named as e};

pub type ExtensionType = Named;

/// Extension type numbers that code branches on; their names are in [`EXTENSIONS`].
pub mod types {
    pub const SERVER_NAME: u16 = 0;
    pub const STATUS_REQUEST: u16 = 5;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const HEARTBEAT: u16 = 15;
    pub const ALPN: u16 = 16;
    pub const SCT: u16 = 18;
    pub const PADDING: u16 = 21;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const COOKIE: u16 = 44;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const CERTIFICATE_AUTHORITIES: u16 = 47;
    pub const KEY_SHARE: u16 = 51;
    pub const QUIC_TRANSPORT_PARAMETERS: u16 = 57;
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

pub fn extension(id: u16) -> Option<&'static ExtensionType> {
    find(EXTENSIONS, id)
}

/// The registry name, `GREASE_0xHHHH`, or `0xHHHH` for an unknown id.
pub fn extension_name(id: u16) -> String {
    name_of(EXTENSIONS, id)
}

/// A registry name or alias (`alpn`, `sni`), case-insensitive, or `0xHHHH`.
pub fn parse_extension(s: &str) -> Result<u16, UnknownName> {
    lookup(EXTENSIONS, "extension", s)
}

/// Sorted by id. Not IANA assignments: 40, 46, 13172, 17513, 17613, 30031, 30032, 65445, 65486.
/// 40 and 46 are reserved by IANA; TLS 1.3 drafts used them, named here for old captures.
#[rustfmt::skip]
pub static EXTENSIONS: &[ExtensionType] = &[
    e(0, "server_name", &["sni"]),
    e(1, "max_fragment_length", &[]),
    e(2, "client_certificate_url", &[]),
    e(3, "trusted_ca_keys", &[]),
    e(4, "truncated_hmac", &[]),
    e(5, "status_request", &["ocsp"]),
    e(6, "user_mapping", &[]),
    e(7, "client_authz", &[]),
    e(8, "server_authz", &[]),
    e(9, "cert_type", &[]),
    e(10, "supported_groups", &["elliptic_curves"]),
    e(11, "ec_point_formats", &[]),
    e(12, "srp", &[]),
    e(13, "signature_algorithms", &[]),
    e(14, "use_srtp", &[]),
    e(15, "heartbeat", &[]),
    e(16, "application_layer_protocol_negotiation", &["alpn"]),
    e(17, "status_request_v2", &[]),
    e(18, "signed_certificate_timestamp", &["sct"]),
    e(19, "client_certificate_type", &[]),
    e(20, "server_certificate_type", &[]),
    e(21, "padding", &[]),
    e(22, "encrypt_then_mac", &[]),
    e(23, "extended_master_secret", &["ems"]),
    e(24, "token_binding", &[]),
    e(25, "cached_info", &[]),
    e(26, "tls_lts", &[]),
    e(27, "compress_certificate", &[]),
    e(28, "record_size_limit", &[]),
    e(29, "pwd_protect", &[]),
    e(30, "pwd_clear", &[]),
    e(31, "password_salt", &[]),
    e(32, "ticket_pinning", &[]),
    e(33, "tls_cert_with_extern_psk", &[]),
    e(34, "delegated_credential", &["delegated_credentials"]),
    e(35, "session_ticket", &[]),
    e(36, "TLMSP", &[]),
    e(37, "TLMSP_proxying", &[]),
    e(38, "TLMSP_delegate", &[]),
    e(39, "supported_ekt_ciphers", &[]),
    e(40, "key_share_old", &[]),
    e(41, "pre_shared_key", &["psk"]),
    e(42, "early_data", &[]),
    e(43, "supported_versions", &[]),
    e(44, "cookie", &[]),
    e(45, "psk_key_exchange_modes", &[]),
    e(46, "ticket_early_data_info", &[]),
    e(47, "certificate_authorities", &[]),
    e(48, "oid_filters", &[]),
    e(49, "post_handshake_auth", &[]),
    e(50, "signature_algorithms_cert", &[]),
    e(51, "key_share", &[]),
    e(52, "transparency_info", &[]),
    e(53, "connection_id_deprecated", &[]),
    e(54, "connection_id", &[]),
    e(55, "external_id_hash", &[]),
    e(56, "external_session_id", &[]),
    e(57, "quic_transport_parameters", &[]),
    e(58, "ticket_request", &[]),
    e(59, "dnssec_chain", &[]),
    e(60, "sequence_number_encryption_algorithms", &[]),
    e(61, "rrc", &[]),
    e(13172, "next_protocol_negotiation", &["npn"]),
    e(17513, "application_settings", &["alps"]),
    e(17613, "application_settings_new", &[]),
    e(30031, "channel_id_old", &[]),
    e(30032, "channel_id", &[]),
    e(64768, "ech_outer_extensions", &[]),
    e(65037, "encrypted_client_hello", &["ech"]),
    e(65281, "renegotiation_info", &[]),
    e(65445, "quic_transport_parameters_draft", &[]),
    e(65486, "encrypted_server_name", &["esni"]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::registry::tests::check_table;

    #[test]
    fn table_is_sound() {
        check_table(EXTENSIONS, "extension");
        assert!(
            EXTENSIONS.windows(2).all(|w| w[0].id < w[1].id),
            "sorted by id"
        );
        // The registry is dense from 0 to 61.
        let low: Vec<u16> = EXTENSIONS
            .iter()
            .map(|x| x.id)
            .filter(|&id| id <= 61)
            .collect();
        assert_eq!(low, (0..=61).collect::<Vec<u16>>());
    }

    /// tls-parser names the extension types it parses; where it names one (its Display
    /// gives a CamelCase name), our id must be known too.
    #[test]
    fn knows_every_type_tls_parser_knows() {
        for id in 0..=u16::MAX {
            let theirs = format!("{}", tls_parser::TlsExtensionType(id));
            if !theirs.starts_with("TlsExtensionType") && !theirs.contains("Grease") {
                assert!(extension(id).is_some(), "0x{id:04x} {theirs}");
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(extension_name(0xff01), "renegotiation_info");
        assert_eq!(extension_name(0xfe0d), "encrypted_client_hello");
        assert_eq!(extension_name(0x3374), "next_protocol_negotiation");
        assert_eq!(extension_name(0xdada), "GREASE_0xdada");
        assert_eq!(extension_name(0x1234), "0x1234");
        assert_eq!(parse_extension("ALPN"), Ok(16));
        assert_eq!(parse_extension("Key_Share"), Ok(51));
        assert_eq!(parse_extension("0x1234"), Ok(0x1234));
        assert_eq!(
            parse_extension("key_shar").unwrap_err().nearest[0],
            "key_share"
        );
    }
}
