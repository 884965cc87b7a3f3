//! The scanner against scripted servers held in memory: a [`Transport`] that decodes each
//! ClientHello it is given (with the session tracker, as a capture would be read) and
//! answers as a server of a given policy would, with real ServerHello, HelloRetryRequest,
//! ServerKeyExchange and alert bytes that go through the same tracker as a live answer.
//! The tests assert what the scan found and what it cost (its `handshakes`), so the
//! fewest-handshakes logic is checked without sockets.

use super::enumerate::{Pacer, ScanOptions, Scanner, suite_candidates};
use super::result::{GroupResult, ScanResult, VersionResult};
use crate::core::crypto::ecdh;
use crate::core::crypto::tls12::{handshake_message as handshake, record};
use crate::core::flow::{Direction, EndKind};
use crate::core::session::Tracker;
use crate::core::wire::ClientHello;
use crate::core::wire::build::Sni;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::{KeyExchange, group_name, sigalg_name, suite, suite_name};
use crate::core::wire::server::HELLO_RETRY_REQUEST_RANDOM;
use crate::io::net::{ExchangeObserver, Limits, Target, Transport};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

const TLS10: u16 = 0x0301;
const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;
const X25519: u16 = 0x001d;
const SECP256R1: u16 = 0x0017;
const SECP384R1: u16 = 0x0018;
const SECP521R1: u16 = 0x0019;
const ECDSA_P256_SHA256: u16 = 0x0403;
const ECDSA_P384_SHA384: u16 = 0x0503;
const RSA_PSS_RSAE_SHA256: u16 = 0x0804;

/// How a scripted server behaves.
#[derive(Debug, Clone)]
struct Policy {
    /// Versions it speaks (0x0300 to 0x0304); TLS 1.3 also means it reads
    /// supported_versions.
    versions: Vec<u16>,
    /// Suites it accepts, in its order of preference.
    suites: Vec<u16>,
    /// Picks its favourite among the offer (else the client's first it accepts).
    server_order: bool,
    /// Named groups it accepts, in its order; for TLS 1.3 it asks (HelloRetryRequest) for
    /// its favourite when the client sent no share for it.
    groups: Vec<u16>,
    /// Signature schemes its key can make, in its order.
    sigalgs: Vec<u16>,
    /// A hello whose version is above its highest gets a reset, not a protocol_version
    /// alert (version intolerance).
    version_intolerant: bool,
    /// A hello offering more suites than this gets a reset without an answer (the
    /// middlebox that chokes on long offers).
    reset_above_suites: Option<usize>,
    /// Breaks every answer this way (`None`: answers as the fields above say).
    hostile: Option<Hostile>,
    /// Closes without a byte on a hello of a version it lacks, where a protocol_version
    /// alert would be (dovecot below its minimum version).
    silent_refusal: bool,
    /// Resets a hello split across records (a middlebox that reads only the first).
    reset_fragmented: bool,
}

/// How a hostile server breaks its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// Resets every connection before any byte.
    Reset,
    /// Says nothing until the read time-out.
    Timeout,
    /// A handshake record whose ServerHello is cut short inside its own length.
    MalformedServerHello,
    /// Application-data records until the byte cap.
    Junk,
    /// Its ServerHello alone, then a reset (alerts go out as they are).
    ServerHelloThenReset,
}

impl Policy {
    fn tls12(suites: &[u16], server_order: bool) -> Self {
        Policy {
            versions: vec![TLS12],
            suites: suites.to_vec(),
            server_order,
            groups: vec![X25519, SECP256R1],
            sigalgs: vec![ECDSA_P256_SHA256, RSA_PSS_RSAE_SHA256],
            version_intolerant: false,
            reset_above_suites: None,
            hostile: None,
            silent_refusal: false,
            reset_fragmented: false,
        }
    }

    fn hostile(how: Hostile) -> Self {
        Policy {
            hostile: Some(how),
            ..Policy::tls12(&[ECDHE_RSA_AES128_GCM], true)
        }
    }
}

/// What the server does with one hello.
enum Answer {
    Bytes(Vec<u8>),
    Reset,
    Close,
}

/// The in-memory transport: one policy, and a count of the hellos it was given.
struct ScriptedServer {
    policy: Policy,
    hellos: AtomicUsize,
    /// Holds each hello below TLS 1.2 (no supported_versions) until a TLS 1.3 hello
    /// without key shares (a group hello) came, for at most this long: what the scan
    /// sends before its version test ends.
    hold_lower: Option<std::time::Duration>,
    /// A TLS 1.3 group hello came.
    group_hello: (Mutex<bool>, Condvar),
    /// Hellos held the whole `hold_lower`.
    held_in_vain: AtomicUsize,
}

impl ScriptedServer {
    fn new(policy: Policy) -> Self {
        ScriptedServer {
            policy,
            hellos: AtomicUsize::new(0),
            hold_lower: None,
            group_hello: (Mutex::new(false), Condvar::new()),
            held_in_vain: AtomicUsize::new(0),
        }
    }

