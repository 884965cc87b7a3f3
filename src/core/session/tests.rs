//! The tracker's unit tests, fed bytes end to end through `on_data` and `on_end` (a few
//! look at a side's buffers): not-TLS peers, framing and size bounds, ends, alerts, TLS 1.3
//! inference without keys, SSLv2, the no-progress budget, mid-stream resynchronisation.

use super::*;
use crate::core::crypto::tls12::{handshake_message as handshake, record};
use crate::core::wire::Extension;
use Direction::{ClientToServer as C, ServerToClient as S};

fn client_hello() -> Vec<u8> {
    ClientHello {
        record_version: 0x0301,
        legacy_version: 0x0303,
        random: [1; 32],
        session_id: vec![],
        cipher_suites: vec![0x1301, 0xc02f],
        compression_methods: vec![0],
        extensions: Some(vec![Extension {
            typ: 43,
            data: vec![4, 3, 4, 3, 3],
        }]),
    }
    .to_records(None)
    .unwrap()
}

fn server_hello(version: u16) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[2; 32]);
    b.push(0);
    let suite: u16 = if version == 0x0304 { 0x1301 } else { 0xc02f };
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    let mut exts = vec![0, 43, 0, 2];
    exts.extend_from_slice(&version.to_be_bytes());
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    record(22, &handshake(2, &b))
}

fn tracker_after_hello() -> Tracker {
    let mut t = Tracker::new();
    t.on_data(C, &client_hello(), 0);
    t
}

#[test]
fn empty_data_changes_nothing() {
    let mut t = Tracker::new();
    t.on_data(C, &[], 5);
    t.on_data(S, &[], 6);
    assert!(!t.decided());
    assert_eq!(t.verdict(), &Verdict::default());
}

#[test]
fn http_answer_is_not_tls() {
    let mut t = tracker_after_hello();
    t.on_data(S, b"HTTP/1.1 400 Bad", 10);
    assert!(t.decided());
    t.on_data(S, b" Request\r\n\r\n", 11);
    t.on_end(S, EndKind::Fin, 12);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::NotTls);
    assert_eq!(
        v.not_tls.as_deref(),
        Some("server sent HTTP response: \"HTTP/1.1 400 Bad Request\\r\\n\\r\\n\"")
    );
    assert_eq!(v.decided_at, Some(10));
}

#[test]
fn garbage_is_not_tls_with_a_preview() {
    let mut t = Tracker::new();
    t.on_data(S, &[0x00, 0x01, b'x', 0xff], 1);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::NotTls);
    assert_eq!(
        v.not_tls.as_deref(),
        Some("server sent unrecognised bytes \"\\x00\\x01x\\xff\"")
    );
}

#[test]
fn huge_lengths_are_errors() {
    let mut t = tracker_after_hello();
    t.on_data(S, &[22, 3, 3, 0xff, 0xff], 1);
    assert!(t.decided());
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::Incomplete);
    assert_eq!(
        v.error.as_deref(),
        Some("server: record header announces 65535 bytes, max 18432")
    );
    // A handshake message announcing 2^24-1 bytes.
    let mut t = tracker_after_hello();
    t.on_data(S, &record(22, &[11, 0xff, 0xff, 0xff]), 1);
    assert_eq!(
        t.verdict().error.as_deref(),
        Some("server: handshake message announces 16777215 bytes, max 1048576")
    );
    // Nothing more is buffered from that side.
    t.on_data(S, &vec![0; 100_000], 2);
    assert_eq!(t.sides[1].deframer.buffered(), 0);
}

#[test]
fn endless_small_records_stay_bounded() {
    let mut t = tracker_after_hello();
    t.on_data(S, &server_hello(0x0303), 1);
    let tiny = record(23, &[0]).repeat(50_000);
    t.on_data(S, &tiny, 2);
    let v = t.verdict();
    assert_eq!(v.events.len(), MAX_EVENTS);
    assert!(
        v.events
            .last()
            .unwrap()
            .what
            .to_string()
            .contains("more events not kept")
    );
    // 1-byte handshake fragments of one big message: bounded by the message cap, and
    // stopped at the record budget without progress.
    let mut t = tracker_after_hello();
    let mut frags = record(22, &[11, 0x0f, 0xff, 0xff]);
    frags.extend(record(22, &[0]).repeat(20_000));
    t.on_data(S, &frags, 1);
    assert_eq!(t.sides[1].joiner.buffered(), 4 + NO_PROGRESS_RECORDS - 1);
    assert_eq!(t.verdict().outcome, Outcome::NoProgress);
    assert!(t.decided());
}

