//! `probe --quic` against a real QUIC implementation: aioquic (PyPI, in a venv the test
//! makes under target/ once; needs PyPI the first time) started by each test on a
//! 127.0.0.1 ephemeral UDP port, with a chain from the test's own PKI, and stopped by its
//! handle. One server completes the handshake, one refuses our ALPN with a TLS alert
//! (no_application_protocol in a CONNECTION_CLOSE), one sends a Retry first. The verdict,
//! certificates and diagnosis come from the same tracker and assessment as over TCP.

mod common;

use common::{Pki, Server, causes, json_output, shakedown, spawn_announcing, venv_python};
use serde_json::Value;

/// aioquic serving `localhost`'s chain (leaf and intermediate) in `mode` (see
/// tests/quic_server.py).
fn aioquic(pki: &Pki, mode: &str) -> Server {
    let python = venv_python("quic-venv", &["aioquic"]);
    let leaf = pki.leaf("localhost");
    let chain = pki.path("quic-chain.pem");
    let mut pem = std::fs::read_to_string(&leaf.cert).unwrap();
    if let Some(c) = &leaf.chain {
        pem.push_str(&std::fs::read_to_string(c).unwrap());
    }
    std::fs::write(&chain, pem).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quic_server.py");
    spawn_announcing(
        &python,
        &[
            script,
            chain.to_str().unwrap(),
            leaf.key.to_str().unwrap(),
            mode,
        ],
    )
}

/// `probe --quic --json` of the server as `localhost`, trusting the PKI's root.
fn probe(pki: &Pki, server: &Server, extra: &[&str]) -> (i32, Value) {
    let root = pki.root().cert.clone();
    json_output(
        shakedown()
            .args(["probe", "--quic", "--json", "--sni", "localhost", "--ca"])
            .arg(&root)
            .args(extra)
            .arg(format!("127.0.0.1:{}", server.port)),
    )
}

fn server_hello(v: &Value) -> &Value {
    &v["server_hello"]
}

#[test]
fn quic_probe_reads_the_whole_server_flight_of_aioquic() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let (code, v) = probe(&pki, &server, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "server_hello");
    let sh = server_hello(&v);
    assert_eq!(sh["version"], "TLSv1.3");
    // aioquic prefers AES-256-GCM: the Handshake packets were opened with its keys.
    assert_eq!(sh["cipher"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(sh["group"], "x25519");
    assert_eq!(sh["alpn"], "h3");
    assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "leaf and intermediate: {v:#}");
    assert!(
        certs[0]["subject"].as_str().unwrap().contains("localhost"),
        "{v:#}"
    );
    // Trusted through --ca, valid for the name: nothing to diagnose.
    assert!(causes(&v).is_empty(), "{:?}", causes(&v));
    // QUIC's JA4 letter, TLS 1.3 only, no session ID, ALPN h3 by default.
    assert!(
        v["offered"]["ja4"].as_str().unwrap().starts_with("q13d03"),
        "{}",
        v["offered"]["ja4"]
    );
    let q = &v["quic"];
    assert_eq!(q["version"], "0x00000001");
    assert!(q["handshake_packets"].as_u64().unwrap() >= 1, "{q:#}");
    assert_eq!(q["dropped_packets"], 0, "{q:#}");
    assert!(q.get("close").is_none(), "{q:#}");
    // The server's transport parameters were read from its EncryptedExtensions; it
    // echoes our connection ID as original_destination_connection_id.
    let params = q["server_transport_parameters"].as_array().unwrap();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    for want in [
        "original_destination_connection_id",
        "initial_source_connection_id",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let events: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["what"].as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("QUIC Handshake packet")),
        "{events:?}"
    );
}

/// AES-128-GCM and ChaCha20-Poly1305 keys for the Handshake packets when that suite is
/// the only one offered; and QUIC v2 (RFC 9369) Initial packets, their own salt and labels.
#[test]
fn quic_probe_with_each_tls13_suite_and_with_quic_v2() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    for suite in ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"] {
        let (code, v) = probe(&pki, &server, &["--ciphers", suite]);
        assert_eq!(code, 0, "{v:#}");
        assert_eq!(server_hello(&v)["cipher"], suite);
        assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
        assert_eq!(v["certificates"].as_array().unwrap().len(), 2, "{suite}");
    }
    let (code, v) = probe(&pki, &server, &["--quic-version", "2"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["quic"]["version"], "0x6b3343cf");
    assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
}

