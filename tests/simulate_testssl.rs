//! testssl.sh's client list (`etc/client-simulation.txt`, Debian package `testssl.sh`):
//! it parses, its hellos decode, and its historical clients get the answers their versions
//! dictate from servers of known configuration. Skipped, with a message, when the file is
//! not installed.

mod common;

use common::{rsa_cert, s_server, shakedown};
use serde_json::Value;
use shakedown::commands::simulate::TESTSSL_PATHS;
use shakedown::commands::simulate::profiles::{SniRule, decode_hello, parse_testssl};
use std::path::PathBuf;

fn testssl_file() -> Option<PathBuf> {
    let found = TESTSSL_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "SKIPPED: testssl.sh's client-simulation.txt not found in {TESTSSL_PATHS:?} \
             (apt-get install testssl.sh)"
        );
    }
    found
}

#[test]
fn debian_file_parses_and_hellos_decode() {
    let Some(path) = testssl_file() else { return };
    let ps = parse_testssl(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(ps.len() >= 150, "{} profiles", ps.len());
    for name in [
        "Android 2.3.7",
        "IE 11 Win 10",
        "Java 8u161",
        "Safari 9 iOS 9",
        "Chrome 101 (Win 10)",
    ] {
        assert!(ps.iter().any(|p| p.name == name), "{name} missing");
    }
    let mut sslv2 = 0;
    for p in &ps {
        match decode_hello(&p.hello) {
            Some(h) => assert!(h.cipher_suites.len() > 1, "{}", p.name),
            None => {
                // SSLv2-format hellos (IE 6, Java 6): record header with the high bit set.
                assert!(p.hello[0] & 0x80 != 0, "{} does not decode", p.name);
                sslv2 += 1;
            }
        }
        assert!(p.lowest.is_some() && p.highest.is_some(), "{}", p.name);
    }
    assert!((1..10).contains(&sslv2), "{sslv2}");
    let android = ps.iter().find(|p| p.name == "Android 2.3.7").unwrap();
    assert_eq!(
        (android.lowest, android.highest),
        (Some(0x0300), Some(0x0301))
    );
    assert_eq!(android.sni, SniRule::Remove);
    let java = ps.iter().find(|p| p.name == "Java 8u161").unwrap();
    assert_eq!(java.sni, SniRule::Replace);
}

fn simulate(port: u16, path: &std::path::Path, clients: &[&str]) -> Vec<Value> {
    let mut cmd = shakedown();
    cmd.args([
        "simulate",
        &format!("localhost:{port}"),
        "--json",
        "--connect",
        "127.0.0.1",
    ])
    .arg("--testssl-file")
    .arg(path);
    for c in clients {
        cmd.args(["--client", c]);
    }
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .inspect(common::assert_schema)
        .collect()
}

fn get<'a>(sim: &'a [Value], name: &str) -> &'a Value {
    sim.iter()
        .find(|v| v["client"] == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn historical_clients_against_modern_and_legacy_servers() {
    let Some(path) = testssl_file() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let clients = [
        "Android 2.3.7",
        "Android 4.0.4",
        "Java 8u161",
        "Chrome 101 (Win 10)",
    ];

    let modern = s_server(&cert, &["-tls1_2"]);
    let sim = simulate(modern.port, &path, &clients);
    assert_eq!(sim.len(), 4, "{sim:?}");
    let old = get(&sim, "Android 2.3.7");
    assert_eq!(old["connects"], false);
    assert_eq!(old["alert"]["description"], "protocol_version", "{old}");
    assert_eq!(
        old["sni"],
        Value::Null,
        "testssl says Android 2.3.7 sends no SNI"
    );
    // Android 4.0.4's recorded hello names www.ssllabs.com; the target's name replaces it.
    assert_eq!(get(&sim, "Android 4.0.4")["sni"], "localhost");
    for name in ["Java 8u161", "Chrome 101 (Win 10)"] {
        let v = get(&sim, name);
        assert_eq!(v["connects"], true, "{v}");
        assert_eq!(v["server_hello"]["version"], "TLSv1.2");
        assert_eq!(v["sni"], "localhost");
    }

    let legacy = s_server(&cert, &["-tls1", "-cipher", "ALL:@SECLEVEL=0"]);
    let sim = simulate(legacy.port, &path, &clients);
    for name in ["Android 2.3.7", "Android 4.0.4"] {
        let v = get(&sim, name);
        assert_eq!(v["connects"], true, "{v}");
        assert_eq!(v["server_hello"]["version"], "TLSv1.0");
    }
    // Chrome 101 speaks TLS 1.2 and 1.3 only (testssl's lowest_protocol).
    let chrome = get(&sim, "Chrome 101 (Win 10)");
    assert_eq!(chrome["connects"], false, "{chrome}");
}

/// testssl's key limits applied after the server's answer: Java 6 and 7 cannot use a DH
/// prime above 1024 bits (OpenSSL's automatic DH for a 2048-bit RSA key is 2048 bits),
/// Java 8 takes up to 2048; Apple's ATS refuses an RSA key under 2048 bits.
#[test]
fn clients_refuse_keys_outside_their_limits() {
    let Some(path) = testssl_file() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let dhe = s_server(
        &cert,
        &[
            "-cipher",
            "DHE-RSA-AES128-SHA:@SECLEVEL=0",
            "-min_protocol",
            "TLSv1",
            "-max_protocol",
            "TLSv1.2",
        ],
    );
    let sim = simulate(dhe.port, &path, &["Java 7u25", "Java 8u161"]);
    let java7 = get(&sim, "Java 7u25");
    assert_eq!(java7["connects"], false, "{java7}");
    assert_eq!(
        java7["client_refuses"],
        "the server's DH prime of 2048 bits, above the client's maximum of 1024"
    );
    assert_eq!(
        java7["server_hello"]["cipher"],
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
    );
    let java8 = get(&sim, "Java 8u161");
    assert_eq!(java8["connects"], true, "{java8}");

    let small = tempfile::tempdir().unwrap();
    let weak = common::rsa_cert_bits(small.path(), "localhost", 1024);
    let srv = s_server(&weak, &["-cipher", "ALL:@SECLEVEL=0"]);
    let sim = simulate(srv.port, &path, &["Apple ATS 9 iOS 9", "Java 8u161"]);
    let ats = get(&sim, "Apple ATS 9 iOS 9");
    assert_eq!(ats["connects"], false, "{ats}");
    assert_eq!(
        ats["client_refuses"],
        "the server's RSA key of 1024 bits, below the client's minimum of 2048"
    );
    assert_eq!(get(&sim, "Java 8u161")["connects"], true);
}
