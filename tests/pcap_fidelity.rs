//! Capture fidelity: what Zeek and Suricata read in their own test captures, on captures
//! this test builds packet by packet (IPv4/IPv6, TCP, UDP and the tunnel headers written by
//! the helpers below, TLS messages from the hello builder or written out): an SSLv2
//! ClientHello answered in TLS, TLS 1.3 draft ServerHellos, a TCP Fast Open server sending
//! two SYN-ACKs with different sequence numbers, a malformed ServerHello extension list,
//! tunnels (VXLAN, GRE, ERSPAN II/III, IP in IP, CAPWAP) nested up to the bound and
//! beyond, and connections picked up mid-stream (with random bytes that must give no
//! verdict).

use shakedown::commands::pcap::{AnalyzeOptions, AnalyzeStats, ConnectionReport, analyze};
use shakedown::core::crypto::hello;
use shakedown::core::wire::ProtocolVersion;
use shakedown::core::wire::build::HelloSpec;
use shakedown::io::capture::ReadOptions;

mod common;

use common::events;

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;

// ---------------------------------------------------------------------------------------
// Packets

/// Internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Clone, Copy)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// An IP packet from `src` to `dst` carrying `payload` of protocol `proto`.
fn ip(src: Addr, dst: Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            let mut h = vec![0x45, 0];
            h.extend(((20 + payload.len()) as u16).to_be_bytes());
            h.extend([0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
            h.extend(s);
            h.extend(d);
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend(payload);
            h
        }
        (Addr::V6(s), Addr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend((payload.len() as u16).to_be_bytes());
            h.extend([proto, 64]);
            h.extend(s);
            h.extend(d);
            h.extend(payload);
            h
        }
        _ => panic!("mixed families"),
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend(seq.to_be_bytes());
    h.extend(ack.to_be_bytes());
    h.extend([5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend(((8 + payload.len()) as u16).to_be_bytes());
    h.extend([0, 0]);
    h.extend(payload);
    h
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend(ether_type.to_be_bytes());
    f.extend(payload);
    f
}

fn ether_type_of(ip_packet: &[u8]) -> u16 {
    if ip_packet[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

/// A pcap file of `frames` (one per packet, a millisecond apart).
fn pcap(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0; 8]);
    out.extend(262_144u32.to_le_bytes());
    out.extend(linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend(1_700_000_000u32.to_le_bytes());
        out.extend((i as u32 * 1000).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(f);
    }
    out
}

fn run(bytes: &[u8]) -> (Vec<ConnectionReport>, AnalyzeStats) {
    let mut out = Vec::new();
    let (stats, err) = analyze(
        bytes,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |r| out.push(r),
    );
    assert!(err.is_none(), "{err:?}");
    out.sort_by_key(|r| r.index);
    (out, stats)
}

fn version(r: &ConnectionReport) -> String {
    r.verdict
        .version
        .map(|v| ProtocolVersion(v).to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// TLS messages

fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend((payload.len() as u16).to_be_bytes());
    r.extend(payload);
    r
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

/// A ClientHello record (TLS 1.3 and 1.2 offered, SNI `fidelity.test`).
fn client_hello() -> Vec<u8> {
    let spec = HelloSpec::default();
    let mut n = 0u8;
    hello::build(&spec, Some("fidelity.test"), &mut |b: &mut [u8]| {
        for x in b {
            n = n.wrapping_add(7);
            *x = n;
        }
    })
    .unwrap()
    .wire
}

/// A ServerHello body of the RFC layout: `version`, a session id, `suite`, `extensions`
/// (the block's bytes, length included; empty for none).
fn server_hello_body(version: u16, suite: u16, extensions: &[u8]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend([0x42; 32]);
    b.push(32);
    b.extend([0x11; 32]);
    b.extend(suite.to_be_bytes());
    b.push(0);
    b.extend(extensions);
    b
}

fn extensions(list: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (typ, data) in list {
        body.extend(typ.to_be_bytes());
        body.extend((data.len() as u16).to_be_bytes());
        body.extend(data);
    }
    let mut b = (body.len() as u16).to_be_bytes().to_vec();
    b.extend(body);
    b
}

fn key_share_x25519() -> (u16, Vec<u8>) {
    let mut d = vec![0x00, 0x1d, 0, 32];
    d.extend([5; 32]);
    (0x0033, d)
}

const TLS12_SUITE: u16 = 0xc02f; // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
const TLS13_SUITE: u16 = 0x1301; // TLS_AES_128_GCM_SHA256

fn alert(level: u8, description: u8) -> Vec<u8> {
    record(21, &[level, description])
}

/// What one side sends: `true` for the client.
type Flight = (bool, Vec<u8>);

/// The TLS 1.2 rest of a handshake after the ServerHello: ServerHelloDone, the client's
/// key exchange, CCS and (opaque) Finished, the server's CCS and Finished.
fn tls12_after_server_hello() -> Vec<Flight> {
    vec![
        (false, record(22, &handshake(14, &[]))),
        (
            true,
            [
                record(22, &handshake(16, &[0, 32, 1, 2])[..]),
                record(20, &[1]),
                record(22, &[0x5a; 40]),
            ]
            .concat(),
        ),
        (false, [record(20, &[1]), record(22, &[0x6b; 40])].concat()),
    ]
}

// ---------------------------------------------------------------------------------------
// Connections

#[derive(Clone, Copy)]
struct Ends {
    client: Addr,
    server: Addr,
    client_port: u16,
    server_port: u16,
}

const V4: Ends = Ends {
    client: Addr::V4([10, 0, 0, 1]),
    server: Addr::V4([10, 0, 0, 2]),
    client_port: 50_000,
    server_port: 443,
};

/// The IP packets of a TCP connection from its SYN: the handshake, each flight as one
/// segment acknowledged by the peer's next one, and FINs both ways.
fn connection(e: Ends, flights: &[Flight]) -> Vec<Vec<u8>> {
    let (c, s) = (e.client_port, e.server_port);
    let (mut cseq, mut sseq) = (1000u32, 7000u32);
    let to_server = |p: Vec<u8>| ip(e.client, e.server, 6, &p);
    let to_client = |p: Vec<u8>| ip(e.server, e.client, 6, &p);
    let mut out = vec![
        to_server(tcp(c, s, cseq, 0, SYN, &[])),
        to_client(tcp(s, c, sseq, cseq + 1, SYN | ACK, &[])),
    ];
    cseq += 1;
    sseq += 1;
    out.push(to_server(tcp(c, s, cseq, sseq, ACK, &[])));
    let (cseq, sseq) = flights_then_fins(e, flights, (cseq, sseq), &mut out);
    out.push(to_server(tcp(c, s, cseq + 1, sseq + 1, ACK, &[])));
    out
}

/// Appends to `out` each flight as one segment, the client's and the server's sequence
/// numbers starting at `seq`, then a FIN each way (the client's first); returns the
/// sequence numbers before the FINs.
fn flights_then_fins(
    e: Ends,
    flights: &[Flight],
    seq: (u32, u32),
    out: &mut Vec<Vec<u8>>,
) -> (u32, u32) {
    let (c, s) = (e.client_port, e.server_port);
    let (mut cseq, mut sseq) = seq;
    let to_server = |p: Vec<u8>| ip(e.client, e.server, 6, &p);
    let to_client = |p: Vec<u8>| ip(e.server, e.client, 6, &p);
    for (from_client, bytes) in flights {
        if *from_client {
            out.push(to_server(tcp(c, s, cseq, sseq, ACK | PSH, bytes)));
            cseq += bytes.len() as u32;
        } else {
            out.push(to_client(tcp(s, c, sseq, cseq, ACK | PSH, bytes)));
            sseq += bytes.len() as u32;
        }
    }
    out.push(to_server(tcp(c, s, cseq, sseq, ACK | FIN, &[])));
    out.push(to_client(tcp(s, c, sseq, cseq + 1, ACK | FIN, &[])));
    (cseq, sseq)
}

/// A ClientHello refused with a fatal handshake_failure alert.
fn refused(e: Ends) -> Vec<Vec<u8>> {
    connection(e, &[(true, client_hello()), (false, alert(2, 40))])
}

fn assert_refused(r: &ConnectionReport) {
    assert_eq!(r.outcome(), "alert", "{:?}", events(r));
    assert_eq!(r.verdict.history, "Cl");
    assert_eq!(r.sni(), Some("fidelity.test"));
}

// ---------------------------------------------------------------------------------------
// a. SSLv2 ClientHello answered in TLS

/// An SSLv2-format CLIENT-HELLO offering TLS 1.0 with two SSLv3/TLS suites and one SSLv2
/// kind, 16 bytes of challenge.
fn sslv2_client_hello() -> Vec<u8> {
    let specs: [[u8; 3]; 3] = [[0, 0, 0x2f], [0, 0, 0x35], [0x01, 0x00, 0x80]];
    let mut body = vec![1, 3, 1, 0, 9, 0, 0, 0, 16];
    for s in specs {
        body.extend(s);
    }
    body.extend([0x77; 16]);
    let mut rec = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
    rec.extend(body);
    rec
}

#[test]
fn sslv2_client_hello_then_tls_records_is_established() {
    let mut flights = vec![
        (true, sslv2_client_hello()),
        (
            false,
            record(22, &handshake(2, &server_hello_body(0x0301, 0x002f, &[]))),
        ),
    ];
    flights.extend(tls12_after_server_hello());
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &connection(V4, &flights)));
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    // Zeek: established. Before: `closed`, the client's records after its hello unread.
    assert_eq!(r.outcome(), "established", "{:?}", events(r));
    assert_eq!(r.verdict.history, "CsnGIi");
    assert_eq!(version(r), "TLSv1.0");
    assert!(r.verdict.sslv2_client_hello.is_some());

    // An SSLv2 server answering in SSLv2: the client goes on in SSLv2 (CLIENT-MASTER-KEY),
    // which is no error and not "not TLS".
    let server_hello_v2 = [0x80, 0x0b, 4, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0].to_vec();
    let master_key = [0x80, 0x05, 2, 1, 0, 0x80, 0].to_vec();
    let flights = vec![
        (true, sslv2_client_hello()),
        (false, server_hello_v2),
        (true, master_key),
    ];
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &connection(V4, &flights)));
    let r = &reports[0];
    assert_eq!(version(r), "SSLv2");
    assert!(r.verdict.error.is_none(), "{:?}", r.verdict.error);
    assert!(r.verdict.not_tls.is_none());
    assert_eq!(r.verdict.history, "Cs");
}

// ---------------------------------------------------------------------------------------
// b. TLS 1.3 drafts

/// A TLS 1.3 (draft) handshake without keys: the ServerHello, encrypted flights both ways.
fn tls13_draft_flights(server_hello: Vec<u8>) -> Vec<Flight> {
    vec![
        (true, client_hello()),
        (
            false,
            [
                record(22, &handshake(2, &server_hello)),
                record(23, &[1; 300]),
            ]
            .concat(),
        ),
        (true, record(23, &[2; 53])),
        (false, record(23, &[3; 200])),
    ]
}

#[test]
fn tls13_draft_server_hellos_decode_and_are_named() {
    // Draft 18's layout: version, random, suite, extensions (no session id, no
    // compression method).
    let mut draft18 = vec![0x7f, 0x12];
    draft18.extend([0x42; 32]);
    draft18.extend(TLS13_SUITE.to_be_bytes());
    draft18.extend(extensions(&[key_share_x25519()]));
    // Draft 23 and Facebook's draft-23 variant: the final layout, the version in
    // supported_versions.
    let rfc_layout = |v: u16| {
        server_hello_body(
            0x0303,
            TLS13_SUITE,
            &extensions(&[key_share_x25519(), (0x002b, v.to_be_bytes().to_vec())]),
        )
    };
    for (sh, name) in [
        (draft18, "TLSv1.3-draft18"),
        (rfc_layout(0x7f17), "TLSv1.3-draft23"),
        (rfc_layout(0xfb17), "TLSv1.3-draft23-fb"),
        (rfc_layout(0x0304), "TLSv1.3"),
    ] {
        let (reports, _) = run(&pcap(
            LINKTYPE_RAW,
            &connection(V4, &tls13_draft_flights(sh)),
        ));
        let r = &reports[0];
        assert!(r.verdict.error.is_none(), "{name}: {:?}", r.verdict.error);
        assert_eq!(r.outcome(), "established", "{name}: {:?}", events(r));
        assert_eq!(version(r), name);
        assert_eq!(r.verdict.cipher, Some(TLS13_SUITE), "{name}");
        assert_eq!(r.verdict.group, Some(0x001d), "{name}");
        assert_eq!(r.verdict.history, "Cs", "{name}");
    }
}

#[test]
fn draft_version_is_named_in_text_and_json() {
    let mut draft18 = vec![0x7f, 0x12];
    draft18.extend([0x42; 32]);
    draft18.extend(TLS13_SUITE.to_be_bytes());
    draft18.extend(extensions(&[key_share_x25519()]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("draft18.pcap");
    std::fs::write(
        &file,
        pcap(LINKTYPE_RAW, &connection(V4, &tls13_draft_flights(draft18))),
    )
    .unwrap();
    let out = common::shakedown()
        .args(["pcap", "--all"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("established  TLSv1.3-draft18 TLS_AES_128_GCM_SHA256"),
        "{text}"
    );
    let (_, json) = common::json_output(common::shakedown().args(["pcap", "--json"]).arg(&file));
    assert_eq!(json["version"], "TLSv1.3-draft18", "{json}");
}

// ---------------------------------------------------------------------------------------
// c. TCP Fast Open with two SYN-ACKs

/// A TFO connection: the ClientHello in the SYN, two SYN-ACKs (sequence numbers 5000 and
/// 9000), the client acknowledging `acked_isn`, the server's flight from there.
fn fast_open(acked_isn: u32) -> Vec<Vec<u8>> {
    let e = V4;
    let (c, s) = (e.client_port, e.server_port);
    let to_server = |p: Vec<u8>| ip(e.client, e.server, 6, &p);
    let to_client = |p: Vec<u8>| ip(e.server, e.client, 6, &p);
    let hello = client_hello();
    let cnext = 1000 + 1 + hello.len() as u32;
    let flight = [
        record(
            22,
            &handshake(2, &server_hello_body(0x0303, TLS12_SUITE, &[])),
        ),
        record(22, &handshake(14, &[])),
    ]
    .concat();
    let sseq = acked_isn + 1;
    let mut out = vec![
        to_server(tcp(c, s, 1000, 0, SYN, &hello)),
        to_client(tcp(s, c, 5000, cnext, SYN | ACK, &[])),
        to_client(tcp(s, c, 9000, cnext, SYN | ACK, &[])),
        to_server(tcp(c, s, cnext, acked_isn + 1, ACK, &[])),
        to_client(tcp(s, c, sseq, cnext, ACK | PSH, &flight)),
    ];
    let mut rest = tls12_after_server_hello();
    rest.remove(0);
    flights_then_fins(e, &rest, (cnext, sseq + flight.len() as u32), &mut out);
    out
}

#[test]
fn fast_open_keeps_the_server_flight_the_client_acknowledged() {
    for acked in [9000, 5000] {
        let (reports, _) = run(&pcap(LINKTYPE_RAW, &fast_open(acked)));
        assert_eq!(reports.len(), 1, "{acked}");
        let r = &reports[0];
        assert_eq!(r.outcome(), "established", "{acked}: {:?}", events(r));
        assert_eq!(r.verdict.history, "CsnGIi", "{acked}");
        assert_eq!(r.verdict.cipher, Some(TLS12_SUITE));
        assert!(r.from_syn);
    }
}

// ---------------------------------------------------------------------------------------
// d. A malformed ServerHello extension list

#[test]
fn malformed_server_hello_extensions_keep_version_and_cipher() {
    // supported_versions (TLS 1.3) whole, then an extension announcing 40 bytes of 3.
    let mut exts = extensions(&[(0x002b, vec![3, 4])]);
    exts.extend([0x00, 0x33, 0x00, 0x28, 1, 2, 3]);
    let block = exts.len() as u16 - 2;
    exts[..2].copy_from_slice(&block.to_be_bytes());
    let sh = server_hello_body(0x0303, TLS13_SUITE, &exts);
    let flights = vec![
        (true, client_hello()),
        (false, record(22, &handshake(2, &sh))),
    ];
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &connection(V4, &flights)));
    let r = &reports[0];
    assert_eq!(version(r), "TLSv1.3");
    assert_eq!(r.verdict.cipher, Some(TLS13_SUITE));
    let error = r.verdict.error.as_deref().unwrap();
    assert!(error.contains("ServerHello"), "{error}");
    let events = events(r);
    let hello = events
        .iter()
        .position(|e| e == "ServerHello (TLSv1.3, TLS_AES_128_GCM_SHA256)");
    let err = events
        .iter()
        .position(|e| e.starts_with("error: ServerHello"));
    assert!(hello.is_some() && hello < err, "{events:?}");

    // The same for TLS 1.2 without supported_versions: the legacy version.
    let mut exts = vec![0, 9, 0xff, 0x01, 0, 1, 0];
    exts.extend([0, 0x10]);
    let sh = server_hello_body(0x0303, TLS12_SUITE, &exts);
    let flights = vec![
        (true, client_hello()),
        (false, record(22, &handshake(2, &sh))),
    ];
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &connection(V4, &flights)));
    let r = &reports[0];
    assert_eq!(version(r), "TLSv1.2");
    assert_eq!(r.verdict.cipher, Some(TLS12_SUITE));
    assert!(r.verdict.error.is_some());
    // Not a ServerHello as far as the rest is concerned (scan's version tests).
    assert!(r.verdict.server_hello.is_none());
}

// ---------------------------------------------------------------------------------------
// e. Tunnels

fn v4(last: u8) -> Addr {
    Addr::V4([192, 0, 2, last])
}

fn v6(last: u8) -> Addr {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = last;
    Addr::V6(a)
}

fn gre(flags: u16, protocol: u16, extra: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend(protocol.to_be_bytes());
    g.extend(extra);
    g.extend(inner);
    g
}

fn vxlan(inner_ip: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0];
    v.extend(ethernet(ether_type_of(inner_ip), inner_ip));
    udp(40_000, 4789, &v)
}

