//! Every address of a name (issue 19 item 1): a name that `--resolve` maps to three
//! loopback addresses, each served by its own `openssl s_server` on the same port, one of
//! them with an expired certificate. probe and scan test each address, say which one is
//! different, and `-4`, `-6`, `--one-address` narrow the addresses.

mod common;

use common::*;
use serde_json::Value;
use std::net::SocketAddr;

const NAME: &str = "web.test";

/// Three backends of one name on 127.0.0.2, .3 and .4, one port; .3's certificate expired.
struct Backends {
    pki: Pki,
    port: u16,
    _servers: Vec<Server>,
}

fn backends() -> Backends {
    let pki = Pki::new();
    let good = pki.leaf(NAME);
    let expired = pki.issue("expired", NAME, &pki.intermediate(), -1, false);
    let chain = pki.intermediate().cert;
    let (port, servers) = s_servers_on_one_port(
        &[
            ("127.0.0.2", &good),
            ("127.0.0.3", &expired),
            ("127.0.0.4", &good),
        ],
        &chain,
    );
    Backends {
        pki,
        port,
        _servers: servers,
    }
}

impl Backends {
    fn resolve(&self, extra: &str) -> String {
        format!("{NAME}:{}:{extra}127.0.0.2,127.0.0.3,127.0.0.4", self.port)
    }

    fn run(&self, cmd: &str, extra: &[&str], resolve: &str) -> (i32, Vec<Value>, String) {
        let root = self.pki.root().cert;
        let target = format!("{NAME}:{}", self.port);
        let out = shakedown()
            .args(["--json", cmd, &target, "--resolve", resolve, "--ca"])
            .arg(&root)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        for v in &lines {
            assert_schema(v);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code().unwrap_or(-1), lines, stderr)
    }
}

fn summary(lines: &[Value]) -> Option<&Value> {
    lines.iter().find(|v| v["kind"] == "address_summary")
}

fn results(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|v| v["kind"] != "address_summary")
        .collect()
}

fn ip_of(v: &Value) -> String {
    let a: SocketAddr = v["address"].as_str().unwrap().parse().unwrap();
    a.ip().to_string()
}

