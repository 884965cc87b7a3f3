//! Hellos built by `wire::build` checked two ways: tls-parser (an independent decoder) must
//! read the same fields, and our own decoder must give back an identical struct that
//! re-encodes to the same bytes. Golden hellos recorded from real clients
//! (tests/golden/record.py) decode to the right fields and anchor our defaults.

use shakedown::core::crypto::hello::{BuiltHello, build};
use shakedown::core::wire::build::{HelloSpec, Sni};
use shakedown::core::wire::sslv2::{self, Sslv2ClientHello};
use shakedown::core::wire::{ClientHello, Extension, ProtocolVersion};
use tls_parser::{
    TlsExtension, TlsExtensionType, TlsMessage, TlsMessageHandshake, parse_tls_extensions,
    parse_tls_message_handshake, parse_tls_plaintext, parse_tls_raw_record,
};

/// Deterministic entropy (xorshift), seeded per test case.
fn entropy(seed: u64) -> impl FnMut(&mut [u8]) {
    let mut s = seed | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *b = s as u8;
        }
    }
}

/// Splits TLS records by hand; returns (record versions, concatenated handshake bytes).
fn split_records(wire: &[u8]) -> (Vec<u16>, Vec<u8>) {
    let (mut versions, mut hs, mut rest) = (Vec::new(), Vec::new(), wire);
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated record header");
        assert_eq!(rest[0], 22, "not a handshake record");
        versions.push(u16::from_be_bytes([rest[1], rest[2]]));
        let n = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        hs.extend_from_slice(&rest[5..5 + n]);
        rest = &rest[5 + n..];
    }
    (versions, hs)
}

/// Our decoder: the records give back the same struct, which re-encodes to the same bytes.
fn check_our_round_trip(wire: &[u8], hello: &ClientHello, fragment: Option<usize>) {
    let (versions, hs) = split_records(wire);
    assert!(versions.iter().all(|v| *v == hello.record_version));
    let back = ClientHello::decode_message(&hs, versions[0]).expect("our decoder");
    assert_eq!(&back, hello);
    assert_eq!(back.to_records(fragment).unwrap(), wire);
}

/// tls-parser reads the same fields as our model holds.
fn check_with_tls_parser(wire: &[u8], hello: &ClientHello) {
    // Record layer: every record parses, with our record version.
    let mut rest = wire;
    let mut hs = Vec::new();
    let mut records = 0;
    while !rest.is_empty() {
        let (r, raw) = parse_tls_raw_record(rest).expect("tls-parser record");
        assert_eq!(raw.hdr.version.0, hello.record_version);
        assert_eq!(u8::from(raw.hdr.record_type), 22);
        hs.extend_from_slice(raw.data);
        rest = r;
        records += 1;
    }
    if records == 1 {
        let (r, plain) = parse_tls_plaintext(wire).expect("tls-parser plaintext");
        assert!(r.is_empty());
        assert_eq!(plain.msg.len(), 1);
    }
    let (r, msg) = parse_tls_message_handshake(&hs).expect("tls-parser handshake");
    assert!(r.is_empty(), "bytes left after the hello");
    let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = msg else {
        panic!("not a ClientHello: {msg:?}");
    };
    assert_eq!(ch.version.0, hello.legacy_version);
    assert_eq!(ch.random, hello.random);
    assert_eq!(ch.session_id.unwrap_or(&[]), hello.session_id.as_slice());
    let suites: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
    assert_eq!(suites, hello.cipher_suites);
    let comp: Vec<u8> = ch.comp.iter().map(|c| c.0).collect();
    assert_eq!(comp, hello.compression_methods);
    let Some(block) = ch.ext else {
        assert_eq!(hello.extensions, None);
        return;
    };
    let (r, exts) = parse_tls_extensions(block).expect("tls-parser extensions");
    assert!(r.is_empty(), "extension bytes left: {}", r.len());
    let ours = hello.extensions();
    assert_eq!(exts.len(), ours.len());
    for (theirs, ours) in exts.iter().zip(ours) {
        check_extension(theirs, ours, hello);
    }
}

