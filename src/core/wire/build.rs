//! From a validated [`HelloSpec`] to the exact bytes of a ClientHello.
//!
//! Each target version starts from the defaults of a modern real client of that version, so
//! a server answers our hello as it would answer that client; every override then applies on
//! top. The defaults were checked against hellos recorded from real clients on this machine
//! (tests/golden/, see tests/golden/record.py):
//!
//! - TLS 1.3: OpenSSL 3.0 `s_client` (as curl and python use it): same suites, groups,
//!   signature algorithms and extension order; supported_versions offers 1.3 and 1.2 only,
//!   like python and browsers (s_client also lists 1.1 and 1.0).
//! - TLS 1.2: OpenSSL 3.0 `s_client -tls1_2` plus 3DES, with the renegotiation_info extension
//!   instead of the SCSV (RFC 5746 advises against sending both).
//! - TLS 1.1 / 1.0: OpenSSL 3.0 `s_client -tls1` (no GCM, no SHA-256 suites, no
//!   signature_algorithms) plus 3DES, renegotiation_info as for 1.2.
//! - SSLv3: no extensions, classic SSLv3 suites and TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
//! - SSLv2: an SSLv2-format hello with all seven SSLv2 cipher kinds.
//!
//! Pure: the randomness (random, session id, GREASE values) comes in as [`HelloRandoms`],
//! drawn from the caller's entropy, and the key shares come in as public values made by
//! `crypto::hello`, which holds their private halves; fixed inputs give fixed bytes.

use super::ProtocolVersion;
use super::codec::{LengthOverflow, Prefix, put_prefixed, put_u16s};
use super::hello::{ClientHello, Extension, LengthOverrides, server_name_data};
use super::sslv2::{self, Sslv2ClientHello};
use crate::core::wire::registry::extensions::types as ext;
use bytes::BufMut;
use std::borrow::Cow;

/// What goes in server_name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sni {
    /// The target host if it is a DNS name; none for an IP literal, as real clients do.
    #[default]
    Auto,
    /// No server_name extension.
    None,
    /// This name, whatever it is (an IP literal or an empty name is sent as given).
    Name(String),
}

/// A hello to build: a target version with its coherent defaults, and overrides.
/// `None` in an override means "the default for `version`"; `Some(vec![])` sends an empty
/// list. Versions other than the six known ones get the TLS 1.3 defaults.
///
/// A list or extension too long for its length field makes [`encode`] fail (the CLI says
/// so and exits 2); a wrong length on purpose is asked for in `lengths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloSpec {
    pub version: ProtocolVersion,
    pub record_version: Option<u16>,
    pub legacy_version: Option<u16>,
    /// Given with a target below TLS 1.3, this adds the extension.
    pub supported_versions: Option<Cow<'static, [u16]>>,
    pub cipher_suites: Option<Vec<u16>>,
    pub compression_methods: Option<Vec<u8>>,
    pub session_id: Option<Vec<u8>>,
    pub sni: Sni,
    /// The lists are borrowed when they are fixed (a scan's hellos offer the same few
    /// lists again and again: each copy was an allocation a hello).
    pub groups: Option<Cow<'static, [u16]>>,
    /// Groups to send a key share for. Default for TLS 1.3: the first offered group.
    pub key_shares: Option<Cow<'static, [u16]>>,
    pub sigalgs: Option<Cow<'static, [u16]>>,
    /// Borrowed names cost nothing to list: a scan's every hello offers the same two.
    pub alpn: Option<Cow<'static, [Cow<'static, str>]>>,
    /// The status_request extension (an OCSP request, no responder ids or request
    /// extensions, as browsers send it), after the default extensions and before the
    /// extras; an extra of its type replaces it there.
    pub status_request: bool,
    /// Raw extensions appended in order; one with the type of a default extension replaces
    /// that extension in place instead.
    pub extra_extensions: Vec<Extension>,
    /// Default extensions to leave out.
    pub omit_extensions: Vec<u16>,
    /// RFC 8701 GREASE values, placed as Chrome places them.
    pub grease: bool,
    /// RFC 7685 padding so the handshake message (header included) is at least this long.
    pub pad_to: Option<usize>,
    /// Largest number of handshake bytes per record.
    pub fragment: Option<usize>,
    /// Lengths written verbatim instead of the true ones (wrong on purpose).
    pub lengths: LengthOverrides,
}

impl Default for HelloSpec {
    fn default() -> Self {
        HelloSpec {
            version: ProtocolVersion::TLS13,
            record_version: None,
            legacy_version: None,
            supported_versions: None,
            cipher_suites: None,
            compression_methods: None,
            session_id: None,
            sni: Sni::Auto,
            groups: None,
            key_shares: None,
            sigalgs: None,
            alpn: None,
            status_request: false,
            extra_extensions: Vec::new(),
            omit_extensions: Vec::new(),
            grease: false,
            pad_to: None,
            fragment: None,
            lengths: LengthOverrides::default(),
        }
    }
}

/// The public half of one key share, as the hello carries it; the key pair behind it is
/// made (and kept) by `crypto::hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShare {
    pub group: u16,
    /// Shared with the key pair it came from (`crypto::ecdh`'s `KeyShareSecret`):
    /// a scan's hellos reuse the run's key pairs, and a copy of each public key was an
    /// allocation a hello.
    pub public: std::sync::Arc<[u8]>,
}

/// The random bytes one hello carries, drawn in a fixed order (random, session id,
/// GREASE; the SSLv2 challenge alone for an SSLv2 hello), so fixed entropy gives fixed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloRandoms {
    pub random: [u8; 32],
    /// Used when the spec gives no session id.
    pub session_id: Vec<u8>,
    /// Drawn only for a spec that asks for GREASE.
    pub grease: Option<[u8; 5]>,
    /// The SSLv2 challenge (16 bytes, as OpenSSL sent it); empty for other hellos.
    pub challenge: Vec<u8>,
}

