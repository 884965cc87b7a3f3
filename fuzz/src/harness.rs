//! One function per fuzz target: each takes arbitrary bytes and drives one of shakedown's
//! parsers through its public API, as the commands do. The fuzz targets (nightly,
//! libFuzzer) call these, and so does `tests/fuzz_regressions.rs` (stable, plain `cargo
//! test`), which includes this file with `#[path]` and replays every kept input through the
//! same function: a crash found by fuzzing stays fixed without nightly.
//!
//! Where the input has to carry structure (which direction a chunk goes, which link type a
//! frame has, where one certificate ends), the first bytes say so in a small format
//! described at each function, so the fuzzer mutates the structure and the payload alike.
//! Besides "never panics", a few targets check a property the code promises: the record
//! deframer yields the same records however the stream is cut, and a capture read in place
//! gives the same flows and result as the same bytes streamed.

use shakedown::commands::decode;
use shakedown::commands::probe::{self, HelloSource, ProbeConfig};
use shakedown::commands::simulate::{self, profiles};
use shakedown::core::assess;
use shakedown::core::cert::{self, ChainChecker, TrustStore};
use shakedown::core::crypto::keylog::KeyLog;
use shakedown::core::flow::{Direction, EndKind, Micros};
use shakedown::core::session::{Tracker, Verdict};
use shakedown::core::wire::ClientHello;
use shakedown::core::wire::record::{ContentType, Deframer, HandshakeJoiner};
use shakedown::core::wire::server;
use shakedown::core::wire::server::ServerHello;
use shakedown::core::wire::sslv2::{Sslv2ClientHello, Sslv2ServerHello};
use shakedown::io::capture::{
    self, FlowEnd, FlowId, FlowInfo, FlowSink, PacketReader, ReadOptions,
};
use shakedown::io::net::{ExchangeObserver, Limits, Target, Transport};
use shakedown::report::{Format, Render, ResultSink};
use std::io;
use std::sync::{Arc, OnceLock};

/// A fuzz target's body: arbitrary bytes in, a panic on a finding.
pub type FuzzTarget = fn(&[u8]);

/// Every target by name, for the regression test (the folder under `tests/fuzz/` is the
/// name).
pub const TARGETS: &[(&str, FuzzTarget)] = &[
    ("client_hello", client_hello),
    ("server_messages", server_messages),
    ("record_layer", record_layer),
    ("tracker", tracker),
    ("capture_file", capture_file),
    ("link_layer", link_layer),
    ("certificate", certificate),
    ("keylog", keylog),
    ("profiles", profiles),
    ("decode_input", decode_input),
    ("probe_server", probe_server),
    ("quic_initial", quic_initial),
];

/// Unix time the certificates are checked as of (fixed: runs must be reproducible).
const CHECK_TIME: i64 = 1_767_225_600; // 2026-01-01

/// Renders a result both ways, as the CLI would; output goes nowhere.
fn render<T: serde::Serialize + Render>(item: &T) {
    for format in [Format::Json, Format::Text] {
        let mut out = ResultSink::new(io::sink(), format);
        // Writing to a sink cannot fail; a serialization error would be a bug, but not a
        // panic, and is not what these targets look for.
        let _ = out.emit(item);
    }
}

/// Takes a big-endian u16 length and that many bytes (fewer at the end of the input).
fn take_chunk<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    if data.len() < 2 {
        return None;
    }
    let len = u16::from_be_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    let (chunk, tail) = rest.split_at(len.min(rest.len()));
    *data = tail;
    Some(chunk)
}