/// A hello larger than one packet (padded to 2,500 bytes, in 300-byte CRYPTO frames) goes
/// out in several padded Initial datagrams, which the server reassembles.
#[test]
fn a_hello_larger_than_a_datagram_spans_several_initial_packets() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let (code, v) = probe(&pki, &server, &["--pad-to", "2500", "--fragment", "300"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "server_hello");
    assert!(v["sent_bytes"].as_u64().unwrap() >= 2500);
    // Three hello datagrams and the closing one at least.
    assert!(
        v["quic"]["datagrams_sent"].as_u64().unwrap() >= 4,
        "{:#}",
        v["quic"]
    );
    assert_eq!(v["decryption"]["server_finished_verified"], true);
}

/// The server refuses our ALPN: its CONNECTION_CLOSE carries crypto error 0x178, which is
/// TLS alert 120 and is judged as that alert.
#[test]
fn an_alpn_mismatch_is_the_alert_no_application_protocol() {
    let pki = Pki::new();
    let server = aioquic(&pki, "alpn");
    let (code, v) = probe(&pki, &server, &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["outcome"], "alert");
    assert_eq!(v["alert"]["description"], "no_application_protocol");
    assert_eq!(v["alert"]["from"], "server");
    let close = &v["quic"]["close"];
    assert_eq!(close["code"], 0x178);
    assert_eq!(close["error"], "crypto_error");
    assert_eq!(close["alert"], "no_application_protocol");
}