impl HelloRandoms {
    pub fn draw(spec: &HelloSpec, entropy: &mut dyn FnMut(&mut [u8])) -> Self {
        let mut r = HelloRandoms {
            random: [0; 32],
            session_id: Vec::new(),
            grease: None,
            challenge: Vec::new(),
        };
        if spec.version == ProtocolVersion::SSLV2 {
            r.challenge = vec![0; 16];
            entropy(&mut r.challenge);
            return r;
        }
        entropy(&mut r.random);
        if spec.session_id.is_none() {
            r.session_id = vec![0; profile(spec.version).session_id_len];
            entropy(&mut r.session_id);
        }
        if spec.grease {
            let mut b = [0u8; 5];
            entropy(&mut b);
            r.grease = Some(b);
        }
        r
    }
}

/// An encoded hello: the bytes to send and the model they encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedHello {
    pub wire: Vec<u8>,
    /// `None` for an SSLv2-format hello.
    pub hello: Option<ClientHello>,
    pub sslv2: Option<Sslv2ClientHello>,
}

/// The order extensions take when present: OpenSSL 3.0's, with ALPN where curl puts it and
/// renegotiation_info last.
const EXTENSION_ORDER: [u16; 12] = [
    ext::SERVER_NAME,
    ext::EC_POINT_FORMATS,
    ext::SUPPORTED_GROUPS,
    ext::SESSION_TICKET,
    ext::ALPN,
    ext::ENCRYPT_THEN_MAC,
    ext::EXTENDED_MASTER_SECRET,
    ext::SIGNATURE_ALGORITHMS,
    ext::SUPPORTED_VERSIONS,
    ext::PSK_KEY_EXCHANGE_MODES,
    ext::KEY_SHARE,
    ext::RENEGOTIATION_INFO,
];

/// status_request's body as browsers send it: ocsp, no responder ids, no request extensions.
const STATUS_REQUEST_OCSP: [u8; 5] = [1, 0, 0, 0, 0];

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
const SCSV_RENEGOTIATION: u16 = 0x00ff;

/// OpenSSL 3.0 default list (as sent by s_client, curl and the TLS 1.3 golden hello).
const SUITES_TLS13: &[u16] = &[
    0x1302, // TLS_AES_256_GCM_SHA384
    0x1303, // TLS_CHACHA20_POLY1305_SHA256
    0x1301, // TLS_AES_128_GCM_SHA256
    0xc02c, // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xc030, // ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0x009f, // DHE_RSA_WITH_AES_256_GCM_SHA384
    0xcca9, // ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    0xcca8, // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0xccaa, // DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0xc02b, // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xc02f, // ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0x009e, // DHE_RSA_WITH_AES_128_GCM_SHA256
    0xc024, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    0xc028, // ECDHE_RSA_WITH_AES_256_CBC_SHA384
    0x006b, // DHE_RSA_WITH_AES_256_CBC_SHA256
    0xc023, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    0xc027, // ECDHE_RSA_WITH_AES_128_CBC_SHA256
    0x0067, // DHE_RSA_WITH_AES_128_CBC_SHA256
    0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0xc014, // ECDHE_RSA_WITH_AES_256_CBC_SHA
    0x0039, // DHE_RSA_WITH_AES_256_CBC_SHA
    0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
    0x0033, // DHE_RSA_WITH_AES_128_CBC_SHA
    0x009d, // RSA_WITH_AES_256_GCM_SHA384
    0x009c, // RSA_WITH_AES_128_GCM_SHA256
    0x003d, // RSA_WITH_AES_256_CBC_SHA256
    0x003c, // RSA_WITH_AES_128_CBC_SHA256
    0x0035, // RSA_WITH_AES_256_CBC_SHA
    0x002f, // RSA_WITH_AES_128_CBC_SHA
    SCSV_RENEGOTIATION,
];

/// The TLS 1.3 list without the 1.3 suites and the SCSV, plus RSA 3DES.
const SUITES_TLS12: &[u16] = &[
    0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b,
    0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d,
    0x003c, 0x0035, 0x002f, 0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
];

/// OpenSSL 3.0 `-tls1` list (SHA-1 CBC suites) without the SCSV, plus RSA 3DES.
const SUITES_TLS10: &[u16] = &[
    0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x0035, 0x002f, 0x000a,
];

/// Suites an SSLv3 client of the OpenSSL 1.0 era offered, strongest first.
const SUITES_SSL3: &[u16] = &[
    0xc014, // ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0x0039, // DHE_RSA_WITH_AES_256_CBC_SHA
    0x0038, // DHE_DSS_WITH_AES_256_CBC_SHA
    0x0035, // RSA_WITH_AES_256_CBC_SHA
    0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
    0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0x0033, // DHE_RSA_WITH_AES_128_CBC_SHA
    0x0032, // DHE_DSS_WITH_AES_128_CBC_SHA
    0x002f, // RSA_WITH_AES_128_CBC_SHA
    0x0016, // DHE_RSA_WITH_3DES_EDE_CBC_SHA
    0x0013, // DHE_DSS_WITH_3DES_EDE_CBC_SHA
    0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
    0x0005, // RSA_WITH_RC4_128_SHA
    0x0004, // RSA_WITH_RC4_128_MD5
    0x0015, // DHE_RSA_WITH_DES_CBC_SHA
    0x0009, // RSA_WITH_DES_CBC_SHA
    SCSV_RENEGOTIATION,
];

