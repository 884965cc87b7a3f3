//! The TLS cipher suite registry: every IANA "TLS Cipher Suites" value, plus the
//! non-IANA suites that real servers still answer (export1024, the pre-RFC ChaCha20
//! code points, old GOST and Netscape FIPS ones). Also the SSLv2 cipher kinds.
//!
//! Attributes (key exchange, authentication, cipher, MAC, first version) are written
//! per row; the tests check them against the local `openssl ciphers` where it knows
//! the suite, and the names against tls-parser's independent IANA table.

use super::{Entry, UnknownName, list_items, lookup, name_or_hex};
use crate::core::wire::ProtocolVersion;
use std::sync::OnceLock;

/// How the premaster secret is agreed. `Dhe`/`Ecdhe` include the anonymous variants
/// (`DH_anon`, `ECDH_anon`), which are ephemeral too; `Any` is TLS 1.3, where the
/// suite does not fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyExchange {
    Null,
    Rsa,
    Dh,
    Dhe,
    Ecdh,
    Ecdhe,
    Psk,
    DhePsk,
    RsaPsk,
    EcdhePsk,
    Krb5,
    Srp,
    EccPwd,
    Gost,
    Any,
}

/// How the server proves who it is. `Null` is "nothing at all" (`TLS_NULL_WITH_NULL_NULL`,
/// SCSVs); `Anon` is an anonymous (EC)DH suite; `Any` is TLS 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authentication {
    Null,
    Anon,
    Rsa,
    Dss,
    Ecdsa,
    Psk,
    Krb5,
    Srp,
    EccPwd,
    Gost,
    Any,
}

/// One cipher suite. `cipher` is the IANA spelling of the bulk cipher ("AES_128_GCM",
/// "3DES_EDE_CBC", "NULL"); `mac` is "AEAD" for AEAD ciphers, else the record MAC
/// ("SHA", "SHA256", "MD5", "IMIT", "OMAC", "GOSTR3411", "NULL").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite {
    pub id: u16,
    pub iana: &'static str,
    pub openssl: Option<&'static str>,
    pub kx: KeyExchange,
    pub auth: Authentication,
    pub cipher: &'static str,
    pub mac: &'static str,
    /// The oldest protocol version the suite can be negotiated in.
    pub min_version: u16,
}

impl Entry for CipherSuite {
    fn id(&self) -> u16 {
        self.id
    }
    fn name(&self) -> &'static str {
        self.iana
    }
    fn aliases(&self) -> &[&'static str] {
        self.openssl.as_slice()
    }
}

impl CipherSuite {
    pub fn is_tls13(&self) -> bool {
        self.min_version == TLS13
    }

    /// TLS_EMPTY_RENEGOTIATION_INFO_SCSV and TLS_FALLBACK_SCSV: signals, not suites.
    pub fn is_scsv(&self) -> bool {
        matches!(self.id, 0x00ff | 0x5600)
    }

    /// Ephemeral key agreement. TLS 1.3 suites count (their key exchange is (EC)DHE
    /// unless a PSK is resumed with psk_ke, which the suite cannot tell).
    pub fn forward_secret(&self) -> bool {
        use KeyExchange::*;
        matches!(self.kx, Dhe | Ecdhe | DhePsk | EcdhePsk | EccPwd | Any)
    }

    /// No server authentication: DH_anon, ECDH_anon, TLS_NULL_WITH_NULL_NULL.
    pub fn anonymous(&self) -> bool {
        matches!(self.auth, Authentication::Anon | Authentication::Null) && !self.is_scsv()
    }

    /// Export-grade (40- or 56-bit) suites, including the non-IANA EXPORT1024 ones.
    pub fn export(&self) -> bool {
        self.iana.contains("EXPORT")
    }

    /// No encryption at all (integrity only).
    pub fn null_cipher(&self) -> bool {
        self.cipher == "NULL" && !self.is_scsv()
    }

    pub fn rc4(&self) -> bool {
        self.cipher.starts_with("RC4")
    }

    /// Single DES (including DES40) or triple DES.
    pub fn des_or_3des(&self) -> bool {
        self.cipher.contains("DES")
    }

    pub fn cbc(&self) -> bool {
        self.cipher.contains("CBC")
    }

    pub fn aead(&self) -> bool {
        self.mac == "AEAD"
    }

    /// Why this suite is weak when negotiated in `version` (empty for SCSVs):
    /// "NULL", "anonymous", "EXPORT", "RC4", "DES" or "3DES", "no forward secrecy",
    /// and "CBC" only for SSLv3 and TLS 1.0, where the record IV is predictable
    /// (BEAST); CBC in TLS 1.1 and 1.2 is not flagged here.
    pub fn weaknesses(&self, version: u16) -> Vec<&'static str> {
        if self.is_scsv() {
            return Vec::new();
        }
        let checks = [
            (self.null_cipher(), "NULL"),
            (self.anonymous(), "anonymous"),
            (self.export(), "EXPORT"),
            (self.rc4(), "RC4"),
            (self.cipher.contains("3DES"), "3DES"),
            (self.des_or_3des() && !self.cipher.contains("3DES"), "DES"),
            (self.cbc() && version <= ProtocolVersion::TLS10.0, "CBC"),
            (!self.forward_secret(), "no forward secrecy"),
        ];
        checks
            .into_iter()
            .filter(|&(weak, _)| weak)
            .map(|(_, w)| w)
            .collect()
    }
}

/// The suite with this id, if the table knows it.
pub fn suite(id: u16) -> Option<&'static CipherSuite> {
    // The rows sorted by id, built once: a pcap report names every suite each connection
    // offers, and a scan of the ~370 rows per name was a good part of `pcap --json`.
    static BY_ID: OnceLock<Vec<&'static CipherSuite>> = OnceLock::new();
    let by_id = BY_ID.get_or_init(|| {
        let mut rows: Vec<&'static CipherSuite> = CIPHER_SUITES.iter().collect();
        // Stable sort, then the first of equal ids: the row `find` would return.
        rows.sort_by_key(|s| s.id);
        rows.dedup_by_key(|s| s.id);
        rows
    });
    let i = by_id.binary_search_by_key(&id, |s| s.id).ok()?;
    Some(by_id[i])
}

/// The IANA name, `GREASE_0xHHHH`, or `0xHHHH` for an unknown id.
pub fn suite_name(id: u16) -> String {
    name_or_hex(suite(id), id)
}

/// An IANA or OpenSSL name (case-insensitive) or `0xHHHH`.
pub fn parse_suite(s: &str) -> Result<u16, UnknownName> {
    lookup(CIPHER_SUITES, "cipher suite", s)
}

/// The keywords [`parse_suites`] expands, each to the matching registry suites in table
/// order. SCSVs are never included: name them (or their ids) to send them.
pub const SUITE_KEYWORDS: &[(&str, &str)] = &[
    ("ALL", "every suite in the table except the SCSVs"),
    ("TLS13", "TLS 1.3 suites"),
    ("LEGACY", "every suite except TLS 1.3 ones"),
    (
        "ECDHE",
        "ephemeral ECDH key exchange with a certificate (not anonymous, not PSK)",
    ),
    (
        "DHE",
        "ephemeral finite-field DH key exchange with a certificate (not anonymous, not PSK)",
    ),
    ("RSA", "static RSA key exchange"),
    ("AEAD", "AEAD ciphers (GCM, CCM, ChaCha20-Poly1305, ...)"),
    ("CBC", "CBC-mode ciphers"),
    ("EXPORT", "export-grade suites"),
    ("NULL", "no encryption"),
    ("ANON", "no authentication"),
    ("RC4", "RC4 ciphers"),
    ("3DES", "triple-DES ciphers"),
    (
        "WEAK",
        "NULL, ANON, EXPORT, RC4, single DES and 3DES together",
    ),
    ("OPENSSL", "suites with a known OpenSSL name"),
];

fn keyword_matches(keyword: &str, s: &CipherSuite) -> bool {
    let certified = !s.anonymous();
    match keyword.to_ascii_uppercase().as_str() {
        "ALL" => true,
        "TLS13" => s.is_tls13(),
        "LEGACY" => !s.is_tls13(),
        "ECDHE" => s.kx == KeyExchange::Ecdhe && certified,
        "DHE" => s.kx == KeyExchange::Dhe && certified,
        "RSA" => s.kx == KeyExchange::Rsa,
        "AEAD" => s.aead(),
        "CBC" => s.cbc(),
        "EXPORT" => s.export(),
        "NULL" => s.null_cipher(),
        "ANON" => s.anonymous(),
        "RC4" => s.rc4(),
        "3DES" => s.cipher.contains("3DES"),
        "WEAK" => s.null_cipher() || s.anonymous() || s.export() || s.rc4() || s.des_or_3des(),
        "OPENSSL" => s.openssl.is_some(),
        _ => false,
    }
}

/// A list of suites and keywords (see [`SUITE_KEYWORDS`]), separated by `,` `:` or
/// whitespace, in the order given; duplicates are kept.
pub fn parse_suites(list: &str) -> Result<Vec<u16>, UnknownName> {
    let mut out = Vec::new();
    for item in list_items(list) {
        if SUITE_KEYWORDS
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(item))
        {
            let chosen = CIPHER_SUITES
                .iter()
                .filter(|s| !s.is_scsv() && keyword_matches(item, s));
            out.extend(chosen.map(|s| s.id));
        } else {
            out.push(parse_suite(item)?);
        }
    }
    Ok(out)
}

