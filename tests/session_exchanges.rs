//! Replays real TLS exchanges recorded on loopback (tests/exchanges/*.txt, made by
//! tests/exchanges/record.py with openssl s_server/s_client) into the session tracker.

use shakedown::core::flow::{Direction, EndKind, Micros};
use shakedown::core::session::{Outcome, Tracker, Verdict};

enum Step {
    Data(Direction, Micros, Vec<u8>),
    End(Direction, Micros, EndKind),
}

fn load(name: &str) -> Vec<Step> {
    let path = format!("{}/tests/exchanges/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut steps = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split(' ').collect();
        let dir = match f[0] {
            "C" => Direction::ClientToServer,
            "S" => Direction::ServerToClient,
            other => panic!("bad direction {other:?} in {path}"),
        };
        let at: Micros = f[1].parse().unwrap();
        steps.push(match f[2] {
            "end" => Step::End(
                dir,
                at,
                match f[3] {
                    "fin" => EndKind::Fin,
                    "rst" => EndKind::Rst,
                    "timeout" => EndKind::Timeout,
                    other => panic!("bad end {other:?}"),
                },
            ),
            hex => Step::Data(dir, at, hex::decode(hex).unwrap()),
        });
    }
    steps
}

/// Replays a recording; `chunk` re-splits data into pieces of that size (1 = byte by byte),
/// which must not change the verdict.
fn replay(name: &str, chunk: Option<usize>) -> Verdict {
    let mut t = Tracker::new();
    for step in load(name) {
        match step {
            Step::Data(dir, at, bytes) => match chunk {
                None => t.on_data(dir, &bytes, at),
                Some(n) => bytes.chunks(n).for_each(|c| t.on_data(dir, c, at)),
            },
            Step::End(dir, at, kind) => t.on_end(dir, kind, at),
        }
    }
    t.verdict().clone()
}

const ALL: [&str; 6] = [
    "tls12_ok",
    "tls13_ok",
    "tls13_hrr",
    "tls12_server_vs_tls10_client",
    "tls12_client_cert_required",
    "tls13_client_cert_required",
];

#[test]
fn tls12_success() {
    let v = replay("tls12_ok", None);
    assert_eq!(v.outcome, Outcome::Established);
    assert!(v.established);
    // Zeek's letters for the same exchange; the encrypted Finished messages have none.
    assert_eq!(v.history, "CsxknGIti");
    assert_eq!(v.version, Some(0x0303));
    assert_eq!(v.cipher, Some(0xc030));
    assert_eq!(v.group, Some(0x001d));
    assert_eq!(v.certificates.len(), 1);
    assert!(v.alert.is_none() && v.diverged.is_none() && v.error.is_none());
    // close_notify after the handshake: two encrypted alerts, counted not decoded.
    assert!(
        v.events
            .iter()
            .any(|e| e.what.to_string() == "encrypted alert (26 bytes)")
    );
    // Decided as soon as ServerHelloDone arrived (the server's first flight).
    let server_first = v
        .events
        .iter()
        .find(|e| e.dir == Direction::ServerToClient)
        .unwrap();
    assert_eq!(v.decided_at, Some(server_first.at));
}

#[test]
fn tls13_success() {
    let v = replay("tls13_ok", None);
    assert_eq!(v.outcome, Outcome::Established);
    assert_eq!(v.history, "CsiI");
    assert_eq!(v.version, Some(0x0304));
    assert_eq!(v.cipher, Some(0x1302));
    assert_eq!(v.group, Some(0x001d));
    assert!(
        v.certificates.is_empty(),
        "TLS 1.3 certificates are encrypted"
    );
    assert!(v.alert.is_none() && v.diverged.is_none());
    // Encrypted records after the ServerHello are not misread as alerts or handshakes.
    assert!(v.server_encrypted_records >= 4);
    assert!(v.client_encrypted_records >= 1);
    assert_eq!(
        v.decided_at,
        Some(1400),
        "ServerHello and encrypted flight came in one read"
    );
}

#[test]
fn tls13_hello_retry_request() {
    let v = replay("tls13_hrr", None);
    let hrr = v.hello_retry_request.as_ref().expect("HRR seen");
    assert!(hrr.is_hello_retry_request());
    assert_eq!(hrr.key_share_group(), Some(0x0017));
    assert_eq!(hrr.selected_version(), 0x0304);
    // The second ServerHello is a real one; the handshake then completes.
    assert!(!v.server_hello.as_ref().unwrap().is_hello_retry_request());
    assert_eq!(v.history, "CjiICs");
    assert_eq!(v.outcome, Outcome::Established);
    assert_eq!(v.group, Some(0x0017));
    // The first ClientHello is the one kept (x25519 share), and its wire bytes replay it.
    let ch = v.client_hello.as_ref().unwrap();
    assert_eq!(ch.key_shares()[0].0, 0x001d);
    assert_eq!(
        v.client_hello_wire.as_ref().unwrap(),
        &ch.to_records(None).unwrap()
    );
    // Decided at the HRR (237 µs), then undecided by the second ClientHello: the verdict
    // comes from the second round.
    assert!(v.decided_at.is_some_and(|t| t > 237), "{:?}", v.decided_at);
    let mut live = Tracker::new();
    for step in load("tls13_hrr").into_iter().take(2) {
        if let Step::Data(dir, at, bytes) = step {
            live.on_data(dir, &bytes, at);
        }
    }
    assert!(live.decided());
    assert_eq!(live.verdict().decided_at, Some(237));
    assert_eq!(live.verdict().outcome, Outcome::HelloRetryRequest);
}

