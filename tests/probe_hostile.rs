//! Hostile peers scripted in the test: each must give a clear outcome within the deadline,
//! in bounded memory, and never a panic or a hang.

mod common;

use common::{assert_schema, hostile_peer, read_some, tls_record, write_quietly};
use shakedown::commands::probe::{self, HelloSource, ProbeConfig, ProbeResult};
use shakedown::io::net::{Limits, Target};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn run(addr: SocketAddr, read_timeout: Duration) -> (ProbeResult, Duration) {
    let cfg = ProbeConfig {
        target: Target::parse(&addr.to_string(), 443).unwrap(),
        hello: HelloSource::Spec(Box::default()),
        limits: Limits {
            connect_timeout: Duration::from_secs(2),
            read_timeout,
            max_bytes: 256 * 1024,
        },
        check_time: 0,
        trust: None,
    };
    let start = Instant::now();
    let r = probe::run(&cfg);
    (r, start.elapsed())
}

fn causes(r: &ProbeResult) -> Vec<&'static str> {
    r.diagnosis.iter().map(|d| d.cause.id()).collect()
}

#[test]
fn garbage_bytes_are_not_tls() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        write_quietly(
            &mut s,
            &[0x8f, 0x00, 0xff, 0x13, 0x37, 0x00, 0x01, 0xfe, 0x99, 0x42],
        );
    });
    let (r, took) = run(peer.addr, Duration::from_secs(3));
    assert_eq!(r.outcome(), "not_tls", "{:?}", r.verdict);
    assert!(took < Duration::from_secs(3));
    assert!(causes(&r).contains(&"not_tls"));
}

#[test]
fn immediate_reset_is_reset() {
    let peer = hostile_peer(|mut s| {
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        read_some(&mut s);
        drop(s);
    });
    let (r, _) = run(peer.addr, Duration::from_secs(3));
    assert_eq!(r.outcome(), "reset", "{:?}", r.verdict);
    assert!(causes(&r).contains(&"connection_reset"));
}

#[test]
fn a_byte_every_second_times_out_at_the_deadline() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        // A valid record header, one byte at a time: never a complete record.
        for b in [0x16u8, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00] {
            if !write_quietly(&mut s, &[b]) {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let (r, took) = run(peer.addr, Duration::from_millis(2500));
    assert_eq!(r.outcome(), "timeout", "{:?}", r.verdict);
    assert!(
        took >= Duration::from_millis(2400) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(causes(&r).contains(&"timeout"));
    // The server talked: the time-out says so, and what it left unfinished.
    let v = json(&r);
    let d = detail(&v, "timeout");
    assert!(d.contains("but not one complete record"), "{d}");
}

#[test]
fn a_record_announcing_too_many_bytes_is_rejected_at_once() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        write_quietly(
            &mut s,
            &[0x16, 0x03, 0x03, 0xff, 0xff, 0x02, 0xff, 0xff, 0xff],
        );
        thread::sleep(Duration::from_secs(3));
    });
    let (r, took) = run(peer.addr, Duration::from_secs(3));
    let v = r.verdict.as_ref().unwrap();
    assert!(v.error.as_deref().unwrap_or("").contains("65535"), "{v:?}");
    assert!(
        took < Duration::from_secs(2),
        "decided on the header, not the deadline: {took:?}"
    );
}

#[test]
fn a_handshake_message_announcing_16_mib_does_not_grow_memory() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        // Records of 16 KiB each carrying a ServerHello that claims 2^24-1 bytes.
        let mut first = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0xff, 0xff, 0xff];
        first.resize(5 + 0x4000, 0x41);
        if !write_quietly(&mut s, &first) {
            return;
        }
        let mut next = vec![0x16, 0x03, 0x03, 0x40, 0x00];
        next.resize(5 + 0x4000, 0x41);
        for _ in 0..2000 {
            if s.write_all(&next).is_err() {
                return;
            }
        }
    });
    let (r, took) = run(peer.addr, Duration::from_secs(5));
    let v = r.verdict.as_ref().unwrap();
    assert!(
        v.error.is_some() || r.outcome() == "timeout",
        "outcome {} {:?}",
        r.outcome(),
        v.error
    );
    assert!(r.transcript.chunks.iter().map(|c| c.2.len()).sum::<usize>() <= 512 * 1024);
    assert!(took < Duration::from_secs(6));
}

