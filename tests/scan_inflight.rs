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
use std::process::Stdio;
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

/// Open sockets of process `pid` now.
fn open_sockets(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .map(|l| l.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn two_thousand_connections_in_flight_in_one_process() {
    let want = 2_000;
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
    let start = Instant::now();
    let mut child = shakedown()
        .args(["scan", "--json", "--suites-only", "--retries", "0"])
        .args(["--timeout", "3", "--concurrency", &want.to_string()])
        .arg("--targets-file")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
        peak = peak.max(open_sockets(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines, targets, "one result per target; stderr: {stderr}");
    assert!(
        peak >= want * 95 / 100,
        "{peak} sockets open at most, {want} wanted; stderr: {stderr}"
    );
    assert!(peak <= want, "{peak} sockets open, more than --concurrency {want}");
    drop(listeners);
}

#[test]
fn a_concurrency_beyond_the_open_file_limit_is_said() {
    // The limit the scan may raise to is the hard one: ask for more than that.
    let hard = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .unwrap();
    let Ok(hard) = hard.parse::<usize>() else {
        return; // unlimited: nothing to say
    };
    let concurrency = hard + 1;
    if concurrency > 65_536 {
        return; // beyond --concurrency's own range
    }
    // One closed port: the scan ends at once.
    let port = common::free_port();
    let out = shakedown()
        .args(["scan", "--json", "--retries", "0", "--concurrency"])
        .arg(concurrency.to_string())
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("open files") && stderr.contains(&format!("{hard}")),
        "{stderr}"
    );
}