#[test]
fn protocol_version_alert() {
    let v = replay("tls12_server_vs_tls10_client", None);
    assert_eq!(v.outcome, Outcome::Alert);
    assert_eq!(v.history, "Cl");
    let a = v.alert.unwrap();
    assert_eq!(a.from, Direction::ServerToClient);
    assert_eq!((a.alert.level, a.alert.description), (2, 70));
    let d = v.diverged.unwrap();
    assert_eq!(d.by, Direction::ServerToClient);
    assert_eq!(d.after, "ClientHello");
    assert_eq!(d.event, "alert protocol_version");
    assert_eq!(v.client_hello.unwrap().legacy_version, 0x0301);
    assert_eq!(v.version, None);
}

#[test]
fn tls12_client_certificate_required() {
    let v = replay("tls12_client_cert_required", None);
    assert_eq!(v.outcome, Outcome::Alert);
    assert_eq!(v.history, "CsxkrnXGIl");
    assert!(v.certificate_request.is_some());
    assert!(
        !v.certificate_request
            .as_ref()
            .unwrap()
            .signature_algorithms
            .is_empty()
    );
    assert!(v.events.iter().any(
        |e| e.what.to_string() == "Certificate (0 certs)" && e.dir == Direction::ClientToServer
    ));
    let a = v.alert.unwrap();
    assert_eq!(
        (a.from, a.alert.description),
        (Direction::ServerToClient, 40)
    );
    let d = v.diverged.unwrap();
    assert_eq!(
        (d.by, d.after.as_str()),
        (Direction::ServerToClient, "Finished")
    );
    assert!(!v.established);
}

#[test]
fn tls13_client_certificate_required_is_inferred() {
    let v = replay("tls13_client_cert_required", None);
    // The alert is encrypted: it cannot be read, only inferred from its size and the close.
    assert!(v.alert.is_none());
    assert!(!v.established);
    assert_eq!(v.outcome, Outcome::Closed);
    let d = v.diverged.unwrap();
    assert_eq!(d.by, Direction::ServerToClient);
    assert_eq!(d.event, "encrypted alert (inferred)");
    assert!(
        v.events
            .iter()
            .any(|e| e.what.to_string().contains("inferred"))
    );
    assert_eq!(v.version, Some(0x0304));
}

#[test]
fn chunking_does_not_change_verdicts() {
    for name in ALL {
        let whole = replay(name, None);
        for n in [1, 3, 7, 1000] {
            assert_eq!(replay(name, Some(n)), whole, "{name} in chunks of {n}");
        }
    }
}

#[test]
fn live_probe_stops_when_server_flight_read() {
    // Feed only the client hello and the server's first delivery: decided, outcome
    // server_hello, for both versions.
    for (name, version) in [("tls12_ok", 0x0303), ("tls13_ok", 0x0304)] {
        let mut t = Tracker::new();
        for step in load(name).into_iter().take(2) {
            if let Step::Data(dir, at, bytes) = step {
                t.on_data(dir, &bytes, at);
            }
        }
        assert!(t.decided(), "{name}");
        assert_eq!(t.verdict().outcome, Outcome::ServerHello, "{name}");
        assert_eq!(t.verdict().version, Some(version));
    }
}

#[test]
fn truncated_server_flight_then_close() {
    // The TLS 1.2 server flight cut in the middle of the Certificate, then FIN.
    let steps = load("tls12_ok");
    let mut t = Tracker::new();
    let mut it = steps.into_iter();
    let Some(Step::Data(d, at, ch)) = it.next() else {
        panic!()
    };
    t.on_data(d, &ch, at);
    let Some(Step::Data(d, at, flight)) = it.next() else {
        panic!()
    };
    t.on_data(d, &flight[..300], at);
    assert!(!t.decided());
    t.on_end(Direction::ServerToClient, EndKind::Fin, at + 1);
    let v = t.verdict();
    assert_eq!(v.outcome, Outcome::Closed);
    assert!(t.decided());
    let d = v.diverged.as_ref().unwrap();
    assert_eq!(
        (d.by, d.after.as_str(), d.event.as_str()),
        (Direction::ServerToClient, "ServerHello", "close")
    );
    assert!(
        v.events
            .iter()
            .any(|e| e.what.to_string() == "truncated record: 225 of 791 bytes, in Certificate"),
        "{:?}",
        v.events
    );
}
