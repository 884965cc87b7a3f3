//! `shakedown hello` and `shakedown decode` through the binary: what users paste from
//! Wireshark must decode, what we print must decode back, and bad input must say where.

mod common;

use common::shakedown;
use serde_json::Value;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = shakedown().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn decode_json(hex: &str) -> Value {
    let (code, out, err) = run(&["decode", "--json", hex]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn a_crafted_hello_decodes_back_to_what_was_asked() {
    let (code, out, err) = run(&[
        "hello",
        "--host",
        "example.com",
        "--tls",
        "TLSv1.2",
        "--ciphers",
        "0x1337,ECDHE-RSA-AES128-GCM-SHA256,TLS_RSA_WITH_AES_128_CBC_SHA",
        "--groups",
        "P-256,x25519",
        "--alpn",
        "h2,http/1.1",
        "--ext",
        "0xfe00:c0ffee",
        "--pad-to",
        "700",
    ]);
    assert_eq!(code, 0, "{err}");
    let hex = out.lines().next().unwrap();
    assert_eq!(hex.len() / 2, 5 + 700, "padded to 700 handshake bytes");
    let v = decode_json(hex);
    let h = &v["client_hello"];
    assert_eq!(h["sni"], "example.com");
    assert_eq!(h["legacy_version"], "TLSv1.2");
    assert_eq!(
        h["ciphers"],
        serde_json::json!([
            "0x1337",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_128_CBC_SHA"
        ])
    );
    assert_eq!(h["groups"], serde_json::json!(["secp256r1", "x25519"]));
    assert_eq!(h["alpn"], serde_json::json!(["h2", "http/1.1"]));
    let exts: Vec<&str> = h["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        exts.contains(&"0xfe00") && exts.last() == Some(&"padding"),
        "{exts:?}"
    );
    assert!(
        h["ja4"].as_str().unwrap().starts_with("t12d0311h2_"),
        "{}",
        h["ja4"]
    );
}

#[test]
fn raw_output_is_the_same_bytes_as_hex() {
    let args = ["hello", "--host", "a.test", "--tls", "TLSv1.3"];
    let (_, hex_out, _) = run(&args);
    let raw = shakedown().args(args).arg("--raw").output().unwrap().stdout;
    // Random and key shares differ per run; the lengths and the fixed prefix do not.
    let hex_bytes = hex::decode(hex_out.trim()).unwrap();
    assert_eq!(raw.len(), hex_bytes.len());
    assert_eq!(raw[..11], hex_bytes[..11]);
}

#[test]
fn wireshark_style_paste_of_a_server_flight_decodes() {
    // The server's first flight of a recorded TLS 1.2 exchange (tests/exchanges/tls12_ok.txt),
    // pasted with colons as Wireshark's "Copy as Hex Stream" variants produce.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/exchanges/tls12_ok.txt"
    ))
    .unwrap();
    let server = text.lines().find(|l| l.starts_with("S ")).unwrap();
    let hex = server.split_whitespace().nth(2).unwrap();
    let pasted: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let v = decode_json(&pasted.join(":"));
    assert_eq!(v["server_hello"]["version"], "TLSv1.2");
    assert_eq!(
        v["server_hello"]["cipher"],
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    );
    assert_eq!(v["server_hello"]["cipher_id"], "0xc030");
    assert!(v["certificates"].as_array().unwrap().len() == 1, "{v}");
    assert!(v["history"].as_str().unwrap().starts_with("sx"), "{v}");
}

#[test]
fn a_bare_client_hello_body_and_golden_hellos_decode() {
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/curl-7.88.hex"
    ))
    .unwrap();
    let hex: String = golden
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("");
    let v = decode_json(&hex);
    assert_eq!(
        v["client_hello"]["alpn"],
        serde_json::json!(["h2", "http/1.1"])
    );
    // Without the record and handshake headers (9 bytes), the body alone decodes the same.
    let body = &hex.trim()[18..];
    let w = decode_json(body);
    assert_eq!(v["client_hello"]["ciphers"], w["client_hello"]["ciphers"]);
    assert_eq!(v["client_hello"]["ja4"], w["client_hello"]["ja4"]);
}

