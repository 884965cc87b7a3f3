//! The floor of a scanner's CPU per handshake on this machine, for `benches/scan_floor.sh`
//! (a `harness = false` bench target, so `cargo bench --bench scan_floor` builds it
//! optimized): the wire work of one scan handshake per connection and nothing else —
//! connect to a loopback server, send one prebuilt ClientHello, read until the server's
//! first flight is complete (or its alert, a HelloRetryRequest, the end of the stream),
//! close — with none of a scanner's hello building, parsing of the answer beyond record
//! and handshake headers, or bookkeeping.
//!
//! Ways to keep `CONCURRENCY` connections in flight, to measure the cost of the threading
//! model apart from the kernel's TCP work:
//! - `epoll`: one thread, non-blocking sockets, one epoll set (edge-triggered, each socket
//!   added once: socket, option, connect, send, epoll_ctl, recv, close per connection, the
//!   hello sent as soon as `connect` returns); `epoll:K`, K such threads;
//! - `threads`: `CONCURRENCY` threads each doing blocking connections one after another
//!   (socket, option, connect, send, recv, close), as the scanner's thread per connection
//!   does, without its time-outs.
//!
//! Usage: `scan_floor MODE HELLOS N CONCURRENCY PORT...` — MODE `epoll`, `epoll:K` (K
//! epoll threads, each with its share of the connections and of CONCURRENCY), either with
//! `@USEC` (a sleep of USEC µs before each `epoll_wait`, so that events gather), or
//! `threads`;
//! HELLOS a capture (pcap/pcapng) whose connections' first client flights are the hellos
//! to send (`FILE.pcap:1` takes only the first connection's); N connections in all,
//! connection `i` to port `i % PORTS` with hello `(i / PORTS) % HELLOS`, so each port gets
//! each hello in turn. Talks to 127.0.0.1 only. Prints one line: the outcomes counted, the
//! reads, and its own rusage (user and system µs, all threads, around the connections only).
//! Any other arguments, such as cargo's `--bench`, are ignored.

use shakedown::io::capture::{
    Direction, EndKind, FlowEnd, FlowId, FlowInfo, FlowSink, Micros, ReadOptions,
    read_capture_slice,
};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The first client flight of every TCP connection of a capture, in the order they start.
#[derive(Default)]
struct FirstFlights {
    flows: BTreeMap<u64, (Vec<u8>, bool)>,
}

impl FlowSink for FirstFlights {
    fn flow_start(&mut self, info: &FlowInfo) {
        if info.transport == shakedown::core::flow::Transport::Tcp {
            self.flows.insert(info.id.0, (Vec::new(), false));
        }
    }
    fn data(&mut self, id: FlowId, dir: Direction, bytes: &[u8], _at: Micros) {
        if let Some((hello, answered)) = self.flows.get_mut(&id.0) {
            match dir {
                Direction::ServerToClient => *answered = true,
                Direction::ClientToServer if !*answered => hello.extend_from_slice(bytes),
                Direction::ClientToServer => {}
            }
        }
    }
    fn end(&mut self, _id: FlowId, _dir: Direction, _kind: EndKind, _at: Micros) {}
    fn flow_end(&mut self, _id: FlowId, _at: Micros, _why: FlowEnd) {}
    fn wants_data(&self, _id: FlowId) -> bool {
        true
    }
}

fn hellos(spec: &str) -> Vec<Vec<u8>> {
    let (path, first_only) = match spec.strip_suffix(":1") {
        Some(p) => (p, true),
        None => (spec, false),
    };
    let fail = |why: String| -> ! {
        eprintln!("scan_floor: {path}: {why}");
        std::process::exit(2)
    };
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail(e.to_string()));
    let mut sink = FirstFlights::default();
    if let Err(e) = read_capture_slice(&bytes, &ReadOptions::default(), &mut sink) {
        fail(e.to_string());
    }
    let mut out: Vec<Vec<u8>> = sink
        .flows
        .into_values()
        .map(|(h, _)| h)
        .filter(|h| !h.is_empty())
        .collect();
    if first_only {
        out.truncate(1);
    }
    if out.is_empty() {
        fail("no client data in it".into());
    }
    out
}

/// How a connection's reading ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// ServerHelloDone, or (TLS 1.3) the encrypted flight after the ServerHello, read whole.
    Flight,
    Alert,
    /// A HelloRetryRequest: the server waits for a second hello, which a floor does not send.
    Retry,
    /// The server closed (or reset) first.
    Closed,
    /// An answer that is not TLS records (an SSL 2 server hello, say): its first read ends it.
    Other,
}

