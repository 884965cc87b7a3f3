//! `shakedown pcap` over QUIC: captures built by the test from QUIC packets protected as
//! RFC 9001 says (the sealing is checked byte for byte against RFC 9001 / RFC 9369
//! Appendix A in the crypto unit tests), covering what FoxIO's captures do not: a hello
//! whose CRYPTO frames arrive out of order across datagrams, coalesced packets, QUIC v2, a
//! CONNECTION_CLOSE carrying a TLS alert, Retry, Version Negotiation, and UDP that is not
//! QUIC. FoxIO's own QUIC captures are compared in pcap_oracle.rs.

mod common;

use common::events;

use shakedown::commands::pcap::{AnalyzeOptions, ConnectionReport, analyze};
use shakedown::core::crypto::hello;
use shakedown::core::crypto::quic::{initial_keys, protect_long, put_varint};
use shakedown::core::flow::Transport;
use shakedown::core::wire::build::HelloSpec;
use shakedown::core::wire::quic::{PacketType, VERSION_1, VERSION_2};
use shakedown::io::capture::ReadOptions;
use shakedown::io::capture::writer::{LinkType, write_header};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 50_000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 443);

/// The ServerHello of RFC 9001 Appendix A.3 (TLS 1.3, TLS_AES_128_GCM_SHA256, x25519).
const SERVER_HELLO: &str = "020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b\
     9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bc\
     f32bb9da1a002b00020304";

/// A TLS 1.3 ClientHello for `quic.example` with ALPN h3, padded past one packet, as a
/// handshake message (no record header): what a QUIC client puts in CRYPTO frames.
fn client_hello() -> Vec<u8> {
    let spec = HelloSpec {
        session_id: Some(Vec::new()),
        alpn: Some(vec!["h3".into()].into()),
        pad_to: Some(1600),
        ..HelloSpec::default()
    };
    let mut n = 0u8;
    let wire = hello::build(&spec, Some("quic.example"), &mut |b: &mut [u8]| {
        for x in b {
            n = n.wrapping_add(1);
            *x = n;
        }
    })
    .unwrap()
    .wire;
    // One record: the handshake message follows its 5-byte header.
    assert_eq!(
        usize::from(u16::from_be_bytes([wire[3], wire[4]])) + 5,
        wire.len()
    );
    wire[5..].to_vec()
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    put_varint(&mut f, offset);
    put_varint(&mut f, data.len() as u64);
    f.extend_from_slice(data);
    f
}

/// A client's first Initial packet (QUIC v1, packet number 0, no source connection ID, no
/// token) to `dcid`, carrying all of `hello` in one CRYPTO frame.
fn client_initial(dcid: &[u8], hello: &[u8]) -> Vec<u8> {
    let keys = initial_keys(VERSION_1, dcid).unwrap();
    protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys.client,
        dcid,
        &[],
        &[],
        0,
        &crypto_frame(0, hello),
    )
}

/// CONNECTION_CLOSE (0x1c) with `code`, caused by a CRYPTO frame.
fn close_frame(code: u64, reason: &str) -> Vec<u8> {
    let mut f = vec![0x1c];
    put_varint(&mut f, code);
    put_varint(&mut f, 0x06);
    put_varint(&mut f, reason.len() as u64);
    f.extend_from_slice(reason.as_bytes());
    f
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

/// Builds a pcap of raw IPv4 UDP datagrams.
#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    at: u32,
}

impl Capture {
    fn new() -> Self {
        let mut bytes = Vec::new();
        write_header(&mut bytes, LinkType::Raw).unwrap();
        Capture { bytes, at: 0 }
    }

    fn udp(&mut self, from: ([u8; 4], u16), to: ([u8; 4], u16), payload: &[u8]) {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ipv4(from.0, to.0, 64)
            .udp(from.1, to.1)
            .write(&mut frame, payload)
            .unwrap();
        self.at += 1000;
        self.bytes
            .extend((1_700_000_000 + self.at / 1_000_000).to_le_bytes());
        self.bytes.extend((self.at % 1_000_000).to_le_bytes());
        self.bytes.extend((frame.len() as u32).to_le_bytes());
        self.bytes.extend((frame.len() as u32).to_le_bytes());
        self.bytes.extend(frame);
    }