#[test]
fn truncated_server_hello_then_fin() {
    let mut t = tracker_after_hello();
    let mut partial = record(22, &handshake(2, &[3, 3, 0, 0]));
    partial[3..5].copy_from_slice(&4u16.to_be_bytes());
    partial[5..9].copy_from_slice(&[2, 0, 0, 100]);
    t.on_data(S, &partial[..9], 1);
    t.on_end(S, EndKind::Fin, 2);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::Closed);
    assert!(
        v.events
            .iter()
            .any(|e| e.what.to_string() == "truncated ServerHello: 0 of 100 bytes"),
        "{:?}",
        v.events
    );
    let d = v.diverged.as_ref().unwrap();
    assert_eq!(
        (d.by, d.after.as_str(), d.event.as_str()),
        (S, "ClientHello", "close")
    );
}

#[test]
fn ends_before_an_answer() {
    for (kind, outcome) in [
        (EndKind::Rst, Outcome::Reset),
        (EndKind::Fin, Outcome::Closed),
        (EndKind::Timeout, Outcome::Timeout),
        (EndKind::Gap, Outcome::Incomplete),
    ] {
        let mut t = tracker_after_hello();
        t.on_end(S, kind, 9);
        // A second end does not overwrite the first.
        t.on_end(C, EndKind::Fin, 10);
        let v = t.verdict();
        assert_eq!(v.outcome, outcome, "{kind:?}");
        assert_eq!(v.end.unwrap().kind, kind);
        assert_eq!(v.diverged.as_ref().unwrap().by, S);
        assert_eq!(v.diverged.as_ref().unwrap().event, kind.as_str());
        assert!(t.decided());
    }
}

#[test]
fn warning_alert_does_not_stop_the_handshake() {
    let mut t = tracker_after_hello();
    let mut flight = record(21, &[1, 112]);
    flight.extend(server_hello(0x0303));
    t.on_data(S, &flight, 1);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::ServerHello);
    assert_eq!(v.alert.unwrap().alert.description, 112);
    assert_eq!(v.history, "Cls");
}

#[test]
fn encrypted_records_after_ccs_are_not_alerts() {
    let mut t = tracker_after_hello();
    let mut flight = server_hello(0x0303);
    flight.extend(record(22, &handshake(14, &[])));
    t.on_data(S, &flight, 1);
    assert!(t.decided());
    let mut c = record(22, &handshake(16, &[0; 33]));
    c.extend(record(20, &[1]));
    // Ciphertext whose first bytes look like a fatal alert.
    c.extend(record(22, &[2, 40, 9, 9, 9, 9]));
    c.extend(record(21, &[2, 40, 7, 7]));
    t.on_data(C, &c, 2);
    let v = t.verdict();
    assert!(v.alert.is_none());
    assert_eq!(v.client_encrypted_records, 2);
    assert_eq!(v.history, "CsnGI");
    // The client sent an (encrypted) alert instead of waiting: it diverged.
    assert_eq!(v.diverged.as_ref().unwrap().event, "encrypted alert");
}

#[test]
fn tls13_client_alert_is_inferred_from_size_and_close() {
    let mut t = tracker_after_hello();
    let mut flight = server_hello(0x0304);
    flight.extend(record(20, &[1]));
    flight.extend(record(23, &[0; 40]));
    flight.extend(record(23, &[0; 900]));
    t.on_data(S, &flight, 1);
    assert!(t.decided());
    assert_eq!(t.verdict().outcome, Outcome::ServerHello);
    let mut c = record(20, &[1]);
    c.extend(record(23, &[0; TLS13_ALERT_RECORD_LEN]));
    t.on_data(C, &c, 2);
    t.on_end(C, EndKind::Fin, 3);
    let v = t.verdict();
    assert!(!v.established);
    assert_eq!(v.outcome, Outcome::Closed);
    let d = v.diverged.as_ref().unwrap();
    assert_eq!(d.by, C);
    assert_eq!(d.event, "encrypted alert (inferred)");
    assert_eq!(d.after, "server's encrypted handshake");
    assert!(v.events.iter().any(|e| {
        e.what
            .to_string()
            .starts_with("probably an encrypted alert")
    }));
}