    /// See [`ScriptedServer::hold_lower`].
    fn hold(&self, hello: &ClientHello) {
        let tls13 = hello
            .supported_versions()
            .is_some_and(|v| v.contains(&TLS13));
        let (seen, came) = &self.group_hello;
        let mut seen = seen.lock().unwrap();
        if tls13 && hello.key_shares().is_empty() {
            *seen = true;
            came.notify_all();
        }
        let Some(hold) = self
            .hold_lower
            .filter(|_| !tls13 && hello.legacy_version < TLS12)
        else {
            return;
        };
        let (seen, waited) = came.wait_timeout_while(seen, hold, |s| !*s).unwrap();
        if !*seen && waited.timed_out() {
            self.held_in_vain.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn answer(&self, hello: &ClientHello) -> Answer {
        let p = &self.policy;
        if p.reset_above_suites
            .is_some_and(|n| hello.cipher_suites.len() > n)
        {
            return Answer::Reset;
        }
        let highest = p.versions.iter().copied().max().unwrap_or(0);
        let offered_versions = hello
            .supported_versions()
            .filter(|_| p.versions.contains(&TLS13));
        let version = match &offered_versions {
            Some(list) => p
                .versions
                .iter()
                .copied()
                .filter(|v| list.contains(v))
                .max(),
            None if hello.legacy_version > highest.min(TLS12) && p.version_intolerant => {
                return Answer::Reset;
            }
            // The highest it has up to the client's (none: the client is below its lowest).
            None => p
                .versions
                .iter()
                .copied()
                .filter(|v| *v <= TLS12 && *v <= hello.legacy_version)
                .max(),
        };
        let Some(version) = version else {
            if p.silent_refusal {
                return Answer::Close;
            }
            return Answer::Bytes(alert_record(alert::PROTOCOL_VERSION));
        };
        if hello.cipher_suites.contains(&0x5600) && version < highest.min(TLS12) {
            return Answer::Bytes(alert_record(alert::INAPPROPRIATE_FALLBACK));
        }
        let client_groups = hello.supported_groups();
        let common_group = |server_order: bool| -> Option<u16> {
            if server_order {
                p.groups.iter().copied().find(|g| client_groups.contains(g))
            } else {
                client_groups.iter().copied().find(|g| p.groups.contains(g))
            }
        };
        let client_sigalgs = hello.signature_algorithms();
        // In its own order, else (a client-order server) the client's first it has.
        let sigalg = if p.server_order {
            p.sigalgs
                .iter()
                .copied()
                .find(|s| client_sigalgs.contains(s))
        } else {
            client_sigalgs
                .iter()
                .copied()
                .find(|s| p.sigalgs.contains(s))
        };
        let usable = |id: u16| {
            let Some(s) = suite(id) else { return false };
            if version == TLS13 {
                return s.is_tls13();
            }
            let signed = matches!(s.kx, KeyExchange::Ecdhe | KeyExchange::Dhe) && !s.anonymous();
            !s.is_tls13()
                && s.min_version <= version
                && (s.kx != KeyExchange::Ecdhe || common_group(true).is_some())
                && !(signed && version == TLS12 && !client_sigalgs.is_empty() && sigalg.is_none())
        };
        let pick = if p.server_order {
            p.suites
                .iter()
                .copied()
                .find(|s| hello.cipher_suites.contains(s) && usable(*s))
        } else {
            hello
                .cipher_suites
                .iter()
                .copied()
                .find(|s| p.suites.contains(s) && usable(*s))
        };
        let Some(pick) = pick else {
            return Answer::Bytes(alert_record(alert::HANDSHAKE_FAILURE));
        };
        if version == TLS13 {
            let Some(group) = common_group(true) else {
                return Answer::Bytes(alert_record(alert::HANDSHAKE_FAILURE));
            };
            let shared = hello.key_shares().iter().any(|(g, _)| *g == group);
            let versions_ext = (ext::SUPPORTED_VERSIONS, TLS13.to_be_bytes().to_vec());
            if !shared {
                let retry = (ext::KEY_SHARE, group.to_be_bytes().to_vec());
                let body = server_hello_body(
                    TLS12,
                    HELLO_RETRY_REQUEST_RANDOM,
                    &hello.session_id,
                    pick,
                    &[versions_ext, retry],
                );
                return Answer::Bytes(record(22, &handshake(2, &body)));
            }
            let key = ecdh::key_pair(group, &mut |b| b.fill(7))
                .map_or(vec![7; 32], |k| k.public.to_vec());
            let mut share = group.to_be_bytes().to_vec();
            share.extend_from_slice(&(key.len() as u16).to_be_bytes());
            share.extend_from_slice(&key);
            let body = server_hello_body(
                TLS12,
                [2; 32],
                &hello.session_id,
                pick,
                &[versions_ext, (ext::KEY_SHARE, share)],
            );
            return Answer::Bytes(record(22, &handshake(2, &body)));
        }
        let mut exts = Vec::new();
        if hello.ext(ext::RENEGOTIATION_INFO).is_some() || hello.cipher_suites.contains(&0x00ff) {
            exts.push((ext::RENEGOTIATION_INFO, vec![0]));
        }
        if hello.ext(ext::EXTENDED_MASTER_SECRET).is_some() {
            exts.push((ext::EXTENDED_MASTER_SECRET, Vec::new()));
        }
        let mut flight = handshake(2, &server_hello_body(version, [2; 32], &[], pick, &exts));
        let s = suite(pick).expect("picked from the registry");
        if s.kx == KeyExchange::Ecdhe {
            let group = common_group(p.server_order).expect("checked by usable");
            let mut ske = vec![3];
            ske.extend_from_slice(&group.to_be_bytes());
            ske.push(32);
            ske.extend_from_slice(&[9; 32]);
            if version == TLS12 && !s.anonymous() {
                ske.extend_from_slice(&sigalg.unwrap_or(ECDSA_P256_SHA256).to_be_bytes());
            }
            ske.extend_from_slice(&64u16.to_be_bytes());
            ske.extend_from_slice(&[5; 64]);
            flight.extend(handshake(12, &ske));
        }
        flight.extend(handshake(14, &[]));
        Answer::Bytes(record(22, &flight))
    }
}

impl Transport for ScriptedServer {
    fn exchange(
        &self,
        _target: &Target,
        hello: &[u8],
        _limits: &Limits,
        observer: &mut dyn ExchangeObserver,
    ) -> io::Result<()> {
        self.hellos.fetch_add(1, Ordering::Relaxed);
        if !observer.data(Direction::ClientToServer, hello, 0) {
            return Ok(());
        }
        // The first record holds less than the whole handshake message.
        let fragmented = hello.len() > 9 && {
            let record = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
            let message =
                usize::from(hello[6]) << 16 | usize::from(hello[7]) << 8 | usize::from(hello[8]);
            hello[0] == 22 && record < message + 4
        };
        if self.policy.reset_fragmented && fragmented {
            observer.end(Direction::ServerToClient, EndKind::Rst, 3);
            return Ok(());
        }
        let end = |observer: &mut dyn ExchangeObserver, kind| {
            observer.end(Direction::ServerToClient, kind, 3);
        };
        match self.policy.hostile {
            Some(Hostile::Reset) => {
                end(observer, EndKind::Rst);
                return Ok(());
            }
            Some(Hostile::Timeout) => {
                end(observer, EndKind::Timeout);
                return Ok(());
            }
            Some(Hostile::MalformedServerHello) => {
                // A whole ServerHello of 6 bytes: a version and four bytes of a random.
                let sh = [2, 0, 0, 6, 3, 3, 1, 2, 3, 4];
                if observer.data(Direction::ServerToClient, &record(22, &sh), 1) {
                    end(observer, EndKind::Fin);
                }
                return Ok(());
            }
            Some(Hostile::Junk) => {
                let junk = record(23, &[0x42; 1000]);
                for _ in 0..1000 {
                    if !observer.data(Direction::ServerToClient, &junk, 1) {
                        return Ok(());
                    }
                }
                end(observer, EndKind::ByteCap);
                return Ok(());
            }
            _ => {}
        }
        // The server reads the hello as a capture reader would.
        let mut reader = Tracker::new();
        reader.on_data(Direction::ClientToServer, hello, 0);
        let answer = match reader.verdict().client_hello.clone() {
            Some(h) => {
                self.hold(&h);
                self.answer(&h)
            }
            // SSLv2 and anything else it does not speak: it hangs up.
            None => Answer::Close,
        };
        match answer {
            Answer::Bytes(bytes)
                if self.policy.hostile == Some(Hostile::ServerHelloThenReset)
                    && bytes.len() > 9
                    && bytes[0] == 22
                    && bytes[5] == 2 =>
            {
                let len = usize::from(bytes[7]) << 8 | usize::from(bytes[8]);
                let sh = &bytes[5..(9 + len).min(bytes.len())];
                if observer.data(Direction::ServerToClient, &record(22, sh), 1) {
                    observer.end(Direction::ServerToClient, EndKind::Rst, 2);
                }
            }
            Answer::Bytes(bytes) => {
                if observer.data(Direction::ServerToClient, &bytes, 1) {
                    observer.end(Direction::ServerToClient, EndKind::Fin, 2);
                }
            }
            Answer::Reset => observer.end(Direction::ServerToClient, EndKind::Rst, 1),
            Answer::Close => observer.end(Direction::ServerToClient, EndKind::Fin, 1),
        }
        Ok(())
    }
}

fn alert_record(description: u8) -> Vec<u8> {
    record(21, &[2, description])
}

fn server_hello_body(
    legacy_version: u16,
    random: [u8; 32],
    session_id: &[u8],
    suite: u16,
    extensions: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut b = legacy_version.to_be_bytes().to_vec();
    b.extend_from_slice(&random);
    b.push(session_id.len() as u8);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    let mut exts = Vec::new();
    for (typ, data) in extensions {
        exts.extend_from_slice(&typ.to_be_bytes());
        exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
        exts.extend_from_slice(data);
    }
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    b
}

/// Scans the scripted server with both plans; the fewer-connections result, and the hellos
/// the server was given. The lower-latency plan must find the same, with at most one more
/// hello (a TLS 1.3 order check of its own).
fn scan(policy: Policy, suites_only: bool) -> (ScanResult, usize) {
    let (fewer, hellos) = scan_with_retries(policy.clone(), suites_only, 0);
    let (lower, lower_hellos) = scan_planned(
        policy,
        suites_only,
        0,
        super::enumerate::Prefer::LowerLatency,
    );
    let order13 = |r: &ScanResult| {
        r.probes
            .iter()
            .find(|p| p.name == "server order TLSv1.3")
            .map_or(0, |p| p.handshakes)
    };
    if fewer.gave_up {
        // Hellos already in flight when the scan gave up differ: more of them run at once
        // in the lower-latency plan (at most the pacer's 4).
        assert!(lower.gave_up, "{:?}", lower.error);
        assert!(lower_hellos <= hellos + 4, "{lower_hellos} vs {hellos}");
        return (fewer, hellos);
    }
    let extra = order13(&lower) - order13(&fewer);
    assert!(extra <= 1);
    // Both plans' TLS 1.2 groups and schemes start from what the suite hellos showed.
    assert_eq!(lower.handshakes, fewer.handshakes + extra);
    assert_eq!(lower.handshakes, lower_hellos);
    let normal = |r: &ScanResult| {
        let mut v = serde_json::to_value(r).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in ["elapsed_ms", "plan", "handshakes"] {
            o.remove(k);
        }
        o.remove("cost");
        for p in o["probes"].as_array_mut().unwrap() {
            let r = p["result"]
                .as_str()
                .unwrap()
                .replace(" (in the first group hello)", "");
            p["result"] = r.replace(" (in the group order hello)", "").into();
            if p["name"] == "server order TLSv1.3" {
                p["handshakes"] = serde_json::Value::Null;
            }
        }
        v
    };
    assert_eq!(normal(&fewer), normal(&lower), "the plans differ");
    (fewer, hellos)
}

fn scan_with_retries(policy: Policy, suites_only: bool, retries: u32) -> (ScanResult, usize) {
    scan_planned(policy, suites_only, retries, Default::default())
}

fn scan_planned(
    policy: Policy,
    suites_only: bool,
    retries: u32,
    prefer: super::enumerate::Prefer,
) -> (ScanResult, usize) {
    let server = ScriptedServer::new(policy);
    let r = scan_server(&server, suites_only, retries, prefer);
    (r, server.hellos.load(Ordering::Relaxed))
}

/// A scan of `server` (one target) with these options.
fn scan_server(
    server: &ScriptedServer,
    suites_only: bool,
    retries: u32,
    prefer: super::enumerate::Prefer,
) -> ScanResult {
    let target = Target::parse("scripted.test:443", 443).unwrap();
    let opts = ScanOptions {
        limits: Limits::default(),
        retries,
        sni: Sni::Auto,
        suites_only,
        quic_groups: false,
        prefer,
    };
    let pacer = Pacer::new(4, None);
    let report = Scanner::new(&target, server, &opts, &pacer, &|| {}).run();
    ScanResult::new(&report)
}

fn version<'r>(r: &'r ScanResult, name: &str) -> &'r VersionResult {
    r.versions.iter().find(|v| v.name == name).unwrap()
}