#[test]
fn endless_data_stops_at_the_byte_cap_or_verdict() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        let junk = vec![0x17u8; 64 * 1024];
        for _ in 0..10_000 {
            if s.write_all(&junk).is_err() {
                return;
            }
        }
    });
    let (r, took) = run(peer.addr, Duration::from_secs(5));
    let received: usize = r
        .transcript
        .chunks
        .iter()
        .filter(|c| c.0 == shakedown::core::flow::Direction::ServerToClient)
        .map(|c| c.2.len())
        .sum();
    assert!(received <= 256 * 1024, "{received}");
    assert!(took < Duration::from_secs(5));
    assert_ne!(r.outcome(), "server_hello");
}

#[test]
fn silent_server_that_accepts_and_waits_times_out() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        thread::sleep(Duration::from_secs(3));
    });
    let (r, took) = run(peer.addr, Duration::from_secs(1));
    assert_eq!(r.outcome(), "timeout");
    assert!(took < Duration::from_secs(2));
}

// The suite below: each hostile server is judged from the probe's JSON (outcome, cause and
// `server_records`), never from the wall clock.

/// The probe's JSON report (checked against the schema).
fn json(r: &ProbeResult) -> serde_json::Value {
    let v = serde_json::to_value(r.report()).unwrap();
    assert_schema(&v);
    v
}

fn json_causes(v: &serde_json::Value) -> Vec<String> {
    common::causes(v)
}

fn server_records(v: &serde_json::Value) -> u64 {
    v["server_records"].as_u64().expect("server_records")
}

/// The first detail of a cause.
fn detail<'a>(v: &'a serde_json::Value, cause: &str) -> &'a str {
    v["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cause"] == cause)
        .and_then(|d| d["detail"].as_str())
        .unwrap_or_else(|| panic!("no {cause} in {v}"))
}

/// A TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM-SHA256, no extensions) in one record.
fn server_hello_tls12() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]);
    body.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    let mut msg = vec![2, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    tls_record(22, &msg)
}

/// Writes `unit` again and again (at most `times`) until the client goes away.
fn repeat(s: &mut TcpStream, unit: &[u8], times: usize) {
    // Batches of units: fewer system calls, same bytes.
    let batch = unit.repeat((4096 / unit.len()).max(1));
    let per_batch = batch.len() / unit.len();
    for _ in 0..times.div_ceil(per_batch) {
        if s.write_all(&batch).is_err() {
            return;
        }
    }
}

/// A server that reads the hello, then floods `unit` up to `times` times.
fn flood(unit: Vec<u8>, times: usize) -> (ProbeResult, serde_json::Value) {
    let peer = hostile_peer(move |mut s| {
        read_some(&mut s);
        repeat(&mut s, &unit, times);
        // Keep the connection open a little: the probe must stop on its own.
        thread::sleep(Duration::from_millis(500));
    });
    let (r, _) = run(peer.addr, Duration::from_secs(10));
    let v = json(&r);
    (r, v)
}

/// The flood ends as `no_progress` at the record budget (1,000 records without a new
/// handshake message), not at the time-out or the byte cap.
fn assert_no_progress(v: &serde_json::Value, max_records: u64) {
    assert_eq!(v["outcome"], "no_progress", "{v}");
    assert!(json_causes(v).contains(&"no_progress".to_string()), "{v}");
    assert!(server_records(v) <= max_records, "{}", server_records(v));
    assert!(!detail(v, "no_progress").is_empty());
}

#[test]
fn empty_handshake_record_flood_is_no_progress() {
    let (_, v) = flood(tls_record(22, &[]), 10_000);
    assert_no_progress(&v, 1000);
    let d = detail(&v, "no_progress");
    assert!(
        d.contains("1,000 records") && d.contains("no ServerHello"),
        "{d}"
    );
}

#[test]
fn one_byte_application_data_flood_before_server_hello_is_no_progress() {
    let (_, v) = flood(tls_record(23, &[0x41]), 10_000);
    assert_no_progress(&v, 1000);
    assert!(detail(&v, "no_progress").contains("application_data"));
}