/// ClientHello decoding: the input as a handshake message, as a bare body and as an SSLv2
/// record, and every accessor the commands use on a decoded hello, which must re-encode.
pub fn client_hello(data: &[u8]) {
    for decoded in [
        ClientHello::decode_message(data, 0x0301),
        ClientHello::decode_body(data, 0x0303),
    ] {
        let Ok(h) = decoded else { continue };
        let _ = (h.sni(), h.sni_bytes(), h.supported_versions());
        let _ = (h.supported_groups(), h.signature_algorithms());
        let _ = (h.ec_point_formats(), h.alpn(), h.key_shares());
        let _ = (h.highest_version(), h.extension_types(), h.encoded_len());
        let _ = h.encode_body();
        let _ = h.to_records(Some(100));
        let _ = shakedown::core::fingerprint::ja4(&h);
    }
    let _ = Sslv2ClientHello::decode(data);
    let _ = Sslv2ServerHello::decode(data);
}

/// Server messages: the first byte is the handshake type, the second picks the version
/// the message is read as (unknown, TLS 1.0, 1.2, 1.3); the rest is the body. The body is
/// also read as a ServerHello, an alert and as the first bytes of a non-TLS answer.
pub fn server_messages(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let versions = [0, 0x0301, 0x0303, 0x0304];
    let (typ, version, body) = (data[0], versions[data[1] as usize % 4], &data[2..]);
    if let Ok(msg) = server::decode_handshake(typ, body, version) {
        let _ = (msg.typ(), msg.name());
        if let server::HandshakeMessage::ServerKeyExchange(ske) = &msg {
            let _ = ske.dh_prime_bits();
        }
    }
    if let Ok(sh) = ServerHello::decode_body(body) {
        let _ = (sh.selected_version(), sh.is_hello_retry_request());
        let _ = (sh.key_share_group(), sh.alpn(), sh.extension_types());
    }
    let _ = server::Alert::decode(body);
    let _ = server::sniff_not_tls(body);
    let _ = server::printable_preview(body, 64);
}

/// The record deframer and handshake joiner. Input: a byte of chunk size (1..=256), then a
/// byte stream cut into chunks of that size. Each handshake record's payload goes through
/// the joiner. The same stream given whole must yield the same records and the same error.
pub fn record_layer(data: &[u8]) {
    let Some((&size, stream)) = data.split_first() else {
        return;
    };
    let cut = stream.chunks(size as usize + 1);
    let whole = deframe(std::iter::once(stream));
    let chunked = deframe(cut);
    assert_eq!(whole, chunked, "records depend on where the stream was cut");
}

/// Records (type, version, payload) read from the deliveries, and the framing error if any.
type Deframed = (Vec<(u8, u16, Vec<u8>)>, Option<String>);

fn deframe<'a>(deliveries: impl Iterator<Item = &'a [u8]>) -> Deframed {
    let mut deframer = Deframer::new();
    let mut joiner = HandshakeJoiner::with_limit(1 << 16);
    let mut records = Vec::new();
    for mut delivery in deliveries {
        while let Some(next) = deframer.next(&mut delivery) {
            let record = match next {
                Ok(r) => r,
                Err(e) => return (records, Some(e.to_string())),
            };
            records.push((
                record.header.content_type.to_u8(),
                record.header.version,
                record.payload.to_vec(),
            ));
            if record.header.content_type == ContentType::Handshake {
                let mut fragment = record.payload;
                while let Some(Ok(m)) = joiner.next(&mut fragment) {
                    let _ = server::decode_handshake(m.typ, m.body, 0x0303);
                }
            }
        }
        let _ = (deframer.buffered(), deframer.pending_header());
    }
    (records, None)
}

/// The session tracker, fed what a connection carries. Input: a sequence of chunks, each a
/// tag byte then a big-endian u16 length and the bytes. Tag bit 0: the direction (0 client
/// to server); bit 6 set: that direction ends instead (bits 1-2 pick FIN, RST, time-out,
/// gap). At the end both directions end with FIN; then the verdict is assessed.
pub fn tracker(data: &[u8]) {
    let mut tracker = Tracker::new();
    feed_tracker(&mut tracker, data);
    let _ = assess::assess(tracker.verdict(), &assess::Context::default());
}