    fn reports(&self) -> Vec<ConnectionReport> {
        let mut out = Vec::new();
        let (stats, err) = analyze(
            &self.bytes[..],
            &ReadOptions::default(),
            AnalyzeOptions::default(),
            &mut |r| out.push(r),
        );
        assert!(err.is_none(), "{err:?}");
        assert_eq!(stats.capture.malformed, 0);
        out.sort_by_key(|r| r.index);
        out
    }
}

/// The hello split in two CRYPTO frames, sent in two datagrams, the second half first; the
/// server refuses with CONNECTION_CLOSE 0x128 (TLS alert 40, handshake_failure), which is
/// diagnosed as the same alert over TCP is.
#[test]
fn hello_out_of_order_across_datagrams_then_alert_in_connection_close() {
    let hello = client_hello();
    assert!(hello.len() > 1500, "{}", hello.len());
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let scid = [0xc1, 0x1e, 0x47];
    let keys = initial_keys(VERSION_1, &dcid).unwrap();
    let split = 1000;
    let second = protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys.client,
        &dcid,
        &scid,
        &[],
        1,
        &crypto_frame(split as u64, &hello[split..]),
    );
    let first = protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys.client,
        &dcid,
        &scid,
        &[],
        0,
        &crypto_frame(0, &hello[..split]),
    );
    let mut frames = vec![0x02, 0x01, 0x00, 0x00, 0x01]; // ACK of packets 0 and 1
    frames.extend(close_frame(0x128, "no shared suite"));
    let refusal = protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys.server,
        &scid,
        &[0x5e, 0x77],
        &[],
        0,
        &frames,
    );
    let mut cap = Capture::new();
    cap.udp(CLIENT, SERVER, &second);
    cap.udp(CLIENT, SERVER, &first);
    cap.udp(SERVER, CLIENT, &refusal);
    let reports = cap.reports();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.transport, Transport::Quic);
    assert_eq!(r.sni.as_deref(), Some("quic.example"));
    assert_eq!(r.verdict.alpn(), None, "the server chose none");
    assert!(r.ja4().unwrap().starts_with("q13d"), "{:?}", r.ja4());
    assert_eq!(r.outcome(), "alert");
    let alert = r.verdict.alert.unwrap();
    assert_eq!(alert.alert.description, 40);
    let ev = events(r);
    assert!(
        ev.iter().any(|e| e
            .contains("CONNECTION_CLOSE crypto error (TLS alert 40) (0x128): \"no shared suite\"")),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e.contains("handshake_failure")), "{ev:?}");
    assert_eq!(
        r.verdict.diverged.as_ref().map(|d| d.event.as_str()),
        Some("alert handshake_failure")
    );
    assert!(!r.diagnosis.is_empty(), "a cause, as for TCP");
}