/// A Retry: its integrity tag checks out, the hello goes again with the token to the new
/// connection ID, and the handshake completes (the server names the Retry's ID in
/// retry_source_connection_id).
#[test]
fn a_retry_is_followed() {
    let pki = Pki::new();
    let server = aioquic(&pki, "retry");
    let (code, v) = probe(&pki, &server, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "server_hello");
    let retry = &v["quic"]["retry"];
    assert_eq!(retry["integrity_ok"], true, "{v:#}");
    assert!(retry["token_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["decryption"]["server_finished_verified"], true);
    let names: Vec<&str> = v["quic"]["server_transport_parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"retry_source_connection_id"), "{names:?}");
}

/// A version the server does not speak: it answers with Version Negotiation, which is the
/// outcome, with the versions it lists and a cause.
#[test]
fn an_unknown_version_gets_version_negotiation() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let (code, v) = probe(&pki, &server, &["--quic-version", "0x1a2a3a4a"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["outcome"], "version_negotiation");
    let offered: Vec<&str> = v["quic"]["version_negotiation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(offered.contains(&"0x00000001"), "{offered:?}");
    assert_eq!(causes(&v), ["quic_version_mismatch"]);
}

/// Transport parameters are ours to set: without initial_source_connection_id (mandatory)
/// or with a max_udp_payload_size below 1,200 the server closes with
/// TRANSPORT_PARAMETER_ERROR, reported by name.
#[test]
fn a_bad_transport_parameter_is_a_named_transport_error() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    for param in [
        "initial_source_connection_id=none",
        "max_udp_payload_size=1000",
    ] {
        let (code, v) = probe(&pki, &server, &["--quic-param", param]);
        assert_eq!(code, 1, "{param}: {v:#}");
        assert_eq!(v["outcome"], "transport_error", "{param}");
        assert_eq!(v["quic"]["close"]["error"], "TRANSPORT_PARAMETER_ERROR");
        assert_eq!(causes(&v), ["quic_transport_error"], "{param}");
    }
}

/// Nothing listens on the UDP port: the ICMP port unreachable ends the probe at once (a
/// reset), or the read deadline does; either way no handshake, exit 1, and bounded.
#[test]
fn nothing_listening_on_the_udp_port() {
    let port = common::free_port();
    let (code, v) = json_output(shakedown().args([
        "probe",
        "--quic",
        "--json",
        "--timeout",
        "2",
        &format!("127.0.0.1:{port}"),
    ]));
    assert_eq!(code, 1, "{v:#}");
    assert!(
        matches!(v["outcome"].as_str(), Some("reset" | "timeout")),
        "{v:#}"
    );
}

/// Usage errors: exit 2, the flag named.
#[test]
fn quic_usage_errors() {
    for args in [
        vec!["--quic", "--quic-param", "initial_max_data=abc"],
        vec!["--quic", "--quic-param", "no_such_param=1"],
        vec!["--quic", "--quic-version", "v9"],
        vec!["--quic-version", "1"],
        vec!["--quic", "--pcap-out", "/tmp/x.pcap"],
    ] {
        let out = shakedown()
            .arg("probe")
            .args(&args)
            .arg("127.0.0.1:1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("quic") || err.contains("pcap"),
            "{args:?}: {err}"
        );
    }
}

/// `scan --quic`: the versions and TLS 1.3 suites a QUIC server accepts, in its order,
/// over Initial packets. aioquic speaks TLS 1.3 only and prefers AES-256-GCM.
#[test]
fn scan_quic_lists_the_tls13_suites_in_the_server_order() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let (code, v) = json_output(shakedown().args([
        "scan",
        "--quic",
        "--json",
        "--sni",
        "localhost",
        &format!("127.0.0.1:{}", server.port),
    ]));
    assert_eq!(code, 0, "{v:#}");
    let versions = &v["versions"];
    for old in ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"] {
        assert_eq!(versions[old]["supported"], false, "{old}: {v:#}");
    }
    let tls13 = &versions["TLSv1.3"];
    assert_eq!(tls13["supported"], true, "{v:#}");
    assert_eq!(
        tls13["ciphers"],
        serde_json::json!([
            "TLS_AES_256_GCM_SHA384",
            "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256"
        ])
    );
    assert_eq!(tls13["server_order"], true);
    // Bounded: one hello per version, the suites, the order check; then the groups (one
    // hello per accepted group, one refused, one for their order).
    let groups = v["cost"]["groups"].as_u64().unwrap();
    assert!(groups <= aioquic_groups().len() as u64 + 2, "{v:#}");
    assert!(
        v["handshakes"].as_u64().unwrap() - groups <= 12,
        "{}",
        v["handshakes"]
    );
}

/// A flight larger than three times our first datagram (three RSA-4096 certificates, about
/// 4 KB): the server may send only 3,600 bytes before its peer's address is validated
/// (RFC 9000 §8.1), so the rest comes only after our ACKs, which the probe sends.
#[test]
fn a_flight_beyond_the_amplification_limit_is_read_after_our_acks() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let mut chain = String::new();
    for n in ["a", "b", "c"] {
        common::openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:4096",
                "-nodes",
                "-keyout",
                &format!("big-{n}.key"),
                "-out",
                &format!("big-{n}.pem"),
                "-subj",
                &format!("/CN=localhost/O=organisation {n}"),
                "-addext",
                "subjectAltName=DNS:localhost",
                "-days",
                "30",
            ],
        );
        chain.push_str(&std::fs::read_to_string(dir.join(format!("big-{n}.pem"))).unwrap());
    }
    let chain_file = dir.join("big-chain.pem");
    std::fs::write(&chain_file, chain).unwrap();
    let python = venv_python("quic-venv", &["aioquic"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quic_server.py");
    let server = spawn_announcing(
        &python,
        &[
            script,
            chain_file.to_str().unwrap(),
            dir.join("big-a.key").to_str().unwrap(),
            "ok",
        ],
    );
    let (code, v) = probe(&pki, &server, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
    assert_eq!(v["certificates"].as_array().unwrap().len(), 3);
    let q = &v["quic"];
    assert!(q["handshake_packets"].as_u64().unwrap() >= 3, "{q:#}");
    // The hello, at least one ACK, the close.
    assert!(q["datagrams_sent"].as_u64().unwrap() >= 3, "{q:#}");
}

/// The groups aioquic itself says its TLS takes (`quic_server.py … groups`), by name.
fn aioquic_groups() -> Vec<String> {
    let python = venv_python("quic-venv", &["aioquic"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quic_server.py");
    let out = std::process::Command::new(python)
        .args([script, "-", "-", "groups"])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let ids = line.trim().strip_prefix("groups ").expect("a groups line");
    ids.split(' ')
        .map(|h| {
            let id = u16::from_str_radix(h.trim_start_matches("0x"), 16).unwrap();
            shakedown::core::wire::registry::group_name(id)
        })
        .collect()
}

fn scan_quic(server: &Server, extra: &[&str]) -> Value {
    let (code, v) = json_output(
        shakedown()
            .args(["scan", "--quic", "--json", "--sni", "localhost"])
            .args(extra)
            .arg(format!("127.0.0.1:{}", server.port)),
    );
    assert_eq!(code, 0, "{v:#}");
    v
}

/// `scan --quic` enumerates the TLS 1.3 groups a QUIC server takes, by key shares: aioquic
/// refuses a hello without a usable share instead of asking for one (no HelloRetryRequest),
/// so every hello carries a share for each group it offers and the ServerHello names the
/// pick. The list equals what aioquic says it supports; aioquic takes the client's first
/// share, so the order is the client's; a server limited to secp384r1 gives exactly that;
/// aioquic has no ML-KEM, so the post-quantum checks find none (and send nothing).
#[test]
fn scan_quic_enumerates_the_tls13_groups_by_key_shares() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let v = scan_quic(&server, &[]);
    let mut got: Vec<String> = v["groups"]["TLSv1.3"]
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = aioquic_groups();
    want.sort();
    assert_eq!(got, want, "{v:#}");
    assert!(want.contains(&"x25519".to_owned()));
    assert_eq!(v["groups_server_order"]["TLSv1.3"], false, "{v:#}");
    assert_eq!(v["post_quantum"]["preference"], "none");
    assert_eq!(v["post_quantum"]["hybrid"], serde_json::json!([]));
    assert_eq!(v["post_quantum"]["handshakes"], 0);
    // The suites and their order are still read (the order on the first group hello).
    assert_eq!(v["versions"]["TLSv1.3"]["server_order"], true);
    // Nothing beyond groups over QUIC.
    assert!(v["sigalgs"].is_null(), "{v:#}");
    drop(server);

    let server = aioquic(&pki, "p384");
    let v = scan_quic(&server, &[]);
    assert_eq!(
        v["groups"]["TLSv1.3"],
        serde_json::json!(["secp384r1"]),
        "{v:#}"
    );
    // --suites-only: no group hellos.
    let v = scan_quic(&server, &["--suites-only"]);
    assert!(
        v["groups"].as_object().is_none_or(|g| g.is_empty()),
        "{v:#}"
    );
    assert_eq!(v["cost"]["groups"], 0, "{v:#}");
}

/// Post-quantum key shares over QUIC: the hello options apply. An X25519MLKEM768 share
/// (1,216 bytes) beside an x25519 one makes a hello of two Initial datagrams; aioquic has no
/// ML-KEM, skips the hybrid share and completes with x25519 (Finished verified). Offering
/// only the hybrid, aioquic ends with CONNECTION_CLOSE crypto error handshake_failure ("No
/// supported key share").
#[test]
fn post_quantum_key_shares_over_quic() {
    let pki = Pki::new();
    let server = aioquic(&pki, "ok");
    let (code, v) = probe(
        &pki,
        &server,
        &[
            "--groups",
            "X25519MLKEM768,x25519",
            "--key-shares",
            "X25519MLKEM768,x25519",
        ],
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["outcome"], "server_hello");
    assert_eq!(server_hello(&v)["group"], "x25519", "{v:#}");
    assert_eq!(v["decryption"]["server_finished_verified"], true, "{v:#}");
    assert!(v["sent_bytes"].as_u64().unwrap() > 1200, "{v:#}");
    assert!(v["quic"]["datagrams_sent"].as_u64().unwrap() >= 2, "{v:#}");
    let (code, v) = probe(
        &pki,
        &server,
        &[
            "--groups",
            "X25519MLKEM768",
            "--key-shares",
            "X25519MLKEM768",
        ],
    );
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["outcome"], "alert");
    assert_eq!(v["alert"]["description"], "handshake_failure");
    assert_eq!(
        v["quic"]["close"]["reason"], "No supported key share",
        "{v:#}"
    );
    assert!(causes(&v).contains(&"no_shared_cipher".to_owned()), "{v:#}");
}