fn feed_tracker(tracker: &mut Tracker, mut data: &[u8]) {
    let mut at: Micros = 0;
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let dir = if tag & 1 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        at += 1000;
        if tag & 0x40 != 0 {
            let kinds = [EndKind::Fin, EndKind::Rst, EndKind::Timeout, EndKind::Gap];
            tracker.on_end(dir, kinds[(tag as usize >> 1) & 3], at);
            continue;
        }
        let Some(chunk) = take_chunk(&mut data) else {
            break;
        };
        tracker.on_data(dir, chunk, at);
        let _ = tracker.decided();
    }
    tracker.on_end(Direction::ClientToServer, EndKind::Fin, at + 1);
    tracker.on_end(Direction::ServerToClient, EndKind::Fin, at + 2);
}

/// What a capture reader handed its sink, in order (bytes by length and a checksum, so a
/// large capture does not keep a copy).
#[derive(Default, Debug, PartialEq)]
struct Recording {
    calls: Vec<String>,
}

impl FlowSink for Recording {
    fn flow_start(&mut self, info: &FlowInfo) {
        self.calls.push(format!("start {info:?}"));
    }
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], at: Micros) {
        let sum = bytes.iter().fold(0u32, |s, &b| s.rotate_left(5) ^ b as u32);
        self.calls
            .push(format!("data {id:?} {dir:?} {} {sum:x} {at}", bytes.len()));
    }
    fn end(&mut self, id: FlowId, dir: Direction, kind: EndKind, at: Micros) {
        self.calls.push(format!("end {id:?} {dir:?} {kind:?} {at}"));
    }
    fn flow_end(&mut self, id: FlowId, at: Micros, why: FlowEnd) {
        self.calls.push(format!("flow_end {id:?} {at} {why:?}"));
    }
    fn wants_data(&self, _id: FlowId) -> bool {
        true
    }
    fn secrets(&mut self, secrets_type: u32, data: &[u8]) {
        self.calls
            .push(format!("secrets {secrets_type} {}", data.len()));
    }
}

/// Small limits, so the eviction, expiry and reassembly limits are reached by small inputs.
fn small_read_options() -> ReadOptions {
    ReadOptions {
        idle_timeout: 5_000_000,
        max_ooo_per_direction: 4096,
        max_ooo_total: 16384,
        max_flows: 8,
        memcap: 1 << 20,
        closed_linger: 1_000_000,
        max_fragment_datagrams: 8,
        fragment_timeout: 1_000_000,
        max_block_size: 1 << 20,
    }
}

/// pcap and pcapng files: read in place and streamed (which must agree: the same calls to
/// the sink and the same result), then analysed as `pcap` does, each connection's report
/// rendered.
pub fn capture_file(data: &[u8]) {
    let opts = small_read_options();
    let mut in_place = Recording::default();
    let a = capture::read_capture_slice(data, &opts, &mut in_place);
    let mut streamed = Recording::default();
    let b = capture::read_capture(data, &opts, &mut streamed);
    assert_eq!(in_place, streamed, "in place and streamed reads differ");
    match (&a, &b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y, "in place and streamed counters differ"),
        (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string(), "errors differ"),
        _ => panic!("in place {a:?}, streamed {b:?}"),
    }
    let analyze = shakedown::commands::pcap::AnalyzeOptions {
        check_time: Some(CHECK_TIME),
        ..Default::default()
    };
    let (_stats, _error) =
        shakedown::commands::pcap::analyze(data, &opts, analyze, &mut |report| {
            let _ = (report.outcome(), report.sni(), report.ja4(), report.ja3s());
        });
}