/// The encapsulations, each a function from an inner IP packet to an outer IP packet.
type Wrap = fn(&[u8]) -> Vec<u8>;

fn tunnels() -> Vec<(&'static str, Wrap)> {
    vec![
        ("vxlan", |p| ip(v4(1), v4(2), 17, &vxlan(p))),
        ("vxlan over ipv6", |p| ip(v6(1), v6(2), 17, &vxlan(p))),
        ("gre ipv4", |p| {
            ip(v4(1), v4(2), 47, &gre(0, 0x0800, &[], p))
        }),
        ("gre key+seq+checksum", |p| {
            let extra = [0u8; 12];
            ip(v4(1), v4(2), 47, &gre(0xb000, 0x0800, &extra, p))
        }),
        ("gre ethernet bridging", |p| {
            let eth = ethernet(ether_type_of(p), p);
            ip(v4(1), v4(2), 47, &gre(0, 0x6558, &[], &eth))
        }),
        ("erspan type I", |p| {
            let eth = ethernet(ether_type_of(p), p);
            ip(v4(1), v4(2), 47, &gre(0, 0x88be, &[], &eth))
        }),
        ("erspan type II", |p| {
            let mut e = vec![0x10, 0x0a, 0x00, 0x01, 0, 0, 0, 0];
            e.extend(ethernet(ether_type_of(p), p));
            ip(v4(1), v4(2), 47, &gre(0x1000, 0x88be, &[0, 0, 0, 7], &e))
        }),
        ("erspan type III with platform part", |p| {
            // Version 2, frame type 0 (Ethernet), O flag: an 8-byte subheader follows.
            let mut e = vec![0x20, 0x0a, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, 0x01];
            e.extend([0; 8]);
            e.extend(ethernet(ether_type_of(p), p));
            ip(v6(1), v6(2), 47, &gre(0x1000, 0x22eb, &[0, 0, 0, 7], &e))
        }),
        ("4in4 / 6in4", |p| {
            let proto = if p[0] >> 4 == 6 { 41 } else { 4 };
            ip(v4(1), v4(2), proto, p)
        }),
        ("4in6 / 6in6", |p| {
            let proto = if p[0] >> 4 == 6 { 41 } else { 4 };
            ip(v6(1), v6(2), proto, p)
        }),
        ("capwap 802.3", |p| {
            // Preamble 0, HLEN 2 (8 bytes), WBID 1, T: native frame.
            let mut c = vec![0x00, 0x10, 0x03, 0x00, 0, 0, 0, 0];
            c.extend(ethernet(ether_type_of(p), p));
            ip(v4(1), v4(2), 17, &udp(12_345, 5247, &c))
        }),
        ("capwap 802.11", |p| {
            // T clear: an 802.11 QoS data frame (from the AP, to DS), LLC/SNAP.
            let mut c = vec![0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0];
            c.extend([0x88, 0x01, 0, 0]);
            c.extend([1; 18]);
            c.extend([0, 0]); // sequence control
            c.extend([0, 0]); // QoS control
            c.extend([0xaa, 0xaa, 0x03, 0, 0, 0]);
            c.extend(ether_type_of(p).to_be_bytes());
            c.extend(p);
            ip(v4(1), v4(2), 17, &udp(5247, 23_456, &c))
        }),
    ]
}