fn group_scan<'r>(r: &'r ScanResult, version: &str) -> &'r GroupResult {
    r.group_scans.iter().find(|g| g.version == version).unwrap()
}

fn names(ids: &[u16]) -> Vec<String> {
    ids.iter().map(|id| suite_name(*id)).collect()
}

/// The first `n` of our offer's order that the policy accepts at `version`.
fn in_offer_order(version: crate::core::wire::ProtocolVersion, accepted: &[u16]) -> Vec<u16> {
    suite_candidates(version)
        .into_iter()
        .filter(|s| accepted.contains(s))
        .collect()
}

const ECDHE_ECDSA_AES128_GCM: u16 = 0xc02b;
const ECDHE_ECDSA_AES256_GCM: u16 = 0xc02c;
const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;
const RSA_AES128_SHA: u16 = 0x002f;
const RSA_AES256_SHA: u16 = 0x0035;

/// Every hello the scan counted reached the server, and the JSON's parts add up.
fn check_count(r: &ScanResult, hellos: usize) {
    assert_eq!(r.handshakes, hellos, "the scan counts every hello it sends");
    // Hellos shared by the TLS 1.2 groups and schemes are counted with the schemes.
    let itemized =
        r.cost.versions + r.cost.groups + r.cost.sigalgs + r.cost.post_quantum + r.cost.probes;
    assert_eq!(r.handshakes, itemized, "every hello is itemized once");
}

#[test]
fn server_order_tls12_only_costs_n_plus_one_and_shows_its_order() {
    let server_prefers = [RSA_AES256_SHA, ECDHE_RSA_AES128_GCM, RSA_AES128_SHA];
    let (r, hellos) = scan(Policy::tls12(&server_prefers, true), true);
    let v12 = version(&r, "TLSv1.2");
    assert_eq!(v12.supported, Some(true));
    assert_eq!(
        v12.ciphers,
        names(&server_prefers),
        "picks come in the server's order"
    );
    assert_eq!(v12.server_order, Some(true));
    assert_eq!(v12.handshakes, 4, "N+1 for N accepted");
    // TLS 1.1's protocol_version alert settles TLS 1.0 and SSLv3.
    assert_eq!(version(&r, "TLSv1.1").handshakes, 1);
    for lower in ["TLSv1.0", "SSLv3"] {
        let v = version(&r, lower);
        assert_eq!((v.supported, v.handshakes), (Some(false), 0), "{lower}");
        assert_eq!(v.refused_with.as_deref(), Some("TLSv1.1"));
    }
    assert_eq!(version(&r, "TLSv1.3").supported, Some(false));
    // The server picked RSA_AES256_SHA while ECDHE_RSA_AES128_GCM (accepted) came first
    // in our offer: its picks show its order, so no order check.
    let order = r.probes.iter().find(|p| p.name == "server order TLSv1.2");
    assert_eq!(
        order.map(|p| (p.result.as_str(), p.handshakes)),
        Some(("server order (its picks went against our offer's order)", 0))
    );
    // SSLv2 1, TLS 1.3 1, TLS 1.2 4, TLS 1.1 1.
    assert_eq!(r.handshakes, 7);
    assert_eq!(r.cost.versions, 7);
    check_count(&r, hellos);
}

