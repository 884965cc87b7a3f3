//! `probe` completes the TLS 1.3 key exchange with its own key share and reads the server's
//! encrypted flight: real `openssl s_server -tls1_3` on loopback, each of the five suites,
//! client certificates required, and HelloRetryRequests answered with a second ClientHello
//! on the same connection (a group we make keys for, one we do not, a cookie to echo).

mod common;

use common::{Pki, hostile_peer, probe_with, s_server, shakedown, write_quietly};
use shakedown::commands::probe::{self, ProbeResult};
use shakedown::core::session::Verdict;
use shakedown::core::wire::build::HelloSpec;
use shakedown::io::net::{Limits, Target};
use std::io::Read;

const ALL_TLS13: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

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

fn assert_cause(r: &ProbeResult, cause: &str) {
    assert!(
        r.diagnosis.iter().any(|d| d.cause.id() == cause),
        "{cause} missing from {:?}",
        r.diagnosis
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
        // The fixture's chain is trusted and valid for 90 days: no finding.
        assert!(r.diagnosis.is_empty(), "{name}: {:?}", r.diagnosis);
        assert!(r.server_went_on());
    }
}

#[test]
fn p256_key_share_is_decrypted_too() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "P-256"]);
    let spec = HelloSpec {
        groups: Some(vec![0x0017].into()),
        key_shares: Some(vec![0x0017].into()),
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
    assert_cause(&r, "client_certificate_required");
}

#[test]
fn garbage_key_share_from_a_hostile_server_is_not_a_panic() {
    // The server's key share is a point we cannot use: no keys, the cleartext verdict.
    let shares = [
        vec![0u8; 36],
        vec![0, 0x1d, 0, 32].into_iter().chain([0u8; 32]).collect(),
    ];
    for ext in shares {
        assert!(shakedown::core::crypto::keys::shared_secret(&[], &ext).is_none());
    }
}

/// A HelloRetryRequest was answered and the second round decrypted and verified.
fn assert_retried(r: &ProbeResult, group: u16) {
    let retry = r.retry.as_ref().expect("a HelloRetryRequest");
    assert_eq!(retry.group, Some(group));
    assert_eq!(retry.problem, None);
    let second = retry.second_hello.as_ref().unwrap();
    let shares = second.key_shares();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].0, group);
    let v = verdict(r);
    assert!(v.history.starts_with("Cj"), "{}", v.history);
    assert!(v.history.contains("Cs"), "{}", v.history);
    assert_eq!(v.group, Some(group));
    assert!(v.hello_retry_request.is_some());
    assert_eq!(r.outcome(), "server_hello");
    assert!(
        v.events
            .iter()
            .any(|e| e.what.to_string().starts_with("ClientHello (again)")),
        "{:#?}",
        v.events
    );
    assert_decrypted(v);
}

#[test]
fn hello_retry_request_for_p256_is_answered_and_verified() {
    let pki = Pki::new();
    // Our default hello shares x25519 only; the server wants secp256r1.
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "P-256"]);
    let r = probe_with(&pki, srv.port, tls13_spec());
    assert_retried(&r, 0x0017);
    assert!(r.certificates[0].subject.contains("localhost"));
}

#[test]
fn hello_retry_request_for_x25519_with_client_certificate_required() {
    let pki = Pki::new();
    let srv = s_server(
        &pki.leaf("localhost"),
        &["-tls1_3", "-groups", "X25519", "-Verify", "1"],
    );
    let spec = HelloSpec {
        key_shares: Some(vec![0x0017].into()),
        ..tls13_spec()
    };
    let r = probe_with(&pki, srv.port, spec);
    assert_retried(&r, 0x001d);
    let v = verdict(&r);
    // HRR, compatibility CCS, second hello, then the decrypted flight.
    assert_eq!(v.history, "CjiCsorxyf", "{:#?}", v.events);
    assert_cause(&r, "client_certificate_required");
}

#[test]
fn hello_retry_request_for_a_group_without_real_keys_stops_and_says_why() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "X448"]);
    let r = probe_with(&pki, srv.port, tls13_spec());
    let retry = r.retry.as_ref().unwrap();
    assert_eq!(retry.group, Some(0x001e));
    assert!(retry.second_hello.is_none());
    assert!(
        retry.problem.as_deref().unwrap().contains("x448"),
        "{retry:?}"
    );
    assert_eq!(r.outcome(), "hello_retry_request");
    assert_eq!(verdict(&r).history, "Cji");
}

/// A TLS record carrying one handshake message.
fn handshake_record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    let mut r = vec![22, 3, 3];
    r.extend_from_slice(&(m.len() as u16).to_be_bytes());
    r.extend_from_slice(&m);
    r
}