/// An SSLv2 CIPHER-SPEC: a 3-byte kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sslv2CipherKind {
    pub id: u32,
    pub name: &'static str,
}

/// SSLv2 cipher kinds: the seven of the SSLv2 draft, Microsoft's RC4_64, and the
/// SSLv3-era and SSLeay additions.
pub static SSLV2_CIPHER_KINDS: &[Sslv2CipherKind] = &[
    Sslv2CipherKind {
        id: 0x000000,
        name: "SSL_CK_NULL_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x010080,
        name: "SSL_CK_RC4_128_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x020080,
        name: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x030080,
        name: "SSL_CK_RC2_128_CBC_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x040080,
        name: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x050080,
        name: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x060040,
        name: "SSL_CK_DES_64_CBC_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x060140,
        name: "SSL_CK_DES_64_CBC_WITH_SHA",
    },
    Sslv2CipherKind {
        id: 0x0700c0,
        name: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0x0701c0,
        name: "SSL_CK_DES_192_EDE3_CBC_WITH_SHA",
    },
    Sslv2CipherKind {
        id: 0x080080,
        name: "SSL_CK_RC4_64_WITH_MD5",
    },
    Sslv2CipherKind {
        id: 0xff0800,
        name: "SSL_CK_DES_64_CFB64_WITH_MD5_1",
    },
    Sslv2CipherKind {
        id: 0xff0810,
        name: "SSL_CK_NULL",
    },
];

/// The name of an SSLv2 cipher kind, or `0xHHHHHH`. In an SSLv2-format ClientHello a
/// kind `0x00HHHH` is an SSLv3/TLS suite: it prints as that suite's name.
pub fn sslv2_cipher_name(kind: u32) -> String {
    match SSLV2_CIPHER_KINDS.iter().find(|k| k.id == kind) {
        Some(k) => k.name.to_string(),
        None if kind >> 16 == 0 => suite_name(kind as u16),
        None => format!("0x{kind:06x}"),
    }
}

const SSL30: u16 = ProtocolVersion::SSLV3.0;
const TLS10: u16 = ProtocolVersion::TLS10.0;
const TLS12: u16 = ProtocolVersion::TLS12.0;
const TLS13: u16 = ProtocolVersion::TLS13.0;

#[allow(clippy::too_many_arguments)]
const fn cs(
    id: u16,
    iana: &'static str,
    openssl: Option<&'static str>,
    kx: KeyExchange,
    auth: Authentication,
    cipher: &'static str,
    mac: &'static str,
    min_version: u16,
) -> CipherSuite {
    CipherSuite {
        id,
        iana,
        openssl,
        kx,
        auth,
        cipher,
        mac,
        min_version,
    }
}

use Authentication as A;
use KeyExchange as K;