#[test]
fn tunnels_are_opened() {
    let inner_v6 = Ends {
        client: v6(0x31),
        server: v6(0x32),
        ..V4
    };
    for (name, wrap) in tunnels() {
        for inner in [V4, inner_v6] {
            let frames: Vec<Vec<u8>> = refused(inner).iter().map(|p| wrap(p)).collect();
            let (reports, stats) = run(&pcap(LINKTYPE_RAW, &frames));
            assert_eq!(reports.len(), 1, "{name}");
            let r = &reports[0];
            assert_refused(r);
            assert_eq!(r.server.port(), 443, "{name}");
            assert_eq!(
                matches!(inner.server, Addr::V6(_)),
                r.server.is_ipv6(),
                "{name}: the inner addresses"
            );
            assert_eq!(stats.capture.tunneled, frames.len() as u64, "{name}");
            assert_eq!(stats.capture.malformed, 0, "{name}");
        }
    }
    // The same frames in Ethernet: the outer link layer does not matter.
    let frames: Vec<Vec<u8>> = refused(V4)
        .iter()
        .map(|p| {
            let outer = ip(v4(1), v4(2), 17, &vxlan(p));
            ethernet(0x0800, &outer)
        })
        .collect();
    let (reports, _) = run(&pcap(LINKTYPE_ETHERNET, &frames));
    assert_refused(&reports[0]);
}