/// The SHA-256 of "HelloRetryRequest", a HelloRetryRequest's `random` (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Whether the server's bytes so far hold its whole first flight: record headers and the
/// plaintext handshake messages' headers only (`hs` is scratch for handshake bytes split
/// across records). A TLS 1.3 flight is complete when it ends on a record boundary after
/// encrypted records: the server writes it at once and loopback delivers it in one read
/// (the scanner makes one `recvfrom` per handshake, docs/benchmarks.md#scan-cpu-latest).
fn flight_end(data: &[u8], hs: &mut Vec<u8>) -> Option<End> {
    hs.clear();
    let mut pos = 0;
    let mut encrypted = false;
    while data.len() >= pos + 5 {
        if !(20..=23).contains(&data[pos]) {
            return Some(End::Other);
        }
        let len = u16::from_be_bytes([data[pos + 3], data[pos + 4]]) as usize;
        if data.len() < pos + 5 + len {
            break;
        }
        let body = &data[pos + 5..pos + 5 + len];
        match data[pos] {
            21 => return Some(End::Alert),
            22 => hs.extend_from_slice(body),
            23 => encrypted = true,
            _ => {}
        }
        pos += 5 + len;
    }
    let mut tls13 = false;
    let mut at = 0;
    while hs.len() >= at + 4 {
        let len = u32::from_be_bytes([0, hs[at + 1], hs[at + 2], hs[at + 3]]) as usize;
        if hs.len() < at + 4 + len {
            break;
        }
        let msg = &hs[at + 4..at + 4 + len];
        match hs[at] {
            2 if msg.len() >= 34 && msg[2..34] == HRR_RANDOM => return Some(End::Retry),
            2 => tls13 = server_hello_is_tls13(msg),
            14 => return Some(End::Flight),
            _ => {}
        }
        at += 4 + len;
    }
    (tls13 && encrypted && pos == data.len()).then_some(End::Flight)
}

/// A ServerHello body with supported_versions (extension 43): TLS 1.3.
fn server_hello_is_tls13(msg: &[u8]) -> bool {
    // version 2, random 32, session id (1 + n), suite 2, compression 1, extensions (2 + n)
    let Some(&sid) = msg.get(34) else {
        return false;
    };
    let mut at = 35 + sid as usize + 3 + 2;
    while msg.len() >= at + 4 {
        let typ = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = u16::from_be_bytes([msg[at + 2], msg[at + 3]]) as usize;
        if typ == 43 {
            return true;
        }
        at += 4 + len;
    }
    false
}

/// What the connections came to, added up.
#[derive(Default, Debug)]
struct Tally {
    flight: usize,
    alert: usize,
    retry: usize,
    closed: usize,
    other: usize,
    failed: usize,
    reads: usize,
}

impl Tally {
    fn count(&mut self, end: End) {
        match end {
            End::Flight => self.flight += 1,
            End::Alert => self.alert += 1,
            End::Retry => self.retry += 1,
            End::Closed => self.closed += 1,
            End::Other => self.other += 1,
        }
    }
    fn add(&mut self, o: &Tally) {
        self.flight += o.flight;
        self.alert += o.alert;
        self.retry += o.retry;
        self.closed += o.closed;
        self.other += o.other;
        self.failed += o.failed;
        self.reads += o.reads;
    }
}

/// One blocking connection: connect, send, read until the flight is complete, close.
fn blocking(addr: SocketAddr, hello: &[u8], buf: &mut Vec<u8>, hs: &mut Vec<u8>, t: &mut Tally) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        t.failed += 1;
        return;
    };
    let _ = s.set_nodelay(true);
    if s.write_all(hello).is_err() {
        t.failed += 1;
        return;
    }
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        t.reads += 1;
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return t.count(End::Closed),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = flight_end(buf, hs) {
                    return t.count(end);
                }
            }
        }
    }
}

fn threads(ports: &[u16], hellos: &[Vec<u8>], n: usize, concurrency: usize) -> Tally {
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                let mut t = Tally::default();
                let (mut buf, mut hs) = (Vec::with_capacity(16 * 1024), Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let (addr, hello) = pick(ports, hellos, i);
                    blocking(addr, hello, &mut buf, &mut hs, &mut t);
                }
                total.lock().expect("no thread panics").add(&t);
            });
        }
    });
    total.into_inner().expect("no thread panics")
}

