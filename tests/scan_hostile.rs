//! `scan` against hostile servers scripted in this file (Rust threads on loopback ephemeral
//! ports, stopped by their handles): each must end with the target's `error`, its causes,
//! versions it could not test as unknown (`null`, not "not offered"), and a bounded number
//! of handshakes, read from the JSON result (no wall-clock assertions).

mod common;

use common::{rsa_cert, s_server, shakedown};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const VERSIONS: [&str; 6] = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
/// One first hello per version: what a target that never answers TLS costs.
const VERSION_TEST: u64 = 6;
/// The retries the version test shares, whatever `--retries` says.
const VERSION_TEST_RETRIES: u64 = 4;

/// A scripted server: each connection runs `behave` in its own thread. Dropping the
/// handle stops accepting and tells running connections to end.
struct Hostile {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn hostile<F>(behave: F) -> Hostile
where
    F: Fn(TcpStream, &AtomicBool) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let behave = Arc::new(behave);
    let flag = stop.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let (behave, flag) = (behave.clone(), flag.clone());
            thread::spawn(move || behave(stream, &flag));
        }
    });
    Hostile { addr, stop }
}

/// Reads the client's first record (its hello), up to 2 s; what was read.
fn read_hello(s: &mut TcpStream) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        // An SSLv2-format hello (high bit set) comes in one go.
        let want = match got.as_slice() {
            [b0, ..] if b0 & 0x80 != 0 => 1,
            [_, _, _, h, l, ..] => 5 + (usize::from(*h) << 8 | usize::from(*l)),
            _ => 5,
        };
        if got.len() >= want {
            return got;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits up to `secs` or until the handle is dropped.
fn hold(stop: &AtomicBool, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(20));
    }
}

fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

/// Writes `record` until the client goes away, the handle drops, or 64 MiB were sent.
fn flood(mut s: TcpStream, stop: &AtomicBool, record: &[u8]) {
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let chunk: Vec<u8> = record
        .iter()
        .copied()
        .cycle()
        .take(record.len() * 512)
        .collect();
    let mut sent = 0;
    while !stop.load(Ordering::SeqCst) && sent < 64 << 20 {
        if s.write_all(&chunk).is_err() {
            return;
        }
        sent += chunk.len();
    }
}

/// A TLS 1.2-style ServerHello for `hello`: its version (at most TLS 1.2) and the first
/// suite it offers. `None` for an SSLv2-format hello or one too short to read.
fn server_hello_for(hello: &[u8]) -> Option<Vec<u8>> {
    let body = hello.get(9..)?;
    let version = [body[0], body[1].min(3)];
    let sid = usize::from(*body.get(34)?);
    let suite = body.get(35 + sid + 2..35 + sid + 4)?;
    let mut sh = vec![2, 0, 0, 38, version[0], version[1]];
    sh.extend_from_slice(&[7; 32]);
    sh.extend_from_slice(&[0, suite[0], suite[1], 0, 0, 0]);
    let mut record = vec![22, 3, 3, 0, sh.len() as u8];
    record.extend_from_slice(&sh);
    (hello.first()? & 0x80 == 0).then_some(record)
}

/// `shakedown scan --json` of `addr` with a 1 s time-out: the exit code and the result.
fn scan(addr: SocketAddr, extra: &[&str]) -> (i32, Value) {
    let out = shakedown()
        .args(["scan", &addr.to_string(), "--json", "--timeout", "1"])
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    common::assert_schema(&v);
    (out.status.code().unwrap_or(-1), v)
}

fn causes(v: &Value) -> Vec<String> {
    common::causes(v)
}

/// What every scan of a target that never answered TLS must say: exit 1, it gave up, the
/// error says so and how, `not_answering_tls` and `cause` among the causes, every version
/// unknown with its reason, nothing else asked, at most `max_handshakes`.
fn assert_gave_up(v: &Value, code: i32, how: &str, cause: Option<&str>, max_handshakes: u64) {
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["gave_up"], true, "{v}");
    let error = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"));
    assert!(
        error.contains("does not answer TLS as a server should") && error.contains(how),
        "{error}"
    );
    let ids = causes(v);
    assert!(ids.iter().any(|c| c == "not_answering_tls"), "{ids:?}");
    if let Some(cause) = cause {
        assert!(ids.iter().any(|c| c == cause), "{cause} in {ids:?}");
    }
    for version in VERSIONS {
        let entry = &v["versions"][version];
        assert_eq!(entry["supported"], Value::Null, "{version}: {entry}");
        assert!(entry["incomplete"].is_string(), "{version}: {entry}");
    }
    let handshakes = v["handshakes"].as_u64().unwrap();
    assert!(handshakes <= max_handshakes, "{handshakes} handshakes: {v}");
    assert_eq!(
        v["cost"]["versions"].as_u64(),
        Some(handshakes),
        "only the version test"
    );
    assert!(v["probes"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["groups"], serde_json::json!({}));
    assert_eq!(v["sigalgs"], Value::Null, "not enumerated");
}