/// An IPv4 packet split into fragments of `chunk` bytes of payload (a multiple of 8).
fn fragments_v4(packet: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
    let body = &packet[20..];
    let mut out = Vec::new();
    for (i, part) in body.chunks(chunk).enumerate() {
        let mut h = packet[..20].to_vec();
        let more = (i + 1) * chunk < body.len();
        let flags_offset = (i * chunk / 8) as u16 | if more { 0x2000 } else { 0 };
        h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend(part);
        out.push(h);
    }
    out
}

#[test]
fn fragmented_gre_and_ip_in_ip_are_rebuilt_and_opened() {
    // ERSPAN II and 6in4 outer packets cut into 64-byte fragments (the ClientHello's
    // segment takes several), the last fragment first for good measure.
    let wraps: [(&str, Wrap); 2] = [
        ("erspan type II", |p| {
            let mut e = vec![0x10, 0x0a, 0x00, 0x01, 0, 0, 0, 0];
            e.extend(ethernet(ether_type_of(p), p));
            ip(v4(1), v4(2), 47, &gre(0x1000, 0x88be, &[0, 0, 0, 7], &e))
        }),
        ("6in4", |p| ip(v4(1), v4(2), 41, p)),
    ];
    let inner_v6 = Ends {
        client: v6(0x31),
        server: v6(0x32),
        ..V4
    };
    for (name, wrap) in wraps {
        let mut frames = Vec::new();
        let mut fragmented = 0;
        for (n, p) in refused(inner_v6).iter().enumerate() {
            let mut parts = fragments_v4(&wrap(p), 64, n as u16);
            fragmented += usize::from(parts.len() > 1);
            parts.rotate_right(1);
            frames.extend(parts);
        }
        let (reports, stats) = run(&pcap(LINKTYPE_RAW, &frames));
        assert_eq!(reports.len(), 1, "{name}");
        assert_refused(&reports[0]);
        assert!(reports[0].server.is_ipv6(), "{name}");
        assert!(fragmented >= 2, "{name}");
        assert_eq!(
            stats.capture.reassembled_datagrams, fragmented as u64,
            "{name}: {stats:?}"
        );
        assert_eq!(stats.capture.fragments_dropped, 0, "{name}");
    }
}