/// Link, IP and TCP decoding, frame by frame. Input: a byte picking the link type (one of
/// those `pcap` reads), then frames, each a byte of time step (milliseconds) and a
/// big-endian u16 length and the frame's bytes; what the reassembly hands on is recorded.
pub fn link_layer(data: &[u8]) {
    const LINK_TYPES: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];
    let Some((&pick, mut data)) = data.split_first() else {
        return;
    };
    let linktype = LINK_TYPES[pick as usize % LINK_TYPES.len()];
    let mut reader = PacketReader::new(small_read_options());
    let mut sink = Recording::default();
    let mut at: Micros = 0;
    while let Some((&step, rest)) = data.split_first() {
        data = rest;
        at += step as Micros * 1000;
        let Some(frame) = take_chunk(&mut data) else {
            break;
        };
        reader.packet(linktype, frame, at, &mut sink);
        reader.tick(at, &mut sink);
    }
    let _ = reader.finish(EndKind::Timeout, &mut sink);
}

/// The web PKI roots, loaded once.
fn web_roots() -> Arc<TrustStore> {
    static ROOTS: OnceLock<Arc<TrustStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| Arc::new(TrustStore::webpki_roots()))
        .clone()
}

/// Certificates and the chain assessment. Input: a DER certificate (first byte 0x30), or a
/// chain: a byte that is not 0x30, then certificates each with a big-endian u16 length,
/// leaf first. Each is parsed; the chain is checked against the web PKI roots and against
/// its own last certificate as the trust anchor, and assessed as a handshake's would be.
pub fn certificate(data: &[u8]) {
    let chain: Vec<Vec<u8>> = match data.first() {
        None => return,
        Some(0x30) => vec![data.to_vec()],
        Some(_) => {
            let mut rest = &data[1..];
            let mut chain = Vec::new();
            while let Some(der) = take_chunk(&mut rest) {
                chain.push(der.to_vec());
            }
            chain
        }
    };
    for der in &chain {
        if let Ok(info) = cert::parse_certificate(der) {
            let _ = cert::matches_host(&info, "example.com");
            let _ = info.allows_server_auth();
        }
    }
    let _ = cert::check_chain_with(&chain, Some("example.com"), CHECK_TIME, None);
    let mut own = TrustStore::default();
    if let Some(last) = chain.last()
        && own.add_der(last).is_ok()
    {
        let _ = cert::check_chain_with(&chain, Some("www.example.com"), CHECK_TIME, Some(&own));
    }
    let chains = ChainChecker::new(Some(web_roots()));
    let verdict = Verdict {
        certificates: chain,
        ..Verdict::default()
    };
    let ctx = assess::Context {
        host: Some("example.com"),
        now_unix: CHECK_TIME,
        chains: Some(&chains),
        ..assess::Context::default()
    };
    let a = assess::assess(&verdict, &ctx);
    for f in &a.findings {
        let _ = (f.cause(), f.detail());
    }
}

/// NSS key log files, as `--keylog` reads them (and as embedded in pcapng captures).
pub fn keylog(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (log, problems) = KeyLog::parse(&text);
    let _ = (log.len(), log.is_empty(), problems.len());
}

/// Client profile files (`simulate --profiles`, and testssl.sh's client list): parsed, each
/// profile's hello built and listed, and the set written back out.
pub fn profiles(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for parsed in [profiles::parse(&text), profiles::parse_testssl(&text)] {
        let Ok(list) = parsed else { continue };
        for p in &list {
            let _ = profiles::hello_for(p, Some("example.com"));
            let _ = profiles::version_range(p);
            let _ = profiles::refuses_version(p, 0x0303);
            let _ = profiles::name_matches(p, "firefox");
            render(&simulate::listing(p));
        }
        let _ = profiles::format(&list);
    }
}

/// `decode`'s input: whatever is pasted is sniffed (records, SSLv2, a handshake message, a
/// bare hello body), decoded by the tracker and rendered as text and JSON.
pub fn decode_input(data: &[u8]) {
    let decoded = decode::decode(data);
    let _ = decoded.incomplete();
    render(&decoded);
}

/// A server held in memory that answers the probe's hello with the fuzz input: chunks as in
/// [`tracker`] (a tag byte, a u16 length, the bytes; bit 6 of the tag ends the stream with
/// the kind in bits 1-2). After each chunk the probe may send a second hello (after a
/// HelloRetryRequest), exactly as over TCP.
struct ScriptedPeer<'a> {
    script: &'a [u8],
}