#[test]
fn client_order_server_shows_our_order_and_the_flag() {
    let accepted = [RSA_AES256_SHA, ECDHE_RSA_AES128_GCM, RSA_AES128_SHA];
    let (r, hellos) = scan(Policy::tls12(&accepted, false), true);
    let v12 = version(&r, "TLSv1.2");
    assert_eq!(
        v12.ciphers,
        names(&in_offer_order(
            crate::core::wire::ProtocolVersion::TLS12,
            &accepted
        ))
    );
    assert_eq!(v12.server_order, Some(false));
    assert_eq!((v12.handshakes, r.handshakes), (4, 8));
    let order = r.probes.iter().find(|p| p.name == "server order TLSv1.2");
    assert_eq!(
        order.map(|p| (p.result.as_str(), p.concern)),
        Some(("client order", true))
    );
    check_count(&r, hellos);
}

#[test]
fn tls13_groups_start_before_the_lower_versions_are_asked() {
    // dovecot-like: TLS 1.2 and 1.3, and a silent close below TLS 1.2, so TLS 1.1, 1.0 and
    // SSLv3 are asked one after another. The lower-latency plan starts TLS 1.3's group
    // hellos (no key share: a HelloRetryRequest names each group) at TLS 1.3's first pick:
    // the server holds every hello below TLS 1.2 until a group hello came, which it does
    // in vain when the groups wait for the version test.
    let policy = Policy {
        versions: vec![TLS12, TLS13],
        suites: vec![0x1301, 0x1302, ECDHE_RSA_AES128_GCM],
        // Its favourite has no share in the version hello: a HelloRetryRequest (this
        // scripted server's TLS 1.3 ServerHello flight is no answer the scan can read).
        groups: vec![SECP521R1, X25519, SECP256R1, SECP384R1],
        silent_refusal: true,
        ..Policy::tls12(&[], true)
    };
    let planned = |prefer, hold_lower| {
        let server = ScriptedServer {
            hold_lower,
            ..ScriptedServer::new(policy.clone())
        };
        let r = scan_server(&server, false, 0, prefer);
        (r, server.held_in_vain.load(Ordering::Relaxed))
    };
    let hold = Some(std::time::Duration::from_secs(2));
    let (lower, in_vain) = planned(super::enumerate::Prefer::LowerLatency, hold);
    assert_eq!(in_vain, 0, "the groups waited for the version test");
    // The same findings as the fewer-connections plan (never held: it asks the groups
    // after the versions), the same hellos.
    let (fewer, _) = planned(super::enumerate::Prefer::FewerConnections, None);
    assert_eq!(lower.groups, fewer.groups);
    assert_eq!(lower.groups_server_order, fewer.groups_server_order);
    assert_eq!(lower.groups["TLSv1.3"].len(), 4, "{:?}", lower.groups);
    assert_eq!(lower.handshakes, fewer.handshakes);
}

#[test]
fn silent_closes_below_a_long_offer_answered_cost_one_hello_each() {
    // TLS 1.2 only, closing silently on older hellos: its TLS 1.2 hello (a long offer)
    // was answered, so a silent close is a refusal, not a server choking on long offers:
    // no client-like hello follows.
    let policy = Policy {
        silent_refusal: true,
        ..Policy::tls12(&[ECDHE_RSA_AES128_GCM], true)
    };
    let (r, hellos) = scan(policy, true);
    assert_eq!(version(&r, "TLSv1.2").supported, Some(true));
    for older in ["TLSv1.1", "TLSv1.0", "SSLv3"] {
        let v = version(&r, older);
        assert_eq!((v.supported, v.handshakes), (Some(false), 1), "{older}");
        assert!(v.incomplete.is_none(), "{older}");
    }
    // SSLv2 1, TLS 1.3 1, 1.2 2, 1.1 1, 1.0 1, SSLv3 1.
    assert_eq!(r.handshakes, 7);
    check_count(&r, hellos);
}

#[test]
fn version_intolerant_server_is_asked_every_version() {
    // TLS 1.0 only, resetting at any higher hello: no alert settles the lower versions,
    // and every silent long offer gets one client-like hello more.
    let policy = Policy {
        versions: vec![TLS10],
        version_intolerant: true,
        ..Policy::tls12(&[RSA_AES128_SHA, RSA_AES256_SHA], true)
    };
    let (r, hellos) = scan(policy, true);
    let v10 = version(&r, "TLSv1.0");
    assert_eq!(v10.supported, Some(true));
    assert_eq!(v10.ciphers, names(&[RSA_AES128_SHA, RSA_AES256_SHA]));
    assert_eq!(v10.handshakes, 3);
    for higher in ["TLSv1.2", "TLSv1.1"] {
        let v = version(&r, higher);
        // A reset is no refusal: what the server has there is unknown.
        assert_eq!(v.supported, None, "{higher}");
        assert!(
            v.refused_with.is_none() && v.incomplete.is_some(),
            "{higher}"
        );
        assert_eq!(
            v.handshakes, 2,
            "{higher}: the long offer and a client-like one"
        );
    }
    let v3 = version(&r, "SSLv3");
    assert_eq!((v3.supported, v3.handshakes), (Some(false), 1));
    assert_eq!(version(&r, "TLSv1.3").handshakes, 1);
    // SSLv2 1, TLS 1.3 1, 1.2 2, 1.1 2, 1.0 3, SSLv3 1, the order check 1.
    assert_eq!(r.handshakes, 11);
    check_count(&r, hellos);
}

#[test]
fn a_server_silent_at_long_offers_is_enumerated_in_bundles() {
    let accepted = [ECDHE_RSA_AES128_GCM, RSA_AES128_SHA, RSA_AES256_SHA];
    let policy = Policy {
        reset_above_suites: Some(128),
        ..Policy::tls12(&accepted, true)
    };
    let (r, hellos) = scan(policy, true);
    let v12 = version(&r, "TLSv1.2");
    assert!(v12.supported == Some(true) && v12.bundled);
    assert_eq!(v12.ciphers, names(&accepted), "reordered across bundles");
    assert_eq!(v12.server_order, Some(true));
    // The silent full offer, the client-like one, per bundle its picks + 1, and the
    // reordering of the picks (all but the last).
    let candidates = suite_candidates(crate::core::wire::ProtocolVersion::TLS12);
    let bundles: usize = candidates
        .chunks(128)
        .map(|b| b.iter().filter(|s| accepted.contains(s)).count() + 1)
        .sum();
    assert_eq!(v12.handshakes, 2 + bundles + accepted.len() - 1);
    check_count(&r, hellos);
}