/// Connection `i`'s address and hello: each port gets each hello in turn.
fn pick<'h>(ports: &[u16], hellos: &'h [Vec<u8>], i: usize) -> (SocketAddr, &'h [u8]) {
    let port = ports[i % ports.len()];
    let hello = &hellos[(i / ports.len()) % hellos.len()];
    (
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
        hello,
    )
}

/// A connection in flight in the epoll loop.
struct Slot {
    fd: i32,
    hello: usize,
    sent: bool,
    buf: Vec<u8>,
}

fn last_error() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Opens connection `i` into `slot` and sends its hello at once: on loopback the
/// connection is established by the time `connect` returns EINPROGRESS, so waiting for
/// EPOLLOUT first would only cost a round of `epoll_wait` and a read that finds nothing.
/// The fd is then added to the epoll set, edge-triggered, for reading (and for writing
/// if the send found it still connecting). False if the socket could not be made, the
/// connect or the send failed at once.
fn open(
    epfd: i32,
    slot_index: usize,
    slot: &mut Slot,
    ports: &[u16],
    hellos: &[Vec<u8>],
    i: usize,
) -> bool {
    let port = ports[i % ports.len()];
    slot.hello = (i / ports.len()) % hellos.len();
    slot.sent = false;
    slot.buf.clear();
    // SAFETY: plain system calls on integers and on local, initialised structures whose
    // sizes are passed with them; the fd is owned by this slot until `close` below.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return false;
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if r < 0 && last_error() != libc::EINPROGRESS {
            libc::close(fd);
            return false;
        }
        let hello = &hellos[slot.hello];
        let n = libc::send(fd, hello.as_ptr().cast(), hello.len(), libc::MSG_NOSIGNAL);
        slot.sent = n == hello.len() as isize;
        let still_connecting = n < 0 && last_error() == libc::EAGAIN;
        if !(slot.sent || still_connecting) {
            libc::close(fd);
            return false;
        }
        let mut events = libc::EPOLLIN | libc::EPOLLET;
        if !slot.sent {
            events |= libc::EPOLLOUT;
        }
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: slot_index as u64,
        };
        if libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) < 0 {
            libc::close(fd);
            return false;
        }
        slot.fd = fd;
    }
    true
}

/// What one readiness event did to a slot: still going, or ended (counted in `t`).
fn step(slot: &mut Slot, hellos: &[Vec<u8>], hs: &mut Vec<u8>, t: &mut Tally) -> bool {
    // SAFETY: `slot.fd` is an open socket owned by the slot; the buffers passed are live
    // slices with their lengths (`buf`'s spare capacity is written, then `set_len` covers
    // exactly the bytes the kernel reported).
    unsafe {
        if !slot.sent {
            let hello = &hellos[slot.hello];
            let n = libc::send(
                slot.fd,
                hello.as_ptr().cast(),
                hello.len(),
                libc::MSG_NOSIGNAL,
            );
            if n < 0 && last_error() == libc::EAGAIN {
                return true; // not connected yet: the next EPOLLOUT
            }
            // A hello is a few hundred bytes: a fresh socket's buffer takes it whole.
            if n != hello.len() as isize {
                t.failed += 1;
                return false;
            }
            slot.sent = true;
            return true;
        }
        loop {
            slot.buf.reserve(16 * 1024);
            let room = slot.buf.capacity() - slot.buf.len();
            let at = slot.buf.as_mut_ptr().add(slot.buf.len());
            t.reads += 1;
            let n = libc::recv(slot.fd, at.cast(), room, 0);
            if n < 0 && last_error() == libc::EAGAIN {
                return true;
            }
            if n <= 0 {
                t.count(End::Closed);
                return false;
            }
            slot.buf.set_len(slot.buf.len() + n as usize);
            if let Some(end) = flight_end(&slot.buf, hs) {
                t.count(end);
                return false;
            }
        }
    }
}