/// A whole handshake of `version`: the client's hello in two Initial packets to `dcid`,
/// the server's Initial (ServerHello) and Handshake packets coalesced in one datagram, then
/// the client's Handshake packet with its first 1-RTT (short header) packet coalesced after
/// it; `pause` microseconds of capture time after each datagram but the last.
fn coalesced_handshake(version: u32, dcid: &[u8], pause: u32) -> Capture {
    let hello = client_hello();
    let keys = initial_keys(version, dcid).unwrap();
    let mut cap = Capture::new();
    for (pn, range) in [(0, 0..1200), (1, 1200..hello.len())] {
        let p = protect_long(
            version,
            PacketType::Initial,
            &keys.client,
            dcid,
            &[1],
            &[],
            pn,
            &crypto_frame(range.start as u64, &hello[range]),
        );
        cap.udp(CLIENT, SERVER, &p);
        cap.at += pause;
    }
    let mut server = protect_long(
        version,
        PacketType::Initial,
        &keys.server,
        &[1],
        &[2, 2],
        &[],
        0,
        &crypto_frame(0, &hex(SERVER_HELLO)),
    );
    // A Handshake packet: keys we do not have; only its size is read.
    server.extend(protect_long(
        version,
        PacketType::Handshake,
        &keys.server,
        &[1],
        &[2, 2],
        &[],
        0,
        &[0x42; 900],
    ));
    cap.udp(SERVER, CLIENT, &server);
    cap.at += pause;
    let mut client = protect_long(
        version,
        PacketType::Handshake,
        &keys.client,
        &[2, 2],
        &[1],
        &[],
        0,
        &[0x42; 60],
    );
    client.extend([0x41, 2, 2, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    cap.udp(CLIENT, SERVER, &client);
    cap
}

/// QUIC v2; the server's Initial (ServerHello) and Handshake packets coalesced in one
/// datagram; the client's Handshake packet and its first 1-RTT packet: established.
#[test]
fn v2_coalesced_server_flight_then_client_one_rtt_is_established() {
    let reports = coalesced_handshake(VERSION_2, &[7u8; 12], 0).reports();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.transport, Transport::Quic);
    assert_eq!(r.outcome(), "established", "{:?}", events(r));
    assert_eq!(r.verdict.version, Some(0x0304));
    assert_eq!(r.verdict.cipher, Some(0x1301));
    assert_eq!(r.verdict.group, Some(0x001d));
    let ev = events(r);
    assert!(
        ev.iter().any(|e| e.contains("QUIC Handshake packet")),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e == "first 1-RTT packet"), "{ev:?}");
    // Decided by the time it was established (the client's 1-RTT packet, the fourth
    // datagram), not at the end of the capture.
    assert!(
        r.time_to_verdict().is_some_and(|t| t <= 3000),
        "{:?}",
        r.time_to_verdict()
    );
}

/// Initial keys released while a flow is quiet (a second or more of capture time) are
/// derived again for its next Initial packet: the hello's second half and the server's
/// Initial come seconds apart, and the connection reads as it does without the pauses.
#[test]
fn initial_keys_are_derived_again_after_a_quiet_second() {
    let run = |pause: u32| {
        let reports = coalesced_handshake(VERSION_1, &[9u8; 8], pause).reports();
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        (
            r.outcome(),
            r.verdict.version,
            r.verdict.cipher,
            r.verdict.group,
            r.sni.clone(),
            events(r),
        )
    };
    let quick = run(0);
    assert_eq!(quick.0, "established", "{quick:?}");
    assert_eq!(run(3_000_000), quick);
}

/// A Retry: the client's second Initial goes to the server's new connection ID, with keys
/// derived from it. A Version Negotiation on another connection. Both are events.
#[test]
fn retry_and_version_negotiation_are_events() {
    let hello = client_hello();
    let mut cap = Capture::new();
    let first_dcid = [1u8; 8];
    let keys = initial_keys(VERSION_1, &first_dcid).unwrap();
    let initial = |keys: &shakedown::core::crypto::quic::InitialKeys, dcid: &[u8], token: &[u8]| {
        protect_long(
            VERSION_1,
            PacketType::Initial,
            &keys.client,
            dcid,
            &[3],
            token,
            0,
            &crypto_frame(0, &hello),
        )
    };
    cap.udp(CLIENT, SERVER, &initial(&keys, &first_dcid, &[]));
    let new_dcid = [4u8; 8];
    let mut retry = vec![0xf0];
    retry.extend(VERSION_1.to_be_bytes());
    retry.extend([1, 3, 8]);
    retry.extend(new_dcid);
    retry.extend(b"retry-token");
    retry.extend([0u8; 16]); // integrity tag (not checked)
    cap.udp(SERVER, CLIENT, &retry);
    let keys2 = initial_keys(VERSION_1, &new_dcid).unwrap();
    cap.udp(CLIENT, SERVER, &initial(&keys2, &new_dcid, b"retry-token"));
    let sh = protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys2.server,
        &[3],
        &new_dcid,
        &[],
        0,
        &crypto_frame(0, &hex(SERVER_HELLO)),
    );
    cap.udp(SERVER, CLIENT, &sh);
    // Another client port: the server answers with Version Negotiation.
    let other = (CLIENT.0, 50_001);
    cap.udp(other, SERVER, &initial(&keys, &first_dcid, &[]));
    let mut vn = vec![0x80, 0, 0, 0, 0, 1, 3, 8];
    vn.extend(first_dcid);
    vn.extend(0xff00_001du32.to_be_bytes());
    cap.udp(SERVER, other, &vn);
    let reports = cap.reports();
    assert_eq!(reports.len(), 2, "{}", reports.len());
    let retried = &reports[0];
    let ev = events(retried);
    assert!(ev.iter().any(|e| e.starts_with("QUIC Retry")), "{ev:?}");
    assert!(
        ev.iter().any(|e| e.starts_with("ServerHello (TLSv1.3")),
        "the ServerHello under the new keys: {ev:?}"
    );
    // The repeated hello (same bytes, offset 0) is not a second ClientHello.
    assert_eq!(
        ev.iter().filter(|e| e.starts_with("ClientHello")).count(),
        1
    );
    let negotiated = &reports[1];
    let ev = events(negotiated);
    assert!(
        ev.iter()
            .any(|e| e == "QUIC Version Negotiation: 0xff00001d"),
        "{ev:?}"
    );
    assert_eq!(
        negotiated
            .verdict
            .diverged
            .as_ref()
            .map(|d| d.event.as_str()),
        Some("QUIC Version Negotiation")
    );
}