#[test]
fn tunnels_nest_to_four_levels_and_no_deeper() {
    // Four tunnels: VXLAN in 4in6 in GRE in 4in4.
    let four = |p: &[u8]| {
        let a = ip(v4(3), v4(4), 17, &vxlan(p)); // 1: VXLAN
        let b = ip(v6(5), v6(6), 4, &a); // 2: 4in6
        let c = ip(v4(7), v4(8), 47, &gre(0, 0x86dd, &[], &b)); // 3: GRE
        ip(v4(9), v4(10), 4, &c) // 4: 4in4
    };
    // Five: the same inside one more GRE.
    let five = |p: &[u8]| ip(v4(11), v4(12), 47, &gre(0, 0x0800, &[], &four(p)));
    let frames: Vec<Vec<u8>> = refused(V4).iter().map(|p| four(p)).collect();
    let (reports, stats) = run(&pcap(LINKTYPE_RAW, &frames));
    assert_eq!(reports.len(), 1);
    assert_refused(&reports[0]);
    assert_eq!(stats.capture.tunnels_too_deep, 0);

    let frames: Vec<Vec<u8>> = refused(V4).iter().map(|p| five(p)).collect();
    let (reports, stats) = run(&pcap(LINKTYPE_RAW, &frames));
    assert!(reports.is_empty());
    assert_eq!(stats.capture.tunnels_too_deep, frames.len() as u64);

    // A hostile nesting: IP in IP a thousand deep (as deep as a packet allows), and GRE
    // in GRE: nothing read, no panic, each packet counted once.
    let mut deep = refused(V4).remove(0);
    for _ in 0..1000 {
        deep = ip(v4(1), v4(2), 4, &deep);
        if deep.len() > 60_000 {
            break;
        }
    }
    let mut gre_deep = refused(V4).remove(0);
    for _ in 0..1000 {
        gre_deep = gre(0, 0x0800, &[], &ip(v4(1), v4(2), 47, &gre_deep));
        if gre_deep.len() > 60_000 {
            break;
        }
    }
    let gre_deep = ip(v4(1), v4(2), 47, &gre_deep);
    let (reports, stats) = run(&pcap(LINKTYPE_RAW, &[deep, gre_deep]));
    assert!(reports.is_empty());
    assert_eq!(stats.capture.tunnels_too_deep, 2);
    assert_eq!(stats.capture.non_tcp, 2);
}

