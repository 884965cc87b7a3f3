//! Post-quantum key exchange against a real server: probe finishes TLS 1.3 handshakes
//! over X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, MLKEM768 and MLKEM1024
//! (server's flight decrypted, its Finished verified), also in the second hello after a
//! HelloRetryRequest. The server is pyOpenSSL on the OpenSSL that the `cryptography`
//! wheels bundle (Debian's OpenSSL 3.0 has no ML-KEM): the test makes a venv for it under
//! target/ once (`pip install pyOpenSSL cryptography`, needs PyPI) and starts
//! tests/pq_server.py on a loopback port, stopped by its handle. Also: scan of a server that
//! accepts only X25519MLKEM768 sees TLS 1.3 and the group, and scan's post-quantum section
//! (accepted hybrid and pure groups, the server's preference, what a PQ client's hellos
//! get: both key shares, the classical share only) against servers preferring the hybrid,
//! accepting only PQ groups, and preferring x25519.

mod common;

use common::{Pki, Server, json_output, probe_with, shakedown, spawn_listening, venv_python};
use shakedown::commands::probe::ProbeResult;
use shakedown::core::session::Verdict;
use shakedown::core::wire::build::HelloSpec;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

const X25519MLKEM768: u16 = 0x11ec;
const SECP256R1MLKEM768: u16 = 0x11eb;
const SECP384R1MLKEM1024: u16 = 0x11ed;
const MLKEM768: u16 = 0x0201;
const MLKEM1024: u16 = 0x0202;

/// The venv's python (made on first use), checked once per run to have the wheels' OpenSSL
/// with ML-KEM.
fn python() -> PathBuf {
    static CHECKED: Once = Once::new();
    let python = venv_python("pq-venv", &["pyOpenSSL", "cryptography"]);
    CHECKED.call_once(|| {
        let version = Command::new(&python)
            .args([
                "-c",
                "from cryptography.hazmat.backends.openssl import backend as b; \
                 print(b.openssl_version_text())",
            ])
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout).to_string();
        assert!(
            !version.starts_with("OpenSSL 1.") && !version.starts_with("OpenSSL 3.0"),
            "the cryptography wheel's OpenSSL has no ML-KEM: {version}"
        );
    });
    python
}

/// A pq_server.py speaking TLS 1.3 with only `groups` (an OpenSSL list, in its preference).
fn pq_server(pki: &Pki, groups: &str) -> Server {
    pq_server_with(pki, groups, false)
}

/// [`pq_server`]; with `server_order`, OpenSSL picks by its own list's order (as it also
/// does across `/`-separated tuples without it).
fn pq_server_with(pki: &Pki, groups: &str, server_order: bool) -> Server {
    let leaf = pki.leaf("localhost");
    let chain = pki.path(&format!("chain-{}.pem", groups.replace([':', '/'], "_")));
    let mut pem = std::fs::read_to_string(&leaf.cert).unwrap();
    if let Some(c) = &leaf.chain {
        pem.push_str(&std::fs::read_to_string(c).unwrap());
    }
    std::fs::write(&chain, pem).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pq_server.py");
    let python = python();
    spawn_listening(
        python.to_str().unwrap(),
        &[
            script,
            "{port}",
            chain.to_str().unwrap(),
            leaf.key.to_str().unwrap(),
            groups,
            if server_order { "server-order" } else { "" },
        ],
    )
}

/// A hello offering `groups`, with real key shares for `shares`.
fn spec(groups: &[u16], shares: &[u16]) -> HelloSpec {
    HelloSpec {
        cipher_suites: Some(vec![0x1301, 0x1302, 0x1303]),
        groups: Some(groups.to_vec().into()),
        key_shares: Some(shares.to_vec().into()),
        ..HelloSpec::default()
    }
}

fn verdict(r: &ProbeResult) -> &Verdict {
    r.verdict.as_ref().expect("a connection")
}

