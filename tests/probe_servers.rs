//! `probe` against real `openssl s_server` processes on loopback, with certificates made
//! for each test, and against a plain-HTTP listener and a closed port. Each server answers
//! the way its configuration dictates; the tests check that shakedown names it.

mod common;

use common::{
    Pki, causes, free_port, json_output, s_server, shakedown, spawn_listening, spawn_listening_on,
};
use serde_json::Value;

/// Runs `shakedown probe --json` and returns (exit code, the JSON object).
fn probe(target: &str, args: &[&str]) -> (i32, Value) {
    json_output(
        shakedown()
            .args(["probe", target, "--json", "--timeout", "5"])
            .args(args),
    )
}

fn local(port: u16) -> String {
    format!("localhost:{port}")
}

#[test]
fn tls12_only_server_refuses_tls10_with_protocol_version() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let (code, v) = probe(&local(srv.port), &["--tls", "TLSv1.0"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["outcome"], "alert", "{v}");
    assert_eq!(v["alert"]["description"], "protocol_version");
    assert_eq!(v["alert"]["code"], 70);
    assert_eq!(v["alert"]["level"], "fatal");
    assert!(causes(&v).contains(&"protocol_mismatch".into()), "{v}");
}

#[test]
fn no_shared_suite_is_handshake_failure() {
    let pki = Pki::new();
    let srv = s_server(
        &pki.leaf("localhost"),
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    );
    let (code, v) = probe(
        &local(srv.port),
        &[
            "--tls",
            "TLSv1.2",
            "--ciphers",
            "TLS_RSA_WITH_AES_128_CBC_SHA,AES256-SHA",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "alert", "{v}");
    assert_eq!(v["alert"]["description"], "handshake_failure");
    assert!(causes(&v).contains(&"no_shared_cipher".into()), "{v}");
}

/// A TLS 1.3-style hello carries our key shares; a server that answers TLS 1.2 leaves
/// nothing for them to decrypt, which is no problem to report.
#[test]
fn tls12_answer_to_a_tls13_hello_reports_no_decryption_problem() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let (code, v) = probe(&local(srv.port), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["server_hello"]["version"], "TLSv1.2", "{v}");
    assert_eq!(v["decryption"], Value::Null, "{v}");
    let events = v["events"].as_array().unwrap();
    assert!(
        !events
            .iter()
            .any(|e| e["what"].as_str().unwrap_or("").contains("cannot decrypt")),
        "{v}"
    );
}

#[test]
fn tls13_server_hello_names_version_cipher_and_group() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3"]);
    let (code, v) = probe(&local(srv.port), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "server_hello", "{v}");
    let sh = &v["server_hello"];
    assert_eq!(sh["version"], "TLSv1.3");
    assert_eq!(sh["group"], "x25519");
    assert!(
        sh["cipher"].as_str().unwrap().starts_with("TLS_AES_")
            || sh["cipher"] == "TLS_CHACHA20_POLY1305_SHA256"
    );
    assert_eq!(sh["cipher_id"].as_str().unwrap().len(), 6);
    assert!(
        sh["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "supported_versions")
    );
    assert_eq!(v["sni"], "localhost");
}

#[test]
fn tls13_hello_retry_request_when_key_share_group_is_not_the_servers() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "P-256"]);
    let (code, v) = probe(
        &local(srv.port),
        &["--groups", "x25519,secp256r1", "--key-shares", "x25519"],
    );
    assert_eq!(code, 0, "{v}");
    // The probe answers the HelloRetryRequest with a secp256r1 share: the second round
    // gives the ServerHello, and the report keeps that an HRR happened.
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert_eq!(v["server_hello"]["group"], "secp256r1");
    assert_eq!(v["server_hello"]["hello_retry_request"], false);
    assert_eq!(v["hello_retry_request"]["group"], "secp256r1", "{v}");
    assert_eq!(v["history"], "CjiCsoxyf", "{v}");
}

/// `ssl_ecdh_curve secp384r1` and the like: the HelloRetryRequest for a P-384 or P-521
/// server is answered with a real key, so the certificate is still decrypted and checked.
#[test]
fn tls13_servers_with_only_p384_or_p521_finish_after_a_retry() {
    let pki = Pki::new();
    for (group, name) in [("secp384r1", "secp384r1"), ("P-521", "secp521r1")] {
        let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", group]);
        let (code, v) = probe(&local(srv.port), &[]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["hello_retry_request"]["group"], name, "{v}");
        assert_eq!(v["server_hello"]["group"], name, "{v}");
        assert_eq!(v["history"], "CjiCsoxyf", "{v}");
        assert_eq!(v["certificates"][0]["subject"], "CN=localhost", "{v}");
        // A first hello that already shares the server's group needs no retry.
        let (_, v) = probe(&local(srv.port), &["--key-shares", name]);
        assert!(v["hello_retry_request"].is_null(), "{v}");
        assert_eq!(v["history"], "Csioxyf", "{v}");
    }
}

#[test]
fn expired_certificate_is_diagnosed() {
    let pki = Pki::new();
    let leaf = pki.issue("expired", "localhost", &pki.intermediate(), -1, false);
    let srv = s_server(&leaf, &["-tls1_2"]);
    let (code, v) = probe(&local(srv.port), &["--tls", "TLSv1.2"]);
    assert_eq!(code, 0, "the server goes on; the client would refuse: {v}");
    let subject = v["certificates"][0]["subject"].as_str().unwrap();
    assert!(subject.contains("localhost"), "{v}");
    assert!(causes(&v).contains(&"certificate_expired".into()), "{v}");
    // The same chain checked as of yesterday is not expired.
    let yesterday = shakedown::core::datetime::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 86_400 * 3 / 2,
    );
    let (_, v) = probe(&local(srv.port), &["--tls", "TLSv1.2", "--at", &yesterday]);
    assert!(!causes(&v).contains(&"certificate_expired".into()), "{v}");
}