#[test]
fn tls13_groups_come_from_retry_requests_with_their_order() {
    let suites = [0x1302, 0x1301, 0x1303];
    let policy = Policy {
        versions: vec![TLS12, TLS13],
        groups: vec![SECP384R1, X25519],
        sigalgs: vec![ECDSA_P384_SHA384],
        ..Policy::tls12(&suites, true)
    };
    let (r, hellos) = scan(policy, false);
    let v13 = version(&r, "TLSv1.3");
    assert_eq!(v13.ciphers, names(&suites));
    // The version hello; the other two suites come with the groups.
    assert_eq!(v13.handshakes, 1);
    assert_eq!(v13.server_order, Some(true), "from the group order hello");
    let g13 = group_scan(&r, "TLSv1.3");
    assert_eq!(g13.groups, [group_name(SECP384R1), group_name(X25519)]);
    assert_eq!(g13.server_order, Some(true));
    // Together: (0x1301, secp384r1), (0x1303, x25519), the refusal; the groups alone
    // (none left) and the suites alone (none left): a refusal each; both orders: one.
    assert_eq!(g13.handshakes, 2 + 1 + 1 + 1 + 1);
    assert_eq!(r.preferred_group, Some(group_name(SECP384R1)));
    check_count(&r, hellos);
}

#[test]
fn tls13_suites_go_on_alone_first_when_the_only_group_is_secp256r1() {
    // PostgreSQL's default: secp256r1 only, its three TLS 1.3 suites in its own order.
    let suites = [0x1302, 0x1303, 0x1301];
    let policy = Policy {
        versions: vec![TLS12, TLS13],
        groups: vec![SECP256R1],
        sigalgs: vec![ECDSA_P256_SHA256],
        ..Policy::tls12(&suites, true)
    };
    let (r, hellos) = scan(policy, false);
    let v13 = version(&r, "TLSv1.3");
    assert_eq!(v13.ciphers, names(&suites));
    assert_eq!(v13.server_order, Some(true));
    let g13 = group_scan(&r, "TLSv1.3");
    assert_eq!(g13.groups, [group_name(SECP256R1)]);
    // Together: (0x1303, secp256r1), the refusal; TLS_AES_128_GCM_SHA256 not seen yet, so
    // the suites alone: 0x1301, the refusal (the groups had run out: no hello for them).
    // Groups first would have cost one refusal more. The suite order needs no hello:
    // 0x1302 was picked while 0x1301, listed first, was on offer.
    assert_eq!(g13.handshakes, 2 + 2);
    check_count(&r, hellos);
}

#[test]
fn a_server_that_retries_for_its_group_is_still_enumerated() {
    // Its only group is one the version hellos send no share for: every TLS 1.3 answer
    // is a HelloRetryRequest, which names the suite all the same.
    let suites = [0x1301, 0x1302];
    let policy = Policy {
        versions: vec![TLS13],
        groups: vec![SECP521R1],
        sigalgs: vec![ECDSA_P256_SHA256],
        ..Policy::tls12(&suites, false)
    };
    let (r, hellos) = scan(policy, true);
    let v13 = version(&r, "TLSv1.3");
    assert_eq!(v13.supported, Some(true));
    assert_eq!(
        v13.ciphers,
        names(&in_offer_order(
            crate::core::wire::ProtocolVersion::TLS13,
            &suites
        ))
    );
    assert_eq!((v13.handshakes, v13.server_order), (3, Some(false)));
    check_count(&r, hellos);
}

#[test]
fn post_quantum_costs_two_hellos_and_reads_the_retry_for_the_hybrid() {
    use super::post_quantum::PqPreference;
    const HYBRID: u16 = 0x11ec;
    let policy = Policy {
        versions: vec![TLS13],
        groups: vec![HYBRID, X25519],
        sigalgs: vec![ECDSA_P256_SHA256],
        ..Policy::tls12(&[0x1301], true)
    };
    let (r, hellos) = scan(policy.clone(), false);
    let g13 = &r.groups["TLSv1.3"];
    assert_eq!(*g13, [group_name(HYBRID), group_name(X25519)]);
    let pq = r
        .post_quantum
        .as_ref()
        .expect("TLS 1.3 groups were enumerated");
    assert_eq!(pq.hybrid, [group_name(HYBRID)]);
    assert_eq!(pq.preference, PqPreference::PqFirst);
    // Both shares: the server's favourite has a share, so a ServerHello picks it.
    let both = pq.both_shares.as_ref().unwrap();
    assert_eq!(both.selected, Some(group_name(HYBRID)));
    assert!(!both.hello_retry_request && both.hello_bytes > 1460);
    // The classical share only: it asks for its favourite (this policy always does).
    assert_eq!((pq.selects_pq, pq.hrr_cost), (Some(true), Some(true)));
    assert_eq!((pq.handshakes, r.cost.post_quantum), (2, 2));
    check_count(&r, hellos);

    // Classical groups only: no PQ hello at all.
    let (r, hellos) = scan(
        Policy {
            groups: vec![X25519],
            ..policy
        },
        false,
    );
    let pq = r.post_quantum.as_ref().unwrap();
    assert_eq!(pq.preference, PqPreference::None);
    assert!(pq.both_shares.is_none() && pq.hrr_cost.is_none());
    assert_eq!(r.cost.post_quantum, 0);
    check_count(&r, hellos);
}

#[test]
fn tls12_groups_and_schemes_share_their_hellos() {
    let policy = Policy {
        suites: vec![ECDHE_ECDSA_AES128_GCM, ECDHE_ECDSA_AES256_GCM],
        groups: vec![SECP256R1, X25519],
        sigalgs: vec![ECDSA_P256_SHA256, ECDSA_P384_SHA384, RSA_PSS_RSAE_SHA256],
        ..Policy::tls12(&[], true)
    };
    let (r, hellos) = scan(policy, false);
    let g12 = group_scan(&r, "TLSv1.2");
    assert_eq!(g12.groups, [group_name(SECP256R1), group_name(X25519)]);
    let s = r.sigalg_scan.as_ref().unwrap();
    let want: Vec<String> = [ECDSA_P256_SHA256, ECDSA_P384_SHA384, RSA_PSS_RSAE_SHA256]
        .iter()
        .map(|id| sigalg_name(*id))
        .collect();
    assert_eq!(s.schemes, want);
    assert_eq!((g12.server_order, s.server_order), (Some(true), Some(true)));
    // The version hello gave the first pair; together: the second pair and the refusal
    // (groups ran out); schemes alone: the third and its refusal; both orders: one hello.
    assert_eq!((g12.handshakes, g12.shared), (0, 2 + 1));
    assert_eq!(s.handshakes, 2 + 2 + 1);
    check_count(&r, hellos);
}

const ECDHE_RSA_SUITES: [u16; 7] = [0xc030, 0xcca8, 0xc02f, 0xc028, 0xc027, 0xc014, 0xc013];
const RSA_SCHEMES: [u16; 3] = [RSA_PSS_RSAE_SHA256, 0x0401, 0x0501];

/// The TLS 1.2 signature schemes found, by name.
fn schemes_found(r: &ScanResult) -> &[String] {
    &r.sigalg_scan.as_ref().unwrap().schemes
}