/// Every suite, sorted by id. Ids 0x0060-0x0066, 0x0080-0x0083, 0xcc13-0xcc15,
/// 0xfefe/0xfeff, 0xff85/0xff87 and 0xffe0/0xffe1 are not IANA assignments.
#[rustfmt::skip]
pub static CIPHER_SUITES: &[CipherSuite] = &[
cs(0x0000, "TLS_NULL_WITH_NULL_NULL", None, K::Null, A::Null, "NULL", "NULL", SSL30),
cs(0x0001, "TLS_RSA_WITH_NULL_MD5", Some("NULL-MD5"), K::Rsa, A::Rsa, "NULL", "MD5", SSL30),
cs(0x0002, "TLS_RSA_WITH_NULL_SHA", Some("NULL-SHA"), K::Rsa, A::Rsa, "NULL", "SHA", SSL30),
cs(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Some("EXP-RC4-MD5"), K::Rsa, A::Rsa, "RC4_40", "MD5", SSL30),
cs(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Some("RC4-MD5"), K::Rsa, A::Rsa, "RC4_128", "MD5", SSL30),
cs(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Some("RC4-SHA"), K::Rsa, A::Rsa, "RC4_128", "SHA", SSL30),
cs(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", Some("EXP-RC2-CBC-MD5"), K::Rsa, A::Rsa, "RC2_CBC_40", "MD5", SSL30),
cs(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", Some("IDEA-CBC-SHA"), K::Rsa, A::Rsa, "IDEA_CBC", "SHA", SSL30),
cs(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-DES-CBC-SHA"), K::Rsa, A::Rsa, "DES40_CBC", "SHA", SSL30),
cs(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", Some("DES-CBC-SHA"), K::Rsa, A::Rsa, "DES_CBC", "SHA", SSL30),
cs(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Some("DES-CBC3-SHA"), K::Rsa, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x000b, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-DH-DSS-DES-CBC-SHA"), K::Dh, A::Dss, "DES40_CBC", "SHA", SSL30),
cs(0x000c, "TLS_DH_DSS_WITH_DES_CBC_SHA", Some("DH-DSS-DES-CBC-SHA"), K::Dh, A::Dss, "DES_CBC", "SHA", SSL30),
cs(0x000d, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", Some("DH-DSS-DES-CBC3-SHA"), K::Dh, A::Dss, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x000e, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-DH-RSA-DES-CBC-SHA"), K::Dh, A::Rsa, "DES40_CBC", "SHA", SSL30),
cs(0x000f, "TLS_DH_RSA_WITH_DES_CBC_SHA", Some("DH-RSA-DES-CBC-SHA"), K::Dh, A::Rsa, "DES_CBC", "SHA", SSL30),
cs(0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", Some("DH-RSA-DES-CBC3-SHA"), K::Dh, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-EDH-DSS-DES-CBC-SHA"), K::Dhe, A::Dss, "DES40_CBC", "SHA", SSL30),
cs(0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", Some("EDH-DSS-DES-CBC-SHA"), K::Dhe, A::Dss, "DES_CBC", "SHA", SSL30),
cs(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", Some("DHE-DSS-DES-CBC3-SHA"), K::Dhe, A::Dss, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-EDH-RSA-DES-CBC-SHA"), K::Dhe, A::Rsa, "DES40_CBC", "SHA", SSL30),
cs(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", Some("EDH-RSA-DES-CBC-SHA"), K::Dhe, A::Rsa, "DES_CBC", "SHA", SSL30),
cs(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", Some("DHE-RSA-DES-CBC3-SHA"), K::Dhe, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", Some("EXP-ADH-RC4-MD5"), K::Dhe, A::Anon, "RC4_40", "MD5", SSL30),
cs(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", Some("ADH-RC4-MD5"), K::Dhe, A::Anon, "RC4_128", "MD5", SSL30),
cs(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", Some("EXP-ADH-DES-CBC-SHA"), K::Dhe, A::Anon, "DES40_CBC", "SHA", SSL30),
cs(0x001a, "TLS_DH_anon_WITH_DES_CBC_SHA", Some("ADH-DES-CBC-SHA"), K::Dhe, A::Anon, "DES_CBC", "SHA", SSL30),
cs(0x001b, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", Some("ADH-DES-CBC3-SHA"), K::Dhe, A::Anon, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x001e, "TLS_KRB5_WITH_DES_CBC_SHA", Some("KRB5-DES-CBC-SHA"), K::Krb5, A::Krb5, "DES_CBC", "SHA", SSL30),
cs(0x001f, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA", Some("KRB5-DES-CBC3-SHA"), K::Krb5, A::Krb5, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0020, "TLS_KRB5_WITH_RC4_128_SHA", Some("KRB5-RC4-SHA"), K::Krb5, A::Krb5, "RC4_128", "SHA", SSL30),
cs(0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA", Some("KRB5-IDEA-CBC-SHA"), K::Krb5, A::Krb5, "IDEA_CBC", "SHA", SSL30),
cs(0x0022, "TLS_KRB5_WITH_DES_CBC_MD5", Some("KRB5-DES-CBC-MD5"), K::Krb5, A::Krb5, "DES_CBC", "MD5", SSL30),
cs(0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5", Some("KRB5-DES-CBC3-MD5"), K::Krb5, A::Krb5, "3DES_EDE_CBC", "MD5", SSL30),
cs(0x0024, "TLS_KRB5_WITH_RC4_128_MD5", Some("KRB5-RC4-MD5"), K::Krb5, A::Krb5, "RC4_128", "MD5", SSL30),
cs(0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5", Some("KRB5-IDEA-CBC-MD5"), K::Krb5, A::Krb5, "IDEA_CBC", "MD5", SSL30),
cs(0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", Some("EXP-KRB5-DES-CBC-SHA"), K::Krb5, A::Krb5, "DES_CBC_40", "SHA", SSL30),
cs(0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA", Some("EXP-KRB5-RC2-CBC-SHA"), K::Krb5, A::Krb5, "RC2_CBC_40", "SHA", SSL30),
cs(0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA", Some("EXP-KRB5-RC4-SHA"), K::Krb5, A::Krb5, "RC4_40", "SHA", SSL30),
cs(0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5", Some("EXP-KRB5-DES-CBC-MD5"), K::Krb5, A::Krb5, "DES_CBC_40", "MD5", SSL30),
cs(0x002a, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5", Some("EXP-KRB5-RC2-CBC-MD5"), K::Krb5, A::Krb5, "RC2_CBC_40", "MD5", SSL30),
cs(0x002b, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5", Some("EXP-KRB5-RC4-MD5"), K::Krb5, A::Krb5, "RC4_40", "MD5", SSL30),
cs(0x002c, "TLS_PSK_WITH_NULL_SHA", Some("PSK-NULL-SHA"), K::Psk, A::Psk, "NULL", "SHA", SSL30),
cs(0x002d, "TLS_DHE_PSK_WITH_NULL_SHA", Some("DHE-PSK-NULL-SHA"), K::DhePsk, A::Psk, "NULL", "SHA", SSL30),
cs(0x002e, "TLS_RSA_PSK_WITH_NULL_SHA", Some("RSA-PSK-NULL-SHA"), K::RsaPsk, A::Rsa, "NULL", "SHA", SSL30),
cs(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", Some("AES128-SHA"), K::Rsa, A::Rsa, "AES_128_CBC", "SHA", SSL30),
cs(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", Some("DH-DSS-AES128-SHA"), K::Dh, A::Dss, "AES_128_CBC", "SHA", SSL30),
cs(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", Some("DH-RSA-AES128-SHA"), K::Dh, A::Rsa, "AES_128_CBC", "SHA", SSL30),
cs(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", Some("DHE-DSS-AES128-SHA"), K::Dhe, A::Dss, "AES_128_CBC", "SHA", SSL30),
cs(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Some("DHE-RSA-AES128-SHA"), K::Dhe, A::Rsa, "AES_128_CBC", "SHA", SSL30),
cs(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Some("ADH-AES128-SHA"), K::Dhe, A::Anon, "AES_128_CBC", "SHA", SSL30),
cs(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Some("AES256-SHA"), K::Rsa, A::Rsa, "AES_256_CBC", "SHA", SSL30),
cs(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", Some("DH-DSS-AES256-SHA"), K::Dh, A::Dss, "AES_256_CBC", "SHA", SSL30),
cs(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", Some("DH-RSA-AES256-SHA"), K::Dh, A::Rsa, "AES_256_CBC", "SHA", SSL30),
cs(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", Some("DHE-DSS-AES256-SHA"), K::Dhe, A::Dss, "AES_256_CBC", "SHA", SSL30),
cs(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Some("DHE-RSA-AES256-SHA"), K::Dhe, A::Rsa, "AES_256_CBC", "SHA", SSL30),
cs(0x003a, "TLS_DH_anon_WITH_AES_256_CBC_SHA", Some("ADH-AES256-SHA"), K::Dhe, A::Anon, "AES_256_CBC", "SHA", SSL30),
cs(0x003b, "TLS_RSA_WITH_NULL_SHA256", Some("NULL-SHA256"), K::Rsa, A::Rsa, "NULL", "SHA256", TLS12),
cs(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", Some("AES128-SHA256"), K::Rsa, A::Rsa, "AES_128_CBC", "SHA256", TLS12),
cs(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", Some("AES256-SHA256"), K::Rsa, A::Rsa, "AES_256_CBC", "SHA256", TLS12),
cs(0x003e, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", Some("DH-DSS-AES128-SHA256"), K::Dh, A::Dss, "AES_128_CBC", "SHA256", TLS12),
cs(0x003f, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", Some("DH-RSA-AES128-SHA256"), K::Dh, A::Rsa, "AES_128_CBC", "SHA256", TLS12),
cs(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", Some("DHE-DSS-AES128-SHA256"), K::Dhe, A::Dss, "AES_128_CBC", "SHA256", TLS12),
cs(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", Some("CAMELLIA128-SHA"), K::Rsa, A::Rsa, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA", Some("DH-DSS-CAMELLIA128-SHA"), K::Dh, A::Dss, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA", Some("DH-RSA-CAMELLIA128-SHA"), K::Dh, A::Rsa, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", Some("DHE-DSS-CAMELLIA128-SHA"), K::Dhe, A::Dss, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", Some("DHE-RSA-CAMELLIA128-SHA"), K::Dhe, A::Rsa, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", Some("ADH-CAMELLIA128-SHA"), K::Dhe, A::Anon, "CAMELLIA_128_CBC", "SHA", SSL30),
cs(0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5", Some("EXP1024-RC4-MD5"), K::Rsa, A::Rsa, "RC4_56", "MD5", SSL30),
cs(0x0061, "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5", Some("EXP1024-RC2-CBC-MD5"), K::Rsa, A::Rsa, "RC2_CBC_56", "MD5", SSL30),
cs(0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", Some("EXP1024-DES-CBC-SHA"), K::Rsa, A::Rsa, "DES_CBC", "SHA", SSL30),
cs(0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", Some("EXP1024-DHE-DSS-DES-CBC-SHA"), K::Dhe, A::Dss, "DES_CBC", "SHA", SSL30),
cs(0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", Some("EXP1024-RC4-SHA"), K::Rsa, A::Rsa, "RC4_56", "SHA", SSL30),
cs(0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA", Some("EXP1024-DHE-DSS-RC4-SHA"), K::Dhe, A::Dss, "RC4_56", "SHA", SSL30),
cs(0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", Some("DHE-DSS-RC4-SHA"), K::Dhe, A::Dss, "RC4_128", "SHA", SSL30),
cs(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Some("DHE-RSA-AES128-SHA256"), K::Dhe, A::Rsa, "AES_128_CBC", "SHA256", TLS12),
cs(0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", Some("DH-DSS-AES256-SHA256"), K::Dh, A::Dss, "AES_256_CBC", "SHA256", TLS12),
cs(0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", Some("DH-RSA-AES256-SHA256"), K::Dh, A::Rsa, "AES_256_CBC", "SHA256", TLS12),
cs(0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", Some("DHE-DSS-AES256-SHA256"), K::Dhe, A::Dss, "AES_256_CBC", "SHA256", TLS12),
cs(0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Some("DHE-RSA-AES256-SHA256"), K::Dhe, A::Rsa, "AES_256_CBC", "SHA256", TLS12),
cs(0x006c, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", Some("ADH-AES128-SHA256"), K::Dhe, A::Anon, "AES_128_CBC", "SHA256", TLS12),
cs(0x006d, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", Some("ADH-AES256-SHA256"), K::Dhe, A::Anon, "AES_256_CBC", "SHA256", TLS12),
cs(0x0080, "TLS_GOSTR341094_WITH_28147_CNT_IMIT", Some("GOST94-GOST89-GOST89"), K::Gost, A::Gost, "28147_CNT", "IMIT", TLS10),
cs(0x0081, "TLS_GOSTR341001_WITH_28147_CNT_IMIT", Some("GOST2001-GOST89-GOST89"), K::Gost, A::Gost, "28147_CNT", "IMIT", TLS10),
cs(0x0082, "TLS_GOSTR341094_WITH_NULL_GOSTR3411", Some("GOST94-NULL-GOST94"), K::Gost, A::Gost, "NULL", "GOSTR3411", TLS10),
cs(0x0083, "TLS_GOSTR341001_WITH_NULL_GOSTR3411", Some("GOST2001-NULL-GOST94"), K::Gost, A::Gost, "NULL", "GOSTR3411", TLS10),
cs(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", Some("CAMELLIA256-SHA"), K::Rsa, A::Rsa, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA", Some("DH-DSS-CAMELLIA256-SHA"), K::Dh, A::Dss, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA", Some("DH-RSA-CAMELLIA256-SHA"), K::Dh, A::Rsa, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", Some("DHE-DSS-CAMELLIA256-SHA"), K::Dhe, A::Dss, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", Some("DHE-RSA-CAMELLIA256-SHA"), K::Dhe, A::Rsa, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", Some("ADH-CAMELLIA256-SHA"), K::Dhe, A::Anon, "CAMELLIA_256_CBC", "SHA", SSL30),
cs(0x008a, "TLS_PSK_WITH_RC4_128_SHA", Some("PSK-RC4-SHA"), K::Psk, A::Psk, "RC4_128", "SHA", SSL30),
cs(0x008b, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", Some("PSK-3DES-EDE-CBC-SHA"), K::Psk, A::Psk, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x008c, "TLS_PSK_WITH_AES_128_CBC_SHA", Some("PSK-AES128-CBC-SHA"), K::Psk, A::Psk, "AES_128_CBC", "SHA", SSL30),
cs(0x008d, "TLS_PSK_WITH_AES_256_CBC_SHA", Some("PSK-AES256-CBC-SHA"), K::Psk, A::Psk, "AES_256_CBC", "SHA", SSL30),
cs(0x008e, "TLS_DHE_PSK_WITH_RC4_128_SHA", Some("DHE-PSK-RC4-SHA"), K::DhePsk, A::Psk, "RC4_128", "SHA", SSL30),
cs(0x008f, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA", Some("DHE-PSK-3DES-EDE-CBC-SHA"), K::DhePsk, A::Psk, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", Some("DHE-PSK-AES128-CBC-SHA"), K::DhePsk, A::Psk, "AES_128_CBC", "SHA", SSL30),
cs(0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", Some("DHE-PSK-AES256-CBC-SHA"), K::DhePsk, A::Psk, "AES_256_CBC", "SHA", SSL30),
cs(0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", Some("RSA-PSK-RC4-SHA"), K::RsaPsk, A::Rsa, "RC4_128", "SHA", SSL30),
cs(0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA", Some("RSA-PSK-3DES-EDE-CBC-SHA"), K::RsaPsk, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", Some("RSA-PSK-AES128-CBC-SHA"), K::RsaPsk, A::Rsa, "AES_128_CBC", "SHA", SSL30),
cs(0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", Some("RSA-PSK-AES256-CBC-SHA"), K::RsaPsk, A::Rsa, "AES_256_CBC", "SHA", SSL30),
cs(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", Some("SEED-SHA"), K::Rsa, A::Rsa, "SEED_CBC", "SHA", SSL30),
cs(0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA", Some("DH-DSS-SEED-SHA"), K::Dh, A::Dss, "SEED_CBC", "SHA", SSL30),
cs(0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA", Some("DH-RSA-SEED-SHA"), K::Dh, A::Rsa, "SEED_CBC", "SHA", SSL30),
cs(0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA", Some("DHE-DSS-SEED-SHA"), K::Dhe, A::Dss, "SEED_CBC", "SHA", SSL30),
cs(0x009a, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", Some("DHE-RSA-SEED-SHA"), K::Dhe, A::Rsa, "SEED_CBC", "SHA", SSL30),
cs(0x009b, "TLS_DH_anon_WITH_SEED_CBC_SHA", Some("ADH-SEED-SHA"), K::Dhe, A::Anon, "SEED_CBC", "SHA", SSL30),
cs(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", Some("AES128-GCM-SHA256"), K::Rsa, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", Some("AES256-GCM-SHA384"), K::Rsa, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Some("DHE-RSA-AES128-GCM-SHA256"), K::Dhe, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Some("DHE-RSA-AES256-GCM-SHA384"), K::Dhe, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0x00a0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", Some("DH-RSA-AES128-GCM-SHA256"), K::Dh, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0x00a1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", Some("DH-RSA-AES256-GCM-SHA384"), K::Dh, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", Some("DHE-DSS-AES128-GCM-SHA256"), K::Dhe, A::Dss, "AES_128_GCM", "AEAD", TLS12),
cs(0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", Some("DHE-DSS-AES256-GCM-SHA384"), K::Dhe, A::Dss, "AES_256_GCM", "AEAD", TLS12),
cs(0x00a4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", Some("DH-DSS-AES128-GCM-SHA256"), K::Dh, A::Dss, "AES_128_GCM", "AEAD", TLS12),
cs(0x00a5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", Some("DH-DSS-AES256-GCM-SHA384"), K::Dh, A::Dss, "AES_256_GCM", "AEAD", TLS12),
cs(0x00a6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", Some("ADH-AES128-GCM-SHA256"), K::Dhe, A::Anon, "AES_128_GCM", "AEAD", TLS12),
cs(0x00a7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", Some("ADH-AES256-GCM-SHA384"), K::Dhe, A::Anon, "AES_256_GCM", "AEAD", TLS12),
cs(0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", Some("PSK-AES128-GCM-SHA256"), K::Psk, A::Psk, "AES_128_GCM", "AEAD", TLS12),
cs(0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", Some("PSK-AES256-GCM-SHA384"), K::Psk, A::Psk, "AES_256_GCM", "AEAD", TLS12),
cs(0x00aa, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", Some("DHE-PSK-AES128-GCM-SHA256"), K::DhePsk, A::Psk, "AES_128_GCM", "AEAD", TLS12),
cs(0x00ab, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", Some("DHE-PSK-AES256-GCM-SHA384"), K::DhePsk, A::Psk, "AES_256_GCM", "AEAD", TLS12),
cs(0x00ac, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", Some("RSA-PSK-AES128-GCM-SHA256"), K::RsaPsk, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0x00ad, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", Some("RSA-PSK-AES256-GCM-SHA384"), K::RsaPsk, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0x00ae, "TLS_PSK_WITH_AES_128_CBC_SHA256", Some("PSK-AES128-CBC-SHA256"), K::Psk, A::Psk, "AES_128_CBC", "SHA256", TLS10),
cs(0x00af, "TLS_PSK_WITH_AES_256_CBC_SHA384", Some("PSK-AES256-CBC-SHA384"), K::Psk, A::Psk, "AES_256_CBC", "SHA384", TLS10),
cs(0x00b0, "TLS_PSK_WITH_NULL_SHA256", Some("PSK-NULL-SHA256"), K::Psk, A::Psk, "NULL", "SHA256", TLS10),
cs(0x00b1, "TLS_PSK_WITH_NULL_SHA384", Some("PSK-NULL-SHA384"), K::Psk, A::Psk, "NULL", "SHA384", TLS10),
cs(0x00b2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", Some("DHE-PSK-AES128-CBC-SHA256"), K::DhePsk, A::Psk, "AES_128_CBC", "SHA256", TLS10),
cs(0x00b3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", Some("DHE-PSK-AES256-CBC-SHA384"), K::DhePsk, A::Psk, "AES_256_CBC", "SHA384", TLS10),
cs(0x00b4, "TLS_DHE_PSK_WITH_NULL_SHA256", Some("DHE-PSK-NULL-SHA256"), K::DhePsk, A::Psk, "NULL", "SHA256", TLS10),
cs(0x00b5, "TLS_DHE_PSK_WITH_NULL_SHA384", Some("DHE-PSK-NULL-SHA384"), K::DhePsk, A::Psk, "NULL", "SHA384", TLS10),
cs(0x00b6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", Some("RSA-PSK-AES128-CBC-SHA256"), K::RsaPsk, A::Rsa, "AES_128_CBC", "SHA256", TLS10),
cs(0x00b7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", Some("RSA-PSK-AES256-CBC-SHA384"), K::RsaPsk, A::Rsa, "AES_256_CBC", "SHA384", TLS10),
cs(0x00b8, "TLS_RSA_PSK_WITH_NULL_SHA256", Some("RSA-PSK-NULL-SHA256"), K::RsaPsk, A::Rsa, "NULL", "SHA256", TLS10),
cs(0x00b9, "TLS_RSA_PSK_WITH_NULL_SHA384", Some("RSA-PSK-NULL-SHA384"), K::RsaPsk, A::Rsa, "NULL", "SHA384", TLS10),
cs(0x00ba, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", Some("CAMELLIA128-SHA256"), K::Rsa, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00bb, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256", None, K::Dh, A::Dss, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00bc, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256", None, K::Dh, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00bd, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", Some("DHE-DSS-CAMELLIA128-SHA256"), K::Dhe, A::Dss, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00be, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", Some("DHE-RSA-CAMELLIA128-SHA256"), K::Dhe, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00bf, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", Some("ADH-CAMELLIA128-SHA256"), K::Dhe, A::Anon, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0x00c0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", Some("CAMELLIA256-SHA256"), K::Rsa, A::Rsa, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c1, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256", None, K::Dh, A::Dss, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c2, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256", None, K::Dh, A::Rsa, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", Some("DHE-DSS-CAMELLIA256-SHA256"), K::Dhe, A::Dss, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", Some("DHE-RSA-CAMELLIA256-SHA256"), K::Dhe, A::Rsa, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", Some("ADH-CAMELLIA256-SHA256"), K::Dhe, A::Anon, "CAMELLIA_256_CBC", "SHA256", TLS12),
cs(0x00c6, "TLS_SM4_GCM_SM3", None, K::Any, A::Any, "SM4_GCM", "AEAD", TLS13),
cs(0x00c7, "TLS_SM4_CCM_SM3", None, K::Any, A::Any, "SM4_CCM", "AEAD", TLS13),
cs(0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", None, K::Null, A::Null, "NULL", "NULL", SSL30),
cs(0x1301, "TLS_AES_128_GCM_SHA256", Some("TLS_AES_128_GCM_SHA256"), K::Any, A::Any, "AES_128_GCM", "AEAD", TLS13),
cs(0x1302, "TLS_AES_256_GCM_SHA384", Some("TLS_AES_256_GCM_SHA384"), K::Any, A::Any, "AES_256_GCM", "AEAD", TLS13),
cs(0x1303, "TLS_CHACHA20_POLY1305_SHA256", Some("TLS_CHACHA20_POLY1305_SHA256"), K::Any, A::Any, "CHACHA20_POLY1305", "AEAD", TLS13),
cs(0x1304, "TLS_AES_128_CCM_SHA256", Some("TLS_AES_128_CCM_SHA256"), K::Any, A::Any, "AES_128_CCM", "AEAD", TLS13),
cs(0x1305, "TLS_AES_128_CCM_8_SHA256", Some("TLS_AES_128_CCM_8_SHA256"), K::Any, A::Any, "AES_128_CCM_8", "AEAD", TLS13),
cs(0x1306, "TLS_AEGIS_256_SHA512", None, K::Any, A::Any, "AEGIS_256", "AEAD", TLS13),
cs(0x1307, "TLS_AEGIS_128L_SHA256", None, K::Any, A::Any, "AEGIS_128L", "AEAD", TLS13),
cs(0x5600, "TLS_FALLBACK_SCSV", None, K::Null, A::Null, "NULL", "NULL", SSL30),
cs(0xc001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", Some("ECDH-ECDSA-NULL-SHA"), K::Ecdh, A::Ecdsa, "NULL", "SHA", TLS10),
cs(0xc002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", Some("ECDH-ECDSA-RC4-SHA"), K::Ecdh, A::Ecdsa, "RC4_128", "SHA", TLS10),
cs(0xc003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", Some("ECDH-ECDSA-DES-CBC3-SHA"), K::Ecdh, A::Ecdsa, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", Some("ECDH-ECDSA-AES128-SHA"), K::Ecdh, A::Ecdsa, "AES_128_CBC", "SHA", TLS10),
cs(0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", Some("ECDH-ECDSA-AES256-SHA"), K::Ecdh, A::Ecdsa, "AES_256_CBC", "SHA", TLS10),
cs(0xc006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", Some("ECDHE-ECDSA-NULL-SHA"), K::Ecdhe, A::Ecdsa, "NULL", "SHA", TLS10),
cs(0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", Some("ECDHE-ECDSA-RC4-SHA"), K::Ecdhe, A::Ecdsa, "RC4_128", "SHA", TLS10),
cs(0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", Some("ECDHE-ECDSA-DES-CBC3-SHA"), K::Ecdhe, A::Ecdsa, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Some("ECDHE-ECDSA-AES128-SHA"), K::Ecdhe, A::Ecdsa, "AES_128_CBC", "SHA", TLS10),
cs(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Some("ECDHE-ECDSA-AES256-SHA"), K::Ecdhe, A::Ecdsa, "AES_256_CBC", "SHA", TLS10),
cs(0xc00b, "TLS_ECDH_RSA_WITH_NULL_SHA", Some("ECDH-RSA-NULL-SHA"), K::Ecdh, A::Rsa, "NULL", "SHA", TLS10),
cs(0xc00c, "TLS_ECDH_RSA_WITH_RC4_128_SHA", Some("ECDH-RSA-RC4-SHA"), K::Ecdh, A::Rsa, "RC4_128", "SHA", TLS10),
cs(0xc00d, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", Some("ECDH-RSA-DES-CBC3-SHA"), K::Ecdh, A::Rsa, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", Some("ECDH-RSA-AES128-SHA"), K::Ecdh, A::Rsa, "AES_128_CBC", "SHA", TLS10),
cs(0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", Some("ECDH-RSA-AES256-SHA"), K::Ecdh, A::Rsa, "AES_256_CBC", "SHA", TLS10),
cs(0xc010, "TLS_ECDHE_RSA_WITH_NULL_SHA", Some("ECDHE-RSA-NULL-SHA"), K::Ecdhe, A::Rsa, "NULL", "SHA", TLS10),
cs(0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Some("ECDHE-RSA-RC4-SHA"), K::Ecdhe, A::Rsa, "RC4_128", "SHA", TLS10),
cs(0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Some("ECDHE-RSA-DES-CBC3-SHA"), K::Ecdhe, A::Rsa, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Some("ECDHE-RSA-AES128-SHA"), K::Ecdhe, A::Rsa, "AES_128_CBC", "SHA", TLS10),
cs(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Some("ECDHE-RSA-AES256-SHA"), K::Ecdhe, A::Rsa, "AES_256_CBC", "SHA", TLS10),
cs(0xc015, "TLS_ECDH_anon_WITH_NULL_SHA", Some("AECDH-NULL-SHA"), K::Ecdhe, A::Anon, "NULL", "SHA", TLS10),
cs(0xc016, "TLS_ECDH_anon_WITH_RC4_128_SHA", Some("AECDH-RC4-SHA"), K::Ecdhe, A::Anon, "RC4_128", "SHA", TLS10),
cs(0xc017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", Some("AECDH-DES-CBC3-SHA"), K::Ecdhe, A::Anon, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Some("AECDH-AES128-SHA"), K::Ecdhe, A::Anon, "AES_128_CBC", "SHA", TLS10),
cs(0xc019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", Some("AECDH-AES256-SHA"), K::Ecdhe, A::Anon, "AES_256_CBC", "SHA", TLS10),
cs(0xc01a, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", Some("SRP-3DES-EDE-CBC-SHA"), K::Srp, A::Srp, "3DES_EDE_CBC", "SHA", SSL30),
cs(0xc01b, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA", Some("SRP-RSA-3DES-EDE-CBC-SHA"), K::Srp, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0xc01c, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", Some("SRP-DSS-3DES-EDE-CBC-SHA"), K::Srp, A::Dss, "3DES_EDE_CBC", "SHA", SSL30),
cs(0xc01d, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", Some("SRP-AES-128-CBC-SHA"), K::Srp, A::Srp, "AES_128_CBC", "SHA", SSL30),
cs(0xc01e, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", Some("SRP-RSA-AES-128-CBC-SHA"), K::Srp, A::Rsa, "AES_128_CBC", "SHA", SSL30),
cs(0xc01f, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA", Some("SRP-DSS-AES-128-CBC-SHA"), K::Srp, A::Dss, "AES_128_CBC", "SHA", SSL30),
cs(0xc020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", Some("SRP-AES-256-CBC-SHA"), K::Srp, A::Srp, "AES_256_CBC", "SHA", SSL30),
cs(0xc021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA", Some("SRP-RSA-AES-256-CBC-SHA"), K::Srp, A::Rsa, "AES_256_CBC", "SHA", SSL30),
cs(0xc022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", Some("SRP-DSS-AES-256-CBC-SHA"), K::Srp, A::Dss, "AES_256_CBC", "SHA", SSL30),
cs(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Some("ECDHE-ECDSA-AES128-SHA256"), K::Ecdhe, A::Ecdsa, "AES_128_CBC", "SHA256", TLS12),
cs(0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Some("ECDHE-ECDSA-AES256-SHA384"), K::Ecdhe, A::Ecdsa, "AES_256_CBC", "SHA384", TLS12),
cs(0xc025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", Some("ECDH-ECDSA-AES128-SHA256"), K::Ecdh, A::Ecdsa, "AES_128_CBC", "SHA256", TLS12),
cs(0xc026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", Some("ECDH-ECDSA-AES256-SHA384"), K::Ecdh, A::Ecdsa, "AES_256_CBC", "SHA384", TLS12),
cs(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Some("ECDHE-RSA-AES128-SHA256"), K::Ecdhe, A::Rsa, "AES_128_CBC", "SHA256", TLS12),
cs(0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Some("ECDHE-RSA-AES256-SHA384"), K::Ecdhe, A::Rsa, "AES_256_CBC", "SHA384", TLS12),
cs(0xc029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", Some("ECDH-RSA-AES128-SHA256"), K::Ecdh, A::Rsa, "AES_128_CBC", "SHA256", TLS12),
cs(0xc02a, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", Some("ECDH-RSA-AES256-SHA384"), K::Ecdh, A::Rsa, "AES_256_CBC", "SHA384", TLS12),
cs(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Some("ECDHE-ECDSA-AES128-GCM-SHA256"), K::Ecdhe, A::Ecdsa, "AES_128_GCM", "AEAD", TLS12),
cs(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Some("ECDHE-ECDSA-AES256-GCM-SHA384"), K::Ecdhe, A::Ecdsa, "AES_256_GCM", "AEAD", TLS12),
cs(0xc02d, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", Some("ECDH-ECDSA-AES128-GCM-SHA256"), K::Ecdh, A::Ecdsa, "AES_128_GCM", "AEAD", TLS12),
cs(0xc02e, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", Some("ECDH-ECDSA-AES256-GCM-SHA384"), K::Ecdh, A::Ecdsa, "AES_256_GCM", "AEAD", TLS12),
cs(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Some("ECDHE-RSA-AES128-GCM-SHA256"), K::Ecdhe, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Some("ECDHE-RSA-AES256-GCM-SHA384"), K::Ecdhe, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0xc031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", Some("ECDH-RSA-AES128-GCM-SHA256"), K::Ecdh, A::Rsa, "AES_128_GCM", "AEAD", TLS12),
cs(0xc032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", Some("ECDH-RSA-AES256-GCM-SHA384"), K::Ecdh, A::Rsa, "AES_256_GCM", "AEAD", TLS12),
cs(0xc033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", Some("ECDHE-PSK-RC4-SHA"), K::EcdhePsk, A::Psk, "RC4_128", "SHA", TLS10),
cs(0xc034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", Some("ECDHE-PSK-3DES-EDE-CBC-SHA"), K::EcdhePsk, A::Psk, "3DES_EDE_CBC", "SHA", TLS10),
cs(0xc035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", Some("ECDHE-PSK-AES128-CBC-SHA"), K::EcdhePsk, A::Psk, "AES_128_CBC", "SHA", TLS10),
cs(0xc036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", Some("ECDHE-PSK-AES256-CBC-SHA"), K::EcdhePsk, A::Psk, "AES_256_CBC", "SHA", TLS10),
cs(0xc037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", Some("ECDHE-PSK-AES128-CBC-SHA256"), K::EcdhePsk, A::Psk, "AES_128_CBC", "SHA256", TLS10),
cs(0xc038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", Some("ECDHE-PSK-AES256-CBC-SHA384"), K::EcdhePsk, A::Psk, "AES_256_CBC", "SHA384", TLS10),
cs(0xc039, "TLS_ECDHE_PSK_WITH_NULL_SHA", Some("ECDHE-PSK-NULL-SHA"), K::EcdhePsk, A::Psk, "NULL", "SHA", TLS10),
cs(0xc03a, "TLS_ECDHE_PSK_WITH_NULL_SHA256", Some("ECDHE-PSK-NULL-SHA256"), K::EcdhePsk, A::Psk, "NULL", "SHA256", TLS10),
cs(0xc03b, "TLS_ECDHE_PSK_WITH_NULL_SHA384", Some("ECDHE-PSK-NULL-SHA384"), K::EcdhePsk, A::Psk, "NULL", "SHA384", TLS10),
cs(0xc03c, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", None, K::Rsa, A::Rsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc03d, "TLS_RSA_WITH_ARIA_256_CBC_SHA384", None, K::Rsa, A::Rsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc03e, "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256", None, K::Dh, A::Dss, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc03f, "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384", None, K::Dh, A::Dss, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc040, "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256", None, K::Dh, A::Rsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc041, "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384", None, K::Dh, A::Rsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc042, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256", None, K::Dhe, A::Dss, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc043, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384", None, K::Dhe, A::Dss, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc044, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256", None, K::Dhe, A::Rsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc045, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384", None, K::Dhe, A::Rsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc046, "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256", None, K::Dhe, A::Anon, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc047, "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384", None, K::Dhe, A::Anon, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc048, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", None, K::Ecdhe, A::Ecdsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc049, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384", None, K::Ecdhe, A::Ecdsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc04a, "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256", None, K::Ecdh, A::Ecdsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc04b, "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384", None, K::Ecdh, A::Ecdsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc04c, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256", None, K::Ecdhe, A::Rsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc04d, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384", None, K::Ecdhe, A::Rsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc04e, "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256", None, K::Ecdh, A::Rsa, "ARIA_128_CBC", "SHA256", TLS12),
cs(0xc04f, "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384", None, K::Ecdh, A::Rsa, "ARIA_256_CBC", "SHA384", TLS12),
cs(0xc050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256", Some("ARIA128-GCM-SHA256"), K::Rsa, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384", Some("ARIA256-GCM-SHA384"), K::Rsa, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", Some("DHE-RSA-ARIA128-GCM-SHA256"), K::Dhe, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384", Some("DHE-RSA-ARIA256-GCM-SHA384"), K::Dhe, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc054, "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256", None, K::Dh, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc055, "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384", None, K::Dh, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", Some("DHE-DSS-ARIA128-GCM-SHA256"), K::Dhe, A::Dss, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384", Some("DHE-DSS-ARIA256-GCM-SHA384"), K::Dhe, A::Dss, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc058, "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256", None, K::Dh, A::Dss, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc059, "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384", None, K::Dh, A::Dss, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc05a, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256", None, K::Dhe, A::Anon, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc05b, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384", None, K::Dhe, A::Anon, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc05c, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", Some("ECDHE-ECDSA-ARIA128-GCM-SHA256"), K::Ecdhe, A::Ecdsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc05d, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", Some("ECDHE-ECDSA-ARIA256-GCM-SHA384"), K::Ecdhe, A::Ecdsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc05e, "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256", None, K::Ecdh, A::Ecdsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc05f, "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384", None, K::Ecdh, A::Ecdsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", Some("ECDHE-ARIA128-GCM-SHA256"), K::Ecdhe, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384", Some("ECDHE-ARIA256-GCM-SHA384"), K::Ecdhe, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc062, "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256", None, K::Ecdh, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc063, "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384", None, K::Ecdh, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc064, "TLS_PSK_WITH_ARIA_128_CBC_SHA256", None, K::Psk, A::Psk, "ARIA_128_CBC", "SHA256", TLS10),
cs(0xc065, "TLS_PSK_WITH_ARIA_256_CBC_SHA384", None, K::Psk, A::Psk, "ARIA_256_CBC", "SHA384", TLS10),
cs(0xc066, "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256", None, K::DhePsk, A::Psk, "ARIA_128_CBC", "SHA256", TLS10),
cs(0xc067, "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384", None, K::DhePsk, A::Psk, "ARIA_256_CBC", "SHA384", TLS10),
cs(0xc068, "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256", None, K::RsaPsk, A::Rsa, "ARIA_128_CBC", "SHA256", TLS10),
cs(0xc069, "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384", None, K::RsaPsk, A::Rsa, "ARIA_256_CBC", "SHA384", TLS10),
cs(0xc06a, "TLS_PSK_WITH_ARIA_128_GCM_SHA256", Some("PSK-ARIA128-GCM-SHA256"), K::Psk, A::Psk, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc06b, "TLS_PSK_WITH_ARIA_256_GCM_SHA384", Some("PSK-ARIA256-GCM-SHA384"), K::Psk, A::Psk, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc06c, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", Some("DHE-PSK-ARIA128-GCM-SHA256"), K::DhePsk, A::Psk, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc06d, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384", Some("DHE-PSK-ARIA256-GCM-SHA384"), K::DhePsk, A::Psk, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc06e, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", Some("RSA-PSK-ARIA128-GCM-SHA256"), K::RsaPsk, A::Rsa, "ARIA_128_GCM", "AEAD", TLS12),
cs(0xc06f, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384", Some("RSA-PSK-ARIA256-GCM-SHA384"), K::RsaPsk, A::Rsa, "ARIA_256_GCM", "AEAD", TLS12),
cs(0xc070, "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256", None, K::EcdhePsk, A::Psk, "ARIA_128_CBC", "SHA256", TLS10),
cs(0xc071, "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384", None, K::EcdhePsk, A::Psk, "ARIA_256_CBC", "SHA384", TLS10),
cs(0xc072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", Some("ECDHE-ECDSA-CAMELLIA128-SHA256"), K::Ecdhe, A::Ecdsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0xc073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", Some("ECDHE-ECDSA-CAMELLIA256-SHA384"), K::Ecdhe, A::Ecdsa, "CAMELLIA_256_CBC", "SHA384", TLS12),
cs(0xc074, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", None, K::Ecdh, A::Ecdsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0xc075, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", None, K::Ecdh, A::Ecdsa, "CAMELLIA_256_CBC", "SHA384", TLS12),
cs(0xc076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", Some("ECDHE-RSA-CAMELLIA128-SHA256"), K::Ecdhe, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0xc077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", Some("ECDHE-RSA-CAMELLIA256-SHA384"), K::Ecdhe, A::Rsa, "CAMELLIA_256_CBC", "SHA384", TLS12),
cs(0xc078, "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256", None, K::Ecdh, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS12),
cs(0xc079, "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384", None, K::Ecdh, A::Rsa, "CAMELLIA_256_CBC", "SHA384", TLS12),
cs(0xc07a, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Rsa, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc07b, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Rsa, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc07c, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Dhe, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc07d, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Dhe, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc07e, "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Dh, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc07f, "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Dh, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc080, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256", None, K::Dhe, A::Dss, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc081, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384", None, K::Dhe, A::Dss, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc082, "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256", None, K::Dh, A::Dss, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc083, "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384", None, K::Dh, A::Dss, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256", None, K::Dhe, A::Anon, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc085, "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384", None, K::Dhe, A::Anon, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Ecdhe, A::Ecdsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Ecdhe, A::Ecdsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc088, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Ecdh, A::Ecdsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc089, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Ecdh, A::Ecdsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc08a, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Ecdhe, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc08b, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Ecdhe, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc08c, "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, K::Ecdh, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc08d, "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, K::Ecdh, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc08e, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256", None, K::Psk, A::Psk, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc08f, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384", None, K::Psk, A::Psk, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc090, "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256", None, K::DhePsk, A::Psk, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc091, "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384", None, K::DhePsk, A::Psk, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc092, "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256", None, K::RsaPsk, A::Rsa, "CAMELLIA_128_GCM", "AEAD", TLS12),
cs(0xc093, "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384", None, K::RsaPsk, A::Rsa, "CAMELLIA_256_GCM", "AEAD", TLS12),
cs(0xc094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", Some("PSK-CAMELLIA128-SHA256"), K::Psk, A::Psk, "CAMELLIA_128_CBC", "SHA256", TLS10),
cs(0xc095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384", Some("PSK-CAMELLIA256-SHA384"), K::Psk, A::Psk, "CAMELLIA_256_CBC", "SHA384", TLS10),
cs(0xc096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", Some("DHE-PSK-CAMELLIA128-SHA256"), K::DhePsk, A::Psk, "CAMELLIA_128_CBC", "SHA256", TLS10),
cs(0xc097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", Some("DHE-PSK-CAMELLIA256-SHA384"), K::DhePsk, A::Psk, "CAMELLIA_256_CBC", "SHA384", TLS10),
cs(0xc098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", Some("RSA-PSK-CAMELLIA128-SHA256"), K::RsaPsk, A::Rsa, "CAMELLIA_128_CBC", "SHA256", TLS10),
cs(0xc099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384", Some("RSA-PSK-CAMELLIA256-SHA384"), K::RsaPsk, A::Rsa, "CAMELLIA_256_CBC", "SHA384", TLS10),
cs(0xc09a, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", Some("ECDHE-PSK-CAMELLIA128-SHA256"), K::EcdhePsk, A::Psk, "CAMELLIA_128_CBC", "SHA256", TLS10),
cs(0xc09b, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", Some("ECDHE-PSK-CAMELLIA256-SHA384"), K::EcdhePsk, A::Psk, "CAMELLIA_256_CBC", "SHA384", TLS10),
cs(0xc09c, "TLS_RSA_WITH_AES_128_CCM", Some("AES128-CCM"), K::Rsa, A::Rsa, "AES_128_CCM", "AEAD", TLS12),
cs(0xc09d, "TLS_RSA_WITH_AES_256_CCM", Some("AES256-CCM"), K::Rsa, A::Rsa, "AES_256_CCM", "AEAD", TLS12),
cs(0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM", Some("DHE-RSA-AES128-CCM"), K::Dhe, A::Rsa, "AES_128_CCM", "AEAD", TLS12),
cs(0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM", Some("DHE-RSA-AES256-CCM"), K::Dhe, A::Rsa, "AES_256_CCM", "AEAD", TLS12),
cs(0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8", Some("AES128-CCM8"), K::Rsa, A::Rsa, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8", Some("AES256-CCM8"), K::Rsa, A::Rsa, "AES_256_CCM_8", "AEAD", TLS12),
cs(0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", Some("DHE-RSA-AES128-CCM8"), K::Dhe, A::Rsa, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", Some("DHE-RSA-AES256-CCM8"), K::Dhe, A::Rsa, "AES_256_CCM_8", "AEAD", TLS12),
cs(0xc0a4, "TLS_PSK_WITH_AES_128_CCM", Some("PSK-AES128-CCM"), K::Psk, A::Psk, "AES_128_CCM", "AEAD", TLS12),
cs(0xc0a5, "TLS_PSK_WITH_AES_256_CCM", Some("PSK-AES256-CCM"), K::Psk, A::Psk, "AES_256_CCM", "AEAD", TLS12),
cs(0xc0a6, "TLS_DHE_PSK_WITH_AES_128_CCM", Some("DHE-PSK-AES128-CCM"), K::DhePsk, A::Psk, "AES_128_CCM", "AEAD", TLS12),
cs(0xc0a7, "TLS_DHE_PSK_WITH_AES_256_CCM", Some("DHE-PSK-AES256-CCM"), K::DhePsk, A::Psk, "AES_256_CCM", "AEAD", TLS12),
cs(0xc0a8, "TLS_PSK_WITH_AES_128_CCM_8", Some("PSK-AES128-CCM8"), K::Psk, A::Psk, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xc0a9, "TLS_PSK_WITH_AES_256_CCM_8", Some("PSK-AES256-CCM8"), K::Psk, A::Psk, "AES_256_CCM_8", "AEAD", TLS12),
cs(0xc0aa, "TLS_PSK_DHE_WITH_AES_128_CCM_8", Some("DHE-PSK-AES128-CCM8"), K::DhePsk, A::Psk, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xc0ab, "TLS_PSK_DHE_WITH_AES_256_CCM_8", Some("DHE-PSK-AES256-CCM8"), K::DhePsk, A::Psk, "AES_256_CCM_8", "AEAD", TLS12),
cs(0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", Some("ECDHE-ECDSA-AES128-CCM"), K::Ecdhe, A::Ecdsa, "AES_128_CCM", "AEAD", TLS12),
cs(0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", Some("ECDHE-ECDSA-AES256-CCM"), K::Ecdhe, A::Ecdsa, "AES_256_CCM", "AEAD", TLS12),
cs(0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", Some("ECDHE-ECDSA-AES128-CCM8"), K::Ecdhe, A::Ecdsa, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", Some("ECDHE-ECDSA-AES256-CCM8"), K::Ecdhe, A::Ecdsa, "AES_256_CCM_8", "AEAD", TLS12),
cs(0xc0b0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", None, K::EccPwd, A::EccPwd, "AES_128_GCM", "AEAD", TLS12),
cs(0xc0b1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384", None, K::EccPwd, A::EccPwd, "AES_256_GCM", "AEAD", TLS12),
cs(0xc0b2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256", None, K::EccPwd, A::EccPwd, "AES_128_CCM", "AEAD", TLS12),
cs(0xc0b3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384", None, K::EccPwd, A::EccPwd, "AES_256_CCM", "AEAD", TLS12),
cs(0xc0b4, "TLS_SHA256_SHA256", None, K::Any, A::Any, "NULL", "SHA256", TLS13),
cs(0xc0b5, "TLS_SHA384_SHA384", None, K::Any, A::Any, "NULL", "SHA384", TLS13),
cs(0xc100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", Some("GOST2012-KUZNYECHIK-KUZNYECHIKOMAC"), K::Gost, A::Gost, "KUZNYECHIK_CTR", "OMAC", TLS12),
cs(0xc101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", Some("GOST2012-MAGMA-MAGMAOMAC"), K::Gost, A::Gost, "MAGMA_CTR", "OMAC", TLS12),
cs(0xc102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", Some("IANA-GOST2012-GOST8912-GOST8912"), K::Gost, A::Gost, "28147_CNT", "IMIT", TLS12),
cs(0xc103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", None, K::Any, A::Any, "KUZNYECHIK_MGM_L", "AEAD", TLS13),
cs(0xc104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", None, K::Any, A::Any, "MAGMA_MGM_L", "AEAD", TLS13),
cs(0xc105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S", None, K::Any, A::Any, "KUZNYECHIK_MGM_S", "AEAD", TLS13),
cs(0xc106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", None, K::Any, A::Any, "MAGMA_MGM_S", "AEAD", TLS13),
cs(0xcc13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD", Some("ECDHE-RSA-CHACHA20-POLY1305-OLD"), K::Ecdhe, A::Rsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xcc14, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD", Some("ECDHE-ECDSA-CHACHA20-POLY1305-OLD"), K::Ecdhe, A::Ecdsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xcc15, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD", Some("DHE-RSA-CHACHA20-POLY1305-OLD"), K::Dhe, A::Rsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Some("ECDHE-RSA-CHACHA20-POLY1305"), K::Ecdhe, A::Rsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Some("ECDHE-ECDSA-CHACHA20-POLY1305"), K::Ecdhe, A::Ecdsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Some("DHE-RSA-CHACHA20-POLY1305"), K::Dhe, A::Rsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", Some("PSK-CHACHA20-POLY1305"), K::Psk, A::Psk, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xccac, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", Some("ECDHE-PSK-CHACHA20-POLY1305"), K::EcdhePsk, A::Psk, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xccad, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", Some("DHE-PSK-CHACHA20-POLY1305"), K::DhePsk, A::Psk, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xccae, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", Some("RSA-PSK-CHACHA20-POLY1305"), K::RsaPsk, A::Rsa, "CHACHA20_POLY1305", "AEAD", TLS12),
cs(0xd001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", None, K::EcdhePsk, A::Psk, "AES_128_GCM", "AEAD", TLS12),
cs(0xd002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", None, K::EcdhePsk, A::Psk, "AES_256_GCM", "AEAD", TLS12),
cs(0xd003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", None, K::EcdhePsk, A::Psk, "AES_128_CCM_8", "AEAD", TLS12),
cs(0xd005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", None, K::EcdhePsk, A::Psk, "AES_128_CCM", "AEAD", TLS12),
cs(0xfefe, "SSL_RSA_FIPS_WITH_DES_CBC_SHA", None, K::Rsa, A::Rsa, "DES_CBC", "SHA", SSL30),
cs(0xfeff, "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA", None, K::Rsa, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0xff85, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT_OLD", Some("GOST2012-GOST8912-GOST8912"), K::Gost, A::Gost, "28147_CNT", "IMIT", TLS10),
cs(0xff87, "TLS_GOSTR341112_256_WITH_NULL_GOSTR3411", Some("GOST2012-NULL-GOST12"), K::Gost, A::Gost, "NULL", "GOSTR3411", TLS10),
cs(0xffe0, "SSL_RSA_OLDFIPS_WITH_3DES_EDE_CBC_SHA", None, K::Rsa, A::Rsa, "3DES_EDE_CBC", "SHA", SSL30),
cs(0xffe1, "SSL_RSA_OLDFIPS_WITH_DES_CBC_SHA", None, K::Rsa, A::Rsa, "DES_CBC", "SHA", SSL30),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::registry::tests::check_table;
    use std::process::Command;

    #[test]
    fn lookup_by_id_finds_the_first_row_of_each_id() {
        for id in 0..=u16::MAX {
            let first = CIPHER_SUITES.iter().find(|s| s.id == id);
            assert_eq!(
                suite(id).map(|s| s as *const _),
                first.map(|s| s as *const _)
            );
        }
    }

    #[test]
    fn table_is_sound() {
        check_table(CIPHER_SUITES, "cipher suite");
        assert!(CIPHER_SUITES.len() >= 340, "{}", CIPHER_SUITES.len());
        assert!(
            CIPHER_SUITES.windows(2).all(|w| w[0].id < w[1].id),
            "sorted by id"
        );
        for s in CIPHER_SUITES {
            assert!(
                s.iana.starts_with("TLS_") || s.iana.starts_with("SSL_"),
                "{}",
                s.iana
            );
            assert!(!(s.aead() && s.cbc()), "{}", s.iana);
            assert_eq!(s.is_tls13(), s.kx == KeyExchange::Any, "{}", s.iana);
        }
    }

    /// Every suite the local OpenSSL knows must carry exactly OpenSSL's IANA name, OpenSSL
    /// name, key exchange, anonymity, AEAD-ness, null cipher and first version.
    #[test]
    fn agrees_with_local_openssl() {
        let lists = [
            vec![
                "ciphers",
                "-V",
                "-stdname",
                "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
            ],
            vec![
                "ciphers",
                "-V",
                "-stdname",
                "-s",
                "-tls1_3",
                "-ciphersuites",
                "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256",
            ],
        ];
        let mut seen = 0;
        for args in lists {
            let Ok(out) = Command::new("openssl").args(&args).output() else {
                eprintln!("openssl not on PATH: skipping");
                return;
            };
            assert!(out.status.success(), "openssl {args:?} failed");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (bytes, iana, ossl, ver) = (f[0], f[2], f[4], f[5]);
                let (hi, lo) = bytes.split_once(',').unwrap();
                let id = u16::from_str_radix(&hi[2..], 16).unwrap() << 8
                    | u16::from_str_radix(&lo[2..], 16).unwrap();
                let s = suite(id).unwrap_or_else(|| panic!("{line}"));
                assert_eq!((s.iana, s.openssl), (iana, Some(ossl)), "{line}");
                let field = |k: &str| f.iter().find_map(|x| x.strip_prefix(k)).unwrap();
                let kx = match field("Kx=") {
                    "RSA" => K::Rsa,
                    "DH" => K::Dhe,
                    "ECDH" => K::Ecdhe,
                    "PSK" => K::Psk,
                    "DHEPSK" => K::DhePsk,
                    "RSAPSK" => K::RsaPsk,
                    "ECDHEPSK" => K::EcdhePsk,
                    "SRP" => K::Srp,
                    "any" => K::Any,
                    other => panic!("Kx={other}"),
                };
                assert_eq!(s.kx, kx, "{line}");
                assert_eq!(s.anonymous(), field("Au=") == "None", "{line}");
                assert_eq!(s.aead(), field("Mac=") == "AEAD", "{line}");
                assert_eq!(s.null_cipher(), field("Enc=") == "None", "{line}");
                let v = match ver {
                    "SSLv3" => SSL30,
                    "TLSv1" => TLS10,
                    "TLSv1.2" => TLS12,
                    "TLSv1.3" => TLS13,
                    o => panic!("{o}"),
                };
                assert_eq!(s.min_version, v, "{line}");
                assert_eq!(parse_suite(ossl), Ok(id));
                assert_eq!(parse_suite(iana), Ok(id));
                seen += 1;
            }
        }
        assert!(seen > 100, "only {seen} lines from openssl");
    }

    /// tls-parser carries its own table generated from the IANA registry: every id it
    /// knows must have the same name here.
    #[test]
    fn agrees_with_tls_parser() {
        let mut matched = 0;
        for id in 0..=u16::MAX {
            if let Some(theirs) = tls_parser::TlsCipherSuite::from_id(id) {
                assert_eq!(suite(id).map(|s| s.iana), Some(theirs.name), "0x{id:04x}");
                matched += 1;
            }
        }
        assert!(matched > 300, "{matched}");
    }

    #[test]
    fn names_and_ids() {
        assert_eq!(suite_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0x1234), "0x1234");
        assert_eq!(parse_suite("0x1234"), Ok(0x1234));
        assert_eq!(suite_name(parse_suite("0x1234").unwrap()), "0x1234");
        assert_eq!(suite_name(0x3a3a), "GREASE_0x3a3a");
        assert_eq!(parse_suite("GREASE_0x3a3a"), Ok(0x3a3a));
        assert_eq!(parse_suite("ecdhe-rsa-aes128-gcm-sha256"), Ok(0xc02f));
        assert_eq!(parse_suite(" tls_aes_128_gcm_sha256 "), Ok(0x1301));
        assert_eq!(parse_suite("0XC02F"), Ok(0xc02f));
        assert!(parse_suite("0x12345").is_err());
        assert!(parse_suite("0x").is_err());
        assert!(parse_suite("0x+12").is_err());
        assert_eq!(
            sslv2_cipher_name(0x0700c0),
            "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
        );
        assert_eq!(sslv2_cipher_name(0x00002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(sslv2_cipher_name(0x123456), "0x123456");
        assert!(SSLV2_CIPHER_KINDS.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn unknown_name_lists_nearest() {
        let err = parse_suite("TLS_AES_128_GCM_SHA265").unwrap_err();
        assert_eq!(err.kind, "cipher suite");
        assert_eq!(err.given, "TLS_AES_128_GCM_SHA265");
        assert_eq!(err.nearest.len(), 5);
        assert_eq!(err.nearest[0], "TLS_AES_128_GCM_SHA256");
        assert!(
            err.to_string().starts_with(
                "unknown cipher suite \"TLS_AES_128_GCM_SHA265\"; nearest: TLS_AES_128_GCM_SHA256, "
            ),
            "{err}"
        );
        // An OpenSSL-style typo is matched against OpenSSL names too.
        let err = parse_suites("ECDHE-RSA-AES128-GCM-SHA265").unwrap_err();
        assert_eq!(err.nearest[0], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        // Hostile input costs bounded work and still answers; nothing is near it.
        assert!(
            parse_suite(&"x".repeat(100_000))
                .unwrap_err()
                .nearest
                .is_empty()
        );
        // Far from every name: no suggestions rather than unrelated ones.
        let err = parse_suite("FOO").unwrap_err();
        assert!(err.nearest.is_empty(), "{:?}", err.nearest);
        assert!(
            err.to_string()
                .ends_with("(give a registry name or a 0xHHHH id)")
        );
    }

    #[test]
    fn weaknesses() {
        let w = |id, v| suite(id).unwrap().weaknesses(v);
        assert!(w(0x1301, TLS13).is_empty());
        assert!(w(0xc02f, TLS12).is_empty());
        assert_eq!(w(0xc013, TLS10), ["CBC"]);
        assert!(w(0xc013, TLS12).is_empty());
        assert_eq!(w(0x000a, TLS12), ["3DES", "no forward secrecy"]);
        assert_eq!(w(0x0009, TLS12), ["DES", "no forward secrecy"]);
        assert_eq!(w(0x0003, SSL30), ["EXPORT", "RC4", "no forward secrecy"]);
        assert_eq!(w(0x0034, TLS12), ["anonymous"]);
        assert_eq!(
            w(0x0000, TLS12),
            ["NULL", "anonymous", "no forward secrecy"]
        );
        assert_eq!(w(0xc0b4, TLS13), ["NULL"]);
        assert!(w(0x5600, TLS10).is_empty() && w(0x00ff, TLS10).is_empty());
        let s = suite(0x0063).unwrap();
        assert!(s.export() && s.forward_secret() && s.cbc() && s.des_or_3des());
    }

    #[test]
    fn keywords() {
        let ids = |k: &str| parse_suites(k).unwrap();
        let all = ids("all");
        assert_eq!(all.len(), CIPHER_SUITES.len() - 2);
        assert!(!all.contains(&0x00ff) && !all.contains(&0x5600));
        let tls13 = ids("TLS13");
        assert!(
            tls13.starts_with(&[0x00c6, 0x00c7, 0x1301, 0x1302, 0x1303]),
            "{tls13:x?}"
        );
        assert!(tls13.iter().all(|&i| suite(i).unwrap().is_tls13()));
        assert_eq!(ids("TLS13").len() + ids("LEGACY").len(), all.len());
        let ecdhe = ids("ECDHE");
        assert!(ecdhe.contains(&0xc02f) && !ecdhe.contains(&0xc018) && !ecdhe.contains(&0xccac));
        let dhe = ids("DHE");
        assert!(dhe.contains(&0x009e) && !dhe.contains(&0x0034) && !dhe.contains(&0x00aa));
        assert!(ids("RSA").contains(&0x002f) && !ids("RSA").contains(&0x00ac));
        assert!(ids("AEAD").contains(&0x1301) && !ids("AEAD").contains(&0x002f));
        assert!(ids("CBC").contains(&0x002f) && !ids("CBC").contains(&0x1301));
        assert!(ids("EXPORT").contains(&0x0003) && ids("EXPORT").contains(&0x0064));
        assert!(ids("NULL").contains(&0x0002) && !ids("NULL").contains(&0x5600));
        assert!(ids("ANON").contains(&0xc018));
        assert!(ids("RC4").contains(&0x0005) && ids("3DES").contains(&0x000a));
        assert!(!ids("3DES").contains(&0x0009));
        let weak = ids("WEAK");
        for k in ["NULL", "ANON", "EXPORT", "RC4", "3DES"] {
            assert!(ids(k).iter().all(|i| weak.contains(i)), "{k}");
        }
        assert!(weak.contains(&0x0009) && !weak.contains(&0xc02f));
        assert!(
            ids("OPENSSL")
                .iter()
                .all(|&i| suite(i).unwrap().openssl.is_some())
        );
        assert_eq!(
            ids("tls13, 0x00ff:ECDHE-RSA-AES128-SHA").len(),
            tls13.len() + 2
        );
        // No keyword shadows a suite name.
        for (k, _) in SUITE_KEYWORDS {
            assert!(parse_suite(k).is_err(), "{k}");
        }
    }
}
