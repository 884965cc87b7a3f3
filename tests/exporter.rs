//! `shakedown exporter` scraped by a real Prometheus (Debian's package, started by the test
//! on loopback): a good backend and an expired one, read back through Prometheus' query
//! API; hostile query strings and targets off the allow-list are refused, never probed.

mod common;

use common::{Pki, hostile_peer, http_get, s_server, shakedown};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A child killed when dropped (a failing assertion must not leave the exporter running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The exporter on a free port, with `config` and `allow`; its address.
fn exporter(config: &std::path::Path, allow: &[&str]) -> (Running, String) {
    exporter_with(config, allow, &[])
}

/// [`exporter`] with more flags.
fn exporter_with(config: &std::path::Path, allow: &[&str], extra: &[&str]) -> (Running, String) {
    let mut cmd = shakedown();
    cmd.args(["exporter", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for a in allow {
        cmd.args(["--allow", a]);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (Running(child), addr)
}

#[test]
fn prometheus_scrapes_per_address_series_causes_and_expiry() {
    let pki = Pki::new();
    let good = s_server(&pki.leaf("localhost"), &[]);
    let root = pki.root();
    let expired = s_server(&pki.issue("localhost", "localhost", &root, -1, false), &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modules.toml");
    std::fs::write(
        &config,
        format!(
            "[modules.private]\nargs = [\"--ca\", \"{}\"]\nwarn_days = [30, 14]\n",
            root.cert.display()
        ),
    )
    .unwrap();
    let (_exporter, exp_addr) = exporter(&config, &["127.0.0.0/8", "localhost"]);

    // A scrape by hand first: the text format, one series per address.
    let (status, body) = http_get(
        &exp_addr,
        &format!("/probe?target=localhost:{}&module=private", good.port),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("shakedown_probe_success{address=\"127.0.0.1\"} 1"),
        "{body}"
    );
    assert!(
        body.contains(
            "shakedown_certificate_not_after_seconds{address=\"127.0.0.1\",position=\"0\""
        )
    );

    // Prometheus scrapes both backends through the exporter (blackbox_exporter's relabeling).
    let prom = common::prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tls\n    metrics_path: /probe\n    params:\n      module: [private]\n    static_configs:\n      - targets: ['localhost:{}', 'localhost:{}']\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: '{exp_addr}'\n",
            good.port, expired.port
        ),
    );
    let query = |q: &str| -> serde_json::Value {
        let (_, body) = http_get(&prom.addr.to_string(), &format!("/api/v1/query?query={q}"));
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let series = loop {
        let v = query("shakedown_probe_success");
        let results = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if results.len() == 2 {
            break results;
        }
        assert!(Instant::now() < deadline, "Prometheus saw no scrapes: {v}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for s in &series {
        let instance = s["metric"]["instance"].as_str().unwrap();
        let value = s["value"][1].as_str().unwrap();
        let want = if instance.ends_with(&format!(":{}", good.port)) {
            "1"
        } else {
            "0"
        };
        assert_eq!(value, want, "{instance}: {s}");
        assert_eq!(s["metric"]["address"], "127.0.0.1");
    }
    let causes = query("shakedown_diagnosis");
    let expired_causes: Vec<&str> = causes["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"]["instance"] == format!("localhost:{}", expired.port))
        .filter_map(|s| s["metric"]["cause"].as_str())
        .collect();
    assert_eq!(expired_causes, ["certificate_expired"], "{causes}");
    let expiring = query("shakedown_certificate_expiring");
    assert!(
        expiring["data"]["result"].as_array().unwrap().len() >= 4,
        "two days thresholds for each backend: {expiring}"
    );
}

#[test]
fn hostile_queries_and_targets_off_the_list_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modules.toml");
    std::fs::write(&config, "").unwrap();
    let (exp, addr) = exporter(&config, &["127.0.0.1/32"]);
    for (path, want) in [
        ("/probe", 400),
        ("/probe?target=%zz", 400),
        ("/probe?target=localhost:1&module=nope", 400),
        ("/probe?target=10.1.2.3:443", 403),
        ("/probe?target=%5B%3A%3A1%5D:443", 403),
        ("/probe?target=a:b:c:d", 400),
        ("/nothing", 404),
    ] {
        let (status, body) = http_get(&addr, path);
        assert_eq!(status, want, "{path}: {body}");
    }
    let long = format!("/probe?target={}", "a".repeat(5000));
    assert_eq!(http_get(&addr, &long).0, 400);
    let (status, body) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("shakedown_exporter_refused_total 7"),
        "{body}"
    );
    // Still serving after all that.
    let (status, _) = http_get(&addr, "/");
    assert_eq!(status, 200);
    drop(exp);
    // A config that does not parse is refused at start.
    std::fs::write(&config, "[modules.x]\nargs = [\"--tls\", \"TLSv9\"]\n").unwrap();
    let out = shakedown()
        .args([
            "exporter",
            "--listen",
            "127.0.0.1:0",
            "--allow",
            "any",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("module \"x\""));
}

#[test]
fn a_stalling_target_holds_at_most_max_per_target_scrapes() {
    // A backend that accepts and then says nothing: each scrape of it waits for the timeout.
    let (accepted_tx, accepted) = std::sync::mpsc::channel::<()>();
    let accepted_tx = std::sync::Mutex::new(accepted_tx);
    let stall = hostile_peer(move |stream| {
        let _ = accepted_tx.lock().unwrap().send(());
        std::thread::sleep(Duration::from_secs(4));
        drop(stream);
    });
    let pki = Pki::new();
    let good = s_server(&pki.leaf("localhost"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modules.toml");
    std::fs::write(&config, "[modules.slow]\nargs = [\"--timeout\", \"3\"]\n").unwrap();
    let (_exp, addr) = exporter_with(
        &config,
        &["127.0.0.1/32"],
        &["--workers", "4", "--max-per-target", "1"],
    );
    let stalled = format!("/probe?target=127.0.0.1:{}&module=slow", stall.addr.port());
    let first = {
        let (addr, stalled) = (addr.clone(), stalled.clone());
        std::thread::spawn(move || http_get(&addr, &stalled))
    };
    accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("the first scrape reached the stalling backend");
    // The same target again while the first scrape waits: refused at once, not queued.
    let asked = Instant::now();
    let (status, body) = http_get(&addr, &stalled);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--max-per-target"), "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // Another target is served meanwhile.
    let (status, body) = http_get(
        &addr,
        &format!("/probe?target=127.0.0.1:{}&module=slow", good.port),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(
            "shakedown_handshake_outcome{address=\"127.0.0.1\",outcome=\"server_hello\"} 1"
        ),
        "{body}"
    );
    // The first scrape ends with its timeout as a failed probe; then the target is free.
    let (status, body) = first.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("shakedown_probe_success{address=\"127.0.0.1\"} 0"),
        "{body}"
    );
    let (_, metrics) = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("shakedown_exporter_busy_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shakedown_exporter_scrapes_total 2\n"),
        "{metrics}"
    );
    let again = {
        let (addr, stalled) = (addr.clone(), stalled.clone());
        std::thread::spawn(move || http_get(&addr, &stalled))
    };
    accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("the target is free again once the first scrape ended");
    assert_eq!(again.join().unwrap().0, 200);

    // Out of range at start: exit 2.
    for bad in ["0", "257", "x"] {
        let out = shakedown()
            .args(["exporter", "--listen", "127.0.0.1:0", "--allow", "any"])
            .args(["--max-per-target", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--max-per-target {bad}");
    }
}

/// The YAML blocks of docs/exporter.md that start with `first_line`.
fn documented_yaml(first_line: &str) -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/exporter.md")).unwrap();
    doc.split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split_once("```").map(|(yaml, _)| yaml.to_string()))
        .filter(|yaml| yaml.starts_with(first_line))
        .collect()
}

#[test]
fn the_documented_scrape_configs_and_alerting_rules_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let configs = documented_yaml("scrape_configs:");
    let rules = documented_yaml("groups:");
    assert_eq!(
        (configs.len(), rules.len()),
        (2, 2),
        "exporter's and watch's"
    );
    for (i, (kind, yaml)) in configs
        .iter()
        .map(|c| ("config", c))
        .chain(rules.iter().map(|r| ("rules", r)))
        .enumerate()
    {
        let file = dir.path().join(format!("{i}.yml"));
        std::fs::write(&file, yaml).unwrap();
        let out = std::process::Command::new("promtool")
            .args(["check", kind])
            .arg(&file)
            .output()
            .expect("promtool (Debian's prometheus package)");
        assert!(
            out.status.success(),
            "promtool check {kind}:\n{yaml}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Starts blackbox_exporter (Debian's package) on a free loopback port, in a private mount
/// namespace whose /etc/hosts is `hosts`: blackbox resolves names only through the system
/// resolver, and the test must not touch the machine's /etc/hosts. `None` (with the reason
/// on stderr) when `unshare -m` cannot be used here (not root, no user namespaces).
fn blackbox(dir: &std::path::Path, hosts: &str, config: &str) -> Option<common::Server> {
    let hosts_file = dir.join("hosts");
    std::fs::write(&hosts_file, hosts).unwrap();
    let config_file = dir.join("blackbox.yml");
    std::fs::write(&config_file, config).unwrap();
    let probe = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("mount --bind {} /etc/hosts", hosts_file.display()))
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!(
                "SKIPPED the blackbox_exporter half: `unshare -m` + bind mount of /etc/hosts \
                 is not available here ({other:?}); it needs root or CAP_SYS_ADMIN"
            );
            return None;
        }
    }
    let script = format!(
        "mount --bind {} /etc/hosts && exec prometheus-blackbox-exporter --config.file={} \
         --web.listen-address=127.0.0.1:{{port}} --log.level=debug",
        hosts_file.display(),
        config_file.display()
    );
    Some(common::spawn_listening(
        "unshare",
        &["-m", "sh", "-c", &script],
    ))
}

/// The instant vector of `query` from Prometheus at `prom`.
fn prom_query(prom: &str, query: &str) -> Vec<serde_json::Value> {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (_, body) = http_get(prom, &format!("/api/v1/query?query={q}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// A series as Prometheus' console shows it: `name{label="value",…} value`, labels sorted.
fn series_line(s: &serde_json::Value) -> String {
    let metric = s["metric"].as_object().unwrap();
    let labels: Vec<String> = metric
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}{{{}}} {}",
        metric["__name__"].as_str().unwrap_or(""),
        labels.join(","),
        s["value"][1].as_str().unwrap_or("")
    )
}

#[test]
fn side_by_side_with_blackbox_exporter_on_a_three_address_name() {
    // web.test has three backends on one port: a good one, an expired certificate, and a
    // certificate for another name.
    let pki = Pki::new();
    let root = pki.root();
    let good = pki.leaf("web.test");
    let expired = pki.issue("expired", "web.test", &pki.intermediate(), -1, false);
    let wrong = pki.leaf("other.test");
    let (port, _backends) = common::s_servers_on_one_port(
        &[
            ("127.0.0.2", &good),
            ("127.0.0.3", &expired),
            ("127.0.0.4", &wrong),
        ],
        &pki.intermediate().cert,
    );
    let target = format!("web.test:{port}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modules.toml");
    std::fs::write(
        &config,
        format!(
            "[modules.web]\nargs = [\"--ca\", \"{}\", \"--resolve\", \"web.test:{port}:127.0.0.2,127.0.0.3,127.0.0.4\"]\n",
            root.cert.display()
        ),
    )
    .unwrap();
    let (_exporter, exp_addr) = exporter(&config, &["127.0.0.0/8"]);
    // blackbox_exporter sees the same name through /etc/hosts (its only resolver), same
    // order, same trust anchor.
    let bb = blackbox(
        dir.path(),
        "127.0.0.1 localhost\n127.0.0.2 web.test\n127.0.0.3 web.test\n127.0.0.4 web.test\n",
        &format!(
            "modules:\n  tls:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      preferred_ip_protocol: ip4\n      tls: true\n      tls_config:\n        ca_file: {}\n",
            root.cert.display()
        ),
    );
    let job = |name: &str, module: &str, addr: &str| {
        format!(
            "  - job_name: {name}\n    metrics_path: /probe\n    params:\n      module: [{module}]\n    static_configs:\n      - targets: ['{target}']\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: '{addr}'\n"
        )
    };
    // The alerting rules of docs/exporter.md, as they are written there.
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, &documented_yaml("groups:\n  - name: tls\n")[0]).unwrap();
    let mut prom_config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n{}",
        rules.display(),
        job("shakedown", "web", &exp_addr)
    );
    if let Some(bb) = &bb {
        prom_config += &job("blackbox", "tls", &bb.addr.to_string());
    }
    let prom = common::prometheus(dir.path(), &prom_config);
    let prom = prom.addr.to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shakedown = prom_query(&prom, "shakedown_probe_success");
        let blackbox = prom_query(&prom, "probe_success");
        if shakedown.len() == 3 && (bb.is_none() || !blackbox.is_empty()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus saw no scrapes: {shakedown:?} {blackbox:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Give every job a few more scrapes: what they report must not be a first-scrape fluke.
    std::thread::sleep(Duration::from_secs(3));

    // shakedown: one series per address, the causes as labels.
    let success = prom_query(&prom, "shakedown_probe_success");
    let by_address = |rows: &[serde_json::Value]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = rows
            .iter()
            .map(|s| {
                (
                    s["metric"]["address"].as_str().unwrap_or("").to_string(),
                    s["value"][1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        by_address(&success),
        [
            ("127.0.0.2".to_string(), "1".to_string()),
            ("127.0.0.3".into(), "0".into()),
            ("127.0.0.4".into(), "0".into())
        ],
        "{success:?}"
    );
    let diagnosis = prom_query(&prom, "shakedown_diagnosis");
    let causes = |addr: &str| -> Vec<String> {
        diagnosis
            .iter()
            .filter(|s| s["metric"]["address"] == addr)
            .filter_map(|s| s["metric"]["cause"].as_str().map(String::from))
            .collect()
    };
    assert!(causes("127.0.0.2").is_empty(), "{diagnosis:?}");
    assert_eq!(
        causes("127.0.0.3"),
        ["certificate_expired"],
        "{diagnosis:?}"
    );
    assert_eq!(causes("127.0.0.4"), ["hostname_mismatch"], "{diagnosis:?}");
    let leaf_expiry = prom_query(
        &prom,
        "shakedown_certificate_not_after_seconds{position=\"0\"}",
    );
    assert_eq!(leaf_expiry.len(), 3, "{leaf_expiry:?}");

    // The documented rules: the backend-failing alert is pending (it fires after `for: 5m`)
    // for the two broken addresses, the expiry alert for the expired certificate.
    let alerts = |name: &str| -> Vec<String> {
        let mut a: Vec<String> = prom_query(&prom, &format!("ALERTS{{alertname=\"{name}\"}}"))
            .iter()
            .filter(|s| s["metric"]["job"] == "shakedown")
            .map(|s| s["metric"]["address"].as_str().unwrap_or("").to_string())
            .collect();
        a.sort();
        a
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while alerts("TLSCertificateExpiringSoon").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(alerts("TLSBackendFailing"), ["127.0.0.3", "127.0.0.4"]);
    assert_eq!(alerts("TLSCertificateExpiringSoon"), ["127.0.0.3"]);

    // What docs/exporter.md shows: each side's verdict series.
    let mut shown: Vec<String> = Vec::new();
    shown.push("# shakedown exporter".into());
    for q in ["shakedown_probe_success", "shakedown_diagnosis"] {
        let mut lines: Vec<String> = prom_query(&prom, q).iter().map(series_line).collect();
        lines.sort();
        shown.extend(lines);
    }

    if let Some(bb) = &bb {
        // blackbox_exporter: one probe_success for the name, no address, no cause.
        let blackbox = prom_query(&prom, "probe_success");
        assert_eq!(blackbox.len(), 1, "{blackbox:?}");
        assert_eq!(blackbox[0]["value"][1], "1", "{blackbox:?}");
        let all = prom_query(&prom, "{job=\"blackbox\"}");
        for s in &all {
            let text = s["metric"].to_string();
            assert!(
                !text.contains("127.0.0.") && !text.contains("cause"),
                "blackbox names no address and no cause: {s}"
            );
        }
        assert_eq!(
            prom_query(&prom, "probe_ssl_earliest_cert_expiry").len(),
            1,
            "one certificate expiry, the first address's"
        );
        // Its own log of a probe says which address it took: the first one only.
        let (status, log) = http_get(
            &bb.addr.to_string(),
            &format!("/probe?target={target}&module=tls&debug=true"),
        );
        assert_eq!(status, 200, "{log}");
        assert!(
            log.contains("Resolved target address") && log.contains("ip=127.0.0.2"),
            "{log}"
        );
        assert!(
            !log.contains("127.0.0.3") && !log.contains("127.0.0.4"),
            "{log}"
        );
        shown.push("# blackbox_exporter".into());
        for q in ["probe_success", "probe_ssl_earliest_cert_expiry"] {
            shown.extend(prom_query(&prom, q).iter().map(series_line));
        }
    }
    println!("{}", shown.join("\n"));
}

/// What a counting relay saw: TCP connections accepted, ClientHellos the client sent, and
/// HelloRetryRequests the server sent.
#[derive(Default)]
struct Seen {
    connections: std::sync::atomic::AtomicUsize,
    client_hellos: std::sync::atomic::AtomicUsize,
    retry_requests: std::sync::atomic::AtomicUsize,
}

/// SHA-256("HelloRetryRequest"): the `random` of a ServerHello that is a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Copies `from` to `to`, reading the TLS records on the way: a handshake record (22) that
/// holds exactly one whole handshake message of type `msg_type` is counted by `count`
/// (ClientHello 1 from the client; ServerHello 2 with the HelloRetryRequest random from
/// the server). Encrypted TLS 1.3 handshake messages travel as application data (23), so
/// they are never counted.
fn copy_counting(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    count: impl Fn(&[u8]),
) {
    use std::io::{Read, Write};
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([pending[3], pending[4]]));
            if pending.len() < 5 + len {
                break;
            }
            let record: Vec<u8> = pending.drain(..5 + len).collect();
            let body = &record[5..];
            if record[0] == 22 && body.len() >= 4 {
                let msg_len = (usize::from(body[1]) << 16)
                    | (usize::from(body[2]) << 8)
                    | usize::from(body[3]);
                if msg_len + 4 == body.len() {
                    count(body);
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A relay on a free loopback port in front of `upstream`, counting into `seen`.
fn counting_relay(upstream: std::net::SocketAddr, seen: std::sync::Arc<Seen>) -> u16 {
    use std::sync::atomic::Ordering::SeqCst;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            seen.connections.fetch_add(1, SeqCst);
            let Ok(server) = std::net::TcpStream::connect(upstream) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = seen.clone();
            std::thread::spawn(move || {
                copy_counting(client, server, |m| {
                    if m[0] == 1 {
                        up.client_hellos.fetch_add(1, SeqCst);
                    }
                })
            });
            let down = seen.clone();
            std::thread::spawn(move || {
                copy_counting(s2, c2, |m| {
                    // type, length (3), legacy_version (2), random (32)
                    if m[0] == 2 && m.get(6..38) == Some(&HRR_RANDOM[..]) {
                        down.retry_requests.fetch_add(1, SeqCst);
                    }
                })
            });
        }
    });
    port
}

#[test]
fn a_probe_of_one_address_costs_one_connection_and_one_hello_two_after_a_retry() {
    use std::sync::atomic::Ordering::SeqCst;
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    let root = pki.root();
    // The probe's first hello carries an x25519 share: the first server takes it, the
    // second accepts only P-256 and asks for it with a HelloRetryRequest.
    let plain = s_server(&leaf, &["-tls1_3"]);
    let retry = s_server(&leaf, &["-tls1_3", "-groups", "P-256"]);
    let dir = tempfile::tempdir().unwrap();
    for (server, hellos, retries) in [(&plain, 1, 0), (&retry, 2, 1)] {
        let seen = std::sync::Arc::new(Seen::default());
        let port = counting_relay(server.addr, seen.clone());
        let config = dir.path().join(format!("modules-{port}.toml"));
        std::fs::write(
            &config,
            format!(
                "[modules.one]\nargs = [\"--ca\", \"{}\", \"--resolve\", \"localhost:{port}:127.0.0.1\"]\n",
                root.cert.display()
            ),
        )
        .unwrap();
        let (_exp, addr) = exporter(&config, &["127.0.0.1/32"]);
        let (status, body) = http_get(&addr, &format!("/probe?target=localhost:{port}&module=one"));
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("shakedown_probe_success{address=\"127.0.0.1\"} 1"),
            "{body}"
        );
        assert!(body.contains("shakedown_probe_addresses 1"), "{body}");
        // The relay's threads see the last bytes a moment after the exporter answered.
        std::thread::sleep(Duration::from_millis(300));
        let counts = (
            seen.connections.load(SeqCst),
            seen.client_hellos.load(SeqCst),
            seen.retry_requests.load(SeqCst),
        );
        assert_eq!(
            counts,
            (1, hellos, retries),
            "(connections, ClientHellos, HelloRetryRequests) for one scrape of one address"
        );
    }
}

#[test]
fn a_starttls_module_probes_through_the_plaintext_upgrade() {
    // A scripted SMTP server that offers STARTTLS and then refuses it.
    let smtp = hostile_peer(|mut stream| {
        use std::io::{BufRead, Write};
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        let _ = stream.write_all(b"220 mail.test ESMTP\r\n");
        let _ = reader.read_line(&mut line); // EHLO
        let _ = stream.write_all(b"250-mail.test\r\n250 STARTTLS\r\n");
        line.clear();
        let _ = reader.read_line(&mut line); // STARTTLS
        let _ = stream.write_all(b"454 4.7.0 TLS not available due to temporary reason\r\n");
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modules.toml");
    std::fs::write(
        &config,
        "[modules.smtp]\nargs = [\"--starttls\", \"smtp\", \"--timeout\", \"5\"]\n",
    )
    .unwrap();
    let (_exp, addr) = exporter(&config, &["127.0.0.1/32"]);
    let (status, body) = http_get(
        &addr,
        &format!("/probe?target=127.0.0.1:{}&module=smtp", smtp.addr.port()),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(
            "shakedown_handshake_outcome{address=\"127.0.0.1\",outcome=\"starttls_refused\"} 1"
        ),
        "{body}"
    );
    assert!(
        body.contains("shakedown_diagnosis{address=\"127.0.0.1\",cause=\"starttls_refused\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("shakedown_probe_success{address=\"127.0.0.1\"} 0"),
        "{body}"
    );
}