fn check_extension(theirs: &TlsExtension<'_>, ours: &Extension, hello: &ClientHello) {
    let typ = match theirs {
        TlsExtension::Grease(t, _) => *t,
        other => TlsExtensionType::from(other).0,
    };
    assert_eq!(typ, ours.typ);
    match theirs {
        TlsExtension::SNI(names) => {
            let name = String::from_utf8_lossy(names[0].1).into_owned();
            assert_eq!(Some(name), hello.sni());
        }
        TlsExtension::EllipticCurves(groups) => {
            let g: Vec<u16> = groups.iter().map(|g| g.0).collect();
            assert_eq!(g, hello.supported_groups());
        }
        TlsExtension::SignatureAlgorithms(s) => assert_eq!(*s, hello.signature_algorithms()),
        TlsExtension::SupportedVersions(v) => {
            let v: Vec<u16> = v.iter().map(|v| v.0).collect();
            assert_eq!(Some(v), hello.supported_versions());
        }
        TlsExtension::ALPN(p) => {
            let p: Vec<Vec<u8>> = p.iter().map(|p| p.to_vec()).collect();
            assert_eq!(p, hello.alpn());
        }
        TlsExtension::EcPointFormats(f) => assert_eq!(f.to_vec(), hello.ec_point_formats()),
        TlsExtension::KeyShare(d)
        | TlsExtension::Padding(d)
        | TlsExtension::Grease(_, d)
        | TlsExtension::SessionTicket(d)
        | TlsExtension::Unknown(_, d) => assert_eq!(*d, ours.data.as_slice()),
        TlsExtension::RenegotiationInfo(d) => {
            assert_eq!(ours.data, [&[d.len() as u8], *d].concat())
        }
        TlsExtension::PskExchangeModes(m) => {
            assert_eq!(ours.data, [&[m.len() as u8], &m[..]].concat())
        }
        TlsExtension::RecordSizeLimit(n) => assert_eq!(ours.data, n.to_be_bytes()),
        TlsExtension::StatusRequest(Some((kind, _))) => assert_eq!(ours.data[0], kind.0),
        TlsExtension::EncryptThenMac
        | TlsExtension::ExtendedMasterSecret
        | TlsExtension::PostHandshakeAuth => {
            assert!(ours.data.is_empty())
        }
        other => panic!("extension not checked by this test: {other:?}"),
    }
}

fn check(spec: &HelloSpec, host: Option<&str>, seed: u64) -> BuiltHello {
    let built = build(spec, host, &mut entropy(seed)).unwrap();
    let hello = built.hello.as_ref().expect("a TLS-format hello");
    assert_eq!(built.wire, hello.to_records(spec.fragment).unwrap());
    check_our_round_trip(&built.wire, hello, spec.fragment);
    check_with_tls_parser(&built.wire, hello);
    built
}

const TLS_VERSIONS: [ProtocolVersion; 5] = [
    ProtocolVersion::SSLV3,
    ProtocolVersion::TLS10,
    ProtocolVersion::TLS11,
    ProtocolVersion::TLS12,
    ProtocolVersion::TLS13,
];