/// The server chose `group`, and its flight was decrypted and its Finished verified.
fn assert_finished_over(r: &ProbeResult, group: u16) {
    let v = verdict(r);
    assert_eq!(v.group, Some(group), "{:#?}", v.events);
    let d = v.decryption.as_ref().expect("decryption");
    assert_eq!(d.problem, None, "{:#?}", v.events);
    assert_eq!(d.server_finished_verified, Some(true), "{:#?}", v.events);
    assert!(v.history.ends_with('f'), "{}", v.history);
    assert!(r.certificates[0].subject.contains("localhost"));
}

#[test]
fn x25519mlkem768_handshake_is_finished_and_verified() {
    let pki = Pki::new();
    let srv = pq_server(&pki, "X25519MLKEM768:X25519");
    let r = probe_with(
        &pki,
        srv.port,
        spec(&[X25519MLKEM768, 0x001d], &[X25519MLKEM768, 0x001d]),
    );
    assert_finished_over(&r, X25519MLKEM768);
    assert!(r.retry.is_none());
    // Our hello carried the 1216-byte hybrid share and the x25519 one: over 1300 bytes.
    let v = verdict(&r);
    assert!(v.history.starts_with('C'), "{}", v.history);
}

#[test]
fn secp_hybrids_and_pure_mlkem_are_finished_and_verified() {
    let pki = Pki::new();
    for (group, name) in [
        (SECP256R1MLKEM768, "SecP256r1MLKEM768"),
        (SECP384R1MLKEM1024, "SecP384r1MLKEM1024"),
        (MLKEM768, "MLKEM768"),
        (MLKEM1024, "MLKEM1024"),
    ] {
        let srv = pq_server(&pki, name);
        let r = probe_with(&pki, srv.port, spec(&[group], &[group]));
        assert_finished_over(&r, group);
        assert!(r.retry.is_none(), "{name}");
    }
}

#[test]
fn hello_retry_request_for_the_hybrid_is_answered_with_a_real_share() {
    let pki = Pki::new();
    let srv = pq_server(&pki, "X25519MLKEM768");
    // We offer the hybrid but send an x25519 share only: the server asks for the hybrid.
    let r = probe_with(&pki, srv.port, spec(&[0x001d, X25519MLKEM768], &[0x001d]));
    let retry = r.retry.as_ref().expect("a HelloRetryRequest");
    assert_eq!(retry.group, Some(X25519MLKEM768));
    assert_eq!(retry.problem, None);
    let shares = retry.second_hello.as_ref().unwrap().key_shares();
    assert_eq!(shares.len(), 1);
    assert_eq!((shares[0].0, shares[0].1.len()), (X25519MLKEM768, 1216));
    assert!(
        verdict(&r).history.starts_with("Cj"),
        "{}",
        verdict(&r).history
    );
    assert_finished_over(&r, X25519MLKEM768);
}

#[test]
fn cli_probe_with_the_hybrid_share_reports_the_group_and_verified_finished() {
    let pki = Pki::new();
    let srv = pq_server(&pki, "X25519MLKEM768");
    let (code, v) = json_output(
        shakedown()
            .args(["probe", &format!("127.0.0.1:{}", srv.port)])
            .args([
                "--groups",
                "X25519MLKEM768",
                "--key-shares",
                "X25519MLKEM768",
            ])
            .arg("--json"),
    );
    let text = v.to_string();
    assert!(text.contains("X25519MLKEM768"), "{text}");
    assert!(text.contains("\"server_finished_verified\":true"), "{text}");
    assert_eq!(code, 0, "{text}");
}