/// Reads one whole TLS record (header and payload) or what came before the peer stopped.
fn read_record(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if buf.len() >= 5 && buf.len() >= 5 + u16::from_be_bytes([buf[3], buf[4]]) as usize {
            return buf;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn hello_retry_request_cookie_is_echoed_on_the_wire() {
    use shakedown::core::wire::hello::ClientHello;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let peer = hostile_peer(move |mut s| {
        let first = read_record(&mut s);
        let Ok(ch) = ClientHello::decode_message(&first[5..], 0x0301) else {
            return;
        };
        let mut body = vec![3, 3];
        body.extend_from_slice(&shakedown::core::wire::server::HELLO_RETRY_REQUEST_RANDOM);
        body.push(ch.session_id.len() as u8);
        body.extend_from_slice(&ch.session_id);
        body.extend_from_slice(&[0x13, 0x01, 0]);
        let exts: &[u8] = &[
            0, 0x2b, 0, 2, 3, 4, // supported_versions: TLS 1.3
            0, 0x33, 0, 2, 0, 0x17, // key_share: secp256r1
            0, 0x2c, 0, 6, 0, 4, 0xc0, 0x0c, 0x1e, 0x55, // cookie
        ];
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(exts);
        write_quietly(&mut s, &handshake_record(2, &body));
        let _ = tx.send(read_record(&mut s));
    });
    let out = shakedown()
        .args(["probe", &peer.addr.to_string(), "--json", "--timeout", "3"])
        .output()
        .unwrap();
    let second = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    let ch2 = ClientHello::decode_message(&second[5..], 0x0301).expect("a second ClientHello");
    assert_eq!(ch2.ext(44), Some(&[0, 4, 0xc0, 0x0c, 0x1e, 0x55][..]));
    let shares = ch2.key_shares();
    assert_eq!(
        (shares.len(), shares[0].0, shares[0].1.len()),
        (1, 0x0017, 65)
    );
    // The report says an HRR happened and the second hello went out; the peer then
    // closed, so the connection ends there.
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hrr = &o["hello_retry_request"];
    assert_eq!(hrr["group"], "secp256r1", "{o:#}");
    assert_eq!(hrr["cookie"], true);
    assert_eq!(hrr["second_client_hello"]["key_shares"][0], "secp256r1");
    assert!(o["history"].as_str().unwrap().starts_with("CjC"), "{o:#}");
}

#[test]
fn alpn_selected_in_encrypted_extensions_is_reported() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-alpn", "h2"]);
    let target = format!("localhost:{}", srv.port);
    let args = ["probe", &target, "--alpn", "h2,http/1.1", "--timeout", "5"];
    let out = shakedown().args(args).arg("--json").output().unwrap();
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o["server_hello"]["version"], "TLSv1.3", "{o:#}");
    // The ServerHello itself carries no ALPN in TLS 1.3.
    let exts = o["server_hello"]["extensions"].as_array().unwrap();
    assert!(
        !exts.contains(&"application_layer_protocol_negotiation".into()),
        "{o:#}"
    );
    assert_eq!(o["server_hello"]["alpn"], "h2", "{o:#}");
    let text = shakedown().args(args).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("received  ServerHello TLSv1.3") && l.contains("alpn h2,")),
        "{text}"
    );

    // The verdict keeps the EncryptedExtensions; no status_request was offered, so the
    // leaf entry staples nothing.
    let spec = HelloSpec {
        alpn: Some(vec!["h2".into(), "http/1.1".into()].into()),
        ..tls13_spec()
    };
    let r = probe_with(&pki, srv.port, spec);
    let v = verdict(&r);
    assert_decrypted(v);
    let ee = v
        .encrypted_extensions
        .as_ref()
        .expect("EncryptedExtensions");
    assert!(ee.iter().any(|e| e.typ == 16), "{ee:?}");
    assert_eq!(v.alpn().as_deref(), Some(&b"h2"[..]));
    assert_eq!(v.leaf_ocsp_stapled, Some(false));
}

/// A scan's tracker ([`Tracker::first_flight_only`]) reads the same decrypted flight as a
/// probe's (the chain, the CertificateVerify's scheme, the decision at the server's
/// Finished) without checking that Finished or making application keys.
#[test]
fn a_first_flight_only_tracker_reads_the_flight_without_the_finished_check() {
    use shakedown::core::crypto::hello::build;
    use shakedown::core::flow::{Direction, EndKind, Micros};
    use shakedown::core::session::Tracker;
    use shakedown::io::net::{self, ExchangeObserver};

    struct Reader(Tracker);
    impl ExchangeObserver for Reader {
        fn data(&mut self, dir: Direction, bytes: &[u8], at: Micros) -> bool {
            self.0.on_data(dir, bytes, at);
            !self.0.decided()
        }
        fn end(&mut self, dir: Direction, kind: EndKind, at: Micros) {
            self.0.on_end(dir, kind, at);
        }
    }

    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3"]);
    let target = Target::parse(&format!("localhost:{}", srv.port), 443).unwrap();
    let limits = Limits::default();
    let read = |first_flight_only: bool| {
        let built = build(&tls13_spec(), Some("localhost"), &mut probe::fill_random).unwrap();
        let mut tracker = Tracker::with_key_shares(built.secrets);
        if first_flight_only {
            tracker.first_flight_only();
        }
        let mut reader = Reader(tracker);
        let mut conn = net::connect(&target, &limits).unwrap();
        net::exchange(&mut conn, &built.wire, &limits, &mut reader);
        assert!(reader.0.decided());
        reader.0.into_verdict()
    };
    let whole = read(false);
    let flight = read(true);
    assert_decrypted(&whole);
    let d = flight.decryption.as_ref().unwrap();
    assert_eq!(d.problem, None, "{:#?}", flight.events);
    assert_eq!(d.server_finished_verified, None, "{:#?}", flight.events);
    assert_eq!(flight.certificates, whole.certificates);
    assert_eq!(flight.certificates.len(), 2);
    assert!(flight.server_signature_scheme.is_some());
    assert_eq!(
        flight.server_signature_scheme,
        whole.server_signature_scheme
    );
    assert_eq!(flight.encrypted_extensions, whole.encrypted_extensions);
    assert_eq!(flight.outcome, whole.outcome);
    assert_eq!(flight.history, whole.history);
}
