//! `shakedown watch` on the loopback interface (feature `live`): a real `openssl s_server`
//! that only speaks TLS 1.3, a TLS 1.2-only `openssl s_client`, and the failure line that
//! watch prints for it. Needs root or CAP_NET_RAW; skipped with a message otherwise.
#![cfg(feature = "live")]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn watch_prints_a_protocol_mismatch_on_lo() {
    let pki = common::Pki::new();
    let leaf = pki.leaf("good.test");
    let server = common::s_server(&leaf, &["-tls1_3"]);
    let filter = format!("tcp port {}", server.port);
    let watch = common::shakedown()
        .args(["watch", "-i", "lo", "--filter", &filter, "--count", "1"])
        .args(["--duration", "20", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let libpcap open the interface before the client connects.
    std::thread::sleep(Duration::from_millis(1500));
    let client = Command::new("openssl")
        .args(["s_client", "-connect", &server.addr.to_string()])
        .args(["-tls1_2", "-servername", "good.test"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!client.success(), "the handshake must fail");
    let out = watch.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("permission") || stderr.contains("not permitted") {
        eprintln!("skipped: cannot capture on lo without root or CAP_NET_RAW: {stderr}");
        return;
    }
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a connection line")).unwrap();
    assert_eq!(first["outcome"], "alert", "{first}");
    assert_eq!(first["alert"]["from"], "server");
    assert_eq!(first["alert"]["description"], "protocol_version");
    assert_eq!(first["server"], server.addr.to_string());
    assert_eq!(first["sni"], "good.test");
    assert_eq!(first["capture"], "lo");
    let causes: Vec<&str> = first["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["cause"].as_str())
        .collect();
    assert_eq!(causes, ["protocol_mismatch"]);
}

/// `--duration` ends a capture that sees no packet at all, and SIGTERM ends one that has
/// no deadline; both print the summary line.
#[test]
fn watch_ends_on_duration_and_on_sigterm_with_a_summary() {
    // A filter nothing matches: the interface stays idle for watch.
    let idle = ["watch", "-i", "lo", "--filter", "tcp port 1", "--json"];
    let timed = common::shakedown()
        .args(idle)
        .args(["--duration", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let untimed = common::shakedown()
        .args(idle)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Should either of them not stop, it is killed here and the test fails on its exit.
    let pids = [timed.id().to_string(), untimed.id().to_string()];
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
    });
    std::thread::sleep(Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-TERM", &untimed.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for (what, child) in [("--duration 1", timed), ("SIGTERM", untimed)] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("permission") || stderr.contains("not permitted") {
            eprintln!("skipped: cannot capture on lo without root or CAP_NET_RAW: {stderr}");
            return;
        }
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap())
            .unwrap_or_else(|e| panic!("{what}: {e}: {stdout}"));
        assert_eq!(last["summary"]["connections"], 0, "{what}: {last}");
    }
}