#[test]
fn tls13_plaintext_alert_after_server_hello_is_read() {
    let mut t = tracker_after_hello();
    t.on_data(S, &server_hello(0x0304), 1);
    t.on_data(C, &record(21, &[2, 47]), 2);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::Alert);
    assert_eq!(v.alert.unwrap().from, C);
    assert_eq!(v.diverged.as_ref().unwrap().after, "ServerHello");
}

#[test]
fn plaintext_behind_a_fatal_alert_is_not_read() {
    // vsftpd after AUTH TLS: protocol_version, then "500 OOPS: …" in one read.
    let mut t = tracker_after_hello();
    let mut answer = record(21, &[2, 70]);
    answer.extend_from_slice(b"500 OOPS: error:0A000102:SSL routines::unsupported protocol\r\n");
    t.on_data(S, &answer, 1);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::Alert);
    assert_eq!(v.error, None);
    assert_eq!(v.not_tls, None);
}

#[test]
fn sslv2_hellos_are_detected() {
    // SSLv2 CLIENT-HELLO: version 3.1, 3 bytes of cipher specs, 16-byte challenge.
    let mut body = vec![1, 3, 1, 0, 3, 0, 0, 0, 16, 1, 0, 0x80];
    body.extend_from_slice(&[7; 16]);
    let mut rec = vec![0x80, body.len() as u8];
    rec.extend_from_slice(&body);
    let mut t = Tracker::new();
    for b in &rec {
        t.on_data(C, &[*b], 0);
    }
    assert_eq!(t.verdict().sslv2_client_hello.as_deref(), Some(&rec[..]));
    assert_eq!(t.verdict().history, "C");
    // SSLv2 SERVER-HELLO: type 4, hit 0, cert type 1, version 0x0002, ...
    let sh = [0x80, 0x0b, 4, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0];
    t.on_data(S, &sh, 1);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::ServerHello);
    assert_eq!(v.version, Some(0x0002));
    assert_eq!(v.history, "Cs");
    assert!(t.decided());
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn hostile_bytes_never_panic() {
    let base = [client_hello(), server_hello(0x0303), server_hello(0x0304)].concat();
    for seed in 0..300u64 {
        let mut t = Tracker::new();
        // Valid framing with corrupted contents: flip a few bytes of real messages.
        let mut bytes = base.clone();
        let flips = noise(seed, 8);
        for pair in flips.chunks(2) {
            let i = pair[0] as usize * 7 % bytes.len();
            bytes[i] ^= pair[1] | 1;
        }
        let cut = bytes.len() / 3;
        t.on_data(C, &bytes[..cut], 1);
        t.on_data(S, &bytes[cut..], 2);
        // And plain noise behind a plausible header.
        let mut rec = vec![22, 3, 3, 1, 0];
        rec.extend(noise(seed + 1000, 256));
        t.on_data(S, &rec, 3);
        t.on_end(S, EndKind::Fin, 4);
        assert!(t.decided());
    }
}

/// Each endless kind of record ends as `no_progress` at the record budget, and nothing
/// more of the server is read after it.
#[test]
fn endless_records_without_progress_end_as_no_progress() {
    let floods: [(&str, Vec<u8>); 5] = [
        ("empty handshake", record(22, &[])),
        ("ccs", record(20, &[1])),
        ("warning alert", record(21, &[1, 112])),
        ("hello request", record(22, &handshake(0, &[]))),
        ("1-byte application data", record(23, &[0])),
    ];
    for (name, rec) in floods {
        let mut t = tracker_after_hello();
        for i in 0..NO_PROGRESS_RECORDS + 50 {
            t.on_data(S, &rec, 1 + i as Micros);
        }
        let v = t.verdict();
        assert_eq!(v.outcome, Outcome::NoProgress, "{name}: {v:?}");
        assert!(t.decided(), "{name}");
        // A first HelloRequest is a new message (progress); the rest are not.
        assert_eq!(v.stall.records, NO_PROGRESS_RECORDS, "{name}");
        assert!(v.server_records <= NO_PROGRESS_RECORDS + 1, "{name}");
        assert_eq!(v.stall.ended_by, Some(StallLimit::Records), "{name}");
        assert_eq!(v.diverged.as_ref().unwrap().event, "no progress", "{name}");
    }
}

