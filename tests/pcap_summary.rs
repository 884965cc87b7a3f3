//! `pcap --summary` on the bundled captures: the counts by cause × server × SNI × client
//! version × outcome, checked against the per-connection JSON of the same captures (counted
//! here independently), against facts of the captures known from how they were recorded,
//! and in its three renderings (table, JSON, Prometheus text).

mod common;

use common::{capture, shakedown};
use std::collections::BTreeMap;

/// Every bundled capture, sorted.
fn captures() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut all: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .map(|p| p.display().to_string())
        .collect();
    all.sort();
    all
}

/// (cause, server, sni, version, outcome) → count.
type Counts = BTreeMap<(String, String, String, String, String), u64>;

/// The JSON lines of a run and its exit code.
fn json_lines(args: &[&str], files: &[String]) -> (i32, Vec<serde_json::Value>) {
    let out = shakedown().args(args).args(files).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), lines)
}

/// The counts as the per-connection lines of `pcap --json --all` give them.
fn counted_from_connections(files: &[String]) -> Counts {
    let (_, lines) = json_lines(&["pcap", "--json", "--all"], files);
    let mut counts = Counts::new();
    for c in lines.iter().filter(|l| l.get("connection").is_some()) {
        let cause = c["diagnosis"][0]["cause"].as_str().unwrap_or("none");
        // The client's highest offered version: supported_versions, else the hello's.
        let offered = &c["offered"];
        let version = offered["supported_versions"]
            .as_array()
            .and_then(|v| v.first())
            .or(offered.get("legacy_version"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let key = (
            cause.to_string(),
            c["server"].as_str().unwrap().to_string(),
            c["sni"].as_str().unwrap_or("").to_string(),
            version.to_string(),
            c["outcome"].as_str().unwrap().to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn counted_by_summary(rows: &serde_json::Value) -> Counts {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (
                (
                    s("cause"),
                    s("server"),
                    s("sni"),
                    s("version"),
                    s("outcome"),
                ),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn summary_counts_match_the_connection_lines_and_the_captures() {
    let files = captures();
    let (code, lines) = json_lines(&["pcap", "--json", "--summary"], &files);
    assert_eq!(code, 1, "failures in the captures");
    assert_eq!(lines.len(), 2, "the counts, then the summary: {lines:?}");
    let counts = &lines[0]["handshake_counts"];
    let rows = &counts["rows"];
    assert_eq!(counted_by_summary(rows), counted_from_connections(&files));
    // Most first.
    let ns: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .collect();
    assert!(ns.windows(2).all(|w| w[0] >= w[1]), "{ns:?}");
    assert_eq!(counts["handshakes"], ns.iter().sum::<u64>());
    assert_eq!(counts["handshakes"], lines[1]["summary"]["connections"]);
    // Facts of the recordings (captures/README.md): three TLS 1.2 handshakes to :47400 and
    // three TLS 1.3 ones to :47401, all established; one TLS 1.0-only client refused.
    let by_summary = counted_by_summary(rows);
    let key = |c: &str, s: &str, v: &str, o: &str| {
        (
            c.to_string(),
            format!("127.0.0.1:{s}"),
            "good.test".to_string(),
            v.to_string(),
            o.to_string(),
        )
    };
    assert_eq!(
        by_summary[&key("unknown_issuer", "47400", "TLSv1.2", "established")],
        3
    );
    assert_eq!(
        by_summary[&key("none", "47401", "TLSv1.3", "established")],
        3
    );
    assert_eq!(
        by_summary[&key("protocol_mismatch", "47403", "TLSv1.0", "alert")],
        1
    );
    // The failures `pcap --json` lists are the rows with a failed outcome.
    let (_, failed) = json_lines(&["pcap", "--json", "--failed"], &files);
    let failed_lines = failed.iter().filter(|l| l.get("connection").is_some());
    let failed_rows: u64 = by_summary
        .iter()
        .filter(|(k, _)| ["alert", "reset", "closed", "not_tls"].contains(&k.4.as_str()))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(failed_rows, failed_lines.count() as u64);
    assert_eq!(failed_rows, 20);
    // --failed narrows the table to them.
    let (_, only_failed) = json_lines(&["pcap", "--json", "--summary", "--failed"], &files);
    assert_eq!(only_failed[0]["handshake_counts"]["handshakes"], 20);
}

#[test]
fn summary_table_and_prometheus_text() {
    let files = [
        capture("tls12_success.pcap"),
        capture("cert_expired.pcap"),
        capture("sni_unrecognized_name.pcap"),
    ];
    let out = shakedown()
        .args(["pcap", "--summary"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let table: Vec<&str> = text.lines().take(5).collect();
    assert_eq!(
        table,
        [
            "handshakes by cause, server, SNI, client version and outcome: 5 handshakes",
            "  count  cause                server           sni         client   outcome",
            "      3  unknown_issuer       127.0.0.1:47400  good.test   TLSv1.2  established",
            "      1  certificate_expired  127.0.0.1:47407  good.test   TLSv1.2  alert",
            "      1  unrecognized_name    127.0.0.1:47416  other.test  TLSv1.3  alert",
        ],
        "{text}"
    );
    assert!(
        text.contains("summary: 5 TLS connections, 2 failed"),
        "{text}"
    );

    let out = shakedown()
        .args(["pcap", "--summary=prometheus"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("shakedown_handshakes_total{"))
        .collect();
    assert_eq!(
        series,
        [
            "shakedown_handshakes_total{server=\"127.0.0.1:47400\",sni=\"good.test\",version=\"TLSv1.2\",outcome=\"established\",cause=\"unknown_issuer\"} 3",
            "shakedown_handshakes_total{server=\"127.0.0.1:47407\",sni=\"good.test\",version=\"TLSv1.2\",outcome=\"alert\",cause=\"certificate_expired\"} 1",
            "shakedown_handshakes_total{server=\"127.0.0.1:47416\",sni=\"other.test\",version=\"TLSv1.3\",outcome=\"alert\",cause=\"unrecognized_name\"} 1",
        ],
        "{text}"
    );
    assert!(text.contains("# TYPE shakedown_handshakes_total counter\n"));
    // 47 + 11 + 10 packets in the three captures, 3 + 1 + 1 flows.
    assert!(
        text.contains("\nshakedown_capture_packets_total 68\n"),
        "{text}"
    );
    assert!(
        text.contains("\nshakedown_capture_flows_total 5\n"),
        "{text}"
    );

    // A bound of one label: the first server and SNI seen keep theirs, the rest are `other`.
    let out = shakedown()
        .args(["pcap", "--summary", "--json", "--max-labels", "1"])
        .args(&files)
        .output()
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let rows: Vec<(String, String, u64)> = first["handshake_counts"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["server"].as_str().unwrap().to_string(),
                r["sni"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("127.0.0.1:47400".into(), "good.test".into(), 3),
            ("other".into(), "good.test".into(), 1),
            ("other".into(), "other".into(), 1),
        ]
    );

    // Bad combinations are usage errors.
    for args in [
        &["pcap", "--summary=prometheus", "--json"][..],
        &["pcap", "--summary=csv"][..],
        &["pcap", "--summary", "--max-labels", "0"][..],
    ] {
        let out = shakedown().args(args).arg(&files[0]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