fn scheme_names(ids: &[u16]) -> Vec<String> {
    ids.iter().map(|id| sigalg_name(*id)).collect()
}

#[test]
fn a_server_with_its_own_scheme_order_shows_its_schemes_in_a_long_suite_chain() {
    // PostgreSQL-like: many signed suites, then RSA key exchange, all in its own order,
    // and its own scheme order. From the fourth pick the suite hellos offer only the
    // schemes not seen: the fifth and sixth picks show the other two; the seventh offer
    // has none left, so the server picks an RSA key exchange suite instead of its signed
    // one: that offer goes again with every scheme (one hello), which shows the schemes
    // ran out.
    let suites = [&ECDHE_RSA_SUITES[..], &[RSA_AES256_SHA, RSA_AES128_SHA]].concat();
    let policy = Policy {
        groups: vec![SECP256R1],
        sigalgs: RSA_SCHEMES.to_vec(),
        ..Policy::tls12(&suites, true)
    };
    let (r, hellos) = scan(policy, false);
    let v12 = version(&r, "TLSv1.2");
    assert_eq!(v12.ciphers, names(&suites));
    // Nine picks and the refusal; the offer sent again is counted with the schemes.
    assert_eq!(v12.handshakes, 9 + 1);
    assert_eq!(r.cost.sigalgs_resent, 1);
    assert!(r.cost.sigalgs_all_seen_free);
    assert_eq!(schemes_found(&r), scheme_names(&RSA_SCHEMES));
    assert_eq!(r.cost.sigalgs_seen_free, 3);
    let g12 = group_scan(&r, "TLSv1.2");
    assert_eq!(g12.groups, [group_name(SECP256R1)]);
    // No scheme hello of its own: the offer sent again, the groups' refusal, the order
    // hello.
    assert_eq!(r.cost.groups + r.cost.sigalgs, 1 + 1 + 1);
    assert_eq!(r.sigalg_scan.as_ref().unwrap().server_order, Some(true));
    check_count(&r, hellos);
}

#[test]
fn a_suite_chain_that_ends_before_the_schemes_leaves_them_to_their_own_hellos() {
    // Five signed suites and three schemes, its own orders: the fifth pick shows the
    // second scheme; the chain's last offer, drained, is refused, and refused again with
    // every scheme (one hello more): the suites ran out, not the schemes, and the third
    // scheme is found by the scheme hellos.
    let suites = &ECDHE_RSA_SUITES[..5];
    let policy = Policy {
        groups: vec![SECP256R1],
        sigalgs: RSA_SCHEMES.to_vec(),
        ..Policy::tls12(suites, true)
    };
    let (r, hellos) = scan(policy, false);
    let v12 = version(&r, "TLSv1.2");
    assert_eq!(v12.ciphers, names(suites));
    assert_eq!(v12.handshakes, 5 + 1);
    assert_eq!(r.cost.sigalgs_resent, 1);
    assert!(!r.cost.sigalgs_all_seen_free);
    assert_eq!(schemes_found(&r), scheme_names(&RSA_SCHEMES));
    assert_eq!(r.cost.sigalgs_seen_free, 2);
    assert_eq!(r.sigalg_scan.as_ref().unwrap().server_order, Some(true));
    check_count(&r, hellos);
}

#[test]
fn a_client_order_server_shows_tls12_groups_and_schemes_in_the_suite_hellos() {
    // Client order for suites, groups and schemes: each suite hello offers the groups and
    // schemes not seen yet first, so each signed ECDHE pick shows a new one of each.
    let policy = Policy {
        suites: vec![
            ECDHE_ECDSA_AES128_GCM,
            ECDHE_ECDSA_AES256_GCM,
            ECDHE_RSA_AES128_GCM,
        ],
        groups: vec![SECP384R1, X25519, SECP256R1],
        sigalgs: vec![ECDSA_P384_SHA384, RSA_PSS_RSAE_SHA256, ECDSA_P256_SHA256],
        ..Policy::tls12(&[], false)
    };
    let (r, hellos) = scan(policy, false);
    let g12 = group_scan(&r, "TLSv1.2");
    // In our offer's order (the registry's), as a client-order server picks them.
    let in_registry = |all: &[u16], ids: &[u16]| -> Vec<u16> {
        all.iter().copied().filter(|i| ids.contains(i)).collect()
    };
    let want_groups = in_registry(
        &super::enumerate::tests_ecdhe_groups(),
        &[SECP384R1, X25519, SECP256R1],
    );
    let names_of =
        |ids: &[u16], f: fn(u16) -> String| ids.iter().map(|i| f(*i)).collect::<Vec<_>>();
    assert_eq!(g12.groups, names_of(&want_groups, group_name));
    let all_schemes: Vec<u16> = crate::core::wire::registry::SIGNATURE_SCHEMES
        .iter()
        .map(|s| s.id)
        .collect();
    let want_schemes = in_registry(
        &all_schemes,
        &[ECDSA_P384_SHA384, RSA_PSS_RSAE_SHA256, ECDSA_P256_SHA256],
    );
    assert_eq!(
        r.sigalg_scan.as_ref().unwrap().schemes,
        names_of(&want_schemes, sigalg_name)
    );
    // The version hello and the two suite hellos that picked showed all three of each.
    assert_eq!((r.cost.groups_seen_free, r.cost.sigalgs_seen_free), (3, 3));
    // Nothing left to find: the joint refusal, the schemes' and the groups' refusals, and
    // the order hello.
    assert_eq!(r.cost.groups + r.cost.sigalgs, 3 + 1);
    assert_eq!(
        (
            g12.server_order,
            r.sigalg_scan.as_ref().unwrap().server_order
        ),
        (Some(false), Some(false))
    );
    check_count(&r, hellos);
}

#[test]
fn a_fragmentation_intolerant_server_gets_the_order_hello_again_whole() {
    // The TLS 1.2 group and scheme order hello carries the fragmentation probe; this server
    // resets it, so the probe says so and the order hello is sent again in one record.
    let policy = Policy {
        suites: vec![ECDHE_ECDSA_AES128_GCM, ECDHE_ECDSA_AES256_GCM],
        groups: vec![SECP256R1, X25519],
        sigalgs: vec![ECDSA_P256_SHA256, ECDSA_P384_SHA384],
        reset_fragmented: true,
        ..Policy::tls12(&[], true)
    };
    let (r, hellos) = scan(policy.clone(), false);
    let fragmented = r
        .probes
        .iter()
        .find(|p| p.name == "hello fragmented across two records")
        .unwrap();
    assert!(
        fragmented.result.starts_with("INTOLERANT"),
        "{fragmented:?}"
    );
    assert!(fragmented.concern);
    assert_eq!(fragmented.handshakes, 1);
    // The orders still come from the whole hello, as from a tolerant server's.
    let (tolerant, _) = scan(
        Policy {
            reset_fragmented: false,
            ..policy
        },
        false,
    );
    let g12 = |r: &ScanResult| {
        let g = group_scan(r, "TLSv1.2");
        (
            g.groups.clone(),
            g.server_order,
            r.sigalg_scan.as_ref().unwrap().server_order,
        )
    };
    assert_eq!(g12(&r), g12(&tolerant));
    assert_eq!(g12(&r).1, Some(true));
    assert_eq!(r.handshakes, tolerant.handshakes + 1);
    check_count(&r, hellos);
}