#[test]
fn scan_of_a_server_accepting_only_the_hybrid_sees_tls13_and_the_group() {
    let pki = Pki::new();
    let srv = pq_server(&pki, "X25519MLKEM768");
    let out = shakedown()
        .args(["scan", &format!("127.0.0.1:{}", srv.port), "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    // Before issue 20 scan's TLS 1.3 hellos offered no PQ group: "not offered".
    assert_eq!(v["versions"]["TLSv1.3"]["supported"], true, "{text}");
    assert_eq!(
        v["groups"]["TLSv1.3"],
        serde_json::json!(["X25519MLKEM768"]),
        "{text}"
    );
}

/// `scan --json` of a local server: its one JSON line.
fn scan_json(port: u16) -> serde_json::Value {
    let out = shakedown()
        .args(["scan", &format!("127.0.0.1:{port}"), "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// The scan's post-quantum section, with its handshakes checked against the cost table.
fn post_quantum(v: &serde_json::Value) -> &serde_json::Value {
    let pq = &v["post_quantum"];
    assert!(pq.is_object(), "{v}");
    assert_eq!(pq["handshakes"], v["cost"]["post_quantum"], "{v}");
    pq
}

/// One PQ-client hello's offer and the server's answer: (offered, key shares, selected,
/// HelloRetryRequest).
fn share_test(t: &serde_json::Value) -> (serde_json::Value, serde_json::Value, &str, bool) {
    (
        t["offered"].clone(),
        t["key_shares"].clone(),
        t["selected"].as_str().unwrap_or("-"),
        t["hello_retry_request"].as_bool().unwrap(),
    )
}

#[test]
fn scan_of_a_server_preferring_the_hybrid_reports_it_first_and_the_retry_it_costs() {
    use serde_json::json;
    let pki = Pki::new();
    // OpenSSL's own default shape: the hybrid in a tuple before x25519, so a client that
    // sends only an x25519 share is asked for the hybrid (one more round trip).
    let srv = pq_server(&pki, "X25519MLKEM768/X25519");
    let v = scan_json(srv.port);
    assert_eq!(
        v["groups"]["TLSv1.3"],
        json!(["X25519MLKEM768", "x25519"]),
        "{v}"
    );
    // Every TLS 1.3 hello of the version test got a HelloRetryRequest (no hybrid share):
    // the signature scheme hellos follow it with a hybrid share, and show the certificate.
    assert_eq!(v["sigalgs"], json!(["ecdsa_secp256r1_sha256"]), "{v}");
    assert_eq!(v["certificates"][0]["subject"], "CN=localhost", "{v}");
    let pq = post_quantum(&v);
    assert_eq!(pq["hybrid"], json!(["X25519MLKEM768"]), "{pq}");
    assert_eq!(pq["pure"], json!([]), "{pq}");
    assert_eq!(pq["preference"], "pq_first", "{pq}");
    assert_eq!(pq["selects_pq"], true, "{pq}");
    assert_eq!(pq["hrr_cost"], true, "{pq}");
    assert_eq!(pq["handshakes"], 2, "{pq}");
    let both = &pq["both_shares"];
    assert_eq!(
        share_test(both),
        (
            json!(["X25519MLKEM768", "x25519"]),
            json!(["X25519MLKEM768", "x25519"]),
            "X25519MLKEM768",
            false
        )
    );
    // The large hello: over one TCP segment of an Ethernet path (MSS 1460), answered.
    assert!(both["hello_bytes"].as_u64().unwrap() > 1460, "{both}");
    assert_eq!(
        share_test(&pq["classical_share"]),
        (
            json!(["X25519MLKEM768", "x25519"]),
            json!(["x25519"]),
            "X25519MLKEM768",
            true
        )
    );

    // OpenSSL 4's own default groups (PQ hybrids in the first tuple): the server's order
    // between tuples, the client's within one, so the group order check is
    // inconclusive; a PQ group still came first from an offer listing the classical
    // groups first.
    let srv = pq_server(&pki, "DEFAULT");
    let v = scan_json(srv.port);
    assert_eq!(v["groups_server_order"]["TLSv1.3"], json!(null), "{v}");
    let pq = post_quantum(&v);
    assert!(
        pq["hybrid"]
            .as_array()
            .unwrap()
            .contains(&json!("X25519MLKEM768")),
        "{pq}"
    );
    assert_eq!(pq["preference"], "pq_first", "{pq}");
    assert_eq!(
        (&pq["selects_pq"], &pq["hrr_cost"]),
        (&json!(true), &json!(true))
    );

    // The same preference in one plain list: the server takes the x25519 share it was
    // given rather than retry for the hybrid, so no round trip is lost, and no PQ either.
    let srv = pq_server_with(&pki, "X25519MLKEM768:X25519", true);
    let v = scan_json(srv.port);
    let pq = post_quantum(&v);
    assert_eq!(pq["preference"], "pq_first", "{pq}");
    assert_eq!(pq["selects_pq"], true, "{pq}");
    assert_eq!(pq["hrr_cost"], false, "{pq}");
    assert_eq!(pq["classical_share"]["selected"], "x25519", "{pq}");
}

#[test]
fn scan_of_a_pq_only_server_lists_hybrid_and_pure_groups_and_the_retry() {
    use serde_json::json;
    let pki = Pki::new();
    let srv = pq_server(&pki, "X25519MLKEM768");
    let v = scan_json(srv.port);
    let pq = post_quantum(&v);
    assert_eq!(pq["hybrid"], json!(["X25519MLKEM768"]), "{pq}");
    assert_eq!(pq["preference"], "pq_only", "{pq}");
    assert_eq!(
        (&pq["selects_pq"], &pq["hrr_cost"]),
        (&json!(true), &json!(true))
    );

    // A SecP hybrid and pure ML-KEM, no classical group: the checks use the server's
    // first PQ group and x25519 (what a classical client would send).
    let srv = pq_server_with(&pki, "SecP256r1MLKEM768:MLKEM768", true);
    let v = scan_json(srv.port);
    let pq = post_quantum(&v);
    assert_eq!(pq["hybrid"], json!(["SecP256r1MLKEM768"]), "{pq}");
    assert_eq!(pq["pure"], json!(["MLKEM768"]), "{pq}");
    assert_eq!(pq["preference"], "pq_only", "{pq}");
    assert_eq!(
        share_test(&pq["both_shares"]).2,
        "SecP256r1MLKEM768",
        "{pq}"
    );
    assert_eq!(
        share_test(&pq["classical_share"]),
        (
            json!(["SecP256r1MLKEM768", "x25519"]),
            json!(["x25519"]),
            "SecP256r1MLKEM768",
            true
        )
    );
}

#[test]
fn scan_of_a_server_preferring_x25519_reports_classical_first_and_no_pq_pick() {
    use serde_json::json;
    let pki = Pki::new();
    let srv = pq_server_with(&pki, "X25519:X25519MLKEM768", true);
    let v = scan_json(srv.port);
    let pq = post_quantum(&v);
    assert_eq!(pq["hybrid"], json!(["X25519MLKEM768"]), "{pq}");
    assert_eq!(pq["preference"], "classical_first", "{pq}");
    assert_eq!(pq["selects_pq"], false, "{pq}");
    assert_eq!(pq["hrr_cost"], false, "{pq}");
    assert_eq!(share_test(&pq["both_shares"]).2, "x25519");
    assert_eq!(share_test(&pq["classical_share"]).2, "x25519");

    // Classical groups only: no PQ group, and no hello spent on the checks.
    let srv = pq_server(&pki, "X25519:P-256");
    let v = scan_json(srv.port);
    let pq = post_quantum(&v);
    assert_eq!(pq["preference"], "none", "{pq}");
    assert_eq!(pq["hybrid"], json!([]), "{pq}");
    assert_eq!(pq["handshakes"], 0, "{pq}");
    assert!(
        pq["both_shares"].is_null() && pq["hrr_cost"].is_null(),
        "{pq}"
    );
}

/// `simulate --json` of the built-in pyOpenSSL-on-OpenSSL-4 profile (a PQ client recorded by
/// profiles/record.sh) against a local server: its row.
fn simulate_pq_client(port: u16) -> serde_json::Value {
    let out = shakedown()
        .args(["simulate", &format!("127.0.0.1:{port}")])
        .args(["--client", "pyopenssl-openssl-4", "--no-testssl", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    rows.into_iter().next().unwrap()
}

/// The group the real client behind that profile (pyOpenSSL with the library's defaults, as
/// profiles/record.sh ran it) negotiates with a local server.
fn real_pyopenssl_group(port: u16) -> String {
    let client = "import socket, sys\n\
        from OpenSSL import SSL\n\
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)\n\
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
        c = SSL.Connection(ctx, s)\n\
        c.set_tlsext_host_name(b'localhost')\n\
        c.set_connect_state()\n\
        c.do_handshake()\n\
        print(c.get_group_name())\n";
    let out = Command::new(python())
        .args(["-c", client, &port.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn simulate_says_whether_the_recorded_pq_client_would_negotiate_a_pq_group() {
    use serde_json::json;
    let pki = Pki::new();
    // The profile's own hello: OpenSSL 4's default groups, two key shares.
    let offered = json!(["X25519MLKEM768", "SecP256r1MLKEM768", "curveSM2MLKEM768"]);

    let srv = pq_server(&pki, "X25519MLKEM768/X25519");
    let row = simulate_pq_client(srv.port);
    assert_eq!(row["pq_offered"], offered, "{row}");
    assert_eq!(row["connects"], true, "{row}");
    assert_eq!(row["negotiates_pq"], true, "{row}");
    assert_eq!(row["pq_group"], "X25519MLKEM768", "{row}");
    assert_eq!(real_pyopenssl_group(srv.port), "X25519MLKEM768");

    // A PQ group the client offers without a share: it gets there after a
    // HelloRetryRequest.
    let srv = pq_server(&pki, "SecP256r1MLKEM768");
    let row = simulate_pq_client(srv.port);
    assert_eq!(row["negotiates_pq"], true, "{row}");
    assert_eq!(row["pq_group"], "SecP256r1MLKEM768", "{row}");
    assert_eq!(row["server_hello"]["hello_retry_request"], true, "{row}");
    assert_eq!(real_pyopenssl_group(srv.port), "SecP256r1MLKEM768");

    // x25519 first in the server's order: the client connects without PQ.
    let srv = pq_server_with(&pki, "X25519:X25519MLKEM768", true);
    let row = simulate_pq_client(srv.port);
    assert_eq!(row["connects"], true, "{row}");
    assert_eq!(row["negotiates_pq"], false, "{row}");
    assert!(row["pq_group"].is_null(), "{row}");
    assert_eq!(real_pyopenssl_group(srv.port), "x25519");

    // Debian's OpenSSL 3.0 s_server has no ML-KEM at all.
    let srv = common::s_server(&pki.leaf("localhost"), &[]);
    let row = simulate_pq_client(srv.port);
    assert_eq!(row["pq_offered"], offered, "{row}");
    assert_eq!(row["connects"], true, "{row}");
    assert_eq!(row["negotiates_pq"], false, "{row}");
    assert_eq!(row["server_hello"]["group"], "x25519", "{row}");
    assert_eq!(real_pyopenssl_group(srv.port), "x25519");

    // The text table marks it, and counts the PQ clients.
    let out = shakedown()
        .args(["simulate", &format!("127.0.0.1:{}", srv.port)])
        .args(["--client", "pyopenssl-openssl-4", "--no-testssl"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[PQ offered, not negotiated]"), "{text}");
    assert!(
        text.contains("0 of the 1 clients offering a post-quantum group would negotiate one"),
        "{text}"
    );
}
