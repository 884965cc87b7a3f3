//! `probe` completes the TLS 1.3 key exchange with its own key share and reads the server's
//! encrypted flight: real `openssl s_server -tls1_3` on loopback, each of the five suites,
//! client certificates required, and a HelloRetryRequest.

mod common;

use common::{Pki, s_server};
use shakedown::cert::TrustStore;
use shakedown::net::{Limits, Target};
use shakedown::probe::{self, HelloSource, ProbeConfig, ProbeResult};
use shakedown::session::Verdict;
use shakedown::wire::build::HelloSpec;

const ALL_TLS13: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

fn probe_with(pki: &Pki, port: u16, spec: HelloSpec) -> ProbeResult {
    let mut trust = TrustStore::default();
    let root = std::fs::read_to_string(&pki.root().cert).unwrap();
    trust.add_pem(&root).unwrap();
    let cfg = ProbeConfig {
        target: Target::parse(&format!("localhost:{port}"), 443).unwrap(),
        hello: HelloSource::Spec(Box::new(spec)),
        limits: Limits::default(),
        trust: Some(std::sync::Arc::new(trust)),
        check_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    };
    probe::run(&cfg)
}

fn tls13_spec() -> HelloSpec {
    HelloSpec {
        cipher_suites: Some(ALL_TLS13.to_vec()),
        ..HelloSpec::default()
    }
}

fn verdict(r: &ProbeResult) -> &Verdict {
    r.verdict.as_ref().expect("a connection")
}

/// The server's flight was decrypted and its Finished matched our keys.
fn assert_decrypted(v: &Verdict) {
    let d = v.decryption.as_ref().unwrap();
    assert_eq!(d.problem, None, "{:#?}", v.events);
    assert_eq!(d.server_finished_verified, Some(true), "{:#?}", v.events);
    assert!(
        v.history.contains('o') && v.history.ends_with('f'),
        "{}",
        v.history
    );
}

#[test]
fn each_tls13_suite_is_decrypted_and_finished_verified() {
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    for (suite, name) in [
        (0x1301, "TLS_AES_128_GCM_SHA256"),
        (0x1302, "TLS_AES_256_GCM_SHA384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        (0x1304, "TLS_AES_128_CCM_SHA256"),
        (0x1305, "TLS_AES_128_CCM_8_SHA256"),
    ] {
        let srv = s_server(&leaf, &["-tls1_3", "-ciphersuites", name]);
        let r = probe_with(&pki, srv.port, tls13_spec());
        let v = verdict(&r);
        assert_eq!(v.cipher, Some(suite), "{name}");
        assert_decrypted(v);
        // The certificate came from the encrypted Certificate message and was checked.
        assert_eq!(v.certificates.len(), 2, "{name}");
        assert!(r.certificates[0].subject.contains("localhost"), "{name}");
        // The fixture's leaves live 30 days: "expires soon" is the only allowed cause.
        assert!(
            r.diagnosis
                .iter()
                .all(|d| d.cause == "certificate_expires_soon"),
            "{name}: {:?}",
            r.diagnosis
        );
        assert!(r.server_went_on());
    }
}

#[test]
fn p256_key_share_is_decrypted_too() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "P-256"]);
    let spec = HelloSpec {
        groups: Some(vec![0x0017]),
        key_shares: Some(vec![0x0017]),
        ..tls13_spec()
    };
    let r = probe_with(&pki, srv.port, spec);
    let v = verdict(&r);
    assert_eq!(v.group, Some(0x0017));
    assert_decrypted(v);
}

#[test]
fn client_certificate_required_is_seen_through_decryption() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-Verify", "1"]);
    let r = probe_with(&pki, srv.port, tls13_spec());
    let v = verdict(&r);
    assert_decrypted(v);
    assert!(v.certificate_request.is_some(), "{:#?}", v.events);
    // ServerHello, compatibility CCS, then decrypted: EncryptedExtensions,
    // CertificateRequest, Certificate, CertificateVerify, Finished.
    assert_eq!(v.history, "Csiorxyf", "{:#?}", v.events);
    assert!(
        r.diagnosis
            .iter()
            .any(|d| d.cause == "client_certificate_required"),
        "{:?}",
        r.diagnosis
    );
}

#[test]
fn garbage_key_share_from_a_hostile_server_is_not_a_panic() {
    // The server's key share is a point we cannot use: no keys, the cleartext verdict.
    let shares = [
        vec![0u8; 36],
        vec![0, 0x1d, 0, 32].into_iter().chain([0u8; 32]).collect(),
    ];
    for ext in shares {
        assert!(shakedown::crypto::source::shared_secret(&[], &ext).is_none());
    }
}
