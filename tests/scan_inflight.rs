//! Many connections in flight in one scan process: beyond the old cap of 1,024, within the
//! open-file limit the scan raises itself, counted from outside (the process's open
//! sockets in /proc) against loopback listeners that never accept, so every connection
//! completes in the kernel's accept queue and stays open until the hello's time-out.
//! The 10,000 figure is in `benches/scan_inflight.sh`; this test holds 2,000.

#![cfg(target_os = "linux")]

mod common;

use common::shakedown;
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Listeners on 127.0.0.1 that never accept, each with the longest queue the kernel gives.
fn silent_listeners(n: usize) -> Vec<Socket> {
    (0..n)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
                .unwrap();
            s.listen(65_535).unwrap();
            s
        })
        .collect()
}

/// The kernel's cap on a listener's queue.
fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(128)
}

/// Open TCP sockets of process `pid` now (its descriptors whose socket inode the kernel's
/// TCP table lists; the signal handler's Unix socket pair is left out).
fn open_tcp_sockets(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let inodes: std::collections::HashSet<String> = dir
        .flatten()
        .filter_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            let link = link.to_string_lossy();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(9)
                .is_some_and(|i| inodes.contains(i))
        })
        .count()
}

#[test]
fn two_thousand_connections_in_flight_in_one_process() {
    let want: usize = 2_000;
    // Each target's version test holds three hellos at once (TLS 1.2, TLS 1.3, SSLv2).
    let targets = want / 3 + 1;
    let queue = somaxconn();
    let listeners = silent_listeners(want.div_ceil(queue.min(4096)) + 1);
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().as_socket().unwrap().port())
        .collect();
    let list: String = (0..targets)
        .map(|i| format!("127.0.0.1:{}\n", ports[i % ports.len()]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets");
    std::fs::write(&file, list).unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let start = Instant::now();
    let mut child = shakedown()
        .args(["scan", "--json", "--suites-only", "--retries", "0"])
        .args(["--timeout", "3", "--concurrency", &want.to_string()])
        .arg("--targets-file")
        .arg(&file)
        // To files, not pipes: nobody reads them while the scan runs.
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut samples = Vec::new();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
        samples.push(open_tcp_sockets(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    // A sample is not atomic: while the descriptors are listed, a socket closed and another
    // opened (at the time-outs, when a thousand connections end and start again at once)
    // can both be counted; so can the kernel's TCP table alone, read in pieces (one sample
    // of it showed 2,128 of the scanner's sockets, one of the descriptors 2,254, while its
    // permits bound them to 2,000). The in-flight count is the most that held over three
    // samples in a row: a burst is over by then. (Two in a row were both over 2,068 once
    // in CI, under load.) Sockets past the permits would hold for a time-out's 3 s: dozens
    // of samples.
    let peak = samples
        .windows(3)
        .map(|w| w.iter().copied().min().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let raw_peak = samples.iter().copied().max().unwrap_or(0);
    child.wait().unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    let lines = std::fs::read_to_string(&out_path).unwrap().lines().count();
    assert_eq!(lines, targets, "one result per target; stderr: {stderr}");
    assert!(
        peak >= want * 95 / 100,
        "{peak} sockets open at most, {want} wanted; stderr: {stderr}"
    );
    assert!(
        peak <= want + 8,
        "{peak} sockets open, more than --concurrency {want} (single samples up to {raw_peak}; \
         those over {want}: {:?})",
        samples.iter().filter(|&&n| n > want).collect::<Vec<_>>()
    );
    drop(listeners);
}

#[test]
fn a_concurrency_beyond_the_open_file_limit_is_said() {
    // A hard limit of 512 open files, set by the shell for the scan alone: the scan cannot
    // raise its soft limit to what 2,000 connections need, and says so.
    let port = common::free_port();
    let bin = env!("CARGO_BIN_EXE_shakedown");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 512 && exec {bin} scan --json --retries 0 --concurrency 2000 \
             127.0.0.1:{port}"
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--concurrency 2000 needs about 2064 open files; the limit is 512 (raise it with `ulimit -n`): 448 connections at once"),
        "{stderr}"
    );
    // The scan still ran, within the limit it has.
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