#[test]
fn a_large_message_in_small_records_is_progress_not_a_stall() {
    let mut t = tracker_after_hello();
    t.on_data(S, &server_hello(0x0303), 1);
    // A 600-byte message of an unknown type in 1-byte fragments.
    let msg = handshake(99, &[7; 596]);
    for (i, b) in msg.iter().enumerate() {
        t.on_data(S, &record(22, &[*b]), 2 + i as Micros);
    }
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::ServerHello, "{v:?}");
    assert_eq!(v.stall.records, 0);
}

#[test]
fn a_read_cap_during_a_stall_is_no_progress() {
    let mut t = tracker_after_hello();
    for i in 0..10 {
        t.on_data(S, &record(23, &[0; 1000]), 1 + i);
    }
    t.on_end(S, EndKind::ByteCap, 20);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::NoProgress);
    assert_eq!(v.stall.ended_by, Some(StallLimit::ReadCap));
    assert_eq!(v.stall.records, 10);
}

#[test]
fn a_connection_picked_up_mid_stream_is_not_judged() {
    let mut t = Tracker::new();
    for i in 0..NO_PROGRESS_RECORDS + 10 {
        t.on_data(S, &record(23, &[0; 40]), i as Micros);
    }
    assert_ne!(t.verdict().outcome, Outcome::NoProgress);
    assert_eq!(t.verdict().stall.records, 0);
}

#[test]
fn opaque_records_after_the_handshake_are_not_judged() {
    let mut t = tracker_after_hello();
    t.on_data(S, &server_hello(0x0304), 1);
    for i in 0..NO_PROGRESS_RECORDS + 10 {
        t.on_data(S, &record(23, &[0; 40]), 2 + i as Micros);
    }
    assert_ne!(t.verdict().outcome, Outcome::NoProgress);
}

/// A direction picked up mid-stream finds its first whole record whatever the noise
/// before it and however the bytes are cut into deliveries; a direction of noise alone
/// gives up within the window and reads nothing.
#[test]
fn mid_stream_resync_is_independent_of_chunking() {
    let flight = [server_hello(0x0303), record(22, &handshake(14, &[]))].concat();
    for noise_len in [1usize, 4, 5, 6, 300, 5000] {
        // Noise that cannot start a record at its first byte.
        let mut prefix = noise(noise_len as u64, noise_len);
        prefix[0] = 0xff;
        let bytes = [prefix, flight.clone(), alert_bytes()].concat();
        for chunk in [1usize, 2, 3, 7, 100, 1 << 16] {
            let mut t = Tracker::new();
            t.picked_up_mid_stream();
            for (i, c) in bytes.chunks(chunk).enumerate() {
                t.on_data(S, c, i as Micros);
            }
            t.on_end(S, EndKind::Fin, 1 << 20);
            let v = t.verdict();
            assert_eq!(v.history, "snl", "{noise_len} {chunk}: {:?}", v.events);
            assert_eq!(v.outcome, Outcome::Alert, "{noise_len} {chunk}");
            let skipped = format!(
                "picked up mid-stream: {noise_len} bytes before the first whole record skipped"
            );
            assert!(
                v.events.iter().any(|e| e.what.to_string() == skipped),
                "{noise_len} {chunk}: {:?}",
                v.events
            );
        }
    }
    for seed in 0..50 {
        let mut t = Tracker::new();
        t.picked_up_mid_stream();
        let bytes = noise(seed, 2 * RESYNC_WINDOW);
        for c in bytes.chunks(1000) {
            t.on_data(S, c, 1);
        }
        let v = t.verdict();
        assert!(v.server_hello.is_none() && v.history.is_empty(), "{seed}");
        assert!(t.mid_stream_unreadable(), "{seed}: {:?}", v.events);
    }
}

fn alert_bytes() -> Vec<u8> {
    record(21, &[2, 40])
}