/// UDP that is not QUIC (DNS), a long header of an unknown version, and an Initial that
/// does not decrypt with its own DCID's keys start no flow; the TCP path is unaffected.
#[test]
fn other_udp_starts_no_flow() {
    let mut cap = Capture::new();
    cap.udp(
        CLIENT,
        ([10, 0, 0, 53], 53),
        b"\x12\x34\x01\x00\x00\x01\x00\x00",
    );
    let mut unknown = vec![0xc0];
    unknown.extend(0x0a0a_0a0au32.to_be_bytes());
    unknown.extend([0u8; 1200]);
    cap.udp(CLIENT, SERVER, &unknown);
    let keys = initial_keys(VERSION_1, &[9; 8]).unwrap();
    let mut forged = protect_long(
        VERSION_1,
        PacketType::Initial,
        &keys.client,
        &[8; 8],
        &[],
        &[],
        0,
        &crypto_frame(0, &client_hello()),
    );
    let last = forged.len() - 1;
    forged[last] ^= 1;
    cap.udp(CLIENT, SERVER, &forged);
    assert!(cap.reports().is_empty());
}

/// Any bytes in UDP datagrams of a QUIC flow: no panic, and the flow is reported once.
#[test]
fn mutated_quic_datagrams_never_panic() {
    let hello = client_hello();
    let dcid = [5u8; 8];
    let good = client_initial(&dcid, &hello);
    let mut next = common::xorshift64(0x9e37_79b9_7f4a_7c15);
    let mut cap = Capture::new();
    cap.udp(CLIENT, SERVER, &good);
    for _ in 0..300 {
        let mut d = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % d.len() as u64) as usize;
            d[at] = next() as u8;
        }
        d.truncate((next() % (d.len() as u64 + 1)) as usize);
        let (from, to) = if next().is_multiple_of(2) {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        cap.udp(from, to, &d);
    }
    let reports = cap.reports();
    assert_eq!(reports.len(), 1);
}

