//! Fleet scans: target lines in every accepted form, shards that split a list exactly once,
//! `--resume` from an earlier output, and output lines that stay whole when the run is
//! interrupted.

mod common;

use common::{Pki, assert_schema, free_port, s_server, shakedown};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// `scan --list-targets ARGS` with `stdin` on its standard input.
fn list_targets_output(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = shakedown()
        .args(["scan", "--list-targets"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn list_targets(args: &[&str], stdin: &str) -> Vec<String> {
    let out = list_targets_output(args, stdin);
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn shards_split_a_mixed_list_exactly_once() {
    let list = "# fleet\n127.0.0.1,localhost\n127.0.1.0/29:8443\n127.0.0.2, api.test, blue\n[::1]:9443\nlocalhost:4433\n";
    let all = list_targets(&["-"], list);
    assert_eq!(all.len(), 12, "{all:?}");
    assert_eq!(all[0], "127.0.0.1:443,localhost");
    assert_eq!(all[1], "127.0.1.0:8443");
    assert_eq!(all[9], "127.0.0.2, api.test, blue, 443");
    let mut union = Vec::new();
    for i in 0..3 {
        let shard = list_targets(&["-", "--shard", &format!("{i}/3")], list);
        assert_eq!(shard.len(), 4, "shard {i}: {shard:?}");
        union.extend(shard);
    }
    union.sort();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(union, sorted);
    // What --list-targets prints reads back as the same list.
    assert_eq!(list_targets(&["-"], &all.join("\n")), all);
}

#[test]
fn bad_target_lines_and_shards_are_usage_errors() {
    for (args, stdin, want) in [
        (&["-"][..], "10.0.0.0/33\n", "standard input line 1"),
        (&["x", "--shard", "3/3"][..], "", "--shard"),
        (&["a.test,b.test"][..], "", "must be an IP address"),
    ] {
        let out = list_targets_output(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

fn scan_json(args: &[&str]) -> Vec<Value> {
    let out = shakedown()
        .args(["scan", "--json", "--suites-only", "--timeout", "5"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_schema(&v);
            v
        })
        .collect()
}

#[test]
fn resume_skips_what_an_earlier_output_holds() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets");
    let by_ip = format!("127.0.0.1:{}", srv.port);
    let by_name = format!("127.0.0.1:{},localhost", srv.port);
    let tagged = format!("127.0.0.1, localhost, blue, {}", srv.port);
    std::fs::write(&targets, format!("{by_ip}\n{by_name}\n")).unwrap();
    let out = dir.path().join("out.jsonl");

    // The first run scans the address only; its output plus a line cut short.
    let first = scan_json(&[&by_ip]);
    assert_eq!(first.len(), 1);
    let mut file = std::fs::File::create(&out).unwrap();
    writeln!(file, "{}", first[0]).unwrap();
    write!(file, "{{\"schema_version\":2,\"target\":\"localh").unwrap();
    drop(file);

    let second = scan_json(&[
        "--targets-file",
        targets.to_str().unwrap(),
        &tagged,
        "--resume",
        out.to_str().unwrap(),
    ]);
    // The address was done; the tagged line (arguments come before the file) and the named
    // target via that address were not.
    let scanned: Vec<(&str, Option<&str>, Option<&str>)> = second
        .iter()
        .map(|v| {
            (
                v["target"].as_str().unwrap(),
                v["connect"].as_str(),
                v["tag"].as_str(),
            )
        })
        .collect();
    let name = format!("localhost:{}", srv.port);
    assert_eq!(
        scanned,
        [
            (name.as_str(), Some("127.0.0.1"), Some("blue")),
            (name.as_str(), Some("127.0.0.1"), None),
        ]
    );
    assert!(
        second
            .iter()
            .all(|v| v["versions"]["TLSv1.2"]["supported"] == true)
    );
    // A missing resume file holds nothing: everything is scanned.
    let fresh = scan_json(&[
        &by_ip,
        "--resume",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert_eq!(fresh.len(), 1);
}

#[test]
fn an_interrupted_scan_leaves_only_whole_lines() {
    // A closed loopback port on 65,536 loopback addresses: every target fails at once, so
    // results stream out fast; the run is stopped after its first result.
    let port = free_port();
    let mut child = shakedown()
        .args(["scan", "--json", "--retries", "0", "--concurrency", "64"])
        .arg(format!("127.0.0.0/16:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.ends_with('\n'), "{first}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    let text = first + &String::from_utf8(rest).unwrap();
    assert!(text.ends_with('\n'), "the last line is whole");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() < 65_536, "stopped early");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["error"].is_string(), "{v}");
    }
    assert_eq!(code, Some(143), "128 + SIGTERM");
}

/// A peer that notes when each connection arrives (on the accepting thread, which does
/// nothing else), reads the hello and refuses it with a fatal handshake_failure alert.
fn refusing_peer_logging_arrivals() -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            log.lock().unwrap().push(Instant::now());
            thread::spawn(move || {
                common::read_some(&mut stream);
                common::write_quietly(&mut stream, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
            });
        }
    });
    (addr, arrivals)
}

/// A suites-only scan of the two peers with `pace` (the rate flags), one JSON line each.
fn scan_both(a: &SocketAddr, b: &SocketAddr, pace: &[&str]) {
    let out = shakedown()
        .args(["scan", "--suites-only", "--concurrency", "8"])
        .args(pace)
        .args(["--retries", "0", "--json"])
        .args([a.to_string(), b.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        2,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rate_per_target_spaces_each_targets_connections_but_not_the_run() {
    let (a, a_arrivals) = refusing_peer_logging_arrivals();
    let (b, b_arrivals) = refusing_peer_logging_arrivals();
    scan_both(&a, &b, &["--rate-per-target", "10"]);
    let (a_times, b_times) = (a_arrivals.lock().unwrap(), b_arrivals.lock().unwrap());
    for times in [&*a_times, &*b_times] {
        assert!(times.len() >= 3, "{} connections", times.len());
        // 10 per second: starts booked 100 ms apart. An arrival can be noted late when the
        // machine is busy, which shortens the gap after it, so each gap gets slack and the
        // whole span is checked against the booked total.
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_millis(50),
                "{gap:?} between connections"
            );
        }
        let span = times[times.len() - 1] - times[0];
        let booked = Duration::from_millis(100) * (times.len() as u32 - 1);
        assert!(
            span + Duration::from_millis(50) >= booked,
            "{span:?} for {booked:?}"
        );
    }
    // Per target, not for the run: the second target did not wait for the first.
    let apart = if a_times[0] > b_times[0] {
        a_times[0] - b_times[0]
    } else {
        b_times[0] - a_times[0]
    };
    assert!(
        apart < Duration::from_millis(80),
        "first connections {apart:?} apart"
    );
}

#[test]
fn rate_spaces_the_whole_runs_connections_across_targets() {
    let (a, a_arrivals) = refusing_peer_logging_arrivals();
    let (b, b_arrivals) = refusing_peer_logging_arrivals();
    scan_both(&a, &b, &["--rate", "20"]);
    let mut times: Vec<Instant> = a_arrivals.lock().unwrap().clone();
    times.extend(b_arrivals.lock().unwrap().iter().copied());
    times.sort();
    assert!(times.len() >= 6, "{} connections", times.len());
    // 20 per second for the run, both targets together: starts booked 50 ms apart. Arrivals
    // noted late on a busy machine shorten single gaps, so the span is checked against the
    // booked total, with a little slack.
    let span = times[times.len() - 1] - times[0];
    let booked = Duration::from_millis(50) * (times.len() as u32 - 1);
    assert!(
        span + Duration::from_millis(40) >= booked,
        "{span:?} for {booked:?} ({} connections)",
        times.len()
    );
}