#[test]
fn resets_before_any_answer_are_retried_and_counted() {
    let policy = Policy {
        versions: vec![TLS10],
        version_intolerant: true,
        ..Policy::tls12(&[RSA_AES128_SHA, RSA_AES256_SHA], true)
    };
    let (once, _) = scan(policy.clone(), true);
    let (r, hellos) = scan_with_retries(policy, true, 1);
    // Each hello that got a reset (TLS 1.3 1, TLS 1.2 2, TLS 1.1 2) was sent twice.
    assert_eq!(r.retries, 5);
    assert_eq!(r.handshakes, once.handshakes + 5);
    assert_eq!(
        version(&r, "TLSv1.0").ciphers,
        version(&once, "TLSv1.0").ciphers
    );
    assert_eq!(r.handshakes, hellos);
}

#[test]
fn the_json_keeps_the_contract() {
    let (r, _) = scan(
        Policy::tls12(&[RSA_AES256_SHA, ECDHE_RSA_AES128_GCM], true),
        true,
    );
    let json = serde_json::to_string(&r).unwrap();
    let start = format!(
        r#"{{"schema_version":{},"target":"scripted.test:443","#,
        crate::commands::SCHEMA_VERSION
    );
    assert!(json.starts_with(&start), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let v12 = &v["versions"]["TLSv1.2"];
    assert_eq!(v12["supported"], true);
    assert_eq!(v12["server_order"], true);
    assert_eq!(v12["cipher_ids"], serde_json::json!(["0x0035", "0xc02f"]));
    assert_eq!(v["versions"]["SSLv3"]["refused_with"], "TLSv1.1");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for field in [
        "target",
        "error",
        "versions",
        "groups",
        "groups_server_order",
        "preferred_group",
        "sigalgs",
        "sigalgs_server_order",
        "probes",
        "cost",
        "handshakes",
        "retries",
        "elapsed_ms",
        "certificates",
        "diagnosis",
    ] {
        assert!(keys.contains(&field), "{field} in {keys:?}");
    }
    assert!(
        v12.get("name").is_none() && v12.get("openssl").is_none(),
        "text-only fields"
    );
    assert_eq!(v["cost"]["versions"], 6);
    // The TLS 1.2 picks went against our offer's order: no order check.
    assert_eq!(v["handshakes"], 6);
}

#[test]
fn a_version_hole_settles_nothing_below_it() {
    // TLS 1.0 and 1.2, not 1.1: the TLS 1.1 hello is answered with TLS 1.0, not an
    // alert, so TLS 1.0 is still asked and found; SSLv3's alert is the only refusal.
    let policy = Policy {
        versions: vec![TLS10, TLS12],
        ..Policy::tls12(&[RSA_AES128_SHA], true)
    };
    let (r, hellos) = scan(policy, true);
    let found: Vec<(&str, bool, usize)> = r
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.supported == Some(true), v.handshakes))
        .collect();
    assert_eq!(
        found,
        [
            ("SSLv2", false, 1),
            ("SSLv3", false, 1),
            ("TLSv1.0", true, 2),
            ("TLSv1.1", false, 1),
            ("TLSv1.2", true, 2),
            ("TLSv1.3", false, 1),
        ]
    );
    assert_eq!(r.handshakes, 8, "one suite each: no order checks");
    check_count(&r, hellos);
}

#[test]
fn run_streams_one_result_per_target_in_order_and_stops_at_an_emit_error() {
    let server = ScriptedServer::new(Policy::tls12(&[RSA_AES128_SHA], true));
    let mut targets = super::TargetList::default();
    for t in ["c.test", "a.test:8443", "b.test"] {
        targets.push_line(t, 443, None).unwrap();
    }
    let cfg = super::ScanConfig {
        targets,
        shard: Default::default(),
        done: Default::default(),
        unordered: false,
        options: ScanOptions {
            limits: Limits::default(),
            retries: 0,
            sni: Sni::Auto,
            suites_only: true,
            quic_groups: false,
            prefer: Default::default(),
        },
        concurrency: 3,
        rate: None,
        rate_per_target: None,
        connecting: crate::commands::ConnectConfig {
            connect: None,
            limits: Limits::default(),
            check_time: 0,
            trust: Default::default(),
            starttls: Default::default(),
            preamble_host: None,
            addresses: Default::default(),
        },
        vulns: None,
    }
    .validate()
    .unwrap();
    let counted = AtomicUsize::new(0);
    let on_handshake = || {
        counted.fetch_add(1, Ordering::Relaxed);
    };
    let mut seen = Vec::new();
    super::run(&cfg, &server, &on_handshake, &mut |r| {
        seen.push((r.target.clone(), r.handshakes));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            ("c.test:443".to_string(), 5),
            ("a.test:8443".to_string(), 5),
            ("b.test:443".to_string(), 5)
        ]
    );
    // SSLv2, TLS 1.3, TLS 1.2 (N+1), TLS 1.1 (settling the rest); one suite: no order.
    assert_eq!(counted.load(Ordering::Relaxed), 15);
    // The sink fails at the first result: the run ends with that error.
    let mut emitted = 0;
    let err = super::run(&cfg, &server, &|| {}, &mut |_| {
        emitted += 1;
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    })
    .unwrap_err();
    assert_eq!((err.kind(), emitted), (io::ErrorKind::BrokenPipe, 1));

    // A shard and the targets already done select what is scanned; unordered runs still
    // write every selected target once.
    let part = super::ScanConfig {
        shard: super::Shard { index: 0, count: 2 },
        done: ["b.test:443".to_string()].into(),
        unordered: true,
        ..cfg.clone()
    };
    let mut seen = Vec::new();
    super::run(&part, &server, &|| {}, &mut |r| {
        seen.push(r.target.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, ["c.test:443"], "shard 0/2 is c and b; b is done");
}

#[test]
fn intolerance_checks_share_one_hello_unless_the_server_refuses_it() {
    let tolerant = Policy {
        versions: vec![0x0302, TLS12],
        ..Policy::tls12(&[ECDHE_RSA_AES128_GCM, RSA_AES128_SHA], true)
    };
    let intolerant = Policy {
        version_intolerant: true,
        ..tolerant.clone()
    };
    let (t, t_hellos) = scan(tolerant, false);
    let (i, i_hellos) = scan(intolerant, false);
    let item = |r: &ScanResult, name: &str| {
        let p = r.probes.iter().find(|p| p.name == name);
        p.map(|p| (p.result.clone(), p.concern, p.handshakes))
            .unwrap_or_else(|| panic!("no {name:?} in {:?}", r.probes))
    };
    let combined = "all intolerance checks in one hello";
    assert!(item(&t, combined).0.starts_with("tolerant"));
    assert_eq!(item(&t, combined).2, 1);
    assert_eq!(
        item(&t, "GREASE"),
        ("tolerant (in the combined hello)".into(), false, 0)
    );
    assert_eq!(
        item(&t, "compression (DEFLATE offered)"),
        ("none (in the combined hello)".into(), false, 0)
    );
    assert!(
        item(&i, combined)
            .0
            .starts_with("refused: checked one by one")
    );
    // The resets it was provoked into are its intolerance, not a broken target.
    assert_eq!((i.error.as_deref(), i.gave_up), (None, false));
    assert!(i.diagnosis.is_empty(), "{:?}", i.diagnosis);
    let legacy = item(&i, "version intolerance (legacy_version 0x0304)");
    assert!(legacy.0.starts_with("INTOLERANT") && legacy.1 && legacy.2 == 1);
    assert_eq!(item(&i, "GREASE").2, 1);
    assert!(!item(&i, "GREASE").1);
    // Alone: compression, heartbeat, two legacy versions, the unknown extension, GREASE,
    // three long hellos, and the TLS 1.2 order check the tolerant server's combined hello
    // carried.
    assert_eq!(i.cost.probes, t.cost.probes + 10);
    assert_eq!(item(&t, "server order TLSv1.2").2, 0);
    assert_eq!(item(&i, "server order TLSv1.2").2, 1);
    assert_eq!(
        item(&t, "TLS_FALLBACK_SCSV at TLSv1.1"),
        ("supported (inappropriate_fallback)".into(), false, 1)
    );
    for (r, hellos) in [(&t, t_hellos), (&i, i_hellos)] {
        assert_eq!(item(r, "certificate for an unknown name").2, 1);
        // The TLS 1.2 group and scheme order hello, sent fragmented.
        let fragmented = item(r, "hello fragmented across two records");
        assert!(
            fragmented
                .0
                .ends_with("(in the TLS 1.2 group and scheme order hello)")
        );
        assert_eq!(fragmented.2, 0);
        check_count(r, hellos);
    }
}

/// A scan of a hostile server: the versions it could not test are unknown, the target's
/// error and causes are named, and it gave up within the version test's budget.
fn gave_up_in_the_version_test(how: Hostile, retries: u32) -> (ScanResult, usize) {
    let (r, hellos) = scan_with_retries(Policy::hostile(how), false, retries);
    assert!(r.gave_up, "{how:?}: {:?}", r.error);
    for v in &r.versions {
        assert_eq!(
            v.supported, None,
            "{how:?} {}: unknown, not refused",
            v.name
        );
        assert!(v.incomplete.is_some(), "{how:?} {}", v.name);
    }
    let error = r.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("does not answer TLS as a server should"),
        "{how:?}: {error}"
    );
    assert!(r.groups.is_empty() && r.sigalgs.is_none() && r.probes.is_empty());
    assert_eq!(r.handshakes, hellos);
    assert_eq!(
        r.cost.versions, hellos,
        "only the version test was paid for"
    );
    (r, hellos)
}

fn cause_ids(r: &ScanResult) -> Vec<&'static str> {
    r.diagnosis.iter().map(|d| d.cause.id()).collect()
}