/// One epoll thread's share: connections `first`, `first + stride`, ... below `n`, at most
/// `concurrency` of them in flight.
fn epoll(
    ports: &[u16],
    hellos: &[Vec<u8>],
    n: usize,
    concurrency: usize,
    (first, stride): (usize, usize),
    gather: Duration,
) -> Tally {
    let mut t = Tally::default();
    // SAFETY: creates an fd owned here, closed at the end.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epfd >= 0, "epoll_create1: {}", io::Error::last_os_error());
    let mut slots: Vec<Slot> = (0..concurrency.min(n.div_ceil(stride)))
        .map(|_| Slot {
            fd: -1,
            hello: 0,
            sent: false,
            buf: Vec::with_capacity(16 * 1024),
        })
        .collect();
    let mut hs = Vec::new();
    let mut next = first;
    let mut open_slots = 0;
    // Starts the next connection in `slot` (skipping those that fail at once).
    let refill = |slot_index: usize, slot: &mut Slot, t: &mut Tally, next: &mut usize| -> bool {
        while *next < n {
            let i = *next;
            *next += stride;
            if open(epfd, slot_index, slot, ports, hellos, i) {
                return true;
            }
            t.failed += 1;
        }
        false
    };
    for (k, slot) in slots.iter_mut().enumerate() {
        if refill(k, slot, &mut t, &mut next) {
            open_slots += 1;
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while open_slots > 0 {
        if !gather.is_zero() {
            std::thread::sleep(gather);
        }
        // SAFETY: `events` is a live buffer of the length passed.
        let got = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, -1) };
        if got < 0 {
            assert_eq!(last_error(), libc::EINTR, "epoll_wait");
            continue;
        }
        for ev in &events[..got as usize] {
            let k = ev.u64 as usize;
            let slot = &mut slots[k];
            if slot.fd < 0 || step(slot, hellos, &mut hs, &mut t) {
                continue;
            }
            // SAFETY: the slot's own fd, closed once (closing drops it from the epoll set).
            unsafe { libc::close(slot.fd) };
            slot.fd = -1;
            if !refill(k, slot, &mut t, &mut next) {
                open_slots -= 1;
            }
        }
    }
    // SAFETY: the epoll fd made above.
    unsafe { libc::close(epfd) };
    t
}

fn rusage_us() -> (i64, i64) {
    // SAFETY: getrusage fills the zeroed structure it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    (us(ru.ru_utime), us(ru.ru_stime))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let usage = "usage: scan_floor epoll[:K][@USEC]|threads HELLOS.pcap[:1] N CONCURRENCY PORT... \
                 (used by benches/scan_floor.sh)";
    let (Some(mode), Some(spec), Some(n), Some(c)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
        args.get(3).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("{usage}");
        return;
    };
    let ports: Vec<u16> = args[4..].iter().filter_map(|p| p.parse().ok()).collect();
    // `epoll@USEC`: a sleep of USEC µs before each wait, so that events gather (a loop
    // that batches on purpose, whatever the scheduler does).
    let (mode, gather) = match mode.split_once('@') {
        Some((m, us)) => match us.parse::<u64>() {
            Ok(us) => (m.to_string(), Duration::from_micros(us)),
            Err(_) => (String::new(), Duration::ZERO),
        },
        None => (mode.clone(), Duration::ZERO),
    };
    // `epoll:K`: K epoll threads, each with its share of the connections and of the
    // concurrency (an event-driven core on more than one core).
    let epoll_threads = match mode.as_str() {
        "epoll" => Some(1),
        m => m
            .strip_prefix("epoll:")
            .and_then(|k| k.parse::<usize>().ok()),
    };
    if ports.is_empty()
        || c == 0
        || epoll_threads == Some(0)
        || (epoll_threads.is_none() && mode != "threads")
    {
        eprintln!("{usage}");
        return;
    }
    let hellos = hellos(spec);
    let (u0, s0) = rusage_us();
    let t = match mode.as_str() {
        "threads" => threads(&ports, &hellos, n, c),
        _ if epoll_threads == Some(1) => epoll(&ports, &hellos, n, c, (0, 1), gather),
        _ => {
            let k = epoll_threads.unwrap_or(1);
            let (ports, hellos) = (&ports, &hellos);
            let mut total = Tally::default();
            std::thread::scope(|s| {
                let parts: Vec<_> = (0..k)
                    .map(|j| {
                        s.spawn(move || epoll(ports, hellos, n, c.div_ceil(k), (j, k), gather))
                    })
                    .collect();
                for p in parts {
                    total.add(&p.join().expect("no epoll thread panics"));
                }
            });
            total
        }
    };
    let (u1, s1) = rusage_us();
    println!(
        "{mode} hellos {} connections {n} flight {} alert {} retry {} closed {} other {} failed {} reads {} user_us {} sys_us {}",
        hellos.len(),
        t.flight,
        t.alert,
        t.retry,
        t.closed,
        t.other,
        t.failed,
        t.reads,
        u1 - u0,
        s1 - s0
    );
}
