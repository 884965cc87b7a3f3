//! `diff`: two connections from the recorded captures (captures/README.md says how each
//! client and server was configured) differ exactly where their configurations do.

mod common;

use common::{Pki, capture, diff_field, json_output, s_server, shakedown};
use serde_json::Value;

fn diff(a: &str, b: &str) -> (i32, Value) {
    json_output(shakedown().args(["diff", a, b, "--json"]))
}

fn differing(v: &Value) -> Vec<String> {
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["same"] == false)
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tls10_client_parts_from_tls12_client_at_legacy_version() {
    // Both s_client; one with -tls1 (and SECLEVEL=0), one with -tls1_2.
    let (code, v) = diff(
        &format!("{}#1", capture("protocol_mismatch_tls10_client.pcap")),
        &format!("{}#1", capture("tls12_success.pcap")),
    );
    assert_eq!(code, 1);
    assert_eq!(v["first_difference"], "legacy_version", "{v}");
    assert_eq!(diff_field(&v, "legacy_version")["a"], "TLSv1.0");
    assert_eq!(diff_field(&v, "legacy_version")["b"], "TLSv1.2");
    assert_eq!(diff_field(&v, "record_version")["same"], true);
    assert_eq!(diff_field(&v, "sni")["same"], true);
    assert_eq!(diff_field(&v, "alert")["a"], "protocol_version (server)");
    assert!(
        diff_field(&v, "extensions")["detail"]
            .as_str()
            .unwrap()
            .contains("only in B: signature_algorithms")
    );
}

#[test]
fn cipher_choice_is_the_only_offered_difference() {
    // s_client -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 vs s_client -tls1_2.
    let (_, v) = diff(
        &format!("{}#1", capture("no_shared_cipher_tls12.pcap")),
        &format!("{}#1", capture("tls12_success.pcap")),
    );
    assert_eq!(v["first_difference"], "ciphers", "{v}");
    let offered: Vec<String> = differing(&v)
        .into_iter()
        .filter(|f| {
            v["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["field"] == f.as_str() && x["section"] == "offered")
        })
        .collect();
    assert_eq!(offered, vec!["ciphers"], "{v}");
    assert_eq!(
        diff_field(&v, "ciphers")["a"],
        serde_json::json!([
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        ])
    );
}

#[test]
fn hrr_client_offers_other_groups() {
    // s_client -tls1_3 -groups X25519:P-256 against a P-256-only server, vs s_client -tls1_3.
    let (_, v) = diff(
        &format!("{}#1", capture("tls13_hrr_success.pcap")),
        &format!("{}#1", capture("tls13_success.pcap")),
    );
    assert_eq!(v["first_difference"], "groups", "{v}");
    assert_eq!(
        diff_field(&v, "groups")["a"],
        serde_json::json!(["x25519", "secp256r1"])
    );
    assert_eq!(diff_field(&v, "version")["same"], true);
    assert_eq!(diff_field(&v, "history")["a"], "CjiICs");
}

#[test]
fn a_connection_equals_itself_and_endpoints_select() {
    let file = capture("tls12_success.pcap");
    let (code, v) = diff(&format!("{file}#2"), &format!("{file}#2"));
    assert_eq!(code, 0);
    assert_eq!(v["first_difference"], Value::Null);
    assert!(differing(&v).is_empty());
    // Selection by the server endpoint takes the first connection to it: #1.
    let label = v["a"].as_str().unwrap().to_string();
    let server = label.rsplit(" → ").next().unwrap().trim_end_matches(')');
    let (code, w) = diff(&format!("{file}#{server}"), &format!("{file}#1"));
    assert_eq!(code, 0, "{w}");
}

#[test]
fn capture_against_a_live_target() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let target = format!("localhost:{}", srv.port);
    let (code, v) = diff(&format!("{}#1", capture("tls13_success.pcap")), &target);
    assert_eq!(code, 1);
    assert!(
        v["b"].as_str().unwrap().starts_with("probe localhost:"),
        "{v}"
    );
    assert_eq!(diff_field(&v, "version")["a"], "TLSv1.3");
    assert_eq!(diff_field(&v, "version")["b"], "TLSv1.2");
    // Text output marks the first difference.
    let out = shakedown()
        .args([
            "diff",
            &format!("{}#1", capture("tls13_success.pcap")),
            &target,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.trim_start().starts_with(">>")),
        "{text}"
    );
    assert!(text.contains("first difference: "), "{text}");
}