#[test]
fn always_reset_gives_up_after_the_version_test() {
    let server = hostile(|mut s, _| {
        read_hello(&mut s);
        reset(s);
    });
    let (code, v) = scan(server.addr, &["--retries", "2"]);
    assert_gave_up(
        &v,
        code,
        "a reset before any answer",
        Some("connection_reset"),
        VERSION_TEST + VERSION_TEST_RETRIES,
    );
    assert_eq!(
        v["retries"], VERSION_TEST_RETRIES,
        "shared, not 2 per hello"
    );
}

#[test]
fn never_reading_gives_up_after_two_rounds_of_time_outs() {
    let server = hostile(|s, stop| {
        // Accepts and never reads or writes.
        hold(stop, 10);
        drop(s);
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(&v, code, "no answer in time", Some("timeout"), VERSION_TEST);
    assert_eq!(v["handshakes"], VERSION_TEST, "time-outs are not retried");
}

#[test]
fn trickling_gives_up_after_the_version_test() {
    let server = hostile(|mut s, stop| {
        read_hello(&mut s);
        // A record header, a byte every 300 ms: never a whole record.
        for b in [0x16u8, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c, 0x03] {
            if stop.load(Ordering::SeqCst) || s.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(
        &v,
        code,
        "bytes but no ServerHello or alert in time",
        None,
        VERSION_TEST,
    );
}

#[test]
fn malformed_server_hello_gives_up_after_the_version_test() {
    let server = hostile(|mut s, stop| {
        read_hello(&mut s);
        // A whole ServerHello of 6 bytes: a version and four bytes of its random.
        let _ = s.write_all(&[22, 3, 3, 0, 10, 2, 0, 0, 6, 3, 3, 1, 2, 3, 4]);
        hold(stop, 3);
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(&v, code, "a malformed answer", None, VERSION_TEST);
}

#[test]
fn junk_gives_up_and_is_named_not_tls() {
    let server = hostile(|mut s, _| {
        read_hello(&mut s);
        let _ = s.write_all(&[0x8f, 0x00, 0xff, 0x13, 0x37, 0x00, 0x01, 0xfe, 0x99, 0x42]);
    });
    let (code, v) = scan(server.addr, &[]);
    // The first error is the more precise one: what the server sent.
    assert_eq!(code, 1);
    let error = v["error"].as_str().unwrap();
    assert!(
        error.starts_with("the server does not speak TLS"),
        "{error}"
    );
    assert_eq!(v["gave_up"], true, "{v}");
    let ids = causes(&v);
    assert!(
        ids.iter().any(|c| c == "not_answering_tls") && ids.iter().any(|c| c == "not_tls"),
        "{ids:?}"
    );
    for version in VERSIONS {
        assert_eq!(
            v["versions"][version]["supported"],
            Value::Null,
            "{version}"
        );
    }
    assert!(v["handshakes"].as_u64().unwrap() <= VERSION_TEST + VERSION_TEST_RETRIES);
}

#[test]
fn server_hello_then_reset_costs_the_version_test_not_the_registry() {
    let server = hostile(|mut s, stop| {
        let hello = read_hello(&mut s);
        if let Some(sh) = server_hello_for(&hello) {
            let _ = s.write_all(&sh);
            let until = Instant::now() + Duration::from_millis(200);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(10));
            }
        }
        reset(s);
    });
    let (code, v) = scan(server.addr, &[]);
    // Each ServerHello shows a version and a suite; but no handshake ever went on, so
    // the scan stops after the version test instead of offering ~350 suites one by one.
    assert_eq!(v["gave_up"], true, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("after the ServerHello"), "{error}");
    assert!(causes(&v).iter().any(|c| c == "not_answering_tls"));
    let handshakes = v["handshakes"].as_u64().unwrap();
    assert!(
        handshakes <= VERSION_TEST + VERSION_TEST_RETRIES,
        "{handshakes}: {v}"
    );
    let t12 = &v["versions"]["TLSv1.2"];
    assert_eq!(t12["supported"], true, "its ServerHello shows it: {t12}");
    assert_eq!(t12["ciphers"].as_array().unwrap().len(), 1, "{t12}");
    assert!(
        t12["incomplete"]
            .as_str()
            .unwrap()
            .contains("after the ServerHello")
    );
    // A partial list still counts as a version accepted.
    assert_eq!(code, 0);
}

#[test]
fn tls_record_flood_gives_up_after_the_version_test() {
    let server = hostile(|mut s, stop| {
        read_hello(&mut s);
        // ChangeCipherSpec records without end, before any ServerHello.
        flood(s, stop, &[20, 3, 3, 0, 1, 1]);
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(
        &v,
        code,
        "a flood of records without a ServerHello or alert",
        None,
        VERSION_TEST,
    );
}

#[test]
fn alert_storm_gives_up_after_the_version_test() {
    let server = hostile(|mut s, stop| {
        read_hello(&mut s);
        // Warning alerts (user_canceled) without end: none of them ends the handshake.
        flood(s, stop, &[21, 3, 3, 0, 2, 1, 90]);
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(
        &v,
        code,
        "a flood of records without a ServerHello or alert",
        None,
        VERSION_TEST,
    );
}

#[test]
fn half_open_connections_give_up_after_the_version_test() {
    let server = hostile(|mut s, stop| {
        read_hello(&mut s);
        // Our side closed (FIN) while the socket stays open and unread.
        let _ = s.shutdown(Shutdown::Write);
        hold(stop, 5);
    });
    let (code, v) = scan(server.addr, &[]);
    assert_gave_up(&v, code, "a close before any answer", None, VERSION_TEST);
}

#[test]
fn a_server_answering_only_from_the_second_connection_is_scanned_and_the_lost_hello_named() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let backend = s_server(&cert, &[]);
    let backend_addr = backend.addr;
    let seen = AtomicUsize::new(0);
    // The first connection is read and never answered; the others go to the backend.
    let front = hostile(move |mut client, stop| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            read_hello(&mut client);
            hold(stop, 3);
            return;
        }
        let Ok(mut server) = TcpStream::connect(backend_addr) else {
            return;
        };
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut s2, &mut c2);
            let _ = c2.shutdown(Shutdown::Both);
        });
        let _ = std::io::copy(&mut client, &mut server);
        let _ = server.shutdown(Shutdown::Both);
    });
    let (code, v) = scan(front.addr, &["--suites-only"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["gave_up"], false, "{v}");
    let error = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"));
    assert!(error.contains("got no answer in time"), "{error}");
    assert!(causes(&v).iter().any(|c| c == "timeout"), "{v}");
    // The hello that got no answer leaves its version unknown, not refused; TLS 1.2's
    // long offer is asked again as a client-like hello (the bundles), which the backend
    // answers.
    let unknown: Vec<&str> = VERSIONS
        .iter()
        .copied()
        .filter(|version| v["versions"][version]["supported"].is_null())
        .collect();
    assert!(unknown.len() <= 1, "{unknown:?}: {v}");
    for version in unknown {
        let why = v["versions"][version]["incomplete"].as_str().unwrap();
        assert!(why.contains("no answer in time"), "{version}: {why}");
    }
    for version in ["TLSv1.2", "TLSv1.3"] {
        let entry = &v["versions"][version];
        assert!(
            entry["supported"] == true || entry["supported"].is_null(),
            "{version}: {entry}"
        );
    }
    assert!(
        VERSIONS
            .iter()
            .any(|version| v["versions"][version]["supported"] == true)
    );
}

/// At least as many targets as `--concurrency`: the run's workers are coroutines on an
/// event loop (src/io/coro.rs), each target's parts run in place and every wait (connect,
/// read deadline, write) suspends instead of blocking a thread. Each hostile server must
/// end there as it does when scanned alone.
#[test]
fn hostile_servers_side_by_side_on_the_event_loop_end_as_alone() {
    let resetting = hostile(|mut s, _| {
        read_hello(&mut s);
        reset(s);
    });
    let silent = hostile(|s, stop| {
        hold(stop, 10);
        drop(s);
    });
    let malformed = hostile(|mut s, stop| {
        read_hello(&mut s);
        let _ = s.write_all(&[22, 3, 3, 0, 10, 2, 0, 0, 6, 3, 3, 1, 2, 3, 4]);
        hold(stop, 3);
    });
    let storm = hostile(|mut s, stop| {
        read_hello(&mut s);
        flood(s, stop, &[21, 3, 3, 0, 2, 1, 90]);
    });
    let half_open = hostile(|mut s, stop| {
        read_hello(&mut s);
        let _ = s.shutdown(Shutdown::Write);
        hold(stop, 5);
    });
    // Nothing listens there once the listener is gone.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let servers = [&resetting, &silent, &malformed, &storm, &half_open];
    let mut targets: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
    targets.push(closed.to_string());
    let out = shakedown()
        .args(["scan", "--json", "--timeout", "1", "--concurrency", "2"])
        .args(["--retries", "2"])
        .args(&targets)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), targets.len(), "{stdout}");
    for (v, t) in v.iter().zip(&targets) {
        common::assert_schema(v);
        assert_eq!(v["target"], *t, "in the order given");
    }
    assert_gave_up(
        &v[0],
        code,
        "a reset before any answer",
        Some("connection_reset"),
        VERSION_TEST + VERSION_TEST_RETRIES,
    );
    assert_eq!(v[0]["retries"], VERSION_TEST_RETRIES, "{}", v[0]);
    assert_gave_up(
        &v[1],
        code,
        "no answer in time",
        Some("timeout"),
        VERSION_TEST,
    );
    assert_eq!(
        v[1]["handshakes"], VERSION_TEST,
        "time-outs are not retried"
    );
    assert_gave_up(&v[2], code, "a malformed answer", None, VERSION_TEST);
    assert_gave_up(
        &v[3],
        code,
        "a flood of records without a ServerHello or alert",
        None,
        VERSION_TEST,
    );
    assert_gave_up(&v[4], code, "a close before any answer", None, VERSION_TEST);
    // A refused connect is the socket's own error, as from a blocking connect.
    let refused = v[5]["error"].as_str().unwrap_or_default();
    assert!(refused.contains("Connection refused"), "{}", v[5]);
    assert_eq!(v[5]["handshakes"], 1, "{}", v[5]);
}