#[test]
fn bad_input_names_the_problem() {
    let (code, _, err) = run(&["decode", "1603zz"]);
    assert_eq!(code, 2);
    assert!(err.contains("offset 4"), "{err}");
    let (code, _, err) = run(&["decode", "160"]);
    assert_eq!(code, 2);
    assert!(err.contains("odd number"), "{err}");
    let (code, _, err) = run(&["hello", "--groups", "x25518"]);
    assert_eq!(code, 2);
    assert!(err.contains("nearest: x25519"), "{err}");
    let (code, _, err) = run(&["hello", "--ciphers", "FOO"]);
    assert_eq!(code, 2);
    assert!(!err.contains("nearest"), "nothing is near FOO: {err}");
    let (code, _, err) = run(&["probe", "127.0.0.1:1", "--timeout", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--timeout 0: must be more than 0"), "{err}");
    let (code, _, err) = run(&["hello", "--tls", "TLSv1.4"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown version"), "{err}");
    let (code, _, err) = run(&["probe", "[::1"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing ']'"), "{err}");
    let (code, _, _) = run(&["decode", "@/nonexistent/file"]);
    assert_eq!(code, 2);
    // Truncated records decode as far as they go and say so; invalid input: exit 2.
    let (code, out, _) = run(&["decode", "160303004002000040"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("read as TLS records"), "{out}");
    // A record header cut short is named as such, not decoded as a ServerHello.
    let (code, out, _) = run(&["decode", "--json", "1603"]);
    assert_eq!(code, 2, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["taken_as"], "cut_record_header", "{v}");
    assert!(!out.contains("ServerHello"), "{out}");
    // Bytes that are nothing TLS-like say what they were tried as.
    let (code, out, _) = run(&["decode", "0102030405060708"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("a ServerHello body (not a record"), "{out}");
}

#[test]
fn a_hello_too_long_for_its_length_fields_is_refused() {
    let big = "00".repeat(40_000);
    let (code, out, err) = run(&[
        "hello",
        "--ext",
        &format!("0xff01:{big}"),
        "--ext",
        &format!("0xff02:{big}"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("extensions is 80") && err.contains("at most 65535"),
        "{err}"
    );
}

/// The lists inside extensions have length fields too: 128 supported versions (256 bytes
/// behind a one-byte length) or a 300-byte ALPN name are refused, not wrapped.
#[test]
fn lists_inside_extensions_that_do_not_fit_are_refused() {
    let versions = vec!["0x0303"; 128].join(",");
    let (code, _, err) = run(&["hello", "--supported-versions", &versions]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("supported_versions is 256 bytes long") && err.contains("at most 255"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "hello",
        "--supported-versions",
        &vec!["0x0303"; 127].join(","),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["hello", "--alpn", &"a".repeat(300)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is 300 bytes long"), "{err}");
}

#[test]
fn deliberately_wrong_lengths_are_sent_as_asked() {
    let (code, out, err) = run(&[
        "hello",
        "--tls",
        "TLSv1.2",
        "--ciphers",
        "0x002f,0x0035",
        "--lengths",
        "record=0x0100,handshake=5,suites=3,ext=0xffff,ext:server_name=0",
        "--host",
        "a.test",
    ]);
    assert_eq!(code, 0, "{err}");
    let b = hex::decode(out.trim()).unwrap();
    assert_eq!(&b[3..5], &[1, 0], "record length");
    assert_eq!(&b[6..9], &[0, 0, 5], "handshake length");
    // Record 5, handshake header 4, version 2, random 32, empty session id 1.
    assert_eq!(&b[44..46], &[0, 3], "cipher_suites length");
    // Two suites (4 bytes), compression methods (2 bytes), then the extensions block.
    assert_eq!(&b[46..50], &[0, 0x2f, 0, 0x35]);
    assert_eq!(&b[52..54], &[0xff, 0xff], "extensions length");
    // server_name comes first: type 0, length forced to 0.
    assert_eq!(&b[54..58], &[0, 0, 0, 0], "server_name length");
    // Without overrides the same options give true lengths (and decode).
    let (code, out, err) = run(&[
        "hello",
        "--tls",
        "TLSv1.2",
        "--ciphers",
        "0x002f,0x0035",
        "--host",
        "a.test",
    ]);
    assert_eq!(code, 0, "{err}");
    let b = hex::decode(out.trim()).unwrap();
    assert_eq!(&b[44..46], &[0, 4]);
    assert_eq!(usize::from(u16::from_be_bytes([b[3], b[4]])), b.len() - 5);
    decode_json(out.trim());
}

#[test]
fn bad_length_overrides_are_refused() {
    for spec in ["session_id=256", "bogus=1", "suites", "record=0x10000"] {
        let (code, _, err) = run(&["hello", "--lengths", spec]);
        assert_eq!(code, 2, "{spec}: {err}");
        assert!(err.contains("--lengths"), "{err}");
    }
}

#[test]
fn hello_names_a_server_only_when_asked() {
    let (code, out, _) = run(&["hello", "--json", "--decode"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["decoded"]["client_hello"]["sni"].is_null(), "{v}");
    let (_, out, _) = run(&["hello", "--json", "--decode", "--host", "a.test"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decoded"]["client_hello"]["sni"], "a.test");
}
