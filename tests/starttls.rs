//! STARTTLS and its relatives before the TLS hello: a real PostgreSQL (SSLRequest) started
//! by the test, and scripted SMTP and IMAP fronts on loopback, the accepting ones relaying
//! to a real `openssl s_server` after the upgrade, so the TLS part is a real handshake.

mod common;

use common::{Pki, causes, hostile_peer, json_output, postgres, record, s_server, shakedown};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

fn probe(target: &str, args: &[&str]) -> (i32, serde_json::Value) {
    json_output(
        shakedown()
            .args(["probe", target, "--json", "--timeout", "3"])
            .args(args),
    )
}

/// Copies bytes both ways between `a` and `b` until either side ends.
fn relay(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// An SMTP front: greeting, EHLO with `capabilities`, then `answer` to STARTTLS; when the
/// answer is 220, the connection is relayed to `tls` (a real TLS server).
fn smtp_front(
    capabilities: &'static str,
    answer: &'static str,
    tls: Option<SocketAddr>,
) -> SocketAddr {
    smtp_front_counted(capabilities, answer, tls).0
}

/// [`smtp_front`], with the number of connections it accepted so far. It serves one
/// connection at a time.
fn smtp_front_counted(
    capabilities: &'static str,
    answer: &'static str,
    tls: Option<SocketAddr>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let addr = hostile_peer(move |s| {
        count.fetch_add(1, Ordering::SeqCst);
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        let _ = w.write_all(b"220 mx.test ESMTP\r\n");
        if r.read_line(&mut line).is_err() || !line.starts_with("EHLO") {
            return;
        }
        let _ = w.write_all(format!("250-mx.test\r\n{capabilities}250 SIZE 1000\r\n").as_bytes());
        line.clear();
        if r.read_line(&mut line).is_err() || !line.starts_with("STARTTLS") {
            return;
        }
        let _ = w.write_all(answer.as_bytes());
        if let Some(tls) = tls.filter(|_| answer.starts_with("220")) {
            relay(r.into_inner(), TcpStream::connect(tls).unwrap());
        }
    })
    .addr;
    (addr, accepted)
}

#[test]
fn smtp_upgrade_then_a_real_tls_handshake() {
    let pki = Pki::new();
    let tls = s_server(&pki.leaf("mx.test"), &[]);
    let front = smtp_front(
        "250-STARTTLS\r\n",
        "220 2.0.0 Ready to start TLS\r\n",
        Some(tls.addr),
    );
    let (code, v) = probe(
        &front.to_string(),
        &["--starttls", "smtp", "--sni", "mx.test"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert_eq!(v["starttls"]["protocol"], "smtp");
    assert_eq!(v["starttls"]["offered"], true);
    assert_eq!(v["starttls"]["accepted"], true);
    assert!(v["sent_bytes"].as_u64().unwrap() > 100);
    // The preamble leads the timeline, each side's step in order, then TLS.
    let events: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["what"].as_str().unwrap().into(),
            )
        })
        .collect();
    let said = |from: &str, what: &str| (from.to_string(), what.to_string());
    assert_eq!(
        events[..4],
        [
            said("server", "smtp: 220 mx.test ESMTP"),
            said("client", "smtp: EHLO shakedown.invalid"),
            said("server", "smtp: 250-mx.test (+2 lines)"),
            said("client", "smtp: STARTTLS"),
        ],
        "{v}"
    );
    assert_eq!(events[4].0, "server", "{v}"); // 220 Ready to start TLS
    assert!(events[5].1.starts_with("ClientHello"), "{v}");
    // --pcap-out holds the whole session, so a capture of it reads the same.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp.pcap");
    let out = shakedown()
        .args([
            "probe",
            &front.to_string(),
            "--starttls",
            "smtp",
            "--sni",
            "mx.test",
        ])
        .arg("--pcap-out")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = shakedown()
        .args(["pcap", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&out.stdout);
    let c: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(c["starttls"], "smtp", "{c}");
    // The handshake as the probe saw it (the capture ends with our close after the
    // verdict, so its outcome is the close).
    assert_eq!(c["server_hello"], v["server_hello"], "{c}");
    assert_eq!(c["ja4"], v["offered"]["ja4"], "{c}");
    // The same front scanned: versions and suites through the preamble every time.
    let out = shakedown()
        .args([
            "scan",
            "--json",
            "--suites-only",
            "--starttls",
            "smtp",
            "--timeout",
            "3",
        ])
        .arg(front.to_string())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_schema(&v);
    assert_eq!(v["starttls"], "smtp", "{v}");
    assert_eq!(v["versions"]["TLSv1.3"]["supported"], true, "{v}");
}

/// A full scan's chains of hellos get their next connection made, preamble included,
/// while the current hello is answered (lower-latency plan, `scan::ahead`): against a
/// front that serves one connection at a time (the made-ahead one waits behind the
/// current one), the scan finds what the fewer-connections plan finds, nothing timed out,
/// and every connection the front saw carried a hello: the connection a chain made for a
/// next offer and did not use (its last offer was refused) goes to the target's next
/// hello instead of being closed (here always one: every chain is followed by the order
/// or combined hello that needs its list). Before, a scan closed one or two unused.
#[test]
fn chained_hellos_connect_ahead_through_a_one_at_a_time_front() {
    let pki = Pki::new();
    let tls = s_server(&pki.leaf("mx.test"), &[]);
    let (front, accepted) = smtp_front_counted(
        "250-STARTTLS\r\n",
        "220 2.0.0 Ready to start TLS\r\n",
        Some(tls.addr),
    );
    let scan = |prefer: &str| {
        let before = accepted.load(Ordering::SeqCst);
        let (_, v) = json_output(shakedown().args([
            "scan",
            "--json",
            "--prefer",
            prefer,
            "--starttls",
            "smtp",
            "--timeout",
            "3",
            &front.to_string(),
        ]));
        // The front counts a connection when it accepts it, after our close at the latest.
        thread::sleep(Duration::from_millis(300));
        (v, accepted.load(Ordering::SeqCst) - before)
    };
    let (fewer, fewer_conns) = scan("fewer-connections");
    let hellos = |v: &serde_json::Value| v["handshakes"].as_u64().unwrap() as usize;
    assert_eq!(fewer_conns, hellos(&fewer), "{fewer}");
    // Connections are made ahead only while no other hello of the target is in flight, so
    // how many varies from run to run: three runs.
    let mut extras = Vec::new();
    for _ in 0..3 {
        let (lower, lower_conns) = scan("lower-latency");
        common::assert_schema(&lower);
        for v in [&lower, &fewer] {
            assert_eq!(v["error"], serde_json::Value::Null, "{v}");
            assert_eq!(v["retries"], 0, "{v}");
            for version in ["TLSv1.2", "TLSv1.3"] {
                assert_eq!(
                    v["versions"][version]["incomplete"],
                    serde_json::Value::Null,
                    "{v}"
                );
            }
        }
        for list in ["versions", "groups", "groups_server_order", "sigalgs"] {
            assert_eq!(lower[list], fewer[list], "{list}");
        }
        extras.push(lower_conns as i64 - hellos(&lower) as i64);
    }
    assert_eq!(extras, [0, 0, 0], "connections more than hellos, by run");
}

#[test]
fn smtp_without_or_refusing_the_upgrade() {
    let missing = smtp_front("", "", None);
    let (code, v) = probe(&missing.to_string(), &["--starttls", "smtp"]);
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "starttls_not_offered", "{v}");
    assert_eq!(v["starttls"]["offered"], false);
    assert_eq!(v["sent_bytes"], 0);
    assert_eq!(causes(&v), ["starttls_not_offered"]);

    let refusing = smtp_front("250-STARTTLS\r\n", "454 4.7.0 TLS not available\r\n", None);
    let (_, v) = probe(&refusing.to_string(), &["--starttls", "smtp"]);
    assert_eq!(v["outcome"], "starttls_refused", "{v}");
    assert_eq!(causes(&v), ["starttls_refused"]);
    assert!(
        v["starttls"]["server_said"]
            .as_str()
            .unwrap()
            .contains("454"),
        "{v}"
    );
    // Text says what happened before TLS.
    let text = shakedown()
        .args(["probe", &refusing.to_string(), "--starttls", "smtp"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("starttls  smtp: offered, no TLS"), "{text}");
    assert!(
        text.contains("not sent: no TLS after the preamble"),
        "{text}"
    );
}

#[test]
fn a_greeting_that_never_ends_or_the_wrong_protocol_is_a_plaintext_error() {
    // Accepts and trickles a greeting line forever (never a line end).
    let endless = hostile_peer(|mut s| {
        for _ in 0..100 {
            if s.write_all(b"220-").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let (_, v) = probe(&endless.addr.to_string(), &["--starttls", "smtp"]);
    assert_eq!(v["outcome"], "plaintext_error", "{v}");
    // An IMAP greeting where SMTP was asked for.
    let imap = hostile_peer(|mut s| {
        let _ = s.write_all(b"* OK IMAP4rev1 ready\r\n");
        let mut buf = [0u8; 100];
        let _ = s.read(&mut buf);
    });
    let (_, v) = probe(&imap.addr.to_string(), &["--starttls", "smtp"]);
    assert_eq!(v["outcome"], "plaintext_error", "{v}");
    assert_eq!(causes(&v), ["plaintext_error"]);
    // An unknown protocol name is a usage error.
    let out = shakedown()
        .args(["probe", "127.0.0.1:1", "--starttls", "gopher"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected one of smtp"));
}

#[test]
fn postgres_sslrequest_then_tls() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let pg = postgres(dir.path(), &pki.leaf("db.test"));
    let mut probed = (0, serde_json::Value::Null);
    let capture = record(dir.path(), pg.port, || {
        probed = probe(
            &pg.addr.to_string(),
            &["--starttls", "postgres", "--sni", "db.test"],
        );
    });
    let (code, v) = probed;
    assert_eq!(code, 0, "{v}");
    // The capture of that probe: SSLRequest, 'S', then the TLS handshake.
    if let Some(capture) = capture {
        let out = shakedown()
            .args(["pcap", "--json", "--all"])
            .arg(&capture)
            .output()
            .unwrap();
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let conn: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(conn["starttls"], "postgres", "{conn}");
        assert_eq!(conn["sni"], "db.test", "{conn}");
    }
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert_eq!(v["starttls"]["protocol"], "postgres");
    assert_eq!(v["starttls"]["accepted"], true);
    assert_eq!(v["server_hello"]["version"], "TLSv1.3", "{v}");
    // Without --starttls the preamble is not sent: PostgreSQL does not answer a bare hello
    // with TLS.
    let (_, v) = probe(&pg.addr.to_string(), &["--starttls", "none"]);
    assert_ne!(v["outcome"], "server_hello", "{v}");
    assert!(v.get("starttls").is_none());
}

#[test]
fn captured_starttls_sessions_get_the_same_verdicts() {
    let pki = Pki::new();
    let tls = s_server(&pki.leaf("mx.test"), &[]);
    let front = smtp_front(
        "250-STARTTLS\r\n",
        "220 2.0.0 Ready to start TLS\r\n",
        Some(tls.addr),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut probed = serde_json::Value::Null;
    let Some(capture) = record(dir.path(), front.port(), || {
        probed = probe(
            &front.to_string(),
            &["--starttls", "smtp", "--sni", "mx.test"],
        )
        .1;
    }) else {
        return;
    };
    assert_eq!(probed["outcome"], "server_hello", "{probed}");
    let out = shakedown()
        .args(["pcap", "--json", "--all"])
        .arg(&capture)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let conn: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    common::assert_schema(&conn);
    assert_eq!(conn["starttls"], "smtp", "{conn}");
    assert_eq!(conn["sni"], "mx.test", "{conn}");
    assert_eq!(
        conn["ja4"], probed["offered"]["ja4"],
        "the same hello, fingerprinted alike"
    );
    assert_eq!(
        conn["server_hello"]["cipher"],
        probed["server_hello"]["cipher"]
    );
    // Without the preamble follower this flow was "not TLS" and left out.
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["connections"], 1, "{summary}");
}