#[test]
fn tunnel_headers_that_do_not_fit_are_not_read() {
    let inner = refused(V4).remove(3); // the ClientHello segment
    let broken: Vec<Vec<u8>> = vec![
        // GRE version 1 (PPTP), GRE with routing, ERSPAN II of version 2, VXLAN without
        // the I flag, CAPWAP over DTLS, a CAPWAP fragment, a protected 802.11 frame, cut
        // headers.
        ip(v4(1), v4(2), 47, &gre(0x0001, 0x0800, &[0; 4], &inner)),
        ip(v4(1), v4(2), 47, &gre(0x4000, 0x0800, &[0; 4], &inner)),
        ip(v4(1), v4(2), 47, &gre(0x1000, 0x88be, &[0; 4], &[0x20; 8])),
        ip(v4(1), v4(2), 17, &udp(1, 4789, &[0, 0, 0, 0, 0, 0, 0, 0])),
        ip(v4(1), v4(2), 17, &udp(1, 5247, &[0x01, 0x10, 0x03, 0x00])),
        ip(
            v4(1),
            v4(2),
            17,
            &udp(1, 5247, &[0x00, 0x10, 0x03, 0x80, 0, 0, 0, 0]),
        ),
        ip(
            v4(1),
            v4(2),
            17,
            &udp(5247, 1, &[0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0x88, 0x41]),
        ),
        ip(v4(1), v4(2), 47, &[0x10]),
        ip(
            v4(1),
            v4(2),
            47,
            &gre(0x3000, 0x22eb, &[0; 8], &[0x20, 0, 0]),
        ),
    ];
    let (reports, stats) = run(&pcap(LINKTYPE_RAW, &broken));
    assert!(reports.is_empty());
    assert_eq!(stats.capture.tunneled, 0);
    assert_eq!(stats.capture.non_tcp, broken.len() as u64);
    // Random bytes behind every tunnel header: never a panic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (_, wrap) in tunnels() {
        let mut frames = Vec::new();
        for _ in 0..200 {
            let mut f = wrap(&inner);
            let n = 1 + next() % 6;
            for _ in 0..n {
                let at = (next() % f.len() as u64) as usize;
                f[at] = next() as u8;
            }
            f.truncate(f.len() - (next() % 60) as usize);
            frames.push(f);
        }
        run(&pcap(LINKTYPE_RAW, &frames));
    }
}