impl Transport for ScriptedPeer<'_> {
    fn exchange(
        &self,
        _target: &Target,
        hello: &[u8],
        limits: &Limits,
        observer: &mut dyn ExchangeObserver,
    ) -> io::Result<()> {
        let from_server = Direction::ServerToClient;
        let mut at: Micros = 0;
        if !observer.data(Direction::ClientToServer, hello, at) {
            return Ok(());
        }
        let mut data = self.script;
        let mut received = 0;
        while let Some((&tag, rest)) = data.split_first() {
            data = rest;
            at += 1000;
            if tag & 0x40 != 0 {
                let kinds = [EndKind::Fin, EndKind::Rst, EndKind::Timeout, EndKind::Fin];
                observer.end(from_server, kinds[(tag as usize >> 1) & 3], at);
                return Ok(());
            }
            let Some(chunk) = take_chunk(&mut data) else {
                break;
            };
            received += chunk.len();
            let mut more = observer.data(from_server, chunk, at);
            if let Some(reply) = observer.reply() {
                more = observer.data(Direction::ClientToServer, &reply, at);
            }
            if !more {
                return Ok(());
            }
            if received >= limits.max_bytes {
                observer.end(from_server, EndKind::ByteCap, at);
                return Ok(());
            }
        }
        observer.end(from_server, EndKind::Timeout, at + 1);
        Ok(())
    }
}

/// `probe` against a server that answers with the fuzz input ([`ScriptedPeer`]): the hello
/// `probe` builds by default (TLS 1.3 with real key shares, so a HelloRetryRequest gets a
/// second hello) when the first byte is even, else a fixed TLS 1.2 hello sent as raw bytes;
/// the result is reported as `probe` reports it.
pub fn probe_server(data: &[u8]) {
    let Some((&pick, script)) = data.split_first() else {
        return;
    };
    let hello = if pick & 1 == 0 {
        HelloSource::Spec(Box::default())
    } else {
        HelloSource::Raw(hex::decode(RAW_TLS12_HELLO_HEX).expect("valid hex"))
    };
    let cfg = ProbeConfig {
        target: Target::parse("example.com:443", 443).expect("a valid target"),
        hello,
        limits: Limits {
            max_bytes: 1 << 16,
            ..Limits::default()
        },
        check_time: CHECK_TIME,
        trust: Some(web_roots()),
    };
    let result = probe::run_over(&cfg, &ScriptedPeer { script });
    let _ = (result.outcome(), result.server_went_on());
    render(&result.report());
}

/// A TLS 1.2 ClientHello record for example.com (ECDHE suites, no key shares), in hex.
const RAW_TLS12_HELLO_HEX: &str = concat!(
    "16030100610100005d03031111111111111111111111111111111111111111111111111111111111",
    "111111000006c02fc02b009c0100002e00000010000e00000b6578616d706c652e636f6d000a0006",
    "000400170018000d0006000404010403000b00020100",
);

/// The Destination Connection ID of `quic_initial`'s client (RFC 9001 Appendix A's).
const QUIC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// The ServerHello of RFC 9001 Appendix A.3 (TLS 1.3, TLS_AES_128_GCM_SHA256, x25519).
const QUIC_SERVER_HELLO: &str = "020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc\
     5430b9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d\
     5311bcf32bb9da1a002b00020304";