#[test]
fn endless_change_cipher_spec_is_no_progress() {
    let (_, v) = flood(tls_record(20, &[1]), usize::MAX);
    assert_no_progress(&v, 1000);
    assert!(detail(&v, "no_progress").contains("change_cipher_spec"));
}

#[test]
fn endless_hello_requests_are_no_progress() {
    let (_, v) = flood(tls_record(22, &[0, 0, 0, 0]), usize::MAX);
    // The first HelloRequest is a new message; the 1,000 after it are not progress.
    assert_no_progress(&v, 1001);
}

#[test]
fn warning_alert_storm_is_no_progress() {
    // Warning unrecognized_name, endlessly.
    let (_, v) = flood(tls_record(21, &[1, 112]), usize::MAX);
    assert_no_progress(&v, 1000);
    assert!(detail(&v, "no_progress").contains("alert"));
}

#[test]
fn record_flood_after_server_hello_is_no_progress_at_the_read_cap() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        if !write_quietly(&mut s, &server_hello_tls12()) {
            return;
        }
        repeat(&mut s, &tls_record(23, &[0x41; 16384]), usize::MAX);
    });
    let (r, _) = run(peer.addr, Duration::from_secs(10));
    let v = json(&r);
    // 256 KiB of read cap: 16 full records and the ServerHello.
    assert_no_progress(&v, 17);
    let d = detail(&v, "no_progress");
    assert!(
        d.contains("no further handshake message") && d.contains("read cap"),
        "{d}"
    );
}

#[test]
fn a_16_mib_certificate_is_a_malformed_message() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        // A Certificate message announcing 16 MiB - 4 bytes, sent in full records.
        let mut first = server_hello_tls12();
        let mut msg = vec![11, 0xff, 0xff, 0xfc, 0xff, 0xff, 0xf9];
        msg.resize(16384, 0x30);
        first.extend(tls_record(22, &msg));
        if !write_quietly(&mut s, &first) {
            return;
        }
        repeat(&mut s, &tls_record(22, &[0x30; 16384]), 1024);
    });
    let (r, _) = run(peer.addr, Duration::from_secs(10));
    let v = json(&r);
    assert_eq!(v["outcome"], "incomplete", "{v}");
    assert!(
        json_causes(&v).contains(&"malformed_message".to_string()),
        "{v}"
    );
    let d = detail(&v, "malformed_message");
    assert!(d.contains("16777212 bytes"), "{d}");
    assert!(server_records(&v) <= 2, "{v}");
}

#[test]
fn half_open_connection_times_out_as_silence() {
    // Accepts, never reads or writes, keeps the socket open.
    let peer = hostile_peer(|s| {
        thread::sleep(Duration::from_secs(3));
        drop(s);
    });
    let (r, _) = run(peer.addr, Duration::from_secs(1));
    let v = json(&r);
    assert_eq!(v["outcome"], "timeout", "{v}");
    assert_eq!(json_causes(&v), ["timeout"]);
    assert_eq!(server_records(&v), 0);
    assert!(
        detail(&v, "timeout").starts_with("the server sent nothing after the ClientHello"),
        "{v}"
    );
}

#[test]
fn a_server_that_answers_only_on_the_second_connection() {
    let connections = AtomicUsize::new(0);
    let peer = hostile_peer(move |mut s| {
        read_some(&mut s);
        if connections.fetch_add(1, Ordering::SeqCst) == 0 {
            // First connection: closed without a word.
            return;
        }
        let mut answer = server_hello_tls12();
        answer.extend(tls_record(22, &[14, 0, 0, 0])); // ServerHelloDone
        write_quietly(&mut s, &answer);
        thread::sleep(Duration::from_millis(500));
    });
    let (first, _) = run(peer.addr, Duration::from_secs(3));
    let v = json(&first);
    assert_eq!(v["outcome"], "closed", "{v}");
    assert_eq!(json_causes(&v), ["connection_closed"]);
    assert_eq!(server_records(&v), 0);
    let (second, _) = run(peer.addr, Duration::from_secs(3));
    let v = json(&second);
    assert_eq!(v["outcome"], "server_hello", "{v}");
    assert_eq!(server_records(&v), 2);
}