/// x25519, secp256r1, x448, secp521r1, secp384r1 (OpenSSL 3.0 order).
const GROUPS_ECC: &[u16] = &[0x001d, 0x0017, 0x001e, 0x0019, 0x0018];
/// The ECC groups, then ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192.
const GROUPS_TLS13: &[u16] = &[
    0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

/// OpenSSL 3.0 signature_algorithms, as in the golden hellos.
const SIGALGS: &[u16] = &[
    0x0403, // ecdsa_secp256r1_sha256
    0x0503, // ecdsa_secp384r1_sha384
    0x0603, // ecdsa_secp521r1_sha512
    0x0807, // ed25519
    0x0808, // ed448
    0x0809, // rsa_pss_pss_sha256
    0x080a, // rsa_pss_pss_sha384
    0x080b, // rsa_pss_pss_sha512
    0x0804, // rsa_pss_rsae_sha256
    0x0805, // rsa_pss_rsae_sha384
    0x0806, // rsa_pss_rsae_sha512
    0x0401, // rsa_pkcs1_sha256
    0x0501, // rsa_pkcs1_sha384
    0x0601, // rsa_pkcs1_sha512
    0x0303, // ecdsa_sha224
    0x0301, // rsa_sha224
    0x0302, // dsa_sha224
    0x0402, // dsa_sha256
    0x0502, // dsa_sha384
    0x0602, // dsa_sha512
];

/// uncompressed, ansiX962_compressed_prime, ansiX962_compressed_char2 (as OpenSSL sends).
const EC_POINT_FORMATS: &[u8] = &[0, 1, 2];
/// psk_dhe_ke.
const PSK_MODES: &[u8] = &[1];

/// Defaults of one target version.
struct Profile {
    record_version: u16,
    legacy_version: u16,
    session_id_len: usize,
    suites: &'static [u16],
    groups: &'static [u16],
    /// `None`: no extensions block at all.
    extensions: Option<&'static [u16]>,
    supported_versions: &'static [u16],
}

fn profile(version: ProtocolVersion) -> Profile {
    const CLASSIC_EXTS: &[u16] = &[
        ext::SERVER_NAME,
        ext::EC_POINT_FORMATS,
        ext::SUPPORTED_GROUPS,
        ext::SESSION_TICKET,
        ext::ENCRYPT_THEN_MAC,
        ext::EXTENDED_MASTER_SECRET,
        ext::RENEGOTIATION_INFO,
    ];
    const TLS12_EXTS: &[u16] = &[
        ext::SERVER_NAME,
        ext::EC_POINT_FORMATS,
        ext::SUPPORTED_GROUPS,
        ext::SESSION_TICKET,
        ext::ENCRYPT_THEN_MAC,
        ext::EXTENDED_MASTER_SECRET,
        ext::SIGNATURE_ALGORITHMS,
        ext::RENEGOTIATION_INFO,
    ];
    const TLS13_EXTS: &[u16] = &[
        ext::SERVER_NAME,
        ext::EC_POINT_FORMATS,
        ext::SUPPORTED_GROUPS,
        ext::SESSION_TICKET,
        ext::ENCRYPT_THEN_MAC,
        ext::EXTENDED_MASTER_SECRET,
        ext::SIGNATURE_ALGORITHMS,
        ext::SUPPORTED_VERSIONS,
        ext::PSK_KEY_EXCHANGE_MODES,
        ext::KEY_SHARE,
    ];
    let classic = |legacy: u16, suites, exts| Profile {
        record_version: 0x0301,
        legacy_version: legacy,
        session_id_len: 0,
        suites,
        groups: GROUPS_ECC,
        extensions: Some(exts),
        supported_versions: &[],
    };
    match version {
        ProtocolVersion::SSLV3 => Profile {
            record_version: 0x0300,
            legacy_version: 0x0300,
            session_id_len: 0,
            suites: SUITES_SSL3,
            groups: GROUPS_ECC,
            extensions: None,
            supported_versions: &[],
        },
        ProtocolVersion::TLS10 => classic(0x0301, SUITES_TLS10, CLASSIC_EXTS),
        ProtocolVersion::TLS11 => classic(0x0302, SUITES_TLS10, CLASSIC_EXTS),
        ProtocolVersion::TLS12 => classic(0x0303, SUITES_TLS12, TLS12_EXTS),
        // TLS 1.3 and any other value: the newest defaults.
        _ => Profile {
            record_version: 0x0301,
            legacy_version: 0x0303,
            session_id_len: 32,
            suites: SUITES_TLS13,
            groups: GROUPS_TLS13,
            extensions: Some(TLS13_EXTS),
            supported_versions: &[0x0304, 0x0303],
        },
    }
}

/// Whether the hello for `spec` carries an extension of type `typ` that we make (before
/// omissions and raw replacements).
fn carries(spec: &HelloSpec, p: &Profile, typ: u16) -> bool {
    let defaults = p.extensions.unwrap_or(&[]);
    match typ {
        ext::SERVER_NAME => defaults.contains(&typ) || matches!(spec.sni, Sni::Name(_)),
        ext::SUPPORTED_GROUPS => defaults.contains(&typ) || spec.groups.is_some(),
        ext::SIGNATURE_ALGORITHMS => defaults.contains(&typ) || spec.sigalgs.is_some(),
        ext::ALPN => spec.alpn.is_some(),
        ext::SUPPORTED_VERSIONS => defaults.contains(&typ) || spec.supported_versions.is_some(),
        ext::KEY_SHARE => defaults.contains(&typ) || spec.key_shares.is_some(),
        _ => defaults.contains(&typ),
    }
}

/// The groups the hello for `spec` sends a key share for, in order: the caller makes one
/// [`KeyShare`] for each and hands them to [`encode`]. None when the key_share extension is
/// left out or given raw.
pub fn key_share_groups(spec: &HelloSpec) -> Vec<u16> {
    if spec.version == ProtocolVersion::SSLV2 {
        return Vec::new();
    }
    let p = profile(spec.version);
    let sent = carries(spec, &p, ext::KEY_SHARE)
        && !spec.omit_extensions.contains(&ext::KEY_SHARE)
        && !spec
            .extra_extensions
            .iter()
            .any(|e| e.typ == ext::KEY_SHARE);
    if !sent {
        return Vec::new();
    }
    // Like OpenSSL: one share, for the first group offered.
    spec.key_shares
        .as_deref()
        .map(<[u16]>::to_vec)
        .unwrap_or_else(|| {
            let first = spec.groups.as_deref().unwrap_or(p.groups).first();
            first.map(|g| vec![*g]).unwrap_or_default()
        })
}

/// Encodes the hello `spec` describes for `host` (the target's host name or IP literal),
/// with the random bytes of `randoms` and the key shares `shares` (one per group of
/// [`key_share_groups`], in that order). Fails when a list or extension is too long for
/// its length field (lengths given in `spec.lengths` are written as given).
pub fn encode(
    spec: &HelloSpec,
    host: Option<&str>,
    randoms: &HelloRandoms,
    shares: &[KeyShare],
) -> Result<EncodedHello, LengthOverflow> {
    encode_padded(spec, host, randoms.clone(), shares, None)
}

/// [`encode`], and when the spec sets no `pad_to`, a TLS hello whose handshake message is
/// `window.start` to `window.end - 1` bytes long padded to `window.end`, as OpenSSL pads
/// (some F5 load balancers dropped hellos of 256 to 511 bytes). Decided on the model, so
/// the bytes are written once. The randoms move into the hello (no copies).
pub fn encode_padded(
    spec: &HelloSpec,
    host: Option<&str>,
    randoms: HelloRandoms,
    shares: &[KeyShare],
    window: Option<std::ops::Range<usize>>,
) -> Result<EncodedHello, LengthOverflow> {
    if spec.version == ProtocolVersion::SSLV2 {
        return encode_sslv2(spec, randoms.challenge);
    }
    let p = profile(spec.version);
    let random = randoms.random;
    let session_id = match &spec.session_id {
        Some(sid) => sid.clone(),
        None => randoms.session_id,
    };
    let grease = randoms
        .grease
        .filter(|_| spec.grease)
        .map(Grease::from_bytes);

    let mut cipher_suites = spec
        .cipher_suites
        .clone()
        .unwrap_or_else(|| p.suites.to_vec());
    if let Some(g) = &grease {
        cipher_suites.insert(0, g.suite);
    }

    // Which extension types this hello carries, before omissions.
    let wanted = |typ: u16| carries(spec, &p, typ);
    let groups = spec.groups.as_deref().unwrap_or(p.groups);
    // Room for every default, the extras and two GREASE extensions: grown once, not thrice.
    let mut extensions =
        Vec::with_capacity(EXTENSION_ORDER.len() + spec.extra_extensions.len() + 2);
    // Types whose first extra took a default extension's place.
    let mut in_place = Vec::new();
    for typ in EXTENSION_ORDER {
        if !wanted(typ) || spec.omit_extensions.contains(&typ) {
            continue;
        }
        // An extra of this type takes the slot (and no key is made for a share not sent).
        if let Some(extra) = spec.extra_extensions.iter().find(|e| e.typ == typ) {
            extensions.push(extra.clone());
            in_place.push(typ);
            continue;
        }
        let data = match typ {
            ext::SERVER_NAME => match sni_name(&spec.sni, host) {
                Some(name) => server_name_data(&name)?,
                None => continue,
            },
            ext::EC_POINT_FORMATS => u8_list("ec_point_formats", EC_POINT_FORMATS)?,
            ext::SUPPORTED_GROUPS => {
                let first = grease.as_ref().map(|g| g.group);
                u16_list_u16_after("supported_groups", first, groups)?
            }
            ext::SIGNATURE_ALGORITHMS => u16_list_u16(
                "signature_algorithms",
                spec.sigalgs.as_deref().unwrap_or(SIGALGS),
            )?,
            ext::ALPN => alpn_data(spec.alpn.as_deref().unwrap_or(&[]))?,
            ext::SUPPORTED_VERSIONS => {
                let list = spec
                    .supported_versions
                    .as_deref()
                    .unwrap_or(p.supported_versions);
                let first = grease.as_ref().map(|g| g.version);
                let mut d = Vec::with_capacity(3 + list.len() * 2);
                put_prefixed(
                    &mut d,
                    Prefix::U8,
                    &|| "supported_versions".into(),
                    None,
                    |d| {
                        first.iter().for_each(|v| d.put_u16(*v));
                        put_u16s(d, list);
                        Ok(())
                    },
                )?;
                d
            }
            ext::PSK_KEY_EXCHANGE_MODES => u8_list("psk_key_exchange_modes", PSK_MODES)?,
            ext::KEY_SHARE => {
                let mut entries = Vec::with_capacity(shares.len() + 1);
                if let Some(g) = &grease {
                    entries.push((g.group, &[0u8][..]));
                }
                entries.extend(shares.iter().map(|s| (s.group, &s.public[..])));
                key_share_data(&entries)?
            }
            ext::RENEGOTIATION_INFO => vec![0], // empty renegotiated_connection
            _ => Vec::new(),                    // flag extensions: empty data
        };
        extensions.push(Extension { typ, data });
    }
    if spec.status_request
        && !spec.omit_extensions.contains(&ext::STATUS_REQUEST)
        && !spec
            .extra_extensions
            .iter()
            .any(|e| e.typ == ext::STATUS_REQUEST)
    {
        extensions.push(Extension {
            typ: ext::STATUS_REQUEST,
            data: STATUS_REQUEST_OCSP.to_vec(),
        });
    }
    // The other extras are appended in order, duplicates included, since that may be the
    // point.
    for (i, extra) in spec.extra_extensions.iter().enumerate() {
        let first_of_type = !spec.extra_extensions[..i]
            .iter()
            .any(|e| e.typ == extra.typ);
        if !(first_of_type && in_place.contains(&extra.typ)) {
            extensions.push(extra.clone());
        }
    }
    if let Some(g) = &grease {
        extensions.insert(
            0,
            Extension {
                typ: g.extension_first,
                data: Vec::new(),
            },
        );
        extensions.push(Extension {
            typ: g.extension_last,
            data: vec![0],
        });
    }
    let has_block = p.extensions.is_some() || !extensions.is_empty();
    let mut hello = ClientHello {
        record_version: spec.record_version.unwrap_or(p.record_version),
        legacy_version: spec.legacy_version.unwrap_or(p.legacy_version),
        random,
        session_id,
        cipher_suites,
        compression_methods: spec.compression_methods.clone().unwrap_or_else(|| vec![0]),
        extensions: has_block.then_some(extensions),
    };
    if let Some(target) = spec.pad_to {
        pad(&mut hello, target);
    } else if let Some(window) = window
        && window.contains(&hello.encoded_len())
    {
        pad(&mut hello, window.end);
    }
    Ok(EncodedHello {
        wire: hello.to_records_with(spec.fragment, &spec.lengths)?,
        hello: Some(hello),
        sslv2: None,
    })
}

/// SSLv2 honours `legacy_version` (the hello's version), `session_id`, and `cipher_suites`
/// (sent as `0x00XXXX` specs, the form SSLv3/TLS suites take in an SSLv2 hello); every other
/// option has no SSLv2 form and is ignored.
fn encode_sslv2(spec: &HelloSpec, challenge: Vec<u8>) -> Result<EncodedHello, LengthOverflow> {
    let hello = Sslv2ClientHello {
        version: spec.legacy_version.unwrap_or(0x0002),
        cipher_specs: match &spec.cipher_suites {
            Some(suites) => suites.iter().map(|s| u32::from(*s)).collect(),
            None => sslv2::ALL_CIPHER_KINDS.to_vec(),
        },
        session_id: spec.session_id.clone().unwrap_or_default(),
        challenge,
    };
    Ok(EncodedHello {
        wire: hello.encode()?,
        hello: None,
        sslv2: Some(hello),
    })
}

/// RFC 8701 values drawn for one hello. As Chrome does, the group and its key share use one
/// value, and the two GREASE extensions differ.
struct Grease {
    suite: u16,
    group: u16,
    version: u16,
    extension_first: u16,
    extension_last: u16,
}

impl Grease {
    fn from_bytes(b: [u8; 5]) -> Self {
        let value = |n: u8| {
            let k = u16::from(n & 0x0f);
            0x0a0a | (k << 12) | (k << 4)
        };
        let extension_first = value(b[3]);
        let mut extension_last = value(b[4]);
        if extension_last == extension_first {
            extension_last ^= 0x1010;
        }
        Grease {
            suite: value(b[0]),
            group: value(b[1]),
            version: value(b[2]),
            extension_first,
            extension_last,
        }
    }
}

/// The SNI to send: `Auto` takes the host when it is a DNS name (a trailing dot removed, as
/// curl does), never an IP literal.
pub fn sni_name(sni: &Sni, host: Option<&str>) -> Option<String> {
    match sni {
        Sni::None => None,
        Sni::Name(n) => Some(n.clone()),
        Sni::Auto => {
            let h = host?.trim_start_matches('[').trim_end_matches(']');
            let h = h.strip_suffix('.').unwrap_or(h);
            if h.is_empty() || h.parse::<std::net::IpAddr>().is_ok() {
                None
            } else {
                Some(h.to_string())
            }
        }
    }
}

/// A vector of bytes behind a u8 length (`what` names it if it does not fit).
fn u8_list(what: &str, items: &[u8]) -> Result<Vec<u8>, LengthOverflow> {
    let mut d = Vec::with_capacity(items.len() + 1);
    put_prefixed(&mut d, Prefix::U8, &|| what.to_string(), None, |d| {
        d.put_slice(items);
        Ok(())
    })?;
    Ok(d)
}

/// A vector of u16 values behind a u16 length.
fn u16_list_u16(what: &str, items: &[u16]) -> Result<Vec<u8>, LengthOverflow> {
    u16_list_u16_after(what, None, items)
}

/// [`u16_list_u16`] of `first` (a GREASE value), if any, then `items`: written in place,
/// not gathered into a list first.
fn u16_list_u16_after(
    what: &str,
    first: Option<u16>,
    items: &[u16],
) -> Result<Vec<u8>, LengthOverflow> {
    let mut d = Vec::with_capacity(items.len() * 2 + 4);
    put_prefixed(&mut d, Prefix::U16, &|| what.to_string(), None, |d| {
        first.iter().for_each(|i| d.put_u16(*i));
        put_u16s(d, items);
        Ok(())
    })?;
    Ok(d)
}

fn alpn_data(protocols: &[Cow<'static, str>]) -> Result<Vec<u8>, LengthOverflow> {
    let mut d = Vec::with_capacity(2 + protocols.iter().map(|p| 1 + p.len()).sum::<usize>());
    put_prefixed(&mut d, Prefix::U16, &|| "the ALPN list".into(), None, |d| {
        for p in protocols {
            put_prefixed(
                d,
                Prefix::U8,
                &|| format!("ALPN protocol {p:?}"),
                None,
                |d| {
                    d.put_slice(p.as_bytes());
                    Ok(())
                },
            )?;
        }
        Ok(())
    })?;
    Ok(d)
}

/// A ClientHello key_share extension body: (group, public key) entries.
pub(super) fn key_share_data(shares: &[(u16, &[u8])]) -> Result<Vec<u8>, LengthOverflow> {
    // Sized up front: grown from nothing, three shares took seven allocations.
    let mut d = Vec::with_capacity(2 + shares.iter().map(|(_, k)| 4 + k.len()).sum::<usize>());
    put_prefixed(
        &mut d,
        Prefix::U16,
        &|| "the key_share list".into(),
        None,
        |d| {
            for (group, key) in shares {
                d.put_u16(*group);
                put_prefixed(
                    d,
                    Prefix::U16,
                    &|| format!("key share 0x{group:04x}"),
                    None,
                    |d| {
                        d.put_slice(key);
                        Ok(())
                    },
                )?;
            }
            Ok(())
        },
    )?;
    Ok(d)
}

/// The hello [`encode`] made from `spec`, padded to `target` as `pad_to: Some(target)`
/// would have padded it, and its new wire bytes: the same hello without drawing randoms,
/// making key shares and encoding its lists again (a scan pads about half its hellos).
pub fn pad_encoded(
    hello: &mut ClientHello,
    spec: &HelloSpec,
    target: usize,
) -> Result<Vec<u8>, LengthOverflow> {
    pad(hello, target);
    hello.to_records_with(spec.fragment, &spec.lengths)
}

/// Adds RFC 7685 padding (zeros) so the handshake message is at least `target` bytes. The
/// extension's own 4-byte header (and, for a hello without one, the 2-byte extensions block
/// it needs) counts, so a hello a few bytes short ends up a little longer than `target`.
/// Padding is capped so the extensions block stays under 64 KiB.
fn pad(hello: &mut ClientHello, target: usize) {
    let len = hello.encoded_len();
    if len >= target {
        return;
    }
    let block_header = if hello.extensions.is_none() { 2 } else { 0 };
    let block: usize = hello.extensions().iter().map(|e| 4 + e.data.len()).sum();
    let room = 0xffff_usize.saturating_sub(block + 4);
    let data_len = (target - len).saturating_sub(4 + block_header).min(room);
    hello
        .extensions
        .get_or_insert_with(Vec::new)
        .push(Extension {
            typ: ext::PADDING,
            data: vec![0; data_len],
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic entropy: a counter, so tests see fixed but non-trivial bytes.
    fn counter() -> impl FnMut(&mut [u8]) {
        let mut n: u8 = 0;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_mul(31).wrapping_add(17);
                *b = n;
            }
        }
    }

    /// Encodes `spec` with counter randomness and placeholder key shares of the registry's
    /// lengths (real key pairs are `crypto::hello`'s, tested there).
    fn built(spec: &HelloSpec, host: Option<&str>) -> EncodedHello {
        let randoms = HelloRandoms::draw(spec, &mut counter());
        let shares: Vec<KeyShare> = key_share_groups(spec)
            .into_iter()
            .map(|group| KeyShare {
                group,
                public: vec![
                    7;
                    crate::core::wire::registry::group(group)
                        .and_then(|g| g.key_share_len)
                        .unwrap_or(32)
                ]
                .into(),
            })
            .collect();
        encode(spec, host, &randoms, &shares).unwrap()
    }

    fn tls(spec: &HelloSpec) -> ClientHello {
        built(spec, Some("example.com")).hello.unwrap()
    }

    fn version(v: ProtocolVersion) -> HelloSpec {
        HelloSpec {
            version: v,
            ..HelloSpec::default()
        }
    }

    #[test]
    fn status_request_is_the_extra_it_replaces() {
        // The flag writes what the extra wrote, where it went: after the defaults, before
        // later extras, inside the GREASE pair; an extra of its type or an omission wins.
        let heartbeat = Extension {
            typ: ext::HEARTBEAT,
            data: vec![1],
        };
        let status = Extension {
            typ: ext::STATUS_REQUEST,
            data: vec![1, 0, 0, 0, 0],
        };
        for (version, grease) in [
            (ProtocolVersion::TLS12, false),
            (ProtocolVersion::TLS13, true),
            (ProtocolVersion::TLS10, false),
        ] {
            let base = HelloSpec {
                version,
                grease,
                alpn: Some(vec!["h2".into(), "http/1.1".into()].into()),
                ..HelloSpec::default()
            };
            let as_extra = HelloSpec {
                extra_extensions: vec![status.clone(), heartbeat.clone()],
                ..base.clone()
            };
            let as_flag = HelloSpec {
                status_request: true,
                extra_extensions: vec![heartbeat.clone()],
                ..base.clone()
            };
            let wire = |spec: &HelloSpec| built(spec, Some("example.com")).wire;
            assert_eq!(wire(&as_flag), wire(&as_extra), "{version}");
            let other = Extension {
                typ: ext::STATUS_REQUEST,
                data: vec![2],
            };
            let replaced = HelloSpec {
                extra_extensions: vec![other.clone()],
                ..as_flag.clone()
            };
            let only_extra = HelloSpec {
                extra_extensions: vec![other],
                ..base.clone()
            };
            assert_eq!(wire(&replaced), wire(&only_extra), "{version}");
            let omitted = HelloSpec {
                omit_extensions: vec![ext::STATUS_REQUEST],
                ..as_flag.clone()
            };
            let without = HelloSpec {
                extra_extensions: vec![heartbeat.clone()],
                ..base.clone()
            };
            assert_eq!(wire(&omitted), wire(&without), "{version}");
        }
    }

    #[test]
    fn tls13_defaults_match_openssl3() {
        let h = tls(&HelloSpec::default());
        assert_eq!((h.record_version, h.legacy_version), (0x0301, 0x0303));
        assert_eq!(h.session_id.len(), 32);
        assert_eq!(h.cipher_suites, SUITES_TLS13);
        assert_eq!(h.extension_types(), [0, 11, 10, 35, 22, 23, 13, 43, 45, 51]);
        assert_eq!(h.sni().as_deref(), Some("example.com"));
        assert_eq!(h.supported_versions(), Some(vec![0x0304, 0x0303]));
        assert_eq!(h.supported_groups(), GROUPS_TLS13);
        let shares = h.key_shares();
        assert_eq!(shares.len(), 1);
        assert_eq!((shares[0].0, shares[0].1.len()), (0x001d, 32));
        assert!(h.alpn().is_empty());
    }

    #[test]
    fn per_version_defaults() {
        let h = tls(&version(ProtocolVersion::TLS12));
        assert_eq!((h.record_version, h.legacy_version), (0x0301, 0x0303));
        assert!(h.session_id.is_empty());
        assert_eq!(h.extension_types(), [0, 11, 10, 35, 22, 23, 13, 0xff01]);
        assert!(h.cipher_suites.contains(&0x002f) && h.cipher_suites.contains(&0xc02f));
        assert!(!h.cipher_suites.iter().any(|s| s >> 8 == 0x13));
        assert_eq!(h.supported_groups(), GROUPS_ECC);

        for (v, legacy) in [
            (ProtocolVersion::TLS11, 0x0302),
            (ProtocolVersion::TLS10, 0x0301),
        ] {
            let h = tls(&version(v));
            assert_eq!(h.legacy_version, legacy);
            assert_eq!(h.extension_types(), [0, 11, 10, 35, 22, 23, 0xff01]);
            // No GCM, ChaCha or SHA-256/384 suites.
            for s in [0xc02f, 0x009c, 0xcca8, 0x003c, 0xc027] {
                assert!(!h.cipher_suites.contains(&s), "{s:04x}");
            }
        }

        let h = tls(&version(ProtocolVersion::SSLV3));
        assert_eq!((h.record_version, h.legacy_version), (0x0300, 0x0300));
        assert_eq!(h.extensions, None);
        assert_eq!(h.cipher_suites.last(), Some(&SCSV_RENEGOTIATION));
        assert_eq!(
            h.encoded_len() - 4,
            2 + 32 + 1 + 2 + 2 * SUITES_SSL3.len() + 2
        );

        let b = built(&version(ProtocolVersion::SSLV2), Some("example.com"));
        let v2 = b.sslv2.unwrap();
        assert!(b.hello.is_none());
        assert_eq!(v2.version, 0x0002);
        assert_eq!(v2.cipher_specs, sslv2::ALL_CIPHER_KINDS);
        assert_eq!(v2.challenge.len(), 16);
        assert_eq!(b.wire, v2.encode().unwrap());
    }

    #[test]
    fn overrides_add_extensions_to_older_targets() {
        let spec = HelloSpec {
            version: ProtocolVersion::TLS12,
            supported_versions: Some(vec![0x0304].into()),
            key_shares: Some(vec![0x001d].into()),
            alpn: Some(vec!["h2".into(), "http/1.1".into()].into()),
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        assert_eq!(
            h.extension_types(),
            [0, 11, 10, 35, 16, 22, 23, 13, 43, 51, 0xff01]
        );
        assert_eq!(h.supported_versions(), Some(vec![0x0304]));
        assert_eq!(h.alpn(), [b"h2".to_vec(), b"http/1.1".to_vec()]);

        let spec = HelloSpec {
            version: ProtocolVersion::SSLV3,
            groups: Some(vec![0x0017].into()),
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        assert_eq!(h.extension_types(), [10]);
        assert_eq!(h.supported_groups(), [0x0017]);
    }

    #[test]
    fn default_key_share_follows_the_first_group() {
        let spec = HelloSpec {
            groups: Some(vec![0x0018, 0x001d].into()),
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        let groups: Vec<u16> = h.key_shares().iter().map(|(g, _)| *g).collect();
        assert_eq!(groups, [0x0018]);
    }

    #[test]
    fn sni_auto_skips_ip_literals_and_trailing_dot() {
        let sni = |host: &str| {
            built(&HelloSpec::default(), Some(host))
                .hello
                .unwrap()
                .sni()
        };
        assert_eq!(sni("example.com."), Some("example.com".into()));
        assert_eq!(sni("192.0.2.1"), None);
        assert_eq!(sni("[2001:db8::1]"), None);
        assert_eq!(sni("::1"), None);
        assert_eq!(
            built(&HelloSpec::default(), None).hello.unwrap().sni(),
            None
        );
        let named = HelloSpec {
            sni: Sni::Name("10.0.0.1".into()),
            ..HelloSpec::default()
        };
        assert_eq!(
            built(&named, Some("x.test")).hello.unwrap().sni(),
            Some("10.0.0.1".into())
        );
        let none = HelloSpec {
            sni: Sni::None,
            ..HelloSpec::default()
        };
        assert!(!tls(&none).extension_types().contains(&0));
    }

    #[test]
    fn extras_replace_in_place_or_append_and_omit_removes() {
        let spec = HelloSpec {
            extra_extensions: vec![
                Extension {
                    typ: 0x1337,
                    data: vec![1, 2],
                },
                Extension {
                    typ: 10,
                    data: vec![0, 2, 0, 0x17],
                },
                Extension {
                    typ: 10,
                    data: vec![0, 0],
                },
            ],
            omit_extensions: vec![35, 45],
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        assert_eq!(
            h.extension_types(),
            [0, 11, 10, 22, 23, 13, 43, 51, 0x1337, 10]
        );
        assert_eq!(h.ext(10), Some(&[0, 2, 0, 0x17][..]));
    }

    #[test]
    fn grease_like_chrome() {
        let spec = HelloSpec {
            grease: true,
            pad_to: Some(512),
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        let is_grease = |v: u16| ProtocolVersion(v).is_grease();
        assert!(is_grease(h.cipher_suites[0]));
        let types = h.extension_types();
        assert!(is_grease(types[0]));
        assert_eq!(h.extensions()[0].data, Vec::<u8>::new());
        let last = &h.extensions()[types.len() - 2];
        assert!(is_grease(last.typ) && last.data == [0]);
        assert_ne!(types[0], last.typ);
        assert_eq!(types.last(), Some(&ext::PADDING));
        assert!(is_grease(h.supported_groups()[0]));
        assert!(is_grease(h.supported_versions().unwrap()[0]));
        let shares = h.key_shares();
        assert_eq!(shares[0], (h.supported_groups()[0], vec![0]));
        assert_eq!(h.highest_version(), 0x0304);
    }

    #[test]
    fn padding_reaches_the_target_exactly_when_there_is_room() {
        for target in [400, 512, 517, 1000] {
            let spec = HelloSpec {
                pad_to: Some(target),
                ..HelloSpec::default()
            };
            assert_eq!(tls(&spec).encoded_len(), target);
        }
        let unpadded = tls(&HelloSpec::default()).encoded_len();
        let spec = HelloSpec {
            pad_to: Some(unpadded),
            ..HelloSpec::default()
        };
        assert!(!tls(&spec).extension_types().contains(&ext::PADDING));
        // Two bytes short: the padding header alone overshoots by two.
        let spec = HelloSpec {
            pad_to: Some(unpadded + 2),
            ..HelloSpec::default()
        };
        assert_eq!(tls(&spec).encoded_len(), unpadded + 4);
        // A huge target is capped, not wrapped.
        let spec = HelloSpec {
            pad_to: Some(1 << 20),
            ..HelloSpec::default()
        };
        let h = tls(&spec);
        let block: usize = h.extensions().iter().map(|e| 4 + e.data.len()).sum();
        assert_eq!(block, 0xffff);
    }

    #[test]
    fn padding_an_encoded_hello_equals_encoding_it_padded() {
        for spec in [
            HelloSpec::default(),
            version(ProtocolVersion::TLS12),
            version(ProtocolVersion::SSLV3),
            HelloSpec {
                grease: true,
                fragment: Some(100),
                ..HelloSpec::default()
            },
        ] {
            let padded = HelloSpec {
                pad_to: Some(512),
                ..spec.clone()
            };
            let once = built(&padded, Some("example.com"));
            let mut later = built(&spec, Some("example.com"));
            let mut hello = later.hello.take().unwrap();
            let wire = pad_encoded(&mut hello, &spec, 512).unwrap();
            assert_eq!(Some(&hello), once.hello.as_ref());
            assert_eq!(wire, once.wire);
        }
    }

    #[test]
    fn sslv3_padding_adds_a_block_only_when_needed() {
        let bare = tls(&version(ProtocolVersion::SSLV3));
        let len = bare.encoded_len();
        let spec = HelloSpec {
            pad_to: Some(len),
            ..version(ProtocolVersion::SSLV3)
        };
        assert_eq!(tls(&spec), bare);
        let spec = HelloSpec {
            pad_to: Some(len + 100),
            ..version(ProtocolVersion::SSLV3)
        };
        let h = tls(&spec);
        assert_eq!(h.extension_types(), [ext::PADDING]);
        assert_eq!(h.encoded_len(), len + 100);
    }

    #[test]
    fn a_raw_key_share_replaces_the_generated_one_and_its_secret() {
        let raw = Extension {
            typ: ext::KEY_SHARE,
            data: vec![0, 5, 0x00, 0x1d, 0, 1, 9],
        };
        let spec = HelloSpec {
            extra_extensions: vec![raw.clone()],
            ..HelloSpec::default()
        };
        let h = built(&spec, None).hello.unwrap();
        assert_eq!(h.extension_types(), [11, 10, 35, 22, 23, 13, 43, 45, 51]);
        assert_eq!(h.ext(ext::KEY_SHARE), Some(&raw.data[..]));
        assert!(key_share_groups(&spec).is_empty());
    }

    #[test]
    fn fragments_split_records() {
        let spec = HelloSpec {
            fragment: Some(100),
            ..HelloSpec::default()
        };
        let b = built(&spec, Some("example.com"));
        let msg = b.hello.as_ref().unwrap().handshake_message().unwrap();
        assert_eq!(b.wire.len(), msg.len() + 5 * msg.len().div_ceil(100));
        assert_eq!(&b.wire[..5], &[22, 3, 1, 0, 100]);
    }

    #[test]
    fn same_entropy_same_bytes() {
        let spec = HelloSpec {
            grease: true,
            ..HelloSpec::default()
        };
        assert_eq!(
            built(&spec, Some("a.test")).wire,
            built(&spec, Some("a.test")).wire
        );
    }
}