/// QUIC in captures, and the probe's QUIC client: datagrams built from the input go through
/// a capture (raw IPv4/UDP, client 10.0.0.1:50000, server 10.0.0.2:443) read in place and
/// streamed (which must agree), `pcap`'s analysis with and without a key log, and the
/// server's datagrams into `probe --quic`'s `QuicClient`. Most of a hostile datagram never
/// reaches the frames unless it decrypts, so the harness seals what the input says.
///
/// Input: a flags byte, then packets, each a tag byte, a big-endian u16 length and bytes.
/// Flags: bit 0 QUIC v2; bit 1 the connection starts with a real ClientHello and the
/// ServerHello of RFC 9001 A.3 in sealed Initial packets, and the key log holds handshake
/// secrets for that hello's random (so Handshake packets are decrypted and their CRYPTO
/// frames read as handshake messages). Tag: bit 0 from the server; bits 1–2 what the bytes
/// are: 0 an Initial packet's frames (sealed with the Initial keys), 1 a Handshake packet's
/// frames (sealed with the handshake keys of the key log's secrets), 2 and 3 a datagram as is;
/// bit 3 coalesced into the previous datagram; bit 4 one bit of the sealed packet flipped
/// (header protection, packet number or tag, by bits 5–7); the next tag's packet number
/// grows by one per packet of that space and direction.
pub fn quic_initial(data: &[u8]) {
    use shakedown::core::crypto::hello;
    use shakedown::core::crypto::quic::{handshake_keys, initial_keys, protect_long};
    use shakedown::core::crypto::schedule::TrafficSecrets;
    use shakedown::core::session::quic_client::{QuicClient, QuicClientConfig};
    use shakedown::core::wire::build::HelloSpec;
    use shakedown::core::wire::quic::{PacketType, VERSION_1, VERSION_2};

    let Some((&flags, mut data)) = data.split_first() else {
        return;
    };
    let version = if flags & 1 == 0 { VERSION_1 } else { VERSION_2 };
    let initial = initial_keys(version, &QUIC_DCID).expect("v1 and v2 have Initial keys");
    let secrets = TrafficSecrets {
        client: vec![0x11; 32],
        server: vec![0x22; 32],
    };
    let handshake =
        handshake_keys(version, 0x1301, &secrets).expect("AES-128-GCM packet protection");
    let scid = [0x5c; 8];
    // A fixed TLS 1.3 ClientHello (random 1, 2, 3, …) and its key log line.
    let spec = HelloSpec {
        session_id: Some(Vec::new()),
        alpn: Some(vec!["h3".into()].into()),
        ..HelloSpec::default()
    };
    let mut n = 0u8;
    let built = hello::build(&spec, Some("quic.example"), &mut |b: &mut [u8]| {
        for x in b {
            n = n.wrapping_add(1);
            *x = n;
        }
    })
    .expect("the default hello encodes");
    let random = hex::encode(built.hello.expect("a TLS hello").random);
    let hello = built.wire;
    let log = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {random} {}\n",
        hex::encode(&secrets.client),
        hex::encode(&secrets.server)
    );
    let crypto = |msg: &[u8]| {
        let mut f = vec![0x06, 0x00];
        shakedown::core::crypto::quic::put_varint(&mut f, msg.len() as u64);
        f.extend_from_slice(msg);
        f
    };

    // (from the server, datagram)
    let mut datagrams: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut pns = [[0u64; 2]; 2];
    let seal = |server: bool, kind: usize, frames: &[u8], pns: &mut [[u64; 2]; 2]| {
        let side = usize::from(server);
        let pn = pns[kind][side];
        pns[kind][side] += 1;
        let (packet_type, keys) = match (kind, server) {
            (0, false) => (PacketType::Initial, &initial.client),
            (0, true) => (PacketType::Initial, &initial.server),
            (_, false) => (PacketType::Handshake, &handshake.client),
            (_, true) => (PacketType::Handshake, &handshake.server),
        };
        let (dcid, source) = if server {
            (&scid[..], &QUIC_DCID[..])
        } else {
            (&QUIC_DCID[..], &scid[..])
        };
        protect_long(version, packet_type, keys, dcid, source, &[], pn, frames)
    };
    if flags & 2 != 0 {
        // The hello's record header is not part of the CRYPTO stream.
        datagrams.push((false, seal(false, 0, &crypto(&hello[5..]), &mut pns)));
        let sh = hex::decode(QUIC_SERVER_HELLO).expect("hex");
        datagrams.push((true, seal(true, 0, &crypto(&sh), &mut pns)));
    }
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let Some(bytes) = take_chunk(&mut data) else {
            break;
        };
        let server = tag & 1 != 0;
        let mut packet = match (tag >> 1) & 3 {
            0 => seal(server, 0, bytes, &mut pns),
            1 => seal(server, 1, bytes, &mut pns),
            _ => bytes.to_vec(),
        };
        if tag & 0x10 != 0 && !packet.is_empty() {
            let at = usize::from(tag >> 5) * 7 % packet.len();
            packet[at] ^= 1 << (tag >> 5);
        }
        match datagrams.last_mut() {
            Some((from, d)) if tag & 0x08 != 0 && *from == server => d.extend_from_slice(&packet),
            _ => datagrams.push((server, packet)),
        }
    }

    // The capture.
    let client = ([10, 0, 0, 1], 50_000u16);
    let server = ([10, 0, 0, 2], 443u16);
    let mut pcap = Vec::new();
    capture::writer::write_header(&mut pcap, capture::writer::LinkType::Raw).expect("in memory");
    for (k, (from_server, d)) in datagrams.iter().enumerate() {
        let (a, b) = if *from_server {
            (server, client)
        } else {
            (client, server)
        };
        // A UDP payload too large for one IPv4 packet is cut to fit.
        let frame = ipv4_udp(a, b, &d[..d.len().min(65_000)]);
        let at = k as u32 * 1000;
        pcap.extend(1_700_000_000u32.to_le_bytes());
        pcap.extend(at.to_le_bytes());
        pcap.extend((frame.len() as u32).to_le_bytes());
        pcap.extend((frame.len() as u32).to_le_bytes());
        pcap.extend(frame);
    }
    let opts = small_read_options();
    let mut in_place = Recording::default();
    let a = capture::read_capture_slice(&pcap, &opts, &mut in_place);
    let mut streamed = Recording::default();
    let b = capture::read_capture(&pcap[..], &opts, &mut streamed);
    assert_eq!(in_place, streamed, "in place and streamed reads differ");
    assert_eq!(a.is_ok(), b.is_ok());
    let (keylog, _) = KeyLog::parse(&log);
    for keylog in [None, Some(Arc::new(keylog))] {
        let analyze = shakedown::commands::pcap::AnalyzeOptions {
            check_time: Some(CHECK_TIME),
            keylog,
            ..Default::default()
        };
        let _ = shakedown::commands::pcap::analyze(&pcap[..], &opts, analyze, &mut |report| {
            let _ = (report.outcome(), report.sni(), report.ja4(), report.ja3s());
            let _ = (report.certificates.len(), report.diagnosis.len());
        });
    }

    // The probe's side: the server's datagrams to a QUIC client that sent the same hello.
    let cfg = QuicClientConfig {
        version,
        dcid: QUIC_DCID.to_vec(),
        scid: scid.to_vec(),
        hello: hello[5..].to_vec(),
        crypto_frame_max: None,
    };
    let mut quic = QuicClient::new(cfg, Tracker::new());
    let _ = quic.start(0);
    for (k, (from_server, d)) in datagrams.iter().enumerate() {
        if *from_server && quic.wants_more() {
            let _ = quic.on_datagram(d, k as Micros * 1000);
        }
    }
    let _ = quic.close();
    quic.on_end(EndKind::Timeout, datagrams.len() as Micros * 1000);
    let (tracker, _facts) = quic.into_parts();
    let _ = assess::assess(tracker.verdict(), &assess::Context::default());
}

/// An IPv4 packet (don't-fragment, header checksum) carrying one UDP datagram (no checksum).
fn ipv4_udp(from: ([u8; 4], u16), to: ([u8; 4], u16), payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&from.0);
    ip.extend_from_slice(&to.0);
    let sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&from.1.to_be_bytes());
    ip.extend_from_slice(&to.1.to_be_bytes());
    ip.extend_from_slice(&(total - 20).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    ip
}