/// The text line marks the connection `quic`; the JSON says `"transport":"quic"`.
#[test]
fn text_and_json_name_the_transport() {
    let hello = client_hello();
    let dcid = [6u8; 8];
    let mut cap = Capture::new();
    let p = client_initial(&dcid, &hello);
    cap.udp(CLIENT, SERVER, &p);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quic.pcap");
    std::fs::write(&path, &cap.bytes).unwrap();
    let run = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shakedown"));
        cmd.args(["pcap", "--all", "--color", "never"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.arg(&path).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(false);
    assert!(
        text.contains("  sni quic.example  quic  incomplete (capture_end)"),
        "{text}"
    );
    let json = run(true);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["transport"], "quic", "{json}");
    assert!(first["ja4"].as_str().unwrap().starts_with("q13d"), "{json}");
}

/// More QUIC connections than `max_flows`: the longest idle are ended to make room, each
/// connection is still reported once, the evicted ones as `incomplete` (`evicted`).
#[test]
fn quic_flows_bounded_by_max_flows() {
    let hello = client_hello();
    let mut cap = Capture::new();
    for port in 0..5u16 {
        let dcid = [port as u8; 8];
        let p = client_initial(&dcid, &hello);
        cap.udp((CLIENT.0, 40_000 + port), SERVER, &p);
    }
    let mut reports = Vec::new();
    let opts = ReadOptions {
        max_flows: 2,
        ..ReadOptions::default()
    };
    let (stats, _) = analyze(&cap.bytes[..], &opts, AnalyzeOptions::default(), &mut |r| {
        reports.push(r)
    });
    assert_eq!(reports.len(), 5);
    assert_eq!(stats.capture.evicted_flows, 3);
    let reasons: Vec<_> = reports
        .iter()
        .map(|r| r.incomplete_reason().map(|x| x.as_str()))
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == Some("evicted")).count(),
        3,
        "{reasons:?}"
    );
}

/// The recorded aioquic handshakes (captures/record_quic.sh: QUIC v1 with each TLS 1.3
/// suite, QUIC v2, a client that rejects the certificate for its name) read with the
/// client's key log: the Handshake packets are decrypted with QUIC's key derivation from
/// the log's handshake traffic secrets, the server's flight (an RSA-4096 leaf and its root,
/// several datagrams) is reassembled from its CRYPTO frames, certificates and both Finished
/// are read and verified; the client's CONNECTION_CLOSE inside a Handshake packet is its
/// bad_certificate alert. Without the key log none of that is seen.
#[test]
fn recorded_handshake_packets_decrypt_with_the_key_log() {
    use shakedown::core::cert::TrustStore;
    use shakedown::core::crypto::KeyLog;
    use std::sync::Arc;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let pcap = std::fs::read(dir.join("quic_handshakes.pcap")).unwrap();
    let read = |keylog: Option<&str>, trust: bool| {
        let keylog = keylog.map(|name| {
            let (log, problems) = KeyLog::parse(&std::fs::read_to_string(dir.join(name)).unwrap());
            assert!(problems.is_empty());
            Arc::new(log)
        });
        let mut store = TrustStore::default();
        if trust {
            let pem = std::fs::read_to_string(dir.join("quic_root.pem")).unwrap();
            assert_eq!(store.add_pem(&pem), Ok(1));
        }
        let opts = AnalyzeOptions {
            check_time: None,
            keylog,
            trust: Some(store.into()),
        };
        let mut out = Vec::new();
        let (_, err) = analyze(&pcap[..], &ReadOptions::default(), opts, &mut |r| {
            out.push(r)
        });
        assert!(err.is_none(), "{err:?}");
        out.sort_by_key(|r| r.index);
        out
    };
    let suites = [0x1301u16, 0x1302, 0x1303, 0x1302, 0x1302];
    let with = read(Some("quic_handshakes.keys"), true);
    assert_eq!(with.len(), 5);
    for (r, suite) in with.iter().zip(suites) {
        let v = &r.verdict;
        assert_eq!(r.transport, Transport::Quic);
        assert_eq!(v.cipher, Some(suite), "#{}", r.index);
        // Leaf and root, from the decrypted Certificate message.
        assert_eq!(r.certificates.len(), 2, "#{}", r.index);
        assert!(r.certificates[0].subject.contains("CN=good.test"));
        assert!(
            r.certificates[1]
                .subject
                .contains("Shakedown QUIC Test Root")
        );
        let d = v.decryption.as_ref().unwrap();
        assert_eq!(d.problem, None, "#{}", r.index);
        assert_eq!(d.server_finished_verified, Some(true), "#{}", r.index);
        assert!(d.records >= 2, "#{}: {d:?}", r.index);
        assert!(
            v.events
                .iter()
                .any(|e| e.what.to_string().starts_with("QUIC Handshake packet")),
            "#{}",
            r.index
        );
    }
    for r in &with[..4] {
        assert!(r.verdict.established, "#{}", r.index);
        assert_eq!(r.verdict.history, "CsoxyfF");
        let d = r.verdict.decryption.as_ref().unwrap();
        assert_eq!(d.client_finished_verified, Some(true), "#{}", r.index);
        assert!(r.diagnosis.is_empty(), "#{}: {:?}", r.index, r.diagnosis);
    }
    // #4 is QUIC v2: its Initial and Handshake packets are v2's (other salts and labels).
    assert!(pcap.windows(4).any(|w| w == VERSION_2.to_be_bytes()));
    let bad = &with[4];
    assert_eq!(bad.sni.as_deref(), Some("other.test"));
    let alert = bad.verdict.alert.unwrap();
    assert_eq!((alert.from.peer(), alert.alert.description), ("client", 42));
    let causes: Vec<&str> = bad.diagnosis.iter().map(|d| d.cause.id()).collect();
    assert!(causes.contains(&"hostname_mismatch"), "{causes:?}");
    // Without the key log: no certificate, the v1/v2 handshakes established by the
    // client's first 1-RTT packet, and the rejection not seen at all (the close is inside a
    // Handshake packet).
    let without = read(None, true);
    for r in &without {
        assert!(r.certificates.is_empty());
        assert_eq!(r.verdict.history, "Cs");
    }
    assert!(without[..4].iter().all(|r| r.verdict.established));
    assert!(!without[4].verdict.established && without[4].verdict.alert.is_none());
    // The key log of another capture: no secrets for these connections, said so, and the
    // cleartext verdicts.
    let other = read(Some("tls13_success.keys"), true);
    for (o, w) in other.iter().zip(&without) {
        assert_eq!(o.verdict.history, w.verdict.history);
        assert!(o.certificates.is_empty());
        let problem = o.verdict.decryption.as_ref().unwrap().problem.as_deref();
        assert!(
            problem.unwrap().contains("no TLS 1.3 handshake secrets"),
            "{problem:?}"
        );
    }
}

