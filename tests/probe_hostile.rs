//! Hostile peers scripted in the test: each must give a clear outcome within the deadline,
//! in bounded memory, and never a panic or a hang.

mod common;

use common::{hostile_peer, read_some, write_quietly};
use shakedown::commands::probe::{self, HelloSource, ProbeConfig, ProbeResult};
use shakedown::io::net::{Limits, Target};
use std::io::Write;
use std::net::SocketAddr;
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