#[test]
fn wrong_host_name_is_diagnosed() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("other.test"), &["-tls1_2"]);
    let (_, v) = probe(&local(srv.port), &["--tls", "TLSv1.2"]);
    assert!(causes(&v).contains(&"hostname_mismatch".into()), "{v}");
    assert_eq!(v["certificates"][0]["san"][0], "other.test");
}

#[test]
fn leaf_served_without_its_intermediate_is_an_unknown_issuer() {
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    let bare = common::Issued {
        chain: None,
        ..leaf.clone()
    };
    let without = s_server(&bare, &["-tls1_2"]);
    let (_, v) = probe(&local(without.port), &["--tls", "TLSv1.2"]);
    // Without AIA nothing says the issuer is an intermediate rather than a private CA.
    assert!(causes(&v).contains(&"unknown_issuer".into()), "{v}");
    assert!(!causes(&v).contains(&"incomplete_chain".into()), "{v}");
    let with = s_server(&leaf, &["-tls1_2"]);
    let (_, v) = probe(&local(with.port), &["--tls", "TLSv1.2"]);
    assert_eq!(v["certificates"].as_array().unwrap().len(), 2, "{v}");
    assert!(!causes(&v).contains(&"incomplete_chain".into()), "{v}");
}

#[test]
fn client_certificate_required() {
    let pki = Pki::new();
    let srv = s_server(
        &pki.leaf("localhost"),
        &[
            "-tls1_2",
            "-Verify",
            "1",
            "-verifyCAfile",
            pki.root().cert.to_str().unwrap(),
        ],
    );
    let (_, v) = probe(&local(srv.port), &["--tls", "TLSv1.2"]);
    assert!(
        causes(&v).contains(&"client_certificate_required".into()),
        "{v}"
    );
    assert!(
        v["history"].as_str().unwrap().contains('r'),
        "CertificateRequest in history: {v}"
    );
}

#[test]
fn unknown_name_gets_unrecognized_name_with_servername_fatal() {
    let pki = Pki::new();
    let good = pki.leaf("good.test");
    let srv = s_server(
        &pki.leaf("localhost"),
        &[
            "-servername",
            "good.test",
            "-servername_fatal",
            "-cert2",
            good.cert.to_str().unwrap(),
            "-key2",
            good.key.to_str().unwrap(),
        ],
    );
    let (code, v) = probe(&local(srv.port), &["--sni", "other.test"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["outcome"], "alert", "{v}");
    assert_eq!(v["alert"]["description"], "unrecognized_name");
    assert!(causes(&v).contains(&"unrecognized_name".into()), "{v}");
    let (code, v) = probe(&local(srv.port), &["--sni", "good.test"]);
    assert_eq!(
        (code, v["outcome"].as_str()),
        (0, Some("server_hello")),
        "{v}"
    );
}

#[test]
fn plain_http_listener_is_not_tls() {
    let srv = spawn_listening(
        "python3",
        &["-m", "http.server", "--bind", "127.0.0.1", "{port}"],
    );
    let (code, v) = probe(&format!("127.0.0.1:{}", srv.port), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "not_tls", "{v}");
    // Python answers a request line it cannot parse HTTP/0.9-style: an HTML body, no status.
    let preview = v["not_tls"].as_str().unwrap();
    assert!(
        preview.contains("HTML") || preview.contains("HTTP/1."),
        "{v}"
    );
    assert!(causes(&v).contains(&"not_tls".into()));
}

#[test]
fn closed_port_is_connect_failed_with_the_os_reason() {
    let port = free_port();
    let (code, v) = probe(&format!("127.0.0.1:{port}"), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "connect_failed");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{v}"
    );
    assert!(causes(&v).contains(&"connection_refused".into()));
    // Nothing was sent: JSON says 0 bytes, text says the hello was built, not sent.
    assert_eq!(v["sent_bytes"], 0, "{v}");
    let text = shakedown()
        .args(["probe", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("built     ClientHello") && text.contains("not sent: no connection"),
        "{text}"
    );
    assert!(!text.contains("sent      ClientHello"), "{text}");
}

#[test]
fn ipv6_loopback_and_connect_override_keep_the_sni() {
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    let srv = spawn_listening_on(
        "[::1]",
        "openssl",
        &[
            "s_server",
            "-www",
            "-accept",
            "[::1]:{port}",
            "-cert",
            leaf.cert.to_str().unwrap(),
            "-key",
            leaf.key.to_str().unwrap(),
        ],
    );
    let (code, v) = probe(&format!("[::1]:{}", srv.port), &["--sni", "localhost"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["address"], format!("[::1]:{}", srv.port));
    let (code, v) = probe(
        &format!("example.invalid:{}", srv.port),
        &["--connect", "::1"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["sni"], "example.invalid");
}

#[test]
fn pcap_out_writes_a_capture_tshark_can_read() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.pcap");
    let (code, _) = probe(
        &local(srv.port),
        &["--tls", "TLSv1.2", "--pcap-out", file.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 500);
    if let Ok(out) = std::process::Command::new("tshark")
        .args([
            "-r",
            file.to_str().unwrap(),
            "-Y",
            "tls.handshake.type",
            "-T",
            "fields",
            "-e",
            "tls.handshake.type",
        ])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains('1') && text.contains('2'),
            "tshark saw: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