#[test]
fn every_version_with_grease_padding_and_fragments() {
    let mut seed = 1;
    for version in TLS_VERSIONS {
        for grease in [false, true] {
            for pad_to in [None, Some(512), Some(1500)] {
                for fragment in [None, Some(1), Some(7), Some(100)] {
                    for host in [Some("example.com"), Some("192.0.2.7"), None] {
                        let spec = HelloSpec {
                            version,
                            grease,
                            pad_to,
                            fragment,
                            ..HelloSpec::default()
                        };
                        seed += 1;
                        let built = check(&spec, host, seed);
                        let h = built.hello.unwrap();
                        if let Some(n) = pad_to {
                            assert!(h.handshake_message().unwrap().len() >= n);
                        }
                        let sni = h.sni();
                        match (version, host) {
                            (ProtocolVersion::SSLV3, _) | (_, None | Some("192.0.2.7")) => {
                                assert_eq!(sni, None)
                            }
                            (_, Some(name)) => assert_eq!(sni.as_deref(), Some(name)),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn odd_values_survive_both_decoders() {
    let odd_exts = vec![
        Extension {
            typ: 0x1337,
            data: vec![0xde, 0xad],
        },
        Extension {
            typ: 0xfe0d,
            data: Vec::new(),
        },
        Extension {
            typ: 0x4469,
            data: vec![0; 300],
        },
    ];
    let specs = [
        HelloSpec {
            cipher_suites: Some(vec![]),
            ..HelloSpec::default()
        },
        HelloSpec {
            cipher_suites: Some(vec![0x1301, 0x1301, 0x1337, 0xc02f, 0x1337]),
            compression_methods: Some(vec![1, 0, 0x40]),
            ..HelloSpec::default()
        },
        HelloSpec {
            version: ProtocolVersion::TLS12,
            record_version: Some(0x0303),
            legacy_version: Some(0x0304),
            supported_versions: Some(vec![0x0304, 0x7f1c, 0x1337].into()),
            groups: Some(vec![0x1337, 0x001d, 0x11ec].into()),
            key_shares: Some(vec![0x11ec, 0x001d, 0x0017, 0x1337, 0x0100].into()),
            sigalgs: Some(vec![0x1337, 0x0804].into()),
            alpn: Some(vec!["h2".into(), String::new().into(), "x".repeat(255).into()].into()),
            session_id: Some(vec![0xaa; 7]),
            extra_extensions: odd_exts.clone(),
            grease: true,
            fragment: Some(33),
            ..HelloSpec::default()
        },
        HelloSpec {
            // Extensions in an odd order: defaults dropped, then re-added as raw extras.
            omit_extensions: vec![0, 10, 11, 13, 43, 51],
            extra_extensions: [
                odd_exts.clone(),
                vec![
                    Extension {
                        typ: 43,
                        data: vec![2, 3, 4],
                    },
                    Extension {
                        typ: 0,
                        data: vec![0, 6, 0, 0, 3, b'a', b'.', b'b'],
                    },
                ],
            ]
            .concat(),
            sni: Sni::Name("ignored.because.omitted".into()),
            ..HelloSpec::default()
        },
        HelloSpec {
            version: ProtocolVersion::SSLV3,
            extra_extensions: odd_exts,
            pad_to: Some(600),
            ..HelloSpec::default()
        },
        HelloSpec {
            sni: Sni::Name(String::new()),
            groups: Some(vec![].into()),
            key_shares: Some(vec![].into()),
            session_id: Some(vec![]),
            alpn: Some(vec![].into()),
            ..HelloSpec::default()
        },
    ];
    for (i, spec) in specs.iter().enumerate() {
        let built = check(spec, Some("odd.example"), 1000 + i as u64);
        let h = built.hello.unwrap();
        if let Some(suites) = &spec.cipher_suites {
            assert_eq!(&h.cipher_suites, suites);
        }
    }
}

#[test]
fn omitted_then_re_added_extensions_keep_the_given_order() {
    let spec = HelloSpec {
        omit_extensions: vec![0, 43],
        extra_extensions: vec![
            Extension {
                typ: 43,
                data: vec![2, 3, 4],
            },
            Extension {
                typ: 0,
                data: vec![0, 6, 0, 0, 3, b'a', b'.', b'b'],
            },
        ],
        ..HelloSpec::default()
    };
    let h = check(&spec, Some("x.test"), 5).hello.unwrap();
    assert_eq!(h.extension_types(), [11, 10, 35, 22, 23, 13, 45, 51, 43, 0]);
    assert_eq!(h.sni().as_deref(), Some("a.b"));
}

#[test]
fn sslv2_hello_builds_and_decodes() {
    let spec = HelloSpec {
        version: ProtocolVersion::SSLV2,
        ..HelloSpec::default()
    };
    let built = build(&spec, Some("example.com"), &mut entropy(9)).unwrap();
    assert!(sslv2::looks_like_sslv2_record(&built.wire));
    let decoded = Sslv2ClientHello::decode(&built.wire).unwrap();
    assert_eq!(Some(&decoded), built.sslv2.as_ref());
    assert_eq!(decoded.cipher_specs.len(), 7);
    // The compatible form: SSLv2 framing offering TLS suites.
    let spec = HelloSpec {
        version: ProtocolVersion::SSLV2,
        legacy_version: Some(0x0301),
        cipher_suites: Some(vec![0x002f, 0x0035]),
        ..HelloSpec::default()
    };
    let built = build(&spec, None, &mut entropy(10)).unwrap();
    let decoded = Sslv2ClientHello::decode(&built.wire).unwrap();
    assert_eq!(decoded.version, 0x0301);
    assert_eq!(decoded.cipher_specs, [0x00002f, 0x000035]);
    // tls-parser sees no TLS record here.
    assert!(parse_tls_plaintext(&built.wire).is_err());
}

// ---------------------------------------------------------------- golden hellos

fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(&path);
    hex::decode(text.trim()).expect("hex")
}

fn golden_hello(name: &str) -> ClientHello {
    let wire = golden(name);
    let (versions, hs) = split_records(&wire);
    let hello = ClientHello::decode_message(&hs, versions[0]).expect(name);
    check_with_tls_parser(&wire, &hello);
    // Single-record hellos re-encode byte for byte.
    assert_eq!(hello.to_records(None).unwrap(), wire, "{name}");
    hello
}

struct Expect {
    name: &'static str,
    legacy: u16,
    sid_len: usize,
    suites: usize,
    versions: Option<&'static [u16]>,
    groups: &'static [u16],
    alpn: &'static [&'static [u8]],
    share_groups: &'static [u16],
}

const ECC: &[u16] = &[0x001d, 0x0017, 0x001e, 0x0019, 0x0018];
const ECC_FFDHE: &[u16] = &[
    0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

#[test]
fn golden_hellos_decode_to_the_right_fields() {
    let cases = [
        Expect {
            name: "openssl-3.0-tls13",
            legacy: 0x0303,
            sid_len: 32,
            suites: 31,
            versions: Some(&[0x0304, 0x0303, 0x0302, 0x0301]),
            groups: ECC_FFDHE,
            alpn: &[],
            share_groups: &[0x001d],
        },
        Expect {
            name: "openssl-3.0-tls12",
            legacy: 0x0303,
            sid_len: 0,
            suites: 28,
            versions: None,
            groups: ECC,
            alpn: &[],
            share_groups: &[],
        },
        Expect {
            name: "openssl-3.0-tls10",
            legacy: 0x0301,
            sid_len: 0,
            suites: 9,
            versions: None,
            groups: ECC,
            alpn: &[],
            share_groups: &[],
        },
        Expect {
            name: "curl-7.88",
            legacy: 0x0303,
            sid_len: 32,
            suites: 31,
            versions: Some(&[0x0304, 0x0303, 0x0302, 0x0301]),
            groups: ECC_FFDHE,
            alpn: &[b"h2", b"http/1.1"],
            share_groups: &[0x001d],
        },
        Expect {
            name: "python3.11-ssl",
            legacy: 0x0303,
            sid_len: 32,
            suites: 18,
            versions: Some(&[0x0304, 0x0303]),
            groups: ECC_FFDHE,
            alpn: &[],
            share_groups: &[0x001d],
        },
        Expect {
            name: "gnutls-3.7",
            legacy: 0x0303,
            sid_len: 32,
            suites: 29,
            versions: Some(&[0x0304, 0x0303, 0x0302, 0x0301]),
            groups: &[
                0x0017, 0x0018, 0x0019, 0x001d, 0x001e, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
            ],
            alpn: &[],
            share_groups: &[0x0017, 0x001d],
        },
    ];
    for e in cases {
        let h = golden_hello(e.name);
        assert_eq!(h.record_version, 0x0301, "{}", e.name);
        assert_eq!(h.legacy_version, e.legacy, "{}", e.name);
        assert_eq!(h.session_id.len(), e.sid_len, "{}", e.name);
        assert_eq!(h.cipher_suites.len(), e.suites, "{}", e.name);
        assert_eq!(h.sni().as_deref(), Some("golden.example"), "{}", e.name);
        assert_eq!(h.supported_versions().as_deref(), e.versions, "{}", e.name);
        assert_eq!(h.supported_groups(), e.groups, "{}", e.name);
        let alpn = h.alpn();
        assert_eq!(alpn.len(), e.alpn.len(), "{}", e.name);
        for (a, b) in alpn.iter().zip(e.alpn) {
            assert_eq!(a.as_slice(), *b, "{}", e.name);
        }
        let shares: Vec<u16> = h.key_shares().iter().map(|(g, _)| *g).collect();
        assert_eq!(shares, e.share_groups, "{}", e.name);
    }
}

#[test]
fn golden_padding_makes_512_byte_messages() {
    for name in ["curl-7.88", "python3.11-ssl"] {
        let h = golden_hello(name);
        assert_eq!(h.extension_types().last(), Some(&21), "{name}");
        assert_eq!(h.handshake_message().unwrap().len(), 512, "{name}");
    }
}

#[test]
fn our_tls13_defaults_are_openssl3s_hello() {
    let real = golden_hello("openssl-3.0-tls13");
    let ours = check(&HelloSpec::default(), Some("golden.example"), 77)
        .hello
        .unwrap();
    assert_eq!(ours.record_version, real.record_version);
    assert_eq!(ours.legacy_version, real.legacy_version);
    assert_eq!(ours.session_id.len(), real.session_id.len());
    assert_eq!(ours.cipher_suites, real.cipher_suites);
    assert_eq!(ours.compression_methods, real.compression_methods);
    assert_eq!(ours.extension_types(), real.extension_types());
    for typ in [0, 10, 11, 13, 35, 22, 23, 45] {
        assert_eq!(ours.ext(typ), real.ext(typ), "extension {typ}");
    }
    // The one chosen difference: 1.3 and 1.2 only, as python (OpenSSL 3 with a 1.2 floor)
    // and browsers send.
    let python = golden_hello("python3.11-ssl");
    assert_eq!(ours.supported_versions(), python.supported_versions());
    let shares = |h: &ClientHello| -> Vec<(u16, usize)> {
        h.key_shares().iter().map(|(g, k)| (*g, k.len())).collect()
    };
    assert_eq!(shares(&ours), shares(&real));
    // Same length as the real hello except for the shorter supported_versions.
    assert_eq!(
        ours.handshake_message().unwrap().len() + 4,
        real.handshake_message().unwrap().len()
    );
}

/// Our default hello at `version` (built and checked with `seed`) against OpenSSL 3.0's
/// golden one `name`: OpenSSL's suites with the SCSV swapped for the renegotiation_info
/// extension, plus 3DES; OpenSSL's extensions then renegotiation_info; the same legacy
/// version. Returns both for the checks that only some versions share.
fn assert_extends_openssl3(
    name: &str,
    version: ProtocolVersion,
    seed: u64,
) -> (ClientHello, ClientHello) {
    let real = golden_hello(name);
    let spec = HelloSpec {
        version,
        ..HelloSpec::default()
    };
    let ours = check(&spec, Some("golden.example"), seed).hello.unwrap();
    let mut expected: Vec<u16> = real
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| *s != 0x00ff)
        .collect();
    expected.push(0x000a);
    assert_eq!(ours.cipher_suites, expected);
    assert_eq!(
        ours.extension_types(),
        [real.extension_types(), vec![0xff01]].concat()
    );
    assert_eq!(ours.legacy_version, real.legacy_version);
    (ours, real)
}

#[test]
fn our_older_defaults_extend_openssl3s_hellos() {
    let (ours, real) = assert_extends_openssl3("openssl-3.0-tls12", ProtocolVersion::TLS12, 78);
    assert_eq!(ours.signature_algorithms(), real.signature_algorithms());
    assert_eq!(ours.supported_groups(), real.supported_groups());
    assert_extends_openssl3("openssl-3.0-tls10", ProtocolVersion::TLS10, 79);
}

#[test]
fn set_sni_on_a_recorded_padded_hello_keeps_its_length() {
    let mut h = golden_hello("curl-7.88");
    let order = h.extension_types();
    h.set_sni(Some("a-rather-longer-host-name.example.net"))
        .unwrap();
    assert_eq!(
        h.sni().as_deref(),
        Some("a-rather-longer-host-name.example.net")
    );
    assert_eq!(h.extension_types(), order);
    assert_eq!(h.handshake_message().unwrap().len(), 512);
    check_with_tls_parser(&h.to_records(None).unwrap(), &h);
    h.set_sni(None).unwrap();
    assert_eq!(h.handshake_message().unwrap().len(), 512);
    assert_eq!(h.sni(), None);
}
