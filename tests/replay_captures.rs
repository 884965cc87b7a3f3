//! `replay`: a ClientHello taken from a recorded capture (captures/, see its README for the
//! servers they were recorded against) is sent byte for byte to a server configured like the
//! one in the capture, and the server answers it as the captured server did.

mod common;

use common::{capture, diff_field, json_output, rsa_cert, s_server, shakedown};
use serde_json::Value;
use shakedown::commands::capture_ref::{ConnRef, load_connection};
use shakedown::commands::replay::replay_bytes;

fn replay(args: &[&str]) -> (i32, Value) {
    json_output(
        shakedown()
            .arg("replay")
            .args(args)
            .args(["--json", "--timeout", "5"]),
    )
}

#[test]
fn tls10_client_against_tls12_only_server_gets_protocol_version_again() {
    let dir = tempfile::tempdir().unwrap();
    let srv = s_server(&rsa_cert(dir.path(), "good.test"), &["-tls1_2"]);
    let target = format!("127.0.0.1:{}", srv.port);
    let (code, v) = replay(&[
        &capture("protocol_mismatch_tls10_client.pcap"),
        "--conn",
        "1",
        &target,
    ]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["first_difference"], Value::Null, "{v}");
    assert_eq!(diff_field(&v, "alert")["a"], "protocol_version");
    assert_eq!(diff_field(&v, "alert")["b"], "protocol_version");
    assert_eq!(v["replay"]["outcome"], "alert");
    assert_eq!(v["captured"]["outcome"], "alert");
    assert_eq!(v["as_captured"], true);
    // The same record bytes went out: same size, same SNI as captured.
    let c = load_connection(
        &ConnRef::parse(&capture("protocol_mismatch_tls10_client.pcap"), None).unwrap(),
    )
    .unwrap();
    assert_eq!(
        v["sent_bytes"],
        c.verdict.client_hello_wire.as_ref().unwrap().len()
    );
    assert_eq!(v["replay"]["sni"], "good.test");
}

#[test]
fn tls12_success_hellos_get_the_captured_suite() {
    let dir = tempfile::tempdir().unwrap();
    let srv = s_server(&rsa_cert(dir.path(), "good.test"), &["-tls1_2"]);
    let target = format!("localhost:{}", srv.port);
    // #1 s_client, #2 curl, #3 gnutls-cli: each client's hello, each the captured answer.
    for n in ["1", "2", "3"] {
        let (code, v) = replay(&[
            &format!("{}#{n}", capture("tls12_success.pcap")),
            &target,
            "--sni",
            "localhost",
        ]);
        assert_eq!(code, 0, "#{n}: {v}");
        assert_eq!(v["first_difference"], Value::Null, "#{n}: {v}");
        assert_eq!(
            diff_field(&v, "cipher")["b"],
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        );
        assert_eq!(diff_field(&v, "version")["b"], "TLSv1.2");
        assert_eq!(v["replay"]["sni"], "localhost");
        assert_eq!(v["as_captured"], false);
    }
}

#[test]
fn a_server_configured_differently_answers_differently() {
    let dir = tempfile::tempdir().unwrap();
    // tls13_success #1 was s_client -tls1_3; this server speaks only TLS 1.2.
    let srv = s_server(&rsa_cert(dir.path(), "good.test"), &["-tls1_2"]);
    let (code, v) = replay(&[
        &capture("tls13_success.pcap"),
        "--conn",
        "1",
        &format!("127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["first_difference"], "server_answer", "{v}");
    assert_eq!(diff_field(&v, "server_answer")["a"], "ServerHello");
    assert_eq!(
        diff_field(&v, "server_answer")["b"],
        "alert protocol_version"
    );
}

#[test]
fn no_shared_cipher_and_selection_by_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let srv = s_server(
        &rsa_cert(dir.path(), "good.test"),
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    );
    let file = capture("no_shared_cipher_tls12.pcap");
    let c = load_connection(&ConnRef::parse(&file, Some("1")).unwrap()).unwrap();
    let by_server = c.server.to_string();
    let (code, v) = replay(&[
        &file,
        "--conn",
        &by_server,
        &format!("127.0.0.1:{}", srv.port),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["connection"], 1);
    assert_eq!(diff_field(&v, "alert")["b"], "handshake_failure", "{v}");
    assert_eq!(v["first_difference"], Value::Null, "{v}");
}

#[test]
fn sni_rewrite_keeps_everything_else() {
    let file = capture("tls13_success.pcap");
    let c = load_connection(&ConnRef::parse(&format!("{file}#2"), None).unwrap()).unwrap();
    let original = c.verdict.client_hello.clone().unwrap();
    let bytes = replay_bytes(&c, Some(Some("replayed.example"))).unwrap();
    let h = shakedown::commands::simulate::profiles::decode_hello(&bytes).unwrap();
    assert_eq!(h.sni().as_deref(), Some("replayed.example"));
    assert_eq!(h.cipher_suites, original.cipher_suites);
    assert_eq!(h.extension_types(), original.extension_types());
    assert_eq!(h.key_shares(), original.key_shares());
    assert_eq!(
        replay_bytes(&c, None).unwrap(),
        *c.verdict.client_hello_wire.as_ref().unwrap()
    );
}

#[test]
fn bad_references_are_usage_errors() {
    for args in [
        vec![
            capture("tls12_success.pcap"),
            "--conn".into(),
            "9".into(),
            "127.0.0.1:1".into(),
        ],
        vec![
            capture("tls12_success.pcap"),
            "--conn".into(),
            "10.0.0.1:5".into(),
            "127.0.0.1:1".into(),
        ],
        vec!["/nonexistent.pcap".into(), "127.0.0.1:1".into()],
    ] {
        let out = shakedown().arg("replay").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
