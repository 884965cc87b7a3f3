//! Memory bounded by options, never by luck: a capture of many connections that each send a
//! ClientHello and never complete, all open at once. With a small `--max-flows` (or the
//! default memcap) the flow table evicts the longest idle flows, every connection is still
//! reported (`incomplete`, `incomplete_reason: evicted`), the summary counts the evictions,
//! and the process's peak memory stays under a bound the unbounded table (~5 KB a
//! connection) would exceed.

mod common;

use shakedown::io::capture::writer::{self, Close, Connection, LinkType};
use shakedown::io::capture::{Direction, Micros};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;

/// curl's ClientHello record (tests/golden), sent by every connection.
fn client_hello() -> Vec<u8> {
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/curl-7.88.hex"
    ))
    .unwrap();
    let hex: String = golden.lines().filter(|l| !l.starts_with('#')).collect();
    hex::decode(hex.trim()).unwrap()
}

/// `n` connections, one every 10 µs of capture time: a TCP handshake and a ClientHello, then
/// nothing (well within the idle timeout, so only the table's limits end them early).
fn never_completing(path: &Path, n: u32) {
    never_completing_every(path, n, 10);
}

/// [`never_completing`], one connection every `step` µs.
fn never_completing_every(path: &Path, n: u32, step: Micros) {
    let hello = client_hello();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writer::write_header(&mut out, LinkType::Raw).unwrap();
    let mut at: Micros = 1_800_000_000_000_000;
    for i in 0..n {
        let conn = Connection {
            client: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(10, 64, (i >> 16) as u8, (i >> 8) as u8)),
                1024 + (i as u8 as u16) * 200,
            ),
            server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)), 443),
            start: at,
            client_isn: i.wrapping_mul(2_246_822_519),
            server_isn: i.wrapping_mul(3_266_489_917),
            chunks: vec![(Direction::ClientToServer, at + 2, hello.clone())],
            close: Close::Open,
            end: at + 3,
        };
        writer::write_connection(&mut out, LinkType::Raw, &conn).unwrap();
        at += step;
    }
    std::io::Write::flush(&mut out).unwrap();
}

/// Runs shakedown with `args`; its standard output, exit code and peak RSS in KiB
/// (ru_maxrss of this child alone, through wait4).
// The child is reaped by wait4 below, not by std's wait (which would not give its rusage).
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (String, i32, i64) {
    let mut child = common::shakedown_capped()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let (code, peak_rss) = common::wait_exit_and_peak_rss(&child);
    (out, code, peak_rss)
}

fn summary(out: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    common::assert_schema(&v);
    v["summary"].clone()
}

/// 30,000 connections with `--max-flows 500`: all counted, almost all evicted, and the peak
/// RSS far below what 30,000 open trackers take (~150 MB).
#[test]
fn many_never_completing_flows_are_evicted_reported_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flows.pcap");
    let n = 30_000u64;
    never_completing(&file, n as u32);
    let f = file.to_str().unwrap();
    // `--failed`: no connection line (none failed), the summary counts every one of them.
    let (out, code, rss_kb) =
        run_measured(&["pcap", "--json", "--failed", "--max-flows", "500", f]);
    assert_eq!(code, 0, "{out}");
    let s = summary(&out);
    assert_eq!(s["connections"], n, "{s}");
    assert_eq!(s["by_outcome"]["incomplete"], n, "{s}");
    let input = &s["inputs"][0];
    assert_eq!(input["flows"], n, "{s}");
    let evicted = input["evicted_flows"].as_u64().unwrap();
    assert!(evicted >= n - 500, "{s}");
    assert_eq!(s["incomplete_by_reason"]["evicted"], evicted, "{s}");
    assert_eq!(
        s["incomplete_by_reason"]["capture_end"].as_u64().unwrap() + evicted,
        n,
        "{s}"
    );
    assert!(
        rss_kb < 64 * 1024,
        "peak RSS {rss_kb} KiB with --max-flows 500"
    );

    // A small --memcap evicts by bytes.
    let (out, _, rss_kb) = run_measured(&["pcap", "--json", "--failed", "--memcap", "4M", f]);
    let s = summary(&out);
    assert_eq!(s["connections"], n, "{s}");
    assert!(
        s["inputs"][0]["evicted_flows"].as_u64().unwrap() > n / 2,
        "{s}"
    );
    assert!(rss_kb < 64 * 1024, "peak RSS {rss_kb} KiB with --memcap 4M");
}

/// Every evicted connection gets its own line, in JSON and text, with the reason.
#[test]
fn each_evicted_connection_is_reported_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flows.pcap");
    never_completing(&file, 300);
    let f = file.to_str().unwrap();
    let (out, code, _) = run_measured(&["pcap", "--json", "--max-flows", "50", f]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, connections) = lines.split_last().unwrap();
    let mut indices: Vec<u64> = connections
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    indices.sort();
    assert_eq!(
        indices,
        (1..=300).collect::<Vec<u64>>(),
        "every flow reported once"
    );
    let evicted = connections
        .iter()
        .filter(|c| c["incomplete_reason"] == "evicted")
        .count() as u64;
    for c in connections {
        common::assert_schema(c);
        assert_eq!(c["outcome"], "incomplete");
        assert!(
            ["evicted", "capture_end"].contains(&c["incomplete_reason"].as_str().unwrap()),
            "{c}"
        );
    }
    assert!(evicted >= 250, "{evicted}");
    assert_eq!(summary["summary"]["inputs"][0]["evicted_flows"], evicted);

    let (text, _, _) = run_measured(&["pcap", "--all", "--max-flows", "50", f]);
    assert_eq!(
        text.matches("incomplete (evicted)").count() as u64,
        evicted,
        "{text}"
    );
    assert!(
        text.contains(&format!("flow table full: {evicted} flows ended early")),
        "{text}"
    );
}

#[test]
fn bad_limits_are_usage_errors() {
    for args in [
        &["--max-flows", "0"][..],
        &["--memcap", "12X"],
        &["--memcap", "1000"],
        &["--flow-timeout", "0"],
    ] {
        let out = common::shakedown()
            .arg("pcap")
            .args(args)
            .arg(common::capture("cert_expired.pcap"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}

/// Idle expiry goes by capture time: connections 2 s apart with `--flow-timeout 1` each end
/// when the next one comes (the capture is read in milliseconds), reported as
/// `idle_timeout`; the last one as `capture_end`.
#[test]
fn idle_flows_expire_by_capture_time_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.pcap");
    never_completing_every(&file, 10, 2_000_000);
    let f = file.to_str().unwrap();
    let (out, code, _) = run_measured(&["pcap", "--json", "--flow-timeout", "1", f]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = lines[..10]
        .iter()
        .map(|c| c["incomplete_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[..9], ["idle_timeout"; 9], "{reasons:?}");
    assert_eq!(reasons[9], "capture_end");
    let s = &lines[10]["summary"];
    assert_eq!(s["inputs"][0]["expired_flows"], 9, "{s}");
    assert_eq!(s["incomplete_by_reason"]["idle_timeout"], 9, "{s}");
    // With the default timeout (300 s) none of them expires.
    let (out, _, _) = run_measured(&["pcap", "--json", "--failed", f]);
    let s = summary(&out);
    assert_eq!(s["inputs"][0]["expired_flows"], 0, "{s}");
    assert_eq!(s["incomplete_by_reason"]["capture_end"], 10, "{s}");
}