#[test]
fn a_server_that_always_resets_costs_six_hellos_and_the_shared_retries() {
    // One first hello per version (SSLv2, 1.3 and 1.2 at once, then 1.1, 1.0 and SSLv3 at
    // once) and the version test's shared retries, not --retries per hello.
    let (r, hellos) = gave_up_in_the_version_test(Hostile::Reset, 2);
    assert_eq!(hellos, 6 + super::health::VERSION_TEST_RETRIES);
    assert_eq!(r.retries, super::health::VERSION_TEST_RETRIES);
    let ids = cause_ids(&r);
    assert!(
        ids.contains(&"not_answering_tls") && ids.contains(&"connection_reset"),
        "{ids:?}"
    );
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("a reset before any answer")
    );
    // With no retries: one hello per version.
    let (_, hellos) = gave_up_in_the_version_test(Hostile::Reset, 0);
    assert_eq!(hellos, 6);
}

#[test]
fn a_server_that_always_times_out_costs_one_hello_per_version() {
    let (r, hellos) = gave_up_in_the_version_test(Hostile::Timeout, 2);
    assert_eq!((hellos, r.retries), (6, 0), "time-outs are not retried");
    let ids = cause_ids(&r);
    assert!(
        ids.contains(&"not_answering_tls") && ids.contains(&"timeout"),
        "{ids:?}"
    );
}

#[test]
fn malformed_server_hellos_and_junk_are_named_not_refusals() {
    for (how, what) in [
        (Hostile::MalformedServerHello, "a malformed answer"),
        // Application data without end: the tracker's no_progress, before the byte cap.
        (
            Hostile::Junk,
            "a flood of records without a ServerHello or alert",
        ),
    ] {
        let (r, hellos) = gave_up_in_the_version_test(how, 2);
        assert_eq!((hellos, r.retries), (6, 0), "{how:?}");
        assert!(
            r.error.as_deref().unwrap().contains(what),
            "{how:?}: {:?}",
            r.error
        );
        assert_eq!(cause_ids(&r)[0], "not_answering_tls", "{how:?}");
    }
}

#[test]
fn a_server_that_resets_after_each_server_hello_costs_a_streak_not_a_registry() {
    // It accepts every suite at TLS 1.2 and 1.3 and resets after each ServerHello: each
    // ServerHello shows a version and a suite it has, but the enumeration of ~350 suites
    // must stop at the broken streak.
    let mut suites = suite_candidates(crate::core::wire::ProtocolVersion::TLS12);
    suites.extend(suite_candidates(crate::core::wire::ProtocolVersion::TLS13));
    let policy = Policy {
        versions: vec![TLS12, TLS13],
        suites,
        hostile: Some(Hostile::ServerHelloThenReset),
        ..Policy::tls12(&[], false)
    };
    let (r, hellos) = scan(policy, false);
    assert!(r.gave_up, "{:?}", r.error);
    assert_eq!(r.handshakes, hellos);
    // The version test (6), the streak, and a hello in flight beside it.
    let limit = super::health::BROKEN_STREAK_LIMIT;
    assert!(hellos <= 6 + limit + 1, "{hellos} hellos");
    for name in ["TLSv1.2", "TLSv1.3"] {
        let v = version(&r, name);
        assert_eq!(v.supported, Some(true), "{name}: its ServerHello shows it");
        assert!(!v.ciphers.is_empty(), "{name}");
        assert!(v.incomplete.is_some(), "{name}: partial");
    }
    // TLS 1.1 and below got a clean protocol_version alert: refused, not unknown.
    assert_eq!(version(&r, "TLSv1.1").supported, Some(false));
    let error = r.error.as_deref().unwrap_or_default();
    assert!(error.contains("a reset after the ServerHello"), "{error}");
    let ids = cause_ids(&r);
    assert!(
        ids.contains(&"not_answering_tls") && ids.contains(&"connection_reset"),
        "{ids:?}"
    );
}