/// A decided QUIC connection is reported at once (its own close is encrypted) and leaves the
/// table's count of open flows: forty recorded aioquic handshakes in a row, each followed by
/// 1-RTT datagrams, through a table of two flows, evict nothing, and each is reported
/// established before the next one starts, with no `end` events.
#[test]
fn decided_quic_connections_are_reported_at_once() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let pcap = std::fs::read(dir.join("quic_handshakes.pcap")).unwrap();
    // Connection #1's datagrams (Ethernet, IPv4, UDP), in order, by direction.
    let mut first: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut at = 24;
    let mut client_port = None;
    while at + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &pcap[at + 16..at + 16 + incl];
        at += 16 + incl;
        let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
        let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
            continue;
        };
        let client = *client_port.get_or_insert(udp.source_port());
        if udp.source_port() == client || udp.destination_port() == client {
            first.push((udp.source_port() == client, udp.payload().to_vec()));
        }
    }
    assert!(first.len() > 5);
    let mut cap = Capture::new();
    for n in 0..40u16 {
        let client = (CLIENT.0, 30_000 + n);
        for (from_client, d) in &first {
            if *from_client {
                cap.udp(client, SERVER, d);
            } else {
                cap.udp(SERVER, client, d);
            }
        }
    }
    let opts = ReadOptions {
        max_flows: 2,
        ..ReadOptions::default()
    };
    let mut reports = Vec::new();
    let (stats, err) = analyze(&cap.bytes[..], &opts, AnalyzeOptions::default(), &mut |r| {
        reports.push(r)
    });
    assert!(err.is_none());
    assert_eq!(reports.len(), 40);
    assert_eq!(stats.capture.evicted_flows, 0);
    // Reported in order of their start: each before the next connection began.
    let indexes: Vec<u64> = reports.iter().map(|r| r.index).collect();
    assert_eq!(indexes, (1..=40).collect::<Vec<u64>>());
    for r in &reports {
        assert!(r.verdict.established, "#{}", r.index);
        assert!(
            !events(r).iter().any(|e| e.starts_with("end:")),
            "#{}: {:?}",
            r.index,
            events(r)
        );
    }
}
