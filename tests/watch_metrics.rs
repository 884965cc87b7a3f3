//! `watch --metrics` on the loopback interface (feature `live`): a real `openssl s_server`
//! that only speaks TLS 1.3, two TLS 1.3 clients and one TLS 1.2-only client; `/metrics`
//! is read with a plain HTTP GET and by a real Prometheus (Debian's package, started by the
//! test on loopback) through its query API. Needs root or CAP_NET_RAW; skipped with a
//! message otherwise.
#![cfg(feature = "live")]

mod common;

use common::{Pki, http_get, s_server, shakedown};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child killed when dropped (a failing assertion must not leave watch running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value of the sample named exactly `series` in a Prometheus text body.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn s_client(addr: &str, version: &str, ca: &std::path::Path) -> bool {
    Command::new("openssl")
        .args(["s_client", "-connect", addr, version])
        .args(["-servername", "good.test", "-CAfile"])
        .arg(ca)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn watch_metrics_count_handshakes_on_lo_and_prometheus_scrapes_them() {
    let pki = Pki::new();
    let root = pki.root();
    let server = s_server(&pki.leaf("good.test"), &["-tls1_3"]);
    let filter = format!("tcp port {}", server.port);
    let mut child = shakedown()
        .args(["watch", "-i", "lo", "--filter", &filter, "--ca"])
        .arg(&root.cert)
        .args(["--metrics", "127.0.0.1:0", "--duration", "120", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let watch = Running(child);
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let metrics = line
        .trim()
        .strip_prefix("shakedown watch metrics listening on ")
        .unwrap_or_else(|| panic!("no metrics address in {line:?}"))
        .to_string();

    // The capture is open once it counts packets: plain TCP connections (no TLS, so not
    // handshakes) until it does.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = TcpStream::connect(server.addr);
        let (status, body) = http_get(&metrics, "/metrics");
        assert_eq!(status, 200, "{body}");
        if sample(&body, "shakedown_capture_packets_total").unwrap_or(0.0) > 0.0 {
            break;
        }
        if Instant::now() > deadline {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            if rest.contains("permission") || rest.contains("not permitted") {
                eprintln!("skipped: cannot capture on lo without root or CAP_NET_RAW: {rest}");
                return;
            }
            panic!("watch never counted a packet: {body}{rest}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let addr = server.addr.to_string();
    assert!(s_client(&addr, "-tls1_3", &root.cert));
    assert!(s_client(&addr, "-tls1_3", &root.cert));
    assert!(!s_client(&addr, "-tls1_2", &root.cert), "TLS 1.3 only");

    let established = format!(
        "shakedown_handshakes_total{{server=\"{addr}\",sni=\"good.test\",version=\"TLSv1.3\",outcome=\"established\",cause=\"none\"}}"
    );
    let refused = format!(
        "shakedown_handshakes_total{{server=\"{addr}\",sni=\"good.test\",version=\"TLSv1.2\",outcome=\"alert\",cause=\"protocol_mismatch\"}}"
    );
    // Each handshake is counted when its flow ends (the clients close theirs).
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (_, body) = http_get(&metrics, "/metrics");
        let series: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("shakedown_handshakes_total{"))
            .collect();
        if series
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect::<Vec<_>>()
            == ["2", "1"]
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "three handshakes never counted: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(sample(&body, &established), Some(2.0), "{body}");
    assert_eq!(sample(&body, &refused), Some(1.0), "{body}");
    assert!(body.contains("# TYPE shakedown_handshakes_total counter\n"));
    assert!(sample(&body, "shakedown_capture_flows_total").unwrap() >= 4.0);
    assert_eq!(http_get(&metrics, "/nothing").0, 404);

    // Prometheus scrapes the same endpoint and answers with the same series.
    let dir = tempfile::tempdir().unwrap();
    let prom = common::prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: watch\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    let series = loop {
        let (_, body) = http_get(
            &prom.addr.to_string(),
            "/api/v1/query?query=shakedown_handshakes_total",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let results = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if results.len() == 2 {
            break results;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus saw no scrape: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut seen: Vec<(String, String, String, String)> = series
        .iter()
        .map(|s| {
            let m = &s["metric"];
            assert_eq!(m["job"], "watch");
            assert_eq!(m["server"], addr.as_str());
            assert_eq!(m["sni"], "good.test");
            (
                m["version"].as_str().unwrap().to_string(),
                m["outcome"].as_str().unwrap().to_string(),
                m["cause"].as_str().unwrap().to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "TLSv1.2".into(),
                "alert".into(),
                "protocol_mismatch".into(),
                "1".into()
            ),
            (
                "TLSv1.3".into(),
                "established".into(),
                "none".into(),
                "2".into()
            ),
        ]
    );
    drop(watch);
}