#[test]
fn probe_tests_every_address_and_names_the_expired_backend() {
    let b = backends();
    let (code, lines, stderr) = b.run("probe", &[], &b.resolve(""));
    let per = results(&lines);
    assert_eq!(per.len(), 3, "one result per address: {lines:?} {stderr}");
    let ips: Vec<String> = per.iter().map(|v| ip_of(v)).collect();
    assert_eq!(ips, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    for v in &per {
        assert_eq!(v["outcome"], "server_hello", "{v}");
        let expired = causes(v).contains(&"certificate_expired".to_string());
        assert_eq!(expired, ip_of(v) == "127.0.0.3", "{v}");
    }
    let s = summary(&lines).expect("a summary line");
    assert_eq!(s["addresses"].as_array().unwrap().len(), 3);
    let diffs = s["differences"].as_array().unwrap();
    let expired = diffs
        .iter()
        .find(|d| d["field"] == "cause" && d["value"] == "certificate_expired")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(expired["addresses"], serde_json::json!(["127.0.0.3"]));
    assert_eq!(
        expired["text"],
        "1 of 3 addresses have cause certificate_expired: 127.0.0.3"
    );
    let leaf = diffs.iter().find(|d| d["field"] == "leaf_sha256").unwrap();
    assert_eq!(leaf["addresses"], serde_json::json!(["127.0.0.3"]));
    // Every handshake went on: exit 0 (the expired certificate is a diagnosis).
    assert_eq!(code, 0, "{stderr}");

    // Text: one block per address, then the summary.
    let root = b.pki.root().cert;
    let out = shakedown()
        .args([
            "probe",
            &format!("{NAME}:{}", b.port),
            "--resolve",
            &b.resolve(""),
            "--ca",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches(&format!("probe {NAME}:{}", b.port)).count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("1 of 3 addresses have cause certificate_expired: 127.0.0.3"),
        "{text}"
    );
}

#[test]
fn an_address_that_fails_makes_the_exit_code_1() {
    let b = backends();
    // 127.0.0.5 has no server: that address fails, the others answer.
    let resolve = format!("{NAME}:{}:127.0.0.2,127.0.0.5", b.port);
    let (code, lines, _) = b.run("probe", &[], &resolve);
    let per = results(&lines);
    assert_eq!(per.len(), 2);
    assert_eq!(per[1]["outcome"], "connect_failed");
    assert_eq!(ip_of(per[1]), "127.0.0.5");
    let s = summary(&lines).unwrap();
    assert_eq!(s["failed"], serde_json::json!(["127.0.0.5"]));
    assert_eq!(code, 1);
}

#[test]
fn ipv4_and_ipv6_filters_and_one_address() {
    let b = backends();
    let mixed = b.resolve("[::1],");
    let (code, lines, stderr) = b.run("probe", &["-4"], &mixed);
    let ips: Vec<String> = results(&lines).iter().map(|v| ip_of(v)).collect();
    assert_eq!(ips, ["127.0.0.2", "127.0.0.3", "127.0.0.4"], "{stderr}");
    assert_eq!(code, 0);

    let (_, lines, _) = b.run("probe", &["-6"], &mixed);
    let per = results(&lines);
    assert_eq!(per.len(), 1, "{lines:?}");
    assert_eq!(ip_of(per[0]), "::1");
    assert!(summary(&lines).is_none(), "one address, no summary");

    let (code, lines, _) = b.run("probe", &["--one-address"], &b.resolve(""));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(ip_of(&lines[0]), "127.0.0.2");
    assert_eq!(code, 0);

    // Only IPv4 addresses and -6: nothing to test, a usage error.
    let (code, lines, stderr) = b.run("probe", &["-6"], &b.resolve(""));
    assert!(lines.is_empty());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("IPv6"), "{stderr}");
}

#[test]
fn scan_gives_one_result_per_address_and_a_summary() {
    let b = backends();
    let (code, lines, stderr) = b.run(
        "scan",
        &["--suites-only", "--no-progress"],
        &b.resolve("[::1],"),
    );
    let per = results(&lines);
    let addrs: Vec<&str> = per.iter().map(|v| v["address"].as_str().unwrap()).collect();
    assert_eq!(
        addrs,
        ["::1", "127.0.0.2", "127.0.0.3", "127.0.0.4"],
        "{stderr}"
    );
    for v in &per[1..] {
        assert_eq!(v["target"], format!("{NAME}:{}", b.port));
        let expired = causes(v).contains(&"certificate_expired".to_string());
        assert_eq!(expired, v["address"] == "127.0.0.3", "{v}");
    }
    let s = summary(&lines).expect("a summary line");
    assert_eq!(
        lines.last(),
        Some(s),
        "the summary follows the target's results"
    );
    assert_eq!(
        s["failed"],
        serde_json::json!(["::1"]),
        "nothing listens on ::1"
    );
    let texts: Vec<&str> = s["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"1 of 4 addresses have cause certificate_expired: 127.0.0.3"),
        "{texts:?}"
    );
    assert_eq!(code, 1, "an address failed");

    // -4 leaves the three IPv4 backends, which all answer: exit 0.
    let (code, lines, _) = b.run(
        "scan",
        &["--suites-only", "--no-progress", "-4"],
        &b.resolve("[::1],"),
    );
    assert_eq!(results(&lines).len(), 3);
    assert_eq!(code, 0);
    // --one-address: the first, no summary.
    let (_, lines, _) = b.run(
        "scan",
        &["--suites-only", "--no-progress", "--one-address"],
        &b.resolve(""),
    );
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["address"], "127.0.0.2");
}

#[test]
fn simulate_and_diff_test_the_first_address_after_the_filters() {
    let b = backends();
    // 127.0.0.3 first: the expired backend is the one simulated.
    let resolve = format!("{NAME}:{}:127.0.0.3,127.0.0.2", b.port);
    let (_, lines, stderr) = b.run(
        "simulate",
        &["--no-testssl", "--client", "openssl-3.0"],
        &resolve,
    );
    let rows: Vec<&Value> = lines.iter().filter(|v| v["address"].is_string()).collect();
    assert!(!rows.is_empty(), "{lines:?} {stderr}");
    for row in rows {
        assert_eq!(ip_of(row), "127.0.0.3", "{row}");
    }

    // diff: both sides are the same name, so both are its first address after -4.
    let target = format!("{NAME}:{}", b.port);
    let mixed = b.resolve("[::1],");
    let out = shakedown()
        .args([
            "--json",
            "diff",
            &target,
            &target,
            "--resolve",
            &mixed,
            "-4",
            "--ca",
        ])
        .arg(b.pki.root().cert)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("127.0.0.2") && !stdout.contains("::1"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