// ---------------------------------------------------------------------------------------
// f. Connections picked up mid-stream

/// The packets of a connection without its start: each direction's first bytes cut off.
/// `client` and `server`: what each sends, in turns (client first).
fn mid_stream(e: Ends, flights: &[Flight]) -> Vec<Vec<u8>> {
    let (c, s) = (e.client_port, e.server_port);
    let (mut cseq, mut sseq) = (77_000u32, 99_000u32);
    let mut out = Vec::new();
    for (from_client, bytes) in flights {
        for chunk in bytes.chunks(1400) {
            if *from_client {
                out.push(ip(
                    e.client,
                    e.server,
                    6,
                    &tcp(c, s, cseq, sseq, ACK, chunk),
                ));
                cseq += chunk.len() as u32;
            } else {
                out.push(ip(
                    e.server,
                    e.client,
                    6,
                    &tcp(s, c, sseq, cseq, ACK, chunk),
                ));
                sseq += chunk.len() as u32;
            }
        }
    }
    out.push(ip(
        e.client,
        e.server,
        6,
        &tcp(c, s, cseq, sseq, ACK | FIN, &[]),
    ));
    out.push(ip(
        e.server,
        e.client,
        6,
        &tcp(s, c, sseq, cseq + 1, ACK | FIN, &[]),
    ));
    out
}

fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn mid_stream_server_hello_then_alert_gets_its_verdict() {
    // The capture starts inside the client's ClientHello and inside a record the server
    // sent before its ServerHello (say, the tail of a HelloRetryRequest's record).
    let hello = client_hello();
    let server_flight = [
        noise(1, 37),
        record(
            22,
            &handshake(2, &server_hello_body(0x0303, TLS12_SUITE, &[])),
        ),
        record(22, &handshake(14, &[])),
    ]
    .concat();
    let flights = vec![
        (true, hello[hello.len() - 90..].to_vec()),
        (false, server_flight),
        (true, alert(2, 48)),
    ];
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &mid_stream(V4, &flights)));
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert!(!r.from_syn);
    assert_eq!(r.outcome(), "alert", "{:?}", events(r));
    let alert = r.verdict.alert.unwrap();
    assert_eq!((alert.from.peer(), alert.alert.description), ("client", 48));
    assert_eq!(version(r), "TLSv1.2");
    assert_eq!(r.verdict.cipher, Some(TLS12_SUITE));
    assert_eq!(r.verdict.history, "snL");
    let events = events(r);
    assert!(
        events.contains(
            &"picked up mid-stream: 37 bytes before the first whole record skipped".into()
        ),
        "{events:?}"
    );
    assert!(
        events.contains(
            &"picked up mid-stream: 90 bytes before the first whole record skipped".into()
        ),
        "{events:?}"
    );
}

#[test]
fn mid_stream_records_resync_after_a_cut_record_of_any_size() {
    // The capture starts inside a record of the server (the tail of a 16,000-byte one):
    // the ServerHello after it is found, and the handshake read to its end.
    for cut in [1usize, 5, 700, 3000, 15_000] {
        let big = record(22, &[0x0b; 16_000]);
        let server_hello = record(
            22,
            &handshake(2, &server_hello_body(0x0303, TLS12_SUITE, &[])),
        );
        let mut flights = vec![(
            false,
            [big[big.len() - cut..].to_vec(), server_hello].concat(),
        )];
        flights.extend(tls12_after_server_hello());
        let (reports, _) = run(&pcap(LINKTYPE_RAW, &mid_stream(V4, &flights)));
        assert_eq!(reports.len(), 1, "{cut}");
        let r = &reports[0];
        assert_eq!(r.outcome(), "established", "{cut}: {:?}", events(r));
        assert_eq!(r.verdict.history, "snGIi", "{cut}");
        let skipped =
            format!("picked up mid-stream: {cut} bytes before the first whole record skipped");
        assert!(events(r).contains(&skipped), "{cut}: {:?}", events(r));
    }
}

#[test]
fn mid_stream_random_bytes_give_no_verdict() {
    // Random bytes both ways (a bulk transfer seen from its middle, or not TLS at all):
    // no connection is reported, whatever the bytes, and the search stops at its window.
    let mut frames = Vec::new();
    for seed in 0..300u64 {
        let e = Ends {
            client_port: 20_000 + seed as u16,
            ..V4
        };
        let flights = vec![
            (true, noise(seed, 500 + (seed as usize * 37) % 3000)),
            (
                false,
                noise(seed + 10_000, 40_000 + (seed as usize * 101) % 9000),
            ),
            (true, noise(seed + 20_000, 200)),
        ];
        frames.extend(mid_stream(e, &flights));
    }
    let (reports, stats) = run(&pcap(LINKTYPE_RAW, &frames));
    assert!(
        reports.is_empty(),
        "{:?}",
        reports.iter().map(events).collect::<Vec<_>>()
    );
    assert_eq!(stats.non_tls_flows, 300);
}

#[test]
fn mid_stream_at_a_record_boundary_reads_as_before() {
    // Picked up at the ServerHello: read from the first byte, no bytes skipped.
    let mut flights = vec![(
        false,
        record(
            22,
            &handshake(2, &server_hello_body(0x0303, TLS12_SUITE, &[])),
        ),
    )];
    flights.extend(tls12_after_server_hello());
    let (reports, _) = run(&pcap(LINKTYPE_RAW, &mid_stream(V4, &flights)));
    let r = &reports[0];
    assert_eq!(r.outcome(), "established");
    assert_eq!(r.verdict.history, "snGIi");
    assert!(!events(r).iter().any(|e| e.contains("mid-stream")));
}