#[test]
fn a_server_trickling_empty_records_byte_by_byte_is_no_progress() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        let _ = s.set_nodelay(true);
        let unit = tls_record(22, &[]);
        for _ in 0..3000 {
            for b in &unit {
                if !write_quietly(&mut s, &[*b]) {
                    return;
                }
            }
            thread::sleep(Duration::from_micros(50));
        }
    });
    let (r, _) = run(peer.addr, Duration::from_secs(20));
    let v = json(&r);
    assert_no_progress(&v, 1000);
}

#[test]
fn a_time_out_after_records_says_the_server_talked() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        // Twenty empty handshake records, then silence.
        write_quietly(&mut s, &tls_record(22, &[]).repeat(20));
        thread::sleep(Duration::from_secs(3));
    });
    let (r, _) = run(peer.addr, Duration::from_secs(1));
    let v = json(&r);
    assert_eq!(v["outcome"], "timeout", "{v}");
    assert_eq!(server_records(&v), 20);
    let d = detail(&v, "timeout");
    assert!(d.contains("timeout after 20 records"), "{d}");
    assert!(!d.contains("sent nothing"), "{d}");
}

#[test]
fn a_garbage_certificate_is_worded_by_us_with_the_library_text_in_json_only() {
    let peer = hostile_peer(|mut s| {
        read_some(&mut s);
        // A Certificate whose one entry is a TLS record header, not DER (tag 20).
        let garbage = [0x14, 0x03, 0x03, 0x00, 0x01];
        let mut list = vec![0, 0, garbage.len() as u8];
        list.extend_from_slice(&garbage);
        let mut body = vec![0, 0, list.len() as u8];
        body.extend_from_slice(&list);
        let mut cert = vec![11, 0, 0, body.len() as u8];
        cert.extend_from_slice(&body);
        let mut answer = server_hello_tls12();
        answer.extend(tls_record(22, &cert));
        answer.extend(tls_record(22, &[14, 0, 0, 0])); // ServerHelloDone
        write_quietly(&mut s, &answer);
        thread::sleep(Duration::from_millis(500));
    });
    let (r, _) = run(peer.addr, Duration::from_secs(3));
    let v = json(&r);
    let d = v["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cause"] == "certificate_unparseable")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(
        d["detail"],
        "certificate 0 is not valid DER: expected a SEQUENCE, found tag 20"
    );
    let library = d["library_detail"].as_str().unwrap();
    assert!(library.contains("UnexpectedTag"), "{library}");
    let mut text = Vec::new();
    shakedown::report::text::diagnoses(&mut text, &r.diagnosis).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("expected a SEQUENCE"), "{text}");
    assert!(
        !text.contains("UnexpectedTag") && !text.contains("Der("),
        "{text}"
    );
}

/// pcap reads with the same tracker: the probe's own capture of a CCS flood ends as
/// `no_progress` there too, a failure with its cause (pcap's JSON has no `server_records`:
/// the detail's count says where it stopped).
#[test]
fn pcap_of_an_endless_ccs_server_is_no_progress_too() {
    let unit = tls_record(20, &[1]);
    let peer = hostile_peer(move |mut s| {
        read_some(&mut s);
        repeat(&mut s, &unit, usize::MAX);
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ccs.pcap");
    let (code, probe) = common::json_output(common::shakedown().args([
        "probe",
        &peer.addr.to_string(),
        "--timeout",
        "10",
        "--json",
        "--pcap-out",
        file.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{probe}");
    assert_eq!(probe["outcome"], "no_progress", "{probe}");
    let (_, conn) =
        common::json_output(common::shakedown().args(["pcap", file.to_str().unwrap(), "--json"]));
    assert_eq!(conn["outcome"], "no_progress", "{conn}");
    assert_eq!(json_causes(&conn), ["no_progress"]);
    assert_eq!(conn["failed"], true);
    let d = detail(&conn, "no_progress");
    assert!(
        d.contains("1,000 records") && d.contains("change_cipher_spec"),
        "{d}"
    );
}
