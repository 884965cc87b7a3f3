//! Bytes that peers put in fields meant for text (ALPN names, the server name, a non-TLS
//! banner) are never lost: JSON carries their hex beside the printable form, the same in a
//! probe and in the capture of that probe.

mod common;

use common::{Pki, hostile_peer, json_output, read_some, s_server, shakedown, write_quietly};
use serde_json::Value;
use std::path::Path;

/// Probes `target` with `args`, recording the exchange to `pcap`; returns the probe's JSON
/// and the capture's one connection as `pcap --json` reports it.
fn probe_and_capture(target: &str, args: &[&str], pcap: &Path) -> (Value, Value) {
    let (_, probed) = json_output(
        shakedown()
            .args(["probe", target, "--json", "--timeout", "5", "--pcap-out"])
            .arg(pcap)
            .args(args),
    );
    let (_, captured) = json_output(shakedown().args(["pcap", "--json", "--all"]).arg(pcap));
    (probed, captured)
}

#[test]
fn non_utf8_alpn_and_server_name_keep_their_bytes() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("odd.pcap");
    // ALPN: one name, the two bytes ba ad. server_name: "ba\xfftest".
    let (probed, captured) = probe_and_capture(
        &format!("127.0.0.1:{}", srv.port),
        &[
            "--ext",
            "0x10:000302baad",
            "--ext",
            "server_name:000a0000076261ff7465737400",
        ],
        &pcap,
    );
    for (what, v) in [("probe", &probed), ("pcap", &captured)] {
        let offered = &v["offered"];
        assert_eq!(
            offered["alpn_hex"],
            serde_json::json!(["baad"]),
            "{what}: {v}"
        );
        assert_eq!(
            offered["alpn"],
            serde_json::json!(["\u{fffd}\u{fffd}"]),
            "{what}"
        );
        assert_eq!(offered["sni_hex"], "6261ff74657374", "{what}: {v}");
    }
}

#[test]
fn printable_fields_carry_no_hex() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-alpn", "h2"]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("plain.pcap");
    let (probed, captured) = probe_and_capture(
        &format!("localhost:{}", srv.port),
        &["--alpn", "h2,http/1.1", "--tls", "TLSv1.2"],
        &pcap,
    );
    for (what, v) in [("probe", &probed), ("pcap", &captured)] {
        assert_eq!(v["offered"]["sni"], "localhost", "{what}: {v}");
        assert_eq!(v["server_hello"]["alpn"], "h2", "{what}: {v}");
        for field in ["alpn_hex", "sni_hex"] {
            assert!(v["offered"].get(field).is_none(), "{what}: {field} in {v}");
        }
        assert!(v["server_hello"].get("alpn_hex").is_none(), "{what}: {v}");
    }
}

/// A TLS 1.2 ServerHello (suite 0xc02f) whose ALPN extension selects the bytes ba ad.
fn server_hello_with_alpn_baad() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0xc0, 0x2f, 0x00]); // suite, compression
    body.extend_from_slice(&[
        0x00, 0x09, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 0xba, 0xad,
    ]);
    let mut hs = vec![0x02, 0x00, 0x00, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x03, 0x00, hs.len() as u8];
    record.extend_from_slice(&hs);
    record
}

#[test]
fn a_server_selecting_non_utf8_alpn_is_shown_in_hex() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        write_quietly(&mut s, &server_hello_with_alpn_baad());
    });
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("alpn.pcap");
    let (probed, captured) = probe_and_capture(
        &peer.addr.to_string(),
        &["--tls", "TLSv1.2", "--alpn", "h2"],
        &pcap,
    );
    for (what, v) in [("probe", &probed), ("pcap", &captured)] {
        assert_eq!(v["server_hello"]["alpn_hex"], "baad", "{what}: {v}");
    }
}

#[test]
fn a_binary_banner_is_kept_in_hex() {
    const BANNER: &[u8] = b"\x00\xffBANNER\r\n";
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        write_quietly(&mut s, BANNER);
    });
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("banner.pcap");
    let (probed, captured) = probe_and_capture(&peer.addr.to_string(), &[], &pcap);
    for (what, v) in [("probe", &probed), ("pcap", &captured)] {
        assert_eq!(v["outcome"], "not_tls", "{what}: {v}");
        assert_eq!(v["not_tls_hex"], hex::encode(BANNER), "{what}: {v}");
        assert!(
            v["not_tls"].as_str().unwrap().contains("BANNER"),
            "{what}: {v}"
        );
    }
}
